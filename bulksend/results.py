"""The results CSV: the checkpoint every run resumes from.

``ResultRecord`` (``record.py``) is one line. ``ResultsFile`` is the file: its lock, streaming
reads that tolerate a torn last line, last-line-wins loading, compaction and atomic rewrites, and
the durable journal (``journal.Journal``) a run appends to. UTF-8 with a BOM and CRLF lines, so
Excel opens it cleanly; every cell goes through ``csvsafe``.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TextIO

from bulksend.compaction import LatestLines
from bulksend.csvsafe import unescape_cell
from bulksend.errors import BulksendError, InputFileError
from bulksend.filelock import hold_exclusive
from bulksend.journal import BOM, CsvLines, Journal, csv_line, fsync_directory
from bulksend.record import (
    COLUMNS,
    FINAL_OUTCOMES,
    Outcome,
    RecordParser,
    ResultRecord,
)
from bulksend.scratch import scratch_database

# The record's names are imported from here throughout bulksend: the results file's vocabulary.
__all__ = [
    "COLUMNS",
    "FINAL_OUTCOMES",
    "Outcome",
    "RecordParser",
    "ResultRecord",
    "ResultsFile",
]

logger = logging.getLogger(__name__)

_REQUIRED_COLUMNS = ("row", "outcome")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes that are not UTF-8
_ARCHIVE_TRIES = 1000


class ResultsFile:
    """The results CSV at ``path``. Reads stream; writes are atomic or append-only.

    Callers hold ``lock()`` around everything that writes. While a journal from this object is
    open, ``compact``, ``rewrite`` and ``archive`` refuse: they would replace the file under it.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._journal: Journal | None = None

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock on ``<path>.lock``; ResultsLockedError at once if another run holds it."""
        return hold_exclusive(self.lock_path, guarded=self.path)

    def exists(self) -> bool:
        return self.path.exists()

    def iter_records(self) -> Iterator[ResultRecord]:
        """Every record in file order. A torn or unreadable last line (a crash) is skipped;
        elsewhere it raises InputFileError naming the line. No file: nothing."""
        for record, _ in self._scan():
            if record is not None:
                yield record

    def load_outcomes(self) -> dict[str, ResultRecord]:
        """identity -> its last record (the journal is append-only: the last line wins).

        Holds every record (about 700 bytes each): for small files and tools. A send run keeps a
        ``checkpoint.Checkpoint`` instead.
        """
        return {record.identity: record for record in self.iter_records()}

    def message_ids_among(self, candidates: set[str]) -> set[str]:
        """Which of ``candidates`` some line of the file already records as its message_id."""
        wanted = candidates - {""}
        if not wanted:
            return set()
        return {r.message_id for r in self.iter_records() if r.message_id in wanted}

    def compact(self) -> None:
        """Rewrite atomically with one line per identity (its last), in row order.

        Pending lines stay as they are. A file that is already compact is left untouched. The
        lines are sorted in a temporary file beside this one, so memory stays flat.
        """
        self._refuse_while_journal_open("compact")
        if not self.exists():
            return
        self.remove_scratch_files()
        cannot_write = partial(_write_error, self.path)
        with scratch_database(self.path, cannot_write=cannot_write) as database:
            latest = LatestLines(database)
            tally = _Tally()
            latest.add(tally.lines(self._scan()))
            if tally.clean and tally.in_row_order and latest.lines == len(latest):
                return
            self._replace(latest.in_row_order())

    def rewrite(self, records: Iterable[ResultRecord]) -> None:
        """Replace the file with exactly ``records``, atomically: on any error the old one stays.

        ``records`` is consumed lazily, so it may stream from this very file.
        """
        line = CsvLines()
        self._replace(line(record.to_csv_row()) for record in records)

    def remove_scratch_files(self) -> None:
        """Remove the scratch files (``.<name>.*.tmp``/``.sqlite`` beside it) of a compaction,
        rewrite or status merge that a crash cut short. Only the holder of the lock writes them,
        so under the lock every one found is left over. Call it under ``lock()``."""
        for scratch in self.path.parent.glob(f".{glob.escape(self.path.name)}.*"):
            if scratch.suffix in (".tmp", ".sqlite"):
                scratch.unlink(missing_ok=True)

    def _replace(self, lines: Iterable[str]) -> None:
        """Replace the file with the header and ``lines`` (each ending in CRLF), atomically."""
        self._refuse_while_journal_open("rewrite")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temp_name = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
        except OSError as exc:
            raise _write_error(self.path, exc) from exc
        temp_path = Path(temp_name)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as out:
                out.write(BOM + csv_line(COLUMNS))
                out.writelines(lines)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp_path, self._mode())
            os.replace(temp_path, self.path)
        except BaseException as exc:
            temp_path.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise _write_error(self.path, exc) from exc
            raise
        fsync_directory(self.path.parent)

    def archive(self, *, now_utc: datetime | None = None) -> Path | None:
        """Rename the file to ``<stem>.<UTC timestamp><suffix>`` beside it (never deleted).

        Returns the new path, or None when there is no file. Used by ``--restart``.
        """
        self._refuse_while_journal_open("archive")
        if not self.exists():
            return None
        stamp = (now_utc or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        for attempt in range(1, _ARCHIVE_TRIES + 1):
            tail = f"-{attempt}" if attempt > 1 else ""
            target = self.path.with_name(f"{self.path.stem}.{stamp}{tail}{self.path.suffix}")
            if target.exists():
                continue
            try:
                os.rename(self.path, target)
            except OSError as exc:
                raise _write_error(self.path, exc) from exc
            fsync_directory(self.path.parent)
            return target
        raise BulksendError(f"cannot archive {self.path}: {_ARCHIVE_TRIES} archives this second")

    def open_journal(self, *, max_delay_s: float = 0.2, max_batch: int = 100) -> Journal:
        """The append-only journal for this run (see ``journal.Journal``).

        A file with a torn last line or an older header is compacted first, so every line after
        this one is readable and in today's column order.
        """
        if self.exists() and self._needs_repair():
            self.compact()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _write_error(self.path, exc) from exc
        self._journal = Journal(self.path, COLUMNS, max_delay_s=max_delay_s, max_batch=max_batch)
        return self._journal

    def _refuse_while_journal_open(self, action: str) -> None:
        if self._journal is not None and not self._journal.closed:
            raise RuntimeError(f"cannot {action} {self.path} while its journal is open")

    def _needs_repair(self) -> bool:
        with self._open() as handle:
            header = next(csv.reader(handle), None)
            return list(header or []) != list(COLUMNS) or _torn_tail(handle)

    def _mode(self) -> int:
        try:
            return os.stat(self.path).st_mode & 0o777
        except FileNotFoundError:
            return 0o644

    def _open(self) -> TextIO:
        # surrogateescape: a torn multi-byte character at the end must not fail the whole read.
        try:
            return open(self.path, encoding="utf-8-sig", errors="surrogateescape", newline="")
        except OSError as exc:
            raise InputFileError(
                f"cannot read the results file: {exc.strerror}", path=self.path
            ) from exc

    def _scan(self) -> Iterator[tuple[ResultRecord | None, bool]]:
        """(record, whether its line needs no rewrite) per line; (None, False) for a skipped one."""
        if not self.exists():
            return
        with self._open() as handle:
            torn = _torn_tail(handle)
            reader = csv.reader(handle)
            header = _read_header(reader, self.path)
            if header is None:
                return
            current = list(header) == list(COLUMNS)
            parse = RecordParser(header)
            previous: tuple[int, list[str]] | None = None
            for cells in _rows(reader, self.path):
                if previous is not None:
                    yield _parse(parse, previous, self.path), current
                previous = (reader.line_num, cells)
            if previous is not None:
                last = _parse_last(parse, previous, self.path, torn=torn)
                yield last, current and last is not None


class _Tally:
    """Whether the lines that pass through ``lines`` are already clean and in row order."""

    def __init__(self) -> None:
        self.clean = True
        self.in_row_order = True
        self._last_row = 0

    def lines(
        self, scan: Iterable[tuple[ResultRecord | None, bool]]
    ) -> Iterator[tuple[str, int, str]]:
        """(identity, row, CSV line in today's columns) per readable record."""
        line = CsvLines()
        for record, line_clean in scan:
            self.clean = self.clean and line_clean
            if record is None:
                continue
            self.in_row_order = self.in_row_order and record.row >= self._last_row
            self._last_row = record.row
            yield record.identity, record.row, line(record.to_csv_row())


def _rows(reader: Iterator[list[str]], path: Path) -> Iterator[list[str]]:
    try:
        for cells in reader:
            if cells:  # blank lines carry nothing
                yield cells
    except csv.Error as exc:
        raise InputFileError(f"cannot read the results file as CSV: {exc}", path=path) from exc


def _read_header(reader: Iterator[list[str]], path: Path) -> list[str] | None:
    header = next(_rows(reader, path), None)
    if header is None:
        return None
    names = [unescape_cell(name).strip() for name in header]
    missing = [name for name in _REQUIRED_COLUMNS if name not in names]
    if "identity" not in names and "phone" not in names:
        missing.append("identity")
    if missing:
        raise InputFileError(
            f"this is not a bulksend results file: its first line has no {missing[0]} column",
            path=path,
            hint="Point the campaign's results setting at a new file, or move this one away.",
        )
    return names


def _parse(parse: RecordParser, numbered: tuple[int, list[str]], path: Path) -> ResultRecord:
    line, cells = numbered
    try:
        joined = "".join(cells)
        if not joined.isascii() and _NOT_UTF8.search(joined):
            raise ValueError("it is not UTF-8 text")
        return parse(cells)
    except IndexError as exc:
        raise InputFileError(
            f"line {line} is not a readable results record (it has too few cells)",
            path=path,
            hint=_FIX_LINE_HINT,
        ) from exc
    except ValueError as exc:
        raise InputFileError(
            f"line {line} is not a readable results record ({exc})",
            path=path,
            hint=_FIX_LINE_HINT,
        ) from exc


_FIX_LINE_HINT = (
    "Fix or delete that line (keep a copy of the file first), or use --restart to start a new "
    "results file (the old one is kept beside it)."
)


def _parse_last(
    parse: RecordParser, numbered: tuple[int, list[str]], path: Path, *, torn: bool
) -> ResultRecord | None:
    """The last line: torn (no line end) or unreadable means a crash mid-write, so skip it."""
    if torn:
        logger.warning("%s: skipped torn last line %d (a run stopped mid-write)", path, numbered[0])
        return None
    try:
        return _parse(parse, numbered, path)
    except InputFileError as exc:
        logger.warning("%s: skipping unreadable last line: %s", path, exc.message)
        return None


def _torn_tail(handle: TextIO) -> bool:
    """True when the file does not end with a line end: its last write never finished."""
    descriptor = handle.fileno()
    size = os.fstat(descriptor).st_size
    return size > 0 and os.pread(descriptor, 1, size - 1) != b"\n"


def _write_error(path: Path, exc: OSError) -> BulksendError:
    return BulksendError(
        f"cannot write the results file {path}: {exc.strerror}",
        hint="Free some disk space or fix the folder's permissions, then run again.",
    )
