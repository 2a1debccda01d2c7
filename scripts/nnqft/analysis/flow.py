"""The couplings u_4, u_6 of GaussNet's 1PI ansatz and their running with σ_W: per-combination and mean couplings
with jackknife errors, the fitted exponents, and the passive RG flow (docs/science.md §3, §4)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from .. import combos, theory
from ..theory import couplings
from .deviations import exact_point, experiment_rows, point_bags, point_label
from .registry import asking
from .stats import jackknife_se, leave_one_out, log_log_fit


def _u4_u6(g4, g6, g0_4, g0_6, i4, i6, t6, split_idx, split_k):
    """u_4 per 4-combination and u_6 per 6-combination from mean correlators (last axis: combinations).

    u_4 = -Delta G^(4) / I_4; u_6 = (<u_4>^2 T_6 - G_c^(6)) / I_6 with <u_4> the mean over 4-combinations
    and G_c^(6) = Delta G^(6) - sum_15 Delta G^(4) K (docs/science.md §3).
    """
    d4 = g4 - g0_4
    u4 = -d4 / i4
    u4_mean = u4.mean(axis=-1, keepdims=True)
    gc6 = (g6 - g0_6) - np.sum(d4[..., split_idx] * split_k, axis=-1)
    u6 = (u4_mean**2 * t6 - gc6) / i6
    return u4, u6


@lru_cache(maxsize=None)
def _coupling_geometry(model):
    """I_4, I_6, T_6 and the six-point splits of every combination of a GaussNet family: they do not depend on N,
    so the points of a sigma_w scan at several N share them."""
    th = theory.of(model)
    pts, sigma_w = th.points, th.sigma_w
    ms4, ms6 = combos.multisets(len(pts), 4), combos.multisets(len(pts), 6)
    i4 = np.array([couplings.I_n(pts[list(c)], sigma_w) for c in ms4])
    i6 = np.array([couplings.I_n(pts[list(c)], sigma_w) for c in ms6])
    t6 = np.array([couplings.T_6(pts[list(c)], sigma_w) for c in ms6])
    split_idx, split_k = couplings.six_point_splits(th.K)
    return i4, i6, t6, split_idx, split_k


def point_couplings(model, values4, values6=None):
    """u_4 and u_6 of one GaussNet point (``model``) with jackknife errors over bags, and their exact values.

    values4, values6: float[n_bags, n_4], float[n_bags, n_6] per-bag correlators (canonical order; ``values6``
    None where order 6 is not measured: u_4 only).
    Returns the per-combination DataFrames (4-point, then 6-point combinations) and the means over combinations.
    """
    n_points = len(model.points)
    ms4, ms6 = combos.multisets(n_points, 4), combos.multisets(n_points, 6)
    e4, g0_4 = exact_point(model, 4)
    with_u6 = values6 is not None
    if not with_u6:  # u_4 alone: zero 6-point inputs, and the u_6 outputs dropped
        e6 = g0_6 = np.zeros(len(ms6))
        values6 = np.zeros((values4.shape[0], len(ms6)))
    else:
        e6, g0_6 = exact_point(model, 6)
    args = (g0_4, g0_6, *_coupling_geometry(model.at(N=1, n_nets=1, estimator="plain")))
    u4, u6 = _u4_u6(values4.mean(axis=0), values6.mean(axis=0), *args)
    j4, j6 = _u4_u6(leave_one_out(values4), leave_one_out(values6), *args)
    x4, x6 = _u4_u6(e4, e6, *args)
    labels4 = [combos.combo_label(c) for c in ms4]
    labels6 = [combos.combo_label(c) for c in ms6]
    per_combo = [pd.DataFrame({"order": 4, "combo": labels4, "u": u4, "u_se": jackknife_se(j4), "u_exact": x4}),
                 pd.DataFrame({"order": 6, "combo": labels6, "u": u6, "u_se": jackknife_se(j6), "u_exact": x6})]
    means = pd.DataFrame({
        "order": [4, 6], "u": [u4.mean(), u6.mean()],
        "u_se": [jackknife_se(j4.mean(axis=1)), jackknife_se(j6.mean(axis=1))],
        "u_exact": [x4.mean(), x6.mean()], "u_loo": [j4.mean(axis=1), j6.mean(axis=1)], "note": ""})
    if not with_u6:
        return per_combo[:1], means.iloc[:1].reset_index(drop=True)
    return per_combo, means


#: Why an experiment gets no couplings: u_n = -Delta G^(n) / I_n needs I_n = int over all of R^d_in of
#: prod K_W(x, x_i), which converges for GaussNet only (K_W decays); for ReLU and Erf K_W does not decay.
COUPLINGS_SKIPPED = ("skipped: u_4, u_6 divide by I_n = integral over all x of prod_i K_W(x, x_i), finite for "
                     "GaussNet only ({activation}'s K_W does not decay as |x| grows)")

DEEP_SKIPPED = "skipped: depth > 1 (the couplings are those of one hidden layer, docs/science.md §3)"


def coupling_tables(corr: pd.DataFrame, experiments: dict):
    """Couplings of every experiment and point.

    Returns (per_combination, means): u_4 per 4-point and u_6 per 6-point combination with jackknife
    errors and exact values; and <u_n>, the mean over combinations, with its jackknife error, its
    exact value and its leave-one-bag-out values ``u_loo`` (for the flow fit). GaussNet experiments only:
    the others get rows in ``means`` with NaN couplings and the reason in ``note`` (COUPLINGS_SKIPPED).
    """
    per_combo, means = [], []
    rows = experiment_rows(corr, experiments)
    for (name, sb, sw, N), bags in point_bags(rows, experiments):
        exp = experiments[name]
        label = point_label(exp, exp.model(sw, N))
        measured = set(bags)
        if exp.activation != "gauss" or 4 not in measured or exp.depth > 1:
            note = (COUPLINGS_SKIPPED.format(activation=exp.activation) if exp.activation != "gauss" else
                    DEEP_SKIPPED if exp.depth > 1 else "skipped: order 4 is not measured (the config's orders)")
            mean = pd.DataFrame({"order": [4, 6], "u": np.nan, "u_se": np.nan, "u_exact": np.nan, "u_loo": None,
                                 "note": note})
            parts = []
        else:
            v4, _ = bags[4]
            v6 = bags[6][0] if 6 in measured else None
            parts, mean = point_couplings(exp.model(sw, N), v4, v6)
        for part in parts + [mean]:
            for col, value in reversed(list(label.items())):
                part.insert(0, col, value)
        per_combo += parts
        means.append(mean)
    per_combo = pd.concat(per_combo, ignore_index=True) if per_combo else pd.DataFrame(
        columns=list(label) + ["order", "combo", "u", "u_se", "u_exact"])
    return per_combo, pd.concat(means, ignore_index=True)


# --- running with sigma_w: fitted exponents (docs/science.md §4) -------------------------------------

def predicted_exponents(order: int, d_in: int) -> dict[str, int]:
    """Exponent of |u_n| vs sigma_w under the two sign readings of the active-RG equation (eq. 4.6):
    4 - d_in (u_4) and 6 - 2 d_in (u_6) as printed, their negatives as the authors' code draws them."""
    dim = {4: 4 - d_in, 6: 6 - 2 * d_in}[int(order)]
    return {"paper_print": dim, "authors_code": -dim}


