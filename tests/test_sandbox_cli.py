"""`bulksend sandbox` as a real process, and its option parsing."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bulksend.channels import Channel
from bulksend.cli import main
from bulksend.errors import ConfigError
from bulksend.sandbox import DEMO_KEYS, Sandbox, parse_duration, parse_latency, parse_rate_limit

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0


class CliProcess:
    """``bulksend sandbox`` on a free port, its output pumped into a queue by a thread."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bulksend", "sandbox", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()
        self.banner = self._read_until("Ctrl-C")
        match = re.search(r"listening on (http://\S+/api/v1)", self.banner)
        if match is None:
            self.stop(signal.SIGKILL)
            raise AssertionError(f"bulksend sandbox did not start: {self.banner}")
        self.base_url = match.group(1)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def _read_until(self, marker: str) -> str:
        text, deadline = "", time.monotonic() + START_TIMEOUT_S
        while marker not in text and time.monotonic() < deadline:
            try:
                text += self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
        return text

    def stop(self, sig: signal.Signals = signal.SIGINT) -> tuple[int, str]:
        """Signal it, wait (bounded), and return its exit status and remaining output."""
        self.process.send_signal(sig)
        returncode = self.process.wait(15)
        self._pump.join(10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get_nowait())
        return returncode, "".join(rest)


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_cli_serves_until_interrupted(sig: signal.Signals, status: int) -> None:
    cli = CliProcess("--rate-limit", "none", "--seed", "4")
    try:
        answer = requests.post(
            f"{cli.base_url}/sms/messages",
            json={"destination_phone": "+447700900123", "body": "hi"},
            headers={"X-Octopods-Auth": DEMO_KEYS[Channel.SMS]},
            timeout=10,
        )
        assert answer.status_code == 201
        ledger = requests.get(cli.base_url.replace("/api/v1", "/_sandbox/ledger"), timeout=10)
        assert [entry["message_id"] for entry in ledger.json()] == [answer.json()["message_id"]]
    finally:
        returncode, output = cli.stop(sig)
    assert returncode == status
    assert "Traceback" not in output


def test_cli_prints_keys_and_settings() -> None:
    cli = CliProcess("--rate-limit", "5/2s", "--latency", "1ms-2ms")
    cli.stop()
    assert all(key in cli.banner for key in DEMO_KEYS.values())
    assert "rate limit 5 requests per 2s per key" in cli.banner
    assert "latency 0.001-0.002s" in cli.banner


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate-limit", "20"], "not a rate limit"),
        (["--latency", "80ms-20ms"], "from low to high"),
        (["--delivery-step", "soon"], "not a duration"),
        (["--failure-rate", "2"], "0.0<=x<=1.0"),
        (["--error-rate", "0.7", "--drop-rate", "0.7"], "must not exceed 1"),
    ],
)
def test_cli_rejects_bad_options(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["sandbox", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_reports_a_busy_port(sandbox: Sandbox) -> None:
    port = str(sandbox.port)
    result = CliRunner().invoke(main, ["sandbox", "--port", port])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("50ms", 0.05), ("2s", 2.0), ("1.5", 1.5), ("1m", 60.0), (" 10 ms ", 0.01), (".5s", 0.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("20/1s", (20, 1.0)),
        ("20/s", (20, 1.0)),
        ("600/1m", (600, 60.0)),
        ("none", None),
        ("off", None),
    ],
)
def test_parse_rate_limit(text: str, limit: tuple[int, float] | None) -> None:
    assert parse_rate_limit(text) == limit


@pytest.mark.parametrize("text", ["", "20", "/1s", "x/1s", "20/0s", "-1/1s", "20/soon"])
def test_parse_rate_limit_refuses(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_rate_limit(text)


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_parse_latency_range(low_ms: int, extra_ms: int) -> None:
    low, high = parse_latency(f"{low_ms}ms-{low_ms + extra_ms}ms")
    assert low == pytest.approx(low_ms / 1000) and high == pytest.approx((low_ms + extra_ms) / 1000)
    assert parse_latency(f"{low_ms}ms") == (low, low)
