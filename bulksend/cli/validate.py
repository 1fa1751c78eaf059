"""`bulksend validate`: placeholder until its issue lands."""

from __future__ import annotations

import click

from bulksend.errors import BulksendError


@click.command(name="validate")
def command() -> None:
    """Not built yet."""
    raise BulksendError("bulksend validate is not built yet")
