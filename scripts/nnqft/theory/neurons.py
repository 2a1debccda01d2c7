"""Single-neuron theory of GaussNet, ReLU, Erf and linear networks at any input dimension (docs/science.md §8).

A neuron's pre-activations z(x) = W0 · x + b0 at the evaluation points form a centred Gaussian vector
with covariance Σ(x, y) = σ_b² + σ_W² x·y / d_in, of rank at most d_in + 1. Everything the exact
finite-width theory needs from the activation φ is the set of single-neuron moments

    M_S = E[Π_{i∈S} φ(z(x_i))]     for multisets S of points,

and the 2-point kernel K(x, y) = σ_b² + σ_W² M_{x,y}. This module gives

- the kernels in closed form: GaussNet, the arc-cosine kernel of ReLU (Cho & Saul 2009), the arcsine
  kernel of Erf (Williams 1997);
- the moments: GaussNet in closed form; ReLU by an exact radial integral and Gauss–Legendre quadrature on
  a triangulation of the cone where all pre-activations are positive; Erf by Price's theorem, which writes
  a 2k-fold product as a k − 1-fold integral over [0, 1]^(k−1) of arcsine kernels. Both quadratures act on
  analytic integrands and converge exponentially; ``nodes`` sets their order, and the tests check that
  doubling it changes nothing above 1e-12 relative.

Points are arrays of shape (n_points, d_in); a multiset is given by its covariance matrix (one row per
factor, repeated points repeated), so the functions do not care where the covariance came from.
"""
from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations

import numpy as np

from ..model import ACTIVATIONS, as_points

#: Quadrature order of the ReLU cones (nodes per dimension of each simplex, cones split to 60°):
#: doubling it changes no moment by more than 1e-12 relative, at every rank up to 4 (tests/test_neurons.py).
RELU_NODES = 16
#: Largest pre-activation variance Σ(x, x) at which the Erf quadrature's convergence is tested
#: (σ_b = σ_W = 3 at |x| = 1); larger ones are refused rather than computed to an unknown accuracy.
MAX_ERF_VARIANCE = 18.0
#: Largest rank of the pre-activation covariance (d_in + 1 with d_in ≤ 3).
MAX_RANK = 4


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


def kernel_matrix(activation: str, points, sigma_b: float, sigma_w: float) -> np.ndarray:
    """K(x_i, x_j) = σ_b² + σ_W² E[φ(z_i) φ(z_j)] in closed form, for every pair of points."""
    return kernel_between(activation, points, points, sigma_b, sigma_w)


def kernel_between(activation: str, xs, ys, sigma_b: float, sigma_w: float) -> np.ndarray:
    """K(x, y) in closed form (docs/science.md §8) for every x of ``xs`` and y of ``ys`` (points of one d_in):
    GaussNet σ_b² + σ_W² exp(Σ(x,y) − (Σ(x,x) + Σ(y,y))/2) = σ_b² + σ_W² exp(−σ_W² |x − y|²/(2 d_in)); ReLU the
    arc-cosine kernel (Cho & Saul 2009); Erf Williams's arcsine kernel. Shape (len(xs), len(ys))."""
    x, y = as_points(xs), as_points(ys)
    cov = cross_covariance(x, y, sigma_b, sigma_w)
    vx = sigma_b**2 + sigma_w**2 * np.einsum("ij,ij->i", x, x) / x.shape[1]  # Σ(x, x), without the x x^T matrix
    vy = sigma_b**2 + sigma_w**2 * np.einsum("ij,ij->i", y, y) / y.shape[1]
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

@lru_cache(maxsize=None)
def _gauss_legendre_01(n: int):
    t, w = np.polynomial.legendre.leggauss(n)
    return (t + 1) / 2, w / 2


