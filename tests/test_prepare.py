"""Prepared rows: phone check, identity, dedupe, suppression, column check, streaming."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulksend.campaign import Campaign
from bulksend.errors import ConfigError, InputFileError
from bulksend.prepare import Disposition, PreparedRow, iter_prepared_rows
from tests.test_render import col, make_campaign, tpl

COLUMNS = ["Phone", "first_name", "Order Id"]


@dataclass(frozen=True)
class SheetRow:
    row_number: int
    values: dict[str, str]


@dataclass
class FakeSheet:
    """The ``sheets.Sheet`` interface over rows in memory; counts what was read."""

    rows_data: list[tuple[int, dict[str, str]]]
    columns: list[str] = field(default_factory=lambda: list(COLUMNS))
    rows_pulled: int = 0
    progress_total: int | None = None
    progress_unit: str = "rows"

    @property
    def progress_done(self) -> int:
        return self.rows_pulled

    def rows(self) -> Iterator[SheetRow]:
        for number, values in self.rows_data:
            self.rows_pulled += 1
            yield SheetRow(number, {c: values.get(c, "") for c in self.columns})


def sheet_of(*rows: Mapping[str, str], start: int = 2) -> FakeSheet:
    return FakeSheet([(start + i, dict(row)) for i, row in enumerate(rows)])


def person(phone: str, name: str = "dana", order: str = "A-1") -> dict[str, str]:
    return {"Phone": phone, "first_name": name, "Order Id": order}


def prepare(campaign: Campaign, sheet: FakeSheet, **kwargs: Any) -> list[PreparedRow]:
    return list(iter_prepared_rows(campaign, sheet=sheet, suppressed=frozenset(), **kwargs))


def test_a_good_row_is_sendable_with_its_exact_body() -> None:
    [row] = prepare(make_campaign(default_region="US"), sheet_of(person("(212) 234-5678")))
    assert row == PreparedRow(
        row_number=2,
        identity="+12122345678",
        phone="+12122345678",
        disposition=Disposition.SENDABLE,
        body={
            "destination_phone": "+12122345678",
            "message_variables": ["dana", "A-1"],
            "open_intercom_conversation": False,
        },
    )


def test_a_local_number_without_default_region_is_invalid() -> None:
    [row] = prepare(make_campaign(), sheet_of(person("(212) 234-5678")))
    assert row.disposition is Disposition.INVALID
    assert row.reason.startswith("phone '(212) 234-5678': ")
    assert row.identity == "(212) 234-5678" and row.phone == "(212) 234-5678"
    assert row.body is None


def test_an_empty_phone_is_invalid_and_identified_by_row() -> None:
    [row] = prepare(make_campaign(), sheet_of(person(""), start=7))
    assert row.disposition is Disposition.INVALID
    assert row.reason == "the phone cell (column 'Phone') is empty; fill it or remove the row"
    assert row.identity == "row:7"


def test_every_problem_of_a_row_is_in_its_reason() -> None:
    [row] = prepare(make_campaign(), sheet_of(person("12", order="")))
    assert "phone '12'" in row.reason
    assert "body variable 2 (column 'Order Id') is empty in this row" in row.reason


def test_later_repeats_of_a_phone_are_skipped_as_duplicates() -> None:
    rows = prepare(
        make_campaign(default_region="US"),
        sheet_of(person("+1 212 234 5678"), person("+12125550198"), person("(212) 234-5678")),
    )
    assert [r.disposition for r in rows] == ["sendable", "sendable", "skipped"]
    assert rows[2].reason == "duplicate of row 2"
    assert rows[2].identity == "+12122345678" and rows[2].body is None


def test_dedupe_off_sends_every_repeat() -> None:
    rows = prepare(
        make_campaign(dedupe=False), sheet_of(person("+12122345678"), person("+12122345678"))
    )
    assert [r.disposition for r in rows] == ["sendable", "sendable"]


def test_an_invalid_first_occurrence_does_not_block_a_later_good_row() -> None:
    """One message per recipient: the row that can be sent is the one that counts."""
    rows = prepare(
        make_campaign(), sheet_of(person("+12122345678", order=""), person("+12122345678"))
    )
    assert [r.disposition for r in rows] == ["invalid", "sendable"]


def test_key_columns_make_the_identity_and_drive_dedupe() -> None:
    campaign = make_campaign(key=("Phone", "Order Id"), default_region="US")
    rows = prepare(
        campaign,
        sheet_of(
            person("(212) 234-5678", order="A-1"),
            person("+12122345678", order="A-2"),
            person("212 234 5678", order="A-1"),
        ),
    )
    identities = ["+12122345678 | A-1", "+12122345678 | A-2", "+12122345678 | A-1"]
    assert [r.identity for r in rows] == identities
    assert [r.disposition for r in rows] == ["sendable", "sendable", "skipped"]
    assert rows[2].reason == "duplicate of row 2"


def test_an_invalid_row_with_a_key_is_identified_by_its_key_values() -> None:
    rows = prepare(
        make_campaign(key=("Order Id",)),
        sheet_of(person("nope", order="A-9"), person("nope", order="")),
    )
    assert [r.identity for r in rows] == ["A-9", "row:3"]


def test_suppressed_phones_are_skipped_after_normalisation() -> None:
    rows = list(
        iter_prepared_rows(
            make_campaign(default_region="US"),
            sheet=sheet_of(person("(212) 234-5678"), person("+12125550198")),
            suppressed=frozenset({"+12122345678"}),
        )
    )
    assert [(r.disposition, r.reason) for r in rows] == [
        ("skipped", "suppressed"),
        ("sendable", ""),
    ]


def test_an_unknown_column_is_a_config_error_with_close_matches() -> None:
    campaign = make_campaign(variables=(col("first_name"), col("Order ID")))
    with pytest.raises(ConfigError) as caught:
        prepare(campaign, sheet_of(person("+12122345678")))
    message = str(caught.value)
    assert (
        "column 'Order ID' (used by body variable 2 (column 'Order ID')) is not in customers.csv"
        in message
    )
    assert "Did you mean 'Order Id'?" in message
    assert "Its columns are: 'Phone', 'first_name', 'Order Id'" in message


def test_columns_inside_templates_are_checked_too() -> None:
    campaign = make_campaign(variables=(tpl('{{ row["Zip Code"] }}'),))
    with pytest.raises(ConfigError, match="column 'Zip Code'"):
        prepare(campaign, sheet_of(person("+12122345678")))


def test_an_unknown_phone_column_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="column 'phone' \\(used by phone_column\\).*'Phone'"):
        prepare(make_campaign(phone_column="phone"), sheet_of(person("+12122345678")))


def test_a_header_only_sheet_is_an_input_error() -> None:
    with pytest.raises(InputFileError, match="has a header but no data rows"):
        prepare(make_campaign(), sheet_of())


def test_rows_stream_one_at_a_time() -> None:
    sheet = sheet_of(*(person(f"+1212234{i:04d}") for i in range(50)))
    rows = iter_prepared_rows(make_campaign(), sheet=sheet, suppressed=frozenset())
    first = next(rows)
    assert first.row_number == 2
    assert sheet.rows_pulled == 1


def test_excel_row_numbers_pass_through() -> None:
    sheet = FakeSheet([(2, person("+12122345678")), (5, person("+12125550198"))])
    assert [r.row_number for r in prepare(make_campaign(), sheet)] == [2, 5]


PHONES = ["+12122345678", "+12125550198", "+447911123456", "+4915112345678", "12"]


@given(st.lists(st.sampled_from(PHONES), min_size=1, max_size=30))
def test_one_sendable_row_per_phone_and_duplicates_point_at_it(phones: list[str]) -> None:
    rows = prepare(make_campaign(), sheet_of(*(person(p) for p in phones)))
    first_row = {}
    for row in rows:
        if row.disposition is Disposition.SENDABLE:
            assert row.identity not in first_row
            first_row[row.identity] = row.row_number
        elif row.disposition is Disposition.SKIPPED:
            assert row.reason == f"duplicate of row {first_row[row.identity]}"
        else:
            assert row.phone == "12"
    assert set(first_row) == {p for p in phones if p != "12"}


def test_a_source_gone_since_load_names_the_campaign_folder(tmp_path: Path) -> None:
    """Paths in a campaign file are relative to its folder: the hint says which folder."""
    campaign = make_campaign(tmp_path, source=Path("gone.csv"), lines={"source": 4})
    with pytest.raises(InputFileError) as caught:
        list(iter_prepared_rows(campaign, suppressed=frozenset()))
    assert str(caught.value) == (
        f"{tmp_path / 'gone.csv'}: the file does not exist\n"
        f"  Check the path (`source:` on line 4): paths in a campaign file are relative to its "
        f"folder, {tmp_path}."
    )


def test_a_missing_suppression_list_names_its_line(tmp_path: Path) -> None:
    campaign = make_campaign(tmp_path, suppression=Path("optouts.csv"), lines={"suppression": 9})
    with pytest.raises(InputFileError) as caught:
        list(iter_prepared_rows(campaign, sheet=sheet_of()))
    assert caught.value.hint == (
        "Check the path (`suppression:` on line 9): paths in a campaign file are relative to "
        f"its folder, {tmp_path}."
    )


def test_without_dedupe_each_row_of_one_recipient_gets_its_own_identity() -> None:
    """Resume matches rows by identity: two rows sharing one would share one outcome."""
    rows = prepare(
        make_campaign(dedupe=False),
        sheet_of(
            person("+12122345678", order="A-1"),
            person("+12125550198"),
            person("+12122345678", order=""),  # invalid, but it still takes its number
            person("+12122345678", order="A-3"),
        ),
    )
    assert [r.identity for r in rows] == [
        "+12122345678",
        "+12125550198",
        "+12122345678 #2",
        "+12122345678 #3",
    ]
    assert [r.disposition for r in rows] == ["sendable", "sendable", "invalid", "sendable"]


def test_an_empty_key_makes_the_row_invalid_rather_than_matched_by_position() -> None:
    rows = prepare(
        make_campaign(key=("Order Id",)),
        sheet_of(person("+12122345678", order="A-1"), person("+12125550198", order="")),
    )
    assert [r.disposition for r in rows] == ["sendable", "invalid"]
    assert rows[1].reason.startswith(
        "the key column(s) 'Order Id' are empty; fill them: bulksend tells rows apart by them "
        "when a send is resumed; "
    )
