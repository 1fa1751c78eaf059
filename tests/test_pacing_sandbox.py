"""A rate set above the server's limit, end to end: send_campaign against a rate-limited sandbox
over loopback, judged by the 429s in the sandbox's request log."""

from __future__ import annotations

from pathlib import Path

from bulksend.campaign import load_campaign
from bulksend.engine import send_campaign
from bulksend.results import Outcome
from tests.test_engine import environ, people, phone, write_campaign, write_sheet


def episodes(moments: list[float], *, gap_s: float = 1.0) -> int:
    """Bursts of 429s: the requests in flight when a block starts meet it together."""
    ordered = sorted(moments)
    return sum(1 for i, moment in enumerate(ordered) if i == 0 or moment - ordered[i - 1] > gap_s)


def test_a_rate_twice_the_servers_limit_meets_it_once_or_twice(tmp_path: Path, make_sandbox):
    """20/s against 10 per second, ~14 s: the run settles under the limit after the first 429
    (the old pacer climbed back to 20/s and met it every few seconds)."""
    sandbox = make_sandbox(rate_limit=(10, 1.0))
    write_sheet(tmp_path / "people.csv", people(100))
    campaign = load_campaign(write_campaign(tmp_path, sandbox, rate="20/s"))
    summary = send_campaign(campaign, environ=environ())
    posts = [record for record in sandbox.requests() if record.method == "POST"]
    refused = [record.received_at for record in posts if record.status == 429]
    assert 1 <= episodes(refused) <= 2
    assert summary.counts == {Outcome.SENT: 100}
    assert sorted(entry.phone for entry in sandbox.ledger()) == [phone(n) for n in range(100)]
