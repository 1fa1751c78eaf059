"""What a scheduled job imports from ``bulksend``: every name resolves, and a run prints nothing."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

import bulksend
from bulksend.sandbox import DEMO_KEYS, Sandbox


def test_every_exported_name_resolves() -> None:
    missing = [name for name in bulksend.__all__ if getattr(bulksend, name, None) is None]
    assert missing == []


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'send_campaing'"):
        bulksend.send_campaing  # noqa: B018


def test_importing_bulksend_does_not_load_the_engine_or_pandas() -> None:
    """Every CLI start imports bulksend; the sending machinery loads only when needed."""
    code = (
        "import sys, bulksend;"
        "print(sorted(m for m in ('bulksend.engine', 'pandas') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.strip() == "[]"


def test_a_scheduled_job_sends_silently_and_gets_the_summary(
    tmp_path: Path, sandbox: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    with (tmp_path / "people.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Phone", "Name"])
        writer.writerows([(f"+44770090{n:04d}", f"Name{n}") for n in range(12)])
        writer.writerow(["not a phone", "Nobody"])
    campaign_file = tmp_path / "job.yaml"
    campaign_file.write_text(
        "name: nightly\nchannel: sms\nsource: people.csv\nphone_column: Phone\n"
        'text: "Hi {{ Name }}"\nphone_check: possible\n'
        f"api_url: {sandbox.base_url}\napi_key_env: JOB_KEY\nrate: 500/s\n",
        encoding="utf-8",
    )

    campaign = bulksend.load_campaign(campaign_file)
    summary = bulksend.send_campaign(
        campaign, bulksend.SendOptions(), environ={"JOB_KEY": DEMO_KEYS[bulksend.Channel.SMS]}
    )

    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""
    assert summary.exit_status is bulksend.ExitStatus.OK
    assert summary.sent_this_run == 12 == len(sandbox.ledger())
    assert summary.counts[bulksend.Outcome.INVALID] == 1
    assert summary.results_path.is_file()
