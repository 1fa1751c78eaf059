"""Template and list reads ride out transient trouble and 429s; sends are left to the engine.

Over real loopback HTTP to a scripted API; the client's waits are recorded, not slept.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator

import pytest

from bulksend.answers import AnswerKind
from bulksend.apikey import ApiKey
from bulksend.channels import Channel
from bulksend.client import MAX_RATE_LIMIT_WAIT_S, OctopodsClient
from bulksend.errors import ApiUnreachableError, CampaignRefusedError, ExitStatus
from bulksend.retry import RetryPolicy
from tests.fakeapi import RecordedWaits, Reply, Script, running_fake_api

SECRET = "sk-live-SECRET-reads-42"
NOW = dt.datetime(2026, 4, 24, 12, 34, 50, tzinfo=dt.UTC)
TEMPLATE = "/api/v1/whatsapp/templates/7"
LISTING = "/api/v1/whatsapp/messages"
ACCEPTED = {"template_id": 7, "template_body": "Hi {{1}}", "template_status": "Accepted"}
HTML_503 = Reply(503, raw=b"<html>\n<body>\n<h1>503 Service Unavailable</h1>\n</body>\n</html>")


def too_many(after: dt.datetime) -> Reply:
    when = after.strftime("%Y-%m-%d %H:%M:%S")
    message = f"You have fired too many requests. Please try after {when} UTC."
    return Reply(429, {"message": message})


@pytest.fixture
def fake_api() -> Iterator[tuple[Script, str]]:
    with running_fake_api() as running:
        yield running


@pytest.fixture
def waits() -> RecordedWaits:
    return RecordedWaits()


@pytest.fixture
def make_client(fake_api, waits) -> Iterator[Callable[..., OctopodsClient]]:
    clients: list[OctopodsClient] = []

    def make(**options: object) -> OctopodsClient:
        options = {"wait": waits, "random_fraction": lambda: 0.5, "utc_now": lambda: NOW, **options}
        client = OctopodsClient(fake_api[1], ApiKey(SECRET), Channel.WHATSAPP, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_a_503_on_the_template_is_retried_with_backoff(fake_api, make_client, waits) -> None:
    script, _ = fake_api
    script.replies[("GET", TEMPLATE)] = [HTML_503, HTML_503, Reply(200, ACCEPTED)]
    template = make_client(read_retry=RetryPolicy(backoff_base_s=0.5)).get_template(7)
    assert template.template_id == 7
    assert script.paths() == [TEMPLATE] * 3
    assert waits.seconds == [0.25, 0.5]  # full jitter at 0.5: half of 0.5, then of 1.0


def test_a_lost_answer_on_a_read_is_retried(fake_api, make_client) -> None:
    """A GET changes nothing, so an answer lost on the way is asked for again."""
    script, _ = fake_api
    script.replies[("GET", TEMPLATE)] = [Reply(drop=True), Reply(200, ACCEPTED)]
    assert make_client().get_template(7).template_id == 7
    assert len(script.paths()) == 2


def test_a_429_on_the_template_waits_until_the_named_second(fake_api, make_client, waits) -> None:
    script, _ = fake_api
    retry_at = NOW + dt.timedelta(seconds=10)
    script.replies[("GET", TEMPLATE)] = [too_many(retry_at), Reply(200, ACCEPTED)]
    assert make_client().get_template(7).template_id == 7
    assert waits.seconds == [pytest.approx(10 + 1 + 0.5)]  # the named second, then jitter


def test_a_retry_after_header_is_honoured_on_reads(fake_api, make_client, waits) -> None:
    script, _ = fake_api
    script.replies[("GET", TEMPLATE)] = [
        Reply(429, {"message": "slow down"}, headers={"Retry-After": "3"}),
        Reply(200, ACCEPTED),
    ]
    make_client().get_template(7)
    assert waits.seconds == [pytest.approx(3 + 1 + 0.5)]


def test_a_429_past_the_wait_budget_is_a_clear_error(fake_api, make_client, waits) -> None:
    """A block longer than bulksend waits for: no wait at all, and the time it ends."""
    script, _ = fake_api
    script.replies[("GET", TEMPLATE)] = too_many(NOW + dt.timedelta(minutes=10))
    with pytest.raises(ApiUnreachableError) as limited:
        make_client().get_template(7)
    assert limited.value.message == (
        "The API is rate limiting this key until 2026-04-24 12:44:50 UTC while fetching "
        f"template 7; bulksend waits at most {MAX_RATE_LIMIT_WAIT_S:.0f} s for that."
    )
    assert limited.value.exit_status is ExitStatus.INCOMPLETE
    assert waits.seconds == [] and len(script.paths()) == 1


def test_repeated_429s_stop_once_the_waits_add_up_to_the_budget(
    fake_api, make_client, waits
) -> None:
    script, _ = fake_api
    script.replies[("GET", TEMPLATE)] = too_many(NOW + dt.timedelta(seconds=60))
    with pytest.raises(ApiUnreachableError, match="rate limiting"):
        make_client(max_rate_limit_wait_s=150.0).get_template(7)
    assert waits.seconds == [pytest.approx(61.5)] * 2  # a third would pass 150 s
    assert len(script.paths()) == 3


def test_the_listing_fallback_is_retried_too(fake_api, make_client) -> None:
    script, _ = fake_api
    script.replies[("GET", TEMPLATE)] = Reply(404, {})
    script.replies[("GET", "/api/v1/whatsapp/templates")] = [HTML_503, Reply(200, [ACCEPTED])]
    assert make_client().get_template(7).template_id == 7


def test_list_messages_rides_out_a_503_and_a_429(fake_api, make_client, waits) -> None:
    script, _ = fake_api
    listing = {"messages": [{"message_id": 5, "status": "sent", "phone_number": "+1"}]}
    script.replies[("GET", LISTING)] = [
        HTML_503,
        too_many(NOW + dt.timedelta(seconds=2)),
        Reply(200, listing),
    ]
    answer = make_client().list_messages()
    assert answer.kind is AnswerKind.OK
    assert [item["message_id"] for item in answer.data["messages"]] == ["5"]
    assert len(waits.seconds) == 2 and len(script.paths()) == 3


def test_list_messages_that_keeps_failing_returns_the_last_answer(fake_api, make_client) -> None:
    script, _ = fake_api
    script.replies[("GET", LISTING)] = HTML_503
    answer = make_client(read_retry=RetryPolicy(max_attempts=3)).list_messages()
    assert (answer.kind, answer.http_status, answer.error) == (
        AnswerKind.TRANSIENT,
        503,
        "503 Service Unavailable",
    )
    assert len(script.paths()) == 3


def test_cancel_ends_a_read_wait_at_once(fake_api, make_client, waits) -> None:
    script, _ = fake_api
    script.replies[("GET", LISTING)] = too_many(NOW + dt.timedelta(seconds=60))
    cancel = threading.Event()
    cancel.set()
    answer = make_client().list_messages(cancel=cancel)
    assert answer.kind is AnswerKind.RATE_LIMITED
    assert len(script.paths()) == 1 and len(waits.seconds) == 1


def test_a_refusal_on_a_read_is_not_retried(fake_api, make_client, waits) -> None:
    script, _ = fake_api
    script.replies[("GET", TEMPLATE)] = Reply(401, {"error": "Unauthorized"})
    with pytest.raises(CampaignRefusedError, match="refused the key"):
        make_client().get_template(7)
    assert len(script.paths()) == 1 and waits.seconds == []


@pytest.mark.parametrize("reply", [HTML_503, Reply(429, {"message": "slow"}), Reply(drop=True)])
def test_sends_are_tried_once_here(fake_api, make_client, waits, reply: Reply) -> None:
    """The engine retries sends behind its pacer and its pending record, never the client."""
    script, _ = fake_api
    script.replies[("POST", f"{TEMPLATE}/messages")] = reply
    make_client().send({"destination_phone": "+1"}, template_id=7)
    assert len(script.paths("POST")) == 1 and waits.seconds == []


def test_the_key_is_masked_even_when_the_api_escapes_it(fake_api, make_client) -> None:
    """A JSON body may escape the key's characters; the decoded error is masked as well."""
    script, _ = fake_api
    escaped = json.dumps({"error": f"bad key {SECRET}"}).replace("-", "\\u002d")
    script.replies[("POST", f"{TEMPLATE}/messages")] = Reply(400, raw=escaped.encode())
    answer = make_client().send({}, template_id=7)
    assert SECRET not in answer.error and "bad key ********" in answer.error
