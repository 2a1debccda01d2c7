"""Numba kernels: sample GaussNet ensembles and accumulate their correlators.

Model (docs/science.md §1 and §8, d_out = 1, any d_in):
    f(x) = sum_j W1_j phi(z_j(x)) + b1,   z_j(x) = W0_j . x + b0_j,
    W0_j ~ N(0, sigma_w^2 / d_in I), W1 ~ N(0, sigma_w^2 / N), b0, b1 ~ N(0, sigma_b^2),
    phi: GaussNet exp(z) / exp(sigma_b^2 + sigma_w^2 |x|^2 / d_in), ReLU max(z, 0), Erf erf(z).

Estimator (docs/science.md §2): G_exp^(n)(x_1..x_n) = (1/n_nets) sum_alpha f_alpha(x_1)...f_alpha(x_n).

Random stream layout (version ``nnqft.STREAM_VERSION`` = 1):
- network ``a`` of a bag with key (k0, k1) owns a SplitMix64 sequence started at
  ``mix64(k0 ^ mix64(k1 + a))`` (Steele, Lea, Flood 2014);
- normals come from the 256-layer ziggurat (Marsaglia & Tsang 2000) in numpy's legacy layout:
  one 64-bit output per draw on the fast path (99.3%), more on the rare slow path;
- per network the normals are consumed in the order b1, then (W0_j[0..d_in-1], b0_j, W1_j) for
  j = 0..N-1 (at d_in = 1 the layout of the first version, so its numbers are unchanged).
A network's draws depend only on the bag key and its index, so results are independent of the
block size, the number of threads and the job layout. Weights are never stored: each network is
generated, evaluated and reduced in registers.

Sums are reduced per fixed chunk of ``CHUNK`` networks, then over chunks in a fixed order, so the
floating-point result is bit-identical for any number of threads.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import int64, njit, prange, types, uint64
from numba.extending import intrinsic

#: Networks per reduction chunk. Part of the result's bit pattern: do not change casually.
CHUNK = 512

_GAMMA = uint64(0x9E3779B97F4A7C15)
_M1 = uint64(0xBF58476D1CE4E5B9)
_M2 = uint64(0x94D049BB133111EB)
_INV_2_53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mixer."""
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


