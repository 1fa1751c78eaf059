"""validate_campaign: counts, reasons, preview, template check and the rejects file."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bulksend.channels import Channel
from bulksend.csvsafe import unescape_cell
from bulksend.errors import (
    ApiUnreachableError,
    CampaignRefusedError,
    ConfigError,
    InputFileError,
)
from bulksend.templates import Template
from bulksend.validate import validate_campaign
from tests.test_render import col, make_campaign, template

HEADER = ["Phone", "first_name", "Order Id"]


def write_csv(folder: Path, rows: Sequence[Sequence[str]], header: Sequence[str] = HEADER) -> Path:
    path = folder / "customers.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_rejects(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "rejects file must start with a UTF-8 BOM"
    return list(csv.reader(raw.decode("utf-8-sig").splitlines()))


def unescaped(rows: list[list[str]]) -> list[list[str]]:
    return [[unescape_cell(cell) for cell in row] for row in rows]


MIXED_ROWS = [
    ["+12122345678", "dana", "A-1"],  # 2 sendable
    ["(212) 555-0198", "omar", "A-2"],  # 3 sendable (default_region US)
    ["212 234 5678", "dana again", "A-3"],  # 4 duplicate of row 2
    ["12", "li", "A-4"],  # 5 invalid phone
    ["+447911123456", '=HYPERLINK("x")', ""],  # 6 empty Order Id
    ["+4915112345678", "sven", ""],  # 7 empty Order Id
    ["", "nobody", "A-8"],  # 8 missing phone
]


@pytest.fixture
def mixed(tmp_path: Path) -> Any:
    write_csv(tmp_path, MIXED_ROWS)
    return make_campaign(tmp_path, default_region="US")


def test_counts_every_disposition(mixed: Any) -> None:
    report = validate_campaign(mixed)
    assert (report.rows_read, report.sendable, report.invalid) == (7, 2, 4)
    assert (report.duplicates, report.suppressed) == (1, 0)
    assert report.can_send


def test_invalid_rows_are_grouped_by_reason_with_an_example(mixed: Any) -> None:
    reasons = validate_campaign(mixed).invalid_reasons
    by_category = {r.category: (r.count, r.example_row) for r in reasons}
    assert by_category["empty body variable 2 (column 'Order Id')"] == (2, 6)
    assert by_category["missing phone"] == (1, 8)
    assert sum(count for count, _ in by_category.values()) == 4
    assert reasons[0].category == "empty body variable 2 (column 'Order Id')"  # most frequent
    assert reasons[0].example_reason == (
        "body variable 2 (column 'Order Id') is empty in this row; fill it or give a default"
    )


def test_rejects_file_lists_every_unsent_row_with_its_cells(mixed: Any) -> None:
    report = validate_campaign(mixed)
    assert report.rejects_path == mixed.results_path.with_name("spring.rejects.csv")
    rows = read_rejects(report.rejects_path)
    assert rows[0] == ["row", "phone", "disposition", "reason", *HEADER]
    assert [r[0] for r in rows[1:]] == ["4", "5", "6", "7", "8"]
    assert rows[1][1] == "'+12122345678"  # csvsafe escapes a leading +
    assert unescaped(rows)[1][:4] == ["4", "+12122345678", "skipped", "duplicate of row 2"]
    assert rows[1][4:] == ["212 234 5678", "dana again", "A-3"]
    assert rows[3][2] == "invalid" and rows[3][5] == '\'=HYPERLINK("x")'  # escaped formula
    assert report.rejected == 5


def test_preview_shows_the_first_bodies_with_phones_masked(mixed: Any) -> None:
    from bulksend.phones import mask_phone

    report = validate_campaign(mixed, preview=1)
    [item] = report.preview
    assert item.row_number == 2
    assert item.body["destination_phone"] == mask_phone("+12122345678")
    assert "2345678" not in item.body["destination_phone"]
    assert item.body["message_variables"] == ["dana", "A-1"]
    assert validate_campaign(mixed, preview=0).preview == ()
    assert len(validate_campaign(mixed, preview=10).preview) == 2
    assert item.sms is None and "sms" not in item.to_dict()  # a template has no SMS sizing


def test_each_sms_preview_item_carries_its_sizing(tmp_path: Path) -> None:
    write_csv(tmp_path, [["+12122345678", "dana", "A-1"], ["+12125550198", "zoë", "A-2"]])
    campaign = make_campaign(
        tmp_path, channel=Channel.SMS, template_id=None, variables=None, text="Hi {{ first_name }}"
    )
    first, second = validate_campaign(campaign).preview
    assert (first.sms.characters, first.sms.encoding, first.sms.segments) == (7, "GSM-7", 1)
    assert (second.sms.characters, second.sms.encoding, second.sms.segments) == (6, "UCS-2", 1)
    assert second.to_dict()["sms"] == {"characters": 6, "encoding": "UCS-2", "segments": 1}


def test_a_fitting_template_passes_the_check(mixed: Any) -> None:
    report = validate_campaign(mixed, template=template(body=2))
    assert report.template.checked and report.template.problems == ()
    assert report.can_send


def test_template_problems_stop_the_campaign(mixed: Any) -> None:
    report = validate_campaign(mixed, template=template(body=3))
    assert report.template.problems and "has 3 placeholder(s)" in report.template.problems[0]
    assert report.sendable == 2  # rows are still checked, to show every problem at once
    assert not report.can_send


def test_fetch_template_is_asked_for_the_campaign_template(mixed: Any) -> None:
    asked: list[int] = []

    def fetch(template_id: int) -> Template:
        asked.append(template_id)
        return template(template_id, body=2, header_format="IMAGE")

    report = validate_campaign(mixed, fetch_template=fetch)
    assert asked == [539]
    assert "IMAGE header" in report.template.problems[0]


def test_a_refused_template_is_a_template_problem(mixed: Any) -> None:
    def fetch(template_id: int) -> Template:
        raise CampaignRefusedError("Template 539 does not exist for this key.")

    report = validate_campaign(mixed, fetch_template=fetch)
    assert report.template.problems == ("Template 539 does not exist for this key.",)
    assert not report.can_send


def test_an_unreachable_api_leaves_the_template_unchecked(mixed: Any) -> None:
    def fetch(template_id: int) -> Template:
        raise ApiUnreachableError("connection refused", hint="check the network")

    report = validate_campaign(mixed, fetch_template=fetch)
    assert not report.template.checked
    assert report.template.note == "not checked, the API could not be reached: connection refused"
    assert report.can_send


def test_no_sendable_row_means_cannot_send(tmp_path: Path) -> None:
    write_csv(tmp_path, [["12", "a", "b"], ["", "c", "d"]])
    report = validate_campaign(make_campaign(tmp_path))
    assert report.sendable == 0 and report.invalid == 2
    assert not report.can_send


def test_a_header_only_sheet_is_an_error_and_keeps_the_old_rejects(tmp_path: Path) -> None:
    campaign = make_campaign(tmp_path)
    campaign.rejects_path.parent.mkdir(parents=True)
    campaign.rejects_path.write_text("previous", encoding="utf-8")
    write_csv(tmp_path, [])
    with pytest.raises(InputFileError, match="has a header but no data rows"):
        validate_campaign(campaign)
    assert campaign.rejects_path.read_text(encoding="utf-8") == "previous"
    assert sorted(p.name for p in campaign.rejects_path.parent.iterdir()) == ["spring.rejects.csv"]


def test_sms_segments_and_encodings_are_totalled(tmp_path: Path) -> None:
    write_csv(
        tmp_path,
        [
            ["+12122345678", "a" * 160, "x"],  # GSM-7, 163 characters: 2 segments
            ["+12125550198", "José", "x"],  # GSM-7 (é is GSM), 1 segment
            ["+447911123456", "Zoë 😀", "x"],  # UCS-2, 1 segment
            ["+4915112345678", "b" * 1600, "x"],  # over 1,600: invalid, not counted
        ],
    )
    campaign = make_campaign(
        tmp_path, channel=Channel.SMS, template_id=None, variables=None, text="Hi {{ first_name }}"
    )
    report = validate_campaign(campaign)
    assert (report.sendable, report.invalid) == (3, 1)
    assert report.sms_segments == 4
    assert report.sms_encodings == {"GSM-7": 2, "UCS-2": 1}
    assert report.invalid_reasons[0].category == "SMS text over 1,600 characters"


def test_progress_reports_until_the_end(mixed: Any) -> None:
    calls: list[tuple[int, int | None, str]] = []
    validate_campaign(mixed, progress=lambda done, total, unit: calls.append((done, total, unit)))
    assert calls, "progress must be reported at least once"
    done, total, _unit = calls[-1]
    assert total is None or done == total


def test_the_report_is_plain_json(mixed: Any) -> None:
    data = json.loads(json.dumps(validate_campaign(mixed, template=template(body=2)).to_dict()))
    assert data["sendable"] == 2 and data["can_send"] is True
    assert data["template"] == {"checked": True, "note": "", "problems": []}
    assert data["preview"][0]["row"] == 2
    assert data["invalid_reasons"][0]["example_row"] == 6


def test_excel_rows_keep_their_numbers_in_rejects(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    sheet.append([12122345678, "dana", "A-1"])  # a phone stored as a number
    sheet.append([None, None, None])  # blank row 3: skipped, its number not reused
    sheet.append(["+12125550198", "omar", None])  # row 4: empty Order Id
    workbook.save(tmp_path / "customers.xlsx")
    campaign = make_campaign(tmp_path, source=tmp_path / "customers.xlsx", default_region="US")
    report = validate_campaign(campaign, preview=1)
    assert report.preview[0].body["message_variables"] == ["dana", "A-1"]
    rejects = read_rejects(report.rejects_path)
    assert [r[0] for r in rejects[1:]] == ["4"]


def test_names_with_spaces_and_defaults_work_end_to_end(tmp_path: Path) -> None:
    write_csv(
        tmp_path, [["+12122345678", "", "A-1"]], header=["Phone Number", "first_name", "Order Id"]
    )
    campaign = make_campaign(
        tmp_path,
        phone_column="Phone Number",
        variables=(col("first_name", "friend"), col("Order Id")),
    )
    report = validate_campaign(campaign)
    assert report.preview[0].body["message_variables"] == ["friend", "A-1"]


def test_phone_problems_group_whatever_the_number(tmp_path: Path) -> None:
    write_csv(tmp_path, [["12", "a", "b"], ["+12122345678", "c", "d"], ["1234", "e", "f"]])
    report = validate_campaign(make_campaign(tmp_path, default_region="US"))
    [reason] = report.invalid_reasons
    assert (reason.count, reason.example_row) == (2, 2)
    assert reason.category == "invalid phone: … is too short for US (+1)"
    assert reason.example_reason == "phone '12' is too short for US (+1)"


def test_a_local_number_without_region_says_what_to_do(tmp_path: Path) -> None:
    write_csv(tmp_path, [["(212) 234-5678", "a", "b"]])
    [reason] = validate_campaign(make_campaign(tmp_path)).invalid_reasons
    assert reason.example_reason == (
        "phone '(212) 234-5678': no country code: write the number with + or set default_region"
    )


def test_the_campaign_suppression_list_is_matched_after_normalisation(tmp_path: Path) -> None:
    write_csv(tmp_path, [["+1 212 234 5678", "a", "b"], ["+12125550198", "c", "d"]])
    (tmp_path / "optouts.csv").write_text("phone\n(212) 234-5678\n", encoding="utf-8")
    campaign = make_campaign(tmp_path, default_region="US", suppression=Path("optouts.csv"))
    report = validate_campaign(campaign)
    assert (report.sendable, report.suppressed) == (1, 1)
    rejects = unescaped(read_rejects(report.rejects_path))
    assert rejects[1][:4] == ["2", "+12122345678", "skipped", "suppressed"]


def test_sms_has_no_template_to_check(tmp_path: Path) -> None:
    write_csv(tmp_path, [["+12122345678", "a", "b"]])
    campaign = make_campaign(
        tmp_path, channel=Channel.SMS, template_id=None, variables=None, text="Hi"
    )
    report = validate_campaign(campaign, fetch_template=lambda template_id: template())
    assert report.template.note == "none: SMS sends free text"
    assert not report.template.checked and report.can_send


def test_unreadable_suppression_entries_are_reported_with_rows_and_advice(tmp_path: Path) -> None:
    """A local number in a list of a campaign without default_region suppresses nobody: say so."""
    write_csv(tmp_path, [["+14155550132", "a", "b"], ["+14155550100", "c", "d"]])
    optouts = "phone\n+1 415 555 0100\n(415) 555-0132\nremove me\n"
    (tmp_path / "optouts.csv").write_text(optouts, encoding="utf-8")
    report = validate_campaign(make_campaign(tmp_path, suppression=Path("optouts.csv")))
    assert (report.sendable, report.suppressed) == (1, 1)
    assert report.suppression is not None
    assert (report.suppression.phones, report.suppression.unreadable) == (1, 2)
    assert report.suppression.unreadable_rows == (3, 4)
    assert report.suppression.warning() == (
        "2 entries of the suppression list optouts.csv could not be read as phones (rows 3, 4), "
        "so they suppress nobody. Write each number with + and its country code "
        "(e.g. +1 415 555 0132), or set default_region (e.g. default_region: US) so numbers "
        "without + can be read."
    )
    assert report.to_dict()["suppression"] == {
        "path": str(tmp_path / "optouts.csv"),
        "phones": 1,
        "unreadable": 2,
        "unreadable_rows": [3, 4],
        "advice": report.suppression.advice,
    }


def test_a_fully_read_suppression_list_has_no_warning(tmp_path: Path) -> None:
    write_csv(tmp_path, [["+14155550132", "a", "b"]])
    (tmp_path / "optouts.txt").write_text("+1 415 555 0100\n", encoding="utf-8")
    report = validate_campaign(make_campaign(tmp_path, suppression=Path("optouts.txt")))
    assert report.suppression is not None and report.suppression.warning() is None
    assert report.to_dict()["suppression"]["unreadable"] == 0
    assert validate_campaign(make_campaign(tmp_path)).to_dict()["suppression"] is None


def test_a_suppression_list_of_which_nothing_can_be_read_is_a_config_error(
    tmp_path: Path,
) -> None:
    write_csv(tmp_path, [["+14155550132", "a", "b"]])
    (tmp_path / "optouts.txt").write_text("(415) 555-0132\n415 555 0100\n", encoding="utf-8")
    campaign = make_campaign(tmp_path, suppression=Path("optouts.txt"), lines={"suppression": 9})
    with pytest.raises(ConfigError) as caught:
        validate_campaign(campaign)
    assert str(caught.value) == (
        f"{tmp_path / 'campaign.yaml'}, line 9: the suppression list optouts.txt has 2 entries "
        "and not one could be read as a phone (rows 1, 2), so nobody on it would be suppressed\n"
        "  Write each number with + and its country code (e.g. +1 415 555 0132), or set "
        "default_region (e.g. default_region: US) so numbers without + can be read."
    )
    assert not campaign.rejects_path.exists()  # stopped before a row was read
