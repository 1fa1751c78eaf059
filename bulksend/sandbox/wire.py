"""The values that cross between the HTTP layer and the simulated API: request, answer, log."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str  # without the query string
    query: Mapping[str, str] = field(default_factory=dict)
    auth: str | None = None  # the X-Octopods-Auth header
    content_type: str | None = None
    body: bytes = b""
    base_url: str = ""  # http://host:port/api/v1 as the client reached it


@dataclass(frozen=True)
class ApiResponse:
    status: int
    payload: Any  # JSON-able, or str for a non-JSON body
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    message_id: int | None = None  # set on an accepted send

    def encode(self) -> bytes:
        if isinstance(self.payload, str):
            return self.payload.encode("utf-8")
        return json.dumps(self.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class RequestRecord:
    """One request the sandbox saw on ``/api/v1`` and what it did with it."""

    method: str
    path: str
    status: int | None  # None: the connection was dropped without an answer
    received_at: float  # the sandbox clock when the request arrived
    fault: str = "none"  # a FaultAction value
    message_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "received_at": self.received_at,
            "fault": self.fault,
            "message_id": self.message_id,
        }
