"""``surrogate generate``: sample a trained surrogate into a file in the training data's layout."""
from __future__ import annotations

import math
from pathlib import Path

import click

from surrogate.commands.reading import with_reader_options
from surrogate.errors import SurrogateError
from surrogate.options.outputs import check_output, overwrite_option, reader_inputs
from surrogate.options.param_types import SEED, FiniteFloat
from surrogate.options.threads import with_threads

MEV_PER_GEV = 1000.0
#: The most events one file may hold (10^9 showers of ds2 are 26 TB); larger productions are split
#: into files with different --seed.
MAX_EVENTS = 10**9


@with_threads
@with_reader_options
@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--conditions", "conditions_file", type=click.Path(path_type=Path),
              help="One event per row of this file: a .npy/.txt/.csv table of conditions in the model's units "
                   "(for showers: incident energies in MeV), or any data file surrogate reads (its conditions).")
@click.option("--energy", type=FiniteFloat(min=0, min_open=True),
              help="Incident energy in GeV for all events (with --events; showers only).")
@click.option("--condition", "condition_values", multiple=True, metavar="NAME=VALUE",
              help="One condition for all events, in the model's units (with --events; repeat for each of the "
                   "model's conditions, e.g. --condition omega_m=0.3 --condition sigma8=0.8).")
@click.option("--events", type=click.IntRange(min=1, max=MAX_EVENTS),
              help="Number of events at --energy or --condition (at most 10^9 per file; split larger productions "
                   "by --seed).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output file, in the layout of the "
              "training data.")
@overwrite_option
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of the generator noise.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--batch-size", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Events per generator call.")
@click.option("--checkpoint", "which", type=click.Choice(["best", "last"]), default="best", show_default=True,
              help="Which export of the run: best quick validation, or the latest.")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True,
              help="Arithmetic of the generator pass (the conversion to physical units is always fp32).")
@click.option("--compile", "compile_", is_flag=True,
              help="Compile generator and conversion with torch.compile first (seconds to minutes once; "
                   "worth it for large productions, mostly on a GPU).")
@click.option("--cuda-graphs", is_flag=True,
              help="Replay each batch from a CUDA graph captured once (CUDA only; pays off for small "
                   "--batch-size, where launching kernels dominates).")
def generate(run_dir, conditions_file, energy, condition_values, events, out, overwrite, seed, device, batch_size,
             which, precision, compile_, cuda_graphs, reader_options: dict) -> None:
    """Generate events with the surrogate trained in RUN_DIR and write them to --out.

    Batches are generated on the device while the previous batch is written, so memory stays at a
    few batches for any number of events; the file appears only when complete.

    \b
    Examples:
      surrogate generate runs/ds2 --conditions showers.h5 --out generated.h5
      surrogate generate runs/ds2 --energy 50 --events 10000 --out e50.h5
      surrogate generate runs/ds2 --conditions showers.h5 --out generated.root --device cuda --compile
      surrogate generate maps-64 --condition omega_m=0.3 --condition sigma8=0.8 --events 10 --out m.h5
    """
    import numpy as np
    from tqdm import tqdm

    from surrogate.core.conditions import ENERGY_SUFFIX, open_conditions
    from surrogate.core.distributed import resolve_device
    from surrogate.core.generation import FastPath, generate_to_file
    from surrogate.core.model import load

    if [conditions_file is not None, energy is not None, bool(condition_values)].count(True) != 1:
        raise SurrogateError("give one of --conditions FILE, --energy GEV with --events N, or --condition NAME=VALUE "
                             "(one per condition) with --events N")
    if conditions_file is None and events is None:
        raise SurrogateError(f"{'--energy' if energy is not None else '--condition'} needs --events N")
    check_output(out, inputs=[conditions_file, *reader_inputs(reader_options)], run_dir=run_dir, overwrite=overwrite)
    fast_path = FastPath(compile=compile_, cuda_graphs=cuda_graphs)
    target = resolve_device(device)
    fast_path.check(target)
    model = load(run_dir, which=which, device=target)
    if conditions_file is not None:
        conditions = open_conditions(conditions_file, model.condition_names, reader_options)  # read as it goes
    elif condition_values:
        row = condition_row(condition_values, model.condition_names, run_dir)
        conditions = np.broadcast_to(row, (events, len(row)))  # one row, no memory per event
    else:
        if len(model.condition_names) != 1 or not model.condition_names[0].endswith(ENERGY_SUFFIX):
            raise SurrogateError(f"--energy applies to models conditioned on one energy in MeV; this one is "
                                 f"conditioned on {', '.join(model.condition_names)} (use --conditions)", run_dir)
        conditions = np.broadcast_to(energy * MEV_PER_GEV, (events, 1))  # one value, no memory per event
    with tqdm(total=len(conditions), unit="event", desc="generate", leave=False, disable=None) as bar:
        report = generate_to_file(model, conditions, out, batch_size=batch_size, seed=seed, precision=precision,
                                  fast_path=fast_path, progress=bar.update)
    how = "" if report.path == "eager" else f", {report.path}"
    click.echo(f"wrote {report.events} events to {out} ({report.events_per_second:.3g} events/s on "
               f"{report.device}{how})")


def condition_row(values: tuple[str, ...], condition_names: tuple[str, ...], run_dir: Path) -> list[float]:
    """``--condition NAME=VALUE`` options as one row in the model's condition order; every condition once."""
    given: dict[str, float] = {}
    for text in values:
        name, _, value = text.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not name or not math.isfinite(number):
            raise SurrogateError(f"--condition takes NAME=VALUE with a finite number, not {text!r}")
        if name in given:
            raise SurrogateError(f"--condition {name} is given twice")
        given[name] = number
    unknown = sorted(set(given) - set(condition_names))
    missing = [name for name in condition_names if name not in given]
    if unknown or missing:
        raise SurrogateError(f"the model is conditioned on {', '.join(condition_names)}; "
                             + (f"unknown: {', '.join(unknown)}" if unknown else f"missing: {', '.join(missing)}"),
                             run_dir)
    return [given[name] for name in condition_names]
