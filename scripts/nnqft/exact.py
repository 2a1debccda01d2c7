"""Exact finite-width correlators of the GaussNet ensemble (docs/science.md §5).

Neurons are i.i.d., so the cumulants of h = sum_j W1_j g_j(x) are N times single-neuron
quantities, and every n-point function of f = h + b1 is a finite sum over set partitions.
All functions take the evaluation points of one correlator as a sequence ``xs`` (a multiset:
repeated points allowed) and work for d_in = 1.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import combinations
from math import exp, factorial

import numpy as np

D_IN = 1


def kernel_K(x, y, sigma_b, sigma_w):
    """K(x, y) = sigma_b^2 + sigma_w^2 exp(-sigma_w^2 |x - y|^2 / (2 d_in)) (docs/science.md §1)."""
    return sigma_b**2 + sigma_w**2 * np.exp(-(sigma_w**2) * (np.asarray(x) - np.asarray(y)) ** 2 / (2 * D_IN))


def neuron_moment(xs, sigma_b, sigma_w):
    """M_S = E[prod_{i in S} g(x_i)] = exp(sigma_b^2 (k^2/2 - k) + (sigma_w^2/d_in)((sum x)^2/2 - sum x^2))."""
    xs = np.asarray(xs, dtype=float)
    k = len(xs)
    return exp(sigma_b**2 * (k * k / 2 - k) + sigma_w**2 / D_IN * (xs.sum() ** 2 / 2 - (xs**2).sum()))


def w1_moment(k, sigma_w, N):
    """E[W1^k] = (k-1)!! (sigma_w^2 / N)^(k/2) for even k, 0 for odd k."""
    if k % 2:
        return 0.0
    double_fact = 1
    for j in range(k - 1, 0, -2):
        double_fact *= j
    return double_fact * (sigma_w**2 / N) ** (k // 2)


def even_set_partitions(items):
    """Set partitions of ``items`` (a tuple) whose blocks all have even size."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    n = len(rest)
    # the block holding `first` takes an odd number of the remaining items
    for mask in range(1 << n):
        if bin(mask).count("1") % 2 == 0:
            continue
        block = (first,) + tuple(rest[i] for i in range(n) if mask >> i & 1)
        others = tuple(rest[i] for i in range(n) if not mask >> i & 1)
        for tail in even_set_partitions(others):
            yield [block] + tail


def pairings(items):
    """Perfect matchings of ``items``: (n-1)!! of them (1, 3, 15 for n = 2, 4, 6)."""
    return [p for p in even_set_partitions(tuple(items)) if all(len(b) == 2 for b in p)]


