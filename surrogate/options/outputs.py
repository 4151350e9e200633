"""Where a command may write: never over one of its inputs or a file of the run it reads, and over an
existing output only when the user gives ``--overwrite`` (as ROOT's ``hadd`` needs ``-f``)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import click

from surrogate.errors import SurrogateError

#: The ``--overwrite`` flag of every command that writes an output file or directory.
overwrite_option = click.option("--overwrite", is_flag=True,
                                 help="Replace the output if it already exists (never an input or a run's file).")


def _same(a: Path, b: Path) -> bool:
    """One file under two names: the same resolved path, or the same inode (hard links)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_run_file(out: Path, run_dir: Path) -> bool:
    """``out`` is the run directory, a file in it, or a file a run writes there (even if not written yet)."""
    from surrogate.core.checkpoint import RUN_FILES

    files = [path for path in run_dir.iterdir() if path.is_file()] if run_dir.is_dir() else []
    if any(_same(out, path) for path in [run_dir, *files]):
        return True
    return out.parent.resolve() == run_dir.resolve() and out.name in RUN_FILES


def check_output(out: Path, *, inputs: Iterable[Path | None] = (), run_dir: Path | None = None,
                 overwrite: bool = False, option: str = "--out", directory: bool = False) -> None:
    """Refuse, in one line naming ``out``, an output that is an input, a file of ``run_dir``, or that
    exists already without ``overwrite``. A ``directory`` output may be an existing empty directory;
    a file output may not be a directory."""
    out = Path(out)
    protected = [Path(path) for path in inputs if path is not None]
    for path in protected:
        if _same(out, path):
            raise SurrogateError(f"{option} would overwrite the input {path}; choose another output", out)
    if run_dir is not None and _is_run_file(out, Path(run_dir)):
        raise SurrogateError(f"{option} would overwrite a file of the run {run_dir}; choose another output", out)
    if out.is_dir() and not directory:
        raise SurrogateError(f"{option} is a directory; give a file name", out)
    if directory and out.exists() and not out.is_dir():
        raise SurrogateError(f"{option} is a file; give a directory", out)
    if overwrite or not out.exists() and not out.is_symlink():
        return
    if out.is_dir() and not any(out.iterdir()):
        return
    what = "directory" if out.is_dir() else "file"
    raise SurrogateError(f"the output {what} exists already; give --overwrite to replace it", out)


def reader_inputs(reader_options: dict) -> list[Path]:
    """The files named by reader options (--card, --binning, --parameter-table): inputs too."""
    return [value for value in reader_options.values() if isinstance(value, Path)]
