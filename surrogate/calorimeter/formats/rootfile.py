"""Showers in ROOT files, through uproot: a TTree (or RNTuple) with one entry per shower.

Read: a scalar incident-energy branch and either a fixed-size voxel array branch (the flat event
vector) or two jagged branches (cell index into the flat vector, cell energy) that are summed per
cell. Branch and tree names come from reader options or a dataset card; without them the reader
picks the only candidate of each kind. Written: the fixed-size form, as a TTree made with
``mktree``/``extend`` (assigning a dict would write an RNTuple), plus a ``surrogate_layout``
TObjString holding the layout as JSON so our own files read back without options.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import awkward as ak
import numpy as np
import uproot

from surrogate._atomic import atomic_path
from surrogate.calorimeter.formats.layout import (
    DEFAULT_ROOT_NAMES, geometry_of, make_layout, resolve_geometry, resolve_particle,
)
from surrogate.calorimeter.formats.options import ReaderOptions, mev_per
from surrogate.calorimeter.formats.source import ShowerSource, ShowerWriter
from surrogate.errors import SurrogateError

LAYOUT_OBJECT = "surrogate_layout"
TREE_CLASSES = ("TTree", "ROOT::RNTuple")
#: Names tried, in order, for the incident energy when several scalar branches exist.
ENERGY_BRANCH_NAMES = ("incident_energy", "incident_energies", "energy", "primary_energy", "E_inc", "Einc")
#: The writer buffers this many bytes of events before extending the TTree (one basket per extend).
WRITE_BUFFER_BYTES = 32 << 20


def open_root(path: Path):
    """An uproot file, with one-line errors for unreadable or truncated files."""
    try:
        handle = uproot.open(path)
    except Exception as error:  # uproot raises many types for damaged files
        raise SurrogateError(f"cannot open as ROOT ({_first_line(error)})", path) from None
    size = path.stat().st_size
    if handle.file.fEND > size:
        handle.close()
        raise SurrogateError(f"truncated ROOT file ({size} bytes; the file says {handle.file.fEND})", path)
    return handle


class RootSource(ShowerSource):
    """A ROOT tree of showers opened for block-wise reading."""

    def __init__(self, path: Path, options: ReaderOptions):
        self.path = path
        self._file = open_root(path)
        try:
            recorded = self._recorded_layout()
            tree_name = options.tree or recorded.get("tree") or self._only_tree()
            self._tree = self._open_tree(tree_name)
            kinds = self._branch_kinds()
            self.energy_name = self._energy_branch(options.energy_branch or recorded.get("energy_branch"), kinds)
            self._showers, self._index, self._cells = self._cell_branches(options, recorded, kinds)
            n_values = kinds[self._showers][1] if self._showers else None
            self.geometry = resolve_geometry(
                path, n_values, "root", options, recorded_name=recorded.get("geometry"),
                recorded_xml=recorded.get("binning_xml"))
            self.n_events = int(self._tree.num_entries)
            sampling = recorded.get("sampling_fraction") if options.sampling_fraction is None \
                else options.sampling_fraction
            self.layout = make_layout(
                "root", self.geometry, particle=resolve_particle(self.geometry, options, recorded.get("particle")),
                sampling_fraction=sampling,
                tree=tree_name, energy_branch=self.energy_name,
                showers_branch=self._showers or DEFAULT_ROOT_NAMES["showers_branch"])
            self._energy_scale = mev_per(options.energy_unit)
            self._cell_scale = mev_per(options.cell_energy_unit)
        except BaseException:
            self._file.close()
            raise

    def _recorded_layout(self) -> dict[str, Any]:
        if LAYOUT_OBJECT not in self._file.keys(cycle=False):
            return {}
        try:
            recorded = json.loads(str(self._file[LAYOUT_OBJECT]))
        except Exception as error:  # not JSON, or not a string object
            raise SurrogateError(f"unreadable {LAYOUT_OBJECT!r} object ({_first_line(error)})", self.path) from None
        return recorded if isinstance(recorded, dict) else {}

    def _only_tree(self) -> str:
        trees = sorted({key.split(";")[0] for key, cls in self._file.classnames().items() if cls in TREE_CLASSES})
        if not trees:
            found = ", ".join(sorted(self._file.keys(cycle=False))) or "nothing"
            raise SurrogateError(f"no TTree or RNTuple in the file (it holds {found})", self.path)
        if len(trees) > 1:
            raise SurrogateError(f"several trees ({', '.join(trees)}); choose one with --tree or a card", self.path)
        return trees[0]

    def _open_tree(self, name: str):
        classes = {key.split(";")[0]: cls for key, cls in self._file.classnames().items()}
        if name not in classes:
            raise SurrogateError(f"no tree {name!r} in the file (it holds {', '.join(sorted(classes)) or 'nothing'})",
                                 self.path)
        if classes[name] not in TREE_CLASSES:
            raise SurrogateError(f"{name!r} is a {classes[name]}, not a TTree or RNTuple", self.path)
        return self._file[name]

    def _branch_kinds(self) -> dict[str, tuple[str, int | None, np.dtype | None]]:
        """Per top-level branch: ("scalar" | "fixed" | "jagged" | "other", array size, dtype).

        TTree branches are classified from their interpretation (no data read, and branches uproot
        cannot interpret are merely "other"); RNTuple fields from the type of their first entry.
        """
        if hasattr(self._tree, "branches"):
            return {branch.name: _branch_kind(branch) for branch in self._tree.branches}
        with self._reading():
            sample = self._tree.arrays(entry_stop=min(1, self._tree.num_entries), library="ak")
        return {field: _kind(sample[field].type.content) for field in sample.fields}

    def _energy_branch(self, name: str | None, kinds: dict) -> str:
        if name is not None:
            self._require(name, kinds)
            if kinds[name][0] != "scalar":
                raise SurrogateError(f"branch {name!r} is not a scalar, so it cannot be the incident energy", self.path)
            return name
        scalars = [key for key, (kind, _, dtype) in kinds.items() if kind == "scalar" and dtype.kind == "f"]
        if len(scalars) == 1:
            return scalars[0]
        for candidate in ENERGY_BRANCH_NAMES:
            if candidate in scalars:
                return candidate
        raise SurrogateError(
            f"cannot tell which branch holds the incident energy (floating-point scalars: "
            f"{', '.join(scalars) or 'none'}); name it with --energy-branch or a card", self.path)

    def _cell_branches(self, options: ReaderOptions, recorded: dict, kinds: dict):
        """(fixed-size branch, None, None) or (None, cell index branch, cell energy branch)."""
        if options.cell_index_branch or options.cell_energy_branch:
            if not (options.cell_index_branch and options.cell_energy_branch):
                raise SurrogateError("jagged cells need both a cell index and a cell energy branch", self.path)
            for name, wanted in ((options.cell_index_branch, "i"), (options.cell_energy_branch, "f")):
                self._require(name, kinds)
                if kinds[name][0] != "jagged":
                    raise SurrogateError(f"branch {name!r} is not a variable-length array", self.path)
            return None, options.cell_index_branch, options.cell_energy_branch
        name = options.showers_branch or recorded.get("showers_branch")
        if name is not None:
            self._require(name, kinds)
            if kinds[name][0] != "fixed":
                raise SurrogateError(
                    f"branch {name!r} is not a fixed-size array; for (cell index, energy) branches give "
                    "--cell-index-branch and --cell-energy-branch", self.path)
            return name, None, None
        fixed = [key for key, (kind, _, dtype) in kinds.items() if kind == "fixed" and dtype.kind == "f"]
        if len(fixed) == 1:
            return fixed[0], None, None
        jagged_int = [key for key, (kind, _, dtype) in kinds.items() if kind == "jagged" and dtype.kind in "iu"]
        jagged_float = [key for key, (kind, _, dtype) in kinds.items() if kind == "jagged" and dtype.kind == "f"]
        if not fixed and len(jagged_int) == 1 and len(jagged_float) == 1:
            return None, jagged_int[0], jagged_float[0]
        raise SurrogateError(
            f"cannot tell which branches hold the cell energies (fixed-size: {', '.join(fixed) or 'none'}; "
            f"jagged: {', '.join(jagged_int + jagged_float) or 'none'}); name them with --showers-branch, "
            "or --cell-index-branch and --cell-energy-branch, or a card", self.path)

    def _require(self, name: str, kinds: dict) -> None:
        if name not in kinds:
            raise SurrogateError(
                f"missing branch {name!r} in tree {self._tree.name!r} (branches: {', '.join(kinds) or 'none'})",
                self.path)

    def blocks(self, start: int, stop: int, rows: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if stop <= start:
            return
        names = [self.energy_name] + ([self._showers] if self._showers else [self._index, self._cells])
        first = start
        with self._reading():
            for chunk in self._tree.iterate(names, entry_start=start, entry_stop=stop, step_size=rows,
                                            library="np" if self._showers else "ak"):
                energies = np.asarray(chunk[self.energy_name], np.float64) * self._energy_scale
                if self._showers:
                    events = np.asarray(chunk[self._showers], np.float32)
                else:
                    events = self._summed_cells(chunk, first)
                if self._cell_scale != 1.0:
                    events = events * np.float32(self._cell_scale)
                first += len(energies)
                yield energies, events

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Turn uproot's errors on damaged data into one-line errors naming the file."""
        try:
            yield
        except SurrogateError:
            raise
        except Exception as error:
            raise SurrogateError(f"cannot read tree {self._tree.name!r} ({_first_line(error)})", self.path) from None

    def _summed_cells(self, chunk, first_row: int) -> np.ndarray:
        """Sum the (cell index, energy) pairs of each event into its flat event vector."""
        counts = ak.to_numpy(ak.num(chunk[self._index]))
        energy_counts = ak.to_numpy(ak.num(chunk[self._cells]))
        if not np.array_equal(counts, energy_counts):
            row = first_row + int(np.argmax(counts != energy_counts))
            raise SurrogateError(
                f"branches {self._index!r} and {self._cells!r} differ in length at row {row}", self.path)
        index = ak.to_numpy(ak.flatten(chunk[self._index])).astype(np.int64)
        energy = ak.to_numpy(ak.flatten(chunk[self._cells])).astype(np.float64)
        rows = np.repeat(np.arange(len(counts)), counts)
        n_values = self.geometry.n_values
        outside = (index < 0) | (index >= n_values)
        if outside.any():
            at = int(np.argmax(outside))
            raise SurrogateError(
                f"{self._index!r} row {first_row + rows[at]} holds cell {index[at]}, outside 0..{n_values - 1}",
                self.path)
        bad = ~np.isfinite(energy) | (energy < 0)
        if bad.any():
            at = int(np.argmax(bad))
            raise SurrogateError(
                f"{self._cells!r} row {first_row + rows[at]} holds {energy[at]:g} (NaN, infinite or negative)",
                self.path)
        summed = np.bincount(rows * n_values + index, weights=energy, minlength=len(counts) * n_values)
        return summed.reshape(len(counts), n_values).astype(np.float32)

    def incident_energies_mev(self, start: int, stop: int) -> np.ndarray:
        with self._reading():
            energies = self._tree.arrays([self.energy_name], entry_start=start, entry_stop=stop,
                                         library="np")[self.energy_name]
        return np.asarray(energies, np.float64) * self._energy_scale

    def column_name(self, column: int) -> str:
        return self._showers or self._cells

    def details(self) -> dict[str, Any]:
        cells = (f"{self._showers} (fixed-size)" if self._showers
                 else f"{self._index} + {self._cells} (jagged cell index, energy)")
        kind = "RNTuple" if "RNTuple" in type(self._tree).__name__ else "TTree"
        return {"tree": f"{self._tree.name} ({kind})", "branches": f"energy {self.energy_name}; cells {cells}"}

    def close(self) -> None:
        self._file.close()


