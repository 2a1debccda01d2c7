"""The theory of networks with L hidden layers of width N (docs/science.md §10): infinite width and order 1/N.

Notation: z^(ℓ) the pre-activations of layer ℓ (ℓ = 1..L), the output f = z^(L+1); K^(ℓ) their infinite-width
kernel on the P points; for one neuron, E[z z z z]_c = (1/N)(V_(12)(34) + V_(13)(24) + V_(14)(23)) + O(1/N²), and for
two neurons j ≠ k, E[z_j,a z_j,b z_k,c z_k,d]_c = (1/N) V_(ab)(cd); E[z_a z_b] = K_ab + K1_ab / N + O(1/N²).

- Kernel (Neal; Lee et al. 2018): K^(1) = σ_b² + σ_W² x·y / d_in, K^(ℓ+1) = σ_b² + σ_W² ⟨φ_a φ_b⟩_{K^(ℓ)}.
- Vertex and 2-point correction (Yaida 2019; Roberts, Yaida, Hanin 2022, ch. 4; here in the derivative form, which
  needs no inverse kernel): V^(1) = K1^(1) = 0 (the first layer is exactly Gaussian) and

      V^(ℓ+1)_(pq)(rs) = σ_W⁴ (⟨φ_p φ_q φ_r φ_s⟩ − ⟨φ_p φ_q⟩⟨φ_r φ_s⟩)
                        + (σ_W⁴/4) Σ_{abcd} V^(ℓ)_(ab)(cd) ⟨∂_a ∂_b (φ_p φ_q)⟩ ⟨∂_c ∂_d (φ_r φ_s)⟩,
      K1^(ℓ+1)_pq = (σ_W²/2) Σ_{ab} K1^(ℓ)_ab ⟨∂_a ∂_b (φ_p φ_q)⟩ + (σ_W²/8) Σ_{abcd} V^(ℓ)_(ab)(cd) ⟨∂_a∂_b∂_c∂_d (φ_p φ_q)⟩,

  expectations in the Gaussian of covariance K^(ℓ). The derivatives are taken off φ by the heat equation of the
  Gaussian, ⟨∂_a ∂_b F⟩ = (2 − δ_ab) ∂⟨F⟩/∂K_ab (the derivative in the entry K_ab = K_ba): for F = φ_p φ_q only the
  entries (pp), (pq), (qq) enter, and ⟨φ_p φ_q⟩ = g(K_pp, K_pq, K_qq) is known in closed form for every activation
  (:func:`pair_expectation`), so the contractions are Σ_{uv} V_uv ∂_u g ∂_v g and Σ_uv V_uv ∂_u ∂_v g over those
  entries, exact and finite also for ReLU's kink. The four-point moments come from :mod:`nnqft.theory.neurons`.
- Outputs at order 1/N: G^(2) = K + K1/N; G^(4) = Wick(K + K1/N) + (1/N) Σ_3 V; G^(6) = Wick(K + K1/N)
  + (1/N) Σ over the 15 splits 4 + 2 of (Σ_3 V) K, each truncated at 1/N (the connected 6-point function is
  O(1/N²)). At L = 1 this is the exact theory's 1/N term (:class:`nnqft.theory.exact.Theory`), exact for G^(2), G^(4).
- ReLU at σ_b = 0 is positively homogeneous: f(c x) = c f(x) for c > 0, and points on one ray give a singular K.
  The theory is then computed on the distinct rays and scaled by the points' norms.
- Linear networks exactly: :mod:`nnqft.theory.linear`.
"""
from __future__ import annotations

import math
from itertools import combinations, combinations_with_replacement

import numpy as np

from ..model import as_points
from . import neurons
from .base import FieldTheory
from .partitions import pairings


