"""`check_status` against the sandbox's delivery simulation, on a manual clock: no sleeping.

Messages are sent with plain ``requests`` and the results file is written from the sandbox's
answers, as the engine would. Time (the sandbox's wall clock, the pacer's monotonic clock and
the run's sleeps) is one ``ManualClock`` that moves only when the run waits.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from bulksend.apikey import ApiKey
from bulksend.campaign import Campaign, load_campaign
from bulksend.channels import Channel
from bulksend.client import OctopodsClient
from bulksend.errors import CampaignRefusedError, ExitStatus, ResultsLockedError
from bulksend.pacing import Pacer
from bulksend.results import COLUMNS, Outcome, ResultRecord, ResultsFile
from bulksend.sandbox import DEMO_KEYS, DEPRECATED_KEYS, Sandbox
from bulksend.sandbox.delivery import delivery_state
from bulksend.status import VBM_EXPLANATION, StatusSummary, check_status
from tests.conftest import ManualClock

WHATSAPP_TEMPLATE = 539  # sandbox fixture: "Hi {{1}}, your order {{2}} has shipped."
STEP_S = 2.0


def campaign_file(tmp_path: Path, channel: Channel, *, api_url: str, rate: str = "50/s") -> Path:
    (tmp_path / "people.csv").write_text("Phone,name\n+447700900001,Ann\n", encoding="utf-8")
    lines = [
        "name: tracked",
        f"channel: {channel.value}",
        "source: people.csv",
        "phone_column: Phone",
        f"api_url: {api_url}",
        "api_key_env: STATUS_TEST_KEY",
        f"rate: {rate}",
        "results: out/results.csv",
    ]
    if channel is Channel.SMS:
        lines.append("text: 'Hi {{ name }}'")
    else:
        lines += [f"template_id: {WHATSAPP_TEMPLATE}", "variables: [{column: name}, {value: A1}]"]
    path = tmp_path / f"{channel.value}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def phone(index: int) -> str:
    return f"+4477009{index:05d}"


def send_messages(sandbox: Sandbox, channel: Channel, count: int) -> list[ResultRecord]:
    """Sends ``count`` messages with plain requests; a sent record per message, plus one
    rejected row that status must leave alone."""
    records = []
    with requests.Session() as http:
        http.headers["X-Octopods-Auth"] = DEMO_KEYS[channel]
        for index in range(count):
            if channel is Channel.SMS:
                url, body = f"{sandbox.base_url}/sms/messages", {"body": "Hi"}
            else:
                url = f"{sandbox.base_url}/whatsapp/templates/{WHATSAPP_TEMPLATE}/messages"
                body = {"message_variables": ["Ann", "A1"]}
            answer = http.post(url, json={"destination_phone": phone(index), **body}, timeout=10)
            assert answer.status_code == 201, answer.text
            records.append(_sent_record(index, answer.json()))
    records.append(
        ResultRecord(
            row=count + 2,
            phone="+15",
            outcome=Outcome.REJECTED,
            identity="+15",
            http_status=400,
            error_code=5,
            error="bad phone",
        )
    )
    return records


def _sent_record(index: int, answer: dict[str, object]) -> ResultRecord:
    return ResultRecord(
        row=index + 2,
        phone=phone(index),
        outcome=Outcome.SENT,
        identity=phone(index),
        message_id=str(answer["message_id"]),
        request_id=str(answer["request_id"]),
        http_status=201,
        attempts=1,
        updated_at="2026-05-02T09:00:00Z",
    )


def write_results(path: Path, records: list[ResultRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(record.to_csv_row() for record in records)


def read_results(path: Path) -> list[ResultRecord]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return [ResultRecord.from_csv_row(header, cells) for cells in reader]


class Simulated:
    """One manual clock for the sandbox, the pacer and the run's sleeps."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.clock.advance(seconds)
        return event.is_set()

    def now_utc(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def pacer(self, campaign: Campaign) -> Pacer:
        return Pacer(campaign.rate, burst=campaign.burst, clock=self.clock, wait=self.wait)

    def client(self, sandbox: Sandbox, channel: Channel, key: str | None = None) -> OctopodsClient:
        return OctopodsClient(
            sandbox.base_url, ApiKey(key or DEMO_KEYS[channel]), channel, utc_now=self.now_utc
        )

    def check(
        self, campaign: Campaign, sandbox: Sandbox, *, key: str | None = None, **options: object
    ) -> StatusSummary:
        with self.client(sandbox, campaign.channel, key) as client:
            return check_status(
                campaign,
                client=client,
                pacer=self.pacer(campaign),
                clock=self.clock,
                sleep=self.sleep,
                now_utc=self.now_utc,
                **options,  # type: ignore[arg-type]
            )


@pytest.fixture
def simulated(manual_clock: ManualClock) -> Simulated:
    return Simulated(manual_clock)


def setup_campaign(
    tmp_path: Path,
    make_sandbox: Callable[..., Sandbox],
    clock: ManualClock,
    channel: Channel,
    count: int,
    **sandbox_config: object,
) -> tuple[Campaign, Sandbox, list[ResultRecord]]:
    sandbox = make_sandbox(clock=clock, **{"seed": 7, "delivery_step_s": STEP_S, **sandbox_config})
    campaign = load_campaign(campaign_file(tmp_path, channel, api_url=sandbox.base_url))
    records = send_messages(sandbox, channel, count)
    write_results(campaign.results_path, records)
    return campaign, sandbox, records


def expected_state(sandbox: Sandbox, record: ResultRecord, channel: Channel, now: float):
    entry = next(e for e in sandbox.ledger() if str(e.message_id) == record.message_id)
    return delivery_state(
        channel=channel,
        message_id=entry.message_id,
        received_at=entry.received_at,
        now=now,
        seed=7,
        step_s=STEP_S,
        failure_share=sandbox.config.failure_share,
    )


def test_sms_status_fills_the_delivery_columns(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    campaign, sandbox, before = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.SMS, 12, failure_share=0.4
    )
    simulated.clock.advance(3 * STEP_S)
    summary = simulated.check(campaign, sandbox)
    assert summary.exit_status is ExitStatus.OK
    assert (summary.tracked, summary.asked, summary.final) == (12, 12, 12)
    after = read_results(campaign.results_path)
    assert [(r.row, r.outcome, r.message_id) for r in after] == [
        (r.row, r.outcome, r.message_id) for r in before
    ]
    for record in after[:-1]:
        state = expected_state(sandbox, record, Channel.SMS, simulated.clock())
        assert record.delivery_status == state.status
        assert record.delivery_detail == (state.failure_reason or "")
        assert bool(record.delivered_at) == (state.delivered_at is not None)
        assert record.status_checked_at.endswith("Z")
    assert {r.delivery_status for r in after[:-1]} >= {"delivered"}
    assert {r.delivery_status for r in after[:-1]} & {"failed", "undelivered"}
    assert after[-1] == before[-1]  # the rejected row is untouched


def test_whatsapp_status_uses_the_list_endpoint_then_single_lookups(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    """105 sends: one list call answers the newest 100, five per-message calls the rest, and one
    per-message call fills the times of each listed row that reached delivered or read."""
    campaign, sandbox, records = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.WHATSAPP, 105
    )
    simulated.clock.advance(3 * STEP_S)
    seen_before = len(sandbox.requests())
    summary = simulated.check(campaign, sandbox)
    calls = [r for r in sandbox.requests()[seen_before:] if r.method == "GET"]
    assert [r.path for r in calls].count("/api/v1/whatsapp/messages") == 1
    now = simulated.clock()
    states = [expected_state(sandbox, r, Channel.WHATSAPP, now) for r in records[:-1]]
    timed = sum(state.status in {"delivered", "read"} for state in states[5:])  # newest 100
    assert len(calls) == 1 + 5 + timed
    assert summary.asked == 105
    after = read_results(campaign.results_path)
    statuses = {r.delivery_status for r in after if r.outcome is Outcome.SENT}
    assert statuses <= {"delivered", "read", "failed"} and "read" in statuses
    for record, state in zip(after, states, strict=False):
        assert record.delivery_status == state.status
        assert bool(record.delivered_at) == (state.delivered_at is not None)
        assert bool(record.read_at) == (state.read_at is not None)


def test_a_listed_status_already_recorded_is_not_looked_up_again(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    """A second run asks the list again for the rows still "delivered" (they may become read),
    and looks none of them up one by one: their time was filled the first time."""
    campaign, sandbox, records = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.WHATSAPP, 30, failure_share=0.0
    )
    simulated.clock.advance(1.5 * STEP_S)  # delivered, not read yet
    simulated.check(campaign, sandbox)
    assert {r.delivery_status for r in read_results(campaign.results_path)[:-1]} == {"delivered"}
    seen_before = len(sandbox.requests())
    summary = simulated.check(campaign, sandbox)
    calls = [r.path for r in sandbox.requests()[seen_before:]]
    assert calls == ["/api/v1/whatsapp/messages"]
    assert summary.asked == 30


def test_watch_polls_until_every_message_is_final(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    campaign, sandbox, _ = setup_campaign(tmp_path, make_sandbox, simulated.clock, Channel.SMS, 8)
    progress = []
    summary = simulated.check(
        campaign, sandbox, watch=True, interval_s=STEP_S, timeout_s=600, events=progress.append
    )
    assert not summary.timed_out
    assert summary.final == summary.tracked == 8
    assert summary.rounds == 3  # queued, then sent, then final: one step apart
    assert progress[-1].final == 8 and progress[0].final < 8
    assert all(r.delivery_status for r in read_results(campaign.results_path)[:-1])


def test_watch_gives_up_at_the_timeout(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    campaign, sandbox, _ = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.SMS, 3, delivery_step_s=1000.0
    )
    summary = simulated.check(campaign, sandbox, watch=True, interval_s=60, timeout_s=300)
    assert summary.timed_out
    assert summary.rounds == 5  # at 0, 60, ..., 240 s: none starts at the deadline
    assert summary.exit_status is ExitStatus.OK  # every row it meant to ask about was asked


def test_cancel_mid_run_keeps_what_was_learnt_and_a_rerun_completes(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    campaign, sandbox, before = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.SMS, 20
    )
    simulated.clock.advance(3 * STEP_S)
    cancel = threading.Event()
    asked = []

    def cancel_after_seven(event: threading.Event, seconds: float) -> bool:
        asked.append(seconds)
        if len(asked) == 7:
            cancel.set()
        return simulated.wait(event, seconds)

    with simulated.client(sandbox, Channel.SMS) as client:
        pacer = Pacer(campaign.rate, clock=simulated.clock, wait=cancel_after_seven)
        summary = check_status(
            campaign,
            client=client,
            pacer=pacer,
            clock=simulated.clock,
            sleep=simulated.sleep,
            now_utc=simulated.now_utc,
            cancel=cancel,
        )
    assert summary.cancelled and summary.exit_status is ExitStatus.INTERRUPTED
    middle = read_results(campaign.results_path)
    checked = [r for r in middle if r.status_checked_at]
    assert 0 < len(checked) == summary.asked < 20
    assert [(r.row, r.message_id) for r in middle] == [(r.row, r.message_id) for r in before]
    rerun = simulated.check(campaign, sandbox)
    assert rerun.asked == 20 - len(checked)
    assert rerun.final == 20
    assert all(r.status_checked_at for r in read_results(campaign.results_path)[:-1])


def test_an_error_mid_run_leaves_a_whole_file_with_the_progress_so_far(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    """Ctrl-C (KeyboardInterrupt) between lookups: the answers so far are written atomically."""
    campaign, sandbox, before = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.SMS, 10
    )
    simulated.clock.advance(3 * STEP_S)
    calls = []

    def interrupt_on_fifth(event: threading.Event, seconds: float) -> bool:
        calls.append(seconds)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return simulated.wait(event, seconds)

    with simulated.client(sandbox, Channel.SMS) as client, pytest.raises(KeyboardInterrupt):
        check_status(
            campaign,
            client=client,
            pacer=Pacer(campaign.rate, clock=simulated.clock, wait=interrupt_on_fifth),
            clock=simulated.clock,
            sleep=simulated.sleep,
            now_utc=simulated.now_utc,
        )
    after = read_results(campaign.results_path)
    assert len(after) == len(before)
    assert 0 < sum(1 for r in after if r.status_checked_at) < 10
    assert not list(campaign.results_path.parent.glob("*.tmp"))


def test_rate_limit_during_status_is_honoured(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    """The campaign's rate (50/s) is above the API's (3/s): a 429 pauses every worker until the
    named second has passed, so a block is met only by the lookups already in flight."""
    campaign, sandbox, _ = setup_campaign(tmp_path, make_sandbox, simulated.clock, Channel.SMS, 12)
    simulated.clock.advance(3 * STEP_S)
    sandbox.set_rate_limit((3, 1.0))
    start = len(sandbox.requests())
    summary = simulated.check(campaign, sandbox)
    log = sandbox.requests()[start:]
    assert summary.asked == 12 and summary.exit_status is ExitStatus.OK
    statuses = [record.status for record in log]
    assert 429 in statuses, "the test needs the API to push back at least once"
    bursts = "".join("x" if status == 429 else "." for status in statuses).split(".")
    assert max(len(burst) for burst in bursts) <= summary.workers
    assert statuses[-1] == 200 and statuses.count(429) <= 4 * summary.workers


def test_transient_errors_are_retried_then_left_for_the_next_run(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    campaign, sandbox, before = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.SMS, 3
    )
    simulated.clock.advance(3 * STEP_S)
    sandbox.set_faults(error_share=1.0)
    summary = simulated.check(campaign, sandbox)
    assert summary.unreachable == 3 and summary.exit_status is ExitStatus.INCOMPLETE
    assert read_results(campaign.results_path) == before
    sandbox.clear_faults()
    assert simulated.check(campaign, sandbox).final == 3


def test_vbm_is_explained_and_nothing_is_asked(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    sandbox = make_sandbox(clock=simulated.clock)
    (tmp_path / "people.csv").write_text("Phone,name\n+447700900001,Ann\n", encoding="utf-8")
    path = tmp_path / "vbm.yaml"
    path.write_text(
        "name: v\nchannel: vbm\ntemplate_id: 456\nsource: people.csv\nphone_column: Phone\n"
        f"api_url: {sandbox.base_url}\nresults: out/results.csv\n",
        encoding="utf-8",
    )
    campaign = load_campaign(path)
    summary = simulated.check(campaign, sandbox)
    assert summary.untracked_reason == VBM_EXPLANATION
    assert summary.exit_status is ExitStatus.OK
    assert sandbox.requests() == []


def test_a_refused_key_stops_the_run(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    campaign, sandbox, before = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.SMS, 2
    )
    with pytest.raises(CampaignRefusedError, match="rotated or revoked") as raised:
        simulated.check(campaign, sandbox, key=DEPRECATED_KEYS[Channel.SMS])
    assert raised.value.exit_status is ExitStatus.CAMPAIGN_REFUSED
    assert read_results(campaign.results_path) == before


def test_status_refuses_while_a_send_holds_the_results_file(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    campaign, sandbox, _ = setup_campaign(tmp_path, make_sandbox, simulated.clock, Channel.SMS, 1)
    start = len(sandbox.requests())
    with ResultsFile(campaign.results_path).lock(), pytest.raises(ResultsLockedError):
        simulated.check(campaign, sandbox)
    assert len(sandbox.requests()) == start


def test_a_message_the_status_endpoint_does_not_know_is_explained_and_asked_once(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    """A sent row whose lookup the API refuses (unknown id) gets status "unknown" and the API's
    words in delivery_detail; --watch does not ask about it again and still ends."""
    campaign, sandbox, records = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.SMS, 2
    )
    stranger = replace(records[0], row=40, phone=phone(40), identity=phone(40), message_id="999")
    write_results(campaign.results_path, [*records, stranger])
    summary = simulated.check(campaign, sandbox, watch=True, interval_s=STEP_S, timeout_s=600)
    asked = [r for r in sandbox.requests() if r.path == "/api/v1/sms/messages/999"]
    assert len(asked) == 1
    assert not summary.timed_out and summary.refused == 1
    assert summary.final == 2 and summary.exit_status is ExitStatus.OK
    row = read_results(campaign.results_path)[-1]
    assert row.delivery_status == "unknown"
    assert "does not know this message" in row.delivery_detail
    assert "Message does not exist." in row.delivery_detail
    assert row.status_checked_at


def test_a_refused_lookup_never_erases_a_status_already_known(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    """An old message the API no longer knows keeps the status an earlier run stored."""
    campaign, sandbox, records = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.SMS, 1
    )
    known = replace(records[0], message_id="999", delivery_status="sent", sent_at="x")
    write_results(campaign.results_path, [known, records[1]])
    simulated.check(campaign, sandbox)
    row = read_results(campaign.results_path)[0]
    assert (row.delivery_status, row.delivery_detail, row.sent_at) == ("sent", "", "x")
