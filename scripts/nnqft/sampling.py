"""Sampling a bag: from a point's identity to its correlators G_exp^(n) (docs/science.md §1-§2)."""
from __future__ import annotations

import numpy as np

from . import combos, kernel, seeding
from .neurons import ACTIVATIONS, as_points, points_json

#: Activations of the CPU kernel (docs/science.md §8), by name, with their kernel codes (their positions
#: in ``nnqft.neurons.ACTIVATIONS``: kernel.GAUSS, RELU, ERF).
ACTIVATION_CODES = {name: code for code, name in enumerate(ACTIVATIONS)}


def activation_code(activation: str) -> int:
    if activation not in ACTIVATION_CODES:
        raise ValueError(f"unknown activation {activation!r}: expected one of {tuple(ACTIVATION_CODES)}")
    return ACTIVATION_CODES[activation]


def bag_correlators(seed, sigma_b, sigma_w, N, n_nets, bag, points, orders, threads=None,
                    activation="gauss", estimator="plain") -> np.ndarray:
    """G_exp^(n) of one bag for every combination of :func:`nnqft.combos.output_combos`.

    ``points``: numbers (d_in = 1) or rows of d_in numbers; ``activation``: gauss, relu or erf;
    ``estimator``: plain (the papers') or conditional (:mod:`nnqft.conditional`). The draws of a network
    depend on the bag's key and on d_in only, so at one point (σ_b, σ_W, N, n_nets, bag) the three
    activations see the same weights. ``threads=1`` runs the serial kernel (no threading layer to start);
    otherwise numba's current thread count is used. The result is bit-identical either way.
    """
    key0, key1 = seeding.bag_key(seed, sigma_b, sigma_w, N, n_nets, bag, estimator)
    x = as_points(points)
    args = (np.uint64(key0), np.uint64(key1), int(n_nets), int(N), float(sigma_b), float(sigma_w), x,
            activation_code(activation))
    if estimator == "conditional":
        from . import conditional

        pair_p, pair_q, first, pair_of, rest_of, _ = conditional.wick_tables(len(x), max(orders))
        sums = conditional.bag_chunk_sums_serial if threads == 1 else conditional.bag_chunk_sums
        partial = sums(*args, pair_p, pair_q, first, pair_of, rest_of, conditional.output_rows(len(x), orders))
    else:
        parent, last, out_nodes = combos.product_tree(len(x), list(orders))
        sums = kernel.bag_chunk_sums_serial if threads == 1 else kernel.bag_chunk_sums
        partial = sums(*args, parent, last, out_nodes)
    return partial.sum(axis=0) / n_nets


def network_outputs(seed, sigma_b, sigma_w, N, n_nets, bag, points, nets, activation="gauss") -> np.ndarray:
    """f_a(x_i) for the networks ``nets`` of a bag: float64[len(nets), n_points] (for tests and checks)."""
    key0, key1 = seeding.bag_key(seed, sigma_b, sigma_w, N, n_nets, bag)
    x = as_points(points)
    code = activation_code(activation)
    out = np.empty((len(nets), len(x)))
    for r, a in enumerate(nets):
        kernel.network_outputs(np.uint64(key0), np.uint64(key1), int(a), int(N), float(sigma_b), float(sigma_w), x,
                               code, out[r])
    return out


def network_covariances(seed, sigma_b, sigma_w, N, n_nets, bag, points, nets, activation="gauss") -> np.ndarray:
    """C(x_p, x_q) = σ_b² + (σ_W²/N) Σ_j φ_j(x_p) φ_j(x_q) of the networks ``nets`` of a bag of the conditional
    estimator, for the pairs p <= q in the order of ``combos.multisets(n_points, 2)``: float64[len(nets), n_pairs]
    (for tests and checks)."""
    from . import conditional

    key0, key1 = seeding.bag_key(seed, sigma_b, sigma_w, N, n_nets, bag, "conditional")
    x = as_points(points)
    pair_p, pair_q = conditional.wick_tables(len(x), 2)[:2]
    return np.stack([conditional.network_covariance(np.uint64(key0), np.uint64(key1), int(a), int(N), float(sigma_b),
                                                    float(sigma_w), x, activation_code(activation), pair_p, pair_q)
                     for a in nets])


#: Sampling backends: ``cpu`` (numba, :mod:`nnqft.kernel`) and ``cuda`` (numba.cuda, :mod:`nnqft.cuda_kernel`).
BACKENDS = ("cpu", "cuda")


def block_correlators(seed, sigma_b, sigma_w, N, n_nets, bags, points, orders, threads=None, backend="cpu",
                      activation="gauss", estimator="plain"):
    """G_exp^(n) of the bags ``bags`` of one point: float64[len(bags), n_combinations].

    The CUDA backend draws the same networks (same stream layout) and computes a whole block on the GPU;
    it samples GaussNet at d_in = 1 only.
    """
    if backend == "cpu":
        return np.stack([bag_correlators(seed, sigma_b, sigma_w, N, n_nets, b, points, orders, threads, activation,
                                         estimator) for b in bags])
    if backend == "cuda":
        x = as_points(points)
        if activation != "gauss" or x.shape[1] != 1 or estimator != "plain":
            raise ValueError(f"the cuda backend samples GaussNet at d_in = 1 with the plain estimator only, not "
                             f"{activation!r} at d_in = {x.shape[1]} ({estimator}): use backend cpu")
        from . import cuda_kernel  # imported only here: CPU jobs never load numba.cuda

        keys = np.array([seeding.bag_key(seed, sigma_b, sigma_w, N, n_nets, b) for b in bags], dtype=np.uint64)
        return cuda_kernel.block_correlators(keys, N, n_nets, sigma_b, sigma_w, x[:, 0], orders)
    raise ValueError(f"unknown backend {backend!r}: expected one of {BACKENDS}")


def block_table(seed, sigma_b, sigma_w, N, n_nets, bags, points, orders, threads=None, backend="cpu",
                activation="gauss", estimator="plain"):
    """Correlators of the bags ``bags`` of one point as a long pyarrow table (one row per bag and combination).

    Columns: activation, d_in, points (the point set as JSON rows, e.g. "[[0.5, 0.5], [0.5, 1.0]]"; ``combo``
    indexes into it), estimator, sigma_b, sigma_w, N, n_nets, bag, order, combo, value.
    """
    import pyarrow as pa

    x = as_points(points)
    labelled = combos.output_combos(len(x), list(orders))
    n_combo = len(labelled)
    values = block_correlators(seed, sigma_b, sigma_w, N, n_nets, bags, x, orders, threads, backend,
                               activation, estimator).ravel()
    n_rows = n_combo * len(bags)
    return pa.table({
        "activation": pa.array([activation] * n_rows).dictionary_encode(),
        "d_in": np.full(n_rows, x.shape[1], dtype=np.int64),
        "points": pa.array([points_json(x)] * n_rows).dictionary_encode(),
        "estimator": pa.array([estimator] * n_rows).dictionary_encode(),
        "sigma_b": np.full(n_rows, float(sigma_b)),
        "sigma_w": np.full(n_rows, float(sigma_w)),
        "N": np.full(n_rows, int(N), dtype=np.int64),
        "n_nets": np.full(n_rows, int(n_nets), dtype=np.int64),
        "bag": np.repeat(np.asarray(list(bags), dtype=np.int64), n_combo),
        "order": np.tile(np.asarray([n for n, _ in labelled], dtype=np.int64), len(bags)),
        "combo": pa.array([combos.combo_label(c) for _, c in labelled] * len(bags)).dictionary_encode(),
        "value": values,
    })