def flow_fit(u_means: pd.DataFrame, d_in: int = 1, z_min: float = 2.0) -> pd.DataFrame:
    """Exponent of |<u_n>| vs sigma_w per (N, order), with a jackknife 95% interval over bags, beside the
    exponents eq. 4.6 predicts at ``d_in``.

    ``u_means`` has columns N, order, sigma_w, u (mean over combinations, all bags), u_exact, and
    ``u_loo`` (array of leave-one-bag-out means). Points whose |u| < z_min * SE are below the noise
    floor and excluded from the fit (their number is reported).
    """
    out = []
    for (N, order), g in u_means.groupby(["N", "order"], sort=True):
        g = g.sort_values("sigma_w")
        loo = np.stack(g.u_loo.to_numpy(), axis=1)  # [n_bags, n_sigma]
        n = loo.shape[0]
        se = jackknife_se(loo)
        ok = (np.abs(g.u.to_numpy()) > z_min * se) & (np.sign(g.u.to_numpy()) == np.sign(np.median(g.u)))
        row = {"N": N, "order": order, "n_sigma_w": len(g), "n_used": int(ok.sum()),
               "exponent": np.nan, "exponent_se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "intercept": np.nan}
        if ok.sum() >= 3:
            sw = g.sigma_w.to_numpy()[ok]
            slope, intercept = log_log_fit(sw, g.u.to_numpy()[ok])
            slope_se = float(jackknife_se(np.array([log_log_fit(sw, loo[b, ok])[0] for b in range(n)])))
            row.update(exponent=slope, exponent_se=slope_se, ci_low=slope - 1.96 * slope_se,
                       ci_high=slope + 1.96 * slope_se, intercept=intercept)
        row["exponent_exact"] = log_log_fit(g.sigma_w.to_numpy(), g.u_exact.to_numpy())[0]
        for reading, value in predicted_exponents(int(order), d_in).items():
            row[f"predicted_{reading}"] = value
        out.append(row)
    return pd.DataFrame(out, columns=FLOW_FIT_COLUMNS)


FLOW_FIT_COLUMNS = ["N", "order", "n_sigma_w", "n_used", "exponent", "exponent_se", "ci_low", "ci_high", "intercept",
                    "exponent_exact", "predicted_paper_print", "predicted_authors_code"]


# --- passive RG (talk, "Passive RG: deep IR"; docs/science.md §4) ---------------------------------------

def K_d(d: int = 1) -> float:
    """K_d = pi^(d/2) / ((2 pi)^d Gamma(d/2 + 1))."""
    from math import gamma, pi

    return pi ** (d / 2) / ((2 * pi) ** d * gamma(d / 2 + 1))


def passive_flow_rhs(t, y, d=1):
    """k d(u2, u4, u6)/dk for the dimensionless couplings (ubar), with t = ln k."""
    u2, u4, u6 = y
    kd = K_d(d)
    return [-2 * u2 - kd * u4 / (1 + u2) ** 2,
            -(4 - d) * u4 - kd * u6 / (1 + u2) ** 2 + 6 * kd * u4**2 / (1 + u2) ** 3,
            -(6 - 2 * d) * u6 + 30 * kd * u4 * u6 / (1 + u2) ** 3 - 90 * kd * u4**3 / (1 + u2) ** 4]


def passive_flow(sigma_w0: float, u4_0: float, u6_0: float, *, t_end: float = -3.0, n_steps: int = 121,
                 d: int = 1) -> pd.DataFrame:
    """Integrate the passive-RG flow from k = 1 (t = ln k = 0) to t_end with scipy's Radau.

    Initial conditions: u_2 = m_0^2 = 2 sigma_w0^2 / d, u_4 and u_6 as measured at sigma_w0. Returns
    t, k, the dimensionless ubar_2n, the dimensionful u_2n = k^((1-n)d + 2n) ubar_2n, and
    sigma_w(k) = sqrt(d u_2(k) / 2). Rows stop where the integrator stops (``success`` column).
    """
    from scipy.integrate import solve_ivp

    t_eval = np.linspace(0.0, t_end, n_steps)
    sol = solve_ivp(passive_flow_rhs, (0.0, t_end), [2 * sigma_w0**2 / d, u4_0, u6_0], method="Radau",
                    t_eval=t_eval, args=(d,), rtol=1e-8, atol=1e-10)
    k = np.exp(sol.t)
    ub2, ub4, ub6 = sol.y
    u2 = k**2 * ub2
    return pd.DataFrame({"t": sol.t, "k": k, "ubar2": ub2, "ubar4": ub4, "ubar6": ub6, "u2": u2,
                         "u4": k ** (4 - d) * ub4, "u6": k ** (6 - 2 * d) * ub6,
                         "sigma_w": np.sqrt(np.clip(d * u2 / 2, 0, None)), "success": sol.success})


def flow_fit_table(means: pd.DataFrame, experiments: dict) -> pd.DataFrame:
    """The flow fit (:func:`flow_fit`) of every experiment that asks for it: one row per experiment, N and order,
    labelled with the experiment's name, activation, d_in and estimator."""
    fits = []
    for name, exp in asking(experiments, "flow_fit").items():
        fit = flow_fit(means[means.experiment == name], d_in=exp.d_in)
        for col, value in reversed([("experiment", name), ("activation", exp.activation), ("d_in", exp.d_in),
                                    ("depth", exp.depth), ("estimator", exp.estimator)]):
            fit.insert(0, col, value)
        fits.append(fit)
    return pd.concat(fits, ignore_index=True) if fits else pd.DataFrame(
        columns=["experiment", "activation", "d_in", "depth", "estimator", *FLOW_FIT_COLUMNS])


def passive_flow_table(means: pd.DataFrame, experiments: dict) -> pd.DataFrame:
    """The passive flow (:func:`passive_flow`) of the experiment that asks for it (at most one: the config checks),
    from its smallest sigma_w, one flow per N; empty if none asks."""
    scan = next(iter(asking(experiments, "passive_flow")), None)
    flows = []
    if scan is not None:
        start = means[(means.experiment == scan)]
        start = start[start.sigma_w == start.sigma_w.min()]
        for N, g in start.groupby("N"):
            flow = passive_flow(g.sigma_w.iloc[0], g[g.order == 4].u.iloc[0], g[g.order == 6].u.iloc[0],
                                d=experiments[scan].d_in)
            flow.insert(0, "N", N)
            flow.insert(0, "depth", experiments[scan].depth)
            flows.append(flow)
    return pd.concat(flows, ignore_index=True) if flows else pd.DataFrame(columns=["depth", "N", "t", "k"])
