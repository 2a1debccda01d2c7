"""The kernels of gradient-flow training and the infinite-width trained ensemble (nnqft.theory.ntk), each against an
independent computation: quadrature or the bivariate normal CDF for E[φ'φ'], the empirical NTK of sampled networks
by finite differences, and the flow's own ODE for the trained mean and covariance."""
import numpy as np
import pytest
from scipy import stats

from nnqft.theory import neurons, ntk

SIGMA_B, SIGMA_W = 0.5, 1.5
POINTS = {1: [[-1.0], [0.5], [2.0]], 2: [[-1.0, 0.3], [0.5, 0.5], [2.0, -1.0]],
          3: [[-1.0, 0.3, 0.0], [0.5, 0.5, 1.0], [2.0, -1.0, 0.2]]}
TRAIN_X, TRAIN_Y, TEST_X = [[-1.0], [0.5], [2.0]], [1.0, -0.5, 0.25], [[0.0], [1.0]]


def derivative(activation, u, norm):
    """φ'(u) of each activation (GaussNet: φ(u) = exp(u − K1(x, x)), whose normalisation ``norm`` is fixed)."""
    if activation == "erf":
        return 2 / np.sqrt(np.pi) * np.exp(-u**2)
    if activation == "gauss":
        return np.exp(u - norm)
    if activation == "relu":
        return (u > 0).astype(float)
    return np.ones_like(u)


@pytest.mark.parametrize("d_in", [1, 2, 3])
@pytest.mark.parametrize("activation", ["gauss", "linear"])
def test_the_derivative_kernel_is_its_gauss_hermite_quadrature(activation, d_in):
    """E[φ'(u)φ'(u')] by 80 × 80 Gauss–Hermite nodes on (u, u') = L g, L the Cholesky factor of K1, to 1e-10 (Erf's
    e^{−u²} at these variances converges too slowly under Gauss–Hermite: it is checked by Price's theorem below)."""
    pts = np.array(POINTS[d_in])
    k1 = neurons.preactivation_covariance(pts, SIGMA_B, SIGMA_W)
    closed = ntk.derivative_kernel(activation, pts, pts, SIGMA_B, SIGMA_W)
    g, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    for i in range(len(pts)):
        for j in range(len(pts)):
            cov = k1[np.ix_([i, j], [i, j])] + 1e-300 * np.eye(2)
            a = np.sqrt(cov[0, 0])
            b = cov[0, 1] / a
            c = np.sqrt(max(cov[1, 1] - b**2, 0.0))
            u = a * g[:, None] + 0 * g[None, :]
            v = b * g[:, None] + c * g[None, :]
            quad = np.sum(w[:, None] * w[None, :] * derivative(activation, u, k1[i, i])
                          * derivative(activation, v, k1[j, j]))
            assert abs(quad - closed[i, j]) < 1e-10 * max(1.0, abs(closed[i, j])), (i, j, quad, closed[i, j])


@pytest.mark.parametrize("d_in", [1, 2, 3])
@pytest.mark.parametrize("activation", ["erf", "relu", "gauss", "linear"])
def test_the_derivative_kernel_is_the_covariance_derivative_of_the_single_neuron_moment(activation, d_in):
    """Price's theorem: E[φ'(u)φ'(u')] = ∂E[φ(u)φ(u')]/∂Σ12, the moment of nnqft.theory.neurons differentiated by
    central differences in its off-diagonal covariance (distinct points; the diagonal by 1-D adaptive quadrature)."""
    from scipy import integrate

    pts = np.array(POINTS[d_in])
    k1 = neurons.preactivation_covariance(pts, SIGMA_B, SIGMA_W)
    closed = ntk.derivative_kernel(activation, pts, pts, SIGMA_B, SIGMA_W)
    for i in range(len(pts)):
        for j in range(len(pts)):
            if i == j and activation in ("gauss", "linear"):
                continue  # their diagonal is in the Gauss–Hermite test above
            if i == j:
                a = k1[i, i]
                f = lambda g: derivative(activation, np.sqrt(a) * g, a) ** 2 * np.exp(-g**2 / 2) / np.sqrt(2 * np.pi)  # noqa: E731
                quad = sum(integrate.quad(f, lo, hi, epsabs=1e-13, epsrel=1e-12)[0]
                           for lo, hi in ((-np.inf, 0.0), (0.0, np.inf)))
                assert quad == pytest.approx(closed[i, i], rel=1e-9), (i, quad, closed[i, i])
                continue
            h = 1e-5 * np.sqrt(k1[i, i] * k1[j, j])
            cov = k1[np.ix_([i, j], [i, j])]
            up, down = cov.copy(), cov.copy()
            up[0, 1] = up[1, 0] = cov[0, 1] + h
            down[0, 1] = down[1, 0] = cov[0, 1] - h
            slope = (neurons.moment(activation, up) - neurons.moment(activation, down)) / (2 * h)
            assert slope == pytest.approx(closed[i, j], rel=1e-6), (i, j, slope, closed[i, j])


