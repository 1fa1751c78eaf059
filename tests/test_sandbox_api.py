"""The sandbox's endpoints over real HTTP: successes, documented error codes, keys, routing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from bulksend.channels import Channel
from bulksend.sandbox import DEMO_KEYS, DEPRECATED_KEYS, Sandbox, key_id
from tests.conftest import SandboxClient

PHONE = "+447700900123"
WA_539 = "whatsapp/templates/539/messages"
VBM_456 = "vbm/templates/456/messages"
DEPRECATED_TEXT = "Deprecated API Key. Please go to your Octopods App, and get your new API Key"


def assert_refused(response: Any, code: int) -> dict[str, Any]:
    """A documented 400: ``{request_id, error_code, error}`` with a fresh uuid4 request id."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"request_id", "error_code", "error"}
    assert body["error_code"] == code, body
    assert uuid.UUID(body["request_id"]).version == 4
    return body


def test_whatsapp_send_is_created_and_recorded(client: SandboxClient, sandbox: Sandbox) -> None:
    response = client.post(
        WA_539, {"destination_phone": PHONE, "message_variables": ["Dana", "Fri"]}
    )
    assert response.status_code == 201
    body = response.json()
    assert uuid.UUID(body["request_id"]).version == 4
    assert isinstance(body["message_id"], int)
    assert body["channel_message_id"].startswith("wamid.")
    assert (
        body["message_status_url"] == f"{sandbox.base_url}/whatsapp/messages/{body['message_id']}"
    )
    [entry] = sandbox.ledger()
    assert (entry.channel, entry.template_id, entry.phone) == (Channel.WHATSAPP, 539, PHONE)
    assert entry.variables == ["Dana", "Fri"]
    assert entry.message_id == body["message_id"]
    assert entry.request_id == body["request_id"]
    assert entry.key_id == key_id(DEMO_KEYS[Channel.WHATSAPP])


def test_message_ids_are_unique_and_increasing(client: SandboxClient) -> None:
    ids = [
        client.post("sms/messages", {"destination_phone": PHONE, "body": f"n{n}"}).json()[
            "message_id"
        ]
        for n in range(5)
    ]
    assert ids == sorted(set(ids)) and len(ids) == 5


def test_sectioned_whatsapp_send_with_media_header(client: SandboxClient, sandbox: Sandbox) -> None:
    variables = {"header": [], "body": ["Dana", "A-778"], "footer": [], "buttons": ["a778"]}
    body = {
        "destination_phone": PHONE,
        "message_variables": variables,
        "header_attachment_url": "https://cdn.example.com/parcel.jpg",
        "open_intercom_conversation": "no",
    }
    assert client.post("whatsapp/templates/540/messages", body).status_code == 201
    assert sandbox.ledger()[0].variables == variables


def test_text_header_template_takes_sections(client: SandboxClient) -> None:
    variables = {
        "header": ["Clinic"],
        "body": ["Dana", "May 2", "10:00"],
        "footer": [],
        "buttons": [],
    }
    response = client.post(
        "whatsapp/templates/541/messages",
        {"destination_phone": PHONE, "message_variables": variables},
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "variables", [None, [], {"header": [], "body": [], "footer": [], "buttons": []}]
)
def test_template_without_placeholders_needs_no_variables(
    client: SandboxClient, variables: Any
) -> None:
    body: dict[str, Any] = {"destination_phone": PHONE}
    if variables is not None:
        body["message_variables"] = variables
    assert client.post("whatsapp/templates/543/messages", body).status_code == 201


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"message_variables": ["a", "b"]}, 1),
        ({"destination_phone": "", "message_variables": ["a", "b"]}, 1),
        ({"destination_phone": 447700900123, "message_variables": ["a", "b"]}, 2),
        ({"destination_phone": "447700900123", "message_variables": ["a", "b"]}, 5),
        ({"destination_phone": "+44 7700 900123", "message_variables": ["a", "b"]}, 5),
        ({"destination_phone": "+4477", "message_variables": ["a", "b"]}, 5),
        ({"destination_phone": PHONE}, 1),
        ({"destination_phone": PHONE, "message_variables": ["a"]}, 4),
        ({"destination_phone": PHONE, "message_variables": ["a", "b", "c"]}, 4),
        ({"destination_phone": PHONE, "message_variables": ["a", 2]}, 2),
        ({"destination_phone": PHONE, "message_variables": "a,b"}, 2),
        ({"destination_phone": PHONE, "message_variables": {"1": "a", "2": "b"}}, 2),
        ({"destination_phone": PHONE, "message_variables": {"body": ["a", "b"]}}, 1),
        (
            {
                "destination_phone": PHONE,
                "message_variables": {"header": [], "body": ["a"], "footer": [], "buttons": []},
            },
            4,
        ),
        (
            {
                "destination_phone": PHONE,
                "message_variables": ["a", "b"],
                "intercom_teammate_id": 7,
            },
            2,
        ),
        (
            {
                "destination_phone": PHONE,
                "message_variables": ["a", "b"],
                "open_intercom_conversation": "maybe",
            },
            2,
        ),
    ],
)
def test_whatsapp_send_refusals(
    client: SandboxClient, sandbox: Sandbox, body: dict[str, Any], code: int
) -> None:
    assert_refused(client.post(WA_539, body), code)
    assert sandbox.ledger() == []


