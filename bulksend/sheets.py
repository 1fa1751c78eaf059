"""Streams CSV/TSV and Excel sheets as rows of text, exactly as the user sees them in Excel.

``open_sheet`` picks a reader by the file's suffix (``sheets_csv`` or ``sheets_excel``), reads
and checks the header, and returns a ``Sheet`` whose ``rows()`` streams ``SheetRow``s with the
row numbers Excel shows (the header is row 1 when the sheet starts at the top). Memory stays flat
however long the file is: nothing is loaded whole.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

from bulksend.errors import InputFileError

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
SUPPORTED_SUFFIXES = CSV_SUFFIXES + EXCEL_SUFFIXES
SAVE_AS_ADVICE = "Open it in your spreadsheet program and save it as .xlsx or .csv (UTF-8)."

# Formats people try that we cannot stream, with the program that writes them.
_KNOWN_UNSUPPORTED = {
    ".xls": "an old Excel 97-2003 workbook",
    ".xlsb": "an Excel binary workbook",
    ".ods": "an OpenDocument spreadsheet",
    ".numbers": "an Apple Numbers spreadsheet",
    ".json": "a JSON file",
}


class UnknownSheetError(InputFileError):
    """The workbook has no sheet of the name asked for; ``sheet_names`` lists the ones it has.

    A subclass so that a caller who knows where the name came from (the campaign file's
    ``sheet:`` line) can say so.
    """

    def __init__(self, path: Path, sheet: str, sheet_names: list[str]) -> None:
        self.sheet = sheet
        self.sheet_names = tuple(sheet_names)
        listed = ", ".join(repr(name) for name in sheet_names)
        by_fold = {name.casefold(): name for name in sheet_names}
        close = difflib.get_close_matches(sheet.casefold(), list(by_fold), n=1)
        self.close_match = by_fold[close[0]] if close else None
        did_you_mean = f"Did you mean {self.close_match!r}? " if self.close_match else ""
        self.problem = f"has no sheet named {sheet!r}; its sheets are: {listed}"
        super().__init__(
            self.problem,
            path=path,
            hint=did_you_mean + "Use one of these names exactly as written, or leave the "
            "sheet out for the first one.",
        )


class MissingFileError(InputFileError):
    """No file at ``path`` (or a folder there). The hint names the absolute path looked at; a
    caller who knows what a relative path was relative to (the campaign file's folder, or the
    current folder for ``bulksend init``) replaces it with ``with_hint``."""

    def __init__(self, path: Path, hint: str | None = None) -> None:
        self.missing_path = path
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        self.problem = f"the file {what}"
        looked = f"bulksend looked for {path.absolute()}"
        super().__init__(self.problem, path=path, hint=hint or f"Check the path: {looked}.")

    def with_hint(self, hint: str) -> MissingFileError:
        return MissingFileError(self.missing_path, hint)


@dataclass(frozen=True, slots=True)
class SheetRow:
    row_number: int  # the row as Excel shows it: header is row 1, first data row is 2
    values: dict[str, str]  # column name -> text as the user sees it, trimmed; "" for empty


Record = tuple[int, list[str]]  # (row number as Excel shows it, trimmed cell texts)


class RecordSource(Protocol):
    """What a format reader gives: raw records, progress counters and a way to close."""

    path: Path
    sheet_name: str | None
    progress_total: int | None
    progress_done: int
    progress_unit: str

    def records(self) -> Iterator[Record]: ...

    def close(self) -> None: ...


def column_label(position: int) -> str:
    """'column C (position 3)' for the 0-based position: how Excel and a text editor name it."""
    from openpyxl.utils import get_column_letter

    return f"column {get_column_letter(position + 1)} (position {position + 1})"


def is_blank(cells: list[str]) -> bool:
    return not any(cells)


def open_records(
    path: Path, *, sheet: str | None = None, encoding: str | None = None
) -> RecordSource:
    """Open ``path`` as raw records, without header rules; raises InputFileError if unreadable."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise _unsupported(path, suffix)
    if not path.is_file():
        raise MissingFileError(path)
    if suffix in EXCEL_SUFFIXES:
        from bulksend.sheets_excel import ExcelSource  # openpyxl is slow to import

        return ExcelSource(path, sheet=sheet)
    from bulksend.sheets_csv import CsvSource

    return CsvSource(path, encoding=encoding)


def _unsupported(path: Path, suffix: str) -> InputFileError:
    kind = _KNOWN_UNSUPPORTED.get(suffix, f"a {suffix or 'suffix-less'} file")
    return InputFileError(
        f"cannot read {kind}: bulksend reads {', '.join(SUPPORTED_SUFFIXES)}",
        path=path,
        hint=SAVE_AS_ADVICE,
    )


