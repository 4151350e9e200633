"""The files of a run directory, written atomically, and the two kinds of checkpoint.

``training_state.pt`` holds everything needed to continue exactly (both networks, EMA, optimisers,
counters, RNG states); ``model.pt`` (latest) and ``model_best.pt`` (best quick validation) are small
exports for inference: EMA generator and preprocessor weights, configuration, data layout and library
version. Both are plain dicts of tensors, numbers and strings, loaded with ``weights_only=True``.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from surrogate._atomic import atomic_path
from surrogate.errors import SurrogateError

CONFIG_FILE = "config.json"
LAYOUT_FILE = "layout.json"
LOG_FILE = "log.csv"
TRAINING_STATE_FILE = "training_state.pt"
EXPORT_FILES = {"last": "model.pt", "best": "model_best.pt"}
EXPORT_KIND = "surrogate-model"
TRAINING_STATE_KIND = "surrogate-training-state"
FORMAT_VERSION = 1
FINGERPRINT_FILE = "data_fingerprint.json"
#: Every file a run directory holds (no command may write over one of them).
RUN_FILES = (CONFIG_FILE, LAYOUT_FILE, LOG_FILE, TRAINING_STATE_FILE, FINGERPRINT_FILE, *EXPORT_FILES.values())


def save(obj: dict[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary name, then one rename: a crash leaves the old file or the new one.

    torch reports a failed write (a full disk) as a RuntimeError of varying text; it becomes a
    SurrogateError naming ``path``.
    """
    with atomic_path(path) as temporary:
        try:
            torch.save(obj, temporary)
        except RuntimeError as error:
            reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            raise SurrogateError(f"cannot write ({reason})", path) from None


def load(path: str | os.PathLike, kind: str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint of ``kind`` (export or training state); SurrogateError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise SurrogateError("no such checkpoint", path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many types for truncated or foreign files
        if "weights_only" in str(error):  # a pickle needing code to load: not a file surrogate wrote
            raise SurrogateError("not a checkpoint surrogate wrote (give the run directory `surrogate train "
                                 "--out` made)", path) from None
        first_line = f"{type(error).__name__}: {error}".splitlines()[0]
        raise SurrogateError(f"not a readable checkpoint ({first_line})", path) from None
    if not isinstance(obj, dict) or obj.get("kind") != kind:
        raise SurrogateError(f"not a {kind} file", path)
    if obj.get("format_version", 0) > FORMAT_VERSION:
        raise SurrogateError(f"written by a newer surrogate (format {obj['format_version']})", path)
    return obj


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete temporaries that a killed process left behind (the finished files are never touched)."""
    for name in RUN_FILES:
        for leftover in run_dir.glob(f".{name}.*.tmp"):
            leftover.unlink(missing_ok=True)


def write_json(obj: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise SurrogateError(f"cannot read ({error.strerror})", path) from None
    except ValueError as error:
        raise SurrogateError(f"not valid JSON ({error})", path) from None


def global_rng_state() -> dict[str, Any]:
    """The process-wide RNG states (python, numpy, torch CPU and CUDA) as weights-only-safe values.

    The library's own sampling uses explicit generators; these cover randomness inside user or
    domain networks (e.g. dropout).
    """
    name, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_global_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, position, has_gauss, gauss_value = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, gauss_value))
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
