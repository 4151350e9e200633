"""``surrogate train``: fit a conditional GAN to a data file of any installed domain."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable

import click

from surrogate.core.losses import DEFAULT_LOSS, LOSSES, LossEntry
from surrogate.errors import SurrogateError
from surrogate.options.param_types import SEED, FiniteFloat
from surrogate.options.threads import with_threads

#: Bounds far beyond any useful network, so absurd values are refused instead of overflowing in torch
#: (a traceback) or never finishing a step.
MAX_WIDTH, MAX_DEPTH, MAX_CRITIC_STEPS, MAX_LR, MAX_PENALTY = 1 << 16, 1000, 1000, 1e3, 1e6


def _by_value(value_of: Callable[[LossEntry], str]) -> dict[str, list[str]]:
    """The loss names grouped by ``value_of`` their registry entry, both in registry order."""
    groups: dict[str, list[str]] = {}
    for name, entry in LOSSES.items():
        groups.setdefault(value_of(entry), []).append(name)
    return groups


def _scientific(number: float) -> str:
    """1e-4 rather than 0.0001 or 1e-04."""
    mantissa, exponent = f"{number:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def _loss_defaults(value_of: Callable[[LossEntry], str]) -> str:
    """``[default: V for a/b, W for c]``, for a setting whose default depends on the loss."""
    groups = _by_value(value_of)
    return "[default: " + ", ".join(f"{value} for {'/'.join(names)}" for value, names in groups.items()) + "]"


_LOSS_HELP = "; ".join(f"{', '.join(names)}: {summary}"
                       for summary, names in _by_value(lambda entry: entry.summary).items())


def _key_value(ctx, param, values: tuple[str, ...]) -> dict[str, str]:
    options = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", ctx=ctx, param=param)
        options[key] = value
    return options


@with_threads
@click.command()
@click.option("--data", type=click.Path(path_type=Path), help="Training data file (any layout `surrogate inspect` "
              "reads). Not needed with --resume.")
@click.option("--out", "run_dir", required=True, type=click.Path(path_type=Path),
              help="Run directory: config, checkpoints, log.")
@click.option("--loss", type=click.Choice(list(LOSSES)), help=f"GAN objective [default: {DEFAULT_LOSS}]. {_LOSS_HELP}.")
@click.option("--steps", type=click.IntRange(min=1), help="Generator steps in total [default: 2000].")
@click.option("--batch-size", type=click.IntRange(min=1), help="Samples per step, all processes together "
              "[default: 128].")
@click.option("--device", help="cpu, cuda, cuda:N or auto [default: auto]. Under torchrun, cuda means each "
              "process's local GPU.")
@click.option("--seed", type=SEED, help="Seed of data split, initialisation, noise and data order [default: 0].")
@click.option("--resume", is_flag=True, help="Continue the run in --out exactly where its last checkpoint "
              "stopped (give a larger --steps to train longer).")
@click.option("--allow-new-data", is_flag=True, help="With --resume: continue although the training data changed "
              "(--data names another file, or the file was rewritten); the run records the new file and the step "
              "it trains from in data_fingerprint.json.")
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              help="TOML or JSON config file; options given here override it (see docs/training.md).")
@click.option("--arch", help="Network architecture: auto; for showers dense, conv, layer-streams; for maps dcgan, "
                             "dcgan-log (log pixel transform) [default: auto].")
@click.option("--latent-dim", type=click.IntRange(min=1, max=MAX_WIDTH), help="Size of the noise vector z [default: 64].")
@click.option("--width", type=click.IntRange(min=1, max=MAX_WIDTH), help="Base width of generator and critic [default: 256].")
@click.option("--depth", type=click.IntRange(min=1, max=MAX_DEPTH), help="Hidden layers / blocks per network [default: 3].")
@click.option("--lr", type=FiniteFloat(min=0, min_open=True, max=MAX_LR), help="Learning rate of both networks "
              f"{_loss_defaults(lambda entry: _scientific(entry.lr))}.")
@click.option("--critic-steps", type=click.IntRange(min=1, max=MAX_CRITIC_STEPS), help="Critic updates per generator update "
              f"{_loss_defaults(lambda entry: str(entry.critic_steps))}.")
@click.option("--gp-lambda", type=FiniteFloat(min=0, max=MAX_PENALTY), help="WGAN-GP penalty weight [default: 10].")
@click.option("--r1-gamma", type=FiniteFloat(min=0, max=MAX_PENALTY), help="R1 weight gamma in (gamma/2) E|grad D|^2 "
              "[default: 1].")
@click.option("--r1-interval", type=click.IntRange(min=1), help="Apply R1 every this many critic steps, scaled "
              "by it (1: every step) [default: 16].")
@click.option("--ema-halflife-kimg", type=FiniteFloat(min=0, min_open=True),
              help="Half-life of the generator's weight average, in thousands of samples [default: 10].")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), help="bf16: autocast of the network passes "
              "(penalties stay fp32) [default: fp32].")
@click.option("--tf32/--no-tf32", default=None, help="CUDA only: TF32 tensor cores for fp32 matmuls and "
              "convolutions, and cuDNN's autotuner; --no-tf32 keeps them strictly fp32 [default: --tf32].")
@click.option("--compile", "compile_", is_flag=True, default=None, help="torch.compile the network passes (not the "
              "penalty's double backward, which stays eager); compiling adds start-up time.")
@click.option("--validate-every", type=click.IntRange(min=0), help="Steps between quick validations "
              "(0: only at the end) [default: 500].")
@click.option("--checkpoint-every", type=click.IntRange(min=0), help="Steps between checkpoints "
              "(0: only at the end) [default: 500].")
@click.option("--data-option", "data_options", multiple=True, callback=_key_value, metavar="KEY=VALUE",
              help="Reader option for --data, repeatable (e.g. card=dataset.toml, binning=ds1.xml).")
@click.option("--model-option", "model_options", multiple=True, callback=_key_value, metavar="KEY=VALUE",
              help="Model setting of the data's domain, repeatable; config.json records every one used. "
                   "Maps: a (of s(x)) [default: 4], epsilon (of the log transform) [default: 1e-3]. Showers: "
                   "alpha (offset in the logarithms) [default: 1e-3], cell_noise (per-cell generator noise, "
                   "dense only) [default: 1.5], noise_profile (1: scaled by each cell's own spread) "
                   "[default: 1], response_weight (to weigh E_tot/E_inc more) [default: 3], calibrate (1: "
                   "the cell-spectrum calibration) [default: 1], critic_features (1: physics features in "
                   "the critic) [default: 0]. See docs/training.md.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train(data, run_dir, loss, steps, batch_size, device, seed, resume, allow_new_data, config_file, arch, latent_dim, width,
          depth, lr, critic_steps, gp_lambda, r1_gamma, r1_interval, ema_halflife_kimg, precision,
          tf32, compile_, validate_every, checkpoint_every, data_options, model_options, no_progress) -> None:
    """Train a conditional GAN on --data; checkpoints, log.csv and config.json go to --out.

    \b
    Examples:
      surrogate train --data showers.h5 --loss wgan-gp --steps 20000 --out runs/ds2
      surrogate train --data showers.h5 --loss r1 --r1-gamma 2 --steps 20000 --out runs/ds2-r1
      surrogate train --out runs/ds2 --resume --steps 40000
      surrogate train --out runs/ds2 --resume --steps 60000 --data more.h5 --allow-new-data
      torchrun --nproc_per_node 2 -m surrogate train --data showers.h5 --steps 20000 --out runs/ddp
    """
    from surrogate.options.outputs import check_output
    from surrogate.core import checkpoint
    from surrogate.core.config import TrainConfig, from_dict, read_config_file
    from surrogate.api import train as run_training

    # an existing run is refused by training itself (or continued with --resume)
    check_output(run_dir, inputs=[data, config_file], overwrite=True, directory=True)
    if config_file is not None:
        base = read_config_file(config_file)
    elif resume and (run_dir / checkpoint.CONFIG_FILE).exists():
        saved = run_dir / checkpoint.CONFIG_FILE
        base = from_dict(TrainConfig, checkpoint.read_json(saved), saved)
    else:
        base = TrainConfig()
    top = {"data": str(data) if data else None, "steps": steps, "batch_size": batch_size, "device": device,
           "seed": seed, "precision": precision, "tf32": tf32, "compile": compile_,
           "ema_halflife_kimg": ema_halflife_kimg,
           "validate_every": validate_every, "checkpoint_every": checkpoint_every,
           "data_options": data_options or None}
    sections = {
        "loss": {"name": loss, "gp_lambda": gp_lambda, "r1_gamma": r1_gamma, "r1_interval": r1_interval},
        "optim": {"lr_generator": lr, "lr_critic": lr, "critic_steps": critic_steps},
        "model": {"arch": arch, "latent_dim": latent_dim, "generator_width": width, "critic_width": width,
                  "depth": depth, "options": model_options or None},
    }
    config = dataclasses.replace(base, **{key: value for key, value in top.items() if value is not None})
    for section, values in sections.items():
        given = {key: value for key, value in values.items() if value is not None}
        config = dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **given)})
    if not resume and not config.data:
        raise SurrogateError("give the training data with --data FILE (or a config file naming it)")
    result = run_training(out=run_dir, config=config, resume=resume, allow_new_data=allow_new_data,
                          progress=not no_progress)
    if os.environ.get("RANK", "0") != "0":
        return
    if result.validation:
        click.echo(f"{run_dir}: step {result.step}, quick validation score {result.validation['score']:.3g} "
                   "(the checkpoint score of the data's domain, lower is better; see docs/training.md)")
    else:
        click.echo(f"{run_dir}: step {result.step}")
