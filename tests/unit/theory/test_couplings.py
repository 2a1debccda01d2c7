from itertools import combinations

import numpy as np
import pytest
from scipy import integrate

from nnqft import combos
from nnqft.theory import couplings, neurons
from nnqft.theory.exact import Theory

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


def test_u4_from_the_exact_theory_equals_the_single_neuron_formula():
    """At four distinct points ΔG^(4) = κ_4(h) = N κ_4(W1 g) = (σ_W⁴/N)(3 M_1234 − M_12 M_34 − M_13 M_24 − M_14 M_23),
    with GaussNet's closed-form neuron moments M_S = exp(σ_b²(k²/2 − k) + σ_W²((Σx)²/2 − Σx²)) written out here:
    u_4 from the theory's partition sums against this, and negative."""
    sigma_b, sigma_w, N = 1.0, 1.0, 10
    xs = [-0.01, -0.002, 0.006, 0.01]

    def M(*idx):
        x = np.array([xs[i] for i in idx])
        k = len(x)
        return np.exp(sigma_b**2 * (k * k / 2 - k) + sigma_w**2 * (x.sum() ** 2 / 2 - (x**2).sum()))

    kappa = sigma_w**4 / N * (3 * M(0, 1, 2, 3) - M(0, 1) * M(2, 3) - M(0, 2) * M(1, 3) - M(0, 3) * M(1, 2))
    (g,), (g0,) = Theory("gauss", xs, sigma_b, sigma_w).correlators([(0, 1, 2, 3)], N)
    u4 = couplings.u4_from_delta(g - g0, xs, sigma_w)
    assert u4 == pytest.approx(-kappa / couplings.I_n(xs, sigma_w), rel=1e-9)
    assert u4 < 0


def test_u6_extraction_inverts_the_tree_level_relation():
    """Build G_c^(6) from chosen u_4, u_6 and check that the extraction gives u_6 back."""
    sigma_w, u4, u6 = 2.0, -0.3, 0.05
    g_c6 = -u6 * couplings.I_n(XS6, sigma_w) + u4**2 * couplings.T_6(XS6, sigma_w)
    assert couplings.u6_from_connected(g_c6, u4, XS6, sigma_w) == pytest.approx(u6, rel=1e-10)


def test_the_six_point_splits_remove_the_disconnected_4_plus_2_part():
    """With exact correlators, ΔG^(6) − Σ_15 ΔG^(4) K over the splits of couplings.six_point_splits equals the
    theory's joint cumulant κ_6 of the six points (moment-cumulant over single-neuron moments, not correlators)."""
    sigma_b, sigma_w, N = 1.0, 1.0, 5
    th = Theory("gauss", XS6, sigma_b, sigma_w)
    ms4, ms6 = [list(combos.multisets(6, n)) for n in (4, 6)]
    g4, g0_4 = th.correlators(ms4, N)
    g6, g0_6 = th.correlators(ms6, N)
    split_idx, split_k = couplings.six_point_splits(neurons.kernel_matrix("gauss", XS6, sigma_b, sigma_w))
    g_c6 = (g6 - g0_6) - np.sum((g4 - g0_4)[split_idx] * split_k, axis=1)
    kappa = np.array([th.cumulant(c, N) for c in ms6])
    np.testing.assert_allclose(g_c6, kappa, rtol=1e-8, atol=1e-12 * np.abs(kappa).max())
    assert not np.allclose(g6 - g0_6, kappa, rtol=1e-3)  # the 4 + 2 part is there to remove


# --- d_in > 1 (docs/science.md §8): the closed forms against quadrature on a grid -----------------------
# The integrands are Gaussians in the integration variables, for which the trapezoid rule on a grid of
# spacing well below their width converges faster than any power: agreement to 1e-10 checks the formulas.

def _grid(d, half=9.0, n=61):
    axis = np.linspace(-half, half, n)
    h = axis[1] - axis[0]
    mesh = np.stack(np.meshgrid(*[axis] * d, indexing="ij"), axis=-1).reshape(-1, d)
    return mesh, h**d


def _K_W(x, y, sigma_w, d):
    return sigma_w**2 * np.exp(-(sigma_w**2) * ((x - y) ** 2).sum(axis=-1) / (2 * d))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_I_n_at_any_d_in_matches_quadrature(d):
    rng = np.random.default_rng(d)
    sigma_w = 1.3
    for n in (4, 6):
        xs = rng.normal(size=(n, d)) * 0.6
        mesh, w = _grid(d, n=121 if d < 3 else 41)
        integrand = np.prod([_K_W(mesh, x, sigma_w, d) for x in xs], axis=0)
        assert couplings.I_n(xs, sigma_w) == pytest.approx(integrand.sum() * w, rel=1e-10)
    if d == 1:  # numbers and rows of one number are the same points
        assert couplings.I_n(xs[:, 0], sigma_w) == couplings.I_n(xs, sigma_w)


def test_T_6_at_d_in_2_matches_quadrature():
    d, sigma_w = 2, 1.1
    xs = np.random.default_rng(7).normal(size=(6, d)) * 0.5
    mesh, w = _grid(d, half=7.0, n=36)
    total = 0.0
    for a in combinations(range(1, 6), 2):
        A = (0,) + a
        B = [i for i in range(6) if i not in A]
        fy = np.prod([_K_W(mesh, xs[i], sigma_w, d) for i in A], axis=0)  # over y
        fz = np.prod([_K_W(mesh, xs[j], sigma_w, d) for j in B], axis=0)  # over z
        kyz = _K_W(mesh[:, None, :], mesh[None, :, :], sigma_w, d)
        total += fy @ kyz @ fz * w * w
    assert couplings.T_6(xs, sigma_w) == pytest.approx(total, rel=1e-9)
