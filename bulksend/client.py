"""HTTP to the Octopods API: every answer classified, every transport error translated once.

The classification is a pure function of the HTTP status and body (``classify_response``) or of
the exception (``classify_exception``), so the send engine decides retries on values, not on
``requests`` internals. The key only ever goes into the ``X-Octopods-Auth`` header, and only to
``base_url``: no redirect is followed (``requests`` would carry a custom header to any host a
3xx names). Exception texts from ``requests`` are reduced to their type and a short reason, and
an API that echoes the key back has it masked, before anything leaves here.

Sends are tried once (the engine owns their retries, behind its pacer). Reads of the template and
of the message list, which the run cannot do without, are retried here: transient trouble (and,
a GET being safe to repeat, a lost answer) backs off with full jitter per ``read_retry``, and a
429 is waited out until the time it names, at most ``max_rate_limit_wait_s`` in all.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

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
    one_line,
    refusal_text,
    text_of,
)
from bulksend.apikey import ApiKey
from bulksend.channels import Channel
from bulksend.errors import ApiUnreachableError, CampaignRefusedError
from bulksend.retry import RetryPolicy, rate_limit_wait_s
from bulksend.templates import Template

logger = logging.getLogger(__name__)

AUTH_HEADER = "X-Octopods-Auth"
MASK = "********"
# A template or list read waits out 429s for at most this long in all, then gives up clearly.
MAX_RATE_LIMIT_WAIT_S = 180.0
MAX_RATE_LIMITED_READS = 60  # and meets at most this many 429s (each wait is at least 1 s)

__all__ = ["AnswerKind", "ApiAnswer", "OctopodsClient"]


Wait = Callable[[threading.Event | None, float], bool]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _event_wait(cancel: threading.Event | None, timeout_s: float) -> bool:
    """Sleep ``timeout_s``; True (at once) when ``cancel`` is set first."""
    return (cancel or threading.Event()).wait(timeout_s)


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
        read_retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen, so sharing it is safe
        max_rate_limit_wait_s: float = MAX_RATE_LIMIT_WAIT_S,
        wait: Wait = _event_wait,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.channel = channel
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._api_key = api_key
        self._pool_size = pool_size
        self._key_env = key_env
        self._utc_now = utc_now
        self.read_retry = read_retry
        self.max_rate_limit_wait_s = max_rate_limit_wait_s
        self._wait = wait
        self._random_fraction = random_fraction
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
                method,
                url,
                timeout=(self.connect_timeout_s, self.timeout_s),
                allow_redirects=False,  # the key header would go along to wherever a 3xx points
                **kwargs,
            )
            # An API that echoes the header back must not carry the key into results or errors.
            body_text = response.text.replace(self._api_key.reveal(), MASK)
        except requests.exceptions.RequestException as error:
            answer = classify_exception(error)
            logger.info("%s %s: %s", method, path, answer.error)
            return answer
        answer = classify_response(
            self.channel,
            response.status_code,
            body_text,
            response.headers,
            now_utc=self._utc_now(),
            path=urlsplit(url).path,
        )
        # The body may hold the key escaped (JSON "\/", HTML entities): mask it once decoded too.
        return replace(answer, error=answer.error.replace(self._api_key.reveal(), MASK))

    def _read(
        self, path: str, *, params: Mapping[str, Any] | None = None, cancel: threading.Event | None
    ) -> tuple[ApiAnswer, int]:
        """GET ``path``, retried as the module docstring says; (last answer, requests made).

        Returns early, with the last answer, when ``cancel`` is set during a wait.
        """
        requests_made = failures = limited = 0
        waited_for_429_s = 0.0
        while True:
            answer = self._request("GET", path, params=params)
            requests_made += 1
            if answer.kind in (AnswerKind.TRANSIENT, AnswerKind.UNCERTAIN):
                failures += 1
                give_up = not self.read_retry.can_retry(failures)
                wait_s = self.read_retry.backoff_s(
                    failures, random_fraction=self._random_fraction()
                )
            elif answer.kind is AnswerKind.RATE_LIMITED:
                limited += 1
                wait_s = self._wait_after_429(answer, limited)
                waited_for_429_s += wait_s
                give_up = limited > MAX_RATE_LIMITED_READS
                give_up = give_up or waited_for_429_s > self.max_rate_limit_wait_s
            else:
                return answer, requests_made
            if give_up:
                return answer, requests_made
            logger.info("GET %s: %s; trying again in %.1f s", path, answer.error, wait_s)
            if self._wait(cancel, wait_s):
                return answer, requests_made

    def _wait_after_429(self, answer: ApiAnswer, times_limited: int) -> float:
        return rate_limit_wait_s(
            answer.retry_at,
            now_utc=self._utc_now(),
            times_limited=times_limited,
            policy=self.read_retry,
            jitter_fraction=self._random_fraction(),
            backoff_fraction=self._random_fraction(),
        )

    def send(self, body: Mapping[str, Any], *, template_id: int | None) -> ApiAnswer:
        """POST one message; the answer says whether it was sent, refused or may have arrived."""
        return self._request("POST", self.channel.send_path(template_id), json=dict(body))

    def get_message(self, message_id: str | int) -> ApiAnswer:
        """One message's status; ``data`` is normalised (see ``answers.normalize_message``)."""
        answer = self._request("GET", self.channel.status_path(message_id))
        if answer.http_status == 404 and answer.error_code is not None:
            # A 404 in the API's own error shape is about this message (an id it forgot), not
            # about api_url: refused for this message only, in the API's words.
            said = one_line(text_of(answer.data.get("error"))).replace(self._api_key.reveal(), MASK)
            return replace(answer, kind=AnswerKind.REJECTED, error=said or "HTTP 404")
        if not answer.ok:
            return answer
        return replace(answer, data=normalize_message(answer.data))

    def list_messages(
        self, *, limit: int = 100, cancel: threading.Event | None = None
    ) -> ApiAnswer:
        """Recent WhatsApp sends, newest first: ``data["messages"]`` holds normalised items.

        Transient trouble and 429s are retried (see the module docstring); ``cancel`` ends a
        wait early. A 400 that is not about the key is read as "nothing sent yet" [14823960].
        """
        if self.channel is not Channel.WHATSAPP:
            raise ValueError("only WhatsApp has a list endpoint")
        params = {"limit": min(limit, 100)}
        answer, _ = self._read("whatsapp/messages", params=params, cancel=cancel)
        if answer.kind is AnswerKind.REJECTED and answer.http_status == 400:
            return replace(answer, kind=AnswerKind.OK, data={"messages": []})
        if not answer.ok:
            return answer
        return replace(
            answer, data={"request_id": answer.request_id, **normalize_listing(answer.data)}
        )

    def get_template(self, template_id: int, *, cancel: threading.Event | None = None) -> Template:
        """The template as the API lists it, retried through transient trouble and 429s.

        Raises CampaignRefusedError when it does not exist, is not Accepted, the key is refused
        or api_url is wrong; ApiUnreachableError when the API cannot be reached, keeps failing
        or keeps rate limiting beyond ``max_rate_limit_wait_s``.
        """
        answer, requests_made = self._read(self.channel.template_path(template_id), cancel=cancel)
        if answer.http_status == 404 and answer.error_code is None:
            answer, requests_made = self._find_in_listing(template_id, answer, cancel=cancel)
        if answer.kind is not AnswerKind.OK:
            raise self._template_error(template_id, answer, requests_made)
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

    def _find_in_listing(
        self, template_id: int, fallback: ApiAnswer, *, cancel: threading.Event | None
    ) -> tuple[ApiAnswer, int]:
        # Some deployments may not route the single-template URL: the listing always exists.
        listing, requests_made = self._read(self.channel.template_path(), cancel=cancel)
        if listing.kind is not AnswerKind.OK:
            return (fallback if listing.http_status == 404 else listing), requests_made
        for item in _template_items(listing.data):
            if text_of(item.get("template_id")) == str(template_id):
                return replace(listing, data=item), requests_made
        return _missing_template_answer(listing), requests_made

    def _template_error(self, template_id: int, answer: ApiAnswer, requests_made: int) -> Exception:
        if answer.kind is AnswerKind.CAMPAIGN_ERROR or answer.http_status == 400:
            if answer.kind is not AnswerKind.CAMPAIGN_ERROR:
                answer = _missing_template_answer(answer)
            return self.refusal(answer)
        if answer.kind is AnswerKind.RATE_LIMITED:
            until = f" until {answer.retry_at:%Y-%m-%d %H:%M:%S} UTC" if answer.retry_at else ""
            return ApiUnreachableError(
                f"The API is rate limiting this key{until} while fetching template "
                f"{template_id}; bulksend waits at most {self.max_rate_limit_wait_s:.0f} s for "
                "that.",
                http_status=answer.http_status,
                hint="Another program may be using the same key's budget: run again later.",
            )
        status = f"HTTP {answer.http_status}: " if answer.http_status else ""
        tries = f" ({requests_made} attempts)" if requests_made > 1 else ""
        return ApiUnreachableError(
            f"Could not fetch template {template_id} from {self.base_url}: "
            f"{status}{answer.error}{tries}",
            http_status=answer.http_status,
            request_id=answer.request_id or None,
            hint="Check api_url and the network, then run again.",
        )

    def refusal(self, answer: ApiAnswer, *, command: str = "send") -> CampaignRefusedError:
        """The user-facing error for a campaign-wide answer: the API's words and what to do
        (``command``, "send" or "status", is what to run again)."""
        message, hint = refusal_text(self.channel, answer, key_env=self._key_env, command=command)
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
