"""Linear networks (φ(z) = z) of any depth, exactly at every width N (docs/science.md §10): the moments of the
empirical kernels close on themselves layer by layer, and every correlator is a Wick sum of them."""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from ..model import as_points
from . import neurons
from .base import FieldTheory
from .partitions import pairings


class LinearTheory(FieldTheory):
    """Linear networks (φ(z) = z) of ``depth`` hidden layers, exactly at every width N (docs/science.md §10).

    Given layer ℓ, the output's conditional covariance obeys Ĝ' = σ_b² + (σ_W²/N) S with S = Σ_j y_j y_jᵀ, the y_j
    i.i.d. N(0, Ĝ) (Ĝ^(1) = K^(1)). For factors S_e1 ... S_ek, summing over which neuron each factor uses gives
    (Isserlis within each neuron) E[Π S_ei | Ĝ] = Σ_μ N^{c(μ)} Π_{(a,b) ∈ μ} Ĝ_ab, over the perfect matchings μ of
    their 2k indices, c(μ) the number of connected components of the factors that μ links (a set partition π of the
    factors into distinct neurons contributes N(N−1)...(N−|π|+1) where μ pairs within its blocks, and the sum over
    the π coarser than μ's components is N^c). So the moments m_k = E[Ĝ_e1 ... Ĝ_ek] close on themselves layer by
    layer, and every correlator is a Wick sum of them: G^(n) = Σ_matchings m_{n/2}. It follows the protocol of
    :class:`nnqft.theory.base.FieldTheory`."""

    def __init__(self, points, sigma_b: float, sigma_w: float, depth: int):
        self.points = as_points(points)
        self.sigma_b, self.sigma_w, self.depth = float(sigma_b), float(sigma_w), int(depth)
        self.first_layer = neurons.preactivation_covariance(self.points, self.sigma_b, self.sigma_w)
        self.K = self.first_layer  # the infinite-width kernel, layer by layer to the output
        for _ in range(self.depth):
            self.K = self.sigma_b**2 + self.sigma_w**2 * self.K
        self._moments: dict[tuple[int, int], np.ndarray] = {}

    @classmethod
    def of(cls, model) -> "LinearTheory":
        return cls(model.points, model.sigma_b, model.sigma_w, model.depth)

    def moment(self, k: int, N: int) -> np.ndarray:
        """m_k = E[Ĝ_{i1 i2} ... Ĝ_{i(2k-1) i(2k)}] of the output's Ĝ = Ĝ^(L+1), an array of 2k point indices."""
        key = (int(k), int(N))
        if key not in self._moments:
            m = [_tensor_power(self.first_layer, j) for j in range(k + 1)]
            for _ in range(self.depth):
                m = [_next_moment(m, j, N, self.sigma_b**2, self.sigma_w**2 / N) for j in range(k + 1)]
            self._moments[key] = m[k]
        return self._moments[key]

    def correlators(self, combos, N: int) -> tuple[np.ndarray, np.ndarray]:
        """(G, G_0): the exact G^(n) at width N and the Wick sum of the infinite-width K, per combination."""
        g, g0 = np.empty(len(combos)), np.empty(len(combos))
        for r, c in enumerate(combos):
            c = tuple(c)
            m = self.moment(len(c) // 2, N)
            g[r] = sum(m[tuple(i for pair in match for i in pair)] for match in pairings(c))
            g0[r] = sum(math.prod(self.K[a, b] for a, b in match) for match in pairings(c))
        return g, g0

    def conditional_moments(self, pairs: np.ndarray, N: int) -> np.ndarray:
        """E[Π_i Ĝ(pairs_i)] = m_k at the pairs' indices, for each row of ``pairs`` (int[m, k, 2]), exactly."""
        pairs = np.asarray(pairs, dtype=np.int64)
        m = self.moment(pairs.shape[1], N)
        return np.asarray(m[tuple(pairs.reshape(len(pairs), -1).T)], dtype=float).reshape(len(pairs))

    def conditional_estimator_variance(self, combo, N: int) -> float:
        """Variance of one network's conditional estimator, the Wick sum of Ĝ over the matchings of ``combo``:
        Σ_{μ, μ'} E[Π_μ Ĝ Π_μ' Ĝ] − G^(n)²."""
        combo = tuple(combo)
        m = self.moment(len(combo), N)
        flat = [tuple(i for pair in match for i in pair) for match in pairings(combo)]
        second = sum(m[a + b] for a in flat for b in flat)
        (g,), _ = self.correlators([combo], N)
        return second - g * g


def _tensor_power(K, k: int):
    out = np.ones(())
    for _ in range(k):
        out = np.multiply.outer(out, K)
    return out


def _next_moment(m, k: int, N: int, beta: float, w: float) -> np.ndarray:
    """m'_k = E[Π_i (β + w S_ei)] = Σ over the subsets T of the factors β^(k−|T|) w^|T| E[Π_T S] from the previous
    layer's moments m (LinearTheory)."""
    n = m[1].shape[0] if k else 0
    total = np.zeros((n,) * (2 * k)) if k else np.ones(())
    for size in range(k + 1):
        if size == 0:
            total = total + beta**k
            continue
        term = 0.0
        for match in pairings(range(2 * size)):
            order = [i for pair in match for i in pair]
            term = term + float(N) ** _components(match) * m[size].transpose(np.argsort(order))
        for T in combinations(range(k), size):
            axes = {i for f in T for i in (2 * f, 2 * f + 1)}
            # the subset's indices keep their order among the 2k, so a reshape places them
            total = total + beta ** (k - size) * w**size * term.reshape([n if i in axes else 1 for i in range(2 * k)])
    return total


def _components(match) -> int:
    """Connected components of the factors (index i belongs to factor i // 2) that a matching of indices links."""
    parent = list(range(max(i for pair in match for i in pair) // 2 + 1))

    def root(f):
        while parent[f] != f:
            f = parent[f]
        return f

    for a, b in match:
        parent[root(a // 2)] = root(b // 2)
    return len({root(f) for f in range(len(parent))})
