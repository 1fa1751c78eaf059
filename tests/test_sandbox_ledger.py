"""The ledger in process and over HTTP, its file, and sandboxes that must not share anything."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from bulksend.channels import Channel
from bulksend.errors import BulksendError, ConfigError
from bulksend.sandbox import DEMO_KEYS, Sandbox, SandboxConfig
from tests.conftest import SandboxClient

PHONE = "+447700900123"
WA_BODY = {"destination_phone": PHONE, "message_variables": ["Dana", "Friday"]}
SMS_BODY = {"destination_phone": PHONE, "body": "hi"}


def test_ledger_over_http_matches_the_ledger(sandbox: Sandbox, client: SandboxClient) -> None:
    client.post("whatsapp/templates/539/messages", WA_BODY)
    client.post("sms/messages", SMS_BODY)
    client.post("sms/messages", {"destination_phone": "bad", "body": "x"})
    over_http = client.session.get(f"{sandbox.root_url}/_sandbox/ledger", timeout=10).json()
    assert over_http == [entry.to_json() for entry in sandbox.ledger()]
    assert [item["channel"] for item in over_http] == ["whatsapp", "sms"]
    assert over_http[1]["payload"] == SMS_BODY


def test_request_log_over_http(sandbox: Sandbox, client: SandboxClient) -> None:
    client.post("sms/messages", SMS_BODY)
    client.get("whatsapp/messages")
    log = client.session.get(f"{sandbox.root_url}/_sandbox/requests", timeout=10).json()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("POST", "/api/v1/sms/messages", 201),
        ("GET", "/api/v1/whatsapp/messages", 200),
    ]


def test_ledger_file_survives_a_restart(
    make_sandbox: Callable[..., Sandbox], http: requests.Session, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.jsonl"
    first = make_sandbox(ledger_path=path, delivery_step_s=0.0)
    client = SandboxClient(http, first)
    old_ids = [client.post("sms/messages", SMS_BODY).json()["message_id"] for _ in range(2)]
    first.stop()
    second = make_sandbox(ledger_path=path, delivery_step_s=0.0)
    client = SandboxClient(http, second)
    assert [entry.message_id for entry in second.ledger()] == old_ids
    assert client.get(f"sms/messages/{old_ids[0]}").json()["status"] == "delivered"
    new_id = client.post("sms/messages", SMS_BODY).json()["message_id"]
    assert new_id > max(old_ids)
    second.stop()
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3


def test_ledger_file_holds_no_key(
    make_sandbox: Callable[..., Sandbox], http: requests.Session, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.jsonl"
    client = SandboxClient(http, make_sandbox(ledger_path=path))
    client.post("whatsapp/templates/539/messages", WA_BODY)
    client.post("sms/messages", SMS_BODY)
    text = path.read_text(encoding="utf-8")
    assert all(key not in text for key in DEMO_KEYS.values())


def test_a_line_cut_short_at_the_end_is_ignored(http: requests.Session, tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    with Sandbox(SandboxConfig(ledger_path=path)) as sandbox:
        SandboxClient(http, sandbox).post("sms/messages", SMS_BODY)
    whole = path.read_text(encoding="utf-8")
    path.write_text(whole + whole[:40], encoding="utf-8")
    with Sandbox(SandboxConfig(ledger_path=path)) as sandbox:
        assert len(sandbox.ledger()) == 1


def test_a_damaged_ledger_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"broken": true}\n\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        Sandbox(SandboxConfig(ledger_path=path))
    assert f"{path}, line 1" in str(raised.value)


def test_two_sandboxes_do_not_interfere(
    make_sandbox: Callable[..., Sandbox], http: requests.Session
) -> None:
    one = make_sandbox(rate_limit=(1, 60.0))
    two = make_sandbox(rate_limit=(1, 60.0))
    assert one.port != two.port
    first = SandboxClient(http, one).post("sms/messages", SMS_BODY)
    second = SandboxClient(http, two).post("sms/messages", SMS_BODY)
    assert first.status_code == second.status_code == 201
    assert first.json()["message_id"] == second.json()["message_id"]
    assert [e.request_id for e in one.ledger()] == [first.json()["request_id"]]
    assert [e.request_id for e in two.ledger()] == [second.json()["request_id"]]
    one.set_faults(error_share=1.0)
    assert SandboxClient(http, two).get("sms/messages/5100001").status_code == 429
    assert SandboxClient(http, one).get("sms/messages/5100001").status_code >= 500


def test_stopped_sandbox_refuses_connections() -> None:
    with Sandbox(SandboxConfig()) as sandbox:
        url = sandbox.base_url + "/whatsapp/templates"
        headers = {"X-Octopods-Auth": DEMO_KEYS[Channel.WHATSAPP]}
        assert requests.get(url, headers=headers, timeout=10).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(url, headers=headers, timeout=10)


def test_a_busy_port_is_a_clear_error(sandbox: Sandbox) -> None:
    with pytest.raises(BulksendError) as raised:
        Sandbox(SandboxConfig(port=sandbox.port)).start()
    assert str(sandbox.port) in str(raised.value) and "--port" in str(raised.value)


def test_open_keep_alive_connections_do_not_hold_up_stop(http: requests.Session) -> None:
    sandbox = Sandbox(SandboxConfig()).start()
    SandboxClient(http, sandbox).get("whatsapp/templates")
    stopping = time.monotonic()
    sandbox.stop()  # the session still holds its connection open
    assert time.monotonic() - stopping < 4.0
    with pytest.raises(RuntimeError):
        _ = sandbox.port
