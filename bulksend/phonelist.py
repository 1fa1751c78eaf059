"""Suppression (opt-out) lists: a CSV/TSV/XLSX or one phone per line, read into E.164 phones.

The phone column is the first one whose header names a phone (``guess_phone_column``, which
``bulksend init`` uses too), else the first column. A file whose first line already looks like a
phone has no header. Entries are normalised with the campaign's default_region and the lenient
"possible" check: an opt-out must match even when the campaign accepts possible-only numbers.
Lines that are no phone are not an error here (lists come from many systems); they are counted,
and the caller decides what a list with unreadable entries means.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bulksend.phones import normalize_phone
from bulksend.sheets import Record, is_blank, open_records

# Header words that name a phone column, most telling first. The long ones match anywhere in the
# name ("MobileNo", "WhatsApp number"); the short ones only where a word starts, so that "Hotel"
# is no "tel" while "Tel.", "Telefon" and "Cell phone" are.
PHONE_COLUMN_WORDS = ("phone", "mobile", "msisdn", "whatsapp", "cell", "tel", "number")
WORD_START_ONLY = frozenset({"cell", "tel"})
# "number" names a phone only when the header is not about some other number.
NOT_PHONE_WORDS = ("order", "invoice", "account", "id", "customer", "ticket")
# A cell written like a phone (digits and the separators people type), whether or not it can be
# normalised without a country: such a first line is data, never a header.
PHONE_LIKE = re.compile(r"\+?[\d\s().-]{7,20}")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
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
    """(position of the phone column, its name), or (0, None) when this first row is data.

    A first entry written like a phone is data even when it cannot be normalised (no + and no
    default_region): taking it for a header would drop it without counting it.
    """
    position = phone_column_position(cells)
    entry = cells[position]
    first = normalize_phone(entry, default_region=default_region, check="possible")
    if first.e164 is not None or PHONE_LIKE.fullmatch(entry.removeprefix("'")):
        return 0, None
    return position, entry


def phone_column_position(names: list[str]) -> int:
    """The position of the column whose name says it holds phones; 0 when none does."""
    column = guess_phone_column(names)
    return 0 if column is None else list(names).index(column)


def guess_phone_column(columns: Sequence[str]) -> str | None:
    """The first column whose name says phone (by the most telling word), or None."""
    for word in PHONE_COLUMN_WORDS:
        for column in columns:
            if names_phone(column, word):
                return column
    return None


def names_phone(column: str, word: str) -> bool:
    """Whether the header ``column`` holds the phone word ``word``, as the rules above read it."""
    if word in WORD_START_ONLY:
        return any(part.lower().startswith(word) for part in _WORDS.findall(column))
    squashed = re.sub(r"[^a-z]", "", column.lower())
    if word == "number" and any(other in squashed for other in NOT_PHONE_WORDS):
        return False
    return word in squashed