class RootWriter(ShowerWriter):
    """Buffers events and extends a fixed-size TTree with them."""

    def __init__(self, tree, energy_branch: str, showers_branch: str, n_values: int):
        self._tree, self._energy_branch, self._showers_branch = tree, energy_branch, showers_branch
        self._buffer_rows = max(1, WRITE_BUFFER_BYTES // (4 * n_values))
        self._energies: list[np.ndarray] = []
        self._events: list[np.ndarray] = []
        self._pending = 0

    def append(self, incident_energies_mev: np.ndarray, events: np.ndarray) -> None:
        self._energies.append(np.asarray(incident_energies_mev, np.float64).reshape(-1))
        self._events.append(np.asarray(events, np.float32))
        self._pending += len(events)
        if self._pending >= self._buffer_rows:
            self.flush()

    def flush(self) -> None:
        """Write buffered events as one basket per branch."""
        if self._pending:
            self._tree.extend({self._energy_branch: np.concatenate(self._energies),
                               self._showers_branch: np.concatenate(self._events)})
        self._energies, self._events, self._pending = [], [], 0


@contextlib.contextmanager
def open_writer(path: str | os.PathLike, layout: dict[str, Any]) -> Iterator[RootWriter]:
    """A writer for a new ROOT file at ``path`` (fixed-size TTree), in place only once the block ends."""
    geometry = geometry_of(layout)
    names = {key: layout.get(key) or default for key, default in DEFAULT_ROOT_NAMES.items()}
    if names["energy_branch"] == names["showers_branch"]:
        raise SurrogateError(f"energy and showers branches share the name {names['energy_branch']!r}", path)
    recorded = {key: layout.get(key) for key in ("geometry", "particle", "sampling_fraction", "binning_xml")}
    recorded.update(names, energy_unit="MeV", cell_energy_unit="MeV")
    with atomic_path(path) as temporary, uproot.recreate(temporary) as handle:
        tree = handle.mktree(names["tree"], {names["energy_branch"]: "f8",
                                             names["showers_branch"]: ("f4", (geometry.n_values,))})
        writer = RootWriter(tree, names["energy_branch"], names["showers_branch"], geometry.n_values)
        yield writer
        writer.flush()
        handle[LAYOUT_OBJECT] = json.dumps(recorded)


def _branch_kind(branch) -> tuple[str, int | None, np.dtype | None]:
    try:
        interpretation = branch.interpretation
    except Exception:  # uproot.interpretation.identify.UnknownInterpretation and relatives
        return "other", None, None
    if isinstance(interpretation, uproot.interpretation.jagged.AsJagged) \
            and isinstance(interpretation.content, uproot.interpretation.numerical.AsDtype):
        return "jagged", None, np.dtype(interpretation.content.to_dtype.base)
    if isinstance(interpretation, uproot.interpretation.numerical.AsDtype):
        dtype = np.dtype(interpretation.to_dtype)
        if dtype.shape == ():
            return "scalar", None, dtype
        if len(dtype.shape) == 1:
            return "fixed", int(dtype.shape[0]), dtype.base
    return "other", None, None


def _kind(content) -> tuple[str, int | None, np.dtype | None]:
    if isinstance(content, ak.types.NumpyType):
        return "scalar", None, np.dtype(content.primitive)
    if isinstance(content, ak.types.RegularType) and isinstance(content.content, ak.types.NumpyType):
        return "fixed", int(content.size), np.dtype(content.content.primitive)
    if isinstance(content, ak.types.ListType) and isinstance(content.content, ak.types.NumpyType):
        return "jagged", None, np.dtype(content.content.primitive)
    return "other", None, None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
