"""Speed and peak memory of `validate` at 100,000 and 1,000,000 rows, beside a bare pandas read.

Run: ``python benchmarks/bench_validate.py [ROWS ...]``. Each measurement runs in a fresh
subprocess so its peak RSS is its own. The issue asks 1,000,000 rows to validate in under 300 MB.
"""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (100_000, 1_000_000)
RSS_LIMIT_MB = 300
FIRST_NAMES = ("dana", "Omar", "LI", "José", "Anna-Maria", "ngozi", "Sven", "")
CAMPAIGN_YAML = """\
name: bench
channel: whatsapp
template_id: 539
source: {source}
phone_column: Phone
default_region: US
variables:
  - {{template: "{{{{ first_name | title }}}}", default: friend}}
  - Order Id
contact_name: "{{{{ first_name }}}}"
api_url: sandbox
results: {results}
"""


def phone(i: int) -> str:
    """Mostly unique valid US numbers in mixed formats, with some repeats and some invalid."""
    if i % 97 == 0:
        return "12345"  # too short: invalid
    number = 2_000_000 + (i - 1 if i % 50 == 0 else i)  # every 50th repeats the previous
    text = f"212{number:07d}"
    return (
        f"+1 {text[:3]} {text[3:6]} {text[6:]}" if i % 3 else f"({text[:3]}) {text[3:6]}-{text[6:]}"
    )


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Phone", "first_name", "last_name", "Order Id"])
        for i in range(1, rows + 1):
            writer.writerow([phone(i), FIRST_NAMES[i % len(FIRST_NAMES)], "Smith", f"A-{i:07d}"])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child_validate(campaign_path: str) -> dict[str, float]:
    from bulksend.campaign import load_campaign
    from bulksend.validate import validate_campaign

    campaign = load_campaign(Path(campaign_path))
    started = time.perf_counter()
    report = validate_campaign(campaign, preview=0)
    seconds = time.perf_counter() - started
    return {"rows": report.rows_read, "sendable": report.sendable, "seconds": seconds}


def child_pandas(csv_path: str) -> dict[str, float]:
    import pandas

    started = time.perf_counter()
    frame = pandas.read_csv(csv_path, dtype=str, keep_default_na=False)
    seconds = time.perf_counter() - started
    return {"rows": len(frame), "sendable": len(frame), "seconds": seconds}


def run_child(kind: str, path: Path) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure(rows: int, folder: Path) -> list[str]:
    source = folder / f"bench-{rows}.csv"
    write_csv(source, rows)
    campaign = folder / f"bench-{rows}.yaml"
    results = folder / f"results-{rows}" / "bench.csv"
    campaign.write_text(CAMPAIGN_YAML.format(source=source, results=results), encoding="utf-8")
    lines = []
    for label, kind, path in (
        ("bulksend validate", "validate", campaign),
        ("pandas.read_csv", "pandas", source),
    ):
        result = run_child(kind, path)
        rate = result["rows"] / result["seconds"]
        lines.append(
            f"{rows:>10,}  {label:<18} {result['seconds']:>8.1f} s {rate:>10,.0f} rows/s "
            f"{result['peak_rss_mb']:>8.0f} MB"
        )
        if kind == "validate" and rows >= 1_000_000 and result["peak_rss_mb"] > RSS_LIMIT_MB:
            lines.append(f"  OVER THE {RSS_LIMIT_MB} MB LIMIT")
    source.unlink()
    return lines


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        kind, path = argv[1], argv[2]
        result = child_validate(path) if kind == "validate" else child_pandas(path)
        result["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return 0
    sizes = [int(arg) for arg in argv] or list(SIZES)
    print(f"{'rows':>10}  {'what':<18} {'time':>10} {'speed':>17} {'peak RSS':>11}")
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as folder:
        for rows in sizes:
            for line in measure(rows, Path(folder)):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
