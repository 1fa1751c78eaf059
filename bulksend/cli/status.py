"""`bulksend status`: placeholder until its issue lands."""

from __future__ import annotations

import click

from bulksend.errors import BulksendError


@click.command(name="status")
def command() -> None:
    """Not built yet."""
    raise BulksendError("bulksend status is not built yet")
