"""The campaign report as one self-contained HTML page: inline CSS and SVG, no network, printable.

Every text that comes from a spreadsheet or the API (phones, reasons, names) goes through
``html.escape``. The page is also well-formed XML, so tests and tools can parse it strictly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from bulksend.errors import InputFileError
from bulksend.report import Report, TimeBucket
from bulksend.report_text import (
    UNTRACKED_NOTE,
    example_text,
    format_duration,
    format_rate,
    funnel_steps,
    percent,
    reason_label,
)

OUTCOME_COLOURS = {
    "sent": "#2e7d32",
    "rejected": "#c62828",
    "invalid": "#ef6c00",
    "failed": "#8e24aa",
    "uncertain": "#f9a825",
    "skipped": "#78909c",
    "pending": "#1565c0",
}
OUTCOME_MEANINGS = {
    "sent": "Octopods accepted the message for sending.",
    "rejected": "Octopods refused this recipient (for example an invalid number).",
    "invalid": "Not sent: the row failed bulksend's checks before sending.",
    "failed": "Not sent after several tries (network or server trouble); run send again.",
    "uncertain": "Unknown whether it went out (the connection broke mid-request).",
    "skipped": "Not sent on purpose: a duplicate or on the suppression list.",
    "pending": "Was being sent when the run stopped.",
}
FUNNEL_COLOURS = ("#1565c0", "#2e7d32", "#00838f", "#c62828")

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: #1f2933; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d9e2ec; }
.meta { color: #52606d; font-size: 0.9rem; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8rem; margin: 1rem 0; }
.card { border: 1px solid #d9e2ec; border-radius: 6px; padding: 0.6rem 1rem; min-width: 8rem; }
.card .value { font-size: 1.5rem; font-weight: 600; }
.card .label { color: #52606d; font-size: 0.85rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #e4e7eb;
  vertical-align: top; }
th { background: #f5f7fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px;
  margin-right: 0.4rem; vertical-align: middle; }
/* Browsers drop background colours and may grey fills when printing; here colour is meaning. */
.swatch, svg { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.note { color: #52606d; font-size: 0.88rem; }
svg text { font-family: inherit; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; }
  table, svg, .cards { break-inside: avoid; }
  .card { border-color: #999; }
}
"""


def render_html(report: Report, *, generated_at: datetime) -> str:
    """The whole page as text; ``generated_at`` is shown in the header."""
    title = f"Campaign report: {report.campaign_name or 'bulksend'}"
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8" />',
        '<meta name="viewport" content="width=device-width, initial-scale=1" />',
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>",
        _header(report, title, generated_at),
        _cards(report),
        _funnel_section(report),
        _timeline_section(report.timeline),
        _outcome_section(report),
        _reasons_section(report),
        "</body>\n</html>\n",
    ]
    return "\n".join(parts)


def _header(report: Report, title: str, generated_at: datetime) -> str:
    channel = {"whatsapp": "WhatsApp", "sms": "SMS", "vbm": "Viber"}.get(report.channel, "")
    return (
        f"<h1>{escape(title)}</h1>\n"
        f'<p class="meta">{escape(channel)} campaign, {report.rows} recipients. '
        f"Results file: {escape(report.results_path)}. "
        f"Report made {escape(generated_at.strftime('%Y-%m-%d %H:%M UTC'))}.</p>"
    )


def _cards(report: Report) -> str:
    funnel = report.funnel
    cards = [("Recipients", str(report.rows)), ("Sent", str(funnel.sent))]
    # Only the steps this channel can report: a "Read 0" card for SMS would only mislead.
    if funnel.delivered is not None:
        cards.append(
            ("Delivered", f"{funnel.delivered} ({percent(funnel.delivered, funnel.sent)})")
        )
    if funnel.read is not None:
        cards.append(("Read", f"{funnel.read} ({percent(funnel.read, funnel.sent)})"))
    if funnel.failed is not None:
        cards.append(("Failed delivery", str(funnel.failed)))
    cards += [
        ("Duration", format_duration(report.duration_s)),
        ("Sending speed", format_rate(report.rate_per_s)),
    ]
    if report.segments_sent:
        cards.append(("SMS segments billed", str(report.segments_sent)))
    body = "".join(
        f'<div class="card"><div class="value">{escape(value)}</div>'
        f'<div class="label">{escape(label)}</div></div>'
        for label, value in cards
    )
    return f'<div class="cards">{body}</div>'


def _funnel_section(report: Report) -> str:
    funnel = report.funnel
    if not report.delivery_tracked:
        note = UNTRACKED_NOTE
    else:
        note = (
            ("Delivered includes read messages. " if report.has_read_receipts else "")
            + f"{funnel.awaiting} sent messages are neither delivered nor failed yet"
            + (f" ({funnel.never_checked} never checked)." if funnel.never_checked else ".")
        )
    return (
        '<h2 id="funnel">Delivery funnel</h2>\n'
        + funnel_svg(funnel_steps(report), total=funnel.sent)
        + f'\n<p class="note">{escape(note)}</p>'
    )


def funnel_svg(steps: Sequence[tuple[str, int]], *, total: int) -> str:
    """Horizontal bars, one per funnel step, widths relative to ``total``."""
    label_w, bar_w, row_h = 110, 440, 34
    height = row_h * len(steps) + 10
    rows = []
    for index, (label, count) in enumerate(steps):
        y = 5 + index * row_h
        width = round(bar_w * count / total, 1) if total else 0
        colour = FUNNEL_COLOURS[index % len(FUNNEL_COLOURS)]
        rows.append(
            f'<text x="0" y="{y + 20}" font-size="14">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="26" fill="#eef2f7" />'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{width}" height="26" '
            f'fill="{colour}"><title>{escape(label)}: {count}</title></rect>'
            f'<text x="{label_w + bar_w + 8}" y="{y + 20}" font-size="14">'
            f"{count} ({escape(percent(count, total))})</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Delivery funnel" '
        f'width="100%" viewBox="0 0 680 {height}" id="funnel-chart">' + "".join(rows) + "</svg>"
    )


