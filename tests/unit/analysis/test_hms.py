"""HMS's analyses on correlators whose values are known: the λ and 6-point tables recover the exact theory's
numbers and slopes from exact correlators, the slopes approach the power derived from K, and every HMS claim's
verdict flips on data that contradict it."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from helpers import NO_FLAGS
from nnqft import combos, theory
from nnqft.analysis import claims, deviations, flow, hms
from nnqft.model import Model
from nnqft.theory import cutoff
from nnqft.workflow import design

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
        ens = exp.ensemble
        for sigma_w in exp.sigma_w:
            th = theory.of(exp.model(sigma_w, exp.N[0]))
            for N in exp.N:
                for order in (2, 4, 6):
                    labels = [combos.combo_label(c) for c in combos.multisets(len(exp.points), order)]
                    g, _ = th.correlators(combos.multisets(len(exp.points), order), N)
                    for bag in range(exp.n_bags):
                        value = g * (1 + noise * rng.standard_normal(len(g)))
                        rows.append(pd.DataFrame({"activation": ens.activation, "d_in": ens.d_in,
                                                  "points": ens.points_json, "estimator": ens.estimator,
                                                  "sigma_b": exp.sigma_b, "sigma_w": sigma_w, "N": N,
                                                  "n_nets": ens.n_nets, "bag": bag, "order": order, "combo": labels,
                                                  "value": value}))
    return pd.concat(rows, ignore_index=True)


def tables_for_six(corr, exps, lam) -> dict:
    """The tables the 6-point table reads, computed from ``corr``."""
    return {"hms_lambda": lam, "deviations": deviations.deviations(corr, exps),
            "hms_integrals": hms.integral_table(exps, CUTOFFS)}


@pytest.mark.parametrize("activation, points", [
    ("erf", (-1.0, -0.2, 0.6, 1.0)),  # 4 of HMS's 6 points: Erf's exact G^(6) at 6 points costs 20 s of quadrature
    ("relu", ([0.5, 0.5], [0.5, 1.0], [1.0, 0.5], [1.0, 1.0])),
    ("gauss", ([-0.01, -0.01, -0.01], [0.01, 0.01, -0.01], [-0.01, 0.01, 0.01], [0.01, -0.01, 0.01])),
])
def test_exact_correlators_give_the_exact_lambda_slope_and_six_point_ratios(activation, points):
    exps = experiment(activation, points)
    corr = exact_correlators(exps)
    lam, slope = hms.lambda_tables(corr, exps, CUTOFFS)
    np.testing.assert_allclose(lam["lambda"], lam.lambda_exact, rtol=1e-12)
    np.testing.assert_allclose(slope.slope, slope.slope_exact, rtol=1e-12)
    assert (lam.lambda_se == 0).all()
    six = hms.six_point_tables(tables_for_six(corr, exps, lam), exps, CUTOFFS)
    np.testing.assert_allclose(six.gp_over_measured, six.gp_over_exact, rtol=1e-12)
    np.testing.assert_allclose(six.gp_lambda_over_measured, six.gp_lambda_over_exact, rtol=1e-12)
    assert (lam.convention == "hms").all() and (slope.convention == "hms").all() and (six.convention == "hms").all()
    # each convention labels its rows (its numbers are checked against HMS's in the next test)
    for convention in ("hms", "full_kernel"):
        exps["e"] = replace(exps["e"], lambda_convention=convention)
        lam, _ = hms.lambda_tables(corr, exps, CUTOFFS)
        assert (lam.convention == convention).all()
        assert (lam.n_combos == cutoff.one_signed(Model(activation, points, 1.0, 1.0, 1),
                                                  kernel=hms.LAMBDA_CONVENTIONS[convention].kernel).sum()).all()


def test_the_six_point_table_reads_the_exact_theory_from_the_deviations_and_refuses_a_table_without_it():
    """The measured and exact G^(6) are the deviations table's g_mean and g_exact (computed once): changing them
    changes the ratios; a deviations table without the point's order 6, or an integral table without its point, is
    refused, naming the experiment."""
    exps = experiment("relu", (0.2, 0.4, 0.6, 0.8, 1.0, 1.2), N=(5,), n_bags=2)
    corr = exact_correlators(exps)
    lam, _ = hms.lambda_tables(corr, exps, CUTOFFS)
    frames = tables_for_six(corr, exps, lam)
    six = hms.six_point_tables(frames, exps, CUTOFFS)
    dev = frames["deviations"]
    doubled = dev.assign(g_exact=np.where(dev.order == 6, 2 * dev.g_exact, dev.g_exact))
    six2 = hms.six_point_tables({**frames, "deviations": doubled}, exps, CUTOFFS)
    np.testing.assert_allclose(six2.gp_over_exact, six.gp_over_exact / 2, rtol=1e-14)
    halved = dev.assign(g_mean=np.where(dev.order == 6, dev.g_mean / 2, dev.g_mean))
    six3 = hms.six_point_tables({**frames, "deviations": halved}, exps, CUTOFFS)
    np.testing.assert_allclose(six3.gp_over_measured, six.gp_over_measured * 2, rtol=1e-14)
    with pytest.raises(ValueError, match="lacks order 6 of experiment e"):
        hms.six_point_tables({**frames, "deviations": dev[dev.order != 6]}, exps, CUTOFFS)
    with pytest.raises(ValueError, match="integral table lacks experiment e"):
        hms.six_point_tables({**frames, "hms_integrals": frames["hms_integrals"].iloc[1:]}, exps, CUTOFFS)


def test_the_integral_table_holds_the_cubature_of_every_multiset():
    exps = experiment("erf", (-1.0, -0.6, -0.2, 0.2, 0.6, 1.0), N=(5,), n_bags=2)
    table = hms.integral_table(exps, CUTOFFS)
    model = exps["e"].model(1.0, 5)
    direct = cutoff.integrals(model, CUTOFFS, kernel="w")
    assert hms.integrals_of(table, "e", model, np.asarray(CUTOFFS, float)).tobytes() == direct.tobytes()


def test_hms_numbers_in_their_convention():
    """ReLU at d_in = 1, N = 20 (HMS's NGP width) with the exact G^(4): λ̄(Λ = 7) = +1.26e-4 and HMS's pooled slope
    −4.96 in their convention; GaussNet's λ does not run; and the 6-point ratios of docs/science.md §8 (0.876
    without λ; 0.939 / 0.947 / 0.947 at Λ = 7, 100, 10^4 in HMS's convention, 0.996 / 1.033 / 1.040 with the
    full K)."""
    exps = experiment("relu", (0.2, 0.4, 0.6, 0.8, 1.0, 1.2), N=(20,), n_bags=2)
    corr = exact_correlators(exps)
    for convention, ratios in (("hms", (0.939, 0.947, 0.947)), ("full_kernel", (0.996, 1.033, 1.040))):
        exps["e"] = replace(exps["e"], lambda_convention=convention)
        lam, slope = hms.lambda_tables(corr, exps, CUTOFFS)
        six = hms.six_point_tables(tables_for_six(corr, exps, lam), exps, CUTOFFS).set_index("cutoff")
        assert six.gp_over_exact.iloc[0] == pytest.approx(0.876, abs=5e-4)
        assert [round(six.gp_lambda_over_exact[c], 3) for c in (7, 100, 10000)] == list(ratios)
        if convention == "hms":
            assert lam.lambda_exact.iloc[0] == pytest.approx(1.262e-4, rel=1e-3)
            assert slope.slope_pooled_exact.iloc[0] == pytest.approx(-4.962, abs=1e-3)
        else:
            assert lam.lambda_exact.iloc[0] < 0
    gauss = experiment("gauss", (-0.01, -0.006, -0.002, 0.002, 0.006, 0.01), N=(100,), n_bags=2)
    _, slope = hms.lambda_tables(exact_correlators(gauss), gauss, CUTOFFS)
    assert abs(slope.slope_exact.iloc[0]) < 1e-9 and slope.slope_asymptotic.iloc[0] == 0


@pytest.mark.parametrize("activation, d_in", [("erf", 1), ("relu", 2), ("gauss", 3)])
def test_the_exact_slope_approaches_the_power_derived_from_K(activation, d_in):
    points = {1: (-1.0, 0.2, 1.0), 2: ([0.5, 0.5], [0.5, 1.0], [1.0, 0.5]),
              3: ([-0.01, -0.01, -0.01], [0.01, 0.01, -0.01], [-0.01, 0.01, 0.01])}[d_in]
    exps = experiment(activation, points, N=(5,), n_bags=2)
    far = (1e6, 2e6, 4e6, 8e6)
    for convention, kernel in (("hms", "w"), ("full_kernel", "full")):
        exps["e"] = replace(exps["e"], lambda_convention=convention)
        _, slope = hms.lambda_tables(exact_correlators(exps), exps, far)
        derived = cutoff.asymptotic_slope(activation, d_in, kernel=kernel)
        assert slope.slope_exact.iloc[0] == pytest.approx(derived, abs=1e-3)
        assert slope.slope_local_exact.iloc[0] == pytest.approx(derived, abs=1e-3)


def test_noisy_correlators_give_a_standard_error_that_covers_the_deviation():
    exps = experiment("relu", ([0.5, 0.5], [0.5, 1.0], [1.0, 0.5], [1.0, 1.0]), n_bags=10)
    lam, slope = hms.lambda_tables(exact_correlators(exps, noise=0.01, seed=5), exps, CUTOFFS)
    z = (lam["lambda"] - lam.lambda_exact) / lam.lambda_se
    assert (lam.lambda_se > 0).all() and np.abs(z).max() < 5


def slope_row(local_exact, derived=-5):
    return pd.DataFrame([{"experiment": "e", "N": 5, "n_bags": 10, "convention": "hms", "slope": -4.96,
                          "slope_se": 1e-4, "slope_exact": -4.96, "slope_pooled": -4.96, "slope_pooled_exact": -4.96,
                          "slope_local_exact": local_exact, "slope_asymptotic": derived}])


def lambda_rows(value, se, exact=None):
    return pd.DataFrame({"experiment": "e", "N": 5, "cutoff": [7.0, 100.0], "lambda": value, "lambda_se": se,
                         "lambda_exact": value if exact is None else exact})


def test_the_lambda_verdicts_flip():
    """Agreement: λ̄ at the smallest cutoff against the exact one; statement: the exact local slope at large Λ
    against the derived power, decided in the measurement only where λ̄ is resolved; heavy tails: unreliable."""
    row = claims.lambda_runs(slope_row(-4.9999), lambda_rows(1e-3, 1e-5), NO_FLAGS, "e", 5)
    assert (row["agreement"], row["statement_exact"], row["statement_measured"]) == ("agrees", "holds", "holds")
    assert "Λ^-5" in row["claim"] and "hms convention" in row["claim"]
    row = claims.lambda_runs(slope_row(-4.5), lambda_rows(1e-3, 1e-5, exact=2e-3), NO_FLAGS, "e", 5)
    assert (row["agreement"], row["statement_exact"], row["statement_measured"]) == ("disagrees", "fails", "fails")
    row = claims.lambda_runs(slope_row(-4.9999), lambda_rows(1e-6, 1e-5), NO_FLAGS, "e", 5)
    assert row["statement_measured"] == "below noise"
    row = claims.lambda_runs(slope_row(1e-12, derived=0), lambda_rows(1e-3, 1e-5), NO_FLAGS, "e", 5)
    assert "does not run" in row["claim"] and row["statement_exact"] == "holds"
    flags = pd.DataFrame([{"experiment": "e", "sigma_w": 1.0, "N": 5, "order": 4, "status": deviations.UNRELIABLE}])
    row = claims.lambda_runs(slope_row(-4.9999), lambda_rows(1e-3, 1e-5), flags, "e", 5)
    assert row["agreement"] == row["statement_measured"] == deviations.UNRELIABLE


def six_rows(gp, gp_lambda):
    return pd.DataFrame({"experiment": "e", "N": 5, "cutoff": [10.0, 100.0], "convention": "hms",
                         "gp_over_measured": gp, "gp_lambda_over_measured": gp_lambda, "gp_over_exact": gp,
                         "gp_lambda_over_exact": gp_lambda})


def test_the_six_point_verdicts_flip():
    dev = pd.DataFrame({"experiment": "e", "N": 5, "order": 6, "combo": ["0", "1"], "g_mean": 1.0, "g_exact": 1.0,
                        "g_se": 0.01, "n_bags": 10})
    resolved = pd.DataFrame([{"experiment": "e", "N": 5, "order": 6, "m": 0.3, "se": 0.01, "n_bags": 10}])
    unresolved = resolved.assign(m=0.01)
    verdicts = lambda six, fall: tuple(claims.six_point_closer(six, dev, fall, NO_FLAGS, experiment="e",  # noqa: E731
                                                               ngp_width=5)[k]
                                       for k in ("agreement", "statement_exact", "statement_measured"))
    assert verdicts(six_rows(0.6, 0.95), resolved) == ("agrees", "holds", "holds")
    assert verdicts(six_rows(0.6, 0.3), resolved) == ("agrees", "fails", "fails")
    assert verdicts(six_rows(0.6, [0.95, 0.3]), resolved) == ("agrees", "fails", "fails")
    assert verdicts(six_rows(0.6, 0.95), unresolved)[2] == "below noise"
    assert claims.six_point_closer(six_rows(0.6, 0.95), dev.assign(g_mean=1.5), resolved, NO_FLAGS, experiment="e",
                                   ngp_width=5)["agreement"] == "disagrees"


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
    corr = pd.concat([exact_correlators({"scan": replace(exps["scan"], sigma_w=(sw,))}, noise=1e-4, seed=k)
                      for k, sw in enumerate(sigma_ws)], ignore_index=True)
    _, means = flow.coupling_tables(corr, exps)
    fit = flow.flow_fit(means, d_in=d_in)
    row = fit[fit.order == 4].iloc[0]
    assert row.exponent == pytest.approx(row.exponent_exact, abs=0.01)
    assert row.exponent_exact == pytest.approx(d_in - 4, abs=0.02)
    assert row.predicted_authors_code == d_in - 4 and row.predicted_paper_print == 4 - d_in
