"""One line of the results CSV: its columns, the ``Outcome`` of a row, ``ResultRecord`` and the
parser that reads it back. Cells are escaped against formula injection (``csvsafe``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
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
        """The cells, escaped, each on one line: line breaks become spaces."""
        return [escape_cell(_one_line(getattr(self, name))) for name in COLUMNS]

    @classmethod
    def from_csv_row(cls, header: list[str], cells: list[str]) -> ResultRecord:
        """Parse one CSV line; unknown extra columns are ignored, missing ones take defaults."""
        return RecordParser(header)(cells)


def _one_line(value: object) -> object:
    """A line break inside a cell would let a crash cut a record right after it and leave a file
    that still ends in a line end: the torn record would pass for whole and swallow the lines
    appended after it. With every record on one physical line, a whole file ends in a line end
    and only then."""
    if isinstance(value, str) and ("\n" in value or "\r" in value):
        return _LINE_BREAKS.sub(" ", value)
    return value


_LINE_BREAKS = re.compile(r"[\r\n]+")
_INT_FIELDS = ("http_status", "error_code", "segments")
_TEXT_FIELDS = tuple(
    f.name
    for f in fields(ResultRecord)
    if f.name not in {"row", "outcome", "attempts", *_INT_FIELDS}
)


class RecordParser:
    """Turns the cells of one line into a ``ResultRecord``, for the columns of one header.

    Built once per file, so each line costs list lookups, not a dict of the whole header.
    Raises ValueError or IndexError for a line that is not a record.
    """

    def __init__(self, header: list[str]) -> None:
        position = {name: index for index, name in enumerate(header)}
        self._row = position["row"]
        self._outcome = position["outcome"]
        self._attempts = position.get("attempts")
        self._texts = [(name, position[name]) for name in _TEXT_FIELDS if name in position]
        self._ints = [(name, position[name]) for name in _INT_FIELDS if name in position]

    def __call__(self, cells: list[str]) -> ResultRecord:
        width = len(cells)
        # unescape_cell inlined: this runs for every cell of a million-line file.
        values: dict[str, object] = {
            name: cells[index][1:] if cells[index][:1] == "'" else cells[index]
            for name, index in self._texts
            if index < width
        }
        for name, index in self._ints:
            text = unescape_cell(cells[index]).strip() if index < width else ""
            values[name] = int(text) if text else None
        attempts = self._attempts
        attempts_text = cells[attempts] if attempts is not None and attempts < width else ""
        values["attempts"] = int(unescape_cell(attempts_text) or 0)
        values["row"] = int(unescape_cell(cells[self._row]))
        values["outcome"] = Outcome(unescape_cell(cells[self._outcome]))
        values.setdefault("identity", values.get("phone", ""))  # files from before identity
        return ResultRecord(**values)  # type: ignore[arg-type]
