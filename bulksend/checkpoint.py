"""What a send run knows of its results file: the last outcome per identity, in little memory.

A resume of a million rows must not hold a million ``ResultRecord``s (about 700 bytes each).
``Checkpoint`` keeps one small integer per identity: the outcome, whether this run already met
the identity, and for an invalid or skipped row a fingerprint of its row number and reason (so
an unchanged line is not written again). Small integers are shared objects in CPython, so a
sent row costs its identity string and a dict slot, about 100 bytes. Whole records are kept
only for rows that are failed, uncertain or pending: the next attempt counts on from their
``attempts``, and pending ones are reconciled. Those are the few that went wrong.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from bulksend.results import Outcome, ResultRecord

_OUTCOMES: tuple[Outcome | None, ...] = (None, *Outcome)  # code 0: no record yet
_CODE = {outcome: code for code, outcome in enumerate(_OUTCOMES)}
_OUTCOME_BITS = 0b111
_MET = 0b1000  # the identity was met earlier in this run
_FINGERPRINT_SHIFT = 4
_FINGERPRINT_MASK = (1 << 48) - 1
_KEPT_WHOLE = frozenset({Outcome.FAILED, Outcome.UNCERTAIN, Outcome.PENDING})
_FINGERPRINTED = frozenset({Outcome.INVALID, Outcome.SKIPPED})

assert len(_OUTCOMES) <= _OUTCOME_BITS + 1, "outcome codes must fit their bits"


def _fingerprint(row: int, error: str) -> int:
    # hash() is salted per process; the checkpoint lives in one process, so that is fine.
    return hash((row, error)) & _FINGERPRINT_MASK


class Checkpoint:
    """identity -> its last outcome, fed by the results file and then by the run's own lines.

    Thread-safe: workers ``remember`` outcomes while the feeder reads and ``claim``s.
    """

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self._kept: dict[str, ResultRecord] = {}
        self._lock = threading.Lock()
        self.lines = 0  # lines loaded from the file
        self.in_row_order = True  # the loaded lines' rows never go down

    @classmethod
    def load(cls, records: Iterable[ResultRecord]) -> Checkpoint:
        """A checkpoint of ``records`` in file order (the last line per identity wins)."""
        checkpoint = cls()
        previous_row = 0
        for record in records:
            checkpoint.lines += 1
            checkpoint.in_row_order = checkpoint.in_row_order and record.row >= previous_row
            previous_row = record.row
            checkpoint.remember(record)
        return checkpoint

    @property
    def is_compact(self) -> bool:
        """The loaded file held one line per identity, in row order: nothing to compact."""
        return self.in_row_order and self.lines == len(self._codes)

    def __len__(self) -> int:
        return len(self._codes)

    def outcome(self, identity: str) -> Outcome | None:
        return _OUTCOMES[self._codes.get(identity, 0) & _OUTCOME_BITS]

    def retry_record(self, identity: str) -> ResultRecord | None:
        """The last record of a failed, uncertain or pending row; None for any other."""
        return self._kept.get(identity)

    def holds_unsendable(self, identity: str, outcome: Outcome, row: int, error: str) -> bool:
        """True when ``identity``'s last line is already this invalid or skipped line."""
        code = self._codes.get(identity, 0)
        return _OUTCOMES[
            code & _OUTCOME_BITS
        ] is outcome and code >> _FINGERPRINT_SHIFT == _fingerprint(row, error)

    def claim(self, identity: str) -> bool:
        """Note that this run met ``identity``; True when it had already."""
        with self._lock:
            code = self._codes.get(identity, 0)
            self._codes[identity] = code | _MET
            return bool(code & _MET)

    def remember(self, record: ResultRecord) -> None:
        """``record`` is now the identity's last line."""
        outcome = record.outcome
        code = _CODE[outcome]
        if outcome in _FINGERPRINTED:
            code |= _fingerprint(record.row, record.error) << _FINGERPRINT_SHIFT
        identity = record.identity
        with self._lock:
            self._codes[identity] = code | (self._codes.get(identity, 0) & _MET)
            if outcome in _KEPT_WHOLE:
                self._kept[identity] = record
            else:
                self._kept.pop(identity, None)

    def counts(self) -> Counter[Outcome]:
        """How many identities hold each outcome (identities only met, never recorded, are left
        out)."""
        with self._lock:
            codes = Counter(code & _OUTCOME_BITS for code in self._codes.values())
        return Counter({_OUTCOMES[code]: n for code, n in codes.items() if code})

    def pending(self) -> list[ResultRecord]:
        """Rows whose last line is ``pending``: in flight when an earlier run stopped."""
        with self._lock:
            return [r for r in self._kept.values() if r.outcome is Outcome.PENDING]
