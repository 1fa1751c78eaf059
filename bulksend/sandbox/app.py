"""The simulated Octopods API: routing, keys, rate limit, validation, ledger, delivery statuses.

``SandboxApp.handle`` turns an ``ApiRequest`` into an ``ApiResponse`` without touching sockets,
so the HTTP layer stays thin. All state lives on the instance behind one lock: two sandboxes in
one process share nothing.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from bulksend.channels import Channel
from bulksend.sandbox.catalog import TemplateCatalog, load_fixture
from bulksend.sandbox.codes import (
    CODES,
    DEPRECATED_KEY_TEXT,
    MESSAGE_NOT_EXIST_TEXT,
    TEMPLATE_NOT_EXIST_TEXT,
    Refusal,
)
from bulksend.sandbox.config import Faults, SandboxConfig
from bulksend.sandbox.delivery import delivery_state, iso_utc
from bulksend.sandbox.faults import FaultPicker, FaultPlan
from bulksend.sandbox.ledger import Ledger, LedgerEntry, key_id
from bulksend.sandbox.ratelimit import RateLimiter
from bulksend.sandbox.validation import check_sms_send, check_template_send, parse_json_object
from bulksend.sandbox.wire import ApiRequest, ApiResponse, RequestRecord
from bulksend.templates import Template

API_PREFIX = "/api/v1/"
LIST_LIMIT_MAX = 100


@dataclass(frozen=True)
class Route:
    channels: tuple[Channel, ...]
    parts: tuple[str, ...]  # "*" matches one path segment (an id)
    method: str
    handler: str


ROUTES = (
    Route((Channel.WHATSAPP, Channel.VBM), ("templates", "*", "messages"), "POST", "send_template"),
    Route((Channel.SMS,), ("messages",), "POST", "send_sms"),
    Route((Channel.WHATSAPP,), ("messages",), "GET", "list_messages"),
    Route((Channel.WHATSAPP, Channel.SMS), ("messages", "*"), "GET", "message_status"),
    Route((Channel.WHATSAPP, Channel.VBM), ("templates",), "GET", "list_templates"),
    Route((Channel.WHATSAPP, Channel.VBM), ("templates", "*"), "GET", "get_template"),
)


def new_request_id() -> str:
    return str(uuid.uuid4())


def _as_int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def _json(status: int, payload: Any, **extra: Any) -> ApiResponse:
    return ApiResponse(status=status, payload=payload, **extra)


def refusal_response(refusal: Refusal) -> ApiResponse:
    body = {"request_id": new_request_id(), "error_code": refusal.error_code}
    return _json(400, {**body, "error": refusal.error})


def fault_response(status: int) -> ApiResponse:
    """What a failing gateway or app answers: HTML for 502/503, JSON for the app's own 500."""
    if status == 500:
        return _json(500, {"request_id": new_request_id(), "error": "Internal Server Error"})
    text = (
        f"<html><body><h1>{status}</h1><p>The server is temporarily unavailable.</p></body></html>"
    )
    return ApiResponse(status=status, payload=text, content_type="text/html; charset=utf-8")


def channel_message_id(channel: Channel, seed: int, message_id: int) -> str:
    digest = hashlib.blake2b(f"{seed}:{channel}:{message_id}".encode(), digest_size=27).digest()
    if channel is Channel.WHATSAPP:
        return "wamid." + base64.b64encode(digest).decode("ascii")
    if channel is Channel.SMS:
        return "SM" + digest[:16].hex()
    return str(int.from_bytes(digest[:8], "big") >> 1)


