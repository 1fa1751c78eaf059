"""One row through the sandbox: every answer kind becomes the right outcome, retried or not.

The journal here is an in-memory list; the requests are real HTTP to the sandbox, and the tests
assert on its ledger and request log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from bulksend.apikey import ApiKey
from bulksend.campaign import Rate
from bulksend.channels import Channel
from bulksend.client import OctopodsClient
from bulksend.dispatch import Job, OutcomeSink, RowSender
from bulksend.pacing import Pacer
from bulksend.prepare import Disposition, PreparedRow
from bulksend.results import Outcome, ResultRecord
from bulksend.retry import RetryPolicy
from bulksend.sandbox import DEMO_KEYS, DEPRECATED_KEYS, Sandbox
from bulksend.workers import WorkerPool, auto_workers

TEMPLATE = 539


def row(number: int, phone: str | None = None) -> PreparedRow:
    phone = phone or f"+4477009{number:05d}"
    body = {"destination_phone": phone, "message_variables": ["Dana", f"A-{number}"]}
    return PreparedRow(number, phone, phone, Disposition.SENDABLE, body=body)


class Journal:
    def __init__(self) -> None:
        self.lines: list[ResultRecord] = []
        self.lock = threading.Lock()

    def append(self, record: ResultRecord) -> None:
        with self.lock:
            self.lines.append(record)

    def outcomes(self) -> list[Outcome]:
        return [line.outcome for line in self.lines if line.outcome is not Outcome.PENDING]


@pytest.fixture
def make_sender() -> Iterator[Callable[..., tuple[RowSender, Journal]]]:
    clients: list[OctopodsClient] = []

    def make(
        sandbox: Sandbox,
        *,
        key: str | None = None,
        timeout_s: float = 10.0,
        rate: int = 1000,
        channel: Channel = Channel.WHATSAPP,
    ) -> tuple[RowSender, Journal]:
        client = OctopodsClient(
            sandbox.base_url, ApiKey(key or DEMO_KEYS[channel]), channel, timeout_s=timeout_s
        )
        clients.append(client)
        journal = Journal()
        sender = RowSender(
            client=client,
            pacer=Pacer(Rate(rate, 1.0)),
            write_pending=journal.append,
            sink=OutcomeSink(journal.append, lambda record: None),
            halt=threading.Event(),
            template_id=TEMPLATE,
            policy=RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05),
        )
        return sender, journal

    yield make
    for client in clients:
        client.close()


def test_a_sent_row_records_the_ledgers_message_id(make_sandbox, make_sender) -> None:
    sandbox = make_sandbox()
    sender, journal = make_sender(sandbox)
    sender.run(Job(row(1), None))
    pending, sent = journal.lines
    assert pending.outcome is Outcome.PENDING
    (entry,) = sandbox.ledger()
    assert sent.outcome is Outcome.SENT
    assert (sent.message_id, sent.request_id, sent.channel_message_id) == (
        str(entry.message_id),
        entry.request_id,
        entry.channel_message_id,
    )
    assert sent.attempts == 1 and sent.http_status == 201


@pytest.mark.parametrize(
    ("channel", "template_id", "code"),
    [(Channel.WHATSAPP, TEMPLATE, 5), (Channel.VBM, 456, 5), (Channel.SMS, None, 3)],
)
def test_a_row_the_api_refuses_is_rejected_without_retry(
    make_sandbox, make_sender, channel: Channel, template_id: int | None, code: int
) -> None:
    sandbox = make_sandbox()
    sender, journal = make_sender(sandbox, channel=channel)
    sender.template_id = template_id
    body: dict[str, object] = {"destination_phone": "+12"}
    if channel is Channel.SMS:
        body["body"] = "Hello"
    else:
        body["message_variables"] = ["Dana", "A-1"]
    sender.run(Job(PreparedRow(2, "+12", "+12", Disposition.SENDABLE, body=body), None))
    assert journal.outcomes() == [Outcome.REJECTED]
    rejected = journal.lines[-1]
    assert (rejected.http_status, rejected.error_code, rejected.attempts) == (400, code, 1)
    assert not sender.halt.is_set() and sandbox.ledger() == []


def test_transient_errors_are_retried_then_sent(make_sandbox, make_sender) -> None:
    sandbox = make_sandbox(error_share=1.0, max_faults=2)
    sender, journal = make_sender(sandbox)
    sender.run(Job(row(1), None))
    assert journal.outcomes() == [Outcome.SENT]
    assert journal.lines[-1].attempts == 3
    assert [line.outcome for line in journal.lines].count(Outcome.PENDING) == 1
    assert len(sandbox.ledger()) == 1


def test_transient_errors_past_max_attempts_fail_the_row(make_sandbox, make_sender) -> None:
    sandbox = make_sandbox(error_share=1.0)
    sender, journal = make_sender(sandbox)
    sender.run(Job(row(1), None))
    assert journal.outcomes() == [Outcome.FAILED]
    assert journal.lines[-1].attempts == 3
    assert journal.lines[-1].http_status in (500, 502, 503)
    assert sandbox.ledger() == []


def test_a_slow_answer_is_uncertain_and_never_resent(make_sandbox, make_sender) -> None:
    sandbox = make_sandbox(slow_answer_share=1.0, slow_answer_delay_s=2.0, max_faults=1)
    sender, journal = make_sender(sandbox, timeout_s=0.3)
    sender.run(Job(row(1), None))
    assert journal.outcomes() == [Outcome.UNCERTAIN]
    assert len(sandbox.ledger()) == 1  # it did arrive: resending would message them twice


def test_a_dropped_connection_is_uncertain(make_sandbox, make_sender) -> None:
    sandbox = make_sandbox(drop_share=1.0, max_faults=1)
    sender, journal = make_sender(sandbox)
    sender.run(Job(row(1), None))
    assert journal.outcomes() == [Outcome.UNCERTAIN]
    assert len(sandbox.requests()) == 1


def test_a_deprecated_key_halts_the_run_and_fails_the_row(make_sandbox, make_sender) -> None:
    sandbox = make_sandbox()
    sender, journal = make_sender(sandbox, key=DEPRECATED_KEYS[Channel.WHATSAPP])
    sender.run(Job(row(1), None))
    assert sender.halt.is_set()
    assert sender.refusal is not None and sender.refusal.error_code == 6
    assert journal.outcomes() == [Outcome.FAILED]
    assert sandbox.ledger() == []


def test_a_429_pauses_and_retries_without_using_attempts(make_sandbox, make_sender) -> None:
    sandbox = make_sandbox(rate_limit=(1, 1.0))
    sender, journal = make_sender(sandbox)
    sender.run(Job(row(1), None))
    sender.run(Job(row(2), None))  # the sandbox allows one per second: this one meets a 429
    assert journal.outcomes() == [Outcome.SENT, Outcome.SENT]
    statuses = [r.status for r in sandbox.requests()]
    assert 429 in statuses
    assert len(sandbox.ledger()) == 2
    assert journal.lines[-1].attempts == statuses.count(429) + 1


def test_a_halted_sender_sends_nothing(make_sandbox, make_sender) -> None:
    sandbox = make_sandbox()
    sender, journal = make_sender(sandbox)
    sender.halt.set()
    sender.run(Job(row(1), None))
    assert journal.lines == [] and sandbox.requests() == []


def test_a_retried_row_carries_its_earlier_attempts(make_sandbox, make_sender) -> None:
    sandbox = make_sandbox()
    sender, journal = make_sender(sandbox)
    earlier = ResultRecord(row=1, phone="+1", outcome=Outcome.FAILED, identity="+1", attempts=5)
    sender.run(Job(row(1), earlier))
    assert journal.lines[-1].attempts == 6


def test_the_pool_sends_every_queued_row_once(make_sandbox, make_sender) -> None:
    sandbox = make_sandbox(latency_s=(0.01, 0.02))
    sender, journal = make_sender(sandbox)
    label = lambda job: f"row {job.row.row_number}"  # noqa: E731
    pool = WorkerPool(sender.run, sender.halt, rate_per_s=1000, fixed=8, name="t", label=label)
    for number in range(1, 41):
        assert pool.submit(Job(row(number), None))
    pool.close()
    assert pool.errors == []
    assert sorted(entry.phone for entry in sandbox.ledger()) == sorted(
        row(number).phone for number in range(1, 41)
    )
    assert journal.outcomes() == [Outcome.SENT] * 40


@pytest.mark.parametrize(
    ("rate", "latency", "workers"),
    [(20, None, 4), (200, None, 20), (1000, None, 64), (20, 0.05, 3), (200, 0.5, 64), (10, 2, 26)],
)
def test_auto_workers_follow_rate_times_latency(rate, latency, workers) -> None:
    assert auto_workers(rate, latency) == workers
