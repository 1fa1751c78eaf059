"""Where requests go and with which key: ``api_url`` (or the word ``sandbox``) and the key variable.

Keys only ever come from the environment, never from the campaign file. Plain http is refused
except on loopback, so a key cannot cross a network in clear text.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from bulksend.apikey import ApiKey
from bulksend.campaign import SANDBOX_URL_WORD, Campaign
from bulksend.channels import Channel
from bulksend.client import OctopodsClient
from bulksend.errors import ConfigError

SANDBOX_URL_ENV = "BULKSEND_SANDBOX_URL"
SANDBOX_LEDGER_NAME = ".sandbox-ledger.jsonl"


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_api_url(api_url: str, *, campaign_path: Path | None = None) -> str:
    """The URL without a trailing slash; ConfigError unless https, or http on loopback."""
    parts = urlsplit(api_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"api_url {api_url!r} is not a web address.",
            path=campaign_path,
            hint='Use https://app.octopods.io/api/v1, or the word "sandbox" to practise.',
        )
    if _plain_http_off_loopback(api_url):
        raise ConfigError(
            f"api_url {api_url!r} uses plain http: the API key would cross the network "
            "unencrypted.",
            path=campaign_path,
            hint="Use https://; plain http is only allowed for 127.0.0.1 or localhost.",
        )
    return api_url.strip().rstrip("/")


def check_sandbox_url(url: str) -> str:
    """``$BULKSEND_SANDBOX_URL`` without a trailing slash; its ConfigError names the variable,
    not the campaign's api_url (which says only ``sandbox`` and is right)."""
    parts = urlsplit(url.strip())
    hint = (
        f"Set {SANDBOX_URL_ENV} to the URL `bulksend sandbox` prints (http://127.0.0.1:PORT/"
        "api/v1), or unset it to start a sandbox for this run."
    )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"the environment variable {SANDBOX_URL_ENV} ({url!r}) is not a web address",
            hint=hint,
        )
    if _plain_http_off_loopback(url):
        raise ConfigError(
            f"the environment variable {SANDBOX_URL_ENV} ({url!r}) uses plain http to another "
            "machine: the key would cross the network unencrypted",
            hint=hint + " A sandbox on another machine must be reached through https://.",
        )
    return url.strip().rstrip("/")


def _plain_http_off_loopback(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme == "http" and not is_loopback_host(parts.hostname or "")


def read_api_key(
    environ: Mapping[str, str], api_key_env: str, channel: Channel, *, campaign_path: Path | None
) -> ApiKey:
    """The key from ``environ[api_key_env]``; ConfigError naming the variable (never a value)."""
    value = environ.get(api_key_env, "")
    if not value.strip():
        state = "is empty" if api_key_env in environ else "is not set"
        raise ConfigError(
            f"The environment variable {api_key_env} {state}: it must hold the "
            f"{channel.value} channel's API key.",
            path=campaign_path,
            hint=(
                f"Copy the key from the channel settings in Octopods and run "
                f"`export {api_key_env}=<key>` first (keys never go in the campaign file)."
            ),
        )
    return ApiKey(value)


@contextmanager
def connect(
    campaign: Campaign, *, environ: Mapping[str, str] | None = None
) -> Iterator[OctopodsClient]:
    """A client for the campaign's API (starting an in-process sandbox for ``sandbox``)."""
    with connect_to(
        campaign.api_url,
        campaign.channel,
        api_key_env=campaign.api_key_env,
        state_dir=campaign.results_path.parent,
        timeout_s=campaign.timeout_s,
        environ=environ,
        campaign_path=campaign.path,
    ) as client:
        yield client


@contextmanager
def connect_to(
    api_url: str,
    channel: Channel,
    *,
    api_key_env: str,
    state_dir: Path,
    timeout_s: float = 30.0,
    environ: Mapping[str, str] | None = None,
    campaign_path: Path | None = None,
) -> Iterator[OctopodsClient]:
    """A client for ``api_url``; raises ConfigError for a bad URL or a missing key variable.

    ``sandbox`` means ``$BULKSEND_SANDBOX_URL`` when set, otherwise a sandbox started here for
    the duration of the ``with``, its ledger kept in ``state_dir`` so that a later run (or
    ``bulksend status``) sees the same messages. Without the key variable the sandbox's demo
    key for the channel is used.
    """
    environ = os.environ if environ is None else environ
    if api_url.strip() != SANDBOX_URL_WORD:
        base_url = check_api_url(api_url, campaign_path=campaign_path)
        key = read_api_key(environ, api_key_env, channel, campaign_path=campaign_path)
        with OctopodsClient(base_url, key, channel, timeout_s=timeout_s, key_env=api_key_env) as c:
            yield c
        return
    with _sandbox_url(environ, state_dir) as base_url:
        key = _sandbox_key(environ, api_key_env, channel)
        with OctopodsClient(base_url, key, channel, timeout_s=timeout_s, key_env=api_key_env) as c:
            yield c


def _sandbox_key(environ: Mapping[str, str], api_key_env: str, channel: Channel) -> ApiKey:
    value = environ.get(api_key_env, "")
    if value.strip():
        return ApiKey(value)
    from bulksend.sandbox import DEMO_KEYS

    return ApiKey(DEMO_KEYS[channel])


@contextmanager
def _sandbox_url(environ: Mapping[str, str], state_dir: Path) -> Iterator[str]:
    external = environ.get(SANDBOX_URL_ENV, "").strip()
    if external:
        yield check_sandbox_url(external)
        return
    # Imported here: most runs talk to the real API and need none of the simulator.
    from bulksend.sandbox import Sandbox, SandboxConfig

    state_dir.mkdir(parents=True, exist_ok=True)
    with Sandbox(SandboxConfig(ledger_path=state_dir / SANDBOX_LEDGER_NAME)) as sandbox:
        yield sandbox.base_url.rstrip("/")
