"""Streams a campaign's sheet into prepared rows: checked, rendered, deduplicated, suppressed.

The dataclasses ``Disposition`` and ``PreparedRow`` are the contract the sending engine consumes;
``iter_prepared_rows`` produces them, one per data row, in sheet order, holding no list of rows.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from bulksend.campaign import Campaign
from bulksend.errors import ConfigError, InputFileError
from bulksend.phonelist import PhoneList, read_phone_list
from bulksend.phones import normalize_phone
from bulksend.render import BodyRenderer, RowProblem, compile_body
from bulksend.sheets import MissingFileError, Sheet, UnknownSheetError, open_sheet
from bulksend.sms import SmsInfo
from bulksend.templates import Template

KEY_SEPARATOR = " | "  # joins the key columns' values into one readable identity
# Row-specific parts of a phone reason (the quoted cell, an E.164 number), dropped for grouping.
_ROW_SPECIFIC = re.compile(r"'[^']*'|\"[^\"]*\"|\+\d{6,}")


class Disposition(StrEnum):
    SENDABLE = "sendable"
    INVALID = "invalid"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class PreparedRow:
    row_number: int  # as Excel shows it; the header is row 1
    identity: str  # what resume and dedupe match on: E.164 phone or the key columns' values
    phone: str  # E.164 when valid, otherwise the cell text
    disposition: Disposition
    reason: str = ""  # why invalid or skipped, written for the user
    body: Mapping[str, Any] | None = None  # the exact JSON body of the send request
    segments: int | None = None  # SMS only


@dataclass(frozen=True, slots=True)
class CheckedRow:
    """A prepared row with what validate reports beside it."""

    prepared: PreparedRow
    values: Mapping[str, str]  # the row's cells by column, as read
    category: str = ""  # stable grouping of the reason for summaries; "" when sendable
    sms: SmsInfo | None = None


def resolve(campaign: Campaign, path: Path) -> Path:
    """Paths in the campaign file are relative to the file's folder."""
    return path if path.is_absolute() else campaign.path.parent / path


def iter_prepared_rows(
    campaign: Campaign,
    *,
    sheet: Sheet | None = None,
    template: Template | None = None,
    suppressed: frozenset[str] | None = None,
) -> Iterator[PreparedRow]:
    """Every data row of the campaign's sheet as a ``PreparedRow``, streamed in sheet order.

    ``sheet``: an already open ``sheets.Sheet`` (otherwise the campaign's source is opened and
    closed here). ``template``: when known, a header URL is only sent for a media header.
    ``suppressed``: E.164 phones never to message (default: the campaign's ``suppression:``
    list). Raises ``ConfigError`` (unknown column, broken template) before the first row and
    ``InputFileError`` for an unreadable or header-only sheet.
    """
    for checked in iter_checked_rows(
        campaign, sheet=sheet, template=template, suppressed=suppressed
    ):
        yield checked.prepared


def iter_checked_rows(
    campaign: Campaign,
    *,
    sheet: Sheet | None = None,
    template: Template | None = None,
    suppressed: frozenset[str] | None = None,
) -> Iterator[CheckedRow]:
    """``iter_prepared_rows`` with each row's cells and reason category (for validate)."""
    renderer = compile_body(campaign, template=template)
    if suppressed is None:
        suppressed = load_suppression(campaign)
    if sheet is not None:
        yield from _check_sheet(campaign, sheet, renderer, suppressed)
        return
    with open_campaign_sheet(campaign) as opened:
        yield from _check_sheet(campaign, opened, renderer, suppressed)


def open_campaign_sheet(campaign: Campaign) -> Sheet:
    """The campaign's sheet, open; a sheet name the workbook lacks is a ``ConfigError`` at the
    ``sheet:`` line (the fix is in the campaign file), other problems ``InputFileError``."""
    source = resolve(campaign, campaign.source)
    try:
        return open_sheet(source, sheet=campaign.sheet, encoding=campaign.encoding)
    except MissingFileError as error:
        raise error.with_hint(relative_paths_hint(campaign, "source")) from error
    except UnknownSheetError as error:
        raise ConfigError(
            f"{source.name} {error.problem}",
            path=campaign.path,
            line=campaign.line_of("sheet"),
            hint=error.hint,
        ) from error


def load_suppression(campaign: Campaign) -> frozenset[str]:
    """The E.164 phones of the campaign's suppression list (empty without one); raises as
    ``read_suppression`` does."""
    phone_list = read_suppression(campaign)
    return frozenset() if phone_list is None else phone_list.phones