def _ziggurat_tables():
    """Tables of the 256-layer normal ziggurat (Marsaglia & Tsang 2000, J. Stat. Softw. 5(8)),
    for 52-bit magnitudes, as in numpy's legacy generator: layer i covers x in [x_{i+1}, x_i]."""
    r, v = 3.6541528853610088, 0.00492867323399
    m = 2.0**52
    ki = np.zeros(256, dtype=np.uint64)
    wi = np.zeros(256)
    fi = np.zeros(256)
    dn = tn = r
    q = v / np.exp(-0.5 * dn * dn)
    ki[0] = np.uint64((dn / q) * m)
    ki[1] = 0
    wi[0], wi[255] = q / m, dn / m
    fi[0], fi[255] = 1.0, np.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = np.sqrt(-2.0 * np.log(v / dn + np.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64((dn / tn) * m)
        tn = dn
        fi[i] = np.exp(-0.5 * dn * dn)
        wi[i] = dn / m
    return ki, wi, fi


_ZIG_K, _ZIG_W, _ZIG_F = _ziggurat_tables()
_ZIG_R = 3.6541528853610088
_MASK52 = uint64((1 << 52) - 1)


@njit(cache=True, inline="always")
def _next(s):
    """Advance a SplitMix64 state; return (new state, 64 random bits)."""
    s = s + _GAMMA
    return s, mix64(s)


@njit(cache=True, inline="always")
def _uniform(s):
    """Advance the state; return (new state, uniform double in [0, 1) with 53 random bits)."""
    s, r = _next(s)
    return s, float(int64(r >> uint64(11))) * _INV_2_53


@njit(cache=True)
def _normal_tail(s, idx, x, negative):
    """Slow path of the ziggurat (about 0.7% of draws): the wedge test or the base-strip tail."""
    if idx == 0:
        while True:
            s, u1 = _uniform(s)
            s, u2 = _uniform(s)
            xx = -np.log1p(-u1) / _ZIG_R
            yy = -np.log1p(-u2)
            if yy + yy > xx * xx:
                z = _ZIG_R + xx
                return s, -z if negative else z
    s, u = _uniform(s)
    if (_ZIG_F[idx - 1] - _ZIG_F[idx]) * u + _ZIG_F[idx] < np.exp(-0.5 * x * x):
        return s, x
    return s, np.nan  # rejected: the caller draws again


@njit(cache=True, inline="always")
def _normal(s):
    """Advance the state; return (new state, one N(0, 1) draw) by the 256-layer ziggurat.

    Fast path: one 64-bit output gives the layer (8 bits), the sign (1 bit) and a 52-bit magnitude.
    """
    while True:
        s, r = _next(s)
        idx = int(r & uint64(0xFF))
        r = r >> uint64(8)
        negative = (r & uint64(1)) != uint64(0)
        rabs = (r >> uint64(1)) & _MASK52
        x = float(int64(rabs)) * _ZIG_W[idx]  # via int64: exact below 2^52, and a single instruction
        if negative:
            x = -x
        if rabs < _ZIG_K[idx]:
            return s, x
        s, z = _normal_tail(s, idx, x, negative)
        if not np.isnan(z):
            return s, z


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two (fdlibm): n * _LN2_HI is exact for |n| < 2^20
_LN2_LO = 1.90821492927058770002e-10
_EXP_MIN, _EXP_MAX = -708.0, 709.0


@intrinsic
def _bits_to_float(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (IEEE fused multiply-add, LLVM's llvm.fma): the same bits on every machine, and
    one vector instruction where the CPU has FMA (numba does not contract a * b + c into one by itself)."""
    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return types.float64(types.float64, types.float64, types.float64), codegen


@njit(cache=True, inline="always")
def fast_exp(x):
    """exp(x) in branch-free arithmetic, so that loops over points vectorise.

    x = n ln2 + r with |r| <= ln2/2 (Cody-Waite reduction), exp(r) by its Taylor series to r^13 (Estrin scheme)
    (truncation below 1e-17 relative), times 2^n built from the exponent bits. Arguments are clamped
    to [-708, 709]: below, the true value (< 3e-308) is replaced by 3e-308; above, exp overflows anyway.
    Relative error about 2e-16 (tested against numpy.exp).
    """
    return _exp_in_range(min(max(x, _EXP_MIN), _EXP_MAX))


@njit(cache=True, inline="always")
def _exp_in_range(x):
    """:func:`fast_exp` without the clamp, for arguments known to lie in [-708, 709]."""
    n = np.floor(x * _LOG2E + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    # Estrin's scheme: a short dependency chain, so that the vectorised loop is not latency-bound
    r2 = r * r
    r4 = r2 * r2
    s0 = (1.0 + r) + (1.0 / 2 + r * (1.0 / 6)) * r2
    s1 = (1.0 / 24 + r * (1.0 / 120)) + (1.0 / 720 + r * (1.0 / 5040)) * r2
    s2 = (1.0 / 40320 + r * (1.0 / 362880)) + (1.0 / 3628800 + r * (1.0 / 39916800)) * r2
    s3 = 1.0 / 479001600 + r * (1.0 / 6227020800)
    p = (s0 + s1 * r4) + (s2 + s3 * r4) * (r4 * r4)
    return p * _bits_to_float((int64(n) + 1023) << 52)


#: Activation codes of the kernels: positions in ``nnqft.neurons.ACTIVATIONS`` (tests/test_architectures.py).
GAUSS, RELU, ERF = 0, 1, 2

# fast_erf: for |x| >= 1, erf(x) = 1 - exp(-x^2 + h(v)), v = (|x| - 3.5) / 2.5 in [-1, 1] on |x| in [1, 6], where h
# is a degree-16 polynomial in v for log(erfcx(x)) = log(erfc(x)) + x^2. Its error only has to be small where erfc
# is not: it is the weighted minimax fit, minimising max |h - log erfcx| erfc(x) (the error it puts on erf), found
# by Lawson's iteration on 4000 points against scipy's erfcx (tests/test_architectures.py repeats the fit): 3.2e-16
# (a plain Chebyshev interpolant needs degree 22 for that). For |x| < 1, erf(x) = x s(x^2) with s the degree-11
# Chebyshev interpolant of erf(x)/x in z = x^2 on [0, 1] (12 nodes; recomputed by the tests). Both as monomials.
# Beyond 6, erf = 1 to double precision. No division; one exponential and two short polynomials by Estrin's scheme,
# every multiply-add fused (:func:`fma`): short dependency chains, so that the vector loop is limited by the number of
# multiply-adds. Max relative error 8e-16 against scipy.special.erf (7.96e-16 against mpmath at 30 digits).
_ERF_H = np.array([-1.8624374019465308, -0.6652489632326712, 0.20779348254964983, -0.0816506820971859,
    0.03412789375824787, -0.014389928882927871, 0.005940050739590886, -0.0023810041420093044, 0.0009269935725265152,
    -0.0002392215332395445, 0.0001141787333618356, -9.23006355401348e-05, -9.400963909517866e-05,
    -8.693533483362847e-06, 4.095903385841161e-05, 3.3107309484446466e-05, 4.656517568017572e-06])
_ERF_S = np.array([1.1283791670955121, -0.37612638903177437, 0.11283791670718551, -0.026866170609705614,
    0.005223977348372273, -0.0008548314213663343, 0.00012054959622806318, -1.491857664123655e-05,
    1.6374549980549365e-06, -1.567238008227256e-07, 1.1489097535443256e-08, -3.7838980048459157e-10])


@njit(cache=True, inline="always")
def _estrin12(c, x):
    """c[0] + c[1] x + ... + c[11] x^11 by Estrin's scheme, fused multiply-adds."""
    x2 = x * x
    x4 = x2 * x2
    q0 = fma(fma(c[3], x, c[2]), x2, fma(c[1], x, c[0]))
    q1 = fma(fma(c[7], x, c[6]), x2, fma(c[5], x, c[4]))
    q2 = fma(fma(c[11], x, c[10]), x2, fma(c[9], x, c[8]))
    return fma(q2, x4 * x4, fma(q1, x4, q0))


@njit(cache=True, inline="always")
def _estrin17(c, x):
    """c[0] + c[1] x + ... + c[16] x^16 by Estrin's scheme, fused multiply-adds."""
    x2 = x * x
    x4 = x2 * x2
    x8 = x4 * x4
    q0 = fma(fma(c[3], x, c[2]), x2, fma(c[1], x, c[0]))
    q1 = fma(fma(c[7], x, c[6]), x2, fma(c[5], x, c[4]))
    q2 = fma(fma(c[11], x, c[10]), x2, fma(c[9], x, c[8]))
    q3 = fma(fma(c[15], x, c[14]), x2, fma(c[13], x, c[12]))
    return fma(c[16], x8 * x8, fma(fma(q3, x4, q2), x8, fma(q1, x4, q0)))


@njit(cache=True, inline="always")
def _exp_fused(x):
    """exp(x) for x in [-708, 709] as :func:`_exp_in_range`, with fused multiply-adds and the Taylor series to r^12
    (truncation below 1.7e-16 relative): erf's exponential. GaussNet keeps :func:`fast_exp`, whose bits are the
    first version's."""
    n = np.floor(fma(x, _LOG2E, 0.5))
    r = fma(-n, _LN2_LO, fma(-n, _LN2_HI, x))
    r2 = r * r
    r4 = r2 * r2
    s0 = fma(fma(r, 1.0 / 6, 0.5), r2, 1.0 + r)
    s1 = fma(fma(r, 1.0 / 5040, 1.0 / 720), r2, fma(r, 1.0 / 120, 1.0 / 24))
    s2 = fma(fma(r, 1.0 / 39916800, 1.0 / 3628800), r2, fma(r, 1.0 / 362880, 1.0 / 40320))
    p = fma(fma(1.0 / 479001600, r4, s2), r4 * r4, fma(s1, r4, s0))
    return p * _bits_to_float((int64(n) + 1023) << 52)


@njit(cache=True, inline="always", error_model="numpy")
def fast_erf(x):
    """erf(x) in branch-free arithmetic, so that loops over neurons vectorise (see _ERF_H above).

    Both branches are computed and one is selected. Compiled with error_model="numpy" like its callers
    (with Python's error model a zero check would stop the vectorisation).
    """
    a = min(abs(x), 6.0)
    z = a * a
    small = a * _estrin12(_ERF_S, z)
    large = 1.0 - _exp_fused(_estrin17(_ERF_H, (a - 3.5) * (1.0 / 2.5)) - z)  # argument in [-38, 0]
    return math.copysign(small if a < 1.0 else large, x)


@njit(cache=True, inline="always")
def network_state(key0, key1, a):
    """Initial SplitMix64 state of network ``a`` of the bag keyed (key0, key1)."""
    return mix64(key0 ^ mix64(key1 + uint64(a)))


#: Neurons drawn per batch: their activations at one point are one vectorised loop.
NEURON_BATCH = 16


@njit(cache=True, error_model="numpy")
def network_outputs(key0, key1, a, N, sigma_b, sigma_w, x, activation, out):
    """f_a(x_i) for network ``a`` of a bag, written into ``out`` (the reference for the fused kernel).
    ``x``: the points, float64[n_points, d_in]; ``activation``: GAUSS, RELU or ERF."""
    _eval_network(key0, key1, a, N, sigma_b, sigma_w, x, _log_norm(sigma_b, sigma_w, x), activation, out,
                  np.empty((x.shape[1] + 4, NEURON_BATCH)))


@njit(cache=True)
def _log_norm(sigma_b, sigma_w, x):
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
    """out[k] = weight[k] φ(wx[k] xi + b0[k]) for k < m: GaussNet (normalised by exp(log_norm)), ReLU or Erf.
    Vectorised loops, no reduction in them; ``out`` may be ``wx`` (each element is read before it is written)."""
    if activation == GAUSS:
        for k in range(m):
            out[k] = weight[k] * fast_exp(wx[k] * xi + b0[k] - log_norm)
    elif activation == RELU:
        for k in range(m):
            out[k] = weight[k] * max(wx[k] * xi + b0[k], 0.0)
    else:
        for k in range(m):
            out[k] = weight[k] * fast_erf(wx[k] * xi + b0[k])


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
    s, b1 = _normal(s)
    b1 *= sigma_b
    for i in range(n_points):
        h[i] = 0.0
    for j0 in range(0, N, NEURON_BATCH):
        m = min(NEURON_BATCH, N - j0)
        if d_in == 1:  # the common case, without the loop over components (measured 5-10% faster)
            for k in range(m):
                s, z0 = _normal(s)
                s, z1 = _normal(s)
                s, z2 = _normal(s)
                buf[0, k] = sigma_w0 * z0
                b0[k] = sigma_b * z1
                w1[k] = sigma_w1 * z2
        else:
            for k in range(m):
                for c in range(d_in):
                    s, z0 = _normal(s)
                    buf[c, k] = sigma_w0 * z0
                s, z1 = _normal(s)
                s, z2 = _normal(s)
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
def lane_totals(acc, partial, c):
    """partial[c, o] = the sum of acc[o, :] over the lanes, in lane order (the chunk's fixed reduction order)."""
    for o in range(acc.shape[0]):
        total = 0.0
        for lane in range(LANES):
            total += acc[o, lane]
        partial[c, o] = total


@njit(cache=True, inline="always")
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
        for lane in range(n_lanes, LANES):
            for i in range(n_points):
                prod[i, lane] = 0.0
        for m in range(n_points, n_nodes):
            p, q = parent[m], last[m]
            for lane in range(LANES):
                prod[m, lane] = prod[p, lane] * prod[q, lane]
        accumulate_lanes(acc, prod, out_nodes)
    lane_totals(acc, partial, c)


@njit(cache=True, parallel=True, error_model="numpy")
def bag_chunk_sums(key0, key1, n_nets, N, sigma_b, sigma_w, x, activation, parent, last, out_nodes):
    """Per-chunk sums of the monomials ``out_nodes`` over the networks of one bag, chunks in parallel.

    ``x``: the points, float64[n_points, d_in]; ``activation``: GAUSS, RELU or ERF.
    Returns float64[n_chunks, n_out]; ``sum(axis=0) / n_nets`` gives G_exp^(n) (docs/science.md §2).
    ``parent``/``last``/``out_nodes`` come from :func:`nnqft.combos.product_tree`.
    """
    n_chunks = (n_nets + CHUNK - 1) // CHUNK
    log_norm = _log_norm(sigma_b, sigma_w, x)
    partial = np.zeros((n_chunks, out_nodes.shape[0]))
    for c in prange(n_chunks):
        _chunk_sums(c, key0, key1, n_nets, N, sigma_b, sigma_w, x, activation, log_norm, parent, last, out_nodes,
                    partial)
    return partial


@njit(cache=True, error_model="numpy")
def bag_chunk_sums_serial(key0, key1, n_nets, N, sigma_b, sigma_w, x, activation, parent, last, out_nodes):
    """:func:`bag_chunk_sums` on one thread, bit for bit: one-thread jobs skip the threading layer's start-up."""
    n_chunks = (n_nets + CHUNK - 1) // CHUNK
    log_norm = _log_norm(sigma_b, sigma_w, x)
    partial = np.zeros((n_chunks, out_nodes.shape[0]))
    for c in range(n_chunks):
        _chunk_sums(c, key0, key1, n_nets, N, sigma_b, sigma_w, x, activation, log_norm, parent, last, out_nodes,
                    partial)
    return partial


@njit(cache=True, error_model="numpy")
def erf_array(x):
    """:func:`fast_erf` elementwise (tests)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = fast_erf(x[i])
    return out


@njit(cache=True)
def exp_array(x):
    """:func:`fast_exp` elementwise (tests)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = fast_exp(x[i])
    return out


@njit(cache=True)
def draw_normals(state, n):
    """``n`` consecutive normals of the SplitMix64 stream started at ``state`` (tests and benchmarks)."""
    out = np.empty(n)
    s = uint64(state)
    for i in range(n):
        s, out[i] = _normal(s)
    return out
