"""`bulksend validate`: check every row and the template, print the summary, send nothing."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from bulksend import endpoint
from bulksend.campaign import Campaign, load_campaign
from bulksend.errors import ExitStatus
from bulksend.sms import SmsInfo
from bulksend.templates import Template
from bulksend.validate import ValidationReport, check_api_key, validate_campaign


@click.command(name="validate")
@click.argument("campaign_file", metavar="CAMPAIGN.yaml", type=click.Path(path_type=Path))
@click.option(
    "--preview",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="How many request bodies to show (phones masked); 0 for none.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON only.")
@click.pass_context
def command(ctx: click.Context, campaign_file: Path, preview: int, as_json: bool) -> None:
    """Check every row of the campaign's spreadsheet, and its template, sending nothing.

    \b
    Prints rows read, sendable, invalid (grouped by reason, with an example row),
    duplicates, suppressed and the SMS segment total; previews the first request
    bodies (an SMS with its characters, encoding and segments); writes every row
    that will not be sent, with its reason, to
    <results>.rejects.csv. Where the API answers (always with api_url: sandbox) it
    fetches the template and checks the variables fit its placeholders.

    \b
    Exit status: 0 the campaign can be sent (even if some rows are invalid);
    2 a config or input error, a template problem, or no sendable row.
    """
    campaign = load_campaign(campaign_file)
    check_api_key(campaign, os.environ)
    with ProgressBar(enabled=not as_json and sys.stderr.isatty()) as bar:
        report = validate_campaign(
            campaign,
            fetch_template=lambda template_id: fetch_template(campaign, template_id),
            preview=preview,
            progress=bar.update,
        )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_report(report, campaign_file))
    if not report.can_send:
        ctx.exit(int(ExitStatus.CONFIG_ERROR))


def fetch_template(campaign: Campaign, template_id: int) -> Template:
    """The template as the campaign's API lists it; the connection lasts only this call."""
    with endpoint.connect(campaign) as client:
        return client.get_template(template_id)


class ProgressBar:
    """A tqdm bar on stderr, made on the first report (when the unit is known)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: tqdm | None = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, done: int, total: int | None, unit: str) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = tqdm(
                total=total,
                unit=unit,
                unit_scale=True,
                file=sys.stderr,
                leave=False,
                desc="reading",
            )
        self.bar.update(done - self.bar.n)


def format_report(report: ValidationReport, campaign_file: Path) -> str:
    lines = [f"{report.campaign_name} ({report.channel}): {report.source}"]
    lines += _count_lines(report)
    lines += _template_lines(report)
    lines += _preview_lines(report)
    if report.rejected:
        lines.append(f"rejects: {report.rejected:,} row(s) written to {report.rejects_path}")
    else:
        lines.append(f"rejects: none ({report.rejects_path} holds only the header)")
    lines.append(_verdict(report, campaign_file))
    return "\n".join(lines)


def _count_lines(report: ValidationReport) -> list[str]:
    lines = [
        f"  rows read   {report.rows_read:>10,}",
        f"  sendable    {report.sendable:>10,}",
        f"  invalid     {report.invalid:>10,}",
    ]
    for reason in report.invalid_reasons:
        lines.append(f"    {reason.count:>8,}  {reason.category}")
        lines.append(f"              e.g. row {reason.example_row}: {reason.example_reason}")
    lines.append(f"  duplicates  {report.duplicates:>10,}  (skipped: one message per recipient)")
    lines.append(f"  suppressed  {report.suppressed:>10,}  (skipped: on the suppression list)")
    warning = report.suppression.warning() if report.suppression else None
    if warning:
        lines.append(f"  warning: {warning}")
    if report.channel == "sms":
        encodings = ", ".join(f"{name} {n:,}" for name, n in report.sms_encodings.items())
        detail = f"  (rows by encoding: {encodings})" if encodings else ""
        lines.append(f"  SMS segments{report.sms_segments:>10,}{detail}")
    return lines


def _template_lines(report: ValidationReport) -> list[str]:
    check = report.template
    if check.problems:
        return ["template problems (no row can be sent until they are fixed):"] + [
            f"  - {problem}" for problem in check.problems
        ]
    if check.checked:
        return ["template: checked, the variables fit its placeholders"]
    return [f"template: {check.note}"] if check.note else []


def _preview_lines(report: ValidationReport) -> list[str]:
    if not report.preview:
        return []
    lines = [f"preview of the first {len(report.preview)} request body(ies), phones masked:"]
    for item in report.preview:
        sizing = f" {_sms_sizing(item.sms)}" if item.sms is not None else ""
        lines.append(f"  row {item.row_number}:{sizing}")
        lines += ["    " + line for line in _pretty(item.body).splitlines()]
    return lines


def _sms_sizing(sms: SmsInfo) -> str:
    """'58 characters, GSM-7, 1 segment': what one SMS costs, as carriers bill it."""
    plural = "" if sms.segments == 1 else "s"
    return f"{sms.characters:,} characters, {sms.encoding.value}, {sms.segments} segment{plural}"


def _pretty(body: Any) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False)


def _verdict(report: ValidationReport, campaign_file: Path) -> str:
    if report.template.problems:
        return "cannot send: fix the template problems above, then validate again"
    if report.sendable == 0:
        return "cannot send: no row is sendable; see the reasons above and the rejects file"
    return f"ready: {report.sendable:,} message(s) to send with `bulksend send {campaign_file}`"
