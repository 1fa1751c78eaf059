"""The shared ``--json`` option: machine-readable output, and errors as JSON on stdout too.

A scheduled job that reads ``--json`` output must get an object even when the command fails, so
the option leaves a mark in the click context that the group's error handler reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from bulksend.errors import BulksendError

_META_KEY = "bulksend.json"
F = TypeVar("F", bound=Callable[..., Any])


def json_option(help_text: str) -> Callable[[F], F]:
    """``--json`` (as the ``as_json`` parameter) for a command."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        ctx.meta[_META_KEY] = value
        return value

    return click.option("--json", "as_json", is_flag=True, help=help_text, callback=remember)


def wants_json(ctx: click.Context) -> bool:
    return bool(ctx.meta.get(_META_KEY))


def error_json(error: BulksendError) -> str:
    """The error as one JSON object: message, hint and the exit status the process ends with."""
    return json.dumps(
        {"error": error.message, "hint": error.hint, "exit_status": int(error.exit_status)}
    )
