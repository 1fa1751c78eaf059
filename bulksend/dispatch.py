"""One row through the API: what each worker thread (``workers.WorkerPool``) does with a row.

Per row: wait for the pacer, write a durable ``pending`` line, send, turn the answer into an
outcome. 429s pause every worker and retry the row; transient trouble backs off with full jitter
up to ``max_attempts``; an answer that may have been acted on (read timeout, lost connection) is
``uncertain`` at once and never resent; a campaign-wide refusal halts the whole run.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bulksend.answers import AnswerKind, ApiAnswer
from bulksend.client import OctopodsClient
from bulksend.pause import pause_after_429
from bulksend.prepare import PreparedRow
from bulksend.results import Outcome, ResultRecord
from bulksend.retry import RetryPolicy
from bulksend.workers import NoAnswerStreak

if TYPE_CHECKING:
    from bulksend.pacing import Pacer

logger = logging.getLogger(__name__)

# How many 429s one row may meet before it is recorded as failed (they do not use up attempts).
RATE_LIMIT_PATIENCE = 20
FALLBACK_429_PAUSE_S = 1.0


def iso_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Job:
    row: PreparedRow
    previous: ResultRecord | None  # the row's last outcome from an earlier run, if any


class OutcomeSink:
    """Where finished rows go: the journal (or nothing in a dry run) and the front's callback."""

    def __init__(
        self, write: Callable[[ResultRecord], None], notify: Callable[[ResultRecord], None]
    ) -> None:
        self._write = write
        self._notify = notify
        self._lock = threading.Lock()
        self.sent = 0
        self.finished = 0
        self.requests = 0

    def finish(self, record: ResultRecord) -> None:
        self._write(record)
        with self._lock:
            self.sent += record.outcome is Outcome.SENT
            self.finished += 1
        self._notify(record)

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1


@dataclass
class RowSender:
    """Sends one row to an outcome. Shared by every worker thread."""

    client: OctopodsClient
    pacer: Pacer
    write_pending: Callable[[ResultRecord], None]  # returns once the line is on disk
    sink: OutcomeSink
    halt: threading.Event
    template_id: int | None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    dry_run: bool = False
    utc_now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    monotonic: Callable[[], float] = time.monotonic
    random_fraction: Callable[[], float] = random.random
    on_pause: Callable[[float, str], None] = lambda seconds, reason: None
    on_latency: Callable[[float], None] = lambda seconds: None
    refusal: ApiAnswer | None = None
    unreachable: bool = False  # set when the run stopped because nothing answered
    no_answer: NoAnswerStreak = field(default_factory=NoAnswerStreak)
    _refusal_lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self,
        job: Job,
        outcome: Outcome,
        answer: ApiAnswer | None,
        attempts: int,
        *,
        error: str | None = None,
    ) -> ResultRecord:
        row = job.row
        answer = answer or ApiAnswer(AnswerKind.OK)
        return ResultRecord(
            row=row.row_number,
            phone=row.phone,
            outcome=outcome,
            identity=row.identity,
            message_id=answer.message_id,
            request_id=answer.request_id,
            channel_message_id=answer.channel_message_id,
            http_status=answer.http_status,
            error_code=answer.error_code,
            error=answer.error if error is None else error,
            attempts=attempts,
            updated_at=iso_utc(self.utc_now()),
            segments=row.segments,
        )

    def run(self, job: Job) -> None:
        if self.dry_run:
            if self.pacer.acquire(cancel=self.halt) and not self.halt.is_set():
                self.sink.finish(self.record(job, Outcome.PENDING, None, 0, error="dry run"))
            return
        _RowAttempts(self, job).run()

    def refuse(self, answer: ApiAnswer) -> None:
        with self._refusal_lock:
            if self.refusal is None:
                self.refusal = answer
        self.halt.set()

    def note_row_end(self, outcome: Outcome, *, answered: bool) -> None:
        """Rows that failed without one HTTP answer, in a row, halt the run (the API is down)."""
        if answered:
            self.no_answer.answered()
        elif outcome is Outcome.FAILED and self.no_answer.unanswered():
            self.unreachable = True
            self.halt.set()

    def pause_for_429(self, answer: ApiAnswer, times_limited: int, latency_s: float) -> None:
        """Every worker waits until the time the 429 names (plus jitter), and the pacer lowers
        its rate below what the API refused (``pause.pause_after_429``, shared with status)."""
        wait_s = pause_after_429(
            self.pacer,
            answer,
            times_limited=times_limited,
            latency_s=latency_s,
            policy=self.policy,
            utc_now=self.utc_now,
            random_fraction=self.random_fraction,
            fallback_s=FALLBACK_429_PAUSE_S,
        )
        self.on_pause(wait_s, "rate limited by the API (HTTP 429)")


