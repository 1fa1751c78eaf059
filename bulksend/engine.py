"""``send_campaign()``: the send loop, resumable, paced, and never sending a row twice.

The results file is the checkpoint: it is locked for the run and read into a ``Checkpoint``, the
last outcome per identity in about 100 bytes each. Rows left ``pending`` by a crash are reconciled
(WhatsApp) or made ``uncertain``; then the sheet is streamed once, unsendable rows are recorded,
rows already final are skipped, and the rest go through a bounded queue to the worker threads
(``dispatch``). Every outcome is in the journal before the summary counts it; the run's end
compacts the file. The library prints nothing: a front end follows the run through ``SendEvents``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bulksend.answers import AnswerKind
from bulksend.campaign import Campaign, Rate
from bulksend.channels import Channel
from bulksend.checkpoint import Checkpoint
from bulksend.client import OctopodsClient
from bulksend.dispatch import Job, OutcomeSink, RowSender, iso_utc
from bulksend.endpoint import connect
from bulksend.errors import ApiUnreachableError, ConfigError, ExitStatus
from bulksend.pacing import Pacer
from bulksend.prepare import Disposition, PreparedRow, iter_prepared_rows
from bulksend.reconcile import Listed, listed_messages, reconcile
from bulksend.results import Outcome, ResultRecord, ResultsFile
from bulksend.retry import RetryPolicy
from bulksend.templates import Template
from bulksend.workers import WorkerPool

STOPPED_INTERRUPTED = "interrupted"
STOPPED_REFUSED = "campaign refused by the API"
STOPPED_UNREACHABLE = "the API could not be reached"
UNSENDABLE_OUTCOMES = (Outcome.INVALID, Outcome.SKIPPED)


@dataclass(frozen=True)
class SendOptions:
    dry_run: bool = False  # render and pace every row, send nothing, write nothing
    limit: int | None = None  # send at most this many more rows (a pilot)
    rate: Rate | None = None  # overrides the campaign's rate
    restart: bool = False  # archive the results file and start a fresh one
    resend_uncertain: bool = False
    concurrency: int | None = None  # overrides the campaign's; None there too means auto

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 0:
            raise ConfigError(f"--limit must be 0 or more, not {self.limit}")
        if self.concurrency is not None and not 1 <= self.concurrency <= 64:
            raise ConfigError(f"concurrency must be between 1 and 64, not {self.concurrency}")


class SendEvents:
    """Callbacks a front end overrides to follow a run. Called from worker threads too."""

    def on_start(self, total_to_send: int) -> None:
        """Rows this run will try to send (resume and --limit applied)."""

    def on_outcome(self, record: ResultRecord) -> None:
        """A row finished this run (in a dry run: outcome ``pending``, nothing sent)."""

    def on_pause(self, seconds: float, reason: str) -> None:
        """Every worker pauses (a 429 from the API)."""

    def on_reconciled(self, found_sent: int, made_uncertain: int) -> None:
        """Rows left in flight by an earlier run, and what became of them."""

    def on_journal(self, flush: Callable[[], None] | None) -> None:
        """The open journal's flush (None once closed), for a last flush before a hard exit."""


@dataclass(frozen=True)
class SendSummary:
    counts: Mapping[Outcome, int]  # the whole results file after the run
    sent_this_run: int
    requests_this_run: int
    rows_this_run: int  # rows that reached an outcome this run (would-send rows in a dry run)
    duration_s: float
    achieved_rate_per_s: float  # requests per second while sending
    results_path: Path
    exit_status: ExitStatus
    stopped: str | None = None  # why the run stopped early, None when it ran to its end
    dry_run: bool = False
    reconciled_sent: int = 0
    reconciled_uncertain: int = 0
    workers: int = 0
    left_by_limit: int = 0  # sendable rows --limit left for a later run

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": {str(outcome): count for outcome, count in sorted(self.counts.items())},
            "sent_this_run": self.sent_this_run,
            "requests_this_run": self.requests_this_run,
            "rows_this_run": self.rows_this_run,
            "duration_s": round(self.duration_s, 3),
            "achieved_rate_per_s": round(self.achieved_rate_per_s, 3),
            "results_path": str(self.results_path),
            "exit_status": int(self.exit_status),
            "stopped": self.stopped,
            "dry_run": self.dry_run,
            "reconciled_sent": self.reconciled_sent,
            "reconciled_uncertain": self.reconciled_uncertain,
            "workers": self.workers,
            "left_by_limit": self.left_by_limit,
        }


