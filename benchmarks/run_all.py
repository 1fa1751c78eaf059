"""`make bench`: run every benchmarks/bench_*.py in its own process and keep their tables.

Each script prints its own table (medians and side-by-side ratios measured in one run). This runner
adds the date and machine, and writes everything to benchmarks/out/latest.txt so the figures can be
copied into BENCHMARKS.md.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine_line() -> str:
    cores = os.cpu_count()
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {cores} cores, "
        f"{memory_gib:.0f} GiB, Python {platform.python_version()}"
    )


def main(argv: list[str]) -> int:
    selected = set(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if selected:
        scripts = [s for s in scripts if {s.stem, s.stem.removeprefix("bench_")} & selected]
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    lines = [f"# bulksend benchmarks, {machine_line()}", ""]
    status = 0
    for script in scripts:
        print(f"== {script.name}", flush=True)
        completed = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, check=False
        )
        print(completed.stdout, end="", flush=True)
        if completed.returncode != 0:
            print(completed.stderr, file=sys.stderr)
            status = 1
        lines += [f"## {script.name} (exit {completed.returncode})", "", completed.stdout, ""]
    (out_dir / "latest.txt").write_text("\n".join(lines), encoding="utf-8")
    print(f"written: {out_dir / 'latest.txt'}")
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
