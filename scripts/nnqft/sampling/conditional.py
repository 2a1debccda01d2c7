"""The conditional-Gaussian estimator of G^(n) (docs/science.md §9), on the CPU.

Given a network's first layer (W0_j, b0_j for j = 1..N), its output f(x) = Σ_j W1_j φ_j(x) + b1 is exactly
Gaussian, centred, with covariance

    C(x, y) = σ_b² + (σ_W² / N) Σ_j φ_j(x) φ_j(y),

so E[f(x_1)...f(x_n) | first layer] is the Wick sum over the perfect matchings of the n points of Π C. Its
mean over networks is an unbiased estimator of G^(n) (the law of total expectation) whose variance is never
above the plain product's (Rao–Blackwell), and it draws no W1 and no b1.

Per network the kernel forms the n_points (n_points + 1) / 2 sums Σ_j φ_j(x_p) φ_j(x_q), then the Wick sums
by the recursion over the first point's partner,

    W(c_0, c_1, ..., c_{n-1}) = Σ_{k=1}^{n-1} C(c_0, c_k) W(c without positions 0 and k),

so an order-6 multiset costs 5 multiply-adds given the order-4 ones (3 given the order-2 ones, W = C).
Reduction order, per bag: neurons in batches of NEURON_BATCH with one partial sum per batch position,
added in order at the end; networks in chunks of CHUNK, LANES side by side, lanes added in order; chunks
added in order by the caller. Hence bit-identical results for any thread count.

The stream: per network, per neuron W0_j[0..d_in-1] then b0_j (normals of the same SplitMix64 / ziggurat
generator as the plain kernel), from a bag key of its own (:func:`nnqft.sampling.streams.bag_key` of
a conditional model), so plain and conditional samples of one point are independent.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit, prange

from .. import combos
from . import kernel_cache  # noqa: F401  (numba's cache folder, named before the first cache=True decorator)
from .blocks import (CHUNK, LANES, NEURON_BATCH, close_wick_lanes, lane_totals, log_norm_of, pair_sums,
                     parallel_and_serial)


@lru_cache(maxsize=None)
def wick_tables(n_points: int, max_order: int):
    """Index tables of the Wick recursion for every multiset of up to ``max_order`` points.

    Rows ("nodes") are the multisets of orders 2, 4, ..., max_order, each order in the order of
    :func:`nnqft.combos.multisets`; the order-2 rows are also the pairs of the covariance. Returns
    (pair_p, pair_q, first, pair_of, rest_of): the two points of each pair; for each node of order >= 4 in
    ``first[m]..first[m+1]`` (a CSR layout over nodes) the pair (c_0, c_k) and the node of the rest.
    """
    orders = list(range(2, max_order + 1, 2))
    row = {}
    for order in orders:
        for c in combos.multisets(n_points, order):
            row[tuple(c)] = len(row)
    pairs = [c for c in row if len(c) == 2]
    pair_p = np.array([p for p, _ in pairs], dtype=np.int64)
    pair_q = np.array([q for _, q in pairs], dtype=np.int64)
    first, pair_of, rest_of = [0], [], []
    for c in row:
        if len(c) >= 4:
            for k in range(1, len(c)):
                pair_of.append(row[(c[0], c[k])])
                rest_of.append(row[tuple(c[i] for i in range(1, len(c)) if i != k)])
        first.append(len(pair_of))
    return (pair_p, pair_q, np.array(first, dtype=np.int64), np.array(pair_of, dtype=np.int64),
            np.array(rest_of, dtype=np.int64), row)


def output_rows(n_points: int, orders) -> np.ndarray:
    """For each combination of :func:`nnqft.combos.output_combos`, its row in :func:`wick_tables`."""
    row = wick_tables(n_points, max(orders))[5]
    return np.array([row[tuple(c)] for _, c in combos.output_combos(n_points, list(orders))], dtype=np.int64)


@njit(cache=True, error_model="numpy")
def _chunk_sums(c, key0, key1, n_nets, N, sigma_b, sigma_w, x, activation, log_norm, pair_p, pair_q, first, pair_of,
                rest_of, out_rows, partial):
    """Sums over the networks of chunk ``c`` of the Wick sums ``out_rows``, into ``partial[c]``.

    Network ``a`` is added to lane ``a % LANES`` and the lanes are summed in order at the end, so the result
    depends on CHUNK and LANES but not on which thread computes the chunk.
    """
    n_points, d_in = x.shape
    n_pairs = pair_p.shape[0]
    n_nodes = first.shape[0] - 1
    n_out = out_rows.shape[0]
    buf = np.empty((d_in + 2 + n_points, NEURON_BATCH))
    lanes = np.empty((n_pairs, NEURON_BATCH))
    s = np.empty(n_pairs)
    w = np.zeros((n_nodes, LANES))  # C (order-2 rows), then the Wick sums of orders 4, 6, ...
    acc = np.zeros((n_out, LANES))
    scale = sigma_w * sigma_w / N
    sb2 = sigma_b * sigma_b
    stop = min(n_nets, (c + 1) * CHUNK)
    for a0 in range(c * CHUNK, stop, LANES):
        n_lanes = min(LANES, stop - a0)
        for lane in range(n_lanes):
            pair_sums(key0, key1, a0 + lane, N, sigma_b, sigma_w, x, log_norm, activation, pair_p, pair_q, buf,
                       lanes, s)
            for r in range(n_pairs):
                w[r, lane] = sb2 + scale * s[r]
        close_wick_lanes(w, n_lanes, n_pairs, first, pair_of, rest_of, acc, out_rows)
    lane_totals(acc, partial, c)


def _bag_chunk_sums(key0, key1, n_nets, N, sigma_b, sigma_w, x, activation, pair_p, pair_q, first, pair_of, rest_of,
                    out_rows):
    """Per-chunk sums over the networks of one bag of the conditional estimator of every output combination:
    float64[n_chunks, n_out]; ``sum(axis=0) / n_nets`` gives G^(n) (docs/science.md §9)."""
    n_chunks = (n_nets + CHUNK - 1) // CHUNK
    log_norm = log_norm_of(sigma_b, sigma_w, x)
    partial = np.zeros((n_chunks, out_rows.shape[0]))
    for c in prange(n_chunks):
        _chunk_sums(np.int64(c), key0, key1, n_nets, N, sigma_b, sigma_w, x, activation, log_norm, pair_p, pair_q,
                    first, pair_of, rest_of, out_rows, partial)
    return partial


_bag_chunk_sums, _bag_chunk_sums_serial = parallel_and_serial(_bag_chunk_sums)


def chunk_sums(key, model, orders, threads=None) -> np.ndarray:
    """Per-chunk sums over the networks of the bag keyed ``key`` of ``model`` of the conditional estimator of every
    combination of :func:`nnqft.combos.output_combos` at ``orders``: float64[n_chunks, n_out] (``threads`` as in
    :func:`nnqft.sampling.kernel.chunk_sums`)."""
    n_points = len(model.points)
    pair_p, pair_q, first, pair_of, rest_of, _ = wick_tables(n_points, max(orders))
    sums = _bag_chunk_sums_serial if threads == 1 else _bag_chunk_sums
    return sums(np.uint64(key[0]), np.uint64(key[1]), model.n_nets, model.N, model.sigma_b, model.sigma_w, model.x,
                model.activation_code, pair_p, pair_q, first, pair_of, rest_of, output_rows(n_points, orders))


@njit(cache=True, error_model="numpy")
def _network_covariance(key0, key1, a, N, sigma_b, sigma_w, x, activation, pair_p, pair_q):
    """C(x_p, x_q) of network ``a`` for each pair (tests)."""
    n_points, d_in = x.shape
    n_pairs = pair_p.shape[0]
    buf = np.empty((d_in + 2 + n_points, NEURON_BATCH))
    lanes = np.empty((n_pairs, NEURON_BATCH))
    s = np.empty(n_pairs)
    pair_sums(key0, key1, a, N, sigma_b, sigma_w, x, log_norm_of(sigma_b, sigma_w, x), activation, pair_p, pair_q,
               buf, lanes, s)
    return sigma_b * sigma_b + sigma_w * sigma_w / N * s


def network_covariances(key, model, nets) -> np.ndarray:
    """C(x_p, x_q) = σ_b² + (σ_W²/N) Σ_j φ_j(x_p) φ_j(x_q) of the networks ``nets`` of the bag keyed ``key`` of a
    conditional ``model``, for the pairs p <= q in the order of ``combos.multisets(n_points, 2)``:
    float64[len(nets), n_pairs] (for tests and checks)."""
    pair_p, pair_q = wick_tables(len(model.points), 2)[:2]
    return np.stack([_network_covariance(np.uint64(key[0]), np.uint64(key[1]), int(a), model.N, model.sigma_b,
                                         model.sigma_w, model.x, model.activation_code, pair_p, pair_q) for a in nets])
