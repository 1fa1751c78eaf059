"""Simulated delivery: where a message stands at a given time. Pure and deterministic.

A message's fate comes from a hash of (seed, message_id), so the same seed gives the same
statuses in every run, whatever order the messages were sent in. Every ``step_s`` seconds after
it was accepted a message moves one status on:

- WhatsApp: sent -> delivered -> read (some recipients have read receipts off and stay
  delivered), or sent -> failed with a reason.
- SMS: queued -> sent -> delivered, or queued -> failed, or queued -> sent -> undelivered.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from bulksend.channels import Channel

WHATSAPP_FAILURES = (
    "Recipient is not a WhatsApp user.",
    "Template not approved for the recipient's country.",
    "Template was deactivated after the message was queued.",
    "Message undeliverable: the recipient's phone was unreachable for too long.",
)
# (status, reason, whether the carrier had taken it: then the failure comes one step later)
SMS_FAILURES = (
    ("failed", "Not a mobile subscriber.", False),
    ("failed", "Sender not approved for the destination country.", False),
    ("undelivered", "Handset switched off or out of coverage for too long.", True),
    ("undelivered", "Carrier blocked the content or the sender.", True),
)
READ_RECEIPTS_SHARE = 0.7


@dataclass(frozen=True)
class DeliveryState:
    status: str  # lowercase, as the reference articles write it
    sent_at: float | None
    delivered_at: float | None
    read_at: float | None
    failure_reason: str | None


@dataclass(frozen=True)
class Fate:
    """Three independent uniform draws in [0, 1) for one message."""

    fails: float
    reason: float
    reads: float


def fate_of(seed: int, message_id: int) -> Fate:
    digest = hashlib.blake2b(f"{seed}:{message_id}".encode(), digest_size=12).digest()
    draws = [int.from_bytes(digest[i : i + 4], "big") / 2**32 for i in (0, 4, 8)]
    return Fate(*draws)


def delivery_state(
    *,
    channel: Channel,
    message_id: int,
    received_at: float,
    now: float,
    seed: int,
    step_s: float,
    failure_share: float,
) -> DeliveryState:
    """Where the message stands at ``now`` (wall-clock seconds, like ``received_at``)."""
    fate = fate_of(seed, message_id)
    fails = fate.fails < failure_share
    stages = [received_at + step_s * n for n in range(3)]
    if channel is Channel.SMS:
        return _sms_state(fate, fails, stages, now)
    return _whatsapp_state(fate, fails, stages, now)


def _reached(stage_at: float, now: float) -> float | None:
    return stage_at if stage_at <= now else None


def _whatsapp_state(fate: Fate, fails: bool, stages: list[float], now: float) -> DeliveryState:
    sent_at = stages[0]
    if fails:
        failed_at = _reached(stages[1], now)
        if failed_at is None:
            return DeliveryState("sent", sent_at, None, None, None)
        reason = WHATSAPP_FAILURES[int(fate.reason * len(WHATSAPP_FAILURES))]
        return DeliveryState("failed", sent_at, None, None, reason)
    delivered_at = _reached(stages[1], now)
    read_at = _reached(stages[2], now) if fate.reads < READ_RECEIPTS_SHARE else None
    if delivered_at is None:
        return DeliveryState("sent", sent_at, None, None, None)
    status = "read" if read_at is not None else "delivered"
    return DeliveryState(status, sent_at, delivered_at, read_at, None)


def _sms_state(fate: Fate, fails: bool, stages: list[float], now: float) -> DeliveryState:
    sent_at = _reached(stages[1], now)
    if fails:
        status, reason, carrier_took_it = SMS_FAILURES[int(fate.reason * len(SMS_FAILURES))]
        if not carrier_took_it:
            if sent_at is None:
                return DeliveryState("queued", None, None, None, None)
            return DeliveryState(status, None, None, None, reason)
        if _reached(stages[2], now) is not None:
            return DeliveryState(status, sent_at, None, None, reason)
    elif _reached(stages[2], now) is not None:
        return DeliveryState("delivered", sent_at, stages[2], None, None)
    if sent_at is None:
        return DeliveryState("queued", None, None, None, None)
    return DeliveryState("sent", sent_at, None, None, None)


def iso_utc(moment: float | None) -> str | None:
    """ISO 8601 UTC with whole seconds, as the reference articles show: 2026-04-24T10:23:45Z."""
    if moment is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
