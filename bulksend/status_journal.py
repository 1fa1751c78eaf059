"""The status answers journal: ``<results>.status`` beside the results file.

Rewriting a million-row results file takes seconds, so a status run does not rewrite it as answers
come. Each answer is one line appended to this sidecar (``journal.Journal``: group commit, and a
worker goes on only once its line is fsynced), and the results file is rewritten once, atomically,
when the run ends, with every answer merged (``merge_answers``). A run killed before that leaves
the sidecar behind; the next status run merges it before asking anything. Both happen under the
results lock, and merging the same sidecar twice gives the same file, so a crash between the
rewrite and the sidecar's removal costs nothing.

During the merge the answers are looked up by message id in a scratch SQLite file beside the
results (``scratch.scratch_database``), so memory stays flat however many answered.
"""

from __future__ import annotations

import csv
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from bulksend.errors import BulksendError
from bulksend.journal import Journal, fsync_directory
from bulksend.record import DELIVERY_COLUMNS
from bulksend.results import Outcome, ResultRecord, ResultsFile
from bulksend.scratch import scratch_database
from bulksend.status_fields import StatusAnswer, apply_answers

logger = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".status"
COLUMNS = ("message_id", "identity", "kind", *DELIVERY_COLUMNS, "end")
# Every line ends in this cell: a line a crash cut short lacks it and is skipped.
END_MARK = "end"
ANSWER, REFUSAL = "answer", "refusal"
LOOKUP_BATCH = 500  # rows whose answers one query fetches (SQLite allows 999 parameters at least)
_LINE_BREAKS = re.compile(r"[\r\n]+")


def sidecar_path(results_path: Path) -> Path:
    return results_path.with_name(results_path.name + SIDECAR_SUFFIX)


class _Line:
    """One answer as the ``journal.CsvRecord`` the journal writes."""

    __slots__ = ("answer",)

    def __init__(self, answer: StatusAnswer) -> None:
        self.answer = answer

    def to_csv_row(self) -> list[str]:
        answer = self.answer
        fields = answer.fields
        cells = [answer.message_id, answer.identity, REFUSAL if answer.refusal else ANSWER]
        cells += [fields.get(name, "") for name in DELIVERY_COLUMNS]
        # One physical line per answer, so that a torn line never swallows the next one.
        return [_LINE_BREAKS.sub(" ", cell) for cell in cells] + [END_MARK]


class AnswerJournal:
    """Appends answers to the sidecar; ``record`` returns once the answer is on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._journal = Journal(path, COLUMNS)
        except BulksendError as exc:
            raise _write_error(path, exc) from exc

    def record(self, answer: StatusAnswer) -> None:
        """Durable before it returns (workers waiting together share one fsync)."""
        try:
            self._journal.append_durable(_Line(answer))
        except BulksendError as exc:
            raise _write_error(self.path, exc) from exc

    def record_all(self, answers: Iterable[StatusAnswer]) -> None:
        """Many answers received together (a list call), made durable by one fsync."""
        try:
            for answer in answers:
                self._journal.append(_Line(answer))
            self._journal.flush()
        except BulksendError as exc:
            raise _write_error(self.path, exc) from exc

    def flush(self) -> None:
        self._journal.flush()

    def close(self) -> None:
        try:
            self._journal.close()
        except BulksendError as exc:
            raise _write_error(self.path, exc) from exc


def _write_error(path: Path, exc: BulksendError) -> BulksendError:
    reason = exc.message.rpartition(": ")[2] or exc.message
    return BulksendError(
        f"cannot record delivery answers in {path}: {reason}",
        hint="Free some disk space or fix the folder's permissions, then run status again: "
        "the answers recorded before this are kept.",
    )


def read_answers(path: Path) -> Iterator[StatusAnswer]:
    """The sidecar's answers in the order they were received. A line a crash cut short (no end
    mark, too few cells, not UTF-8) is skipped. No file: nothing."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, also when the caller stops early
    except FileNotFoundError:
        return
    with handle:
        position: dict[str, int] | None = None
        for number, raw in enumerate(handle, start=1):
            cells = _cells(raw)
            if cells is not None and position is None:
                position = {name.lstrip("\ufeff"): index for index, name in enumerate(cells)}
                if any(name not in position for name in COLUMNS):
                    logger.warning("%s: not a status answers file; nothing merged", path)
                    return
            elif cells is not None and position is not None and _whole(cells, position):
                yield _answer(cells, position)
            else:
                logger.warning("%s: skipped line %d (cut short by a crash)", path, number)


