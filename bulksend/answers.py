"""What an Octopods answer means: pure classification of HTTP answers and transport errors.

``classify_response`` is a function of the HTTP status, body and time; ``classify_exception`` of the
exception. The send engine decides retries on these values, not on ``requests`` internals. Both
listing shapes and both status spellings are normalised here too (octopods-api.md, section 5).
"""

from __future__ import annotations

import datetime as dt
import html
import http
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from bulksend.channels import Channel
from bulksend.retry import parse_retry_at

DEPRECATED_KEY_TEXT = "deprecated api key"
# Error texts go into one CSV cell and one log line: short, one line, no markup.
ERROR_TEXT_LIMIT = 200

# Error codes are scoped per family (octopods-api.md, sections 2.1, 2.4, 2.6): the same number
# means different things on WhatsApp, SMS and VBM.
CAMPAIGN_CODES: Mapping[Channel, frozenset[int]] = {
    Channel.WHATSAPP: frozenset({1, 2, 3, 4, 6, 9}),
    Channel.SMS: frozenset({1, 5}),
    Channel.VBM: frozenset({1, 2, 3, 4, 6}),
}
ROW_CODES: Mapping[Channel, frozenset[int]] = {
    Channel.WHATSAPP: frozenset({5, 8}),
    Channel.SMS: frozenset({2, 3, 4}),
    Channel.VBM: frozenset({5, 8}),
}
DEPRECATED_KEY_CODES: Mapping[Channel, int] = {Channel.WHATSAPP: 6, Channel.SMS: 5, Channel.VBM: 6}
TEMPLATE_MISSING_CODE = 3


class AnswerKind(StrEnum):
    OK = "ok"
    REJECTED = "rejected"  # this recipient only; never retried
    CAMPAIGN_ERROR = "campaign_error"  # no row can succeed: stop the run
    RATE_LIMITED = "rate_limited"  # wait until retry_at, then retry
    TRANSIENT = "transient"  # the request never reached the API, or a 5xx: retry with backoff
    UNCERTAIN = "uncertain"  # the API may have acted on it: never resend blindly


@dataclass(frozen=True)
class ApiAnswer:
    kind: AnswerKind
    http_status: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    request_id: str = ""
    message_id: str = ""
    channel_message_id: str = ""
    error_code: int | None = None
    error: str = ""
    retry_at: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return self.kind is AnswerKind.OK


def text_of(value: Any) -> str:
    return "" if value is None else str(value)


def _error_code(data: Mapping[str, Any]) -> int | None:
    try:
        return int(data["error_code"])
    except (KeyError, TypeError, ValueError):
        return None


_HTML_START = re.compile(r"\s*<(?:!doctype|!--|html|head|body|title|h\d|p|div|center|pre)\b", re.I)
_HTML_HIDDEN = re.compile(r"<!--.*?-->|<(script|style|head)\b.*?</\1\s*>", re.I | re.S)
_HTML_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.I | re.S)
_HTML_TAG = re.compile(r"<[^>]*>")


def _words_of_html(text: str) -> str:
    """The visible words of an HTML page (an nginx or CDN error page): the title if none."""
    title = _HTML_TITLE.search(text)
    words = _HTML_TAG.sub(" ", _HTML_HIDDEN.sub(" ", text))
    if not words.strip() and title is not None:
        words = _HTML_TAG.sub(" ", title.group(1))
    return html.unescape(words)


def one_line(text: str, *, limit: int = ERROR_TEXT_LIMIT, is_html: bool | None = None) -> str:
    """``text`` as one short line for a results cell or a log line.

    HTML (as ``is_html`` says, or when the text starts like a page) is reduced to its visible
    words; control characters, line breaks and runs of spaces become one space; the result is
    at most ``limit`` characters, "..." marking a cut.
    """
    if is_html or (is_html is None and _HTML_START.match(text)):
        text = _words_of_html(text)
    text = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    text = " ".join(text.split())  # also splits on U+2028/U+2029 and the other Unicode breaks
    if len(text) <= limit:
        return text
    return text[: max(limit - 3, 0)].rstrip() + "..."


