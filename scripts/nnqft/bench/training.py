"""Training benchmark: ``python -m nnqft.bench.training`` (or ``make bench-training``).

Per width N, in one run on the same core: network-steps per second (networks × RK4 steps / s) of the training kernel
(nnqft.sampling.training: one network at a time, compiled) against the batched numpy implementation of the same
training (nnqft.sampling.reference.trained_outputs: the networks stacked, one RK4 step of all of them per array
operation), on the same networks and steps. Erf at σ_b = 0.5, σ_W = 1.5, SCIENCE's training set X = (−1, 0.5, 2),
Y = (1, −0.5, 0.25), test points (0, 1), both layers trained to τ = 2 at the default step. Prints the table and
writes ``results/bench/training.parquet``; the ratio is the comparable number, not the absolute times.
"""
from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd

from ..model import Model
from ..sampling import reference, streams, training
from .kernel import bench_parser, best_of, report

FLOW = training.Training([-1.0, 0.5, 2.0], [1.0, -0.5, 0.25], [2.0])


def row(N: int, n_nets: int, reference_nets: int, repeat: int) -> dict:
    m = Model("erf", [0.0, 1.0], 0.5, 1.5, N, n_nets)
    key, step = streams.bag_key(1, m, 0), training.default_step(m, FLOW)
    steps = math.ceil(FLOW.times[-1] / step)
    training.trained_outputs(key, m, range(2), FLOW, step=step)  # compile
    kernel_s = best_of(lambda: training.trained_outputs(key, m, range(n_nets), FLOW, step=step), repeat)
    thetas = np.stack([training.initial_parameters(key, m, a) for a in range(reference_nets)])
    numpy_s = best_of(lambda: reference.trained_outputs(m, thetas, FLOW, step), repeat)
    kernel_rate, numpy_rate = n_nets * steps / kernel_s, reference_nets * steps / numpy_s
    return {"N": N, "steps": steps, "kernel_nets": n_nets, "numpy_nets": reference_nets,
            "kernel_net_steps_per_s": kernel_rate, "numpy_net_steps_per_s": numpy_rate, "speedup": kernel_rate / numpy_rate}


def main(argv=None):
    parser = bench_parser(__doc__, widths=[64, 256, 1024], n_nets=200, n_nets_help="networks the kernel is timed on",
                          out="results/bench/training.parquet")
    parser.add_argument("--numpy-nets", type=int, default=200, help="networks the numpy batch is timed on")
    args = parser.parse_args(argv)
    table = pd.DataFrame([row(N, args.n_nets, args.numpy_nets, args.repeat) for N in args.widths])
    print(f"numba {numba.__version__}, numpy {np.__version__}, one thread; Erf, 3 training inputs, 2 test points, "
          f"both layers to tau = {FLOW.times[-1]} by RK4 at the default step")
    report(table, args.out)


if __name__ == "__main__":
    main()
