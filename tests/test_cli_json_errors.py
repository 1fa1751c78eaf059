"""With --json, a failing command still prints one JSON object on stdout: the error, the hint
and the exit status, so a scheduled job that parses the output never meets an empty stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulksend.channels import Channel
from bulksend.sandbox import DEPRECATED_KEYS
from tests.test_send_cli import invoke, make_campaign, posts


def test_send_json_reports_a_config_error_as_json(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=3)
    text = campaign_path.read_text(encoding="utf-8")
    campaign_path.write_text(text.replace("body: [Name, Order]", "body: [Name, Ordr]"))
    result = invoke(["send", str(campaign_path), "--yes", "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert error["exit_status"] == 2
    assert error["error"].startswith(f"{campaign_path}, line ") and "Ordr" in error["error"]
    assert result.stderr.startswith("error: ")  # people reading the terminal still see it


def test_send_json_reports_a_refused_key_as_json(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    campaign_path = make_campaign(tmp_path, sandbox, rows=3)
    result = invoke(
        ["send", str(campaign_path), "--yes", "--json"], key=DEPRECATED_KEYS[Channel.WHATSAPP]
    )
    assert result.exit_code == 3
    error = json.loads(result.stdout)
    assert error["exit_status"] == 3
    assert error["error"].startswith("The whatsapp API key was rotated or revoked.")
    assert "then run send again" in error["hint"]
    assert posts(sandbox) == 0


@pytest.mark.parametrize("command", ["status", "report"])
def test_status_and_report_json_report_a_missing_campaign_as_json(
    tmp_path: Path, command: str
) -> None:
    result = invoke([command, str(tmp_path / "nope.yaml"), "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["exit_status"] == 2


def test_without_json_stdout_stays_empty_on_an_error(tmp_path: Path) -> None:
    result = invoke(["report", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert result.stdout == ""
