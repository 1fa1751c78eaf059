"""Campaign numbers from the results file: outcomes, delivery funnel, failure reasons, pace.

``summarize`` is a pure fold over result records (one pass, memory bounded by the number of
distinct reasons and busy seconds, not by rows); ``build_report`` feeds it the campaign's results
file. The renderers (text here, HTML and XLSX in their own modules) only format a ``Report``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bulksend.campaign import Campaign
from bulksend.channels import Channel
from bulksend.prepare import phone_reason_category
from bulksend.report_source import iter_results
from bulksend.results import Outcome, ResultRecord

# A WhatsApp "deleted" happens after delivery, so it counts as delivered in the funnel.
DELIVERED_STATUSES = frozenset({"delivered", "read", "deleted"})
FAILED_DELIVERY_STATUSES = frozenset({"failed", "undelivered"})
FINAL_DELIVERY_STATUSES = DELIVERED_STATUSES | FAILED_DELIVERY_STATUSES
# Outcomes whose rows did not go out; their reasons are ranked.
NOT_SENT_OUTCOMES = (
    Outcome.REJECTED,
    Outcome.INVALID,
    Outcome.FAILED,
    Outcome.UNCERTAIN,
    Outcome.SKIPPED,
    Outcome.PENDING,
)
MAX_DISTINCT_REASONS = 1000  # beyond this, reasons are lumped so memory stays bounded
OTHER_REASONS = "(other reasons, not counted one by one)"
# "duplicate of row 2": the row it duplicates is particular to the row, like its phone.
_ROW_REFERENCE = re.compile(r"\brow \d+")
TIMELINE_BUCKETS = 40
_BUCKET_WIDTHS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200)
_DAY_S = 86400


@dataclass(frozen=True)
class Funnel:
    """Sent rows and how far their delivery got; ``awaiting`` are not delivered or failed yet.

    A step the channel cannot report is None, never 0: VBM has no status endpoint (everything
    after ``sent`` is None), and only WhatsApp has read receipts (``read`` is None otherwise).
    """

    sent: int
    delivered: int | None  # delivered, read or deleted: read implies delivered
    read: int | None
    failed: int | None  # failed or undelivered
    awaiting: int | None
    never_checked: int | None  # sent rows `bulksend status` has not asked about yet

    @property
    def tracked(self) -> bool:
        return self.delivered is not None


@dataclass(frozen=True)
class ReasonCount:
    """One kind of failure: how many rows share it and the first row that had it.

    ``reason`` is the category (the text without what is particular to a row, see
    ``reason_category``); ``example_reason`` is the first row's own text, in full. A ``lumped``
    entry gathers the rows whose reasons came after ``MAX_DISTINCT_REASONS`` kinds had been seen;
    it is ranked last whatever its count, as it is no single reason.
    """

    stage: str  # "send" (the row did not go out) or "delivery" (it went out, then failed)
    outcome: str  # the row's outcome, or its delivery status for the delivery stage
    error_code: int | None
    reason: str
    count: int
    example_row: int
    example_phone: str
    example_reason: str = ""
    lumped: bool = False


@dataclass(frozen=True)
class TimeBucket:
    start: datetime  # UTC
    width_s: int
    counts: Mapping[str, int]  # outcome -> rows whose last update fell in this bucket


@dataclass(frozen=True)
class Report:
    rows: int
    outcomes: Mapping[str, int]  # every outcome, in a fixed order, zeros included
    delivery_statuses: Mapping[str, int]  # as stored; "" for sent rows not checked yet
    funnel: Funnel
    reasons: tuple[ReasonCount, ...]  # most frequent first
    segments_sent: int  # SMS segments of sent rows (what is billed)
    first_sent_at: datetime | None
    last_sent_at: datetime | None
    timeline: tuple[TimeBucket, ...]
    campaign_name: str = ""
    channel: str = ""
    results_path: str = ""

    @property
    def delivery_tracked(self) -> bool:
        """False for VBM: it has no status endpoint, so "sent" is as far as anyone can know."""
        return self.funnel.tracked

    @property
    def has_read_receipts(self) -> bool:
        """Only WhatsApp reports "read"; a report of unknown channel shows it too."""
        return self.funnel.read is not None

    @property
    def duration_s(self) -> float | None:
        if self.first_sent_at is None or self.last_sent_at is None:
            return None
        return (self.last_sent_at - self.first_sent_at).total_seconds()

    @property
    def rate_per_s(self) -> float | None:
        """Sends per second between the first and the last send (n sends span n-1 gaps)."""
        duration_s = self.duration_s
        if not duration_s or self.funnel.sent < 2:
            return None
        return (self.funnel.sent - 1) / duration_s

    def to_dict(self) -> dict[str, Any]:
        """The same numbers as plain JSON-ready values."""
        return {
            "campaign": self.campaign_name,
            "channel": self.channel,
            "results": self.results_path,
            "rows": self.rows,
            "outcomes": dict(self.outcomes),
            "delivery_statuses": dict(self.delivery_statuses),
            "delivery_tracked": self.delivery_tracked,
            "funnel": _funnel_dict(self.funnel),
            "reasons": [_reason_dict(reason) for reason in self.reasons],
            "segments_sent": self.segments_sent,
            "first_sent_at": _iso(self.first_sent_at),
            "last_sent_at": _iso(self.last_sent_at),
            "duration_s": self.duration_s,
            "rate_per_s": self.rate_per_s,
            "timeline": [
                {"start": _iso(b.start), "width_s": b.width_s, "counts": dict(b.counts)}
                for b in self.timeline
            ],
        }


def _funnel_dict(funnel: Funnel) -> dict[str, Any]:
    return {
        "tracked": funnel.tracked,
        "sent": funnel.sent,
        "delivered": funnel.delivered,
        "read": funnel.read,
        "failed": funnel.failed,
        "awaiting": funnel.awaiting,
        "never_checked": funnel.never_checked,
    }


def _reason_dict(reason: ReasonCount) -> dict[str, Any]:
    return {
        "stage": reason.stage,
        "outcome": reason.outcome,
        "error_code": reason.error_code,
        "reason": reason.reason,
        "count": reason.count,
        "example_row": reason.example_row,
        "example_phone": reason.example_phone,
        "example_reason": reason.example_reason,
        "lumped": reason.lumped,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def reason_category(reason: str) -> str:
    """``reason`` without what is particular to its row, so that equal problems count as one.

    The quoted cell and the E.164 number go as validate's categories drop them
    (``prepare.phone_reason_category``: "phone '120' is too short for US (+1)" becomes
    "phone … is too short for US (+1)"), and so does a row reference ("duplicate of row …").
    """
    return _ROW_REFERENCE.sub("row …", phone_reason_category(reason))


def parse_timestamp(text: str) -> datetime | None:
    """An ISO 8601 time as the results file and the API write it, in UTC; None if unreadable."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if moment.tzinfo is None:  # bulksend writes UTC; a naive time is taken as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass
