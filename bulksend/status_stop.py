"""When a status run must stop asking: ``cancel`` (Ctrl-C, SIGTERM), the deadline (``--timeout``,
inside a round too), or a reason the run found itself (a refused key, an unreachable API).

``halt`` is the one event every wait of the run watches (the pacer's, the list call's retries,
the worker queue). A small watcher thread sets it when ``cancel`` is set or the deadline passes,
so that those waits end promptly; the run's own checks (``halted``) read ``cancel`` and the
clock directly, so what the run does never depends on the watcher's timing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

WAIT_STEP_S = 1.0  # how often a wait (between rounds, a backoff) looks for a stop
WATCH_POLL_S = 0.05  # how often the watcher looks at ``cancel`` and the deadline


class RunStop:
    """The stop conditions of one run; ``close`` ends the watcher thread."""

    def __init__(
        self,
        *,
        cancel: threading.Event | None,
        deadline: float | None,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self.cancel = cancel
        self.deadline = deadline
        self.clock = clock
        self.sleep = sleep
        self.halt = threading.Event()
        self._out_of_time = threading.Event()
        self._closed = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="bulksend-status-stop")
        self._watcher.daemon = True
        self._watcher.start()

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def past_deadline(self) -> bool:
        """The deadline has passed, or no request could leave before it (``time_is_up``)."""
        if self.deadline is None:
            return False
        return self._out_of_time.is_set() or self.clock() >= self.deadline

    def halted(self) -> bool:
        """Stop asking: halted by the run, cancelled, or out of time."""
        return self.halt.is_set() or self.cancelled() or self.past_deadline()

    def remaining_s(self) -> float | None:
        """Seconds left before the deadline; None without one."""
        return None if self.deadline is None else self.deadline - self.clock()

    def time_is_up(self) -> None:
        """Nothing more can be asked before the deadline (the pacer has no grant before it)."""
        self._out_of_time.set()
        self.halt.set()

    def wait(self, seconds: float) -> None:
        """Sleep in steps of at most ``WAIT_STEP_S``, returning early on a stop."""
        until = self.clock() + seconds
        for _ in range(int(seconds / WAIT_STEP_S) + 2):
            remaining = until - self.clock()
            if remaining <= 0 or self.halted():
                return
            self.sleep(min(WAIT_STEP_S, remaining))

    def close(self) -> None:
        self.halt.set()
        self._closed.set()
        self._watcher.join()

    def _watch(self) -> None:
        while not self._closed.wait(WATCH_POLL_S):
            if self.cancelled() or self.past_deadline():
                self.halt.set()
                return
