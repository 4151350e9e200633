"""``surrogate models``: the pretrained surrogates shipped with the library, and how faithful each is."""
from __future__ import annotations

import json

import click


@click.command()
@click.option("--verbose", "-v", is_flag=True, help="Print each model's whole card (recipe, command, fidelity).")
def models(verbose: bool) -> None:
    """List the shipped pretrained models: name, domain, conditions and measured fidelity.

    Any command that takes a run directory (generate, benchmark, export) and surrogate.load() also
    take these names; fidelity is W1 / noise floor against an independent simulated reference
    (1 = as good as more simulation) and the classifier AUC (0.5 = indistinguishable).

    \b
    Example:
      surrogate generate ds2-electron --energy 50 --events 1000 --out e50.h5
    """
    from surrogate import pretrained

    for name in pretrained.names():
        card = pretrained.card(name)
        if verbose:
            click.echo(json.dumps({"name": name, **card}, indent=2))
            continue
        fidelity = card["fidelity"]
        low, high = card["energy_range_gev"]
        click.echo(f"{name:<16} {card['domain']:<12} {card['particle']} in {card['geometry']}, {low:g}-{high:g} GeV; "
                   f"median ratio {fidelity['median_ratio']:.2f}, worst {fidelity['worst_ratio']:.1f} "
                   f"({fidelity['worst']}), AUC {fidelity['classifier_auc']:.3f}")