def read_suppression(campaign: Campaign) -> PhoneList | None:
    """The campaign's suppression list with its count of unreadable entries, or None without one.

    A list that has entries but not one readable phone is a ``ConfigError``: every opt-out would
    be ignored, and messaging people who opted out is the worst outcome of a send. A list with
    some unreadable entries is returned; validate reports them.
    """
    if campaign.suppression is None:
        return None
    path = resolve(campaign, campaign.suppression)
    try:
        phone_list = read_phone_list(path, default_region=campaign.default_region)
    except MissingFileError as error:
        raise error.with_hint(relative_paths_hint(campaign, "suppression")) from error
    if phone_list.ignored and not phone_list.phones:
        rows = unreadable_rows_text(phone_list.ignored, phone_list.ignored_rows)
        raise ConfigError(
            f"the suppression list {path.name} has {phone_list.ignored:,} entries and not one "
            f"could be read as a phone ({rows}), so nobody on it would be suppressed",
            path=campaign.path,
            line=campaign.line_of("suppression"),
            hint=unreadable_hint(campaign),
        )
    return phone_list


def relative_paths_hint(campaign: Campaign, key: str) -> str:
    """Where a missing file named by ``key`` was looked for, for the campaign's user."""
    line = campaign.line_of(key)
    where = f" (`{key}:` on line {line})" if line else f" (`{key}:`)"
    return (
        f"Check the path{where}: paths in a campaign file are relative to its folder, "
        f"{campaign.path.absolute().parent}."
    )


def unreadable_rows_text(count: int, rows: Sequence[int]) -> str:
    """'rows 2, 3, 7 and more' for ``count`` unreadable entries of which ``rows`` are the first."""
    listed = ", ".join(str(row) for row in rows)
    more = " and more" if count > len(rows) else ""
    return f"row{'s' if count > 1 else ''} {listed}{more}"


def unreadable_hint(campaign: Campaign) -> str:
    """What to do about suppression entries that are no phone, for this campaign."""
    if campaign.default_region is None:
        return (
            "Write each number with + and its country code (e.g. +1 415 555 0132), or set "
            "default_region (e.g. default_region: US) so numbers without + can be read."
        )
    region = campaign.default_region
    return (
        f"Each entry must be a phone number; numbers without + are read as {region} numbers, "
        "so write others with + and their country code."
    )


def _check_sheet(
    campaign: Campaign, sheet: Sheet, renderer: BodyRenderer, suppressed: frozenset[str]
) -> Iterator[CheckedRow]:
    source = resolve(campaign, campaign.source)
    check_columns(campaign, list(sheet.columns), needed_columns(campaign, renderer), source)
    checker = RowChecker(campaign, renderer, suppressed)
    count = 0
    for sheet_row in sheet.rows():
        count += 1
        yield checker.check(sheet_row.row_number, sheet_row.values)
    if count == 0:
        raise InputFileError(
            "has a header but no data rows",
            path=source,
            hint="Add the recipients below the header row, or point source: at the right file.",
        )


def needed_columns(campaign: Campaign, renderer: BodyRenderer) -> dict[str, tuple[str, int | None]]:
    """Every column the campaign reads -> the setting that reads it and that setting's line."""
    needed = {campaign.phone_column: ("phone_column", campaign.line_of("phone_column"))}
    for column in campaign.key or ():
        needed.setdefault(column, ("key", campaign.line_of("key")))
    for column, user in renderer.column_users.items():
        needed.setdefault(column, user)
    return needed


def check_columns(
    campaign: Campaign,
    columns: Sequence[str],
    needed: Mapping[str, tuple[str, int | None]],
    source: Path,
) -> None:
    """``ConfigError`` at the setting's line for the first needed column the sheet lacks."""
    present = set(columns)
    for column, (used_by, line) in needed.items():
        if column in present:
            continue
        by_case = {name.casefold(): name for name in columns}
        close = difflib.get_close_matches(column, columns, n=3, cutoff=0.6)
        if column.casefold() in by_case and by_case[column.casefold()] not in close:
            close.insert(0, by_case[column.casefold()])
        guess = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(
            f"column {column!r} (used by {used_by}) is not in {source.name}.{guess}",
            path=campaign.path,
            line=line,
            hint="Its columns are: " + ", ".join(repr(c) for c in columns),
        )


def phone_reason_category(reason: str) -> str:
    """The reason without the row's own number, so equal problems group in summaries."""
    return _ROW_SPECIFIC.sub("…", reason)


def phone_message(raw_phone: str, reason: str) -> str:
    """The reason for one row, naming the cell once: "phone '12' is too short for US (+1)"."""
    quoted = repr(raw_phone)
    if reason.startswith(quoted):
        return f"phone {reason}"
    if quoted in reason:
        return f"phone: {reason}"
    return f"phone {quoted}: {reason}"


