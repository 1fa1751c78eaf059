"""CSV/TSV/TXT sheets: encodings, delimiters, quoting, row numbers and every input error."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulksend.errors import InputFileError
from bulksend.sheets import SheetRow, open_sheet
from bulksend.sheets_csv import sniff_delimiter

CUSTOMERS = "Phone,Name,City\n+12015550123,José,Zürich €\n0044 7911 123456,Zoë,Köln\n"
EXPECTED_CUSTOMERS = [
    SheetRow(2, {"Phone": "+12015550123", "Name": "José", "City": "Zürich €"}),
    SheetRow(3, {"Phone": "0044 7911 123456", "Name": "Zoë", "City": "Köln"}),
]


def read_all(path: Path, **options: str) -> tuple[list[str], list[SheetRow]]:
    with open_sheet(path, **options) as sheet:
        return sheet.columns, list(sheet.rows())


def write(tmp_path: Path, content: bytes, name: str = "sheet.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8", CUSTOMERS),
        ("utf-8-sig", CUSTOMERS),
        ("cp1252", CUSTOMERS),
        ("utf-16", CUSTOMERS.replace(",", "\t")),  # Excel's "Unicode Text": BOM, LE, tabs
        ("utf-16-be", "\ufeff" + CUSTOMERS.replace(",", "\t")),
        ("utf-32", CUSTOMERS),
    ],
)
def test_encodings_are_detected_without_being_told(
    tmp_path: Path, encoding: str, text: str
) -> None:
    path = write(tmp_path, text.encode(encoding), "customers.txt")
    assert read_all(path) == (["Phone", "Name", "City"], EXPECTED_CUSTOMERS)


def test_utf16_without_bom_is_detected(tmp_path: Path) -> None:
    path = write(tmp_path, "Phone\tName\n+12015550123\tAnn\n".encode("utf-16-le"), "a.tsv")
    assert read_all(path)[1] == [SheetRow(2, {"Phone": "+12015550123", "Name": "Ann"})]


def test_utf8_wins_over_cp1252_when_the_whole_file_is_utf8(tmp_path: Path) -> None:
    """'Ã©' in cp1252 is 'é' in UTF-8: the detection must not look at the first bytes only."""
    text = "Phone,Name\n" + "+12015550123,Ann\n" * 50_000 + "+12015550124,Renée\n"
    _, rows = read_all(write(tmp_path, text.encode("utf-8")))
    assert rows[-1].values["Name"] == "Renée"


def test_cp1252_detected_even_when_the_first_megabyte_is_ascii(tmp_path: Path) -> None:
    text = "Phone,Name\n" + "+12015550123,Ann\n" * 80_000 + "+12015550124,Renée €\n"
    _, rows = read_all(write(tmp_path, text.encode("cp1252")))
    assert rows[-1] == SheetRow(80_002, {"Phone": "+12015550124", "Name": "Renée €"})


def test_forced_encoding_is_used(tmp_path: Path) -> None:
    path = write(tmp_path, "Phone,Name\n+1,Ωmega\n".encode("iso-8859-7"))
    assert read_all(path, encoding="iso-8859-7")[1][0].values["Name"] == "Ωmega"


def test_forced_utf8_on_a_bom_file_keeps_the_first_name_clean(tmp_path: Path) -> None:
    path = write(tmp_path, CUSTOMERS.encode("utf-8-sig"))
    assert read_all(path, encoding="utf-8")[0] == ["Phone", "Name", "City"]


def test_unknown_forced_encoding_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path, CUSTOMERS.encode())
    with pytest.raises(InputFileError) as caught:
        open_sheet(path, encoding="klingon-8")
    assert "unknown encoding 'klingon-8'" in str(caught.value)
    assert "encoding:" in str(caught.value)


def test_undecodable_bytes_under_a_forced_encoding_name_the_row(tmp_path: Path) -> None:
    content = b"Phone,Name\n+1,Ann\n+2,Bo\n" + b'"+3","Ren\xe9e\nwith newline"\n'
    path = write(tmp_path, content + b"+4,Cy\n")
    with pytest.raises(InputFileError) as caught:
        open_sheet(path, encoding="utf-8")
    message = str(caught.value)
    assert f"{path}, row 4: holds bytes that are not utf-8 text" in message
    assert "CSV UTF-8" in message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_a_forced_encoding_that_needs_a_byte_order_mark_is_an_input_error(
    tmp_path: Path, encoding: str
) -> None:
    """utf-16 and utf-32 without a mark make Python raise a bare UnicodeError."""
    path = write(tmp_path, CUSTOMERS.encode("cp1252"))
    with pytest.raises(InputFileError) as caught:
        open_sheet(path, encoding=encoding)
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot be read as {encoding} text")
    assert "encoding:" in message


def test_bytes_neither_utf8_nor_cp1252_name_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, b"Phone,Name\n+1,Ann\n+2,B\x81o\n")
    with pytest.raises(InputFileError) as caught:
        open_sheet(path)
    assert f"{path}, row 3: is neither UTF-8 nor Windows-1252" in str(caught.value)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerows([["Phone", "Name", "Note"], ["+12015550123", "Ann", "a, b; c | d"]])
    path = write(tmp_path, buffer.getvalue().encode())
    assert read_all(path) == (
        ["Phone", "Name", "Note"],
        [SheetRow(2, {"Phone": "+12015550123", "Name": "Ann", "Note": "a, b; c | d"})],
    )


def test_semicolon_file_with_decimal_commas_is_not_split_on_commas() -> None:
    sample = "Phone;Amount;City\n+12015550123;12,50;Oslo\n+12015550124;3,75;Bergen\n"
    assert sniff_delimiter(sample, ".csv") == ";"


@pytest.mark.parametrize(("suffix", "expected"), [(".csv", ","), (".tsv", "\t"), (".txt", ",")])
def test_single_column_files_use_the_suffix_default(suffix: str, expected: str) -> None:
    assert sniff_delimiter("Phone\n+1 201 555 0123\n", suffix) == expected


def test_quoted_newlines_keep_one_row_and_excel_row_numbers(tmp_path: Path) -> None:
    content = 'Phone,Note\n+1,"line one\nline two\r\nline three"\n+2,plain\n\n,\n+3,"x"\n'
    _, rows = read_all(write(tmp_path, content.encode()))
    assert rows == [
        SheetRow(2, {"Phone": "+1", "Note": "line one\nline two\r\nline three"}),
        SheetRow(3, {"Phone": "+2", "Note": "plain"}),
        SheetRow(6, {"Phone": "+3", "Note": "x"}),
    ]


def test_cells_and_names_are_trimmed_and_kept_as_text(tmp_path: Path) -> None:
    content = " Phone , Zip ,Big\n  +12015550123 ,00501, 1.5551234567e10 \n007,nan,None\n"
    columns, rows = read_all(write(tmp_path, content.encode()))
    assert columns == ["Phone", "Zip", "Big"]
    assert [row.values for row in rows] == [
        {"Phone": "+12015550123", "Zip": "00501", "Big": "1.5551234567e10"},
        {"Phone": "007", "Zip": "nan", "Big": "None"},
    ]


def test_short_rows_are_padded_and_empty_extra_cells_ignored(tmp_path: Path) -> None:
    content = "Phone,Name,City\n+1\n+2,Bo,Oslo,,\n"
    _, rows = read_all(write(tmp_path, content.encode()))
    assert [row.values for row in rows] == [
        {"Phone": "+1", "Name": "", "City": ""},
        {"Phone": "+2", "Name": "Bo", "City": "Oslo"},
    ]


def test_extra_cell_with_a_value_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, b"Phone,Name\n+1,Ann\n+2,Smith, Bo\n")
    with open_sheet(path) as sheet, pytest.raises(InputFileError) as caught:
        list(sheet.rows())
    message = str(caught.value)
    assert f"{path}, row 3: column C (position 3) holds 'Bo' but the header names no" in message
    assert "unquoted comma" in message


def test_trailing_empty_header_cells_are_dropped(tmp_path: Path) -> None:
    columns, rows = read_all(write(tmp_path, b"Phone,Name,,\n+1,Ann,,\n"))
    assert columns == ["Phone", "Name"]
    assert rows == [SheetRow(2, {"Phone": "+1", "Name": "Ann"})]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Phone,,Name", "the header has no name in column B (position 2)"),
        ("Phone, ,Name,,City", "no name in column B (position 2), column D (position 4)"),
        (
            "Phone,Name,Phone ",
            "names a column twice: 'Phone' (column A (position 1) and column C (position 3))",
        ),
    ],
)
def test_blank_and_duplicate_header_names_are_errors(
    tmp_path: Path, header: str, expected: str
) -> None:
    path = write(tmp_path, f"{header}\n+1,a,b,c,d\n".encode())
    with pytest.raises(InputFileError) as caught:
        open_sheet(path)
    assert f"{path}, row 1: " in str(caught.value)
    assert expected in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"\n\n", b",,,\n , ,\n", "\ufeff".encode()])
def test_a_file_without_header_is_empty(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, content)
    with pytest.raises(InputFileError) as caught:
        open_sheet(path)
    assert f"{path}: is empty" in str(caught.value)


def test_header_only_file_has_columns_and_no_rows(tmp_path: Path) -> None:
    assert read_all(write(tmp_path, b"Phone,Name\r\n")) == (["Phone", "Name"], [])


def test_unclosed_quote_is_reported_at_its_row(tmp_path: Path) -> None:
    content = b'Phone,Note\n+1,ok\n+2,"never closed\n' + b"+3,more text\n" * 20_000
    path = write(tmp_path, content)
    with open_sheet(path) as sheet, pytest.raises(InputFileError) as caught:
        list(sheet.rows())
    assert f"{path}, row 3: " in str(caught.value)
    assert "never closed" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"PK\x03\x04rest", "an Excel .xlsx workbook"), (b"\xd0\xcf\x11\xe0rest", ".xls workbook")],
)
def test_workbook_saved_under_a_csv_name_is_explained(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    with pytest.raises(InputFileError, match=expected):
        open_sheet(write(tmp_path, content))


def test_real_xlsx_renamed_to_csv_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "renamed.csv"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
    with pytest.raises(InputFileError, match="save it as .xlsx or .csv"):
        open_sheet(path)


def test_progress_reaches_the_file_size(tmp_path: Path) -> None:
    path = write(tmp_path, ("Phone\n" + "+12015550123\n" * 5000).encode())
    with open_sheet(path) as sheet:
        assert (sheet.progress_unit, sheet.progress_total) == ("B", path.stat().st_size)
        seen = []
        for row in sheet.rows():
            if row.row_number % 1024 == 1:
                seen.append(sheet.progress_done)
        assert seen == sorted(seen) and 0 < seen[-1] <= path.stat().st_size
        assert sheet.progress_done == path.stat().st_size


cell_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(cell_text, cell_text), max_size=8))
def test_any_text_written_to_csv_reads_back_identical(
    tmp_path: Path, rows: list[tuple[str, str]]
) -> None:
    """NUL is left out: no spreadsheet program writes it, and it marks UTF-16 without a BOM."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["Phone", "Name"])
    writer.writerows(rows)
    path = write(tmp_path, buffer.getvalue().encode(), "hypo.csv")
    _, read = read_all(path)
    expected = [
        SheetRow(number, {"Phone": phone.strip(), "Name": name.strip()})
        for number, (phone, name) in enumerate(rows, start=2)
        if phone.strip() or name.strip()
    ]
    assert read == expected
