"""Follow-up lists: the original sheet rows of recipients who were rejected or whose delivery
failed, with the reason, as a CSV that can be the source of a follow-up campaign (for example an
SMS fallback for people who are not on WhatsApp).

Results are matched to sheet rows by identity (the E.164 phone, or the ``key:`` columns), computed
by the same code that prepared the send (``prepare.iter_checked_rows``), not by row numbers alone:
the sheet may have been sorted since. The sheet is streamed, and the failed recipients' cells wait
in a scratch SQLite file beside the output (as compaction sorts on disk), so memory stays flat
however many failed: 287k failed recipients held as records took 276 MB. A row that is now skipped
(a later duplicate, or newly on the suppression list) is left out: the follow-up must not message
people who asked not to be messaged.
"""

from __future__ import annotations

import csv
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO

from bulksend.campaign import Campaign
from bulksend.csvsafe import escape_cell
from bulksend.errors import InputFileError
from bulksend.prepare import Disposition, iter_checked_rows, resolve
from bulksend.report import FAILED_DELIVERY_STATUSES
from bulksend.results import Outcome, ResultRecord
from bulksend.scratch import scratch_database

ADDED_COLUMNS = (
    "bulksend_outcome",
    "bulksend_delivery_status",
    "bulksend_error_code",
    "bulksend_reason",
    "bulksend_row",
)
NOT_FOUND_SHOWN = 10  # rows of recipients no longer in the sheet named in the summary
SCRATCH_CACHE_KIB = 4096  # SQLite's page cache for the scratch file


@dataclass(frozen=True)
class FollowupSummary:
    path: Path
    written: int  # rows in the follow-up file
    failed: int  # failed recipients in the results file
    not_found: int  # failed recipients no longer in the sheet (or now skipped)
    not_found_rows: tuple[int, ...] = ()  # the first NOT_FOUND_SHOWN of their rows, ascending


def needs_followup(record: ResultRecord) -> bool:
    """Rejected by the API, or sent and then not delivered."""
    if record.outcome is Outcome.REJECTED:
        return True
    status = record.delivery_status.strip().lower()
    return record.outcome is Outcome.SENT and status in FAILED_DELIVERY_STATUSES


def followup_reason(record: ResultRecord) -> str:
    if record.outcome is Outcome.REJECTED:
        return record.error or f"rejected (HTTP {record.http_status})"
    return record.delivery_detail or record.delivery_status


def followup_cells(record: ResultRecord) -> dict[str, str]:
    return {
        "bulksend_outcome": record.outcome.value,
        "bulksend_delivery_status": record.delivery_status,
        "bulksend_error_code": "" if record.error_code is None else str(record.error_code),
        "bulksend_reason": followup_reason(record),
        "bulksend_row": str(record.row),
    }


def output_columns(sheet_columns: Sequence[str]) -> list[str]:
    """The sheet's columns, then ours; a follow-up of a follow-up reuses the existing ones."""
    return list(sheet_columns) + [name for name in ADDED_COLUMNS if name not in sheet_columns]


def write_followup(
    campaign: Campaign, records: Iterable[ResultRecord], out_path: Path | str
) -> FollowupSummary:
    """Write the follow-up CSV to ``out_path`` (beside it, then renamed).

    Raises InputFileError when ``out_path`` is the campaign's own sheet or results file, or
    cannot be written; sheet and campaign errors as ``prepare.iter_checked_rows`` raises them.
    """
    out_path = Path(out_path)
    _refuse_own_files(campaign, out_path)
    from bulksend.sheets import open_sheet  # imported here like prepare does: sheets is heavy

    cannot_write = partial(_write_error, out_path)
    with scratch_database(
        out_path, cannot_write=cannot_write, cache_kib=SCRATCH_CACHE_KIB
    ) as database:
        wanted = _FailedRecipients(database)
        failed = wanted.load(records)
        source = resolve(campaign, campaign.source)
        with open_sheet(source, sheet=campaign.sheet, encoding=campaign.encoding) as sheet:
            columns = output_columns(list(sheet.columns))
            with _AtomicCsv(out_path) as writer:
                writer.writerow(columns)
                written = 0
                for checked in iter_checked_rows(campaign, sheet=sheet):
                    if checked.prepared.disposition is Disposition.SKIPPED:
                        continue
                    ours = wanted.take(checked.prepared.identity)
                    if ours is None:
                        continue
                    cells = {**checked.values, **ours}
                    writer.writerow([cells.get(column, "") for column in columns])
                    written += 1
        not_found, rows = wanted.left(NOT_FOUND_SHOWN)
    return FollowupSummary(out_path, written, failed, not_found, rows)


