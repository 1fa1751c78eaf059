"""OctopodsClient over real loopback HTTP: classification, transport errors, templates, the key."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from bulksend.answers import AnswerKind
from bulksend.apikey import ApiKey
from bulksend.channels import Channel
from bulksend.client import OctopodsClient
from bulksend.errors import ApiUnreachableError, CampaignRefusedError, ExitStatus
from tests.fakeapi import RecordedWaits, Reply, Script, running_fake_api

SECRET = "sk-live-SECRET-1234567890"


@pytest.fixture
def fake_api() -> Iterator[tuple[Script, str]]:
    with running_fake_api() as running:
        yield running


@pytest.fixture
def waits() -> RecordedWaits:
    return RecordedWaits()


@pytest.fixture
def make_client(
    fake_api: tuple[Script, str], waits: RecordedWaits
) -> Iterator[Callable[..., OctopodsClient]]:
    """Clients of the fake API that record their retry waits instead of sleeping."""
    clients: list[OctopodsClient] = []

    def make(channel: Channel = Channel.WHATSAPP, **options: object) -> OctopodsClient:
        options = {"wait": waits, "random_fraction": lambda: 0.5, **options}
        client = OctopodsClient(fake_api[1], ApiKey(SECRET), channel, key_env="OCTO_KEY", **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


SEND_PATH = "/api/v1/whatsapp/templates/7/messages"


def test_send_returns_the_ids_and_sends_the_key_header(fake_api, make_client) -> None:
    script, _ = fake_api
    script.replies[("POST", SEND_PATH)] = Reply(
        201, {"request_id": "r-1", "message_id": 3851828, "channel_message_id": "wamid.X"}
    )
    answer = make_client().send({"destination_phone": "+447700900123"}, template_id=7)
    assert answer.kind is AnswerKind.OK
    assert (answer.message_id, answer.request_id, answer.channel_message_id) == (
        "3851828",
        "r-1",
        "wamid.X",
    )
    method, _, headers, body = script.received[0]
    assert method == "POST"
    assert headers["X-Octopods-Auth"] == SECRET
    assert json.loads(body) == {"destination_phone": "+447700900123"}


def test_a_rejected_row_keeps_the_api_error(fake_api, make_client) -> None:
    script, _ = fake_api
    script.replies[("POST", SEND_PATH)] = Reply(
        400, {"request_id": "r", "error_code": 5, "error": "Phone is invalid"}
    )
    answer = make_client().send({}, template_id=7)
    assert answer.kind is AnswerKind.REJECTED
    assert (answer.http_status, answer.error_code, answer.error) == (400, 5, "Phone is invalid")


def test_an_html_error_page_is_transient_with_a_one_line_error(fake_api, make_client) -> None:
    """The page's words, not its markup or line breaks, go into the results file."""
    script, _ = fake_api
    page = b"<html>\r\n<head><title>502</title></head>\r\n<body>\n<h1>Bad gateway</h1>\n</body>"
    script.replies[("POST", SEND_PATH)] = Reply(502, raw=page * 40)
    answer = make_client().send({}, template_id=7)
    assert answer.kind is AnswerKind.TRANSIENT
    assert answer.http_status == 502
    assert answer.error.startswith("Bad gateway Bad gateway")
    assert "<" not in answer.error and "\n" not in answer.error and len(answer.error) <= 200


def test_connection_refused_is_transient(make_client) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OctopodsClient(f"http://127.0.0.1:{port}/api/v1", ApiKey(SECRET), Channel.SMS)
    try:
        answer = client.send({"destination_phone": "+1", "body": "x"}, template_id=None)
    finally:
        client.close()
    assert answer.kind is AnswerKind.TRANSIENT
    assert answer.error == "connection refused"


def test_a_read_timeout_is_uncertain_and_never_retried(fake_api, make_client) -> None:
    script, _ = fake_api
    script.replies[("POST", SEND_PATH)] = Reply(201, {"message_id": 1}, delay_s=1.0)
    answer = make_client(timeout_s=0.2).send({}, template_id=7)
    assert answer.kind is AnswerKind.UNCERTAIN
    assert "read timeout" in answer.error
    assert len([r for r in script.received if r[0] == "POST"]) == 1


def test_a_connection_closed_after_sending_is_uncertain_and_not_retried(
    fake_api, make_client
) -> None:
    script, _ = fake_api
    script.replies[("POST", SEND_PATH)] = Reply(drop=True)
    answer = make_client().send({}, template_id=7)
    assert answer.kind is AnswerKind.UNCERTAIN
    assert len([r for r in script.received if r[0] == "POST"]) == 1


def test_the_key_never_appears_in_an_answer_or_error(fake_api, make_client) -> None:
    """Even an API that echoes the header back cannot carry the key into our records."""
    script, _ = fake_api
    script.replies[("POST", SEND_PATH)] = Reply(400, {"error_code": 5, "error": f"bad {SECRET}"})
    script.replies[("GET", "/api/v1/whatsapp/templates/7")] = Reply(401, {"error": SECRET})
    client = make_client()
    answer = client.send({}, template_id=7)
    assert SECRET not in repr(answer) and SECRET not in repr(client)
    with pytest.raises(CampaignRefusedError) as refused:
        client.get_template(7)
    assert SECRET not in str(refused.value)
    assert "OCTO_KEY" in str(refused.value)


