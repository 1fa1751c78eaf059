"""One exception hierarchy, one subclass per remedy, messages written for the user.

Library code raises these; the CLI's single handler maps ``exit_status`` to the process exit
code and prints ``str(error)`` without a traceback. No message may contain an API key (see
``apikey.ApiKey``).
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitStatus(IntEnum):
    OK = 0
    ERROR = 1
    CONFIG_ERROR = 2
    CAMPAIGN_REFUSED = 3
    INCOMPLETE = 4
    INTERRUPTED = 130
    TERMINATED = 143


class BulksendError(Exception):
    """Base of every error bulksend reports to a user."""

    exit_status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  {self.hint}" if self.hint else self.message


def _where(path: Path | str | None, position: str | None) -> str:
    if path is None:
        return ""
    return f"{path}, {position}: " if position else f"{path}: "


class ConfigError(BulksendError):
    """The campaign file is wrong: fix the file and run again."""

    exit_status = ExitStatus.CONFIG_ERROR

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        position = f"line {line}" if line else None
        super().__init__(_where(path, position) + message, hint=hint)


class InputFileError(BulksendError):
    """A spreadsheet or list file cannot be read as given: fix or re-save it."""

    exit_status = ExitStatus.CONFIG_ERROR

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        row: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.row = row
        position = f"row {row}" if row else None
        super().__init__(_where(path, position) + message, hint=hint)


class NothingToSendError(BulksendError):
    """Every row is invalid or skipped: there is nothing to send."""

    exit_status = ExitStatus.CONFIG_ERROR


class ResultsLockedError(BulksendError):
    """Another bulksend run holds the results file."""

    exit_status = ExitStatus.CONFIG_ERROR


class ApiError(BulksendError):
    """The Octopods API answered something bulksend cannot carry on from."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        error_code: int | None = None,
        request_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.http_status = http_status
        self.error_code = error_code
        self.request_id = request_id
        super().__init__(message, hint=hint)


class CampaignRefusedError(ApiError):
    """The API refused the whole campaign (key, template, variables): no row can succeed."""

    exit_status = ExitStatus.CAMPAIGN_REFUSED


class ApiUnreachableError(ApiError):
    """The API could not be reached at all (network, DNS, TLS)."""

    exit_status = ExitStatus.INCOMPLETE
