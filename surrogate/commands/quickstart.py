"""``surrogate quickstart``: the whole chain on an embedded default, minutes on a laptop CPU."""
from __future__ import annotations

from pathlib import Path

import click

from surrogate.errors import SurrogateError
from surrogate.options.outputs import check_output, overwrite_option
from surrogate.options.param_types import SEED, WORKERS
from surrogate.options.threads import with_threads


@with_threads
@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("quickstart"),
              show_default=True, help="Directory for the data, the run, the report and the benchmark.")
@overwrite_option
@click.option("--events", type=click.IntRange(min=100), default=None,
              help="Training showers to simulate (default 1500, 1-20 GeV electrons in the ds2 geometry).")
@click.option("--steps", type=click.IntRange(min=10), default=None, help="Generator steps to train (default 600).")
@click.option("--workers", type=WORKERS, default=2, show_default=True,
              help="Processes for the shower simulation.")
@click.option("--seed", type=SEED, default=None, help="Seed of the whole chain (default 1).")
def quickstart(out_dir: Path, overwrite: bool, events: int | None, steps: int | None, workers: int,
               seed: int | None) -> None:
    """Simulate showers, train a conditional GAN, generate, validate and benchmark, then summarise.

    \b
    Everything runs on the built-in reference simulator and the models shipped in the package (no
    download): 1-20 GeV electrons in the CaloChallenge dataset-2 geometry; the shipped pretrained
    ds2-electron model and a small WGAN-GP of your own, trained here on the CPU, are both validated
    against an independent simulated sample; the shipped model's generation is timed against the
    simulator in the same run.
    """
    import shutil

    from surrogate.core.checkpoint import TRAINING_STATE_FILE
    from surrogate.quickstart import plan_with, run_quickstart, summary_lines

    if (out_dir / TRAINING_STATE_FILE).exists():
        raise SurrogateError("holds a trained run; quickstart writes into a directory of its own", out_dir)
    check_output(out_dir, overwrite=overwrite, directory=True)
    if overwrite and (out_dir / "run" / TRAINING_STATE_FILE).exists():
        shutil.rmtree(out_dir / "run")  # the earlier quickstart's run, which training would refuse to replace
    plan = plan_with(train_events=events, steps=steps, seed=seed)
    result = run_quickstart(out_dir, plan, workers=workers, say=click.echo)
    click.echo("")
    for line in summary_lines(result):
        click.echo(line)
