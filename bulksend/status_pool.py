"""The worker threads of a status run: a bounded queue of lookups and the pool that asks them.

Like send's ``dispatch.WorkerPool``: the campaign's ``concurrency``, or (auto) as many workers
as hold the rate at the latency measured (``dispatch.auto_workers``), never more than
``dispatch.MAX_WORKERS``. Rounds reuse the pool: ``wait_idle`` says when a round's lookups are
all done.
"""

from __future__ import annotations

import logging
import queue
import statistics
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bulksend.dispatch import LATENCY_SAMPLES, MAX_WORKERS, auto_workers

logger = logging.getLogger(__name__)

QUEUE_POLL_S = 0.1


@dataclass(frozen=True, slots=True)
class Lookup:
    """One row to ask about. ``fill_times``: its list answer is recorded already; this lookup
    only adds the times the list does not give."""

    ordinal: int  # the row's place among the file's records
    message_id: str
    identity: str
    file_status: str  # what the results file said when the run started
    fill_times: bool = False


class LookupPool:
    """Worker threads running ``work`` on queued lookups. With ``fixed`` None the pool grows
    (never shrinks) toward ``dispatch.auto_workers`` for the latency it measures."""

    def __init__(
        self,
        work: Callable[[Lookup], None],
        halt: threading.Event,
        *,
        rate_per_s: float,
        fixed: int | None,
    ) -> None:
        self.work = work
        self.halt = halt
        self.rate_per_s = rate_per_s
        self.fixed = fixed
        self.queue: queue.Queue[Lookup | None] = queue.Queue(maxsize=2 * MAX_WORKERS)
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
                name = f"bulksend-status-{len(self.threads) + 1}"
                thread = threading.Thread(target=self._work, name=name, daemon=True)
                self.threads.append(thread)
                thread.start()

    def note_latency(self, seconds: float) -> None:
        with self._lock:
            self.latencies.append(seconds)
            enough = len(self.latencies) >= 8 and len(self.latencies) % 8 == 0
            median = statistics.median(self.latencies) if enough else None
        if median is not None and self.fixed is None:
            self.grow_to(auto_workers(self.rate_per_s, median))

    def submit(self, lookup: Lookup) -> bool:
        """Queue a lookup; False (not queued) once the run is halting."""
        while not self.halt.is_set():
            try:
                self.queue.put(lookup, timeout=QUEUE_POLL_S)
            except queue.Full:
                continue
            with self._idle:
                self._queued += 1
            return True
        return False

    def wait_idle(self, tick: Callable[[], None]) -> None:
        """Return once every queued lookup has finished; ``tick`` runs every poll meanwhile."""
        while True:
            with self._idle:
                if self._finished >= self._queued:
                    return
                self._idle.wait(QUEUE_POLL_S)
            tick()

    def close(self) -> None:
        """Stop and join every worker (queued lookups are dropped once the run halts)."""
        with self._lock:
            self._closing = True
            threads = list(self.threads)
        for _ in threads:
            self._put_stop()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=QUEUE_POLL_S)

    def _put_stop(self) -> None:
        while True:
            try:
                self.queue.put(None, timeout=QUEUE_POLL_S)
                return
            except queue.Full:
                continue  # the workers drain the queue; a halted run drops what they take

    def _work(self) -> None:
        while True:
            lookup = self.queue.get()
            if lookup is None:
                return
            try:
                if not self.halt.is_set():
                    self.work(lookup)
            except BaseException as error:  # noqa: BLE001 - re-raised by the run after the round
                logger.exception("status worker failed on message %s", lookup.message_id)
                with self._lock:
                    self.errors.append(error)
                self.halt.set()
            finally:
                with self._idle:
                    self._finished += 1
                    self._idle.notify_all()
