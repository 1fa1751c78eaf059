"""Streams a campaign's sheet into prepared rows: checked, rendered, deduplicated, suppressed.

The dataclasses here are the contract the sending engine consumes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Disposition(StrEnum):
    SENDABLE = "sendable"
    INVALID = "invalid"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class PreparedRow:
    row_number: int  # as Excel shows it; the header is row 1
    identity: str  # what resume and dedupe match on: E.164 phone or the key columns' values
    phone: str  # E.164 when valid, otherwise the cell text
    disposition: Disposition
    reason: str = ""  # why invalid or skipped, written for the user
    body: Mapping[str, Any] | None = None  # the exact JSON body of the send request
    segments: int | None = None  # SMS only
