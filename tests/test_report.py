"""Report numbers: they must match the results file exactly, whatever the mix of outcomes."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulksend import report as report_module
from bulksend.report import build_timeline, parse_timestamp, summarize
from bulksend.report_text import format_duration, render_text
from bulksend.results import COLUMNS, Outcome, ResultRecord

START = datetime(2026, 5, 2, 9, 0, 0, tzinfo=UTC)
STATUSES = [
    "",
    "sent",
    "queued",
    "delivered",
    "read",
    "failed",
    "undelivered",
    "deleted",
    "unknown",
]
REASONS = ["Recipient is not a WhatsApp user.", "=HYPERLINK(1)", "<b>bad</b> & co", ""]


def write_results(path: Path, records: list[ResultRecord]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for record in records:
            writer.writerow(record.to_csv_row())


def read_results(path: Path) -> list[ResultRecord]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return [ResultRecord.from_csv_row(header, cells) for cells in reader]


@st.composite
def records(draw: st.DrawFn) -> list[ResultRecord]:
    count = draw(st.integers(min_value=0, max_value=40))
    result = []
    for index in range(count):
        outcome = draw(st.sampled_from(list(Outcome)))
        sent = outcome is Outcome.SENT
        offset_s = draw(st.integers(min_value=0, max_value=7200))
        result.append(
            ResultRecord(
                row=index + 2,
                phone=f"+4477009{index:05d}",
                outcome=outcome,
                identity=f"+4477009{index:05d}",
                message_id=str(1000 + index) if sent else "",
                error_code=None if sent else draw(st.sampled_from([None, 3, 5])),
                error="" if sent else draw(st.sampled_from(REASONS)),
                updated_at=(START + timedelta(seconds=offset_s)).isoformat().replace("+00:00", "Z"),
                segments=draw(st.sampled_from([None, 1, 2, 3])),
                delivery_status=draw(st.sampled_from(STATUSES)) if sent else "",
                delivery_detail=draw(st.sampled_from(REASONS)) if sent else "",
            )
        )
    return result


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(generated=records())
def test_numbers_match_the_results_file(tmp_path: Path, generated: list[ResultRecord]) -> None:
    """Counted independently from the raw CSV cells, every number agrees with the report."""
    path = tmp_path / "results.csv"
    write_results(path, generated)
    report = summarize(read_results(path))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        raw = list(csv.DictReader(handle))
    sent = [cells for cells in raw if cells["outcome"] == "sent"]
    statuses = Counter(cells["delivery_status"] for cells in sent)
    assert report.rows == len(raw)
    assert report.outcomes == {o.value: sum(c["outcome"] == o.value for c in raw) for o in Outcome}
    assert report.funnel.sent == len(sent)
    assert report.funnel.delivered == statuses["delivered"] + statuses["read"] + statuses["deleted"]
    assert report.funnel.read == statuses["read"]
    assert report.funnel.failed == statuses["failed"] + statuses["undelivered"]
    assert report.segments_sent == sum(int(c["segments"] or 0) for c in sent)
    assert sum(reason.count for reason in report.reasons) == (
        len(raw) - len(sent) + statuses["failed"] + statuses["undelivered"]
    )
    assert sum(sum(bucket.counts.values()) for bucket in report.timeline) == len(raw)
    assert json.loads(json.dumps(report.to_dict()))["outcomes"] == dict(report.outcomes)


def test_reasons_are_ranked_with_the_first_example_row() -> None:
    rows = [
        _rejected(7, "phone invalid"),
        _rejected(3, "phone invalid"),
        _rejected(9, "template missing"),
        _rejected(5, "phone invalid"),
    ]
    report = summarize(rows)
    assert [(r.reason, r.count, r.example_row) for r in report.reasons] == [
        ("phone invalid", 3, 3),
        ("template missing", 1, 9),
    ]
    assert report.reasons[0].error_code == 5


def _rejected(row: int, reason: str) -> ResultRecord:
    return ResultRecord(
        row=row,
        phone=f"+44770090{row:04d}",
        outcome=Outcome.REJECTED,
        identity=f"+44770090{row:04d}",
        http_status=400,
        error_code=5,
        error=reason,
        updated_at="2026-05-02T09:00:00Z",
    )


def _sent(row: int, at: str, status: str = "") -> ResultRecord:
    return ResultRecord(
        row=row,
        phone=f"+44770090{row:04d}",
        outcome=Outcome.SENT,
        identity=f"+44770090{row:04d}",
        message_id=str(row),
        updated_at=at,
        delivery_status=status,
    )


def test_duration_and_rate_come_from_sent_rows() -> None:
    """Eleven sends over ten seconds is one per second; rejected rows do not stretch the time."""
    rows = [_sent(i + 2, f"2026-05-02T09:00:{i:02d}Z") for i in range(11)]
    rows.append(_rejected(20, "x"))  # updated 09:00:00, inside the span anyway
    rows.append(replace(_rejected(21, "late"), updated_at="2026-05-02T10:00:00Z"))
    report = summarize(rows)
    assert report.duration_s == 10
    assert report.rate_per_s == 1.0
    assert "10s" in render_text(report)


def test_no_sends_means_no_rate() -> None:
    report = summarize([_rejected(2, "x")])
    assert report.duration_s is None
    assert report.rate_per_s is None
    assert report.funnel.sent == 0
    assert "Duration -" in render_text(report)


def test_text_report_shows_funnel_and_reasons() -> None:
    rows = [
        _sent(2, "2026-05-02T09:00:00Z", "read"),
        _sent(3, "2026-05-02T09:00:01Z", "delivered"),
        _sent(4, "2026-05-02T09:00:02Z", "failed"),
        _sent(5, "2026-05-02T09:00:03Z"),
        _rejected(6, "Phone number is not valid"),
    ]
    text = render_text(summarize(rows, campaign_name="spring", channel="whatsapp"))
    assert "Campaign spring (whatsapp): 5 rows" in text
    assert "delivered        2   50.0%" in text
    assert "read             1   25.0%" in text
    assert "failed           1   25.0%" in text
    assert "Phone number is not valid  (e.g. row 6, +447700900006)" in text
    assert "never checked: 1" in text


def test_timeline_buckets_are_round_and_bounded() -> None:
    per_second = Counter({(0, "sent"): 1, (3599, "sent"): 2, (1800, "rejected"): 1})
    timeline = build_timeline(per_second)
    assert len(timeline) <= 40
    assert timeline[0].width_s == 120
    assert sum(sum(b.counts.values()) for b in timeline) == 4
    assert build_timeline({}) == ()


def test_timestamps_are_read_in_utc() -> None:
    assert parse_timestamp("2026-05-02T09:00:01Z") == datetime(2026, 5, 2, 9, 0, 1, tzinfo=UTC)
    assert parse_timestamp("2026-05-02T11:00:01+02:00") == datetime(2026, 5, 2, 9, 0, 1, tzinfo=UTC)
    assert parse_timestamp("2021-09-24T14:29:32.000Z") is not None
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp("") is None


def test_durations_read_like_a_clock() -> None:
    assert format_duration(None) == "-"
    assert format_duration(9.6) == "10s"
    assert format_duration(61) == "1m 01s"
    assert format_duration(3723) == "1h 02m 03s"


def test_reasons_say_whether_the_row_was_not_sent_or_not_delivered() -> None:
    """A send "failed" and a delivery "failed" are different things for the reader."""
    rows = [
        replace(_rejected(2, "Phone invalid"), outcome=Outcome.FAILED),
        replace(_sent(3, "2026-05-02T09:00:00Z", "failed"), delivery_detail="Not on WhatsApp."),
    ]
    text = render_text(summarize(rows, channel="whatsapp"))
    assert "not sent (failed) [code 5]: Phone invalid  (e.g. row 2," in text
    assert "not delivered (failed): Not on WhatsApp.  (e.g. row 3," in text


def test_vbm_report_says_delivery_cannot_be_tracked() -> None:
    rows = [_sent(2, "2026-05-02T09:00:00Z"), _sent(3, "2026-05-02T09:00:01Z")]
    report = summarize(rows, channel="vbm")
    text = render_text(report)
    assert "VBM has no status endpoint" in text
    assert "bulksend status" not in text and "never checked" not in text
    assert "delivered" not in text.split("Delivery")[1].split("Duration")[0]
    assert report.to_dict()["delivery_tracked"] is False
    assert summarize(rows, channel="sms").to_dict()["delivery_tracked"] is True


def test_sms_report_has_no_read_line() -> None:
    """SMS has no read receipts: a "read 0%" line would only mislead."""
    rows = [_sent(2, "2026-05-02T09:00:00Z", "delivered")]
    assert "  read " not in render_text(summarize(rows, channel="sms"))
    assert "  read " in render_text(summarize(rows, channel="whatsapp"))


def _invalid(row: int, raw_phone: str) -> ResultRecord:
    return ResultRecord(
        row=row,
        phone=raw_phone,
        outcome=Outcome.INVALID,
        identity=f"{raw_phone} #row {row}",
        error=f"phone {raw_phone!r} is too short for US (+1)",
        updated_at="2026-05-02T09:00:00Z",
    )


def test_reasons_naming_their_row_group_by_kind_with_one_full_example() -> None:
    """Five short phones are one reason of five, not five reasons of one; the example keeps the
    first row's own text."""
    rows = [_invalid(row, raw) for row, raw in [(9, "99"), (4, "120"), (7, "7"), (5, "12")]]
    rows.append(_invalid(8, "1"))
    rows += [_skipped(3, "duplicate of row 2"), _skipped(6, "duplicate of row 5")]
    rows += [
        replace(_sent(row, "2026-05-02T09:00:00Z", "failed"), delivery_detail=f"No SIM: {phone}")
        for row, phone in [(10, "+447700900010"), (11, "+447700900011")]
    ]
    report = summarize(rows, channel="sms")
    short = "phone '120' is too short for US (+1)"
    assert [
        (r.outcome, r.reason, r.count, r.example_row, r.example_reason) for r in report.reasons
    ] == [
        ("invalid", "phone … is too short for US (+1)", 5, 4, short),
        ("skipped", "duplicate of row …", 2, 3, "duplicate of row 2"),
        ("failed", "No SIM: …", 2, 10, "No SIM: +447700900010"),
    ]
    text = render_text(report)
    assert "5  not sent (invalid): phone … is too short for US (+1)" in text
    assert f"(e.g. row 4, 120: {short})" in text
    assert report.to_dict()["reasons"][0]["example_reason"] == short


