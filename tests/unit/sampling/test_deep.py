"""Deep networks (docs/science.md §10): the layer-by-layer kernel against the exact linear theory and the numpy
reference sampler, the 1/N theory against the exact theories and against samples, and criticality."""
import math

import numpy as np
import pytest

from helpers import chebyshev_bound, exact_zscores, normal_bonferroni_bound
from nnqft import combos
from nnqft.model import Model
from nnqft.sampling import bags, deep, reference, streams
from nnqft.theory.deep import DeepTheory, pair_expectation, square_expectation
from nnqft.theory.linear import LinearTheory
from nnqft.theory.exact import Theory

PAPER_POINTS = [-0.01, -0.006, -0.002, 0.002, 0.006, 0.01]


def bag_means(model, n_bags, orders=(2, 4), seed=5):
    return np.stack([bags.bag_correlators(model, seed, b, list(orders)) for b in range(n_bags)])


def output_combos(n_points, orders=(2, 4)):
    return [c for _, c in combos.output_combos(n_points, list(orders))]


# --- streams and the factorisation ----------------------------------------------------------------------------

def test_depth_one_keeps_the_first_versions_keys_and_each_depth_has_its_own():
    m = Model("relu", [0.5], 0.3, 1.2, 10, 100)
    first = np.random.SeedSequence(entropy=7, spawn_key=(1, streams.float_bits(0.3), streams.float_bits(1.2), 10, 100,
                                                         3)).generate_state(2, dtype=np.uint64)
    assert streams.bag_key(7, m, 3) == tuple(int(k) for k in first)
    keys = {streams.bag_key(7, m.at(depth=d, estimator=e), 3) for d in (1, 2, 3) for e in ("plain", "conditional")}
    assert len(keys) == 6


