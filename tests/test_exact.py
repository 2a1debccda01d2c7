import numpy as np
import pytest

from nnqft import combos, exact


@pytest.mark.parametrize("n, count", [(2, 1), (4, 3), (6, 15), (8, 105)])
def test_number_of_wick_pairings(n, count):
    assert len(exact.pairings(range(n))) == count


def test_two_point_function_is_K_at_every_width():
    for N in (1, 2, 1000):
        assert exact.correlator([0.01, -0.006], 1.0, 2.0, N) == pytest.approx(exact.kernel_K(0.01, -0.006, 1.0, 2.0))


def test_infinite_width_limit_is_wick():
    xs = [-0.01, -0.002, 0.006, 0.01]
    g0 = exact.free_correlator(xs, 1.0, 1.0)
    gaps = [abs(exact.correlator(xs, 1.0, 1.0, N) - g0) for N in (10, 100, 1000)]
    assert gaps[1] == pytest.approx(gaps[0] / 10, rel=1e-9) and gaps[2] == pytest.approx(gaps[0] / 100, rel=1e-9)


def test_single_neuron_four_point_by_brute_force():
    """N = 1, sigma_b = 0: f = W1 exp(W0 x - sigma_w^2 x^2) + b1 with b1 = 0, so
    E f^4 = E[W1^4] E[exp(4 W0 x)] exp(-4 sigma_w^2 x^2), checked by Gauss-Hermite quadrature."""
    x, sigma_w = 0.3, 1.3
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    e_g4 = np.sum(weights * np.exp(4 * sigma_w * nodes * x - 4 * sigma_w**2 * x**2))
    brute = 3 * sigma_w**4 * e_g4
    assert exact.correlator([x] * 4, 0.0, sigma_w, 1) == pytest.approx(brute, rel=1e-10)


def test_batched_correlators_equal_the_one_at_a_time_sums_bit_for_bit():
    points = [0.01, -0.006, 0.002, -0.01]  # unsorted on purpose
    for order in (2, 4, 6):
        ms = combos.multisets(len(points), order)
        g, g0 = exact.correlators(points, ms, 1.0, 2.5, 3)
        one = [exact.correlator([points[i] for i in c], 1.0, 2.5, 3) for c in ms]
        free = [exact.free_correlator([points[i] for i in c], 1.0, 2.5) for c in ms]
        assert g.tobytes() == np.array(one).tobytes()
        assert g0.tobytes() == np.array(free).tobytes()
