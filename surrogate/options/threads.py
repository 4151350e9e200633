"""``--threads N`` for every command that computes: torch's intra-op threads, and a note when busy.

Threads that outnumber the free cores spin while other processes hold them: on a 2-core machine with
a load of 4, torch's default threads made training 12x slower than idle. The default is the cores this
process may use; a one-line note on stderr says when other work already occupies them. A batch system's
$OMP_NUM_THREADS is honoured as the default.
"""
from __future__ import annotations

import functools
import logging
import os

import click

from surrogate.options.param_types import WORKERS

log = logging.getLogger(__name__)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def default_threads() -> int:
    """$OMP_NUM_THREADS when set (batch systems set it to the job's cores), else :func:`available_cores`."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return available_cores()


def busy_note(threads: int, cores: int, load: float) -> str | None:
    """The note to print when ``threads`` plus the machine's ``load`` (1-minute average) exceed ``cores``."""
    if threads <= 1 or load + threads <= cores + 0.5:
        return None
    free = max(1, cores - round(load))
    return (f"note: the machine is busy (load {load:.1f} on {cores} cores); {threads} threads will wait on "
            f"each other: --threads {free} may run faster")


def with_threads(command: click.Command) -> click.Command:
    """Add ``--threads N`` to ``command``: torch uses N threads while it runs (restored afterwards)."""
    callback = command.callback

    @functools.wraps(callback)
    def with_thread_count(*args, threads: int | None, **kwargs):
        import torch

        threads = threads or default_threads()
        note = busy_note(threads, available_cores(), os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0)
        if note:
            log.warning(note)
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return callback(*args, **kwargs)
        finally:
            torch.set_num_threads(previous)

    command.callback = with_thread_count
    command.params.append(click.Option(["--threads"], type=WORKERS, default=None, metavar="N",
                                       help="CPU threads for torch [default: $OMP_NUM_THREADS, else the cores this "
                                            "process may use]."))
    return command
