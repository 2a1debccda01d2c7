"""Numba kernels: sample networks and accumulate their correlators, on the CPU.

Model (docs/science.md §1 and §8, d_out = 1, any d_in; :class:`nnqft.model.Model`):
    f(x) = sum_j W1_j phi(z_j(x)) + b1,   z_j(x) = W0_j . x + b0_j,
    W0_j ~ N(0, sigma_w^2 / d_in I), W1 ~ N(0, sigma_w^2 / N), b0, b1 ~ N(0, sigma_b^2),
    phi: GaussNet exp(z) / exp(sigma_b^2 + sigma_w^2 |x|^2 / d_in), ReLU max(z, 0), Erf erf(z), linear z.
Networks of more than one hidden layer: nnqft.sampling.deep.

Estimator (docs/science.md §2): G_exp^(n)(x_1..x_n) = (1/n_nets) sum_alpha f_alpha(x_1)...f_alpha(x_n).

Per network the normals of its stream (:mod:`nnqft.sampling.streams`) are consumed in the order b1, then
(W0_j[0..d_in-1], b0_j, W1_j) for j = 0..N-1 (at d_in = 1 the layout of the first version, so its numbers are
unchanged). A network's draws depend only on the bag key and its index, so results are independent of the
block size, the number of threads and the job layout. Weights are never stored: each network is
generated, evaluated and reduced in registers.

Sums are reduced per fixed chunk of ``CHUNK`` networks, then over chunks in a fixed order, so the
floating-point result is bit-identical for any number of threads. The public entry points take a
:class:`nnqft.model.Model`; the compiled functions behind them (underscored) take its fields.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import kernel_cache  # noqa: F401  (numba's cache folder, named before the first cache=True decorator)
from .blocks import (CHUNK, LANES, NEURON_BATCH, activations, close_product_lanes, dot_products, lane_totals,
                     log_norm_of, parallel_and_serial)
from .streams import network_state, normal


@njit(cache=True, error_model="numpy")
def _network_outputs(key0, key1, a, N, sigma_b, sigma_w, x, activation, out):
    """f_a(x_i) for network ``a`` of a bag, written into ``out`` (the reference for the fused kernel)."""
    _eval_network(key0, key1, a, N, sigma_b, sigma_w, x, log_norm_of(sigma_b, sigma_w, x), activation, out,
                  np.empty((x.shape[1] + 4, NEURON_BATCH)))


def network_outputs(key, model, nets) -> np.ndarray:
    """f_a(x_i) for the networks ``nets`` of the bag keyed ``key`` (nnqft.sampling.streams.bag_key) of ``model``:
    float64[len(nets), n_points] (for tests and checks)."""
    x = model.x
    out = np.empty((len(nets), len(x)))
    for r, a in enumerate(nets):
        _network_outputs(np.uint64(key[0]), np.uint64(key[1]), int(a), model.N, model.sigma_b, model.sigma_w, x,
                         model.activation_code, out[r])
    return out


@njit(cache=True, inline="always")
def _eval_network(key0, key1, a, N, sigma_b, sigma_w, x, log_norm, activation, h, buf):
    """f_a(x_i) into h[:n_points]; h[i] accumulates W1_j phi(z_j(x_i)) in the order j = 0..N-1.

    ``buf`` is scratch of shape (d_in + 4, NEURON_BATCH): W0 by component, b0, W1, the terms and z.
    """
    n_points, d_in = x.shape
    sigma_w0 = sigma_w / np.sqrt(d_in)  # exactly sigma_w at d_in = 1
    sigma_w1 = sigma_w / np.sqrt(N)
    b0, w1, term, pre = buf[d_in], buf[d_in + 1], buf[d_in + 2], buf[d_in + 3]
    s = network_state(key0, key1, a)
    s, b1 = normal(s)
    b1 *= sigma_b
    for i in range(n_points):
        h[i] = 0.0
    for j0 in range(0, N, NEURON_BATCH):
        m = min(NEURON_BATCH, N - j0)
        if d_in == 1:  # the common case, without the loop over components (measured 5-10% faster)
            for k in range(m):
                s, z0 = normal(s)
                s, z1 = normal(s)
                s, z2 = normal(s)
                buf[0, k] = sigma_w0 * z0
                b0[k] = sigma_b * z1
                w1[k] = sigma_w1 * z2
        else:
            for k in range(m):
                for c in range(d_in):
                    s, z0 = normal(s)
                    buf[c, k] = sigma_w0 * z0
                s, z1 = normal(s)
                s, z2 = normal(s)
                b0[k] = sigma_b * z1
                w1[k] = sigma_w1 * z2
        for i in range(n_points):
            # z = W0.x + b0 = wx[k] * xi + b0[k]: at d_in = 1, wx is W0 itself and xi the point (the first
            # version's arithmetic, fused into activations); at d_in > 1, wx = W0.x and xi = 1.
            wx, xi = buf[0], x[i, 0]
            if d_in > 1:
                dot_products(buf, x, i, m, pre)
                wx, xi = pre, 1.0
            activations(activation, wx, xi, b0, log_norm[i], w1, m, term)
            acc = h[i]
            for k in range(m):
                acc += term[k]
            h[i] = acc
    for i in range(n_points):
        h[i] += b1


@njit(cache=True, error_model="numpy")
def _chunk_sums(c, key0, key1, n_nets, N, sigma_b, sigma_w, x, activation, log_norm, parent, last, out_nodes,
                partial):
    """Sums of the monomials over the networks of chunk ``c``, into ``partial[c]``.

    Network ``a`` is added to lane ``a % LANES`` and the lanes are summed in order at the end, so the
    result depends on CHUNK and LANES but not on which thread computes the chunk.
    """
    n_points = x.shape[0]
    n_nodes = parent.shape[0]
    n_out = out_nodes.shape[0]
    h = np.empty(n_points)
    buf = np.empty((x.shape[1] + 4, NEURON_BATCH))
    prod = np.zeros((n_nodes, LANES))  # monomials of LANES networks; empty lanes stay 0
    acc = np.zeros((n_out, LANES))
    stop = min(n_nets, (c + 1) * CHUNK)
    for a0 in range(c * CHUNK, stop, LANES):
        n_lanes = min(LANES, stop - a0)
        for lane in range(n_lanes):
            _eval_network(key0, key1, a0 + lane, N, sigma_b, sigma_w, x, log_norm, activation, h, buf)
            for i in range(n_points):
                prod[i, lane] = h[i]
        close_product_lanes(prod, n_lanes, n_points, parent, last, acc, out_nodes)
    lane_totals(acc, partial, c)


def _bag_chunk_sums(key0, key1, n_nets, N, sigma_b, sigma_w, x, activation, parent, last, out_nodes):
    """Per-chunk sums of the monomials ``out_nodes`` over the networks of one bag: float64[n_chunks, n_out];
    ``sum(axis=0) / n_nets`` gives G_exp^(n) (docs/science.md §2). ``parent``/``last``/``out_nodes`` come from
    :func:`nnqft.combos.product_tree`."""
    n_chunks = (n_nets + CHUNK - 1) // CHUNK
    log_norm = log_norm_of(sigma_b, sigma_w, x)
    partial = np.zeros((n_chunks, out_nodes.shape[0]))
    for c in prange(n_chunks):
        _chunk_sums(np.int64(c), key0, key1, n_nets, N, sigma_b, sigma_w, x, activation, log_norm, parent, last,
                    out_nodes, partial)
    return partial


_bag_chunk_sums, _bag_chunk_sums_serial = parallel_and_serial(_bag_chunk_sums)


def chunk_sums(key, model, tree, threads=None) -> np.ndarray:
    """Per-chunk sums over the networks of the bag keyed ``key`` of ``model`` of the monomials of ``tree``
    (nnqft.combos.product_tree): float64[n_chunks, n_out]. ``threads=1`` runs the serial version, otherwise
    numba's current thread count is used; the bits are the same."""
    sums = _bag_chunk_sums_serial if threads == 1 else _bag_chunk_sums
    return sums(np.uint64(key[0]), np.uint64(key[1]), model.n_nets, model.N, model.sigma_b, model.sigma_w, model.x,
                model.activation_code, *tree)
