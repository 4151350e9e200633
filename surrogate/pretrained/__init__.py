"""Pretrained surrogates shipped inside the package, loaded by name with no download.

Each model is a folder ``surrogate/pretrained/NAME/`` holding the export (``model.pt``, the same file
``surrogate train`` writes as ``model_best.pt``) and ``card.json``: what it was trained on (the data
recipe), how (the command and its seeds, so anyone can retrain it) and how faithful it is (the
fidelity benchmark's result against an independent reference). ``surrogate.load(NAME)`` and every
command that takes a run directory accept the name; a run directory or export file of that name on
disk is used first.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from surrogate.errors import SurrogateError

HERE = Path(__file__).resolve().parent
EXPORT_FILE = "model.pt"
CARD_FILE = "card.json"


def names() -> list[str]:
    """The shipped models, sorted by name."""
    return sorted(entry.name for entry in HERE.iterdir() if (entry / EXPORT_FILE).is_file())


def export_file(name: str) -> Path:
    """The export of the shipped model ``name``; SurrogateError listing the names when there is none."""
    path = HERE / name / EXPORT_FILE
    if not path.is_file():
        raise SurrogateError(f"no run directory, export file or shipped model of this name "
                             f"(shipped models: {', '.join(names()) or 'none'})", name)
    return path


def card(name: str) -> dict[str, Any]:
    """The card of the shipped model ``name`` (training recipe, command, measured fidelity)."""
    path = export_file(name).parent / CARD_FILE
    return json.loads(path.read_text())


def is_shipped(name: str) -> bool:
    """Whether ``name`` names a shipped model (a bare name, not a path)."""
    return "/" not in name and "\\" not in name and (HERE / name / EXPORT_FILE).is_file()
