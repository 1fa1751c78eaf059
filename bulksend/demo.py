"""`make demo`: the WhatsApp demo campaign end to end against one sandbox, as a user would run it.

One sandbox serves the whole demo (``BULKSEND_SANDBOX_URL`` points every command at it), so its
rate limit, delivery clock and ledger carry across the commands. Each step is the real CLI in a
child process, printed as the command the reader can type; the demo ends by checking the
sandbox's ledger: every sendable row accepted exactly once, even after the second send.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bulksend.endpoint import SANDBOX_URL_ENV
from bulksend.errors import ExitStatus
from bulksend.sandbox import Sandbox, SandboxConfig

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = Path("campaigns") / "whatsapp-demo.yaml"
RESULTS = Path("results")
HTML_REPORT = RESULTS / "whatsapp-demo.html"
XLSX_REPORT = RESULTS / "whatsapp-demo.xlsx"
FOLLOW_UP = RESULTS / "whatsapp-demo-follow-up.csv"

# The demo's own sandbox: the API's documented 20 requests/s limit, delivery statuses a second
# apart so that `status --watch` settles in a few seconds, and a fixed seed for repeatable failures.
DEMO_SANDBOX = SandboxConfig(rate_limit=(20, 1.0), delivery_step_s=1.0, failure_share=0.1, seed=7)


class DemoError(Exception):
    """A step of the demo did not end as it should; the message says which and how."""


@dataclass(frozen=True)
class Step:
    title: str
    args: tuple[str, ...]
    expected: tuple[ExitStatus, ...] = (ExitStatus.OK,)


STEPS = (
    Step("Check every row before anything is sent", ("validate", str(CAMPAIGN))),
    Step(
        "Send (--yes skips the confirmation; --restart archives an earlier demo's results)",
        ("send", str(CAMPAIGN), "--yes", "--restart"),
    ),
    Step(
        "Send again: the results file is the checkpoint, so nobody gets a second message",
        ("send", str(CAMPAIGN), "--yes"),
    ),
    Step(
        "Ask the API what was delivered, read or failed until every message has settled",
        ("status", str(CAMPAIGN), "--watch", "--interval", "2s", "--timeout", "2min"),
    ),
    Step(
        "Report: terminal summary, HTML page, Excel workbook and a follow-up list",
        (
            "report",
            str(CAMPAIGN),
            "--html",
            str(HTML_REPORT),
            "--xlsx",
            str(XLSX_REPORT),
            "--failed-out",
            str(FOLLOW_UP),
        ),
    ),
)


def run_step(step: Step, root: Path, environ: Mapping[str, str]) -> None:
    command = [sys.executable, "-m", "bulksend", *step.args]
    completed = subprocess.run(command, cwd=root, env=dict(environ), check=False, timeout=600)
    if completed.returncode not in step.expected:
        raise DemoError(
            f"`bulksend {' '.join(step.args)}` exited {completed.returncode}, expected "
            f"{' or '.join(str(int(status)) for status in step.expected)}: see its output above."
        )


def check_ledger(sandbox: Sandbox) -> str:
    """What the server really received: the proof that nobody got two messages."""
    phones = Counter(entry.phone for entry in sandbox.ledger())
    twice = sorted(phone for phone, count in phones.items() if count > 1)
    if twice:
        raise DemoError(f"the sandbox accepted {len(twice)} phone(s) more than once: {twice[:3]}")
    return f"{sum(phones.values())} messages, each to a different phone"


def run_demo(root: Path = ROOT, echo: Callable[[str], None] = print) -> Path:
    """Run every step in ``root`` (a folder holding campaigns/ and sample_data/); the HTML path."""
    with Sandbox(DEMO_SANDBOX) as sandbox:
        echo(f"Octopods sandbox at {sandbox.base_url} (rate limit 20 requests/s per key)")
        environ = {**os.environ, SANDBOX_URL_ENV: sandbox.base_url}
        environ.pop("OCTOPODS_API_KEY", None)  # the sandbox's demo key, never a real one
        for number, step in enumerate(STEPS, start=1):
            echo(f"\n[{number}/{len(STEPS)}] {step.title}\n$ bulksend {' '.join(step.args)}")
            sys.stdout.flush()
            run_step(step, root, environ)
        echo(f"\nThe sandbox's ledger holds {check_ledger(sandbox)}.")
    html = (root / HTML_REPORT).resolve()
    echo(f"Results CSV:  {(root / RESULTS / 'whatsapp-demo.csv').resolve()}")
    echo(f"HTML report:  {html}  (open it in a browser)")
    return html


def main() -> int:
    try:
        run_demo()
    except DemoError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
