"""Kernel benchmark: ``python -m nnqft.bench.kernel`` (or ``make bench``).

Measures in one run, on the same cores:
- the numba kernel for one bag (all correlators of the requested orders) at several N;
- numpy's ``Generator.standard_normal`` drawing the 3 N n_nets numbers that bag needs (the floor);
- a plain batched numpy implementation of the same bag;
- scaling with n_nets and with the number of threads;
- the three activations (GaussNet, ReLU, Erf) at d_in = 1, 2, 3, timed against GaussNet at d_in = 1 in
  the same run (``--activations-only`` for just these rows).
Prints the tables and writes them to ``results/bench/kernel.parquet`` and ``results/bench/activations.parquet``. Ratios, not absolute times, are
the comparable numbers: absolute times drift on shared machines.
"""
from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
import pandas as pd

from .. import combos
from ..model import ACTIVATIONS, Model
from ..sampling import bags as sampling

POINTS = [-0.01, -0.006, -0.002, 0.002, 0.006, 0.01]


def gaussnet(N: int, n_nets: int, points=POINTS) -> Model:
    """The benchmarks' model: GaussNet at σ_b = σ_W = 1."""
    return Model("gauss", points, sigma_b=1.0, sigma_w=1.0, N=N, n_nets=n_nets)


def numpy_bag(rng, model, orders, block=1000):
    """The same estimator in plain batched numpy (docs/science.md §1-§2), streaming blocks of networks
    (GaussNet at d_in = 1)."""
    x = model.x[:, 0]
    sigma_b, sigma_w, N, n_nets = model.sigma_b, model.sigma_w, model.N, model.n_nets
    parent, last, out_nodes = combos.product_tree(len(x), list(orders))
    sums = np.zeros(len(out_nodes))
    log_norm = sigma_b**2 + sigma_w**2 * x**2
    for start in range(0, n_nets, block):
        n = min(block, n_nets - start)
        w0 = rng.standard_normal((n, N, 1)) * sigma_w
        b0 = rng.standard_normal((n, N, 1)) * sigma_b
        w1 = rng.standard_normal((n, N)) * (sigma_w / np.sqrt(N))
        f = np.einsum("nj,nji->ni", w1, np.exp(w0 * x + b0 - log_norm)) + rng.standard_normal((n, 1)) * sigma_b
        prod = np.empty((len(parent), n))
        prod[: len(x)] = f.T
        for m in range(len(x), len(parent)):
            prod[m] = prod[parent[m]] * prod[last[m]]
        sums += prod[out_nodes].sum(axis=1)
    return sums / n_nets


def bench_parser(doc: str, *, widths, n_nets: int, n_nets_help: str, out: str) -> argparse.ArgumentParser:
    """A benchmark's command line with the options they share: --widths, --n-nets, --repeat, --out."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=list(widths))
    parser.add_argument("--n-nets", type=int, default=n_nets, help=n_nets_help)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=out)
    return parser


def best_of(fn, repeat: int) -> float:
    """The shortest of ``repeat`` timed calls of ``fn`` (seconds): the run least disturbed by the machine."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def run(widths, n_nets, orders, *, repeat, threads, with_numpy):
    rows = []
    rng = np.random.default_rng(0)
    numba.set_num_threads(threads)
    sampling.bag_correlators(gaussnet(2, 100), 1, 0, orders)  # load or compile
    for N in widths:
        kernel = best_of(lambda: sampling.bag_correlators(gaussnet(N, n_nets), 1, 0, orders), repeat)
        floor = best_of(lambda: rng.standard_normal(3 * N * n_nets), repeat)
        plain = best_of(lambda: numpy_bag(rng, gaussnet(N, n_nets), orders), 1) if with_numpy else np.nan
        rows.append({"N": N, "n_nets": n_nets, "threads": threads, "kernel_s": kernel, "numpy_normals_s": floor,
                     "kernel_over_normals": kernel / floor, "plain_numpy_s": plain, "plain_over_kernel": plain / kernel,
                     "neurons_per_s": N * n_nets / kernel})
    return rows


