"""One status run: rounds of lookups by a pool of workers, every answer into the status journal.

Each round streams the results file (it does not change during the run: answers go to the
sidecar journal, ``status_journal``) and queues every sent row whose status is neither final in
the file nor settled by this run; a bounded pool of workers asks the API about them, every request
through the shared ``Pacer``. For WhatsApp one list request first answers for up to 100 recent
messages. Per row the run keeps one byte of flags, indexed by the row's place in the file, so a
million rows cost a megabyte, not a dictionary of message ids.

The run stops on ``cancel`` (Ctrl-C, SIGTERM), at its deadline (``--timeout``, also inside a
round), on a campaign-wide refusal, and after ``UNREACHABLE_ROWS`` rows in a row got no HTTP
answer at all (the API is down), as send does.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from bulksend.answers import AnswerKind, ApiAnswer
from bulksend.campaign import Campaign
from bulksend.channels import Channel
from bulksend.client import OctopodsClient
from bulksend.dispatch import FALLBACK_429_PAUSE_S, RATE_LIMIT_PATIENCE
from bulksend.pacing import Pacer
from bulksend.pause import pause_after_429
from bulksend.results import Outcome, ResultRecord
from bulksend.retry import RetryPolicy
from bulksend.status_fields import (
    StatusAnswer,
    delivery_fields,
    is_final,
    is_settled,
    needs_times,
    refusal_fields,
)
from bulksend.status_journal import AnswerJournal
from bulksend.status_lookup import Lookup
from bulksend.status_stop import RunStop
from bulksend.workers import NoAnswerStreak, WorkerPool

logger = logging.getLogger(__name__)

LIST_LIMIT = 100
PROGRESS_EVERY = 100  # answers between progress events within a round

# Per-row flags (one byte a row).
DONE = 1  # a final status or a refusal came this run: not asked again in this run
SETTLED = 2  # a settled status (WhatsApp "delivered") came this run: --watch need not wait
DELIVERED_TIMES = 4  # the lookup that fills a list "delivered"'s time was made this run


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def is_tracked(record: ResultRecord) -> bool:
    """A sent row with a message id: the only rows status asks about."""
    return record.outcome is Outcome.SENT and bool(record.message_id)


@dataclass(frozen=True)
class StatusProgress:
    """Sent as the run goes: ``round`` 1 is the first pass, later ones are ``--watch`` polls."""

    round: int
    asked: int  # answers so far, all rounds
    final: int  # tracked rows whose delivery is final
    tracked: int  # sent rows with a message id
    unreachable: int  # in this round so far


@dataclass
class RoundTally:
    meant: int = 0  # rows the round meant to ask about
    answered: int = 0
    refused: int = 0
    unreachable: int = 0
    unsettled: int = 0  # rows whose known status after this round is not settled

    @property
    def missed(self) -> int:
        """Rows the round never asked about because the run stopped first."""
        return max(0, self.meant - self.answered - self.refused - self.unreachable)


class StatusRun:
    """One run's state and effects; ``check_status`` drives it (``count``, ``poll``, ``close``)."""

    def __init__(
        self,
        campaign: Campaign,
        client: OctopodsClient,
        pacer: Pacer,
        journal: AnswerJournal,
        stop: RunStop,
        *,
        now_utc: Callable[[], datetime],
        events: Callable[[StatusProgress], None] | None = None,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self.campaign = campaign
        self.channel: Channel = campaign.channel
        self.client = client
        self.pacer = pacer
        self.journal = journal
        self.stop = stop
        self.clock = stop.clock
        self.now_utc = now_utc
        self.events = events
        self.random_fraction = random_fraction
        self.policy = RetryPolicy(max_attempts=campaign.max_attempts)
        self._lock = threading.Lock()
        self.flags = bytearray()
        self.tracked = self.final_before = 0
        self.asked = self.final_now = self.refused = 0
        self.round = 0
        self.tally = RoundTally()
        self.first_round_missed = 0
        self.use_list = True
        self.refusal: ApiAnswer | None = None
        self.stopped = ""  # why the run stopped early, when the API could not be reached
        self.no_answer = NoAnswerStreak()
        self._emitted_at = 0
        self.pool: WorkerPool[Lookup] = WorkerPool(
            self.ask,
            stop.halt,
            rate_per_s=campaign.rate.per_second,
            fixed=campaign.concurrency,
            name="status",
            label=lambda lookup: f"message {lookup.message_id}",
        )

    # ---- the run ------------------------------------------------------------------------------

    def count(self, records: Iterable[ResultRecord]) -> None:
        """How many rows are tracked and already final, before any question is asked."""
        rows = 0
        for record in records:
            rows += 1
            if is_tracked(record):
                self.tracked += 1
                self.final_before += is_final(self.channel, record.delivery_status)
        self.flags = bytearray(rows)

    def pending(self) -> int:
        """Tracked rows neither final in the file nor settled for good by this run."""
        return self.tracked - self.final_before - self.final_now - self.refused

    def poll(
        self, records: Callable[[], Iterable[ResultRecord]], *, watch: bool, interval_s: float
    ) -> bool:
        """Rounds of lookups until done; True when the deadline stopped it with rows left."""
        while True:
            self.one_round(records())
            unfinished = self.tally.missed > 0 or (watch and self.tally.unsettled > 0)
            if not unfinished:
                return False
            if self.stop.past_deadline():
                return True
            if not watch or self.stop.halted():
                return False
            remaining_s = self.stop.remaining_s()
            self.stop.wait(interval_s if remaining_s is None else min(interval_s, remaining_s))
            if self.stop.past_deadline():  # a round never starts at or past the deadline
                return True
            if self.stop.cancelled():
                return False

    def one_round(self, records: Iterable[ResultRecord]) -> None:
        self.round += 1
        self.tally = RoundTally(meant=self.pending())
        if self.tally.meant:
            listed = self._ask_list() if self.channel is Channel.WHATSAPP and self.use_list else {}
            matched = self._feed(records, listed)
            if listed:
                # A campaign older than the newest 100 messages gains nothing from later calls.
                self.use_list = matched > 0
            self.pool.wait_idle(self._progress_if_due)
        if self.pool.errors:
            raise self.pool.errors[0]
        if self.round == 1:
            self.first_round_missed = self.tally.missed
        self._progress()

    def close(self) -> None:
        """Stop the workers and the stop watcher; what they recorded is in the journal."""
        self.stop.halt.set()
        self.pool.close()
        self.stop.close()

    def _feed(self, records: Iterable[ResultRecord], listed: Mapping[str, dict[str, str]]) -> int:
        """Queue the round's lookups; rows the list answered are taken at once. Returns how many
        rows the list answered."""
        matched = 0
        for ordinal, record in enumerate(records):
            if self.stop.halted():
                break
            if not self._to_ask(ordinal, record):
                continue
            lookup = Lookup(ordinal, record.message_id, record.identity, record.delivery_status)
            fields = listed.get(record.message_id)
            if fields is None:
                self.pool.submit(lookup)
            else:
                matched += 1
                self._count_answer(lookup, fields["delivery_status"])
                if self._wants_times(lookup, fields):
                    self.pool.submit(replace(lookup, fill_times=True))
            self._progress_if_due()
        return matched

    def _to_ask(self, ordinal: int, record: ResultRecord) -> bool:
        if not is_tracked(record) or is_final(self.channel, record.delivery_status):
            return False
        if ordinal >= len(self.flags):  # the file cannot grow under the lock; be safe anyway
            self.flags.extend(bytes(ordinal + 1 - len(self.flags)))
        return not self.flags[ordinal] & DONE

    def _ask_list(self) -> dict[str, dict[str, str]]:
        """The list endpoint's answers by message id, journalled before they are used. The
        client retries the list itself (transient trouble, 429s), so this asks once."""
        if not self._acquire():
            return {}
        answer = self.client.list_messages(limit=LIST_LIMIT, cancel=self.stop.halt)
        if answer.kind is AnswerKind.CAMPAIGN_ERROR:
            self._refuse(answer)
            return {}
        if not answer.ok:
            logger.info("message list did not answer (%s): asking one by one", answer.error)
            return {}
        self.pacer.note_success()
        checked_at = iso_utc(self.now_utc())
        listed: dict[str, dict[str, str]] = {}
        for item in answer.data.get("messages", []):
            message_id = str(item.get("message_id") or "")
            if message_id:
                listed[message_id] = delivery_fields(item, checked_at=checked_at)
        self.journal.record_all(StatusAnswer(mid, "", fields) for mid, fields in listed.items())
        return listed

    def _wants_times(self, lookup: Lookup, fields: Mapping[str, str]) -> bool:
        """Ask once per message for the times a list answer lacks (``needs_times``); a WhatsApp
        "delivered" stays unfinal, so the run remembers that it asked for it already."""
        if not needs_times(lookup.file_status, fields):
            return False
        if fields["delivery_status"] != "delivered":
            return True  # read or deleted: final, so this row is not asked about again
        with self._lock:
            asked_before = self.flags[lookup.ordinal] & DELIVERED_TIMES
            self.flags[lookup.ordinal] |= DELIVERED_TIMES
        return not asked_before

    # ---- one lookup (worker threads) ----------------------------------------------------------

    def ask(self, lookup: Lookup) -> None:
        """Ask about one row, through transient trouble (backoff) and 429s (every worker pauses),
        and record what came of it."""
        transient = limited = 0
        answered = False
        latency_s = 0.0
        answer: ApiAnswer | None = None
        while self._acquire():
            started = self.clock()
            answer = self.client.get_message(lookup.message_id)
            if answer.http_status is not None:
                answered = True
                latency_s = self.clock() - started
                self.pool.note_latency(latency_s)
                if answer.kind is not AnswerKind.RATE_LIMITED:
                    self.pacer.note_success()
            if answer.kind is AnswerKind.RATE_LIMITED:
                limited += 1
                if limited <= RATE_LIMIT_PATIENCE:
                    self._pause(answer, limited, latency_s)
                    continue
            elif answer.kind in (AnswerKind.TRANSIENT, AnswerKind.UNCERTAIN):
                transient += 1
                if self.policy.can_retry(transient) and not self._back_off(transient):
                    continue
            self._settle(lookup, answer)
            break
        if answer is not None:
            self._note_row_end(answered=answered, answer=answer)

    def _settle(self, lookup: Lookup, answer: ApiAnswer) -> None:
        kind = answer.kind
        if kind is AnswerKind.CAMPAIGN_ERROR:
            self._refuse(answer)
        elif kind is AnswerKind.OK:
            fields = delivery_fields(answer.data, checked_at=iso_utc(self.now_utc()))
            self.journal.record(StatusAnswer(lookup.message_id, lookup.identity, fields))
            if not lookup.fill_times:
                self._count_answer(lookup, fields["delivery_status"])
        elif lookup.fill_times:
            logger.info("times of message %s not filled: %s", lookup.message_id, answer.error)
        elif kind is AnswerKind.REJECTED:
            self._take_refusal(lookup, answer)
        else:
            self._count_unreachable(lookup, answer)

    def _count_answer(self, lookup: Lookup, status: str) -> None:
        with self._lock:
            self.asked += 1
            self.tally.answered += 1
            if is_final(self.channel, status):
                self.flags[lookup.ordinal] |= DONE
                self.final_now += 1
            elif is_settled(self.channel, status):
                self.flags[lookup.ordinal] |= SETTLED
            else:
                self.tally.unsettled += 1

    def _take_refusal(self, lookup: Lookup, answer: ApiAnswer) -> None:
        # The API refused this one lookup (unknown id...): asking again in this run will not
        # help. A later run asks once more, in case the key was wrong. The "unknown" it records
        # never replaces a status an earlier answer gave (``status_fields.apply_answer``).
        logger.warning("status of message %s refused: %s", lookup.message_id, answer.error)
        fields = refusal_fields(answer, checked_at=iso_utc(self.now_utc()))
        self.journal.record(StatusAnswer(lookup.message_id, lookup.identity, fields, True))
        with self._lock:
            self.flags[lookup.ordinal] |= DONE
            self.refused += 1
            self.tally.refused += 1

    def _count_unreachable(self, lookup: Lookup, answer: ApiAnswer) -> None:
        logger.info("status of message %s: %s", lookup.message_id, answer.error)
        with self._lock:
            self.tally.unreachable += 1
            settled = self.flags[lookup.ordinal] & SETTLED
            if not settled and not is_settled(self.channel, lookup.file_status):
                self.tally.unsettled += 1

    def _refuse(self, answer: ApiAnswer) -> None:
        with self._lock:
            if self.refusal is None:
                self.refusal = answer
        self.stop.halt.set()

    def _note_row_end(self, *, answered: bool, answer: ApiAnswer) -> None:
        """Rows that got no HTTP answer at all, in a row, stop the run (the API is down)."""
        if answered:
            self.no_answer.answered()
            return
        if self.stop.halt.is_set():  # stopped for another reason while backing off
            return
        if not self.no_answer.unanswered():
            return
        with self._lock:
            self.stopped = (
                f"the API could not be reached: {self.no_answer.limit} messages in a row got no "
                f"answer ({answer.error or 'no HTTP answer'})"
            )
        self.stop.halt.set()

    def _pause(self, answer: ApiAnswer, times_limited: int, latency_s: float) -> None:
        wait_s = pause_after_429(
            self.pacer,
            answer,
            times_limited=times_limited,
            latency_s=latency_s,
            policy=self.policy,
            utc_now=self.now_utc,
            random_fraction=self.random_fraction,
            fallback_s=FALLBACK_429_PAUSE_S,
        )
        logger.info("rate limited during status: pausing %.1f s", wait_s)

    def _back_off(self, transient: int) -> bool:
        """Wait before a retry; True when the run stopped meanwhile."""
        self.stop.wait(self.policy.backoff_s(transient, random_fraction=self.random_fraction()))
        return self.stop.halted()

    def _acquire(self) -> bool:
        """A pacer grant that comes before the deadline, or False when the run is stopping."""
        if self.stop.halted():
            return False
        timeout_s = self.stop.remaining_s()
        if self.pacer.acquire(cancel=self.stop.halt, timeout_s=timeout_s):
            return not self.stop.halted()
        if timeout_s is not None and not self.stop.halt.is_set():
            self.stop.time_is_up()  # the pacer has no grant before the deadline
        return False

    # ---- progress ------------------------------------------------------------------------------

    @property
    def final(self) -> int:
        return self.final_before + self.final_now

    def progress(self) -> StatusProgress:
        return StatusProgress(
            round=self.round,
            asked=self.asked,
            final=self.final,
            tracked=self.tracked,
            unreachable=self.tally.unreachable,
        )

    def _progress(self) -> None:
        """Progress for the caller, always from the thread that drives the run."""
        self._emitted_at = self.asked
        if self.events is not None:
            self.events(self.progress())

    def _progress_if_due(self) -> None:
        if self.asked - self._emitted_at >= PROGRESS_EVERY:
            self._progress()