def erf_moments(covs, nodes: int | None = None, closed_pair: bool = True) -> np.ndarray:
    """E[Π_{i=1..k} erf(z_i)] for z ~ N(0, cov), for a stack of covariance matrices (m, k, k).

    Odd k vanish (erf is odd). For k = 2 the arcsine kernel. For k ≥ 4, Price's theorem along
    Σ(t) = D + t (Σ − D), D the diagonal of Σ (at t = 0 the factors are independent and the moment is 0):

        E_Σ[F] = ∫_0^1 dt Σ_{i<j} Σ_ij E_{Σ(t)}[∂_i ∂_j F],
        ∂_i ∂_j F = (4/π) e^{−z_i² − z_j²} Π_{l≠i,j} erf(z_l),

    and the Gaussian factor is absorbed into the measure: E[e^{−zᵀΛz} G(z)] = det(I + 2ΛΣ)^{−1/2}
    E_{Σ(I + 2ΛΣ)^{−1}}[G(z)], with Λ = e_i e_iᵀ + e_j e_jᵀ. Each step removes two factors at the cost of
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
    chunk = max(1, 200_000 // nodes ** max(covs.shape[1] // 2 - 1, 1))
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
        return _erf_pair(covs)[:, 0, 1]
    t, w = _gauss_legendre_01(nodes)
    diag = np.zeros_like(covs)
    idx = np.arange(k)
    diag[:, idx, idx] = covs[:, idx, idx]
    # Σ(t) for every matrix and node: (m, n, k, k)
    sig = diag[:, None] + t[None, :, None, None] * (covs - diag)[:, None]
    total = np.zeros(m)
    eye = np.eye(k)
    for i, j in combinations(range(k), 2):
        lam = np.zeros((k, k))
        lam[i, i] = lam[j, j] = 1.0
        a = eye + 2 * lam @ sig  # (m, n, k, k)
        det = np.linalg.det(a)
        tilted = sig @ np.linalg.inv(a)
        tilted = (tilted + np.swapaxes(tilted, -1, -2)) / 2
        rest = [l for l in range(k) if l not in (i, j)]
        if rest:
            sub = tilted[:, :, rest][:, :, :, rest].reshape(-1, k - 2, k - 2)
            inner = _erf_moments(sub, nodes, closed_pair).reshape(m, len(t))
        else:
            inner = np.ones((m, len(t)))
        total += covs[:, i, j] * (4 / np.pi) * ((det ** -0.5 * inner) @ w)
    return total


# --- ReLU: exact radial integral over a triangulated cone ----------------------------------------------

def relu_moment(cov, nodes: int = RELU_NODES) -> float:
    """E[Π_{i=1..k} max(z_i, 0)] for z ~ N(0, cov).

    Write z = A u with u ~ N(0, I_s), s = rank of Σ (A from its eigen-decomposition). The product is
    non-zero only on the polyhedral cone C = {u : a_i·u ≥ 0}, and is homogeneous of degree k in u, so in
    polar form the radial integral is exact:

        E = (2π)^{−s/2} 2^{(k+s)/2 − 1} Γ((k+s)/2) ∫ over simplicial cones [v_1..v_s] of C of
            |det V| ∫_{simplex} Π_i (a_i·p(λ)) |p(λ)|^{−(k+s)} dλ,      p(λ) = Σ_j λ_j v_j.

    The cone is cut into simplicial cones (its extreme rays, the convex hull of the rays and the origin),
    each split until its rays are within 60° of each other, so that the integrand is analytic well beyond
    each simplex and collapsed Gauss–Legendre quadrature (``nodes`` per dimension) converges exponentially.
    """
    cov = np.asarray(cov, dtype=float)
    k = cov.shape[0]
    a = _factor(cov)  # (k, s)
    norms = np.linalg.norm(a, axis=1)
    scale = max(norms.max(), 1e-300)
    if (norms <= 1e-14 * scale).any():
        return 0.0  # a pre-activation that is identically 0
    a = a / norms[:, None]  # the moment scales with Π |a_i|
    factor = float(np.prod(norms))
    s = a.shape[1]
    if s > MAX_RANK:
        raise ValueError(f"pre-activation covariance of rank {s}: at most {MAX_RANK} (d_in ≤ 3) is supported")
    if s == 1:
        signs = np.sign(a[:, 0])
        if (signs > 0).all() or (signs < 0).all():
            return factor * 2 ** (k / 2 - 1) * math.gamma((k + 1) / 2) / math.sqrt(math.pi)
        return 0.0
    distinct = _distinct_rows(a)
    cones = _simplicial_cones(distinct)
    if not cones:
        return 0.0
    radial = (2 * math.pi) ** (-s / 2) * 2 ** ((k + s) / 2 - 1) * math.gamma((k + s) / 2)
    lam, w = _simplex_rule(s - 1, nodes)
    total = 0.0
    for rays in cones:
        for sub in _split(rays, math.radians(60)):
            p = lam @ sub  # (n, s)
            f = np.prod(np.clip(p @ a.T, 0.0, None), axis=1)
            total += abs(np.linalg.det(sub)) * np.dot(w, f * np.linalg.norm(p, axis=1) ** -(k + s))
    return factor * radial * total


def _factor(cov, rtol: float = 1e-12) -> np.ndarray:
    """A with A Aᵀ = cov and as many columns as the numerical rank of cov."""
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    keep = vals > rtol * max(vals.max(), 0.0)
    return vecs[:, keep] * np.sqrt(vals[keep])


def _distinct_rows(a, tol: float = 1e-12) -> np.ndarray:
    rows = []
    for row in a:
        if not any(np.abs(row - r).max() <= tol for r in rows):
            rows.append(row)
    return np.array(rows)


def _extreme_rays(a, tol: float = 1e-10) -> np.ndarray:
    """Unit extreme rays of the pointed cone {u : a_i·u ≥ 0} (rows a_i spanning R^s)."""
    m, s = a.shape
    rays = []
    for subset in combinations(range(m), s - 1):
        sub = a[list(subset)]
        _, sv, vt = np.linalg.svd(sub)
        if (sv[-1] if len(sv) == s - 1 else 0) <= tol * sv[0]:
            continue  # the s − 1 constraints are dependent
        d = vt[-1]
        for sign in (1.0, -1.0):
            ray = sign * d
            if (a @ ray >= -tol).all() and not any(np.abs(ray - r).max() <= 1e-9 for r in rays):
                rays.append(ray)
    return np.array(rays).reshape(-1, s)


def _simplicial_cones(a) -> list[np.ndarray]:
    """The cone {u : a_i·u ≥ 0} as a union of simplicial cones, each given by s unit rays (rows)."""
    s = a.shape[1]
    rays = _extreme_rays(a)
    if len(rays) < s or np.linalg.matrix_rank(rays, tol=1e-9) < s:
        return []  # the cone has no interior: the moment is 0
    if len(rays) == s:
        return [rays]
    from scipy.spatial import ConvexHull

    hull = ConvexHull(np.vstack([np.zeros(s), rays]), qhull_options="Qt")
    cones = []
    for simplex in hull.simplices:
        if 0 in simplex:
            continue  # a facet through the origin: a side of the cone, not part of its cross-section
        cones.append(rays[simplex - 1])
    return cones


def _split(rays, max_angle):
    """Split a simplicial cone along its widest edge until all its rays are within ``max_angle``."""
    s = rays.shape[0]
    best, pair = -1.0, None
    for i, j in combinations(range(s), 2):
        angle = math.acos(min(1.0, max(-1.0, float(rays[i] @ rays[j]))))
        if angle > best:
            best, pair = angle, (i, j)
    if pair is None or best <= max_angle:
        yield rays
        return
    i, j = pair
    mid = rays[i] + rays[j]
    mid /= np.linalg.norm(mid)
    for replace in (i, j):
        half = rays.copy()
        half[replace] = mid
        yield from _split(half, max_angle)


@lru_cache(maxsize=None)
def _simplex_rule(dim: int, nodes: int):
    """Barycentric nodes (n, dim + 1) and weights of a collapsed (Duffy) Gauss–Legendre rule on the
    standard simplex of dimension ``dim`` with Lebesgue measure in its first ``dim`` coordinates."""
    x, w = _gauss_legendre_01(nodes)
    if dim == 1:
        lam = np.stack([x, 1 - x], axis=1)
        return lam, w
    if dim == 2:
        xi, eta = np.meshgrid(x, x, indexing="ij")
        wi = np.outer(w, w)
        l1 = xi
        l2 = (1 - xi) * eta
        jac = 1 - xi
        lam = np.stack([l1, l2, 1 - l1 - l2], axis=-1).reshape(-1, 3)
        return lam, (wi * jac).ravel()
    if dim == 3:
        xi, eta, zeta = np.meshgrid(x, x, x, indexing="ij")
        wi = w[:, None, None] * w[None, :, None] * w[None, None, :]
        l1 = xi
        l2 = (1 - xi) * eta
        l3 = (1 - xi) * (1 - eta) * zeta
        jac = (1 - xi) ** 2 * (1 - eta)
        lam = np.stack([l1, l2, l3, 1 - l1 - l2 - l3], axis=-1).reshape(-1, 4)
        return lam, (wi * jac).ravel()
    raise ValueError(f"cones of dimension {dim + 1} are not supported (rank ≤ 4, d_in ≤ 3)")
