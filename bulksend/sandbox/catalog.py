"""The templates a sandbox knows, per channel, and the filters of the template listings."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from bulksend.channels import Channel
from bulksend.errors import ConfigError
from bulksend.sandbox.codes import CODES, Refusal
from bulksend.templates import Template

WHATSAPP_STATUSES = frozenset(
    {"pending", "under_review", "needs_modification", "rejected", "accepted", "deleted"}
)
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})
# Kept on the sandbox's side: the documented listing shapes do not carry them.
INTERNAL_FIELDS = ("active",)


def load_fixture() -> dict[Channel, list[dict[str, Any]]]:
    """The templates shipped in ``bulksend/sandbox/templates.json``, per channel."""
    text = resources.files("bulksend.sandbox").joinpath("templates.json").read_text("utf-8")
    return {Channel(name): items for name, items in json.loads(text).items()}


def parse_flag(value: Any) -> bool | None:
    """A documented boolean spelling -> bool; anything else -> None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | str):
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def _language_matches(language: str, wanted: str) -> bool:
    """``en`` matches en, en_GB, en_US; a regional code matches only itself."""
    language = language.strip().replace("-", "_").lower()
    wanted = wanted.strip().replace("-", "_").lower()
    return language == wanted or ("_" not in wanted and language.startswith(wanted + "_"))


class TemplateCatalog:
    """Templates per channel, kept in their listing shape plus the parsed ``Template``."""

    def __init__(self, templates: Mapping[Channel, Sequence[Mapping[str, Any]]]) -> None:
        self._items: dict[Channel, dict[int, tuple[dict[str, Any], Template]]] = {
            Channel.WHATSAPP: {},
            Channel.VBM: {},
        }
        for channel, items in templates.items():
            for item in items:
                self.add(Channel(channel), item)

    def add(self, channel: Channel, data: Mapping[str, Any]) -> Template:
        """Add or replace a template given in the API's listing shape; raises ConfigError."""
        if channel not in self._items:
            raise ConfigError(f"{channel.value} has no templates")
        try:
            template = Template.from_api(data)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ConfigError(f"not a template in the API's listing shape: {error!r}") from error
        self._items[channel][template.template_id] = (dict(data), template)
        return template

    def sendable(self, channel: Channel, template_id: int) -> Template | None:
        """The template if it exists on this channel and is Accepted."""
        found = self._items[channel].get(template_id)
        return found[1] if found and found[1].is_accepted else None

    def find(self, channel: Channel, template_id: int) -> dict[str, Any] | None:
        """One template in its listing shape (VBM shows only Accepted ones)."""
        found = self._items[channel].get(template_id)
        if found is None or (channel is Channel.VBM and not found[1].is_accepted):
            return None
        return self._public(channel, found[0])

    def listing(self, channel: Channel, query: Mapping[str, str]) -> list[dict[str, Any]]:
        """The listing, with the ``status`` (WhatsApp only), ``active`` and ``lang`` filters."""
        codes = CODES[channel]
        status = query.get("status")
        if channel is Channel.WHATSAPP and status is not None:
            status = status.strip().lower()
            if status not in WHATSAPP_STATUSES:
                raise Refusal(codes.invalid_status, f"Invalid status '{status}'.")
        active = None
        if "active" in query:
            active = parse_flag(query["active"])
            if active is None:
                raise Refusal(codes.type_mismatch, "active must be true or false.")
        lang = query.get("lang")
        return [
            self._public(channel, data)
            for data, template in self._items[channel].values()
            if (channel is Channel.WHATSAPP or template.is_accepted)
            and (status is None or channel is Channel.VBM or _status_of(template) == status)
            and (active is None or bool(data.get("active", True)) is active)
            and (not lang or _language_matches(template.language, lang))
        ]

    @staticmethod
    def _public(channel: Channel, data: Mapping[str, Any]) -> dict[str, Any]:
        hidden = INTERNAL_FIELDS + (("template_status",) if channel is Channel.VBM else ())
        return {name: value for name, value in data.items() if name not in hidden}


def _status_of(template: Template) -> str:
    return template.status.strip().lower().replace(" ", "_")
