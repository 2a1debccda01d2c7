"""The exact finite-width theory of one-hidden-layer networks (docs/science.md §5, §8).

Neurons are i.i.d., so the cumulants of h = Σ_j W1_j φ_j(x) are N times single-neuron quantities, and every
n-point function of f = h + b1 is a finite sum over the partitions of its points into even blocks
(:mod:`nnqft.theory.partitions`). The single-neuron moments come from :mod:`nnqft.theory.neurons`.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from ..model import as_points
from . import neurons
from .base import FieldTheory
from .partitions import even_partitions, set_partitions, w1_moment, weighted_partitions


class Theory(FieldTheory):
    """The exact finite-width theory of one family of ensembles: an activation (``gauss``, ``relu``,
    ``erf``), a point set (numbers for d_in = 1, or rows of d_in numbers) and (σ_b, σ_W), at any width N
    (docs/science.md §5, §8).

    The single-neuron moments M_S (:mod:`nnqft.theory.neurons`) do not depend on N and are computed once per
    multiset of point indices; the cumulants of h = Σ_j W1_j φ_j are N times single-neuron cumulants, and
    G^(n) sums products of cumulants over the partitions of the points into even blocks, as above.
    Combinations are tuples of point indices (as in :mod:`nnqft.combos`); the protocol is
    :class:`nnqft.theory.base.FieldTheory`'s.
    """

    def __init__(self, activation: str, points, sigma_b: float, sigma_w: float, *, nodes: int | None = None):
        self.activation = activation
        self.points = as_points(points)
        self.sigma_b, self.sigma_w = float(sigma_b), float(sigma_w)
        self.nodes = nodes
        self.cov = neurons.preactivation_covariance(self.points, self.sigma_b, self.sigma_w)
        self.K = neurons.kernel_matrix(activation, self.points, self.sigma_b, self.sigma_w)
        self._moments: dict[tuple, float] = {}

    @classmethod
    def of(cls, model, *, nodes: int | None = None) -> "Theory":
        """The theory of a :class:`nnqft.model.Model`'s family (its activation, points, σ_b, σ_W), at every N."""
        return cls(model.activation, model.points, model.sigma_b, model.sigma_w, nodes=nodes)

    @property
    def d_in(self) -> int:
        return self.points.shape[1]

    def moments(self, multisets) -> np.ndarray:
        """M_S for multisets of point indices, computed once each (all missing ones in one batch)."""
        keys = [tuple(sorted(m)) for m in multisets]
        missing = sorted({k for k in keys if k not in self._moments})
        if missing:
            values = neurons.moments(self.activation, self.cov, missing, self.nodes)
            self._moments.update(zip(missing, values))
        return np.array([self._moments[k] for k in keys])

    def _blocks(self, combos) -> list:
        """The even blocks (sorted index tuples) of every even partition of every combination."""
        return [tuple(sorted(c[i] for i in block)) for c in combos
                for part in even_partitions(len(c)) for block in part]

    def cumulant(self, block, N: int) -> float:
        """Joint cumulant of f over a multiset of point indices: K for two points, N x the single-neuron
        cumulant of W1 φ for four or more, 0 for odd sizes."""
        block = tuple(sorted(block))
        k = len(block)
        if k % 2:
            return 0.0
        if k == 2:
            return float(self.K[block[0], block[1]])
        subs = [tuple(sorted(block[i] for i in b)) for _, part in weighted_partitions(k) for b in part]
        self.moments(subs)
        total = 0.0
        for weight, part in weighted_partitions(k):
            term = weight
            for b in part:
                sub = tuple(sorted(block[i] for i in b))
                term *= w1_moment(len(sub), self.sigma_w, N) * self._moments[sub]
            total += term
        return N * total

    def correlators(self, combos, N: int) -> tuple[np.ndarray, np.ndarray]:
        """(G, G_0): the exact G^(n) at width N and the free (Wick) G_0^(n) of each combination."""
        combos = [tuple(c) for c in combos]
        blocks = {b for b in self._blocks(combos) if len(b) >= 4}
        needed = {tuple(sorted(b[i] for i in sub)) for b in blocks
                  for _, part in weighted_partitions(len(b)) for sub in part}
        self.moments(sorted(needed))
        kappa: dict[tuple, float] = {}
        g = np.empty(len(combos))
        g0 = np.empty(len(combos))
        for r, c in enumerate(combos):
            total = free = 0.0
            for part in even_partitions(len(c)):
                term = 1.0
                pairs_only = all(len(b) == 2 for b in part)
                for b in part:
                    key = tuple(sorted(c[i] for i in b))
                    if key not in kappa:
                        kappa[key] = self.cumulant(key, N)
                    term *= kappa[key]
                total += term
                if pairs_only:
                    free += term
            g[r], g0[r] = total, free
        return g, g0

    def conditional_moment(self, pairs, N: int) -> float:
        """E[Π_i C(pairs_i)] over first layers, C(x, y) = σ_b² + (σ_W²/N) Σ_j φ_j(x) φ_j(y) (docs/science.md §9):
        each C expands into σ_b² and (σ_W²/N) S, and E[Π_{i∈T} S_i] = Σ over set partitions π of T of
        N(N−1)...(N−|π|+1) Π_{B∈π} M(the points of the pairs in B), neurons being i.i.d."""
        pairs = [tuple(p) for p in pairs]
        k = len(pairs)
        lam, sb2 = self.sigma_w**2 / N, self.sigma_b**2
        total = 0.0
        for size in range(k + 1):
            for T in combinations(range(k), size):
                s_moment = 0.0
                for part in set_partitions(T):
                    falling = 1.0
                    for r in range(len(part)):
                        falling *= N - r
                    if falling == 0.0:
                        continue
                    blocks = [tuple(sorted(q for i in block for q in pairs[i])) for block in part]
                    s_moment += falling * float(np.prod(self.moments(blocks)))
                total += sb2 ** (k - size) * lam**size * s_moment
        return total

    def conditional_estimator_variance(self, combo, N: int) -> float:
        """Variance of one network's conditional estimator of G^(n)(combo), the Wick sum of Π C over the
        perfect matchings: Σ_{P, Q} E[Π_P C Π_Q C] − G^(n)²."""
        matchings = [[(combo[a], combo[b]) for a, b in part] for part in even_partitions(len(combo))
                     if all(len(b) == 2 for b in part)]
        second = sum(self.conditional_moment(P + Q, N) for P in matchings for Q in matchings)
        (g,), _ = self.correlators([tuple(combo)], N)
        return second - g * g
