"""Analysis half: exact theory by brute force, coupling extraction, flow fit, claim verdicts."""
import re
from itertools import product

import numpy as np
import pandas as pd
import pytest

from helpers import NO_FLAGS
from nnqft.analysis import claims, deviations, flow, stats
from nnqft.model import Model
from nnqft.theory.exact import Theory

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
    (g,), _ = Theory("gauss", xs, sigma_b, sigma_w).correlators([tuple(range(len(xs)))], N)
    assert g == pytest.approx(brute_force_moment(xs, sigma_b, sigma_w, N), rel=1e-10)


def exact_bags(sigma_b, sigma_w, N, n_bags=3, points=POINTS):
    """Per-bag correlator matrices that all equal the exact values (a noise-free measurement)."""
    model = Model("gauss", points, sigma_b, sigma_w, N)
    g4, _ = deviations.exact_point(model, 4)
    g6, _ = deviations.exact_point(model, 6)
    return np.tile(g4, (n_bags, 1)), np.tile(g6, (n_bags, 1))


@pytest.mark.parametrize("points", [POINTS, [[-0.01, -0.01], [-0.01, 0.01], [0.01, -0.01], [0.01, 0.01]],
                                    [[-0.01, -0.01, -0.01], [0.01, 0.01, -0.01], [-0.01, 0.01, 0.01]]])
def test_couplings_recover_exact_values_from_exact_correlators(points):
    v4, v6 = exact_bags(1.0, 2.0, 10, points=points)
    (u4, u6), means = flow.point_couplings(Model("gauss", points, 1.0, 2.0, 10), v4, v6)
    np.testing.assert_allclose(u4.u, u4.u_exact, rtol=1e-12)
    np.testing.assert_allclose(u6.u, u6.u_exact, rtol=1e-9)
    assert np.all(u4.u_se < 1e-9 * np.abs(u4.u)) and np.all(u4.u < 0)


def synthetic_means(exponent, sigma_ws=(1.0, 1.5, 2.0, 3.0, 5.0, 8.0), n_bags=30, noise=0.02, seed=1, N=10):
    rng = np.random.default_rng(seed)
    rows = []
    for sw in sigma_ws:
        u = -3.0 * sw**exponent
        loo = u * (1 + noise * rng.standard_normal(n_bags) / np.sqrt(n_bags - 1))
        rows.append({"experiment": "sigma_scan", "N": N, "order": 4, "sigma_w": sw, "u": u, "u_exact": u,
                     "u_loo": loo})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("exponent", [-3.0, 1.7])
def test_flow_fit_recovers_a_known_exponent(exponent):
    fit = flow.flow_fit(synthetic_means(exponent)).iloc[0]
    assert fit.exponent == pytest.approx(exponent, abs=1e-9)
    assert fit.ci_low < exponent < fit.ci_high and fit.exponent_se > 0
    assert fit.exponent_exact == pytest.approx(exponent)


def test_flow_fit_drops_points_below_the_noise_floor():
    means = synthetic_means(-3.0)
    row = means.index[means.sigma_w == 8.0][0]
    means.at[row, "u_loo"] = np.array([1.0, -1.0] * 15) * 0.5
    fit = flow.flow_fit(means).iloc[0]
    assert fit.n_used == len(means) - 1


def fitted(means):
    """The flow fit of synthetic means, as the flow-fit table labels it (experiment sigma_scan)."""
    return flow.flow_fit(means).assign(experiment="sigma_scan")


def test_running_exponent_verdicts_flip_with_the_data():
    """The statement follows the fitted exponent (which reading of eq. 4.6 it supports, or none); the agreement
    follows the exact exponent; a flagged width says unreliable instead of either."""
    for exponent, expected in ((-3.0, "holds (authors' code reading)"), (3.0, "holds (paper print reading)"),
                               (-1.0, "fails")):
        row = claims.running_exponent(fitted(synthetic_means(exponent)), 4, NO_FLAGS, {"sigma_scan": 30})[0]
        assert row["statement_measured"] == expected and row["agreement"] == "agrees"
    off = synthetic_means(-3.0).assign(u_exact=lambda m: -3.0 * m.sigma_w ** -2.0)
    row = claims.running_exponent(fitted(off), 4, NO_FLAGS, {"sigma_scan": 30})[0]
    assert row["agreement"] == "disagrees" and row["statement_exact"] == "fails"
    flags = pd.DataFrame([{"experiment": "sigma_scan", "sigma_w": 2.0, "N": 10, "order": 4,
                           "status": deviations.UNRELIABLE}])
    row = claims.running_exponent(fitted(synthetic_means(-3.0)), 4, flags, {"sigma_scan": 30})[0]
    assert row["agreement"] == row["statement_measured"] == deviations.UNRELIABLE


