"""A quote (") opened and never closed in a CSV is an error at its row; multi-line cells are not."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulksend.errors import InputFileError
from bulksend.phonelist import read_phone_list
from bulksend.sheets import SheetRow, open_sheet

HINT = (
    'Close the quote or remove the stray one (a quote inside a cell is written twice: ""), '
    "then check the rows after it."
)


def write(tmp_path: Path, text: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def read_rows(path: Path) -> list[SheetRow]:
    with open_sheet(path) as sheet:
        return list(sheet.rows())


def error_of(path: Path) -> InputFileError:
    with pytest.raises(InputFileError) as caught:
        read_rows(path)
    return caught.value


def test_a_quote_open_to_the_end_of_the_file_names_its_row(tmp_path: Path) -> None:
    """Once read as one "missing phone" row: now an error naming the row and the fix."""
    text = 'Name,Last,Phone\n"Dana,S,+1 415 555 0100\nBo,K,+1 415 555 0101\nCy,L,+1 415 555 0102\n'
    path = write(tmp_path, text)
    error = error_of(path)
    assert str(error) == (
        f'{path}, row 2: a quote (") opened in column A (position 1) of this row is not closed '
        "where the row ends, so lines 2 to 4 of the file were read as one cell\n  " + HINT
    )


def test_a_quote_closed_rows_later_names_the_lines_it_swallowed(tmp_path: Path) -> None:
    text = (
        "Name,Last,Phone\n"
        "Ann,A,+1 415 555 0100\n"
        '"Dana,S,+1 415 555 0101\n'  # opens here
        "Bo,K,+1 415 555 0102\n"
        'Cy,"L",+1 415 555 0103\n'  # its first quote closes Dana's
        "Di,M,+1 415 555 0104\n"
    )
    error = error_of(write(tmp_path, text))
    assert error.row == 3
    assert error.message.endswith(
        'row 3: a quote (") opened in column A (position 1) of this '
        "row is not closed where the row ends, so lines 3 to 5 of the file were read as one cell"
    )


def test_a_quote_open_to_the_end_in_the_last_cell_is_found_by_the_end(tmp_path: Path) -> None:
    """The open cell is the row's last, so the width looks right: the file's end tells."""
    text = 'Name,Phone,Note\nAnn,+1 415 555 0100,"ok\nBo,+1 415 555 0101,x\n'
    error = error_of(write(tmp_path, text))
    assert (error.row, error.hint) == (2, HINT)
    assert (
        "column C (position 3) of this row is not closed where the row ends, so lines 2 to "
        "3 of the file" in error.message
    )


def test_the_text_editor_line_is_named_when_it_differs_from_the_row(tmp_path: Path) -> None:
    text = (
        "Name,Address,Phone\n"
        'Ann,"1 Main St\nApt 2",+1 415 555 0100\n'  # row 2, lines 2-3
        '"Dana,S,+1 415 555 0101\n'  # row 3, line 4
        "Bo,K,+1 415 555 0102\n"
    )
    error = error_of(write(tmp_path, text))
    assert error.row == 3
    assert "column A (position 1) of this row (line 4 in a text editor) is not closed" in str(error)


@pytest.mark.parametrize(
    "text",
    [
        'Name,Address,Phone\nAnn,"1 Main St, Apt 2\nSpringfield, IL",+1 415 555 0100\n',
        'Name,Phone,Address\nAnn,+1 415 555 0100,"1 Main St, Apt 2\nSpringfield, IL"\n',
        'Name,Phone,Address\nAnn,+1 415 555 0100,"1 Main St\nSpringfield"',  # no final newline
        'Name,Phone,Note\nAnn,+1 415 555 0100,"said ""hi""\nthen left"\n\n\n',
        'Name,Phone,Note\nAnn,+1,"a,b,c\nd,e,f"\nBo,+2,x\n',  # whole-row-looking lines, right width
    ],
    ids=["address", "last-cell", "no-final-newline", "escaped-quotes", "commas-right-width"],
)
def test_legitimate_multi_line_cells_are_read(tmp_path: Path, text: str) -> None:
    rows = read_rows(write(tmp_path, text))
    assert rows[0].row_number == 2 and "\n" in "".join(rows[0].values.values())


def test_an_unclosed_quote_in_a_one_column_list_is_an_error(tmp_path: Path) -> None:
    """A suppression list has no delimiter to go by: the end of the file tells."""
    path = write(tmp_path, '+1 415 555 0100\n"+1 415 555 0101\n+1 415 555 0102\n', "optouts.txt")
    with pytest.raises(InputFileError) as caught:
        read_phone_list(path, default_region=None)
    assert caught.value.row == 2
    assert "lines 2 to 3 of the file were read as one cell" in str(caught.value)


cell_text = st.text(
    st.sampled_from(list('ab ,;"\n\r\t')) | st.characters(codec="utf-8", exclude_characters="\x00"),
    max_size=20,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(cell_text, cell_text, cell_text), min_size=1, max_size=6))
def test_any_well_quoted_file_reads_back(tmp_path: Path, rows: list[tuple[str, str, str]]) -> None:
    """Whatever the cells hold (delimiters, quotes, line breaks), a file written by a CSV
    writer is never taken for one with an unclosed quote."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["Phone", "Name", "Note"])
    writer.writerows(rows)
    read_rows(write(tmp_path, buffer.getvalue(), "hypo.csv"))
