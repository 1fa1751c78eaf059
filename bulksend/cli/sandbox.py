"""`bulksend sandbox`: placeholder until its issue lands."""

from __future__ import annotations

import click

from bulksend.errors import BulksendError


@click.command(name="sandbox")
def command() -> None:
    """Not built yet."""
    raise BulksendError("bulksend sandbox is not built yet")