def pair_expectation(activation: str, k, c=(0.0, 0.0)):
    """g = ⟨φ(u) φ(v)⟩ for (u, v) ~ N(0, [[k11, k12], [k12, k22]]), k = (k11, k12, k22), with its gradient and Hessian
    in (k11, k12, k22) (float, float[3], float[3, 3]): in closed form. GaussNet's φ(z) = exp(z − c), c = (c1, c2) its
    normalisations
    (fixed: they do not move with the covariance); ReLU the arc-cosine kernel (Cho & Saul 2009), whose derivatives
    are finite where the covariance is not singular; Erf the arcsine kernel (Williams 1997); linear g = k12."""
    k11, k12, k22 = (float(v) for v in k)
    c1, c2 = c
    if activation == "linear":
        return k12, np.array([0.0, 1.0, 0.0]), np.zeros((3, 3))
    if activation == "gauss":
        g = math.exp((k11 + 2 * k12 + k22) / 2 - c1 - c2)
        d = np.array([0.5, 1.0, 0.5])
        return g, g * d, g * np.outer(d, d)
    if activation == "relu":
        det = k11 * k22 - k12 * k12
        root = math.sqrt(max(det, 0.0))
        theta = math.acos(min(1.0, max(-1.0, k12 / math.sqrt(k11 * k22))))
        g = (root + k12 * (math.pi - theta)) / (2 * math.pi)
        grad = np.array([root / (4 * math.pi * k11), (math.pi - theta) / (2 * math.pi), root / (4 * math.pi * k22)])
        if root == 0.0:
            return g, grad, np.full((3, 3), np.nan)
        h = np.empty((3, 3))
        h[0, 0] = (2 * k12 * k12 - k11 * k22) / (8 * math.pi * k11 * k11 * root)
        h[2, 2] = (2 * k12 * k12 - k11 * k22) / (8 * math.pi * k22 * k22 * root)
        h[0, 1] = h[1, 0] = -k12 / (4 * math.pi * k11 * root)
        h[2, 1] = h[1, 2] = -k12 / (4 * math.pi * k22 * root)
        h[0, 2] = h[2, 0] = 1 / (8 * math.pi * root)
        h[1, 1] = 1 / (2 * math.pi * root)
        return g, grad, h
    if activation == "erf":
        a, b = 1 + 2 * k11, 1 + 2 * k22
        root = math.sqrt(a * b)
        s = 2 * k12 / root
        g1 = 2 / math.pi / math.sqrt(1 - s * s)
        g2 = g1 * s / (1 - s * s)
        ds = np.array([-s / a, 2 / root, -s / b])
        hs = np.array([[3 * s / a**2, -2 / (a * root), s / (a * b)],
                       [-2 / (a * root), 0.0, -2 / (b * root)],
                       [s / (a * b), -2 / (b * root), 3 * s / b**2]])
        return 2 / math.pi * math.asin(s), g1 * ds, g2 * np.outer(ds, ds) + g1 * hs
    raise ValueError(f"unknown activation {activation!r}")


def square_expectation(activation: str, k: float, c: float = 0.0):
    """g = ⟨φ(z)²⟩ for z ~ N(0, k), with dg/dk and d²g/dk² (GaussNet's c as in :func:`pair_expectation`)."""
    if activation == "linear":
        return k, 1.0, 0.0
    if activation == "gauss":
        g = math.exp(2 * k - 2 * c)
        return g, 2 * g, 4 * g
    if activation == "relu":
        return k / 2, 0.5, 0.0
    if activation == "erf":
        s = 2 * k / (1 + 2 * k)
        ds, dds = 2 / (1 + 2 * k) ** 2, -8 / (1 + 2 * k) ** 3
        g1 = 2 / math.pi / math.sqrt(1 - s * s)
        g2 = g1 * s / (1 - s * s)
        return 2 / math.pi * math.asin(s), g1 * ds, g2 * ds * ds + g1 * dds
    raise ValueError(f"unknown activation {activation!r}")


