"""Several outputs (d_out > 1): exactly at every N at one hidden layer and for linear networks, at order 1/N deeper
(docs/science.md §12). At one hidden layer:

f_i(x) = Σ_j W1_ij φ_j(x) + b1_i for i = 1..d_out, the rows of W1 and the b1_i i.i.d.: given the hidden layer the
outputs are independent centred Gaussian processes with the same covariance C(x, y) = σ_b² + (σ_W²/N) Σ_j φ_j(x) φ_j(y).
So a moment of outputs at points is Wick's sum over the pairings that pair each factor with a factor of the same
output, of E[Π_pairs C] over first layers (:meth:`nnqft.theory.exact.Theory.conditional_moment`, exact at every N):

    E[Π_l f_{i_l}(x_l)] = Σ_{π pairs only equal outputs} E[Π_{(l,m)∈π} C(x_l, x_m)].

With one output every pairing counts and this is the one-output theory's G^(n) (tested). A factor is a pair
(point index, output index); a combination of several outputs is a tuple of factors. Consequences, each tested:
⟨f_i f_j⟩ = δ_ij K; for i ≠ j, ⟨f_i(x1) f_i(x2) f_j(x3) f_j(x4)⟩_c = V(12;34)/N with
V(ab;cd) = σ_W⁴(E[φ_aφ_bφ_cφ_d] − E[φ_aφ_b]E[φ_cφ_d]); and ⟨f_i⁴⟩_c = 3⟨f_i² f_j²⟩_c at one point (the O(d_out)
symmetry of the outputs' law). Deeper, C is the last layer's Ĝ^(L+1) and E[Π C] the theory's
:meth:`nnqft.theory.base.FieldTheory.conditional_moments` (exact for linear networks, order 1/N otherwise): the same
formulas hold with the output layer's vertex.
"""
from __future__ import annotations

import numpy as np

from .exact import Theory
from .partitions import pairings

Factor = tuple[int, int]  # (point index, output index)


def correlator(theory: Theory, factors, N: int) -> float:
    """E[Π_l f_{o_l}(x_{p_l})] for ``factors`` ((p_1, o_1), (p_2, o_2), ...) at width N: the sum over the pairings that
    pair equal outputs of E[Π C] (module docstring); 0 for an odd number of factors or of any one output."""
    factors = [tuple(int(v) for v in f) for f in factors]
    if len(factors) % 2:
        return 0.0
    return float(sum(theory.conditional_moment(pairs, N) for pairs in output_pairings(factors)))


def correlators(theory: Theory, combos, N: int) -> np.ndarray:
    """:func:`correlator` of each combination of ``combos`` (tuples of (point, output) factors)."""
    return np.array([correlator(theory, c, N) for c in combos])


def gaussian(theory: Theory, combos, N: int) -> np.ndarray:
    """The Gaussian process's value of each combination, its deviations' reference (docs/science.md §8, §12): Wick's
    sum over the pairings that pair equal outputs of the product of the kernel K(x_a, x_b), the infinite-width
    2-point function (the same for every output: at N = ∞ the outputs are independent Gaussian processes; at one
    hidden layer K is G^(2) at every N, deeper G^(2) = K + K1/N). With one output it is the one-output theory's G_0
    (the second array of :meth:`nnqft.theory.base.FieldTheory.correlators`, which gives K); 0 where some output
    appears an odd number of times."""
    n_points = len(theory.points)
    pairs = [(a, b) for a in range(n_points) for b in range(a, n_points)]
    K = dict(zip(pairs, theory.correlators(pairs, N)[1]))
    combos = [[tuple(int(v) for v in f) for f in c] for c in combos]
    return np.array([sum(float(np.prod([K[min(a, b), max(a, b)] for a, b in pairing]))
                         for pairing in output_pairings(c)) for c in combos])


def output_pairings(factors) -> list[list[tuple[int, int]]]:
    """The pairings of ``factors`` that pair equal outputs, each as pairs of point indices (none for an odd number of
    factors of some output)."""
    return [[(factors[a][0], factors[b][0]) for a, b in pairing] for pairing in pairings(range(len(factors)))
            if all(factors[a][1] == factors[b][1] for a, b in pairing)]


def conditional_variances(theory: Theory, combos, N: int) -> np.ndarray:
    """The variance over networks of one network's conditional estimate of each combination (its output-respecting
    Wick sum of Π Ĝ): Σ_{P, Q} E[Π_P Ĝ Π_Q Ĝ] − G², exact at every N (as
    :meth:`nnqft.theory.exact.Theory.conditional_estimator_variance` for one output). The expectations of each size
    are computed in one batch."""
    combos = [[tuple(int(v) for v in f) for f in c] for c in combos]
    terms = [(k, P + Q) for k, c in enumerate(combos) if len(c) % 2 == 0
             for P in output_pairings(c) for Q in output_pairings(c)]
    g = correlators(theory, combos, N)
    return _sums_of_moments(theory, terms, len(combos), N) - g * g


def plain_variances(theory: Theory, combos, N: int) -> np.ndarray:
    """The variance over networks of one network's product Π_l f_{o_l}(x_{p_l}) (the plain estimator) of each
    combination: G(c ⊎ c) − G(c)², the moment of the combination taken twice (its output-respecting pairings, as
    :func:`correlator`) less its square, exact at every N."""
    combos = [[tuple(int(v) for v in f) for f in c] for c in combos]
    terms = [(k, pairs) for k, c in enumerate(combos) for pairs in output_pairings(c + c)]
    g = correlators(theory, combos, N)
    return _sums_of_moments(theory, terms, len(combos), N) - g * g


def _sums_of_moments(theory: Theory, terms, n: int, N: int) -> np.ndarray:
    """Σ over the ``terms`` (combination index k < n, pairs of point indices) of each k of E[Π_pairs C], the
    expectations of each number of pairs computed in one batch."""
    by_size: dict[int, list] = {}
    for k, pairs in terms:
        by_size.setdefault(len(pairs), []).append((k, pairs))
    total = np.zeros(n)
    for size, rows in by_size.items():
        values = theory.conditional_moments(np.array([pairs for _, pairs in rows], dtype=np.int64).reshape(
            len(rows), size, 2), N)
        np.add.at(total, [k for k, _ in rows], values)
    return total


def connected_four_point(theory: Theory, factors, N: int) -> float:
    """The connected part of a 4-point function of outputs, ⟨f f f f⟩ − Σ over the three pairings of ⟨f f⟩⟨f f⟩ (the
    outputs are centred)."""
    factors = [tuple(f) for f in factors]
    if len(factors) != 4:
        raise ValueError(f"{len(factors)} factors: a 4-point function has 4")
    two = {}

    def g2(a, b):
        key = (a, b)
        if key not in two:
            two[key] = correlator(theory, [factors[a], factors[b]], N)
        return two[key]

    return correlator(theory, factors, N) - sum(g2(a, b) * g2(c, d) for (a, b), (c, d) in pairings(range(4)))


def vertex(theory: Theory, a: int, b: int, c: int, d: int) -> float:
    """V(ab;cd) = σ_W⁴ (E[φ_aφ_bφ_cφ_d] − E[φ_aφ_b] E[φ_cφ_d]) of one neuron (docs/science.md §12): N times the connected
    ⟨f_i(x_a) f_i(x_b) f_j(x_c) f_j(x_d)⟩ of two outputs i ≠ j."""
    m4, ab, cd = theory.moments([(a, b, c, d), (a, b), (c, d)])
    return theory.sigma_w**4 * (m4 - ab * cd)