def should_send(previous: Outcome | None, *, resend_uncertain: bool) -> bool:
    """New and failed rows are sent; sent and rejected never; uncertain (or pending) only on
    request. A row recorded invalid or skipped that is sendable now was fixed (or taken off the
    suppression list) since: it was never sent, so it is sent now."""
    if previous is None or previous in (Outcome.FAILED, *UNSENDABLE_OUTCOMES):
        return True
    if previous in (Outcome.UNCERTAIN, Outcome.PENDING):
        return resend_uncertain
    return not previous.is_final


def unsendable_record(
    row: PreparedRow, known: Checkpoint, *, claimed: bool, now_iso: str
) -> ResultRecord | None:
    """The line to write for an invalid or skipped row, or None when nothing should change.

    A duplicate shares its identity with the row it duplicates and must never overwrite that
    row's outcome: when the identity was already met in this run (``claimed``) or holds a real
    outcome, the line goes under ``"<identity> #row <n>"``. An identical line is not written
    again on every run.
    """
    outcome = Outcome.INVALID if row.disposition is Disposition.INVALID else Outcome.SKIPPED
    identity = row.identity
    previous = known.outcome(identity)
    if claimed or (previous is not None and previous not in UNSENDABLE_OUTCOMES):
        identity = f"{row.identity} #row {row.row_number}"
    if known.holds_unsendable(identity, outcome, row.row_number, row.reason):
        return None
    return ResultRecord(
        row=row.row_number,
        phone=row.phone,
        outcome=outcome,
        identity=identity,
        error=row.reason,
        updated_at=now_iso,
        segments=row.segments,
    )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def send_campaign(
    campaign: Campaign,
    options: SendOptions = SendOptions(),  # noqa: B008 - frozen, so sharing it is safe
    *,
    events: SendEvents | None = None,
    cancel: threading.Event | None = None,
    environ: Mapping[str, str] | None = None,
    template: Template | None = None,
) -> SendSummary:
    """Send the campaign's rows that have no final outcome yet; return what happened.

    ``template``: the campaign's template when the caller has just fetched it (the CLI's
    validation does), so it is not fetched again.

    Raises ResultsLockedError when another run holds the results file, ConfigError for a bad
    URL or key variable, CampaignRefusedError (after recording in-flight rows) when the API
    refuses the whole campaign, ApiUnreachableError when the template cannot be fetched, the
    rows an earlier run left in flight cannot be checked, or the API stops answering at all.
    Setting ``cancel`` stops taking rows; in-flight ones finish and are recorded.
    """
    results = ResultsFile(campaign.results_path)
    # Every request of the run (template, listing, sends) spends the key's one rate budget: a
    # template fetch the pacer did not see would push the first second's sends over the limit.
    pacer = Pacer(options.rate or campaign.rate, burst=campaign.burst)
    with results.lock():
        known = _open_results(results, options)
        with connect(campaign, environ=environ) as client:
            if campaign.channel.uses_template and campaign.template_id is not None:
                pacer.acquire()  # a template the caller fetched came from this budget moments ago
                if template is None:
                    template = client.get_template(campaign.template_id, cancel=cancel)
            run = _Run(campaign, options, client, results, known, template, events, cancel, pacer)
            return run.execute()


def _open_results(results: ResultsFile, options: SendOptions) -> Checkpoint:
    # No compaction here: the journal appends to whatever is there (repairing a torn tail
    # first) and the last line per identity wins; the run's clean end compacts.
    if options.restart:
        if options.dry_run:
            return Checkpoint()
        results.archive()
    return Checkpoint.load(results.iter_records())


