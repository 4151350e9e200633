"""What a resumed run must find unchanged: the training data file, and a step target not behind it.

At the start of a run the data file's size, modification time and content fingerprint (the hash of
1 MiB at its start, middle and end, :func:`surrogate.core.provenance.fingerprint`) go to
``data_fingerprint.json`` in the run directory; ``--resume`` refuses when any of them differs, so a run
never continues silently on a replaced file (another particle, other events). Hashing samples keeps
this instant for files of any size.

A user who means to continue on other data says so (``train --resume --allow-new-data``): the new
file's fingerprint then replaces the old one, with the step it took over from (``from_step``), and the
earlier fingerprints are kept under ``earlier``, so the run records which data trained which steps.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from surrogate.core import checkpoint, provenance
from surrogate.errors import SurrogateError

def fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """Path, size, modification time (ns) and content fingerprint of ``path``."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
        content = provenance.fingerprint(path)
    except OSError as error:
        raise SurrogateError(f"cannot read ({error.strerror})", path) from None
    return {"path": str(path), "size_bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256_sampled": content}


def record(run_dir: Path, data: str | os.PathLike) -> None:
    """Write the fingerprint of the run's data file into ``run_dir`` (a new run: from step 0)."""
    checkpoint.write_json({**fingerprint(data), "from_step": 0}, run_dir / checkpoint.FINGERPRINT_FILE)


def _changes(saved: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What differs between two fingerprints of the same path, in words."""
    return [what for key, what in (("size_bytes", "size"), ("mtime_ns", "modification time"),
                                   ("sha256_sampled", "content")) if now[key] != saved[key]]


def check_resumable(run_dir: Path, requested_steps: int, current_step: int, *, allow_new_data: bool = False) -> None:
    """Refuse, in one line, a resume whose data file changed (unless ``allow_new_data``) or whose
    ``--steps`` lies behind the run."""
    if requested_steps < current_step:
        raise SurrogateError(f"already at step {current_step}; --steps {requested_steps} lies behind it "
                             f"(give a larger --steps to train longer)", run_dir)
    path = run_dir / checkpoint.FINGERPRINT_FILE
    if allow_new_data or not path.exists():  # the user's choice, or a run from before fingerprints were kept
        return
    saved = checkpoint.read_json(path)
    data = Path(saved["path"])
    if not data.exists():
        raise SurrogateError(f"the training data of this run is gone (see {path}; give --data FILE "
                             f"--allow-new-data to continue on another file)", data)
    changed = _changes(saved, fingerprint(data))
    if changed:
        raise SurrogateError(f"changed since the run started ({', '.join(changed)} differ from "
                             f"{path}); resume only on the same data, or give --allow-new-data", data)


def record_new_data(run_dir: Path, data: str | os.PathLike, step: int) -> str | None:
    """After ``--allow-new-data``: when ``data`` is not the recorded file as it was, record its fingerprint
    from ``step`` on, keeping the earlier ones; what changed, in words (None when nothing did)."""
    path = run_dir / checkpoint.FINGERPRINT_FILE
    saved = checkpoint.read_json(path) if path.exists() else None
    now = fingerprint(data)
    if saved is None:
        change = "no fingerprint was kept"
    elif saved["path"] != now["path"]:
        change = f"another file (was {saved['path']})"
    else:
        changed = _changes(saved, now)
        if not changed:
            return None
        change = f"{', '.join(changed)} changed"
    earlier = [] if saved is None else [*saved.pop("earlier", []), saved]
    checkpoint.write_json({**now, "from_step": step, "earlier": earlier}, path)
    return change