class _Tally:
    """The mutable accumulator behind ``summarize``; never leaves this module."""

    rows: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    delivered: int = 0
    read: int = 0
    failed: int = 0
    never_checked: int = 0
    segments_sent: int = 0
    first_sent: datetime | None = None
    last_sent: datetime | None = None
    # (stage, outcome, error code, category) -> [count, example row, its phone, its reason]
    reasons: dict[tuple[str, str, int | None, str], list[Any]] = field(default_factory=dict)
    per_second: Counter[tuple[int, str]] = field(default_factory=Counter)

    def add(self, record: ResultRecord) -> None:
        self.rows += 1
        self.outcomes[record.outcome.value] += 1
        moment = parse_timestamp(record.updated_at)
        if moment is not None:
            self.per_second[(int(moment.timestamp()), record.outcome.value)] += 1
        if record.outcome is Outcome.SENT:
            self._add_sent(record, moment)
        else:
            reason = record.error.strip() or _fallback_reason(record)
            self._add_reason("send", record.outcome.value, record.error_code, reason, record)

    def _add_sent(self, record: ResultRecord, moment: datetime | None) -> None:
        status = record.delivery_status.strip().lower()
        self.statuses[status] += 1
        self.segments_sent += record.segments or 0
        if not record.status_checked_at and not status:
            self.never_checked += 1
        if status in DELIVERED_STATUSES:
            self.delivered += 1
        if status == "read":
            self.read += 1
        if status in FAILED_DELIVERY_STATUSES:
            self.failed += 1
            reason = record.delivery_detail.strip() or "(no reason given by the API)"
            self._add_reason("delivery", status, None, reason, record)
        if moment is not None:
            self.first_sent = moment if self.first_sent is None else min(self.first_sent, moment)
            self.last_sent = moment if self.last_sent is None else max(self.last_sent, moment)

    def _add_reason(
        self, stage: str, outcome: str, code: int | None, reason: str, record: ResultRecord
    ) -> None:
        key = (stage, outcome, code, reason_category(reason))
        if key not in self.reasons and len(self.reasons) >= MAX_DISTINCT_REASONS:
            key = (stage, outcome, None, OTHER_REASONS)
        entry = self.reasons.get(key)
        if entry is None:
            self.reasons[key] = [1, record.row, record.phone, reason]
            return
        entry[0] += 1
        if record.row < entry[1]:
            entry[1:] = record.row, record.phone, reason

    def finish(self, channel: str) -> Report:
        tracked = _delivery_tracked(channel)
        return Report(
            rows=self.rows,
            outcomes={outcome.value: self.outcomes[outcome.value] for outcome in _OUTCOME_ORDER},
            delivery_statuses=dict(sorted(self.statuses.items(), key=lambda kv: (-kv[1], kv[0])))
            if tracked
            else {},
            funnel=self._funnel(tracked=tracked, read_receipts=_has_read_receipts(channel)),
            reasons=self._ranked_reasons(),
            segments_sent=self.segments_sent,
            first_sent_at=self.first_sent,
            last_sent_at=self.last_sent,
            timeline=build_timeline(self.per_second),
            channel=channel,
        )

    def _funnel(self, *, tracked: bool, read_receipts: bool) -> Funnel:
        sent = self.outcomes[Outcome.SENT.value]
        if not tracked:
            return Funnel(sent, None, None, None, None, None)
        return Funnel(
            sent=sent,
            delivered=self.delivered,
            read=self.read if read_receipts else None,
            failed=self.failed,
            awaiting=sent - self.delivered - self.failed,
            never_checked=self.never_checked,
        )

    def _ranked_reasons(self) -> tuple[ReasonCount, ...]:
        reasons = [
            ReasonCount(stage, outcome, code, text, *entry, lumped=text == OTHER_REASONS)
            for (stage, outcome, code, text), entry in self.reasons.items()
        ]
        reasons.sort(key=lambda r: (r.lumped, -r.count, r.example_row, r.stage, r.reason))
        return tuple(reasons)


