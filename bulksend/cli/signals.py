"""SIGINT and SIGTERM for long commands (send, status): the first asks the run to stop, the second
quits at once after a bounded flush. The exit status names the signal: 130 or 143."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, Protocol

from bulksend.errors import ExitStatus

SIGNAL_EXIT = {signal.SIGINT: ExitStatus.INTERRUPTED, signal.SIGTERM: ExitStatus.TERMINATED}
HARD_EXIT_FLUSH_S = 1.0


class SignalFront(Protocol):
    """What the handler needs from a command's output: a line to say, and what to flush on a
    hard exit (read when the second signal comes, so it may be set after the run started)."""

    flush: Callable[[], None] | None

    def note(self, text: str) -> None: ...


@contextmanager
def catch_signals(cancel: threading.Event, front: SignalFront) -> Iterator[dict[str, Any]]:
    """SIGINT/SIGTERM set ``cancel``; a second one exits at once after a bounded flush.

    Yields a dict that holds ``"signal"`` (the first one received) once one came. Off the main
    thread (where handlers cannot be installed) it installs nothing.
    """
    received: dict[str, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if "signal" in received:
            hard_exit(front.flush, SIGNAL_EXIT.get(signal.Signals(signum), 130))
        received["signal"] = signal.Signals(signum)
        front.note("stopping: letting requests in flight finish (press Ctrl-C again to quit)")
        cancel.set()

    previous = {signum: signal.signal(signum, handle) for signum in SIGNAL_EXIT}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def hard_exit(flush: Callable[[], None] | None, status: int) -> None:
    # The flush runs on its own thread: the interrupted main thread may hold the journal's lock.
    if flush is not None:
        flusher = threading.Thread(target=flush, daemon=True)
        flusher.start()
        flusher.join(HARD_EXIT_FLUSH_S)
    os._exit(int(status))
