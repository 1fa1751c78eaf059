"""`bulksend report`: placeholder until its issue lands."""

from __future__ import annotations

import click

from bulksend.errors import BulksendError


@click.command(name="report")
def command() -> None:
    """Not built yet."""
    raise BulksendError("bulksend report is not built yet")
