"""The append-only results journal: durable lines with group commit, written by one thread.

Callers on any thread queue lines; a writer thread writes whatever is queued in one ``write`` and
one ``fsync``. A plain ``append`` waits at most ``max_delay_s`` or ``max_batch`` lines for its
fsync; ``append_durable`` and ``flush`` ask for one at once and return only after it, so many
workers waiting together share a single fsync. Lines are never rewritten: a crash can leave at
most a torn last line, which the reader skips. An I/O error (a full disk) is kept and raised to
every later caller, so it never vanishes in the thread.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

from bulksend.errors import BulksendError

logger = logging.getLogger(__name__)

BOM = "\ufeff"  # Excel reads the file as UTF-8 only with it
_HEADER_PROBE_BYTES = 65536


class CsvRecord(Protocol):
    def to_csv_row(self) -> list[str]: ...


def csv_line(cells: Sequence[str]) -> str:
    """One CSV line with its CRLF ending, quoted the way the csv module reads it back."""
    return CsvLines()(cells)


class CsvLines:
    """``csv_line`` for many lines in one thread: one buffer and writer instead of one each."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)

    def __call__(self, cells: Sequence[str]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(cells)
        return self._buffer.getvalue()


class Journal:
    """Appends records to ``path``; use as a context manager or call ``close``."""

    def __init__(
        self,
        path: Path,
        header: Sequence[str],
        *,
        max_delay_s: float = 0.2,
        max_batch: int = 100,
    ) -> None:
        self.path = path
        self._max_delay_s = max_delay_s
        self._max_batch = max(1, max_batch)
        self._cond = threading.Condition()
        self._pending: list[bytes] = []
        self._oldest_at = 0.0
        self._urgent = False
        self._appended = 0  # lines queued so far
        self._durable = 0  # lines fsynced so far
        self._error: Exception | None = None
        self._closing = False
        self.closed = False
        self._fd = _open_for_append(path, header)
        self._writer = threading.Thread(target=self._run, name="bulksend-journal", daemon=True)
        self._writer.start()

    @property
    def lines_appended(self) -> int:
        """Lines queued since the journal opened (durable or not yet)."""
        with self._cond:
            return self._appended

    def append(self, record: CsvRecord) -> None:
        """Queue a record; it is fsynced within ``max_delay_s`` or ``max_batch`` records."""
        self._enqueue(record, urgent=False)

    def append_durable(self, record: CsvRecord) -> None:
        """Return only once this record (and everything queued before it) is fsynced."""
        self._wait_durable(self._enqueue(record, urgent=True))

    def flush(self) -> None:
        """Return once everything appended so far is fsynced."""
        with self._cond:
            target = self._appended
            if self._durable < target:
                self._urgent = True
                self._cond.notify_all()
        self._wait_durable(target)

    def close(self) -> None:
        """Flush, stop the writer thread and close the file; raises a pending write error."""
        with self._cond:
            if self.closed:
                return
            self._closing = True
            self._cond.notify_all()
        self._writer.join()
        self.closed = True
        os.close(self._fd)
        self._raise_if_failed()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except BulksendError:
            logger.warning("results journal %s: write failed while unwinding", self.path)

    def _enqueue(self, record: CsvRecord, *, urgent: bool) -> int:
        line = csv_line(record.to_csv_row()).encode("utf-8")
        with self._cond:
            if self._closing:
                raise RuntimeError(f"the results journal for {self.path} is closed")
            self._raise_if_failed()
            if not self._pending:
                self._oldest_at = time.monotonic()
            self._pending.append(line)
            self._appended += 1
            self._urgent = self._urgent or urgent
            if urgent or len(self._pending) == 1 or len(self._pending) >= self._max_batch:
                self._cond.notify_all()
            return self._appended

    def _wait_durable(self, target: int) -> None:
        with self._cond:
            while self._durable < target:
                self._raise_if_failed()
                self._cond.wait()

    def _raise_if_failed(self) -> None:
        """Called with the condition held (or after the writer stopped)."""
        if self._error is not None:
            reason = getattr(self._error, "strerror", None) or str(self._error)
            raise BulksendError(
                f"cannot write the results file {self.path}: {reason}",
                hint="Free some disk space or fix the folder's permissions, then run again: "
                "outcomes recorded before this are safe, rows in flight become uncertain.",
            ) from self._error

    def _run(self) -> None:
        while True:
            with self._cond:
                batch = self._take_batch()
            if batch is None:
                return
            try:
                _write_all(self._fd, b"".join(batch))
                os.fsync(self._fd)
            except Exception as exc:  # kept for the callers: a dead writer must not hang them
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._durable += len(batch)
                self._cond.notify_all()

    def _take_batch(self) -> list[bytes] | None:
        """Wait (condition held) until a batch is due; None once closing with nothing left."""
        while True:
            if self._pending:
                due_in_s = self._oldest_at + self._max_delay_s - time.monotonic()
                full = len(self._pending) >= self._max_batch
                if self._closing or self._urgent or full or due_in_s <= 0:
                    batch, self._pending, self._urgent = self._pending, [], False
                    return batch
                self._cond.wait(due_in_s)
            elif self._closing:
                return None
            else:
                self._cond.wait()


def _open_for_append(path: Path, header: Sequence[str]) -> int:
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise BulksendError(
            f"cannot open the results file {path}: {exc.strerror}",
            hint="Choose a results path in a folder you can write to.",
        ) from exc
    try:
        _prepare_end(descriptor, path, header)
    except OSError as exc:
        os.close(descriptor)
        raise BulksendError(f"cannot write the results file {path}: {exc.strerror}") from exc
    return descriptor


def _prepare_end(descriptor: int, path: Path, header: Sequence[str]) -> None:
    """Write the header to a new file, or make sure the next line starts on a line of its own."""
    size = os.fstat(descriptor).st_size
    head = os.pread(descriptor, min(size, _HEADER_PROBE_BYTES), 0)
    if size and size < _HEADER_PROBE_BYTES and b"\n" not in head:
        # Not even the header was finished (a crash right after creation): nothing to keep.
        logger.warning("results file %s: incomplete header replaced", path)
        os.ftruncate(descriptor, 0)
        size = 0
    if size == 0:
        _write_all(descriptor, (BOM + csv_line(header)).encode("utf-8"))
    elif os.pread(descriptor, 1, size - 1) != b"\n":
        logger.warning("results file %s: torn last line ended so new lines start afresh", path)
        _write_all(descriptor, b"\r\n")
    else:
        return
    os.fsync(descriptor)
    fsync_directory(path.parent)  # a new file's name must survive a crash too


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def fsync_directory(folder: Path) -> None:
    """Make a rename or a new name in ``folder`` durable, not just the file's bytes."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
