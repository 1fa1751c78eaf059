"""HTTP to the Octopods API: every answer classified, every transport error translated once.

The classification is a pure function of the HTTP status and body (``classify_response``) or of
the exception (``classify_exception``), so the send engine decides retries on values, not on
``requests`` internals. The key only ever goes into the ``X-Octopods-Auth`` header: exception
texts from ``requests`` are reduced to their type and a short reason before they leave here.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bulksend.answers import (
    TEMPLATE_MISSING_CODE,
    AnswerKind,
    ApiAnswer,
    classify_exception,
    classify_response,
    normalize_listing,
    normalize_message,
    refusal_text,
    text_of,
)
from bulksend.apikey import ApiKey
from bulksend.channels import Channel
from bulksend.errors import ApiUnreachableError, CampaignRefusedError
from bulksend.templates import Template

logger = logging.getLogger(__name__)

AUTH_HEADER = "X-Octopods-Auth"

__all__ = ["AnswerKind", "ApiAnswer", "OctopodsClient"]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OctopodsClient:
    """The Octopods API for one channel and key. Thread-safe: one keep-alive session per thread."""

    def __init__(
        self,
        base_url: str,
        api_key: ApiKey,
        channel: Channel,
        *,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        pool_size: int = 64,
        key_env: str | None = None,
        utc_now: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.channel = channel
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._api_key = api_key
        self._pool_size = pool_size
        self._key_env = key_env
        self._utc_now = utc_now
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OctopodsClient({self.base_url!r}, {self.channel.value})"

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # max_retries=0: urllib3 must never resend a POST behind our back.
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self._pool_size, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers[AUTH_HEADER] = self._api_key.reveal()
            session.headers["Accept"] = "application/json"
            session.headers["User-Agent"] = "bulksend"
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _request(self, method: str, path: str, **kwargs: Any) -> ApiAnswer:
        url = f"{self.base_url}/{path.lstrip('/')}"
        try:
            response = self._session().request(
                method, url, timeout=(self.connect_timeout_s, self.timeout_s), **kwargs
            )
            # An API that echoes the header back must not carry the key into results or errors.
            body_text = response.text.replace(self._api_key.reveal(), "********")
        except requests.exceptions.RequestException as error:
            answer = classify_exception(error)
            logger.info("%s %s: %s", method, path, answer.error)
            return answer
        return classify_response(
            self.channel, response.status_code, body_text, response.headers, now_utc=self._utc_now()
        )

    def send(self, body: Mapping[str, Any], *, template_id: int | None) -> ApiAnswer:
        """POST one message; the answer says whether it was sent, refused or may have arrived."""
        return self._request("POST", self.channel.send_path(template_id), json=dict(body))

    def get_message(self, message_id: str | int) -> ApiAnswer:
        """One message's status; ``data`` is normalised (see ``answers.normalize_message``)."""
        answer = self._request("GET", self.channel.status_path(message_id))
        if not answer.ok:
            return answer
        return replace(answer, data=normalize_message(answer.data))

    def list_messages(self, *, limit: int = 100) -> ApiAnswer:
        """Recent WhatsApp sends, newest first: ``data["messages"]`` holds normalised items.

        A 400 that is not about the key is read as "nothing sent yet" [14823960].
        """
        if self.channel is not Channel.WHATSAPP:
            raise ValueError("only WhatsApp has a list endpoint")
        answer = self._request("GET", "whatsapp/messages", params={"limit": min(limit, 100)})
        if answer.kind is AnswerKind.REJECTED and answer.http_status == 400:
            return replace(answer, kind=AnswerKind.OK, data={"messages": []})
        if not answer.ok:
            return answer
        return replace(
            answer, data={"request_id": answer.request_id, **normalize_listing(answer.data)}
        )

    def get_template(self, template_id: int) -> Template:
        """The template as the API lists it.

        Raises CampaignRefusedError when it does not exist, is not Accepted or the key is refused;
        ApiUnreachableError when the API cannot be reached or keeps failing.
        """
        answer = self._request("GET", self.channel.template_path(template_id))
        if answer.http_status == 404 and answer.error_code is None:
            answer = self._find_in_listing(template_id, answer)
        if answer.kind is not AnswerKind.OK:
            raise self._template_error(template_id, answer)
        template = _template_from(answer.data, template_id)
        if template is None:
            raise self.refusal(_missing_template_answer(answer))
        if not template.is_accepted:
            raise CampaignRefusedError(
                f"Template {template_id} is in the state {template.status!r}; "
                "only Accepted templates can be sent.",
                hint="Wait until Meta/Viber accepts it, or set another template_id.",
            )
        return template

    def _find_in_listing(self, template_id: int, fallback: ApiAnswer) -> ApiAnswer:
        # Some deployments may not route the single-template URL: the listing always exists.
        listing = self._request("GET", self.channel.template_path())
        if listing.kind is not AnswerKind.OK:
            return fallback if listing.http_status == 404 else listing
        for item in _template_items(listing.data):
            if text_of(item.get("template_id")) == str(template_id):
                return replace(listing, data=item)
        return _missing_template_answer(listing)

    def _template_error(self, template_id: int, answer: ApiAnswer) -> Exception:
        if answer.kind is AnswerKind.CAMPAIGN_ERROR or answer.http_status in (400, 404):
            if answer.kind is not AnswerKind.CAMPAIGN_ERROR:
                answer = _missing_template_answer(answer)
            return self.refusal(answer)
        if answer.kind is AnswerKind.RATE_LIMITED:
            return ApiUnreachableError(
                f"The API is rate limiting this key while fetching template {template_id}.",
                http_status=answer.http_status,
                hint="Wait a minute and run again.",
            )
        status = f"HTTP {answer.http_status}: " if answer.http_status else ""
        return ApiUnreachableError(
            f"Could not fetch template {template_id} from {self.base_url}: {status}{answer.error}",
            http_status=answer.http_status,
            request_id=answer.request_id or None,
            hint="Check api_url and the network, then run again.",
        )

    def refusal(self, answer: ApiAnswer) -> CampaignRefusedError:
        """The user-facing error for a campaign-wide answer: the API's words and what to do."""
        message, hint = refusal_text(self.channel, answer, key_env=self._key_env)
        return CampaignRefusedError(
            message,
            http_status=answer.http_status,
            error_code=answer.error_code,
            request_id=answer.request_id or None,
            hint=hint,
        )

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def __enter__(self) -> OctopodsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _template_items(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = data.get("items")
    if isinstance(items, list):
        return [item for item in items if isinstance(item, Mapping)]
    for key in ("templates", "data"):
        if isinstance(data.get(key), list):
            return [item for item in data[key] if isinstance(item, Mapping)]
    return [data] if "template_id" in data else []


def _template_from(data: Mapping[str, Any], template_id: int) -> Template | None:
    items = _template_items(data)
    matching = [item for item in items if text_of(item.get("template_id")) == str(template_id)]
    return Template.from_api(matching[0]) if matching else None


def _missing_template_answer(answer: ApiAnswer) -> ApiAnswer:
    return replace(
        answer,
        kind=AnswerKind.CAMPAIGN_ERROR,
        error_code=TEMPLATE_MISSING_CODE,
        error=answer.error if answer.error_code == TEMPLATE_MISSING_CODE else "",
    )
