"""Suppression lists: CSV, XLSX or one phone per line, matched after normalisation."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from bulksend.errors import InputFileError
from bulksend.phonelist import PhoneList, load_phone_list, phone_column_position, read_phone_list


def write_text(tmp_path: Path, text: str, name: str = "optouts.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_list_without_header(tmp_path: Path) -> None:
    path = write_text(tmp_path, "+1 201 555 0123\n\n(201) 555-0124\n07911 123456\n")
    assert load_phone_list(path, default_region="US") == frozenset({"+12015550123", "+12015550124"})


def test_plain_list_with_a_header_line_and_garbage_counted(tmp_path: Path) -> None:
    path = write_text(tmp_path, "phone\n+12015550123\nunsubscribe me\n\n+44 7911 123456\nn/a\n")
    result = read_phone_list(path, default_region=None)
    assert result == PhoneList(
        path=path,
        phones=frozenset({"+12015550123", "+447911123456"}),
        ignored=2,
        ignored_rows=(3, 6),
        column="phone",
    )


def test_csv_phone_column_found_by_its_name(tmp_path: Path) -> None:
    text = "Customer number;Name;Mobile Phone\n17;Ann;+1 201 555 0123\n18;Bo;2015550124\n"
    path = write_text(tmp_path, text, "optouts.csv")
    result = read_phone_list(path, default_region="US")
    assert result.column == "Mobile Phone"
    assert result.phones == frozenset({"+12015550123", "+12015550124"})
    assert result.ignored == 0


def test_first_column_used_when_no_name_says_phone(tmp_path: Path) -> None:
    path = write_text(tmp_path, "Who,When\n+12015550123,2026-01-01\n", "optouts.csv")
    result = read_phone_list(path, default_region=None)
    assert (result.column, result.phones) == ("Who", frozenset({"+12015550123"}))


def test_xlsx_list_with_numbers_stored_as_numbers(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    for row in (["Name", "MSISDN"], ["Ann", 12015550123], ["Bo", 2015550124.0], ["Cy", None]):
        workbook.active.append(row)
    workbook.save(tmp_path / "optouts.xlsx")
    result = read_phone_list(tmp_path / "optouts.xlsx", default_region="US")
    assert result.phones == frozenset({"+12015550123", "+12015550124"})
    assert (result.column, result.ignored, result.ignored_rows) == ("MSISDN", 1, (4,))


def test_possible_only_numbers_are_suppressed_too(tmp_path: Path) -> None:
    """An opt-out must match even when the campaign runs with phone_check: possible."""
    path = write_text(tmp_path, "+1 555 123 4567\n")
    assert load_phone_list(path, default_region=None) == frozenset({"+15551234567"})


def test_empty_list_suppresses_nothing(tmp_path: Path) -> None:
    assert read_phone_list(write_text(tmp_path, ""), default_region="US") == PhoneList(
        tmp_path / "optouts.txt", frozenset(), 0, (), None
    )


def test_unreadable_list_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        load_phone_list(tmp_path / "nope.csv", default_region="US")
    (tmp_path / "optouts.ods").write_bytes(b"x")
    with pytest.raises(InputFileError, match="save it as .xlsx or .csv"):
        load_phone_list(tmp_path / "optouts.ods", default_region="US")


@pytest.mark.parametrize(
    ("names", "position"),
    [
        (["Name", "Phone"], 1),
        (["Order number", "WhatsApp"], 1),
        (["Account number", "Cell", "Phone number"], 2),
        (["Name", "City"], 0),
        (["Name", "Tel"], 1),
        (["Name", "Cell"], 1),
        (["Hotel", "Telefon"], 1),
        (["Hotel", "Name"], 0),
        (["Order number", "Name"], 0),
    ],
)
def test_phone_column_position(names: list[str], position: int) -> None:
    assert phone_column_position(names) == position


def test_a_tel_column_is_read_not_the_name_beside_it(tmp_path: Path) -> None:
    """A header Name,Tel must read Tel: reading Name would suppress nobody."""
    path = write_text(tmp_path, "Name,Tel\nAnn,+1 201 555 0123\nBo,+1 201 555 0124\n", "o.csv")
    result = read_phone_list(path, default_region=None)
    assert (result.column, result.ignored) == ("Tel", 0)
    assert result.phones == frozenset({"+12015550123", "+12015550124"})


def test_init_and_suppression_lists_share_one_phone_column_rule() -> None:
    from bulksend import initfile, phonelist

    assert initfile.guess_phone_column is phonelist.guess_phone_column
    assert initfile.PHONE_LIKE is phonelist.PHONE_LIKE


def test_a_local_number_on_the_first_line_is_counted_not_taken_for_a_header(
    tmp_path: Path,
) -> None:
    """Without default_region "(415) 555-0132" cannot be read; it must still count as an entry."""
    path = write_text(tmp_path, "(415) 555-0132\n+1 415 555 0100\n415.555.0133\n")
    result = read_phone_list(path, default_region=None)
    assert result == PhoneList(path, frozenset({"+14155550100"}), 2, (1, 3), None)
