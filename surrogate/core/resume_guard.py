"""What a resumed run must find unchanged: the training data file, and a step target not behind it.

At the start of a run the data file's size, modification time and content fingerprint (the hash of
1 MiB at its start, middle and end, :func:`surrogate.core.provenance.fingerprint`) go to
``data_fingerprint.json`` in the run directory; ``--resume`` refuses when any of them differs, so a run
never continues silently on a replaced file (another particle, other events). Hashing samples keeps
this instant for files of any size.
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
    """Write the fingerprint of the run's data file into ``run_dir``."""
    checkpoint.write_json(fingerprint(data), run_dir / checkpoint.FINGERPRINT_FILE)


def check_resumable(run_dir: Path, requested_steps: int, current_step: int) -> None:
    """Refuse, in one line, a resume whose data file changed or whose ``--steps`` lies behind the run."""
    if requested_steps < current_step:
        raise SurrogateError(f"already at step {current_step}; --steps {requested_steps} lies behind it "
                             f"(give a larger --steps to train longer)", run_dir)
    path = run_dir / checkpoint.FINGERPRINT_FILE
    if not path.exists():  # a run from before fingerprints were kept
        return
    saved = checkpoint.read_json(path)
    data = Path(saved["path"])
    if not data.exists():
        raise SurrogateError(f"the training data of this run is gone (see {path})", data)
    now = fingerprint(data)
    changed = [what for key, what in (("size_bytes", "size"), ("mtime_ns", "modification time"),
                                      ("sha256_sampled", "content")) if now[key] != saved[key]]
    if changed:
        raise SurrogateError(f"changed since the run started ({', '.join(changed)} differ from "
                             f"{path}); resume only on the same data", data)