class _FailedRecipients:
    """identity -> the follow-up cells of a failed recipient, in a scratch SQLite database
    (``scratch.scratch_database``) rather than in memory."""

    def __init__(self, database: sqlite3.Connection) -> None:
        self._db = database
        columns = ", ".join(f"{name} TEXT NOT NULL" for name in ADDED_COLUMNS)
        self._db.execute(
            f"CREATE TABLE failed (identity TEXT PRIMARY KEY, row INTEGER NOT NULL, {columns})"
        )
        # One transaction for the file's whole life: nothing in it must outlive the call, and a
        # commit per row would write pages every time.
        self._db.execute("BEGIN")

    def load(self, records: Iterable[ResultRecord]) -> int:
        """Keep the recipients whose last line needs a follow-up; how many they are."""
        insert = (
            f"INSERT OR REPLACE INTO failed VALUES ({', '.join('?' * (len(ADDED_COLUMNS) + 2))})"
        )
        for record in records:
            # In an uncompacted journal the last line per identity wins, as everywhere else.
            if needs_followup(record):
                cells = followup_cells(record)
                values = (record.identity, record.row, *(cells[name] for name in ADDED_COLUMNS))
                self._db.execute(insert, values)
            else:
                self._db.execute("DELETE FROM failed WHERE identity = ?", (record.identity,))
        return self._count()

    def take(self, identity: str) -> dict[str, str] | None:
        """The follow-up cells of ``identity`` (then forgotten), or None if it did not fail."""
        found = self._db.execute(
            f"SELECT {', '.join(ADDED_COLUMNS)} FROM failed WHERE identity = ?", (identity,)
        ).fetchone()
        if found is None:
            return None
        self._db.execute("DELETE FROM failed WHERE identity = ?", (identity,))
        return dict(zip(ADDED_COLUMNS, found, strict=True))

    def left(self, shown: int) -> tuple[int, tuple[int, ...]]:
        """How many were never taken, and the first ``shown`` of their rows."""
        rows = self._db.execute("SELECT row FROM failed ORDER BY row LIMIT ?", (shown,))
        return self._count(), tuple(row for (row,) in rows)

    def _count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM failed").fetchone()[0])


def _refuse_own_files(campaign: Campaign, out_path: Path) -> None:
    own = {
        resolve(campaign, campaign.source).resolve(),
        campaign.results_path.resolve(),
        campaign.path.resolve(),
    }
    if out_path.resolve() in own:
        raise InputFileError(
            "is the campaign's own file; the follow-up list would overwrite it.",
            path=out_path,
            hint="Give --failed-out a new file name, e.g. followup.csv.",
        )


class _AtomicCsv:
    """A CSV writer into a temporary file beside ``path``, renamed over it on a clean exit.

    UTF-8 with BOM so Excel reads accents right; every cell escaped against formula injection.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._temp: Path | None = None
        self._file: IO[str] | None = None

    def __enter__(self) -> _AtomicCsv:
        try:
            handle, name = tempfile.mkstemp(
                prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
        except OSError as error:
            raise self._error(error) from error
        self._temp = Path(name)
        self._file = os.fdopen(handle, "w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._file)
        return self

    def writerow(self, cells: Iterable[object]) -> None:
        try:
            self._writer.writerow([escape_cell(cell) for cell in cells])
        except OSError as error:
            raise self._error(error) from error

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        assert self._file is not None and self._temp is not None
        try:
            if exc_type is None:
                self._file.flush()
                os.fsync(self._file.fileno())
            self._file.close()
            if exc_type is None:
                os.replace(self._temp, self.path)
        except OSError as error:
            raise self._error(error) from error
        finally:
            self._temp.unlink(missing_ok=True)

    def _error(self, error: OSError) -> InputFileError:
        return _write_error(self.path, error)


def _write_error(path: Path, error: OSError) -> InputFileError:
    return InputFileError(
        f"cannot write the follow-up list: {error.strerror or error}",
        path=path,
        hint="Choose a folder you can write to, and close the file if Excel has it open.",
    )
