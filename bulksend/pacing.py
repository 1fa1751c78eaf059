"""``Pacer``: the one place that decides when the next request may leave, shared by all workers.

Three rules hold together, all read from one injectable monotonic clock:

* **Ceiling.** Never more than ``rate.count`` grants in any window of ``rate.period_s`` seconds: a
  log of the recent grant times is kept, and a grant waits until the ``count``-th latest of them is
  more than ``period_s * (1 + margin)`` old. The margin (2 %) absorbs network jitter, so a window
  the server measures on arrival times holds too.
* **Burst.** A token bucket of capacity ``burst`` refilled at the current rate (run as GCRA: a
  "theoretical arrival time" instead of a token count). ``burst=1`` spaces grants evenly at
  ``1 / rate``; ``burst=N`` lets N leave at once after a quiet spell.
* **429.** ``pause_until`` holds every caller until a deadline; ``note_rate_limited`` cuts the
  current rate (x0.7, floor ``min_rate_fraction`` of the ceiling) and ``note_success`` lets it climb
  back by 1 % of the ceiling per second of successful sending (about 30 s from 70 %), so a rate set
  above the server's limit settles just under it.

Each ``acquire`` reserves the earliest slot the rules allow, then waits for exactly that long on the
caller's cancel event (no polling, no thundering herd: every waiter has its own slot). A pause or a
rate cut voids the reservations not yet due, and their holders reserve again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from bulksend.errors import ConfigError

if TYPE_CHECKING:
    from bulksend.campaign import Rate

WINDOW_MARGIN = 0.02
DECREASE_FACTOR = 0.7
RECOVERY_PER_S = 0.01  # fraction of the ceiling regained per second of successes

Wait = Callable[[threading.Event, float], bool]


def _event_wait(event: threading.Event, timeout_s: float) -> bool:
    return event.wait(timeout_s)


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
        self._floor_per_s = self._ceiling_per_s * min_rate_fraction
        self._window_s = rate.period_s * (1 + WINDOW_MARGIN)
        self._lock = threading.Lock()
        self._never = threading.Event()  # waited on when the caller passes no cancel event
        # (grant time, theoretical arrival before it): in time order, reservations at the right end.
        self._grants: deque[tuple[float, float]] = deque()
        self._current_per_s = self._ceiling_per_s
        self._theoretical_arrival = float("-inf")
        self._paused_until = float("-inf")
        self._last_decrease = float("-inf")
        self._last_success = float("-inf")
        self._generation = 0

    @property
    def current_rate_per_s(self) -> float:
        """The rate grants are spaced at now: the ceiling, or less after a 429."""
        with self._lock:
            return self._current_per_s

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

    def note_rate_limited(self) -> None:
        """A 429 came back: cut the current rate, once per burst of 429s.

        Several in-flight requests meet the same limit together; counting each would collapse the
        rate, so further 429s within one period (at least 1 s) of a cut are ignored.
        """
        with self._lock:
            now = self._clock()
            if now - self._last_decrease < max(self._rate.period_s, 1.0):
                return
            self._last_decrease = now
            self._current_per_s = max(self._floor_per_s, self._current_per_s * DECREASE_FACTOR)
            self._void_reservations(now)

    def note_success(self) -> None:
        """A request went through: climb back toward the ceiling at 1 % of it per second."""
        with self._lock:
            now = self._clock()
            since = max(self._last_success, self._last_decrease)
            self._last_success = now
            if self._current_per_s >= self._ceiling_per_s or since == float("-inf"):
                return
            # An idle gap is not evidence the server would take more: credit at most 1 s of it.
            elapsed_s = min(max(now - since, 0.0), 1.0)
            gain = self._ceiling_per_s * RECOVERY_PER_S * elapsed_s
            self._current_per_s = min(self._ceiling_per_s, self._current_per_s + gain)

    def __repr__(self) -> str:
        with self._lock:
            now = self._clock()
            paused_s = max(0.0, self._paused_until - now)
            recent = sum(1 for t, _ in self._grants if now - self._window_s < t <= now)
            reserved = sum(1 for t, _ in self._grants if t > now)
            current = self._current_per_s
        return (
            f"<Pacer ceiling={self._rate.count}/{self._rate.period_s:g}s burst={self._burst}"
            f" current={current:.3g}/s in_window={recent} reserved={reserved}"
            f" paused_for={paused_s:.3f}s>"
        )

    def _earliest_grant(self, now: float) -> float:
        interval_s = (1 + WINDOW_MARGIN) / self._current_per_s
        # The nanosecond keeps float rounding in the sum below from costing a needless wait.
        tolerance_s = (self._burst - 1) * interval_s + 1e-9
        candidates = [now, self._paused_until, self._theoretical_arrival - tolerance_s]
        if self._grants:
            candidates.append(self._grants[-1][0])  # grants stay in order: the log stays sorted
            if len(self._grants) >= self._rate.count:
                candidates.append(self._grants[-self._rate.count][0] + self._window_s)
        return max(candidates)

    def _record_grant(self, grant_at: float) -> None:
        interval_s = (1 + WINDOW_MARGIN) / self._current_per_s
        before = self._theoretical_arrival
        self._theoretical_arrival = max(before, grant_at) + interval_s
        self._grants.append((grant_at, before))

    def _forget_old_grants(self, now: float) -> None:
        """Grants a full window old cannot constrain any later grant."""
        while self._grants and self._grants[0][0] <= now - self._window_s:
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
