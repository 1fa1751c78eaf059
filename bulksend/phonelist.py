"""Suppression (opt-out) lists: a CSV/TSV/XLSX or one phone per line, read into E.164 phones.

The phone column is the first one whose header names a phone (phone, mobile, msisdn, whatsapp,
number, in that order of preference), else the first column. A file whose first line already is a
phone has no header. Entries are normalised with the campaign's default_region and the lenient
"possible" check: an opt-out must match even when the campaign accepts possible-only numbers.
Lines that are no phone are not an error (lists come from many systems); they are counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bulksend.phones import normalize_phone
from bulksend.sheets import Record, is_blank, open_records

PHONE_COLUMN_WORDS = ("phone", "mobile", "msisdn", "whatsapp", "number")
IGNORED_ROWS_KEPT = 5


@dataclass(frozen=True, slots=True)
class PhoneList:
    path: Path
    phones: frozenset[str]  # E.164
    ignored: int  # non-blank rows whose entry is not a phone
    ignored_rows: tuple[int, ...]  # the first few of those row numbers, for a message
    column: str | None  # the header of the column read; None when the file has no header


def load_phone_list(path: Path, *, default_region: str | None) -> frozenset[str]:
    """The E.164 phones of a suppression list; raises InputFileError if it cannot be read."""
    return read_phone_list(path, default_region=default_region).phones


def read_phone_list(path: Path, *, default_region: str | None) -> PhoneList:
    """The phones of a suppression list, with how many entries were ignored and where."""
    source = open_records(Path(path))
    try:
        return _read(source.records(), Path(path), default_region)
    finally:
        source.close()


def _read(records: Iterator[Record], path: Path, default_region: str | None) -> PhoneList:
    phones: set[str] = set()
    ignored_rows: list[int] = []
    ignored = 0
    position, column, first = 0, None, True
    for row_number, cells in records:
        if is_blank(cells):
            continue
        if first:
            first = False
            position, column = _header_or_none(cells, default_region)
            if column is not None:
                continue
        entry = cells[position] if position < len(cells) else ""
        result = normalize_phone(entry, default_region=default_region, check="possible")
        if result.e164 is not None:
            phones.add(result.e164)
            continue
        ignored += 1
        if len(ignored_rows) < IGNORED_ROWS_KEPT:
            ignored_rows.append(row_number)
    return PhoneList(path, frozenset(phones), ignored, tuple(ignored_rows), column)


def _header_or_none(cells: list[str], default_region: str | None) -> tuple[int, str | None]:
    """(position of the phone column, its name), or (0, None) when this first row is data."""
    position = phone_column_position(cells)
    first = normalize_phone(cells[position], default_region=default_region, check="possible")
    if first.e164 is not None:
        return 0, None
    return position, cells[position]


def phone_column_position(names: list[str]) -> int:
    """The position of the column whose name says it holds phones; 0 when none does."""
    lowered = [name.lower() for name in names]
    for word in PHONE_COLUMN_WORDS:
        for position, name in enumerate(lowered):
            if word in name:
                return position
    return 0
