"""The sampling kernel for GaussNet, ReLU and Erf at d_in = 1, 2, 3 against the exact theory (nnqft.theory.exact),
its erf, and the guarantees it keeps: the first version's numbers, thread-independence."""
import math
from statistics import NormalDist

import numba
import numpy as np
import pytest
from numpy.polynomial import chebyshev
from scipy.special import erf, erfc, erfcx

from helpers import HMS_POINTS as POINTS
from helpers import products, zscores
from nnqft import combos
from nnqft.model import Model
from nnqft.sampling import bags as sampling
from nnqft.sampling import fastmath, streams
from nnqft.theory.exact import Theory

PAPER_POINTS = [-0.01, -0.006, -0.002, 0.002, 0.006, 0.01]


def test_the_first_versions_numbers_are_unchanged():
    """GaussNet at d_in = 1 draws and sums exactly as the first version did (random-stream layout 1):
    values recorded from it, bit for bit."""
    a = sampling.bag_correlators(Model("gauss", PAPER_POINTS, 1.0, 1.5, 7, 3000), 20221223, 2, [2, 4, 6])
    assert [v.hex() for v in a[:3]] == ["0x1.6ff17052969aap+1", "0x1.6fec084d04d35p+1", "0x1.6fe4522392f46p+1"]
    b = sampling.bag_correlators(Model("gauss", PAPER_POINTS, 0.5, 20.0, 1000, 600), 5, 0, [2, 4, 6], threads=1)
    assert [v.hex() for v in b[:2]] == ["0x1.8a8a8a1150c60p+8", "0x1.898dd3d181704p+8"]


def erf_tail_fit(degree=16, n=4000, iters=400):
    """The weighted minimax fit of fastmath._ERF_H (Lawson's iteration): the polynomial h(v), v = (x - 3.5) / 2.5,
    minimising max over x in [1, 6] of |h - log erfcx(x)| erfc(x), the error it puts on erf = 1 - exp(h - x^2).
    (The weight is floored at 1e-9 so that h stays tame where erfc is negligible.) Returns the monomial
    coefficients in v and the weighted error on the grid."""
    x = np.linspace(1.0, 6.0, n)
    f, w = np.log(erfcx(x)), np.maximum(erfc(x), 1e-9)
    basis = chebyshev.chebvander((x - 3.5) / 2.5, degree)
    lam, best = np.full(n, 1.0 / n), (None, np.inf)
    for _ in range(iters):
        sw = np.sqrt(lam) * w
        q, r = np.linalg.qr(basis * sw[:, None])
        c = np.linalg.solve(r, q.T @ (f * sw))
        e = np.abs(basis @ c - f) * w
        if e.max() < best[1]:
            best = (c, e.max())
        lam = np.maximum(lam * e / e.max(), 1e-30)
        lam /= lam.sum()
    return chebyshev.cheb2poly(best[0]), best[1]


def test_fast_erf_against_scipy_and_its_polynomials_refitted():
    """The kernel's erf against scipy, and its two polynomials against fits repeated here. A weighted minimax
    problem has many near-optimal coefficient vectors and Lawson's path through them depends on the BLAS, so
    what is compared is accuracy (the stored polynomial's weighted error, the refit's error bound, the two
    polynomials' values), never coefficients."""
    x = np.concatenate([np.linspace(-8, 8, 200001), np.geomspace(1e-300, 1, 2000), -np.geomspace(1e-300, 1, 2000),
                        [0.0, 1.0, -1.0, 6.0, np.nextafter(1.0, 0)]])
    got, want = fastmath.erf_array(x), erf(x)
    assert (np.abs(got - want) <= 1e-15 * np.maximum(np.abs(want), 1e-300)).all()
    # the tail polynomial: the fit repeated reaches the bound the stored one was fitted to (4e-16 on erf, weighted
    # error), and the stored one, evaluated in floating point on a 25x finer grid, stays within 6e-16 (the fit's
    # error plus rounding in evaluating h and scipy's log erfcx); the two differ by no more than their errors
    refit, err = erf_tail_fit()
    assert err < 4e-16
    t = np.linspace(1.0, 6.0, 100001)
    stored = np.polynomial.Polynomial(fastmath._ERF_H)((t - 3.5) / 2.5)
    again = np.polynomial.Polynomial(refit)((t - 3.5) / 2.5)
    assert np.max(np.abs(stored - np.log(erfcx(t))) * erfc(t)) < 6e-16
    assert np.max(np.abs(stored - again) * erfc(t)) < 1e-15
    # the Chebyshev interpolant of erf(x)/x in w = 2 x^2 - 1 at 12 nodes, as monomials in z = x^2: the stored
    # polynomial equals the interpolant recomputed here to rounding, on a fine grid of |x| <= 1
    w = np.cos(np.pi * (np.arange(12) + 0.5) / 12)
    a = np.sqrt((w + 1) / 2)
    in_w = np.polynomial.Polynomial(chebyshev.cheb2poly(chebyshev.chebfit(w, erf(a) / a, 11)))
    z = np.linspace(0.0, 1.0, 20001)
    s_stored = np.polynomial.Polynomial(fastmath._ERF_S)(z)
    np.testing.assert_allclose(s_stored, in_w(2 * z - 1), rtol=1e-14)
    xs = np.sqrt(z[1:])
    assert np.max(np.abs(s_stored[1:] * xs - erf(xs)) / erf(xs)) < 1e-15


