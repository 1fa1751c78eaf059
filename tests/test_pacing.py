"""Pacer: ceiling, burst, 429 pause and adaptive rate, on a fake clock (no real sleeping)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulksend.campaign import Rate
from bulksend.errors import ConfigError
from bulksend.pacing import (
    BACKOFF_FRACTION,
    LIMIT_MEMORY_S,
    RECOVERY_PER_S,
    SETTLE_FRACTION,
    WINDOW_MARGIN,
    Pacer,
)


class FakeTime:
    """A clock that only moves when a caller waits; ``on_wait`` lets a test act mid-wait."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self.on_wait: Callable[[], None] | None = None

    def clock(self) -> float:
        return self.now

    def wait(self, event: threading.Event, timeout_s: float) -> bool:
        assert timeout_s > 0, "the pacer must never wait for nothing"
        self.waits.append(timeout_s)
        if self.on_wait is not None:
            hook, self.on_wait = self.on_wait, None
            hook()
        if event.is_set():
            return True
        self.now += timeout_s
        return event.is_set()


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def make_pacer(fake: FakeTime, count: int, period_s: float = 1.0, **kwargs: object) -> Pacer:
    return Pacer(Rate(count, period_s), clock=fake.clock, wait=fake.wait, **kwargs)  # type: ignore[arg-type]


def grant_times(pacer: Pacer, fake: FakeTime, n: int) -> list[float]:
    times = []
    for _ in range(n):
        assert pacer.acquire()
        times.append(fake.now)
    return times


def max_in_any_window(times: list[float], window_s: float) -> int:
    """The most grants inside any half-open window [t, t + window_s)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_burst_one_spaces_grants_evenly(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 10)
    times = grant_times(pacer, fake, 25)
    assert times[0] == 0.0
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps == pytest.approx([(1 + WINDOW_MARGIN) / 10] * 24)


def test_burst_n_lets_n_go_at_once_then_spaces(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 10, burst=4)
    times = grant_times(pacer, fake, 6)
    assert times[:4] == [0.0] * 4
    assert times[4] == pytest.approx((1 + WINDOW_MARGIN) / 10)
    assert times[5] == pytest.approx(2 * (1 + WINDOW_MARGIN) / 10)


def test_burst_refills_after_a_quiet_spell(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 10, burst=3)
    grant_times(pacer, fake, 3)
    fake.now += 5.0
    assert grant_times(pacer, fake, 3) == [5.0] * 3


def test_window_caps_a_burst_larger_than_the_rate(fake: FakeTime) -> None:
    """burst beyond rate.count never beats the sliding-window ceiling."""
    pacer = make_pacer(fake, 5, burst=50)
    times = grant_times(pacer, fake, 12)
    assert times[:5] == [0.0] * 5
    assert times[5] == pytest.approx(1.0 + WINDOW_MARGIN)
    assert max_in_any_window(times, 1.0) == 5


def test_per_minute_rate_holds_over_minutes(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 30, 60.0, burst=30)
    times = grant_times(pacer, fake, 100)
    assert max_in_any_window(times, 60.0) == 30


Action = tuple[str, float]
actions = st.lists(
    st.one_of(
        st.tuples(st.just("acquire"), st.floats(min_value=0.0, max_value=1.5)),
        st.tuples(st.just("pause"), st.floats(min_value=-1.0, max_value=3.0)),
        st.tuples(st.just("limited"), st.just(0.0)),
        st.tuples(st.just("success"), st.floats(min_value=0.0, max_value=2.0)),
    ),
    min_size=1,
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=25),
    period_s=st.sampled_from([0.25, 1.0, 2.0, 60.0]),
    burst=st.integers(min_value=1, max_value=40),
    script=actions,
)
def test_no_window_ever_holds_more_than_the_ceiling(
    count: int, period_s: float, burst: int, script: list[Action]
) -> None:
    fake = FakeTime()
    pacer = make_pacer(fake, count, period_s, burst=burst)
    times: list[float] = []
    pause_ends: list[tuple[float, float]] = []
    for name, value in script:
        if name == "acquire":
            fake.now += value
            assert pacer.acquire()
            times.append(fake.now)
        elif name == "pause":
            pacer.pause_until(fake.now + value)
            pause_ends.append((fake.now, fake.now + value))
        elif name == "limited":
            pacer.note_rate_limited()
        else:
            fake.now += value
            pacer.note_success()
    assert max_in_any_window(times, period_s * (1 + WINDOW_MARGIN) - 1e-9) <= count
    for set_at, deadline in pause_ends:
        assert not any(set_at < t < deadline for t in times), "a grant fell inside a pause"


@settings(max_examples=100, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=50),
    burst=st.integers(min_value=1, max_value=10),
    gaps=st.lists(st.floats(min_value=0.0, max_value=0.5), min_size=1, max_size=80),
)
def test_token_bucket_never_exceeds_burst_plus_refill(
    count: int, burst: int, gaps: list[float]
) -> None:
    """Over any span, grants <= burst + span * rate: the bucket's promise."""
    fake = FakeTime()
    pacer = make_pacer(fake, count, burst=burst)
    times = []
    for gap in gaps:
        fake.now += gap
        assert pacer.acquire()
        times.append(fake.now)
    interval_s = (1 + WINDOW_MARGIN) / count
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            allowed = burst + (times[j] - start) / interval_s + 1e-6
            assert j - i + 1 <= allowed


