"""A message template as the Octopods template listings describe it.

Both listing shapes are accepted: ``template_body`` as a string or as ``{"type", "text"}`` (legacy
VBM), ``template_components`` present or not, ``template_status`` absent on VBM (VBM lists only
Accepted templates).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
MEDIA_HEADER_FORMATS = frozenset({"IMAGE", "VIDEO", "DOCUMENT"})
SECTION_OF_COMPONENT = {
    "HEADER": "header",
    "BODY": "body",
    "FOOTER": "footer",
    "BUTTONS": "buttons",
}


def count_placeholders(text: str) -> int:
    """The highest ``{{N}}`` index in ``text``: WhatsApp numbers placeholders 1..N per section."""
    indices = [int(match) for match in PLACEHOLDER.findall(text or "")]
    return max(indices, default=0)


@dataclass(frozen=True)
class Template:
    template_id: int
    name: str
    status: str = "Accepted"
    language: str = ""
    header_format: str | None = None
    placeholders: Mapping[str, int] = field(default_factory=dict)
    body_text: str = ""

    @property
    def is_accepted(self) -> bool:
        return self.status.strip().lower() == "accepted"

    @property
    def needs_media_header(self) -> bool:
        return (self.header_format or "").upper() in MEDIA_HEADER_FORMATS

    @property
    def is_body_only(self) -> bool:
        """True when only the body has placeholders, so a flat array is the right shape."""
        return all(count == 0 for section, count in self.placeholders.items() if section != "body")

    def placeholder_count(self, section: str) -> int:
        return self.placeholders.get(section, 0)

    @property
    def total_placeholders(self) -> int:
        return sum(self.placeholders.values())

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Template:
        """Build from one item of a template listing (or the single-template route)."""
        body = data.get("template_body") or ""
        if isinstance(body, Mapping):
            body = body.get("text") or ""
        counts = {"header": 0, "body": 0, "footer": 0, "buttons": 0}
        header_format: str | None = None
        components = data.get("template_components") or []
        for component in components:
            section = SECTION_OF_COMPONENT.get(str(component.get("type", "")).upper())
            if section is None:
                continue
            if section == "header":
                header_format = str(component.get("format") or "TEXT").upper()
            if section == "buttons":
                counts["buttons"] += sum(
                    count_placeholders(str(button.get("url") or ""))
                    for button in component.get("buttons") or []
                )
            else:
                counts[section] += count_placeholders(str(component.get("text") or ""))
        if not any(str(c.get("type", "")).upper() == "BODY" for c in components):
            counts["body"] = count_placeholders(str(body))
        return cls(
            template_id=int(data["template_id"]),
            name=str(data.get("template_name") or ""),
            status=str(data.get("template_status") or "Accepted"),
            language=str(data.get("language") or data.get("lang") or ""),
            header_format=header_format,
            placeholders=counts,
            body_text=str(body),
        )