def test_the_fused_multiply_add_rounds_once():
    """fastmath.fma is a true fused multiply-add (one rounding), not a * b + c: (1 + 2^-30)^2 - 1 keeps 2^-60."""
    @numba.njit
    def f(a, b, c):
        return fastmath.fma(a, b, c)
    e = 2.0 ** -30
    assert f(1 + e, 1 + e, -1.0) == 2 * e + e * e
    assert (1 + e) * (1 + e) - 1.0 == 2 * e


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("activation, d_in", [("relu", 2), ("erf", 3), ("gauss", 3)])
def test_other_architectures_are_bit_identical_with_1_and_2_threads(activation, d_in):
    pts = POINTS[activation][d_in]
    runs = [sampling.bag_correlators(Model(activation, pts, 1.0, 1.0, 5, 2000), 3, 1, [2, 4, 6], threads=t)
            for t in (1, 2)]
    assert runs[0].tobytes() == runs[1].tobytes()


@pytest.mark.parametrize("activation", ["gauss", "relu", "erf"])
@pytest.mark.parametrize("d_in", [1, 2, 3])
def test_a_network_is_the_model_of_the_science_doc_drawn_in_the_documented_order(activation, d_in):
    """f(x) rebuilt in numpy from the network's own normal stream, consumed as b1, then (W0_j[0..d_in-1],
    b0_j, W1_j) for each neuron j, with W0 of variance σ_W²/d_in (docs/science.md §8)."""
    sigma_b, sigma_w, N, n_nets, bag, a = 0.8, 1.3, 3, 50, 2, 17
    pts = np.array(POINTS[activation][d_in], dtype=float)
    model = Model(activation, pts, sigma_b, sigma_w, N, n_nets)
    got = sampling.network_outputs(model, 5, bag, [a])[0]
    k0, k1 = streams.bag_key(5, model, bag)
    z = streams.draw_normals(streams.network_state(np.uint64(k0), np.uint64(k1), a), 1 + N * (d_in + 2))
    f = np.full(len(pts), sigma_b * z[0])
    for j in range(N):
        draw = z[1 + j * (d_in + 2): 1 + (j + 1) * (d_in + 2)]
        w0, b0, w1 = sigma_w / math.sqrt(d_in) * draw[:d_in], sigma_b * draw[d_in], sigma_w / math.sqrt(N) * draw[-1]
        pre = pts @ w0 + b0
        if activation == "gauss":
            phi = np.exp(pre - (sigma_b**2 + sigma_w**2 * (pts * pts).sum(axis=1) / d_in))
        elif activation == "relu":
            phi = np.maximum(pre, 0.0)
        else:
            phi = erf(pre)
        f += w1 * phi
    np.testing.assert_allclose(got, f, rtol=1e-13, atol=1e-15)


