"""Delivery statuses into the results file: ``check_status`` asks the API about sent rows.

A 201 only says Octopods took the message. ``check_status`` asks the channel's status endpoint
about every sent row whose delivery is not final (for WhatsApp the list endpoint first: one
request answers for up to 100 recent messages), paced by the same ``Pacer`` and 429 handling
as send, and writes the answers into the results file by atomic rewrite under the results lock.
Progress is written every few hundred rows or seconds, so an interrupted run loses little and
never tears the file. VBM has no status endpoint: the summary says so and nothing is asked.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bulksend.answers import AnswerKind, ApiAnswer
from bulksend.campaign import Campaign
from bulksend.channels import Channel
from bulksend.client import OctopodsClient
from bulksend.endpoint import connect
from bulksend.errors import ExitStatus, InputFileError
from bulksend.pacing import Pacer
from bulksend.results import Outcome, ResultRecord, ResultsFile
from bulksend.retry import RetryPolicy, seconds_until

logger = logging.getLogger(__name__)

VBM_EXPLANATION = (
    "VBM has no documented status endpoint; delivery cannot be tracked. "
    "The results file shows which messages Octopods accepted (outcome sent)."
)
# A WhatsApp "delivered" may still become "read" (octopods-api.md 2.9), so it is final only on
# SMS and VBM. "undelivered" is SMS's final failure; "deleted" follows delivery.
FINAL_STATUSES: Mapping[Channel, frozenset[str]] = {
    Channel.WHATSAPP: frozenset({"read", "failed", "deleted", "undelivered"}),
    Channel.SMS: frozenset({"delivered", "read", "failed", "undelivered", "deleted"}),
    Channel.VBM: frozenset({"delivered", "read", "failed", "undelivered", "deleted"}),
}
TIME_FIELDS = ("sent_at", "delivered_at", "read_at", "last_updated")
LIST_LIMIT = 100
FLUSH_EVERY_ROWS = 500
FLUSH_EVERY_S = 15.0
RATE_LIMIT_FALLBACK_S = 60.0  # a 429 that names no time
RATE_LIMIT_JITTER_S = 1.0
MAX_RATE_LIMITED_PER_ROW = 20
STATUS_RETRY = RetryPolicy(max_attempts=4, backoff_base_s=0.5, backoff_max_s=10.0)
WAIT_STEP_S = 1.0  # how often a wait between watch rounds looks at ``cancel``


def is_final(channel: Channel, status: str) -> bool:
    return status.strip().lower() in FINAL_STATUSES[channel]


def is_settled(channel: Channel, status: str) -> bool:
    """Final, or a WhatsApp "delivered": only "read" can follow it, and never does for a
    recipient with read receipts off, so ``--watch`` does not wait for it."""
    return is_final(channel, status) or status.strip().lower() == "delivered"


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class StatusProgress:
    """Sent as the run goes: ``round`` 1 is the first pass, later ones are ``--watch`` polls."""

    round: int
    asked: int  # lookups answered so far, all rounds
    final: int  # tracked rows whose delivery is final
    tracked: int  # sent rows with a message id
    unreachable: int


@dataclass(frozen=True)
class StatusSummary:
    channel: Channel
    tracked: int = 0  # sent rows with a message id
    asked: int = 0  # lookups answered, all rounds
    final: int = 0
    unreachable: int = 0  # rows it meant to ask about but could not (network, server)
    refused: int = 0  # lookups the API refused for that message (unknown id, ...)
    statuses: Mapping[str, int] = field(default_factory=dict)  # of tracked rows, after the run
    rounds: int = 0
    timed_out: bool = False
    cancelled: bool = False
    untracked_reason: str = ""  # set when the channel cannot be tracked at all (VBM)

    @property
    def awaiting(self) -> int:
        return self.tracked - self.final

    @property
    def exit_status(self) -> ExitStatus:
        """OK when every row it meant to ask about was asked; INCOMPLETE otherwise."""
        if self.cancelled:
            return ExitStatus.INTERRUPTED
        return ExitStatus.INCOMPLETE if self.unreachable else ExitStatus.OK


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


def apply_updates(
    records: Iterable[ResultRecord], updates: Mapping[str, Mapping[str, str]]
) -> Iterator[ResultRecord]:
    """Every record, those of sent rows with an update (by message id) merged."""
    for record in records:
        fields = updates.get(record.message_id) if record.outcome is Outcome.SENT else None
        yield merge_delivery(record, fields) if fields else record


@dataclass
class _Run:
    """One status run's state and effects; ``check_status`` is its only user."""

    campaign: Campaign
    client: OctopodsClient
    results: ResultsFile
    pacer: Pacer
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    now_utc: Callable[[], datetime]
    cancel: threading.Event | None
    events: Callable[[StatusProgress], None] | None
    random_fraction: Callable[[], float] = random.random
    awaiting: dict[str, str] = field(default_factory=dict)  # message id -> last status
    tracked: int = 0
    asked: int = 0
    refused: int = 0
    unreachable: set[str] = field(default_factory=set)
    updates: dict[str, dict[str, str]] = field(default_factory=dict)
    since_flush: int = 0
    last_flush: float = 0.0
    use_list: bool = True
    round: int = 0

    @property
    def channel(self) -> Channel:
        return self.campaign.channel

    def load(self) -> None:
        for record in self.results.iter_records():
            if record.outcome is not Outcome.SENT or not record.message_id:
                continue
            self.tracked += 1
            if not is_final(self.channel, record.delivery_status):
                self.awaiting[record.message_id] = record.delivery_status
        self.last_flush = self.clock()

    def unsettled(self) -> bool:
        return any(not is_settled(self.channel, status) for status in self.awaiting.values())

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def one_round(self) -> None:
        self.round += 1
        self.unreachable.clear()
        pending = list(self.awaiting)
        if self.channel is Channel.WHATSAPP and self.use_list and pending:
            pending = self._ask_list(pending)
        for index, message_id in enumerate(pending):
            if self.cancelled():
                return
            answer = self._ask_one(message_id)
            if answer is not None:
                self._take(message_id, answer)
            self._maybe_flush()
            if index % 100 == 99:
                self._progress()
        self._progress()

    def _ask_list(self, pending: list[str]) -> list[str]:
        """Takes what the list endpoint answers; returns the message ids it did not cover."""
        answer = self._with_pacing(lambda: self.client.list_messages(limit=LIST_LIMIT))
        if answer is None or not answer.ok:
            return pending
        items = {str(item.get("message_id")): item for item in answer.data.get("messages", [])}
        covered = [message_id for message_id in pending if message_id in items]
        # A campaign older than the newest 100 messages gains nothing from later list calls.
        self.use_list = bool(covered)
        for message_id in covered:
            self._record(message_id, items[message_id])
        self._maybe_flush()
        return [message_id for message_id in pending if message_id not in items]

    def _ask_one(self, message_id: str) -> ApiAnswer | None:
        answer = self._with_pacing(lambda: self.client.get_message(message_id))
        if answer is None:
            return None
        if answer.kind in (AnswerKind.TRANSIENT, AnswerKind.UNCERTAIN, AnswerKind.RATE_LIMITED):
            self.unreachable.add(message_id)
            logger.info("status of message %s: %s", message_id, answer.error)
            return None
        return answer

    def _with_pacing(self, request: Callable[[], ApiAnswer]) -> ApiAnswer | None:
        """One lookup through the pacer, retried on transient trouble and after 429 pauses.

        Raises CampaignRefusedError on a campaign-wide answer; None when cancelled.
        """
        attempts = rate_limited = 0
        while True:
            if not self.pacer.acquire(cancel=self.cancel):
                return None
            answer = request()
            if answer.kind is AnswerKind.CAMPAIGN_ERROR:
                raise self.client.refusal(answer)
            if answer.kind is AnswerKind.RATE_LIMITED:
                rate_limited += 1
                self._pause_for(answer)
                if rate_limited >= MAX_RATE_LIMITED_PER_ROW:
                    return answer
                continue
            if answer.kind in (AnswerKind.TRANSIENT, AnswerKind.UNCERTAIN):
                attempts += 1
                if not STATUS_RETRY.can_retry(attempts) or self.cancelled():
                    return answer
                backoff = STATUS_RETRY.backoff_s(attempts, random_fraction=self.random_fraction())
                self.sleep(backoff)
                continue
            self.pacer.note_success()
            return answer

    def _pause_for(self, answer: ApiAnswer) -> None:
        wait_s = RATE_LIMIT_FALLBACK_S
        if answer.retry_at is not None:
            wait_s = seconds_until(answer.retry_at, now_utc=self.now_utc())
        wait_s += self.random_fraction() * RATE_LIMIT_JITTER_S
        logger.info("rate limited during status: pausing %.1f s", wait_s)
        self.pacer.note_rate_limited()
        self.pacer.pause_until(self.clock() + wait_s)

    def _take(self, message_id: str, answer: ApiAnswer) -> None:
        if answer.ok:
            self._record(message_id, answer.data)
            return
        # The API refused this one lookup (unknown id...): asking again in this run will not
        # help. A later run asks once more, in case the key was wrong. A status an earlier run
        # learnt is kept: an API may forget old messages.
        self.refused += 1
        logger.warning("status of message %s refused: %s", message_id, answer.error)
        if not self.awaiting.pop(message_id, ""):
            fields = refusal_fields(answer, checked_at=iso_utc(self.now_utc()))
            self.updates[message_id] = fields
            self.since_flush += 1

    def _record(self, message_id: str, item: Mapping[str, Any]) -> None:
        self.asked += 1
        fields = delivery_fields(item, checked_at=iso_utc(self.now_utc()))
        self.updates[message_id] = merge_fields(self.updates.get(message_id, {}), fields)
        self.since_flush += 1
        status = fields["delivery_status"]
        if is_final(self.channel, status):
            self.awaiting.pop(message_id, None)
        else:
            self.awaiting[message_id] = status

    def _maybe_flush(self) -> None:
        due = self.clock() - self.last_flush >= FLUSH_EVERY_S
        if self.since_flush >= FLUSH_EVERY_ROWS or (due and self.since_flush):
            self.flush()

    def flush(self) -> None:
        """Rewrites the results file with the answers so far (atomic: old or new, never torn)."""
        if self.updates:
            self.results.rewrite(apply_updates(self.results.iter_records(), self.updates))
            self.updates = {}
        self.since_flush = 0
        self.last_flush = self.clock()

    def _progress(self) -> None:
        if self.events is not None:
            self.events(self.progress())

    def progress(self) -> StatusProgress:
        return StatusProgress(
            round=self.round,
            asked=self.asked,
            final=self.tracked - len(self.awaiting) - self.refused,
            tracked=self.tracked,
            unreachable=len(self.unreachable),
        )

    def wait(self, seconds: float) -> None:
        """Sleeps between watch rounds in short steps so a cancel is seen promptly."""
        deadline = self.clock() + seconds
        for _ in range(int(seconds / WAIT_STEP_S) + 2):
            remaining = deadline - self.clock()
            if remaining <= 0 or self.cancelled():
                return
            self.sleep(min(WAIT_STEP_S, remaining))