def test_pause_holds_every_caller_until_the_deadline(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 100, burst=10)
    pacer.pause_until(7.5)
    assert grant_times(pacer, fake, 3)[0] == 7.5


def test_an_earlier_pause_never_shortens_a_later_one(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 100)
    pacer.pause_until(10.0)
    pacer.pause_until(4.0)
    assert grant_times(pacer, fake, 1) == [10.0]


def test_a_later_pause_extends_the_current_one(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 100)
    pacer.pause_until(4.0)
    pacer.pause_until(9.0)
    assert grant_times(pacer, fake, 1) == [9.0]


def test_pause_set_while_waiting_voids_the_reservation(fake: FakeTime) -> None:
    """A 429 seen by another worker while this one waits for its slot holds this one too."""
    pacer = make_pacer(fake, 1, 10.0)
    assert grant_times(pacer, fake, 1) == [0.0]
    fake.on_wait = lambda: pacer.pause_until(30.0)  # another thread, mid-wait
    assert grant_times(pacer, fake, 1) == [30.0]


def test_rate_limited_cuts_the_rate_once_per_period(fake: FakeTime) -> None:
    """With no grants to measure, the current rate is taken as the one refused."""
    pacer = make_pacer(fake, 10)
    pacer.note_rate_limited()
    pacer.note_rate_limited()  # the same burst of 429s
    assert pacer.current_rate_per_s == pytest.approx(10 * BACKOFF_FRACTION)
    fake.now += 1.0
    pacer.note_rate_limited()
    assert pacer.current_rate_per_s == pytest.approx(10 * BACKOFF_FRACTION**2)


def test_rate_never_falls_below_the_floor(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 10, min_rate_fraction=0.25)
    for _ in range(20):
        pacer.note_rate_limited()
        fake.now += 1.0
    assert pacer.current_rate_per_s == pytest.approx(2.5)


def test_grants_are_spaced_at_the_cut_rate(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 10)
    pacer.note_rate_limited()
    times = grant_times(pacer, fake, 3)
    assert times[2] - times[1] == pytest.approx((1 + WINDOW_MARGIN) / 8.0)


def test_the_limit_estimate_is_the_rate_that_went_through(fake: FakeTime) -> None:
    """30/s against a server taking 20 per second: the 21st is refused, 20/s is remembered."""
    pacer = make_pacer(fake, 30)
    grant_times(pacer, fake, 21)
    pacer.note_rate_limited()
    assert pacer.limit_estimate_per_s == pytest.approx(20.0)
    assert pacer.current_rate_per_s == pytest.approx(20.0 * BACKOFF_FRACTION)


