"""``Pacer``: the one place that decides when the next request may leave, shared by all workers.

Three rules hold together, all read from one injectable monotonic clock:

* **Ceiling.** Never more than ``rate.count`` grants in any window of ``rate.period_s`` seconds: a
  log of the recent grant times is kept, and a grant waits until the ``count``-th latest of them is
  more than ``period_s * (1 + margin)`` old. The margin (5 %: 50 ms of a 1 s window) absorbs the
  jitter between a grant and the request's arrival (network, a busy machine), so a window the
  server measures on arrival times holds too; 2 % proved too little on a loaded machine.
* **Burst.** A token bucket of capacity ``burst`` refilled at the current rate (run as GCRA: a
  "theoretical arrival time" instead of a token count). ``burst=1`` spaces grants evenly at
  ``1 / rate``; ``burst=N`` lets N leave at once after a quiet spell.
* **429.** ``pause_until`` holds every caller until a deadline. ``note_rate_limited`` measures the
  rate achieved over the last period, which the server has just refused, and hands it to
  ``AdaptiveRate``: the run drops to 80 % of it and climbs back to no more than 90 % of it, so a
  rate set above the server's limit settles just under that limit instead of meeting it again.
  The window ceiling follows the adapted rate, so a large ``burst`` cannot overshoot either.

Each ``acquire`` reserves the earliest slot the rules allow, then waits for exactly that long on the
caller's cancel event (no polling, no thundering herd: every waiter has its own slot). A pause or a
rate cut voids the reservations not yet due, and their holders reserve again.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bulksend.errors import ConfigError

if TYPE_CHECKING:
    from bulksend.campaign import Rate

WINDOW_MARGIN = 0.05
BACKOFF_FRACTION = 0.8  # after a 429: this share of the rate the server refused
SETTLE_FRACTION = 0.9  # the highest share of that rate the run climbs back to
RECOVERY_PER_S = 0.01  # share of the estimate (or ceiling) regained per second of successes
# A limit estimate is kept this long after the 429 that set it. With none since, the server may
# have raised its limit (or the 429 came from another user of the key): climb toward the ceiling.
LIMIT_MEMORY_S = 300.0

Wait = Callable[[threading.Event, float], bool]
NEVER = float("-inf")


def _event_wait(event: threading.Event, timeout_s: float) -> bool:
    return event.wait(timeout_s)


def achieved_rate_per_s(
    grant_times: Iterable[float], *, now: float, period_s: float, since: float = NEVER
) -> float | None:
    """The rate the server accepted up to ``now``: grants in the last period (or since ``since``,
    when later, e.g. the end of a pause) over that span, less the one it just refused.

    None when the span holds no accepted grant: a refusal then says nothing about the rate.
    """
    start = max(now - period_s, since)
    span_s = now - start
    accepted = sum(1 for moment in grant_times if start <= moment <= now) - 1
    if accepted < 1 or span_s <= 0:
        return None
    return accepted / span_s


@dataclass(frozen=True)
class AdaptiveRate:
    """The rate grants are spaced at; a pure policy over clock readings (``now`` in seconds).

    It starts at the configured ceiling. A 429 makes the rate achieved when it came the limit
    estimate (never above an estimate still remembered), drops the rate to ``BACKOFF_FRACTION``
    of it, and lets successes climb back at ``RECOVERY_PER_S`` of it per second up to
    ``SETTLE_FRACTION`` of it, never higher while it is remembered. ``LIMIT_MEMORY_S`` without a
    429 forgets it: the climb goes on, at 1 % of the ceiling per second, toward the ceiling.
    """

    ceiling_per_s: float
    floor_per_s: float
    current_per_s: float
    limit_estimate_per_s: float | None = None
    limited_at: float = NEVER
    credited_until: float = NEVER  # the last moment whose successes were counted

    @classmethod
    def starting(cls, ceiling_per_s: float, floor_per_s: float) -> AdaptiveRate:
        return cls(ceiling_per_s, min(floor_per_s, ceiling_per_s), ceiling_per_s)

    def remembered_limit(self, now: float) -> float | None:
        """The limit estimate, while the 429 that set it is recent enough to trust."""
        if self.limit_estimate_per_s is None or now - self.limited_at >= LIMIT_MEMORY_S:
            return None
        return self.limit_estimate_per_s

    def target_per_s(self, now: float) -> float:
        """How high successes may lift the rate now."""
        limit = self.remembered_limit(now)
        if limit is None:
            return self.ceiling_per_s
        return max(self.floor_per_s, limit * SETTLE_FRACTION)

    def after_429(
        self, now: float, achieved_per_s: float | None, *, period_s: float
    ) -> AdaptiveRate:
        """The rate after a 429 at ``now``, when ``achieved_per_s`` was going through.

        A burst of 429s (in-flight requests meeting one block) counts once: any within one period
        (at least 1 s) of the last cut leave the rate alone. With no measure of what went
        through, the current rate is taken as the one refused.
        """
        if now - self.limited_at < max(period_s, 1.0):
            return self
        refused = self.current_per_s if achieved_per_s is None else achieved_per_s
        remembered = self.remembered_limit(now)
        estimate = refused if remembered is None else min(remembered, refused)
        estimate = min(self.ceiling_per_s, max(self.floor_per_s, estimate))
        return replace(
            self,
            current_per_s=max(self.floor_per_s, estimate * BACKOFF_FRACTION),
            limit_estimate_per_s=estimate,
            limited_at=now,
            credited_until=now,
        )

    def after_success(self, now: float) -> AdaptiveRate:
        """Climb toward ``target_per_s``; an idle gap earns at most 1 s of climbing, since it is
        no evidence that the server would take more."""
        since, target = self.credited_until, self.target_per_s(now)
        credited = replace(self, credited_until=now)
        if since == NEVER or self.current_per_s >= target:
            return credited
        reference = self.remembered_limit(now) or self.ceiling_per_s
        elapsed_s = min(max(now - since, 0.0), 1.0)
        climbed = self.current_per_s + reference * RECOVERY_PER_S * elapsed_s
        return replace(credited, current_per_s=min(target, climbed))


class Pacer:
    """Thread-safe pacing for one API key's budget (see the module docstring)."""

    def __init__(
        self,
        rate: Rate,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        wait: Wait | None = None,
        min_rate_fraction: float = 0.1,
    ) -> None:
        if rate.count < 1 or not rate.period_s > 0:
            raise ConfigError(f"rate must be at least 1 request per period, not {rate}")
        if burst < 1:
            raise ConfigError(f"burst must be at least 1, not {burst}")
        if not 0 < min_rate_fraction <= 1:
            raise ConfigError(f"min_rate_fraction must be in (0, 1], not {min_rate_fraction}")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._wait = wait or _event_wait
        self._ceiling_per_s = rate.count / rate.period_s
        self._window_s = rate.period_s * (1 + WINDOW_MARGIN)
        self._lock = threading.Lock()
        self._never = threading.Event()  # waited on when the caller passes no cancel event
        # (grant time, theoretical arrival before it): in time order, reservations at the right end.
        self._grants: deque[tuple[float, float]] = deque()
        self._adaptive = AdaptiveRate.starting(
            self._ceiling_per_s, self._ceiling_per_s * min_rate_fraction
        )
        self._theoretical_arrival = NEVER
        self._paused_until = NEVER
        self._generation = 0

    @property
    def current_rate_per_s(self) -> float:
        """The rate grants are spaced at now: the ceiling, or less after a 429."""
        with self._lock:
            return self._adaptive.current_per_s

    @property
    def limit_estimate_per_s(self) -> float | None:
        """The rate the last 429 refused, while remembered (see ``AdaptiveRate``)."""
        with self._lock:
            return self._adaptive.remembered_limit(self._clock())

    @property
    def ceiling_per_s(self) -> float:
        return self._ceiling_per_s

    def acquire(
        self, *, cancel: threading.Event | None = None, timeout_s: float | None = None
    ) -> bool:
        """Block until the caller may send one request; True then.

        False as soon as ``cancel`` is set, or at once when no grant can come within
        ``timeout_s`` (nothing is reserved in that case).
        """
        event = cancel if cancel is not None else self._never
        deadline = None if timeout_s is None else self._clock() + timeout_s
        while True:
            if event.is_set():
                return False
            with self._lock:
                now = self._clock()
                self._forget_old_grants(now)
                grant_at = self._earliest_grant(now)
                if deadline is not None and grant_at > deadline:
                    return False
                self._record_grant(grant_at)
                generation = self._generation
            if not self._wait_until(grant_at, event):
                return False
            with self._lock:
                if self._generation == generation:
                    return True

    def pause_until(self, deadline: float) -> None:
        """Hold every caller until the monotonic ``deadline``; an earlier one never shortens it."""
        with self._lock:
            if deadline <= self._paused_until:
                return
            self._paused_until = deadline
            self._void_reservations(self._clock())

    def note_rate_limited(self, *, latency_s: float = 0.0) -> None:
        """A 429 came back: lower the rate below what the server just refused.

        ``latency_s`` is how long ago the refused request left: the rate is measured up to then,
        not counting the grants made while it was in flight (at most one period back). A 429
        to a request sent before the last pause ended is part of the burst that caused that
        pause: it changes nothing (nor do more within a period of a cut).
        """
        with self._lock:
            now = self._clock()
            sent_at = now - min(max(latency_s, 0.0), self._rate.period_s)
            if sent_at < self._paused_until:
                return
            achieved = achieved_rate_per_s(
                (moment for moment, _ in self._grants),
                now=sent_at,
                period_s=self._rate.period_s,
                since=self._paused_until,
            )
            adapted = self._adaptive.after_429(now, achieved, period_s=self._rate.period_s)
            if adapted is not self._adaptive:
                self._adaptive = adapted
                self._void_reservations(now)

    def rate_limited(self, wait_s: float, *, latency_s: float = 0.0) -> None:
        """A 429 came back: lower the rate (``note_rate_limited``) and hold every caller for
        ``wait_s`` (from ``retry.rate_limit_wait_s``). What send and status both do on a 429."""
        self.note_rate_limited(latency_s=latency_s)
        self.pause_until(self._clock() + wait_s)

    def note_success(self) -> None:
        """A request went through: climb back slowly (see ``AdaptiveRate``)."""
        with self._lock:
            self._adaptive = self._adaptive.after_success(self._clock())

    def __repr__(self) -> str:
        with self._lock:
            now = self._clock()
            paused_s = max(0.0, self._paused_until - now)
            recent = sum(1 for t, _ in self._grants if now - self._window_s < t <= now)
            reserved = sum(1 for t, _ in self._grants if t > now)
            current = self._adaptive.current_per_s
            limit = self._adaptive.remembered_limit(now)
        estimate = "none" if limit is None else f"{limit:.3g}/s"
        return (
            f"<Pacer ceiling={self._rate.count}/{self._rate.period_s:g}s burst={self._burst}"
            f" current={current:.3g}/s limit_estimate={estimate} in_window={recent}"
            f" reserved={reserved} paused_for={paused_s:.3f}s>"
        )

    def _window_count(self) -> int:
        """Grants allowed per window: the configured count, or fewer while the rate is cut."""
        adapted = math.floor(self._adaptive.current_per_s * self._rate.period_s + 1e-9)
        return max(1, min(self._rate.count, adapted))

    def _earliest_grant(self, now: float) -> float:
        interval_s = (1 + WINDOW_MARGIN) / self._adaptive.current_per_s
        # The nanosecond keeps float rounding in the sum below from costing a needless wait.
        tolerance_s = (self._burst - 1) * interval_s + 1e-9
        candidates = [now, self._paused_until, self._theoretical_arrival - tolerance_s]
        count = self._window_count()
        if self._grants:
            candidates.append(self._grants[-1][0])  # grants stay in order: the log stays sorted
            if len(self._grants) >= count:
                candidates.append(self._grants[-count][0] + self._window_s)
        return max(candidates)

    def _record_grant(self, grant_at: float) -> None:
        interval_s = (1 + WINDOW_MARGIN) / self._adaptive.current_per_s
        before = self._theoretical_arrival
        self._theoretical_arrival = max(before, grant_at) + interval_s
        self._grants.append((grant_at, before))

    def _forget_old_grants(self, now: float) -> None:
        """Grants two windows old neither constrain a later grant nor count in a rate measured
        up to one period back (``note_rate_limited``)."""
        while self._grants and self._grants[0][0] <= now - 2 * self._window_s:
            self._grants.popleft()

    def _void_reservations(self, now: float) -> None:
        """Undo grants not yet due, bucket state included; their holders will reserve again."""
        while self._grants and self._grants[-1][0] > now:
            _, before = self._grants.pop()
            self._theoretical_arrival = before
        self._generation += 1

    def _wait_until(self, moment: float, event: threading.Event) -> bool:
        """Wait on ``event`` until the clock reaches ``moment``; False if the event is set first."""
        while True:
            delay_s = moment - self._clock()
            if delay_s <= 0:
                return not event.is_set()
            if self._wait(event, delay_s):
                return False
