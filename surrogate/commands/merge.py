"""``surrogate merge OUT INPUT...``: join files of one layout, e.g. the shards of a production."""
from __future__ import annotations

from pathlib import Path

import click

from surrogate.commands.reading import with_reader_options
from surrogate.core.domain import domain_for_file
from surrogate.errors import SurrogateError
from surrogate.options.outputs import check_output, overwrite_option, reader_inputs


@with_reader_options
@click.command()
@click.argument("output", type=click.Path(path_type=Path))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@overwrite_option
def merge(output: Path, inputs: tuple[Path, ...], overwrite: bool, reader_options: dict) -> None:
    """Concatenate INPUTS of one layout, such as the outputs of `simulate --shard I/N`, into OUTPUT."""
    check_output(output, inputs=[*inputs, *reader_inputs(reader_options)], overwrite=overwrite, option="OUTPUT")
    domain = domain_for_file(inputs[0])
    for path in inputs[1:]:
        if domain_for_file(path) is not domain:
            raise SurrogateError(f"not a {domain.name} file like {inputs[0]}", path)
    domain.merge(list(inputs), output, **reader_options)
    click.echo(f"wrote {output}")
