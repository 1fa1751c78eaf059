"""bulksend: bulk WhatsApp-template, SMS and Viber messages through the Octopods API."""

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
]
