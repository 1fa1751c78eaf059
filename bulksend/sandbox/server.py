"""The sandbox's HTTP/1.1 server (stdlib, one thread per keep-alive connection) and ``Sandbox``.

``with Sandbox(config) as sandbox:`` binds 127.0.0.1 on a free port, serves in a background
thread, and on exit closes every open connection and joins every thread (bounded waits).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bulksend.channels import Channel
from bulksend.errors import BulksendError
from bulksend.sandbox.app import API_PREFIX, SandboxApp, fault_response, new_request_id
from bulksend.sandbox.config import Faults, SandboxConfig
from bulksend.sandbox.faults import FaultAction
from bulksend.sandbox.ledger import LedgerEntry
from bulksend.sandbox.wire import REASONS, ApiRequest, ApiResponse, RequestRecord
from bulksend.templates import Template

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
READY_TIMEOUT_S = 10.0
JOIN_TIMEOUT_S = 5.0
CONTROL_PREFIX = "/_sandbox/"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in one write; no Nagle delay either way.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        url = urlsplit(self.path)
        if url.path.startswith(CONTROL_PREFIX):
            self._write(self.server.control(url.path))
        elif not url.path.startswith(API_PREFIX):
            message = f"No such endpoint: {url.path}"
            self._write(ApiResponse(404, {"request_id": new_request_id(), "error": message}))
        else:
            self._serve_api(url.path, url.query, body)

    def _serve_api(self, path: str, query: str, body: bytes) -> None:
        app = self.server.app
        received_at = app.clock()
        plan = app.plan_faults()
        if plan.latency_s > 0:
            self.server.stopping.wait(plan.latency_s)
        if plan.action is FaultAction.DROP:
            app.log(RequestRecord(self.command, path, None, received_at, plan.action.value))
            self._drop()
            return
        if plan.action is FaultAction.ERROR:
            response = fault_response(plan.error_status or 500)
        else:
            response = self._answer(path, query, body)
        if plan.action is FaultAction.SLOW:
            self.server.stopping.wait(plan.delay_s)
        record = RequestRecord(
            self.command, path, response.status, received_at, plan.action.value, response.message_id
        )
        app.log(record)
        self._write(response)

    def _answer(self, path: str, query: str, body: bytes) -> ApiResponse:
        request = ApiRequest(
            method=self.command,
            path=path,
            query=dict(parse_qsl(query)),
            auth=self.headers.get("X-Octopods-Auth"),
            content_type=self.headers.get("Content-Type"),
            body=body,
            base_url=f"http://{self.headers.get('Host') or self.server.authority}/api/v1",
        )
        try:
            return self.server.app.handle(request)
        except Exception:  # noqa: BLE001 - a sandbox bug must still answer, as a real 500
            logger.exception("sandbox failed on %s %s", self.command, path)
            return fault_response(500)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self._write(ApiResponse(411, {"error": "Send a Content-Length."}), close=True)
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._write(ApiResponse(413, {"error": "Request body too large."}), close=True)
            return None
        return self.rfile.read(length) if length else b""

    def _write(self, response: ApiResponse, *, close: bool = False) -> None:
        payload = response.encode()
        if close:
            self.close_connection = True
        lines = [
            f"HTTP/1.1 {response.status} {REASONS.get(response.status, '')}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(payload)}",
            f"Date: {self.date_time_string()}",
            *(f"{name}: {value}" for name, value in response.headers),
        ]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + payload)
        except OSError:
            # The client gave up (a timeout during a slow answer): nothing left to tell it.
            self.close_connection = True

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self.stopping = threading.Event()
        self._open: dict[threading.Thread, socket.socket] = {}
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    @property
    def authority(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), daemon=True
        )
        with self._open_lock:
            self._open[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - one broken connection must not stop the server
            logger.debug("connection from %s ended badly", client_address, exc_info=True)
        finally:
            self.shutdown_request(request)
            with self._open_lock:
                self._open.pop(threading.current_thread(), None)

    def control(self, path: str) -> ApiResponse:
        """``/_sandbox/ledger``, ``/_sandbox/requests``, ``/_sandbox/health``."""
        name = path[len(CONTROL_PREFIX) :].strip("/")
        if name == "ledger":
            return ApiResponse(200, [entry.to_json() for entry in self.app.ledger()])
        if name == "requests":
            return ApiResponse(200, [record.to_json() for record in self.app.requests()])
        if name == "health":
            return ApiResponse(200, {"status": "ok"})
        return ApiResponse(404, {"error": f"No such sandbox page: {path}"})

    def close_connections(self) -> None:
        """Wake every connection thread (even mid keep-alive wait) and join them, bounded."""
        self.stopping.set()
        with self._open_lock:
            open_now = dict(self._open)
        for connection in open_now.values():
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for thread in open_now:
            thread.join(max(0.0, deadline - time.monotonic()))


class Sandbox:
    """A running Octopods simulator. ``clock`` gives wall-clock seconds (inject one in tests)."""

    def __init__(
        self, config: SandboxConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config or SandboxConfig()
        self._app = SandboxApp(self.config, clock=clock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Sandbox:
        """Bind, start serving in a background thread, and wait until it serves (bounded)."""
        if self._server is not None:
            return self
        try:
            server = _Server((self.config.host, self.config.port), self._app)
        except OSError as error:
            raise BulksendError(
                f"the sandbox cannot listen on {self.config.host}:{self.config.port}: "
                f"{error.strerror or error}",
                hint="Choose another --port (0 picks a free one) or stop what uses this one.",
            ) from error
        self._app.open()
        ready = threading.Event()
        self._server = server
        self._thread = threading.Thread(
            target=self._serve, args=(server, ready), name="bulksend-sandbox", daemon=True
        )
        self._thread.start()
        if not ready.wait(READY_TIMEOUT_S):
            self.stop()
            raise BulksendError("the sandbox did not start within 10 seconds")
        return self

    @staticmethod
    def _serve(server: _Server, ready: threading.Event) -> None:
        ready.set()
        server.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        """Stop serving, close open connections, join threads (bounded), close the ledger."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if thread is not None:
            thread.join(JOIN_TIMEOUT_S)
        self._app.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``: the ledger lives at ``root_url + "/_sandbox/ledger"``."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/api/v1"

    def ledger(self) -> list[LedgerEntry]:
        """Every accepted send, oldest first."""
        return self._app.ledger()

    def requests(self) -> list[RequestRecord]:
        """Every ``/api/v1`` request seen (the newest ``request_log_limit``), oldest first."""
        return self._app.requests()

    def add_template(self, channel: Channel | str, data: Mapping[str, Any]) -> Template:
        """Add (or replace) a template given in the API's listing shape."""
        return self._app.add_template(Channel(channel), data)

    @property
    def faults(self) -> Faults:
        return self._app.faults

    def set_faults(self, **changes: Any) -> Faults:
        """Change faults while running, e.g. ``set_faults(drop_share=1.0, max_faults=1)``."""
        return self._app.set_faults(**changes)

    def clear_faults(self) -> Faults:
        """Back to no faults at all."""
        return self.set_faults(**dataclasses.asdict(Faults()))

    def set_rate_limit(self, limit: tuple[int, float] | None) -> None:
        """(N, W) or None, effective from the next request."""
        self._app.set_rate_limit(limit)
