"""Analysis half: exact theory by brute force, coupling extraction, flow fit, claim verdicts."""
from itertools import product

import numpy as np
import pandas as pd
import pytest

from nnqft import analysis, claims, combos, exact, neurons

POINTS = [-0.01, -0.006, -0.002, 0.002, 0.006, 0.01]


def brute_force_moment(xs, sigma_b, sigma_w, N, n_nodes=40):
    """E[f(x_1)...f(x_n)] by expanding f = sum_j W1_j g_j + b1 over which term each factor takes,
    with E[prod g] from Gauss-Hermite quadrature over (W0, b0): no cumulants, no closed-form M_S."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)
    weights = weights / weights.sum()
    w0, b0 = np.meshgrid(sigma_w * nodes, sigma_b * nodes, indexing="ij")
    w2 = np.outer(weights, weights)

    def e_g(points):
        g = np.ones_like(w0)
        for x in points:
            g = g * np.exp(w0 * x + b0) / np.sqrt(np.exp(2 * (sigma_b**2 + sigma_w**2 * x**2)))
        return np.sum(w2 * g)

    def gauss_moment(k, var):
        return 0.0 if k % 2 else np.prod(np.arange(k - 1, 0, -2)) * var ** (k // 2)

    total = 0.0
    for assign in product(range(N + 1), repeat=len(xs)):  # 0: b1, j >= 1: neuron j
        term = gauss_moment(assign.count(0), sigma_b**2)
        for j in range(1, N + 1):
            members = [xs[i] for i, a in enumerate(assign) if a == j]
            if members:
                term *= gauss_moment(len(members), sigma_w**2 / N) * e_g(members)
        total += term
    return total


@pytest.mark.parametrize("N", [1, 2])
@pytest.mark.parametrize("xs", [[0.3, -0.2], [0.3, -0.2, 0.1, 0.5], [0.3, 0.3, -0.2, 0.1, 0.5, -0.4]])
def test_exact_correlator_matches_brute_force(xs, N):
    sigma_b, sigma_w = 0.7, 1.3
    assert exact.correlator(xs, sigma_b, sigma_w, N) == pytest.approx(brute_force_moment(xs, sigma_b, sigma_w, N),
                                                                      rel=1e-10)


def exact_bags(sigma_b, sigma_w, N, n_bags=3, points=POINTS):
    """Per-bag correlator matrices that all equal the exact values (a noise-free measurement)."""
    pj = neurons.points_json(points)
    g4, _ = analysis._exact_point("gauss", pj, 4, sigma_b, sigma_w, N)
    g6, _ = analysis._exact_point("gauss", pj, 6, sigma_b, sigma_w, N)
    return np.tile(g4, (n_bags, 1)), np.tile(g6, (n_bags, 1))


@pytest.mark.parametrize("points", [POINTS, [[-0.01, -0.01], [-0.01, 0.01], [0.01, -0.01], [0.01, 0.01]],
                                    [[-0.01, -0.01, -0.01], [0.01, 0.01, -0.01], [-0.01, 0.01, 0.01]]])
def test_couplings_recover_exact_values_from_exact_correlators(points):
    v4, v6 = exact_bags(1.0, 2.0, 10, points=points)
    (u4, u6), means = analysis.point_couplings(v4, v6, points, 1.0, 2.0, 10)
    np.testing.assert_allclose(u4.u, u4.u_exact, rtol=1e-12)
    np.testing.assert_allclose(u6.u, u6.u_exact, rtol=1e-9)
    assert np.all(u4.u_se < 1e-9 * np.abs(u4.u)) and np.all(u4.u < 0)


def test_the_exact_theory_of_the_analysis_is_the_papers_at_d_in_1():
    """analysis._exact_point (nnqft.exact.Theory) against the first version's GaussNet d_in = 1 sums."""
    pj = neurons.points_json(POINTS)
    for order in (2, 4, 6):
        g, g0 = analysis._exact_point("gauss", pj, order, 1.0, 2.0, 10)
        g_old, g0_old = exact.correlators(POINTS, combos.multisets(6, order), 1.0, 2.0, 10)
        np.testing.assert_allclose(g, g_old, rtol=1e-13)
        np.testing.assert_allclose(g0, g0_old, rtol=1e-13)


