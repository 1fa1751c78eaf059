"""What the client's answers mean for a whole run: send_campaign and the CLI against the sandbox
(or, for answers the sandbox never gives, a scripted API), judged by what reached the server."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from bulksend.campaign import load_campaign
from bulksend.channels import Channel
from bulksend.cli import main
from bulksend.engine import send_campaign
from bulksend.errors import CampaignRefusedError, ExitStatus
from bulksend.results import Outcome, ResultsFile
from bulksend.sandbox import DEMO_KEYS
from tests.fakeapi import Reply, running_fake_api
from tests.test_engine import KEY_ENV, environ, people, phone, write_campaign, write_sheet

SMS_KEY = DEMO_KEYS[Channel.SMS]


def sms_campaign(tmp_path: Path, sandbox, rows: int, *, extra: str = "") -> Path:
    write_sheet(tmp_path / "people.csv", people(rows))
    return write_campaign(tmp_path, sandbox, channel=Channel.SMS, extra=extra)


def outcomes(path: Path) -> Counter[Outcome]:
    records = ResultsFile(load_campaign(path).results_path).load_outcomes().values()
    return Counter(record.outcome for record in records)


def send_cli(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["send", str(path), "--yes"], env={KEY_ENV: SMS_KEY}, catch_exceptions=False
    )
    return result.exit_code, result.output


def test_a_wrong_api_path_stops_the_run_and_every_row_stays_resumable(
    tmp_path: Path, make_sandbox
) -> None:
    """A path the API does not serve answers 404 for every row: exit 3, nothing final; once
    api_url is fixed, every row is sent once. (validate already refuses an api_url that does
    not end in /api/v1, so the wrong part here sits before it.)"""
    sandbox = make_sandbox()
    path = sms_campaign(tmp_path, sandbox, 50)
    good = path.read_text()
    path.write_text(good.replace("/api/v1", "/octopods/api/v1"))
    status, output = send_cli(path)
    assert status == ExitStatus.CAMPAIGN_REFUSED
    assert "404 Not Found for /octopods/api/v1/sms/messages: check api_url" in output
    assert SMS_KEY not in output
    assert set(outcomes(path)) <= {Outcome.FAILED}  # nothing rejected, nothing final
    assert sandbox.ledger() == []

    path.write_text(good)
    status, _ = send_cli(path)
    assert status == ExitStatus.OK
    assert outcomes(path) == {Outcome.SENT: 50}
    assert sorted(entry.phone for entry in sandbox.ledger()) == [phone(n) for n in range(50)]


def test_a_redirecting_api_url_stops_before_the_key_reaches_the_other_host(
    tmp_path: Path, make_sandbox
) -> None:
    sandbox = make_sandbox()
    target = f"http://localhost:{urlsplit(sandbox.base_url).port}/api/v1/sms/messages"
    with running_fake_api() as (script, api_url):
        script.replies[("POST", "/api/v1/sms/messages")] = Reply(
            307, {}, headers={"Location": target}
        )
        path = sms_campaign(tmp_path, sandbox, 20, extra="concurrency: 2\n")
        path.write_text(path.read_text().replace(sandbox.base_url, api_url))
        with pytest.raises(CampaignRefusedError) as refused:
            send_campaign(load_campaign(path), environ=environ(Channel.SMS))
    assert sandbox.requests() == [], "the redirect was followed"
    assert 1 <= len(script.paths("POST")) <= 2  # stopped within concurrency requests
    text = str(refused.value)
    assert "307 Temporary Redirect" in text and "localhost" in text and SMS_KEY not in text
    assert set(outcomes(path)) <= {Outcome.FAILED}


def test_an_html_error_page_is_recorded_as_one_short_line(tmp_path: Path, make_sandbox) -> None:
    page = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center>"
        b"<h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>"
    )
    sandbox = make_sandbox()
    with running_fake_api() as (script, api_url):
        script.replies[("POST", "/api/v1/sms/messages")] = Reply(502, raw=page)
        path = sms_campaign(tmp_path, sandbox, 3, extra="max_attempts: 1\n")
        path.write_text(path.read_text().replace(sandbox.base_url, api_url))
        send_campaign(load_campaign(path), environ=environ(Channel.SMS))
    results = load_campaign(path).results_path
    text = results.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(text.splitlines()))
    assert [row["error"] for row in rows if row["outcome"] == "failed"] == [
        "502 Bad Gateway nginx"
    ] * 3
    assert "<" not in text


def test_a_503_on_the_template_fetch_is_retried(tmp_path: Path, make_sandbox) -> None:
    """Two gateway errors on the first requests (the template): the run still sends every row."""
    sandbox = make_sandbox(error_share=1.0, error_statuses=(503,), max_faults=2)
    write_sheet(tmp_path / "people.csv", people(5))
    summary = send_campaign(load_campaign(write_campaign(tmp_path, sandbox)), environ=environ())
    template_statuses = [r.status for r in sandbox.requests() if r.method == "GET"]
    assert template_statuses == [503, 503, 200]
    assert summary.counts == {Outcome.SENT: 5} and summary.exit_status is ExitStatus.OK


def test_a_429_on_the_template_fetch_is_waited_out(tmp_path: Path, make_sandbox, http) -> None:
    """The key's budget is spent just before the run: the fetch waits for the named second."""
    sandbox = make_sandbox(rate_limit=(3, 3.0))
    write_sheet(tmp_path / "people.csv", people(2))
    campaign = load_campaign(write_campaign(tmp_path, sandbox, rate="10/s"))
    headers = {"X-Octopods-Auth": DEMO_KEYS[Channel.WHATSAPP]}
    for _ in range(3):
        http.get(f"{sandbox.base_url}/whatsapp/templates", headers=headers, timeout=10)
    summary = send_campaign(campaign, environ=environ())
    fetches = [r.status for r in sandbox.requests() if r.path.endswith("/templates/540")]
    assert fetches == [429, 200], "the fetch must meet the spent budget, then wait it out"
    assert summary.counts == {Outcome.SENT: 2}
    assert json.dumps([entry.phone for entry in sandbox.ledger()]).count("+44") == 2
