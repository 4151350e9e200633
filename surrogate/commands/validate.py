"""``surrogate validate``: compare a candidate file with a reference file against the reference's noise."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from surrogate.commands.reading import with_reader_options
from surrogate.options.outputs import check_output, overwrite_option, reader_inputs
from surrogate.options.param_types import SEED, FiniteFloat
from surrogate.options.threads import with_threads

_SHOWN = 10


@with_threads
@with_reader_options
@click.command()
@click.option("--reference", required=True, type=click.Path(path_type=Path),
              help="The reference file (e.g. the simulator's showers).")
@click.option("--candidate", required=True, type=click.Path(path_type=Path),
              help="The file to judge (e.g. generated showers), same domain and layout as the reference.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for metrics.json, report.html and plots/ (created if missing).")
@overwrite_option
@click.option("--fail-above", type=FiniteFloat(min=0, min_open=True), default=None, metavar="R",
              help="Exit with status 1 when any observable's W1 / noise-floor ratio exceeds R (for CI).")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Seed of every resampling and of the classifier's split and training.")
@click.option("--max-events", type=click.IntRange(min=2), default=None, metavar="N",
              help="Use at most the first N events of each file (default: all).")
@click.option("--no-classifier", is_flag=True, help="Skip the classifier two-sample test (classifier_auc null).")
@click.option("--resamples", type=click.IntRange(min=2, max=10**5), default=50, show_default=True,
              help="Resampling replicas for each noise floor and bootstrap error.")
def validate(reference: Path, candidate: Path, out_dir: Path, overwrite: bool, fail_above: float | None, seed: int,
             max_events: int | None, no_classifier: bool, resamples: int, reader_options: dict) -> None:
    """Compare CANDIDATE with REFERENCE observable by observable.

    \b
    For every physical observable of the domain (energies in MeV, lengths in mm) the 1D
    Wasserstein distance W1 is divided by the noise floor, the W1 expected between two
    independent reference samples of these sizes: ratios near 1 mean the candidate is as
    good as more simulation. Writes OUT/metrics.json, OUT/report.html and OUT/plots/*.png.
    Reader options (--card, --tree, ...) describe the reference file; the candidate is read
    as it describes itself, as `surrogate generate` writes it.
    """
    from surrogate.api import validate as run_validation

    check_output(out_dir, inputs=[reference, candidate, *reader_inputs(reader_options)], overwrite=overwrite,
                 directory=True)

    metrics = run_validation(reference, candidate, out_dir, seed=seed, max_events=max_events,
                             classifier=not no_classifier, n_resamples=resamples,
                             reference_options=reader_options).to_dict()
    observables = metrics["observables"]
    worst_first = sorted(observables, key=lambda name: -observables[name]["ratio"])
    width = max(len(name) for name in worst_first[:_SHOWN])
    click.echo(f"{'observable':<{width}}  {'W1':>10}  {'floor':>10}  {'ratio':>8}")
    for name in worst_first[:_SHOWN]:
        entry = observables[name]
        click.echo(f"{name:<{width}}  {entry['w1']:>10.4g}  {entry['noise_floor']:>10.4g}  {entry['ratio']:>8.3g}")
    if len(worst_first) > _SHOWN:
        click.echo(f"... {len(worst_first) - _SHOWN} more in {out_dir / 'metrics.json'}")
    summary = metrics["summary"]
    auc = metrics["classifier_auc"]
    floor = metrics["classifier_auc_floor"]
    auc_text = "skipped" if auc is None else f"{auc:.3f}"
    if floor is not None:
        auc_text += f" (reference halves {floor:.3f})"
    click.echo(f"median ratio {summary['median_ratio']:.3g}, worst {summary['worst']} {summary['worst_ratio']:.3g}, "
               f"sliced W1 ratio {metrics['sliced_wasserstein']['ratio']:.3g}, classifier AUC {auc_text}")
    click.echo(f"wrote {out_dir / 'metrics.json'}, {out_dir / 'metrics.csv'} and {out_dir / 'report.html'}")
    if fail_above is not None:
        above = [name for name in worst_first if observables[name]["ratio"] > fail_above]
        if above:
            click.echo(f"surrogate: validate: {len(above)} observable(s) above ratio {fail_above:g}, worst "
                       f"{summary['worst']} at {summary['worst_ratio']:.3g}", err=True)
            sys.exit(1)
