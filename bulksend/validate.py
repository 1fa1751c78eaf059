"""``validate_campaign()``: read every row once, send nothing, report what a send would do.

The report holds counts (rows read, sendable, invalid grouped by reason, duplicates, suppressed,
SMS segments), a masked preview of the first request bodies (each SMS with its characters,
encoding and segments), the template check and what the suppression list held; the rows that
will not be sent go to the rejects file. Library only: the CLI prints, a cron job reads fields.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bulksend.campaign import Campaign
from bulksend.errors import ApiUnreachableError, CampaignRefusedError, ConfigError
from bulksend.phonelist import PhoneList
from bulksend.phones import mask_phone
from bulksend.prepare import (
    CheckedRow,
    Disposition,
    iter_checked_rows,
    open_campaign_sheet,
    read_suppression,
    resolve,
    unreadable_hint,
    unreadable_rows_text,
)
from bulksend.rejects import RejectsWriter
from bulksend.sms import SmsInfo
from bulksend.templates import Template

# done, total (None when unknown), unit: called every PROGRESS_EVERY rows and at the end.
ProgressCallback = Callable[[int, int | None, str], None]
FetchTemplate = Callable[[int], Template]
PROGRESS_EVERY = 1000
MAX_REASON_CATEGORIES = 50  # beyond this, reasons share "other" so memory stays flat
OTHER_CATEGORY = "other reasons"


@dataclass(frozen=True)
class ReasonCount:
    category: str
    count: int
    example_row: int
    example_reason: str


@dataclass(frozen=True)
class PreviewItem:
    row_number: int
    body: Mapping[str, Any]  # the request body with the phone masked
    sms: SmsInfo | None = None  # SMS only: characters, encoding and segments of the body

    def to_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {"row": self.row_number, "body": dict(self.body)}
        if self.sms is not None:
            item["sms"] = {
                "characters": self.sms.characters,
                "encoding": self.sms.encoding.value,
                "segments": self.sms.segments,
            }
        return item


@dataclass(frozen=True)
class SuppressionCheck:
    """The campaign's suppression list as read: entries that are no phone suppress nobody."""

    path: Path
    phones: int  # distinct phones read
    unreadable: int  # non-blank entries that could not be read as a phone
    unreadable_rows: tuple[int, ...]  # the first few of those rows
    advice: str = ""  # what to do about them; "" when every entry was read

    @classmethod
    def of(cls, campaign: Campaign, phone_list: PhoneList) -> SuppressionCheck:
        advice = unreadable_hint(campaign) if phone_list.ignored else ""
        return cls(
            phone_list.path,
            len(phone_list.phones),
            phone_list.ignored,
            phone_list.ignored_rows,
            advice,
        )

    def warning(self) -> str | None:
        """One line for the user about the unreadable entries, or None when there are none."""
        if not self.unreadable:
            return None
        rows = unreadable_rows_text(self.unreadable, self.unreadable_rows)
        what = "1 entry" if self.unreadable == 1 else f"{self.unreadable:,} entries"
        as_what = "a phone" if self.unreadable == 1 else "phones"
        effect = "it suppresses" if self.unreadable == 1 else "they suppress"
        return (
            f"{what} of the suppression list {self.path.name} could not be read as {as_what} "
            f"({rows}), so {effect} nobody. {self.advice}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "phones": self.phones,
            "unreadable": self.unreadable,
            "unreadable_rows": list(self.unreadable_rows),
            "advice": self.advice,
        }


