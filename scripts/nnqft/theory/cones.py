"""ReLU's single-neuron moments E[Π max(z_i, 0)] by an exact radial integral and Gauss–Legendre cubature on the
simplicial cones where every pre-activation is positive (docs/science.md §8), and the Gauss–Legendre rule on [0, 1]
that the Erf quadrature shares."""
from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations

import numpy as np

#: Quadrature order of the ReLU cones (nodes per dimension of each simplex, cones split to 60°):
#: doubling it changes no moment by more than 1e-12 relative, at every rank up to 4 (tests/unit/theory/test_neurons.py).
RELU_NODES = 16
#: Largest rank of the pre-activation covariance (d_in + 1 with d_in ≤ 3).
MAX_RANK = 4


@lru_cache(maxsize=None)
def gauss_legendre_01(n: int):
    """Gauss–Legendre nodes and weights of order n on [0, 1]."""
    t, w = np.polynomial.legendre.leggauss(n)
    return (t + 1) / 2, w / 2


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
    x, w = gauss_legendre_01(nodes)
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
