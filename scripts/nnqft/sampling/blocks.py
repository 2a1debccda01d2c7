"""The building blocks the CPU kernels share (:mod:`nnqft.sampling.kernel`, :mod:`nnqft.sampling.conditional`,
:mod:`nnqft.sampling.deep`): the batch, lane and chunk sizes that fix the reduction order, the activations, the
product tree and the Wick sums lane by lane, the first layer's pair sums, and the two compiled versions (parallel,
serial) of one kernel body. Each is a small compiled function inlined into the kernels (``inline="always"``), so
sharing them costs nothing at run time; their loop orders are part of the results' bits.
"""
from __future__ import annotations

import math
import types

import numpy as np
from numba import njit

from ..model import ACTIVATIONS
from . import kernel_cache  # noqa: F401  (numba's cache folder, named before the first cache=True decorator)
from .fastmath import fast_erf, fast_exp
from .streams import network_state, normal

#: Networks per reduction chunk. Part of the result's bit pattern: do not change casually.
CHUNK = 512

#: The kernels' activation codes, from the one table nnqft.model.ACTIVATIONS.
GAUSS, RELU, ERF, LINEAR = ACTIVATIONS["gauss"], ACTIVATIONS["relu"], ACTIVATIONS["erf"], ACTIVATIONS["linear"]

#: Neurons drawn per batch: their activations at one point are one vectorised loop.
NEURON_BATCH = 16


@njit(cache=True)
def log_norm_of(sigma_b, sigma_w, x):
    """log sqrt(exp[2(sigma_b^2 + sigma_w^2 |x|^2 / d_in)]), the GaussNet normalisation, per point."""
    n_points, d_in = x.shape
    out = np.empty(n_points)
    for i in range(n_points):
        if d_in == 1:  # the first version's expression, so that its numbers are unchanged
            out[i] = sigma_b * sigma_b + sigma_w * sigma_w * x[i, 0] * x[i, 0]
        else:
            r2 = 0.0
            for c in range(d_in):
                r2 += x[i, c] * x[i, c]
            out[i] = sigma_b * sigma_b + sigma_w * sigma_w * r2 / d_in
    return out


@njit(cache=True, inline="always")
def dot_products(buf, x, i, m, out):
    """out[k] = W0_k . x_i for the m neurons whose W0 components are the rows buf[0..d_in-1] (d_in > 1)."""
    for k in range(m):
        out[k] = buf[0, k] * x[i, 0]
    for c in range(1, x.shape[1]):
        xc = x[i, c]
        for k in range(m):
            out[k] += buf[c, k] * xc


@njit(cache=True, inline="always", error_model="numpy")
def activations(activation, wx, xi, b0, log_norm, weight, m, out):
    """out[k] = weight[k] φ(wx[k] xi + b0[k]) for k < m: GaussNet (normalised by exp(log_norm)), ReLU, Erf or linear.
    Vectorised loops, no reduction in them; ``out`` may be ``wx`` (each element is read before it is written)."""
    if activation == GAUSS:
        for k in range(m):
            out[k] = weight[k] * fast_exp(wx[k] * xi + b0[k] - log_norm)
    elif activation == RELU:
        for k in range(m):
            out[k] = weight[k] * max(wx[k] * xi + b0[k], 0.0)
    elif activation == LINEAR:
        for k in range(m):
            out[k] = weight[k] * (wx[k] * xi + b0[k])
    else:
        for k in range(m):
            out[k] = weight[k] * fast_erf(wx[k] * xi + b0[k])


#: erf'(z) = (2/√π) exp(−z²).
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


@njit(cache=True, inline="always", error_model="numpy")
def preactivations(theta, N, d_in, sigma_b, sigma_w, x, z):
    """z_j = σ_W w_j·x/√d_in + σ_b b_j at the point ``x`` for every neuron j, into ``z``, from θ = [w (N × d_in, by
    neuron), b (N), v (N), c] (docs/science.md §11): vector loops over the neurons, for the trained networks' kernels
    (nnqft.sampling.training, nnqft.sampling.kinks)."""
    nd = N * d_in
    for j in range(N):
        z[j] = sigma_b * theta[nd + j]
    for k in range(d_in):
        xk = sigma_w / math.sqrt(d_in) * x[k]
        for j in range(N):
            z[j] += theta[j * d_in + k] * xk


