"""`bulksend init`: write a starting campaign file from a spreadsheet's columns."""

from __future__ import annotations

from pathlib import Path

import click

from bulksend.campaign import DEFAULT_API_URL
from bulksend.channels import Channel
from bulksend.initfile import write_campaign_file


@click.command(name="init")
@click.argument("spreadsheet", type=click.Path(path_type=Path))
@click.option(
    "--channel",
    type=click.Choice([channel.value for channel in Channel], case_sensitive=False),
    default=Channel.WHATSAPP.value,
    show_default=True,
    help="The channel to send on.",
)
@click.option(
    "--template-id",
    type=click.IntRange(min=1),
    help="The template's number in Octopods (whatsapp and vbm).",
)
@click.option(
    "--api-url",
    default=DEFAULT_API_URL,
    show_default=True,
    help='The API to read the template from and send to; "sandbox" for the simulator.',
)
@click.option("--sheet", help="Excel only: the worksheet to read (default: the first).")
@click.option("--default-region", help="Country code for numbers written without +, e.g. US.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="The campaign file to write (default: SPREADSHEET's name with .yaml, here).",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
def command(
    spreadsheet: Path,
    channel: str,
    template_id: int | None,
    api_url: str,
    sheet: str | None,
    default_region: str | None,
    output: Path | None,
    force: bool,
) -> None:
    """Write a commented campaign file from SPREADSHEET's columns, ready to edit.

    The phone column is guessed from the header; where the API answers (always with
    --api-url sandbox), the template is read to write one variable per placeholder.
    """
    result = write_campaign_file(
        spreadsheet,
        output=output or Path(spreadsheet.stem + ".yaml"),
        channel=Channel(channel.lower()),
        template_id=template_id,
        api_url=api_url,
        sheet=sheet,
        default_region=default_region,
        force=force,
    )
    click.echo(f"wrote {result.path}")
    if result.phone_column:
        click.echo(f"  phone column: {result.phone_column} (guessed: check it)")
    else:
        click.echo("  no column looked like phone numbers: set phone_column in the file")
    if result.template is not None:
        click.echo(f"  template {result.template.template_id}: {result.template.name}")
    elif result.note:
        click.echo(f"  {result.note}")
    click.echo(f"next: bulksend validate {result.path}")
