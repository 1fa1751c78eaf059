"""The campaign file's single-valued settings, each read and checked with errors at its line.

``normalize_api_url``, ``normalize_region``, ``parse_rate`` and the rate units need no file, so
``bulksend init``, ``send --rate`` and the benchmarks reuse them; the ``read_*`` functions wrap
them with the campaign file and line.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import phonenumbers

from bulksend.campaign_model import SANDBOX_URL_WORD, Rate
from bulksend.channels import Channel
from bulksend.errors import ConfigError
from bulksend.yamlpos import Fields, describe, did_you_mean

DEFAULT_API_URL = "https://app.octopods.io/api/v1"
DEFAULT_API_KEY_ENV = "OCTOPODS_API_KEY"
DEFAULT_RATE = Rate(10, 1.0)
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_TIMEOUT_S = 30.0
MAX_CONCURRENCY = 64
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,100}")
ENV_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RATE_PATTERN = re.compile(r"(\d+)\s*/\s*([a-z]+)", re.IGNORECASE)
RATE_UNITS = {
    **dict.fromkeys(("s", "sec", "second"), 1.0),
    **dict.fromkeys(("min", "minute"), 60.0),
    **dict.fromkeys(("h", "hr", "hour"), 3600.0),
}
PHONE_CHECK_HINT = (
    "Write `phone_check: valid` (the default: numbers in ranges that are in use) or "
    "`phone_check: possible` (any number of a possible length, e.g. a brand-new range)."
)


def read_name(fields: Fields) -> str:
    name = fields.required_text("name", "a short campaign name such as spring-sale")
    if not NAME_PATTERN.fullmatch(name):
        raise fields.error(
            "name",
            f"`name` may hold only letters, digits, - and _ (got {name[:60]!r})",
            hint="For example: name: spring-sale-2024",
        )
    return name


def read_channel(fields: Fields) -> Channel:
    hint = "Write `channel: whatsapp`, `channel: sms` or `channel: vbm`."
    text = fields.text("channel", required=True, hint=hint)
    assert text is not None
    try:
        return Channel(text.lower())
    except ValueError:
        guess = did_you_mean(text, [channel.value for channel in Channel])
        if guess:
            hint = f"Did you mean `{guess}`? " + hint
        raise fields.error("channel", f"unknown channel `{text}`", hint=hint) from None


def read_template_id(fields: Fields, channel: Channel) -> int | None:
    if not channel.uses_template:
        return None
    fields.require(
        "template_id",
        hint=f"{channel.value} sends a template: write its number, e.g. template_id: 539",
    )
    return fields.integer("template_id", default=None, minimum=1, maximum=2**63 - 1)


def read_default_region(fields: Fields) -> str | None:
    value = fields.text("default_region")
    if value is None:
        return None
    try:
        return normalize_region(value)
    except ConfigError as error:
        raise fields.error("default_region", error.message, hint=error.hint) from None


def normalize_region(value: str) -> str:
    """The ISO 3166 code ``value`` names (any case); ``ConfigError`` (no file) otherwise."""
    region = value.strip().upper()
    if region in phonenumbers.SUPPORTED_REGIONS:
        return region
    hint = "Use a two-letter ISO 3166 country code such as US, GB, DE or IN."
    if region == "UK":
        hint = "The code for the United Kingdom is GB."
    raise ConfigError(f"`{value}` is not a country code", hint=hint)


def read_api_url(fields: Fields) -> str:
    text = fields.text("api_url")
    if text is None:
        return DEFAULT_API_URL
    try:
        return normalize_api_url(text)
    except ConfigError as error:
        raise fields.error("api_url", error.message, hint=error.hint) from None


def normalize_api_url(text: str) -> str:
    """``sandbox``, or ``text`` as a base URL ending in /api/v1; ``ConfigError`` (no file)."""
    if text.strip().lower() == SANDBOX_URL_WORD:
        return SANDBOX_URL_WORD
    hint = f"For example: api_url: {DEFAULT_API_URL} (or api_url: sandbox for the simulator)."
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    try:
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        host = None
    if scheme not in ("http", "https") or not host:
        raise ConfigError("`api_url` must be a web address", hint=hint)
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(
            "`api_url` must not carry a user, password or query",
            hint="The API key comes from the variable named by `api_key_env`, never the URL.",
        )
    if scheme == "http" and host.lower() not in LOOPBACK_HOSTS:
        raise ConfigError(
            "`api_url` uses plain http://, which would send the API key unencrypted",
            hint="Use https://. Plain http is allowed only for 127.0.0.1, localhost and ::1.",
        )
    path = parts.path.rstrip("/") or "/api/v1"
    if not path.endswith("/api/v1"):
        raise ConfigError("`api_url` must end in /api/v1", hint=hint)
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def read_api_key_env(fields: Fields) -> str:
    text = fields.text("api_key_env")
    if text is None:
        return DEFAULT_API_KEY_ENV
    hint = (
        f"Write the variable's name, e.g. api_key_env: {DEFAULT_API_KEY_ENV}, and set it outside."
    )
    # An API key pasted here must not be echoed back, so the messages never quote the value.
    looks_like_key = len(text) >= 20 and "_" not in text and any(c.isdigit() for c in text)
    if looks_like_key or not ENV_NAME_PATTERN.fullmatch(text):
        raise fields.error(
            "api_key_env",
            "`api_key_env` must be the name of an environment variable, not the API key itself",
            hint=hint + " If the key was pasted here, rotate it.",
        )
    return text


def parse_rate(text: str) -> Rate | None:
    """``10/s``, ``300/min``, ``5000/h`` (sec, minute, hour, hr, plurals too) as a Rate, or None."""
    match = RATE_PATTERN.fullmatch(text.strip())
    if not match or int(match.group(1)) < 1:
        return None
    unit = match.group(2).lower()
    unit = unit if unit in RATE_UNITS else unit.removesuffix("s")  # 5/mins, 100/hours
    return Rate(int(match.group(1)), RATE_UNITS[unit]) if unit in RATE_UNITS else None


def read_rate(fields: Fields) -> Rate:
    if not fields.has("rate"):
        return DEFAULT_RATE
    value = fields.data["rate"]
    rate = parse_rate(value) if isinstance(value, str) else None
    if rate is None:
        raise fields.error(
            "rate",
            f"`rate` must look like 10/s, not {value!r}",
            hint="Write a count per second, minute or hour: 10/s, 300/min or 5000/h.",
        )
    return rate


def read_concurrency(fields: Fields) -> int | None:
    if str(fields.data.get("concurrency", "auto")).strip().lower() == "auto":
        return None
    hint = (
        f"Write `auto` (bulksend sizes it from the rate) or a whole number from 1 to "
        f"{MAX_CONCURRENCY}, e.g. concurrency: 4."
    )
    value = fields.data["concurrency"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise fields.error(
            "concurrency",
            f"`concurrency` must be auto or a number, not {describe(value)}",
            hint=hint,
        )
    return fields.integer(
        "concurrency", default=None, minimum=1, maximum=MAX_CONCURRENCY, hint=hint
    )
