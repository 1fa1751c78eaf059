"""What a delivery answer means for one results row: pure functions over values, no I/O.

Which statuses are final per channel, how an API answer becomes the results columns, how a newer
answer is merged over an older one, and when a list answer is worth one per-message lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bulksend.answers import ApiAnswer
from bulksend.channels import Channel
from bulksend.record import DELIVERY_COLUMNS
from bulksend.results import ResultRecord

# A WhatsApp "delivered" may still become "read" (octopods-api.md 2.9), so it is final only on
# SMS and VBM. "undelivered" is SMS's final failure; "deleted" follows delivery.
FINAL_STATUSES: Mapping[Channel, frozenset[str]] = {
    Channel.WHATSAPP: frozenset({"read", "failed", "deleted", "undelivered"}),
    Channel.SMS: frozenset({"delivered", "read", "failed", "undelivered", "deleted"}),
    Channel.VBM: frozenset({"delivered", "read", "failed", "undelivered", "deleted"}),
}
TIME_FIELDS = ("sent_at", "delivered_at", "read_at", "last_updated")
# The time a status brings that the WhatsApp list endpoint does not give (octopods-api.md 2.3:
# its items have sent_at only; 2.2 has delivered_at and read_at).
TIME_OF_STATUS = {"delivered": "delivered_at", "read": "read_at", "deleted": "delivered_at"}


def is_final(channel: Channel, status: str) -> bool:
    return status.strip().lower() in FINAL_STATUSES[channel]


def is_settled(channel: Channel, status: str) -> bool:
    """Final, or a WhatsApp "delivered": only "read" can follow it, and never does for a
    recipient with read receipts off, so ``--watch`` does not wait for it."""
    return is_final(channel, status) or status.strip().lower() == "delivered"


def delivery_fields(item: Mapping[str, Any], *, checked_at: str) -> dict[str, str]:
    """The results columns for one normalised status answer (``answers.normalize_message``)."""
    failure = _text(item.get("failure_reason"))
    return {
        "delivery_status": _text(item.get("status")).strip().lower(),
        "delivery_detail": failure or _text(item.get("status_message")),
        **{name: _text(item.get(name)) for name in TIME_FIELDS},
        "status_checked_at": checked_at,
    }


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def refusal_fields(answer: ApiAnswer, *, checked_at: str) -> dict[str, str]:
    """What a row says when the status endpoint refused to answer for its message."""
    code = f", code {answer.error_code}" if answer.error_code is not None else ""
    said = answer.error or "no reason given"
    return {
        "delivery_status": "unknown",
        "delivery_detail": (
            f"the status endpoint does not know this message (HTTP {answer.http_status}{code}): "
            f"{said} Check that api_key_env holds the key that sent it."
        ),
        "status_checked_at": checked_at,
    }


def merge_fields(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """``old`` updated by a newer answer: empty new values never erase what an earlier answer
    gave (the list endpoint has no ``delivered_at``; a per-message answer does), except that a
    changed status brings its own detail, even an empty one."""
    merged = {**old, **{name: value for name, value in new.items() if value}}
    status = new.get("delivery_status")
    if status and status != old.get("delivery_status"):
        merged["delivery_detail"] = new.get("delivery_detail", "")
    return merged


def merge_delivery(record: ResultRecord, fields: Mapping[str, str]) -> ResultRecord:
    """The record with a newer answer merged by ``merge_fields``."""
    old = {"delivery_status": record.delivery_status, "delivery_detail": record.delivery_detail}
    changes = merge_fields(old, fields)
    return replace(record, **{name: value for name, value in changes.items() if name in fields})


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    """One answer a status run received for one sent message, as it is journalled.

    ``refusal`` marks the endpoint refusing to answer for the message: its "unknown" fields
    apply only to a row that has no status yet (an API may forget old messages, and the status
    an earlier answer gave is worth more than "unknown").
    """

    message_id: str
    identity: str
    fields: Mapping[str, str]
    refusal: bool = False


def apply_answer(record: ResultRecord, answer: StatusAnswer) -> ResultRecord:
    """``record`` with ``answer`` merged, when the answer is about this row's message."""
    return apply_answers(record, [answer])


def apply_answers(record: ResultRecord, answers: Iterable[StatusAnswer]) -> ResultRecord:
    """``record`` with each answer about its message merged in turn (``merge_fields``). An
    answer for another identity is not about this row; a refusal only fills a row that has no
    status yet."""
    current = {name: getattr(record, name) for name in DELIVERY_COLUMNS}
    changed = False
    for answer in answers:
        if answer.message_id != record.message_id or not record.message_id:
            continue
        if answer.identity and record.identity and answer.identity != record.identity:
            continue
        if answer.refusal and current["delivery_status"]:
            continue
        current = merge_fields(current, answer.fields)
        changed = True
    return replace(record, **current) if changed else record


def needs_times(old_status: str, new: Mapping[str, str]) -> bool:
    """A list answer moved the row to a status whose time the list does not give: one
    per-message lookup fills it (``TIME_OF_STATUS``). ``old_status`` is what the row said
    before; a status it already had is not looked up again."""
    status = new.get("delivery_status", "")
    time_field = TIME_OF_STATUS.get(status)
    if time_field is None or new.get(time_field):
        return False
    return status != old_status.strip().lower()
