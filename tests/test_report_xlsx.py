"""The workbook: Summary and Rows sheets, frozen header, autofilter, phones and reasons as text."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from bulksend.errors import InputFileError
from bulksend.report import summarize
from bulksend.report_xlsx import write_xlsx
from bulksend.results import COLUMNS, Outcome, ResultRecord


def _records() -> list[ResultRecord]:
    return [
        ResultRecord(
            row=2,
            phone="+447700900001",
            outcome=Outcome.SENT,
            identity="+447700900001",
            message_id="5100231",
            http_status=201,
            attempts=1,
            segments=2,
            updated_at="2026-05-02T09:00:01Z",
            delivery_status="read",
        ),
        ResultRecord(
            row=3,
            phone="+447700900002",
            outcome=Outcome.REJECTED,
            identity="+447700900002",
            http_status=400,
            error_code=5,
            error="=cmd|' /C calc'!A0 is not a phone\x07",
            attempts=1,
            updated_at="2026-05-02T09:00:02Z",
        ),
    ]


@pytest.fixture
def workbook_path(tmp_path: Path) -> Path:
    records = _records()
    path = tmp_path / "report.xlsx"
    write_xlsx(summarize(records, campaign_name="spring", channel="sms"), lambda: records, path)
    return path


def test_workbook_has_summary_and_rows_sheets(workbook_path: Path) -> None:
    workbook = openpyxl.load_workbook(workbook_path)
    assert workbook.sheetnames == ["Summary", "Rows"]
    summary = {row[0]: row[1:] for row in workbook["Summary"].iter_rows(values_only=True)}
    assert summary["Recipients"][0] == 2
    assert summary["SMS segments sent"][0] == 2
    assert summary["sent"][0] == 1
    assert summary["rejected"][0] == 1


def test_rows_sheet_has_frozen_header_filter_and_widths(workbook_path: Path) -> None:
    sheet = openpyxl.load_workbook(workbook_path)["Rows"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(COLUMNS))}3"
    assert [cell.value for cell in sheet[1]] == list(COLUMNS)
    phone_width = sheet.column_dimensions["B"].width
    assert len("+447700900001") <= phone_width <= 60


def test_phones_and_reasons_stay_text(workbook_path: Path) -> None:
    sheet = openpyxl.load_workbook(workbook_path)["Rows"]
    header = [cell.value for cell in sheet[1]]
    first, second = sheet[2], sheet[3]
    phone = first[header.index("phone")]
    assert phone.value == "+447700900001" and phone.data_type == "s"
    assert first[header.index("message_id")].data_type == "s"
    assert first[header.index("row")].value == 2
    error = second[header.index("error")]
    assert error.data_type == "s"  # never a formula
    assert error.value == "=cmd|' /C calc'!A0 is not a phone"
    assert second[header.index("error_code")].value == 5


def test_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "missing-folder" / "report.xlsx"
    with pytest.raises(InputFileError, match="cannot write the workbook"):
        write_xlsx(summarize([]), list, target)


def test_summary_reasons_say_what_happened_with_an_example(tmp_path: Path) -> None:
    records = [
        *_records(),
        ResultRecord(
            row=4,
            phone="+447700900003",
            outcome=Outcome.SENT,
            identity="+447700900003",
            message_id="5100232",
            delivery_status="failed",
            delivery_detail="Not a mobile subscriber.",
        ),
    ]
    path = tmp_path / "report.xlsx"
    write_xlsx(summarize(records, channel="sms"), lambda: records, path)
    rows = list(openpyxl.load_workbook(path)["Summary"].iter_rows(values_only=True))
    start = rows.index(("What happened", "Recipients", "Error code", "Reason", "Example"))
    reasons = rows[start + 1 : start + 3]
    assert sorted(row[0] for row in reasons) == ["not delivered (failed)", "not sent (rejected)"]
    assert ("row 4, +447700900003") in [row[4] for row in reasons]


def _many(count: int) -> list[ResultRecord]:
    phones = {row: f"+44770090{row:04d}" for row in range(2, 2 + count)}
    return [
        ResultRecord(row=row, phone=phone, outcome=Outcome.SENT, identity=phone)
        for row, phone in phones.items()
    ]


def test_rows_past_the_sheet_limit_are_left_out_and_said_so(tmp_path: Path) -> None:
    """Past Excel's row limit the Rows sheet keeps the first recipients that fit, and the
    Summary sheet says first thing how many are missing and where they all are."""
    records = _many(5)
    path = tmp_path / "report.xlsx"
    report = summarize(records, channel="sms", results_path="out/results.csv")
    summary = write_xlsx(report, lambda: records, path, max_rows=3)
    assert (summary.recipients, summary.rows_written, summary.rows_left_out) == (5, 2, 3)
    workbook = openpyxl.load_workbook(path)
    rows = list(workbook["Rows"].iter_rows(values_only=True))
    assert [row[0] for row in rows] == ["row", 2, 3]
    assert workbook["Rows"].auto_filter.ref.endswith("3")
    note = next(workbook["Summary"].iter_rows(min_row=2, max_row=2, values_only=True))[0]
    assert note == (
        "The Rows sheet holds the first 2 of 5 recipients (3 left out): an Excel sheet takes "
        "1,048,576 rows. All of them are in the results file out/results.csv."
    )


def test_rows_that_fit_exactly_need_no_note(tmp_path: Path) -> None:
    records = _many(2)
    path = tmp_path / "report.xlsx"
    summary = write_xlsx(summarize(records), lambda: records, path, max_rows=3)
    assert summary.rows_left_out == 0
    workbook = openpyxl.load_workbook(path)
    assert len(list(workbook["Rows"].iter_rows())) == 3
    assert not any(
        "left out" in str(row[0]) for row in workbook["Summary"].iter_rows(values_only=True)
    )
