"""Networks of L > 1 hidden layers of width N, sampled layer by layer from conditional Gaussians (docs/science.md §10).

Given layer ℓ's activations A_ja = φ(z^(ℓ)_j(x_a)) at the P points, the next layer's pre-activations
z^(ℓ+1)_i = b_i + Σ_j W_ij A_j are i.i.d. over i and exactly Gaussian, with the P × P covariance

    Ĝ^(ℓ+1)_ab = σ_b² + (σ_W² / N) Σ_j A_ja A_jb.

So a layer costs N·P normals and O(N·P²) arithmetic instead of the N² normals of its weight matrix, and is exact in
distribution. Ĝ is factored as R Rᵀ by a pivoted Cholesky decomposition (:func:`pivoted_cholesky`) that stops at
the numerical rank: close points (0.004 apart in the papers) make Ĝ nearly singular, and a plain Cholesky would take
square roots of round-off. The output f = z^(L+1) given layer L is Gaussian with covariance Ĝ^(L+1): the plain
estimator draws it (P normals), the conditional estimator (docs/science.md §9) takes its Wick sums.

The stream of network ``a`` (:func:`nnqft.sampling.streams.network_state` of the bag key, which has a word for the
depth): the first layer as the conditional kernel draws it (per neuron W0_j[0..d_in-1], b0_j), then per layer
ℓ = 2..L and neuron i the P normals ξ of z_i = R ξ, then (plain estimator) the P normals of the output. GaussNet's
φ at layer ℓ is exp(z − K^(ℓ)(x, x)) with the infinite-width variance: K^(1)(x, x) = σ_b² + σ_W² |x|² / d_in, and
σ_b² + σ_W² at every later layer. Reductions run in the fixed orders of :mod:`nnqft.sampling.conditional`, so the
bits do not depend on the thread count.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import combos
from . import kernel_cache  # noqa: F401  (numba's cache folder, named before the first cache=True decorator)
from .blocks import (CHUNK, LANES, NEURON_BATCH, accumulate_pairs, activations, close_product_lanes, close_wick_lanes,
                     draw_batch, lane_totals, log_norm_of, pair_sums, pair_totals, parallel_and_serial, zero_rows)
from .conditional import output_rows, wick_tables
from .streams import normal

#: Pivots below this fraction of the largest variance end the factorisation (:func:`pivoted_cholesky`): the
#: directions dropped carry less than 1e-13 of the variance, far below any statistical resolution.
RANK_RTOL = 1e-13


@njit(cache=True, inline="always")
def pivoted_cholesky(cov, R, resid, used, rtol):
    """R[:, :rank] with R Rᵀ = cov up to the residual variances left below ``rtol`` x the largest, by the diagonally
    pivoted Cholesky decomposition (outer-product form; rows in the original order). Returns the rank. Negative
    round-off in the Schur complement is never square-rooted: it is below the threshold."""
    n = cov.shape[0]
    top = 0.0
    for a in range(n):
        resid[a] = cov[a, a]
        used[a] = False
        top = max(top, cov[a, a])
    rank = 0
    for k in range(n):
        pivot, best = -1, rtol * top
        for a in range(n):
            if not used[a] and resid[a] > best:
                pivot, best = a, resid[a]
        if pivot < 0:
            break
        used[pivot] = True
        d = np.sqrt(resid[pivot])
        for a in range(n):
            if used[a]:
                R[a, k] = d if a == pivot else 0.0
            else:
                v = cov[a, pivot]
                for c in range(k):
                    v -= R[a, c] * R[pivot, c]
                R[a, k] = v / d
                resid[a] -= R[a, k] * R[a, k]
        rank += 1
    return rank


@njit(cache=True, inline="always")
def _covariance(s, pair_p, pair_q, sb2, scale, cov):
    """cov_pq = σ_b² + (σ_W²/N) s_r for each pair r = (p, q), both triangles."""
    for r in range(pair_p.shape[0]):
        p, q = pair_p[r], pair_q[r]
        cov[p, q] = sb2 + scale * s[r]
        cov[q, p] = cov[p, q]


@njit(cache=True, inline="always")
def _next_layer(st, N, rank, R, norms, activation, pair_p, pair_q, xi, phi, lanes, ones, zeros, s):
    """Draw the N neurons of the next layer from z_i = R ξ_i (P normals each) and return the stream state; their
    sums s_r = Σ_i φ(z_i(x_p)) φ(z_i(x_q)) over each pair, neurons in batches of NEURON_BATCH with one partial
    sum per batch position (as nnqft.sampling.blocks.pair_sums)."""
    n_points = R.shape[0]
    n_pairs = pair_p.shape[0]
    zero_rows(lanes, n_pairs)
    for j0 in range(0, N, NEURON_BATCH):
        m = min(NEURON_BATCH, N - j0)
        st = draw_batch(st, xi, n_points, m, 1.0, 1.0)  # ξ_k (a product with 1.0 is exact)
        for i in range(n_points):
            row = phi[i]
            for k in range(NEURON_BATCH):
                row[k] = 0.0
            for c in range(rank):
                coef = R[i, c]
                for k in range(m):
                    row[k] += coef * xi[c, k]
            activations(activation, row, 1.0, zeros, norms[i], ones, m, row)
            for k in range(m, NEURON_BATCH):
                row[k] = 0.0
        accumulate_pairs(lanes, phi, 0, pair_p, pair_q)
    pair_totals(lanes, s)
    return st


@njit(cache=True, inline="always")
def _output_covariance(key0, key1, a, N, depth, sigma_b, sigma_w, x, norms, activation, pair_p, pair_q, cov, work):
    """Ĝ^(L+1) of network ``a`` into ``cov`` (P × P); returns the stream state after its hidden layers. ``work``:
    the scratch of :func:`_scratch`."""
    buf, lanes, s, R, resid, used, xi, phi, ones, zeros = work
    sb2, scale = sigma_b * sigma_b, sigma_w * sigma_w / N
    st = pair_sums(key0, key1, a, N, sigma_b, sigma_w, x, norms[0], activation, pair_p, pair_q, buf, lanes, s)
    for layer in range(1, depth):
        _covariance(s, pair_p, pair_q, sb2, scale, cov)
        rank = pivoted_cholesky(cov, R, resid, used, RANK_RTOL)
        st = _next_layer(st, N, rank, R, norms[layer], activation, pair_p, pair_q, xi, phi, lanes, ones, zeros, s)
    _covariance(s, pair_p, pair_q, sb2, scale, cov)
    return st


@njit(cache=True, inline="always")
def _scratch(n_points, d_in, n_pairs):
    ones = np.ones(NEURON_BATCH)
    return (np.empty((d_in + 2 + n_points, NEURON_BATCH)), np.empty((n_pairs, NEURON_BATCH)), np.empty(n_pairs),
            np.zeros((n_points, n_points)), np.empty(n_points), np.zeros(n_points, dtype=np.bool_),
            np.empty((n_points, NEURON_BATCH)), np.empty((n_points, NEURON_BATCH)), ones, np.zeros(NEURON_BATCH))


@njit(cache=True, inline="always")
def _draw_output(st, cov, work, f):
    """f = R ξ with R Rᵀ = cov (P normals ξ): the output at the P points given the last hidden layer."""
    R, resid, used, xi = work[3], work[4], work[5], work[6]
    n_points = cov.shape[0]
    rank = pivoted_cholesky(cov, R, resid, used, RANK_RTOL)
    for c in range(n_points):
        st, z = normal(st)
        xi[c, 0] = z
    for i in range(n_points):
        total = 0.0
        for c in range(rank):
            total += R[i, c] * xi[c, 0]
        f[i] = total
    return st


@njit(cache=True, error_model="numpy")
def _plain_chunk(c, key0, key1, n_nets, N, depth, sigma_b, sigma_w, x, activation, norms, pair_p, pair_q, parent, last,
                 out_nodes, partial):
    """Sums over the networks of chunk ``c`` of the monomials ``out_nodes`` of f, into ``partial[c]`` (plain
    estimator; lanes as in :func:`nnqft.sampling.kernel._chunk_sums`)."""
    n_points, d_in = x.shape
    work = _scratch(n_points, d_in, pair_p.shape[0])
    cov = np.zeros((n_points, n_points))
    f = np.empty(n_points)
    prod = np.zeros((parent.shape[0], LANES))
    acc = np.zeros((out_nodes.shape[0], LANES))
    stop = min(n_nets, (c + 1) * CHUNK)
    for a0 in range(c * CHUNK, stop, LANES):
        n_lanes = min(LANES, stop - a0)
        for lane in range(n_lanes):
            st = _output_covariance(key0, key1, a0 + lane, N, depth, sigma_b, sigma_w, x, norms, activation,
                                    pair_p, pair_q, cov, work)
            _draw_output(st, cov, work, f)
            for i in range(n_points):
                prod[i, lane] = f[i]
        close_product_lanes(prod, n_lanes, n_points, parent, last, acc, out_nodes)
    lane_totals(acc, partial, c)


def _plain_sums(key0, key1, n_nets, N, depth, sigma_b, sigma_w, x, activation, norms, pair_p, pair_q, parent, last,
                out_nodes):
    """Per-chunk sums over the networks of one bag of the monomials ``out_nodes`` of f (plain estimator)."""
    n_chunks = (n_nets + CHUNK - 1) // CHUNK
    partial = np.zeros((n_chunks, out_nodes.shape[0]))
    for c in prange(n_chunks):
        _plain_chunk(np.int64(c), key0, key1, n_nets, N, depth, sigma_b, sigma_w, x, activation, norms, pair_p,
                     pair_q, parent, last, out_nodes, partial)
    return partial


@njit(cache=True, error_model="numpy")
def _conditional_chunk(c, key0, key1, n_nets, N, depth, sigma_b, sigma_w, x, activation, norms, pair_p, pair_q, first,
                       pair_of, rest_of, out_rows, partial):
    """Sums over the networks of chunk ``c`` of the Wick sums ``out_rows`` of Ĝ^(L+1), into ``partial[c]``
    (conditional estimator)."""
    n_points, d_in = x.shape
    n_pairs = pair_p.shape[0]
    work = _scratch(n_points, d_in, n_pairs)
    cov = np.zeros((n_points, n_points))
    w = np.zeros((first.shape[0] - 1, LANES))
    acc = np.zeros((out_rows.shape[0], LANES))
    stop = min(n_nets, (c + 1) * CHUNK)
    for a0 in range(c * CHUNK, stop, LANES):
        n_lanes = min(LANES, stop - a0)
        for lane in range(n_lanes):
            _output_covariance(key0, key1, a0 + lane, N, depth, sigma_b, sigma_w, x, norms, activation, pair_p,
                               pair_q, cov, work)
            for r in range(n_pairs):
                w[r, lane] = cov[pair_p[r], pair_q[r]]
        close_wick_lanes(w, n_lanes, n_pairs, first, pair_of, rest_of, acc, out_rows)
    lane_totals(acc, partial, c)


def _conditional_sums(key0, key1, n_nets, N, depth, sigma_b, sigma_w, x, activation, norms, pair_p, pair_q, first,
                      pair_of, rest_of, out_rows):
    """Per-chunk sums over the networks of one bag of the Wick sums of Ĝ^(L+1) (conditional estimator)."""
    n_chunks = (n_nets + CHUNK - 1) // CHUNK
    partial = np.zeros((n_chunks, out_rows.shape[0]))
    for c in prange(n_chunks):
        _conditional_chunk(np.int64(c), key0, key1, n_nets, N, depth, sigma_b, sigma_w, x, activation, norms, pair_p,
                           pair_q, first, pair_of, rest_of, out_rows, partial)
    return partial


_plain_sums, _plain_sums_serial = parallel_and_serial(_plain_sums)
_conditional_sums, _conditional_sums_serial = parallel_and_serial(_conditional_sums)


def layer_norms(model) -> np.ndarray:
    """GaussNet's normalisation exponent K^(ℓ)(x_a, x_a) per layer ℓ = 1..L and point: float64[L, P] (the other
    activations ignore it)."""
    norms = np.empty((model.depth, len(model.points)))
    norms[0] = log_norm_of(model.sigma_b, model.sigma_w, model.x)
    norms[1:] = model.sigma_b**2 + model.sigma_w**2
    return norms


def _fields(model):
    return (model.n_nets, model.N, model.depth, model.sigma_b, model.sigma_w, model.x, model.activation_code,
            layer_norms(model))


def chunk_sums(key, model, orders, threads=None) -> np.ndarray:
    """Per-chunk sums over the networks of the bag keyed ``key`` of a ``model`` of depth > 1 of its estimator of
    every combination of :func:`nnqft.combos.output_combos` at ``orders``: float64[n_chunks, n_out]; ``threads``
    as in :func:`nnqft.sampling.kernel.chunk_sums`."""
    n_points = len(model.points)
    pair_p, pair_q, first, pair_of, rest_of, _ = wick_tables(n_points, max(orders))
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    if model.estimator == "conditional":
        sums = _conditional_sums_serial if threads == 1 else _conditional_sums
        return sums(k0, k1, *_fields(model), pair_p, pair_q, first, pair_of, rest_of, output_rows(n_points, orders))
    sums = _plain_sums_serial if threads == 1 else _plain_sums
    return sums(k0, k1, *_fields(model), pair_p, pair_q, *combos.product_tree(n_points, list(orders)))


@njit(cache=True, error_model="numpy")
def _last_layer(key0, key1, nets, N, depth, sigma_b, sigma_w, x, activation, norms, pair_p, pair_q, d_out):
    """Per network of ``nets``: Ĝ^(L+1) of its last hidden layer, float64[len(nets), P, P], and ``d_out`` outputs drawn
    given it as the plain sampler draws its one output, float64[len(nets), P, d_out] (none for d_out = 0)."""
    n_points, d_in = x.shape
    work = _scratch(n_points, d_in, pair_p.shape[0])
    covs = np.empty((nets.shape[0], n_points, n_points))
    outs = np.empty((nets.shape[0], n_points, d_out))
    f = np.empty(n_points)
    for r in range(nets.shape[0]):
        st = _output_covariance(key0, key1, nets[r], N, depth, sigma_b, sigma_w, x, norms, activation, pair_p, pair_q,
                                covs[r], work)
        for o in range(d_out):
            st = _draw_output(st, covs[r], work, f)
            outs[r, :, o] = f
    return covs, outs


def _last_layers(key, model, nets, d_out: int):
    pair_p, pair_q = wick_tables(len(model.points), 2)[:2]
    _, N, depth, sb, sw, x, act, norms = _fields(model)
    return _last_layer(np.uint64(key[0]), np.uint64(key[1]), np.asarray(nets, dtype=np.int64), N, depth, sb, sw, x, act,
                       norms, pair_p, pair_q, int(d_out))


def output_covariances(key, model, nets) -> np.ndarray:
    """Ĝ^(L+1) of the networks ``nets`` of the bag keyed ``key``: float64[len(nets), P, P] (tests and checks)."""
    return _last_layers(key, model, nets, 0)[0]


def network_outputs(key, model, nets, d_out: int) -> np.ndarray:
    """The outputs f_o(x_p) of the networks ``nets`` of the bag keyed ``key`` of a deep ``model`` with ``d_out``
    outputs: float64[len(nets), P, d_out] (docs/science.md §12). Given its last hidden layer a network's outputs are
    independent Gaussians of covariance Ĝ^(L+1), drawn as the plain sampler draws its one output (f = R ξ): output 0
    is the plain sampler's network of the same stream, the further outputs take the next P normals each, so they
    share its hidden layers only."""
    return _last_layers(key, model, nets, d_out)[1]


@njit(cache=True)
def _factor(cov, rtol):
    n = cov.shape[0]
    R = np.zeros((n, n))
    rank = pivoted_cholesky(cov, R, np.empty(n), np.zeros(n, dtype=np.bool_), rtol)
    return R[:, :rank]


def factor(cov, rtol: float = RANK_RTOL) -> np.ndarray:
    """The kernel's factor R (P × rank) of a PSD matrix, R Rᵀ ≈ cov (:func:`pivoted_cholesky`; tests)."""
    return _factor(np.ascontiguousarray(cov, dtype=np.float64), float(rtol))
