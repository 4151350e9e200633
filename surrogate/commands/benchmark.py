"""``surrogate benchmark``: surrogate generation vs the reference simulator, timed in one run."""
from __future__ import annotations

from pathlib import Path

import click

from surrogate.commands.reading import with_reader_options
from surrogate.errors import SurrogateError
from surrogate.options.outputs import check_output, overwrite_option, reader_inputs
from surrogate.options.param_types import SEED
from surrogate.options.threads import with_threads


def _batch_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise SurrogateError(f"--batch-sizes {text!r}: expected integers separated by commas") from None
    if not sizes or min(sizes) < 1:
        raise SurrogateError(f"--batch-sizes {text!r}: sizes must be at least 1")
    return sizes


@with_threads
@with_reader_options
@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="JSON file to write the timings to.")
@overwrite_option
@click.option("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available, else cpu).")
@click.option("--batch-sizes", default="1,100,10000", show_default=True,
              help="Comma-separated events per generator call.")
@click.option("--precision", "precisions", multiple=True, type=click.Choice(["fp32", "tf32", "bf16"]),
              help="Arithmetic to time (repeatable; default fp32 and bf16, plus tf32 on a GPU).")
@click.option("--simulator-events", type=click.IntRange(min=1), default=10, show_default=True,
              help="Events the reference simulator produces per timed run, rounded up to whole units of its work "
                   "(an N-body box's maps), or per --simulator-command run.")
@click.option("--simulator-command", default=None,
              help="Time this outside command (e.g. your Geant4 job making --simulator-events events) as a whole "
                   "process instead of the built-in simulator.")
@click.option("--conditions", "conditions_file", type=click.Path(path_type=Path), default=None,
              help="Conditions to generate at (a table or data file, as for `generate`); default: the run's training "
                   "conditions (both sides are timed at them).")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed repeats per setting; the median is reported.")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of simulator and generator noise.")
@click.option("--compile", "compile_", is_flag=True,
              help="Also time the generator and conversion compiled with torch.compile (rows with path "
                   "'compiled'; compiling takes seconds to minutes per setting).")
@click.option("--cuda-graphs", is_flag=True,
              help="Also time batches replayed from a CUDA graph (CUDA only; rows with path 'cuda-graph', or "
                   "'compiled+cuda-graph' with --compile).")
def benchmark(run_dir, out, overwrite, device, batch_sizes, precisions, simulator_events, simulator_command,
              conditions_file, repeats, seed, compile_, cuda_graphs, reader_options: dict) -> None:
    """Time the surrogate in RUN_DIR against the reference simulator on this machine, in one process.

    \b
    Reports events per second for every batch size and precision (after warm-up, with device
    synchronisation, median of --repeats), the simulator's seconds per event (warm-up, median of
    --repeats), and per row speedup = simulator seconds per event x surrogate events per second;
    the headline names the best row.

    With --compile or --cuda-graphs every setting is timed eagerly and on that fast path, side by side.
    """
    from tqdm import tqdm

    from surrogate.api import benchmark as run_benchmark
    from surrogate.core.benchmark import format_table
    from surrogate.core.benchmark import TIMING_CONDITION_ROWS
    from surrogate.core.conditions import open_conditions
    from surrogate.core.model import load

    check_output(out, inputs=[conditions_file, *reader_inputs(reader_options)], run_dir=run_dir, overwrite=overwrite)
    conditions = None
    if conditions_file is not None:
        stream = open_conditions(conditions_file, load(run_dir).condition_names, reader_options)
        conditions = stream.subsample(TIMING_CONDITION_ROWS)  # bounded, whatever the file's length
    with tqdm(desc="benchmark", unit="setting", leave=False, disable=None) as bar:
        result = run_benchmark(run_dir, out, device=device, batch_sizes=_batch_sizes(batch_sizes),
                               precisions=precisions, simulator_events=simulator_events,
                               simulator_command=simulator_command, conditions=conditions, repeats=repeats,
                               seed=seed, compile=compile_, cuda_graphs=cuda_graphs, progress=bar.update)
    click.echo(format_table(result))
    click.echo(f"wrote {out}")
