"""Smoke test: benchmarks/bench_send.py still runs end to end (tiny sizes; speed is not judged)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH_SEND = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_send.py"
TINY = (
    "--quick --rounds 1 --rates 20 200 --pace-seconds 0.5 --rows-0ms 40 --rows-50ms 30"
    " --plain-rows-50ms 8 --dry-run-rows 300 --send-rows 60 --resume-records 2000"
    " --resume-sheet-rows 20 --resume-unsent 5 --trace-records 1000"
).split()


def test_bench_send_quick_prints_every_table() -> None:
    """Every table prints; the script itself fails unless each send is in the ledger once."""
    completed = subprocess.run(
        [sys.executable, str(BENCH_SEND), *TINY],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    out = completed.stdout
    paced = re.findall(r"^\s+(\d+)\s+(\d+)\s+[\d.]+\s+[\d.]+\s+\d+\s+(?:yes|NO)\s", out, re.M)
    assert [(int(target), int(rows)) for target, rows in paced] == [(20, 10), (200, 100)]
    unpaced = re.findall(r"^\s+(\d+)ms\s+(bulksend|plain).*\s(x[\d.]+)\s", out, re.M)
    assert [(latency, who) for latency, who, _ in unpaced] == [
        ("0", "bulksend"),
        ("0", "bulksend"),
        ("0", "plain"),
        ("50", "bulksend"),
        ("50", "bulksend"),
        ("50", "plain"),
    ]
    assert [ratio for _, who, ratio in unpaced if who == "plain"] == ["x1.00", "x1.00"]
    assert re.search(r"resume checkpoint: Checkpoint.load\(\)\s+2,000 records", out)
    assert re.search(r"send resume: 20-row sheet, 5 unsent\s+2,000 records", out)
    assert re.search(r"tracemalloc over Checkpoint.load\(\) of 1,000 records", out)
