"""Numba kernels: sample GaussNet ensembles and accumulate their correlators.

Model (SCIENCE.md §1, d_in = d_out = 1):
    f(x) = sum_j W1_j g_j(x) + b1,   g_j(x) = exp(W0_j x + b0_j) / sqrt(exp[2(sigma_b^2 + sigma_w^2 x^2)])
    W0 ~ N(0, sigma_w^2), W1 ~ N(0, sigma_w^2 / N), b0, b1 ~ N(0, sigma_b^2).

Estimator (SCIENCE.md §2): G_exp^(n)(x_1..x_n) = (1/n_nets) sum_alpha f_alpha(x_1)...f_alpha(x_n).

Random stream layout (version ``nnqft.STREAM_VERSION`` = 1):
- network ``a`` of a bag with key (k0, k1) owns a SplitMix64 sequence started at
  ``mix64(k0 ^ mix64(k1 + a))``; each 64-bit output gives a 53-bit uniform;
- normals come from Box-Muller on consecutive uniform pairs (cos branch first, sin branch second);
- per network the normals are consumed in the order b1, then (W0_j, b0_j, W1_j) for j = 0..N-1.
A network's draws depend only on the bag key and its index, so results are independent of the
block size, the number of threads and the job layout. Weights are never stored: each network is
generated, evaluated and reduced in registers.

Sums are reduced per fixed chunk of ``CHUNK`` networks, then over chunks in a fixed order, so the
floating-point result is bit-identical for any number of threads.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, uint64

#: Networks per reduction chunk. Part of the result's bit pattern: do not change casually.
CHUNK = 512

_GAMMA = uint64(0x9E3779B97F4A7C15)
_M1 = uint64(0xBF58476D1CE4E5B9)
_M2 = uint64(0x94D049BB133111EB)
_TWO_PI = 2.0 * np.pi
_INV_2_53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mixer."""
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(cache=True, inline="always")
def _normal_pair(s):
    """Advance the SplitMix64 state twice; return two independent N(0, 1) draws (Box-Muller)."""
    s = s + _GAMMA
    u = (float(mix64(s) >> uint64(11)) + 1.0) * _INV_2_53  # (0, 1]
    s = s + _GAMMA
    v = float(mix64(s) >> uint64(11)) * _INV_2_53  # [0, 1)
    r = np.sqrt(-2.0 * np.log(u))
    t = _TWO_PI * v
    return r * np.cos(t), r * np.sin(t), s


@njit(cache=True, inline="always")
def network_state(key0, key1, a):
    """Initial SplitMix64 state of network ``a`` of the bag keyed (key0, key1)."""
    return mix64(key0 ^ mix64(key1 + uint64(a)))


@njit(cache=True)
def network_outputs(key0, key1, a, N, sigma_b, sigma_w, x, out):
    """f_a(x_i) for network ``a`` of a bag, written into ``out`` (the reference for the fused kernel)."""
    _eval_network(key0, key1, a, N, sigma_b, sigma_w, x, _log_norm(sigma_b, sigma_w, x), out)


@njit(cache=True)
def _log_norm(sigma_b, sigma_w, x):
    # log sqrt(exp[2(sigma_b^2 + sigma_w^2 x^2 / d_in)]) with d_in = 1
    return sigma_b * sigma_b + sigma_w * sigma_w * x * x


@njit(cache=True, inline="always")
def _eval_network(key0, key1, a, N, sigma_b, sigma_w, x, log_norm, h):
    n_points = x.shape[0]
    sigma_w1 = sigma_w / np.sqrt(N)
    s = network_state(key0, key1, a)
    z0, z1, s = _normal_pair(s)
    b1 = sigma_b * z0
    spare, have_spare = z1, True
    for i in range(n_points):
        h[i] = 0.0
    for _ in range(N):
        # three normals per neuron, from pairs, keeping the odd one for the next neuron
        if have_spare:
            w0 = spare
            b0, w1, s = _normal_pair(s)
            have_spare = False
        else:
            w0, b0, s = _normal_pair(s)
            w1, spare, s = _normal_pair(s)
            have_spare = True
        w0 *= sigma_w
        b0 *= sigma_b
        w1 *= sigma_w1
        for i in range(n_points):
            h[i] += w1 * np.exp(w0 * x[i] + b0 - log_norm[i])
    for i in range(n_points):
        h[i] += b1


@njit(cache=True, parallel=True)
def bag_chunk_sums(key0, key1, n_nets, N, sigma_b, sigma_w, x, parent, last, out_nodes):
    """Per-chunk sums of the monomials ``out_nodes`` over the networks of one bag.

    Returns float64[n_chunks, n_out]; ``sum(axis=0) / n_nets`` gives G_exp^(n) (SCIENCE.md §2).
    ``parent``/``last``/``out_nodes`` come from :func:`nnqft.combos.product_tree`.
    """
    n_points = x.shape[0]
    n_nodes = parent.shape[0]
    n_out = out_nodes.shape[0]
    n_chunks = (n_nets + CHUNK - 1) // CHUNK
    log_norm = _log_norm(sigma_b, sigma_w, x)
    partial = np.zeros((n_chunks, n_out))
    for c in prange(n_chunks):
        prod = np.empty(n_nodes)
        acc = np.zeros(n_out)
        for a in range(c * CHUNK, min(n_nets, (c + 1) * CHUNK)):
            _eval_network(key0, key1, a, N, sigma_b, sigma_w, x, log_norm, prod)  # nodes 0..P-1: f(x_i)
            for m in range(n_points, n_nodes):
                prod[m] = prod[parent[m]] * prod[last[m]]
            for o in range(n_out):
                acc[o] += prod[out_nodes[o]]
        for o in range(n_out):
            partial[c, o] = acc[o]
    return partial