def _whole(cells: list[str], position: dict[str, int]) -> bool:
    return len(cells) == len(position) and cells[position["end"]] == END_MARK


def _cells(raw: bytes) -> list[str] | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.rstrip("\r\n")
    if not text:
        return None
    try:
        return next(csv.reader([text]))
    except csv.Error:
        return None


def _answer(cells: list[str], position: dict[str, int]) -> StatusAnswer:
    return StatusAnswer(
        message_id=cells[position["message_id"]],
        identity=cells[position["identity"]],
        fields={name: cells[position[name]] for name in DELIVERY_COLUMNS},
        refusal=cells[position["kind"]] == REFUSAL,
    )


class AnswerIndex:
    """Answers by message id, in a scratch database (``scratch.scratch_database``)."""

    def __init__(self, database: sqlite3.Connection) -> None:
        self._db = database
        columns = ", ".join(f"{name} TEXT NOT NULL" for name in DELIVERY_COLUMNS)
        self._db.execute(
            "CREATE TABLE answers (message_id TEXT NOT NULL, seq INTEGER NOT NULL, "
            f"identity TEXT NOT NULL, refusal INTEGER NOT NULL, {columns}, "
            "PRIMARY KEY (message_id, seq)) WITHOUT ROWID"
        )
        self.answers = 0

    def add(self, answers: Iterable[StatusAnswer]) -> None:
        def rows() -> Iterator[tuple[object, ...]]:
            for answer in answers:
                self.answers += 1
                fields = [answer.fields.get(name, "") for name in DELIVERY_COLUMNS]
                yield answer.message_id, self.answers, answer.identity, answer.refusal, *fields

        marks = ", ".join("?" * (4 + len(DELIVERY_COLUMNS)))
        self._db.execute("BEGIN")
        self._db.executemany(f"INSERT INTO answers VALUES ({marks})", rows())
        self._db.execute("COMMIT")

    def for_messages(self, message_ids: Iterable[str]) -> dict[str, list[StatusAnswer]]:
        """The answers about each of ``message_ids`` (at most ``LOOKUP_BATCH``), oldest first;
        message ids without an answer are left out."""
        wanted = list(set(message_ids))
        found: dict[str, list[StatusAnswer]] = {}
        if not wanted:
            return found
        rows = self._db.execute(
            f"SELECT message_id, identity, refusal, {', '.join(DELIVERY_COLUMNS)} FROM answers "
            f"WHERE message_id IN ({', '.join('?' * len(wanted))}) ORDER BY message_id, seq",
            wanted,
        )
        for message_id, identity, refusal, *values in rows:
            fields = dict(zip(DELIVERY_COLUMNS, values, strict=True))
            found.setdefault(message_id, []).append(
                StatusAnswer(message_id, identity, fields, bool(refusal))
            )
        return found


def merge_answers(
    results: ResultsFile,
    sidecar: Path,
    *,
    on_record: Callable[[ResultRecord], None] | None = None,
) -> int:
    """Merge the answers in ``sidecar`` into ``results`` by one atomic rewrite, then remove the
    sidecar. Returns how many answers it held; ``on_record`` sees every record written (not
    called when there was nothing to merge). The caller holds the results lock."""
    if not sidecar.exists():
        return 0

    def cannot_write(exc: OSError) -> BulksendError:
        return BulksendError(
            f"cannot merge the delivery answers of {sidecar} into {results.path}: {exc.strerror}",
            hint="Free some disk space or fix the folder's permissions, then run status again: "
            "the answers stay in the journal until they are merged.",
        )

    with scratch_database(results.path, cannot_write=cannot_write) as database:
        index = AnswerIndex(database)
        index.add(read_answers(sidecar))
        if index.answers:
            results.rewrite(_merged(results.iter_records(), index, on_record))
    sidecar.unlink()
    fsync_directory(sidecar.parent)
    return index.answers


def _merged(
    records: Iterable[ResultRecord],
    index: AnswerIndex,
    on_record: Callable[[ResultRecord], None] | None,
) -> Iterator[ResultRecord]:
    """``records`` with their answers applied, looked up a batch of rows at a time."""
    for batch in _batches(records, LOOKUP_BATCH):
        answers = index.for_messages(r.message_id for r in batch if r.outcome is Outcome.SENT)
        for record in batch:
            found = answers.get(record.message_id) if record.outcome is Outcome.SENT else None
            if found:
                record = apply_answers(record, found)
            if on_record is not None:
                on_record(record)
            yield record


def _batches(records: Iterable[ResultRecord], size: int) -> Iterator[list[ResultRecord]]:
    batch: list[ResultRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
