"""The results file as reports read it: one record per recipient (the last line per identity wins),
in little memory.

A compact file, the state after every clean run, is streamed as it is and costs nothing per row. A
journal left by an interrupted send (``pending`` lines, earlier lines of retried rows) is read
twice: the first pass notes the index of each identity's last line in a ``LastLines`` table, two
flat arrays with no Python object per entry (12 bytes a slot, about 25 bytes per recipient), and
the second yields those lines. A dict of the same would cost ~140 bytes per recipient.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from pathlib import Path

from bulksend.errors import InputFileError
from bulksend.results import Outcome, ResultRecord, ResultsFile

_EMPTY = 0  # no identity's key is 0 (see _key)
_FIRST_CAPACITY = 1 << 10


def iter_results(path: Path) -> Iterator[ResultRecord]:
    """The results file's records, one per recipient, in file order of their last lines.

    Raises InputFileError when there is no results file, or for a line that cannot be read
    (``ResultsFile.iter_records``; a torn last line is skipped).
    """
    if not path.exists():
        raise InputFileError(
            "there is no results file yet.", path=path, hint="Run `bulksend send` first."
        )
    if _is_compact(path):
        yield from _read_records(path)
        return
    last_lines = LastLines()
    for index, record in enumerate(_read_records(path)):
        last_lines.note(record.identity, index)
    for index, record in enumerate(_read_records(path)):
        if last_lines.is_last(record.identity, index):
            yield record


def _is_compact(path: Path) -> bool:
    """True for a file as compaction leaves it: no ``pending`` line and rows rising, so one line
    per recipient. Stops at the first line that says otherwise.

    Every send writes a ``pending`` line before the request, and a later line of a retried or
    rewritten row comes after higher rows, so a journal fails the test at one or the other; a
    compact file where two recipients share a row (the sheet was edited between runs) fails it
    too, and is merely read the slower way.
    """
    previous_row = 0
    for record in _read_records(path):
        if record.outcome is Outcome.PENDING or record.row <= previous_row:
            return False
        previous_row = record.row
    return True


def _read_records(path: Path) -> Iterator[ResultRecord]:
    return ResultsFile(path).iter_records()


class LastLines:
    """identity -> the index of its last line, in two arrays (open addressing, linear probing).

    Identities are told apart by their 64-bit ``hash()``, salted per process (the table lives in
    one); two identities of equal hash would count as one, about once in 10^7 files of a million
    recipients, the trade-off ``prepare``'s dedupe makes too. Line indexes go up to 2^32 - 1.
    """

    def __init__(self) -> None:
        self._keys = array("q", [_EMPTY]) * _FIRST_CAPACITY
        self._lines = array("I", [0]) * _FIRST_CAPACITY
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def note(self, identity: str, line: int) -> None:
        """``line`` is now ``identity``'s last line."""
        key = _key(identity)
        slot = self._slot(key)
        if self._keys[slot] != key:
            self._keys[slot] = key
            self._size += 1
        self._lines[slot] = line
        if 3 * self._size > 2 * len(self._keys):  # keep probes short: at most 2/3 full
            self._grow()

    def is_last(self, identity: str, line: int) -> bool:
        """Whether ``line`` is the last line noted for ``identity``."""
        key = _key(identity)
        slot = self._slot(key)
        return self._keys[slot] == key and self._lines[slot] == line

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot where it belongs."""
        keys = self._keys
        mask = len(keys) - 1
        slot = key & mask
        while keys[slot] != key and keys[slot] != _EMPTY:
            slot = (slot + 1) & mask
        return slot

    def _grow(self) -> None:
        old_keys, old_lines = self._keys, self._lines
        self._keys = array("q", [_EMPTY]) * (2 * len(old_keys))
        self._lines = array("I", [0]) * (2 * len(old_keys))
        for key, line in zip(old_keys, old_lines, strict=True):
            if key != _EMPTY:
                slot = self._slot(key)
                self._keys[slot] = key
                self._lines[slot] = line


def _key(identity: str) -> int:
    return hash(identity) or 1