@pytest.mark.parametrize(
    "listing",
    [
        {"template_id": 7, "template_name": "t", "template_body": "Hi {{1}}"},
        [{"template_id": 7, "template_name": "t", "template_body": "Hi {{1}}"}],
    ],
)
def test_get_template_accepts_an_object_or_a_one_item_array(fake_api, make_client, listing) -> None:
    script, _ = fake_api
    script.replies[("GET", "/api/v1/whatsapp/templates/7")] = Reply(200, listing)
    template = make_client().get_template(7)
    assert (template.template_id, template.name, template.placeholder_count("body")) == (7, "t", 1)


def test_get_template_falls_back_to_the_listing(fake_api, make_client) -> None:
    script, _ = fake_api
    script.replies[("GET", "/api/v1/vbm/templates")] = Reply(
        200, [{"template_id": 3, "template_body": "a"}, {"template_id": 9, "template_body": "b"}]
    )
    assert make_client(Channel.VBM).get_template(9).body_text == "b"
    with pytest.raises(CampaignRefusedError, match="does not exist"):
        make_client(Channel.VBM).get_template(4)


def test_a_template_not_yet_accepted_refuses_the_campaign(fake_api, make_client) -> None:
    script, _ = fake_api
    script.replies[("GET", "/api/v1/whatsapp/templates/7")] = Reply(
        200, {"template_id": 7, "template_status": "Pending"}
    )
    with pytest.raises(CampaignRefusedError, match="Pending"):
        make_client().get_template(7)


def test_get_template_that_keeps_failing_says_the_api_is_unreachable(
    fake_api, make_client, waits
) -> None:
    """After max_attempts, with the page's words on one line and the number of attempts."""
    script, _ = fake_api
    page = b"<html>\n<body>\n<h1>503 Service Unavailable</h1>\n</body>\n</html>"
    script.replies[("GET", "/api/v1/whatsapp/templates/7")] = Reply(503, raw=page)
    with pytest.raises(ApiUnreachableError) as unreachable:
        make_client().get_template(7)
    assert unreachable.value.message == (
        f"Could not fetch template 7 from {fake_api[1]}: HTTP 503: 503 Service Unavailable "
        "(5 attempts)"
    )
    assert unreachable.value.exit_status is ExitStatus.INCOMPLETE
    assert len(script.paths()) == 5 and len(waits.seconds) == 4


def test_list_messages_reads_both_documented_shapes(fake_api, make_client) -> None:
    script, _ = fake_api
    route = ("GET", "/api/v1/whatsapp/messages")
    script.replies[route] = Reply(
        200,
        {
            "request_id": "q",
            "messages": [
                {"message_id": 5, "status": "delivered", "phone_number": "+1", "sent_at": "T1"}
            ],
        },
    )
    client = make_client()
    first = client.list_messages(limit=500)
    assert script.received[-1][1].endswith("limit=100")
    script.replies[route] = Reply(
        200,
        [
            {
                "user_phone_number": "+1",
                "created_at": "T1",
                "message_status": {"channel_message_id": 5, "message_status": "DELIVERED"},
            }
        ],
    )
    second = client.list_messages()
    for answer in (first, second):
        (item,) = answer.data["messages"]
        assert (item["message_id"], item["status"], item["phone_number"], item["sent_at"]) == (
            "5",
            "delivered",
            "+1",
            "T1",
        )


def test_list_messages_reads_a_400_without_the_key_code_as_empty(fake_api, make_client) -> None:
    script, _ = fake_api
    script.replies[("GET", "/api/v1/whatsapp/messages")] = Reply(400, {"error": "no messages"})
    answer = make_client().list_messages()
    assert answer.kind is AnswerKind.OK
    assert answer.data["messages"] == []


def test_get_message_lowercases_the_status(fake_api, make_client) -> None:
    script, _ = fake_api
    script.replies[("GET", "/api/v1/sms/messages/42")] = Reply(
        200, {"message_id": 42, "status": "UNDELIVERED", "failure_reason": ""}
    )
    answer = make_client(Channel.SMS).get_message(42)
    assert answer.data["status"] == "undelivered"
    assert answer.data["failure_reason"] == ""


def test_one_client_serves_many_threads(fake_api, make_client) -> None:
    script, _ = fake_api
    script.replies[("POST", SEND_PATH)] = Reply(201, {"message_id": 1})
    client = make_client()
    kinds: list[AnswerKind] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            kind = client.send({}, template_id=7).kind
            with lock:
                kinds.append(kind)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert kinds == [AnswerKind.OK] * 20


def test_a_404_for_one_message_in_the_apis_error_shape_refuses_only_that_message(
    fake_api, make_client
) -> None:
    """An id the API forgot; a bare 404 (no error code) is a wrong api_url and stops the run."""
    script, _ = fake_api
    script.replies[("GET", "/api/v1/sms/messages/42")] = Reply(
        404, {"request_id": "r", "error_code": 7, "error": "Message does\nnot exist."}
    )
    script.replies[("GET", "/api/v1/sms/messages/43")] = Reply(404, {"error": "no route"})
    client = make_client(Channel.SMS)
    forgotten = client.get_message(42)
    assert (forgotten.kind, forgotten.error) == (AnswerKind.REJECTED, "Message does not exist.")
    wrong_url = client.get_message(43)
    assert wrong_url.kind is AnswerKind.CAMPAIGN_ERROR
    assert "404 Not Found for /api/v1/sms/messages/43: check api_url" in wrong_url.error
