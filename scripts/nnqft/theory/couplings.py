"""Couplings of the 1PI action ansatz Gamma = S_0 + (u_4/4!) int f^4 + (u_6/6!) int f^6 (docs/science.md §3).

All integrals are Gaussian (GaussNet at any d_in) and are evaluated in closed form.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import combinations
from math import pi, sqrt

import numpy as np

from .. import combos


def _rows(xs) -> np.ndarray:
    """Points as float[n, d_in] (numbers are d_in = 1)."""
    xs = np.asarray(xs, dtype=float)
    return xs[:, None] if xs.ndim == 1 else xs


def I_n(xs, sigma_w):
    """I_n(x_1..x_n) = int d^d x prod_i K_W(x, x_i), K_W(x, y) = sigma_w^2 exp(-sigma_w^2 |x - y|^2 / (2 d))
    = sigma_w^(2n) (2 pi d / (n sigma_w^2))^(d/2) exp(-(sigma_w^2 / (2 d))(sum |x_i|^2 - |sum x_i|^2 / n))
    (docs/science.md §3, §8); ``xs``: numbers (d_in = 1) or rows of d_in numbers."""
    xs = _rows(xs)
    n, d = xs.shape
    s2 = sigma_w**2
    return s2**n * (2 * pi * d / (n * s2)) ** (d / 2) * np.exp(-s2 / (2 * d) * ((xs**2).sum() - (xs.sum(axis=0) ** 2).sum() / n))


def T_6(xs, sigma_w):
    """T_6 = sum over the 10 splits A|B of the six points into triples of
    int d^d y d^d z prod_{i in A} K_W(x_i, y) K_W(y, z) prod_{j in B} K_W(x_j, z).

    Each term is sigma_w^14 (2 pi d / (sigma_w^2 sqrt(15)))^d exp(-(sigma_w^2/(2d))(Q - (4|S_A|^2 + 2 S_A.S_B
    + 4|S_B|^2)/15)), with S the sums of the points of A and B and Q the sum of all |x_i|^2 (per coordinate the
    quadratic form in (y, z) has matrix [[4, -1], [-1, 4]], determinant 15).
    """
    xs = _rows(xs)
    assert len(xs) == 6
    d = xs.shape[1]
    s2 = sigma_w**2
    q = (xs**2).sum()
    total = 0.0
    for a in combinations(range(1, 6), 2):  # A holds point 0: each unordered split once
        A = (0,) + a
        B = tuple(i for i in range(6) if i not in A)
        sa, sb = xs[list(A)].sum(axis=0), xs[list(B)].sum(axis=0)
        total += np.exp(-s2 / (2 * d) * (q - (4 * sa @ sa + 2 * sa @ sb + 4 * sb @ sb) / 15))
    return s2**7 * (2 * pi * d / (s2 * sqrt(15))) ** d * total


def u4_from_delta(delta_g4, xs, sigma_w):
    """u_4(x_1..x_4) = -Delta G^(4)(x_1..x_4) / I_4(x_1..x_4) (paper eq. 3.6)."""
    return -delta_g4 / I_n(xs, sigma_w)


def u6_from_connected(g_c6, u4, xs, sigma_w):
    """u_6 from G_c^(6) = -u_6 I_6 + u_4^2 T_6 (tree level, docs/science.md §3)."""
    return (u4**2 * T_6(xs, sigma_w) - g_c6) / I_n(xs, sigma_w)


def six_point_splits(K):
    """For every 6-combination of the point set: the indices of its 15 four-point sub-multisets and the K of the
    remaining pair (``K``: the kernel matrix of the point set), the 15 splits 4 + 2 of G_c^(6) = ΔG^(6) − Σ_15
    ΔG^(4) K (docs/science.md §3) as arrays [combo6, 15]."""
    K = np.asarray(K)
    four, first, second = _six_point_split_indices(len(K))
    return four, K[first, second]


@lru_cache(maxsize=None)
def _six_point_split_indices(n_points: int):
    """:func:`six_point_splits`' indices, which depend on the number of points only: per 6-combination and split, the
    index of the four-point sub-multiset and the two points of the pair (read-only arrays, shared by every caller)."""
    four = {c: k for k, c in enumerate(combos.multisets(n_points, 4))}
    idx, first, second = [], [], []
    for c in combos.multisets(n_points, 6):
        for pair in combinations(range(6), 2):
            idx.append(four[tuple(c[i] for i in range(6) if i not in pair)])
            first.append(c[pair[0]])
            second.append(c[pair[1]])
    arrays = [np.array(a, dtype=np.intp).reshape(-1, 15) for a in (idx, first, second)]
    for a in arrays:
        a.flags.writeable = False
    return tuple(arrays)
