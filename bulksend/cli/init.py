"""`bulksend init`: placeholder until its issue lands."""

from __future__ import annotations

import click

from bulksend.errors import BulksendError


@click.command(name="init")
def command() -> None:
    """Not built yet."""
    raise BulksendError("bulksend init is not built yet")
