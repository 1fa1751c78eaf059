"""What every sheet format shares: suffixes, missing files, closing, re-reading, table offsets."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from bulksend.errors import ExitStatus, InputFileError
from bulksend.sheets import SUPPORTED_SUFFIXES, SheetRow, open_sheet


def open_descriptors_to(path: Path) -> int:
    """How many of this process's file descriptors point at ``path`` (Linux /proc)."""
    target = str(path.resolve())
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{name}") == target
        except OSError:
            continue  # the descriptor listing itself, closed meanwhile
    return count


def make_csv(tmp_path: Path, rows: int = 3000) -> Path:
    path = tmp_path / "big.csv"
    path.write_text("Phone,Name\n" + "".join(f"+1201555{n:04d},N{n}\n" for n in range(rows)))
    return path


def make_xlsx(tmp_path: Path) -> Path:
    workbook = openpyxl.Workbook()
    for n in range(300):
        workbook.active.append(["Phone", "Name"] if n == 0 else [f"+1201555{n:04d}", f"N{n}"])
    workbook.save(tmp_path / "big.xlsx")
    return tmp_path / "big.xlsx"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("old.xls", "cannot read an old Excel 97-2003 workbook"),
        ("sheet.ods", "cannot read an OpenDocument spreadsheet"),
        ("sheet.numbers", "cannot read an Apple Numbers spreadsheet"),
        ("sheet.XLSB", "cannot read an Excel binary workbook"),
        ("list.pdf", "cannot read a .pdf file"),
        ("noext", "cannot read a suffix-less file"),
    ],
)
def test_unsupported_formats_say_to_save_as_xlsx_or_csv(
    tmp_path: Path, name: str, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"whatever")
    with pytest.raises(InputFileError) as caught:
        open_sheet(path)
    assert str(caught.value).startswith(f"{path}: {expected}")
    assert "save it as .xlsx or .csv" in str(caught.value)
    assert caught.value.exit_status == ExitStatus.CONFIG_ERROR


def test_supported_suffixes_are_matched_in_any_case(tmp_path: Path) -> None:
    path = tmp_path / "UPPER.CSV"
    path.write_text("Phone\n+1\n")
    with open_sheet(path) as sheet:
        assert [row.values for row in sheet.rows()] == [{"Phone": "+1"}]
    assert ".xlsx" in SUPPORTED_SUFFIXES and ".tsv" in SUPPORTED_SUFFIXES


@pytest.mark.parametrize("name", ["missing.csv", "missing.xlsx"])
def test_missing_file_is_an_input_error_naming_the_path(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputFileError) as caught:
        open_sheet(tmp_path / name)
    assert str(caught.value) == (
        f"{tmp_path / name}: the file does not exist\n"
        f"  Check the path: bulksend looked for {tmp_path / name}."
    )


def test_a_missing_file_says_where_it_was_looked_for_without_guessing_the_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader serves campaigns and init alike: it cannot know what a path was relative to."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputFileError) as caught:
        open_sheet(Path("sub/missing.csv"))
    assert caught.value.hint == f"Check the path: bulksend looked for {tmp_path}/sub/missing.csv."


def test_folder_is_not_a_spreadsheet(tmp_path: Path) -> None:
    folder = tmp_path / "data.csv"
    folder.mkdir()
    with pytest.raises(InputFileError, match="is a folder"):
        open_sheet(folder)


@pytest.mark.parametrize("maker", [make_csv, make_xlsx])
def test_leaving_the_block_closes_the_file_even_mid_stream(
    tmp_path: Path, maker: Callable[[Path], Path]
) -> None:
    path = maker(tmp_path)
    with open_sheet(path) as sheet:
        rows = sheet.rows()
        next(rows)
        assert open_descriptors_to(path) >= 1
    assert open_descriptors_to(path) == 0


@pytest.mark.parametrize("maker", [make_csv, make_xlsx])
def test_rows_can_be_read_twice(tmp_path: Path, maker: Callable[[Path], Path]) -> None:
    with open_sheet(maker(tmp_path)) as sheet:
        first = list(sheet.rows())
        assert list(sheet.rows()) == first
        assert first[0].row_number == 2 and first[0].values["Phone"].startswith("+1201555")
        assert len(first) > 100


def test_table_starting_right_of_column_a(tmp_path: Path) -> None:
    path = tmp_path / "offset.csv"
    path.write_text("\n,Phone,Name\n,+1,Ann\n")
    with open_sheet(path) as sheet:
        assert (sheet.header_row, sheet.columns) == (2, ["Phone", "Name"])
        assert list(sheet.rows()) == [SheetRow(3, {"Phone": "+1", "Name": "Ann"})]


def test_value_left_of_the_table_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "offset.csv"
    path.write_text(",Phone,Name\n,+1,Ann\nnote,+2,Bo\n")
    with open_sheet(path) as sheet, pytest.raises(InputFileError) as caught:
        list(sheet.rows())
    assert "row 3: column A (position 1) holds 'note'" in str(caught.value)


def test_error_message_never_shows_a_traceback_worthy_type(tmp_path: Path) -> None:
    """Library errors reach the CLI as BulksendError subclasses, not csv or zip exceptions."""
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(InputFileError) as caught:
        open_sheet(path)
    assert caught.value.__cause__ is not None
