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


BENCH_STATUS = BENCH_SEND.with_name("bench_status.py")
TINY_STATUS = (
    "--quick --rounds 1 --latencies-ms 0 200 --rows-paced 20 --rows-0ms 60 --rows-200ms 40"
    " --plain-rows-200ms 3 --big-rows 3000 --answered-rows 500 --merge-answers 300"
).split()


def test_bench_status_quick_prints_every_table() -> None:
    """Every table prints; the script itself fails unless the sandbox answered each lookup once
    and every fake-API run and merge touched exactly the rows it should."""
    completed = subprocess.run(
        [sys.executable, str(BENCH_STATUS), *TINY_STATUS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    out = completed.stdout
    assert re.search(r"^bulksend status benchmarks, \d+ cores \(--quick\): 1\. .* 2\. ", out, re.M)
    lookups = re.findall(
        r"^\s+(\d+)ms\s+(bulksend, rate 100/s|bulksend, unpaced \(100000/s\)|plain requests"
        r"\.Session loop)\s+(\d+)\s+\d+\s+(x[\d.]+)\s+[\d.]+\s+\d+$",
        out,
        re.M,
    )
    assert [(latency, who, int(rows)) for latency, who, rows, _ in lookups] == [
        ("0", "bulksend, rate 100/s", 20),
        ("0", "bulksend, unpaced (100000/s)", 60),
        ("0", "plain requests.Session loop", 60),
        ("200", "bulksend, rate 100/s", 20),
        ("200", "bulksend, unpaced (100000/s)", 40),
        ("200", "plain requests.Session loop", 3),
    ]
    assert [ratio for _, who, _, ratio in lookups if who.startswith("plain")] == ["x1.00"] * 2
    assert re.search(r"^imports only \(bulksend.status, requests\)\s+\d+$", out, re.M)
    assert re.search(
        r"^status, every row already final \(asks nothing\)\s+3,000 rows\s+0\s", out, re.M
    )
    assert re.search(r"^status, every row answered \(fake API\)\s+500 rows\s+500\s", out, re.M)
    assert re.search(r"^merge of a status journal\s+3,000 rows\s+300\s", out, re.M)