def _is_html(headers: Mapping[str, str]) -> bool | None:
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return True if "html" in content_type.lower() else None


def _errortext_of(data: Mapping[str, Any], body_text: str, headers: Mapping[str, str]) -> str:
    said = data.get("error") or data.get("message")
    if said:
        return one_line(said if isinstance(said, str) else json.dumps(said, default=str))
    return one_line(body_text, is_html=_is_html(headers))


def parse_body(body_text: str) -> Any:
    """The JSON in a body, or None when it is not JSON (an HTML error page, an empty body)."""
    try:
        return json.loads(body_text) if body_text.strip() else None
    except ValueError:
        return None


def _kind_of_400(channel: Channel, code: int | None, error: str) -> AnswerKind:
    if DEPRECATED_KEY_TEXT in error.lower():
        return AnswerKind.CAMPAIGN_ERROR
    if code is not None and code in CAMPAIGN_CODES[channel]:
        return AnswerKind.CAMPAIGN_ERROR
    return AnswerKind.REJECTED  # row-level codes and codes no article documents


def _kind_of_status(channel: Channel, status: int, code: int | None, error: str) -> AnswerKind:
    """What an HTTP status means for the row and the run.

    Only a 400 can be about one recipient. A 2xx that is not 200/201 may have been acted on, so
    it is uncertain; a 408 says the request never arrived whole, so it is retried. A redirect,
    a 404/405 and any other status Octopods does not document say that api_url (or a proxy in
    front of it) is wrong: no row can succeed, so the run stops with every unsent row resumable.
    """
    if status in (200, 201):
        return AnswerKind.OK
    if 200 <= status < 300:
        return AnswerKind.UNCERTAIN
    if status == 429:
        return AnswerKind.RATE_LIMITED
    if status == 400:
        return _kind_of_400(channel, code, error)
    if status == 408 or 500 <= status < 600:
        return AnswerKind.TRANSIENT
    return AnswerKind.CAMPAIGN_ERROR  # 3xx, 401/403, 404/405, 409, 413, 422, other 4xx, oddities


def _status_words(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def location_host(headers: Mapping[str, str]) -> str:
    """The host (and port) a redirect points at, without any user or path: never the whole URL."""
    location = next((v for k, v in headers.items() if k.lower() == "location"), "")
    try:
        parts = urlsplit(location.strip())
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return ""
    return f"{host}:{port}" if host and port else host


def _unexpected_status_text(status: int, path: str, headers: Mapping[str, str], said: str) -> str:
    """The error text of an answer no Octopods article documents: what is likely wrong."""
    answered = f"the API answered {_status_words(status)}"
    where = f" for {path}" if path else ""
    if 300 <= status < 400:
        host = location_host(headers)
        target = f" to {host}" if host else " with no Location"
        text = f"{answered}, a redirect{target} (not followed: the key stays here): check api_url"
    elif status in (404, 405, 410):
        text = f"{answered}{where}: check api_url"
    elif status == 413:
        text = f"{answered}{where}: the server or a proxy in front of it refuses the body size"
    else:
        text = f"{answered}{where}, which Octopods does not document: check api_url"
    return one_line(f"{text} (it said: {said})" if said else text)


def classify_response(
    channel: Channel,
    status: int,
    body_text: str,
    headers: Mapping[str, str],
    *,
    now_utc: dt.datetime,
    path: str = "",
) -> ApiAnswer:
    """Classify one HTTP answer. Pure: the same status, body and time give the same answer.

    ``path`` (the request's URL path) goes into the error text of a 404 and the like. The error
    text is always one short line (see ``one_line``), whatever the body held.
    """
    parsed = parse_body(body_text)
    data: Mapping[str, Any] = parsed if isinstance(parsed, Mapping) else {}
    code = _error_code(data)
    said = "" if status in (200, 201) else _errortext_of(data, body_text, headers)
    kind = _kind_of_status(channel, status, code, said)
    if kind is AnswerKind.CAMPAIGN_ERROR and status not in (400, 401, 403):
        error = _unexpected_status_text(status, path, headers, said)
    else:
        error = said or ("" if status in (200, 201) else f"HTTP {_status_words(status)}")
    retry_at = None
    if kind is AnswerKind.RATE_LIMITED:
        retry_at = parse_retry_at(body_text, headers, now_utc=now_utc)
    return ApiAnswer(
        kind=kind,
        http_status=status,
        data=data if parsed is None or isinstance(parsed, Mapping) else {"items": parsed},
        request_id=text_of(data.get("request_id")),
        message_id=text_of(data.get("message_id")),
        channel_message_id=text_of(data.get("channel_message_id")),
        error_code=code,
        error=error,
        retry_at=retry_at,
    )


def _causes(error: BaseException) -> list[BaseException]:
    """The error and everything it wraps: requests puts urllib3's error in args and .reason."""
    seen: list[BaseException] = []
    pending: list[BaseException] = [error]
    while pending and len(seen) < 20:
        current = pending.pop()
        if any(current is known for known in seen):
            continue
        seen.append(current)
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending.extend(item for item in linked if isinstance(item, BaseException))
    return seen


NEVER_LEFT = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
    ConnectionRefusedError,
)
NEVER_LEFT_REQUESTS = (
    requests.exceptions.ConnectTimeout,
    requests.exceptions.SSLError,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)


