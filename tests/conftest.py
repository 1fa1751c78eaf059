"""Shared fixtures. Every server a test starts listens on 127.0.0.1 and is stopped afterwards."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from hypothesis import settings

from bulksend.channels import Channel
from bulksend.sandbox import DEMO_KEYS, Sandbox, SandboxConfig

# Shared machines are noisy, so no per-example deadline anywhere. CI (HYPOTHESIS_PROFILE=ci, set by
# .ci/run) replays the same examples every run so that a landing never depends on a dice roll; a
# developer's `make test` keeps exploring new ones.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


class ManualClock:
    """A wall clock that moves only when told to: pass it as ``clock=`` to a sandbox."""

    def __init__(self, start: float = 1_777_000_000.25) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, moment: float) -> None:
        with self._lock:
            self._now = moment


@pytest.fixture
def manual_clock() -> ManualClock:
    """A clock for ``make_sandbox(clock=manual_clock)``: ``manual_clock.advance(2.0)``."""
    return ManualClock()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Factory: ``make_sandbox(clock=None, **config_overrides)`` starts a sandbox on a free port.

    Overrides apply on top of the ``sandbox`` fixture's config (no rate limit unless one is
    given). Every sandbox made is stopped and joined when the test ends.
    """
    started: list[Sandbox] = []

    def factory(*, clock: Callable[[], float] | None = None, **overrides: Any) -> Sandbox:
        config = SandboxConfig(**{"rate_limit": None, **overrides})
        sandbox = Sandbox(config) if clock is None else Sandbox(config, clock=clock)
        started.append(sandbox.start())
        return sandbox

    yield factory
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """A running sandbox with the default config and no rate limit."""
    return make_sandbox()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive HTTP session, closed after the test."""
    with requests.Session() as session:
        yield session


class SandboxClient:
    """Calls a sandbox with the demo key of each path's channel family unless told otherwise."""

    def __init__(self, session: requests.Session, sandbox: Sandbox) -> None:
        self.session = session
        self.sandbox = sandbox

    def call(
        self, method: str, path: str, *, key: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """``path`` is below ``/api/v1``, e.g. ``sms/messages``."""
        if key is None:
            key = DEMO_KEYS[Channel(path.strip("/").split("/")[0])]
        headers = {"X-Octopods-Auth": key} if key else {}
        kwargs.setdefault("timeout", 10)
        url = f"{self.sandbox.base_url}/{path}"
        return self.session.request(method, url, headers=headers, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, json=body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)


@pytest.fixture
def client(http: requests.Session, sandbox: Sandbox) -> SandboxClient:
    """A client of the default ``sandbox`` fixture."""
    return SandboxClient(http, sandbox)
