import numpy as np
import pytest
from scipy import integrate

from nnqft import couplings, exact

XS6 = [-0.01, -0.006, -0.002, 0.002, 0.006, 0.01]


def K_W(x, y, sigma_w):
    return sigma_w**2 * np.exp(-(sigma_w**2) * (x - y) ** 2 / 2)


@pytest.mark.parametrize("sigma_w", [1.0, 3.0])
@pytest.mark.parametrize("xs", [[0.1, -0.3, 0.5, 0.2], [-0.01, -0.01, 0.006, 0.01], XS6])
def test_I_n_closed_form_matches_quadrature(xs, sigma_w):
    f = lambda x: np.prod([K_W(x, xi, sigma_w) for xi in xs])
    numeric, _ = integrate.quad(f, -np.inf, np.inf, epsabs=0, epsrel=1e-12)
    assert couplings.I_n(xs, sigma_w) == pytest.approx(numeric, rel=1e-9)


@pytest.mark.parametrize("sigma_w", [0.8, 1.5])
def test_T_6_closed_form_matches_quadrature(sigma_w):
    """Tensor Gauss-Legendre rule on [-12, 12]^2 (the integrand is a smooth Gaussian of width ~1/sigma_w)."""
    from itertools import combinations
    xs = [0.3, -0.2, 0.1, 0.5, -0.4, 0.0]
    nodes, weights = np.polynomial.legendre.leggauss(300)
    y, z = np.meshgrid(12 * nodes, 12 * nodes, indexing="ij")
    w = np.outer(weights, weights) * 144
    total = 0.0
    for a in combinations(range(1, 6), 2):
        A = (0,) + a
        B = [i for i in range(6) if i not in A]
        f = np.prod([K_W(xs[i], y, sigma_w) for i in A], axis=0) * K_W(y, z, sigma_w)
        f *= np.prod([K_W(xs[j], z, sigma_w) for j in B], axis=0)
        total += np.sum(w * f)
    assert couplings.T_6(xs, sigma_w) == pytest.approx(total, rel=1e-9)


def test_u4_recovers_the_exact_value_from_exact_correlators():
    """Feeding the exact G^(4) gives u_4 = -kappa_4(h) / I_4, which is negative and O(1/N)."""
    sigma_b, sigma_w, N = 1.0, 1.0, 10
    xs = [-0.01, -0.002, 0.006, 0.01]
    delta = exact.correlator(xs, sigma_b, sigma_w, N) - exact.free_correlator(xs, sigma_b, sigma_w)
    u4 = couplings.u4_from_delta(delta, xs, sigma_w)
    assert u4 == pytest.approx(-exact.h_cumulant(xs, sigma_b, sigma_w, N) / couplings.I_n(xs, sigma_w), rel=1e-9)
    assert u4 < 0


def test_u6_extraction_inverts_the_tree_level_relation():
    """Build G_c^(6) from chosen u_4, u_6 and check that the extraction gives u_6 back."""
    sigma_w, u4, u6 = 2.0, -0.3, 0.05
    g_c6 = -u6 * couplings.I_n(XS6, sigma_w) + u4**2 * couplings.T_6(XS6, sigma_w)
    assert couplings.u6_from_connected(g_c6, u4, XS6, sigma_w) == pytest.approx(u6, rel=1e-10)


def test_connected_6_removes_the_disconnected_4_plus_2_part():
    """With exact correlators, G_c^(6) equals the exact connected 6-point cumulant kappa_6(h)."""
    sigma_b, sigma_w, N = 1.0, 1.0, 5
    dg = lambda ys: exact.correlator(ys, sigma_b, sigma_w, N) - exact.free_correlator(ys, sigma_b, sigma_w)
    g_c6 = couplings.connected_6(dg(XS6), dg, XS6, sigma_b, sigma_w)
    # G^(6) = Wick + sum_15 kappa_4 K + kappa_6 and Delta G^(4) = kappa_4, so G_c^(6) = kappa_6
    assert g_c6 == pytest.approx(exact.h_cumulant(XS6, sigma_b, sigma_w, N), rel=1e-9)
