"""`bulksend status` as a real process, stopped from outside mid-run, then run again.

The sandbox runs in the test's process, so its request log says which lookups were answered.
Every answer the run recorded (its ``<results>.status`` journal) survives a SIGKILL and is never
asked for again; SIGTERM and Ctrl-C let the lookups in flight finish, merge what was received
into the results file and exit 143 or 130.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bulksend.campaign import Campaign, load_campaign
from bulksend.channels import Channel
from bulksend.results import ResultRecord, ResultsFile
from bulksend.sandbox import DEMO_KEYS, Sandbox
from bulksend.sandbox.delivery import delivery_state
from bulksend.status_journal import read_answers, sidecar_path
from tests.test_status import campaign_file, send_messages, write_results

ROWS = 200
CONCURRENCY = 4
ANSWERS_BEFORE_STOP = 20
WAIT_S = 60.0
POLL_S = 0.01
SEED = 5


def prepared(tmp_path: Path, sandbox: Sandbox) -> Campaign:
    path = campaign_file(tmp_path, Channel.SMS, api_url=sandbox.base_url, rate="40/s")
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"concurrency: {CONCURRENCY}\n")
    campaign = load_campaign(path)
    write_results(campaign.results_path, send_messages(sandbox, Channel.SMS, ROWS))
    sandbox.set_faults(latency_s=(0.02, 0.02))  # lookups take a while, so a stop lands mid-run
    return campaign


def start_status(campaign: Campaign, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "STATUS_TEST_KEY": DEMO_KEYS[Channel.SMS]}
    return subprocess.Popen(
        [sys.executable, "-m", "bulksend", "status", str(campaign.path), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    """Poll until ``condition`` holds (bounded); fail if the process ends first."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"status ended (status {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {what} within {WAIT_S:.0f} s")
        time.sleep(POLL_S)


def recorded(campaign: Campaign) -> set[str]:
    return {answer.message_id for answer in read_answers(sidecar_path(campaign.results_path))}


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=WAIT_S)
        raise
    return process.returncode, out, err


def answered_lookups(sandbox: Sandbox, start: int = 0) -> list[str]:
    return [
        record.path.rsplit("/", 1)[-1]
        for record in sandbox.requests()[start:]
        if record.method == "GET" and record.status == 200
    ]


def records_of(campaign: Campaign) -> list[ResultRecord]:
    return list(ResultsFile(campaign.results_path).iter_records())


def assert_statuses_match_the_sandbox(sandbox: Sandbox, records: list[ResultRecord]) -> None:
    received = {str(entry.message_id): entry.received_at for entry in sandbox.ledger()}
    for record in records:
        if not record.message_id:
            continue
        state = delivery_state(
            channel=Channel.SMS,
            message_id=int(record.message_id),
            received_at=received[record.message_id],
            now=time.time(),
            seed=SEED,
            step_s=0.0,
            failure_share=sandbox.config.failure_share,
        )
        assert record.delivery_status == state.status, record


def test_sigkill_mid_run_loses_no_recorded_answer(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox(seed=SEED, delivery_step_s=0.0)
    campaign = prepared(tmp_path, sandbox)
    before = records_of(campaign)
    first = start_status(campaign)
    wait_for(lambda: len(recorded(campaign)) >= ANSWERS_BEFORE_STOP, first, "answers")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=WAIT_S)
    killed_at = len(sandbox.requests())

    kept = recorded(campaign)
    assert records_of(campaign) == before  # untouched until the end of a run: still whole
    # Only lookups in flight at the kill may have been answered and not yet recorded.
    assert kept <= set(answered_lookups(sandbox))
    assert len(set(answered_lookups(sandbox)) - kept) <= CONCURRENCY

    code, out, err = finish(start_status(campaign))
    assert code == 0, out + err
    assert not set(answered_lookups(sandbox, killed_at)) & kept  # never asked again
    after = records_of(campaign)
    assert [(r.row, r.message_id) for r in after] == [(r.row, r.message_id) for r in before]
    assert_statuses_match_the_sandbox(sandbox, after)
    assert sorted(p.name for p in campaign.results_path.parent.iterdir()) == [
        "results.csv",
        "results.csv.lock",
    ]


@pytest.mark.parametrize(("signum", "exit_status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_merges_what_was_received_and_names_the_exit_status(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox], signum: int, exit_status: int
) -> None:
    sandbox = make_sandbox(seed=SEED, delivery_step_s=0.0)
    campaign = prepared(tmp_path, sandbox)
    process = start_status(campaign, "--json")
    wait_for(lambda: len(recorded(campaign)) >= ANSWERS_BEFORE_STOP, process, "answers")
    process.send_signal(signum)
    code, out, err = finish(process)

    assert code == exit_status, err
    summary = json.loads(out)
    assert summary["cancelled"] and summary["exit_status"] == exit_status
    assert ANSWERS_BEFORE_STOP <= summary["asked"] < ROWS
    assert "stopping: letting requests in flight finish" in err
    checked = [r for r in records_of(campaign) if r.status_checked_at]
    assert len(checked) == summary["asked"]
    assert set(answered_lookups(sandbox)) == {r.message_id for r in checked}
    assert not sidecar_path(campaign.results_path).exists()