def check_status(
    campaign: Campaign,
    *,
    watch: bool = False,
    interval_s: float = 60.0,
    timeout_s: float = 3600.0,
    events: Callable[[StatusProgress], None] | None = None,
    cancel: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now_utc: Callable[[], datetime] = utc_now,
    client: OctopodsClient | None = None,
    pacer: Pacer | None = None,
) -> StatusSummary:
    """Fetch delivery statuses of the campaign's sent rows into its results file.

    With ``watch``, polls the rows without a final status every ``interval_s`` seconds until
    all are final, ``timeout_s`` has passed or ``cancel`` is set. Raises ResultsLockedError when
    a send holds the results file, CampaignRefusedError on a campaign-wide answer (bad key),
    InputFileError when there is no results file yet. VBM returns at once with
    ``untracked_reason`` set.
    """
    if not campaign.channel.has_status_endpoint:
        return StatusSummary(channel=campaign.channel, untracked_reason=VBM_EXPLANATION)
    results = open_results(campaign)
    with results.lock(), nullcontext(client) if client else connect(campaign) as api:
        run = _Run(
            campaign=campaign,
            client=api,
            results=results,
            pacer=pacer or Pacer(campaign.rate, burst=campaign.burst),
            clock=clock,
            sleep=sleep,
            now_utc=now_utc,
            cancel=cancel,
            events=events,
        )
        run.load()
        timed_out = _poll(run, watch=watch, interval_s=interval_s, timeout_s=timeout_s)
        return _summary(run, timed_out=timed_out)


