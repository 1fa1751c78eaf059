"""Sandbox settings: the frozen ``SandboxConfig``, the run-time ``Faults``, the demo keys, and the
parsers for the ``bulksend sandbox`` option texts (``20/1s``, ``50ms``, ``20ms-80ms``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulksend.channels import Channel
from bulksend.errors import ConfigError

# Sandbox keys are not secrets: they only open the local simulator, so the CLI prints them.
DEMO_KEYS: dict[Channel, str] = {
    Channel.WHATSAPP: "sandbox-whatsapp-key",
    Channel.SMS: "sandbox-sms-key",
    Channel.VBM: "sandbox-vbm-key",
}
DEPRECATED_KEYS: dict[Channel, str] = {
    Channel.WHATSAPP: "sandbox-whatsapp-deprecated-key",
    Channel.SMS: "sandbox-sms-deprecated-key",
    Channel.VBM: "sandbox-vbm-deprecated-key",
}

DEFAULT_ERROR_STATUSES = (500, 502, 503)


def _check_share(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be between 0 and 1, not {value}")


def _check_range(name: str, value: tuple[float, float]) -> None:
    low, high = value
    if low < 0 or high < low:
        raise ConfigError(f"{name} must be (low, high) with 0 <= low <= high, not {value}")


@dataclass(frozen=True)
class Faults:
    """What goes wrong on purpose. Shares are of ``/api/v1`` requests and must add up to <= 1.

    ``max_faults`` caps how many requests get a drop, error or slow answer (None: no cap), so a
    test can ask for exactly one; latency is not counted.
    """

    latency_s: tuple[float, float] = (0.0, 0.0)
    error_share: float = 0.0
    drop_share: float = 0.0
    slow_answer_share: float = 0.0
    slow_answer_delay_s: float = 30.0
    error_statuses: tuple[int, ...] = DEFAULT_ERROR_STATUSES
    max_faults: int | None = None

    def __post_init__(self) -> None:
        _check_range("latency_s", self.latency_s)
        for name in ("error_share", "drop_share", "slow_answer_share"):
            _check_share(name, getattr(self, name))
        if self.error_share + self.drop_share + self.slow_answer_share > 1.0 + 1e-9:
            raise ConfigError("error_share + drop_share + slow_answer_share must not exceed 1")
        if self.slow_answer_delay_s < 0:
            raise ConfigError("slow_answer_delay_s cannot be negative")
        if not self.error_statuses or any(not 500 <= s <= 599 for s in self.error_statuses):
            raise ConfigError("error_statuses must be 5xx statuses")
        if self.max_faults is not None and self.max_faults < 0:
            raise ConfigError("max_faults cannot be negative")


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox needs at start. ``None`` for templates/keys means the built-in ones.

    ``rate_limit`` is (N, W): at most N requests per API key in any W-second span (None: no
    limit). ``keys`` and ``deprecated_keys`` map key text -> channel, so a channel may have
    several keys (each key sees only its own messages).
    """

    host: str = "127.0.0.1"
    port: int = 0
    rate_limit: tuple[int, float] | None = (20, 1.0)
    latency_s: tuple[float, float] = (0.0, 0.0)
    seed: int = 0
    delivery_step_s: float = 1.0
    failure_share: float = 0.1
    error_share: float = 0.0
    drop_share: float = 0.0
    slow_answer_share: float = 0.0
    slow_answer_delay_s: float = 30.0
    error_statuses: tuple[int, ...] = DEFAULT_ERROR_STATUSES
    max_faults: int | None = None
    templates: Mapping[Channel, Sequence[Mapping[str, Any]]] | None = None
    keys: Mapping[str, Channel] | None = None
    deprecated_keys: Mapping[str, Channel] | None = None
    ledger_path: Path | str | None = None
    first_message_id: int = 5_100_001
    request_log_limit: int = 100_000

    def __post_init__(self) -> None:
        if self.rate_limit is not None:
            count, window_s = self.rate_limit
            if count < 1 or window_s <= 0:
                raise ConfigError(f"rate_limit must be (N >= 1, W > 0), not {self.rate_limit}")
        _check_share("failure_share", self.failure_share)
        if self.delivery_step_s < 0:
            raise ConfigError("delivery_step_s cannot be negative")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0-65535, not {self.port}")
        if self.first_message_id < 1 or self.request_log_limit < 0:
            raise ConfigError("first_message_id must be >= 1 and request_log_limit >= 0")
        self.faults  # noqa: B018 - validates the fault fields once, here

    @property
    def faults(self) -> Faults:
        return Faults(
            latency_s=self.latency_s,
            error_share=self.error_share,
            drop_share=self.drop_share,
            slow_answer_share=self.slow_answer_share,
            slow_answer_delay_s=self.slow_answer_delay_s,
            error_statuses=self.error_statuses,
            max_faults=self.max_faults,
        )

    def api_keys(self) -> dict[str, Channel]:
        if self.keys is not None:
            return {key: Channel(channel) for key, channel in self.keys.items()}
        return {key: channel for channel, key in DEMO_KEYS.items()}

    def api_deprecated_keys(self) -> dict[str, Channel]:
        if self.deprecated_keys is not None:
            return {key: Channel(channel) for key, channel in self.deprecated_keys.items()}
        return {key: channel for channel, key in DEPRECATED_KEYS.items()}


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|min)?\s*$", re.IGNORECASE)
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0}


def parse_duration(text: str) -> float:
    """``50ms``, ``2s``, ``1.5``, ``1m`` -> seconds (a bare number is seconds)."""
    match = _DURATION.match(text or "")
    if match is None:
        raise ConfigError(f"'{text}' is not a duration: write e.g. 50ms, 2s or 1m")
    return float(match.group(1)) * _UNIT_S[(match.group(2) or "s").lower()]


def parse_latency(text: str) -> tuple[float, float]:
    """``50ms`` (fixed) or ``20ms-80ms`` (uniform random range) -> (low_s, high_s)."""
    low_text, dash, high_text = (text or "").partition("-")
    low = parse_duration(low_text)
    high = parse_duration(high_text) if dash else low
    if high < low:
        raise ConfigError(f"'{text}': the range must go from low to high, e.g. 20ms-80ms")
    return (low, high)


def parse_rate_limit(text: str) -> tuple[int, float] | None:
    """``20/1s``, ``20/s``, ``600/1m`` -> (N, W seconds); ``none`` or ``off`` -> no limit."""
    if (text or "").strip().lower() in {"none", "off", "0"}:
        return None
    count_text, slash, window_text = (text or "").partition("/")
    if not slash or not count_text.strip().isdigit() or int(count_text) < 1:
        raise ConfigError(f"'{text}' is not a rate limit: write N/W, e.g. 20/1s, or 'none'")
    window = window_text.strip()
    window_s = parse_duration(window if window[:1].isdigit() or window[:1] == "." else "1" + window)
    if window_s <= 0:
        raise ConfigError(f"'{text}': the window must be longer than zero")
    return (int(count_text), window_s)
