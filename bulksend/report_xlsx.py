"""The results as an Excel workbook: a "Summary" sheet with the report's numbers and a "Rows" sheet.

Written in openpyxl's write-only mode so memory stays flat; column widths must be known before the
first row, so the records are read twice (``records`` is a callable returning a fresh iterator).
Text never becomes a formula (a reason starting with "=" stays text) and phones stay text.

A sheet holds at most 1,048,576 rows in Excel. Past that, the Rows sheet holds the first recipients
that fit and the Summary sheet says so first thing; the whole results are in the results CSV
anyway, and a workbook Excel would refuse to open helps nobody.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bulksend.errors import InputFileError
from bulksend.report import Report
from bulksend.report_text import (
    UNTRACKED_NOTE,
    example_text,
    format_duration,
    format_rate,
    funnel_steps,
    percent,
    reason_label,
)
from bulksend.results import COLUMNS, ResultRecord

TEXT_COLUMNS = frozenset(COLUMNS) - {"row", "http_status", "error_code", "attempts", "segments"}
MIN_WIDTH, MAX_WIDTH = 6, 60
EXCEL_MAX_ROWS = 1_048_576  # per sheet, the header included
_BOLD = Font(bold=True)


@dataclass(frozen=True)
class WorkbookSummary:
    path: Path
    recipients: int  # records in the results
    rows_written: int  # of them on the Rows sheet: fewer only past Excel's row limit

    @property
    def rows_left_out(self) -> int:
        return self.recipients - self.rows_written


def write_xlsx(
    report: Report,
    records: Callable[[], Iterable[ResultRecord]],
    path: Path | str,
    *,
    max_rows: int | None = None,
) -> WorkbookSummary:
    """Write the workbook to ``path`` (beside it, then renamed); InputFileError if unwritable.

    The Rows sheet takes at most ``max_rows`` rows with its header (default: Excel's limit);
    the rest are left out, and the Summary sheet and the returned summary say how many.
    """
    max_rows = EXCEL_MAX_ROWS if max_rows is None else max_rows
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        # Opened before any work so an unwritable folder fails fast and leaves nothing behind.
        with partial.open("wb") as handle:
            widths, recipients = fit_widths(records())
            summary = WorkbookSummary(path, recipients, min(recipients, max_rows - 1))
            _build_workbook(report, records, widths, summary).save(handle)
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise InputFileError(
            f"cannot write the workbook: {error.strerror or error}",
            path=path,
            hint="Choose a folder you can write to, and close the file if Excel has it open.",
        ) from error
    return summary


def left_out_note(summary: WorkbookSummary, results_path: str) -> str:
    """What the Rows sheet lacks and where it is, for the Summary sheet and the terminal."""
    return (
        f"The Rows sheet holds the first {summary.rows_written:,} of {summary.recipients:,} "
        f"recipients ({summary.rows_left_out:,} left out): an Excel sheet takes "
        f"{EXCEL_MAX_ROWS:,} rows. All of them are in the results file {results_path}."
    )


def _build_workbook(
    report: Report,
    records: Callable[[], Iterable[ResultRecord]],
    widths: list[float],
    summary: WorkbookSummary,
) -> Workbook:
    workbook = Workbook(write_only=True)
    _write_summary(workbook.create_sheet("Summary"), report, summary)
    _write_rows(workbook.create_sheet("Rows"), records(), widths, summary.rows_written)
    return workbook


def fit_widths(records: Iterable[ResultRecord]) -> tuple[list[float], int]:
    """Column widths (in characters) that fit the header and the longest cell, within limits,
    and how many records there are."""
    longest = [len(name) for name in COLUMNS]
    count = 0
    for record in records:
        count += 1
        values = asdict(record)
        for index, name in enumerate(COLUMNS):
            value = values[name]
            if value is not None:
                longest[index] = max(longest[index], len(str(value)))
    return [min(max(length + 2, MIN_WIDTH), MAX_WIDTH) for length in longest], count


def _text_cell(sheet: WriteOnlyWorksheet, value: object, *, bold: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", str(value)))
    # openpyxl turns any text starting with "=" into a formula; data from users never is one.
    cell.data_type = "s"
    cell.number_format = "@"
    if bold:
        cell.font = _BOLD
    return cell


def _cell(sheet: WriteOnlyWorksheet, name: str, value: object) -> WriteOnlyCell | int | None:
    if name in TEXT_COLUMNS:
        return _text_cell(sheet, "" if value is None else value)
    return value if isinstance(value, int) else None


def _write_rows(
    sheet: WriteOnlyWorksheet, records: Iterable[ResultRecord], widths: list[float], limit: int
) -> None:
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    sheet.append([_text_cell(sheet, name, bold=True) for name in COLUMNS])
    count = 0
    for record in records:
        if count == limit:
            break
        values = asdict(record)
        values["outcome"] = record.outcome.value
        sheet.append([_cell(sheet, name, values[name]) for name in COLUMNS])
        count += 1
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{count + 1}"


def _write_summary(sheet: WriteOnlyWorksheet, report: Report, summary: WorkbookSummary) -> None:
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 14
    sheet.column_dimensions["C"].width = 12
    sheet.column_dimensions["D"].width = 60
    sheet.column_dimensions["E"].width = 14
    rows = _summary_rows(report)
    if summary.rows_left_out:
        rows[1:1] = [[left_out_note(summary, report.results_path)], []]
    for row in rows:
        sheet.append(
            [
                _text_cell(sheet, value, bold=index == 0 and len(row) == 1)
                if isinstance(value, str)
                else value
                for index, value in enumerate(row)
            ]
        )


def _summary_rows(report: Report) -> list[list[object]]:
    funnel = report.funnel
    rows: list[list[object]] = [
        [f"Campaign {report.campaign_name}"],
        ["Channel", report.channel],
        ["Results file", report.results_path],
        ["Recipients", report.rows],
        ["Duration", format_duration(report.duration_s)],
        ["Achieved rate", format_rate(report.rate_per_s)],
        ["SMS segments sent", report.segments_sent],
        [],
        ["Outcomes"],
        ["Outcome", "Recipients", "Share"],
        *([name, count, percent(count, report.rows)] for name, count in report.outcomes.items()),
        [],
        ["Delivery funnel"],
        ["Step", "Messages", "Share of sent"],
    ]
    for name, count in funnel_steps(report):
        rows.append([name.lower(), count, percent(count, funnel.sent)])
    if report.delivery_tracked:
        rows.append(
            [
                "neither delivered nor failed yet",
                funnel.awaiting,
                percent(funnel.awaiting, funnel.sent),
            ]
        )
    else:
        rows.append([UNTRACKED_NOTE])
    rows += [
        [],
        ["Failure reasons"],
        ["What happened", "Recipients", "Error code", "Reason", "Example"],
    ]
    for reason in report.reasons:
        code = "" if reason.error_code is None else reason.error_code
        rows.append([reason_label(reason), reason.count, code, reason.reason, example_text(reason)])
    return rows
