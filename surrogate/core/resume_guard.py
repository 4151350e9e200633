"""What a resumed run must find unchanged: the training data file, and a step target not behind it.

At the start of a run the data file's size, modification time and a hash of its first and last
:data:`CHUNK_BYTES` go to ``data_fingerprint.json`` in the run directory; ``--resume`` refuses when
any of them differs, so a run never continues silently on a replaced file (another particle, other
events). Hashing only the two ends keeps this instant for files of any size.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from surrogate.core import checkpoint
from surrogate.errors import SurrogateError

CHUNK_BYTES = 1 << 20


def fingerprint(path: str | os.PathLike) -> dict[str, Any]:
    """Path, size, modification time (ns) and SHA-256 of the first and last chunk of ``path``."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
        with open(path, "rb") as handle:
            head = hashlib.sha256(handle.read(CHUNK_BYTES)).hexdigest()
            handle.seek(max(0, stat.st_size - CHUNK_BYTES))
            tail = hashlib.sha256(handle.read(CHUNK_BYTES)).hexdigest()
    except OSError as error:
        raise SurrogateError(f"cannot read ({error.strerror})", path) from None
    return {"path": str(path), "size_bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "sha256_first_chunk": head, "sha256_last_chunk": tail}


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
                                      ("sha256_first_chunk", "content"), ("sha256_last_chunk", "content"))
               if now[key] != saved[key]]
    if changed:
        raise SurrogateError(f"changed since the run started ({', '.join(dict.fromkeys(changed))} differ from "
                             f"{path}); resume only on the same data", data)