@njit(cache=True, inline="always", error_model="numpy")
def activations_and_slopes(activation, shift, n, phi, dphi):
    """φ(z) and φ'(z) of the pre-activations z = phi[k], k < n, in place: φ into ``phi``, φ' into ``dphi`` (GaussNet's
    φ(z) = exp(z − shift), its own derivative). Vectorised loops, for the trained networks' kernels
    (nnqft.sampling.training, nnqft.sampling.integrator)."""
    if activation == GAUSS:
        for k in range(n):
            phi[k] = fast_exp(phi[k] - shift)
            dphi[k] = phi[k]
    elif activation == RELU:
        for k in range(n):
            dphi[k] = 1.0 if phi[k] > 0.0 else 0.0
            phi[k] = max(phi[k], 0.0)
    elif activation == LINEAR:
        for k in range(n):
            dphi[k] = 1.0
    else:
        for k in range(n):
            z = phi[k]
            dphi[k] = TWO_OVER_SQRT_PI * fast_exp(-z * z)
            phi[k] = fast_erf(z)


#: Networks evaluated side by side: the correlator products run as vector loops over these lanes.
LANES = 16


@njit(cache=True, inline="always")
def accumulate_lanes(acc, values, rows):
    """acc[o, lane] += values[rows[o], lane]: the networks of the current LANES, added lane by lane."""
    for o in range(rows.shape[0]):
        node = rows[o]
        for lane in range(LANES):
            acc[o, lane] += values[node, lane]


@njit(cache=True, inline="always")
def products(prod, parent, last, n_points):
    """prod[m] = prod[parent[m]] * prod[last[m]] for the nodes m >= n_points of the product tree
    (nnqft.combos.product_tree), lane by lane: every monomial of the outputs in rows 0..n_points-1."""
    for m in range(n_points, parent.shape[0]):
        p, q = parent[m], last[m]
        for lane in range(LANES):
            prod[m, lane] = prod[p, lane] * prod[q, lane]


@njit(cache=True, inline="always")
def close_product_lanes(prod, n_lanes, n_points, parent, last, acc, out_nodes):
    """The outputs of ``n_lanes`` networks are in prod[:n_points, :n_lanes]: zero the empty lanes, form every
    monomial (:func:`products`) and add the requested ones to ``acc`` (:func:`accumulate_lanes`)."""
    for lane in range(n_lanes, LANES):
        for i in range(n_points):
            prod[i, lane] = 0.0
    products(prod, parent, last, n_points)
    accumulate_lanes(acc, prod, out_nodes)


@njit(cache=True, inline="always")
def lane_totals(acc, partial, c):
    """partial[c, o] = the sum of acc[o, :] over the lanes, in lane order (the chunk's fixed reduction order)."""
    for o in range(acc.shape[0]):
        total = 0.0
        for lane in range(LANES):
            total += acc[o, lane]
        partial[c, o] = total


@njit(cache=True, inline="always")
def zero_rows(rows, n):
    """rows[r, k] = 0 for r < n, every batch position k."""
    for r in range(n):
        for k in range(rows.shape[1]):
            rows[r, k] = 0.0


@njit(cache=True, inline="always")
def draw_batch(st, out, n_rows, m, scale, last_scale):
    """Draw m neurons from the stream ``st``, each n_rows normals in turn: out[c, k] = scale z for c < n_rows − 1,
    last_scale z for the last row. Returns the stream state."""
    for k in range(m):
        for c in range(n_rows):
            st, z = normal(st)
            out[c, k] = (scale if c < n_rows - 1 else last_scale) * z
    return st


@njit(cache=True, inline="always")
def pair_sums(key0, key1, a, N, sigma_b, sigma_w, x, log_norm, activation, pair_p, pair_q, buf, lanes, s):
    """s[r] = Σ_j φ_j(x_p) φ_j(x_q) of network ``a``, for each pair r = (pair_p[r], pair_q[r]).

    ``buf``: scratch (d_in + 2 + n_points, NEURON_BATCH) for W0 by component, b0, ones (the unit weights of
    :func:`activations`) and φ at each point; ``lanes``: scratch (n_pairs, NEURON_BATCH), one
    partial sum per batch position, added in order at the end. Returns the network's stream state after its first
    layer (:mod:`nnqft.sampling.deep` draws the next layers from it).
    """
    n_points, d_in = x.shape
    n_pairs = pair_p.shape[0]
    sigma_w0 = sigma_w / np.sqrt(d_in)
    b0, ones = buf[d_in], buf[d_in + 1]
    for k in range(NEURON_BATCH):
        ones[k] = 1.0
    st = network_state(key0, key1, a)
    zero_rows(lanes, n_pairs)
    for j0 in range(0, N, NEURON_BATCH):
        m = min(NEURON_BATCH, N - j0)
        st = draw_batch(st, buf, d_in + 1, m, sigma_w0, sigma_b)  # W0_k by component, then b0_k = buf[d_in, k]
        for i in range(n_points):
            phi = buf[d_in + 2 + i]
            wx, xi = buf[0], x[i, 0]  # as in nnqft.sampling.kernel._eval_network (d_in = 1: W0 itself)
            if d_in > 1:
                dot_products(buf, x, i, m, phi)  # W0.x_i into phi, then φ over it in place
                wx, xi = phi, 1.0
            activations(activation, wx, xi, b0, log_norm[i], ones, m, phi)
            for k in range(m, NEURON_BATCH):
                phi[k] = 0.0
        accumulate_pairs(lanes, buf, d_in + 2, pair_p, pair_q)
    pair_totals(lanes, s)
    return st


