"""`bulksend send` as a real process, stopped from outside (SIGKILL at random moments, SIGTERM,
Ctrl-C, a second signal) and then run to its end, or met by a second run on the same results file.

The sandbox runs in the test's process, so its ledger is the truth about what was sent: no phone
is ever accepted twice, every sendable row ends in the ledger exactly once or recorded
``uncertain``, and every ``sent`` row carries the ledger's message_id. The default run kills a
few times; ``BULKSEND_SOAK=1`` runs the long soak (more kills, more rows). A first SIGTERM or
Ctrl-C lets requests in flight finish and records them; a second one leaves them pending for the
next run to reconcile.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from bulksend.channels import Channel
from bulksend.results import Outcome, ResultRecord, ResultsFile
from bulksend.sandbox import DEMO_KEYS, Sandbox, key_id
from tests.test_engine import KEY_ENV, people, write_campaign, write_sheet
from tests.test_send_cli import (
    KEYS,
    SECOND_WHATSAPP_KEY,
    WAIT_S,
    assert_sent_rows_match_the_ledger,
    finish,
    invoke,
    ledger_phones,
    make_campaign,
    results_of,
    start_send,
    wait_for,
)

SOAK = os.environ.get("BULKSEND_SOAK") == "1"
KILLS = 20 if SOAK else 3
ROWS = 1000 if SOAK else 300
RATE = "150/s"
RUN_TIMEOUT_S = 120.0
POLL_S = 0.005
# Chance that a kill lands before sending starts (validation, compaction, reconciliation).
EARLY_KILL_SHARE = 0.2


@dataclass(frozen=True)
class SendProcess:
    """How to start `bulksend send --yes` for one campaign against one sandbox."""

    campaign_path: Path
    key: str

    def start(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, KEY_ENV: self.key}
        return subprocess.Popen(
            [sys.executable, "-m", "bulksend", "send", "--yes", str(self.campaign_path)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )


def send_process(tmp_path: Path, sandbox: Sandbox, channel: Channel, rows: int) -> SendProcess:
    write_sheet(tmp_path / "people.csv", people(rows))
    path = write_campaign(tmp_path, sandbox, channel=channel, rate=RATE)
    return SendProcess(path, DEMO_KEYS[channel])


def kill_at_a_random_moment(
    process: subprocess.Popen[bytes], sandbox: Sandbox, rng: random.Random, rows: int
) -> bool:
    """SIGKILL the process at a seeded random moment; False if it ended first (it finished)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    if rng.random() < EARLY_KILL_SHARE:
        wait_until = time.monotonic() + rng.uniform(0.0, 1.0)
        target = None
    else:
        wait_until = 0.0
        target = len(sandbox.ledger()) + rng.randint(1, max(1, rows // (KILLS + 1)))
    while time.monotonic() < deadline and process.poll() is None:
        if target is None and time.monotonic() >= wait_until:
            break
        if target is not None and len(sandbox.ledger()) >= target:
            time.sleep(rng.uniform(0.0, 0.03))  # land between, not only right after, requests
            break
        time.sleep(POLL_S)
    if process.poll() is not None:
        return False
    assert time.monotonic() < deadline, "the send process neither sent nor ended in time"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=RUN_TIMEOUT_S)
    if process.stderr is not None:
        process.stderr.close()
    return True


def run_to_completion(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    try:
        _, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=RUN_TIMEOUT_S)
        raise
    return process.returncode, stderr.decode("utf-8", "replace")


def records_in_file(results_path: Path) -> list[ResultRecord]:
    """Every readable line of the results file (a torn last line is skipped, not an error)."""
    return list(ResultsFile(results_path).iter_records())


def assert_never_twice_and_ids_match(sandbox: Sandbox, results_path: Path) -> None:
    """What must hold at any moment, even right after a SIGKILL."""
    ledger = sandbox.ledger()
    accepted = Counter(entry.phone for entry in ledger)
    assert [phone for phone, times in accepted.items() if times > 1] == []
    ledger_ids = {entry.phone: str(entry.message_id) for entry in ledger}
    for record in records_in_file(results_path):
        if record.outcome is Outcome.SENT:
            assert record.message_id == ledger_ids.get(record.phone), record


def assert_every_row_sent_once_or_uncertain(
    sandbox: Sandbox, results_path: Path, sendable: set[str], channel: Channel
) -> None:
    assert_never_twice_and_ids_match(sandbox, results_path)
    last = ResultsFile(results_path).load_outcomes()
    ledger_phones = {entry.phone for entry in sandbox.ledger()}
    assert ledger_phones <= sendable
    assert set(last) == sendable
    outcomes = Counter(record.outcome for record in last.values())
    assert set(outcomes) <= {Outcome.SENT, Outcome.UNCERTAIN}, outcomes
    missing = sendable - ledger_phones
    assert {phone for phone in missing if last[phone].outcome is not Outcome.UNCERTAIN} == set()
    sent = {phone for phone, record in last.items() if record.outcome is Outcome.SENT}
    assert sent <= ledger_phones
    if channel is Channel.WHATSAPP:
        # The message list shows every in-flight row that arrived: none is left uncertain.
        uncertain = {phone for phone, record in last.items() if record.outcome is Outcome.UNCERTAIN}
        assert uncertain & ledger_phones == set()


@pytest.mark.slow
@pytest.mark.parametrize("channel", [Channel.WHATSAPP, Channel.SMS])
def test_sigkill_at_random_moments_never_sends_twice_nor_loses_a_row(
    tmp_path: Path, make_sandbox, channel: Channel
) -> None:
    sandbox = make_sandbox(latency_s=(0.01, 0.05))
    send = send_process(tmp_path, sandbox, channel, ROWS)
    results_path = tmp_path / "out" / "results.csv"
    rng = random.Random(f"kill-{channel.value}-{KILLS}")
    kills = 0
    for _ in range(KILLS):
        if not kill_at_a_random_moment(send.start(), sandbox, rng, ROWS):
            break
        kills += 1
        assert_never_twice_and_ids_match(sandbox, results_path)
    assert kills >= 1, "no kill landed: the run finished before the first one"
    status, stderr = run_to_completion(send.start())
    sendable = {row[0] for row in people(ROWS)}
    assert_every_row_sent_once_or_uncertain(sandbox, results_path, sendable, channel)
    uncertain = sum(r.outcome is Outcome.UNCERTAIN for r in records_in_file(results_path))
    assert status == (4 if uncertain else 0), stderr
    assert uncertain <= kills * 64  # at most one worker pool's rows in flight per kill
    assert len(records_in_file(results_path)) == ROWS  # a clean end compacts: one line per row


# SIGTERM and Ctrl-C -------------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_lets_requests_in_flight_finish_then_exits(
    tmp_path: Path, make_sandbox, signum: signal.Signals, status: int
) -> None:
    """SIGTERM -> 143, Ctrl-C -> 130; every accepted send is on record, nothing left pending."""
    sandbox = make_sandbox(latency_s=(0.02, 0.06))
    campaign_path = make_campaign(tmp_path, sandbox, rows=150, rate="50/s")
    process = start_send(campaign_path, "--yes", "--json")
    wait_for(lambda: len(sandbox.ledger()) >= 10, process, "10 sends")
    process.send_signal(signum)
    returncode, stdout, stderr = finish(process)
    assert returncode == status, stderr
    assert "Traceback" not in stderr
    recorded = results_of(tmp_path)
    assert {r.outcome for r in recorded.values()} == {Outcome.SENT}
    assert_sent_rows_match_the_ledger(sandbox, recorded)
    assert len(recorded) < 150
    summary = json.loads(stdout)
    assert (summary["stopped"], summary["exit_status"]) == ("interrupted", status)
    assert summary["sent_this_run"] == len(recorded) and summary["counts"] == {
        "sent": len(recorded)
    }


