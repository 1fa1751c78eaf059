"""XLSX/XLSM records through openpyxl's read-only streaming mode, every cell as the text shown.

Formulas give their cached value (``data_only=True``). Numbers never pass through ``str(float)``:
whole numbers become their digits, so a phone stored as a number keeps every digit.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bulksend.errors import BulksendError, InputFileError
from bulksend.sheets import SAVE_AS_ADVICE, Record, UnknownSheetError

_ZERO_PAD_FORMAT = re.compile(r"0+")  # Excel's way to keep leading zeros: "00000000000"


class ExcelSource:
    """Records of one worksheet; ``records()`` re-reads it from the start each call."""

    def __init__(self, path: Path, *, sheet: str | None = None) -> None:
        self.path = path
        self.progress_unit = "rows"
        self.progress_done = 0
        self._streams: weakref.WeakSet[Any] = weakref.WeakSet()
        self._workbook = _load_workbook(path)
        try:
            self._worksheet = _pick_worksheet(self._workbook, path, sheet)
        except BaseException:
            self._workbook.close()
            raise
        self.sheet_name: str | None = self._worksheet.title
        self.progress_total: int | None = self._worksheet.max_row
        # The stored dimension can be wrong (some writers put "A1"); read-only mode would cut
        # every row to it, so read the real cells instead.
        self._worksheet.reset_dimensions()

    def records(self) -> Iterator[Record]:
        rows = self._worksheet.iter_rows()
        # Each stream holds the zip member open; close() must end the ones left mid-way.
        self._streams.add(rows)
        return self._records(rows)

    def _records(self, rows: Iterator[Any]) -> Iterator[Record]:
        row_number = 0
        try:
            for row_number, cells in enumerate(rows, start=1):
                self.progress_done = row_number
                yield row_number, [cell_text(cell) for cell in cells]
        except BulksendError:
            raise
        except Exception as error:  # openpyxl and its XML parser raise many kinds on bad files
            raise InputFileError(
                f"cannot be read as an Excel workbook ({type(error).__name__}: {error})",
                path=self.path,
                row=row_number + 1,
                hint=SAVE_AS_ADVICE,
            ) from error
        self.progress_done = max(self.progress_done, self.progress_total or 0)

    def close(self) -> None:
        for rows in list(self._streams):
            rows.close()
        self._workbook.close()

    def __repr__(self) -> str:
        return f"ExcelSource({str(self.path)!r}, sheet={self.sheet_name!r})"


def _load_workbook(path: Path) -> Any:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and extensions it drops; they do not change values.
            warnings.simplefilter("ignore")
            return load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # a bad zip, a missing part, broken XML, a password
        raise InputFileError(
            f"cannot be read as an Excel workbook ({type(error).__name__}: {error})",
            path=path,
            hint=SAVE_AS_ADVICE,
        ) from error


def _pick_worksheet(workbook: Any, path: Path, sheet: str | None) -> Any:
    if sheet is None:
        if not workbook.worksheets:
            raise InputFileError("has no worksheet (only charts)", path=path)
        return workbook.worksheets[0]
    if sheet in workbook.sheetnames:
        worksheet = workbook[sheet]
        if hasattr(worksheet, "iter_rows"):
            return worksheet
        raise InputFileError(f"the sheet {sheet!r} is a chart, not a table of rows", path=path)
    raise UnknownSheetError(path, sheet, list(workbook.sheetnames))


def cell_text(cell: Any) -> str:
    """The cell as text the user sees: digits for whole numbers, ISO dates, TRUE/FALSE, ""."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return number_text(value, cell.number_format)
    return _temporal_text(value)


def number_text(value: int | float, number_format: str | None) -> str:
    """A whole number as its digits (zero-padded by a "000…" format), others as shown (12.5)."""
    if isinstance(value, float):
        if not value.is_integer():
            return format(value, ".15g")  # Excel keeps 15 significant digits
        value = int(value)  # never str(float): 15551234567.0 would print as such
    text = str(value)
    if number_format and value >= 0 and _ZERO_PAD_FORMAT.fullmatch(number_format):
        text = text.zfill(len(number_format))
    return text


def _temporal_text(value: object) -> str:
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(timespec=_timespec(value.microsecond))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec=_timespec(value.microsecond))
    if isinstance(value, dt.timedelta):
        hours, rest = divmod(round(value.total_seconds()), 3600)
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"  # as Excel's [h]:mm:ss shows it
    return str(value).strip()


def _timespec(microsecond: int) -> str:
    return "seconds" if microsecond == 0 else "milliseconds"
