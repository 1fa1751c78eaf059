"""Delivery statuses into the results file: ``check_status`` asks the API about sent rows.

A 201 only says Octopods took the message. ``check_status`` asks the channel's status endpoint
about every sent row whose delivery is not final (for WhatsApp the list endpoint first: one
request answers for up to 100 recent messages), with a pool of workers paced by the same
``Pacer`` and 429 handling as send (``status_run``). Each answer is made durable in a sidecar
journal as it arrives, and merged into the results file by one atomic rewrite when the run ends
(``status_journal``), all under the results lock: an interrupted run loses no answer it received
and never tears the file. VBM has no status endpoint: the summary says so and nothing is asked.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bulksend.campaign import Campaign
from bulksend.channels import Channel
from bulksend.client import OctopodsClient
from bulksend.endpoint import connect
from bulksend.errors import ExitStatus, InputFileError
from bulksend.pacing import Pacer
from bulksend.results import ResultRecord, ResultsFile
from bulksend.status_fields import (
    FINAL_STATUSES,
    TIME_FIELDS,
    delivery_fields,
    is_final,
    is_settled,
    merge_delivery,
    merge_fields,
    refusal_fields,
)
from bulksend.status_journal import (
    AnswerJournal,
    merge_answers,
    sidecar_path,
)
from bulksend.status_run import StatusProgress, StatusRun, is_tracked
from bulksend.status_stop import RunStop

__all__ = [
    "DEFAULT_WATCH_TIMEOUT_S",
    "FINAL_STATUSES",
    "TIME_FIELDS",
    "VBM_EXPLANATION",
    "StatusProgress",
    "StatusSummary",
    "check_status",
    "delivery_fields",
    "is_final",
    "is_settled",
    "merge_delivery",
    "merge_fields",
    "open_results",
    "refusal_fields",
]

VBM_EXPLANATION = (
    "VBM has no documented status endpoint; delivery cannot be tracked. "
    "The results file shows which messages Octopods accepted (outcome sent)."
)
DEFAULT_WATCH_TIMEOUT_S = 3600.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StatusSummary:
    channel: Channel
    tracked: int = 0  # sent rows with a message id
    asked: int = 0  # answers received, all rounds
    final: int = 0
    unreachable: int = 0  # rows it meant to ask about but could not (network, server)
    refused: int = 0  # lookups the API refused for that message (unknown id, ...)
    statuses: dict[str, int] = field(default_factory=dict)  # of tracked rows, after the run
    rounds: int = 0
    timed_out: bool = False
    cancelled: bool = False
    untracked_reason: str = ""  # set when the channel cannot be tracked at all (VBM)
    not_asked: int = 0  # rows the first round never reached (the run stopped first)
    stopped: str = ""  # why the run stopped early when the API could not be reached
    workers: int = 0

    @property
    def awaiting(self) -> int:
        return self.tracked - self.final

    @property
    def exit_status(self) -> ExitStatus:
        """OK when every row it meant to ask about was asked; INCOMPLETE otherwise."""
        if self.cancelled:
            return ExitStatus.INTERRUPTED
        if self.unreachable or self.not_asked or self.stopped:
            return ExitStatus.INCOMPLETE
        return ExitStatus.OK


def check_status(
    campaign: Campaign,
    *,
    watch: bool = False,
    interval_s: float = 60.0,
    timeout_s: float | None = None,
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
    all have settled, ``cancel`` is set or ``timeout_s`` has passed. ``timeout_s`` bounds the
    whole run, inside a round too (None: no bound, or ``DEFAULT_WATCH_TIMEOUT_S`` with
    ``watch``). Raises ResultsLockedError when a send holds the results file,
    CampaignRefusedError on a campaign-wide answer (bad key), InputFileError when there is no
    results file yet. VBM returns at once with ``untracked_reason`` set.
    """
    if not campaign.channel.has_status_endpoint:
        return StatusSummary(channel=campaign.channel, untracked_reason=VBM_EXPLANATION)
    if timeout_s is None and watch:
        timeout_s = DEFAULT_WATCH_TIMEOUT_S
    deadline = None if timeout_s is None else clock() + timeout_s
    results = open_results(campaign)
    sidecar = sidecar_path(results.path)
    with results.lock(), nullcontext(client) if client else connect(campaign) as api:
        results.remove_scratch_files()
        merge_answers(results, sidecar)  # what a killed run received, before asking anything
        journal = AnswerJournal(sidecar)
        run = StatusRun(
            campaign,
            api,
            pacer or Pacer(campaign.rate, burst=campaign.burst),
            journal,
            RunStop(cancel=cancel, deadline=deadline, clock=clock, sleep=sleep),
            now_utc=now_utc,
            events=events,
        )
        statuses, timed_out = _rounds(run, results, watch=watch, interval_s=interval_s)
    if run.refusal is not None:
        raise api.refusal(run.refusal, command="status")
    return _summary(run, statuses, timed_out=timed_out)


def _rounds(
    run: StatusRun, results: ResultsFile, *, watch: bool, interval_s: float
) -> tuple[Counter[str], bool]:
    """The run's rounds, then the statuses of the tracked rows and whether time ran out.
    However the rounds end (Ctrl-C, a refused key), every answer received is merged."""
    statuses: Counter[str] = Counter()
    try:
        run.count(results.iter_records())
        timed_out = run.poll(results.iter_records, watch=watch, interval_s=interval_s)
    finally:
        run.close()
        try:
            run.journal.close()
        finally:
            _merge_and_count(results, run.journal.path, statuses)
    return statuses, timed_out


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


def _merge_and_count(results: ResultsFile, sidecar: Path, statuses: Counter[str]) -> None:
    """Merge the run's answers (one rewrite) and count the statuses of the tracked rows."""

    def count(record: ResultRecord) -> None:
        if is_tracked(record):
            statuses[record.delivery_status or "not checked"] += 1

    if not merge_answers(results, sidecar, on_record=count):
        for record in results.iter_records():
            count(record)


def _summary(run: StatusRun, statuses: Counter[str], *, timed_out: bool) -> StatusSummary:
    return StatusSummary(
        channel=run.channel,
        tracked=run.tracked,
        asked=run.asked,
        final=run.final,
        unreachable=run.tally.unreachable,
        refused=run.refused,
        statuses=dict(sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0]))),
        rounds=run.round,
        timed_out=timed_out,
        cancelled=run.stop.cancelled(),
        not_asked=run.first_round_missed,
        stopped=run.stopped,
        workers=run.pool.size,
    )
