"""The per-key rate limit: the pure limiter with plain numbers, then the 429 over HTTP."""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable

import requests
from hypothesis import given
from hypothesis import strategies as st

from bulksend.channels import Channel
from bulksend.sandbox import DEMO_KEYS, Sandbox
from bulksend.sandbox.ratelimit import RateLimiter, RateVerdict
from tests.conftest import ManualClock, SandboxClient

PHONE = "+447700900123"
SMS = {"destination_phone": PHONE, "body": "hi"}
TRY_AFTER = re.compile(
    r"^You have fired too many requests\. Please try after "
    r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC\.$"
)


def named_epoch(message: str) -> float:
    match = TRY_AFTER.match(message)
    assert match, message
    return float(calendar.timegm(time.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")))


def test_allows_n_per_window_then_names_the_rounded_up_second() -> None:
    limiter = RateLimiter((3, 1.0))
    assert [limiter.check("k", 100.2 + i * 0.1).allowed for i in range(3)] == [True] * 3
    verdict = limiter.check("k", 100.5)
    assert verdict == RateVerdict(allowed=False, retry_after=102.0)


def test_the_named_second_itself_is_still_blocked() -> None:
    limiter = RateLimiter((1, 1.0))
    limiter.check("k", 100.2)
    assert limiter.check("k", 100.3).retry_after == 102.0
    assert not limiter.check("k", 102.0).allowed
    assert not limiter.check("k", 102.99).allowed
    assert limiter.check("k", 103.0).allowed


def test_refused_requests_do_not_count_and_keys_are_separate() -> None:
    limiter = RateLimiter((2, 10.0))
    assert limiter.check("a", 0.5).allowed and limiter.check("a", 0.6).allowed
    assert not any(limiter.check("a", 0.7 + i).allowed for i in range(5))
    assert limiter.check("b", 1.0).allowed
    assert limiter.check("a", 12.0).allowed


def test_no_limit_allows_everything() -> None:
    limiter = RateLimiter(None)
    assert all(limiter.check("k", t / 1000).allowed for t in range(1000))


def test_message_has_the_documented_form() -> None:
    moment = calendar.timegm((2026, 4, 24, 12, 34, 56, 0, 0, 0))
    verdict = RateVerdict(allowed=False, retry_after=float(moment))
    assert verdict.message == (
        "You have fired too many requests. Please try after 2026-04-24 12:34:56 UTC."
    )


@given(
    count=st.integers(min_value=1, max_value=5),
    window_s=st.sampled_from([0.5, 1.0, 2.0]),
    gaps=st.lists(st.floats(min_value=0.0, max_value=0.7), min_size=1, max_size=60),
)
def test_never_more_than_n_in_any_window(count: int, window_s: float, gaps: list[float]) -> None:
    limiter = RateLimiter((count, window_s))
    now, allowed = 1000.0, []
    for gap in gaps:
        now += gap
        verdict = limiter.check("k", now)
        if verdict.allowed:
            allowed.append(now)
        else:
            assert verdict.retry_after is not None and verdict.retry_after >= now - 1
    for index, moment in enumerate(allowed):
        in_window = [t for t in allowed[: index + 1] if t > moment - window_s]
        assert len(in_window) <= count


def test_429_body_and_block_over_http(
    make_sandbox: Callable[..., Sandbox], manual_clock: ManualClock, http: requests.Session
) -> None:
    sandbox = make_sandbox(rate_limit=(3, 1.0), clock=manual_clock)
    client = SandboxClient(http, sandbox)
    assert [client.post("sms/messages", SMS).status_code for _ in range(3)] == [201] * 3
    refused = client.post("sms/messages", SMS)
    assert refused.status_code == 429
    assert set(refused.json()) == {"message"}
    named = named_epoch(refused.json()["message"])
    assert named == float(int(manual_clock()) + 1 + 1)  # ceil(now + 1 s) for a start at .25
    manual_clock.set(named + 0.5)
    assert client.post("sms/messages", SMS).status_code == 429
    assert client.get("sms/messages/5100001").status_code == 429
    assert len(sandbox.ledger()) == 3
    manual_clock.set(named + 1.0)
    assert client.post("sms/messages", SMS).status_code == 201
    assert len(sandbox.ledger()) == 4


def test_nothing_is_processed_during_a_block(
    make_sandbox: Callable[..., Sandbox], manual_clock: ManualClock, http: requests.Session
) -> None:
    """The request log proves every request inside the block got 429 and made no message."""
    sandbox = make_sandbox(rate_limit=(2, 1.0), clock=manual_clock)
    client = SandboxClient(http, sandbox)
    statuses = []
    for _ in range(8):
        statuses.append(client.post("sms/messages", SMS).status_code)
        manual_clock.advance(0.2)
    log = sandbox.requests()
    first_429 = next(r for r in log if r.status == 429)
    named = named_epoch(client.post("sms/messages", SMS).json()["message"])
    blocked = [r for r in log if first_429.received_at <= r.received_at < named + 1]
    assert blocked and all(r.status == 429 and r.message_id is None for r in blocked)
    assert statuses[:2] == [201, 201] and 429 in statuses


def test_listing_and_status_share_the_send_budget(
    make_sandbox: Callable[..., Sandbox], manual_clock: ManualClock, http: requests.Session
) -> None:
    sandbox = make_sandbox(rate_limit=(3, 10.0), clock=manual_clock)
    client = SandboxClient(http, sandbox)
    body = {"destination_phone": PHONE, "message_variables": ["a", "b"]}
    sent = client.post("whatsapp/templates/539/messages", body).json()
    assert client.get("whatsapp/messages").status_code == 200
    assert client.get(f"whatsapp/messages/{sent['message_id']}").status_code == 200
    assert client.post("whatsapp/templates/539/messages", body).status_code == 429
    assert client.get("whatsapp/templates").status_code == 429


def test_limits_are_per_key(
    make_sandbox: Callable[..., Sandbox], manual_clock: ManualClock, http: requests.Session
) -> None:
    keys = {
        DEMO_KEYS[Channel.WHATSAPP]: Channel.WHATSAPP,
        "second-whatsapp-key": Channel.WHATSAPP,
        DEMO_KEYS[Channel.SMS]: Channel.SMS,
    }
    sandbox = make_sandbox(rate_limit=(1, 5.0), clock=manual_clock, keys=keys)
    client = SandboxClient(http, sandbox)
    assert client.get("whatsapp/messages").status_code == 200
    assert client.get("whatsapp/messages").status_code == 429
    assert client.get("whatsapp/messages", key="second-whatsapp-key").status_code == 200
    assert client.post("sms/messages", SMS).status_code == 201


def test_rate_limit_can_change_while_running(
    make_sandbox: Callable[..., Sandbox], manual_clock: ManualClock, http: requests.Session
) -> None:
    sandbox = make_sandbox(clock=manual_clock)
    client = SandboxClient(http, sandbox)
    assert all(client.post("sms/messages", SMS).status_code == 201 for _ in range(5))
    sandbox.set_rate_limit((1, 1.0))
    manual_clock.advance(0.1)
    assert client.post("sms/messages", SMS).status_code == 201
    assert client.post("sms/messages", SMS).status_code == 429
    sandbox.set_rate_limit(None)
    assert client.post("sms/messages", SMS).status_code == 201