def _timeline_section(timeline: Sequence[TimeBucket]) -> str:
    if not timeline:
        return '<h2 id="timeline">Outcomes over time</h2>\n<p class="note">No times recorded.</p>'
    width_s = timeline[0].width_s
    caption = (
        f"Each bar covers {format_duration(width_s)} starting "
        f"{timeline[0].start.strftime('%Y-%m-%d %H:%M:%S')} UTC; colours as in the outcome table."
    )
    return (
        '<h2 id="timeline">Outcomes over time</h2>\n'
        + timeline_svg(timeline)
        + f'\n<p class="note">{escape(caption)}</p>'
    )


def timeline_svg(timeline: Sequence[TimeBucket]) -> str:
    """Stacked bars of outcomes per time bucket."""
    chart_w, chart_h, left, bottom = 640, 180, 40, 20
    peak = max(sum(bucket.counts.values()) for bucket in timeline) or 1
    slot = chart_w / len(timeline)
    bars = []
    for index, bucket in enumerate(timeline):
        x = left + index * slot
        y = chart_h
        for outcome, count in _ordered(bucket.counts.items()):
            h = chart_h * count / peak
            y -= h
            bars.append(
                f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(slot - 2, 1):.1f}" '
                f'height="{h:.1f}" fill="{OUTCOME_COLOURS.get(outcome, "#607d8b")}">'
                f"<title>{escape(bucket.start.strftime('%H:%M:%S'))} {escape(outcome)}: "
                f"{count}</title></rect>"
            )
    first = timeline[0].start.strftime("%H:%M:%S")
    last = timeline[-1].start.strftime("%H:%M:%S")
    axis = (
        f'<line x1="{left}" y1="{chart_h}" x2="{left + chart_w}" y2="{chart_h}" stroke="#9aa5b1" />'
        f'<text x="0" y="12" font-size="11">{peak}</text>'
        f'<text x="0" y="{chart_h}" font-size="11">0</text>'
        f'<text x="{left}" y="{chart_h + bottom - 4}" font-size="11">{first}</text>'
        f'<text x="{left + chart_w}" y="{chart_h + bottom - 4}" font-size="11" '
        f'text-anchor="end">{last}</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Outcomes over time" '
        f'width="100%" viewBox="0 0 {left + chart_w + 10} {chart_h + bottom}" '
        f'id="timeline-chart">' + axis + "".join(bars) + "</svg>"
    )


def _ordered(items: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    order = list(OUTCOME_COLOURS)
    return sorted(items, key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))


def _outcome_section(report: Report) -> str:
    rows = "".join(
        f'<tr><td><span class="swatch" style="background:{OUTCOME_COLOURS.get(name, "#607d8b")}">'
        f'</span>{escape(name)}</td><td class="num">{count}</td>'
        f'<td class="num">{escape(percent(count, report.rows))}</td>'
        f"<td>{escape(OUTCOME_MEANINGS.get(name, ''))}</td></tr>"
        for name, count in report.outcomes.items()
    )
    statuses = "".join(
        f'<tr><td>{escape(status or "not checked yet")}</td><td class="num">{count}</td></tr>'
        for status, count in report.delivery_statuses.items()
    )
    table = (
        '<h2 id="outcomes">Outcomes</h2>\n<table id="outcome-table"><thead><tr><th>Outcome</th>'
        '<th class="num">Recipients</th><th class="num">Share</th><th>What it means</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    if statuses:
        table += (
            '\n<h2 id="statuses">Delivery statuses of sent messages</h2>\n<table>'
            '<thead><tr><th>Status</th><th class="num">Messages</th></tr></thead>'
            f"<tbody>{statuses}</tbody></table>"
        )
    return table


def _reasons_section(report: Report, *, limit: int = 50) -> str:
    if not report.reasons:
        return '<h2 id="reasons">Failure reasons</h2>\n<p class="note">No failures.</p>'
    rows = "".join(
        f'<tr><td class="num">{reason.count}</td>'
        f"<td>{escape(reason_label(reason))}</td>"
        f"<td>{'' if reason.error_code is None else reason.error_code}</td>"
        f"<td>{escape(reason.reason)}</td>"
        f"<td>{escape(example_text(reason))}</td></tr>"
        for reason in report.reasons[:limit]
    )
    more = len(report.reasons) - limit
    note = f'<p class="note">{more} rarer reasons are not shown.</p>' if more > 0 else ""
    return (
        '<h2 id="reasons">Failure reasons</h2>\n<table id="reason-table"><thead><tr>'
        '<th class="num">Recipients</th><th>What happened</th><th>Error code</th>'
        "<th>Reason</th><th>Example</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{note}"
    )


def write_html(report: Report, path: Path | str, *, generated_at: datetime) -> None:
    """Write the page to ``path`` (beside it, then renamed); InputFileError if unwritable."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(render_html(report, generated_at=generated_at), encoding="utf-8")
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise InputFileError(
            f"cannot write the HTML report: {error.strerror or error}",
            path=path,
            hint="Choose a folder you can write to.",
        ) from error
