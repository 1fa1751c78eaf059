"""Injected faults: latency, 5xx answers, dropped connections, slow answers, switched live."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest
import requests

from bulksend.errors import ConfigError
from bulksend.sandbox import Faults, Sandbox
from bulksend.sandbox.faults import FaultAction, FaultPicker
from tests.conftest import SandboxClient

SMS = {"destination_phone": "+447700900123", "body": "hi"}


def test_shares_split_requests_and_replay_with_the_seed() -> None:
    faults = Faults(drop_share=0.1, error_share=0.2, slow_answer_share=0.3)
    picker = FaultPicker(faults, seed=3)
    actions = [picker.plan().action for _ in range(10_000)]
    counts = Counter(actions)
    for action, share in [
        (FaultAction.DROP, 0.1),
        (FaultAction.ERROR, 0.2),
        (FaultAction.SLOW, 0.3),
        (FaultAction.NONE, 0.4),
    ]:
        assert abs(counts[action] / 10_000 - share) < 0.02
    again = FaultPicker(faults, seed=3)
    assert [again.plan().action for _ in range(10_000)] == actions


def test_latency_range_and_max_faults() -> None:
    picker = FaultPicker(Faults(latency_s=(0.02, 0.08), error_share=1.0, max_faults=2), seed=1)
    plans = [picker.plan() for _ in range(50)]
    assert all(0.02 <= plan.latency_s <= 0.08 for plan in plans)
    assert len({plan.latency_s for plan in plans}) > 10
    assert [plan.action for plan in plans[:3]] == [
        FaultAction.ERROR,
        FaultAction.ERROR,
        FaultAction.NONE,
    ]
    assert all(plan.error_status in (500, 502, 503) for plan in plans[:2])


@pytest.mark.parametrize(
    "changes",
    [{"error_share": 1.5}, {"drop_share": 0.6, "error_share": 0.6}, {"latency_s": (0.2, 0.1)}],
)
def test_impossible_faults_are_refused(sandbox: Sandbox, changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        sandbox.set_faults(**changes)


def test_added_latency_delays_every_answer(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    client = SandboxClient(http, make_sandbox(latency_s=(0.15, 0.15)))
    started = time.monotonic()
    assert client.post("sms/messages", SMS).status_code == 201
    assert time.monotonic() - started >= 0.15


def test_error_answers_are_5xx_and_not_processed(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    sandbox = make_sandbox(error_share=1.0)
    client = SandboxClient(http, sandbox)
    statuses = {client.post("sms/messages", SMS).status_code for _ in range(30)}
    assert statuses == {500, 502, 503}
    assert sandbox.ledger() == []
    assert {record.fault for record in sandbox.requests()} == {"error"}


def test_dropped_connections_get_no_answer_and_are_not_processed(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    sandbox = make_sandbox(drop_share=1.0)
    client = SandboxClient(http, sandbox)
    for _ in range(3):
        with pytest.raises(requests.ConnectionError):
            client.post("sms/messages", SMS)
    assert sandbox.ledger() == []
    assert [(r.status, r.fault) for r in sandbox.requests()] == [(None, "drop")] * 3


def test_slow_answer_times_out_the_client_but_is_recorded(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    """The ambiguous case: the client gives up, yet the message was accepted."""
    sandbox = make_sandbox(slow_answer_share=1.0, slow_answer_delay_s=30.0)
    client = SandboxClient(http, sandbox)
    with pytest.raises(requests.ReadTimeout):
        client.post("sms/messages", SMS, timeout=0.3)
    [entry] = sandbox.ledger()
    assert entry.text == "hi"
    stopping = time.monotonic()
    sandbox.stop()  # must not sit out the 30 s delay
    assert time.monotonic() - stopping < 10


def test_slow_answer_arrives_for_a_patient_client(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    sandbox = make_sandbox(slow_answer_share=1.0, slow_answer_delay_s=0.2)
    response = SandboxClient(http, sandbox).post("sms/messages", SMS)
    assert response.status_code == 201
    assert response.json()["message_id"] == sandbox.ledger()[0].message_id


def test_faults_switch_on_and_off_mid_run(sandbox: Sandbox, client: SandboxClient) -> None:
    assert client.post("sms/messages", SMS).status_code == 201
    sandbox.set_faults(drop_share=1.0, max_faults=1)
    with pytest.raises(requests.ConnectionError):
        client.post("sms/messages", SMS)
    assert client.post("sms/messages", SMS).status_code == 201  # max_faults spent
    sandbox.set_faults(error_share=1.0, drop_share=0.0, max_faults=None)
    assert client.post("sms/messages", SMS).status_code >= 500
    assert sandbox.clear_faults() == Faults()
    assert client.post("sms/messages", SMS).status_code == 201
    assert len(sandbox.ledger()) == 3


def test_faults_leave_the_ledger_endpoint_alone(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    sandbox = make_sandbox(drop_share=1.0)
    answer = http.get(f"{sandbox.root_url}/_sandbox/ledger", timeout=10)
    assert answer.status_code == 200 and answer.json() == []