def _delivery_tracked(channel: str) -> bool:
    """False for VBM: it has no status endpoint, so "sent" is as far as anyone can know."""
    known = {channel.value: channel for channel in Channel}
    return channel not in known or known[channel].has_status_endpoint


def _has_read_receipts(channel: str) -> bool:
    """Only WhatsApp reports "read"; a report of unknown channel shows it too."""
    return channel in (Channel.WHATSAPP.value, "")


_OUTCOME_ORDER = (Outcome.SENT, *NOT_SENT_OUTCOMES)


def _fallback_reason(record: ResultRecord) -> str:
    if record.http_status:
        return f"HTTP {record.http_status}"
    return "(no reason recorded)"


def summarize(
    records: Iterable[ResultRecord],
    *,
    campaign_name: str = "",
    channel: str = "",
    results_path: str = "",
) -> Report:
    """Count one record per recipient (a compacted results file) into a ``Report``."""
    tally = _Tally()
    for record in records:
        tally.add(record)
    return replace(tally.finish(channel), campaign_name=campaign_name, results_path=results_path)


def build_report(campaign: Campaign) -> Report:
    """The campaign's numbers from its results file; InputFileError when there is none."""
    return summarize(
        iter_results(campaign.results_path),
        campaign_name=campaign.name,
        channel=campaign.channel.value,
        results_path=str(campaign.results_path),
    )


def build_timeline(per_second: Mapping[tuple[int, str], int]) -> tuple[TimeBucket, ...]:
    """Rebin per-second outcome counts into at most ``TIMELINE_BUCKETS`` round-width buckets."""
    if not per_second:
        return ()
    seconds = [second for second, _ in per_second]
    first, last = min(seconds), max(seconds)
    width = _bucket_width(last - first + 1)
    start = first - first % width
    count = (last - start) // width + 1
    bins: list[Counter[str]] = [Counter() for _ in range(count)]
    for (second, outcome), n in per_second.items():
        bins[(second - start) // width][outcome] += n
    return tuple(
        TimeBucket(datetime.fromtimestamp(start + i * width, UTC), width, dict(counts))
        for i, counts in enumerate(bins)
    )


def _bucket_width(span_s: int) -> int:
    for width in _BUCKET_WIDTHS_S:
        if math.ceil(span_s / width) <= TIMELINE_BUCKETS:
            return width
    return _DAY_S * math.ceil(span_s / (_DAY_S * TIMELINE_BUCKETS))