def open_results(campaign: Campaign) -> ResultsFile:
    """The campaign's results file; InputFileError when no send has written one yet."""
    path = campaign.results_path
    if not path.exists():
        raise InputFileError(
            "there is no results file yet, so there is nothing to track.",
            path=path,
            hint=f"Run `bulksend send {campaign.path}` first.",
        )
    return ResultsFile(path)


def _poll(run: _Run, *, watch: bool, interval_s: float, timeout_s: float) -> bool:
    """Rounds of lookups until done; True when ``--watch`` gave up at the timeout."""
    deadline = run.clock() + timeout_s
    try:
        while True:
            run.one_round()
            if not watch or not run.unsettled() or run.cancelled():
                return False
            remaining = deadline - run.clock()
            if remaining <= 0:
                return True
            run.wait(min(interval_s, remaining))
            if run.cancelled():
                return False
    finally:
        # Also on Ctrl-C or a refused key: what was learnt so far is kept.
        run.flush()


def _summary(run: _Run, *, timed_out: bool) -> StatusSummary:
    statuses: dict[str, int] = {}
    for record in run.results.iter_records():
        if record.outcome is Outcome.SENT and record.message_id:
            status = record.delivery_status or "not checked"
            statuses[status] = statuses.get(status, 0) + 1
    return StatusSummary(
        channel=run.channel,
        tracked=run.tracked,
        asked=run.asked,
        final=run.tracked - len(run.awaiting) - run.refused,
        unreachable=len(run.unreachable),
        refused=run.refused,
        statuses=dict(sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0]))),
        rounds=run.round,
        timed_out=timed_out,
        cancelled=run.cancelled(),
    )
