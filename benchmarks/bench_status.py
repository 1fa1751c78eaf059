"""Status: lookups per second of ``check_status`` against the sandbox beside a plain requests loop
of GETs over the same message ids, with the CPU time per lookup; and the peak memory of status runs
over a large results file and of merging a status journal into one.

    python benchmarks/bench_status.py [--quick] [--rounds N] [--big-rows N] ...  (--help)

As in bench_send.py, the sandbox runs in its own process (`bulksend sandbox --rate-limit none`)
and every measurement runs in a fresh interpreter (benchmarks/_status_child.py), so the CPU time
and the peak RSS are the status run's alone. The lookups are SMS per-message status GETs: a
WhatsApp run starts with one list call that answers for up to 100 recent messages, which would
flatter the rate. The messages are sent once, untimed, into a sandbox ledger file that every
sandbox of the run reloads, so the slow sandbox need not take the sends too.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import statistics
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import bench_send
import requests

from bulksend.channels import Channel
from bulksend.journal import BOM
from bulksend.results import COLUMNS, Outcome, ResultRecord
from bulksend.sandbox import DEMO_KEYS
from bulksend.status_fields import StatusAnswer
from bulksend.status_journal import AnswerJournal, sidecar_path

HERE = Path(__file__).resolve().parent
CHILD = HERE / "_status_child.py"
KEY_ENV = "BENCH_STATUS_KEY"
UNPACED_RATE = "100000/s"
FIRST_MESSAGE_ID = 5_100_001  # the sandbox's first, so that the fake ids look like real ones
CAMPAIGN_YAML = """\
name: bench-status
channel: sms
source: {folder}/people.csv
phone_column: Phone
api_url: {api_url}
api_key_env: {key_env}
rate: 10/s
results: {folder}/unused.csv
text: "Hi {{{{ name }}}}"
"""
FIELDS_OF = {
    "sent": {"sent_at": "2026-05-02T09:00:01Z"},
    "delivered": {"sent_at": "2026-05-02T09:00:01Z", "delivered_at": "2026-05-02T09:00:04Z"},
}


def sms_phone(i: int) -> str:
    return f"+4477{i:08d}"


def sms_record(i: int, message_id: str, status: str = "") -> ResultRecord:
    """Row i as a send leaves it (``status`` empty), or as an earlier status run left it."""
    checked = {"status_checked_at": "2026-05-02T10:00:00Z"} if status else {}
    return ResultRecord(
        row=i + 2,
        phone=sms_phone(i),
        outcome=Outcome.SENT,
        identity=sms_phone(i),
        message_id=message_id,
        request_id=f"req-{i:08x}",
        http_status=201,
        attempts=1,
        updated_at="2026-05-02T09:00:00.000Z",
        delivery_status=status,
        **FIELDS_OF.get(status, {}),
        **checked,
    )


def write_results(path: Path, records: Iterable[ResultRecord]) -> Path:
    """A results file in the exact format bulksend writes."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(BOM)
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(record.to_csv_row() for record in records)
    return path


def fake_results(path: Path, rows: int, status: str) -> Path:
    records = (sms_record(i, str(FIRST_MESSAGE_ID + i), status) for i in range(rows))
    return write_results(path, records)


