"""The campaign file: YAML in, a frozen ``Campaign`` out, or one ``ConfigError`` with file, line.

The dataclasses here are the contract other modules build on; ``load_campaign`` fills them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bulksend.channels import Channel

SANDBOX_URL_WORD = "sandbox"
DEFAULT_API_URL = "https://app.octopods.io/api/v1"


class PhoneCheck(StrEnum):
    VALID = "valid"
    POSSIBLE = "possible"


class ValueKind(StrEnum):
    COLUMN = "column"
    CONSTANT = "value"
    TEMPLATE = "template"


@dataclass(frozen=True)
class ValueSpec:
    """Where one placeholder's value comes from: a column, a constant or a jinja2 template."""

    kind: ValueKind
    source: str  # the column name, the constant text or the template text
    default: str | None = None  # used when the column or template gives ""
    line: int | None = None  # line in the campaign file, for messages


@dataclass(frozen=True)
class Rate:
    """At most ``count`` requests in any window of ``period_s`` seconds."""

    count: int
    period_s: float

    @property
    def per_second(self) -> float:
        return self.count / self.period_s


@dataclass(frozen=True)
class Campaign:
    path: Path  # the campaign file; relative paths in it are relative to its folder
    name: str
    channel: Channel
    template_id: int | None
    source: Path
    sheet: str | None
    phone_column: str
    default_region: str | None
    # Body-only templates: a tuple of ValueSpec, sent as a flat array.
    # Sectioned: a mapping section -> tuple of ValueSpec, every section of the channel present.
    variables: tuple[ValueSpec, ...] | Mapping[str, tuple[ValueSpec, ...]] | None
    text: str | None  # SMS only, jinja2
    header_url: str | None  # jinja2
    contact_name: str | None  # jinja2
    open_conversation: bool
    api_url: str  # a URL ending in /api/v1, or the word "sandbox"
    api_key_env: str
    rate: Rate
    burst: int
    concurrency: int | None  # None means auto
    results_path: Path
    key: tuple[str, ...] | None
    dedupe: bool
    suppression: Path | None
    phone_check: PhoneCheck
    encoding: str | None
    max_attempts: int
    timeout_s: float

    @property
    def uses_sandbox(self) -> bool:
        return self.api_url == SANDBOX_URL_WORD

    @property
    def rejects_path(self) -> Path:
        return self.results_path.with_name(self.results_path.stem + ".rejects.csv")
