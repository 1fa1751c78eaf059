"""Suppression lists from the outside: validate reports unreadable entries, and validate and send
both refuse a list of which no entry can be read (messaging people who opted out is the worst
outcome of a send)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from bulksend.channels import Channel
from bulksend.cli import main
from bulksend.sandbox import DEMO_KEYS, Sandbox

KEY_ENV = "BULKSEND_TEST_KEY"


def write_campaign(folder: Path, api_url: str, optouts: str) -> Path:
    (folder / "people.csv").write_text(
        "Name,Phone\nAnn,+1 415 555 0132\nBo,+1 415 555 0100\n", encoding="utf-8"
    )
    (folder / "optouts.csv").write_text(optouts, encoding="utf-8")
    path = folder / "campaign.yaml"
    path.write_text(
        "name: optout-test\nchannel: sms\nsource: people.csv\nphone_column: Phone\n"
        'text: "Hi {{ Name }}"\n'
        f"api_url: {api_url}\napi_key_env: {KEY_ENV}\nresults: out/results.csv\n"
        "suppression: optouts.csv\n",
        encoding="utf-8",
    )
    return path


def invoke(*args: str) -> Result:
    env = {KEY_ENV: DEMO_KEYS[Channel.SMS]}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


UNREADABLE = "Name,Tel\nBo,+1 415 555 0100\nAnn,(415) 555-0132\n"


def test_validate_prints_the_unreadable_entries_and_what_to_do(tmp_path: Path) -> None:
    result = invoke("validate", str(write_campaign(tmp_path, "sandbox", UNREADABLE)))
    assert result.exit_code == 0, result.output
    assert "suppressed           1" in result.output
    assert (
        "  warning: 1 entry of the suppression list optouts.csv could not be read as a phone "
        "(row 3), so it suppresses nobody. Write each number with + and its country code "
        "(e.g. +1 415 555 0132), or set default_region (e.g. default_region: US) so numbers "
        "without + can be read.\n"
    ) in result.output


def test_validate_json_carries_the_suppression_counts(tmp_path: Path) -> None:
    result = invoke("validate", "--json", str(write_campaign(tmp_path, "sandbox", UNREADABLE)))
    assert result.exit_code == 0, result.output
    suppression = json.loads(result.stdout)["suppression"]
    assert suppression["phones"] == 1
    assert (suppression["unreadable"], suppression["unreadable_rows"]) == (1, [3])
    assert suppression["advice"].startswith("Write each number with + and its country code")


NOTHING_READABLE = "Name,Tel\nAnn,(415) 555-0132\nBo,415 555 0100\n"
REFUSAL = (
    "line 9: the suppression list optouts.csv has 2 entries and not one could be read as a "
    "phone (rows 2, 3), so nobody on it would be suppressed"
)


def test_validate_refuses_a_list_of_which_nothing_can_be_read(tmp_path: Path) -> None:
    result = invoke("validate", str(write_campaign(tmp_path, "sandbox", NOTHING_READABLE)))
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'campaign.yaml'}, {REFUSAL}\n" in result.stderr


def test_send_refuses_the_same_list_and_sends_nothing(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox()
    campaign = write_campaign(tmp_path, sandbox.base_url, NOTHING_READABLE)
    result = invoke("send", str(campaign), "--yes")
    assert result.exit_code == 2, result.output
    assert REFUSAL in result.stderr
    assert sandbox.ledger() == []
