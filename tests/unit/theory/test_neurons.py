"""Single-neuron theory of GaussNet, ReLU and Erf at any d_in (nnqft.theory.neurons) and the exact finite-width
theory built on it (nnqft.theory.exact.Theory): closed-form kernels against the quadratures, the quadratures'
convergence at every rank up to 4, Monte Carlo checks, and sampled networks against the exact correlators."""
import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy.special import erf

from nnqft import combos
from nnqft.theory import cones, neurons
from nnqft.theory.exact import Theory

from helpers import ERF_POINTS, RELU_POINTS
from helpers import HMS_POINTS as POINTS
from helpers import products, zscores


def rel(a, b):
    return np.abs(np.asarray(a) - np.asarray(b)) / np.maximum(np.abs(np.asarray(b)), 1e-300)


# --- kernels: closed forms against the quadratures' 2-point moments ------------------------------------

@pytest.mark.parametrize("d_in", [1, 2, 3])
@pytest.mark.parametrize("sigma_b, sigma_w", [(1.0, 1.0), (0.3, 2.0), (2.0, 0.5)])
def test_relu_kernel_equals_the_cone_quadrature(d_in, sigma_b, sigma_w):
    pts = np.array(RELU_POINTS[d_in] + [[-v for v in RELU_POINTS[d_in][0]]], dtype=float)  # an obtuse pair too
    cov = neurons.preactivation_covariance(pts, sigma_b, sigma_w)
    K = neurons.kernel_matrix("relu", pts, sigma_b, sigma_w)
    for i, j in itertools.combinations_with_replacement(range(len(pts)), 2):
        m = neurons.relu_moment(cov[np.ix_([i, j], [i, j])])
        assert rel(sigma_b**2 + sigma_w**2 * m, K[i, j]) <= 1e-13, (i, j)


@pytest.mark.parametrize("d_in", [1, 2, 3])
@pytest.mark.parametrize("sigma_b, sigma_w", [(1.0, 1.0), (3.0, 3.0), (0.5, 2.0)])
def test_erf_kernel_equals_the_price_recursion(d_in, sigma_b, sigma_w):
    pts = np.array(ERF_POINTS[d_in], dtype=float)
    cov = neurons.preactivation_covariance(pts, sigma_b, sigma_w)
    K = neurons.kernel_matrix("erf", pts, sigma_b, sigma_w)
    pairs = list(itertools.combinations_with_replacement(range(len(pts)), 2))
    stack = np.array([cov[np.ix_(p, p)] for p in pairs])
    m = neurons.erf_moments(stack, closed_pair=False)  # the recursion down to k = 0, not the arcsine
    np.testing.assert_array_less(rel(sigma_b**2 + sigma_w**2 * m, [K[p] for p in pairs]), 1e-13)


@pytest.mark.parametrize("d_in", [1, 2, 3])
def test_gauss_kernel_and_moments_against_gauss_hermite(d_in):
    pts = np.array(POINTS["gauss"][d_in], dtype=float) * 20  # |x| up to 0.2 * sqrt(d_in)
    sigma_b, sigma_w = 0.7, 1.3
    cov = neurons.preactivation_covariance(pts, sigma_b, sigma_w)
    K = neurons.kernel_matrix("gauss", pts, sigma_b, sigma_w)
    x, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / math.sqrt(2 * math.pi)
    for idx in ([0, 1], [0, 0], [0, 1, 1, 2], [1, 1, 1, 3, 3, 0]):
        a = cones._factor(cov[np.ix_(idx, idx)])  # z = a u, u ~ N(0, I_s)
        grids = np.meshgrid(*[x] * a.shape[1], indexing="ij")
        u = np.stack([g.ravel() for g in grids], axis=1)
        weight = np.prod(np.meshgrid(*[w] * a.shape[1], indexing="ij"), axis=0).ravel()
        z = u @ a.T
        phi = np.exp(z - np.diag(cov)[idx])
        quad = float(weight @ np.prod(phi, axis=1))
        assert rel(neurons.gauss_moment(cov[np.ix_(idx, idx)]), quad) <= 1e-13, idx
        if len(idx) == 2:
            assert rel(sigma_b**2 + sigma_w**2 * quad, K[idx[0], idx[1]]) <= 1e-13


