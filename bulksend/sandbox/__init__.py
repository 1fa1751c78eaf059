"""The Octopods simulator: a real HTTP server with the API's endpoints, keys, error codes, rate
limit, delivery statuses and injectable faults, plus a ledger of what it really accepted.

    with Sandbox(SandboxConfig(rate_limit=None)) as sandbox:
        requests.post(f"{sandbox.base_url}/sms/messages", json=...,
                      headers={"X-Octopods-Auth": DEMO_KEYS[Channel.SMS]})
        assert sandbox.ledger()[0].phone == "+447700900123"

See docs/sandbox.md for the endpoints, the codes chosen where the API is silent, and the options.
"""

from bulksend.sandbox.config import (
    DEMO_KEYS,
    DEPRECATED_KEYS,
    Faults,
    SandboxConfig,
    parse_duration,
    parse_latency,
    parse_rate_limit,
)
from bulksend.sandbox.ledger import LedgerEntry, key_id
from bulksend.sandbox.server import Sandbox
from bulksend.sandbox.wire import RequestRecord

__all__ = [
    "DEMO_KEYS",
    "DEPRECATED_KEYS",
    "Faults",
    "LedgerEntry",
    "RequestRecord",
    "Sandbox",
    "SandboxConfig",
    "key_id",
    "parse_duration",
    "parse_latency",
    "parse_rate_limit",
]
