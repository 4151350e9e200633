"""Generation speed of a trained surrogate on every device of this machine, eager and fast path side by side.

Runs the harness of `surrogate benchmark` (surrogate.core.benchmark.run_benchmark) once per device: the
CPU, then each CUDA device. With --compile and/or --cuda-graphs every setting is also timed on that fast
path (CUDA graphs on CUDA devices only). Writes one JSON per device and a Markdown table, both under
--out-dir, and prints the table.

    python benchmarks/generation_speed.py RUN_DIR [--out-dir generation_speed] [--batch-sizes 1,100,10000]
        [--compile] [--cuda-graphs] [--cpu-threads N] [--devices cpu,cuda:0] [--precisions fp32,bf16]
        [--repeats 5] [--simulator-events 10]
"""
from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import torch

from surrogate.core.benchmark import BenchmarkPlan, run_benchmark
from surrogate.core.generation import FastPath


def available_devices() -> list[str]:
    return ["cpu"] + [f"cuda:{index}" for index in range(torch.cuda.device_count())]


def fast_path_for(device: str, compile_: bool, cuda_graphs: bool) -> FastPath | None:
    """The requested fast path as far as ``device`` supports it (no CUDA graphs on the CPU)."""
    graphs = cuda_graphs and torch.device(device).type == "cuda"
    return FastPath(compile=compile_, cuda_graphs=graphs) if compile_ or graphs else None


def markdown_table(results: list[dict]) -> str:
    """One row per (device, path, precision, batch size); speedup = simulator s/event x events/s."""
    lines = [f"Measured {datetime.date.today().isoformat()} with torch {results[0]['torch']}.", ""]
    for result in results:
        simulator = result["simulator"]
        lines.append(f"- {result['device']}: simulator `{simulator['name']}` {simulator['seconds_per_event']:.4g} "
                     f"s/event; best speedup {result['speedup']:.4g}x")
    header = ("| device | path | precision | batch | events/s | first batch (s) | achieved FLOP/s | "
              "fraction of peak | speedup |")
    lines += ["", header, "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for result in results:
        seconds_per_event = result["simulator"]["seconds_per_event"]
        for row in result["surrogate"]:
            peak = "n/a" if row["fraction_of_peak"] is None else f"{row['fraction_of_peak']:.1%}"
            lines.append(f"| {result['device']} | {row['path']} | {row['precision']} | {row['batch_size']} | "
                         f"{row['events_per_second']:.3g} | {row['first_call_seconds']:.3g} | "
                         f"{row['achieved_flop_per_second']:.3g} | {peak} | "
                         f"{seconds_per_event * row['events_per_second']:.3g}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="run directory made by `surrogate train`, or a shipped model's name")
    parser.add_argument("--out-dir", type=Path, default=Path("generation_speed"), help="where JSON and table go")
    parser.add_argument("--batch-sizes", default="1,100,10000", help="comma-separated events per generator call")
    parser.add_argument("--devices", default=None, help="comma-separated devices (default: cpu and every GPU)")
    parser.add_argument("--compile", action="store_true", help="also time the torch.compile path")
    parser.add_argument("--cuda-graphs", action="store_true", help="also time CUDA graph replay (GPUs only)")
    parser.add_argument("--cpu-threads", type=int, default=None,
                        help="torch threads for the CPU (1 gives steadier numbers on a shared machine)")
    parser.add_argument("--precisions", default=None,
                        help="comma-separated among fp32, tf32, bf16 (default: fp32 and bf16, plus tf32 on a GPU)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per setting (median reported)")
    parser.add_argument("--simulator-events", type=int, default=10, help="simulated events per timing point")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.cpu_threads is not None:
        torch.set_num_threads(args.cpu_threads)
    batch_sizes = tuple(int(size) for size in args.batch_sizes.split(","))
    devices = args.devices.split(",") if args.devices else available_devices()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for device in devices:
        plan = BenchmarkPlan(batch_sizes=batch_sizes, simulator_events=args.simulator_events, repeats=args.repeats,
                             seed=args.seed, precisions=tuple(args.precisions.split(",")) if args.precisions else None,
                             fast_path=fast_path_for(device, args.compile, args.cuda_graphs))
        out = args.out_dir / f"{device.replace(':', '')}.json"
        results.append(run_benchmark(args.run_dir, out, device=device, plan=plan))
        print(f"wrote {out}")
    table = markdown_table(results)
    (args.out_dir / "table.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
