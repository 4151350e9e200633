"""What the tracking cuts cost in accuracy: ds2 observables of 10 GeV electrons for three cut settings.

"fine" tracks everything down to 30 keV (photons 10 keV) with small steps everywhere and is the
reference; "default" is TrackingCuts(); "coarse" stops electrons at 1 MeV and photons at 0.5 MeV
without range rejection. Prints a table and writes JSON.

    python benchmarks/simulator_cuts.py [--events 60] [--out simulator_cuts.json]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os

import numpy as np

from surrogate.calorimeter.geometry import get_geometry
from surrogate.calorimeter.shower import TrackingCuts, shape
from surrogate.calorimeter.shower.deposits import read_out
from surrogate.calorimeter.shower.transport import ShowerTransport

SETTINGS = {
    "fine": TrackingCuts(electron_cut_mev=0.03, photon_cut_mev=0.01, low_energy_mev=0.3, max_loss_fraction=0.1,
                         max_scattering_rad=0.15, low_energy_scattering_rad=0.15),
    "default": TrackingCuts(),
    "coarse": TrackingCuts(electron_cut_mev=1.0, photon_cut_mev=0.5, low_energy_mev=1.0),
}


def observables(cuts: TrackingCuts, events: int, energy_mev: float, seed: int) -> dict:
    geometry = get_geometry("ds2")
    visible_scale = dataclasses.replace(geometry, sampling_fraction=1.0)
    energies = np.full(events, energy_mev)
    cpu = sum(os.times()[:2])
    tally = ShowerTransport(geometry, cuts).run("e-", energies, np.random.default_rng(seed))
    cpu = sum(os.times()[:2]) - cpu
    fraction = read_out(visible_scale, tally.cells).sum(axis=1, dtype=np.float64) / energies
    return {"cuts": dataclasses.asdict(cuts), "events": events, "cpu_s_per_shower": cpu / events,
            "visible_fraction": float(fraction.mean()),
            "visible_fraction_error": float(fraction.std() / np.sqrt(events)),
            "relative_resolution": float(fraction.std() / fraction.mean()),
            "shower_maximum_x0": shape.shower_maximum_x0(geometry, tally.cells),
            "containment_moliere": shape.containment(geometry, tally.cells, tally.visible)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60, help="10 GeV electron showers per setting")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", default="simulator_cuts.json")
    args = parser.parse_args()
    results = {}
    print("setting   cpu s/shower  visible fraction     sigma/E   t_max/X0  E(<R_M)")
    for name, cuts in SETTINGS.items():
        row = observables(cuts, args.events, 1e4, args.seed)
        results[name] = row
        print(f"{name:8s}  {row['cpu_s_per_shower']:11.3f}  {row['visible_fraction']:.5f}"
              f"+-{row['visible_fraction_error']:.5f}  {row['relative_resolution']:8.4f}"
              f"  {row['shower_maximum_x0']:8.2f}  {row['containment_moliere']:.3f}", flush=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
