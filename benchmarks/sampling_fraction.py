"""Measure the ds2 sampling fraction of the reference simulator (the value set in geometry._ds2).

The sampling fraction is the mean silicon-visible energy, after the per-cell 15.15 keV threshold,
divided by the incident energy, for electron showers at 10, 20 and 50 GeV. Dividing recorded showers
by it makes E_tot / E_inc close to 1.

    python benchmarks/sampling_fraction.py [--events 400] [--seed 2024] [--workers 1]
"""
from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np

from surrogate.calorimeter.geometry import get_geometry
from surrogate.calorimeter.shower import simulate_showers

ENERGIES_GEV = (10.0, 20.0, 50.0)


def measure(events: int, seed: int, workers: int, particle: str = "e-") -> dict:
    """Visible fraction (mean, spread, error of the mean) per energy, and their error-weighted mean."""
    geometry = dataclasses.replace(get_geometry("ds2"), sampling_fraction=1.0)
    rng = np.random.default_rng(seed)
    rows = []
    for energy_gev in ENERGIES_GEV:
        n = max(int(events * 10.0 / energy_gev), 20)  # same total energy per point
        energies = np.full(n, energy_gev * 1e3)
        visible = simulate_showers(geometry, particle, energies, rng, progress=True, workers=workers)
        fraction = visible.sum(axis=1, dtype=np.float64) / energies
        rows.append({"energy_gev": energy_gev, "events": n, "mean": float(fraction.mean()),
                     "rms": float(fraction.std()), "error": float(fraction.std() / np.sqrt(n))})
    weights = np.array([1 / r["error"] ** 2 for r in rows])
    combined = float(np.sum(weights * [r["mean"] for r in rows]) / weights.sum())
    return {"particle": particle, "seed": seed, "points": rows, "sampling_fraction": combined,
            "error": float(1 / np.sqrt(weights.sum()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=400, help="showers at 10 GeV (fewer at higher energy)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--particle", default="e-", choices=("e-", "e+", "gamma"))
    parser.add_argument("--out", help="write the result as JSON here")
    args = parser.parse_args()
    result = measure(args.events, args.seed, args.workers, args.particle)
    for row in result["points"]:
        print(f"{row['energy_gev']:6.1f} GeV  {row['events']:5d} showers  visible fraction {row['mean']:.5f}"
              f"  rms {row['rms'] / row['mean']:.2%}  +- {row['error']:.5f}")
    print(f"sampling fraction {result['sampling_fraction']:.5f} +- {result['error']:.5f}")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