def test_the_pivoted_cholesky_factors_the_near_singular_covariances_of_close_points():
    model = Model("relu", PAPER_POINTS, 0.1, 1.4, 30, depth=3)
    covs = deep.output_covariances(streams.bag_key(1, model, 0), model, range(200))
    failures = 0
    for cov in covs:
        R = deep.factor(cov)
        assert np.isfinite(R).all()
        assert np.abs(R @ R.T - cov).max() <= 1e-12 * np.abs(cov).max()
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            failures += 1
    # without the pivoting and the stop at the numerical rank the factorisation fails on such matrices
    assert failures > 0
    singular = np.outer([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) + np.outer([1.0, 0.0, -1.0], [1.0, 0.0, -1.0])
    R = deep.factor(singular)
    assert R.shape == (3, 2) and np.allclose(R @ R.T, singular, rtol=0, atol=1e-14)


def test_bits_do_not_depend_on_the_thread_count():
    for estimator in ("plain", "conditional"):
        model = Model("erf", [0.3, 0.9], 0.2, 1.3, 12, 1100, estimator, depth=3)
        a = bags.bag_correlators(model, 3, 1, [2, 4], threads=1)
        b = bags.bag_correlators(model, 3, 1, [2, 4])
        assert a.tobytes() == b.tobytes()


# --- the kernel against the exact linear theory and the reference sampler --------------------------------------

@pytest.mark.parametrize("estimator", ["plain", "conditional"])
@pytest.mark.parametrize("points,depth,N", [([0.4, -0.7, 1.1], 2, 3), ([[0.3, 0.5], [1.0, -0.2]], 3, 5)])
def test_linear_networks_sample_the_exact_deep_linear_theory(points, depth, N, estimator):
    """Linear networks at small N, where they are far from Gaussian: z-scores from the exact variance of one network's
    estimate (never the sample's: the products are heavy-tailed), bounded by Chebyshev over the combinations."""
    model = Model("linear", points, 0.5, 1.2, N, 4000, estimator, depth)
    n_bags = 25
    means = bag_means(model, n_bags).mean(axis=0)
    cs = output_combos(len(model.points))
    theory = LinearTheory.of(model)
    if estimator == "plain":
        z = exact_zscores(means, model.n_nets * n_bags, cs, theory, N)
    else:
        g, _ = theory.correlators(cs, N)
        var = np.array([theory.conditional_estimator_variance(c, N) for c in cs])
        z = (means - g) / np.sqrt(var / (model.n_nets * n_bags))
    assert np.abs(z).max() <= chebyshev_bound(len(cs), 0.01)
    # the test can fail: one more layer's theory is far outside the bound
    wrong = LinearTheory(model.points, 0.5, 1.2, depth + 1).correlators(cs, N)[0]
    g = theory.correlators(cs, N)[0]
    assert (np.abs(wrong - g) / np.abs(means - g).max()).max() > 10


@pytest.mark.parametrize("points,depth", [([0.4, -0.7], 2), ([[0.3, 0.5], [1.0, -0.2]], 3)])
def test_the_reference_sampler_meets_the_exact_deep_linear_theory(points, depth):
    """The numpy sampler that draws every weight matrix, against the exact linear theory at N = 3: exact-variance
    z-scores, Chebyshev over the combinations (the products are heavy-tailed)."""
    model = Model("linear", points, 0.5, 1.2, 3, depth=depth)
    f = reference.outputs(model, 200_000, np.random.default_rng(4))
    cs = output_combos(len(model.points))
    z = exact_zscores(combos.products(f, [2, 4]).mean(axis=0), len(f), cs, LinearTheory.of(model), model.N)
    assert np.abs(z).max() <= chebyshev_bound(len(cs), 0.01)


@pytest.mark.parametrize("activation,points,sigma_b,depth", [
    ("relu", PAPER_POINTS, 0.1, 3), ("erf", [-0.8, 0.3, 1.0], 0.3, 2), ("gauss", [[0.2, 0.1], [0.5, -0.3]], 0.2, 2),
])
def test_the_kernel_samples_what_the_reference_sampler_does(activation, points, sigma_b, depth):
    """In distribution: every G^(2), G^(4) and, at close points, the mean squared differences E[(f_a − f_b)²] (the
    near-singular directions of the covariance), two-sample z-scores, Bonferroni at 0.1%."""
    model = Model(activation, points, sigma_b, 1.3, 8, 8000, depth=depth)
    n_bags = 20
    kernel = bag_means(model, n_bags)
    f = reference.outputs(model, 160_000, np.random.default_rng(11))
    ref = combos.products(f, [2, 4])
    P = len(model.points)
    pairs = [(a, a + 1) for a in range(P - 1)]
    labelled = combos.output_combos(P, [2])
    row = {tuple(c): i for i, (_, c) in enumerate(labelled)}
    diff_k = np.stack([kernel[:, row[(a, a)]] + kernel[:, row[(b, b)]] - 2 * kernel[:, row[(a, b)]] for a, b in pairs],
                      axis=1)
    diff_r = np.stack([(f[:, a] - f[:, b]) ** 2 for a, b in pairs], axis=1)
    z = []
    for k, r in ((kernel, ref), (diff_k, diff_r)):
        se = np.sqrt(k.var(axis=0, ddof=1) / len(k) + r.var(axis=0, ddof=1) / len(r))
        z.append((k.mean(axis=0) - r.mean(axis=0)) / se)
    z = np.concatenate(z)
    assert np.abs(z).max() <= normal_bonferroni_bound(len(z), 1e-3)


# --- the theory ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["gauss", "relu", "erf", "linear"])
@pytest.mark.parametrize("points", [[0.2, 0.5, 1.0], [[0.3, 0.5], [1.0, -0.2], [0.4, 0.4]]])
def test_at_depth_one_the_one_over_N_theory_is_the_exact_theorys_one_over_N_term(activation, points):
    cs = output_combos(len(points), (2, 4, 6))
    deep_theory = DeepTheory(activation, points, 0.3, 1.2, 1)
    g0, g1 = deep_theory.expansion(cs)
    exact = Theory(activation, points, 0.3, 1.2)
    assert np.allclose(g0, exact.correlators(cs, 1)[1], rtol=1e-13, atol=0)
    # at depth 1 the 2- and 4-point functions are exactly G0 + G1/N; the 6-point one has a 1/N² part (GaussNet's is
    # large), removed by Richardson's extrapolation from N and 2N
    N = 10**7
    a, free = exact.correlators(cs, N)
    b, _ = exact.correlators(cs, 2 * N)
    assert np.allclose(g1, 2 * (b - free) * 2 * N - (a - free) * N, rtol=1e-6, atol=1e-9 * np.abs(g1).max())


@pytest.mark.parametrize("points,depth", [([0.4, -0.7, 1.1], 2), ([[0.3, 0.5], [1.0, -0.2], [0.4, 0.4]], 4)])
def test_the_one_over_N_theory_of_linear_networks_is_the_exact_theorys_one_over_N_term(points, depth):
    cs = output_combos(len(points), (2, 4, 6))
    g0, g1 = DeepTheory("linear", points, 0.5, 1.2, depth).expansion(cs)
    exact = LinearTheory(points, 0.5, 1.2, depth)
    N = 20_000
    a, free = exact.correlators(cs, N)
    b, _ = exact.correlators(cs, 2 * N)
    assert np.allclose(free, g0, rtol=1e-13, atol=0)
    richardson = 2 * (b - g0) * 2 * N - (a - g0) * N  # N (G − G0) without its 1/N part: G1 + O(1/N²)
    assert np.abs(richardson - g1).max() <= 1e-6 * np.abs(g1).max()


def test_the_exact_linear_theory_at_depth_one_is_the_one_hidden_layer_theory():
    points = [[0.3, 0.5], [1.0, -0.2], [0.4, 0.4]]
    cs = output_combos(3, (2, 4, 6))
    for N in (1, 2, 7):
        assert np.allclose(LinearTheory(points, 0.5, 1.2, 1).correlators(cs, N)[0],
                           Theory("linear", points, 0.5, 1.2).correlators(cs, N)[0], rtol=1e-13)


@pytest.mark.parametrize("activation", ["relu", "erf", "gauss", "linear"])
def test_the_pair_expectations_derivatives_are_the_finite_differences_of_their_closed_forms(activation):
    k = np.array([0.9, 0.35, 1.4])
    c = (0.9, 1.4)
    g, grad, hess = pair_expectation(activation, k, c)
    h = 1e-5
    for i in range(3):
        e = np.eye(3)[i] * h
        up, down = pair_expectation(activation, k + e, c), pair_expectation(activation, k - e, c)
        assert abs((up[0] - down[0]) / (2 * h) - grad[i]) <= 1e-8
        assert np.abs((up[1] - down[1]) / (2 * h) - hess[i]).max() <= 1e-7
    for kk in (0.4, 1.3):
        g1, d1, d2 = square_expectation(activation, kk, 0.8)
        up, down = square_expectation(activation, kk + h, 0.8), square_expectation(activation, kk - h, 0.8)
        assert abs((up[0] - down[0]) / (2 * h) - d1) <= 1e-8 and abs((up[1] - down[1]) / (2 * h) - d2) <= 1e-7


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_the_derivative_expectations_match_steins_identity_by_monte_carlo(activation):
    """An independent computation of the Gaussian expectations of derivatives, ReLU's kinks included: Stein's identity
    ⟨∂_a ∂_b F⟩ = E[F (y_a y_b − P_ab)] and its fourth-order Hermite form, y = P z, P = K⁻¹, with F = φ(u) φ(v), no
    derivative of φ taken; seeded, 6 standard errors (Bonferroni over the 9 quantities at well below 1e-6)."""
    K = np.array([[0.9, 0.35], [0.35, 1.4]])
    rng = np.random.default_rng(2)
    z = rng.multivariate_normal([0, 0], K, size=4_000_000)
    F = reference.activation(activation, z[:, 0], 0.0) * reference.activation(activation, z[:, 1], 0.0)
    P = np.linalg.inv(K)
    y = z @ P

    def hermite(*idx):
        if len(idx) == 2:
            a, b = idx
            return y[:, a] * y[:, b] - P[a, b]
        a, b, c, d = idx
        out = y[:, a] * y[:, b] * y[:, c] * y[:, d]
        for (i, j), (k, l) in (((a, b), (c, d)), ((a, c), (b, d)), ((a, d), (b, c))):
            out = out - y[:, i] * y[:, j] * P[k, l] - y[:, k] * y[:, l] * P[i, j] + P[i, j] * P[k, l]
        return out

    _, grad, hess = pair_expectation(activation, (K[0, 0], K[0, 1], K[1, 1]))
    entries = [(0, 0), (0, 1), (1, 1)]
    weight = {(0, 0): 2.0, (0, 1): 1.0, (1, 1): 2.0}  # ⟨∂_a ∂_b F⟩ = (2 − δ_ab) ... see nnqft.theory.deep
    checks = []
    for i, u in enumerate(entries):
        # ⟨∂_a ∂_b F⟩ = D_u g with D = 2 ∂ on the diagonal, ∂ off it
        checks.append((F * hermite(*u), weight[u] * grad[i]))
        for j, v in enumerate(entries[i:], start=i):
            checks.append((F * hermite(*u, *v), weight[u] * weight[v] * hess[i, j]))
    for sample, exact in checks:
        se = sample.std() / math.sqrt(len(sample))
        assert abs(sample.mean() - exact) <= 6 * se, (sample.mean(), exact, se)


def test_the_erf_vertex_and_two_point_correction_have_the_values_derived_by_hand():
    """docs/science.md: Erf, L = 2, x = 0.8, σ_W = 1.5, σ_b = 0.3: V^(3) = 0.7160 (0.6497 without the propagation
    term), K1^(3) = −0.0914, computed independently by Gauss–Hermite with Stein's identity."""
    th = DeepTheory("erf", [0.8], 0.3, 1.5, 2)
    assert th.V[0, 0, 0, 0] == pytest.approx(0.7160, abs=5e-5)
    assert th.K1[0, 0] == pytest.approx(-0.0914, abs=5e-5)
    assert DeepTheory("erf", [0.8], 0.3, 1.5, 2, propagate=False).V[0, 0, 0, 0] == pytest.approx(0.6497, abs=5e-5)


def test_relu_at_criticality_keeps_its_kernel_and_its_vertex_grows_linearly_with_depth():
    """ReLU at σ_b = 0, σ_W² = 2 (docs/science.md §10): ⟨φ²⟩ = K/2 keeps K^(ℓ)(x, x) fixed, and with ⟨φ⁴⟩ = 3K²/2 and
    ⟨∂²φ²⟩ = 1 the recursion reads V^(ℓ+1) = 4 (3/2 − 1/4) K² + V^(ℓ) = 5 K² + V^(ℓ): V^(ℓ)/K² = 5 (ℓ − 1), and
    the output's excess kurtosis G_c^(4)/G^(2)² = 3 V^(L+1)/(N K²) = 15 L/N."""
    for depth in (1, 2, 5, 8):
        th = DeepTheory("relu", [0.7], 0.0, math.sqrt(2), depth)
        for layer, (K, V, K1) in enumerate(zip(th.kernels, th.vertices, th.corrections), start=1):
            assert K[0, 0] == pytest.approx(th.kernels[0][0, 0], rel=1e-13)
            assert V[0, 0, 0, 0] / K[0, 0] ** 2 == pytest.approx(5 * (layer - 1), abs=1e-12)
            assert K1[0, 0] == 0.0
        g0, g1 = th.expansion([(0, 0, 0, 0)])
        assert g1[0] / th.K[0, 0] ** 2 == pytest.approx(15 * depth, rel=1e-12)
        assert th.K[0, 0] == pytest.approx(2 * 0.49, rel=1e-13)
    # with a bias the kernel is not fixed: σ_b² is added at every layer
    th = DeepTheory("relu", [0.7], 0.3, math.sqrt(2), 5)
    assert th.K[0, 0] > th.kernels[0][0, 0] + 4 * 0.09 - 1e-12


def test_relu_without_bias_is_computed_on_rays_and_is_the_limit_of_small_biases():
    points = [-0.01, -0.006, 0.002, 0.006, 0.01]
    cs = output_combos(len(points), (2, 4))
    at_zero = DeepTheory("relu", points, 0.0, 1.4, 3).expansion(cs)
    near = DeepTheory("relu", points, 1e-7, 1.4, 3).expansion(cs)
    for a, b in zip(at_zero, near):
        assert np.allclose(a, b, rtol=1e-3, atol=1e-3 * np.abs(a).max())


# --- the 1/N theory against samples ----------------------------------------------------------------------------

@pytest.mark.parametrize("activation,points,sigma_b,sigma_w,depth,n_bags,n_nets,resolves_wrong", [
    ("erf", [0.8], 0.3, 1.5, 2, 32, 60_000, False), ("relu", [0.5, 1.0], 0.3, 1.4, 3, 20, 40_000, True),
])
def test_samples_approach_the_one_over_N_theory_with_a_one_over_N_squared_remainder(activation, points, sigma_b,
                                                                                    sigma_w, depth, n_bags, n_nets,
                                                                                    resolves_wrong, seed=5):
    """N (G − G0) measured at N = 8..64 (conditional estimator) is fitted by a + b/N + c/N² per combination: the
    intercept a is the 1/N coefficient G1, which must be the theory's (Bonferroni t over the combinations at 1%), and
    the remainder G − G0 − G1/N is then O(1/N²). The theory without the vertex's propagation term must fail where the
    samples resolve it: ReLU's by ~40 standard errors; Erf's propagation term is 16% of its G_c^(4) coefficient, about
    3 standard errors here, so there it is only printed."""
    widths = np.array([8, 16, 32, 64])
    cs = output_combos(len(points))
    theory = DeepTheory(activation, points, sigma_b, sigma_w, depth)
    g0, g1 = theory.expansion(cs)
    y, se = [], []
    for N in widths:
        model = Model(activation, points, sigma_b, sigma_w, int(N), n_nets, "conditional", depth)
        m = bag_means(model, n_bags, seed=seed)
        y.append(N * (m.mean(axis=0) - g0))
        se.append(N * m.std(axis=0, ddof=1) / math.sqrt(n_bags))
    y, se = np.array(y), np.array(se)
    X = np.stack([np.ones_like(widths, dtype=float), 1.0 / widths, 1.0 / widths**2], axis=1)
    intercept, intercept_se = [], []
    for c in range(len(cs)):
        w = 1 / se[:, c] ** 2
        cov = np.linalg.inv(X.T @ (X * w[:, None]))
        intercept.append((cov @ (X.T @ (w * y[:, c])))[0])
        intercept_se.append(math.sqrt(cov[0, 0]))
    intercept, intercept_se = np.array(intercept), np.array(intercept_se)
    from scipy import stats

    bound = stats.t.ppf(1 - 0.01 / (2 * len(cs)), n_bags - 1)
    t_right = (np.abs(intercept - g1) / intercept_se).max()
    wrong = DeepTheory(activation, points, sigma_b, sigma_w, depth, propagate=False).expansion(cs)[1]
    t_wrong = (np.abs(intercept - wrong) / intercept_se).max()
    print(f"max t against the theory {t_right:.3g}, against the wrong vertex {t_wrong:.3g}, bound {bound:.3g}")
    assert t_right <= bound
    if resolves_wrong:
        assert t_wrong > bound
