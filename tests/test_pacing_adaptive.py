"""The adaptive rate after 429s: the pure policy with plain numbers, then a Pacer on a fake clock
against the sandbox's own rate limiter (no HTTP, no sleeping), so whole runs replay exactly."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulksend.campaign import Rate
from bulksend.pacing import (
    BACKOFF_FRACTION,
    LIMIT_MEMORY_S,
    RECOVERY_PER_S,
    SETTLE_FRACTION,
    AdaptiveRate,
    Pacer,
    achieved_rate_per_s,
)
from bulksend.sandbox.ratelimit import RateLimiter
from tests.test_pacing import FakeTime, max_in_any_window


def test_achieved_rate_counts_the_last_period_less_the_refused_request() -> None:
    times = [0.125 * n for n in range(25)]  # 8/s for 3 s: nine grants in [2, 3], one refused
    assert achieved_rate_per_s(times, now=3.0, period_s=1.0) == pytest.approx(8.0)


def test_achieved_rate_since_a_pause_is_over_the_time_since_it() -> None:
    times = [0.0, 0.1, 5.0, 5.25, 5.5]
    assert achieved_rate_per_s(times, now=5.5, period_s=1.0, since=5.0) == pytest.approx(4.0)


@pytest.mark.parametrize("times", [[], [3.0], [0.0, 0.5]])
def test_achieved_rate_is_unknown_without_an_accepted_grant(times: list[float]) -> None:
    assert achieved_rate_per_s(times, now=3.0, period_s=1.0) is None


def test_a_429_remembers_what_went_through_and_drops_below_it() -> None:
    rate = AdaptiveRate.starting(30.0, 3.0).after_429(10.0, 20.0, period_s=1.0)
    assert rate.limit_estimate_per_s == 20.0
    assert rate.current_per_s == pytest.approx(20.0 * BACKOFF_FRACTION)
    assert rate.target_per_s(11.0) == pytest.approx(20.0 * SETTLE_FRACTION)


def test_a_burst_of_429s_counts_once() -> None:
    once = AdaptiveRate.starting(30.0, 3.0).after_429(10.0, 20.0, period_s=1.0)
    assert once.after_429(10.5, 5.0, period_s=1.0) is once
    assert once.after_429(11.0, 15.0, period_s=1.0).limit_estimate_per_s == 15.0


def test_the_estimate_stays_within_floor_and_ceiling() -> None:
    start = AdaptiveRate.starting(30.0, 3.0)
    assert start.after_429(0.0, 500.0, period_s=1.0).limit_estimate_per_s == 30.0
    assert start.after_429(0.0, 0.5, period_s=1.0).current_per_s == 3.0


def test_climbing_takes_the_estimate_percent_per_second_to_its_settling_point() -> None:
    rate = AdaptiveRate.starting(30.0, 3.0).after_429(0.0, 20.0, period_s=1.0)
    moments = [0.5 * n for n in range(1, 41)]  # twenty seconds of successes
    for moment in moments[:10]:
        rate = rate.after_success(moment)
    assert rate.current_per_s == pytest.approx(16.0 + 20.0 * RECOVERY_PER_S * 5.0)
    for moment in moments[10:]:
        rate = rate.after_success(moment)
    assert rate.current_per_s == pytest.approx(18.0)


def test_the_estimate_is_forgotten_after_a_long_quiet_spell() -> None:
    rate = AdaptiveRate.starting(30.0, 3.0).after_429(0.0, 20.0, period_s=1.0)
    assert rate.remembered_limit(LIMIT_MEMORY_S - 1) == 20.0
    assert rate.remembered_limit(LIMIT_MEMORY_S) is None
    assert rate.target_per_s(LIMIT_MEMORY_S) == 30.0


@given(
    events=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=50.0),
            st.one_of(st.none(), st.floats(min_value=0.0, max_value=1000.0)),
            st.booleans(),
        ),
        max_size=60,
    )
)
def test_the_rate_stays_between_floor_and_ceiling_and_under_a_remembered_limit(
    events: list[tuple[float, float | None, bool]],
) -> None:
    rate, now = AdaptiveRate.starting(30.0, 3.0), 0.0
    for gap, achieved, limited in events:
        now += gap
        rate = rate.after_429(now, achieved, period_s=1.0) if limited else rate.after_success(now)
        assert 3.0 <= rate.current_per_s <= 30.0
        remembered = rate.remembered_limit(now)
        if remembered is not None:
            assert rate.current_per_s <= max(3.0, remembered * SETTLE_FRACTION) + 1e-9


def run_against_limiter(
    rate: Rate, server_limit: tuple[int, float], seconds: float
) -> tuple[list[float], list[float]]:
    """A pacer-driven sender against the sandbox's limiter: (refusal times, accepted times).

    Each 429 pauses as the engine does: until the named second has passed, plus half a second of
    jitter. Time moves only when the pacer waits, so the run is the same every time.
    """
    fake = FakeTime()
    pacer = Pacer(rate, clock=fake.clock, wait=fake.wait)
    server = RateLimiter(server_limit)
    refused: list[float] = []
    accepted: list[float] = []
    for _ in range(math.ceil(seconds * rate.count / rate.period_s) + 1):
        assert pacer.acquire()
        if fake.now >= seconds:
            break
        verdict = server.check("key", fake.now)
        if verdict.allowed:
            accepted.append(fake.now)
            pacer.note_success()
        else:
            refused.append(fake.now)
            pacer.note_rate_limited()
            assert verdict.retry_after is not None
            pacer.pause_until(verdict.retry_after + 1.0 + 0.5)
    return refused, accepted


@pytest.mark.parametrize(
    ("rate", "server_limit"),
    [
        (Rate(30, 1.0), (20, 1.0)),
        (Rate(12, 1.0), (8, 1.0)),
        (Rate(200, 1.0), (50, 1.0)),
        (Rate(30, 60.0), (20, 60.0)),
    ],
)
def test_a_rate_set_too_high_settles_just_under_the_servers_limit(
    rate: Rate, server_limit: tuple[int, float]
) -> None:
    """One 429 in a 240 s run, then no 1 s window over the limit and most of it used."""
    seconds = 240.0
    refused, accepted = run_against_limiter(rate, server_limit, seconds)
    assert len(refused) == 1
    count, window_s = server_limit
    settled = [moment for moment in accepted if moment >= refused[0] + 3 * window_s]
    assert max_in_any_window(settled, window_s) <= count
    limit_per_s = count / window_s
    achieved_per_s = (len(settled) - 1) / (settled[-1] - settled[0])
    assert 0.8 * limit_per_s <= achieved_per_s < limit_per_s


def test_after_the_memory_expires_the_run_probes_once_and_settles_again() -> None:
    """Over ten minutes: one 429 at the start and one probe per LIMIT_MEMORY_S after it."""
    refused, _ = run_against_limiter(Rate(30, 1.0), (20, 1.0), 600.0)
    assert 2 <= len(refused) <= 1 + math.ceil(600.0 / LIMIT_MEMORY_S)
