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
    Examples:
      surrogate generate ds2-electron --energy 50 --events 1000 --out e50.h5
      surrogate generate maps-64 --condition omega_m=0.3 --condition sigma8=0.8 --events 10 --out m.h5
    """
    from surrogate import pretrained

    for name in pretrained.names():
        card = pretrained.card(name)
        if verbose:
            click.echo(json.dumps({"name": name, **card}, indent=2))
            continue
        fidelity = card["fidelity"]
        click.echo(f"{name:<16} {card['domain']:<12} {_what(card)}; "
                   f"median ratio {fidelity['median_ratio']:.2f}, worst {fidelity['worst_ratio']:.1f} "
                   f"({fidelity['worst']}), AUC {fidelity['classifier_auc']:.3f}")


def _what(card: dict) -> str:
    """What a shipped model makes and over which conditions: showers over an energy range, maps over
    parameter ranges."""
    if "parameter_ranges" in card:
        ranges = ", ".join(f"{name} {low:g}-{high:g}" for name, (low, high) in card["parameter_ranges"].items())
        return f"{card['map_size']}x{card['map_size']} maps of {card['box_mpc_h']:g} Mpc/h, {ranges}"
    low, high = card["energy_range_gev"]
    return f"{card['particle']} in {card['geometry']}, {low:g}-{high:g} GeV"
