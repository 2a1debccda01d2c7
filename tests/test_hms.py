"""HMS's analyses on correlators whose values are known: the λ and 6-point tables recover the exact theory's
numbers and slopes from exact correlators, the slopes approach the power derived from K, and every HMS claim's
verdict flips on data that contradict it."""
import numpy as np
import pandas as pd
import pytest

from nnqft import analysis, claims, combos, cutoff, design, neurons

CUTOFFS = cutoff.HMS_CUTOFFS


def experiment(activation="erf", points=(-1.0, -0.6, -0.2, 0.2, 0.6, 1.0), N=(2, 5), n_bags=4):
    config = {"n_nets": 1000, "points": list(points), "experiments": {"e": {
        "activation": activation, "sigma_b": 1.0, "sigma_w": [1.0], "N": list(N), "n_bags": n_bags,
        "analyses": ["falloff", "lambda_running", "six_point"], "ngp_width": N[-1]}}}
    return design.experiments(config)


def exact_correlators(experiments, noise=0.0, seed=0):
    """A correlator table whose bags hold the exact G^(n) (times 1 + ``noise`` x a standard normal per value)."""
    rng = np.random.default_rng(seed)
    rows = []
    for exp in experiments.values():
        ens = design.ensemble_of(exp)
        th = analysis.theory(ens.activation, ens.points_json, exp["sigma_b"], exp["sigma_w"][0])
        for N in exp["N"]:
            for order in (2, 4, 6):
                labels = [combos.combo_label(c) for c in combos.multisets(len(exp["points"]), order)]
                g, _ = th.correlators(combos.multisets(len(exp["points"]), order), N)
                for bag in range(exp["n_bags"]):
                    value = g * (1 + noise * rng.standard_normal(len(g)))
                    rows.append(pd.DataFrame({"activation": ens.activation, "d_in": ens.d_in,
                                              "points": ens.points_json, "estimator": ens.estimator,
                                              "sigma_b": exp["sigma_b"], "sigma_w": exp["sigma_w"][0], "N": N,
                                              "n_nets": ens.n_nets, "bag": bag, "order": order, "combo": labels,
                                              "value": value}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("activation, points", [
    ("erf", (-1.0, -0.6, -0.2, 0.2, 0.6, 1.0)),
    ("relu", ([0.5, 0.5], [0.5, 1.0], [1.0, 0.5], [1.0, 1.0])),
    ("gauss", ([-0.01, -0.01, -0.01], [0.01, 0.01, -0.01], [-0.01, 0.01, 0.01], [0.01, -0.01, 0.01])),
])
def test_exact_correlators_give_the_exact_lambda_slope_and_six_point_ratios(activation, points):
    exps = experiment(activation, points)
    corr = exact_correlators(exps)
    lam, slope = analysis.lambda_tables(corr, exps, CUTOFFS)
    np.testing.assert_allclose(lam["lambda"], lam.lambda_exact, rtol=1e-12)
    np.testing.assert_allclose(slope.slope, slope.slope_exact, rtol=1e-12)
    assert (lam.lambda_se == 0).all()
    six = analysis.six_point_tables(corr, exps, lam, CUTOFFS)
    np.testing.assert_allclose(six.gp_over_measured, six.gp_over_exact, rtol=1e-12)
    np.testing.assert_allclose(six.gp_lambda_over_measured, six.gp_lambda_over_exact, rtol=1e-12)
    # λ by its definition, for one combination, cutoff and width: −ΔG^(4) / (24 I_4)
    th = analysis.theory(activation, neurons.points_json(points), 1.0, 1.0)
    four = cutoff.four_point_multisets(len(points))
    g, g0 = th.correlators(four, 5)
    i4 = cutoff.integrals(activation, points, 1.0, 1.0, CUTOFFS)
    row = lam[(lam.N == 5) & (lam.cutoff == 100)]
    assert row["lambda"].iloc[0] == pytest.approx(np.mean(-(g - g0) / (24 * i4[:, CUTOFFS.index(100)])), rel=1e-12)


@pytest.mark.parametrize("activation, d_in", [("erf", 1), ("relu", 2), ("gauss", 3)])
def test_the_exact_slope_approaches_the_power_derived_from_K(activation, d_in):
    points = {1: (-1.0, 0.2, 1.0), 2: ([0.5, 0.5], [0.5, 1.0], [1.0, 0.5]),
              3: ([-0.01, -0.01, -0.01], [0.01, 0.01, -0.01], [-0.01, 0.01, 0.01])}[d_in]
    exps = experiment(activation, points, N=(5,), n_bags=2)
    far = (1e6, 2e6, 4e6, 8e6)
    _, slope = analysis.lambda_tables(exact_correlators(exps), exps, far)
    assert slope.slope_exact.iloc[0] == pytest.approx(cutoff.asymptotic_slope(activation, d_in), abs=1e-3)


def test_noisy_correlators_give_a_standard_error_that_covers_the_deviation():
    exps = experiment("relu", ([0.5, 0.5], [0.5, 1.0], [1.0, 0.5], [1.0, 1.0]), n_bags=10)
    lam, slope = analysis.lambda_tables(exact_correlators(exps, noise=0.01, seed=5), exps, CUTOFFS)
    z = (lam["lambda"] - lam.lambda_exact) / lam.lambda_se
    assert (lam.lambda_se > 0).all() and np.abs(z).max() < 5


def slope_row(slope, slope_exact, se=0.01, n_bags=10):
    return pd.DataFrame([{"experiment": "e", "N": 5, "n_bags": n_bags, "slope": slope, "slope_se": se,
                          "slope_exact": slope_exact, "slope_asymptotic": -5}])


def lambda_rows(value, se):
    return pd.DataFrame({"experiment": "e", "N": 5, "cutoff": [10.0, 100.0], "lambda": value, "lambda_se": se})


def test_the_lambda_verdict_flips():
    assert claims.lambda_runs(slope_row(-4.85, -4.851), lambda_rows(-1e-3, 1e-5), "e", 5)["verdict"] == "reproduced"
    assert claims.lambda_runs(slope_row(-4.5, -4.851), lambda_rows(-1e-3, 1e-5), "e", 5)["verdict"] == "not reproduced"
    assert claims.lambda_runs(slope_row(-4.85, -4.851), lambda_rows(-1e-6, 1e-5), "e", 5)["verdict"] == "below noise"


def six_rows(gp, gp_lambda):
    return pd.DataFrame({"experiment": "e", "N": 5, "cutoff": [10.0, 100.0], "gp_over_measured": gp,
                         "gp_lambda_over_measured": gp_lambda, "gp_over_exact": gp, "gp_lambda_over_exact": gp_lambda})


def test_the_six_point_verdict_flips():
    resolved = pd.DataFrame([{"experiment": "e", "N": 5, "order": 6, "m": 0.3, "se": 0.01}])
    unresolved = resolved.assign(m=0.01)
    assert claims.six_point_closer(six_rows(0.6, 0.95), resolved, "e", 5)["verdict"] == "reproduced"
    assert claims.six_point_closer(six_rows(0.6, 0.3), resolved, "e", 5)["verdict"] == "not reproduced"
    assert claims.six_point_closer(six_rows(0.6, [0.95, 0.3]), resolved, "e", 5)["verdict"] == "not reproduced"
    assert claims.six_point_closer(six_rows(0.6, 0.95), unresolved, "e", 5)["verdict"] == "below noise"


@pytest.mark.parametrize("d_in", [2, 3])
def test_the_flow_fit_recovers_the_exact_exponent_at_d_in_2_and_3_from_exact_correlators(d_in):
    """u_4 from exact correlators (times 1 + 1e-4 noise per bag, so that the jackknife has something to weigh) over
    a σ_W scan at HMS's GaussNet points: the fitted exponent is the exact theory's, and that is d_in − 4 (the
    authors' code's reading of eq. 4.6), as the full run measures it."""
    pts = {2: [[-0.01, -0.01], [-0.01, 0.01], [0.01, -0.01], [0.01, 0.01]],
           3: [[-0.01, -0.01, -0.01], [0.01, 0.01, -0.01], [-0.01, 0.01, 0.01], [0.01, -0.01, 0.01]]}[d_in]
    sigma_ws = [1.0, 2.0, 4.0, 8.0]
    config = {"n_nets": 1000, "points": pts, "experiments": {"scan": {
        "sigma_b": 1.0, "sigma_w": sigma_ws, "N": [10], "n_bags": 6, "analyses": ["flow_fit"]}}}
    exps = design.experiments(config)
    corr = pd.concat([exact_correlators({"scan": {**exps["scan"], "sigma_w": [sw]}}, noise=1e-4, seed=k)
                      for k, sw in enumerate(sigma_ws)], ignore_index=True)
    _, means = analysis.coupling_tables(corr, exps)
    fit = analysis.flow_fit(means, d_in=d_in)
    row = fit[fit.order == 4].iloc[0]
    assert row.exponent == pytest.approx(row.exponent_exact, abs=0.01)
    assert row.exponent_exact == pytest.approx(d_in - 4, abs=0.02)
    assert row.predicted_authors_code == d_in - 4 and row.predicted_paper_print == 4 - d_in
