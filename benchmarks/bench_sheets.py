"""Streaming speed and peak memory of ``open_sheet`` beside a bare pandas read of the same file.

    python benchmarks/bench_sheets.py [--rows N ...] [--xlsx-rows N]

Generates CSVs (default 100,000 and 1,000,000 rows) and an XLSX (default 100,000 rows) in a temp
folder. Each measurement runs in a fresh interpreter that reports its own peak RSS (VmHWM: the
high-water mark of that process alone, unlike RUSAGE_CHILDREN which keeps the largest child ever
waited for), so one run cannot inflate another's figure. "imports only" is the floor every run
starts from.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Run in the child: read the file once, report rows, seconds and peak RSS as one JSON line.
CHILD = r"""
import json, sys, time
sys.path.insert(0, {repo!r})
method, path = sys.argv[1], sys.argv[2]

def peak_rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

if method == "bulksend":
    from bulksend.sheets import open_sheet
    import openpyxl  # noqa: F401  (same import floor for CSV and XLSX)
elif method.startswith("pandas"):
    import pandas
started = time.perf_counter()
rows = 0
if method == "bulksend" and path:
    from pathlib import Path
    with open_sheet(Path(path)) as sheet:
        for row in sheet.rows():
            rows += 1
elif method == "pandas.read_csv":
    rows = len(pandas.read_csv(path, dtype=str))
elif method == "pandas.read_excel":
    rows = len(pandas.read_excel(path, dtype=str))
elapsed = time.perf_counter() - started
print(json.dumps({{"rows": rows, "seconds": elapsed, "peak_rss_mb": peak_rss_mb()}}))
"""

COLUMNS = ["Phone", "First name", "Last name", "Order Id", "City", "Signed up"]


def row_values(n: int) -> list[object]:
    return [
        f"+1 201 555 {n % 10_000:04d}" if n % 3 else 12015550000 + n % 10_000,
        f"First{n % 997}",
        f"Last name {n % 1013}",
        f"A-{n:07d}",
        ("Zürich", "Köln", "Oslo", "São Paulo")[n % 4],
        f"2026-0{n % 9 + 1}-1{n % 9}",
    ]


def make_csv(folder: Path, rows: int) -> Path:
    path = folder / f"sheet_{rows}.csv"
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        writer.writerows(row_values(n) for n in range(rows))
    return path


def make_xlsx(folder: Path, rows: int) -> Path:
    import openpyxl

    path = folder / f"sheet_{rows}.xlsx"
    workbook = openpyxl.Workbook(write_only=True)
    worksheet = workbook.create_sheet("Customers")
    worksheet.append(COLUMNS)
    for n in range(rows):
        worksheet.append(row_values(n))
    workbook.save(path)
    return path


def measure(method: str, path: Path | None) -> dict[str, float]:
    code = CHILD.format(repo=str(REPO))
    argv = [sys.executable, "-c", code, method, str(path or "")]
    completed = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=3600)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def table_line(label: str, method: str, size_mb: float | None, result: dict[str, float]) -> str:
    rate = result["rows"] / result["seconds"] if result["seconds"] and result["rows"] else 0
    size = f"{size_mb:8.1f}" if size_mb is not None else " " * 8
    return (
        f"{label:<22} {method:<18} {size} {int(result['rows']):>10,} {result['seconds']:9.2f}"
        f" {rate:>12,.0f} {result['peak_rss_mb']:10.1f}"
    )


def run(csv_rows: list[int], xlsx_rows: int) -> list[str]:
    header = (
        f"{'file':<22} {'reader':<18} {'size MB':>8} {'rows':>10} {'seconds':>9}"
        f" {'rows/s':>12} {'peak MB':>10}"
    )
    lines = [header, "-" * len(header)]
    lines.append(table_line("(nothing read)", "imports only", None, measure("bulksend", None)))
    with tempfile.TemporaryDirectory(prefix="bench_sheets_") as folder:
        files = [make_csv(Path(folder), rows) for rows in csv_rows]
        if xlsx_rows:
            files.append(make_xlsx(Path(folder), xlsx_rows))
        for path in files:
            pandas_method = "pandas.read_csv" if path.suffix == ".csv" else "pandas.read_excel"
            size_mb = path.stat().st_size / 2**20
            for method in ("bulksend", pandas_method):
                lines.append(table_line(path.name, method, size_mb, measure(method, path)))
                print(lines[-1], file=sys.stderr, flush=True)
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, action="append", help="CSV rows (repeatable)")
    parser.add_argument("--xlsx-rows", type=int, default=100_000, help="XLSX rows; 0 skips it")
    options = parser.parse_args(argv)
    for line in run(options.rows or [100_000, 1_000_000], options.xlsx_rows):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
