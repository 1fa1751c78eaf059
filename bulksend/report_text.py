"""The campaign report for a terminal, and the number formats the other renderers share."""

from __future__ import annotations

from collections.abc import Iterator

from bulksend.report import Report


def iter_reason_lines(report: Report, *, limit: int = 10) -> Iterator[str]:
    """The ranked reasons as short lines for the terminal."""
    for reason in report.reasons[:limit]:
        code = f" [code {reason.error_code}]" if reason.error_code is not None else ""
        yield (
            f"  {reason.count:>7}  {reason.outcome}{code}: {reason.reason}"
            f"  (e.g. row {reason.example_row}, {reason.example_phone})"
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
        f"  sent       {funnel.sent:>7}",
        f"  delivered  {funnel.delivered:>7}  {percent(funnel.delivered, funnel.sent):>6}",
        f"  read       {funnel.read:>7}  {percent(funnel.read, funnel.sent):>6}",
        f"  failed     {funnel.failed:>7}  {percent(funnel.failed, funnel.sent):>6}",
        f"  no final status yet {funnel.awaiting}"
        + (f" (never checked: {funnel.never_checked})" if funnel.never_checked else ""),
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