@dataclass(frozen=True, slots=True)
class Header:
    row_number: int  # where the header is, as Excel numbers rows
    columns: list[str]  # the names, in order
    first_position: int  # 0-based position of the first named column (a table may start at B)


def read_header(source: RecordSource) -> Header:
    """The first non-blank record as column names; raises InputFileError for an empty file."""
    for row_number, cells in source.records():
        if not is_blank(cells):
            return check_header(cells, path=source.path, row_number=row_number)
    raise InputFileError(
        "is empty: the first row must hold the column names",
        path=source.path,
        hint="Put a header row (e.g. Phone, First name) above the data.",
    )


def check_header(cells: list[str], *, path: Path, row_number: int) -> Header:
    """Column names from a header record; blank cells before and after the names are dropped,
    blank or repeated names between them are an error naming the columns."""
    names = [cell.lstrip("\ufeff").strip() for cell in cells]
    first = next(position for position, name in enumerate(names) if name)
    last = max(position for position, name in enumerate(names) if name)
    names = names[first : last + 1]
    blanks = [column_label(first + i) for i, name in enumerate(names) if not name]
    if blanks:
        raise InputFileError(
            f"the header has no name in {', '.join(blanks)}",
            path=path,
            row=row_number,
            hint="Give every column a name in the header row, or delete the empty column.",
        )
    seen: dict[str, int] = {}
    duplicates = []
    for position, name in enumerate(names, start=first):
        if name in seen:
            where = f"{column_label(seen[name])} and {column_label(position)}"
            duplicates.append(f"'{name}' ({where})")
        seen.setdefault(name, position)
    if duplicates:
        raise InputFileError(
            f"the header names a column twice: {', '.join(duplicates)}",
            path=path,
            row=row_number,
            hint="Rename the columns so that every name is different.",
        )
    return Header(row_number, names, first)


class Sheet:
    """An open spreadsheet: ``columns`` from the header, ``rows()`` streaming the data rows.

    Use it as a context manager; leaving the block closes the file. ``rows()`` may be called
    again for a second pass (it re-reads the file from the start).
    """

    def __init__(self, source: RecordSource) -> None:
        self._source = source
        try:
            self._header = read_header(source)
        except BaseException:
            source.close()
            raise
        self.columns = self._header.columns
        self.header_row = self._header.row_number

    @property
    def path(self) -> Path:
        return self._source.path

    @property
    def sheet_name(self) -> str | None:
        return self._source.sheet_name

    @property
    def progress_total(self) -> int | None:
        return self._source.progress_total

    @property
    def progress_done(self) -> int:
        return self._source.progress_done

    @property
    def progress_unit(self) -> str:
        return self._source.progress_unit

    def rows(self) -> Iterator[SheetRow]:
        """Every data row, in order; fully blank rows are skipped (their numbers not reused)."""
        make_row = _row_builder(self._header, self.path)
        for row_number, cells in self._source.records():
            if row_number > self.header_row and not is_blank(cells):
                yield make_row(row_number, cells)

    def close(self) -> None:
        self._source.close()

    def __enter__(self) -> Sheet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sheet({str(self.path)!r}, columns={self.columns!r})"


def _row_builder(header: Header, path: Path) -> Callable[[int, list[str]], SheetRow]:
    columns, start = header.columns, header.first_position
    stop = start + len(columns)

    def make_row(row_number: int, cells: list[str]) -> SheetRow:
        if start or len(cells) > stop:
            _check_unnamed_cells(cells, start, stop, path=path, row_number=row_number)
            cells = cells[start:stop]
        if len(cells) < len(columns):
            cells = cells + [""] * (len(columns) - len(cells))
        return SheetRow(row_number, dict(zip(columns, cells, strict=True)))

    return make_row


def _check_unnamed_cells(
    cells: list[str], start: int, stop: int, *, path: Path, row_number: int
) -> None:
    """Cells left or right of the named columns must be empty: their value would be lost."""
    for position, cell in enumerate(cells):
        if cell and not start <= position < stop:
            raise InputFileError(
                f"{column_label(position)} holds {cell[:40]!r} but the header names no "
                "column there",
                path=path,
                row=row_number,
                hint="Give that column a name in the header row, or remove the value "
                "(in a CSV, check for a stray delimiter or an unquoted comma in this row).",
            )


def open_sheet(path: Path, *, sheet: str | None = None, encoding: str | None = None) -> Sheet:
    """Open a CSV/TSV/TXT or XLSX/XLSM file for streaming; raises InputFileError if unreadable.

    ``sheet`` picks an Excel sheet by name (default: the first); ``encoding`` forces a CSV
    encoding instead of detecting it.
    """
    return Sheet(open_records(path, sheet=sheet, encoding=encoding))