def _skipped(row: int, reason: str) -> ResultRecord:
    phone = "+447700900002"
    return ResultRecord(
        row=row, phone=phone, outcome=Outcome.SKIPPED, identity=f"{phone} #row {row}", error=reason
    )


def test_a_reason_with_nothing_row_specific_is_its_own_example() -> None:
    text = render_text(summarize([_rejected(6, "Phone number is not valid")]))
    assert "Phone number is not valid  (e.g. row 6, +447700900006)" in text


def test_reasons_past_the_cap_are_lumped_and_ranked_last(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the cap the rest are one "other" entry: it never tops the ranking however many
    rows it gathers, and says it is no single reason."""
    monkeypatch.setattr(report_module, "MAX_DISTINCT_REASONS", 2)
    rows = [_rejected(2, "Blocked"), _rejected(3, "Blocked"), _rejected(4, "Opted out")]
    rows += [_rejected(row, f"Spam filter {chr(65 + row % 26)}{row}x") for row in range(5, 45)]
    report = summarize(rows)
    assert [(r.reason, r.count, r.lumped) for r in report.reasons] == [
        ("Blocked", 2, False),
        ("Opted out", 1, False),
        ("(other reasons, not counted one by one)", 40, True),
    ]
    assert report.reasons[-1].example_reason == "Spam filter F5x"
    assert report.to_dict()["reasons"][-1]["lumped"] is True
    assert sum(r.count for r in report.reasons) == len(rows)


def test_vbm_funnel_has_no_delivery_numbers_at_all() -> None:
    """VBM cannot know delivery: the funnel holds None, never a made-up 0, and --json says
    tracked false with nulls."""
    rows = [_sent(2, "2026-05-02T09:00:00Z"), _sent(3, "2026-05-02T09:00:01Z")]
    report = summarize(rows, channel="vbm")
    assert report.funnel.sent == 2
    assert (report.funnel.delivered, report.funnel.read, report.funnel.failed) == (None,) * 3
    assert (report.funnel.awaiting, report.funnel.never_checked) == (None, None)
    data = report.to_dict()
    assert data["funnel"] == {
        "tracked": False,
        "sent": 2,
        "delivered": None,
        "read": None,
        "failed": None,
        "awaiting": None,
        "never_checked": None,
    }
    assert data["delivery_statuses"] == {}
    assert data["delivery_tracked"] is False


def test_sms_funnel_has_no_read_step() -> None:
    rows = [_sent(2, "2026-05-02T09:00:00Z", "delivered"), _sent(3, "2026-05-02T09:00:01Z")]
    sms = summarize(rows, channel="sms").to_dict()["funnel"]
    assert sms == {
        "tracked": True,
        "sent": 2,
        "delivered": 1,
        "read": None,
        "failed": 0,
        "awaiting": 1,
        "never_checked": 1,
    }
    assert summarize(rows, channel="whatsapp").to_dict()["funnel"]["read"] == 0


def test_an_example_without_a_phone_names_only_its_row() -> None:
    empty = replace(_invalid(47, ""), error="the phone cell (column 'Phone') is empty")
    assert "(e.g. row 47: the phone cell (column 'Phone') is empty)" in render_text(
        summarize([empty])
    )