def test_successes_climb_slowly_and_settle_under_the_estimate(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 30)
    grant_times(pacer, fake, 21)
    pacer.note_rate_limited()
    for _ in range(50):  # five seconds of successes: 1 % of the estimate per second
        fake.now += 0.1
        pacer.note_success()
    assert pacer.current_rate_per_s == pytest.approx(16.0 + 20 * RECOVERY_PER_S * 5.0)
    for _ in range(2000):  # minutes more: never past 90 % of what the server refused
        fake.now += 0.1
        pacer.note_success()
    assert pacer.current_rate_per_s == pytest.approx(20.0 * SETTLE_FRACTION)


def test_a_long_quiet_spell_lets_the_rate_probe_up_to_the_ceiling(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 30)
    grant_times(pacer, fake, 21)
    pacer.note_rate_limited()
    steps = int((LIMIT_MEMORY_S + 120) / 0.5)
    for _ in range(steps):
        fake.now += 0.5
        pacer.note_success()
    assert pacer.limit_estimate_per_s is None
    assert pacer.current_rate_per_s == 30.0


def test_a_later_429_never_raises_the_estimate(fake: FakeTime) -> None:
    """Even if more seemed to go through (a burst), the lower of the two refusals stands."""
    pacer = make_pacer(fake, 30, burst=30)
    grant_times(pacer, fake, 11)
    pacer.note_rate_limited()
    assert pacer.limit_estimate_per_s == pytest.approx(10.0)
    fake.now += 5.0
    grant_times(pacer, fake, 8)  # the cut window lets 8 of a 30 burst through at once
    pacer.note_rate_limited()
    assert pacer.limit_estimate_per_s == pytest.approx(7.0)


def test_a_429_answered_during_a_pause_changes_nothing(fake: FakeTime) -> None:
    """It answers a request sent before the pause: part of the burst that caused it."""
    pacer = make_pacer(fake, 10)
    pacer.pause_until(5.0)
    pacer.note_rate_limited()
    assert pacer.current_rate_per_s == 10.0 and pacer.limit_estimate_per_s is None


def test_a_429_soon_after_a_pause_measures_the_rate_since_the_pause(fake: FakeTime) -> None:
    """Three grants in the last second, all since the pause: the rate they went at (16/s), not
    3 per second, is what the server refused."""
    pacer = make_pacer(fake, 30)
    grant_times(pacer, fake, 21)
    pacer.note_rate_limited()  # 20/s remembered, 16/s now
    pacer.pause_until(fake.now + 2.0)
    grant_times(pacer, fake, 3)
    pacer.note_rate_limited()
    assert pacer.limit_estimate_per_s == pytest.approx(16.0 / (1 + WINDOW_MARGIN))


def test_an_idle_gap_earns_at_most_one_second_of_recovery(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 10)
    pacer.note_rate_limited()
    fake.now += 60.0
    pacer.note_success()
    assert pacer.current_rate_per_s == pytest.approx(8.0 + 10 * RECOVERY_PER_S)


def test_success_at_the_ceiling_changes_nothing(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 10)
    pacer.note_success()
    fake.now += 5
    pacer.note_success()
    assert pacer.current_rate_per_s == 10.0


def test_the_window_ceiling_follows_a_cut_rate(fake: FakeTime) -> None:
    """A large burst cannot overshoot a cut: the window then holds the cut rate's count."""
    pacer = make_pacer(fake, 30, burst=30)
    grant_times(pacer, fake, 21)
    pacer.note_rate_limited()  # 16/s
    fake.now += 10.0
    times = grant_times(pacer, fake, 40)
    assert max_in_any_window(times, 1.0) == 16


def test_set_cancel_returns_false_without_waiting(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 1)
    cancel = threading.Event()
    cancel.set()
    assert pacer.acquire(cancel=cancel) is False
    assert fake.now == 0.0 and fake.waits == []