def falloff_deviations(law, seed=3, n_combos=15, n_bags=10, background=0.3, widths=(2, 3, 4, 5, 10, 20, 50, 100,
                                                                                   500, 1000)):
    """Deviation rows (G_0 = 1) whose exact m_4 falls as 1/N and whose measured m_4 is ``law(N)`` plus the noise of
    ``n_bags`` bags (bag-to-bag standard deviation ``background``), as at HMS's widths; m_2 exact 0, measured
    noise only."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in widths:
        for order in (2, 4):
            for k in range(n_combos):
                exact = 0.0 if order == 2 else 2.0 / N * (1 + 0.02 * k)
                measured = (0.0 if order == 2 else law(N) * (1 + 0.02 * k)) + rng.normal(0, background / np.sqrt(n_bags))
                rows.append({"experiment": "hms", "activation": "erf", "d_in": 2, "depth": 1, "estimator": "plain",
                             "sigma_b": 1.0, "sigma_w": 1.0, "N": N, "order": order, "combo": str(k),
                             "g0": 1.0, "g_mean": 1 + measured, "g_exact": 1 + exact, "m": measured, "m_exact": exact,
                             "g_se": background / np.sqrt(n_bags), "background_m": background, "n_bags": n_bags,
                             "n_nets": 1000})
    dev = pd.DataFrame(rows)
    return dev, deviations.falloff(dev)


def test_the_1_over_N_statement_is_judged_where_the_signal_is_resolved():
    """Data that are the exact 1/N law plus noise flatten at large N (a mean of |m| is biased upwards): over every
    width their slope is far from −1, but the claim judges the statement on the resolved widths and agrees; data
    that fall as 1/N² or not at all fail it and disagree with the theory."""
    dev, fall = falloff_deviations(lambda N: 2.0 / N)
    row = claims.scaling_slope(dev, fall, NO_FLAGS, 4, "hms")
    assert row["agreement"] == "agrees" and row["statement_measured"] == "holds" and row["statement_exact"] == "holds"
    naive = np.polyfit(np.log(fall[fall.order == 4].N), np.log(fall[fall.order == 4].m), 1)[0]
    assert naive > -0.9  # the slope over every width is flattened by the noise
    for law in (lambda N: 8.0 / N**2, lambda N: 0.5):
        dev, fall = falloff_deviations(law)
        row = claims.scaling_slope(dev, fall, NO_FLAGS, 4, "hms")
        assert row["agreement"] == "disagrees" and row["statement_measured"] == "fails"


def test_the_m2_claim_tests_every_width_and_combination():
    dev, fall = falloff_deviations(lambda N: 2.0 / N)
    row = claims.m2_vanishes(dev, fall, NO_FLAGS, "hms")
    assert row["agreement"] == "agrees" and row["statement_measured"] == "holds" and "150 tests" in row["false_alarm"]
    shifted = dev.copy()
    pick = (shifted.order == 2) & (shifted.N == 50) & (shifted.combo == "3")
    shifted.loc[pick, "g_mean"] += 10 * shifted.loc[pick, "g_se"]  # one combination at one width, 10 se off
    row = claims.m2_vanishes(shifted, fall, NO_FLAGS, "hms")
    assert row["agreement"] == "disagrees" and row["statement_measured"] == "fails" and "N = 50" in row["detail"]


def test_the_falloff_table_averages_over_combinations():
    _, fall = falloff_deviations(lambda N: 2.0 / N, widths=(10,), n_combos=5)
    row = fall[(fall.N == 10) & (fall.order == 4)].iloc[0]
    assert row.n_combos == 5 and row.m_exact == pytest.approx(0.2 * 1.04)
    assert row.se == pytest.approx(0.3 / np.sqrt(10)) and row.background == pytest.approx(0.3)


def test_the_folded_normal_mean_is_e_abs_x():
    rng = np.random.default_rng(7)
    for mu, s in ((0.0, 1.0), (0.3, 1.0), (-2.0, 0.5), (5.0, 0.1)):
        x = np.abs(rng.normal(mu, s, 400_000))
        assert abs(stats.folded_normal_mean(mu, s) - x.mean()) < 5 * x.std() / np.sqrt(len(x))
    assert stats.folded_normal_mean(-0.25, 0.0) == 0.25


def coupling_rows(u4_mean, spread, exact_sign=None):
    per_combo, means = [], []
    sign = np.sign(u4_mean) if exact_sign is None else exact_sign
    for N in (2, 10):
        us = u4_mean * (1 + spread * np.linspace(-1, 1, 7))
        per_combo += [{"experiment": "width_scan", "sigma_w": 1.0, "N": N, "order": 4, "u": u, "u_exact": u}
                      for u in us]
        means.append({"experiment": "width_scan", "sigma_w": 1.0, "N": N, "order": 4, "u": us.mean(), "n_bags": 20,
                      "u_se": 0.01 * abs(u4_mean), "u_exact": sign * abs(u4_mean)})
        means.append({"experiment": "sigma_scan", "sigma_w": 1.0, "N": N, "order": 6, "u": -u4_mean, "n_bags": 20,
                      "u_se": 0.01 * abs(u4_mean), "u_exact": -sign * abs(u4_mean)})
    return pd.DataFrame(per_combo), pd.DataFrame(means)


def test_u4_and_u6_sign_verdicts_flip():
    pc, means = coupling_rows(-2.0, 0.01)
    for row in (claims.u4_negative_constant(means, pc, NO_FLAGS, "width_scan"), claims.u6_small_positive(means, NO_FLAGS, "sigma_scan")):
        assert (row["agreement"], row["statement_exact"], row["statement_measured"]) == ("agrees", "holds", "holds")
    pc, means = coupling_rows(+2.0, 0.01)
    for row in (claims.u4_negative_constant(means, pc, NO_FLAGS, "width_scan"), claims.u6_small_positive(means, NO_FLAGS, "sigma_scan")):
        assert (row["agreement"], row["statement_exact"], row["statement_measured"]) == ("agrees", "fails", "fails")
    pc, means = coupling_rows(+2.0, 0.01, exact_sign=-1)  # measured positive, exact negative: the workflow is wrong
    row = claims.u4_negative_constant(means, pc, NO_FLAGS, "width_scan")
    assert (row["agreement"], row["statement_exact"], row["statement_measured"]) == ("disagrees", "holds", "fails")
    pc, means = coupling_rows(-2.0, 0.9)  # negative but far from constant over combinations (in the exact theory)
    assert claims.u4_negative_constant(means, pc, NO_FLAGS, "width_scan")["statement_exact"] == "fails"


def test_passive_flow_starts_at_the_measured_couplings_and_integrates():
    run = flow.passive_flow(1.0, -5.0, 10.0, t_end=-2.0)
    assert run.success.all() and run.u2.iloc[0] == pytest.approx(2.0)
    assert run.u4.iloc[0] == -5.0 and run.u6.iloc[0] == 10.0 and run.sigma_w.iloc[0] == pytest.approx(1.0)
    # the free part: with u4 = u6 = 0, ubar2 = 2 / k^2 exactly, so u2 stays at m_0^2
    free = flow.passive_flow(1.0, 0.0, 0.0, t_end=-2.0)
    np.testing.assert_allclose(free.u2, 2.0, rtol=1e-6)


def test_the_claims_markdown_keeps_one_cell_per_column():
    """Quantities and details write |m_2| and |G − G_exact|: escaped, or a Markdown table would split them."""
    dev, fall = falloff_deviations(lambda N: 2.0 / N)
    table = pd.DataFrame([claims.m2_vanishes(dev, fall, NO_FLAGS, "hms")], columns=claims.COLUMNS)
    row = claims.to_markdown(table).splitlines()[-1]
    assert len(re.split(r"(?<!\\)\|", row)) == len(claims.COLUMNS) + 2


def _bag_rows(n_points=3, orders=(2, 4), bags=(0, 1, 2), seed=0):
    """A shuffled correlator table of one point (experiment ``e``), every combination of every order once per bag."""
    from nnqft import combos

    rng = np.random.default_rng(seed)
    rows = pd.DataFrame([{"experiment": "e", "sigma_b": 1.0, "sigma_w": 1.0, "N": 10, "bag": b, "order": n,
                          "combo": combos.combo_label(c), "value": rng.normal()}
                         for b in bags for n in orders for c in combos.multisets(n_points, n)])
    return rows.sample(frac=1.0, random_state=seed).reset_index(drop=True)


class _Exp:
    points = [[0.1], [0.2], [0.3]]


def test_point_bags_gives_each_order_as_a_pivot_would_with_the_same_bits():
    from nnqft import combos

    rows = _bag_rows(bags=range(10))  # numpy sums 8 or more numbers pairwise along a contiguous axis only
    (key, bags), = list(deviations.point_bags(rows, {"e": _Exp()}))
    assert key == ("e", 1.0, 1.0, 10) and list(bags) == [2, 4]
    for order, (values, labels) in bags.items():
        assert labels == [combos.combo_label(c) for c in combos.multisets(3, order)]
        pivot = rows[rows.order == order].pivot(index="bag", columns="combo", values="value")[labels].to_numpy()
        assert values.tobytes() == pivot.tobytes()
        assert values.flags.c_contiguous == pivot.flags.c_contiguous  # the layout fixes the bits of these:
        assert values.mean(axis=0).tobytes() == pivot.mean(axis=0).tobytes()
        assert values.std(axis=0, ddof=1).tobytes() == pivot.std(axis=0, ddof=1).tobytes()


@pytest.mark.parametrize("damage", ["missing", "duplicate"])
def test_point_bags_refuses_a_point_without_every_combination_once_per_bag(damage):
    rows = _bag_rows()
    rows = rows.drop(index=5) if damage == "missing" else pd.concat([rows, rows.iloc[[5]]], ignore_index=True)
    with pytest.raises(ValueError, match="experiment e: .* not every combination once per bag"):
        list(deviations.point_bags(rows, {"e": _Exp()}))
