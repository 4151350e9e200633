"""Reader options of every installed domain, offered by the commands that read data files."""
from __future__ import annotations

import functools

import click

from surrogate.core.domain import available_domains


def with_reader_options(command: click.Command) -> click.Command:
    """Add the domains' reader options to ``command``; its callback gets them as one dict ``reader_options``
    holding only the options the user gave."""
    options = {}
    for domain in available_domains().values():
        for option in domain.reader_options():
            options.setdefault(option.name, option)
    callback = command.callback

    @functools.wraps(callback)
    def with_options(*args, **kwargs):
        given = {name: kwargs.pop(name) for name in options}
        return callback(*args, reader_options={k: v for k, v in given.items() if v is not None}, **kwargs)

    command.callback = with_options
    command.params.extend(options.values())
    return command