def set_partitions(items):
    """Every set partition of the tuple ``items`` (Bell(n) of them), blocks as tuples."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for tail in set_partitions(rest):
        yield [(first,)] + tail
        for i in range(len(tail)):
            yield tail[:i] + [(first,) + tail[i]] + tail[i + 1:]


@lru_cache(maxsize=None)
def _even_partitions_of_range(n):
    return tuple(tuple(part) for part in even_set_partitions(tuple(range(n))))


@lru_cache(maxsize=None)
def _w1_moment_times_m(xs, sigma_b, sigma_w, N):
    """E[W1^k] M_S for a sorted tuple xs (pure-Python floats: this is the hot path of the exact theory)."""
    k = len(xs)
    sx = sum(xs)
    m = exp(sigma_b**2 * (k * k / 2 - k) + sigma_w**2 / D_IN * (sx * sx / 2 - sum(x * x for x in xs)))
    return w1_moment(k, sigma_w, N) * m


@lru_cache(maxsize=None)
def _weighted_partitions(n):
    """Even set partitions of range(n) with their cumulant weights (|pi|-1)! (-1)^(|pi|-1)."""
    return tuple((factorial(len(part) - 1) * (-1) ** (len(part) - 1), part) for part in _even_partitions_of_range(n))


@lru_cache(maxsize=None)
def _h_cumulant(xs, sigma_b, sigma_w, N):
    # xs is sorted and every block lists increasing positions, so each block's values come out sorted
    total = 0.0
    for weight, part in _weighted_partitions(len(xs)):
        term = weight
        for block in part:
            term *= _w1_moment_times_m(tuple([xs[i] for i in block]), sigma_b, sigma_w, N)
        total += term
    return N * total


def h_cumulant(xs, sigma_b, sigma_w, N):
    """Joint cumulant of h over the multiset ``xs`` (docs/science.md §5):

    kappa_T(h) = N sum_{partitions pi of T} (|pi|-1)! (-1)^(|pi|-1) prod_{B in pi} E[W1^|B|] M_B.
    Only partitions into even blocks contribute since odd moments of W1 vanish.
    """
    return _h_cumulant(tuple(sorted(float(x) for x in xs)), float(sigma_b), float(sigma_w), int(N))


def f_cumulant(xs, sigma_b, sigma_w, N):
    """Joint cumulant of f = h + b1: K for two points, kappa(h) for four or more, 0 for odd orders."""
    return _f_cumulant(tuple(sorted(xs)), sigma_b, sigma_w, N)


@lru_cache(maxsize=None)
def _f_cumulant(xs, sigma_b, sigma_w, N):
    if len(xs) % 2:
        return 0.0
    if len(xs) == 2:
        return sigma_b**2 + sigma_w**2 * exp(-(sigma_w**2) * (xs[0] - xs[1]) ** 2 / (2 * D_IN))
    return _h_cumulant(xs, sigma_b, sigma_w, N)


def correlator(xs, sigma_b, sigma_w, N):
    """Exact G^(n)(x_1..x_n) = E[f(x_1)...f(x_n)]: sum over even set partitions of products of cumulants."""
    xs = [float(x) for x in xs]
    sigma_b, sigma_w, N = float(sigma_b), float(sigma_w), int(N)
    total = 0.0
    for part in _even_partitions_of_range(len(xs)):
        term = 1.0
        for block in part:
            term *= f_cumulant([xs[i] for i in block], sigma_b, sigma_w, N)
        total += term
    return total


def free_correlator(xs, sigma_b, sigma_w):
    """Wick / infinite-width G_0^(n): sum over perfect pairings of prod K (full K, docs/science.md §2)."""
    xs = [float(x) for x in xs]
    total = 0.0
    for part in _even_partitions_of_range(len(xs)):
        if all(len(block) == 2 for block in part):
            term = 1.0
            for a, b in part:
                term *= _f_cumulant(tuple(sorted((xs[a], xs[b]))), float(sigma_b), float(sigma_w), 1)
            total += term
    return total


@lru_cache(maxsize=None)
def _partition_blocks(combos: tuple) -> tuple:
    """For each multiset of point indices, its even set partitions as tuples of sorted index blocks."""
    return tuple(tuple(tuple(tuple(sorted(c[i] for i in block)) for block in part)
                       for part in _even_partitions_of_range(len(c)))
                 for c in combos)


def correlators(points, combos, sigma_b, sigma_w, N):
    """:func:`correlator` and :func:`free_correlator` for many multisets of point indices at once.

    The same sums over even set partitions, with each joint cumulant computed once per distinct block
    (the analysis evaluates 609 combinations at each of ~90 parameter points). Returns (G, G_0) arrays.
    """
    points = [float(x) for x in points]
    sigma_b, sigma_w, N = float(sigma_b), float(sigma_w), int(N)
    kappa: dict[tuple, float] = {}

    def cumulant(block):
        if block not in kappa:
            kappa[block] = _f_cumulant(tuple(sorted(points[i] for i in block)), sigma_b, sigma_w, N)
        return kappa[block]

    combos = tuple(tuple(c) for c in combos)
    g = np.empty(len(combos))
    g0 = np.empty(len(combos))
    for k, parts in enumerate(_partition_blocks(combos)):
        total = free = 0.0
        for part in parts:
            term = 1.0
            for block in part:
                term *= cumulant(block)
            total += term
            if all(len(block) == 2 for block in part):
                term = 1.0
                for a, b in part:
                    term *= _f_cumulant(tuple(sorted((points[a], points[b]))), sigma_b, sigma_w, 1)
                free += term
        g[k], g0[k] = total, free
    return g, g0


def estimator_variance(xs, sigma_b, sigma_w, N):
    """Var of one network's product f(x_1)...f(x_n): G^(2n)(xs, xs) - G^(n)(xs)^2.

    The exact standard error of G_exp^(n) over n_nets networks is sqrt(this / n_nets).
    """
    xs = list(xs)
    return correlator(xs + xs, sigma_b, sigma_w, N) - correlator(xs, sigma_b, sigma_w, N) ** 2


class Theory:
    """The exact finite-width theory of one family of ensembles: an activation (``gauss``, ``relu``,
    ``erf``), a point set (numbers for d_in = 1, or rows of d_in numbers) and (σ_b, σ_W), at any width N
    (docs/science.md §5, §8).

    The single-neuron moments M_S (:mod:`nnqft.neurons`) do not depend on N and are computed once per
    multiset of point indices; the cumulants of h = Σ_j W1_j φ_j are N times single-neuron cumulants, and
    G^(n) sums products of cumulants over the partitions of the points into even blocks, as above.
    Combinations are tuples of point indices (as in :mod:`nnqft.combos`).
    """

    def __init__(self, activation: str, points, sigma_b: float, sigma_w: float, nodes: int | None = None):
        from . import neurons

        self.activation = activation
        self.points = neurons.as_points(points)
        self.sigma_b, self.sigma_w = float(sigma_b), float(sigma_w)
        self.nodes = nodes
        self.cov = neurons.preactivation_covariance(self.points, self.sigma_b, self.sigma_w)
        self.K = neurons.kernel_matrix(activation, self.points, self.sigma_b, self.sigma_w)
        self._moments: dict[tuple, float] = {}

    @property
    def d_in(self) -> int:
        return self.points.shape[1]

    def moments(self, multisets) -> np.ndarray:
        """M_S for multisets of point indices, computed once each (all missing ones in one batch)."""
        from . import neurons

        keys = [tuple(sorted(m)) for m in multisets]
        missing = sorted({k for k in keys if k not in self._moments})
        if missing:
            values = neurons.moments(self.activation, self.cov, missing, self.nodes)
            self._moments.update(zip(missing, values))
        return np.array([self._moments[k] for k in keys])

    def _blocks(self, combos) -> list:
        """The even blocks (sorted index tuples) of every even partition of every combination."""
        return [tuple(sorted(c[i] for i in block)) for c in combos
                for part in _even_partitions_of_range(len(c)) for block in part]

    def cumulant(self, block, N: int) -> float:
        """Joint cumulant of f over a multiset of point indices: K for two points, N x the single-neuron
        cumulant of W1 φ for four or more, 0 for odd sizes."""
        block = tuple(sorted(block))
        k = len(block)
        if k % 2:
            return 0.0
        if k == 2:
            return float(self.K[block[0], block[1]])
        subs = [tuple(sorted(block[i] for i in b)) for _, part in _weighted_partitions(k) for b in part]
        self.moments(subs)
        total = 0.0
        for weight, part in _weighted_partitions(k):
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
                  for _, part in _weighted_partitions(len(b)) for sub in part}
        self.moments(sorted(needed))
        kappa: dict[tuple, float] = {}
        g = np.empty(len(combos))
        g0 = np.empty(len(combos))
        for r, c in enumerate(combos):
            total = free = 0.0
            for part in _even_partitions_of_range(len(c)):
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

    def estimator_variance(self, combo, N: int) -> float:
        """Variance of one network's product f(x_1)...f(x_n): G^(2n)(combo, combo) − G^(n)(combo)²."""
        combo = tuple(combo)
        (g2n, g), _ = self.correlators([combo + combo, combo], N)
        return g2n - g * g

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
        matchings = [[(combo[a], combo[b]) for a, b in part] for part in _even_partitions_of_range(len(combo))
                     if all(len(b) == 2 for b in part)]
        second = sum(self.conditional_moment(P + Q, N) for P in matchings for Q in matchings)
        (g,), _ = self.correlators([tuple(combo)], N)
        return second - g * g