def test_flat_array_for_sectioned_template_is_code_9(client: SandboxClient) -> None:
    body = {
        "destination_phone": PHONE,
        "message_variables": ["Dana", "A-778", "a778"],
        "header_attachment_url": "https://cdn.example.com/p.jpg",
    }
    assert_refused(client.post("whatsapp/templates/540/messages", body), 9)


@pytest.mark.parametrize(
    ("url", "code"),
    [
        (None, 1),
        ("", 1),
        ("ftp://cdn.example.com/p.jpg", 8),
        ("parcel.jpg", 8),
        (12, 2),
        ("https://localhost/p.jpg", 8),
        ("http://192.168.1.20/p.jpg", 8),
        ("https://[::1]/p.jpg", 8),
        ("https://files.intranet.local/p.jpg", 8),
    ],
)
def test_media_header_url_is_checked(client: SandboxClient, url: Any, code: int) -> None:
    body: dict[str, Any] = {
        "destination_phone": PHONE,
        "message_variables": {
            "header": [],
            "body": ["Dana", "A-778"],
            "footer": [],
            "buttons": ["x"],
        },
    }
    if url is not None:
        body["header_attachment_url"] = url
    error = assert_refused(client.post("whatsapp/templates/540/messages", body), code)
    assert "header_attachment_url" in error["error"]


@pytest.mark.parametrize("template_id", ["542", "999", "abc"])
def test_unknown_or_not_accepted_template_is_code_3(
    client: SandboxClient, template_id: str
) -> None:
    body = {"destination_phone": PHONE, "message_variables": ["a", "b"]}
    error = assert_refused(client.post(f"whatsapp/templates/{template_id}/messages", body), 3)
    assert error["error"] == "Message Template does not exist."


@pytest.mark.parametrize(
    ("content_type", "data", "family", "code"),
    [
        ("application/json", b"{not json", "whatsapp", 2),
        ("text/plain", b'{"destination_phone": "+447700900123"}', "whatsapp", 2),
        ("application/json", b"[1, 2]", "whatsapp", 2),
        ("application/json", b"{not json", "sms", 1),
        ("application/x-www-form-urlencoded", b"destination_phone=x", "sms", 1),
        ("application/json", b"\xff\xfe", "vbm", 2),
    ],
)
def test_unreadable_body_gets_the_family_code(
    client: SandboxClient, content_type: str, data: bytes, family: str, code: int
) -> None:
    path = {"whatsapp": WA_539, "sms": "sms/messages", "vbm": VBM_456}[family]
    response = client.session.post(
        f"{client.sandbox.base_url}/{path}",
        data=data,
        headers={"X-Octopods-Auth": DEMO_KEYS[Channel(family)], "Content-Type": content_type},
        timeout=10,
    )
    assert_refused(response, code)


def test_json_content_type_may_carry_a_charset(client: SandboxClient) -> None:
    response = client.session.post(
        f"{client.sandbox.base_url}/sms/messages",
        data=b'{"destination_phone": "+447700900123", "body": "hi"}',
        headers={
            "X-Octopods-Auth": DEMO_KEYS[Channel.SMS],
            "Content-Type": "application/json; charset=utf-8",
        },
        timeout=10,
    )
    assert response.status_code == 201


