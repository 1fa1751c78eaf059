"""bulksend: bulk WhatsApp-template, SMS and Viber messages through the Octopods API.

The library API a scheduled job imports (the CLI is a thin layer over the same calls)::

    from bulksend import SendOptions, load_campaign, send_campaign

    summary = send_campaign(load_campaign("campaigns/spring.yaml"), SendOptions(limit=1000))
    if summary.exit_status: ...  # some rows failed or are uncertain: run again later

Nothing is printed unless events are passed in. The sending, validation, status and report names
are imported on first use, so that ``import bulksend`` (and every CLI start) stays quick.
"""

from importlib import import_module
from typing import Any

from bulksend.apikey import ApiKey
from bulksend.channels import Channel
from bulksend.errors import (
    ApiError,
    ApiUnreachableError,
    BulksendError,
    CampaignRefusedError,
    ConfigError,
    ExitStatus,
    InputFileError,
    NothingToSendError,
    ResultsLockedError,
)

__version__ = "0.1.0"

_LAZY = {
    "Campaign": "bulksend.campaign",
    "load_campaign": "bulksend.campaign",
    "validate_campaign": "bulksend.validate",
    "ValidationReport": "bulksend.validate",
    "send_campaign": "bulksend.engine",
    "SendEvents": "bulksend.engine",
    "SendOptions": "bulksend.engine",
    "SendSummary": "bulksend.engine",
    "check_status": "bulksend.status",
    "StatusSummary": "bulksend.status",
    "build_report": "bulksend.report",
    "Report": "bulksend.report",
    "Outcome": "bulksend.results",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bulksend' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ApiError",
    "ApiKey",
    "ApiUnreachableError",
    "BulksendError",
    "CampaignRefusedError",
    "Channel",
    "ConfigError",
    "ExitStatus",
    "InputFileError",
    "NothingToSendError",
    "ResultsLockedError",
    "__version__",
    *_LAZY,
]
