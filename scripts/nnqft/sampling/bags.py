"""A bag or a block of bags of a model: from its identity (model, seed, bag) to its correlators G_exp^(n)
(docs/science.md §1-§2)."""
from __future__ import annotations

import numpy as np

from .. import combos
from . import BACKENDS, conditional, cuda_limits, deep, kernel, point_columns, streams


def bag_correlators(model, seed: int, bag: int, orders, threads=None) -> np.ndarray:
    """G_exp^(n) of one bag of ``model`` (:class:`nnqft.model.Model`) for every combination of
    :func:`nnqft.combos.output_combos`, by the model's estimator: plain (the papers') or conditional
    (:mod:`nnqft.sampling.conditional`).

    The draws of a network depend on the bag's key and on d_in only, so at one point (σ_b, σ_W, N, n_nets, bag) the
    activations see the same weights. Networks of depth > 1 are drawn layer by layer (:mod:`nnqft.sampling.deep`). ``threads=1`` runs the serial kernel (no threading layer to start);
    otherwise numba's current thread count is used. The result is bit-identical either way.
    """
    key = streams.bag_key(seed, model, bag)
    if model.depth > 1:
        partial = deep.chunk_sums(key, model, orders, threads)
    elif model.estimator == "conditional":
        partial = conditional.chunk_sums(key, model, orders, threads)
    else:
        partial = kernel.chunk_sums(key, model, combos.product_tree(len(model.points), list(orders)), threads)
    return partial.sum(axis=0) / model.n_nets


def network_outputs(model, seed: int, bag: int, nets) -> np.ndarray:
    """f_a(x_i) for the networks ``nets`` of a bag of a plain model: float64[len(nets), n_points] (tests, checks)."""
    return kernel.network_outputs(streams.bag_key(seed, model.at(estimator="plain"), bag), model, nets)


def network_covariances(model, seed: int, bag: int, nets) -> np.ndarray:
    """C(x_p, x_q) of the networks ``nets`` of a bag of a conditional model (nnqft.sampling.conditional), for the
    pairs p <= q: float64[len(nets), n_pairs] (tests, checks)."""
    return conditional.network_covariances(streams.bag_key(seed, model.at(estimator="conditional"), bag), model,
                                           nets)


def block_correlators(model, seed: int, bags, orders, *, threads=None, backend="cpu") -> np.ndarray:
    """G_exp^(n) of the bags ``bags`` of ``model``: float64[len(bags), n_combinations].

    The CUDA backend draws the same networks (same stream layout) and computes a whole block on the GPU;
    it samples GaussNet at d_in = 1 with the plain estimator only.
    """
    if backend == "cpu":
        return np.stack([bag_correlators(model, seed, b, orders, threads) for b in bags])
    if backend == "cuda":
        limits = cuda_limits(model)
        if limits:
            raise ValueError("; ".join(f"{key or 'model'} {value} {what}: {allowed}"
                                       for key, value, what, allowed in limits))
        from . import cuda_kernel  # imported only here: CPU jobs never load numba.cuda

        keys = np.array([streams.bag_key(seed, model, b) for b in bags], dtype=np.uint64)
        return cuda_kernel.block_correlators(keys, model, orders)
    raise ValueError(f"unknown backend {backend!r}: expected one of {BACKENDS}")


def block_table(model, seed: int, bags, orders, *, threads=None, backend="cpu"):
    """Correlators of the bags ``bags`` of ``model`` as a long pyarrow table (one row per bag and combination).

    Columns: activation, d_in, depth, points (the point set as JSON rows, e.g. "[[0.5, 0.5], [0.5, 1.0]]"; ``combo``
    indexes into it), estimator, sigma_b, sigma_w, N, n_nets, bag, order, combo, value.
    """
    import pyarrow as pa

    labelled = combos.output_combos(len(model.points), list(orders))
    n_combo = len(labelled)
    values = block_correlators(model, seed, bags, orders, threads=threads, backend=backend).ravel()
    n_rows = n_combo * len(bags)
    return pa.table({
        **point_columns(model, n_rows),
        "bag": np.repeat(np.asarray(list(bags), dtype=np.int64), n_combo),
        "order": np.tile(np.asarray([n for n, _ in labelled], dtype=np.int64), len(bags)),
        "combo": pa.array([combos.combo_label(c) for _, c in labelled] * len(bags)).dictionary_encode(),
        "value": values,
    })
