"""Write files under a temporary name and rename, so a crash never leaves a half-written output.

The temporary is ``.NAME.PID.tmp`` beside ``NAME``. It is removed on any exception (Ctrl-C, and
SIGTERM, which the CLI turns into an exception), or by :func:`remove_own_temporaries` when the CLI
stops a terminated process outright; temporaries of processes that died without cleaning up (kill -9)
are removed the next time the same output is written.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
from pathlib import Path
from typing import Iterator

from surrogate.errors import SurrogateError

#: errno values meaning "the disk (or the file-size limit) is full".
_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
#: How HDF5 and torch report a failed write inside their RuntimeError text.
_FAILED_WRITE = re.compile(r"file write failed|No space left|File too large")
#: The temporaries this process is writing now.
_OWN: set[Path] = set()


def atomic_path_failure(error: BaseException) -> str | None:
    """Why a write failed for lack of space (e.g. 'No space left on device'), or None for other errors."""
    if isinstance(error, OSError) and error.errno in _FULL:
        return os.strerror(error.errno)
    if isinstance(error, RuntimeError):
        text = str(error)
        code = re.search(r"errno = (\d+)", text)
        if code and int(code.group(1)) in _FULL:
            return os.strerror(int(code.group(1)))
        if _FAILED_WRITE.search(text):
            return "the write failed"
    return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_own_temporaries() -> None:
    """Delete the temporaries this process is writing (for a process about to stop without unwinding)."""
    for temporary in list(_OWN):
        with contextlib.suppress(OSError):
            temporary.unlink()


def remove_dead_temporaries(final: Path) -> None:
    """Delete ``.NAME.PID.tmp`` beside ``final`` left by processes that no longer run."""
    pattern = re.compile(rf"\.{re.escape(final.name)}\.(\d+)\.tmp")
    for leftover in final.parent.glob(f".{glob.escape(final.name)}.*.tmp"):
        match = pattern.fullmatch(leftover.name)
        if match and int(match.group(1)) != os.getpid() and not _pid_alive(int(match.group(1))):
            leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    On an exception the temporary file is removed and any existing ``path`` is left untouched. A
    full disk (or file-size limit) becomes a SurrogateError naming ``path``.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_temporaries(final)
    temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    _OWN.add(temporary)
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    except (OSError, RuntimeError) as error:
        reason = atomic_path_failure(error)
        if reason is None:
            raise
        kept = "the previous file is untouched" if final.exists() else "nothing was written"
        raise SurrogateError(f"cannot write ({reason}); {kept}", final) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        _OWN.discard(temporary)


@contextlib.contextmanager
def atomic_hdf5(path: str | os.PathLike):
    """An ``h5py.File`` open for writing on :func:`atomic_path`'s temporary, closed safely on failure.

    After a failed write (a full disk) h5py cannot close the file, and a second attempt, or the
    interpreter's exit, crashes. So everything is flushed before closing, and on any failure the
    temporary's descriptor is pointed at /dev/null first: the close then succeeds and the temporary
    is discarded.
    """
    import h5py

    with atomic_path(path) as temporary:
        try:
            handle = h5py.File(temporary, "w")
        except OSError as error:
            raise SurrogateError(f"cannot create ({error.strerror or error})", path) from None
        try:
            yield handle
            handle.flush()
        except BaseException:
            _discard(handle)
            raise
        handle.close()


def _discard(handle) -> None:
    """Close an HDF5 file whose writes fail, sending what it still writes to /dev/null."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(null, handle.id.get_vfd_handle())
    finally:
        os.close(null)
    with contextlib.suppress(RuntimeError, OSError):  # HDF5's state after a failed flush; the file is discarded
        handle.close()