def test_sms_send_is_created_and_recorded(client: SandboxClient, sandbox: Sandbox) -> None:
    response = client.post("sms/messages", {"destination_phone": PHONE, "body": "Sale ends Friday"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"request_id", "message_id", "channel_message_id"}
    assert body["channel_message_id"].startswith("SM")
    [entry] = sandbox.ledger()
    assert (entry.channel, entry.template_id, entry.text) == (Channel.SMS, None, "Sale ends Friday")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"body": "hi"}, 1),
        ({"destination_phone": PHONE}, 2),
        ({"destination_phone": PHONE, "body": ""}, 2),
        ({"destination_phone": PHONE, "body": " \n\t "}, 2),
        ({"destination_phone": PHONE, "body": ["hi"]}, 2),
        ({"destination_phone": "07700900123", "body": "hi"}, 3),
        ({"destination_phone": PHONE, "body": "x" * 1601}, 4),
    ],
)
def test_sms_refusals(
    client: SandboxClient, sandbox: Sandbox, body: dict[str, Any], code: int
) -> None:
    assert_refused(client.post("sms/messages", body), code)
    assert sandbox.ledger() == []


def test_sms_body_of_exactly_1600_characters_is_accepted(client: SandboxClient) -> None:
    body = {"destination_phone": PHONE, "body": "é" * 1600}
    assert client.post("sms/messages", body).status_code == 201


def test_vbm_send_is_created_and_recorded(client: SandboxClient, sandbox: Sandbox) -> None:
    response = client.post(
        VBM_456, {"destination_phone": PHONE, "message_variables": ["Dana", "Fri"]}
    )
    assert response.status_code == 201
    assert set(response.json()) == {"request_id", "message_id", "channel_message_id"}
    [entry] = sandbox.ledger()
    assert (entry.channel, entry.template_id) == (Channel.VBM, 456)


def test_vbm_image_header_template(client: SandboxClient) -> None:
    variables = {"header": [], "body": ["Dana", "linen shirts"], "footer": []}
    body = {"destination_phone": PHONE, "message_variables": variables}
    assert_refused(client.post("vbm/templates/457/messages", body), 1)
    body["header_image_url"] = "https://cdn.example.com/new.png"
    assert client.post("vbm/templates/457/messages", body).status_code == 201


@pytest.mark.parametrize(
    ("path", "variables", "code"),
    [
        (VBM_456, ["Dana"], 4),
        ("vbm/templates/458/messages", ["a", "b", "c", "d"], 2),
        ("vbm/templates/458/messages", {"header": ["P1"], "body": ["a", "b", "c"]}, 1),
        (
            "vbm/templates/458/messages",
            {"header": ["P1"], "body": ["a", "b", "c"], "footer": [], "buttons": []},
            2,
        ),
        ("vbm/templates/459/messages", ["a", "b"], 3),
    ],
)
def test_vbm_refusals(client: SandboxClient, path: str, variables: Any, code: int) -> None:
    assert_refused(
        client.post(path, {"destination_phone": PHONE, "message_variables": variables}), code
    )


def test_vbm_sectioned_send(client: SandboxClient) -> None:
    variables = {"header": ["P1"], "body": ["Dana", "9:00", "11:00"], "footer": []}
    body = {"destination_phone": PHONE, "message_variables": variables}
    assert client.post("vbm/templates/458/messages", body).status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "key_channel"),
    [
        ("POST", "sms/messages", Channel.WHATSAPP),
        ("POST", WA_539, Channel.SMS),
        ("POST", VBM_456, Channel.WHATSAPP),
        ("GET", "whatsapp/messages", Channel.VBM),
        ("GET", "sms/messages/5100001", Channel.WHATSAPP),
        ("GET", "vbm/templates", Channel.SMS),
    ],
)
def test_a_key_works_only_on_its_own_family(
    client: SandboxClient, method: str, path: str, key_channel: Channel
) -> None:
    response = client.call(method, path, key=DEMO_KEYS[key_channel], json={})
    assert response.status_code == 401
    assert DEMO_KEYS[key_channel] not in response.text


@pytest.mark.parametrize("key", ["", "no-such-key"])
def test_missing_or_unknown_key_is_401(client: SandboxClient, sandbox: Sandbox, key: str) -> None:
    body = {"destination_phone": PHONE, "message_variables": ["a", "b"]}
    response = client.post(WA_539, body, key=key)
    assert response.status_code == 401
    assert "request_id" in response.json()
    assert sandbox.ledger() == []


