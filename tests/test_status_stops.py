"""How a status run shares out its lookups and when it stops: the worker pool, ``timeout_s``
inside a round, an unreachable API, the list call's retries, a journal a killed run left.

Against the sandbox on a manual clock (``tests.test_status.Simulated``): no sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bulksend.apikey import ApiKey
from bulksend.campaign import Campaign, load_campaign
from bulksend.channels import Channel
from bulksend.client import OctopodsClient
from bulksend.errors import ExitStatus
from bulksend.sandbox import DEMO_KEYS, Sandbox
from bulksend.status import check_status
from bulksend.status_fields import StatusAnswer
from bulksend.status_journal import AnswerJournal, sidecar_path
from bulksend.status_stop import WAIT_STEP_S, RunStop
from bulksend.workers import UNREACHABLE_ROWS
from tests.conftest import ManualClock
from tests.test_status import (
    STEP_S,
    Simulated,
    campaign_file,
    read_results,
    send_messages,
    setup_campaign,
    write_results,
)

BARRIER_TIMEOUT_S = 10.0


@pytest.fixture
def simulated(manual_clock: ManualClock) -> Simulated:
    return Simulated(manual_clock)


class GatedClient(OctopodsClient):
    """Holds the first ``parties`` lookups until that many are in flight together (a barrier
    that breaks after a bounded wait), and records the most lookups ever in flight."""

    def __init__(self, *args: object, parties: int, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.barrier = threading.Barrier(parties, timeout=BARRIER_TIMEOUT_S)
        self.parties = parties
        self.started = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def get_message(self, message_id: str | int):  # type: ignore[no-untyped-def]
        with self._lock:
            self.started += 1
            gated = self.started <= self.parties
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if gated:
                self.barrier.wait()
            return super().get_message(message_id)
        finally:
            with self._lock:
                self.in_flight -= 1


def with_setting(campaign_path: Path, line: str) -> Campaign:
    with campaign_path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    return load_campaign(campaign_path)


def check(simulated: Simulated, campaign: Campaign, client: OctopodsClient, **options: object):
    with client:
        return check_status(
            campaign,
            client=client,
            pacer=simulated.pacer(campaign),
            clock=simulated.clock,
            sleep=simulated.sleep,
            now_utc=simulated.now_utc,
            **options,  # type: ignore[arg-type]
        )


def test_lookups_go_out_several_at_once(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    """The automatic pool starts with at least four workers: four lookups meet at a barrier
    (one worker alone would break it), and every row is answered."""
    campaign, sandbox, _ = setup_campaign(tmp_path, make_sandbox, simulated.clock, Channel.SMS, 12)
    simulated.clock.advance(3 * STEP_S)
    client = GatedClient(sandbox.base_url, ApiKey(DEMO_KEYS[Channel.SMS]), Channel.SMS, parties=4)
    summary = check(simulated, campaign, client)
    assert summary.asked == summary.final == 12 and summary.exit_status is ExitStatus.OK
    assert client.most_in_flight >= 4 and summary.workers >= 4


def test_the_campaign_concurrency_caps_the_lookups_in_flight(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    sandbox = make_sandbox(clock=simulated.clock, seed=7, delivery_step_s=STEP_S)
    path = campaign_file(tmp_path, Channel.SMS, api_url=sandbox.base_url)
    campaign = with_setting(path, "concurrency: 2")
    write_results(campaign.results_path, send_messages(sandbox, Channel.SMS, 10))
    client = GatedClient(sandbox.base_url, ApiKey(DEMO_KEYS[Channel.SMS]), Channel.SMS, parties=2)
    summary = check(simulated, campaign, client)
    assert summary.asked == 10 and summary.workers == 2
    assert client.most_in_flight == 2


def test_the_timeout_stops_the_run_inside_a_round(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    """At 2/s a 3 s timeout leaves most of 20 rows unasked: the run stops at the deadline,
    keeps what it got and exits 4 (run it again), without --watch too."""
    sandbox = make_sandbox(clock=simulated.clock, seed=7, delivery_step_s=0.0)
    path = campaign_file(tmp_path, Channel.SMS, api_url=sandbox.base_url, rate="2/s")
    campaign = load_campaign(path)
    write_results(campaign.results_path, send_messages(sandbox, Channel.SMS, 20))
    start, seen_before = simulated.clock(), len(sandbox.requests())
    summary = simulated.check(campaign, sandbox, timeout_s=3.0)
    lookups = sandbox.requests()[seen_before:]
    assert summary.timed_out and summary.exit_status is ExitStatus.INCOMPLETE
    assert 0 < summary.asked < 20 and summary.not_asked == 20 - summary.asked
    assert all(record.received_at <= start + 3.0 for record in lookups)
    checked = [r for r in read_results(campaign.results_path) if r.status_checked_at]
    assert len(checked) == summary.asked


def test_a_429_pause_longer_than_the_timeout_ends_the_run_at_the_deadline(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    campaign, sandbox, _ = setup_campaign(tmp_path, make_sandbox, simulated.clock, Channel.SMS, 6)
    simulated.clock.advance(3 * STEP_S)
    sandbox.set_rate_limit((1, 120.0))  # one lookup, then a block of about two minutes
    start = simulated.clock()
    summary = simulated.check(campaign, sandbox, timeout_s=10.0)
    assert summary.timed_out and summary.exit_status is ExitStatus.INCOMPLETE
    assert summary.asked == 1
    assert simulated.clock() - start <= 10.0 + STEP_S


def test_an_unreachable_api_stops_the_run_after_a_few_rows(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    """Every connection dropped without an answer: the run stops once UNREACHABLE_ROWS rows in
    a row got none, instead of retrying each of 40 rows, and says why (exit 4)."""
    campaign, sandbox, before = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.SMS, 40
    )
    sandbox.set_faults(drop_share=1.0)
    seen_before = len(sandbox.requests())
    summary = simulated.check(campaign, sandbox)
    asked_about = {r.path for r in sandbox.requests()[seen_before:]}
    assert summary.exit_status is ExitStatus.INCOMPLETE and summary.asked == 0
    assert summary.stopped.startswith(
        f"the API could not be reached: {UNREACHABLE_ROWS} messages in a row got no answer"
    )
    assert len(asked_about) <= UNREACHABLE_ROWS + summary.workers < 40
    assert read_results(campaign.results_path) == before


def test_the_list_call_is_retried_by_the_client_alone(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    """The client retries the list through 5xx answers itself; status does not retry it again
    (which multiplied the attempts), and asks the rows one by one when it never answers."""
    campaign, sandbox, _ = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.WHATSAPP, 3
    )
    simulated.clock.advance(3 * STEP_S)
    sandbox.set_faults(error_share=1.0)
    client = OctopodsClient(
        sandbox.base_url,
        ApiKey(DEMO_KEYS[Channel.WHATSAPP]),
        Channel.WHATSAPP,
        utc_now=simulated.now_utc,
        wait=lambda cancel, seconds: simulated.wait(cancel or threading.Event(), seconds),
    )
    seen_before = len(sandbox.requests())
    summary = check(simulated, campaign, client)
    paths = [r.path for r in sandbox.requests()[seen_before:]]
    assert paths.count("/api/v1/whatsapp/messages") == client.read_retry.max_attempts
    assert len(paths) == client.read_retry.max_attempts + 3 * campaign.max_attempts
    assert summary.unreachable == 3 and summary.exit_status is ExitStatus.INCOMPLETE


def test_answers_a_killed_run_left_are_merged_before_anything_is_asked(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], simulated: Simulated
) -> None:
    campaign, sandbox, records = setup_campaign(
        tmp_path, make_sandbox, simulated.clock, Channel.SMS, 6
    )
    simulated.clock.advance(3 * STEP_S)
    journal = AnswerJournal(sidecar_path(campaign.results_path))
    for record in records[:4]:
        fields = {"delivery_status": "delivered", "delivered_at": "2026-05-02T09:00:04Z"}
        journal.record(StatusAnswer(record.message_id, record.identity, fields))
    journal.close()
    seen_before = len(sandbox.requests())
    summary = simulated.check(campaign, sandbox)
    asked_about = sorted(r.path.rsplit("/", 1)[-1] for r in sandbox.requests()[seen_before:])
    assert asked_about == sorted(r.message_id for r in records[4:6])
    assert summary.asked == 2 and summary.final == 6
    after = read_results(campaign.results_path)
    assert [r.delivered_at for r in after[:4]] == ["2026-05-02T09:00:04Z"] * 4
    assert not sidecar_path(campaign.results_path).exists()


def test_a_wait_ends_within_a_step_of_a_cancel(manual_clock: ManualClock) -> None:
    cancel = threading.Event()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        manual_clock.advance(seconds)
        if len(slept) == 3:
            cancel.set()

    stop = RunStop(cancel=cancel, deadline=None, clock=manual_clock, sleep=sleep)
    try:
        stop.wait(3600.0)
    finally:
        stop.close()
    assert slept == [WAIT_STEP_S] * 3


def test_no_grant_before_the_deadline_means_the_time_is_up(manual_clock: ManualClock) -> None:
    """The pacer can say at once that nothing can leave before the deadline: the run stops
    then, not when the clock gets there."""
    stop = RunStop(
        cancel=None, deadline=manual_clock() + 10.0, clock=manual_clock, sleep=manual_clock.advance
    )
    try:
        assert not stop.halted() and stop.remaining_s() == 10.0
        stop.time_is_up()
        assert stop.past_deadline() and stop.halted() and stop.halt.is_set()
    finally:
        stop.close()