class DeepTheory(FieldTheory):
    """Infinite width and order 1/N of networks of ``depth`` hidden layers (module docstring), for an activation
    (gauss, relu, erf, linear), a point set and (σ_b, σ_W). Everything is computed once, on construction; the layers
    are indexed ℓ = 1..L+1 (the output is layer L+1) as ``kernels[ℓ - 1]``. Its correlators are truncated at order
    1/N (not exact: no estimator variance)."""

    exact = False

    def __init__(self, activation: str, points, sigma_b: float, sigma_w: float, depth: int, *,
                 nodes: int | None = None, propagate: bool = True):
        self.activation, self.depth, self.nodes = activation, int(depth), nodes
        self.points = as_points(points)
        self.sigma_b, self.sigma_w = float(sigma_b), float(sigma_w)
        x = self.points
        self.scale = np.ones(len(x))
        self.ray = np.arange(len(x))
        if activation == "relu" and self.sigma_b == 0.0:
            x, self.ray, self.scale = _rays(self.points)
        # propagate=False drops the vertex's propagation term (a wrong theory, for the tests to reject)
        self.kernels, self.vertices, self.corrections = _recursion(activation, x, self.sigma_b, self.sigma_w,
                                                                   self.depth, nodes, propagate)

    @classmethod
    def of(cls, model, *, nodes: int | None = None) -> "DeepTheory":
        return cls(model.activation, model.points, model.sigma_b, model.sigma_w, model.depth, nodes=nodes)

    def _lift(self, matrix):
        """A tensor over the rays as one over the points (scaled by the points' norms)."""
        idx = np.ix_(*[self.ray] * matrix.ndim)
        out = matrix[idx]
        for axis in range(matrix.ndim):
            shape = [1] * matrix.ndim
            shape[axis] = -1
            out = out * self.scale.reshape(shape)
        return out

    @property
    def K(self) -> np.ndarray:
        """The output's infinite-width kernel K^(L+1) on the points."""
        return self._lift(self.kernels[-1])

    @property
    def K1(self) -> np.ndarray:
        """The output's 2-point correction: G^(2) = K + K1/N + O(1/N²)."""
        return self._lift(self.corrections[-1])

    @property
    def V(self) -> np.ndarray:
        """The output's four-point vertex V_(ab)(cd) as float[P, P, P, P]."""
        return self._lift(self.vertices[-1])

    def expansion(self, combos) -> tuple[np.ndarray, np.ndarray]:
        """(G0, G1) with G^(n) = G0 + G1/N + O(1/N²) for each combination (tuples of point indices): G0 the Wick sum
        of K, G1 the Wick sums with one K1 and the vertex terms (module docstring)."""
        K, K1, V = self.K, self.K1, self.V
        g0, g1 = np.empty(len(combos)), np.empty(len(combos))
        for r, c in enumerate(combos):
            c = tuple(c)
            free = first = 0.0
            for match in pairings(c):
                ks = [K[a, b] for a, b in match]
                free += math.prod(ks)
                for e, (a, b) in enumerate(match):
                    first += K1[a, b] * math.prod(ks[:e] + ks[e + 1:])
            for four in combinations(range(len(c)), 4):
                p, q, r_, s = (c[i] for i in four)
                vertex = V[p, q, r_, s] + V[p, r_, q, s] + V[p, s, q, r_]
                rest = [c[i] for i in range(len(c)) if i not in four]
                first += vertex * sum(math.prod(K[a, b] for a, b in m) for m in pairings(rest))
            g0[r], g1[r] = free, first
        return g0, g1

    def conditional_moments(self, pairs: np.ndarray, N: int) -> np.ndarray:
        """E[Π_e Ĝ_e] of the output's conditional covariance over the pairs e of each row of ``pairs`` (int[m, k, 2]),
        at order 1/N: Π_e K_e + (1/N)[Σ_e K1_e Π_{e' ≠ e} K_e' + Σ_{e < e'} V_(e)(e') Π_{others} K] (Ĝ = K + O(N^-½)
        with mean K + K1/N and covariance V/N). Summed over the perfect matchings of a combination it is
        :meth:`expansion`'s G0 + G1/N (tested), so summed over those that pair equal outputs it is the 1/N theory of
        several outputs (nnqft.theory.outputs)."""
        K, K1, V = self.K, self.K1, self.V
        out = np.empty(len(pairs))
        for r, row in enumerate(np.asarray(pairs, dtype=np.int64)):
            ks = [K[a, b] for a, b in row]
            first = sum(K1[a, b] * math.prod(ks[:e] + ks[e + 1:]) for e, (a, b) in enumerate(row))
            for e, f in combinations(range(len(row)), 2):
                rest = [ks[i] for i in range(len(row)) if i not in (e, f)]
                first += V[row[e][0], row[e][1], row[f][0], row[f][1]] * math.prod(rest)
            out[r] = math.prod(ks) + first / N
        return out

    def correlators(self, combos, N: int) -> tuple[np.ndarray, np.ndarray]:
        """(G, G_0) as :meth:`nnqft.theory.exact.Theory.correlators`: G = G0 + G1/N, truncated at order 1/N."""
        g0, g1 = self.expansion(combos)
        return g0 + g1 / N, g0


