"""The journal: group commit, durability seen by readers and other processes, I/O errors raised."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bulksend.errors import BulksendError
from bulksend.journal import BOM, Journal, csv_line
from bulksend.results import COLUMNS, Outcome, ResultRecord, ResultsFile


def record(row: int, outcome: Outcome = Outcome.PENDING) -> ResultRecord:
    phone = f"+4477009{row:05d}"
    return ResultRecord(row=row, phone=phone, outcome=outcome, identity=phone)


def rows_on_disk(path: Path) -> list[int]:
    """What a separate reader sees right now: rows of the complete lines."""
    return [r.row for r in ResultsFile(path).iter_records()]


def wait_for(condition: object, *, timeout_s: float = 10.0) -> bool:
    """Poll ``condition()`` every 10 ms for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return bool(condition())  # type: ignore[operator]


class ChildLines:
    """Reads a child's stdout line by line, every read bounded in time."""

    def __init__(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stdout is not None
        self._fd = child.stdout.fileno()
        self._buffer = b""

    def next_line(self, *, timeout_s: float = 30.0) -> str | None:
        """The next line, or None at end of output; fails the test after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "the child went silent"
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "run.csv"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    with Journal(path, COLUMNS, max_delay_s=60.0, max_batch=1000) as opened:
        yield opened


def test_new_file_gets_the_bom_and_header_at_once(path: Path, journal: Journal) -> None:
    assert path.read_bytes() == (BOM + csv_line(COLUMNS)).encode()


def test_append_durable_is_on_disk_when_it_returns(path: Path, journal: Journal) -> None:
    journal.append_durable(record(2))
    assert rows_on_disk(path) == [2]


def test_flush_makes_every_earlier_append_visible(path: Path, journal: Journal) -> None:
    for row in range(2, 12):
        journal.append(record(row))
    journal.flush()
    assert rows_on_disk(path) == list(range(2, 12))


def test_plain_appends_wait_for_the_group_commit(path: Path, journal: Journal) -> None:
    """With a long delay and a large batch, nothing is written until someone asks."""
    journal.append(record(2))
    time.sleep(0.05)
    assert rows_on_disk(path) == []
    journal.flush()
    assert rows_on_disk(path) == [2]


def test_plain_append_lands_within_the_delay(path: Path) -> None:
    with Journal(path, COLUMNS, max_delay_s=0.05) as journal:
        journal.append(record(2))
        assert wait_for(lambda: rows_on_disk(path) == [2], timeout_s=10.0)


def test_a_full_batch_is_written_without_waiting_for_the_delay(path: Path) -> None:
    with Journal(path, COLUMNS, max_delay_s=600.0, max_batch=3) as journal:
        for row in (2, 3, 4):
            journal.append(record(row))
        assert wait_for(lambda: rows_on_disk(path) == [2, 3, 4], timeout_s=10.0)


def test_close_flushes_what_is_queued(path: Path) -> None:
    journal = Journal(path, COLUMNS, max_delay_s=600.0, max_batch=1000)
    journal.append(record(2))
    journal.close()
    journal.close()  # twice is harmless
    assert rows_on_disk(path) == [2]
    with pytest.raises(RuntimeError, match="closed"):
        journal.append(record(3))


def test_many_threads_lose_nothing_and_tear_no_line(path: Path) -> None:
    with Journal(path, COLUMNS, max_delay_s=0.01, max_batch=7) as journal:

        def worker(base: int) -> None:
            for offset in range(50):
                row = base + offset
                (journal.append_durable if offset % 5 == 0 else journal.append)(record(row))

        threads = [threading.Thread(target=worker, args=(1000 * n,)) for n in range(1, 9)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
    expected = sorted(1000 * n + offset for n in range(1, 9) for offset in range(50))
    assert sorted(rows_on_disk(path)) == expected


def test_existing_lines_are_kept_and_a_torn_tail_is_ended(path: Path) -> None:
    """Appending to a file that ends mid-line starts the next record on a line of its own."""
    whole = BOM + csv_line(COLUMNS) + csv_line(record(2).to_csv_row())
    path.write_bytes((whole + "3,'+44770").encode())
    with Journal(path, COLUMNS) as journal:
        journal.append(record(4))
    data = path.read_bytes().decode()
    assert data.startswith(whole + "3,'+44770\r\n")
    assert data.endswith("\r\n" + csv_line(record(4).to_csv_row()))


def test_incomplete_header_is_replaced(path: Path) -> None:
    path.write_bytes((BOM + "row,phone,outc").encode())
    with Journal(path, COLUMNS) as journal:
        journal.append(record(2))
    assert rows_on_disk(path) == [2]


def test_disk_full_surfaces_to_the_caller(path: Path) -> None:
    """An fsync-or-write failure in the writer thread is raised by flush and later appends."""
    journal = Journal(path, COLUMNS, max_delay_s=600.0)
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(full, journal._fd)  # the disk fills up under a running journal
    finally:
        os.close(full)
    journal.append(record(2))
    with pytest.raises(BulksendError, match="cannot write the results file .*No space left"):
        journal.flush()
    with pytest.raises(BulksendError, match="No space left"):
        journal.append_durable(record(3))
    with pytest.raises(BulksendError, match="No space left"):
        journal.close()


def test_file_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BulksendError, match="cannot open the results file"):
        Journal(tmp_path / "missing-folder" / "run.csv", COLUMNS)


APPEND_WITH_HANDSHAKE = """
import sys
from pathlib import Path
from bulksend.results import Outcome, ResultRecord, ResultsFile
results = ResultsFile(Path(sys.argv[1]))
with results.lock(), results.open_journal(max_delay_s=60.0, max_batch=1000) as journal:
    for row in range(2, 2 + int(sys.argv[2])):
        phone = f"+4477009{row:05d}"
        journal.append_durable(ResultRecord(row, phone, Outcome.PENDING, phone))
        print(row, flush=True)
        sys.stdin.readline()
"""


def test_each_record_is_committed_before_the_next_arrives(path: Path) -> None:
    """A child appends durably and reports each; the parent reads the file in between."""
    child = subprocess.Popen(
        [sys.executable, "-c", APPEND_WITH_HANDSHAKE, str(path), "5"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdin is not None
    try:
        lines = ChildLines(child)
        for row in range(2, 7):
            assert lines.next_line() == str(row)
            assert rows_on_disk(path) == list(range(2, row + 1))
            child.stdin.write(b"\n")
            child.stdin.flush()
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdin.close()
        assert child.stdout is not None
        child.stdout.close()


APPEND_UNTIL_KILLED = """
import sys
from pathlib import Path
from bulksend.results import Outcome, ResultRecord, ResultsFile
results = ResultsFile(Path(sys.argv[1]))
with results.lock(), results.open_journal(max_delay_s=0.2, max_batch=100) as journal:
    for row in range(2, 200_000):
        phone = f"+4477009{row:06d}"
        record = ResultRecord(row, phone, Outcome.PENDING, phone, error="x" * (row % 300))
        if row % 3:
            journal.append_durable(record)
            print(row, flush=True)
        else:
            journal.append(record)
"""


@pytest.mark.parametrize("kill_after", [1, 37, 400])
def test_every_record_reported_durable_survives_sigkill(path: Path, kill_after: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", APPEND_UNTIL_KILLED, str(path)], stdout=subprocess.PIPE
    )
    reported: list[int] = []
    try:
        lines = ChildLines(child)
        while len(reported) < kill_after:
            line = lines.next_line()
            assert line is not None, "the child stopped before it was killed"
            reported.append(int(line))
        child.send_signal(signal.SIGKILL)
        while (line := lines.next_line()) is not None:
            reported.append(int(line))
    finally:
        child.kill()
        child.wait(timeout=30)
        assert child.stdout is not None
        child.stdout.close()
    on_disk = set(rows_on_disk(path))  # a torn last line, if any, is skipped
    assert set(reported) <= on_disk
    assert len(on_disk) >= len(reported)
    with ResultsFile(path).lock():  # the kernel released the dead child's lock
        ResultsFile(path).compact()
    assert set(reported) <= set(rows_on_disk(path))
