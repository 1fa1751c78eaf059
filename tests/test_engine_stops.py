"""Runs that stop or hold back on purpose: --limit, a message list that does not answer, an API
that cannot be reached at all, and a template the caller already fetched. Through the sandbox."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bulksend.campaign import Campaign, load_campaign
from bulksend.channels import Channel
from bulksend.endpoint import connect
from bulksend.engine import STOPPED_UNREACHABLE, SendOptions, send_campaign
from bulksend.errors import ApiUnreachableError, ExitStatus
from bulksend.results import Outcome, ResultsFile
from bulksend.templates import Template
from tests.test_engine import (
    GOOD_IMAGE as GOOD,
)
from tests.test_engine import (
    Hooks,
    environ,
    ledger_phones,
    outcomes,
    pending_record,
    people,
    phone,
    write_campaign,
    write_sheet,
)


def test_limit_counts_the_rows_it_left_and_records_unsendable_rows_past_it(
    tmp_path: Path, make_sandbox
) -> None:
    sandbox = make_sandbox()
    rows = people(6) + [("not a phone", "Bad", "A-9", "https://img.example.com/a.png")]
    write_sheet(tmp_path / "people.csv", rows)
    campaign = load_campaign(write_campaign(tmp_path, sandbox))
    summary = send_campaign(campaign, SendOptions(limit=2), environ=environ())
    assert (summary.sent_this_run, summary.left_by_limit) == (2, 4)
    assert summary.to_dict()["left_by_limit"] == 4
    assert len(sandbox.ledger()) == 2
    assert summary.counts.get(Outcome.INVALID) == 1  # row 8, far past the limit, is recorded
    summary = send_campaign(campaign, environ=environ())
    assert (summary.sent_this_run, summary.left_by_limit) == (4, 0)


def test_a_given_template_is_not_fetched_again(tmp_path: Path, make_sandbox) -> None:
    sandbox = make_sandbox()
    write_sheet(tmp_path / "people.csv", people(3))
    campaign = load_campaign(write_campaign(tmp_path, sandbox))
    template = fetched_template(campaign)
    before = len(sandbox.requests())
    send_campaign(campaign, environ=environ(), template=template)
    assert [r.method for r in sandbox.requests()[before:]] == ["POST"] * 3
    assert len(sandbox.ledger()) == 3


def test_a_message_list_that_does_not_answer_stops_the_run_before_any_send(
    tmp_path: Path, make_sandbox
) -> None:
    """Sending first would push the earlier run's messages out of the list's 100: so nothing is
    sent, and the rows in flight stay pending for the next run to check."""
    sandbox = make_sandbox()
    write_sheet(tmp_path / "people.csv", people(4))
    campaign = load_campaign(write_campaign(tmp_path, sandbox, extra="max_attempts: 2\n"))
    template = fetched_template(campaign)
    results = ResultsFile(campaign.results_path)
    campaign.results_path.parent.mkdir(parents=True)
    with results.lock(), results.open_journal() as journal:
        journal.append_durable(pending_record(0))
    sandbox.set_faults(error_share=1.0)
    with pytest.raises(ApiUnreachableError, match="left 1 request.* in flight") as raised:
        send_campaign(campaign, environ=environ(), template=template)
    assert raised.value.exit_status is ExitStatus.INCOMPLETE
    assert sandbox.ledger() == []
    assert outcomes(campaign)[phone(0)].outcome is Outcome.PENDING
    sandbox.clear_faults()
    summary = send_campaign(campaign, environ=environ(), template=template)
    assert summary.reconciled_uncertain == 1
    assert sorted(ledger_phones(sandbox)) == [phone(1), phone(2), phone(3)]


def test_an_api_that_cannot_be_reached_stops_the_run_after_a_few_rows(tmp_path: Path) -> None:
    """Every attempt refused: a few rows fail, the rest are not tried (still unsent)."""
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    write_sheet(tmp_path / "people.csv", people(40))
    path = tmp_path / "campaign.yaml"
    path.write_text(
        "name: t\nchannel: sms\nsource: people.csv\nphone_column: Phone\nphone_check: possible\n"
        f"api_url: http://127.0.0.1:{port}/api/v1\napi_key_env: BULKSEND_TEST_KEY\n"
        'rate: 1000/s\nconcurrency: 2\nmax_attempts: 2\ntext: "Hi {{ Name }}"\n'
        "results: out/results.csv\n",
        encoding="utf-8",
    )
    summary = send_campaign(load_campaign(path), environ=environ(Channel.SMS))
    assert summary.stopped == STOPPED_UNREACHABLE
    assert summary.exit_status is ExitStatus.INCOMPLETE
    failed = summary.counts.get(Outcome.FAILED, 0)
    assert 3 <= failed <= 3 + 2  # the streak, plus rows already in flight at two workers
    assert sum(summary.counts.values()) == failed  # the other rows have no outcome: unsent


def fetched_template(campaign: Campaign) -> Template:
    """The campaign's template fetched the way the CLI's validation does, before the run."""
    with connect(campaign, environ=environ()) as client:
        return client.get_template(540)


def test_without_dedupe_a_failed_row_is_retried_without_resending_its_twin(
    tmp_path: Path, make_sandbox
) -> None:
    """Two rows to one phone, dedupe off: the first is sent, the second fails; the next run
    sends only the second (the ledger holds each body once)."""
    sandbox = make_sandbox()
    twin = [people(1)[0], (phone(0), "Second", "B-2", "https://img.example.com/a.png")]
    write_sheet(tmp_path / "people.csv", twin)
    extra = "dedupe: false\nconcurrency: 1\nmax_attempts: 1\n"
    campaign = load_campaign(write_campaign(tmp_path, sandbox, extra=extra))
    fail_next = Hooks(on_outcome=lambda seen: sandbox.set_faults(error_share=1.0, max_faults=1))
    first = send_campaign(campaign, events=fail_next, environ=environ())
    assert (first.sent_this_run, first.counts.get(Outcome.FAILED)) == (1, 1)
    sandbox.clear_faults()
    send_campaign(campaign, environ=environ())
    bodies = [entry.variables["body"][0] for entry in sandbox.ledger()]
    assert sorted(bodies) == ["Name0", "Second"]


def test_rows_with_an_empty_key_are_never_sent_so_a_resort_cannot_swap_them(
    tmp_path: Path, make_sandbox
) -> None:
    """Matched by position, a re-sorted sheet would give Ann's line to Bob: so no such row goes."""
    sandbox = make_sandbox()
    rows = [(phone(0), "Ann", "", GOOD), (phone(1), "Bob", "", GOOD), (phone(2), "Cy", "C", GOOD)]
    write_sheet(tmp_path / "people.csv", rows)
    path = tmp_path / "campaign.yaml"
    path.write_text(
        "name: t\nchannel: sms\nsource: people.csv\nphone_column: Phone\nphone_check: possible\n"
        f"api_url: {sandbox.base_url}\napi_key_env: BULKSEND_TEST_KEY\nkey: [Order]\n"
        'text: "Hi {{ Name }}"\nresults: out/results.csv\n',
        encoding="utf-8",
    )
    campaign = load_campaign(path)
    send_campaign(campaign, environ=environ(Channel.SMS))
    write_sheet(tmp_path / "people.csv", [rows[1], rows[0], rows[2]])
    send_campaign(campaign, environ=environ(Channel.SMS))
    assert ledger_phones(sandbox) == [phone(2)]
    assert outcomes(campaign)["row:2"].outcome is Outcome.INVALID