def synthetic_means(exponent, sigma_ws=(1.0, 1.5, 2.0, 3.0, 5.0, 8.0), n_bags=30, noise=0.02, seed=1, N=10):
    rng = np.random.default_rng(seed)
    rows = []
    for sw in sigma_ws:
        u = -3.0 * sw**exponent
        loo = u * (1 + noise * rng.standard_normal(n_bags) / np.sqrt(n_bags - 1))
        rows.append({"N": N, "order": 4, "sigma_w": sw, "u": u, "u_exact": u, "u_loo": loo})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("exponent", [-3.0, 1.7])
def test_flow_fit_recovers_a_known_exponent(exponent):
    fit = analysis.flow_fit(synthetic_means(exponent)).iloc[0]
    assert fit.exponent == pytest.approx(exponent, abs=1e-9)
    assert fit.ci_low < exponent < fit.ci_high and fit.exponent_se > 0
    assert fit.exponent_exact == pytest.approx(exponent)


def test_flow_fit_drops_points_below_the_noise_floor():
    means = synthetic_means(-3.0)
    row = means.index[means.sigma_w == 8.0][0]
    means.at[row, "u_loo"] = np.array([1.0, -1.0] * 15) * 0.5
    fit = analysis.flow_fit(means).iloc[0]
    assert fit.n_used == len(means) - 1


def test_running_exponent_verdict_flips_with_the_data():
    for exponent, expected in ((-3.0, "reproduced (authors_code reading)"), (3.0, "reproduced (paper_print reading)"),
                               (-1.0, "not reproduced")):
        fit = analysis.flow_fit(synthetic_means(exponent))
        assert claims.running_exponent(fit, 4)[0]["verdict"] == expected


def deviation_rows(m2_value, m4_scale):
    rows = []
    for N in (2, 10, 100):
        for order, m in ((2, m2_value), (4, m4_scale / N ** 1.0), (6, m4_scale / N ** 1.0)):
            for k in range(5):
                rows.append({"experiment": "width_scan", "activation": "gauss", "d_in": 1, "estimator": "plain",
                             "sigma_b": 1.0, "sigma_w": 1.0, "N": N, "order": order, "combo": str(k),
                             "m": m * (1 + 0.01 * k), "background_m": 0.01 * np.sqrt(20), "n_bags": 20,
                             "m_exact": 0.0 if order == 2 else m})
    return pd.DataFrame(rows)


def test_m2_verdict_flips_when_m2_is_far_from_zero():
    assert claims.m2_vanishes(analysis.falloff(deviation_rows(0.001, 1.0)))["verdict"] == "reproduced"
    assert claims.m2_vanishes(analysis.falloff(deviation_rows(0.5, 1.0)))["verdict"] == "not reproduced"


def test_m2_below_background_flips_when_m2_exceeds_it():
    assert claims.m2_below_background(analysis.falloff(deviation_rows(0.001, 1.0)))["verdict"] == "reproduced"
    assert claims.m2_below_background(analysis.falloff(deviation_rows(0.05, 1.0)))["verdict"] == "not reproduced"


def test_scaling_verdict_flips_when_m4_does_not_fall_as_1_over_N():
    assert claims.scaling_slope(analysis.falloff(deviation_rows(0.0, 1.0)), 4)["verdict"] == "reproduced"
    flat = deviation_rows(0.0, 1.0)
    flat.loc[flat.order == 4, "m"] = 0.5
    assert claims.scaling_slope(analysis.falloff(flat), 4)["verdict"] == "not reproduced"


def test_the_folded_normal_mean_is_e_abs_x():
    rng = np.random.default_rng(7)
    for mu, s in ((0.0, 1.0), (0.3, 1.0), (-2.0, 0.5), (5.0, 0.1)):
        x = np.abs(rng.normal(mu, s, 400_000))
        assert abs(analysis.folded_normal_mean(mu, s) - x.mean()) < 5 * x.std() / np.sqrt(len(x))
    assert analysis.folded_normal_mean(-0.25, 0.0) == 0.25


