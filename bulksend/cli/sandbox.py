"""`bulksend sandbox`: run the Octopods simulator until Ctrl-C."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bulksend.errors import ConfigError
from bulksend.sandbox import (
    DEMO_KEYS,
    DEPRECATED_KEYS,
    Sandbox,
    SandboxConfig,
    parse_duration,
    parse_latency,
    parse_rate_limit,
)

SHARE = click.FloatRange(0.0, 1.0)


def _parsed(parse: Callable[[str], Any]) -> Callable[[click.Context, click.Parameter, str], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: str) -> Any:
        try:
            return parse(value)
        except ConfigError as error:
            raise click.BadParameter(str(error)) from error

    return callback


def _describe(sandbox: Sandbox) -> str:
    config = sandbox.config
    if config.rate_limit is None:
        limit = "no rate limit"
    else:
        limit = f"rate limit {config.rate_limit[0]} requests per {config.rate_limit[1]:g}s per key"
    lines = [
        f"Octopods sandbox listening on {sandbox.base_url}",
        f"  ledger: {sandbox.root_url}/_sandbox/ledger",
        "  API keys (header X-Octopods-Auth):",
        *(f"    {channel.value:<9} {key}" for channel, key in DEMO_KEYS.items()),
        "  deprecated keys (answer the deprecated-key error):",
        *(f"    {channel.value:<9} {key}" for channel, key in DEPRECATED_KEYS.items()),
        f"  {limit}; delivery step {config.delivery_step_s:g}s; "
        f"failure rate {config.failure_share:.0%}; seed {config.seed}",
    ]
    faults = config.faults
    active = [
        f"latency {faults.latency_s[0]:g}-{faults.latency_s[1]:g}s"
        if any(faults.latency_s)
        else "",
        f"5xx answers {faults.error_share:.0%}" if faults.error_share else "",
        f"dropped connections {faults.drop_share:.0%}" if faults.drop_share else "",
        f"slow answers {faults.slow_answer_share:.0%} after {faults.slow_answer_delay_s:g}s"
        if faults.slow_answer_share
        else "",
    ]
    if any(active):
        lines.append("  faults: " + ", ".join(item for item in active if item))
    if config.ledger_path is not None:
        lines.append(f"  ledger file: {config.ledger_path}")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def _stop_on_sigterm() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))


@click.command(name="sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 picks a free one.",
)
@click.option(
    "--rate-limit",
    "rate_limit",
    default="20/1s",
    show_default=True,
    callback=_parsed(parse_rate_limit),
    help="At most N requests per API key in any W-long span (N/W, e.g. 20/1s, 600/1m), "
    "then HTTP 429 until the named second has passed; 'none' for no limit.",
)
@click.option(
    "--latency",
    default="0ms",
    show_default=True,
    callback=_parsed(parse_latency),
    help="Added to every API answer: fixed (50ms) or a random range (20ms-80ms).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Makes delivery outcomes and faults repeatable.",
)
@click.option(
    "--delivery-step",
    "delivery_step_s",
    default="2s",
    show_default=True,
    callback=_parsed(parse_duration),
    help="Time between delivery statuses (WhatsApp sent, delivered, read; "
    "SMS queued, sent, delivered).",
)
@click.option(
    "--failure-rate",
    "failure_share",
    default=0.1,
    show_default=True,
    type=SHARE,
    help="Share of accepted messages whose delivery fails, with a reason.",
)
@click.option(
    "--error-rate",
    "error_share",
    default=0.0,
    show_default=True,
    type=SHARE,
    help="Share of API requests answered 500/502/503 without being processed.",
)
@click.option(
    "--drop-rate",
    "drop_share",
    default=0.0,
    show_default=True,
    type=SHARE,
    help="Share of API requests whose connection is closed without an answer (not processed).",
)
@click.option(
    "--slow-answer-rate",
    "slow_answer_share",
    default=0.0,
    show_default=True,
    type=SHARE,
    help="Share of API requests processed and recorded but answered only after "
    "--slow-answer-delay (longer than a client's timeout).",
)
@click.option(
    "--slow-answer-delay",
    "slow_answer_delay_s",
    default="30s",
    show_default=True,
    callback=_parsed(parse_duration),
    help="Delay of a slow answer.",
)
@click.option(
    "--ledger",
    "ledger_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep accepted sends in this JSON-lines file and reload them at start, so "
    "message ids and statuses survive a restart.",
)
@click.pass_context
def command(ctx: click.Context, **options: Any) -> None:
    """Run the Octopods sandbox: a local simulator of the Octopods messaging API.

    It has every endpoint bulksend uses, per-channel demo API keys, the API's error codes
    and rate limit, simulated delivery statuses, and optional faults (latency, 5xx answers,
    dropped connections, slow answers). It prints its base URL and keys, then serves until
    Ctrl-C. Accepted sends can be read at /_sandbox/ledger. See docs/sandbox.md.

    \b
    Examples:
      bulksend sandbox
      bulksend sandbox --port 0 --rate-limit none --ledger sandbox-ledger.jsonl
      bulksend sandbox --latency 20ms-80ms --error-rate 0.05 --drop-rate 0.01
    """
    try:
        config = SandboxConfig(latency_s=options.pop("latency"), **options)
    except ConfigError as error:
        raise click.UsageError(str(error)) from error
    _stop_on_sigterm()
    with Sandbox(config) as sandbox:
        click.echo(_describe(sandbox))
        sys.stdout.flush()
        try:
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            click.echo("sandbox stopped", err=True)
    ctx.exit(130)
