"""The conditional-Gaussian estimator (docs/science.md §9): its exact theory, its kernel, and statistical
tests against the exact finite-width theory that stay valid under heavy tails."""
import math

import numba
import numpy as np
import pytest
from scipy import stats
from scipy.special import erf

from nnqft import combos
from nnqft.model import Model, as_points
from nnqft.sampling import bags as sampling
from nnqft.sampling import conditional, streams
from nnqft.theory.exact import Theory
from nnqft.theory.partitions import even_partitions

POINTS = {"gauss": [-0.01, 0.002, 0.01], "relu": [[0.5, 0.5], [0.5, 1.0], [1.0, 0.5]], "erf": [-1.0, 0.2, 1.0]}
SIGMA_B, SIGMA_W = 1.0, 1.0


def matchings(c):
    """The perfect matchings of the positions of multiset ``c``, as lists of point pairs."""
    return [[(c[a], c[b]) for a, b in part] for part in even_partitions(len(c))
            if all(len(block) == 2 for block in part)]


def wick(C, c):
    """Σ over perfect matchings of Π C (brute force; C: [..., n_points, n_points])."""
    return sum(np.prod([C[..., p, q] for p, q in m], axis=0) for m in matchings(c))


@pytest.mark.parametrize("activation", ["gauss", "relu", "erf"])
def test_the_conditional_estimator_is_unbiased_in_the_exact_theory(activation):
    """Σ_matchings E[Π C] = G^(n) at every N and order: the identity the estimator rests on, evaluated with the
    exact single-neuron moments (E[Π S] as sums over set partitions of i.i.d. neurons)."""
    th = Theory(activation, POINTS[activation], SIGMA_B, SIGMA_W)
    for N in (1, 2, 7):
        for c in [(0, 2), (0, 0, 1, 2), (1, 1, 1, 1), (0, 1, 1, 2, 2, 2)]:
            w = sum(th.conditional_moment(m, N) for m in matchings(c))
            (g,), _ = th.correlators([c], N)
            assert w == pytest.approx(g, rel=1e-13)


def test_the_wick_recursion_tables_give_the_brute_force_wick_sums():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4))
    C = A @ A.T
    pair_p, pair_q, first, pair_of, rest_of, row = conditional.wick_tables(4, 6)
    w = np.zeros(len(row))
    for r, (p, q) in enumerate(zip(pair_p, pair_q)):
        w[r] = C[p, q]
    for node in range(len(pair_p), len(row)):
        w[node] = sum(w[pair_of[e]] * w[rest_of[e]] for e in range(first[node], first[node + 1]))
    for c, r in row.items():
        assert w[r] == pytest.approx(wick(C, c), rel=1e-12)
    labelled = combos.output_combos(4, [2, 4, 6])
    assert [tuple(c) for _, c in labelled] == [list(row)[r] for r in conditional.output_rows(4, [2, 4, 6])]