def _reason(error: BaseException, kind: AnswerKind) -> str:
    causes = _causes(error)
    if any(isinstance(c, requests.exceptions.ReadTimeout) for c in causes):
        return "no answer before the read timeout (the API may have received the request)"
    if any(isinstance(c, urllib3.exceptions.NameResolutionError) for c in causes):
        return "the API host name could not be resolved"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused"
    if any(isinstance(c, requests.exceptions.ConnectTimeout) for c in causes):
        return "connect timeout"
    if kind is AnswerKind.UNCERTAIN:
        return "connection lost after the request was sent (the API may have received it)"
    return f"could not connect ({type(error).__name__})"


def classify_exception(error: BaseException) -> ApiAnswer:
    """TRANSIENT when the request provably never left; UNCERTAIN when it may have arrived.

    Only the error's type and a fixed reason are kept: a ``requests`` message can hold the URL
    and, in some versions, headers.
    """
    causes = _causes(error)
    if any(isinstance(c, urllib3.exceptions.ProtocolError) for c in causes):
        kind = AnswerKind.UNCERTAIN  # reset or closed while sending or waiting: may have arrived
    elif any(isinstance(c, NEVER_LEFT + NEVER_LEFT_REQUESTS) for c in causes):
        kind = AnswerKind.TRANSIENT
    else:
        kind = AnswerKind.UNCERTAIN
    return ApiAnswer(kind=kind, error=_reason(error, kind))


# How to carry on, per command that met a campaign-wide answer: after a new key, after a fix
# elsewhere, and for an answer no other advice fits.
_CARRY_ON = {
    "send": (
        "run send again (rows not yet sent will be sent)",
        "Rows not yet sent stay resumable: run send again once it is fixed.",
        "Fix the campaign and run send again; rows not yet sent stay resumable.",
    ),
    "status": (
        "run status again (the delivery answers already received are kept)",
        "The delivery answers already received are kept: run status again once it is fixed.",
        "Check api_url and api_key_env in the campaign file, then run status again; the "
        "delivery answers already received are kept.",
    ),
}


