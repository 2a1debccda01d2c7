"""Random streams: per-bag keys derived from the point's identity, and the counter-based generator of the kernels.

A bag's key (:func:`bag_key`) is a function of (seed, σ_b, σ_W, N, n_nets, bag, estimator) and of the stream layout
version only: not of the order of execution, the job it runs in, the number of threads, or the other points of the
config. Floats enter through their exact IEEE-754 bits, so 10 and 10.0 are the same point.

Stream layout (version ``nnqft.STREAM_VERSION`` = 1):
- network ``a`` of a bag with key (k0, k1) owns a SplitMix64 sequence started at ``mix64(k0 ^ mix64(k1 + a))``
  (:func:`network_state`; Steele, Lea, Flood 2014);
- normals come from the 256-layer ziggurat (Marsaglia & Tsang 2000) in numpy's legacy layout: one 64-bit output per
  draw on the fast path (99.3%), more on the rare slow path (:func:`normal`).
The order in which a network consumes its normals is the kernel's (nnqft.sampling.kernel, conditional).
"""
from __future__ import annotations

import math
import struct

import numpy as np
from numba import int64, njit, uint64

from .. import STREAM_VERSION
from . import kernel_cache  # noqa: F401  (numba's cache folder, named before the first cache=True decorator)

GAMMA = uint64(0x9E3779B97F4A7C15)
M1 = uint64(0xBF58476D1CE4E5B9)
M2 = uint64(0x94D049BB133111EB)
INV_2_53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mixer."""
    z = (z ^ (z >> uint64(30))) * M1
    z = (z ^ (z >> uint64(27))) * M2
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


ZIG_K, ZIG_W, ZIG_F = _ziggurat_tables()
ZIG_R = 3.6541528853610088
MASK52 = uint64((1 << 52) - 1)


@njit(cache=True, inline="always")
def _next(s):
    """Advance a SplitMix64 state; return (new state, 64 random bits)."""
    s = s + GAMMA
    return s, mix64(s)


@njit(cache=True, inline="always")
def _uniform(s):
    """Advance the state; return (new state, uniform double in [0, 1) with 53 random bits)."""
    s, r = _next(s)
    return s, float(int64(r >> uint64(11))) * INV_2_53


@njit(cache=True)
def _normal_tail(s, idx, x, negative, zig_f):
    """Slow path of the ziggurat (about 0.7% of draws): the wedge test or the base-strip tail; NaN: rejected."""
    if idx == 0:
        while True:
            s, u1 = _uniform(s)
            s, u2 = _uniform(s)
            xx = -math.log1p(-u1) / ZIG_R
            yy = -math.log1p(-u2)
            if yy + yy > xx * xx:
                z = ZIG_R + xx
                return s, -z if negative else z
    s, u = _uniform(s)
    if (zig_f[idx - 1] - zig_f[idx]) * u + zig_f[idx] < math.exp(-0.5 * x * x):
        return s, x
    return s, math.nan  # rejected: the caller draws again


@njit(cache=True, inline="always")
def normal_from(s, zig_k, zig_w, zig_f):
    """Advance the state; return (new state, one N(0, 1) draw) by the 256-layer ziggurat with the tables ``zig_k``,
    ``zig_w``, ``zig_f`` (:data:`ZIG_K`, ...: passed in, so that the GPU reads them from device memory).

    Fast path: one 64-bit output gives the layer (8 bits), the sign (1 bit) and a 52-bit magnitude. The functions of
    this module are also compiled for the GPU (nnqft.sampling.cuda_kernel): one source for both."""
    while True:
        s, r = _next(s)
        idx = int64(r & uint64(0xFF))
        r = r >> uint64(8)
        negative = (r & uint64(1)) != uint64(0)
        rabs = (r >> uint64(1)) & MASK52
        x = float(int64(rabs)) * zig_w[idx]  # via int64: exact below 2^52, and a single instruction
        if negative:
            x = -x
        if rabs < zig_k[idx]:
            return s, x
        s, z = _normal_tail(s, idx, x, negative, zig_f)
        if not math.isnan(z):
            return s, z


@njit(cache=True, inline="always")
def normal(s):
    """Advance the state; return (new state, one N(0, 1) draw): :func:`normal_from` with this module's tables."""
    return normal_from(s, ZIG_K, ZIG_W, ZIG_F)


@njit(cache=True, inline="always")
def network_state(key0, key1, a):
    """Initial SplitMix64 state of network ``a`` of the bag keyed (key0, key1)."""
    return mix64(key0 ^ mix64(key1 + uint64(a)))


@njit(cache=True)
def _draw_normals(state, n):
    out = np.empty(n)
    s = state
    for i in range(n):
        s, out[i] = normal(s)
    return out


def draw_normals(state, n: int) -> np.ndarray:
    """``n`` consecutive normals of the SplitMix64 stream started at ``state`` (tests and benchmarks)."""
    return _draw_normals(np.uint64(state), int(n))


def float_bits(x: float) -> int:
    """The 64 bits of ``float(x)`` as a non-negative integer (``-0.0`` is mapped to ``0.0``)."""
    return struct.unpack("<Q", struct.pack("<d", float(x) + 0.0))[0]


#: The spawn-key word that announces a depth (after the conditional estimator's 1, so no two keys coincide).
DEPTH_WORD = 2


def bag_key(seed: int, model, bag: int) -> tuple[int, int]:
    """Two 64-bit words keying the bag's counter-based stream, through numpy's ``SeedSequence``.

    The conditional estimator (docs/science.md §9) draws first layers only, from a key of its own (one more
    spawn-key word), so its samples are independent of the plain estimator's at the same point; the plain
    key is that of the first version.
    """
    spawn_key = (STREAM_VERSION, float_bits(model.sigma_b), float_bits(model.sigma_w), int(model.N), int(model.n_nets),
                 int(bag))
    if model.estimator == "conditional":
        spawn_key += (1,)
    if model.depth > 1:
        spawn_key += (DEPTH_WORD, int(model.depth))
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=spawn_key)
    k0, k1 = ss.generate_state(2, dtype=np.uint64)
    return int(k0), int(k1)