@pytest.mark.parametrize("activation", ["gauss", "relu", "erf"])
def test_a_networks_covariance_is_rebuilt_from_its_stream_in_the_documented_order(activation):
    """Per neuron W0_j[0..d_in-1] then b0_j, no W1, no b1, from the conditional key (docs/science.md §9)."""
    pts = as_points(POINTS[activation])
    d_in = pts.shape[1]
    sigma_b, sigma_w, N, n_nets, bag, a = 0.8, 1.3, 3, 50, 2, 17
    model = Model(activation, pts, sigma_b, sigma_w, N, n_nets, estimator="conditional")
    got = sampling.network_covariances(model, 5, bag, [a])[0]
    k0, k1 = streams.bag_key(5, model, bag)
    assert (k0, k1) != streams.bag_key(5, model.at(estimator="plain"), bag)
    z = streams.draw_normals(streams.network_state(np.uint64(k0), np.uint64(k1), a), N * (d_in + 1))
    phi = np.empty((N, len(pts)))
    for j in range(N):
        draw = z[j * (d_in + 1):(j + 1) * (d_in + 1)]
        pre = pts @ (sigma_w / math.sqrt(d_in) * draw[:d_in]) + sigma_b * draw[d_in]
        if activation == "gauss":
            phi[j] = np.exp(pre - (sigma_b**2 + sigma_w**2 * (pts * pts).sum(axis=1) / d_in))
        elif activation == "relu":
            phi[j] = np.maximum(pre, 0.0)
        else:
            phi[j] = erf(pre)
    C = sigma_b**2 + sigma_w**2 / N * phi.T @ phi
    want = [C[p, q] for p, q in combos.multisets(len(pts), 2)]
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_recorded_values_are_unchanged():
    """Values of the version that measured config/estimators.yaml (README), bit for bit: the stream layout and the
    reduction order of the conditional kernel are part of its results. The Erf values were recorded again when
    fastmath.fast_erf changed (fused multiply-adds, a shorter tail polynomial): the first moved by one ulp."""
    pts = [-0.01, -0.006, -0.002, 0.002, 0.006, 0.01]
    a = sampling.bag_correlators(Model("gauss", pts, 1.0, 2.0, 10, 3000, estimator="conditional"), 20221223, 1,
                                 [2, 4, 6])
    assert [a[i].hex() for i in (0, 21, 200)] == ["0x1.507aac6f7724fp+2", "0x1.11915b93afdafp+9",
                                                  "0x1.495701851ab98p+19"]
    b = sampling.bag_correlators(Model("erf", [-1.0, 0.2, 1.0], 1.0, 1.0, 100, 3000, estimator="conditional"), 1, 0,
                                 [2, 4, 6], threads=1)
    assert [b[i].hex() for i in (0, 5, 40)] == ["0x1.971233b8f4a16p+0", "0x1.96cee05153779p+0",
                                                "0x1.250c27e04542bp+5"]


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("activation", ["gauss", "erf"])
def test_bit_identical_with_1_and_2_threads(activation):
    model = Model(activation, POINTS[activation], 1.0, 1.0, 20, 3000, estimator="conditional")
    runs = [sampling.bag_correlators(model, 3, 1, [2, 4, 6], threads=t) for t in (1, 2)]
    assert runs[0].tobytes() == runs[1].tobytes()


# --- against the exact theory: median of means ----------------------------------------------------------
# The bags are K independent groups of n networks. If each bag mean has standard deviation at most s/sqrt(n)
# (s^2: the exact variance of one network's estimator, or a bound on it), Chebyshev puts each bag mean
# within 2 s/sqrt(n) of G with probability >= 3/4, and the median of the K bag means is further off only if
# half of them are: probability <= exp(-2 K (1/4)^2) = exp(-K/8) (Hoeffding on the count). This needs a
# finite variance only, so it holds under the heavy tails of GaussNet at small N, where z-scores built from
# the bags' own spread do not (their variance estimate is dominated by rare networks).
K_BAGS, N_NETS = 120, 1500
CHECKS = [(0, 2), (1, 1), (0, 0, 1, 2), (0, 1, 1, 2)]