@pytest.mark.parametrize(
    ("channel", "path", "code"),
    [(Channel.WHATSAPP, WA_539, 6), (Channel.SMS, "sms/messages", 5), (Channel.VBM, VBM_456, 6)],
)
def test_deprecated_key_gets_the_family_code(
    client: SandboxClient, sandbox: Sandbox, channel: Channel, path: str, code: int
) -> None:
    body = {"destination_phone": PHONE, "message_variables": ["a", "b"], "body": "hi"}
    error = assert_refused(client.post(path, body, key=DEPRECATED_KEYS[channel]), code)
    assert error["error"] == DEPRECATED_TEXT
    assert sandbox.ledger() == []


def test_deprecated_key_on_listing_is_code_6(client: SandboxClient) -> None:
    response = client.get("whatsapp/messages", key=DEPRECATED_KEYS[Channel.WHATSAPP])
    assert_refused(response, 6)


def test_trailing_slash_is_tolerated(client: SandboxClient) -> None:
    assert client.get("whatsapp/templates/").status_code == 200
    body = {"destination_phone": PHONE, "body": "hi"}
    assert client.post("sms/messages/", body).status_code == 201


def test_unknown_path_is_404_and_wrong_method_is_405(client: SandboxClient) -> None:
    assert client.get("whatsapp/nothing-here").status_code == 404
    assert client.get("vbm/messages/5100001").status_code == 404  # VBM has no status endpoint
    response = client.call("DELETE", "sms/messages")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_whatsapp_template_listing_and_filters(client: SandboxClient) -> None:
    every = client.get("whatsapp/templates").json()
    assert {t["template_id"] for t in every} >= {539, 540, 541, 542, 543}
    item = next(t for t in every if t["template_id"] == 539)
    assert item["template_status"] == "Accepted"
    assert {"template_name", "template_body", "template_components", "language"} <= set(item)
    assert "active" not in item
    accepted = client.get("whatsapp/templates", params={"status": "accepted"}).json()
    assert 542 not in {t["template_id"] for t in accepted}
    rejected = client.get("whatsapp/templates", params={"status": "rejected"}).json()
    assert [t["template_id"] for t in rejected] == [542]
    english = client.get("whatsapp/templates", params={"lang": "en"}).json()
    assert {t["language"] for t in english} == {"en", "en_GB", "en_US"}
    british = client.get("whatsapp/templates", params={"lang": "en_GB"}).json()
    assert {t["language"] for t in british} == {"en_GB"}
    inactive = client.get("whatsapp/templates", params={"active": "false"}).json()
    assert [t["template_id"] for t in inactive] == [545]
    combined = client.get("whatsapp/templates", params={"lang": "es", "status": "accepted"}).json()
    assert [t["template_id"] for t in combined] == [544]


def test_whatsapp_template_listing_bad_filters(client: SandboxClient) -> None:
    assert_refused(client.get("whatsapp/templates", params={"status": "approved"}), 10)
    assert_refused(client.get("whatsapp/templates", params={"active": "sometimes"}), 2)


def test_single_templates(client: SandboxClient) -> None:
    assert client.get("whatsapp/templates/542").json()["template_status"] == "Rejected"
    assert_refused(client.get("whatsapp/templates/999"), 3)
    vbm = client.get("vbm/templates/457").json()
    assert vbm["template_id"] == 457 and "template_status" not in vbm
    assert_refused(client.get("vbm/templates/459"), 3)  # VBM shows Accepted templates only


def test_vbm_listing_shows_only_accepted(client: SandboxClient) -> None:
    listed = {t["template_id"] for t in client.get("vbm/templates").json()}
    assert listed == {456, 457, 458}


def test_added_template_can_be_listed_and_sent(client: SandboxClient, sandbox: Sandbox) -> None:
    sandbox.add_template(
        Channel.WHATSAPP,
        {
            "template_id": 9001,
            "template_name": "test_only",
            "template_body": "Code {{1}}",
            "template_components": [{"type": "BODY", "text": "Code {{1}}"}],
            "template_status": "Accepted",
            "language": "en",
        },
    )
    assert client.get("whatsapp/templates/9001").json()["template_name"] == "test_only"
    body = {"destination_phone": PHONE, "message_variables": ["X1"]}
    assert client.post("whatsapp/templates/9001/messages", body).status_code == 201


def test_every_answer_has_a_fresh_request_id(client: SandboxClient) -> None:
    seen = set()
    for _ in range(3):
        seen.add(client.get("whatsapp/templates/999").json()["request_id"])
        seen.add(
            client.post("sms/messages", {"destination_phone": PHONE, "body": "x"}).json()[
                "request_id"
            ]
        )
        seen.add(client.get("whatsapp/messages").json()["request_id"])
    assert len(seen) == 9
