"""Write docs/cli.md from the commands' own --help texts, so the reference never drifts from the code.

Run ``python docs/make_cli_reference.py`` after changing a command; tests/test_cli.py checks it was.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from surrogate.cli import cli

HEADER = """# CLI reference

Generated from the commands' `--help` by `python docs/make_cli_reference.py`; do not edit by hand.
Energies are in GeV on the command line and in MeV inside files; lengths in mm; boxes in Mpc/h.
A bad file or option prints one line (`surrogate: error: FILE: problem`) and exits non-zero;
`surrogate --debug COMMAND ...` shows the traceback instead.
"""


def _walk(command: click.Command, path: list[str], parent: click.Context | None):
    settings = {**command.context_settings, "terminal_width": 100, "max_content_width": 100}
    context = click.Context(command, info_name=path[-1], parent=parent, **settings)
    yield path, command.get_help(context)
    if isinstance(command, click.Group):
        for name in command.list_commands(context):
            yield from _walk(command.get_command(context, name), path + [name], context)


def reference() -> str:
    """The Markdown text of docs/cli.md."""
    sections = [HEADER]
    for path, text in _walk(cli, ["surrogate"], None):
        sections.append(f"## `{' '.join(path)}`\n\n```\n{text}\n```\n")
    return "\n".join(sections)


if __name__ == "__main__":
    target = Path(__file__).with_name("cli.md")
    target.write_text(reference())
    print(f"wrote {target}", file=sys.stderr)