def _rays(points):
    """Distinct directions of the points (ReLU at σ_b = 0 is positively homogeneous), each point's ray and norm."""
    norms = np.linalg.norm(points, axis=1)
    rays, index = [], []
    for p, n in zip(points, norms):
        u = p / n if n > 0 else np.ones_like(p) / math.sqrt(len(p))
        hit = next((i for i, r in enumerate(rays) if np.abs(r - u).max() <= 1e-12), None)
        if hit is None:
            rays.append(u)
            hit = len(rays) - 1
        index.append(hit)
    return np.array(rays), np.array(index), norms


def _pair_data(activation, K, p, q):
    """The entries of K that ⟨φ_p φ_q⟩ depends on (as index pairs), its value, gradient and Hessian in them."""
    c = np.diagonal(K) if activation == "gauss" else np.zeros(len(K))
    if p == q:
        g, d1, d2 = square_expectation(activation, K[p, p], c[p])
        return [(p, p)], g, np.array([d1]), np.array([[d2]])
    g, grad, hess = pair_expectation(activation, (K[p, p], K[p, q], K[q, q]), (c[p], c[q]))
    return [(p, p), (p, q), (q, q)], g, grad, hess


def _recursion(activation, x, sigma_b, sigma_w, depth, nodes, propagate=True):
    """Kernels, vertices and 2-point corrections of layers 1..L+1 on the points x."""
    n = len(x)
    sw2, sb2 = sigma_w**2, sigma_b**2
    K = neurons.preactivation_covariance(x, sigma_b, sigma_w)
    V = np.zeros((n,) * 4)
    K1 = np.zeros((n, n))
    kernels, vertices, corrections = [K], [V], [K1]
    pairs = [(p, q) for p in range(n) for q in range(p, n)]
    for layer in range(1, depth + 1):
        data = {pq: _pair_data(activation, K, *pq) for pq in pairs}
        moments = _four_point_moments(activation, K, nodes)
        K_next = np.empty((n, n))
        K1_next = np.zeros((n, n))
        V_next = np.zeros((n,) * 4)
        first = layer > 1  # V^(1) = K1^(1) = 0: no derivative terms (and none computed at a singular K^(1))
        for pq in pairs:
            entries, g, grad, hess = data[pq]
            K_next[pq] = K_next[pq[::-1]] = sb2 + sw2 * g
            if first:
                k1 = sum(K1[u] * grad[i] for i, u in enumerate(entries))
                k1 += 0.5 * sum(V[u + v] * hess[i, j] for i, u in enumerate(entries) for j, v in enumerate(entries))
                K1_next[pq] = K1_next[pq[::-1]] = sw2 * k1
        for pq in pairs:
            e1, g1, d1, _ = data[pq]
            for rs in pairs:
                e2, g2, d2, _ = data[rs]
                value = moments[tuple(sorted(pq + rs))] - g1 * g2
                if first and propagate:
                    value += sum(V[u + v] * d1[i] * d2[j] for i, u in enumerate(e1) for j, v in enumerate(e2))
                value *= sw2 * sw2
                for a, b in (pq, pq[::-1]):
                    for c, d in (rs, rs[::-1]):
                        V_next[a, b, c, d] = value
        K, V, K1 = K_next, V_next, K1_next
        kernels.append(K)
        vertices.append(V)
        corrections.append(K1)
    return kernels, vertices, corrections


def _four_point_moments(activation, K, nodes):
    """⟨φ_p φ_q φ_r φ_s⟩ in the Gaussian of covariance K, for every multiset of four points (sorted tuples)."""
    n = len(K)
    quads = list(combinations_with_replacement(range(n), 4))
    return dict(zip(quads, neurons.moments(activation, K, quads, nodes)))
