"""The ``bulksend`` command: a thin layer of click over the library.

Each subcommand lives in its own module and calls one library function. This module owns the single
error handler that turns a ``BulksendError`` into its message and exit status, never a traceback
unless ``--traceback`` asks for one.
"""

from __future__ import annotations

import importlib
import logging

import click

from bulksend import __version__
from bulksend.cli.jsonout import error_json, wants_json
from bulksend.errors import BulksendError, ExitStatus

COMMAND_MODULES = ("sandbox", "init", "validate", "send", "status", "report")


class BulksendGroup(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        show_traceback = bool(ctx.params.get("traceback"))
        try:
            return super().invoke(ctx)
        except BulksendError as error:
            if show_traceback:
                raise
            click.echo(f"error: {error}", err=True)
            if wants_json(ctx):
                click.echo(error_json(error))
            ctx.exit(int(error.exit_status))
        except KeyboardInterrupt:
            if show_traceback:
                raise
            click.echo("interrupted", err=True)
            ctx.exit(int(ExitStatus.INTERRUPTED))
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:  # noqa: BLE001 - the one place that reports the unexpected
            if show_traceback:
                raise
            click.echo(
                f"unexpected error: {type(error).__name__}: {error}\n"
                "  Run again with --traceback for details and report it.",
                err=True,
            )
            ctx.exit(int(ExitStatus.ERROR))
        return None


@click.group(cls=BulksendGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bulksend")
@click.option("--traceback", is_flag=True, help="Show Python tracebacks (for developers).")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(traceback: bool, verbose: int) -> None:
    """Send bulk WhatsApp-template, SMS and Viber messages through the Octopods API,
    from a CSV or Excel spreadsheet described by a YAML campaign file.

    \b
    Typical session:
      bulksend init customers.xlsx -o spring.yaml   # write a campaign file
      bulksend validate spring.yaml                 # check every row, send nothing
      bulksend send spring.yaml                     # send, resumable
      bulksend status spring.yaml                   # fetch delivery statuses
      bulksend report spring.yaml --html report.html
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for _module_name in COMMAND_MODULES:
    _module = importlib.import_module(f"bulksend.cli.{_module_name}")
    main.add_command(_module.command)
