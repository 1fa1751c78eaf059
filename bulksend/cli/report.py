"""`bulksend report`: the campaign's numbers in the terminal, as JSON, HTML, XLSX, follow-up CSV."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from bulksend.campaign import load_campaign
from bulksend.cli.jsonout import json_option
from bulksend.followup import FollowupSummary, write_followup
from bulksend.report import build_report
from bulksend.report_html import write_html
from bulksend.report_source import iter_results
from bulksend.report_text import render_text
from bulksend.report_xlsx import left_out_note, write_xlsx

OUTPUT_FILE = click.Path(dir_okay=False, writable=True, path_type=Path)


@click.command(name="report")
@click.argument("campaign_file", metavar="CAMPAIGN.yaml", type=click.Path(path_type=Path))
@click.option(
    "--html",
    "html_path",
    type=OUTPUT_FILE,
    help="Also write a one-page HTML report (works offline, printable) to this file.",
)
@click.option(
    "--xlsx",
    "xlsx_path",
    type=OUTPUT_FILE,
    help="Also write the results as an Excel workbook (Summary and Rows sheets; past "
    "Excel's 1,048,576 rows the Rows sheet holds the first recipients and says so).",
)
@click.option(
    "--failed-out",
    "failed_path",
    type=OUTPUT_FILE,
    help="Write the spreadsheet rows of rejected or undelivered recipients, with the "
    "reason, as a CSV that can be the source of a follow-up campaign.",
)
@json_option("Print the numbers as JSON only.")
def command(
    campaign_file: Path,
    html_path: Path | None,
    xlsx_path: Path | None,
    failed_path: Path | None,
    as_json: bool,
) -> None:
    """Summarise a campaign from its results file: outcomes, the delivery funnel
    (sent, delivered, read, failed), failure reasons ranked with an example row each,
    SMS segments, duration and achieved rate.

    \b
    Run `bulksend status` first to fetch delivery statuses. Examples:
      bulksend report spring.yaml
      bulksend report spring.yaml --html report.html --xlsx results.xlsx
      bulksend report spring.yaml --failed-out whatsapp-failed.csv

    \b
    Exit status: 0 done; 2 the campaign file, results file or an output file is wrong.
    """
    campaign = load_campaign(campaign_file)
    report = build_report(campaign)
    notes: list[str] = []
    if html_path is not None:
        write_html(report, html_path, generated_at=datetime.now(UTC))
        notes.append(f"HTML report written to {html_path}")
    if xlsx_path is not None:
        workbook = write_xlsx(report, lambda: iter_results(campaign.results_path), xlsx_path)
        notes.append(f"workbook written to {xlsx_path}")
        if workbook.rows_left_out:
            notes.append(f"  {left_out_note(workbook, report.results_path)}")
    if failed_path is not None:
        followup = write_followup(campaign, iter_results(campaign.results_path), failed_path)
        notes += followup_notes(followup)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        for note in notes:
            click.echo(note, err=True)
        return
    click.echo(render_text(report), nl=False)
    if notes:
        click.echo("")
    for note in notes:
        click.echo(note)


def followup_notes(summary: FollowupSummary) -> list[str]:
    notes = [
        f"follow-up list: {summary.written} of {summary.failed} failed recipient(s) "
        f"written to {summary.path}"
    ]
    if summary.not_found:
        rows = ", ".join(str(row) for row in summary.not_found_rows)
        more = " ..." if summary.not_found > len(summary.not_found_rows) else ""
        notes.append(
            f"  {summary.not_found} are no longer in the spreadsheet, or are now skipped "
            f"(duplicate or suppressed), so they were left out: rows {rows}{more}"
        )
    return notes
