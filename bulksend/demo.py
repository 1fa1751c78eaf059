"""`make demo` (interim): start the sandbox, send one request of each kind, show the answers.

The lead replaces this with a full campaign once the sending engine exists. Keys are used in
headers only and never printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests

from bulksend.channels import Channel
from bulksend.sandbox import DEMO_KEYS, Sandbox, SandboxConfig

PHONE = "+447700900123"


def _show(title: str, response: requests.Response, echo: Callable[[str], None]) -> Any:
    body = response.json()
    echo(f"\n== {title}\n{response.request.method} {response.request.path_url}")
    echo(f"-> HTTP {response.status_code}\n{json.dumps(body, indent=2, ensure_ascii=False)}")
    return body


def run_demo(echo: Callable[[str], None] = print) -> None:
    """One WhatsApp template, one SMS, one VBM send, two status lookups and a listing."""
    config = SandboxConfig(rate_limit=None, delivery_step_s=0.5, failure_share=0.0)
    with Sandbox(config) as sandbox, requests.Session() as session:
        echo(f"Octopods sandbox running at {sandbox.base_url}")

        def call(method: str, path: str, channel: Channel, **kwargs: Any) -> requests.Response:
            headers = {"X-Octopods-Auth": DEMO_KEYS[channel]}
            url = f"{sandbox.base_url}/{path}"
            return session.request(method, url, headers=headers, timeout=10, **kwargs)

        whatsapp = {"destination_phone": PHONE, "message_variables": ["Dana", "on Sunday"]}
        sent = _show(
            "WhatsApp template 539",
            call("POST", "whatsapp/templates/539/messages", Channel.WHATSAPP, json=whatsapp),
            echo,
        )
        sms = {"destination_phone": PHONE, "body": "Hi Dana, our Spring Sale ends on Sunday."}
        texted = _show("SMS", call("POST", "sms/messages", Channel.SMS, json=sms), echo)
        viber = {"destination_phone": PHONE, "message_variables": ["Dana", "on Sunday"]}
        _show(
            "Viber (VBM) template 456",
            call("POST", "vbm/templates/456/messages", Channel.VBM, json=viber),
            echo,
        )
        wa_status = f"whatsapp/messages/{sent['message_id']}"
        _show("WhatsApp status", call("GET", wa_status, Channel.WHATSAPP), echo)
        sms_status = f"sms/messages/{texted['message_id']}"
        _show("SMS status", call("GET", sms_status, Channel.SMS), echo)
        listing = call("GET", "whatsapp/messages", Channel.WHATSAPP, params={"limit": 10})
        _show("Recent WhatsApp messages", listing, echo)
        echo(f"\nThe sandbox's ledger holds {len(sandbox.ledger())} accepted sends.")


if __name__ == "__main__":
    run_demo()
