"""Depth benchmark: ``python -m nnqft.bench.deep`` (or ``make bench-deep``).

Per (N, L) in {100, 1000} x {2, 3, 5}, in one run on the same cores: the time per bag of the layer-by-layer kernel
(nnqft.sampling.deep: N·P normals and O(N·P²) arithmetic per layer) against the numpy reference sampler that draws
every weight matrix (nnqft.sampling.reference, N² normals per layer, batched matrix products), for ReLU networks at
the paper's six points, the plain estimator and orders 2, 4, 6. The reference is timed on fewer networks and scaled
to the bag (its cost is linear in the networks). Prints the table and writes ``results/bench/deep.parquet``; the
ratio is the comparable number, not the absolute times.
"""
from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from .. import combos
from ..model import Model
from ..sampling import bags, reference
from .kernel import POINTS, bench_parser, best_of, report

ORDERS = [2, 4, 6]


def model(N: int, depth: int, n_nets: int) -> Model:
    """The benchmark's model: ReLU at σ_b = 0.1, σ_W = 1.4, the paper's six points."""
    return Model("relu", POINTS, 0.1, 1.4, N, n_nets, depth=depth)


def row(N: int, depth: int, n_nets: int, reference_nets: int, repeat: int) -> dict:
    m = model(N, depth, n_nets)
    bags.bag_correlators(m.at(n_nets=16), 1, 0, ORDERS)  # compile
    kernel_s = best_of(lambda: bags.bag_correlators(m, 1, 0, ORDERS), repeat)
    rng = np.random.default_rng(0)
    ref = m.at(n_nets=reference_nets)
    ref_s = best_of(lambda: combos.products(reference.outputs(ref, reference_nets, rng), ORDERS).mean(0), repeat)
    ref_bag_s = ref_s * n_nets / reference_nets
    return {"N": N, "depth": depth, "n_nets": n_nets, "kernel_s": kernel_s, "reference_s": ref_bag_s,
            "reference_nets_timed": reference_nets, "speedup": ref_bag_s / kernel_s,
            "kernel_us_per_network": 1e6 * kernel_s / n_nets}


def main(argv=None):
    parser = bench_parser(__doc__, widths=[100, 1000], n_nets=2000, n_nets_help="networks per bag",
                          out="results/bench/deep.parquet")
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 3, 5])
    parser.add_argument("--reference-nets", type=int, default=64, help="networks the reference is timed on")
    args = parser.parse_args(argv)
    rows = [row(N, L, args.n_nets, args.reference_nets, args.repeat) for N in args.widths for L in args.depths]
    table = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(f"numba {numba.__version__}, numpy {np.__version__}, {numba.config.NUMBA_NUM_THREADS} threads, ReLU at the "
          f"paper's 6 points, orders {ORDERS}, plain estimator; times per bag of {args.n_nets} networks")
    report(table, args.out)


if __name__ == "__main__":
    main()