# --- convergence of the quadratures at every rank --------------------------------------------------------

def multisets_by_rank(cov, sizes=(2, 4, 6)):
    """Multisets of point indices grouped by the rank of their pre-activation covariance."""
    out: dict[int, list] = {}
    for k in sizes:
        for m in combos.multisets(cov.shape[0], k):
            r = np.linalg.matrix_rank(cov[np.ix_(m, m)], tol=1e-10 * np.abs(cov).max())
            out.setdefault(int(r), []).append(m)
    return out


@pytest.mark.parametrize("activation, sigma", [("relu", 1.0), ("erf", 1.0), ("erf", 3.0)])
def test_doubling_the_quadrature_changes_no_moment_above_1e_12_at_every_rank(activation, sigma):
    """σ_b = σ_W = 3 at |x| = 1 is the largest pre-activation variance the Erf quadrature accepts (18);
    the ReLU moments are homogeneous in the scale of z, so one σ checks them all."""
    seen = set()
    for d_in, pts in POINTS[activation].items():
        cov = neurons.preactivation_covariance(np.array(pts, float), sigma, sigma)
        for rank, sets in multisets_by_rank(cov).items():
            seen.add(rank)
            chosen = sets[:: max(1, len(sets) // 3)][:3] + sets[-1:]  # a spread of each rank, all sizes
            for m in chosen:
                c = cov[np.ix_(m, m)]
                if activation == "relu":
                    a, b = neurons.relu_moment(c), neurons.relu_moment(c, 2 * neurons.RELU_NODES)
                else:
                    n = neurons.erf_nodes(np.diag(c).max())
                    a, b = neurons.erf_moments(c[None])[0], neurons.erf_moments(c[None], 2 * n)[0]
                assert rel(a, b) < 1e-12, (d_in, rank, m, a, b)
    assert seen == {1, 2, 3, 4}


def test_too_much_variance_for_the_erf_quadrature_is_refused():
    cov = neurons.preactivation_covariance(np.array([[1.0], [0.5]]), 3.1, 3.0)
    with pytest.raises(ValueError, match="above 18"):
        neurons.moment("erf", cov)


def test_rank_above_four_is_refused():
    cov = np.eye(5) + 0.1
    with pytest.raises(ValueError, match="rank 5"):
        neurons.relu_moment(cov)


# --- closed forms and Monte Carlo --------------------------------------------------------------------------

def test_relu_rank_one_and_degenerate_cones():
    # z = a u: E[relu(z)^k] = |a|^k E[u^k; u > 0]
    for k in range(1, 7):
        cov = np.full((k, k), 2.0)
        expect = 2.0 ** (k / 2) * 2 ** (k / 2 - 1) * math.gamma((k + 1) / 2) / math.sqrt(math.pi)
        assert rel(neurons.relu_moment(cov), expect) < 1e-14
    # z_2 = -z_1: relu(z_1) relu(z_2) = 0 everywhere
    assert neurons.relu_moment(np.array([[1.0, -1.0], [-1.0, 1.0]])) == 0.0
    # a pre-activation that is identically 0 (σ_b = 0 at x = 0)
    assert neurons.relu_moment(np.array([[1.0, 0.0], [0.0, 0.0]])) == 0.0


MC_CASES = [(act, d_in, m) for act in ("relu", "erf") for d_in in (1, 2, 3)
            for m in ((0, 1, 2, 3), (0, 0, 1, 3), (0, 1, 2, 3, 3, 1), (1, 1, 2, 2, 3, 3))]


def monte_carlo(activation, cov, m, n, rng):
    a = cones._factor(cov)
    z = rng.standard_normal((n, a.shape[1])) @ a.T
    phi = np.maximum(z, 0.0) if activation == "relu" else erf(z)
    v = np.prod(phi[:, list(m)], axis=1)
    return v.mean(), v.std(ddof=1) / math.sqrt(n)


def test_moments_agree_with_monte_carlo():
    """z-scores of 2·10^6-sample means against the quadratures, Bonferroni at α = 10⁻³ (the products have
    all moments finite, so the sample mean is normal to a good approximation at this size); the ReLU
    moments taken from the Erf theory and vice versa must fail."""
    rng = np.random.default_rng(20261123)
    bound = NormalDist().inv_cdf(1 - 1e-3 / (2 * len(MC_CASES)))
    z_right, z_swapped = [], []
    for act, d_in, m in MC_CASES:
        cov = neurons.preactivation_covariance(np.array(POINTS[act][d_in], float), 1.0, 1.0)
        mean, se = monte_carlo(act, cov, m, 2_000_000, rng)
        z_right.append((mean - neurons.moment(act, cov[np.ix_(m, m)])) / se)
        other = "erf" if act == "relu" else "relu"
        z_swapped.append((mean - neurons.moment(other, cov[np.ix_(m, m)])) / se)
    assert np.max(np.abs(z_right)) < bound, z_right
    assert np.min(np.abs(z_swapped)) > bound, z_swapped


# --- the exact finite-width theory against sampled networks ----------------------------------------------

def sample_outputs(activation, points, sigma_b, sigma_w, N, n_nets, rng, w0_variance=None):
    """f(x) of n_nets networks of the model of docs/science.md §8, in plain numpy (independent of the
    kernels). ``w0_variance`` replaces σ_W²/d_in (a deliberately wrong model)."""
    x = np.array(points, float)
    d_in = x.shape[1]
    var0 = sigma_w**2 / d_in if w0_variance is None else w0_variance
    out = np.zeros((n_nets, len(x)))
    for _ in range(N):
        w0 = rng.standard_normal((n_nets, d_in)) * math.sqrt(var0)
        b0 = rng.standard_normal((n_nets, 1)) * sigma_b
        w1 = rng.standard_normal((n_nets, 1)) * sigma_w / math.sqrt(N)
        z = w0 @ x.T + b0
        if activation == "relu":
            phi = np.maximum(z, 0.0)
        elif activation == "erf":
            phi = erf(z)
        else:
            phi = np.exp(z - (sigma_b**2 + sigma_w**2 * (x * x).sum(axis=1) / d_in))
        out += w1 * phi
    return out + rng.standard_normal((n_nets, 1)) * sigma_b


@pytest.mark.parametrize("activation", ["relu", "erf"])
@pytest.mark.parametrize("d_in", [1, 2, 3])
def test_sampled_networks_agree_with_the_exact_theory_and_wrong_models_fail(activation, d_in):
    """G^(2) and G^(4) of 400,000 networks at N = 2 (σ_b = σ_W = 1) against Theory, every combination,
    Bonferroni at α = 10⁻³. The 1/N part is resolved: the Wick prediction fails. So do the other
    activation's theory and the wrong d_in scaling of W0 (variance σ_W² instead of σ_W²/d_in)."""
    rng = np.random.default_rng(1000 + d_in)
    pts = POINTS[activation][d_in][:4]
    N = 2
    cs, prods = products(sample_outputs(activation, pts, 1.0, 1.0, N, 400_000, rng))
    theory = Theory(activation, pts, 1.0, 1.0)
    z = zscores(cs, prods, theory, N)
    bound = NormalDist().inv_cdf(1 - 1e-3 / (2 * len(z)))
    assert np.abs(z).max() < bound, z
    assert np.abs(zscores(cs, prods, theory, 10**9)).max() > bound  # N → ∞: the free theory
    other = Theory("erf" if activation == "relu" else "relu", pts, 1.0, 1.0)
    assert np.abs(zscores(cs, prods, other, N)).max() > bound
    if d_in > 1:
        cs, wrong = products(sample_outputs(activation, pts, 1.0, 1.0, N, 400_000, rng, w0_variance=1.0))
        assert np.abs(zscores(cs, wrong, theory, N)).max() > bound


def test_two_point_function_is_the_kernel_at_every_width():
    for activation in ("gauss", "relu", "erf"):
        pts = POINTS[activation][2]
        th = Theory(activation, pts, 1.0, 1.0)
        pairs = combos.multisets(len(pts), 2)
        for N in (1, 2, 50):
            g, g0 = th.correlators(pairs, N)
            np.testing.assert_allclose(g, [th.K[p] for p in pairs], rtol=1e-15)
            np.testing.assert_allclose(g0, g, rtol=1e-15)
