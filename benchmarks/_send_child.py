"""The measuring side of bench_send.py: one measurement per fresh interpreter.

    python benchmarks/_send_child.py KIND 'JSON SPEC'

prints one JSON line. CPU time is this process's user + system time from getrusage (every thread
of the sender, nothing of the sandbox, which runs in its own process); peak RSS is VmHWM, the
high-water mark of this process alone. Heavy imports happen inside each kind, after the floor is
known, so "imports only" is what every kind starts from.
"""

from __future__ import annotations

import dataclasses
import json
import linecache
import resource
import sys
import time
from pathlib import Path
from typing import Any

Spec = dict[str, Any]


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def status_mb(field: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of this process, in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} in /proc/self/status")


def sandbox_environ() -> dict[str, str]:
    from bulksend.channels import Channel
    from bulksend.sandbox.config import DEMO_KEYS

    return {"OCTOPODS_API_KEY": DEMO_KEYS[Channel.WHATSAPP]}


def import_floor() -> None:
    """What every kind imports first, so that each starts from the same "imports only" RSS."""
    import requests  # noqa: F401

    import bulksend.engine  # noqa: F401


def child_imports(spec: Spec) -> dict[str, Any]:
    return {"peak_rss_mb": status_mb("VmHWM")}


def child_send(spec: Spec) -> dict[str, Any]:
    """``send_campaign`` once; the results file is ``spec['results']`` (fresh unless resuming)."""
    from bulksend.campaign import load_campaign, parse_rate
    from bulksend.engine import SendOptions, send_campaign

    campaign = load_campaign(Path(spec["campaign"]))
    campaign = dataclasses.replace(campaign, results_path=Path(spec["results"]))
    options = SendOptions(
        dry_run=spec.get("dry_run", False),
        rate=parse_rate(spec["rate"]) if spec.get("rate") else None,
        concurrency=spec.get("concurrency"),
    )
    floor_mb = status_mb("VmRSS")
    cpu_before = cpu_s()
    started = time.perf_counter()
    summary = send_campaign(campaign, options, environ=sandbox_environ())
    seconds = time.perf_counter() - started
    return {
        "messages": summary.rows_this_run if options.dry_run else summary.requests_this_run,
        "sent": summary.sent_this_run,
        "known": sum(summary.counts.values()),
        "seconds": seconds,
        "cpu_s": cpu_s() - cpu_before,
        "achieved_per_s": summary.achieved_rate_per_s,
        "workers": summary.workers,
        "exit": int(summary.exit_status),
        "floor_mb": floor_mb,
        "peak_rss_mb": status_mb("VmHWM"),
    }


def child_plain(spec: Spec) -> dict[str, Any]:
    """The bodies bulksend renders, POSTed one after another on one ``requests.Session``."""
    import requests

    from bulksend.campaign import load_campaign
    from bulksend.endpoint import connect
    from bulksend.prepare import Disposition, iter_prepared_rows

    campaign = load_campaign(Path(spec["campaign"]))
    environ = sandbox_environ()
    with connect(campaign, environ=environ) as client:
        template = client.get_template(campaign.template_id) if campaign.template_id else None
    rows = iter_prepared_rows(campaign, template=template)
    bodies = [row.body for row in rows if row.disposition is Disposition.SENDABLE]
    bodies = bodies[: spec["limit"]]
    url = f"{campaign.api_url}/{campaign.channel.send_path(campaign.template_id)}"
    headers = {"X-Octopods-Auth": environ["OCTOPODS_API_KEY"], "Accept": "application/json"}
    accepted = 0
    cpu_before = cpu_s()
    started = time.perf_counter()
    with requests.Session() as session:
        for body in bodies:
            answer = session.post(url, json=body, headers=headers, timeout=30)
            accepted += answer.status_code == 201
    seconds = time.perf_counter() - started
    return {
        "messages": len(bodies),
        "sent": accepted,
        "seconds": seconds,
        "cpu_s": cpu_s() - cpu_before,
        "peak_rss_mb": status_mb("VmHWM"),
    }


def child_load(spec: Spec) -> dict[str, Any]:
    """What the engine does at the start of a resume: the results file into a Checkpoint."""
    from bulksend.checkpoint import Checkpoint
    from bulksend.results import ResultsFile

    floor_mb = status_mb("VmRSS")
    started = time.perf_counter()
    checkpoint = Checkpoint.load(ResultsFile(Path(spec["results"])).iter_records())
    seconds = time.perf_counter() - started
    return {
        "records": len(checkpoint),
        "seconds": seconds,
        "floor_mb": floor_mb,
        "held_mb": status_mb("VmRSS"),
        "peak_rss_mb": status_mb("VmHWM"),
    }


def child_trace(spec: Spec) -> dict[str, Any]:
    """Where the checkpoint's memory goes: tracemalloc by line."""
    import tracemalloc

    from bulksend.checkpoint import Checkpoint
    from bulksend.results import ResultsFile

    tracemalloc.start()
    checkpoint = Checkpoint.load(ResultsFile(Path(spec["results"])).iter_records())
    held, peak = tracemalloc.get_traced_memory()
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    top = [
        {
            "where": f"{Path(stat.traceback[0].filename).name}:{stat.traceback[0].lineno}",
            "code": linecache.getline(stat.traceback[0].filename, stat.traceback[0].lineno).strip(),
            "mb": stat.size / 2**20,
            "blocks": stat.count,
        }
        for stat in snapshot.statistics("lineno")[: spec.get("top", 6)]
    ]
    return {
        "records": len(checkpoint),
        "held_mb": held / 2**20,
        "peak_mb": peak / 2**20,
        "top": top,
    }


KINDS = {
    "imports": child_imports,
    "send": child_send,
    "plain": child_plain,
    "load": child_load,
    "trace": child_trace,
}


def main(argv: list[str]) -> int:
    kind, spec = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    import_floor()
    print(json.dumps(KINDS[kind](spec)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
