"""Plain against conditional estimator (docs/science.md §9): time per bag, bag-to-bag variance of <u_4> and of
a 6-point correlator, and the speed-up at equal precision, per width, all measured in one run.

At equal precision the conditional estimator saves (variance ratio) x (time ratio): to reach the plain
estimator's standard error it needs var_c / var_p times the bags, each costing t_c instead of t_p. The
uncertainty of that speed-up comes from a bootstrap over bags (both estimators resampled, times included).

Usage: python -m nnqft.bench.estimators [--widths 2 10 100 1000] [--n-nets 30000] [--n-bags 30]
Writes results/bench/estimators.parquet.
"""
from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np
import pandas as pd

from .. import combos
from ..sampling import bags as sampling
from ..theory import couplings
from ..theory.exact import Theory
from .kernel import gaussnet

POINTS = [-0.01, -0.006, -0.002, 0.002, 0.006, 0.01]
ORDERS = [2, 4, 6]
SIX_POINT = (0, 1, 2, 3, 4, 5)  # one 6-point correlator: every point once


def u4_per_bag(values4: np.ndarray, sigma_b: float, sigma_w: float) -> np.ndarray:
    """<u_4> of each bag: the mean over 4-point combinations of -(G^(4) - G_0^(4)) / I_4 (docs/science.md §3)."""
    ms4 = combos.multisets(len(POINTS), 4)
    _, g0 = Theory("gauss", POINTS, sigma_b, sigma_w).correlators(ms4, 1)
    i4 = np.array([couplings.I_n([POINTS[i] for i in c], sigma_w) for c in ms4])
    return (-(values4 - g0) / i4).mean(axis=1)


def measure(N, n_nets, n_bags, seed=1):
    """Per estimator: the per-bag correlators and the per-bag times (a warm-up bag first)."""
    labelled = combos.output_combos(len(POINTS), ORDERS)
    is4 = np.array([n == 4 for n, _ in labelled])
    six = [tuple(c) for _, c in labelled].index(SIX_POINT)
    out = {}
    for estimator in ("plain", "conditional"):
        model = gaussnet(N, n_nets).at(estimator=estimator)
        sampling.bag_correlators(model.at(n_nets=100), seed, 0, ORDERS)
        values, times = [], []
        for bag in range(n_bags):
            t = time.perf_counter()
            values.append(sampling.bag_correlators(model, seed, bag, ORDERS))
            times.append(time.perf_counter() - t)
        values = np.array(values)
        out[estimator] = {"u4": u4_per_bag(values[:, is4], model.sigma_b, model.sigma_w), "g6": values[:, six],
                          "time": np.array(times)}
    return out


def speedup(plain, cond, key, rng, n_boot=2000):
    """Variance ratio, time ratio and their product with a bootstrap standard error of the product."""
    def product(p_idx, c_idx):
        var_ratio = plain[key][p_idx].var(ddof=1) / cond[key][c_idx].var(ddof=1)
        return var_ratio * plain["time"][p_idx].mean() / cond["time"][c_idx].mean()

    n = len(plain[key])
    every = np.arange(n)
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample of one repeated bag has no variance
        boots = np.array([product(rng.integers(0, n, n), rng.integers(0, n, n)) for _ in range(n_boot)])
    boots = boots[np.isfinite(boots)]
    return product(every, every), float(np.std(boots, ddof=1)), np.percentile(boots, [2.5, 97.5])


def run(widths, n_nets, n_bags, threads):
    numba.set_num_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    for N in widths:
        m = measure(N, n_nets, n_bags)
        plain, cond = m["plain"], m["conditional"]
        row = {"N": N, "n_nets": n_nets, "n_bags": n_bags, "threads": threads,
               "t_plain_s": plain["time"].mean(), "t_cond_s": cond["time"].mean(),
               "time_ratio": plain["time"].mean() / cond["time"].mean()}
        for key in ("u4", "g6"):
            row[f"var_ratio_{key}"] = plain[key].var(ddof=1) / cond[key].var(ddof=1)
            value, se, (lo, hi) = speedup(plain, cond, key, rng)
            row[f"speedup_{key}"], row[f"speedup_{key}_se"] = value, se
            row[f"speedup_{key}_lo"], row[f"speedup_{key}_hi"] = lo, hi
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[2, 10, 100, 1000])
    parser.add_argument("--n-nets", type=int, default=30000)
    parser.add_argument("--n-bags", type=int, default=30)
    parser.add_argument("--out", default="results/bench/estimators.parquet")
    args = parser.parse_args(argv)
    threads = numba.config.NUMBA_NUM_THREADS
    table = run(args.widths, args.n_nets, args.n_bags, threads)
    pd.set_option("display.width", 250)
    print(f"numba {numba.__version__}, {os.cpu_count()} CPUs, {threads} threads, GaussNet sigma_b = sigma_w = 1, "
          f"the paper's six points, {args.n_bags} bags of {args.n_nets} networks per estimator and width")
    cols = ["N", "t_plain_s", "t_cond_s", "time_ratio", "var_ratio_u4", "speedup_u4", "speedup_u4_se",
            "speedup_u4_lo", "speedup_u4_hi", "var_ratio_g6", "speedup_g6", "speedup_g6_se"]
    print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    table.to_parquet(args.out)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
