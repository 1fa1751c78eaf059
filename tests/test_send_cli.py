"""`bulksend send` from the outside: confirmation, exit statuses, --json, --dry-run,
--limit, progress output and the API key, each checked against the sandbox's ledger.

Terminals and a second process need a real one; the rest goes through click's CliRunner
in-process. Signals and the lock are in test_send_kill.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bulksend.channels import Channel
from bulksend.cli import main
from bulksend.results import Outcome, ResultRecord, ResultsFile
from bulksend.sandbox import DEMO_KEYS, DEPRECATED_KEYS, Sandbox
from tests.test_engine import KEY_ENV, people, write_campaign, write_sheet

WAIT_S = 60.0
POLL_S = 0.01
# Keys no other text in a run could contain by chance, accepted by sandboxes made with KEYS.
SECRET_KEY = "octo-live-Zq7x-LEAKCANARY-93f1"
SECRET_DEPRECATED_KEY = "octo-live-Zq7x-OLDCANARY-5c2e"
SECOND_WHATSAPP_KEY = "octo-second-whatsapp-key"
KEYS = {
    **{key: channel for channel, key in DEMO_KEYS.items()},
    SECRET_KEY: Channel.SMS,
    SECOND_WHATSAPP_KEY: Channel.WHATSAPP,
}


def make_campaign(
    tmp_path: Path,
    sandbox: Sandbox,
    *,
    rows: int,
    channel: Channel = Channel.WHATSAPP,
    rate: str = "1000/s",
    extra: str = "",
) -> Path:
    write_sheet(tmp_path / "people.csv", people(rows))
    return write_campaign(tmp_path, sandbox, channel=channel, rate=rate, extra=extra)


def results_of(tmp_path: Path) -> dict[str, ResultRecord]:
    return ResultsFile(tmp_path / "out" / "results.csv").load_outcomes()


def ledger_phones(sandbox: Sandbox) -> list[str]:
    return [entry.phone for entry in sandbox.ledger()]


def posts(sandbox: Sandbox) -> int:
    return sum(record.method == "POST" for record in sandbox.requests())


def assert_sent_rows_match_the_ledger(sandbox: Sandbox, recorded: dict[str, ResultRecord]) -> None:
    """No phone accepted twice, and the file's sent rows are exactly the ledger, ids and all."""
    phones = ledger_phones(sandbox)
    assert len(phones) == len(set(phones))
    ledger_ids = {entry.phone: str(entry.message_id) for entry in sandbox.ledger()}
    sent = {phone: r.message_id for phone, r in recorded.items() if r.outcome is Outcome.SENT}
    assert sent == ledger_ids


def invoke(args: list[str], *, key: str = DEMO_KEYS[Channel.WHATSAPP]) -> Result:
    """`bulksend ARGS` in-process, without a terminal."""
    return CliRunner().invoke(main, args, env={KEY_ENV: key}, catch_exceptions=False)


