"""GPU benchmark of the CUDA backend: ``python -m nnqft.bench.cuda`` (or ``make bench-cuda``).

Measures in one run, on one GPU and the CPU cores of the same node:
- neurons per second of the CUDA backend for a block of ``--bags`` bags at N = 2, 10, 100, 1000
  (30,000 networks, all correlators of orders 2, 4, 6), and of the CPU backend on all cores for one bag;
- one bag with 100x the paper's networks (3,000,000 at N = 1000) on the GPU;
- with ``--end-to-end``, the paper-scale config through Snakemake with ``backend: cuda`` in a temporary
  directory (``workflow/profiles/gpu``: one job per point, ``--cores`` = all CPUs).
Prints a table and writes it to ``results/bench/cuda.parquet``. Exits with status 1 where no GPU is visible.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from ..sampling import bags as sampling
from ..sampling import cuda_kernel
from .kernel import gaussnet

POINTS = [-0.01, -0.006, -0.002, 0.002, 0.006, 0.01]
ORDERS = [2, 4, 6]
ROOT = Path(__file__).resolve().parents[3]


def timed(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def kernel_rows(widths, n_nets, bags, big_width=1000):
    rows = []
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    sampling.block_correlators(gaussnet(2, 100), 1, range(2), ORDERS, backend="cuda")  # compile
    for N in widths:
        gpu = timed(lambda: sampling.block_correlators(gaussnet(N, n_nets), 1, range(bags), ORDERS, backend="cuda"))
        cpu = timed(lambda: sampling.bag_correlators(gaussnet(N, n_nets), 1, 0, ORDERS), repeat=1)
        rows.append({"case": "block", "N": N, "n_nets": n_nets, "bags": bags, "gpu_s": gpu,
                     "gpu_neurons_per_s": N * n_nets * bags / gpu, "cpu_threads": numba.get_num_threads(),
                     "cpu_neurons_per_s": N * n_nets / cpu, "gpu_over_cpu": (N * n_nets * bags / gpu) / (N * n_nets / cpu)})
    big = 100 * n_nets
    gpu = timed(lambda: sampling.block_correlators(gaussnet(big_width, big), 1, [0], ORDERS, backend="cuda"), 1)
    rows.append({"case": "100x n_nets", "N": big_width, "n_nets": big, "bags": 1, "gpu_s": gpu,
                 "gpu_neurons_per_s": big_width * big / gpu})
    return rows


def end_to_end(configfile):
    with tempfile.TemporaryDirectory() as work:
        cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", work,
               "--configfile", str(configfile), "--workflow-profile",
               str(ROOT / "workflow" / "profiles" / "gpu"), "--cores", str(os.cpu_count())]
        start = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if result.returncode != 0:
            print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
            raise SystemExit("the end-to-end run failed")
    return {"case": f"end to end, {configfile.name} (snakemake, backend cuda)", "gpu_s": wall}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[2, 10, 100, 1000])
    parser.add_argument("--n-nets", type=int, default=30000)
    parser.add_argument("--bags", type=int, default=10)
    parser.add_argument("--big-width", type=int, default=1000, help="N of the 100x n_nets case")
    parser.add_argument("--end-to-end", action="store_true", help="also time the paper-scale Snakemake run")
    parser.add_argument("--configfile", default=str(ROOT / "config" / "config.yaml"),
                        help="config of the end-to-end run (default: the paper's)")
    parser.add_argument("--out", default="results/bench/cuda.parquet")
    args = parser.parse_args(argv)
    if not cuda_kernel.available():
        print("no CUDA GPU visible to numba: nothing to measure (the CUDA backend needs one)")
        return 1
    print(f"GPU: {cuda_kernel.device_info()}, numba {numba.__version__}, {os.cpu_count()} CPUs, "
          f"orders {ORDERS}, {len(POINTS)} points")
    rows = kernel_rows(args.widths, args.n_nets, args.bags, args.big_width)
    if args.end_to_end:
        rows.append(end_to_end(Path(args.configfile).resolve()))
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.float_format", "{:.3g}".format):
        print(table.to_string(index=False))
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    table.to_parquet(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
