"""No file in the repository cites a document outside it (a design note, a shared folder, a path above the
checkout): a reader of the repository alone must find what is meant."""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTES = ("DESIGN.md", "FACTS.md", "STYLE.md", "shared/", "research/")
PARENT_PATH = re.compile(r"(?:\.\./)+[\w./-]*")


def tracked_text_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed.splitlines() if not name.endswith((".pt", ".h5", ".npy", ".png"))]


def outside_references(path: Path, text: str) -> list[str]:
    """The notes ``text`` names, and its relative paths that climb out of the repository from ``path``."""
    found = [marker for marker in NOTES if marker in text]
    return found + [match for match in PARENT_PATH.findall(text)
                    if not (path.parent / match).resolve().is_relative_to(ROOT)]


def test_no_file_refers_to_documents_outside_the_repository():
    found = []
    for path in tracked_text_files():
        if path != Path(__file__) and path.is_file():
            found += [f"{path.relative_to(ROOT)}: {item}" for item in outside_references(path, path.read_text(
                errors="replace"))]
    assert found == []


def test_a_link_inside_the_repository_is_fine_and_one_above_it_is_not():
    page = ROOT / "docs" / "page.md"
    assert outside_references(page, "see [the README](../README.md)") == []
    assert outside_references(page, "see ../../notes/x.md and DESIGN.md") == ["DESIGN.md", "../../notes/x.md"]
