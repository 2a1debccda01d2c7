"""The exact finite-width theory (nnqft.theory.exact.Theory) against what is known independently of its partition
sums: the pairings' count, the kernel in closed form, the 1/N approach to Wick, a one-neuron brute force."""
import numpy as np
import pytest

from nnqft import combos
from nnqft.theory.exact import Theory
from nnqft.theory.partitions import pairings


@pytest.mark.parametrize("n, count", [(2, 1), (4, 3), (6, 15), (8, 105)])
def test_number_of_wick_pairings(n, count):
    assert len(pairings(range(n))) == count


def test_two_point_function_is_K_at_every_width():
    """GaussNet's K(x, y) = σ_b² + σ_W² exp(−σ_W² (x − y)² / 2) at d_in = 1, written out here."""
    th = Theory("gauss", [0.01, -0.006], 1.0, 2.0)
    K = 1.0 + 4.0 * np.exp(-4.0 * 0.016**2 / 2)
    for N in (1, 2, 1000):
        (g,), _ = th.correlators([(0, 1)], N)
        assert g == pytest.approx(K, rel=1e-14)


def test_infinite_width_limit_is_wick():
    th = Theory("gauss", [-0.01, -0.002, 0.006, 0.01], 1.0, 1.0)
    gaps = [abs(np.subtract(*th.correlators([(0, 1, 2, 3)], N))[0]) for N in (10, 100, 1000)]
    assert gaps[1] == pytest.approx(gaps[0] / 10, rel=1e-9) and gaps[2] == pytest.approx(gaps[0] / 100, rel=1e-9)


def test_single_neuron_four_point_by_brute_force():
    """N = 1, sigma_b = 0: f = W1 exp(W0 x - sigma_w^2 x^2) + b1 with b1 = 0, so
    E f^4 = E[W1^4] E[exp(4 W0 x)] exp(-4 sigma_w^2 x^2), checked by Gauss-Hermite quadrature."""
    x, sigma_w = 0.3, 1.3
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    e_g4 = np.sum(weights * np.exp(4 * sigma_w * nodes * x - 4 * sigma_w**2 * x**2))
    brute = 3 * sigma_w**4 * e_g4
    (g,), _ = Theory("gauss", [x], 0.0, sigma_w).correlators([(0, 0, 0, 0)], 1)
    assert g == pytest.approx(brute, rel=1e-10)


def test_the_free_theory_is_the_sum_over_pairings_of_K():
    """G_0^(n) = Σ over the perfect matchings of Π K, at every order, from the kernel matrix alone."""
    th = Theory("relu", [[0.5, 0.5], [0.5, 1.0], [1.0, 0.5]], 1.0, 1.0)
    for order in (2, 4, 6):
        cs = combos.multisets(3, order)
        _, g0 = th.correlators(cs, 7)
        wick = [sum(np.prod([th.K[c[a], c[b]] for a, b in p]) for p in pairings(range(order))) for c in cs]
        np.testing.assert_allclose(g0, wick, rtol=1e-13)


def test_a_theory_reused_at_another_width_gives_the_bits_of_a_fresh_one():
    """The moments are listed and computed at the first width a theory is asked for only (they do not depend on N): at
    a second width it gives what a theory built for that width alone gives, to the bit (Erf's quadrature included)."""
    points, cs = [-1.0, 0.2, 1.0], combos.multisets(3, 4)
    reused = Theory("erf", points, 1.0, 1.0)
    reused.correlators(cs, 2)
    for N in (3, 50):
        g, g0 = reused.correlators(cs, N)
        fresh, fresh0 = Theory("erf", points, 1.0, 1.0).correlators(cs, N)
        assert g.tobytes() == fresh.tobytes() and g0.tobytes() == fresh0.tobytes()
    assert not Theory("erf", points, 1.0, 1.0).correlators(cs, 3)[0].tobytes() == reused.correlators(cs, 2)[0].tobytes()
