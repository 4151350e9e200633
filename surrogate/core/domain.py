"""What a physics domain provides to the core, and how the core finds the domains.

A domain (calorimeter showers, cosmological maps, ...) is one package exposing a :class:`Domain`
object through the ``surrogate.domains`` entry-point group. The core never imports a domain by name:
adding a third domain means adding a package and an entry point, not editing the core.
"""
from __future__ import annotations

import abc
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from surrogate.errors import SurrogateError


@dataclass
class EventSet:
    """N events with the conditions they were simulated at, in physical units.

    conditions: (N, C) float64, columns named by ``condition_names`` (units in the names, e.g.
        ``incident_energy_mev``).
    events: (N, *event_shape) float32 in the domain's physical units (MeV for showers).
    layout: JSON-serialisable description of the file layout the events came from, enough for the
        domain to write events back in that layout (``{"domain": ..., "format": ..., ...}``).
    """

    conditions: np.ndarray
    events: np.ndarray
    condition_names: tuple[str, ...]
    layout: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.conditions.ndim != 2 or len(self.conditions) != len(self.events):
            raise ValueError(
                f"conditions {self.conditions.shape} and events {self.events.shape} disagree on N"
            )
        if self.conditions.shape[1] != len(self.condition_names):
            raise ValueError(f"{self.conditions.shape[1]} condition columns, names {self.condition_names}")

    def __len__(self) -> int:
        return len(self.events)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.events.shape[1:])

    def subset(self, index) -> "EventSet":
        """The events selected by a slice, boolean mask or index array, same layout."""
        return EventSet(self.conditions[index], self.events[index], self.condition_names, dict(self.layout))


class Domain(abc.ABC):
    """One physics domain: its file layouts, simulator commands, observables and models.

    Domain modules must import quickly (no torch or h5py at module level) because the CLI loads
    every domain to build its command list.
    """

    #: Short name, e.g. ``"calorimeter"``; stored in run directories and file layouts.
    name: str

    @abc.abstractmethod
    def detect(self, path: Path) -> bool:
        """True when ``path`` is in one of this domain's layouts (cheap: look at keys, not data)."""

    @abc.abstractmethod
    def read(self, path: Path, *, start: int = 0, stop: int | None = None, **options: Any) -> EventSet:
        """Events ``start:stop`` of a file; raises SurrogateError naming the file on bad input."""

    @abc.abstractmethod
    def iter_read(self, path: Path, *, chunk_events: int = 10_000, **options: Any) -> Iterator[EventSet]:
        """The whole file in chunks, so a file larger than memory can be processed."""

    @abc.abstractmethod
    def write(self, path: Path, events: EventSet) -> None:
        """Write events in ``events.layout`` atomically (temporary name, then rename)."""

    @abc.abstractmethod
    def inspect(self, path: Path, **options: Any) -> dict[str, Any]:
        """A summary for ``surrogate inspect``: layout, event count, shapes, condition ranges."""

    def simulate_commands(self) -> list:
        """Click commands added under ``surrogate simulate`` (e.g. ``calorimeter``, ``nbody``)."""
        return []

    @abc.abstractmethod
    def merge(self, inputs: list[Path], output: Path) -> None:
        """Join files of one layout (e.g. shards of a production) into ``output``, chunk by chunk."""


def available_domains() -> dict[str, Domain]:
    """Every installed domain, by name."""
    found = {}
    for entry in entry_points(group="surrogate.domains"):
        domain = entry.load()
        found[domain.name] = domain
    return found


def domain_named(name: str) -> Domain:
    domains = available_domains()
    if name not in domains:
        raise SurrogateError(f"unknown domain {name!r}; installed: {', '.join(sorted(domains))}")
    return domains[name]


def domain_for_file(path: str | os.PathLike) -> Domain:
    """The domain whose layout ``path`` is in; a one-line SurrogateError if none is."""
    path = Path(path)
    if not path.exists():
        raise SurrogateError("no such file", path)
    if not path.is_file():
        raise SurrogateError("not a file", path)
    for domain in available_domains().values():
        if domain.detect(path):
            return domain
    raise SurrogateError("not in any layout surrogate knows (see `surrogate inspect --help`)", path)


def read_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop unset (None) reader options so domains see only what the user gave."""
    return {key: value for key, value in (options or {}).items() if value is not None}
