"""Follow-up lists (`report --failed-out`): the original sheet rows of recipients who were rejected
or not delivered, with the reason, ready to be the source of another campaign."""

from __future__ import annotations

import csv
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bulksend.campaign import load_campaign
from bulksend.channels import Channel
from bulksend.cli import main
from bulksend.errors import InputFileError
from bulksend.followup import ADDED_COLUMNS, output_columns, write_followup
from bulksend.report_source import iter_results
from bulksend.results import COLUMNS, Outcome, ResultRecord, ResultsFile
from bulksend.sandbox import DEMO_KEYS, Sandbox
from bulksend.validate import validate_campaign

KEY_ENV = "FOLLOWUP_TEST_KEY"
PEOPLE = (
    "Phone,first_name,Order Id,city\n"
    "+447700900002,Ann,A-1,Leeds\n"
    "+447700900003,Bo,A-2,York\n"
    "+447700900004,Cy,A-3,Hull\n"
    "+447700900005,Di,A-4,Bath\n"
    "+447700900006,Ed,A-5,Ely\n"
)


def write_results(path: Path, records: list[ResultRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(record.to_csv_row() for record in records)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def record(row: int, outcome: Outcome, status: str = "", **fields: object) -> ResultRecord:
    phone = f"+4477009000{row:02d}"
    return ResultRecord(
        row=row,
        phone=phone,
        outcome=outcome,
        identity=phone,
        message_id=str(5100000 + row) if outcome is Outcome.SENT else "",
        delivery_status=status,
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture
def campaign_path(tmp_path: Path) -> Path:
    (tmp_path / "people.csv").write_text(PEOPLE, encoding="utf-8")
    path = tmp_path / "wa.yaml"
    path.write_text(
        "name: wa\nchannel: whatsapp\ntemplate_id: 539\nsource: people.csv\n"
        "phone_column: Phone\nphone_check: possible\nvariables: [first_name, {value: A1}]\n"
        "api_url: sandbox\n"
        "results: out/results.csv\n",
        encoding="utf-8",
    )
    return path


def test_rejected_and_undelivered_rows_keep_every_original_column(
    tmp_path: Path, campaign_path: Path
) -> None:
    campaign = load_campaign(campaign_path)
    write_results(
        campaign.results_path,
        [
            record(2, Outcome.SENT, "read"),
            record(3, Outcome.SENT, "failed", delivery_detail="Recipient is not a WhatsApp user."),
            record(4, Outcome.REJECTED, http_status=400, error_code=5, error="Phone invalid."),
            record(5, Outcome.SENT, "undelivered", delivery_detail="Carrier blocked it."),
            record(6, Outcome.SENT, "delivered"),
        ],
    )
    out = tmp_path / "followup.csv"
    summary = write_followup(campaign, iter_results(campaign.results_path), out)
    assert (summary.written, summary.failed, summary.not_found) == (3, 3, 0)
    rows = read_csv(out)
    assert list(rows[0]) == ["Phone", "first_name", "Order Id", "city", *ADDED_COLUMNS]
    assert [(r["first_name"], r["Order Id"], r["city"]) for r in rows] == [
        ("Bo", "A-2", "York"),
        ("Cy", "A-3", "Hull"),
        ("Di", "A-4", "Bath"),
    ]
    assert [(r["bulksend_outcome"], r["bulksend_delivery_status"]) for r in rows] == [
        ("sent", "failed"),
        ("rejected", ""),
        ("sent", "undelivered"),
    ]
    assert [r["bulksend_reason"] for r in rows] == [
        "Recipient is not a WhatsApp user.",
        "Phone invalid.",
        "Carrier blocked it.",
    ]
    assert rows[1]["bulksend_error_code"] == "5" and rows[1]["bulksend_row"] == "4"


def test_rows_are_matched_by_recipient_not_by_row_number(
    tmp_path: Path, campaign_path: Path
) -> None:
    """The sheet was re-sorted since the send: the follow-up still names the right people."""
    lines = PEOPLE.splitlines()
    (tmp_path / "people.csv").write_text(
        "\n".join([lines[0], *reversed(lines[1:])]) + "\n", encoding="utf-8"
    )
    campaign = load_campaign(campaign_path)
    write_results(
        campaign.results_path, [record(3, Outcome.SENT, "failed", delivery_detail="gone")]
    )
    out = tmp_path / "followup.csv"
    write_followup(campaign, iter_results(campaign.results_path), out)
    [row] = read_csv(out)
    assert (row["first_name"], row["bulksend_row"]) == ("Bo", "3")


def test_suppressed_and_vanished_recipients_are_left_out(
    tmp_path: Path, campaign_path: Path
) -> None:
    """Someone who opted out since the send is never in a follow-up; someone no longer in the
    sheet is reported, not invented."""
    (tmp_path / "optouts.csv").write_text("phone\n+447700900003\n", encoding="utf-8")
    campaign_path.write_text(
        campaign_path.read_text(encoding="utf-8") + "suppression: optouts.csv\n", encoding="utf-8"
    )
    campaign = load_campaign(campaign_path)
    write_results(
        campaign.results_path,
        [
            record(3, Outcome.SENT, "failed", delivery_detail="x"),
            record(5, Outcome.SENT, "failed", delivery_detail="y"),
            record(9, Outcome.REJECTED, error="z"),
        ],
    )
    out = tmp_path / "followup.csv"
    summary = write_followup(campaign, iter_results(campaign.results_path), out)
    assert [r["first_name"] for r in read_csv(out)] == ["Di"]
    assert summary.failed == 3 and summary.written == 1
    assert (summary.not_found, summary.not_found_rows) == (2, (3, 9))


def test_the_last_line_of_a_journal_decides(tmp_path: Path, campaign_path: Path) -> None:
    """A row rejected once and sent on a later run (after a fix) is not followed up."""
    campaign = load_campaign(campaign_path)
    write_results(
        campaign.results_path,
        [
            record(2, Outcome.REJECTED, error="old"),
            record(2, Outcome.PENDING),
            record(2, Outcome.SENT, "delivered"),
            record(4, Outcome.REJECTED, error="still bad"),
        ],
    )
    out = tmp_path / "followup.csv"
    write_followup(campaign, ResultsFile(campaign.results_path).iter_records(), out)
    assert [r["bulksend_reason"] for r in read_csv(out)] == ["still bad"]


def test_memory_does_not_grow_with_the_failures(tmp_path: Path, campaign_path: Path) -> None:
    """50,000 failed recipients no longer in the sheet: their cells wait on disk, not in memory
    (held as records they took ~20 MB), and the summary names the first rows left out."""
    campaign = load_campaign(campaign_path)
    failures = 50_000

    def rejected() -> Iterator[ResultRecord]:
        for row in range(100, 100 + failures):
            yield record(row, Outcome.REJECTED, error=f"Phone of row {row} is not on WhatsApp.")

    tracemalloc.start()
    try:
        summary = write_followup(campaign, rejected(), tmp_path / "followup.csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (summary.failed, summary.written, summary.not_found) == (failures, 0, failures)
    assert summary.not_found_rows == tuple(range(100, 110))
    assert peak < 3_000_000
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_scratch_file_goes_away_when_the_sheet_fails(
    tmp_path: Path, campaign_path: Path
) -> None:
    campaign = load_campaign(campaign_path)
    (tmp_path / "people.csv").write_text("Phone,first_name\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="no data rows"):
        write_followup(campaign, [record(3, Outcome.REJECTED)], tmp_path / "f.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.csv", "wa.yaml"]


@pytest.mark.parametrize("target", ["people.csv", "out/results.csv", "wa.yaml"])
def test_the_campaigns_own_files_are_never_overwritten(
    tmp_path: Path, campaign_path: Path, target: str
) -> None:
    campaign = load_campaign(campaign_path)
    write_results(campaign.results_path, [record(3, Outcome.REJECTED, error="x")])
    before = (tmp_path / target).read_bytes()
    with pytest.raises(InputFileError, match="is the campaign's own file"):
        write_followup(campaign, iter_results(campaign.results_path), tmp_path / target)
    assert (tmp_path / target).read_bytes() == before


def test_an_unwritable_folder_is_a_clear_error(tmp_path: Path, campaign_path: Path) -> None:
    campaign = load_campaign(campaign_path)
    write_results(campaign.results_path, [record(3, Outcome.REJECTED, error="x")])
    with pytest.raises(InputFileError, match="cannot write the follow-up list"):
        write_followup(campaign, iter_results(campaign.results_path), tmp_path / "no" / "f.csv")


def test_a_followup_of_a_followup_reuses_its_columns() -> None:
    columns = output_columns(["Phone", "first_name", *ADDED_COLUMNS])
    assert columns == ["Phone", "first_name", *ADDED_COLUMNS]


def run_cli(*args: str, key: str) -> object:
    result = CliRunner().invoke(main, list(args), env={KEY_ENV: key}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_whatsapp_failures_feed_an_sms_fallback_campaign(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    """The recipe end to end: send on WhatsApp, fetch statuses, write the follow-up list, then an
    SMS campaign over it validates with no invalid row and reaches exactly the failed people."""
    sandbox = make_sandbox(seed=11, delivery_step_s=0.0, failure_share=0.5)
    people = ["Phone,first_name,Order Id"] + [
        f"+4477009{n:05d},Name{n},=A-{n}" for n in range(1, 21)
    ]
    (tmp_path / "people.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
    common = "source: people.csv\nphone_column: Phone\nphone_check: possible\n"
    common += f"api_url: {sandbox.base_url}\n"
    common += f"api_key_env: {KEY_ENV}\nrate: 500/s\n"
    wa = tmp_path / "wa.yaml"
    wa.write_text(
        "name: wa\nchannel: whatsapp\ntemplate_id: 539\nvariables: [first_name, {value: A1}]\n"
        f"{common}results: out/wa.csv\n",
        encoding="utf-8",
    )
    whatsapp_key = DEMO_KEYS[Channel.WHATSAPP]
    run_cli("send", str(wa), "--yes", key=whatsapp_key)
    run_cli("status", str(wa), key=whatsapp_key)
    run_cli("report", str(wa), "--failed-out", str(tmp_path / "followup.csv"), key=whatsapp_key)
    failed = {
        r.phone: r.delivery_detail
        for r in iter_results(tmp_path / "out" / "wa.csv")
        if r.delivery_status == "failed"
    }
    assert 0 < len(failed) < 20, "the seed must fail some messages and deliver others"

    sms = tmp_path / "sms.yaml"
    sms.write_text(
        "name: sms\nchannel: sms\ntext: 'Hi {{ first_name }}, try our shop.'\n"
        + common.replace("people.csv", "followup.csv")
        + "results: out/sms.csv\n",
        encoding="utf-8",
    )
    report = validate_campaign(load_campaign(sms))
    assert (report.rows_read, report.sendable, report.invalid) == (len(failed), len(failed), 0)
    run_cli("send", str(sms), "--yes", key=DEMO_KEYS[Channel.SMS])
    texts = {e.phone: e.text for e in sandbox.ledger() if e.channel is Channel.SMS}
    assert set(texts) == set(failed)
    assert all(text == f"Hi Name{int(p[-5:])}, try our shop." for p, text in texts.items())
    reasons = {
        r["Phone"].lstrip("'"): r["bulksend_reason"] for r in read_csv(tmp_path / "followup.csv")
    }
    assert reasons == failed
