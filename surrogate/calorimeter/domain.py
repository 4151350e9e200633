"""The calorimeter domain as the core sees it: shower files in, shower files out, a simulator.

Imports nothing heavy: the format modules (h5py, uproot) load when a file is touched, the simulator
when ``surrogate simulate calorimeter`` runs.
"""
from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from surrogate.calorimeter.formats import showers
from surrogate.calorimeter.formats.layout import geometry_of
from surrogate.calorimeter.formats.source import ShowerWriter
from surrogate.calorimeter.geometry import Geometry
from surrogate.core.domain import Domain, EventSet, EventWriter
from surrogate.errors import SurrogateError


class CalorimeterDomain(Domain):
    """Calorimeter showers: CaloChallenge / CaloGAN HDF5 and ROOT layouts, incident energy in MeV.

    Reader options (keywords of ``read``, ``iter_read``, ``inspect`` and ``merge``) are those of
    :class:`~surrogate.calorimeter.formats.options.ReaderOptions`, e.g. ``card=``, ``binning=``,
    ``tree=``, ``energy_branch=``.
    """

    name = "calorimeter"
    event_noun = "shower"

    def detect(self, path: Path) -> bool:
        return showers.detect_format(path) is not None

    def read(self, path: Path, *, start: int = 0, stop: int | None = None, **options: Any) -> EventSet:
        return showers.read(path, start=start, stop=stop, **options)

    def iter_conditions(self, path: Path, *, chunk_events: int = showers.ENERGY_BLOCK_ROWS,
                        **options: Any) -> Iterator[tuple[tuple[str, ...], np.ndarray]]:
        return showers.iter_conditions(path, chunk_events=chunk_events, **options)

    def iter_read(self, path: Path, *, chunk_events: int = 10_000, **options: Any) -> Iterator[EventSet]:
        return showers.iter_read(path, chunk_events=chunk_events, **options)

    def write(self, path: Path, events: EventSet) -> None:
        showers.write(path, events)

    def inspect(self, path: Path, **options: Any) -> dict[str, Any]:
        return showers.inspect(path, **options)

    def merge(self, inputs: list[Path], output: Path, **options: Any) -> None:
        showers.merge(inputs, output, **options)

    @contextlib.contextmanager
    def open_writer(self, path: Path, layout: dict[str, Any]) -> Iterator[EventWriter]:
        """Streams blocks straight into the file (bounded memory); a ``.root`` path gets a ROOT file."""
        with showers.open_writer(path, showers.layout_for_path(layout, path)) as writer:
            yield _ShowerAppender(Path(path), writer)

    def reader_options(self) -> list:
        from surrogate.calorimeter.cli_options import shower_reader_options

        return shower_reader_options()

    def simulate_commands(self) -> list:
        from surrogate.calorimeter.simulate_command import calorimeter

        return [calorimeter]

    # Validation hooks: definitions in surrogate.calorimeter.observables and docs/observables.md.

    def observables(self, events: EventSet) -> dict[str, Any]:
        from surrogate.calorimeter.observables import event_observables

        return event_observables(events)

    def pooled_observables(self, events: EventSet) -> dict[str, Any]:
        from surrogate.calorimeter.observables import event_cell_spectrum

        return event_cell_spectrum(events)

    def profiles(self, events: EventSet) -> dict[str, Any]:
        from surrogate.calorimeter.observables import event_profiles

        return event_profiles(events)

    def condition_bins(self, condition_names, reference_conditions, candidate_conditions) -> list:
        from surrogate.calorimeter.observables import energy_bins

        return energy_bins(reference_conditions[:, 0], candidate_conditions[:, 0])

    def report_plots(self, reference, candidate, out_dir: Path) -> list[Path]:
        from surrogate.calorimeter.plots import response_and_resolution

        return [response_and_resolution(reference, candidate, out_dir)]

    # Training hooks: networks, preprocessing and quick summaries in surrogate.calorimeter.models.

    def build_model(self, layout: dict[str, Any], config: Any, train_events: EventSet | None = None) -> tuple:
        from surrogate.calorimeter.models import build_model

        return build_model(self.geometry_of(layout), config, train_events)

    def resolve_architecture(self, layout: dict[str, Any], arch: str) -> str:
        from surrogate.calorimeter.models import choose_architecture

        return choose_architecture(self.geometry_of(layout), arch)

    def model_option_defaults(self, layout: dict[str, Any], arch: str, *, legacy: bool = False) -> dict[str, str]:
        from surrogate.calorimeter.models import option_defaults

        return option_defaults(arch, legacy)

    def training_summaries(self, events: EventSet) -> dict[str, Any]:
        from surrogate.calorimeter.models import training_summaries

        return training_summaries(self.geometry_of(events.layout), events)

    def checkpoint_score(self, holdout: EventSet, summaries: dict[str, Any], seed: int):
        """The response chi2 per energy bin plus the worst summary's W1 / noise floor
        (:mod:`surrogate.calorimeter.selection`)."""
        from surrogate.calorimeter.selection import ResponseAndWorstScore

        return ResponseAndWorstScore(summaries, holdout.conditions[:, 0], seed)

    def reference_simulator(self, layout: dict[str, Any]):
        from surrogate.calorimeter.reference import reference_simulator

        return reference_simulator(layout)

    @staticmethod
    def geometry_of(layout: dict[str, Any]) -> Geometry:
        """The geometry (cells, layers) of an EventSet's layout."""
        return geometry_of(layout)


class _ShowerAppender(EventWriter):
    """EventSets into a shower-format writer, which takes energies and flat events in MeV."""

    def __init__(self, path: Path, writer: ShowerWriter):
        self._path, self._writer = path, writer

    def append(self, events: EventSet) -> None:
        if events.condition_names != showers.CONDITION_NAMES:
            raise SurrogateError(f"showers are conditioned on {showers.CONDITION_NAMES}, not {events.condition_names}",
                                 self._path)
        self._writer.append(events.conditions[:, 0], events.events.reshape(len(events), math.prod(events.event_shape)))


DOMAIN = CalorimeterDomain()