def write_journal(results: Path, answers: int, rows: int) -> None:
    """A status journal beside ``results`` answering ``answers`` rows spread over its ``rows``."""
    step = max(1, rows // answers)
    fields = {
        "delivery_status": "delivered",
        "sent_at": "2026-05-02T09:00:01Z",
        "delivered_at": "2026-05-02T09:00:04Z",
        "status_checked_at": "2026-05-02T11:00:00Z",
    }
    journal = AnswerJournal(sidecar_path(results))
    try:
        journal.record_all(
            StatusAnswer(str(FIRST_MESSAGE_ID + i), sms_phone(i), fields)
            for i in range(0, step * answers, step)
        )
    finally:
        journal.close()


def write_campaign(folder: Path, api_url: str) -> Path:
    (folder / "people.csv").write_text("Phone,name\n+447700900001,Ann\n", encoding="utf-8")
    path = folder / f"campaign-{abs(hash(api_url))}.yaml"
    text = CAMPAIGN_YAML.format(folder=folder, api_url=api_url, key_env=KEY_ENV)
    path.write_text(text, encoding="utf-8")
    return path


def run_child(kind: str, spec: dict[str, Any], timeout_s: float = 1800) -> dict[str, Any]:
    environ = {**os.environ, KEY_ENV: DEMO_KEYS[Channel.SMS]}
    return bench_send.run_child(kind, spec, timeout_s, child=CHILD, env=environ)


def sandbox_process(latency_ms: float, ledger: Path) -> contextlib.AbstractContextManager[str]:
    """`bulksend sandbox` in its own process on ``ledger``, no rate limit; yields its base URL."""
    return bench_send.sandbox_process(latency_ms, "--ledger", str(ledger))


class StatusGets:
    """Status GETs the sandbox answered 200, over HTTP, each counted once (the log only grows)."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url.removesuffix("/api/v1") + "/_sandbox/requests"
        self.seen = 0

    def new_count(self) -> int:
        seen = requests.get(self.url, timeout=60).json()
        fresh, self.seen = seen[self.seen :], len(seen)
        return sum(r["method"] == "GET" and r["status"] == 200 for r in fresh)


def send_messages(folder: Path, count: int) -> tuple[Path, list[str]]:
    """``count`` SMS sent to a sandbox that keeps them in a ledger file; their message ids."""
    ledger = folder / "ledger.jsonl"
    message_ids = []
    with sandbox_process(0, ledger) as base_url, requests.Session() as http:
        http.headers["X-Octopods-Auth"] = DEMO_KEYS[Channel.SMS]
        for i in range(count):
            body = {"destination_phone": sms_phone(i), "body": "Hi"}
            answer = http.post(f"{base_url}/sms/messages", json=body, timeout=30)
            if answer.status_code != 201:
                raise SystemExit(f"set-up send {i} refused: {answer.status_code} {answer.text}")
            message_ids.append(str(answer.json()["message_id"]))
    return ledger, message_ids


def throughput_cases(options: argparse.Namespace, latency: float) -> list[tuple[str, str, int]]:
    rows = options.rows_0ms if latency == 0 else options.rows_200ms
    plain_rows = rows if latency == 0 else options.plain_rows_200ms
    return [
        (f"bulksend, rate {options.paced_rate}", options.paced_rate, options.rows_paced),
        (f"bulksend, unpaced ({UNPACED_RATE})", UNPACED_RATE, rows),
        ("plain requests.Session loop", "", plain_rows),
    ]


def lookup_round(
    kind: str, rate: str, rows: int, message_ids: list[str], campaign: Path, results: Path
) -> dict[str, Any]:
    """One round on a fresh results file of ``rows`` sent rows, none with a status yet."""
    write_results(results, (sms_record(i, message_ids[i]) for i in range(rows)))
    spec = {"campaign": str(campaign), "results": str(results), "rate": rate or UNPACED_RATE}
    if kind == "plain":
        return run_child("plain", {**spec, "limit": rows})
    return run_child("status", spec)


def check_asked(label: str, result: dict[str, Any], gets: int) -> None:
    """Every row was asked about once and answered, or the figures are not worth printing."""
    if not result["tracked"] == result["asked"] == gets or result.get("exit", 0) != 0:
        raise SystemExit(
            f"{label}: {result['tracked']} rows, {result['asked']} answered, {gets} status GETs "
            f"answered by the sandbox, exit {result.get('exit', 0)}"
        )


def throughput(options: argparse.Namespace, folder: Path) -> list[str]:
    lines = [
        f"1. Lookups per second (SMS per-message status GETs; sandbox in its own process, no rate "
        f"limit; median of {options.rounds} rounds; bulksend's time is the whole check_status "
        "call: file scan, lookups, journal, merge; the plain loop's ids are read beforehand and "
        "not timed; the messages were sent before, untimed)",
        f"{'latency':>7}  {'asker':<34} {'rows':>6} {'lookups/s':>9} {'vs plain':>8} "
        f"{'CPU ms/lookup':>13} {'workers':>7}",
    ]
    cases = [
        case for latency in options.latencies_ms for case in throughput_cases(options, latency)
    ]
    ledger, message_ids = send_messages(folder, max(rows for _, _, rows in cases))
    for latency in options.latencies_ms:
        with sandbox_process(latency, ledger) as base_url:
            campaign = write_campaign(folder, base_url)
            gets = StatusGets(base_url)
            speeds: dict[str, float] = {}
            found: list[tuple[str, int, float, float, int]] = []
            for label, rate, rows in throughput_cases(options, latency):
                kind = "status" if rate else "plain"
                per_s, cpu, workers = [], [], 0
                for n in range(options.rounds):
                    results = folder / f"t{latency:g}-{kind}-{rate.replace('/', '_')}-{n}.csv"
                    result = lookup_round(kind, rate, rows, message_ids, campaign, results)
                    check_asked(label, result, gets.new_count())
                    per_s.append(result["asked"] / result["seconds"])
                    cpu.append(result["cpu_s"] / result["asked"] * 1000)
                    workers = max(workers, result.get("workers", 1))
                speeds[label] = statistics.median(per_s)
                found.append((label, rows, speeds[label], statistics.median(cpu), workers))
                print(f"{latency:g} ms {label}: {speeds[label]:.0f}/s", file=sys.stderr, flush=True)
            plain = next(speed for label, _, speed, _, _ in found if label.startswith("plain"))
            for label, rows, speed, cpu_ms, workers in found:
                lines.append(
                    f"{latency:>5g}ms  {label:<34} {rows:>6} {speed:>9.0f} "
                    f"{f'x{speed / plain:.2f}':>8} {cpu_ms:>13.2f} {workers:>7}"
                )
    return lines


def memory_row(label: str, size: str, result: dict[str, Any], floor_mb: float) -> str:
    peak = result["peak_rss_mb"]
    return (
        f"{label:<46} {size:>16} {result['asked']:>9,} {result['seconds']:>8.1f} "
        f"{peak:>8.0f} {peak - floor_mb:>10.0f}"
    )


def check_instant(label: str, result: dict[str, Any], rows: int, asked: int) -> None:
    if not result["tracked"] == result["final"] == rows or not result["asked"] == asked:
        raise SystemExit(f"{label}: expected {rows} rows final and {asked} asked, got {result}")
    if result["calls"] != asked or result["exit"] != 0:
        raise SystemExit(f"{label}: {result['calls']} lookups made for {asked} rows: {result}")


def memory(options: argparse.Namespace, folder: Path) -> list[str]:
    lines = [
        "2. Peak RSS of status runs (VmHWM of a fresh interpreter; 'over floor' subtracts the "
        "imports-only peak). The runs are check_status with an in-process fake API that answers "
        "every lookup at once with an SMS 'delivered' (no HTTP: bulksend's own cost); the merge "
        "is merge_answers of a <results>.status journal alone",
        f"{'what':<46} {'size':>16} {'answered':>9} {'seconds':>8} {'peak MB':>8} "
        f"{'over floor':>10}",
    ]
    floor = run_child("imports", {})["peak_rss_mb"]
    lines.append(
        f"{'imports only (bulksend.status, requests)':<46} {'':>16} {'':>9} {'':>8} {floor:>8.0f}"
    )
    campaign = write_campaign(folder, "https://example.invalid/api/v1")
    spec = {"campaign": str(campaign), "rate": UNPACED_RATE}
    rows = options.big_rows
    big = fake_results(folder / "big.csv", rows, "delivered")
    label = "status, every row already final (asks nothing)"
    result = run_child("instant", {**spec, "results": str(big)})
    check_instant(label, result, rows, 0)
    lines.append(memory_row(label, f"{rows:,} rows", result, floor))
    print(lines[-1], file=sys.stderr, flush=True)
    for answered in options.answered_rows:
        path = fake_results(folder / f"answered-{answered}.csv", answered, "")
        label = "status, every row answered (fake API)"
        result = run_child("instant", {**spec, "results": str(path)})
        check_instant(label, result, answered, answered)
        lines.append(memory_row(label, f"{answered:,} rows", result, floor))
        print(lines[-1], file=sys.stderr, flush=True)
    answers = min(options.merge_answers, rows)
    write_journal(big, answers, rows)
    result = run_child("merge", {"results": str(big)})
    if result["answers"] != answers or sidecar_path(big).exists():
        raise SystemExit(f"merge: {result['answers']} of the {answers} answers merged: {result}")
    result["asked"] = answers
    lines.append(memory_row("merge of a status journal", f"{rows:,} rows", result, floor))
    lines.append(
        "  (every row answered is measured on smaller files to keep the default run near 2 min; "
        "--answered-rows 1000000 measures a million, in minutes)"
    )
    return lines


def parse_options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="a ~20 s smoke run with small sizes")
    add("--rounds", type=int, help="repeats per throughput figure (default 3; quick 1)")
    add("--latencies-ms", type=float, nargs="+", default=[0.0, 200.0], help="sandbox latencies")
    add("--paced-rate", default="100/s", help="the paced bulksend case's campaign rate")
    add("--rows-paced", type=int, help="rows per round of the paced case (default 300)")
    add("--rows-0ms", type=int, help="rows per unpaced and plain round at 0 ms (default 1500)")
    add("--rows-200ms", type=int, help="rows per unpaced round at other latencies (default 1000)")
    add("--plain-rows-200ms", type=int, help="plain-loop rows at other latencies (default 20)")
    add("--big-rows", type=int, help="rows of the all-final file and the merge (default 1000000)")
    add("--answered-rows", type=int, nargs="+", help="all-answered sizes (default 20000 100000)")
    add("--merge-answers", type=int, help="answers in the merged journal (default 100000)")
    add("--skip", nargs="+", default=[], choices=["throughput", "memory"])
    options = parser.parse_args(argv)
    quick = options.quick
    defaults: dict[str, Any] = {
        "rounds": 1 if quick else 3,
        "rows_paced": 50 if quick else 300,
        "rows_0ms": 200 if quick else 1500,
        "rows_200ms": 100 if quick else 1000,
        "plain_rows_200ms": 5 if quick else 20,
        "big_rows": 20_000 if quick else 1_000_000,
        "answered_rows": [2000] if quick else [20_000, 100_000],
        "merge_answers": 2000 if quick else 100_000,
    }
    for name, value in defaults.items():
        if getattr(options, name) is None:
            setattr(options, name, value)
    return options


def main(argv: list[str]) -> int:
    options = parse_options(argv)
    quick = " (--quick)" if options.quick else ""
    print(
        f"bulksend status benchmarks, {os.cpu_count()} cores{quick}: 1. lookups/s of check_status "
        "beside a plain requests loop; 2. peak memory of large status runs and of the merge"
    )
    with tempfile.TemporaryDirectory(prefix="bench-status-") as name:
        folder = Path(name)
        sections = []
        if "throughput" not in options.skip:
            sections.append(throughput(options, folder))
        if "memory" not in options.skip:
            sections.append(memory(options, folder))
        for lines in sections:
            print()
            print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
