"""`make demo` end to end in a scratch copy of campaigns/ and sample_data/."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from bulksend.demo import CAMPAIGN, FOLLOW_UP, XLSX_REPORT, DemoError, Step, run_demo, run_step
from bulksend.sandbox import DEMO_KEYS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    for folder in ("campaigns", "sample_data"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def test_the_demo_sends_each_recipient_once_and_writes_every_report(
    scratch: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    html = run_demo(scratch, echo=lines.append)
    printed = capfd.readouterr()
    assert all(key not in printed.out + printed.err for key in DEMO_KEYS.values())

    assert html.is_file() and "<svg" in html.read_text(encoding="utf-8")
    assert (scratch / XLSX_REPORT).is_file() and (scratch / FOLLOW_UP).is_file()
    with (scratch / "results" / "whatsapp-demo.csv").open(encoding="utf-8-sig") as handle:
        outcomes = [row["outcome"] for row in csv.DictReader(handle)]
    assert outcomes.count("sent") == 42
    assert any("each to a different phone" in line for line in lines)
    assert any(str(html) in line for line in lines)


def test_a_step_that_exits_wrongly_stops_the_demo_with_its_command(scratch: Path) -> None:
    step = Step("a campaign that does not exist", ("validate", str(CAMPAIGN) + ".missing"))
    with pytest.raises(DemoError, match=r"bulksend validate .*missing` exited 2"):
        run_step(step, scratch, {"PATH": "/usr/bin:/bin"})
