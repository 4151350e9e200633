"""What a physics domain provides to the core, and how the core finds the domains.

A domain (calorimeter showers, cosmological maps, ...) is one package exposing a :class:`Domain`
object through the ``surrogate.domains`` entry-point group. The core never imports a domain by name:
adding a third domain means adding a package and an entry point, not editing the core.
"""
from __future__ import annotations

import abc
import contextlib
import dataclasses
import functools
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

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
    groups: optional (N,) int64 id of the unit each event shares its randomness with (the N-body box
        a map is cut from). Validation resamples whole groups for its noise floors and errors; None
        (generated files, showers) means every event is independent.
    """

    conditions: np.ndarray
    events: np.ndarray
    condition_names: tuple[str, ...]
    layout: dict[str, Any] = field(default_factory=dict)
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.conditions.ndim != 2 or len(self.conditions) != len(self.events):
            raise ValueError(
                f"conditions {self.conditions.shape} and events {self.events.shape} disagree on N"
            )
        if self.conditions.shape[1] != len(self.condition_names):
            raise ValueError(f"{self.conditions.shape[1]} condition columns, names {self.condition_names}")
        if self.groups is not None and self.groups.shape != (len(self.events),):
            raise ValueError(f"groups {self.groups.shape} do not give one id per event ({len(self.events)})")

    def __len__(self) -> int:
        return len(self.events)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.events.shape[1:])

    def subset(self, index) -> "EventSet":
        """The events selected by a slice, boolean mask or index array, same layout."""
        return EventSet(self.conditions[index], self.events[index], self.condition_names, dict(self.layout),
                        None if self.groups is None else self.groups[index])


@dataclass
class PooledHistogram:
    """Values that come many per event (cell energies, pixel values), histogrammed event by event.

    edges: (B+1,) fixed bin edges, in the quantity the observable's name states (e.g. log10 of MeV).
    counts: (N, B) entries per event and bin; values outside the edges are the domain's choice (clip
        or drop, documented with the observable). Counts are kept per event so that the noise floor
        can resample whole events, which keeps the correlations between one event's entries.
    """

    edges: np.ndarray
    counts: np.ndarray


@dataclass
class Profile:
    """A curve per event on fixed abscissae, compared through its mean (energy vs depth, P(k)).

    x: (K,) abscissae; values: (N, K); labels carry units (``"depth [mm]"``, ``"energy [MeV]"``).
    """

    x: np.ndarray
    values: np.ndarray
    x_label: str
    y_label: str
    log_y: bool = False


@dataclass
class ObservedSample:
    """Everything validation keeps of one file after a single pass: no event arrays, only observables.

    scalars: name -> (N,) float64, one value per event (what :meth:`Domain.observables` returns).
    pooled / profiles: what :meth:`Domain.pooled_observables` / :meth:`Domain.profiles` return.
    groups: the events' group ids (see :class:`EventSet`), or None when every event is independent.
    """

    conditions: np.ndarray
    condition_names: tuple[str, ...]
    scalars: dict[str, np.ndarray]
    pooled: dict[str, PooledHistogram] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    layout: dict[str, Any] = field(default_factory=dict)
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.conditions)


@dataclass
class ReferenceSimulator:
    """A domain's built-in simulator as the timing harness sees it.

    simulate(conditions, rng) -> events: one event per row of ``conditions`` ((N, C), physical units),
        the same work a user's production would do for them.
    points: named condition rows to time at when neither the user nor the run gives conditions
        (e.g. 1, 10, 100 GeV).
    events_per_call: events one unit of the simulator's work yields (the maps of one N-body box); the
        harness times whole units and divides by the events they yield.
    """

    name: str
    simulate: Callable[[np.ndarray, np.random.Generator], np.ndarray]
    points: list[tuple[str, np.ndarray]]
    events_per_call: int = 1


class EventWriter(abc.ABC):
    """Appends EventSets to a file being written; see :meth:`Domain.open_writer`."""

    @abc.abstractmethod
    def append(self, events: EventSet) -> None:
        """Add ``events`` to the file; the caller may reuse their arrays as soon as this returns."""


class _CollectingWriter(EventWriter):
    """Keeps a copy of every chunk, for formats that can only be written whole."""

    def __init__(self) -> None:
        self.chunks: list[EventSet] = []

    def append(self, events: EventSet) -> None:
        self.chunks.append(EventSet(events.conditions.copy(), events.events.copy(), events.condition_names))


class Domain(abc.ABC):
    """One physics domain: its file layouts, simulator commands, observables and models.

    Domain modules must import quickly (no torch or h5py at module level) because the CLI loads
    every domain to build its command list.
    """

    #: Short name, e.g. ``"calorimeter"``; stored in run directories and file layouts.
    name: str

    #: What one event is called in reports ("shower", "map").
    event_noun: str = "event"

    @abc.abstractmethod
    def detect(self, path: Path) -> bool:
        """True when ``path`` is in one of this domain's layouts (cheap: look at keys, not data)."""

    @abc.abstractmethod
    def read(self, path: Path, *, start: int = 0, stop: int | None = None, **options: Any) -> EventSet:
        """Events ``start:stop`` of a file; raises SurrogateError naming the file on bad input."""

    @abc.abstractmethod
    def iter_read(self, path: Path, *, chunk_events: int = 10_000, **options: Any) -> Iterator[EventSet]:
        """The whole file in chunks, so a file larger than memory can be processed."""

    def iter_conditions(self, path: Path, *, chunk_events: int = 10_000,
                        **options: Any) -> Iterator[tuple[tuple[str, ...], np.ndarray]]:
        """Condition names and the (n, C) conditions of ``chunk_events`` events at a time (nothing for an
        empty file), so conditions of any number of events stream through bounded memory. This reads
        the events too; domains whose files keep the conditions apart override it to skip them."""
        for chunk in self.iter_read(path, chunk_events=chunk_events, **options):
            yield chunk.condition_names, chunk.conditions

    @abc.abstractmethod
    def write(self, path: Path, events: EventSet) -> None:
        """Write events in ``events.layout`` atomically (temporary name, then rename)."""

    @abc.abstractmethod
    def inspect(self, path: Path, **options: Any) -> dict[str, Any]:
        """A summary for ``surrogate inspect``: layout, event count, shapes, condition ranges."""

    def reader_options(self) -> list:
        """Click options (``click.Option`` objects) that tell this domain's readers how to read a file,
        e.g. ROOT tree and branch names. Commands that read data offer them and pass the values given
        to ``read``/``iter_read``/``inspect`` as keywords (see ``surrogate.commands.reading``)."""
        return []

    def simulate_commands(self) -> list:
        """Click commands added under ``surrogate simulate`` (e.g. ``calorimeter``, ``nbody``)."""
        return []

    @abc.abstractmethod
    def merge(self, inputs: list[Path], output: Path, **options: Any) -> None:
        """Join files of one layout (e.g. shards of a production) into ``output``, chunk by chunk."""

    @contextlib.contextmanager
    def open_writer(self, path: Path, layout: dict[str, Any]) -> Iterator[EventWriter]:
        """A writer of EventSets in ``layout`` to ``path`` (``surrogate generate`` writes through it).

        The file appears, complete, only when the ``with`` block ends without an error. This default
        keeps every chunk and calls :meth:`write` once at the end, so its memory grows with the file:
        domains whose formats can be appended to override it to keep any production in bounded memory.
        """
        writer = _CollectingWriter()
        yield writer
        if not writer.chunks:
            raise SurrogateError("no events were given to write", path)
        first = writer.chunks[0]
        self.write(Path(path), EventSet(np.concatenate([chunk.conditions for chunk in writer.chunks]),
                                        np.concatenate([chunk.events for chunk in writer.chunks]),
                                        first.condition_names, dict(layout)))

    # What `surrogate validate` needs. Every method sees one chunk of events (or, for the last two,
    # the whole file's observables) and must return the same keys for any chunk of one layout.

    def observables(self, events: EventSet) -> dict[str, np.ndarray]:
        """Physical per-event quantities: name -> (N,) float64, units in the name.

        Each is compared between reference and candidate by a 1D Wasserstein distance against the
        reference's noise floor, and all of them together feed the classifier test. Values must be
        finite (map undefined cases, e.g. a width of an empty layer, to a documented number).
        """
        raise SurrogateError(f"the {self.name} domain defines no observables, so it cannot be validated")

    def pooled_observables(self, events: EventSet) -> dict[str, PooledHistogram]:
        """Distributions of values that come many per event (cell energies, pixel values); may be empty."""
        return {}

    def profiles(self, events: EventSet) -> dict[str, Profile]:
        """Per-event curves (longitudinal/lateral energy profile, power spectrum) plotted as means; may be empty."""
        return {}

    def condition_bins(
        self, condition_names: tuple[str, ...], reference_conditions: np.ndarray, candidate_conditions: np.ndarray
    ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Bins of the conditions in which the comparison is repeated: (label, reference mask, candidate mask).

        condition_names: the names of the conditions' columns (the samples' ``condition_names``), for the
        labels. The same bin definition applies to both samples. Empty (the default) means inclusive only.
        """
        return []

    def report_plots(self, reference: ObservedSample, candidate: ObservedSample, out_dir: Path) -> list[Path]:
        """Domain-specific PNG plots (e.g. response and resolution vs energy) written into ``out_dir``.

        The core already draws every scalar, pooled histogram and mean profile; return [] if nothing
        else is worth showing. Draw on ``matplotlib.figure.Figure`` objects rather than pyplot (no
        display, no global state) and save them with ``surrogate.core.report.save_png``; the report's
        style (mplhep when installed) is active during the call.
        """
        return []

    # What `surrogate train` and `surrogate generate` need (torch is imported inside these methods).

    def build_model(self, layout: dict[str, Any], config: Any, train_events: EventSet | None = None) -> tuple:
        """The trainable parts for data in ``layout``: ``(preprocessor, generator, critic)``, torch modules
        satisfying the Protocols of :mod:`surrogate.core.contracts`, which the core checks them against.

        config: the run's :class:`surrogate.core.config.ModelConfig` (architecture name, widths, latent
            size, how the condition enters each network); raise SurrogateError for values this domain
            does not support.
        train_events: the training events, from which the preprocessor fits its buffers (normalisation
            constants). None when a saved run is restored: the modules must then get the same shapes
            from ``layout`` and ``config`` alone, and the buffers arrive through ``load_state_dict``.

        preprocessor: ``forward(events, conditions) -> (x, c)`` maps physical events (N, *event_shape)
            and conditions (N, C) (float tensors) to network space; ``transform_conditions(conditions) -> c``
            is the condition part alone (used for sampling); ``inverse(x, conditions) -> events`` undoes
            ``forward`` exactly and returns physically valid events (non-negative energies, exact zeros).
            Optionally ``physics_loss``: None or a callable ``(preprocessor, fake_x, real_x, c) -> (value,
            {name: value})`` whose ``names`` are the parts it logs (a log.csv column each), added to the
            generator's loss in training (the maps' spectral and pixel-PDF terms); it holds no state, so
            exports do not depend on it.
        generator: ``forward(z, c) -> x`` with ``z`` ~ N(0, 1) of shape (N, generator.latent_dim).
        critic: ``forward(x, c) -> (N,)`` scores; no layer may mix the samples of a batch (no
            BatchNorm), since the gradient penalties are per sample.
        """
        raise SurrogateError(f"the {self.name} domain defines no models, so it cannot be trained")

    def resolve_architecture(self, layout: dict[str, Any], arch: str) -> str:
        """The architecture ``build_model`` builds for ``arch`` (which may be "auto") on data in ``layout``,
        so that a run's config.json names it; by default ``arch`` as given."""
        return arch

    def model_option_defaults(self, layout: dict[str, Any], arch: str, *, legacy: bool = False) -> dict[str, str]:
        """Every model option (``ModelConfig.options``) ``build_model`` reads for the resolved ``arch``, with
        the value it uses when a config does not give one, as text; by default none.

        legacy: the values for a stored config (a run's config.json, an export) written before every
            option was recorded: what the defaults were then, so old runs load as they were trained.
        """
        return {}

    def resolve_model(self, layout: dict[str, Any], config: Any, *, legacy: bool = False) -> Any:
        """``config`` (a ModelConfig) with the architecture ``build_model`` builds and every model option it
        uses, so that a run's config.json and exports say what was trained; ``legacy`` as in
        :meth:`model_option_defaults`."""
        arch = self.resolve_architecture(layout, config.arch)
        options = {**self.model_option_defaults(layout, arch, legacy=legacy), **config.options}
        return dataclasses.replace(config, arch=arch, options=dict(sorted(options.items())))

    def training_summaries(self, events: EventSet) -> dict[str, np.ndarray]:
        """A few cheap per-event quantities (name -> (N,) float64) tracked during training.

        The training loop logs their 1D Wasserstein distance between generated and held-out events
        every few hundred steps, so it must be fast. Defaults to :meth:`observables`.
        """
        return self.observables(events)

    def checkpoint_score(self, holdout: EventSet, summaries: dict[str, np.ndarray], seed: int):
        """How the training loop ranks its exports (``model_best.pt`` is the lowest): a callable
        ``score(generated, w1) -> {"score": float, ...}`` of the generated events' training summaries
        (rows in the order of ``holdout``, generated at its conditions) and their W1 to ``summaries``,
        those of ``holdout``. Extra entries are kept with the export's validation. Built once per run, so
        it may precompute from ``holdout`` (``seed`` for anything random). Default:
        :class:`surrogate.core.selection.SummaryScore`, the mean of W1 over each summary's spread.
        """
        from surrogate.core.selection import SummaryScore

        return SummaryScore(summaries)

    # What `surrogate benchmark` needs.

    def reference_simulator(self, layout: dict[str, Any]) -> ReferenceSimulator | None:
        """The built-in simulator that makes data in ``layout``, timed against the surrogate; None if none."""
        return None


@functools.cache
def available_domains() -> dict[str, Domain]:
    """Every installed domain, by name (entry points are scanned once per process)."""
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


def find_domain(path: Path) -> Domain | None:
    """The domain whose layout the existing file ``path`` is in, or None."""
    return next((domain for domain in available_domains().values() if domain.detect(path)), None)


def domain_for_file(path: str | os.PathLike) -> Domain:
    """The domain whose layout ``path`` is in; a one-line SurrogateError if none is."""
    path = Path(path)
    if not path.exists():
        raise SurrogateError("no such file", path)
    if not path.is_file():
        raise SurrogateError("not a file", path)
    domain = find_domain(path)
    if domain is None:
        raise SurrogateError("not in any layout surrogate knows (see `surrogate inspect --help`)", path)
    return domain


def read_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop unset (None) reader options so domains see only what the user gave."""
    return {key: value for key, value in (options or {}).items() if value is not None}
