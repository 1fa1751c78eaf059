"""The worker threads of a run: a bounded queue of items and the threads that work on them.

Send (rows) and status (lookups) share it. The pool is the campaign's ``concurrency``, or, with
``auto``, grows (never shrinks) to as many workers as hold the rate at the latency it measures
(``auto_workers``), never more than ``MAX_WORKERS``. A worker that raises halts the run; the
error is kept for the caller to raise after ``close``.
"""

from __future__ import annotations

import logging
import math
import queue
import statistics
import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

MAX_WORKERS = 64
# Items in a row that got no HTTP answer at all: past this the API is taken for unreachable and
# the run stops, instead of spending every retry on every remaining item.
UNREACHABLE_ROWS = 3
LATENCY_SAMPLES = 64
QUEUE_POLL_S = 0.1

Item = TypeVar("Item")


def auto_workers(rate_per_s: float, latency_s: float | None = None) -> int:
    """Workers needed to hold ``rate_per_s`` when a request takes ``latency_s``.

    Before any latency is measured: rate/10, at least 4 (enough for 10/s at 400 ms). Afterwards:
    rate x median latency (Little's law) with 25% headroom plus one. Never above 64.
    """
    if latency_s is None:
        wanted = max(4, math.ceil(rate_per_s / 10))
    else:
        wanted = math.ceil(rate_per_s * latency_s * 1.25) + 1
    return max(1, min(MAX_WORKERS, wanted))


class WorkerPool(Generic[Item]):
    """Threads running ``work`` on the items submitted. ``label`` names an item in the log of a
    failed worker (never the whole item: it may hold a message's personal data)."""

    def __init__(
        self,
        work: Callable[[Item], None],
        halt: threading.Event,
        *,
        rate_per_s: float,
        fixed: int | None,
        name: str,
        label: Callable[[Item], str],
    ) -> None:
        self.work = work
        self.halt = halt
        self.rate_per_s = rate_per_s
        self.fixed = fixed
        self.name = name
        self.label = label
        self.queue: queue.Queue[Item | None] = queue.Queue(maxsize=2 * MAX_WORKERS)
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []
        self.latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._queued = self._finished = 0
        self._closing = False
        self.grow_to(fixed if fixed is not None else auto_workers(rate_per_s))

    @property
    def size(self) -> int:
        return len(self.threads)

    def grow_to(self, wanted: int) -> None:
        with self._lock:
            while not self._closing and len(self.threads) < min(wanted, MAX_WORKERS):
                thread_name = f"bulksend-{self.name}-{len(self.threads) + 1}"
                thread = threading.Thread(target=self._work, name=thread_name, daemon=True)
                self.threads.append(thread)
                thread.start()

    def note_latency(self, seconds: float) -> None:
        """An answer took ``seconds``: with ``auto``, grow toward what the rate needs."""
        with self._lock:
            self.latencies.append(seconds)
            enough = len(self.latencies) >= 8 and len(self.latencies) % 8 == 0
            median = statistics.median(self.latencies) if enough else None
        if median is not None and self.fixed is None:
            self.grow_to(auto_workers(self.rate_per_s, median))

    def submit(self, item: Item) -> bool:
        """Queue an item; False (not queued) once the run is halting."""
        while not self.halt.is_set():
            try:
                self.queue.put(item, timeout=QUEUE_POLL_S)
            except queue.Full:
                continue
            with self._idle:
                self._queued += 1
            return True
        return False

    def wait_idle(self, tick: Callable[[], None]) -> None:
        """Return once every queued item has been worked on; ``tick`` runs every poll meanwhile."""
        while True:
            with self._idle:
                if self._finished >= self._queued:
                    return
                self._idle.wait(QUEUE_POLL_S)
            tick()

    def close(self, *, cancel: threading.Event | None = None) -> None:
        """No more items: let queued and running ones finish, then join every worker. Setting
        ``cancel`` meanwhile halts the run (queued items are then dropped untouched)."""
        with self._lock:
            self._closing = True
            threads = list(self.threads)
        for _ in threads:
            self._put_stop()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=QUEUE_POLL_S)
                if cancel is not None and cancel.is_set():
                    self.halt.set()

    def _put_stop(self) -> None:
        while True:
            try:
                self.queue.put(None, timeout=QUEUE_POLL_S)
                return
            except queue.Full:
                self._drop_one_if_halted()

    def _drop_one_if_halted(self) -> None:
        # A halted run works on nothing more: queued items are dropped untouched.
        if self.halt.is_set():
            try:
                self.queue.get_nowait()
            except queue.Empty:
                return
            with self._idle:
                self._finished += 1
                self._idle.notify_all()

    def _work(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            try:
                if not self.halt.is_set():
                    self.work(item)
            except BaseException as error:  # noqa: BLE001 - re-raised by the run after close
                logger.exception("%s worker failed on %s", self.name, self.label(item))
                with self._lock:
                    self.errors.append(error)
                self.halt.set()
            finally:
                with self._idle:
                    self._finished += 1
                    self._idle.notify_all()


class NoAnswerStreak:
    """Counts items in a row that got no HTTP answer at all (thread-safe)."""

    def __init__(self, limit: int = UNREACHABLE_ROWS) -> None:
        self.limit = limit
        self._count = 0
        self._lock = threading.Lock()

    def answered(self) -> None:
        with self._lock:
            self._count = 0

    def unanswered(self) -> bool:
        """One more; True when the streak has just reached ``limit`` (the API is unreachable)."""
        with self._lock:
            self._count += 1
            return self._count == self.limit
