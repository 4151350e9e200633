"""``surrogate export``: a trained surrogate as one ONNX graph for C++ inference (see docs/export.md)."""
from __future__ import annotations

from pathlib import Path

import click

from surrogate.options.outputs import check_output, overwrite_option


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "format_", type=click.Choice(["onnx"]), default="onnx", show_default=True,
              help="Export format.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output file (.onnx).")
@overwrite_option
@click.option("--checkpoint", "which", type=click.Choice(["best", "last"]), default="best", show_default=True,
              help="Which export of the run: best quick validation, or the latest.")
def export(run_dir, format_, out, overwrite, which) -> None:
    """Write the surrogate in RUN_DIR as one ONNX graph: (conditions, noise) -> events.

    \b
    Inputs: conditions (N, C) float32 in the units of the model's condition names (incident
    energy in MeV for showers) and noise (N, latent_dim) float32, standard normal; output: events
    (N, ...) float32 in physical units (cell energies in MeV). The batch size N is free. The graph
    is checked against torch with ONNX Runtime before it is written. Needs the onnx extra
    (pip install 'surrogate[onnx]').

    \b
    Example:
      surrogate export runs/ds2 --format onnx --out gen.onnx
    """
    from surrogate.api import export_onnx

    check_output(out, run_dir=run_dir, overwrite=overwrite)
    difference = export_onnx(run_dir, out, which=which)
    click.echo(f"wrote {out} (ONNX Runtime matches torch to {difference:.2g} relative)")