@pytest.mark.parametrize("d_in", [1, 2, 3])
def test_relus_derivative_kernel_is_the_bivariate_normal_orthant_probability(d_in):
    """P(u > 0, u' > 0) = P(u < 0, u' < 0), scipy's bivariate normal CDF at the origin (Genz's algorithm)."""
    pts = np.array(POINTS[d_in])
    k1 = neurons.preactivation_covariance(pts, SIGMA_B, SIGMA_W)
    closed = ntk.derivative_kernel("relu", pts, pts, SIGMA_B, SIGMA_W)
    for i in range(len(pts)):
        for j in range(len(pts)):
            if i == j:
                assert closed[i, i] == 0.5  # exactly: the angle of a vector with itself is 0 (ntk._angle)
                continue
            cov = k1[np.ix_([i, j], [i, j])]
            cdf = stats.multivariate_normal(mean=[0, 0], cov=cov, abseps=1e-10, releps=1e-10).cdf([0.0, 0.0])
            assert abs(cdf - closed[i, j]) < 1e-8, (i, j, cdf, closed[i, j])


def network_outputs(params, x, activation, sigma_b, sigma_w):
    """f(x) of M networks of width N in NTK parameterisation (nnqft.theory.ntk's docstring), written here
    independently: params = (w (M, N, d_in), b (M, N), v (M, N), c (M,))."""
    w, b, v, c = params
    n, d_in = w.shape[1], x.shape[1]
    z = sigma_w * np.einsum("mnd,pd->mnp", w, x) / np.sqrt(d_in) + sigma_b * b[:, :, None]
    if activation == "erf":
        from scipy.special import erf

        phi = erf(z)
    elif activation == "relu":
        phi = np.maximum(z, 0.0)
    elif activation == "gauss":
        norm = SIGMA_B**2 + SIGMA_W**2 * np.einsum("pd,pd->p", x, x) / d_in
        phi = np.exp(z - norm[None, None, :])
    else:
        phi = z
    return sigma_w / np.sqrt(n) * np.einsum("mn,mnp->mp", v, phi) + sigma_b * c[:, None]


def empirical_ntk(params, x, activation, layers, h=1e-5):
    """Σ_θ ∂f(x)/∂θ ∂f(x')/∂θ of each network, by central finite differences in every parameter in turn."""
    w, b, v, _ = params
    grads = []

    def bump(which, index, step):
        shifted = [p.copy() for p in params]
        shifted[which][index] += step
        return network_outputs(shifted, x, activation, SIGMA_B, SIGMA_W)

    entries = [(2, (slice(None), n)) for n in range(v.shape[1])] + [(3, (slice(None),))]
    if layers == "all":
        entries += [(0, (slice(None), n, d)) for n in range(w.shape[1]) for d in range(w.shape[2])]
        entries += [(1, (slice(None), n)) for n in range(b.shape[1])]
    for which, index in entries:
        grads.append((bump(which, index, h) - bump(which, index, -h)) / (2 * h))
    g = np.stack(grads, axis=1)  # (M, params, P)
    return np.einsum("mkp,mkq->mpq", g, g)


@pytest.mark.parametrize("layers", ntk.LAYERS)
@pytest.mark.parametrize("activation, d_in", [("erf", 1), ("relu", 2), ("gauss", 1), ("linear", 3)])
def test_the_mean_empirical_ntk_of_sampled_networks_is_the_ntk_at_every_width(activation, d_in, layers):
    """At one hidden layer the empirical NTK is a mean over N i.i.d. neurons, so its ensemble mean is Θ (or K for
    the readout) at every N: 4000 networks of width 6, each entry within 5 standard errors (false alarm < 1e-5)."""
    rng = np.random.default_rng(20261204 + d_in)
    m, n = 4000, 6
    params = (rng.standard_normal((m, n, d_in)), rng.standard_normal((m, n)), rng.standard_normal((m, n)),
              rng.standard_normal(m))
    # GaussNet's φ² is log-normal with log-variance 4K1(x, x): at |x| = 2 its sample mean has no usable error bar
    x = np.array(POINTS[d_in]) / (4 if activation == "gauss" else 1)
    theta_hat = empirical_ntk(params, x, activation, layers)
    mean = theta_hat.mean(axis=0)
    error = theta_hat.std(axis=0, ddof=1) / np.sqrt(m)
    theory = ntk.gradient_kernel(activation, x, x, SIGMA_B, SIGMA_W, layers=layers)
    assert np.all(np.abs(mean - theory) <= 5 * error + 1e-9), (mean, theory, error)