def test_after_sigterm_a_rerun_completes_without_a_duplicate(tmp_path, make_sandbox) -> None:
    sandbox = make_sandbox(latency_s=(0.02, 0.06))
    campaign_path = make_campaign(tmp_path, sandbox, rows=120, rate="60/s")
    process = start_send(campaign_path, "--yes")
    wait_for(lambda: len(sandbox.ledger()) >= 10, process, "10 sends")
    process.send_signal(signal.SIGTERM)
    returncode, stdout, _ = finish(process)
    assert returncode == 143 and "send stopped early (interrupted)" in stdout
    stopped_at = len(sandbox.ledger())
    result = invoke(["send", str(campaign_path), "--yes"])
    assert result.exit_code == 0, result.output
    assert f"sent now    {120 - stopped_at:>10,}" in result.stdout
    recorded = results_of(tmp_path)
    assert len(recorded) == 120
    assert_sent_rows_match_the_ledger(sandbox, recorded)


def pending_rows(tmp_path: Path) -> set[str]:
    recorded = results_of(tmp_path)
    return {phone for phone, r in recorded.items() if r.outcome is Outcome.PENDING}


def test_a_second_signal_exits_at_once_and_the_next_run_reconciles(tmp_path, make_sandbox) -> None:
    """In-flight rows stay pending at a hard exit; the rerun finds them in the message list."""
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=60, rate="50/s", extra="concurrency: 3\n")
    process = start_send(campaign_path, "--yes")
    wait_for(lambda: len(sandbox.ledger()) >= 3, process, "3 sends")
    sandbox.set_faults(latency_s=(2.0, 2.0))  # from now on every answer takes 2 s
    wait_for(lambda: len(pending_rows(tmp_path)) >= 2, process, "2 rows in flight")
    process.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    returncode, _, stderr = finish(process)
    assert returncode == 143, stderr
    in_flight = pending_rows(tmp_path)
    assert in_flight, "a hard exit records nothing for rows still waiting for an answer"

    deadline = time.monotonic() + WAIT_S  # the sandbox still answers those requests, 2 s late
    while not in_flight <= set(ledger_phones(sandbox)) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    sandbox.set_faults(latency_s=(0.0, 0.0))
    result = invoke(["send", str(campaign_path), "--yes"])
    assert result.exit_code == 0, result.output
    assert f"{len(in_flight)} found sent, 0 marked uncertain" in result.stderr
    recorded = results_of(tmp_path)
    assert len(recorded) == 60
    assert_sent_rows_match_the_ledger(sandbox, recorded)


