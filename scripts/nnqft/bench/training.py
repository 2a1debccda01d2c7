"""Training benchmark: ``python -m nnqft.bench.training`` (or ``make bench-training``).

Per width N, in one run on the same core: network-steps per second (networks × RK4 steps / s) of the training kernel
(nnqft.sampling.training: compiled, eight networks to a vector, the activations carried along the flow) against the
batched numpy implementation of the same training (nnqft.sampling.reference.trained_outputs: the networks stacked, one
RK4 step of all of them per array operation), on the same networks and steps: numpy integrating the kernel's own
system (``speedup``, the same arithmetic), and numpy integrating θ alone with φ and φ' computed at every stage
(``speedup_plain``, the direct implementation). Erf at σ_b = 0.5, σ_W = 1.5, SCIENCE's training set X = (−1, 0.5, 2),
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
    numpy_s = best_of(lambda: reference.trained_outputs(m, thetas, FLOW, step, carried=True), repeat)
    plain_s = best_of(lambda: reference.trained_outputs(m, thetas, FLOW, step), repeat)
    kernel_rate, numpy_rate = n_nets * steps / kernel_s, reference_nets * steps / numpy_s
    plain_rate = reference_nets * steps / plain_s
    return {"N": N, "steps": steps, "kernel_nets": n_nets, "numpy_nets": reference_nets,
            "kernel_net_steps_per_s": kernel_rate, "numpy_net_steps_per_s": numpy_rate,
            "numpy_plain_net_steps_per_s": plain_rate, "speedup": kernel_rate / numpy_rate,
            "speedup_plain": kernel_rate / plain_rate}


#: The step check's flow: the issue's training set and times (config contract of issue 29), recorded at τ = 0.5, 2, 8.
STEP_FLOW = training.Training([-1.0, 0.5, 2.0], [1.0, -0.5, 0.25], [0.5, 2.0, 8.0])
#: The networks per point of the check's error bar: 10 bags of 20 000, the issue's training config.
STEP_CHECK_NETS = 200_000


def step_rows(activation: str, N: int, n_nets: int, halvings: int = 3) -> list[dict]:
    """How the trained correlators move when the RK4 step is halved, from the default step h to h/2^halvings, on
    ``n_nets`` networks: per halving, the largest change of a network's output, the fraction of networks whose outputs
    move by more than 1e-3, and the largest change of G^(n) (orders 1 to 4, every time) in units of the standard error
    of a STEP_CHECK_NETS-network estimate (the issue asks at most 0.01)."""
    from .. import combos

    m = Model(activation, [0.0, 1.0], 0.5, 1.5, N, n_nets)
    key, h = streams.bag_key(1, m, 0), training.default_step(m, STEP_FLOW)
    rows, previous = [], None
    for k in range(halvings + 1):
        out = training.trained_outputs(key, m, range(n_nets), STEP_FLOW, step=h / 2**k)
        products = combos.products(out, [1, 2, 3, 4])
        if previous is not None:
            moved = np.abs(out - previous[0]).max(axis=(1, 2))
            se = products.std(axis=0, ddof=1) / math.sqrt(STEP_CHECK_NETS)
            rows.append({"activation": activation, "N": N, "n_nets": n_nets, "step": f"h/{2**(k - 1)} -> h/{2**k}",
                         "max_output_change": moved.max(), "nets_moved_over_1e-3": (moved > 1e-3).mean(),
                         "max_correlator_change_over_se": (np.abs(products.mean(0) - previous[1].mean(0)) / se).max()})
        previous = (out, products)
    return rows


def carried_rows(activation: str, N: int, n_nets: int) -> list[dict]:
    """What carrying the activations along the flow costs in accuracy, on ``n_nets`` networks trained on STEP_FLOW at
    the default step h: each method's mean and largest error of a network's outputs (every recorded time and test
    point) against the kernel at h/16 (the common limit; all are fourth order): the kernel (Φ recomputed from θ every
    integrator.PROJECT_EVERY steps), the kernel never recomputing Φ, and RK4 on θ alone with φ computed at every stage
    (numpy, nnqft.sampling.reference)."""
    from ..sampling import integrator

    m = Model(activation, [0.0, 1.0], 0.5, 1.5, N, n_nets)
    key, h = streams.bag_key(1, m, 0), training.default_step(m, STEP_FLOW)
    limit = training.trained_outputs(key, m, range(n_nets), STEP_FLOW, step=h / 16)
    thetas = np.stack([training.initial_parameters(key, m, a) for a in range(n_nets)])
    runs = {f"kernel (every {integrator.PROJECT_EVERY} steps)": training.trained_outputs(key, m, range(n_nets), STEP_FLOW),
            "kernel, never recomputed": training.trained_outputs(key, m, range(n_nets), STEP_FLOW, project_every=0),
            "theta alone (numpy)": reference.trained_outputs(m, thetas, STEP_FLOW, h)}
    return [{"activation": activation, "N": N, "n_nets": n_nets, "method": name,
             "mean_error": np.abs(out - limit).mean(), "max_error": np.abs(out - limit).max()}
            for name, out in runs.items()]


def main(argv=None):
    parser = bench_parser(__doc__, widths=[64, 256, 1024], n_nets=200, n_nets_help="networks the kernel is timed on",
                          out="results/bench/training.parquet")
    parser.add_argument("--numpy-nets", type=int, default=200, help="networks the numpy batch is timed on")
    parser.add_argument("--step-check", action="store_true",
                        help="instead of timing: how much halving the RK4 step moves the trained correlators (Erf and "
                             "ReLU, the issue's training set, to tau = 8), written to results/bench/training_step.parquet")
    parser.add_argument("--carried-check", action="store_true",
                        help="instead of timing: the error at the default step of the kernel (activations carried, "
                             "recomputed or not) and of RK4 on theta alone, Erf, the step check's training set; written "
                             "to results/bench/training_carried.parquet")
    args = parser.parse_args(argv)
    if args.carried_check:
        table = pd.DataFrame([r for N in args.widths for r in carried_rows("erf", N, args.n_nets)])
        print(f"Error of each method at the default step h = {training.STEP_FACTOR}/lambda_max against the kernel at h/16, "
              f"{args.n_nets} networks per width, outputs at tau = {', '.join(map(str, STEP_FLOW.times))}")
        report(table, args.out.replace("training.parquet", "training_carried.parquet"))
        return
    if args.step_check:
        table = pd.DataFrame([r for a in ("erf", "relu") for N in args.widths for r in step_rows(a, N, args.n_nets)])
        print(f"Halving the RK4 step from the default h = {training.STEP_FACTOR}/lambda_max: {args.n_nets} networks per "
              f"width; correlator changes in standard errors of a {STEP_CHECK_NETS}-network estimate")
        report(table, args.out.replace("training.parquet", "training_step.parquet"))
        return
    table = pd.DataFrame([row(N, args.n_nets, args.numpy_nets, args.repeat) for N in args.widths])
    print(f"numba {numba.__version__}, numpy {np.__version__}, one thread; Erf, 3 training inputs, 2 test points, "
          f"both layers to tau = {FLOW.times[-1]} by RK4 at the default step")
    report(table, args.out)


if __name__ == "__main__":
    main()