def test_the_empirical_ntk_check_sees_a_kernel_without_its_first_layer_term():
    """The check above can fail: K in place of Θ is many standard errors off for both layers trained."""
    rng = np.random.default_rng(7)
    m, n = 4000, 6
    params = (rng.standard_normal((m, n, 1)), rng.standard_normal((m, n)), rng.standard_normal((m, n)),
              rng.standard_normal(m))
    x = np.array(POINTS[1])
    theta_hat = empirical_ntk(params, x, "erf", "all")
    error = theta_hat.std(axis=0, ddof=1) / np.sqrt(m)
    wrong = neurons.kernel_between("erf", x, x, SIGMA_B, SIGMA_W)
    assert np.any(np.abs(theta_hat.mean(axis=0) - wrong) > 5 * error)


def joint(activation, layers):
    """The trained ensemble at the test points and the training inputs together (test points first)."""
    return ntk.TrainedEnsemble(activation, TEST_X + TRAIN_X, TRAIN_X, TRAIN_Y, SIGMA_B, SIGMA_W, layers)


@pytest.mark.parametrize("layers", ntk.LAYERS)
@pytest.mark.parametrize("activation", ["erf", "relu", "gauss", "linear"])
def test_the_trained_mean_and_covariance_solve_the_flow(activation, layers):
    """Linearised gradient flow, network by network: df(p)/dτ = −Σ_a Θ(p, x_a)(f(x_a) − y_a). So dμ/dτ =
    −Θ(·, X)(μ_X − Y) and dC/dτ = −Θ(·, X) C(X, ·) − C(·, X) Θ(X, ·), checked by central differences in τ."""
    ens = joint(activation, layers)
    train = slice(len(TEST_X), None)
    theta = ntk.gradient_kernel(activation, ens.points, ens.train_inputs, SIGMA_B, SIGMA_W, layers=layers)
    y = np.array(TRAIN_Y)
    for tau in (0.0, 0.3, 2.0):
        h = 1e-5
        lo = max(tau - h, 0.0)
        d_mean = (ens.mean(tau + h) - ens.mean(lo)) / (tau + h - lo)
        d_cov = (ens.covariance(tau + h) - ens.covariance(lo)) / (tau + h - lo)
        mid = (tau + h + lo) / 2
        mu, cov = ens.mean(mid), ens.covariance(mid)
        assert np.allclose(d_mean, -theta @ (mu[train] - y), rtol=1e-5, atol=1e-6), tau
        assert np.allclose(d_cov, -theta @ cov[train] - cov[:, train] @ theta.T, rtol=1e-5, atol=1e-6), tau


@pytest.mark.parametrize("layers", ntk.LAYERS)
def test_at_tau_zero_the_ensemble_is_untrained_and_at_infinity_it_interpolates(layers):
    ens = joint("erf", layers)
    k = neurons.kernel_matrix("erf", ens.points, SIGMA_B, SIGMA_W)
    assert np.array_equal(ens.mean(0.0), np.zeros(len(ens.points)))
    assert np.allclose(ens.covariance(0.0), k, rtol=0, atol=1e-15)
    train = slice(len(TEST_X), None)
    assert np.allclose(ens.mean(np.inf)[train], TRAIN_Y, atol=1e-10)
    assert np.allclose(ens.covariance(np.inf)[train, train], 0, atol=1e-10)
    assert np.allclose(ens.mean(1e4)[train], TRAIN_Y, atol=1e-8)


