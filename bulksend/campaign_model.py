"""What a loaded campaign is: the frozen ``Campaign`` dataclass and the value types it holds.

These dataclasses are the contract other modules build on; ``campaign.load_campaign`` fills them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from bulksend.channels import Channel

SANDBOX_URL_WORD = "sandbox"


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
    # The line of each key's value in the file, so that a later check (a column the sheet
    # lacks, a sheet name the workbook lacks) can name it; keys left out are absent.
    lines: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def line_of(self, key: str) -> int | None:
        """The line of ``key``'s value in the campaign file, or None when it is not there."""
        return self.lines.get(key)

    @property
    def uses_sandbox(self) -> bool:
        return self.api_url == SANDBOX_URL_WORD

    @property
    def rejects_path(self) -> Path:
        return rejects_path_of(self.results_path)


def rejects_path_of(results_path: Path) -> Path:
    """The rejects file validate writes beside ``results_path``: ``<stem>.rejects.csv``."""
    return results_path.with_name(results_path.stem + ".rejects.csv")
