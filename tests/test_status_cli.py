"""`bulksend status` through the command line, over real HTTP to a sandbox, in real time."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from bulksend.campaign import load_campaign
from bulksend.channels import Channel
from bulksend.cli import main
from bulksend.cli.status import Duration
from bulksend.sandbox import DEMO_KEYS, DEPRECATED_KEYS, Sandbox
from tests.test_status import campaign_file, read_results, send_messages, write_results


def prepared(tmp_path: Path, sandbox: Sandbox, channel: Channel, count: int) -> Path:
    path = campaign_file(tmp_path, channel, api_url=sandbox.base_url)
    write_results(load_campaign(path).results_path, send_messages(sandbox, channel, count))
    return path


def run(path: Path, *args: str, key: str) -> object:
    return CliRunner().invoke(
        main, ["status", str(path), *args], env={"STATUS_TEST_KEY": key}, catch_exceptions=False
    )


def test_status_writes_statuses_and_says_what_next(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox(delivery_step_s=0.0, failure_share=0.5, seed=3)
    path = prepared(tmp_path, sandbox, Channel.SMS, 6)
    result = run(path, key=DEMO_KEYS[Channel.SMS])
    assert result.exit_code == 0, result.output
    assert "6 sent message(s): " in result.output
    assert "6 final, 0 not final yet; 6 answer(s) this run" in result.output
    assert f"next: `bulksend report {path}`" in result.output
    records = read_results(load_campaign(path).results_path)
    assert all(r.delivery_status in {"delivered", "failed", "undelivered"} for r in records[:-1])


def test_watch_with_json_prints_only_json(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox(delivery_step_s=0.0, seed=3)
    path = prepared(tmp_path, sandbox, Channel.WHATSAPP, 4)
    key = DEMO_KEYS[Channel.WHATSAPP]
    result = run(path, "--watch", "--interval", "1s", "--timeout", "30s", "--json", key=key)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # A WhatsApp "delivered" is not final (it may become read) but it ends the watch.
    assert data["tracked"] == 4 and data["rounds"] == 1
    assert data["awaiting"] == data["statuses"].get("delivered", 0)
    assert set(data["statuses"]) <= {"read", "delivered", "failed"}


def test_vbm_is_explained_once_and_exits_0(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox()
    (tmp_path / "people.csv").write_text("Phone\n+447700900001\n", encoding="utf-8")
    path = tmp_path / "vbm.yaml"
    path.write_text(
        "name: v\nchannel: vbm\ntemplate_id: 456\nsource: people.csv\nphone_column: Phone\n"
        f"api_url: {sandbox.base_url}\napi_key_env: STATUS_TEST_KEY\nresults: r.csv\n",
        encoding="utf-8",
    )
    result = run(path, key=DEMO_KEYS[Channel.VBM])
    assert result.exit_code == 0
    assert result.output.count("VBM has no documented status endpoint") == 1


def test_a_revoked_key_exits_3_without_showing_the_key(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox()
    path = prepared(tmp_path, sandbox, Channel.SMS, 1)
    key = DEPRECATED_KEYS[Channel.SMS]
    result = CliRunner().invoke(main, ["status", str(path)], env={"STATUS_TEST_KEY": key})
    assert result.exit_code == 3
    assert "rotated or revoked" in result.output
    assert "then run status again (the delivery answers already received are kept)." in (
        result.output
    )
    assert "run send again" not in result.output
    assert key not in result.output


def test_no_results_file_yet_is_a_clear_error(tmp_path: Path) -> None:
    path = campaign_file(tmp_path, Channel.SMS, api_url="sandbox")
    result = CliRunner().invoke(main, ["status", str(path)])
    assert result.exit_code == 2
    assert "there is no results file yet" in result.output
    assert f"Run `bulksend send {path}` first." in result.output


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("90", 90.0)]
)
def test_durations_read_like_people_write_them(text: str, seconds: float) -> None:
    assert Duration().convert(text, None, None) == seconds


def test_a_bad_duration_says_how_to_write_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["status", str(tmp_path / "x.yaml"), "--interval", "soon"])
    assert result.exit_code == 2
    assert "write it like 30s, 5m or 1h" in result.output


def test_a_message_the_api_does_not_know_is_pointed_out(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox(delivery_step_s=0.0, seed=3)
    path = campaign_file(tmp_path, Channel.SMS, api_url=sandbox.base_url)
    records = send_messages(sandbox, Channel.SMS, 1)
    records[0] = replace(records[0], message_id="424242")
    write_results(load_campaign(path).results_path, records)
    result = run(path, key=DEMO_KEYS[Channel.SMS])
    assert result.exit_code == 0, result.output
    assert "1 sent message(s): unknown 1" in result.output
    assert "0 final, 1 not final yet" in result.output
    assert "1 message(s) the status endpoint would not answer for" in result.output


def test_watch_shows_a_progress_line_per_round_until_all_are_final(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    """SMS moves queued -> sent -> final a step apart: the watch needs more than one round."""
    sandbox = make_sandbox(delivery_step_s=1.5, seed=3)
    path = prepared(tmp_path, sandbox, Channel.SMS, 3)
    result = run(
        path, "--watch", "--interval", "1s", "--timeout", "30s", key=DEMO_KEYS[Channel.SMS]
    )
    assert result.exit_code == 0, result.output
    progress = [line for line in result.stderr.splitlines() if line.startswith("round ")]
    assert len(progress) >= 2
    assert progress[0].startswith("round 1: ") and "/3 final" in progress[0]
    assert progress[-1].startswith(f"round {len(progress)}: 3/3 final")
    assert "3 final, 0 not final yet" in result.stdout


def test_whatsapp_summary_says_delivered_may_still_become_read(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    sandbox = make_sandbox(delivery_step_s=0.0, seed=3)
    path = prepared(tmp_path, sandbox, Channel.WHATSAPP, 12)
    result = run(path, key=DEMO_KEYS[Channel.WHATSAPP])
    assert result.exit_code == 0, result.output
    records = read_results(load_campaign(path).results_path)
    delivered = sum(r.delivery_status == "delivered" for r in records)
    assert delivered, "the seed must leave some recipients with read receipts off"
    assert f"({delivered} delivered, which WhatsApp may still report read)" in result.output


def test_an_api_that_never_answers_stops_the_run_with_exit_4_and_says_why(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    """Every connection dropped: three rows in a row without an answer end the run at once."""
    sandbox = make_sandbox(delivery_step_s=0.0, seed=3)
    path = prepared(tmp_path, sandbox, Channel.SMS, 30)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("max_attempts: 1\n")  # no backoff between attempts: the test stays quick
    sandbox.set_faults(drop_share=1.0)
    result = run(path, key=DEMO_KEYS[Channel.SMS])
    assert result.exit_code == 4, result.output
    assert "stopped early: the API could not be reached: 3 messages in a row got no answer" in (
        result.stdout
    )
    assert f"run `bulksend status {path}` again later" in result.stdout


def test_timeout_bounds_a_run_without_watch_too(
    tmp_path: Path, make_sandbox: Callable[..., Sandbox]
) -> None:
    """At 1/s, a 1 s timeout leaves most of 10 rows unasked: exit 4, and the summary says so."""
    sandbox = make_sandbox(delivery_step_s=0.0, seed=3)
    path = campaign_file(tmp_path, Channel.SMS, api_url=sandbox.base_url, rate="1/s")
    write_results(load_campaign(path).results_path, send_messages(sandbox, Channel.SMS, 10))
    result = run(path, "--timeout", "1s", "--json", key=DEMO_KEYS[Channel.SMS])
    assert result.exit_code == 4, result.output
    data = json.loads(result.stdout)
    assert data["timed_out"] and 0 < data["asked"] < 10
    assert data["not_asked"] == 10 - data["asked"] and data["exit_status"] == 4
