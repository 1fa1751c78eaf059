"""SMS sizing: GSM-7 or UCS-2, characters and segments, as carriers bill them.

Octopods documents 160 GSM-7 / 70 UCS-2 characters per single SMS and a 1,600-character ceiling
(octopods-api.md section 4). The per-part sizes of a concatenated message (153 / 67) are the usual
GSM figures: each part loses room to the concatenation header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

MAX_SMS_CHARACTERS = 1600

# GSM 03.38 basic character set (ESC, 0x1B, left out: it only introduces the extension table).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs two septets (ESC + the character).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


class SmsEncoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SmsInfo:
    characters: int  # code points, what the 1,600 limit counts
    encoding: SmsEncoding
    segments: int  # billed parts; 0 for an empty text
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)

    @property
    def too_long(self) -> bool:
        return self.characters > MAX_SMS_CHARACTERS


def gsm7_septets(text: str) -> int | None:
    """Septets ``text`` needs in GSM-7, or None when a character is outside GSM-7."""
    septets = 0
    for character in text:
        if character in GSM7_BASIC:
            septets += 1
        elif character in GSM7_EXTENSION:
            septets += 2
        else:
            return None
    return septets


def segment_count(units: int, *, single: int, part: int) -> int:
    if units == 0:
        return 0
    return 1 if units <= single else math.ceil(units / part)


def sms_info(text: str) -> SmsInfo:
    """Encoding and segment count of one SMS text; one non-GSM character makes it all UCS-2."""
    septets = gsm7_septets(text)
    if septets is not None:
        segments = segment_count(septets, single=GSM7_SINGLE, part=GSM7_PART)
        return SmsInfo(len(text), SmsEncoding.GSM7, segments, septets)
    # Characters outside the Basic Multilingual Plane (most emoji) take two UTF-16 units; a lone
    # surrogate (from a badly decoded cell) counts as the one unit it would occupy, not a crash.
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    segments = segment_count(units, single=UCS2_SINGLE, part=UCS2_PART)
    return SmsInfo(len(text), SmsEncoding.UCS2, segments, units)