def sample(activation, pts, N, n_nets, seed=7):
    """Per-network products for every combination of orders 2 and 4 of one bag of the production kernel,
    after checking that the fused kernel's means equal those of the per-network reference path."""
    outputs = sampling.network_outputs(Model(activation, pts, 1.0, 1.0, N, n_nets), seed, 0, range(n_nets))
    cs, prods = products(outputs)
    fused = sampling.bag_correlators(Model(activation, pts, 1.0, 1.0, N, n_nets), seed, 0, [2, 4])
    np.testing.assert_allclose(fused, prods.mean(axis=0), rtol=1e-11)
    return cs, prods


@pytest.mark.parametrize("activation", ["relu", "erf"])
@pytest.mark.parametrize("d_in", [1, 2, 3])
def test_sampled_correlators_match_the_exact_theory_and_wrong_models_fail(activation, d_in):
    """The production kernel at N = 2 (σ_b = σ_W = 1, 200,000 networks): every G^(2) and G^(4) within the
    Bonferroni bound (α = 10⁻³) of Theory; the 1/N part is resolved (the Wick theory fails), and the other
    activation's theory, and (d_in > 1) the theory of W0 without its 1/d_in, fail too."""
    pts = POINTS[activation][d_in][:4]
    N = 2
    cs, prods = sample(activation, pts, N, 200_000)
    z = zscores(cs, prods, Theory(activation, pts, 1.0, 1.0), N)
    bound = NormalDist().inv_cdf(1 - 1e-3 / (2 * len(z)))
    assert np.abs(z).max() < bound, z
    assert np.abs(zscores(cs, prods, Theory(activation, pts, 1.0, 1.0), 10**9)).max() > bound
    other = "erf" if activation == "relu" else "relu"
    assert np.abs(zscores(cs, prods, Theory(other, pts, 1.0, 1.0), N)).max() > bound
    if d_in > 1:  # W0 of variance σ_W² instead of σ_W²/d_in is the theory at points scaled by √d_in
        wrong = Theory(activation, np.array(pts) * math.sqrt(d_in), 1.0, 1.0)
        assert np.abs(zscores(cs, prods, wrong, N)).max() > bound


@pytest.mark.parametrize("d_in", [2, 3])
def test_gaussnet_at_higher_d_in_matches_its_exact_two_point_function(d_in):
    """GaussNet's products are heavy-tailed (docs/science.md §6): test G^(2) only, with the exact
    variance of the estimator (G^(4)(x, x, y, y) − G^(2)²) rather than the sample one."""
    pts = (60 * np.array(POINTS["gauss"][d_in])).tolist()  # corners at ±0.6: the d_in scaling is visible
    N, n_nets = 3, 100_000
    theory = Theory("gauss", pts, 1.0, 1.0)
    cs = combos.multisets(len(pts), 2)
    got = sampling.bag_correlators(Model("gauss", pts, 1.0, 1.0, N, n_nets), 11, 0, [2])
    g, _ = theory.correlators(cs, N)
    se = np.sqrt([theory.estimator_variance(c, N) / n_nets for c in cs])
    bound = NormalDist().inv_cdf(1 - 1e-3 / (2 * len(cs)))
    assert np.abs((got - g) / se).max() < bound
    wrong = Theory("gauss", np.array(pts) * math.sqrt(d_in), 1.0, 1.0)
    gw, _ = wrong.correlators(cs, N)
    assert np.abs((got - gw) / se).max() > bound


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation 'tanh'"):
        Model("tanh", [0.1], 1.0, 1.0, 2, 10)


def test_the_benchmark_times_every_activation_and_d_in(tmp_path):
    import subprocess
    import sys

    import pandas as pd

    out = tmp_path / "kernel.parquet"
    result = subprocess.run([sys.executable, "-m", "nnqft.bench.kernel", "--activations-only", "--widths", "3",
                             "--n-nets", "64", "--repeat", "1", "--out", str(out)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(tmp_path / "activations.parquet")
    assert sorted(zip(table.activation, table.d_in)) == sorted(
        (a, d) for a in ("gauss", "relu", "erf", "linear") for d in (1, 2, 3))
    assert (table.kernel_s > 0).all() and (table[table.activation == "gauss"].over_gauss_same_d_in == 1).all()
