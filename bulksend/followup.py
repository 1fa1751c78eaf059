"""Follow-up lists: the original sheet rows of recipients who were rejected or whose delivery
failed, with the reason, as a CSV that can be the source of a follow-up campaign (for example an
SMS fallback for people who are not on WhatsApp).

Results are matched to sheet rows by identity (the E.164 phone, or the ``key:`` columns), computed
by the same code that prepared the send (``prepare.iter_checked_rows``), not by row numbers alone:
the sheet may have been sorted since. The sheet is streamed; memory holds only the failed rows'
results. A row that is now skipped (a later duplicate, or newly on the suppression list) is left
out: the follow-up must not message people who asked not to be messaged.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bulksend.campaign import Campaign
from bulksend.csvsafe import escape_cell
from bulksend.errors import InputFileError
from bulksend.prepare import Disposition, iter_checked_rows, resolve
from bulksend.report import FAILED_DELIVERY_STATUSES
from bulksend.results import Outcome, ResultRecord

ADDED_COLUMNS = (
    "bulksend_outcome",
    "bulksend_delivery_status",
    "bulksend_error_code",
    "bulksend_reason",
    "bulksend_row",
)


@dataclass(frozen=True)
class FollowupSummary:
    path: Path
    written: int  # rows in the follow-up file
    failed: int  # failed recipients in the results file
    not_found: tuple[ResultRecord, ...]  # failed recipients no longer in the sheet (or skipped)


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
    wanted = _failed_by_identity(records)
    failed = len(wanted)
    from bulksend.sheets import open_sheet  # imported here like prepare does: sheets is heavy

    source = resolve(campaign, campaign.source)
    with open_sheet(source, sheet=campaign.sheet, encoding=campaign.encoding) as sheet:
        columns = output_columns(list(sheet.columns))
        with _AtomicCsv(out_path) as writer:
            writer.writerow(columns)
            written = 0
            for checked in iter_checked_rows(campaign, sheet=sheet):
                if checked.prepared.disposition is Disposition.SKIPPED:
                    continue
                record = wanted.pop(checked.prepared.identity, None)
                if record is None:
                    continue
                cells = {**checked.values, **followup_cells(record)}
                writer.writerow([cells.get(column, "") for column in columns])
                written += 1
    not_found = tuple(sorted(wanted.values(), key=lambda record: record.row))
    return FollowupSummary(out_path, written, failed, not_found)


def _failed_by_identity(records: Iterable[ResultRecord]) -> dict[str, ResultRecord]:
    # In an uncompacted journal the last line per identity wins, as everywhere else.
    wanted: dict[str, ResultRecord] = {}
    for record in records:
        if needs_followup(record):
            wanted[record.identity] = record
        else:
            wanted.pop(record.identity, None)
    return wanted


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
        return InputFileError(
            f"cannot write the follow-up list: {error.strerror or error}",
            path=self.path,
            hint="Choose a folder you can write to, and close the file if Excel has it open.",
        )
