"""`bulksend status`: fetch delivery statuses of sent messages into the results file."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import click

from bulksend.campaign import Campaign, load_campaign
from bulksend.channels import Channel
from bulksend.cli.jsonout import json_option
from bulksend.cli.signals import SIGNAL_EXIT, catch_signals
from bulksend.errors import ExitStatus
from bulksend.status import StatusProgress, StatusSummary, check_status

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*$", re.IGNORECASE)
_UNIT_S = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


class Duration(click.ParamType):
    """30s, 5m, 1h or a number of seconds."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, int | float):
            return float(value)
        match = _DURATION.match(str(value))
        if match is None or float(match.group(1)) <= 0:
            self.fail(f"{value!r} is not a duration; write it like 30s, 5m or 1h.", param, ctx)
        return float(match.group(1)) * _UNIT_S[(match.group(2) or "s").lower()]


@click.command(name="status")
@click.argument("campaign_file", metavar="CAMPAIGN.yaml", type=click.Path(path_type=Path))
@click.option(
    "--watch",
    is_flag=True,
    help="Keep polling until every message has settled, or the timeout passes.",
)
@click.option(
    "--interval",
    "interval_s",
    type=Duration(),
    default="60s",
    show_default=True,
    help="Time between polls with --watch.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=Duration(),
    default=None,
    help="Stop after this long, even mid-round (default: 1h with --watch, none without).",
)
@json_option("Print the summary as JSON only.")
@click.pass_context
def command(
    ctx: click.Context,
    campaign_file: Path,
    watch: bool,
    interval_s: float,
    timeout_s: float | None,
    as_json: bool,
) -> None:
    """Ask the API whether each sent message was delivered, read or failed, and write
    the answers into the results file (delivery_status, delivery_detail, sent_at,
    delivered_at, read_at, last_updated, status_checked_at).

    \b
    Only messages without a final status are asked about, by several workers paced
    under the campaign's rate. Each answer is saved as it comes (in RESULTS.status
    beside the results file) and merged into the results file at the end, so Ctrl-C
    or SIGTERM loses nothing. It refuses to run while a send holds the results file.
    VBM has no status endpoint: it says so.

    \b
    Exit status: 0 every message it meant to ask about was asked (also for VBM);
    2 config or input error; 3 the API refused the key; 4 some could not be asked
    (network or server trouble, API unreachable, --timeout): run it again later;
    130 Ctrl-C; 143 SIGTERM.
    """
    campaign = load_campaign(campaign_file)
    summary, exit_status = _check(campaign, watch, interval_s, timeout_s, as_json=as_json)
    if as_json:
        click.echo(json.dumps(summary_dict(summary, exit_status), indent=2, ensure_ascii=False))
    else:
        click.echo(format_summary(summary, campaign_file))
    ctx.exit(int(exit_status))


def _check(
    campaign: Campaign, watch: bool, interval_s: float, timeout_s: float | None, *, as_json: bool
) -> tuple[StatusSummary, ExitStatus]:
    """The run under send's signal handling: the first SIGINT/SIGTERM stops it after the
    requests in flight (their answers are kept), and names the exit status (130/143)."""
    progress = ProgressLine(enabled=not as_json)
    cancel = threading.Event()
    with catch_signals(cancel, progress) as received:
        try:
            summary = check_status(
                campaign,
                watch=watch,
                interval_s=interval_s,
                timeout_s=timeout_s,
                events=progress.show,
                cancel=cancel,
            )
        finally:
            progress.close()
    if "signal" in received:
        return summary, SIGNAL_EXIT[received["signal"]]
    return summary, summary.exit_status


class ProgressLine:
    """One line on stderr, rewritten in place on a terminal, one per round otherwise; also the
    front the signal handler talks to (``cli.signals.SignalFront``)."""

    # Every answer is on disk before it is counted, so a hard exit has nothing to flush.
    flush: Callable[[], None] | None = None

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.shown = False
        self.last_round = 0

    def note(self, text: str) -> None:
        if self.shown:
            click.echo("", err=True)
            self.shown = False
        click.echo(text, err=True)

    def show(self, progress: StatusProgress) -> None:
        if not self.enabled:
            return
        text = (
            f"round {progress.round}: {progress.final}/{progress.tracked} final, "
            f"{progress.asked} answers"
            + (f", {progress.unreachable} unreachable" if progress.unreachable else "")
        )
        if self.tty:
            click.echo(f"\r{text}\x1b[K", nl=False, err=True)
            self.shown = True
        elif progress.round != self.last_round or progress.final == progress.tracked:
            click.echo(text, err=True)
        self.last_round = progress.round

    def close(self) -> None:
        if self.shown:
            click.echo("", err=True)
            self.shown = False


def summary_dict(summary: StatusSummary, exit_status: ExitStatus) -> dict[str, object]:
    return {
        "channel": summary.channel.value,
        "tracked": summary.tracked,
        "asked": summary.asked,
        "final": summary.final,
        "awaiting": summary.awaiting,
        "unreachable": summary.unreachable,
        "refused": summary.refused,
        "not_asked": summary.not_asked,
        "statuses": dict(summary.statuses),
        "rounds": summary.rounds,
        "workers": summary.workers,
        "timed_out": summary.timed_out,
        "cancelled": summary.cancelled,
        "stopped": summary.stopped or None,
        "untracked_reason": summary.untracked_reason or None,
        "exit_status": int(exit_status),
    }


def format_summary(summary: StatusSummary, campaign_file: Path) -> str:
    if summary.untracked_reason:
        return summary.untracked_reason
    if not summary.tracked:
        return "no sent messages to track yet."
    statuses = ", ".join(f"{status} {count}" for status, count in summary.statuses.items())
    delivered = summary.statuses.get("delivered", 0)
    may_be_read = (
        f" ({delivered} delivered, which WhatsApp may still report read)"
        if summary.channel is Channel.WHATSAPP and delivered
        else ""
    )
    lines = [
        f"{summary.tracked} sent message(s): {statuses}",
        f"  {summary.final} final, {summary.awaiting} not final yet{may_be_read}; "
        f"{summary.asked} answer(s) this run",
    ]
    if summary.refused:
        lines.append(
            f"  {summary.refused} message(s) the status endpoint would not answer for: "
            "their delivery_detail in the results file says why"
        )
    again = f"run `bulksend status {campaign_file}` again later"
    if summary.stopped:
        lines.append(f"  stopped early: {summary.stopped}; check api_url and the network, {again}")
    if summary.unreachable:
        lines.append(
            f"  {summary.unreachable} could not be asked (network or server trouble): {again}"
        )
    if summary.cancelled:
        lines.append(f"  interrupted: the answers received are kept; {again}")
    elif summary.timed_out and summary.not_asked:
        lines.append(f"  --timeout passed before {summary.not_asked} could be asked: {again}")
    elif summary.timed_out:
        lines.append("  --watch stopped at its timeout")
    elif summary.not_asked and not summary.stopped:
        lines.append(f"  {summary.not_asked} not asked yet: {again}")
    lines.append(f"next: `bulksend report {campaign_file}`")
    return "\n".join(lines)
