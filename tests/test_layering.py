"""The import rules between the package's layers, read from the source files (ast), so they cannot regress.

Domains (calorimeter, cosmology) do not import the CLI (``surrogate.cli``, ``surrogate.commands``); the
core (``surrogate.core``) imports neither the package root nor anything above it (the public API, the
CLI, the quickstart, the options the command lines share) nor a domain by name, nor click; the shared
options (``surrogate.options``) import neither the CLI nor a domain.
"""
import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "surrogate"
CLI = ("surrogate.cli", "surrogate.commands")
DOMAINS = ("surrogate.calorimeter", "surrogate.cosmology")
ABOVE_THE_CORE = (*CLI, *DOMAINS, "surrogate.api", "surrogate.quickstart", "surrogate.options", "click")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``: ``from surrogate import x`` counts as ``surrogate.x``
    when ``x`` is a module of the package, as ``surrogate`` (the root) otherwise."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module != "surrogate":
                found.append((node.lineno, node.module))
                continue
            for alias in node.names:
                is_module = (PACKAGE / f"{alias.name}.py").exists() or (PACKAGE / alias.name).is_dir()
                found.append((node.lineno, f"surrogate.{alias.name}" if is_module else "surrogate"))
    return found


def violations(folder: str, forbidden: tuple[str, ...], root_forbidden: bool) -> list[str]:
    bad = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for line, module in imported_modules(path):
            if (root_forbidden and module == "surrogate") or any(
                    module == name or module.startswith(name + ".") for name in forbidden):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    return bad


def test_the_domains_do_not_import_the_cli():
    assert violations("calorimeter", CLI, False) == []
    assert violations("cosmology", CLI, False) == []


def test_the_core_imports_neither_the_package_root_nor_what_sits_above_it():
    assert violations("core", ABOVE_THE_CORE, True) == []


def test_the_shared_options_import_neither_the_cli_nor_a_domain():
    assert violations("options", (*CLI, *DOMAINS), False) == []


def test_importing_the_core_does_not_import_click():
    """At run time too: what the core imports (the package root, errors) must not pull click in."""
    modules = sorted(path.stem for path in (PACKAGE / "core").glob("*.py") if path.stem != "__init__")
    script = (f"import importlib, sys\nfor name in {modules!r}: importlib.import_module('surrogate.core.' + name)\n"
              "assert 'click' not in sys.modules, 'click was imported'")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_rules_see_every_form_of_import(tmp_path, monkeypatch):
    source = tmp_path / "core" / "sample.py"
    source.parent.mkdir()
    source.write_text("import surrogate.cli\nfrom surrogate import __version__\nfrom surrogate import commands\n"
                      "from surrogate.commands.train import train\nfrom surrogate import errors\n"
                      "import click\nfrom click.testing import CliRunner\nfrom surrogate import options\n"
                      "def later():\n    from surrogate.options.threads import with_threads\n")
    (tmp_path / "commands").mkdir()
    (tmp_path / "options").mkdir()
    (tmp_path / "errors.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert [entry.split(" imports ")[1] for entry in violations("core", ABOVE_THE_CORE, True)] == [
        "surrogate.cli", "surrogate", "surrogate.commands", "surrogate.commands.train", "click", "click.testing",
        "surrogate.options", "surrogate.options.threads"]
