"""`bulksend send`: placeholder until its issue lands."""

from __future__ import annotations

import click

from bulksend.errors import BulksendError


@click.command(name="send")
def command() -> None:
    """Not built yet."""
    raise BulksendError("bulksend send is not built yet")