class SandboxApp:
    def __init__(self, config: SandboxConfig, *, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.Lock()
        self._keys = config.api_keys()
        self._deprecated = config.api_deprecated_keys()
        templates = config.templates if config.templates is not None else load_fixture()
        self._catalog = TemplateCatalog(templates)
        self._ledger = Ledger(first_message_id=config.first_message_id, path=config.ledger_path)
        self._limiter = RateLimiter(config.rate_limit)
        self._faults = FaultPicker(config.faults, seed=config.seed)
        self._log: deque[RequestRecord] = deque(maxlen=config.request_log_limit or None)

    # ---- control, for the Sandbox object and /_sandbox ----

    def open(self) -> None:
        self._ledger.open()

    def close(self) -> None:
        with self.lock:
            self._ledger.close()

    def ledger(self) -> list[LedgerEntry]:
        with self.lock:
            return self._ledger.entries()

    def requests(self) -> list[RequestRecord]:
        with self.lock:
            return list(self._log)

    def log(self, record: RequestRecord) -> None:
        with self.lock:
            self._log.append(record)

    def add_template(self, channel: Channel, data: Mapping[str, Any]) -> Template:
        with self.lock:
            return self._catalog.add(Channel(channel), data)

    @property
    def faults(self) -> Faults:
        return self._faults.faults

    def set_faults(self, **changes: Any) -> Faults:
        with self.lock:
            faults = replace(self._faults.faults, **changes)
            self._faults.replace(faults)
            return faults

    def set_rate_limit(self, limit: tuple[int, float] | None) -> None:
        replace(self.config, rate_limit=limit)  # validates
        with self.lock:
            self._limiter.set_limit(limit)

    def plan_faults(self) -> FaultPlan:
        with self.lock:
            return self._faults.plan()

    # ---- the API ----

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one ``/api/v1`` request as Octopods would."""
        matched = self._match(request.method, request.path)
        if isinstance(matched, ApiResponse):
            return matched
        channel, route, path_arg = matched
        key_channel = self._keys.get(request.auth or "") or self._deprecated.get(request.auth or "")
        if key_channel is not channel:
            return _json(
                401,
                {
                    "request_id": new_request_id(),
                    "error": f"Unauthorized: send a valid {channel.value} channel API key "
                    "in the X-Octopods-Auth header.",
                },
            )
        caller = key_id(request.auth or "")
        with self.lock:
            now = self.clock()
            verdict = self._limiter.check(caller, now)
            if not verdict.allowed:
                return _json(429, {"message": verdict.message})
            try:
                if request.auth in self._deprecated:
                    raise Refusal(CODES[channel].deprecated_key, DEPRECATED_KEY_TEXT)
                handler = getattr(self, "_" + route.handler)
                return handler(channel, caller, path_arg, request, now)
            except Refusal as refusal:
                return refusal_response(refusal)

    def _match(self, method: str, path: str) -> tuple[Channel, Route, str | None] | ApiResponse:
        parts = path[len(API_PREFIX) :].strip("/").split("/")
        allowed = []
        channel = next((c for c in Channel if c.value == parts[0]), None)
        for route in ROUTES:
            if channel not in route.channels or len(route.parts) != len(parts) - 1:
                continue
            pairs = list(zip(route.parts, parts[1:], strict=True))
            if all(got and want in ("*", got) for want, got in pairs):
                if route.method == method:
                    return channel, route, next((got for want, got in pairs if want == "*"), None)
                allowed.append(route.method)
        request_id = new_request_id()
        if allowed:
            error = f"{method} is not allowed here; use {', '.join(allowed)}."
            headers = (("Allow", ", ".join(allowed)),)
            return _json(405, {"request_id": request_id, "error": error}, headers=headers)
        return _json(404, {"request_id": request_id, "error": f"No such endpoint: {path}"})

    def _send_template(
        self, channel: Channel, caller: str, path_arg: str | None, request: ApiRequest, now: float
    ) -> ApiResponse:
        data = parse_json_object(channel, request.content_type, request.body)
        template_id = _as_int(path_arg)
        template = None if template_id is None else self._catalog.sendable(channel, template_id)
        if template is None:
            raise Refusal(CODES[channel].template, TEMPLATE_NOT_EXIST_TEXT)
        phone = check_template_send(channel, template, data)
        return self._accept(channel, caller, template_id, phone, data, request, now)

    def _send_sms(
        self, channel: Channel, caller: str, path_arg: str | None, request: ApiRequest, now: float
    ) -> ApiResponse:
        data = parse_json_object(channel, request.content_type, request.body)
        phone = check_sms_send(data)
        return self._accept(channel, caller, None, phone, data, request, now)

    def _accept(
        self,
        channel: Channel,
        caller: str,
        template_id: int | None,
        phone: str,
        data: dict[str, Any],
        request: ApiRequest,
        now: float,
    ) -> ApiResponse:
        message_id = self._ledger.reserve_message_id()
        entry = LedgerEntry(
            message_id=message_id,
            channel=channel,
            key_id=caller,
            template_id=template_id,
            phone=phone,
            payload=data,
            request_id=new_request_id(),
            channel_message_id=channel_message_id(channel, self.config.seed, message_id),
            received_at=now,
        )
        self._ledger.record(entry)
        body = {
            "request_id": entry.request_id,
            "message_id": message_id,
            "channel_message_id": entry.channel_message_id,
        }
        if channel is Channel.WHATSAPP:
            body["message_status_url"] = f"{request.base_url}/whatsapp/messages/{message_id}"
        return _json(201, body, message_id=message_id)

    def _delivery(self, entry: LedgerEntry, now: float) -> dict[str, Any]:
        state = delivery_state(
            channel=entry.channel,
            message_id=entry.message_id,
            received_at=entry.received_at,
            now=now,
            seed=self.config.seed,
            step_s=self.config.delivery_step_s,
            failure_share=self.config.failure_share,
        )
        return {
            "status": state.status,
            "sent_at": iso_utc(state.sent_at),
            "delivered_at": iso_utc(state.delivered_at),
            "read_at": iso_utc(state.read_at),
            "failure_reason": state.failure_reason,
        }

    def _message_status(
        self, channel: Channel, caller: str, path_arg: str | None, request: ApiRequest, now: float
    ) -> ApiResponse:
        message_id = _as_int(path_arg)
        entry = None if message_id is None else self._ledger.get(message_id)
        if entry is None or entry.key_id != caller or entry.channel is not channel:
            raise Refusal(CODES[channel].unknown_message, MESSAGE_NOT_EXIST_TEXT)
        delivery = self._delivery(entry, now)
        body: dict[str, Any] = {
            "request_id": new_request_id(),
            "message_id": entry.message_id,
            "status": delivery["status"],
            "phone_number": entry.phone,
        }
        if channel is Channel.WHATSAPP:
            body["channel_message_id"] = entry.channel_message_id
        body["sent_at"] = delivery["sent_at"]
        body["delivered_at"] = delivery["delivered_at"]
        if channel is Channel.WHATSAPP:
            body["read_at"] = delivery["read_at"]
        body["failure_reason"] = delivery["failure_reason"]
        return _json(200, body)

    def _list_messages(
        self, channel: Channel, caller: str, path_arg: str | None, request: ApiRequest, now: float
    ) -> ApiResponse:
        text = request.query.get("limit")
        limit = LIST_LIMIT_MAX if text is None else _as_int(text.strip())
        if limit is None or limit < 1:
            raise Refusal(CODES[channel].type_mismatch, "limit must be a whole number from 1.")
        items = []
        for entry in self._ledger.recent(caller, channel, min(limit, LIST_LIMIT_MAX)):
            delivery = self._delivery(entry, now)
            item = {
                "message_id": entry.message_id,
                "status": delivery["status"],
                "phone_number": entry.phone,
                "sent_at": delivery["sent_at"],
            }
            if delivery["status"] == "failed":
                item["failure_reason"] = delivery["failure_reason"]
            items.append(item)
        return _json(200, {"request_id": new_request_id(), "messages": items})

    def _list_templates(
        self, channel: Channel, caller: str, path_arg: str | None, request: ApiRequest, now: float
    ) -> ApiResponse:
        return _json(200, self._catalog.listing(channel, request.query))

    def _get_template(
        self, channel: Channel, caller: str, path_arg: str | None, request: ApiRequest, now: float
    ) -> ApiResponse:
        template_id = _as_int(path_arg)
        found = None if template_id is None else self._catalog.find(channel, template_id)
        if found is None:
            raise Refusal(CODES[channel].template, TEMPLATE_NOT_EXIST_TEXT)
        return _json(200, found)
