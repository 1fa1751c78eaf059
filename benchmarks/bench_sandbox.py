"""How many small requests per second the sandbox serves over keep-alive connections.

Two set-ups, each measured over a few rounds (median reported):
- "own process": `bulksend sandbox` in its own process, clients in 2 other processes with
  4 keep-alive connections each (how `bulksend send` meets a separately started sandbox);
- "in process": `Sandbox` in this process with 4 client threads (how the tests and the
  sender's own benchmarks use it: one GIL for both sides, the harder case).
Requests: an SMS send (POST, 201) and a WhatsApp status lookup (GET, 200). No rate limit.

Run: python benchmarks/bench_sandbox.py [requests_per_round]
"""

from __future__ import annotations

import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import urlsplit

from bulksend.channels import Channel
from bulksend.sandbox import DEMO_KEYS, Sandbox, SandboxConfig

ROUNDS = 3
CONNECTIONS_PER_PROCESS = 4
CLIENT_PROCESSES = 2
SMS_BODY = json.dumps({"destination_phone": "+447700900123", "body": "Spring sale"}).encode()


def request_plan(kind: str, base_path: str) -> tuple[str, str, bytes | None, dict[str, str]]:
    if kind == "POST sms send":
        headers = {"X-Octopods-Auth": DEMO_KEYS[Channel.SMS], "Content-Type": "application/json"}
        return "POST", f"{base_path}/sms/messages", SMS_BODY, headers
    headers = {"X-Octopods-Auth": DEMO_KEYS[Channel.WHATSAPP]}
    return "GET", f"{base_path}/whatsapp/messages/5100001", None, headers


def hammer(base_url: str, kind: str, count: int) -> int:
    """Send ``count`` requests on one keep-alive connection; returns how many succeeded."""
    url = urlsplit(base_url)
    method, path, body, headers = request_plan(kind, url.path)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    done = 0
    try:
        for _ in range(count):
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            done += answer.status in (200, 201)
    finally:
        connection.close()
    return done


def threaded(base_url: str, kind: str, count: int, connections: int) -> int:
    results: list[int] = []
    share = count // connections

    def run() -> None:
        results.append(hammer(base_url, kind, share))

    threads = [threading.Thread(target=run) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return sum(results)


def seed_one_whatsapp_message(base_url: str) -> None:
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    body = json.dumps({"destination_phone": "+447700900123", "message_variables": ["a", "b"]})
    headers = {"X-Octopods-Auth": DEMO_KEYS[Channel.WHATSAPP], "Content-Type": "application/json"}
    connection.request("POST", f"{url.path}/whatsapp/templates/539/messages", body, headers)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    if answer.status != 201:
        raise SystemExit(f"could not seed a WhatsApp message: HTTP {answer.status}")


def own_process_round(pool: ProcessPoolExecutor, base_url: str, kind: str, count: int) -> float:
    share = count // CLIENT_PROCESSES
    started = time.perf_counter()
    futures = [
        pool.submit(threaded, base_url, kind, share, CONNECTIONS_PER_PROCESS)
        for _ in range(CLIENT_PROCESSES)
    ]
    done = sum(future.result(timeout=300) for future in futures)
    elapsed = time.perf_counter() - started
    if done != share // CONNECTIONS_PER_PROCESS * CONNECTIONS_PER_PROCESS * CLIENT_PROCESSES:
        raise SystemExit(f"only {done} requests succeeded")
    return done / elapsed


def start_server_process() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bulksend", "sandbox", "--port", "0", "--rate-limit", "none"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r"listening on (http://\S+/api/v1)", line)
        if match:
            return process, match.group(1)
    process.kill()
    raise SystemExit("bulksend sandbox did not start")


def measure_own_process(kind: str, count: int) -> list[float]:
    process, base_url = start_server_process()
    try:
        seed_one_whatsapp_message(base_url)
        with ProcessPoolExecutor(CLIENT_PROCESSES) as pool:
            own_process_round(pool, base_url, kind, count // 4)  # warm-up
            return [own_process_round(pool, base_url, kind, count) for _ in range(ROUNDS)]
    finally:
        process.terminate()
        process.wait(15)
        if process.stdout is not None:
            process.stdout.close()


def measure_in_process(kind: str, count: int) -> list[float]:
    config = SandboxConfig(rate_limit=None, request_log_limit=1000)
    with Sandbox(config) as sandbox:
        seed_one_whatsapp_message(sandbox.base_url)
        rates = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            done = threaded(sandbox.base_url, kind, count, CONNECTIONS_PER_PROCESS)
            rates.append(done / (time.perf_counter() - started))
        return rates


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 4000
    print(
        f"sandbox throughput, keep-alive, no rate limit, {os.cpu_count()} cores, "
        f"{count} requests per round, median of {ROUNDS} rounds"
    )
    print(f"{'set-up':<44} {'request':<22} {'median req/s':>12} {'min':>7} {'max':>7}")
    setups = [
        (
            f"own process, {CLIENT_PROCESSES} client procs x {CONNECTIONS_PER_PROCESS} conns",
            measure_own_process,
        ),
        (f"in process, {CONNECTIONS_PER_PROCESS} client threads", measure_in_process),
    ]
    for label, measure in setups:
        for kind in ("POST sms send", "GET whatsapp status"):
            rates = measure(kind, count)
            print(
                f"{label:<44} {kind:<22} {statistics.median(rates):>12.0f} "
                f"{min(rates):>7.0f} {max(rates):>7.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
