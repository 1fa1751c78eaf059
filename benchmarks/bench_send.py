"""Sending: the rate held against its target, unpaced throughput beside a plain requests loop with
the sender's CPU time per message, and the peak memory of a large send and of a large resume.

    python benchmarks/bench_send.py [--quick] [--rounds N] [--resume-records N] ...  (--help)

The sandbox runs in its own process (`bulksend sandbox --rate-limit none`), and every measurement
runs in a fresh interpreter (benchmarks/_send_child.py), so the CPU time (getrusage user + system
of the sending process, all its threads) and the peak RSS (VmHWM) are the sender's alone. The
sends are WhatsApp template messages (template 539, two variables, one a jinja2 template).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from bulksend.journal import BOM
from bulksend.results import COLUMNS, Outcome, ResultRecord

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_send_child.py"
RESUME_LIMIT_MB = 300
UNPACED_RATE = "100000/s"
CAMPAIGN_YAML = """\
name: bench-send
channel: whatsapp
template_id: 539
source: {source}
phone_column: Phone
default_region: US
variables:
  - {{template: "{{{{ first_name | title }}}}", default: friend}}
  - Order Id
api_url: {api_url}
rate: {rate}
results: {folder}/unused.csv
"""
FIRST_NAMES = ("dana", "Omar", "LI", "José", "Anna-Maria", "ngozi", "Sven", "")


def phone(i: int) -> str:
    """A valid US number per row, unique up to 7,999,999 rows."""
    text = f"212{2_000_000 + i:07d}"
    return f"+1 {text[:3]} {text[3:6]} {text[6:]}"


def write_sheet(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Phone", "first_name", "Order Id"])
        for i in range(1, rows + 1):
            writer.writerow([phone(i), FIRST_NAMES[i % len(FIRST_NAMES)], f"A-{i:07d}"])
    return path


def write_campaign(folder: Path, rows: int, api_url: str, rate: str = "10/s") -> Path:
    sheet = folder / f"sheet-{rows}.csv"
    if not sheet.exists():
        write_sheet(sheet, rows)
    path = folder / f"campaign-{rows}-{abs(hash((api_url, rate)))}.yaml"
    text = CAMPAIGN_YAML.format(source=sheet, api_url=api_url, rate=rate, folder=folder)
    path.write_text(text, encoding="utf-8")
    return path


def sent_record(i: int) -> ResultRecord:
    """Row i as a resume finds it: sent, with the ids and time the API answered."""
    e164 = "+1" + f"212{2_000_000 + i:07d}"
    digest = hashlib.blake2b(str(i).encode(), digest_size=27).digest()
    return ResultRecord(
        row=i + 1,
        phone=e164,
        outcome=Outcome.SENT,
        identity=e164,
        message_id=str(5_100_000 + i),
        request_id=str(uuid.UUID(int=i * 7919 + 1, version=4)),
        channel_message_id="wamid." + base64.b64encode(digest).decode("ascii"),
        http_status=201,
        attempts=1,
        updated_at=f"2026-05-01T10:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}Z",
    )


def write_results(path: Path, records: int, *, first: int = 1) -> Path:
    """A compact results file of ``records`` sent rows from row ``first``, in the exact format
    bulksend writes."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(BOM)
        writer = csv.writer(handle)  # the csv module's default line end is CRLF, like journal's
        writer.writerow(COLUMNS)
        writer.writerows(sent_record(i).to_csv_row() for i in range(first, first + records))
    return path