class RowChecker:
    """Turns one sheet row into a ``CheckedRow``; remembers identities for dedupe.

    Dedupe keeps a dict from a 64-bit number per identity to the first row number (without
    dedupe: to how many rows it has met), not the rows: an E.164 phone is its own digits
    (exact); other identities use Python's string hash, whose collisions are vanishingly rare
    at a few million rows.
    """

    def __init__(
        self, campaign: Campaign, renderer: BodyRenderer, suppressed: frozenset[str]
    ) -> None:
        self.campaign = campaign
        self.renderer = renderer
        self.suppressed = suppressed
        self.first_row_of: dict[int, int] = {}

    def check(self, row_number: int, values: Mapping[str, str]) -> CheckedRow:
        raw_phone = values.get(self.campaign.phone_column, "")
        e164, phone_problem = self.normalize(raw_phone)
        phone = e164 or raw_phone
        identity = self.identity(row_number, values, e164)
        if not self.campaign.dedupe:
            identity = self.numbered(identity, e164)

        def row(disposition: Disposition, reason: str = "", **extra: Any) -> PreparedRow:
            return PreparedRow(row_number, identity, phone, disposition, reason, **extra)

        if e164 is not None and e164 in self.suppressed:
            return CheckedRow(row(Disposition.SKIPPED, "suppressed"), values, "suppressed")
        rendered = self.renderer.render(phone, values)
        problems = [p for p in (phone_problem, self.key_problem(identity)) if p is not None]
        problems += rendered.problems
        segments = rendered.sms.segments if rendered.sms else None
        if problems:
            reason = "; ".join(problem.message for problem in problems)
            invalid = row(Disposition.INVALID, reason, segments=segments)
            return CheckedRow(invalid, values, problems[0].category, rendered.sms)
        first = self.first_occurrence(row_number, identity, e164) if self.campaign.dedupe else None
        if first is not None:
            duplicate = row(Disposition.SKIPPED, f"duplicate of row {first}", segments=segments)
            return CheckedRow(duplicate, values, "duplicate", rendered.sms)
        sendable = row(Disposition.SENDABLE, body=rendered.body, segments=segments)
        return CheckedRow(sendable, values, "", rendered.sms)

    def normalize(self, raw_phone: str) -> tuple[str | None, RowProblem | None]:
        column = self.campaign.phone_column
        if not raw_phone:
            return None, RowProblem(
                "missing phone",
                f"the phone cell (column {column!r}) is empty; fill it or remove the row",
            )
        result = normalize_phone(
            raw_phone,
            default_region=self.campaign.default_region,
            check=str(self.campaign.phone_check),
        )
        if result.e164 is not None:
            return result.e164, None
        reason = result.reason or "not a valid phone number"
        return None, RowProblem(
            f"invalid phone: {phone_reason_category(reason)}", phone_message(raw_phone, reason)
        )

    def identity(self, row_number: int, values: Mapping[str, str], e164: str | None) -> str:
        key = self.campaign.key
        if key:
            phone_column = self.campaign.phone_column
            parts = [e164 if c == phone_column and e164 else values.get(c, "") for c in key]
            return KEY_SEPARATOR.join(parts) if any(parts) else f"row:{row_number}"
        return e164 or values.get(self.campaign.phone_column, "") or f"row:{row_number}"

    def key_problem(self, identity: str) -> RowProblem | None:
        """With ``key:`` columns, a row whose key cells are all empty cannot be told apart on
        resume (its identity would be its position), so it is not sent."""
        if not self.campaign.key or not identity.startswith("row:"):
            return None
        columns = ", ".join(repr(column) for column in self.campaign.key)
        return RowProblem(
            "empty key",
            f"the key column(s) {columns} are empty; fill them: bulksend tells rows apart by "
            "them when a send is resumed",
        )

    def first_occurrence(self, row_number: int, identity: str, e164: str | None) -> int | None:
        """The row that already holds ``identity``, or None (and remember this row)."""
        if identity.startswith("row:"):
            return None
        first = self.first_row_of.setdefault(self.number(identity, e164), row_number)
        return None if first == row_number else first

    def numbered(self, identity: str, e164: str | None) -> str:
        """With ``dedupe: false``, the n-th row of one recipient becomes ``"<identity> #n"``
        (n from 2), so every row keeps its own line in the results file and none is taken for
        another on resume. Every row counts, invalid ones too, so fixing one later does not
        shift the numbers of the rows after it."""
        if identity.startswith("row:"):
            return identity
        number = self.number(identity, e164)
        seen = self.first_row_of.get(number, 0) + 1
        self.first_row_of[number] = seen
        return identity if seen == 1 else f"{identity} #{seen}"

    @staticmethod
    def number(identity: str, e164: str | None) -> int:
        """A 64-bit number per identity: an E.164 phone is its own digits (exact)."""
        return int(e164[1:]) if identity == e164 and e164[1:].isdigit() else hash(identity)
