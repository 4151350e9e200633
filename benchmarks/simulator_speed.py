"""Seconds per shower of the reference simulator at 1, 10 and 100 GeV, for ds2 and calogan.

Prints a table and writes JSON. Wall-clock and process CPU time are both recorded: on a shared
machine the CPU time is the steadier number. A log-uniform 1-100 GeV sample (the training-set
spectrum) is timed too and extrapolated to 10,000 showers.

    python benchmarks/simulator_speed.py [--out simulator_speed.json] [--scale 1.0] [--workers 1]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from surrogate.calorimeter.geometry import get_geometry
from surrogate.calorimeter.shower import TrackingCuts, simulate_showers
from surrogate.calorimeter.shower.medium import SlabMedium
from surrogate.calorimeter.shower.tables import build_tables

POINTS_GEV = {1.0: 200, 10.0: 40, 100.0: 8}  # energy: showers at --scale 1
SPECTRUM_SHOWERS = 60


def _cpu_seconds() -> float:
    """CPU time of this process and of finished worker processes."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def time_point(geometry_name: str, particle: str, energies_mev: np.ndarray, seed: int, workers: int) -> dict:
    geometry = get_geometry(geometry_name)
    wall, cpu = time.perf_counter(), _cpu_seconds()
    simulate_showers(geometry, particle, energies_mev, np.random.default_rng(seed), workers=workers)
    wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
    n = energies_mev.size
    return {"geometry": geometry_name, "particle": particle, "events": n,
            "mean_energy_gev": float(energies_mev.mean() / 1e3),
            "wall_s_per_shower": wall / n, "cpu_s_per_shower": cpu / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="simulator_speed.json", help="JSON file to write")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of showers per point")
    parser.add_argument("--workers", type=int, default=1, help="worker processes for simulate_showers")
    parser.add_argument("--particle", default="e-", choices=("e-", "e+", "gamma"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    startup = {}
    for name in ("ds2", "calogan"):  # tables are built once per process; time that separately
        start = time.perf_counter()
        build_tables(SlabMedium.from_geometry(get_geometry(name)).materials)
        startup[name] = time.perf_counter() - start

    rows = []
    load_before = os.getloadavg()
    for name in ("ds2", "calogan"):
        for energy_gev, n in POINTS_GEV.items():
            n = max(round(n * args.scale), 1)
            rows.append(time_point(name, args.particle, np.full(n, energy_gev * 1e3), args.seed, args.workers))
            print(_format(rows[-1]), flush=True)
        n = max(round(SPECTRUM_SHOWERS * args.scale), 1)
        spectrum = np.exp(np.random.default_rng(args.seed).uniform(np.log(1e3), np.log(1e5), n))
        row = time_point(name, args.particle, spectrum, args.seed, args.workers)
        row["spectrum"] = "log-uniform 1-100 GeV"
        row["hours_for_10000"] = row["wall_s_per_shower"] * 1e4 / 3600
        rows.append(row)
        print(_format(row) + f"  -> 10k showers: {row['hours_for_10000']:.2f} h", flush=True)

    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "load_average_before": load_before,
                    "load_average_after": os.getloadavg()},
        "workers": args.workers, "cuts": TrackingCuts().__dict__, "table_build_s": startup, "points": rows,
    }
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=2)
    print(f"wrote {args.out}")


def _format(row: dict) -> str:
    return (f"{row['geometry']:8s} {row['particle']:5s} {row['mean_energy_gev']:7.1f} GeV  {row['events']:4d} showers"
            f"  wall {row['wall_s_per_shower']:.4f} s/shower  cpu {row['cpu_s_per_shower']:.4f} s/shower")


if __name__ == "__main__":
    main()
