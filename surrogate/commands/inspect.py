"""``surrogate inspect FILE``: what a data file holds, as the library reads it."""
from __future__ import annotations

import json
from pathlib import Path

import click

from surrogate.commands.reading import with_reader_options
from surrogate.core.domain import domain_for_file


@with_reader_options
@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def inspect(file: Path, as_json: bool, reader_options: dict) -> None:
    """Show the layout found in FILE, event count, shapes and condition ranges (energies in MeV)."""
    summary = domain_for_file(file).inspect(file, **reader_options)
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    width = max(len(key) for key in summary)
    for key, value in summary.items():
        click.echo(f"{key:<{width}}  {value}")
