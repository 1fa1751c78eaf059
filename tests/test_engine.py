"""send_campaign() end to end against the sandbox over loopback; assertions on its ledger."""

from __future__ import annotations

import csv
import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from bulksend.campaign import Campaign, Rate, load_campaign
from bulksend.channels import Channel
from bulksend.dispatch import iso_utc
from bulksend.engine import SendEvents, SendOptions, send_campaign
from bulksend.errors import CampaignRefusedError, ExitStatus, ResultsLockedError
from bulksend.results import Outcome, ResultRecord, ResultsFile
from bulksend.sandbox import DEMO_KEYS, DEPRECATED_KEYS, Sandbox

KEY_ENV = "BULKSEND_TEST_KEY"

CHANNEL_SETTINGS = {
    Channel.WHATSAPP: """
template_id: 540
variables:
  body: [Name, Order]
  buttons: [Order]
header_url: "{{ Image }}"
""",
    Channel.VBM: """
template_id: 457
variables: [Name, Order]
header_url: "{{ Image }}"
""",
    Channel.SMS: """
text: "Hi {{ Name }}, order {{ Order }}"
""",
}
GOOD_IMAGE = "https://img.example.com/a.png"
# What makes the API (not validation) refuse one row: a media URL only the sender could fetch.
# Validation leaves nothing on an SMS row for the sandbox to refuse, so there that row is simply
# sent (SMS rejections over HTTP are in test_engine_dispatch.py).
PRIVATE_IMAGE = "https://intranet.local/a.png"
BAD_IMAGE = {Channel.WHATSAPP: PRIVATE_IMAGE, Channel.VBM: PRIVATE_IMAGE, Channel.SMS: "ignored"}


def phone(number: int) -> str:
    return f"+4477009{number:05d}"