def start_send(
    campaign_path: Path,
    *extra: str,
    key: str = DEMO_KEYS[Channel.WHATSAPP],
    verbose: bool = False,
    **popen: object,
) -> subprocess.Popen[str]:
    logging = ["-vv"] if verbose else []
    command = [sys.executable, "-m", "bulksend", *logging, "send", str(campaign_path), *extra]
    options: dict[str, object] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        **popen,
    }
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        command, env={**os.environ, KEY_ENV: key}, text=True, **options
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        stdout, stderr = process.communicate(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate(timeout=WAIT_S)
        raise
    return process.returncode, stdout, stderr


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    """Poll until ``condition`` holds (bounded); fail if the process ends first."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"send ended (status {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {what} within {WAIT_S:.0f} s")
        time.sleep(POLL_S)


# The confirmation ---------------------------------------------------------------------------------


def test_without_a_terminal_and_without_yes_send_refuses(tmp_path, make_sandbox) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=5)
    returncode, _, stderr = finish(start_send(campaign_path))
    assert returncode == 2
    assert "send asks for confirmation, but there is no terminal to answer it" in stderr
    assert "Add --yes to send without asking" in stderr
    assert posts(sandbox) == 0
    assert not (tmp_path / "out" / "results.csv").exists()


@pytest.mark.parametrize(("answer", "sent"), [("n", 0), ("y", 7)])
def test_on_a_terminal_send_asks_first(tmp_path, make_sandbox, answer: str, sent: int) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=7, rate="20/s")
    terminal, child_end = os.openpty()
    try:
        process = start_send(campaign_path, stdin=child_end)
        os.close(child_end)
        os.write(terminal, f"{answer}\n".encode())
        returncode, stdout, stderr = finish(process)
    finally:
        os.close(terminal)
    assert returncode == 0, stderr
    assert f"About to send on whatsapp, template 540, via {sandbox.base_url}:" in stdout
    assert re.search(r"recipients\s+7 of 7 sendable rows", stdout)
    assert re.search(r"rate\s+20/s \(about 20/s\)", stdout)
    assert re.search(r"duration\s+about 0 s", stdout)
    assert "Send now? [y/N]" in stdout
    assert len(sandbox.ledger()) == sent


def test_a_resumed_campaigns_confirmation_counts_only_the_rows_left(tmp_path, make_sandbox) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=7)
    assert invoke(["send", str(campaign_path), "--yes", "--limit", "3"]).exit_code == 0
    terminal, child_end = os.openpty()
    try:
        process = start_send(campaign_path, stdin=child_end)
        os.close(child_end)
        os.write(terminal, b"n\n")
        returncode, stdout, stderr = finish(process)
    finally:
        os.close(terminal)
    assert returncode == 0, stderr
    results = tmp_path / "out" / "results.csv"
    assert re.search(rf"recipients\s+4 of 7 sendable rows \(3 already done in {results}\)", stdout)
    assert len(sandbox.ledger()) == 3


# Exit statuses and summaries -----------------------------------------------------------------


def test_json_summary_parses_and_matches_the_results_file(tmp_path, make_sandbox) -> None:
    sandbox = make_sandbox()
    rows = people(9) + [("not a phone", "X", "A-x", "https://img.example.com/a.png")]
    write_sheet(tmp_path / "people.csv", rows)
    campaign_path = write_campaign(tmp_path, sandbox)
    result = invoke(["send", str(campaign_path), "--yes", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # human text went to stderr
    recorded = results_of(tmp_path)
    assert summary["counts"] == dict(Counter(r.outcome.value for r in recorded.values()))
    assert summary["counts"] == {"sent": 9, "invalid": 1}
    assert (summary["sent_this_run"], summary["exit_status"]) == (9, 0)
    assert summary["results_path"] == str(tmp_path / "out" / "results.csv")
    assert_sent_rows_match_the_ledger(sandbox, recorded)


@pytest.mark.parametrize(
    ("faults", "extra", "outcome"),
    [
        ({"error_share": 0.5}, "max_attempts: 1\n", Outcome.FAILED),
        (
            {"slow_answer_share": 0.5, "slow_answer_delay_s": 1.0},
            "timeout: 300ms\n",
            Outcome.UNCERTAIN,
        ),
    ],
)
def test_exit_4_when_rows_fail_or_are_uncertain(
    tmp_path: Path, make_sandbox, faults: dict[str, float], extra: str, outcome: Outcome
) -> None:
    """SMS: no template fetch, so every fault lands on a send."""
    sandbox = make_sandbox(seed=3, **faults)
    campaign_path = make_campaign(tmp_path, sandbox, rows=12, channel=Channel.SMS, extra=extra)
    result = invoke(["send", str(campaign_path), "--yes"], key=DEMO_KEYS[Channel.SMS])
    assert result.exit_code == 4, result.output
    assert "some rows are failed or uncertain: run send again later" in result.stdout
    recorded = results_of(tmp_path)
    troubled = {phone for phone, r in recorded.items() if r.outcome is outcome}
    assert troubled
    assert set(Counter(r.outcome for r in recorded.values())) <= {Outcome.SENT, outcome}
    ledger = set(ledger_phones(sandbox))
    # A 5xx was not processed; a slow answer was, so the uncertain rows did arrive.
    assert troubled & ledger == (troubled if outcome is Outcome.UNCERTAIN else set())
    sent = {phone: r.message_id for phone, r in recorded.items() if r.outcome is Outcome.SENT}
    ids = {entry.phone: str(entry.message_id) for entry in sandbox.ledger()}
    assert sent == {phone: ids[phone] for phone in sent}
    assert len(ledger) == len(ledger_phones(sandbox))


def test_uncertain_rows_are_sent_again_only_with_resend_uncertain(tmp_path, make_sandbox) -> None:
    """The flag's risk, shown in the ledger: an uncertain row that had arrived arrives twice."""
    sandbox = make_sandbox(seed=3, slow_answer_share=0.5, slow_answer_delay_s=1.0)
    campaign_path = make_campaign(
        tmp_path, sandbox, rows=12, channel=Channel.SMS, extra="timeout: 300ms\n"
    )
    args = ["send", str(campaign_path), "--yes"]
    assert invoke(args, key=DEMO_KEYS[Channel.SMS]).exit_code == 4
    uncertain = {p for p, r in results_of(tmp_path).items() if r.outcome is Outcome.UNCERTAIN}
    assert uncertain
    sandbox.clear_faults()
    again = invoke(args, key=DEMO_KEYS[Channel.SMS])
    assert again.exit_code == 4 and re.search(r"sent now\s+0\n", again.stdout)
    assert len(ledger_phones(sandbox)) == 12
    resent = invoke([*args, "--resend-uncertain"], key=DEMO_KEYS[Channel.SMS])
    assert resent.exit_code == 0, resent.output
    twice = {phone for phone, times in Counter(ledger_phones(sandbox)).items() if times == 2}
    assert twice == uncertain
    assert {r.outcome for r in results_of(tmp_path).values()} == {Outcome.SENT}


@pytest.mark.parametrize("channel", list(Channel))
def test_exit_3_when_the_api_refuses_the_key(tmp_path, make_sandbox, channel: Channel) -> None:
    """Template channels learn it from the template fetch, SMS from its first sends."""
    sandbox = make_sandbox()
    campaign_path = make_campaign(
        tmp_path, sandbox, rows=8, channel=channel, extra="concurrency: 2\n"
    )
    result = invoke(["send", str(campaign_path), "--yes"], key=DEPRECATED_KEYS[channel])
    assert result.exit_code == 3, result.output
    assert f"error: The {channel.value} API key was rotated or revoked." in result.stderr
    assert f"into the environment variable {KEY_ENV}, then run send again" in result.stderr
    assert "template does not fit" not in result.output
    assert posts(sandbox) <= (0 if channel.uses_template else 2)  # at most `concurrency`
    assert sandbox.ledger() == []
    if not channel.uses_template:
        recorded = results_of(tmp_path)  # refused, so not sent: the next run sends them
        assert {r.outcome for r in recorded.values()} == {Outcome.FAILED}
        assert len(recorded) == posts(sandbox)


def test_exit_2_for_an_unknown_column(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=5)
    text = campaign_path.read_text(encoding="utf-8")
    campaign_path.write_text(text.replace("body: [Name, Order]", "body: [Name, Ordr]"))
    result = invoke(["send", str(campaign_path), "--yes"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {campaign_path}, line ")
    assert "Ordr" in result.stderr and "Order" in result.stderr
    assert posts(sandbox) == 0
    assert not (tmp_path / "out" / "results.csv").exists()


def test_dry_run_sends_nothing_and_leaves_the_results_file_alone(tmp_path, make_sandbox) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=10)
    assert invoke(["send", str(campaign_path), "--yes", "--limit", "4"]).exit_code == 0
    results_path = tmp_path / "out" / "results.csv"
    before = results_path.read_bytes()
    result = invoke(["send", str(campaign_path), "--dry-run"])  # no --yes needed: nothing goes
    assert result.exit_code == 0, result.output
    assert "dry run: nothing was sent" in result.stdout
    assert re.search(r"would send\s+6\n", result.stdout)
    assert results_path.read_bytes() == before
    assert posts(sandbox) == 4 and len(sandbox.ledger()) == 4


def test_dry_run_of_a_new_campaign_writes_no_results_file(tmp_path, make_sandbox) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=6)
    result = invoke(["send", str(campaign_path), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows_this_run"] == 6
    assert posts(sandbox) == 0 and sandbox.ledger() == []
    assert not (tmp_path / "out" / "results.csv").exists()


def test_limit_5_sends_exactly_5(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=12)
    result = invoke(["send", str(campaign_path), "--yes", "--limit", "5"])
    assert result.exit_code == 0, result.output
    assert "left for later (--limit) 7: run send again" in result.stdout
    assert len(sandbox.ledger()) == 5 and posts(sandbox) == 5
    recorded = results_of(tmp_path)
    assert len(recorded) == 5
    assert_sent_rows_match_the_ledger(sandbox, recorded)
    assert invoke(["send", str(campaign_path), "--yes", "--limit", "5"]).exit_code == 0
    assert sorted(ledger_phones(sandbox)) == [row[0] for row in people(10)]


def test_limit_0_announces_and_sends_nothing(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=3)
    result = invoke(["send", str(campaign_path), "--yes", "--limit", "0"])
    assert result.exit_code == 0, result.output
    assert "sending 0 row(s)" in result.stderr.splitlines()
    assert posts(sandbox) == 0


# What reaches the screen and the disk --------------------------------------------------------


def test_the_api_key_appears_in_no_output_and_no_file(tmp_path: Path, make_sandbox) -> None:
    """Sent, failed, uncertain, invalid and a refused key, with debug logging on."""
    sandbox = make_sandbox(
        keys=KEYS,
        deprecated_keys={SECRET_DEPRECATED_KEY: Channel.SMS},
        seed=5,
        error_share=0.2,
        slow_answer_share=0.2,
        slow_answer_delay_s=1.0,
    )
    rows = people(10) + [("not a phone", "X", "A-x", "")]
    write_sheet(tmp_path / "people.csv", rows)
    extra = "max_attempts: 1\ntimeout: 300ms\n"
    campaign_path = write_campaign(tmp_path, sandbox, channel=Channel.SMS, extra=extra)
    outputs = []
    for key, status in ((SECRET_KEY, 4), (SECRET_DEPRECATED_KEY, 3)):
        process = start_send(campaign_path, "--yes", key=key, verbose=True)
        returncode, stdout, stderr = finish(process)
        assert returncode == status, stderr
        outputs += [stdout, stderr]
    outcomes = {r.outcome for r in results_of(tmp_path).values()}
    assert {Outcome.SENT, Outcome.FAILED, Outcome.UNCERTAIN, Outcome.INVALID} <= outcomes
    files = [path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()]
    assert (tmp_path / "out" / "results.rejects.csv").exists()
    for secret in (SECRET_KEY, SECRET_DEPRECATED_KEY):
        assert [text for text in outputs if secret in text] == []
        assert [blob for blob in files if secret.encode() in blob] == []


def test_without_a_terminal_progress_is_plain_log_lines(tmp_path, make_sandbox) -> None:
    """A cron job's log: a line every few seconds, never a bar redrawn with carriage returns."""
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=28, channel=Channel.SMS, rate="4/s")
    returncode, stdout, stderr = finish(
        start_send(campaign_path, "--yes", key=DEMO_KEYS[Channel.SMS])
    )
    assert returncode == 0, stderr
    assert "\r" not in stdout + stderr
    lines = stderr.splitlines()
    assert "sending 28 row(s)" in lines
    assert [line for line in lines if re.fullmatch(r"\d+/28 rows, [\d.]+/s \(sent \d+\)", line)]
    assert len(sandbox.ledger()) == 28


def read_all(descriptor: int, into: list[bytes]) -> None:
    """Collect what a pty's child side writes until it is closed (EIO on Linux)."""
    while True:
        try:
            chunk = os.read(descriptor, 4096)
        except OSError:
            return
        if not chunk:
            return
        into.append(chunk)


def send_on_a_terminal(campaign_path: Path, *, columns: int) -> tuple[int, str, str]:
    """Run send with stderr on a pty of ``columns`` columns; (status, stdout, what stderr drew)."""
    terminal, child_end = os.openpty()
    fcntl.ioctl(child_end, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    chunks: list[bytes] = []
    reader = threading.Thread(target=read_all, args=(terminal, chunks), daemon=True)
    try:
        process = start_send(campaign_path, "--yes", stderr=child_end)
        os.close(child_end)
        reader.start()
        returncode, stdout, _ = finish(process)
        reader.join(timeout=WAIT_S)
    finally:
        os.close(terminal)
    return returncode, stdout, b"".join(chunks).decode("utf-8", "replace")


def test_on_a_terminal_progress_is_a_bar_with_live_counts(tmp_path, make_sandbox) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=20, rate="40/s")
    returncode, stdout, shown = send_on_a_terminal(campaign_path, columns=120)
    assert returncode == 0, shown
    assert "\r" in shown.replace("\r\n", "") and "20/20" in shown and "sent=20" in shown
    assert "\r" not in stdout  # the summary stays plain text
    assert len(sandbox.ledger()) == 20


def test_on_a_terminal_without_a_width_progress_is_log_lines(tmp_path, make_sandbox) -> None:
    """A pty nobody sized (0 columns, as on some CI runners): tqdm would draw nothing."""
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=5, rate="40/s")
    returncode, _, shown = send_on_a_terminal(campaign_path, columns=0)
    assert returncode == 0, shown
    assert "sending 5 row(s)" in shown.splitlines()
    assert len(sandbox.ledger()) == 5


@pytest.mark.parametrize("text", ["fast", "0/s", "10/day"])
def test_a_bad_rate_option_is_one_clear_error(tmp_path: Path, make_sandbox, text: str) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=2)
    result = invoke(["send", str(campaign_path), "--yes", "--rate", text])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: --rate must look like 10/s, not {text!r}\n"
        "  Write a count per second, minute or hour: 10/s, 300/min or 5000/h.\n"
    )
    assert posts(sandbox) == 0