def run_child(
    kind: str,
    spec: dict[str, Any],
    timeout_s: float = 1800,
    *,
    child: Path = CHILD,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One measurement in a fresh interpreter (``child``); its last line of output, as JSON."""
    completed = subprocess.run(
        [sys.executable, str(child), kind, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        env=env,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


@contextmanager
def sandbox_process(latency_ms: float, *options: str) -> Iterator[str]:
    """`bulksend sandbox` in its own process, no rate limit; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bulksend", "sandbox", "--port", "0", "--rate-limit", "none"]
        + ["--latency", f"{latency_ms:g}ms", *options],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        for _ in range(50):  # the banner is a dozen lines
            match = re.search(r"listening on (http://\S+/api/v1)", process.stdout.readline())
            if match:
                break
        else:
            raise SystemExit("bulksend sandbox did not start")
        yield match.group(1)
    finally:
        process.terminate()
        process.wait(15)
        process.stdout.close()


class LedgerReader:
    """Accepted sends over HTTP, each read once (the ledger only grows)."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url.removesuffix("/api/v1") + "/_sandbox/ledger"
        self.seen = 0

    def new_entries(self) -> list[dict[str, Any]]:
        entries = requests.get(self.url, timeout=60).json()
        fresh, self.seen = entries[self.seen :], len(entries)
        return fresh


def max_in_window(times: list[float], window_s: float = 1.0) -> int:
    """The most timestamps inside any half-open window [t, t + window_s)."""
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


def check_sent(label: str, result: dict[str, Any], accepted: int) -> None:
    """Every row was sent exactly once, or the figures are not worth printing."""
    if result["sent"] != result["messages"] or accepted != result["sent"]:
        raise SystemExit(
            f"{label}: {result['messages']} requests, {result['sent']} sent, "
            f"{accepted} in the sandbox's ledger"
        )


def paced(options: argparse.Namespace, folder: Path) -> list[str]:
    latency = options.pace_latency_ms
    lines = [
        f"1. Paced: achieved rate against the target (sandbox: no rate limit, {latency:g} ms "
        f"latency; concurrency auto; median of {options.rounds} rounds of "
        f"~{options.pace_seconds:g} s; 'max in 1 s' is the worst round, from the ledger)",
        f"{'target/s':>8} {'rows':>6} {'achieved/s':>10} {'ledger/s':>9} {'max in 1 s':>10} "
        f"{'ok':>3} {'workers':>7} {'CPU ms/msg':>10}",
    ]
    with sandbox_process(latency) as base_url:
        ledger = LedgerReader(base_url)
        for rate in options.rates:
            rows = max(2, round(rate * options.pace_seconds))
            campaign = write_campaign(folder, rows, base_url, f"{rate}/s")
            achieved, measured, windows, cpu, workers = [], [], [], [], []
            for n in range(options.rounds):
                spec = {"campaign": str(campaign), "results": str(folder / f"p{rate}-{n}.csv")}
                result = run_child("send", spec)
                entries = ledger.new_entries()
                check_sent(f"{rate}/s", result, len(entries))
                times = sorted(entry["received_at"] for entry in entries)
                achieved.append(result["achieved_per_s"])
                measured.append((len(times) - 1) / (times[-1] - times[0]))
                windows.append(max_in_window(times))
                cpu.append(result["cpu_s"] / result["messages"] * 1000)
                workers.append(result["workers"])
            ok = "yes" if max(windows) <= rate else "NO"
            lines.append(
                f"{rate:>8} {rows:>6} {statistics.median(achieved):>10.1f} "
                f"{statistics.median(measured):>9.1f} {max(windows):>10} {ok:>3} "
                f"{max(workers):>7} {statistics.median(cpu):>10.2f}"
            )
            print(lines[-1], file=sys.stderr, flush=True)
    return lines


def unpaced_cases(options: argparse.Namespace, latency: float) -> list[tuple[str, str, int]]:
    rows = options.rows_0ms if latency == 0 else options.rows_50ms
    plain_rows = rows if latency == 0 else options.plain_rows_50ms
    return [
        ("bulksend, concurrency auto", "auto", rows),
        (f"bulksend, concurrency {options.concurrency}", "fixed", rows),
        ("plain requests.Session loop", "plain", plain_rows),
    ]


def unpaced_case(
    kind: str, campaign: Path, rows: int, options: argparse.Namespace, results: Path
) -> dict[str, Any]:
    if kind == "plain":
        return run_child("plain", {"campaign": str(campaign), "limit": rows})
    spec = {"campaign": str(campaign), "results": str(results), "rate": UNPACED_RATE}
    if kind == "fixed":
        spec["concurrency"] = options.concurrency
    return run_child("send", spec)


def unpaced(options: argparse.Namespace, folder: Path) -> list[str]:
    lines = [
        f"2. Unpaced throughput (rate {UNPACED_RATE}, sandbox: no rate limit; median of "
        f"{options.rounds} rounds; bulksend's time is the whole send_campaign call, rendering "
        "included; the plain loop's bodies are rendered by bulksend beforehand and not timed)",
        f"{'latency':>7}  {'sender':<30} {'rows':>6} {'msg/s':>8} {'vs plain':>8} "
        f"{'CPU ms/msg':>10} {'workers':>7}",
    ]
    for latency in options.latencies_ms:
        with sandbox_process(latency) as base_url:
            ledger = LedgerReader(base_url)
            rates: dict[str, float] = {}
            found: list[tuple[str, int, float, float, int]] = []
            for label, kind, rows in unpaced_cases(options, latency):
                campaign = write_campaign(folder, rows, base_url)
                speeds, cpu, workers = [], [], 0
                for n in range(options.rounds):
                    results = folder / f"u{latency:g}-{kind}-{n}.csv"
                    result = unpaced_case(kind, campaign, rows, options, results)
                    check_sent(label, result, len(ledger.new_entries()))
                    speeds.append(result["messages"] / result["seconds"])
                    cpu.append(result["cpu_s"] / result["messages"] * 1000)
                    workers = max(workers, result.get("workers", 1))
                rates[kind] = statistics.median(speeds)
                found.append((label, rows, rates[kind], statistics.median(cpu), workers))
                print(f"{latency:g} ms {label}: {rates[kind]:.0f}/s", file=sys.stderr, flush=True)
            for label, rows, speed, cpu_ms, workers in found:
                ratio = f"x{speed / rates['plain']:.2f}"
                lines.append(
                    f"{latency:>5g}ms  {label:<30} {rows:>6} {speed:>8.0f} {ratio:>8} "
                    f"{cpu_ms:>10.2f} {workers:>7}"
                )
    return lines


def memory_row(label: str, size: str, result: dict[str, Any], floor_mb: float) -> str:
    peak = result["peak_rss_mb"]
    return (
        f"{label:<44} {size:>18} {result.get('seconds', 0):>8.1f} {peak:>8.0f} "
        f"{peak - floor_mb:>9.0f}"
    )


def memory(options: argparse.Namespace, folder: Path) -> tuple[list[str], dict[str, Any]]:
    lines = [
        "3. Peak RSS (VmHWM of a fresh interpreter; 'over floor' subtracts the imports-only peak)",
        f"{'what':<44} {'size':>18} {'seconds':>8} {'peak MB':>8} {'over floor':>9}",
    ]
    floor = run_child("imports", {})["peak_rss_mb"]
    lines.append(f"{'imports only (bulksend.engine, requests)':<44} {'':>18} {'':>8} {floor:>8.0f}")
    with sandbox_process(0) as base_url:
        for rows in options.dry_run_rows:
            campaign = write_campaign(folder, rows, base_url)
            spec = {"campaign": str(campaign), "results": str(folder / "dry.csv"), "dry_run": True}
            spec["rate"] = UNPACED_RATE
            result = run_child("send", spec)
            lines.append(memory_row("send --dry-run", f"{rows:,} rows", result, floor))
            print(lines[-1], file=sys.stderr, flush=True)
        for rows in options.send_rows:
            campaign = write_campaign(folder, rows, base_url)
            spec = {"campaign": str(campaign), "results": str(folder / f"send-{rows}.csv")}
            spec["rate"] = UNPACED_RATE
            result = run_child("send", spec)
            lines.append(memory_row("send (sandbox 0 ms, auto)", f"{rows:,} rows", result, floor))
            print(lines[-1], file=sys.stderr, flush=True)
        records = options.resume_records
        unsent = options.resume_unsent
        big = write_results(folder / "resume.csv", records, first=unsent + 1)
        loaded = run_child("load", {"results": str(big)})
        label = "resume checkpoint: Checkpoint.load()"
        lines.append(memory_row(label, f"{records:,} records", loaded, floor))
        lines.append(
            f"{'  of which still held after loading':<44} {'':>18} {'':>8} "
            f"{loaded['held_mb']:>8.0f} {loaded['held_mb'] - floor:>9.0f}"
        )
        print(lines[-1], file=sys.stderr, flush=True)
        sheet_rows = options.resume_sheet_rows
        campaign = write_campaign(folder, sheet_rows, base_url)
        spec = {"campaign": str(campaign), "results": str(big), "rate": UNPACED_RATE}
        result = run_child("send", spec)
        if result["sent"] != unsent:
            raise SystemExit(f"resume sent {result['sent']} rows, not the {unsent} unsent ones")
        lines.append(
            memory_row(
                f"send resume: {sheet_rows:,}-row sheet, {unsent} unsent",
                f"{records:,} records",
                result,
                floor,
            )
        )
        lines.append("  (that run ends by compacting the file: all its lines, sorted on disk)")
    peak = max(loaded["peak_rss_mb"], result["peak_rss_mb"])
    return lines, {"floor": floor, "resume_peak": peak, "results": big}


def where_it_goes(options: argparse.Namespace, big: Path, folder: Path) -> list[str]:
    records = min(options.trace_records, options.resume_records)
    path = big if records == options.resume_records else write_results(folder / "t.csv", records)
    traced = run_child("trace", {"results": str(path)})
    lines = [
        f"Where the checkpoint's memory goes (tracemalloc over Checkpoint.load() of {records:,} "
        f"records: {traced['held_mb']:.0f} MB held, {traced['peak_mb']:.0f} MB peak "
        f"= {traced['held_mb'] * 2**20 / records:.0f} B held per record)",
        "  allocated at (top lines)                  MB    blocks",
    ]
    for stat in traced["top"]:
        lines.append(f"  {stat['where']:<36} {stat['mb']:>8.1f} {stat['blocks']:>9,}")
    return lines


def parse_options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="a ~30 s smoke run with small sizes")
    add("--rounds", type=int, help="repeats per figure (default 3; quick 1)")
    add("--rates", type=int, nargs="+", help="paced targets per second (default 20 200)")
    add("--pace-seconds", type=float, help="length of a paced round (default 4; quick 1.5)")
    add("--pace-latency-ms", type=float, default=10.0, help="sandbox latency when paced")
    add("--latencies-ms", type=float, nargs="+", default=[0.0, 50.0], help="unpaced latencies")
    add("--rows-0ms", type=int, help="rows per unpaced round at 0 ms (default 1500)")
    add("--rows-50ms", type=int, help="bulksend rows per unpaced round at 50 ms (default 500)")
    add("--plain-rows-50ms", type=int, help="plain-loop rows at 50 ms (default 100)")
    add("--concurrency", type=int, default=8, help="the fixed concurrency compared with auto")
    add("--dry-run-rows", type=int, nargs="+", help="dry-run sizes (default 20000 200000)")
    add("--send-rows", type=int, nargs="+", help="real send sizes (default 2000 8000)")
    add("--resume-records", type=int, help="results records to resume from (default 1000000)")
    add("--resume-sheet-rows", type=int, default=1000, help="sheet rows in the resume send")
    add("--resume-unsent", type=int, default=100, help="of those, rows the results lack")
    add("--trace-records", type=int, help="records for the tracemalloc breakdown (default 100000)")
    add("--skip", nargs="+", default=[], choices=["paced", "unpaced", "memory"])
    options = parser.parse_args(argv)
    quick = options.quick
    defaults: dict[str, Any] = {
        "rounds": 1 if quick else 3,
        "rates": [20, 200],
        "pace_seconds": 1.5 if quick else 4.0,
        "rows_0ms": 300 if quick else 1500,
        "rows_50ms": 200 if quick else 500,
        "plain_rows_50ms": 40 if quick else 100,
        "dry_run_rows": [5000] if quick else [20_000, 200_000],
        "send_rows": [500] if quick else [2000, 8000],
        "resume_records": 20_000 if quick else 1_000_000,
        "trace_records": 20_000 if quick else 100_000,
    }
    for name, value in defaults.items():
        if getattr(options, name) is None:
            setattr(options, name, value)
    return options


def main(argv: list[str]) -> int:
    options = parse_options(argv)
    print(
        f"bulksend send benchmarks, {os.cpu_count()} cores{' (--quick)' if options.quick else ''}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-send-") as name:
        folder = Path(name)
        sections = []
        if "paced" not in options.skip:
            sections.append(paced(options, folder))
        if "unpaced" not in options.skip:
            sections.append(unpaced(options, folder))
        if "memory" not in options.skip:
            lines, found = memory(options, folder)
            over = found["resume_peak"] - found["floor"]
            if over > RESUME_LIMIT_MB:
                lines.append(
                    f"The resume costs {over:.0f} MB: over the {RESUME_LIMIT_MB} MB budget."
                )
            if over > RESUME_LIMIT_MB or options.quick:
                lines += ["", *where_it_goes(options, found["results"], folder)]
            sections.append(lines)
        for lines in sections:
            print()
            print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
