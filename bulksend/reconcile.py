"""Rows left ``pending`` by a crash: were they sent?

A pending line is written (and fsynced) before each request, so after a crash it marks a row whose
request may or may not have reached the API. For WhatsApp the list endpoint shows the latest 100
sends of the key, and a listed message to the same phone, sent at or after the pending line's time
(less a clock-skew allowance) and not already recorded, is that row's message. Everything else
becomes ``uncertain``: never sent again automatically.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bulksend.results import Outcome, ResultRecord

CLOCK_SKEW_S = 5.0
UNCERTAIN_NOTE = (
    "in flight when a previous run stopped: it may have been sent, so it is not sent again "
    "(use --resend-uncertain to send it anyway)"
)


@dataclass(frozen=True)
class Listed:
    message_id: str
    phone_digits: str
    sent_at: dt.datetime


def parse_utc(text: str) -> dt.datetime | None:
    """An ISO 8601 time (``Z``, offset or naive-as-UTC), or None when it is not one."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def phone_digits(phone: str) -> str:
    # The legacy listing writes phones without "+": compare digits only.
    return re.sub(r"\D", "", phone or "")


def listed_messages(items: Iterable[Mapping[str, Any]]) -> list[Listed]:
    """Normalised listing items that can be matched (an id, a phone and a time)."""
    listed = []
    for item in items:
        sent_at = parse_utc(str(item.get("sent_at") or ""))
        message_id = str(item.get("message_id") or "")
        digits = phone_digits(str(item.get("phone_number") or ""))
        if sent_at is not None and message_id and digits:
            listed.append(Listed(message_id, digits, sent_at))
    return listed


def reconcile(
    pending: Sequence[ResultRecord],
    listed: Sequence[Listed],
    *,
    recorded_message_ids: set[str],
    now_iso: str,
    skew_s: float = CLOCK_SKEW_S,
) -> list[ResultRecord]:
    """The outcome line for each pending record: ``sent`` when its message is listed, else
    ``uncertain``. Each listed message is matched to at most one row, oldest pending first,
    taking the earliest qualifying message."""
    available = sorted(
        (item for item in listed if item.message_id not in recorded_message_ids),
        key=lambda item: item.sent_at,
    )
    decided = []
    for record in sorted(pending, key=lambda r: (r.updated_at, r.row)):
        match = _first_match(record, available, skew_s)
        if match is None:
            decided.append(_uncertain(record, now_iso))
            continue
        available.remove(match)
        decided.append(_sent(record, match, now_iso))
    return decided


def _first_match(record: ResultRecord, available: list[Listed], skew_s: float) -> Listed | None:
    started = parse_utc(record.updated_at)
    digits = phone_digits(record.phone)
    if started is None or not digits:
        return None
    earliest = started - dt.timedelta(seconds=skew_s)
    for item in available:
        if item.phone_digits == digits and item.sent_at >= earliest:
            return item
    return None


def _sent(record: ResultRecord, match: Listed, now_iso: str) -> ResultRecord:
    return replace(
        record,
        outcome=Outcome.SENT,
        message_id=match.message_id,
        error="",
        updated_at=now_iso,
    )


def _uncertain(record: ResultRecord, now_iso: str) -> ResultRecord:
    return replace(record, outcome=Outcome.UNCERTAIN, error=UNCERTAIN_NOTE, updated_at=now_iso)