def test_readout_training_has_its_closed_form_covariance():
    """Θ → K: Σ_τ = K** − K* K⁻¹ (1 − e^{−2Kτ}) K*ᵀ (Lee et al. 2019 for the readout alone)."""
    ens = ntk.TrainedEnsemble("relu", TEST_X, TRAIN_X, TRAIN_Y, SIGMA_B, SIGMA_W, "readout")
    k = neurons.kernel_matrix("relu", TRAIN_X, SIGMA_B, SIGMA_W)
    k_star = neurons.kernel_between("relu", TEST_X, TRAIN_X, SIGMA_B, SIGMA_W)
    k_test = neurons.kernel_matrix("relu", TEST_X, SIGMA_B, SIGMA_W)
    lam, vec = np.linalg.eigh(k)
    for tau in (0.1, 1.0, 5.0):
        decay = (vec * (1 - np.exp(-2 * lam * tau))) @ vec.T
        expected = k_test - k_star @ np.linalg.solve(k, decay) @ k_star.T
        assert np.allclose(ens.covariance(tau), expected, rtol=1e-12, atol=1e-13)
        mean = k_star @ np.linalg.solve(k, (vec * (1 - np.exp(-lam * tau))) @ vec.T) @ np.array(TRAIN_Y)
        assert np.allclose(ens.mean(tau), mean, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("activation, sigma_b, sigma_w", [("erf", 0.5, 1.5), ("relu", 0.5, 1.5), ("linear", 0.5, 1.5),
                                                          ("gauss", 0.5, 0.6)])
def test_the_empirical_ntks_variance_is_one_neurons_over_N(activation, sigma_b, sigma_w):
    """N·Var Θ̂ = Var B over one neuron (B = σ_W²[φφ' + v²φ̇φ̇'K1]), against the sample variance of B over 4·10⁵
    neurons, each entry within 5 of its standard errors (the sample variance's, from the fourth central moment)."""
    rng = np.random.default_rng(11)
    m = 400_000
    x = np.array(POINTS[1])
    w, b, v = rng.standard_normal(m), rng.standard_normal(m), rng.standard_normal(m)
    z = sigma_w * w[:, None] * x[None, :, 0] + sigma_b * b[:, None]
    norm = sigma_b**2 + sigma_w**2 * x[:, 0] ** 2
    if activation == "erf":
        from scipy.special import erf

        phi, dphi = erf(z), 2 / np.sqrt(np.pi) * np.exp(-z**2)
    elif activation == "relu":
        phi, dphi = np.maximum(z, 0), (z > 0).astype(float)
    elif activation == "gauss":
        phi = dphi = np.exp(z - norm[None, :])
    else:
        phi, dphi = z, np.ones_like(z)
    k1 = neurons.preactivation_covariance(x, sigma_b, sigma_w)
    theory = ntk.ntk_variance(activation, x, x, sigma_b, sigma_w)
    for i in range(len(x)):
        for j in range(len(x)):
            bij = sigma_w**2 * (phi[:, i] * phi[:, j] + v**2 * dphi[:, i] * dphi[:, j] * k1[i, j])
            centred = bij - bij.mean()
            var = centred.var(ddof=1)
            error = np.sqrt((np.mean(centred**4) - var**2) / m)
            assert abs(var - theory[i, j]) < 5 * error, (i, j, var, theory[i, j], error)


def test_the_erf_ntk_variance_is_its_quadrature():
    """Erf's closed form (tilted arcsine kernel, Gaussian determinants) against 240 × 240 Gauss–Hermite nodes, which
    converge slowly but surely to it (measured: 3.0228164169995 at x = −1, x' = 0.5, σ_b = 0.5, σ_W = 1.5)."""
    from scipy.special import erf

    x = np.array([[-1.0], [0.5]])
    k1 = neurons.preactivation_covariance(x, SIGMA_B, SIGMA_W)
    g, w = np.polynomial.hermite_e.hermegauss(240)
    w = w / w.sum()
    a = np.sqrt(k1[0, 0])
    b = k1[0, 1] / a
    c = np.sqrt(k1[1, 1] - b**2)
    u, v = a * g[:, None] + 0 * g[None, :], b * g[:, None] + c * g[None, :]
    du, dv = 2 / np.sqrt(np.pi) * np.exp(-u**2), 2 / np.sqrt(np.pi) * np.exp(-v**2)
    second = np.sum(w[:, None] * w[None, :] * (erf(u)**2 * erf(v)**2 + 2 * erf(u) * erf(v) * du * dv * k1[0, 1]
                                                + 3 * du**2 * dv**2 * k1[0, 1]**2))
    theta = ntk.ntk("erf", x, x, SIGMA_B, SIGMA_W)[0, 1] - SIGMA_B**2
    quad = SIGMA_W**4 * second - theta**2
    assert ntk.ntk_variance("erf", x, x, SIGMA_B, SIGMA_W)[0, 1] == pytest.approx(quad, rel=1e-11)


def test_readout_training_of_one_network_is_its_parameter_flow():
    """Given the hidden layer, the readout (v, c) follows dθ/dτ = −Jᵀ(Jθ − Y) with J = ∂f(X)/∂θ; integrated by RK4
    (2000 steps) from five draws of (v, c), each network's f_τ(x*) is f_0(x*) + Â(Y − f_0(X)), the propagation that
    ntk.readout_trained's mean and covariance are the moments of; and f_0's covariance given the hidden layer is Ĝ.
    N = 2 < P_train: Ĝ(X, X) is singular and the flow still converges to the formula."""
    rng = np.random.default_rng(3)
    n, tau = 2, 1.5
    x_train, x_test, y = np.array(TRAIN_X), np.array(TEST_X), np.array(TRAIN_Y)
    w, b = rng.standard_normal(n), rng.standard_normal(n)
    phi = lambda x: np.tanh(SIGMA_W * np.outer(x[:, 0], w) + SIGMA_B * b)  # noqa: E731 (any activation will do)
    f_train, f_test = phi(x_train), phi(x_test)
    jac = lambda f: np.hstack([SIGMA_W * f / np.sqrt(n), np.full((len(f), 1), SIGMA_B)])  # noqa: E731
    j_train, j_test = jac(f_train), jac(f_test)
    mean, cov = ntk.readout_trained(f_test, f_train, y, tau, sigma_b=SIGMA_B, sigma_w=SIGMA_W)
    g_all = ntk.empirical_kernel(np.vstack([f_test, f_train]), SIGMA_B, SIGMA_W)
    assert np.allclose(g_all, np.vstack([j_test, j_train]) @ np.vstack([j_test, j_train]).T, rtol=1e-13)
    k_cross = g_all[2:, :2]  # Ĝ(X, x*)
    for _ in range(5):
        theta = rng.standard_normal(n + 1)
        f0_test, f0_train = j_test @ theta, j_train @ theta
        steps = 2000
        dt = tau / steps
        grad = lambda t: -j_train.T @ (j_train @ t - y)  # noqa: E731
        for _ in range(steps):
            k1 = grad(theta)
            k2 = grad(theta + dt / 2 * k1)
            k3 = grad(theta + dt / 2 * k2)
            k4 = grad(theta + dt * k3)
            theta = theta + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        a = k_cross.T @ ntk.flow_operator(g_all[2:, 2:], tau)
        assert np.allclose(j_test @ theta, f0_test + a @ (y - f0_train), rtol=1e-9, atol=1e-10)
    # the moments of f0_test + A(Y − f0_train) for f0 ~ N(0, Ĝ)
    a = k_cross.T @ ntk.flow_operator(g_all[2:, 2:], tau)
    lin = np.hstack([np.eye(2), -a])
    assert np.allclose(mean, a @ y, rtol=1e-13)
    assert np.allclose(cov, lin @ g_all @ lin.T, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", ["erf", "relu"])
def test_the_control_variate_has_the_infinite_width_moments_at_every_width(activation):
    """g_τ = f_0(x*) + A_τ(Y − f_0(X)) from the initial outputs of 2·10⁵ sampled networks of width 3 (numpy, NTK
    parameterisation): its mean is μ_τ and its covariance Σ_τ within 5 standard errors (the covariance's from the
    fourth moments), although f_0 is far from Gaussian at N = 3: the variate is unbiased at every N."""
    rng = np.random.default_rng(5)
    m, n, tau = 200_000, 3, 0.7
    ens = ntk.TrainedEnsemble(activation, TEST_X, TRAIN_X, TRAIN_Y, SIGMA_B, SIGMA_W)
    params = (rng.standard_normal((m, n, 1)), rng.standard_normal((m, n)), rng.standard_normal((m, n)),
              rng.standard_normal(m))
    f0_test = network_outputs(params, np.array(TEST_X), activation, SIGMA_B, SIGMA_W)
    f0_train = network_outputs(params, np.array(TRAIN_X), activation, SIGMA_B, SIGMA_W)
    g = ens.control_variate(f0_test, f0_train, tau)
    mean, cov = ens.mean(tau), ens.covariance(tau)
    assert np.all(np.abs(g.mean(axis=0) - mean) < 5 * g.std(axis=0, ddof=1) / np.sqrt(m))
    centred = g - g.mean(axis=0)
    for i in range(2):
        for j in range(2):
            prod = centred[:, i] * centred[:, j]
            assert abs(prod.mean() - cov[i, j]) < 5 * prod.std(ddof=1) / np.sqrt(m), (i, j)
    # the check can fail: the same variate with the readout's kernel in A has another mean
    wrong = ntk.TrainedEnsemble(activation, TEST_X, TRAIN_X, TRAIN_Y, SIGMA_B, SIGMA_W, layers="readout")
    assert np.any(np.abs(wrong.control_variate(f0_test, f0_train, tau).mean(axis=0) - mean)
                  > 5 * g.std(axis=0, ddof=1) / np.sqrt(m))