@njit(cache=True, inline="always")
def accumulate_pairs(lanes, rows, offset, pair_p, pair_q):
    """lanes[r, k] += φ_k(x_p) φ_k(x_q) for each pair r = (p, q), φ at point p in rows[offset + p] (one batch of
    neurons, one partial sum per batch position)."""
    for r in range(pair_p.shape[0]):
        p, q = offset + pair_p[r], offset + pair_q[r]
        for k in range(NEURON_BATCH):
            lanes[r, k] += rows[p, k] * rows[q, k]


@njit(cache=True, inline="always")
def pair_totals(lanes, s):
    """s[r] = the sum of lanes[r, :] in batch-position order (the neurons' fixed reduction order)."""
    for r in range(lanes.shape[0]):
        total = 0.0
        for k in range(NEURON_BATCH):
            total += lanes[r, k]
        s[r] = total


@njit(cache=True, inline="always")
def wick_sums(w, first, pair_of, rest_of, n_pairs):
    """The Wick sums of orders >= 4 (rows n_pairs.. of :func:`wick_tables`) from the covariances C in rows
    0..n_pairs-1, lane by lane, by the recursion over the first point's partner."""
    for node in range(n_pairs, first.shape[0] - 1):
        for lane in range(LANES):
            w[node, lane] = 0.0
        for e in range(first[node], first[node + 1]):
            pr, rs = pair_of[e], rest_of[e]
            for lane in range(LANES):
                w[node, lane] += w[pr, lane] * w[rs, lane]


@njit(cache=True, inline="always")
def close_wick_lanes(w, n_lanes, n_pairs, first, pair_of, rest_of, acc, out_rows):
    """The covariances of ``n_lanes`` networks are in w[:n_pairs, :n_lanes]: zero the empty lanes, form the Wick
    sums (:func:`wick_sums`) and add the requested rows to ``acc``."""
    for lane in range(n_lanes, LANES):
        for r in range(n_pairs):
            w[r, lane] = 0.0
    wick_sums(w, first, pair_of, rest_of, n_pairs)
    accumulate_lanes(acc, w, out_rows)


def function_copy(function, suffix: str = "", **names):
    """A copy of the Python ``function`` for numba to compile anew: renamed ``<name><suffix>`` (numba's cache names
    its files by the qualified name) and with the globals ``names`` replaced (the CUDA kernel swaps in the device
    versions of the helpers it calls)."""
    copy = types.FunctionType(function.__code__, {**function.__globals__, **names} if names else function.__globals__,
                              function.__name__ + suffix, function.__defaults__, function.__closure__)
    copy.__qualname__ = function.__qualname__ + suffix
    copy.__doc__ = function.__doc__
    return copy


def parallel_and_serial(body):
    """Two compiled versions of one kernel body whose loop over chunks is a ``prange``: chunks in parallel, and on
    one thread (the same bits: one-thread jobs skip the threading layer's start-up). numba's cache names its files
    by the function's qualified name, so the serial one compiles a copy of the function named ``<name>_serial``
    (tests/unit/sampling/test_kernel.py checks that the cache keeps the two apart).

    The body of one chunk is its own compiled function (not inlined), called by both with the chunk index as an
    int64 (a ``prange`` index is a uint64, a ``range`` one an int64): so it is compiled and cached once, for one
    signature, and serves both versions. Compiling the eight kernels of
    :mod:`nnqft.sampling.precompile` took 102 s of CPU with the body inlined into each and 46 s so (the same bits;
    the threaded kernels run as fast or faster)."""
    serial = function_copy(body, "_serial")
    return njit(cache=True, parallel=True, error_model="numpy")(body), njit(cache=True, error_model="numpy")(serial)