@contextmanager
def _linked(cancel: threading.Event, halt: threading.Event) -> Iterator[None]:
    """Set ``halt`` when ``cancel`` is set, for as long as the block runs."""
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if cancel.wait(0.05):
                halt.set()
                return

    watcher = threading.Thread(target=watch, name="bulksend-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=5)


@dataclass
class _Run:
    campaign: Campaign
    options: SendOptions
    client: OctopodsClient
    results: ResultsFile
    known: Checkpoint
    template: Template | None
    events: SendEvents | None
    cancel: threading.Event | None
    pacer: Pacer
    halt: threading.Event = field(default_factory=threading.Event)
    utc_now: Callable[[], dt.datetime] = _utc_now

    @property
    def front(self) -> SendEvents:
        return self.events or SendEvents()

    def execute(self) -> SendSummary:
        started = time.monotonic()
        cancel = self.cancel or threading.Event()
        journal = None if self.options.dry_run else self.results.open_journal()
        self.front.on_journal(journal.flush if journal else None)
        try:
            with _linked(cancel, self.halt):
                reconciled = self._reconcile(journal)
                if self.events is not None:
                    self.front.on_start(self._count_to_send())
                sending_started = time.monotonic()
                sender, pool = self._start_workers(journal)
                try:
                    left_by_limit = self._feed(pool, journal)
                finally:
                    pool.close(cancel=cancel)
                sending_s = time.monotonic() - sending_started
        finally:
            if journal is not None:
                journal.close()
            self.front.on_journal(None)
        if journal is not None and (journal.lines_appended or not self.known.is_compact):
            self.results.compact()
        summary = self._finish(sender, pool, reconciled, started, sending_s, cancel)
        return replace(summary, left_by_limit=left_by_limit)

    def _finish(
        self,
        sender: RowSender,
        pool: WorkerPool[Job],
        reconciled: tuple[int, int],
        started: float,
        sending_s: float,
        cancel: threading.Event,
    ) -> SendSummary:
        if pool.errors:
            raise pool.errors[0]
        if sender.refusal is not None:
            raise self.client.refusal(sender.refusal)
        counts = self.known.counts()
        stopped = STOPPED_INTERRUPTED if cancel.is_set() else None
        if sender.unreachable and stopped is None:
            stopped = STOPPED_UNREACHABLE
        return SendSummary(
            counts=dict(counts),
            sent_this_run=sender.sink.sent,
            requests_this_run=sender.sink.requests,
            rows_this_run=sender.sink.finished,
            duration_s=time.monotonic() - started,
            achieved_rate_per_s=sender.sink.requests / sending_s if sending_s > 0 else 0.0,
            results_path=self.campaign.results_path,
            exit_status=_exit_status(counts, stopped),
            stopped=stopped,
            dry_run=self.options.dry_run,
            reconciled_sent=reconciled[0],
            reconciled_uncertain=reconciled[1],
            workers=pool.size,
        )

    def _start_workers(self, journal: Any) -> tuple[RowSender, WorkerPool[Job]]:
        rate = self.options.rate or self.campaign.rate
        pacer = self.pacer

        def write(record: ResultRecord) -> None:
            if journal is not None:
                journal.append(record)
                self.known.remember(record)

        sink = OutcomeSink(write, self.front.on_outcome)
        sender = RowSender(
            client=self.client,
            pacer=pacer,
            write_pending=journal.append_durable if journal is not None else (lambda r: None),
            sink=sink,
            halt=self.halt,
            template_id=self.campaign.template_id if self.campaign.channel.uses_template else None,
            policy=RetryPolicy(max_attempts=self.campaign.max_attempts),
            dry_run=self.options.dry_run,
            utc_now=self.utc_now,
            on_pause=self.front.on_pause,
        )
        pool: WorkerPool[Job] = WorkerPool(
            sender.run,
            self.halt,
            rate_per_s=rate.per_second,
            fixed=self.options.concurrency or self.campaign.concurrency,
            name="send",
            label=lambda job: f"row {job.row.row_number}",
        )
        sender.on_latency = pool.note_latency
        return sender, pool

    def _rows(self) -> Iterator[PreparedRow]:
        return iter_prepared_rows(self.campaign, template=self.template)

    def _count_to_send(self) -> int:
        total = 0
        for row in self._rows():
            if self.options.limit is not None and total >= self.options.limit:  # --limit 0: none
                break
            if row.disposition is Disposition.SENDABLE and should_send(
                self.known.outcome(row.identity), resend_uncertain=self.options.resend_uncertain
            ):
                total += 1
        return total

    def _feed(self, pool: WorkerPool[Job], journal: Any) -> int:
        """Queue every row to send; return how many sendable rows ``--limit`` left for later.

        Past the limit the sheet is still read to the end: unsendable rows are recorded and the
        rows left are counted, so the summary can say what a pilot left."""
        queued = left = 0
        limit = self.options.limit
        for row in self._rows():
            if self.halt.is_set():
                break
            if row.disposition is not Disposition.SENDABLE:
                self._record_unsendable(row, journal)
                continue
            self.known.claim(row.identity)
            previous = self.known.outcome(row.identity)
            if not should_send(previous, resend_uncertain=self.options.resend_uncertain):
                continue
            if limit is not None and queued >= limit:
                left += 1
            elif pool.submit(Job(row, self.known.retry_record(row.identity))):
                queued += 1
        return left

    def _record_unsendable(self, row: PreparedRow, journal: Any) -> None:
        claimed = self.known.claim(row.identity)
        if journal is None:
            return
        record = unsendable_record(
            row, self.known, claimed=claimed, now_iso=iso_utc(self.utc_now())
        )
        if record is not None:
            journal.append(record)
            self.known.remember(record)

    def _reconcile(self, journal: Any) -> tuple[int, int]:
        pending = self.known.pending()
        if not pending or journal is None:
            return (0, 0)
        listed = []
        if self.client.channel is Channel.WHATSAPP and self.pacer.acquire(cancel=self.halt):
            listed = self._recent_messages(len(pending))
        recorded = self.results.message_ids_among({item.message_id for item in listed})
        decided = reconcile(
            pending, listed, recorded_message_ids=recorded, now_iso=iso_utc(self.utc_now())
        )
        for record in decided:
            journal.append_durable(record)
            self.known.remember(record)
        found = sum(record.outcome is Outcome.SENT for record in decided)
        self.front.on_reconciled(found, len(decided) - found)
        return (found, len(decided) - found)

    def _recent_messages(self, in_flight: int) -> list[Listed]:
        """The key's latest sends, to find the rows an earlier run left in flight. Sending first
        would push those messages out of the 100 the list shows, so a list that does not answer
        stops the run before it sends anything."""
        answer = self.client.list_messages(limit=100, cancel=self.halt)
        if answer.ok:
            return listed_messages(answer.data.get("messages", []))
        if answer.kind is AnswerKind.CAMPAIGN_ERROR:
            raise self.client.refusal(answer)
        raise ApiUnreachableError(
            f"an earlier run left {in_flight} request(s) in flight, and the message list that "
            f"shows whether they were sent did not answer ({answer.error or answer.kind}); "
            "nothing was sent",
            http_status=answer.http_status,
            hint="Run send again later: those rows are checked first, then the rest is sent.",
        )


def _exit_status(counts: Mapping[Outcome, int], stopped: str | None) -> ExitStatus:
    if stopped == STOPPED_INTERRUPTED:
        return ExitStatus.INTERRUPTED
    unfinished = (Outcome.FAILED, Outcome.UNCERTAIN, Outcome.PENDING)
    if any(counts.get(outcome, 0) for outcome in unfinished):
        return ExitStatus.INCOMPLETE
    return ExitStatus.OK


__all__ = ["SendEvents", "SendOptions", "SendSummary", "send_campaign"]
