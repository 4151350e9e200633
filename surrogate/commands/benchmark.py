"""``surrogate benchmark``: placeholder while this session builds it (replaced before the session ends)."""
from __future__ import annotations

import click

from surrogate.errors import SurrogateError


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def benchmark(args) -> None:
    """Not available yet."""
    raise SurrogateError("'benchmark' is not available yet")