def test_cancel_during_a_wait_returns_false(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 100)
    pacer.pause_until(50.0)
    cancel = threading.Event()
    fake.on_wait = cancel.set
    assert pacer.acquire(cancel=cancel) is False
    assert fake.now == 0.0


def test_timeout_gives_up_at_once_when_no_slot_fits(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 100)
    pacer.pause_until(50.0)
    assert pacer.acquire(timeout_s=5.0) is False
    assert fake.now == 0.0
    assert pacer.acquire(timeout_s=60.0) is True
    assert fake.now == 50.0


def test_wait_is_computed_not_polled(fake: FakeTime) -> None:
    """One wait per grant, of exactly the time left: no busy loop."""
    pacer = make_pacer(fake, 4)
    grant_times(pacer, fake, 5)
    assert fake.waits == pytest.approx([(1 + WINDOW_MARGIN) / 4] * 4)


def test_repr_shows_live_state(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 10, burst=2)
    pacer.note_rate_limited()
    grant_times(pacer, fake, 2)
    pacer.pause_until(3.0)
    text = repr(pacer)
    assert "ceiling=10/1s" in text and "burst=2" in text
    assert "current=8/s" in text and "limit_estimate=10/s" in text
    assert "in_window=2" in text and "paused_for=3.000s" in text


@pytest.mark.parametrize(
    ("rate", "kwargs", "message"),
    [
        (Rate(0, 1.0), {}, "rate must be"),
        (Rate(5, 0.0), {}, "rate must be"),
        (Rate(5, 1.0), {"burst": 0}, "burst must be"),
        (Rate(5, 1.0), {"min_rate_fraction": 0.0}, "min_rate_fraction"),
    ],
)
def test_bad_settings_are_refused(rate: Rate, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Pacer(rate, **kwargs)  # type: ignore[arg-type]


def test_real_threads_share_one_budget() -> None:
    """4 threads, 40 grants at 100/s: no 1 s window over the ceiling, none ahead of schedule."""
    pacer = Pacer(Rate(100, 1.0))
    times: list[float] = []
    times_lock = threading.Lock()
    start = time.monotonic()

    def worker() -> None:
        for _ in range(10):
            assert pacer.acquire(timeout_s=5.0)
            with times_lock:
                times.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10.0)
    assert not any(thread.is_alive() for thread in threads)
    assert len(times) == 40
    assert max_in_any_window(times, 1.0) <= 100
    # Each recorded time is at or after its slot, so the k-th earliest is no earlier than slot k.
    interval_s = (1 + WINDOW_MARGIN) / 100
    for k, moment in enumerate(sorted(times)):
        assert moment - start >= k * interval_s - 1e-3


def test_real_cancel_wakes_a_paused_waiter_promptly() -> None:
    pacer = Pacer(Rate(10, 1.0))
    pacer.pause_until(time.monotonic() + 120.0)
    cancel = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(pacer.acquire(cancel=cancel)))
    waiter.start()
    cancel.set()
    waiter.join(timeout=5.0)
    assert not waiter.is_alive()
    assert result == [False]


def test_grants_made_while_the_refused_request_was_in_flight_do_not_count(
    fake: FakeTime,
) -> None:
    """Refused after 21 grants, answered 0.2 s (6 grants) later: 20/s is the estimate."""
    pacer = make_pacer(fake, 30)
    grant_times(pacer, fake, 21)
    grant_times(pacer, fake, 6)
    pacer.note_rate_limited(latency_s=0.2)
    assert pacer.limit_estimate_per_s == pytest.approx(20.0)


def test_a_429_to_a_request_sent_before_a_pause_changes_nothing(fake: FakeTime) -> None:
    pacer = make_pacer(fake, 10)
    pacer.pause_until(2.0)
    grant_times(pacer, fake, 3)
    pacer.note_rate_limited(latency_s=1.0)  # it left at 1.2 s, inside the pause's burst
    assert pacer.current_rate_per_s == 10.0