def write_sheet(path: Path, rows: Iterable[tuple[str, str, str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Phone", "Name", "Order", "Image"])
        writer.writerows(rows)


def people(count: int, start: int = 0) -> list[tuple[str, str, str, str]]:
    return [(phone(n), f"Name{n}", f"A-{n}", GOOD_IMAGE) for n in range(start, start + count)]


def write_campaign(
    folder: Path,
    sandbox: Sandbox,
    *,
    channel: Channel = Channel.WHATSAPP,
    rate: str = "1000/s",
    extra: str = "",
) -> Path:
    path = folder / "campaign.yaml"
    path.write_text(
        f"name: test\nchannel: {channel.value}\nsource: people.csv\nphone_column: Phone\n"
        f"phone_check: possible\napi_url: {sandbox.base_url}\napi_key_env: {KEY_ENV}\n"
        f"rate: {rate}\nresults: out/results.csv\n{CHANNEL_SETTINGS[channel]}{extra}",
        encoding="utf-8",
    )
    return path


def environ(channel: Channel = Channel.WHATSAPP, key: str | None = None) -> dict[str, str]:
    return {KEY_ENV: key or DEMO_KEYS[channel]}


def outcomes(campaign: Campaign) -> dict[str, ResultRecord]:
    return ResultsFile(campaign.results_path).load_outcomes()


def ledger_phones(sandbox: Sandbox) -> list[str]:
    return [entry.phone for entry in sandbox.ledger()]


def posts(sandbox: Sandbox) -> int:
    return sum(record.method == "POST" for record in sandbox.requests())


class Hooks(SendEvents):
    """Runs test code at chosen moments of a run (after the template fetch, per outcome)."""

    def __init__(
        self,
        on_start: Callable[[], None] | None = None,
        on_outcome: Callable[[int], None] | None = None,
    ) -> None:
        self.start_hook = on_start
        self.outcome_hook = on_outcome
        self.total: int | None = None
        self.seen = 0
        self.lock = threading.Lock()

    def on_start(self, total_to_send: int) -> None:
        self.total = total_to_send
        if self.start_hook:
            self.start_hook()

    def on_outcome(self, record: ResultRecord) -> None:
        with self.lock:
            self.seen += 1
            seen = self.seen
        if self.outcome_hook:
            self.outcome_hook(seen)


@pytest.mark.parametrize("channel", list(Channel))
def test_every_outcome_for_each_channel(tmp_path: Path, make_sandbox, channel: Channel) -> None:
    sandbox = make_sandbox()
    rows = people(6)
    rows[1] = (phone(1), "Name1", "A-1", BAD_IMAGE[channel])  # the API rejects this row
    rows.append(("not a phone", "X", "A-x", GOOD_IMAGE))  # invalid: never sent
    rows.append(rows[2])  # a duplicate: skipped
    write_sheet(tmp_path / "people.csv", rows)
    campaign = load_campaign(
        write_campaign(
            tmp_path, sandbox, channel=channel, extra="concurrency: 1\nmax_attempts: 2\n"
        )
    )
    # The first send meets 5xx twice (failed); switched on once the template has been fetched.
    hooks = Hooks(on_start=lambda: sandbox.set_faults(error_share=1.0, max_faults=2))
    first = send_campaign(campaign, events=hooks, environ=environ(channel))
    assert first.exit_status is ExitStatus.INCOMPLETE
    assert outcomes(campaign)[phone(0)].outcome is Outcome.FAILED

    # The retry's connection drops without an answer (after the template fetch again).
    drop_one = Hooks(on_start=lambda: sandbox.set_faults(error_share=0, drop_share=1, max_faults=1))
    second = send_campaign(campaign, events=drop_one, environ=environ(channel))
    recorded = outcomes(campaign)
    by_phone = {identity: record.outcome for identity, record in recorded.items()}
    expected_sent = (2, 3, 4, 5) if channel.uses_template else (1, 2, 3, 4, 5)
    assert by_phone[phone(0)] is Outcome.UNCERTAIN
    assert {by_phone[phone(n)] for n in expected_sent} == {Outcome.SENT}
    expected = {Outcome.SENT, Outcome.INVALID, Outcome.SKIPPED, Outcome.UNCERTAIN}
    if channel.uses_template:
        assert by_phone[phone(1)] is Outcome.REJECTED
        rejected = recorded[phone(1)]
        assert rejected.http_status == 400 and rejected.error_code == 8 and rejected.error
        expected.add(Outcome.REJECTED)
    assert set(second.counts) == expected
    assert second.counts[Outcome.SKIPPED] == 1 and second.counts[Outcome.INVALID] == 1
    assert sorted(ledger_phones(sandbox)) == [phone(n) for n in expected_sent]
    ledger_ids = {str(entry.message_id) for entry in sandbox.ledger()}
    assert {recorded[phone(n)].message_id for n in expected_sent} == ledger_ids


def test_a_second_run_sends_nothing_new_even_after_a_resort(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    rows = people(12)
    write_sheet(tmp_path / "people.csv", rows)
    campaign = load_campaign(write_campaign(tmp_path, sandbox))
    first = send_campaign(campaign, environ=environ())
    assert first.sent_this_run == 12 and first.exit_status is ExitStatus.OK
    write_sheet(tmp_path / "people.csv", list(reversed(rows)) + people(2, start=50))
    hooks = Hooks()
    second = send_campaign(campaign, events=hooks, environ=environ())
    assert hooks.total == 2 and second.sent_this_run == 2
    phones = ledger_phones(sandbox)
    assert len(phones) == len(set(phones)) == 14


def test_the_rate_holds_in_every_one_second_window(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox(latency_s=(0.0, 0.02))
    write_sheet(tmp_path / "people.csv", people(30))
    campaign = load_campaign(write_campaign(tmp_path, sandbox, rate="12/s"))
    send_campaign(campaign, environ=environ())
    times = sorted(entry.received_at for entry in sandbox.ledger())
    assert len(times) == 30
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 12


def test_a_429_block_pauses_the_run_which_then_carries_on(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox(rate_limit=(8, 1.0))
    write_sheet(tmp_path / "people.csv", people(30))
    campaign = load_campaign(write_campaign(tmp_path, sandbox, rate="20/s"))
    hooks = Hooks()
    summary = send_campaign(campaign, events=hooks, environ=environ())
    statuses = Counter(record.status for record in sandbox.requests() if record.method == "POST")
    assert statuses[429] >= 1, "the test needs at least one 429"
    assert statuses[201] == 30 and summary.counts == {Outcome.SENT: 30}
    # All workers pause together: a block is met by the requests in flight, not by every row.
    assert statuses[429] <= 4 * summary.workers
    assert sorted(ledger_phones(sandbox)) == [phone(n) for n in range(30)]


def test_slow_answers_become_uncertain_and_are_never_resent(tmp_path, make_sandbox) -> None:
    sandbox = make_sandbox(slow_answer_share=0.3, slow_answer_delay_s=1.0, seed=7)
    write_sheet(tmp_path / "people.csv", people(20))
    campaign = load_campaign(write_campaign(tmp_path, sandbox, extra="timeout: 300ms\n"))
    first = send_campaign(campaign, environ=environ())
    uncertain = first.counts.get(Outcome.UNCERTAIN, 0)
    assert uncertain >= 1 and first.exit_status is ExitStatus.INCOMPLETE
    sandbox.clear_faults()
    second = send_campaign(campaign, environ=environ())
    assert second.sent_this_run == 0 and second.counts[Outcome.UNCERTAIN] == uncertain
    phones = ledger_phones(sandbox)
    assert len(phones) == len(set(phones)) == 20  # slow, not lost: each arrived exactly once


def test_a_refusal_mid_run_stops_within_concurrency_requests(tmp_path, make_sandbox) -> None:
    sandbox = make_sandbox(latency_s=(0.02, 0.03))
    write_sheet(tmp_path / "people.csv", people(40))
    campaign = load_campaign(write_campaign(tmp_path, sandbox, extra="concurrency: 4\n"))
    withdrawn = {"template_id": 540, "template_status": "Rejected", "template_body": "x"}

    def withdraw_after(seen: int) -> None:
        if seen == 5:
            sandbox.add_template(Channel.WHATSAPP, withdrawn)

    with pytest.raises(CampaignRefusedError, match="template"):
        send_campaign(campaign, events=Hooks(on_outcome=withdraw_after), environ=environ())
    refused = [r for r in sandbox.requests() if r.method == "POST" and r.status == 400]
    after_first = [r for r in sandbox.requests() if r.method == "POST"][5:]
    assert 1 <= len(refused) and len(after_first) <= 5 + 4
    recorded = outcomes(campaign)
    assert all(record.outcome is not Outcome.PENDING for record in recorded.values())
    assert sum(record.outcome is Outcome.FAILED for record in recorded.values()) == len(refused)


def test_a_deprecated_key_stops_before_any_send(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    write_sheet(tmp_path / "people.csv", people(5))
    campaign = load_campaign(write_campaign(tmp_path, sandbox))
    deprecated = environ(key=DEPRECATED_KEYS[Channel.WHATSAPP])
    with pytest.raises(CampaignRefusedError) as refused:
        send_campaign(campaign, environ=deprecated)
    assert refused.value.exit_status is ExitStatus.CAMPAIGN_REFUSED
    assert KEY_ENV in str(refused.value) and DEPRECATED_KEYS[Channel.WHATSAPP] not in str(
        refused.value
    )
    assert posts(sandbox) == 0


def test_a_missing_template_stops_before_any_send(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    write_sheet(tmp_path / "people.csv", people(5))
    path = write_campaign(tmp_path, sandbox)
    path.write_text(path.read_text().replace("template_id: 540", "template_id: 999"))
    with pytest.raises(CampaignRefusedError, match="does not exist"):
        send_campaign(load_campaign(path), environ=environ())
    assert posts(sandbox) == 0


def test_dry_run_sends_and_writes_nothing(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    write_sheet(tmp_path / "people.csv", people(8))
    campaign = load_campaign(write_campaign(tmp_path, sandbox))
    summary = send_campaign(campaign, SendOptions(dry_run=True), environ=environ())
    assert summary.rows_this_run == 8 and summary.sent_this_run == 0
    assert posts(sandbox) == 0
    assert not campaign.results_path.exists()


def test_limit_sends_at_most_n_more_rows(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    write_sheet(tmp_path / "people.csv", people(10))
    campaign = load_campaign(write_campaign(tmp_path, sandbox))
    send_campaign(campaign, SendOptions(limit=3), environ=environ())
    assert len(sandbox.ledger()) == 3
    send_campaign(campaign, SendOptions(limit=4), environ=environ())
    assert sorted(ledger_phones(sandbox)) == [phone(n) for n in range(7)]


def test_a_locked_results_file_refuses_a_second_run(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    write_sheet(tmp_path / "people.csv", people(3))
    campaign = load_campaign(write_campaign(tmp_path, sandbox))
    campaign.results_path.parent.mkdir(parents=True, exist_ok=True)
    with ResultsFile(campaign.results_path).lock():
        with pytest.raises(ResultsLockedError):
            send_campaign(campaign, environ=environ())
    assert posts(sandbox) == 0


def test_cancel_finishes_in_flight_rows_and_records_them(tmp_path, make_sandbox) -> None:
    sandbox = make_sandbox(latency_s=(0.02, 0.05))
    write_sheet(tmp_path / "people.csv", people(40))
    campaign = load_campaign(write_campaign(tmp_path, sandbox, rate="50/s"))
    cancel = threading.Event()
    hooks = Hooks(on_outcome=lambda seen: cancel.set() if seen == 5 else None)
    summary = send_campaign(campaign, events=hooks, cancel=cancel, environ=environ())
    assert summary.stopped == "interrupted" and summary.exit_status is ExitStatus.INTERRUPTED
    recorded = outcomes(campaign)
    assert {record.outcome for record in recorded.values()} == {Outcome.SENT}
    assert sorted(recorded) == sorted(ledger_phones(sandbox))  # every send is on record
    assert len(recorded) < 40
    send_campaign(campaign, environ=environ())
    phones = ledger_phones(sandbox)
    assert len(phones) == len(set(phones)) == 40


def test_pending_rows_are_reconciled_from_the_message_list(tmp_path, make_sandbox, http) -> None:
    """A crash between sending and recording: the list endpoint proves which rows went."""
    sandbox = make_sandbox()
    write_sheet(tmp_path / "people.csv", people(4))
    campaign = load_campaign(write_campaign(tmp_path, sandbox))
    results = ResultsFile(campaign.results_path)
    campaign.results_path.parent.mkdir(parents=True)
    with results.lock(), results.open_journal() as journal:
        for n in (0, 1):
            journal.append_durable(pending_record(n))
    body = {
        "destination_phone": phone(0),
        "message_variables": {"header": [], "body": ["a", "b"], "footer": [], "buttons": ["c"]},
        "header_attachment_url": GOOD_IMAGE,
    }
    sent = http.post(
        f"{sandbox.base_url}/whatsapp/templates/540/messages",
        json=body,
        headers={"X-Octopods-Auth": DEMO_KEYS[Channel.WHATSAPP]},
        timeout=10,
    )
    assert sent.status_code == 201
    summary = send_campaign(campaign, environ=environ())
    assert (summary.reconciled_sent, summary.reconciled_uncertain) == (1, 1)
    recorded = outcomes(campaign)
    assert recorded[phone(0)].outcome is Outcome.SENT
    assert recorded[phone(0)].message_id == str(sent.json()["message_id"])
    assert recorded[phone(1)].outcome is Outcome.UNCERTAIN
    assert sorted(ledger_phones(sandbox)) == [phone(0), phone(2), phone(3)]


def pending_record(n: int) -> ResultRecord:
    return ResultRecord(
        row=n + 2,
        phone=phone(n),
        outcome=Outcome.PENDING,
        identity=phone(n),
        updated_at=iso_utc(dt.datetime.now(dt.UTC)),
    )


def test_restart_archives_the_old_results_and_sends_again(tmp_path, make_sandbox) -> None:
    sandbox = make_sandbox()
    write_sheet(tmp_path / "people.csv", people(3))
    campaign = load_campaign(write_campaign(tmp_path, sandbox))
    send_campaign(campaign, environ=environ())
    summary = send_campaign(campaign, SendOptions(restart=True), environ=environ())
    assert summary.sent_this_run == 3
    archived = [p for p in campaign.results_path.parent.glob("results.*.csv")]
    assert len(archived) == 1
    assert len(sandbox.ledger()) == 6


def test_a_rate_override_replaces_the_campaigns(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    write_sheet(tmp_path / "people.csv", people(5))
    campaign = load_campaign(write_campaign(tmp_path, sandbox, rate="1000/s"))
    summary = send_campaign(campaign, SendOptions(rate=Rate(2, 1.0)), environ=environ())
    assert summary.sent_this_run == 5
    times = sorted(entry.received_at for entry in sandbox.ledger())
    assert times[-1] - times[0] >= 1.9  # five grants at 2/s span at least two seconds