def per_network_sd(th, activation, combo, N):
    """s: the exact standard deviation of one network's estimator; for Erf the bound (b - a)/2 from |φ| <= 1
    (C in [σ_b² - σ_W², σ_b² + σ_W²]): its 8-point moments would need slow 3-fold quadratures."""
    if activation == "erf":
        bound = (SIGMA_B**2 + SIGMA_W**2) ** (len(combo) // 2) * len(matchings(combo))
        return bound  # (b - a)/2 with b = -a = bound
    return math.sqrt(th.conditional_estimator_variance(combo, N))


def median_of_means_failures(activation, N, covariance_shift=0.0):
    """The checks (combination) whose median of bag means lies beyond 2 s/sqrt(n) of the exact G^(n).

    With ``covariance_shift`` = -σ_b², the Wick sums are recomputed in numpy from each network's covariance
    with σ_b² left out of C: a wrong estimator the test must catch."""
    pts = POINTS[activation]
    th = Theory(activation, pts, SIGMA_B, SIGMA_W)
    labelled = combos.output_combos(len(pts), [2, 4])
    index = {tuple(c): i for i, (_, c) in enumerate(labelled)}
    if covariance_shift == 0.0:
        model = Model(activation, pts, SIGMA_B, SIGMA_W, N, N_NETS, estimator="conditional")
        means = np.array([sampling.bag_correlators(model, 11, b, [2, 4]) for b in range(K_BAGS)])
        means = means[:, [index[c] for c in CHECKS]]
    else:
        pairs = combos.multisets(len(pts), 2)
        means = []
        for b in range(K_BAGS // 4):  # fewer bags: a wrong estimator is far off, and numpy is slow
            cov = sampling.network_covariances(Model(activation, pts, SIGMA_B, SIGMA_W, N, N_NETS), 11, b,
                                               range(N_NETS))
            C = np.empty((N_NETS, len(pts), len(pts)))
            for r, (p, q) in enumerate(pairs):
                C[:, p, q] = C[:, q, p] = cov[:, r] + covariance_shift
            means.append([wick(C, c).mean() for c in CHECKS])
        means = np.array(means)
    failures = []
    for k, c in enumerate(CHECKS):
        (g,), _ = th.correlators([c], N)
        tolerance = 2 * per_network_sd(th, activation, c, N) / math.sqrt(N_NETS)
        if abs(np.median(means[:, k]) - g) > tolerance:
            failures.append(c)
    return failures


@pytest.mark.parametrize("activation", ["gauss", "relu", "erf"])
@pytest.mark.parametrize("N", [2, 10, 100])
def test_conditional_estimator_matches_the_exact_theory(activation, N):
    """Per check, false alarm <= exp(-K/8) = 3e-7; over the 36 checks of this test, < 2e-5."""
    assert median_of_means_failures(activation, N) == []


@pytest.mark.parametrize("activation", ["gauss", "erf"])
@pytest.mark.parametrize("N", [2, 10])
def test_a_covariance_without_sigma_b_fails(activation, N):
    assert median_of_means_failures(activation, N, covariance_shift=-SIGMA_B**2) != []


def test_plain_and_conditional_agree_and_the_conditional_variance_is_smaller_at_large_N():
    """One point at N = 1000: the means over bags agree (z-test, each estimator's own bag spread: at this N
    the tails are mild), and the bag-to-bag variance of a 4-point correlator is smaller under the conditional
    estimator by more than chance allows (F-test at 1e-3)."""
    pts, N, n_nets, n_bags = [-0.01, 0.002, 0.01], 1000, 1000, 30
    labelled = combos.output_combos(3, [2, 4])
    k = [tuple(c) for _, c in labelled].index((0, 0, 1, 2))
    model = Model("gauss", pts, 1.0, 2.0, N, n_nets)
    runs = {est: np.array([sampling.bag_correlators(model.at(estimator=est), 13, b, [2, 4])[k] for b in range(n_bags)])
            for est in ("plain", "conditional")}
    plain, cond = runs["plain"], runs["conditional"]
    z = (plain.mean() - cond.mean()) / math.sqrt(plain.var(ddof=1) / n_bags + cond.var(ddof=1) / n_bags)
    assert abs(z) < stats.norm.isf(1e-3 / 2)
    ratio = plain.var(ddof=1) / cond.var(ddof=1)
    assert ratio > stats.f.isf(1e-3, n_bags - 1, n_bags - 1)


def test_the_estimator_benchmark_runs(tmp_path):
    """`make bench-estimators` on tiny sizes: one row per width with times, variance ratios and speed-ups."""
    from nnqft.bench import estimators

    out = tmp_path / "estimators.parquet"
    estimators.main(["--widths", "2", "10", "--n-nets", "300", "--n-bags", "4", "--out", str(out)])
    import pandas as pd

    table = pd.read_parquet(out)
    assert list(table.N) == [2, 10]
    assert (table[["t_plain_s", "t_cond_s", "var_ratio_u4", "speedup_u4", "speedup_u4_se"]] > 0).all().all()
