"""A scripted stand-in for the Octopods API on 127.0.0.1, port 0, for answers the sandbox never
gives (redirects, multi-line HTML, a 503 then a 200). It records what it received."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: object = field(default_factory=dict)
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False  # close the connection after reading the request, answering nothing


@dataclass
class Script:
    """What the fake API answers, per (method, path), and what it received.

    A route holds one reply or a list of them: a list is answered in order, its last reply
    again and again once the others are used up.
    """

    replies: dict[tuple[str, str], Reply | list[Reply]] = field(default_factory=dict)
    received: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_reply(self, method: str, path: str) -> Reply:
        with self.lock:
            found = self.replies.get((method, path), Reply(404, {"error": "no route"}))
            if isinstance(found, list):
                return found.pop(0) if len(found) > 1 else found[0]
            return found

    def paths(self, method: str = "GET") -> list[str]:
        with self.lock:
            return [path for seen, path, _, _ in self.received if seen == method]


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with script.lock:
                script.received.append((self.command, self.path, dict(self.headers), body))
            reply = script.next_reply(self.command, self.path.split("?")[0])
            if reply.delay_s:
                threading.Event().wait(reply.delay_s)
            if reply.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def running_fake_api() -> Iterator[tuple[Script, str]]:
    """(script, base URL ending in /api/v1); the server is shut down and joined afterwards."""
    script = Script()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield script, f"http://127.0.0.1:{server.server_port}/api/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class RecordedWaits:
    """A client's ``wait=``: records each wait and returns at once (True when cancelled)."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, cancel: threading.Event | None, timeout_s: float) -> bool:
        self.seconds.append(timeout_s)
        return cancel is not None and cancel.is_set()
