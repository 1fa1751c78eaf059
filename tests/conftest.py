"""Shared fixtures. Every server a test starts listens on 127.0.0.1 and is stopped afterwards."""

from __future__ import annotations
