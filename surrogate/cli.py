"""The ``surrogate`` command: one group, one module per subcommand under ``surrogate.commands``.

Errors a user can fix (SurrogateError, bad options) print one line on stderr and exit non-zero;
``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading

import click

from surrogate import __version__
from surrogate._atomic import remove_own_temporaries
from surrogate.commands import COMMANDS
from surrogate.errors import SurrogateError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", count=True, help="More output (-v: info, -vv: debug).")
@click.option("--debug", is_flag=True, help="Show the full traceback when something fails.")
@click.version_option(__version__, prog_name="surrogate")
def cli(verbose: int, debug: bool) -> None:
    """Fast, validated generative surrogates for physics simulators.

    \b
    Energies are in MeV inside files and in GeV on the command line; lengths in mm;
    cosmological boxes in Mpc/h. See docs/ for every convention.
    """
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(message)s")


for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script and of ``python -m surrogate``.

    The exit happens after the failed command's exception is released, so the objects its traceback
    holds (e.g. an HDF5 file that a full disk kept from closing) go before the interpreter shuts down.
    """
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        code = _run(args, debug)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code:
        sys.exit(code)


#: Seconds a command has after SIGTERM to unwind before it is stopped outright. The exception a signal
#: handler raises can land in code that swallows it (seen: inside a module import of numpy.random).
TERMINATE_GRACE_S = 10.0


class _Terminated(BaseException):
    """SIGTERM, raised wherever the process is, so that cleanups (temporaries) run as on Ctrl-C."""


#: The timer that stops a terminated command outright, while one runs.
_fallback: threading.Timer | None = None


def _terminate(signum, frame) -> None:
    global _fallback
    _fallback = threading.Timer(TERMINATE_GRACE_S, _stop_now)
    _fallback.daemon = True
    _fallback.start()
    raise _Terminated


def _stop_now() -> None:
    """SIGTERM did not end the command in time: remove its temporaries and exit as if it had."""
    remove_own_temporaries()
    os.write(2, b"surrogate: terminated\n")
    os._exit(128 + signal.SIGTERM)


def _run(args: list[str], debug: bool) -> int:
    """The exit status of ``surrogate ARGS``, with any expected error printed as one line."""
    try:
        cli.main(args=args, prog_name="surrogate", standalone_mode=False)
    except SurrogateError as error:
        if debug:
            raise
        click.echo(f"surrogate: error: {error}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("surrogate: aborted", err=True)
        return 130
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except OSError as error:
        if debug:
            raise
        where = f"{error.filename}: " if error.filename else ""
        click.echo(f"surrogate: error: {where}{error.strerror or error}", err=True)
        return 2
    except MemoryError as error:
        if debug:
            raise
        click.echo(f"surrogate: error: not enough memory ({error or 'allocation failed'}); ask for less", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("surrogate: interrupted", err=True)
        return 130
    except _Terminated:
        if _fallback is not None:  # unwound in time (and a process calling main again lives on)
            _fallback.cancel()
        click.echo("surrogate: terminated", err=True)
        return 128 + signal.SIGTERM
    return 0
