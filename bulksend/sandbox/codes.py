"""The error codes each channel family answers with, and ``Refusal``, a 400 answer in the making.

Codes are scoped per family (octopods-api.md 1.4). Where the articles are silent the sandbox picks
a code and docs/sandbox.md says so: WhatsApp 7 and SMS 6 for an unknown message id, VBM 6 for a
deprecated key, VBM 4 for a wrong count of variables, SMS 4 for a body over 1,600 characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from bulksend.channels import Channel

DEPRECATED_KEY_TEXT = "Deprecated API Key. Please go to your Octopods App, and get your new API Key"
TEMPLATE_NOT_EXIST_TEXT = "Message Template does not exist."
MESSAGE_NOT_EXIST_TEXT = "Message does not exist."


@dataclass(frozen=True)
class ErrorCodes:
    """One family's numbers. ``malformed`` answers unreadable JSON or a wrong content type."""

    missing: int
    type_mismatch: int
    template: int
    variables_size: int
    phone: int
    deprecated_key: int
    header: int
    flat_for_sections: int
    unknown_message: int
    malformed: int
    empty_body: int = 0
    provider: int = 0
    invalid_status: int = 10


CODES: dict[Channel, ErrorCodes] = {
    Channel.WHATSAPP: ErrorCodes(
        missing=1,
        type_mismatch=2,
        template=3,
        variables_size=4,
        phone=5,
        deprecated_key=6,
        header=8,
        flat_for_sections=9,
        unknown_message=7,
        malformed=2,
    ),
    Channel.SMS: ErrorCodes(
        missing=1,
        # SMS documents no TYPE_MISMATCH; a wrongly typed field is reported as missing.
        type_mismatch=1,
        template=0,
        variables_size=0,
        phone=3,
        deprecated_key=5,
        header=0,
        flat_for_sections=0,
        unknown_message=6,
        malformed=1,
        empty_body=2,
        provider=4,
    ),
    Channel.VBM: ErrorCodes(
        missing=1,
        type_mismatch=2,
        template=3,
        variables_size=4,
        phone=5,
        deprecated_key=6,
        header=8,
        # Not documented for VBM: a wrong shape is a type mismatch.
        flat_for_sections=2,
        unknown_message=7,
        malformed=2,
    ),
}


class Refusal(Exception):
    """The simulated API refuses a request: HTTP 400 ``{request_id, error_code, error}``.

    Internal to the sandbox; it never reaches a bulksend user as an exception.
    """

    def __init__(self, error_code: int, error: str) -> None:
        super().__init__(error)
        self.error_code = error_code
        self.error = error
