"""The cosmology domain as the core sees it: map files in and out, the N-body simulator, map models.

Imports nothing heavy: h5py and torch load when a file is touched or a command runs.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from surrogate.core.domain import Domain, EventSet


class CosmologyDomain(Domain):
    """Projected density maps of N-body boxes, conditioned on cosmological parameters.

    Layouts: the N-body HDF5 layout of ``surrogate simulate nbody``, Gadget-style HDF5 snapshots
    (painted into slab maps) and CAMELS-CMD .npy map stacks; see :mod:`surrogate.cosmology.formats`.
    Reader options: ``snapshot_map_size``, ``snapshot_maps``, ``snapshot_sigma8``, ``parameter_table``,
    ``map_box``.
    """

    name = "cosmology"
    event_noun = "map"

    def detect(self, path: Path) -> bool:
        from surrogate.cosmology.formats import detect_format

        return detect_format(path) is not None

    def read(self, path: Path, *, start: int = 0, stop: int | None = None, **options: Any) -> EventSet:
        from surrogate.cosmology.formats import check_reader_options, read

        check_reader_options(options)
        return read(path, start=start, stop=stop, **options)

    def iter_read(self, path: Path, *, chunk_events: int = 10_000, **options: Any) -> Iterator[EventSet]:
        from surrogate.cosmology.formats import check_reader_options, iter_read

        check_reader_options(options)
        return iter_read(path, chunk_events=chunk_events, **options)

    def iter_conditions(self, path: Path, *, chunk_events: int = 1 << 18,
                        **options: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
        from surrogate.cosmology.formats import check_reader_options, iter_conditions

        check_reader_options(options)
        return iter_conditions(path, chunk_events=chunk_events, **options)

    def write(self, path: Path, events: EventSet) -> None:
        from surrogate.cosmology.formats import write

        write(path, events)

    def inspect(self, path: Path, **options: Any) -> dict[str, Any]:
        from surrogate.cosmology.formats import check_reader_options, inspect

        check_reader_options(options)
        return inspect(path, **options)

    def merge(self, inputs: list[Path], output: Path, **options: Any) -> None:
        from surrogate.cosmology.formats import check_reader_options, merge

        check_reader_options(options)
        merge(inputs, output)

    def reader_options(self) -> list:
        from surrogate.cosmology.cli_options import map_reader_options

        return map_reader_options()

    def simulate_commands(self) -> list:
        from surrogate.cosmology.simulate_command import nbody

        return [nbody]

    # Validation hooks: definitions in surrogate.cosmology.validation and docs/cosmology.md.

    def observables(self, events: EventSet) -> dict[str, Any]:
        from surrogate.cosmology.validation import map_observables

        return map_observables(events)

    def pooled_observables(self, events: EventSet) -> dict[str, Any]:
        from surrogate.cosmology.validation import map_pooled

        return map_pooled(events)

    def profiles(self, events: EventSet) -> dict[str, Any]:
        from surrogate.cosmology.validation import map_profiles

        return map_profiles(events)

    def condition_bins(self, condition_names, reference_conditions, candidate_conditions) -> list:
        from surrogate.cosmology.validation import parameter_bins

        return parameter_bins(condition_names, reference_conditions, candidate_conditions)

    def report_plots(self, reference, candidate, out_dir: Path) -> list[Path]:
        from surrogate.cosmology.validation import power_ratio_plot

        plot = power_ratio_plot(reference, candidate, out_dir)
        return [plot] if plot is not None else []

    # Training and benchmark hooks.

    def build_model(self, layout: dict[str, Any], config: Any, train_events: EventSet | None = None) -> tuple:
        from surrogate.cosmology.models import build_model

        return build_model(layout, config, train_events)

    def resolve_architecture(self, layout: dict[str, Any], arch: str) -> str:
        return "dcgan" if arch == "auto" else arch

    def model_option_defaults(self, layout: dict[str, Any], arch: str, *, legacy: bool = False) -> dict[str, str]:
        from surrogate.cosmology.models import option_defaults

        return option_defaults(arch, legacy)

    def reference_simulator(self, layout: dict[str, Any]):
        from surrogate.cosmology.simulation import reference_simulator

        return reference_simulator(layout)


DOMAIN = CosmologyDomain()