def activation_rows(N, n_nets, orders, repeat, threads):
    """One bag at width N for each activation and d_in (the paper's six points, each repeated along the
    d_in axes: [x, ..., x]), with its time relative to GaussNet at the same d_in and at d_in = 1. The
    variants take turns within each of the ``repeat`` rounds and each keeps its best time, so a slow spell
    of a shared machine does not fall on one activation only."""
    numba.set_num_threads(threads)
    variants = [(activation, d_in) for d_in in (1, 2, 3) for activation in ACTIVATIONS]
    points = {d_in: [[x] * d_in for x in POINTS] for d_in in (1, 2, 3)}
    for activation, d_in in variants:
        sampling.bag_correlators(gaussnet(2, 100, points[d_in]).at(activation=activation), 1, 0, orders)  # compile
    best = dict.fromkeys(variants, np.inf)
    for _ in range(repeat):
        for activation, d_in in variants:
            model = gaussnet(N, n_nets, points[d_in]).at(activation=activation)
            t = best_of(lambda: sampling.bag_correlators(model, 1, 0, orders), 1)
            best[activation, d_in] = min(best[activation, d_in], t)
    rows = [{"activation": activation, "d_in": d_in, "N": N, "n_nets": n_nets, "threads": threads,
             "kernel_s": t, "neurons_per_s": N * n_nets / t} for (activation, d_in), t in best.items()]
    table = pd.DataFrame(rows)
    gauss = table[table.activation == "gauss"].set_index("d_in").kernel_s
    table["over_gauss_same_d_in"] = table.kernel_s / table.d_in.map(gauss)
    table["over_gauss_d_in_1"] = table.kernel_s / gauss[1]
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[2, 10, 100, 1000])
    parser.add_argument("--n-nets", type=int, default=30000)
    parser.add_argument("--orders", type=int, nargs="+", default=[2, 4, 6])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-numpy", action="store_true", help="skip the plain numpy implementation")
    parser.add_argument("--out", default="results/bench/kernel.parquet")
    parser.add_argument("--activations-only", action="store_true", help="only the activation and d_in rows")
    args = parser.parse_args(argv)
    max_threads = numba.config.NUMBA_NUM_THREADS
    pd.set_option("display.width", 200)
    if not args.activations_only:
        kernel_table(args, max_threads)
    acts = activation_rows(max(args.widths), args.n_nets, args.orders, args.repeat, max_threads)
    print(f"\nactivations at N = {max(args.widths)}, n_nets = {args.n_nets}, {max_threads} threads "
          f"(points: the paper's six, repeated along the d_in axes)")
    report(acts, os.path.join(os.path.dirname(args.out) or ".", "activations.parquet"))


def kernel_table(args, max_threads):
    rows = run(args.widths, args.n_nets, args.orders, repeat=args.repeat, threads=max_threads,
               with_numpy=not args.no_numpy)
    # scaling: n_nets at the largest width, and threads
    N = max(args.widths)
    for n_nets in (args.n_nets // 4, args.n_nets // 2):
        rows += run([N], n_nets, args.orders, repeat=args.repeat, threads=max_threads, with_numpy=False)
    for threads in range(1, max_threads):
        rows += run([N], args.n_nets, args.orders, repeat=args.repeat, threads=threads, with_numpy=False)
    table = pd.DataFrame(rows)
    print(f"numba {numba.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"orders {args.orders}, {len(combos.output_combos(len(POINTS), args.orders))} correlators per bag")
    report(table, args.out)


def report(table: pd.DataFrame, path: str) -> None:
    """Print a benchmark table (3 significant digits) and write it to ``path`` as Parquet."""
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    table.to_parquet(path)
    print(f"written {path}")


if __name__ == "__main__":
    main()
