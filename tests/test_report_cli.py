"""`bulksend report` end to end over a campaign file and a results file written by hand."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from bulksend import report_xlsx
from bulksend.cli import main
from bulksend.errors import InputFileError
from bulksend.report_source import iter_results
from bulksend.results import COLUMNS, Outcome, ResultRecord

CAMPAIGN = """\
name: spring
channel: sms
source: people.csv
phone_column: Phone
text: 'Hi {{ first_name }}'
api_url: sandbox
results: out/results.csv
"""


def write_results(path: Path, records: list[ResultRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(record.to_csv_row() for record in records)


def sent(row: int, phone: str, status: str, at: str) -> ResultRecord:
    return ResultRecord(
        row=row,
        phone=phone,
        outcome=Outcome.SENT,
        identity=phone,
        message_id=str(5100000 + row),
        http_status=201,
        attempts=1,
        updated_at=at,
        segments=1,
        delivery_status=status,
        delivery_detail="Not a mobile subscriber." if status == "failed" else "",
        status_checked_at="2026-05-02T10:00:00Z" if status else "",
    )


@pytest.fixture
def campaign_file(tmp_path: Path) -> Path:
    (tmp_path / "people.csv").write_text(
        "Phone,first_name\n+447700900002,Ann\n+447700900003,Bo\n+447700900004,Cy\n",
        encoding="utf-8",
    )
    path = tmp_path / "spring.yaml"
    path.write_text(CAMPAIGN, encoding="utf-8")
    write_results(
        tmp_path / "out" / "results.csv",
        [
            sent(2, "+447700900002", "delivered", "2026-05-02T09:00:00Z"),
            sent(3, "+447700900003", "failed", "2026-05-02T09:00:04Z"),
            ResultRecord(
                row=4,
                phone="+447700900004",
                outcome=Outcome.REJECTED,
                identity="+447700900004",
                http_status=400,
                error_code=3,
                error="Phone number is not valid E.164.",
                attempts=1,
                updated_at="2026-05-02T09:00:02Z",
            ),
        ],
    )
    return path


def test_terminal_report_shows_outcomes_and_funnel(campaign_file: Path) -> None:
    result = CliRunner().invoke(main, ["report", str(campaign_file)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Campaign spring (sms): 3 rows" in result.output
    assert "delivered        1   50.0%" in result.output
    assert "Not a mobile subscriber." in result.output
    assert "Phone number is not valid E.164." in result.output
    assert "SMS segments sent 2" in result.output
    assert "Duration 4s" in result.output


def test_json_report_matches_the_text_numbers(campaign_file: Path) -> None:
    result = CliRunner().invoke(
        main, ["report", str(campaign_file), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["rows"] == 3
    assert data["outcomes"]["sent"] == 2 and data["outcomes"]["rejected"] == 1
    assert data["funnel"] == {
        "tracked": True,
        "sent": 2,
        "delivered": 1,
        "read": None,  # SMS has no read receipts
        "failed": 1,
        "awaiting": 0,
        "never_checked": 0,
    }
    assert data["rate_per_s"] == 0.25


def test_html_and_xlsx_files_are_written(campaign_file: Path, tmp_path: Path) -> None:
    html_path, xlsx_path = tmp_path / "r.html", tmp_path / "r.xlsx"
    result = CliRunner().invoke(
        main,
        ["report", str(campaign_file), "--html", str(html_path), "--xlsx", str(xlsx_path)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"HTML report written to {html_path}" in result.output
    assert 'id="funnel-chart"' in html_path.read_text(encoding="utf-8")
    rows = list(openpyxl.load_workbook(xlsx_path)["Rows"].iter_rows(values_only=True))
    assert len(rows) == 4 and rows[1][1] == "+447700900002"


def test_missing_results_file_is_explained(campaign_file: Path, tmp_path: Path) -> None:
    (tmp_path / "out" / "results.csv").unlink()
    result = CliRunner().invoke(main, ["report", str(campaign_file)])
    assert result.exit_code == 2
    assert "results.csv: there is no results file yet." in result.output
    assert "Traceback" not in result.output


def test_journal_lines_count_once_per_recipient(tmp_path: Path) -> None:
    """An interrupted send leaves pending lines and retries; the last line per identity wins."""
    path = tmp_path / "results.csv"
    pending = ResultRecord(row=2, phone="+447700900002", outcome=Outcome.PENDING, identity="a")
    failed = ResultRecord(row=3, phone="+447700900003", outcome=Outcome.FAILED, identity="b")
    write_results(
        path,
        [
            pending,
            ResultRecord(row=2, phone="+447700900002", outcome=Outcome.SENT, identity="a"),
            failed,
            ResultRecord(row=3, phone="+447700900003", outcome=Outcome.PENDING, identity="b"),
            ResultRecord(row=4, phone="+447700900004", outcome=Outcome.PENDING, identity="c"),
        ],
    )
    outcomes = [(r.identity, r.outcome) for r in iter_results(path)]
    assert outcomes == [("a", Outcome.SENT), ("b", Outcome.PENDING), ("c", Outcome.PENDING)]


def test_a_hand_edited_results_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    text = "row,phone,outcome\nx,+1,maybe\n2,+447700900002,sent\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError, match="line 2 is not a readable results record"):
        list(iter_results(path))


def _text_numbers(text: str) -> dict[str, dict[str, int]]:
    """The numbers the terminal report shows, by section, read back from its lines."""
    sections: dict[str, dict[str, int]] = {}
    current = ""
    for line in text.splitlines():
        if line and not line.startswith(" "):
            current = line.split(" (")[0].rstrip(":")
            continue
        words = line.split()
        if current == "Why rows were not sent or not delivered" and words:
            sections.setdefault("reasons", {})[line.split(": ", 1)[0].strip()] = int(words[0])
        elif len(words) >= 2 and words[1].isdigit():
            sections.setdefault(current, {})[words[0]] = int(words[1])
        elif line.startswith("  neither delivered nor failed yet"):
            sections.setdefault(current, {})["awaiting"] = int(words[5])
        elif line.startswith("  SMS segments sent"):
            sections["segments"] = {"sent": int(words[3])}
    return sections


def test_json_numbers_equal_the_terminal_numbers(campaign_file: Path, tmp_path: Path) -> None:
    records = [
        sent(2, "+447700900002", "delivered", "2026-05-02T09:00:00Z"),
        sent(3, "+447700900003", "failed", "2026-05-02T09:00:04Z"),
        sent(4, "+447700900004", "", "2026-05-02T09:00:05Z"),
        sent(5, "+447700900005", "undelivered", "2026-05-02T09:00:06Z"),
        ResultRecord(row=6, phone="1", outcome=Outcome.INVALID, identity="1", error="too short"),
        ResultRecord(row=7, phone="2", outcome=Outcome.INVALID, identity="2", error="too short"),
        ResultRecord(row=8, phone="+3", outcome=Outcome.UNCERTAIN, identity="3", error="lost"),
    ]
    write_results(tmp_path / "out" / "results.csv", records)
    text = CliRunner().invoke(main, ["report", str(campaign_file)], catch_exceptions=False)
    data = json.loads(CliRunner().invoke(main, ["report", str(campaign_file), "--json"]).stdout)
    shown = _text_numbers(text.output)
    assert shown["Outcomes"] == {k: v for k, v in data["outcomes"].items() if v}
    funnel = data["funnel"]
    assert shown["Delivery"] == {
        "sent": funnel["sent"],
        "delivered": funnel["delivered"],
        "failed": funnel["failed"],
        "awaiting": funnel["awaiting"],
    }
    assert shown["segments"] == {"sent": data["segments_sent"]}
    assert sorted(shown["reasons"].values()) == sorted(r["count"] for r in data["reasons"])
    assert sum(shown["reasons"].values()) == 5  # 2 invalid, uncertain, failed, undelivered


def test_vbm_report_shows_no_delivery_numbers(campaign_file: Path, tmp_path: Path) -> None:
    """VBM has no status endpoint: no delivery line, card or JSON number that could be read
    as "0 delivered", in the terminal, --json or --html."""
    campaign_file.write_text(
        CAMPAIGN.replace("channel: sms", "channel: vbm").replace(
            "text: 'Hi {{ first_name }}'", "template_id: 456\nvariables: [first_name, {value: x}]"
        ),
        encoding="utf-8",
    )
    write_results(
        tmp_path / "out" / "results.csv",
        [
            sent(2, "+447700900002", "", "2026-05-02T09:00:00Z"),
            sent(3, "+447700900003", "", "2026-05-02T09:00:01Z"),
        ],
    )
    html_path = tmp_path / "r.html"
    runner = CliRunner()
    text = runner.invoke(main, ["report", str(campaign_file)], catch_exceptions=False).output
    data = json.loads(runner.invoke(main, ["report", str(campaign_file), "--json"]).stdout)
    runner.invoke(main, ["report", str(campaign_file), "--html", str(html_path)])
    delivery = text.split("Delivery (of sent rows):")[1].split("Duration")[0]
    assert "VBM has no status endpoint" in delivery
    assert not re.search(r"delivered|read|failed|awaiting", delivery.split("VBM")[0])
    assert data["delivery_tracked"] is False and data["funnel"]["tracked"] is False
    assert data["funnel"]["sent"] == 2
    assert all(data["funnel"][k] is None for k in ("delivered", "read", "failed", "awaiting"))
    assert data["delivery_statuses"] == {}
    page = html_path.read_text(encoding="utf-8")
    assert "Delivered" not in page and "Failed delivery" not in page


def test_a_workbook_past_excels_limit_says_where_the_rest_is(
    campaign_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_xlsx, "EXCEL_MAX_ROWS", 3)  # 3 recipients, room for 2
    xlsx_path = tmp_path / "r.xlsx"
    result = CliRunner().invoke(
        main, ["report", str(campaign_file), "--xlsx", str(xlsx_path)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"workbook written to {xlsx_path}\n  The Rows sheet holds the first 2 of 3" in (
        result.output
    )
    assert "(1 left out)" in result.output and "out/results.csv" in result.output
    assert len(list(openpyxl.load_workbook(xlsx_path)["Rows"].iter_rows())) == 3
