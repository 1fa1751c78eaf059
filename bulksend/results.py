"""The results CSV: the checkpoint every run resumes from.

Record format only so far; the durable journal, lock, load and compaction come with the engine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import StrEnum

from bulksend.csvsafe import escape_cell, unescape_cell

SEND_COLUMNS = (
    "row",
    "phone",
    "outcome",
    "message_id",
    "request_id",
    "channel_message_id",
    "http_status",
    "error_code",
    "error",
    "attempts",
    "updated_at",
)
EXTRA_COLUMNS = ("identity", "segments")
DELIVERY_COLUMNS = (
    "delivery_status",
    "delivery_detail",
    "sent_at",
    "delivered_at",
    "read_at",
    "last_updated",
    "status_checked_at",
)
COLUMNS = SEND_COLUMNS + EXTRA_COLUMNS + DELIVERY_COLUMNS


class Outcome(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    REJECTED = "rejected"
    INVALID = "invalid"
    SKIPPED = "skipped"
    FAILED = "failed"
    UNCERTAIN = "uncertain"

    @property
    def is_final(self) -> bool:
        """Final outcomes are never sent again on resume."""
        return self in FINAL_OUTCOMES


FINAL_OUTCOMES = frozenset({Outcome.SENT, Outcome.REJECTED, Outcome.INVALID, Outcome.SKIPPED})


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """One line of the results CSV. Text fields are "" when empty; numbers are None."""

    row: int
    phone: str
    outcome: Outcome
    identity: str
    message_id: str = ""
    request_id: str = ""
    channel_message_id: str = ""
    http_status: int | None = None
    error_code: int | None = None
    error: str = ""
    attempts: int = 0
    updated_at: str = ""
    segments: int | None = None
    delivery_status: str = ""
    delivery_detail: str = ""
    sent_at: str = ""
    delivered_at: str = ""
    read_at: str = ""
    last_updated: str = ""
    status_checked_at: str = ""

    def to_csv_row(self) -> list[str]:
        values = asdict(self)
        return [escape_cell("" if values[name] is None else values[name]) for name in COLUMNS]

    @classmethod
    def from_csv_row(cls, header: list[str], cells: list[str]) -> ResultRecord:
        """Parse one CSV line; unknown extra columns are ignored, missing ones take defaults."""
        raw = {name: unescape_cell(cell) for name, cell in zip(header, cells, strict=False)}
        known = {f.name for f in fields(cls)}
        values: dict[str, object] = {}
        for name in known:
            if name not in raw:
                continue
            text = raw[name]
            if name in _INT_FIELDS:
                values[name] = int(text) if text.strip() else None
            else:
                values[name] = text
        values["row"] = int(raw["row"])
        values["outcome"] = Outcome(raw["outcome"])
        values["attempts"] = int(raw.get("attempts") or 0)
        values.setdefault("identity", raw.get("phone", ""))
        return cls(**values)  # type: ignore[arg-type]


_INT_FIELDS = frozenset({"http_status", "error_code", "segments"})
