"""The three Octopods channels and what differs between them on the wire."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    SMS = "sms"
    VBM = "vbm"

    @property
    def uses_template(self) -> bool:
        return self is not Channel.SMS

    @property
    def sections(self) -> tuple[str, ...]:
        """Sections of a sectioned ``message_variables`` object; VBM has no buttons."""
        if self is Channel.WHATSAPP:
            return ("header", "body", "footer", "buttons")
        if self is Channel.VBM:
            return ("header", "body", "footer")
        return ()

    @property
    def header_url_field(self) -> str | None:
        return {
            Channel.WHATSAPP: "header_attachment_url",
            Channel.VBM: "header_image_url",
        }.get(self)

    @property
    def accepts_contact_name(self) -> bool:
        """``destination_user_name`` is documented for WhatsApp and SMS, not for VBM."""
        return self is not Channel.VBM

    @property
    def has_status_endpoint(self) -> bool:
        return self is not Channel.VBM

    def send_path(self, template_id: int | None = None) -> str:
        """Path below the ``/api/v1`` base URL."""
        if self is Channel.SMS:
            return "sms/messages"
        if template_id is None:
            raise ValueError(f"{self.value} sends need a template id")
        return f"{self.value}/templates/{int(template_id)}/messages"

    def status_path(self, message_id: int | str) -> str:
        if not self.has_status_endpoint:
            raise ValueError("VBM has no status endpoint")
        return f"{self.value}/messages/{message_id}"

    def template_path(self, template_id: int | None = None) -> str:
        if not self.uses_template:
            raise ValueError("SMS has no templates")
        base = f"{self.value}/templates"
        return base if template_id is None else f"{base}/{int(template_id)}"