# A second run -------------------------------------------------------------------------------------


def test_a_second_run_on_a_locked_results_file_refuses_and_sends_nothing(
    tmp_path: Path, make_sandbox
) -> None:
    sandbox = make_sandbox(keys=KEYS)
    campaign_path = make_campaign(tmp_path, sandbox, rows=100, rate="20/s")
    first = start_send(campaign_path, "--yes")
    wait_for(lambda: len(sandbox.ledger()) >= 3, first, "3 sends")
    rejects = tmp_path / "out" / "results.rejects.csv"
    rejects_before = (rejects.read_bytes(), rejects.stat().st_mtime_ns)
    second = start_send(campaign_path, "--yes", key=SECOND_WHATSAPP_KEY)
    returncode, _, stderr = finish(second)
    # refused before validating: the rejects file the first run wrote is not rewritten
    assert (rejects.read_bytes(), rejects.stat().st_mtime_ns) == rejects_before
    still_running = first.poll() is None
    first.send_signal(signal.SIGTERM)
    assert finish(first)[0] == 143
    assert still_running, "the first run must hold the lock while the second one starts"
    assert returncode == 2
    assert f"another bulksend run (process {first.pid}) is using" in stderr
    assert "Wait for it to finish or stop it, then run again." in stderr
    assert "Traceback" not in stderr
    second_key = key_id(SECOND_WHATSAPP_KEY)
    assert [entry for entry in sandbox.ledger() if entry.key_id == second_key] == []
    assert_sent_rows_match_the_ledger(sandbox, results_of(tmp_path))
