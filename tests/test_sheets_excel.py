"""Excel sheets: every cell as the text the user sees, sheets by name, formulas, odd files."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from bulksend.errors import InputFileError
from bulksend.sheets import SheetRow, open_sheet
from bulksend.sheets_excel import number_text


def write_xlsx(
    path: Path,
    rows: list[list[object]],
    *,
    formats: dict[str, str] | None = None,
    title: str = "Sheet1",
    more_sheets: tuple[str, ...] = (),
) -> Path:
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = title
    for row in rows:
        worksheet.append(row)
    for coordinate, number_format in (formats or {}).items():
        worksheet[coordinate].number_format = number_format
    for name in more_sheets:
        workbook.create_sheet(name).append(["other", "sheet"])
    workbook.save(path)
    return path


def rewrite_sheet_xml(path: Path, edit: Callable[[str], str]) -> None:
    """Rewrite xl/worksheets/sheet1.xml inside the workbook (what openpyxl cannot write)."""
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = edit(parts[sheet].decode()).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


def read_all(path: Path, **options: str) -> tuple[list[str], list[SheetRow]]:
    with open_sheet(path, **options) as sheet:
        return sheet.columns, list(sheet.rows())


def only_values(path: Path) -> dict[str, str]:
    _, rows = read_all(path)
    assert len(rows) == 1
    return rows[0].values


@pytest.mark.parametrize(
    ("cell", "number_format", "expected"),
    [
        (15551234567, "General", "15551234567"),
        (15551234567.0, "General", "15551234567"),
        (447911123456.0, "General", "447911123456"),
        (999999999999999, "General", "999999999999999"),
        (12.5, "General", "12.5"),
        (0.1 + 0.2, "General", "0.3"),
        (-3, "General", "-3"),
        (5551234567, "00000000000", "05551234567"),
        (7, "000", "007"),
        (1234.0, "0.00", "1234"),
        (True, "General", "TRUE"),
        (False, "General", "FALSE"),
        ("  +1 555 123 4567  ", "General", "+1 555 123 4567"),
        ("0044 7911 123456", "@", "0044 7911 123456"),
        (None, "General", ""),
    ],
)
def test_cells_read_as_the_text_the_user_sees(
    tmp_path: Path, cell: object, number_format: str, expected: str
) -> None:
    path = write_xlsx(
        tmp_path / "cells.xlsx", [["Value", "Other"], [cell, "x"]], formats={"A2": number_format}
    )
    assert only_values(path) == {"Value": expected, "Other": "x"}


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (dt.datetime(2026, 5, 1), "2026-05-01"),
        (dt.date(2026, 5, 1), "2026-05-01"),
        (dt.datetime(2026, 5, 1, 9, 30), "2026-05-01T09:30:00"),
        (dt.time(9, 30), "09:30:00"),
        (dt.timedelta(hours=26, minutes=5), "26:05:00"),
    ],
)
def test_dates_and_times_read_as_iso_text(tmp_path: Path, cell: object, expected: str) -> None:
    path = write_xlsx(tmp_path / "dates.xlsx", [["When"], [cell]])
    assert only_values(path) == {"When": expected}


def test_number_text_never_prints_a_float_for_a_whole_number() -> None:
    assert number_text(1.5551234567e10, "General") == "15551234567"
    assert number_text(1e21, None) == "1000000000000000000000"
    assert number_text(-5.0, "000") == "-5"


def test_formula_cells_give_their_cached_value(tmp_path: Path) -> None:
    """openpyxl writes no cached value, so the <v> elements are put in the XML by hand."""
    path = write_xlsx(tmp_path / "formula.xlsx", [["Base", "Times", "Label"], [2, "=A2*21", ""]])

    def add_cached_values(xml: str) -> str:
        xml = xml.replace("<f>A2*21</f><v />", "<f>A2*21</f><v>42</v>")
        label = '<c r="C2" t="str"><f>"+1"&amp;"555"</f><v>+1555</v></c>'
        return re.sub(r'<c r="C2"[^>]*?(/>|>.*?</c>)', label, xml)

    rewrite_sheet_xml(path, add_cached_values)
    assert only_values(path) == {"Base": "2", "Times": "42", "Label": "+1555"}


def test_number_stored_in_exponent_form_reads_as_its_digits(tmp_path: Path) -> None:
    """Excel may store a phone typed as a number as 1.5551234567E10 in the file."""
    path = write_xlsx(tmp_path / "exp.xlsx", [["Phone"], [1]])
    rewrite_sheet_xml(path, lambda xml: xml.replace("<v>1</v>", "<v>1.5551234567E10</v>"))
    assert only_values(path) == {"Phone": "15551234567"}


def test_formula_without_cached_value_is_empty_not_the_formula(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "uncomputed.xlsx", [["Base", "Times"], [2, "=A2*21"]])
    assert only_values(path) == {"Base": "2", "Times": ""}


def test_header_names_trimmed_and_blank_rows_skipped_keeping_excel_numbers(
    tmp_path: Path,
) -> None:
    rows = [[" Phone ", "Name  "], ["+12015550123", "Ann"], [None, None], [], ["+1", " Bo "]]
    columns, read = read_all(write_xlsx(tmp_path / "blank.xlsx", rows))
    assert columns == ["Phone", "Name"]
    assert read == [
        SheetRow(2, {"Phone": "+12015550123", "Name": "Ann"}),
        SheetRow(5, {"Phone": "+1", "Name": "Bo"}),
    ]


def test_rows_with_gaps_in_the_xml_keep_their_row_numbers(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet["A1"], worksheet["B1"] = "Phone", "Name"
    worksheet["A7"] = "+12015550123"
    worksheet["B12"] = "Late"
    workbook.save(tmp_path / "gaps.xlsx")
    _, read = read_all(tmp_path / "gaps.xlsx")
    assert [(row.row_number, row.values) for row in read] == [
        (7, {"Phone": "+12015550123", "Name": ""}),
        (12, {"Phone": "", "Name": "Late"}),
    ]


def test_header_below_blank_rows_keeps_its_excel_row_number(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet["B3"], worksheet["C3"] = "Phone", "Name"
    worksheet["B4"], worksheet["C4"] = "+12015550123", "Ann"
    workbook.save(tmp_path / "offset.xlsx")
    with open_sheet(tmp_path / "offset.xlsx") as sheet:
        assert (sheet.header_row, sheet.columns) == (3, ["Phone", "Name"])
        assert [row.row_number for row in sheet.rows()] == [4]


def test_wrong_stored_dimension_does_not_cut_columns(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "dim.xlsx", [["Phone", "Name", "City"], ["+1", "Ann", "Oslo"]])
    rewrite_sheet_xml(
        path, lambda xml: xml.replace('<dimension ref="A1:C2" />', '<dimension ref="A1" />')
    )
    assert only_values(path) == {"Phone": "+1", "Name": "Ann", "City": "Oslo"}


def test_first_sheet_is_the_default_and_a_sheet_can_be_named(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "two.xlsx", [["Phone"], ["+1"]], title="Customers", more_sheets=("Opt outs",)
    )
    with open_sheet(path) as sheet:
        assert (sheet.sheet_name, sheet.columns) == ("Customers", ["Phone"])
    with open_sheet(path, sheet="Opt outs") as sheet:
        assert (sheet.sheet_name, sheet.columns) == ("Opt outs", ["other", "sheet"])


def test_wrong_sheet_name_lists_the_sheets(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "two.xlsx", [["Phone"]], title="Customers", more_sheets=("Old",))
    with pytest.raises(InputFileError) as caught:
        open_sheet(path, sheet="customer")
    assert str(path) in str(caught.value)
    assert "has no sheet named 'customer'; its sheets are: 'Customers', 'Old'" in str(caught.value)


def test_duplicate_header_in_excel_names_the_columns(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "dup.xlsx", [["Phone", "Name", "Phone"], ["+1", "a", "+2"]])
    with pytest.raises(InputFileError) as caught:
        open_sheet(path)
    message = str(caught.value)
    assert "row 1" in message
    assert "'Phone' (column A (position 1) and column C (position 3))" in message


def test_values_beyond_the_header_are_an_error_naming_row_and_column(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "wide.xlsx", [["Phone"], ["+1"], ["+2", "stray"]])
    with open_sheet(path) as sheet, pytest.raises(InputFileError) as caught:
        list(sheet.rows())
    assert "row 3" in str(caught.value)
    assert "column B (position 2) holds 'stray' but the header names no" in str(caught.value)


def test_empty_workbook_is_an_error(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "empty.xlsx", [])
    with pytest.raises(InputFileError, match="is empty"):
        open_sheet(path)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04broken"])
def test_broken_workbook_is_an_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as caught:
        open_sheet(path)
    assert "cannot be read as an Excel workbook" in str(caught.value)
    assert "save it as .xlsx or .csv" in str(caught.value)


def test_xlsm_is_read_like_xlsx(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "macro.xlsx", [["Phone"], [15551234567]])
    macro = path.rename(tmp_path / "macro.xlsm")
    assert only_values(macro) == {"Phone": "15551234567"}


def test_progress_counts_rows_up_to_the_sheet_size(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "p.xlsx", [["Phone"]] + [[f"+1{n}"] for n in range(20)])
    with open_sheet(path) as sheet:
        assert (sheet.progress_unit, sheet.progress_total) == ("rows", 21)
        assert sum(1 for _ in sheet.rows()) == 20
        assert sheet.progress_done == 21
