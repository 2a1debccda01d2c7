"""Cutoff integrals of HMS's local quartic coupling (docs/science.md §8):

    I_4(x_1..x_4; Λ) = ∫_{[−Λ, Λ]^{d_in}} d^{d_in}y  k(y, x_1) k(y, x_2) k(y, x_3) k(y, x_4)

for every 4-point multiset of a point set and every cutoff of a list, with k one of two kernels (``kernel``):
``"w"``, the W-part K_EFT = K − σ_b² that HMS's code integrates (and the renormalization paper for u_4), or
``"full"``, the full K (σ_b² included). They depend on the architecture and the point set only, never on samples,
so they are computed once per (activation, points, σ_b, σ_W, cutoffs, kernel) and cached.

- GaussNet: closed form. K = σ_b² + σ_W² exp(−c |y − x|²), c = σ_W² / (2 d_in), so the product is a sum over
  the 16 subsets S of the four factors of σ_b^{2(4−|S|)} σ_W^{2|S|} exp(−c Σ_{i∈S} |y − x_i|²) (the W-part: S = all
  four only), which factorises over the axes into one-dimensional Gaussian integrals over [−Λ, Λ], each a
  difference of two erf.
- ReLU and Erf: the cube is cut into shells of the sup norm, r_{k−1} < |y|_∞ ≤ r_k with r = 1/4, 1/2, 1, 2, ...
  and every cutoff inserted (each shell at most twice its inner radius), each shell into d_in tensor-product
  boxes, each box into cells with ``CELL_NODES`` Gauss–Legendre nodes per axis. Every cube [−Λ, Λ]^{d_in} of the
  list is a union of shells, so one pass gives all cutoffs. The integrands are smooth (σ_b > 0; K − σ_b² is as
  smooth as K) and grow at
  most like |y|^4 (ReLU); in a shell of inner radius r their complex singularities lie at distance ≳ r, so
  cells of width r/2 converge geometrically, and the far shells cost as little as the near ones. Tolerance: 1e-9
  relative, tested against the closed form (the same rule applied to GaussNet), scipy's adaptive quadrature
  and a rule with more nodes (tests/unit/theory/test_cutoff.py); at run time the rule is refined until two node counts
  agree (:func:`converged_cubature`).
"""
from __future__ import annotations

from functools import lru_cache
from itertools import product

import numpy as np

from .. import combos
from . import neurons

#: HMS's cutoffs (their public code).
HMS_CUTOFFS = (7, 10, 15, 20, 30, 40, 50, 70, 100, 200, 500, 1000, 2000, 5000, 7000, 10000, 20000, 40000, 60000,
               80000, 100000)
#: Gauss–Legendre nodes per cell and axis of the cubature.
CELL_NODES = 8
#: Relative tolerance the cubature is tested to.
TOLERANCE = 1e-9
#: The kernels that may sit under the integral: HMS's W-part K_EFT = K − σ_b², or the full K.
KERNELS = ("w", "full")
#: Grid points per block of the cubature: the pair products of a block (21 rows at 6 points) stay in the CPU's cache
#: (measured: the cutoff tests ran in 22 s at 2^12 or 2^13 points, 39 s at 2^17).
_BLOCK = 1 << 13


def four_point_multisets(n_points: int) -> list[tuple[int, ...]]:
    """The 4-point multisets of a point set, in the canonical order of the correlator tables."""
    return combos.multisets(n_points, 4)


