"""Single-neuron theory of GaussNet, ReLU, Erf and linear networks at any input dimension (docs/science.md §8).

A neuron's pre-activations z(x) = W0 · x + b0 at the evaluation points form a centred Gaussian vector
with covariance Σ(x, y) = σ_b² + σ_W² x·y / d_in, of rank at most d_in + 1. Everything the exact
finite-width theory needs from the activation φ is the set of single-neuron moments

    M_S = E[Π_{i∈S} φ(z(x_i))]     for multisets S of points,

and the 2-point kernel K(x, y) = σ_b² + σ_W² M_{x,y}. This module gives

- the kernels in closed form: GaussNet, the arc-cosine kernel of ReLU (Cho & Saul 2009), the arcsine
  kernel of Erf (Williams 1997);
- the moments: GaussNet in closed form; ReLU by an exact radial integral and Gauss–Legendre quadrature on
  a triangulation of the cone where all pre-activations are positive (:mod:`nnqft.theory.cones`); Erf by Price's theorem, which writes
  a 2k-fold product as a k − 1-fold integral over [0, 1]^(k−1) of arcsine kernels. Both quadratures act on
  analytic integrands and converge exponentially; ``nodes`` sets their order, and the tests check that
  doubling it changes nothing above 1e-12 relative.

Points are arrays of shape (n_points, d_in); a multiset is given by its covariance matrix (one row per
factor, repeated points repeated), so the functions do not care where the covariance came from.
"""
from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from ..model import ACTIVATIONS, as_points
from .cones import RELU_NODES, gauss_legendre_01, relu_moment

#: Largest pre-activation variance Σ(x, x) at which the Erf quadrature's convergence is tested
#: (σ_b = σ_W = 3 at |x| = 1); larger ones are refused rather than computed to an unknown accuracy.
MAX_ERF_VARIANCE = 18.0

#: Covariance matrices per batch at the innermost level of the Erf recursion (see :func:`erf_moments`).
ERF_CHUNK = 5000


def erf_nodes(max_variance: float) -> int:
    """Gauss–Legendre nodes per level of the Erf recursion: the t-integrands sharpen as the pre-activation
    variance grows (measured: 16 nodes reach 1e-14 at variance 2, 32 at 8, 48 at 18)."""
    return int(math.ceil(12 * math.sqrt(max(max_variance, 0.0)))) + 8


def preactivation_covariance(points, sigma_b: float, sigma_w: float) -> np.ndarray:
    """Σ_ij = σ_b² + σ_W² x_i·x_j / d_in, the covariance of z(x_i) = W0·x_i + b0."""
    return cross_covariance(points, points, sigma_b, sigma_w)


def cross_covariance(xs, ys, sigma_b: float, sigma_w: float) -> np.ndarray:
    """Σ(x, y) = σ_b² + σ_W² x·y / d_in for every x of ``xs`` and y of ``ys``."""
    x, y = as_points(xs), as_points(ys)
    return sigma_b**2 + sigma_w**2 * (x @ y.T) / x.shape[1]


def preactivation_variance(points, sigma_b: float, sigma_w: float) -> np.ndarray:
    """Σ(x, x) = σ_b² + σ_W² |x|²/d_in at every point, without the x xᵀ matrix."""
    x = as_points(points)
    return sigma_b**2 + sigma_w**2 * np.einsum("ij,ij->i", x, x) / x.shape[1]


def kernel_matrix(activation: str, points, sigma_b: float, sigma_w: float) -> np.ndarray:
    """K(x_i, x_j) = σ_b² + σ_W² E[φ(z_i) φ(z_j)] in closed form, for every pair of points."""
    return kernel_between(activation, points, points, sigma_b, sigma_w)


