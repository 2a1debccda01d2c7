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
        self._moment_tables: dict[int, tuple] = {}  # per multiset size: (moments cached, codes, values)
        self._requested: set[tuple] = set()  # the combinations whose moments correlators() has computed

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

    def cumulant(self, block, N: int) -> float:
        """Joint cumulant of f over a multiset of point indices: K for two points, N x the single-neuron
        cumulant of W1 φ for four or more, 0 for odd sizes."""
        block = tuple(sorted(block))
        k = len(block)
        if k % 2:
            return 0.0
        if k == 2:
            return float(self.K[block[0], block[1]])
        self.moments([tuple(sorted(block[i] for i in b)) for _, part in weighted_partitions(k) for b in part])
        return float(self._cumulants(np.array([block], dtype=np.int64), N)[0])

    def correlators(self, combos, N: int) -> tuple[np.ndarray, np.ndarray]:
        """(G, G_0): the exact G^(n) at width N and the free (Wick) G_0^(n) of each combination.

        Vectorised over the combinations of each length: per even partition (in the order of
        :func:`nnqft.theory.partitions.even_partitions`) the product of its blocks' cumulants, added in that order,
        so each combination's G is the same sum of the same products as one computed alone. The single-neuron
        moments it needs are requested first, in one batch (the Erf quadrature's bits depend on the batch)."""
        combos = [tuple(c) for c in combos]
        groups = _groups_by_length(combos)
        blocks: dict[int, list] = {}  # size -> the sorted blocks of every partition of every combination
        for n, (_, idx) in groups.items():
            for part in even_partitions(n):
                for b in part:
                    blocks.setdefault(len(b), []).append(np.sort(idx[:, list(b)], axis=1))
        distinct = {k: _distinct_rows(np.concatenate(rows), len(self.points)) for k, rows in blocks.items()}
        request = tuple(combos)
        if request not in self._requested:  # the moments do not depend on N: listed at the first N only
            needed: set = set()
            for k, keys in distinct.items():
                if k >= 4:
                    for _, sub_part in weighted_partitions(k):
                        for sub in sub_part:
                            needed.update(map(tuple, np.sort(keys[:, list(sub)], axis=1).tolist()))
            self.moments(sorted(needed))
            self._requested.add(request)
        kappa = {k: (_codes(keys, len(self.points)), self._cumulants(keys, N)) for k, keys in distinct.items()}
        g, g0 = np.empty(len(combos)), np.empty(len(combos))
        for n, (rows, idx) in groups.items():
            total, free = np.zeros(len(rows)), np.zeros(len(rows))
            block_kappa: dict[tuple, np.ndarray] = {}  # the cumulant of each block, by its positions in the combos
            for part in even_partitions(n):
                term = np.ones(len(rows))
                for b in part:
                    if b not in block_kappa:
                        codes, values = kappa[len(b)]
                        block_kappa[b] = values[np.searchsorted(codes, _codes(np.sort(idx[:, list(b)], axis=1),
                                                                              len(self.points)))]
                    term = term * block_kappa[b]
                total = total + term
                if all(len(b) == 2 for b in part):
                    free = free + term
            g[rows], g0[rows] = total, free
        return g, g0

    def _cumulants(self, keys: np.ndarray, N: int) -> np.ndarray:
        """:meth:`cumulant` of each row of ``keys`` (distinct sorted blocks of point indices), vectorised with the
        same products and sums in the same order; their moments must be there already."""
        m, k = keys.shape
        if k % 2:
            return np.zeros(m)
        if k == 2:
            return self.K[keys[:, 0], keys[:, 1]]
        total = np.zeros(m)
        moments: dict[tuple, np.ndarray] = {}  # the moments of each sub-block, by its positions in the blocks
        for weight, part in weighted_partitions(k):
            term = np.full(m, float(weight))
            for b in part:
                if b not in moments:
                    moments[b] = self._moment_values(keys[:, list(b)])
                term = term * (w1_moment(len(b), self.sigma_w, N) * moments[b])
            total = total + term
        return N * total

    def _moment_values(self, cols: np.ndarray) -> np.ndarray:
        """The cached moments M_S of the multisets in the rows of ``cols``, looked up by their codes in base P."""
        keys = np.sort(cols, axis=1)
        size = keys.shape[1]
        table = self._moment_tables.get(size)
        if table is None or table[0] != len(self._moments):
            stored = [key for key in self._moments if len(key) == size]
            codes = _codes(np.array(stored, dtype=np.int64).reshape(len(stored), size), len(self.points))
            order = np.argsort(codes)
            table = (len(self._moments), codes[order], np.array([self._moments[key] for key in stored])[order])
            self._moment_tables[size] = table
        _, codes, values = table
        wanted = _codes(keys, len(self.points))
        at = np.searchsorted(codes, wanted)
        if (at >= len(codes)).any() or (codes[np.minimum(at, len(codes) - 1)] != wanted).any():
            raise KeyError("a moment was looked up before it was computed")
        return values[at]

    def conditional_estimator_variance(self, combo, N: int) -> float:
        """Variance of one network's conditional estimator of G^(n)(combo), the Wick sum of Π C over the
        perfect matchings: Σ_{P, Q} E[Π_P C Π_Q C] − G^(n)²."""
        matchings = [[(combo[a], combo[b]) for a, b in part] for part in even_partitions(len(combo))
                     if all(len(b) == 2 for b in part)]
        second = sum(self.conditional_moment(P + Q, N) for P in matchings for Q in matchings)
        (g,), _ = self.correlators([tuple(combo)], N)
        return second - g * g

    def estimator_variances(self, combos, N: int, estimator: str = "plain") -> np.ndarray:
        """As :meth:`nnqft.theory.base.FieldTheory.estimator_variances`; the conditional one vectorised over the
        combinations (:meth:`conditional_moments`), but for Erf, whose moments are computed combination by
        combination as :meth:`conditional_estimator_variance` asks for them (their quadrature's bits depend on the
        batch)."""
        if estimator != "conditional" or self.activation == "erf":
            return super().estimator_variances(combos, N, estimator)
        combos = [tuple(c) for c in combos]
        out = np.empty(len(combos))
        for n, (rows, idx) in _groups_by_length(combos).items():
            matchings = [[idx[:, list(pair)] for pair in part] for part in even_partitions(n)
                         if all(len(b) == 2 for b in part)]
            second = np.zeros(len(rows))
            for P in matchings:
                for Q in matchings:
                    second = second + self.conditional_moments(np.stack(P + Q, axis=1), N)
            g, _ = self.correlators([combos[r] for r in rows], N)
            out[rows] = second - g * g
        return out

    def conditional_moments(self, pairs: np.ndarray, N: int) -> np.ndarray:
        """E[Π_i C(pairs_i)] over first layers for each row of ``pairs`` (int[m, k, 2]: k pairs of point indices per
        row), C(x, y) = σ_b² + (σ_W²/N) Σ_j φ_j(x) φ_j(y) (docs/science.md §9): each C expands into σ_b² and
        (σ_W²/N) S, and E[Π_{i∈T} S_i] = Σ over set partitions π of T of N(N−1)...(N−|π|+1) Π_{B∈π} M(the points of
        the pairs in B), neurons being i.i.d. Vectorised over the rows with the same products and sums in the same
        order as for one row."""
        m, k, _ = pairs.shape
        lam, sb2 = self.sigma_w**2 / N, self.sigma_b**2
        terms = [(size, T, part) for size in range(k + 1) for T in combinations(range(k), size)
                 for part in set_partitions(T)]
        self.moments(sorted({key for _, _, part in terms for block in part
                             for key in map(tuple, np.sort(pairs[:, list(block)].reshape(m, -1), axis=1).tolist())}))
        total = np.zeros(m)
        moments: dict[tuple, np.ndarray] = {}  # the moment of each block of pairs, by the pairs' positions
        for size in range(k + 1):
            for T in combinations(range(k), size):
                s_moment = np.zeros(m)
                for part in set_partitions(T):
                    falling = 1.0
                    for r in range(len(part)):
                        falling *= N - r
                    if falling == 0.0:
                        continue
                    product = np.ones(m)
                    for block in part:
                        if block not in moments:
                            moments[block] = self._moment_values(pairs[:, list(block)].reshape(m, -1))
                        product = product * moments[block]
                    s_moment = s_moment + falling * product
                total = total + sb2 ** (k - size) * lam**size * s_moment
        return total


def _groups_by_length(combos) -> dict[int, tuple[list[int], np.ndarray]]:
    """Per length n: the indices of the combinations of that length and the combinations as int[count, n]."""
    rows: dict[int, list[int]] = {}
    for r, c in enumerate(combos):
        rows.setdefault(len(c), []).append(r)
    return {n: (r, np.array([combos[i] for i in r], dtype=np.int64).reshape(len(r), n)) for n, r in rows.items()}


def _distinct_rows(keys: np.ndarray, n_points: int) -> np.ndarray:
    """The distinct rows of ``keys`` (sorted point indices), ordered by their codes (:func:`_codes`)."""
    _, first = np.unique(_codes(keys, n_points), return_index=True)
    return keys[first]


def _codes(keys: np.ndarray, n_points: int) -> np.ndarray:
    """One integer per row of sorted point indices (its digits in base n_points), equal for equal multisets."""
    codes = np.zeros(len(keys), dtype=np.int64)
    for column in keys.T:
        codes = codes * n_points + column
    return codes
