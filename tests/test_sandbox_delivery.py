"""Delivery simulation (pure, then over HTTP with a manual clock) and the list endpoint."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from bulksend.channels import Channel
from bulksend.sandbox import DEMO_KEYS, Sandbox
from bulksend.sandbox.delivery import (
    SMS_FAILURES,
    WHATSAPP_FAILURES,
    DeliveryState,
    delivery_state,
    fate_of,
    iso_utc,
)
from tests.conftest import ManualClock, SandboxClient

PHONE = "+447700900123"
WA_BODY = {"destination_phone": PHONE, "message_variables": ["Dana", "Friday"]}
SMS_BODY = {"destination_phone": PHONE, "body": "hi"}
T0 = 1_777_000_000.25


def state(channel: Channel, message_id: int, now: float, **kwargs: float) -> DeliveryState:
    settings = {"seed": 0, "step_s": 2.0, "failure_share": 0.0, **kwargs}
    return delivery_state(
        channel=channel,
        message_id=message_id,
        received_at=T0,
        now=now,
        seed=int(settings["seed"]),
        step_s=settings["step_s"],
        failure_share=settings["failure_share"],
    )


def test_same_seed_same_fates_other_seed_other_fates() -> None:
    ids = range(5_100_001, 5_100_201)
    assert [fate_of(7, i) for i in ids] == [fate_of(7, i) for i in ids]
    assert sum(fate_of(7, i) != fate_of(8, i) for i in ids) > 190


@pytest.mark.parametrize("share", [0.0, 0.1, 0.5, 1.0])
def test_failure_share_is_respected(share: float) -> None:
    final = [
        state(Channel.WHATSAPP, i, T0 + 10, failure_share=share).status for i in range(1, 4001)
    ]
    failed = final.count("failed") / len(final)
    assert abs(failed - share) < 0.03


def test_whatsapp_moves_sent_delivered_read_every_step() -> None:
    readers = [i for i in range(1, 200) if fate_of(0, i).reads < 0.7]
    silent = [i for i in range(1, 200) if fate_of(0, i).reads >= 0.7]
    reader, non_reader = readers[0], silent[0]
    assert state(Channel.WHATSAPP, reader, T0).status == "sent"
    assert state(Channel.WHATSAPP, reader, T0 + 1.99).status == "sent"
    delivered = state(Channel.WHATSAPP, reader, T0 + 2.0)
    assert (delivered.status, delivered.delivered_at, delivered.read_at) == (
        "delivered",
        T0 + 2,
        None,
    )
    read = state(Channel.WHATSAPP, reader, T0 + 4.0)
    assert (read.status, read.sent_at, read.read_at) == ("read", T0, T0 + 4)
    assert state(Channel.WHATSAPP, non_reader, T0 + 100).status == "delivered"


def test_whatsapp_failure_comes_after_sent_with_a_reason() -> None:
    early = state(Channel.WHATSAPP, 1, T0 + 1, failure_share=1.0)
    assert (early.status, early.failure_reason) == ("sent", None)
    failed = state(Channel.WHATSAPP, 1, T0 + 2, failure_share=1.0)
    assert failed.status == "failed" and failed.failure_reason in WHATSAPP_FAILURES
    assert failed.delivered_at is None and failed.read_at is None


def test_sms_moves_queued_sent_delivered() -> None:
    statuses = [state(Channel.SMS, 1, T0 + t).status for t in (0.0, 2.0, 4.0, 50.0)]
    assert statuses == ["queued", "sent", "delivered", "delivered"]
    delivered = state(Channel.SMS, 1, T0 + 4)
    assert (delivered.sent_at, delivered.delivered_at, delivered.read_at) == (T0 + 2, T0 + 4, None)


def test_sms_failures_are_failed_or_undelivered() -> None:
    finals = {state(Channel.SMS, i, T0 + 10, failure_share=1.0) for i in range(1, 200)}
    assert {s.status for s in finals} == {"failed", "undelivered"}
    assert {s.failure_reason for s in finals} == {reason for _, reason, _ in SMS_FAILURES}
    assert all(s.sent_at is None for s in finals if s.status == "failed")
    assert all(s.sent_at == T0 + 2 for s in finals if s.status == "undelivered")


def test_zero_step_is_final_at_once() -> None:
    assert state(Channel.SMS, 1, T0, step_s=0.0).status == "delivered"


def test_iso_utc_has_whole_seconds_and_z() -> None:
    assert iso_utc(0.9) == "1970-01-01T00:00:00Z"
    assert iso_utc(None) is None


@pytest.fixture
def timed(
    make_sandbox: Callable[..., Sandbox], manual_clock: ManualClock, http: requests.Session
) -> Callable[..., SandboxClient]:
    def start(**overrides: object) -> SandboxClient:
        settings = {"delivery_step_s": 2.0, "failure_share": 0.0, **overrides}
        return SandboxClient(http, make_sandbox(clock=manual_clock, **settings))

    return start


def test_whatsapp_status_progresses_over_http(
    timed: Callable[..., SandboxClient], manual_clock: ManualClock
) -> None:
    client = timed()
    sent = client.post("whatsapp/templates/539/messages", WA_BODY).json()
    reads = fate_of(0, sent["message_id"]).reads < 0.7
    first = client.get(f"whatsapp/messages/{sent['message_id']}").json()
    assert list(first) == [
        "request_id",
        "message_id",
        "status",
        "phone_number",
        "channel_message_id",
        "sent_at",
        "delivered_at",
        "read_at",
        "failure_reason",
    ]
    assert (first["status"], first["sent_at"], first["delivered_at"]) == (
        "sent",
        iso_utc(manual_clock()),
        None,
    )
    assert first["channel_message_id"] == sent["channel_message_id"]
    assert first["phone_number"] == PHONE and first["failure_reason"] is None
    manual_clock.advance(2.0)
    assert client.get(f"whatsapp/messages/{sent['message_id']}").json()["status"] == "delivered"
    manual_clock.advance(2.0)
    last = client.get(f"whatsapp/messages/{sent['message_id']}").json()
    assert last["status"] == ("read" if reads else "delivered")
    assert (last["read_at"] is not None) is reads


def test_sms_status_progresses_over_http(
    timed: Callable[..., SandboxClient], manual_clock: ManualClock
) -> None:
    client = timed()
    message_id = client.post("sms/messages", SMS_BODY).json()["message_id"]
    seen = []
    for _ in range(3):
        body = client.get(f"sms/messages/{message_id}").json()
        seen.append(body["status"])
        manual_clock.advance(2.0)
    assert seen == ["queued", "sent", "delivered"]
    assert set(body) == {
        "request_id",
        "message_id",
        "status",
        "phone_number",
        "sent_at",
        "delivered_at",
        "failure_reason",
    }


def test_failed_message_shows_its_reason_in_status_and_list(
    timed: Callable[..., SandboxClient], manual_clock: ManualClock
) -> None:
    client = timed(failure_share=1.0)
    message_id = client.post("whatsapp/templates/539/messages", WA_BODY).json()["message_id"]
    manual_clock.advance(2.0)
    status = client.get(f"whatsapp/messages/{message_id}").json()
    assert status["status"] == "failed" and status["failure_reason"] in WHATSAPP_FAILURES
    [item] = client.get("whatsapp/messages").json()["messages"]
    assert item == {
        "message_id": message_id,
        "status": "failed",
        "phone_number": PHONE,
        "sent_at": status["sent_at"],
        "failure_reason": status["failure_reason"],
    }


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("whatsapp/messages/999", 7),
        ("whatsapp/messages/abc", 7),
        ("sms/messages/999", 6),
    ],
)
def test_unknown_message_id(client: SandboxClient, path: str, code: int) -> None:
    response = client.get(path)
    assert response.status_code == 400
    assert response.json()["error_code"] == code


def test_status_only_for_the_key_and_channel_that_sent_it(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    keys = {**{k: c for c, k in DEMO_KEYS.items()}, "other-whatsapp-key": Channel.WHATSAPP}
    client = SandboxClient(http, make_sandbox(keys=keys))
    wa_id = client.post("whatsapp/templates/539/messages", WA_BODY).json()["message_id"]
    sms_id = client.post("sms/messages", SMS_BODY).json()["message_id"]
    assert client.get(f"whatsapp/messages/{wa_id}").status_code == 200
    assert (
        client.get(f"whatsapp/messages/{wa_id}", key="other-whatsapp-key").json()["error_code"] == 7
    )
    assert client.get(f"whatsapp/messages/{sms_id}").json()["error_code"] == 7
    assert client.get(f"sms/messages/{wa_id}").json()["error_code"] == 6


def test_list_is_capped_newest_first_and_per_key(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    keys = {**{k: c for c, k in DEMO_KEYS.items()}, "other-whatsapp-key": Channel.WHATSAPP}
    client = SandboxClient(http, make_sandbox(keys=keys))
    mine = [
        client.post("whatsapp/templates/539/messages", WA_BODY).json()["message_id"]
        for _ in range(105)
    ]
    theirs = client.post("whatsapp/templates/539/messages", WA_BODY, key="other-whatsapp-key")
    client.post("sms/messages", SMS_BODY)
    default = client.get("whatsapp/messages").json()
    assert set(default) == {"request_id", "messages"}
    assert [m["message_id"] for m in default["messages"]] == mine[::-1][:100]
    capped = client.get("whatsapp/messages", params={"limit": 500}).json()["messages"]
    assert len(capped) == 100
    five = client.get("whatsapp/messages", params={"limit": 5}).json()["messages"]
    assert [m["message_id"] for m in five] == mine[::-1][:5]
    assert set(five[0]) == {"message_id", "status", "phone_number", "sent_at"}
    other = client.get("whatsapp/messages", key="other-whatsapp-key").json()["messages"]
    assert [m["message_id"] for m in other] == [theirs.json()["message_id"]]


def test_list_is_empty_before_any_send(client: SandboxClient) -> None:
    assert client.get("whatsapp/messages").json()["messages"] == []


@pytest.mark.parametrize("limit", ["0", "-3", "ten", "2.5"])
def test_list_refuses_a_bad_limit(client: SandboxClient, limit: str) -> None:
    response = client.get("whatsapp/messages", params={"limit": limit})
    assert response.status_code == 400 and response.json()["error_code"] == 2
