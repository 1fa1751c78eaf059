"""`bulksend send`: validate, confirm, send with a progress bar, summarise; resumable."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bulksend.campaign import Campaign, Rate, load_campaign, parse_rate
from bulksend.cli.jsonout import json_option
from bulksend.cli.signals import SIGNAL_EXIT, catch_signals
from bulksend.errors import CampaignRefusedError, ConfigError, ExitStatus, NothingToSendError
from bulksend.results import FINAL_OUTCOMES, Outcome, ResultRecord

if TYPE_CHECKING:
    from bulksend.engine import SendOptions, SendSummary
    from bulksend.templates import Template
    from bulksend.validate import ValidationReport

LOG_EVERY_S = 5.0


def parse_rate_option(text: str) -> Rate:
    """``--rate 10/s`` (or /min, /h) as a Rate; ConfigError in the campaign file's words."""
    rate = parse_rate(text)
    if rate is None:
        raise ConfigError(
            f"--rate must look like 10/s, not {text!r}",
            hint="Write a count per second, minute or hour: 10/s, 300/min or 5000/h.",
        )
    return rate


@click.command(name="send")
@click.argument("campaign_file", metavar="CAMPAIGN.yaml", type=click.Path(path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Send without asking (needed without a terminal).")
@click.option("--dry-run", is_flag=True, help="Render and pace every row; send and record nothing.")
@click.option("--limit", type=click.IntRange(min=0), help="Send at most N more rows (a pilot).")
@click.option("--rate", "rate_text", metavar="N/s", help="Override the campaign's rate, e.g. 10/s.")
@click.option("--restart", is_flag=True, help="Archive the results file and start afresh.")
@click.option(
    "--resend-uncertain",
    is_flag=True,
    help="Also send rows whose earlier request may have arrived (risks a second message).",
)
@json_option("Print the final summary as JSON.")
@click.pass_context
def command(
    ctx: click.Context,
    campaign_file: Path,
    yes: bool,
    dry_run: bool,
    limit: int | None,
    rate_text: str | None,
    restart: bool,
    resend_uncertain: bool,
    as_json: bool,
) -> None:
    """Send the campaign: every sendable row once, paced, recorded as it goes.

    \b
    First the validation summary and a confirmation (channel, template, recipients,
    rate, estimated duration); --yes skips it. Every outcome goes to the results CSV
    as it happens, so the command can be stopped (Ctrl-C) and run again: rows already
    sent, rejected, invalid or skipped are never sent again; failed ones are retried;
    uncertain ones (the API may have received them) only with --resend-uncertain.

    \b
    Exit status: 0 every row has an outcome other than failed/uncertain; 4 some are
    failed or uncertain (run again later); 2 a config or input error; 3 the API
    refused the whole campaign (key, template); 130 Ctrl-C; 143 SIGTERM.
    """
    from bulksend.engine import SendOptions

    campaign = load_campaign(campaign_file)
    rate = parse_rate_option(rate_text) if rate_text else None
    options = SendOptions(
        dry_run=dry_run,
        limit=limit,
        rate=rate,
        restart=restart,
        resend_uncertain=resend_uncertain,
    )
    out = _Output(as_json)
    _refuse_if_locked(campaign)
    report, template = _validate(campaign, campaign_file, out)
    if not (dry_run or yes):
        _confirm(campaign, report, options, out)
    summary, received = _send(campaign, options, out, template)
    if received is not None:  # the library says "interrupted"; the signal names the status
        summary = dataclasses.replace(summary, exit_status=SIGNAL_EXIT[received])
    out.summary(summary)
    ctx.exit(int(summary.exit_status))


class _Output:
    """Human text on stdout, or on stderr when stdout carries --json."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def say(self, text: str) -> None:
        click.echo(text, err=self.as_json)

    def summary(self, summary: SendSummary) -> None:
        if self.as_json:
            click.echo(json.dumps(summary.to_dict(), indent=2))
        else:
            click.echo(format_summary(summary))


def _refuse_if_locked(campaign: Campaign) -> None:
    """Refuse at once when another run holds the results file, before validating (which would
    rewrite the rejects file that run owns). The engine takes the lock for real."""
    from bulksend.results import ResultsFile

    with ResultsFile(campaign.results_path).lock():
        pass


def _validate(
    campaign: Campaign, campaign_file: Path, out: _Output
) -> tuple[ValidationReport, Template | None]:
    """The validation summary, and the template it fetched (so send does not fetch it again)."""
    from bulksend.cli.validate import fetch_template, format_report
    from bulksend.validate import validate_campaign

    refusals: list[CampaignRefusedError] = []
    fetched: list[Template] = []

    def fetch(template_id: int) -> Template:
        try:
            fetched.append(fetch_template(campaign, template_id))
        except CampaignRefusedError as refusal:
            refusals.append(refusal)
            raise
        return fetched[-1]

    # One body is enough to check the mapping before confirming; validate --preview shows more.
    report = validate_campaign(campaign, fetch_template=fetch, preview=1)
    if refusals:
        # A refused key or a missing template is campaign-wide (exit 3, the API's words and the
        # remedy), not a mistake in the campaign file for the summary to call a template problem.
        raise refusals[0]
    out.say(format_report(report, campaign_file))
    if report.template.problems:
        raise ConfigError(
            "the template does not fit the campaign (see the problems above)",
            path=campaign.path,
            hint="Fix the variables or template_id, then run send again.",
        )
    if report.sendable == 0:
        raise NothingToSendError(
            f"{campaign.path}: no row is sendable",
            hint=f"See the reasons above and {report.rejects_path}.",
        )
    return report, (fetched[-1] if fetched else None)


def _already_done(campaign: Campaign, options: SendOptions) -> int:
    """Rows of the results file a run will not send again (for the estimate only)."""
    from bulksend.checkpoint import Checkpoint
    from bulksend.results import ResultsFile

    if options.restart or not campaign.results_path.exists():
        return 0
    skip = {Outcome.SENT, Outcome.REJECTED}
    if not options.resend_uncertain:
        skip |= {Outcome.UNCERTAIN, Outcome.PENDING}
    counts = Checkpoint.load(ResultsFile(campaign.results_path).iter_records()).counts()
    return sum(counts[outcome] for outcome in skip)


def confirmation_text(
    campaign: Campaign, report: ValidationReport, options: SendOptions, done: int
) -> str:
    rate = options.rate or campaign.rate
    to_send = max(0, report.sendable - done)
    if options.limit is not None:
        to_send = min(to_send, options.limit)
    template = f"template {campaign.template_id}" if campaign.template_id else "free text (SMS)"
    resumed = f" ({done:,} already done in {campaign.results_path})" if done else ""
    return (
        f"About to send on {campaign.channel.value}, {template}, via {campaign.api_url}:\n"
        f"  recipients  {to_send:,} of {report.sendable:,} sendable rows{resumed}\n"
        f"  rate        {rate.count}/{_period(rate)} (about {rate.per_second:g}/s)\n"
        f"  duration    about {_duration(to_send / rate.per_second)}\n"
        f"  results     {campaign.results_path}"
    )


def _confirm(
    campaign: Campaign, report: ValidationReport, options: SendOptions, out: _Output
) -> None:
    if not sys.stdin.isatty():
        raise ConfigError(
            "send asks for confirmation, but there is no terminal to answer it",
            hint="Add --yes to send without asking (cron, scripts), or --dry-run to try it out.",
        )
    out.say(confirmation_text(campaign, report, options, _already_done(campaign, options)))
    if not click.confirm("Send now?", default=False, err=out.as_json):
        raise click.exceptions.Exit(int(ExitStatus.OK))


def _period(rate: Rate) -> str:
    return {1.0: "s", 60.0: "min", 3600.0: "h"}.get(rate.period_s, f"{rate.period_s:g}s")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _send(
    campaign: Campaign, options: SendOptions, out: _Output, template: Template | None
) -> tuple[SendSummary, signal.Signals | None]:
    from bulksend.engine import send_campaign

    cancel = threading.Event()
    front = Progress(dry_run=options.dry_run, bar=_can_draw_bar(), say=out.say)
    with catch_signals(cancel, front) as received, front:
        summary = send_campaign(campaign, options, events=front, cancel=cancel, template=template)
    return summary, received.get("signal")


def _can_draw_bar() -> bool:
    """stderr is a terminal with a size: a pty nobody sized (some CI runners) has 0 columns or
    0 lines, where tqdm draws nothing at all, so log lines serve better there."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
        return sys.stderr.isatty() and size.columns > 0 and size.lines > 0
    except (OSError, ValueError):
        return False


class Progress:
    """SendEvents for a terminal (tqdm on stderr) or for logs (a line every few seconds)."""

    def __init__(self, *, dry_run: bool, bar: bool, say: Callable[[str], None]) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.dry_run = dry_run
        self.use_bar = bar
        self.say = say
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.flush: Callable[[], None] | None = None
        self.bar: Any = None
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_log = self._started

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def note(self, text: str) -> None:
        click.echo(text, err=True)

    # SendEvents ------------------------------------------------------------------------------
    def on_start(self, total_to_send: int) -> None:
        self.total = total_to_send
        self._started = time.monotonic()
        verb = "would send" if self.dry_run else "sending"
        if self.use_bar:
            self.bar = self._tqdm(total=total_to_send, unit="msg", file=sys.stderr, desc=verb)
        else:
            self.note(f"{verb} {total_to_send:,} row(s)")

    def on_outcome(self, record: ResultRecord) -> None:
        with self._lock:
            self.counts[record.outcome.value] += 1
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(self._live(), refresh=False)
            elif time.monotonic() - self._last_log >= LOG_EVERY_S:
                self._last_log = time.monotonic()
                self.note(self._log_line())

    def on_pause(self, seconds: float, reason: str) -> None:
        self.note(f"pausing {seconds:.1f} s: {reason}")

    def on_reconciled(self, found_sent: int, made_uncertain: int) -> None:
        self.note(
            f"an earlier run stopped with {found_sent + made_uncertain} request(s) in flight: "
            f"{found_sent} found sent, {made_uncertain} marked uncertain (not sent again)"
        )

    def on_journal(self, flush: Callable[[], None] | None) -> None:
        self.flush = flush

    def _live(self) -> dict[str, int]:
        keys = ("pending",) if self.dry_run else ("sent", "rejected", "failed", "uncertain")
        return {key: self.counts[key] for key in keys if self.counts[key] or key == "sent"}

    def _log_line(self) -> str:
        done = sum(self.counts.values())
        elapsed = max(time.monotonic() - self._started, 1e-9)
        live = ", ".join(f"{key} {value:,}" for key, value in self._live().items())
        return f"{done:,}/{self.total:,} rows, {done / elapsed:.1f}/s ({live})"


def format_summary(summary: SendSummary) -> str:
    head = "dry run: nothing was sent" if summary.dry_run else "send finished"
    if summary.stopped:
        head = f"send stopped early ({summary.stopped})"
    lines = [head]
    if summary.dry_run:
        lines.append(f"  would send  {summary.rows_this_run:>10,}")
    else:
        lines.append(f"  sent now    {summary.sent_this_run:>10,}")
    if summary.left_by_limit:
        lines.append(f"  left for later (--limit) {summary.left_by_limit:>,}: run send again")
    lines.append("results file, all runs:")
    order = [o for o in Outcome if o is not Outcome.PENDING] + [Outcome.PENDING]
    for outcome in order:
        count = summary.counts.get(outcome, 0)
        if count or outcome in FINAL_OUTCOMES or outcome is Outcome.FAILED:
            lines.append(f"  {outcome.value:<11} {count:>10,}")
    lines.append(
        f"duration {_duration(summary.duration_s)}, {summary.achieved_rate_per_s:.1f} requests/s"
    )
    lines.append(f"results: {summary.results_path}")
    if summary.exit_status is ExitStatus.INCOMPLETE:
        lines.append("some rows are failed or uncertain: run send again later to retry failed ones")
    return "\n".join(lines)
