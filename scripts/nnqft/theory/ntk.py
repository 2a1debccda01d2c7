"""Training by gradient flow at one hidden layer: the kernels and the infinite-width trained ensemble
(docs/science.md §11).

NTK parameterisation: every parameter is N(0, 1), the σ's and 1/√fan-in sit in the forward pass,

    z_j(x) = σ_W w_j·x/√d_in + σ_b b_j,        f(x) = (σ_W/√N) Σ_j v_j φ(z_j(x)) + σ_b c,

so that at τ = 0 the ensemble is the untrained one (its pre-activation covariance is
:func:`nnqft.theory.neurons.cross_covariance`, K1 below). Gradient flow dθ/dτ = −∇_θ ½ Σ_a (f(x_a) − y_a)² on the
training set X = (x_a), Y = (y_a). google/neural-tangents' ``stax.Dense(W_std=σ_W, b_std=σ_b)`` is this
parameterisation; its ``gradient_descent_mse_ensemble`` minimises the loss divided by |Y| with a learning rate η,
so its time t is τ·|Y|/η.

The kernels, with (u, u') ~ N(0, K1(x, x')) the pre-activations of one neuron at x and x':

- K1(x, x') = σ_b² + σ_W² x·x'/d_in                              the first layer's kernel
- K(x, x')  = σ_b² + σ_W² E[φ(u) φ(u')]                          the NNGP kernel (:func:`nnqft.theory.neurons.kernel_between`)
- Θ(x, x')  = K(x, x') + σ_W² E[φ'(u) φ'(u')] K1(x, x')           the neural tangent kernel: the readout (v, c)
  contributes K, the first layer (w, b) the second term, E[v²] = 1.

E[φ'φ'] in closed form (:func:`derivative_kernel`): Erf (4/π)[(1 + 2K11)(1 + 2K22) − 4K12²]^(−1/2); ReLU the
probability that both are positive, (π − θ)/(2π) with cos θ = K12/√(K11 K22); linear 1; GaussNet
φ(z) = exp(z − K1(x, x)) (its normalisation depends on x and the σ's, not on a trained parameter), so φ' = φ and
E[φ'φ'] = exp(K12 − (K11 + K22)/2).

At infinite width Θ is deterministic and constant in τ and the trained outputs at test points x* are Gaussian
(Jacot, Gabriel, Hongler 2018; Lee et al. 2019, their eq. (15)–(16)): with A_τ = Θ(x*, X) Θ⁻¹ (1 − e^{−Θτ}),
Θ = Θ(X, X),

    μ_τ = A_τ Y,        Σ_τ = K(x*, x*) + A_τ K(X, X) A_τᵀ − A_τ K(X, x*) − K(x*, X) A_τᵀ,

because f_τ(x*) = f_0(x*) + A_τ (Y − f_0(X)) with f_0 the untrained Gaussian process of kernel K. Training the
readout only (the first layer frozen) replaces Θ by K in A_τ, which gives Σ_τ = K** − K* K⁻¹ (1 − e^{−2Kτ}) K*ᵀ.
Θ⁻¹(1 − e^{−Θτ}) is evaluated through the eigenvalues λ of Θ as (1 − e^{−λτ})/λ, an entire function of λ
(τ at λ = 0), so τ = 0 gives exactly the untrained ensemble and τ = inf the trained-to-convergence one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..model import ACTIVATIONS, LAYERS, as_points
from .neurons import cross_covariance, kernel_between, preactivation_variance



def derivative_kernel(activation: str, xs, ys, sigma_b: float, sigma_w: float) -> np.ndarray:
    """E[φ'(u) φ'(u')] for (u, u') ~ N(0, K1) at every x of ``xs`` and x' of ``ys``, in closed form (module
    docstring). Shape (len(xs), len(ys))."""
    x, y = as_points(xs), as_points(ys)
    cov = cross_covariance(x, y, sigma_b, sigma_w)
    vx, vy = preactivation_variance(x, sigma_b, sigma_w), preactivation_variance(y, sigma_b, sigma_w)
    if activation == "erf":
        return 4 / np.pi / np.sqrt((1 + 2 * vx[:, None]) * (1 + 2 * vy[None, :]) - 4 * cov**2)
    if activation == "relu":
        return (np.pi - _angle(x, y, sigma_b, sigma_w)) / (2 * np.pi)
    if activation == "gauss":
        return np.exp(cov - (vx[:, None] + vy[None, :]) / 2)
    if activation == "linear":
        return np.ones_like(cov)
    raise ValueError(f"unknown activation {activation!r}: expected one of {tuple(ACTIVATIONS)}")


def _angle(x, y, sigma_b: float, sigma_w: float) -> np.ndarray:
    """The angle θ between the pre-activation vectors a = (σ_b, σ_W x/√d_in) and b of every pair, as
    atan2(|a ∧ b|, a·b) with |a ∧ b|² = Σ_{i<j} (a_i b_j − a_j b_i)² (Lagrange's identity): exactly 0 for equal
    points, where arccos(K12/√(K11 K22)) is off by √(rounding) ~ 1e-8 and so would be E[φ'φ'] = (π − θ)/(2π)."""
    a = np.hstack([np.full((len(x), 1), sigma_b), sigma_w * x / np.sqrt(x.shape[1])])
    b = np.hstack([np.full((len(y), 1), sigma_b), sigma_w * y / np.sqrt(y.shape[1])])
    wedge = a[:, None, :, None] * b[None, :, None, :] - a[:, None, None, :] * b[None, :, :, None]
    return np.arctan2(np.sqrt(np.sum(np.triu(wedge**2, k=1), axis=(-2, -1))), a @ b.T)


def ntk(activation: str, xs, ys, sigma_b: float, sigma_w: float) -> np.ndarray:
    """Θ(x, x') = K(x, x') + σ_W² E[φ'(u) φ'(u')] K1(x, x') at every x of ``xs`` and x' of ``ys`` (module docstring)."""
    first = cross_covariance(xs, ys, sigma_b, sigma_w)
    return (kernel_between(activation, xs, ys, sigma_b, sigma_w)
            + sigma_w**2 * derivative_kernel(activation, xs, ys, sigma_b, sigma_w) * first)


def _neuron_second_moment(activation: str, cov2: np.ndarray, step: float) -> float:
    """E[φ²φ'²] + 2 E[φφ'φ̇φ̇'] K12 + 3 E[φ̇²φ̇'²] K12² for (u, u') ~ N(0, cov2) (φ = φ(u), φ' = φ(u'), φ̇ the
    derivative; ``step`` = E[φ̇φ̇'], :func:`derivative_kernel`; :func:`ntk_variance`), in closed form:
    - ReLU: φ·φ̇ = φ and φ̇² = φ̇, so the terms are the 4-point moment M(x, x, x', x') of
      :mod:`nnqft.theory.neurons`, E[φφ'] and E[φ̇φ̇'];
    - Erf: φ̇ = (2/√π) e^{−u²}, so E[φ̇²φ̇'²] = (16/π²) det(1 + 4Σ)^(−1/2) and E[φφ'φ̇φ̇'] = (4/π) det(1 + 2Σ)^(−1/2)
      E[erf erf] under the tilted covariance Σ(1 + 2Σ)⁻¹ (Williams's arcsine kernel), E[φ²φ'²] the 4-point moment;
    - GaussNet: φ = φ̇ = e^{u − Σ11}, all three terms are E[e^{2u + 2u'}] e^{−2Σ11 − 2Σ22} = e^{4Σ12};
    - linear: E[u²u'²] = Σ11 Σ22 + 2Σ12², E[uu'] = Σ12, 1."""
    from .neurons import _erf_pair, moment

    k12 = cov2[0, 1]
    if activation == "relu":
        four = moment("relu", cov2[np.ix_([0, 0, 1, 1], [0, 0, 1, 1])])
        return four + 2 * moment("relu", cov2) * k12 + 3 * step * k12**2
    if activation == "erf":
        eye = np.eye(2)
        four = moment("erf", cov2[np.ix_([0, 0, 1, 1], [0, 0, 1, 1])])
        tilted = cov2 @ np.linalg.inv(eye + 2 * cov2)
        mixed = 4 / np.pi * np.linalg.det(eye + 2 * cov2) ** -0.5 * _erf_pair((tilted + tilted.T) / 2)[0, 1]
        steps = 16 / np.pi**2 * np.linalg.det(eye + 4 * cov2) ** -0.5
        return four + 2 * mixed * k12 + 3 * steps * k12**2
    if activation == "gauss":
        return float(np.exp(4 * k12) * (1 + 2 * k12 + 3 * k12**2))
    if activation == "linear":
        return (cov2[0, 0] * cov2[1, 1] + 2 * k12**2) + 2 * k12 * k12 + 3 * k12**2
    raise ValueError(f"unknown activation {activation!r}: expected one of {tuple(ACTIVATIONS)}")


def ntk_variance(activation: str, xs, ys, sigma_b: float, sigma_w: float) -> np.ndarray:
    """N · Var Θ̂(x, x') of the empirical NTK of one hidden layer, the same at every width N: Θ̂ = σ_b² + (1/N) Σ_j
    B_j with B = σ_W²[φ(u)φ(u') + v² φ̇(u)φ̇(u') K1(x, x')] i.i.d. over the neurons, so N·Var Θ̂ = Var B =
    σ_W⁴(E[φ²φ'²] + 2 E[φφ'φ̇φ̇'] K1 + 3 E[φ̇²φ̇'²] K1²) − (Θ − σ_b²)² (E[v²] = 1, E[v⁴] = 3; φ̇ the derivative,
    primes the second point; :func:`_neuron_second_moment`)."""
    x, y = as_points(xs), as_points(ys)
    k1 = cross_covariance(x, y, sigma_b, sigma_w)
    vx, vy = preactivation_variance(x, sigma_b, sigma_w), preactivation_variance(y, sigma_b, sigma_w)
    mean_b = ntk(activation, x, y, sigma_b, sigma_w) - sigma_b**2
    step = derivative_kernel(activation, x, y, sigma_b, sigma_w)
    out = np.empty_like(k1)
    for i in range(len(x)):
        for j in range(len(y)):
            cov2 = np.array([[vx[i], k1[i, j]], [k1[i, j], vy[j]]])
            out[i, j] = sigma_w**4 * _neuron_second_moment(activation, cov2, step[i, j]) - mean_b[i, j]**2
    return out


def gradient_kernel(activation: str, xs, ys, sigma_b: float, sigma_w: float, *, layers: str = "all") -> np.ndarray:
    """The kernel that drives gradient flow at infinite width: Θ when both layers train, K when the readout alone."""
    if layers == "all":
        return ntk(activation, xs, ys, sigma_b, sigma_w)
    if layers == "readout":
        return kernel_between(activation, xs, ys, sigma_b, sigma_w)
    raise ValueError(f"unknown layers {layers!r}: expected one of {LAYERS}")


def flow_operator(theta_train: np.ndarray, tau: float) -> np.ndarray:
    """Θ⁻¹(1 − e^{−Θτ}) for a symmetric positive semi-definite Θ, through its eigenvalues: (1 − e^{−λτ})/λ, which
    is τ at λ = 0 and 1/λ at τ = inf. ``theta_train`` may be a stack of matrices (..., P, P)."""
    lam, vec = np.linalg.eigh(theta_train)
    if np.isinf(tau):
        if np.min(lam) <= 0:
            raise ValueError("the training kernel is singular: training does not converge to an interpolant")
        g = 1 / lam
    else:
        small = np.abs(lam * tau) < 1e-8
        safe = np.where(small, 1.0, lam)
        g = np.where(small, tau * (1 - lam * tau / 2), -np.expm1(-safe * tau) / safe)
    return (vec * g[..., None, :]) @ np.swapaxes(vec, -1, -2)


@dataclass(frozen=True)
class TrainedEnsemble:
    """The infinite-width ensemble of one hidden layer trained by gradient flow (module docstring): ``mean(τ)`` and
    ``covariance(τ)`` of the outputs at the test ``points``, for any τ ≥ 0 or inf."""

    activation: str
    points: np.ndarray          # test points, (P, d_in)
    train_inputs: np.ndarray    # X, (P_train, d_in)
    train_targets: np.ndarray   # Y, (P_train,)
    sigma_b: float
    sigma_w: float
    layers: str = "all"

    def __post_init__(self):
        object.__setattr__(self, "points", as_points(self.points))
        object.__setattr__(self, "train_inputs", as_points(self.train_inputs))
        object.__setattr__(self, "train_targets", np.asarray(self.train_targets, dtype=float))
        if self.layers not in LAYERS:
            raise ValueError(f"unknown layers {self.layers!r}: expected one of {LAYERS}")

    def kernels(self) -> "TrainingKernels":
        """The NNGP kernel K and the gradient kernel G (Θ or K) at the test points x* and the training inputs X."""
        args = (self.sigma_b, self.sigma_w)
        x, xs = self.train_inputs, self.points
        k = lambda a, b: kernel_between(self.activation, a, b, *args)  # noqa: E731
        g = lambda a, b: gradient_kernel(self.activation, a, b, *args, layers=self.layers)  # noqa: E731
        return TrainingKernels(k(xs, xs), k(x, x), k(x, xs), g(x, x), g(xs, x))

    def mean(self, tau: float) -> np.ndarray:
        """μ_τ = A_τ Y."""
        return trained_gaussian(self.kernels(), self.train_targets, tau)[0]

    def control_variate(self, f0_test: np.ndarray, f0_train: np.ndarray, tau: float) -> np.ndarray:
        """g_τ = f_0(x*) + A_τ (Y − f_0(X)) for each network's own initial outputs (rows of ``f0_test``, (M, P), and
        ``f0_train``, (M, P_train)): each network propagated by the infinite-width kernel (docs/science.md §11).
        g is linear in f_0, and at one hidden layer f_0 has mean 0 and covariance K at every N, so the ensemble of g
        has exactly the infinite-width mean μ_τ and covariance Σ_τ at every N; ḡ − μ_τ is a zero-mean variate,
        strongly correlated with the trained f_τ: mean(f_τ − g_τ) + μ_τ estimates E[f_τ] without bias."""
        a = response(self.kernels(), tau)
        return np.asarray(f0_test) + (self.train_targets[None, :] - np.asarray(f0_train)) @ a.T

    def covariance(self, tau: float) -> np.ndarray:
        """Σ_τ = K** + A K(X, X) Aᵀ − A K(X, x*) − K(x*, X) Aᵀ."""
        return trained_gaussian(self.kernels(), self.train_targets, tau)[1]


class TrainingKernels(NamedTuple):
    """What gradient flow from a centred Gaussian f_0 of covariance K needs: K at the test points x* and the training
    inputs X, and the kernel G that drives the flow."""

    k_test: np.ndarray   # K(x*, x*)
    k_train: np.ndarray  # K(X, X)
    k_cross: np.ndarray  # K(X, x*)
    g_train: np.ndarray  # G(X, X)
    g_test: np.ndarray   # G(x*, X)


def response(kernels: TrainingKernels, tau: float) -> np.ndarray:
    """A_τ = G(x*, X) G⁻¹(1 − e^{−Gτ}): how the test outputs respond to the training residual,
    f_τ(x*) = f_0(x*) + A_τ (Y − f_0(X))."""
    return kernels.g_test @ flow_operator(kernels.g_train, tau)


def trained_gaussian(kernels: TrainingKernels, targets, tau: float):
    """(mean, covariance) at the test points of f_τ = f_0 + A_τ (Y − f_0(X)), A_τ = G(x*, X) G⁻¹(1 − e^{−Gτ}) with
    G = G(X, X), for f_0 centred Gaussian with covariance K: the infinite-width trained ensemble (K the NNGP kernel,
    G = Θ or K) and, given a network's hidden layer, its readout-trained outputs (K = G = the empirical kernel Ĝ,
    docs/science.md §11). The kernels may be stacks (one per network): (..., P) and (..., P, P)."""
    k_test, k_train, k_cross = kernels.k_test, kernels.k_train, kernels.k_cross
    a = response(kernels, tau)
    a_t, cross_t = np.swapaxes(a, -1, -2), np.swapaxes(k_cross, -1, -2)
    cov = k_test + a @ k_train @ a_t - a @ k_cross - cross_t @ a_t
    return a @ np.asarray(targets, dtype=float), (cov + np.swapaxes(cov, -1, -2)) / 2


def empirical_kernel(features: np.ndarray, sigma_b: float, sigma_w: float) -> np.ndarray:
    """Ĝ = σ_b² + (σ_W²/N) Σ_j φ_j φ_jᵀ of one network, from its hidden layer's ``features`` φ_j(x_p), shape (P, N)
    (or a stack of networks, (..., P, N)): the covariance of its outputs f_0 given the hidden layer, and the kernel of
    its readout's gradient flow."""
    n = features.shape[-1]
    return sigma_b**2 + sigma_w**2 / n * (features @ np.swapaxes(features, -1, -2))


def readout_trained(test_features: np.ndarray, train_features: np.ndarray, targets, tau: float, *, sigma_b: float,
                    sigma_w: float):
    """(mean, covariance) of one network's outputs at the test points after readout-only training for a time τ,
    given its hidden layer (features (P_test, N) and (P_train, N), or stacks of networks (M, P, N)):
    f_τ = f_0 + Ĝ*Ĝ⁻¹(1 − e^{−Ĝτ})(Y − f_0(X)) is linear in f_0 ~ N(0, Ĝ), so it is Gaussian: :func:`trained_gaussian`
    with K = G = Ĝ (docs/science.md §11). Ĝ(X, X) may be singular (N + 1 < P_train): (1 − e^{−Ĝτ})Ĝ⁻¹ is taken
    through the eigenvalues and stays finite."""
    p = test_features.shape[-2]
    g = empirical_kernel(np.concatenate([test_features, train_features], axis=-2), sigma_b, sigma_w)
    k_test, k_train, k_cross = g[..., :p, :p], g[..., p:, p:], g[..., p:, :p]
    return trained_gaussian(TrainingKernels(k_test, k_train, k_cross, k_train, np.swapaxes(k_cross, -1, -2)),
                            targets, tau)