@dataclass(frozen=True)
class TemplateCheck:
    checked: bool
    note: str = ""  # why it was not checked
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValidationReport:
    campaign_name: str
    channel: str
    source: Path
    rows_read: int
    sendable: int
    invalid: int
    duplicates: int
    suppressed: int
    invalid_reasons: tuple[ReasonCount, ...]  # most frequent first
    sms_segments: int  # over sendable rows
    sms_encodings: Mapping[str, int]  # encoding -> sendable rows
    preview: tuple[PreviewItem, ...]
    template: TemplateCheck
    rejects_path: Path
    rejected: int  # rows written to the rejects file
    suppression: SuppressionCheck | None = None  # None when the campaign has no list

    @property
    def can_send(self) -> bool:
        return self.sendable > 0 and not self.template.problems

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``--json``)."""
        return {
            "campaign": self.campaign_name,
            "channel": self.channel,
            "source": str(self.source),
            "can_send": self.can_send,
            "rows_read": self.rows_read,
            "sendable": self.sendable,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
            "suppressed": self.suppressed,
            "invalid_reasons": [vars(reason) for reason in self.invalid_reasons],
            "sms_segments": self.sms_segments,
            "sms_encodings": dict(self.sms_encodings),
            "preview": [item.to_dict() for item in self.preview],
            "template": {
                "checked": self.template.checked,
                "note": self.template.note,
                "problems": list(self.template.problems),
            },
            "rejects_path": str(self.rejects_path),
            "rejected": self.rejected,
            "suppression": None if self.suppression is None else self.suppression.to_dict(),
        }


def validate_campaign(
    campaign: Campaign,
    *,
    template: Template | None = None,
    fetch_template: FetchTemplate | None = None,
    preview: int = 3,
    progress: ProgressCallback | None = None,
) -> ValidationReport:
    """Check every row of ``campaign`` and write its rejects file; sends nothing.

    The template is ``template`` or what ``fetch_template(template_id)`` returns; a refusal
    becomes a template problem, an unreachable API a note. Raises ``ConfigError`` or
    ``InputFileError`` for what stops every row (unknown column, header-only sheet, a
    suppression list of which no entry can be read...).
    """
    template, template_check = resolve_template(campaign, template, fetch_template)
    phone_list = read_suppression(campaign)
    suppressed = frozenset() if phone_list is None else phone_list.phones
    tally = Tally(preview_size=max(preview, 0), mask=mask_phone)
    source = resolve(campaign, campaign.source)
    with (
        open_campaign_sheet(campaign) as sheet,
        RejectsWriter(campaign.rejects_path, sheet.columns) as rejects,
    ):
        rows = iter_checked_rows(campaign, sheet=sheet, template=template, suppressed=suppressed)
        for checked in rows:
            tally.add(checked)
            if checked.prepared.disposition is not Disposition.SENDABLE:
                rejects.write(checked)
            if progress is not None and tally.rows_read % PROGRESS_EVERY == 0:
                progress(sheet.progress_done, sheet.progress_total, sheet.progress_unit)
        if progress is not None:
            progress(sheet.progress_done, sheet.progress_total, sheet.progress_unit)
    report = tally.report(campaign, source, template_check, rejects)
    if phone_list is None:
        return report
    return replace(report, suppression=SuppressionCheck.of(campaign, phone_list))


def check_api_key(campaign: Campaign, environ: Mapping[str, str]) -> None:
    """``ConfigError`` naming the variable when the campaign's key is not in ``environ``.

    A send would stop on it before the first message, so validate says so too. The sandbox
    needs no key (its demo key stands in), so sandbox campaigns always pass.
    """
    if campaign.uses_sandbox or environ.get(campaign.api_key_env, "").strip():
        return
    state = "is empty" if campaign.api_key_env in environ else "is not set"
    raise ConfigError(
        f"the environment variable {campaign.api_key_env} {state}: it must hold the "
        f"{campaign.channel.value} channel's API key",
        path=campaign.path,
        line=campaign.line_of("api_key_env"),
        hint=f"Copy the key from the channel settings in Octopods and run "
        f"`export {campaign.api_key_env}=<key>` before sending (keys never go in the file).",
    )


def resolve_template(
    campaign: Campaign, template: Template | None, fetch_template: FetchTemplate | None
) -> tuple[Template | None, TemplateCheck]:
    """The template to render against, and what checking it found."""
    if not campaign.channel.uses_template:
        return None, TemplateCheck(False, "none: SMS sends free text")
    if campaign.template_id is None:
        return None, TemplateCheck(False, "not checked: the campaign has no template_id")
    if template is None and fetch_template is not None:
        try:
            template = fetch_template(campaign.template_id)
        except CampaignRefusedError as error:
            return None, TemplateCheck(True, problems=(str(error),))
        except ApiUnreachableError as error:
            note = f"not checked, the API could not be reached: {error.message}"
            return None, TemplateCheck(False, note)
    if template is None:
        return None, TemplateCheck(False, "not checked (no template given)")
    return template, TemplateCheck(True, problems=tuple(check_template(campaign, template)))


@dataclass
class Tally:
    """Running counts over the checked rows; bounded in size whatever the row count."""

    preview_size: int
    mask: Callable[[str], str]
    rows_read: int = 0
    counts: Counter[Disposition] = field(default_factory=Counter)
    duplicates: int = 0
    suppressed: int = 0
    reasons: dict[str, list[Any]] = field(default_factory=dict)  # [count, row, reason]
    sms_segments: int = 0
    sms_encodings: Counter[str] = field(default_factory=Counter)
    preview: list[PreviewItem] = field(default_factory=list)

    def add(self, checked: CheckedRow) -> None:
        row = checked.prepared
        self.rows_read += 1
        self.counts[row.disposition] += 1
        if row.disposition is Disposition.SENDABLE:
            self._add_sendable(checked)
        elif row.disposition is Disposition.INVALID:
            self._add_reason(checked)
        elif checked.category == "suppressed":
            self.suppressed += 1
        else:
            self.duplicates += 1

    def _add_sendable(self, checked: CheckedRow) -> None:
        row = checked.prepared
        if checked.sms is not None:
            self.sms_segments += checked.sms.segments
            self.sms_encodings[checked.sms.encoding.value] += 1
        if len(self.preview) < self.preview_size and row.body is not None:
            body = {**row.body, "destination_phone": self.mask(row.phone)}
            self.preview.append(PreviewItem(row.row_number, body, checked.sms))

    def _add_reason(self, checked: CheckedRow) -> None:
        category = checked.category
        if category not in self.reasons and len(self.reasons) >= MAX_REASON_CATEGORIES:
            category = OTHER_CATEGORY
        entry = self.reasons.setdefault(
            category, [0, checked.prepared.row_number, checked.prepared.reason]
        )
        entry[0] += 1

    def report(
        self,
        campaign: Campaign,
        source: Path,
        template: TemplateCheck,
        rejects: RejectsWriter,
    ) -> ValidationReport:
        reasons = sorted(
            (ReasonCount(category, *entry) for category, entry in self.reasons.items()),
            key=lambda reason: (-reason.count, reason.example_row),
        )
        return ValidationReport(
            campaign_name=campaign.name,
            channel=campaign.channel.value,
            source=source,
            rows_read=self.rows_read,
            sendable=self.counts[Disposition.SENDABLE],
            invalid=self.counts[Disposition.INVALID],
            duplicates=self.duplicates,
            suppressed=self.suppressed,
            invalid_reasons=tuple(reasons),
            sms_segments=self.sms_segments,
            sms_encodings=dict(self.sms_encodings),
            preview=tuple(self.preview),
            template=template,
            rejects_path=rejects.path,
            rejected=rejects.count,
        )


def check_template(campaign: Campaign, template: Template) -> list[str]:
    """Campaign-wide problems between the mapping and the template; [] when they fit."""
    problems: list[str] = []
    name = f"template {template.template_id}"
    if not template.is_accepted:
        problems.append(
            f"{name} is {template.status!r}, not Accepted: only Accepted templates can be sent; "
            "wait for approval or pick another template_id"
        )
    sections = campaign.channel.sections
    wanted = {section: template.placeholder_count(section) for section in sections}
    variables = campaign.variables
    if isinstance(variables, tuple | list):
        problems += _check_flat(name, wanted, len(variables))
    else:
        given = {section: len((variables or {}).get(section) or ()) for section in sections}
        problems += [
            f"{name}'s {section} has {wanted[section]} placeholder(s) but variables gives "
            f"{given[section]} for {section}; map exactly one value per placeholder"
            for section in sections
            if given[section] != wanted[section]
        ]
    if template.needs_media_header and not campaign.header_url:
        problems.append(
            f"{name} has a {template.header_format} header, so every message needs its URL: "
            'set header_url (e.g. header_url: "{{ image_url }}")'
        )
    return problems


def _check_flat(name: str, wanted: Mapping[str, int], given: int) -> list[str]:
    outside = {section: count for section, count in wanted.items() if section != "body" and count}
    if outside:
        where = ", ".join(f"{count} in {section}" for section, count in outside.items())
        layout = ", ".join(f"{section}: [...]" for section in wanted)
        return [
            f"{name} has placeholders outside the body ({where}), so a plain list of variables "
            f"cannot fill it: write variables as sections ({layout})"
        ]
    if given != wanted.get("body", 0):
        return [
            f"{name}'s body has {wanted.get('body', 0)} placeholder(s) but variables lists "
            f"{given}; map exactly one value per placeholder"
        ]
    return []
