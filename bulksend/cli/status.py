"""`bulksend status`: fetch delivery statuses of sent messages into the results file."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from bulksend.campaign import load_campaign
from bulksend.channels import Channel
from bulksend.cli.jsonout import json_option
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
    default="1h",
    show_default=True,
    help="Give up watching after this long.",
)
@json_option("Print the summary as JSON only.")
@click.pass_context
def command(
    ctx: click.Context,
    campaign_file: Path,
    watch: bool,
    interval_s: float,
    timeout_s: float,
    as_json: bool,
) -> None:
    """Ask the API whether each sent message was delivered, read or failed, and write
    the answers into the results file (delivery_status, delivery_detail, sent_at,
    delivered_at, read_at, last_updated, status_checked_at).

    \b
    Only messages without a final status are asked about, paced under the
    campaign's rate. It refuses to run while a send holds the results file, and an
    interrupted run keeps what it learnt. VBM has no status endpoint: it says so.

    \b
    Exit status: 0 every message it meant to ask about was asked (also for VBM);
    2 config or input error; 3 the API refused the key; 4 some could not be asked
    (network or server trouble): run it again later; 130 interrupted.
    """
    campaign = load_campaign(campaign_file)
    progress = ProgressLine(enabled=not as_json)
    summary = check_status(
        campaign,
        watch=watch,
        interval_s=interval_s,
        timeout_s=timeout_s,
        events=progress.show,
    )
    progress.close()
    if as_json:
        click.echo(json.dumps(summary_dict(summary), indent=2, ensure_ascii=False))
    else:
        click.echo(format_summary(summary, campaign_file))
    ctx.exit(int(summary.exit_status))


class ProgressLine:
    """One line on stderr, rewritten in place on a terminal, one per round otherwise."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.shown = False
        self.last_round = 0

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


def summary_dict(summary: StatusSummary) -> dict[str, object]:
    return {
        "channel": summary.channel.value,
        "tracked": summary.tracked,
        "asked": summary.asked,
        "final": summary.final,
        "awaiting": summary.awaiting,
        "unreachable": summary.unreachable,
        "refused": summary.refused,
        "statuses": dict(summary.statuses),
        "rounds": summary.rounds,
        "timed_out": summary.timed_out,
        "cancelled": summary.cancelled,
        "untracked_reason": summary.untracked_reason or None,
        "exit_status": int(summary.exit_status),
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
    if summary.unreachable:
        lines.append(
            f"  {summary.unreachable} could not be asked (network or server trouble): "
            f"run `bulksend status {campaign_file}` again later"
        )
    if summary.timed_out:
        lines.append("  --watch stopped at its timeout")
    lines.append(f"next: `bulksend report {campaign_file}`")
    return "\n".join(lines)
