"""The campaign report for a terminal, and the number formats the other renderers share."""

from __future__ import annotations

from collections.abc import Iterator

from bulksend.report import ReasonCount, Report

UNTRACKED_NOTE = (
    "VBM has no status endpoint: delivery cannot be tracked. "
    "Sent means Octopods accepted the message."
)


def reason_label(reason: ReasonCount) -> str:
    """ "not sent (rejected)" or "not delivered (failed)": a send "failed" and a delivery
    "failed" are different things for the reader."""
    stage = "not sent" if reason.stage == "send" else "not delivered"
    return f"{stage} ({reason.outcome})"


def funnel_steps(report: Report) -> list[tuple[str, int]]:
    """The funnel steps this channel can report: no "read" without read receipts, and only
    "sent" when delivery cannot be tracked at all (the funnel holds None for those)."""
    funnel = report.funnel
    steps = [
        ("Sent", funnel.sent),
        ("Delivered", funnel.delivered),
        ("Read", funnel.read),
        ("Failed", funnel.failed),
    ]
    return [(label, count) for label, count in steps if count is not None]


def example_text(reason: ReasonCount) -> str:
    """ "row 6, 120: phone '120' is too short for US (+1)": the first row of a kind, with its
    own reason when that says more than the kind's."""
    example = f"row {reason.example_row}"
    if reason.example_phone:
        example += f", {reason.example_phone}"
    if reason.example_reason and reason.example_reason != reason.reason:
        example += f": {reason.example_reason}"
    return example


def iter_reason_lines(report: Report, *, limit: int = 10) -> Iterator[str]:
    """The ranked reasons as short lines for the terminal."""
    for reason in report.reasons[:limit]:
        code = f" [code {reason.error_code}]" if reason.error_code is not None else ""
        yield (
            f"  {reason.count:>7}  {reason_label(reason)}{code}: {reason.reason}"
            f"  (e.g. {example_text(reason)})"
        )
    if len(report.reasons) > limit:
        yield f"  ... and {len(report.reasons) - limit} more reasons (see --html or --json)"


def format_duration(seconds: float | None) -> str:
    """1h 02m 03s style; "-" when unknown."""
    if seconds is None:
        return "-"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_rate(rate_per_s: float | None) -> str:
    if rate_per_s is None:
        return "-"
    return f"{rate_per_s:.2f}/s ({rate_per_s * 60:.0f}/min)"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def render_text(report: Report) -> str:
    """The report for a terminal: plain lines, no colour."""
    funnel = report.funnel
    lines = [
        f"Campaign {report.campaign_name} ({report.channel}): {report.rows} rows"
        f" in {report.results_path}",
        "",
        "Outcomes:",
        *(
            f"  {name:<10} {count:>7}  {percent(count, report.rows):>6}"
            for name, count in report.outcomes.items()
            if count
        ),
        "",
        "Delivery (of sent rows):",
        *_funnel_lines(report),
    ]
    if report.segments_sent:
        lines.append(f"  SMS segments sent {report.segments_sent}")
    lines += [
        "",
        f"Duration {format_duration(report.duration_s)}, achieved rate "
        f"{format_rate(report.rate_per_s)}",
    ]
    if report.reasons:
        lines += ["", "Why rows were not sent or not delivered (most frequent first):"]
        lines += list(iter_reason_lines(report))
    if funnel.never_checked:
        lines += ["", "Run `bulksend status` to fetch delivery statuses."]
    return "\n".join(lines) + "\n"


def _funnel_lines(report: Report) -> list[str]:
    funnel = report.funnel
    lines = [f"  sent       {funnel.sent:>7}"]
    if not report.delivery_tracked:
        return [*lines, f"  {UNTRACKED_NOTE}"]
    for label, count in funnel_steps(report)[1:]:
        lines.append(f"  {label.lower():<10} {count:>7}  {percent(count, funnel.sent):>6}")
    never = f" (never checked: {funnel.never_checked})" if funnel.never_checked else ""
    return [*lines, f"  neither delivered nor failed yet {funnel.awaiting}{never}"]