def integrals(model, cutoffs=HMS_CUTOFFS, *, nodes: int = CELL_NODES, kernel: str = "w") -> np.ndarray:
    """I_4 for every 4-point multiset (rows, :func:`four_point_multisets` order) and cutoff (columns), over the
    W-part (``kernel="w"``) or the full kernel (``"full"``): the closed form for GaussNet, the cubature refined
    until converged otherwise, for the family of ``model`` (:class:`nnqft.model.Model`: activation, points, σ's).
    Cached per family, cutoffs and kernel."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel {kernel!r}: expected one of {KERNELS}")
    return _integrals(model.at(N=1, n_nets=1, estimator="plain"), tuple(float(c) for c in cutoffs), int(nodes),
                      kernel).copy()


@lru_cache(maxsize=None)
def _integrals(model, cutoffs, nodes, kernel):
    if model.activation == "gauss":
        return gauss_integrals(model, cutoffs, kernel=kernel)
    return converged_cubature(model, cutoffs, nodes=nodes, kernel=kernel)


def one_signed(model, *, kernel: str = "w") -> np.ndarray:
    """For every 4-point multiset: whether its integrand Π_i k(y, x_i) keeps one sign for every y, so that I_4(Λ)
    never crosses zero and λ = ΔG^(4) / (24 I_4) has no pole in Λ. GaussNet's and ReLU's kernels are positive
    (both parts). Erf's W-part (2σ_W²/π) arcsin(...) has the sign of Σ(y, x) = σ_b² + σ_W² y·x / d_in, which
    changes sign across a hyperplane unless x = 0, a different hyperplane for every x; its full K exceeds
    σ_b² − σ_W², so it is positive if σ_b ≥ σ_W. A product keeps one sign iff its sign-changing factors pair
    up, i.e. every such point occurs an even number of times in the multiset."""
    x = model.x
    if model.activation != "erf" or (kernel == "full" and model.sigma_b >= model.sigma_w):
        changes = np.zeros(len(x), dtype=bool)
    elif kernel == "full":
        changes = np.ones(len(x), dtype=bool)
    else:
        changes = np.any(x != 0, axis=1)
    return np.array([all(m.count(i) % 2 == 0 for i in set(m) if changes[i]) for m in four_point_multisets(len(x))])


def converged_cubature(model, cutoffs, *, nodes: int = CELL_NODES, max_nodes: int = 32,
                       kernel: str = "w") -> np.ndarray:
    """:func:`cubature` with ``nodes`` and then 4 more nodes per cell at a time, until two successive results agree
    to TOLERANCE / 10 (the more accurate one is returned): the tolerance holds for any point set and σ's, not
    only those the tests check (at HMS's, 8 and 12 nodes already agree to 1.3e-10). Relative to ∫|Π k|, which is
    |I_4| itself where the integrand keeps one sign (:func:`one_signed`); where it changes sign (Erf's W-part) the
    integral is a difference of larger parts and can cross zero, and the tolerance is relative to the parts.
    Raises ValueError, naming the parameters, if ``max_nodes`` is reached first."""
    previous, _ = cubature(model, cutoffs, nodes=nodes, kernel=kernel, with_abs=True)
    while nodes < max_nodes:
        nodes += 4
        current, scale = cubature(model, cutoffs, nodes=nodes, kernel=kernel, with_abs=True)
        if np.max(np.abs(current - previous) / scale) <= TOLERANCE / 10:
            return current
        previous = current
    raise ValueError(f"the cutoff integrals of {model.activation} at points {model.points_json}, sigma_b = "
                     f"{model.sigma_b}, sigma_w = {model.sigma_w} did not converge to {TOLERANCE:g} with {max_nodes} nodes "
                     f"per cell ({kernel} kernel)")


def gauss_integrals(model, cutoffs, *, kernel: str = "w") -> np.ndarray:
    """I_4 of GaussNet in closed form (module docstring), [multiset, cutoff]; the W-part keeps only the subset of
    all four Gaussian factors."""
    x, sigma_b, sigma_w = model.x, model.sigma_b, model.sigma_w
    d_in = x.shape[1]
    c = sigma_w**2 / (2 * d_in)
    lam = np.asarray(cutoffs, dtype=float)
    out = np.zeros((len(four_point_multisets(len(x))), len(lam)))
    for row, combo in enumerate(four_point_multisets(len(x))):
        for subset in product((False, True), repeat=4):
            chosen = x[[i for i, take in zip(combo, subset) if take]]
            n = len(chosen)
            if kernel == "w" and n < 4:
                continue
            term = sigma_b ** (2 * (4 - n)) * sigma_w ** (2 * n) * np.ones_like(lam)
            for k in range(d_in):
                term = term * (_gauss_1d(chosen[:, k], c, lam) if n else 2 * lam)
            out[row] += term
    return out


def _gauss_1d(xs, c, lam):
    """∫_{−Λ}^{Λ} exp(−c Σ_i (y − x_i)²) dy = e^{−c q} √(π / (4 c n)) [erf(√(c n)(Λ − m)) + erf(√(c n)(Λ + m))],
    with n points, m their mean and q = Σ (x_i − m)²."""
    from scipy import special  # here: importing scipy.special costs 0.1 s of every analysis job's start-up

    n, m = len(xs), xs.mean()
    q = np.sum((xs - m) ** 2)
    s = np.sqrt(c * n)
    return np.exp(-c * q) * np.sqrt(np.pi) / (2 * s) * (special.erf(s * (lam - m)) + special.erf(s * (lam + m)))


def shell_radii(cutoffs, first: float = 0.25) -> np.ndarray:
    """Radii 0 < r_0 < r_1 < ... of the shells r_{k-1} < |y|_∞ <= r_k: ``first``, then doubling, with every cutoff
    inserted, so that each shell is at most twice as wide as its inner radius and every cube is a union of them."""
    lam = np.asarray(cutoffs, dtype=float)
    radii = [first]
    for target in np.sort(lam):
        while radii[-1] < target:
            radii.append(min(2 * radii[-1], target))
    return np.array(radii)


def _cells(lo: float, hi: float, width: float, t, w):
    """Gauss–Legendre nodes and weights on [lo, hi] split into equal cells no wider than ``width``."""
    n = max(1, int(np.ceil((hi - lo) / width - 1e-12)))
    edges = np.linspace(lo, hi, n + 1)
    a, b = edges[:-1, None], edges[1:, None]
    return ((b - a) / 2 * t + (b + a) / 2).ravel(), ((b - a) / 2 * w).ravel()


def _boxes(r0: float, r1: float, d_in: int, t, w):
    """Nodes and weights of the shell r0 < |y|_∞ <= r1 (r0 = 0: the cube [−r1, r1]^d_in) as tensor-product boxes:
    for axis k, |y_k| in (r0, r1], |y_m| <= r0 for m < k and |y_m| <= r1 for m > k. Transverse cells are at most
    r0 / 2 wide (the integrand varies on the scale of |y| >= r0 there), radial cells span [r0, r1]."""
    if r0 == 0:
        axes = [_cells(-r1, r1, r1 / 2, t, w)] * d_in
        yield axes
        return
    radial_pos = _cells(r0, r1, r1 - r0, t, w)
    radial = (np.concatenate([-radial_pos[0][::-1], radial_pos[0]]),
              np.concatenate([radial_pos[1][::-1], radial_pos[1]]))
    inner, outer = _cells(-r0, r0, r0 / 2, t, w), _cells(-r1, r1, r0 / 2, t, w)
    for k in range(d_in):
        yield [inner] * k + [radial] + [outer] * (d_in - k - 1)


def cubature(model, cutoffs, *, nodes: int = CELL_NODES, kernel: str = "w", with_abs: bool = False):
    """I_4 by Gauss–Legendre boxes over shells of the sup norm (module docstring), [multiset, cutoff] with the
    cutoffs in the order given: each shell is summed once and added to every cube that contains it. With
    ``with_abs``: (I_4, the same rule applied to |Π k|), the scale of I_4's rounding and truncation errors."""
    x, sigma_b, sigma_w = model.x, model.sigma_b, model.sigma_w
    d_in = x.shape[1]
    lam = np.asarray(cutoffs, dtype=float)
    t, w = np.polynomial.legendre.leggauss(nodes)
    multisets = np.array(four_point_multisets(len(x)))
    # pair products q_p(y) = k_a k_b, and each multiset {a, b, c, d} as a product of two pairs: the sum over the nodes
    # of q_ab q_cd w is entry (ab, cd) of the matrix (q w) qᵀ, one matrix product per block of nodes
    pairs = combos.multisets(len(x), 2)
    pair_index = {p: j for j, p in enumerate(pairs)}
    left = np.array([pair_index[tuple(m[:2])] for m in multisets])
    right = np.array([pair_index[tuple(m[2:])] for m in multisets])
    pa, pb = np.array(pairs).T
    radii = shell_radii(lam)
    shells = np.zeros((len(multisets), len(radii)))
    shells_abs = np.zeros_like(shells)
    for s, (r0, r1) in enumerate(zip(np.concatenate([[0.0], radii[:-1]]), radii)):
        for axes in _boxes(r0, r1, d_in, t, w):
            grid = np.meshgrid(*[a[0] for a in axes], indexing="ij")
            weight = np.prod(np.meshgrid(*[a[1] for a in axes], indexing="ij"), axis=0).ravel()
            y = np.stack([g.ravel() for g in grid], axis=1)
            for start in range(0, len(y), _BLOCK):
                k = neurons.kernel_between(model.activation, x, y[start:start + _BLOCK], sigma_b, sigma_w)
                if kernel == "w":
                    k = k - sigma_b**2
                q = k[pa] * k[pb]
                w_block = weight[start:start + _BLOCK]
                shells[:, s] += ((q * w_block) @ q.T)[left, right]
                if with_abs:  # |q_ab q_cd| = |q_ab| |q_cd|
                    q = np.abs(q)
                    shells_abs[:, s] += ((q * w_block) @ q.T)[left, right]
    inside = (radii[None, :] <= lam[:, None] * (1 + 1e-12)).T.astype(float)  # [shell, cutoff]
    return (shells @ inside, shells_abs @ inside) if with_abs else shells @ inside


def asymptotic_slope(activation: str, d_in: int, *, kernel: str = "w") -> int:
    """The large-Λ power of λ(Λ) ∝ 1 / I_4(Λ). ReLU: both parts of K grow linearly in |y|, so I_4 grows as
    Λ^{d_in + 4} and d log|λ| / d log Λ → −(d_in + 4). Erf: both parts tend to functions of the direction of y,
    I_4 grows as Λ^{d_in}, the power is −d_in. GaussNet: the W-part decays as a Gaussian, so I_4 converges and λ
    does not run (0); the full K tends to σ_b², I_4 grows as Λ^{d_in}, the power is −d_in."""
    if activation == "relu":
        return -(d_in + 4)
    if activation == "gauss" and kernel == "w":
        return 0
    return -d_in