class _RowAttempts:
    """The attempts of one row: at most one pending line, any number of 429 retries (bounded)."""

    def __init__(self, sender: RowSender, job: Job) -> None:
        self.sender = sender
        self.job = job
        self.base_attempts = job.previous.attempts if job.previous else 0
        self.requests = 0
        self.transient = 0
        self.limited = 0
        self.pending_written = False
        self.answered = False  # some attempt got an HTTP answer
        self.latency_s = 0.0  # of the last request that got an answer

    def finish(self, outcome: Outcome, answer: ApiAnswer | None, error: str | None = None) -> None:
        attempts = self.base_attempts + self.requests
        record = self.sender.record(self.job, outcome, answer, attempts, error=error)
        self.sender.sink.finish(record)
        if self.requests:
            self.sender.note_row_end(outcome, answered=self.answered)

    def run(self) -> None:
        sender = self.sender
        while True:
            if not sender.pacer.acquire(cancel=sender.halt) or sender.halt.is_set():
                if self.pending_written:  # a retry that will not happen: try again next run
                    self.finish(Outcome.FAILED, None, "not retried: the run was stopped")
                return
            if not self.pending_written:
                pending = sender.record(self.job, Outcome.PENDING, None, self.base_attempts)
                sender.write_pending(pending)
                self.pending_written = True
            answer = self.send_once()
            if self.settle(answer):
                return

    def send_once(self) -> ApiAnswer:
        sender = self.sender
        started = sender.monotonic()
        answer = sender.client.send(self.job.row.body or {}, template_id=sender.template_id)
        self.requests += 1
        sender.sink.count_request()
        if answer.http_status is not None:
            self.answered = True
            self.latency_s = sender.monotonic() - started
            sender.on_latency(self.latency_s)
        return answer

    def settle(self, answer: ApiAnswer) -> bool:
        """Record a final answer and return True, or prepare the retry and return False."""
        sender = self.sender
        kind = answer.kind
        if kind is not AnswerKind.RATE_LIMITED and answer.http_status is not None:
            sender.pacer.note_success()
        if kind is AnswerKind.OK:
            self.finish(Outcome.SENT, answer)
        elif kind is AnswerKind.REJECTED:
            self.finish(Outcome.REJECTED, answer)
        elif kind is AnswerKind.UNCERTAIN:
            self.finish(Outcome.UNCERTAIN, answer)
        elif kind is AnswerKind.CAMPAIGN_ERROR:
            sender.refuse(answer)
            self.finish(Outcome.FAILED, answer)  # refused, so not sent: the next run tries it
        elif kind is AnswerKind.RATE_LIMITED:
            return self.after_429(answer)
        else:
            return self.after_transient(answer)
        return True

    def after_429(self, answer: ApiAnswer) -> bool:
        self.limited += 1
        if self.limited > RATE_LIMIT_PATIENCE:
            self.finish(Outcome.FAILED, answer, f"rate limited {self.limited} times in a row")
            return True
        self.sender.pause_for_429(answer, self.limited, self.latency_s)
        return False

    def after_transient(self, answer: ApiAnswer) -> bool:
        sender = self.sender
        self.transient += 1
        if not sender.policy.can_retry(self.transient):
            self.finish(Outcome.FAILED, answer)
            return True
        wait_s = sender.policy.backoff_s(self.transient, random_fraction=sender.random_fraction())
        if sender.halt.wait(wait_s):
            self.finish(Outcome.FAILED, answer)
            return True
        return False