def kernel_between(activation: str, xs, ys, sigma_b: float, sigma_w: float) -> np.ndarray:
    """K(x, y) in closed form (docs/science.md §8) for every x of ``xs`` and y of ``ys`` (points of one d_in):
    GaussNet σ_b² + σ_W² exp(Σ(x,y) − (Σ(x,x) + Σ(y,y))/2) = σ_b² + σ_W² exp(−σ_W² |x − y|²/(2 d_in)); ReLU the
    arc-cosine kernel (Cho & Saul 2009); Erf Williams's arcsine kernel. Shape (len(xs), len(ys))."""
    x, y = as_points(xs), as_points(ys)
    cov = cross_covariance(x, y, sigma_b, sigma_w)
    vx, vy = preactivation_variance(x, sigma_b, sigma_w), preactivation_variance(y, sigma_b, sigma_w)
    if activation == "gauss":
        return sigma_b**2 + sigma_w**2 * np.exp(cov - (vx[:, None] + vy[None, :]) / 2)
    if activation == "relu":
        outer = np.sqrt(vx)[:, None] * np.sqrt(vy)[None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.where(outer > 0, np.clip(cov / outer, -1.0, 1.0), 1.0)
        theta = np.arccos(cos)
        return sigma_b**2 + sigma_w**2 * outer * (np.sin(theta) + (np.pi - theta) * cos) / (2 * np.pi)
    if activation == "erf":
        return sigma_b**2 + sigma_w**2 * _erf_arcsin(cov, vx[:, None], vy[None, :])
    if activation == "linear":
        return sigma_b**2 + sigma_w**2 * cov
    raise ValueError(f"unknown activation {activation!r}: expected one of {tuple(ACTIVATIONS)}")


def _erf_arcsin(cov, var_x, var_y):
    """E[erf(z_x) erf(z_y)] = (2/π) arcsin(2Σ_xy / √((1 + 2Σ_xx)(1 + 2Σ_yy))) (Williams 1997)."""
    return 2 / np.pi * np.arcsin(2 * cov / np.sqrt((1 + 2 * var_x) * (1 + 2 * var_y)))


def _erf_pair(cov):
    """:func:`_erf_arcsin` elementwise over the last two axes of a stack of covariance matrices."""
    var = np.diagonal(cov, axis1=-2, axis2=-1)
    return _erf_arcsin(cov, var[..., :, None], var[..., None, :])


def moment(activation: str, cov, nodes: int | None = None) -> float:
    """M_S = E[Π_i φ(z_i)] for a centred Gaussian vector z with covariance ``cov`` (k × k, PSD, rank ≤ 4).
    ``nodes``: the quadrature order (default: the converged one, :data:`RELU_NODES`, :func:`erf_nodes`)."""
    cov = np.asarray(cov, dtype=float)
    if cov.shape[0] == 0:
        return 1.0
    if activation == "gauss":
        return gauss_moment(cov)
    if activation == "relu":
        return relu_moment(cov, nodes or RELU_NODES)
    if activation == "erf":
        return float(erf_moments(cov[None], nodes)[0])
    if activation == "linear":
        return linear_moment(cov)
    raise ValueError(f"unknown activation {activation!r}: expected one of {tuple(ACTIVATIONS)}")


def moments(activation: str, cov, multisets, nodes: int | None = None) -> np.ndarray:
    """M_S for many multisets S (tuples of indices into the rows of ``cov``, the covariance of all points)."""
    cov = np.asarray(cov, dtype=float)
    multisets = [tuple(m) for m in multisets]
    out = np.empty(len(multisets))
    if activation != "erf":
        for r, m in enumerate(multisets):
            out[r] = moment(activation, cov[np.ix_(m, m)], nodes)
        return out
    by_size: dict[int, list[int]] = {}
    for r, m in enumerate(multisets):
        by_size.setdefault(len(m), []).append(r)
    for size, rows in by_size.items():
        stack = np.array([cov[np.ix_(multisets[r], multisets[r])] for r in rows]).reshape(len(rows), size, size)
        out[rows] = erf_moments(stack, nodes)
    return out


# --- GaussNet ------------------------------------------------------------------------------------------

def gauss_moment(cov) -> float:
    """GaussNet, φ(z(x)) = exp(z(x) − Σ(x, x)): M_S = E[exp(Σ_i z_i)] Π_i e^{−Σ_ii} = exp(½ Σ_ij Σ_ij − Σ_i Σ_ii)
    (docs/science.md §5, at any d_in)."""
    cov = np.asarray(cov, dtype=float)
    return math.exp(cov.sum() / 2 - np.trace(cov))


def linear_moment(cov) -> float:
    """φ(z) = z: E[Π_i z_i] by Isserlis's theorem, the sum over the perfect matchings of Π cov."""
    cov = np.asarray(cov, dtype=float)
    k = cov.shape[0]
    if k % 2:
        return 0.0
    if k == 0:
        return 1.0
    return float(sum(cov[0, j] * linear_moment(np.delete(np.delete(cov, [0, j], 0), [0, j], 1))
                     for j in range(1, k)))


# --- Erf: Price's theorem ------------------------------------------------------------------------------

def erf_moments(covs, nodes: int | None = None, closed_pair: bool = True) -> np.ndarray:
    """E[Π_{i=1..k} erf(z_i)] for z ~ N(0, cov), for a stack of covariance matrices (m, k, k).

    Odd k vanish (erf is odd). For k = 2 the arcsine kernel. For k ≥ 4, Price's theorem along
    Σ(t) = D + t (Σ − D), D the diagonal of Σ (at t = 0 the factors are independent and the moment is 0):

        E_Σ[F] = ∫_0^1 dt Σ_{i<j} Σ_ij E_{Σ(t)}[∂_i ∂_j F],
        ∂_i ∂_j F = (4/π) e^{−z_i² − z_j²} Π_{l≠i,j} erf(z_l),

    and the Gaussian factor is absorbed into the measure: E[e^{−zᵀΛz} G(z)] = det(I + 2ΛΣ)^{−1/2}
    E_{Σ(I + 2ΛΣ)^{−1}}[G(z)], with Λ = e_i e_iᵀ + e_j e_jᵀ. Both factors need only the 2 × 2 block A = I/2 + Σ_PP
    on P = {i, j}: det(I + 2ΛΣ) = 4 det A (Sylvester) and Σ(I + 2ΛΣ)^{−1} = Σ − Σ_{:,P} A^{−1} Σ_{P,:}
    (Woodbury), which hold for singular Σ too (points of rank below k). Each step removes two factors at the cost of
    one integral over t, done by Gauss–Legendre with ``nodes`` nodes (default :func:`erf_nodes` of the
    largest variance). ``closed_pair=False`` carries the recursion down to k = 0 instead of stopping at the
    arcsine kernel (to test the recursion against it).
    """
    covs = np.asarray(covs, dtype=float)
    if covs.shape[0] == 0:
        return np.empty(0)
    top = float(np.diagonal(covs, axis1=-2, axis2=-1).max()) if covs.shape[1] else 0.0
    if top > MAX_ERF_VARIANCE * (1 + 1e-12):
        raise ValueError(f"pre-activation variance {top:g} is above {MAX_ERF_VARIANCE:g}, the largest at which "
                         f"the Erf quadrature's convergence is tested")
    nodes = nodes or erf_nodes(top)
    out = np.empty(covs.shape[0])
    # Few matrices at a time: the innermost level holds nodes^(k/2 − 1) of them per matrix, and arrays that stay in
    # the CPU's cache ran 6× faster than one large batch (measured at k = 6, 42 nodes).
    chunk = max(1, ERF_CHUNK // nodes ** max(covs.shape[1] // 2 - 1, 1))
    for start in range(0, covs.shape[0], chunk):
        out[start:start + chunk] = _erf_moments(covs[start:start + chunk], nodes, closed_pair)
    return out


def _erf_moments(covs: np.ndarray, nodes: int, closed_pair: bool) -> np.ndarray:
    m, k = covs.shape[0], covs.shape[1]
    if k == 0:
        return np.ones(m)
    if k % 2:
        return np.zeros(m)
    if k == 2 and closed_pair:
        return _erf_arcsin(covs[:, 0, 1], covs[:, 0, 0], covs[:, 1, 1])
    t, w = gauss_legendre_01(nodes)
    off = covs.copy()
    idx = np.arange(k)
    off[:, idx, idx] = 0.0
    sig = covs[:, None] - (1 - t)[None, :, None, None] * off[:, None]  # Σ(t) = D + t (Σ − D): (m, n, k, k)
    total = np.zeros(m)
    for i, j in combinations(range(k), 2):
        # A = I/2 + Σ_PP on the pair P = {i, j}: det(I + 2ΛΣ) = 4 det A, and Σ(I + 2ΛΣ)^{-1} = Σ − Σ_{:,P} A^{-1} Σ_{P,:}
        a_ii, a_jj, a_ij = 0.5 + sig[..., i, i], 0.5 + sig[..., j, j], sig[..., i, j]
        det_a = a_ii * a_jj - a_ij * a_ij

        def tilted(p, q):
            """Entry (p, q) of Σ(I + 2ΛΣ)^{-1} (symmetric in p and q up to rounding: one triangle is computed)."""
            return sig[..., p, q] - (a_jj * sig[..., p, i] * sig[..., q, i] + a_ii * sig[..., p, j] * sig[..., q, j]
                                     - a_ij * (sig[..., p, i] * sig[..., q, j] + sig[..., p, j] * sig[..., q, i])) / det_a

        rest = [r for r in range(k) if r not in (i, j)]
        if len(rest) == 2 and closed_pair:  # the arcsine kernel of the 2 × 2 block, without building it
            a, b = rest
            inner = _erf_arcsin(tilted(a, b), tilted(a, a), tilted(b, b))
        elif rest:
            sub = np.empty((m, len(t), k - 2, k - 2))
            for r, p in enumerate(rest):
                for c, q in enumerate(rest[r:], start=r):
                    sub[..., r, c] = sub[..., c, r] = tilted(p, q)
            inner = _erf_moments(sub.reshape(-1, k - 2, k - 2), nodes, closed_pair).reshape(m, len(t))
        else:
            inner = np.ones((m, len(t)))
        total += covs[:, i, j] * (4 / np.pi) * (((4 * det_a) ** -0.5 * inner) @ w)
    return total
