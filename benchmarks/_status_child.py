"""The measuring side of bench_status.py: one measurement per fresh interpreter.

    python benchmarks/_status_child.py KIND 'JSON SPEC'

prints one JSON line, as benchmarks/_send_child.py does (its getrusage and VmHWM helpers are
reused): CPU time is this process's user + system time (all its threads, nothing of the sandbox,
which runs in its own process) and peak RSS is its own high-water mark. Heavy imports happen inside
each kind, after ``import_floor``, so "imports only" is what every kind starts from. The API key
comes from the environment the parent sets (``api_key_env`` of the campaign).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from _send_child import cpu_s, status_mb

Spec = dict[str, Any]


def import_floor() -> None:
    """What every kind imports first, so that each starts from the same "imports only" RSS."""
    import requests  # noqa: F401

    import bulksend.status  # noqa: F401


def load(spec: Spec) -> Any:
    """The campaign of ``spec['campaign']`` on the results file and at the rate of the spec."""
    from bulksend.campaign import load_campaign, parse_rate

    campaign = load_campaign(Path(spec["campaign"]))
    return dataclasses.replace(
        campaign, results_path=Path(spec["results"]), rate=parse_rate(spec["rate"])
    )


def summary_figures(summary: Any) -> dict[str, Any]:
    return {
        "tracked": summary.tracked,
        "asked": summary.asked,
        "final": summary.final,
        "unreachable": summary.unreachable,
        "refused": summary.refused,
        "workers": summary.workers,
        "exit": int(summary.exit_status),
    }


def child_imports(spec: Spec) -> dict[str, Any]:
    return {"peak_rss_mb": status_mb("VmHWM")}


def child_status(spec: Spec) -> dict[str, Any]:
    """``check_status`` once, against the API the campaign names (the sandbox)."""
    from bulksend.status import check_status

    campaign = load(spec)
    floor_mb = status_mb("VmRSS")
    cpu_before = cpu_s()
    started = time.perf_counter()
    summary = check_status(campaign)
    return {
        **summary_figures(summary),
        "seconds": time.perf_counter() - started,
        "cpu_s": cpu_s() - cpu_before,
        "floor_mb": floor_mb,
        "peak_rss_mb": status_mb("VmHWM"),
    }


def child_plain(spec: Spec) -> dict[str, Any]:
    """GET each message's status one after another on one ``requests.Session`` (the ids are
    read from the results file before the clock starts)."""
    import requests

    from bulksend.results import ResultsFile

    campaign = load(spec)
    records = ResultsFile(campaign.results_path).iter_records()
    message_ids = [record.message_id for record in records][: spec["limit"]]
    url = f"{campaign.api_url}/{campaign.channel.value}/messages/"
    headers = {"X-Octopods-Auth": os.environ[campaign.api_key_env], "Accept": "application/json"}
    answered = 0
    cpu_before = cpu_s()
    started = time.perf_counter()
    with requests.Session() as session:
        for message_id in message_ids:
            answer = session.get(url + message_id, headers=headers, timeout=30)
            answered += answer.status_code == 200 and bool(answer.json().get("status"))
    return {
        "tracked": len(message_ids),
        "asked": answered,
        "seconds": time.perf_counter() - started,
        "cpu_s": cpu_s() - cpu_before,
        "peak_rss_mb": status_mb("VmHWM"),
    }


class InstantApi:
    """Answers every lookup at once with an SMS "delivered" (final): no HTTP, so a large status
    run costs what bulksend itself costs. Only what ``StatusRun`` calls for SMS is here."""

    def __init__(self) -> None:
        from bulksend.answers import AnswerKind, ApiAnswer

        self.answer_kind, self.api_answer = AnswerKind, ApiAnswer
        self.calls = 0

    def get_message(self, message_id: str) -> Any:
        self.calls += 1  # only a count, so the GIL makes the += safe enough for a figure
        data = {
            "message_id": message_id,
            "status": "delivered",
            "sent_at": "2026-05-02T09:00:01Z",
            "delivered_at": "2026-05-02T09:00:04Z",
            "failure_reason": None,
        }
        return self.api_answer(self.answer_kind.OK, http_status=200, data=data)

    def list_messages(self, **_: Any) -> Any:
        raise AssertionError("SMS has no message list: the run should not ask for one")


def child_instant(spec: Spec) -> dict[str, Any]:
    """``check_status`` over a large results file with ``InstantApi`` as its client."""
    from bulksend.status import check_status

    campaign = load(spec)
    api = InstantApi()
    floor_mb = status_mb("VmRSS")
    cpu_before = cpu_s()
    started = time.perf_counter()
    summary = check_status(campaign, client=api)  # type: ignore[arg-type]
    return {
        **summary_figures(summary),
        "calls": api.calls,
        "seconds": time.perf_counter() - started,
        "cpu_s": cpu_s() - cpu_before,
        "floor_mb": floor_mb,
        "peak_rss_mb": status_mb("VmHWM"),
    }


def child_merge(spec: Spec) -> dict[str, Any]:
    """``merge_answers`` of the status journal beside ``spec['results']`` into that file."""
    from bulksend.results import ResultsFile
    from bulksend.status_journal import merge_answers, sidecar_path

    results = ResultsFile(Path(spec["results"]))
    floor_mb = status_mb("VmRSS")
    cpu_before = cpu_s()
    started = time.perf_counter()
    with results.lock():
        answers = merge_answers(results, sidecar_path(results.path))
    return {
        "answers": answers,
        "seconds": time.perf_counter() - started,
        "cpu_s": cpu_s() - cpu_before,
        "floor_mb": floor_mb,
        "peak_rss_mb": status_mb("VmHWM"),
    }


KINDS = {
    "imports": child_imports,
    "status": child_status,
    "plain": child_plain,
    "instant": child_instant,
    "merge": child_merge,
}


def main(argv: list[str]) -> int:
    kind, spec = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    import_floor()
    print(json.dumps(KINDS[kind](spec)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