def noisy_falloff(law, seed=3, n_combos=15, n_bags=10, background=0.3):
    """Deviation rows whose exact m_4 falls as 1/N and whose measured m_4 is ``law(N)`` plus the noise of
    ``n_bags`` bags (bag-to-bag standard deviation ``background``), as at HMS's widths."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in (2, 3, 4, 5, 10, 20, 50, 100, 500, 1000):
        for k in range(n_combos):
            exact = 2.0 / N * (1 + 0.02 * k)
            measured = law(N) * (1 + 0.02 * k) + rng.normal(0, background / np.sqrt(n_bags))
            for order in (4, 6):
                rows.append({"experiment": "hms", "activation": "erf", "d_in": 2, "estimator": "plain",
                             "sigma_b": 1.0, "sigma_w": 1.0, "N": N, "order": order, "combo": str(k), "m": measured,
                             "background_m": background, "n_bags": n_bags, "m_exact": exact})
    return analysis.falloff(pd.DataFrame(rows))


def test_the_1_over_N_verdict_compares_like_with_like():
    """Data that are the exact 1/N law plus noise flatten at large N: the claim, comparing with what the exact theory
    plus that noise predicts, says reproduced, where a comparison with -1 says not reproduced (the bias the
    comparison removes); data that fall as 1/N^2 or not at all are not reproduced."""
    fall = noisy_falloff(lambda N: 2.0 / N)
    row = claims.scaling_slope(fall, 4, "hms")
    assert row["verdict"] == "reproduced"
    assert abs(row["value"] + 1) > 1.96 * row["uncertainty"]  # the naive comparison would fail
    assert row["exact"] > -0.9  # the expected slope is flattened by the noise, too
    assert claims.scaling_slope(noisy_falloff(lambda N: 8.0 / N**2), 4, "hms")["verdict"] == "not reproduced"
    assert claims.scaling_slope(noisy_falloff(lambda N: 0.5), 4, "hms")["verdict"] == "not reproduced"


def test_the_falloff_table_averages_over_combinations():
    fall = analysis.falloff(deviation_rows(0.001, 1.0))
    row = fall[(fall.N == 10) & (fall.order == 4)].iloc[0]
    assert row.n_combos == 5 and row.m == pytest.approx(0.1 * 1.02) and row.m_exact == pytest.approx(0.1)
    assert row.se == pytest.approx(0.01) and row.background == pytest.approx(0.01 * np.sqrt(20))


def coupling_rows(u4_mean, spread):
    per_combo, means = [], []
    for N in (2, 10):
        us = u4_mean * (1 + spread * np.linspace(-1, 1, 7))
        per_combo += [{"experiment": "width_scan", "sigma_w": 1.0, "N": N, "order": 4, "u": u} for u in us]
        means.append({"experiment": "width_scan", "sigma_w": 1.0, "N": N, "order": 4, "u": us.mean(),
                      "u_se": 0.01 * abs(u4_mean), "u_exact": u4_mean})
        means.append({"experiment": "sigma_scan", "sigma_w": 1.0, "N": N, "order": 6, "u": -u4_mean,
                      "u_se": 0.01 * abs(u4_mean), "u_exact": -u4_mean})
    return pd.DataFrame(per_combo), pd.DataFrame(means)


def test_u4_and_u6_sign_verdicts_flip():
    pc, means = coupling_rows(-2.0, 0.01)
    assert claims.u4_negative_constant(means, pc)["verdict"] == "reproduced"
    assert claims.u6_small_positive(means)["verdict"] == "reproduced"
    pc, means = coupling_rows(+2.0, 0.01)
    assert claims.u4_negative_constant(means, pc)["verdict"] == "not reproduced"
    assert claims.u6_small_positive(means)["verdict"] == "not reproduced"
    pc, means = coupling_rows(-2.0, 0.9)  # negative but far from constant over combinations
    assert claims.u4_negative_constant(means, pc)["verdict"] == "not reproduced"


def test_passive_flow_starts_at_the_measured_couplings_and_integrates():
    flow = analysis.passive_flow(1.0, -5.0, 10.0, t_end=-2.0)
    assert flow.success.all() and flow.u2.iloc[0] == pytest.approx(2.0)
    assert flow.u4.iloc[0] == -5.0 and flow.u6.iloc[0] == 10.0 and flow.sigma_w.iloc[0] == pytest.approx(1.0)
    # the free part: with u4 = u6 = 0, ubar2 = 2 / k^2 exactly, so u2 stays at m_0^2
    free = analysis.passive_flow(1.0, 0.0, 0.0, t_end=-2.0)
    np.testing.assert_allclose(free.u2, 2.0, rtol=1e-6)