def refusal_text(
    channel: Channel, answer: ApiAnswer, *, key_env: str | None, command: str = "send"
) -> tuple[str, str]:
    """(message, what to do) for a campaign-wide answer, by the family's error code.

    ``command`` ("send" or "status") is the command that met it: the advice says how to carry on
    with that one.
    """
    again, resumable, otherwise = _CARRY_ON[command]
    said = f" The API said: {answer.error}" if answer.error else ""
    where = f"the environment variable {key_env}" if key_env else "the api_key_env variable"
    code = answer.error_code
    if code == DEPRECATED_KEY_CODES[channel] or DEPRECATED_KEY_TEXT in answer.error.lower():
        return (
            f"The {channel.value} API key was rotated or revoked.{said}",
            f"Copy the current key from the {channel.value} channel settings in Octopods into "
            f"{where}, then {again}.",
        )
    if answer.http_status in (401, 403):
        return (
            f"The API refused the key (HTTP {answer.http_status}).{said}",
            f"Check that {where} holds the API key of the {channel.value} channel you send "
            "from: each channel has its own key.",
        )
    if code == TEMPLATE_MISSING_CODE and channel.uses_template:
        return (
            f"The template does not exist, or is not Accepted, for this key.{said}",
            "Check template_id in the campaign file and that the key belongs to the channel "
            "the template is on.",
        )
    if answer.http_status is not None and answer.http_status != 400:
        return _unexpected_status_refusal(answer.http_status, answer.error, resumable)
    if code == 1:
        return (
            f"A required field is missing from every message.{said}",
            "Check the variables and header_url in the campaign file; bulksend validate shows "
            "what is sent.",
        )
    if code in (2, 4, 9):
        return (
            f"The message variables do not match the template's placeholders.{said}",
            "Compare the variables in the campaign file with the template (bulksend validate "
            "shows both), fix the file and run again.",
        )
    return (
        f"The API refused the campaign (HTTP {answer.http_status}, code {code}).{said}",
        otherwise,
    )


def _unexpected_status_refusal(status: int, error: str, resumable: str) -> tuple[str, str]:
    message = f"{error[:1].upper()}{error[1:]}." if error else f"The API answered HTTP {status}."
    if 300 <= status < 400:
        hint = (
            "Set api_url to the API's own address (https://app.octopods.io/api/v1): bulksend "
            f"follows no redirect, so that the key never goes to another host. {resumable}"
        )
    elif status in (404, 405, 410):
        hint = (
            "Check api_url in the campaign file: https://app.octopods.io/api/v1, with no other "
            f"version or path. {resumable}"
        )
    else:
        hint = (
            "Check api_url, and any proxy between bulksend and Octopods; the results file "
            f"records nothing final for this answer. {resumable}"
        )
    return message, hint


def _failuretext_of(value: Any) -> str:
    # failure_reason may be a string, null, "" or {code, title} [14823960]
    if isinstance(value, Mapping):
        title, code = text_of(value.get("title")), text_of(value.get("code"))
        return f"{title} ({code})" if title and code else title or code
    return text_of(value)


def normalize_message(item: Mapping[str, Any]) -> dict[str, Any]:
    """One message in either documented shape, as canonical keys with lowercase ``status``.

    The bare-array listing [14823960] nests the status in ``message_status`` and puts the
    Octopods message id in ``message_status.channel_message_id``.
    """
    nested = item.get("message_status")
    nested = nested if isinstance(nested, Mapping) else {}
    status = item.get("status") or nested.get("message_status") or ""
    if isinstance(item.get("message_status"), str):
        status = status or item["message_status"]
    failure = item.get("failure_reason", nested.get("failure_reason"))
    return {
        **item,
        "message_id": text_of(item.get("message_id") or nested.get("channel_message_id")),
        "status": text_of(status).strip().lower(),
        "phone_number": text_of(item.get("phone_number") or item.get("user_phone_number")),
        "channel_message_id": text_of(item.get("channel_message_id")),
        "sent_at": text_of(item.get("sent_at") or item.get("created_at")),
        "delivered_at": text_of(item.get("delivered_at")),
        "read_at": text_of(item.get("read_at")),
        "last_updated": text_of(item.get("last_updated")),
        "status_message": text_of(item.get("status_message")),
        "failure_reason": _failuretext_of(failure),
    }


def normalize_listing(data: Any) -> dict[str, Any]:
    """``{"messages": [...]}`` from the object shape, the bare array, or a wrapped array."""
    if isinstance(data, Mapping):
        data = data.get("messages", data.get("items", []))
    items = data if isinstance(data, list) else []
    return {"messages": [normalize_message(item) for item in items if isinstance(item, Mapping)]}
