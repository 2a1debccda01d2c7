"""From the gathered correlator table to deviations, couplings and their running (docs/science.md §2-§5).

Every function takes pandas DataFrames and plain parameters and returns a DataFrame; nothing reads
files. Conventions: ``experiment`` names a parameter set of the config; each experiment uses its
own points and its first ``n_bags`` bags of each point.
"""
from __future__ import annotations

import json
from functools import lru_cache
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import special, stats

from . import combos, couplings, cutoff, design, exact, neurons

POINT_KEYS = ["sigma_b", "sigma_w", "N"]


def experiment_rows(corr: pd.DataFrame, experiments: dict) -> pd.DataFrame:
    """The rows of every experiment (its ensemble and points, its first n_bags bags), with an ``experiment``
    column. ``experiments``: complete experiments (:func:`nnqft.design.experiments`)."""
    parts = []
    for name, exp in experiments.items():
        ens = design.ensemble_of(exp)
        sel = (corr.activation == ens.activation) & (corr.points == ens.points_json) & (corr.n_nets == ens.n_nets)
        sel &= corr.estimator == ens.estimator  # one estimator per experiment: never mixed
        sel &= (corr.sigma_b == float(exp["sigma_b"])) & corr.sigma_w.isin([float(s) for s in exp["sigma_w"]])
        sel &= corr.N.isin([int(n) for n in exp["N"]]) & (corr.bag < int(exp["n_bags"]))
        part = corr[sel].copy()
        bags = part.groupby(POINT_KEYS).bag.nunique()
        if len(bags) != len(exp["sigma_w"]) * len(exp["N"]) or (bags != int(exp["n_bags"])).any():
            raise ValueError(f"experiment {name}: the correlator table lacks some of its points or bags")
        part.insert(0, "experiment", name)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def bag_matrix(rows: pd.DataFrame, order: int) -> tuple[np.ndarray, list[str]]:
    """Values of one point and order as float[n_bags, n_combos], combos in canonical order."""
    sub = rows[rows.order == order]
    wide = sub.pivot(index="bag", columns="combo", values="value")
    labels = [combos.combo_label(c) for c in combos.multisets(_n_points(wide.columns), order)]
    return wide[labels].to_numpy(), labels


def _n_points(labels) -> int:
    return 1 + max(max(combos.parse_combo(str(label))) for label in labels)


@lru_cache(maxsize=None)
def theory(activation: str, points_json: str, sigma_b: float, sigma_w: float) -> exact.Theory:
    """The exact theory of one ensemble family, shared by every N, order and table (its single-neuron
    moments are computed once)."""
    return exact.Theory(activation, json.loads(points_json), sigma_b, sigma_w)


@lru_cache(maxsize=None)
def _exact_point(activation: str, points_json: str, order: int, sigma_b: float, sigma_w: float, N: int):
    """Exact G^(n), Wick G_0^(n) for every combination of one order at one point."""
    th = theory(activation, points_json, sigma_b, sigma_w)
    return th.correlators(combos.multisets(len(th.points), order), N)


#: Orders at which the exact theory gives the estimator's variance (G^(2n) at doubled points: order 8 for n = 4).
VARIANCE_ORDERS = (2, 4)


def exact_standard_error(activation: str, points_json: str, sigma_b: float, sigma_w: float, order: int, N: int,
                         n_nets: int, n_bags: int, estimator: str) -> np.ndarray:
    """The exact standard error of the mean over n_bags bags of n_nets networks, per combination of the order
    (canonical order): from the exact variance of one network's estimate (plain: G^(2n)(c, c) − G^(n)(c)²;
    conditional: the variance of its Wick sum of Π C, nnqft.exact.Theory). Computed for orders 2 and 4
    (VARIANCE_ORDERS) of unbounded activations; NaN otherwise: order 6 would need G^(12), and Erf is bounded
    (|erf| ≤ 1), so its products have light tails and the 4-point variance (8-point moments by quadrature) would
    cost minutes for nothing."""
    return np.sqrt(_network_variance(activation, points_json, float(sigma_b), float(sigma_w), int(order), int(N),
                                     estimator) / (int(n_nets) * int(n_bags)))


@lru_cache(maxsize=None)
def _network_variance(activation, points_json, sigma_b, sigma_w, order, N, estimator) -> np.ndarray:
    th = theory(activation, points_json, sigma_b, sigma_w)
    combos_ = combos.multisets(len(th.points), order)
    if order not in VARIANCE_ORDERS or (order > 2 and activation == "erf"):
        return np.full(len(combos_), np.nan)
    if estimator == "conditional":
        var = np.array([th.conditional_estimator_variance(c, N) for c in combos_])
    else:
        g2n, _ = th.correlators([tuple(c) + tuple(c) for c in combos_], N)
        g, _ = th.correlators(combos_, N)
        var = g2n - g * g
    return np.maximum(var, 0.0)


def deviations(corr: pd.DataFrame, experiments: dict) -> pd.DataFrame:
    """Per experiment, point, order and combination (docs/science.md §2, §5, §8):

    g_mean (mean over bags), g_se (its standard error), background (std over bags), g0 (Wick, full K),
    delta_g = g_mean - g0, m = delta_g / g0, background_m = background / |g0|, g_exact, m_exact, g_se_exact (the
    standard error the exact theory gives, :func:`exact_standard_error`, NaN where not computed); and the
    experiment's activation and d_in.
    """
    out = []
    rows = experiment_rows(corr, experiments)
    for (name, sb, sw, N), point_rows in rows.groupby(["experiment"] + POINT_KEYS, sort=True):
        ens = design.ensemble_of(experiments[name])
        for order in sorted(point_rows.order.unique()):
            values, labels = bag_matrix(point_rows, order)
            g_exact, g0 = _exact_point(ens.activation, ens.points_json, int(order), sb, sw, int(N))
            n_bags = values.shape[0]
            mean = values.mean(axis=0)
            background = values.std(axis=0, ddof=1)
            se_exact = exact_standard_error(ens.activation, ens.points_json, sb, sw, order, N, ens.n_nets, n_bags,
                                            ens.estimator)
            out.append(pd.DataFrame({
                "experiment": name, "activation": ens.activation, "d_in": ens.d_in, "estimator": ens.estimator,
                "sigma_b": sb, "sigma_w": sw,
                "N": N, "order": order, "combo": labels, "n_bags": n_bags, "g_mean": mean,
                "g_se": background / np.sqrt(n_bags), "background": background, "g0": g0, "delta_g": mean - g0,
                "m": (mean - g0) / g0, "background_m": background / np.abs(g0), "g_exact": g_exact,
                "m_exact": (g_exact - g0) / g0, "g_se_exact": se_exact,
            }))
    return pd.concat(out, ignore_index=True)


#: Probability that :func:`error_bars` calls a point's error bars unreliable although they are right.
ERROR_BAR_ALPHA = 0.001
ERROR_BAR_KEYS = ["experiment", "activation", "d_in", "estimator", "sigma_b", "sigma_w", "N", "order"]
RELIABLE, UNRELIABLE, UNCHECKED = "reliable", "error bars unreliable (heavy tails)", "unchecked"


def error_bars(dev: pd.DataFrame, alpha: float = ERROR_BAR_ALPHA) -> pd.DataFrame:
    """Whether the bag-to-bag error bars of each experiment, point and order can be trusted, from the exact
    variance of the estimator (:func:`exact_standard_error`).

    With n bags whose means are normal, (n − 1) s² / σ² ~ χ²_{n−1} for each combination (s the measured, σ the
    exact standard error), so r = s² / σ² falls below τ = χ²_{n−1}(α/2) / (n − 1) with probability α/2. The point
    is flagged when the median of r over its combinations is below τ: that needs at least half of the
    combinations below τ, which (Markov's inequality on their number, however they are correlated) has
    probability at most α. Heavy tails do the opposite of noise: rare networks that dominate the true variance
    are missing from most bags, and s² falls far below σ² (GaussNet at σ_b = 1: r ~ 10⁻² at small N).

    Returns per point and order: ``var_ratio`` (the median r), ``threshold`` τ, and ``status``: reliable,
    unreliable (heavy tails), or unchecked (no exact variance: order 6, Erf's order 4). A higher order inherits
    an unreliable lower one at the same point (its products have heavier tails still)."""
    d = dev.assign(r=(dev.g_se / dev.g_se_exact) ** 2)
    out = d.groupby(ERROR_BAR_KEYS, sort=True).agg(n_bags=("n_bags", "first"), var_ratio=("r", "median")).reset_index()
    out["threshold"] = stats.chi2.ppf(alpha / 2, out.n_bags - 1) / (out.n_bags - 1)
    out["status"] = np.where(out.var_ratio.isna(), UNCHECKED, np.where(out.var_ratio < out.threshold, UNRELIABLE,
                                                                       RELIABLE))
    point = ["experiment", "sigma_b", "sigma_w", "N"]
    out = out.sort_values(point + ["order"]).reset_index(drop=True)
    bad_below = out.groupby(point).status.transform(lambda st: (st == UNRELIABLE).cumsum().shift(fill_value=0) > 0)
    out.loc[bad_below, "status"] = UNRELIABLE
    return out


def _six_point_splits(K):
    """For every 6-combination: indices of its 15 four-point sub-multisets and the K of the remaining pair
    (``K``: the kernel matrix of the point set)."""
    n_points = len(K)
    four = {c: k for k, c in enumerate(combos.multisets(n_points, 4))}
    idx, kval = [], []
    for c in combos.multisets(n_points, 6):
        i_row, k_row = [], []
        for pair in combinations(range(6), 2):
            rest = tuple(c[i] for i in range(6) if i not in pair)
            i_row.append(four[rest])
            k_row.append(K[c[pair[0]], c[pair[1]]])
        idx.append(i_row)
        kval.append(k_row)
    return np.array(idx), np.array(kval)


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


def _jackknife_se(full, leave_one_out):
    """Jackknife standard error from leave-one-bag-out estimates (first axis: bags)."""
    n = leave_one_out.shape[0]
    return np.sqrt((n - 1) / n * ((leave_one_out - leave_one_out.mean(axis=0)) ** 2).sum(axis=0))


@lru_cache(maxsize=None)
def _coupling_geometry(points_json: str, sigma_b: float, sigma_w: float):
    """I_4, I_6, T_6 and the six-point splits of every combination: they do not depend on N, so the
    points of a sigma_w scan at several N share them."""
    th = theory("gauss", points_json, sigma_b, sigma_w)
    pts = th.points
    ms4, ms6 = combos.multisets(len(pts), 4), combos.multisets(len(pts), 6)
    i4 = np.array([couplings.I_n(pts[list(c)], sigma_w) for c in ms4])
    i6 = np.array([couplings.I_n(pts[list(c)], sigma_w) for c in ms6])
    t6 = np.array([couplings.T_6(pts[list(c)], sigma_w) for c in ms6])
    split_idx, split_k = _six_point_splits(th.K)
    return i4, i6, t6, split_idx, split_k


def point_couplings(values4, values6, points, sigma_b, sigma_w, N):
    """u_4 and u_6 of one GaussNet point with jackknife errors over bags, and their exact values.

    values4, values6: float[n_bags, n_4], float[n_bags, n_6] per-bag correlators (canonical order; ``values6``
    None where order 6 is not measured: u_4 only); ``points``: numbers (d_in = 1) or rows of d_in numbers.
    Returns the per-combination DataFrames (4-point, then 6-point combinations) and the means over combinations.
    """
    pj = neurons.points_json(points)
    sigma_b, sigma_w = float(sigma_b), float(sigma_w)
    n_points = len(neurons.as_points(points))
    ms4, ms6 = combos.multisets(n_points, 4), combos.multisets(n_points, 6)
    e4, g0_4 = _exact_point("gauss", pj, 4, sigma_b, sigma_w, int(N))
    with_u6 = values6 is not None
    if not with_u6:  # u_4 alone: zero 6-point inputs, and the u_6 outputs dropped
        e6 = g0_6 = np.zeros(len(ms6))
        values6 = np.zeros((values4.shape[0], len(ms6)))
    else:
        e6, g0_6 = _exact_point("gauss", pj, 6, sigma_b, sigma_w, int(N))
    args = (g0_4, g0_6, *_coupling_geometry(pj, sigma_b, sigma_w))
    n = values4.shape[0]
    u4, u6 = _u4_u6(values4.mean(axis=0), values6.mean(axis=0), *args)
    loo4 = (values4.sum(axis=0) - values4) / (n - 1)
    loo6 = (values6.sum(axis=0) - values6) / (n - 1)
    j4, j6 = _u4_u6(loo4, loo6, *args)
    x4, x6 = _u4_u6(e4, e6, *args)
    labels4 = [combos.combo_label(c) for c in ms4]
    labels6 = [combos.combo_label(c) for c in ms6]
    per_combo = [pd.DataFrame({"order": 4, "combo": labels4, "u": u4, "u_se": _jackknife_se(u4, j4), "u_exact": x4}),
                 pd.DataFrame({"order": 6, "combo": labels6, "u": u6, "u_se": _jackknife_se(u6, j6), "u_exact": x6})]
    means = pd.DataFrame({
        "order": [4, 6], "u": [u4.mean(), u6.mean()],
        "u_se": [_jackknife_se(u4.mean(), j4.mean(axis=1)), _jackknife_se(u6.mean(), j6.mean(axis=1))],
        "u_exact": [x4.mean(), x6.mean()], "u_loo": [j4.mean(axis=1), j6.mean(axis=1)], "note": ""})
    if not with_u6:
        return per_combo[:1], means.iloc[:1].reset_index(drop=True)
    return per_combo, means


#: Why an experiment gets no couplings: u_n = -Delta G^(n) / I_n needs I_n = int over all of R^d_in of
#: prod K_W(x, x_i), which converges for GaussNet only (K_W decays); for ReLU and Erf K_W does not decay.
COUPLINGS_SKIPPED = ("skipped: u_4, u_6 divide by I_n = integral over all x of prod_i K_W(x, x_i), finite for "
                     "GaussNet only ({activation}'s K_W does not decay as |x| grows)")


def _point_label(name, exp, sb, sw, N, ngp=False) -> dict:
    """The columns that say which experiment and point a row of an analysis table belongs to (``ngp``: with the
    experiment's NGP width, for HMS's tables)."""
    label = {"experiment": name, "activation": exp["activation"], "d_in": exp["d_in"], "estimator": exp["estimator"],
             "sigma_b": sb, "sigma_w": sw, "N": N, "n_bags": int(exp["n_bags"])}
    return {**label, "ngp_width": int(exp["ngp_width"])} if ngp else label


def coupling_tables(corr: pd.DataFrame, experiments: dict):
    """Couplings of every experiment and point.

    Returns (per_combination, means): u_4 per 4-point and u_6 per 6-point combination with jackknife
    errors and exact values; and <u_n>, the mean over combinations, with its jackknife error, its
    exact value and its leave-one-bag-out values ``u_loo`` (for the flow fit). GaussNet experiments only:
    the others get rows in ``means`` with NaN couplings and the reason in ``note`` (COUPLINGS_SKIPPED).
    """
    per_combo, means = [], []
    rows = experiment_rows(corr, experiments)
    for (name, sb, sw, N), point_rows in rows.groupby(["experiment"] + POINT_KEYS, sort=True):
        exp = experiments[name]
        label = _point_label(name, exp, sb, sw, N)
        measured = set(point_rows.order)
        if exp["activation"] != "gauss" or 4 not in measured:
            note = (COUPLINGS_SKIPPED.format(activation=exp["activation"]) if exp["activation"] != "gauss" else
                    "skipped: order 4 is not measured (the config's orders)")
            mean = pd.DataFrame({"order": [4, 6], "u": np.nan, "u_se": np.nan, "u_exact": np.nan, "u_loo": None,
                                 "note": note})
            parts = []
        else:
            v4, _ = bag_matrix(point_rows, 4)
            v6 = bag_matrix(point_rows, 6)[0] if 6 in measured else None
            parts, mean = point_couplings(v4, v6, exp["points"], sb, sw, int(N))
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


def fit_power_law(sigma_w, u):
    """Least-squares slope and intercept of log|u| against log sigma_w."""
    slope, intercept = np.polyfit(np.log(sigma_w), np.log(np.abs(u)), 1)
    return slope, intercept


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
        se = np.sqrt((n - 1) / n * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0))
        ok = (np.abs(g.u.to_numpy()) > z_min * se) & (np.sign(g.u.to_numpy()) == np.sign(np.median(g.u)))
        row = {"N": N, "order": order, "n_sigma_w": len(g), "n_used": int(ok.sum()),
               "exponent": np.nan, "exponent_se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "intercept": np.nan}
        if ok.sum() >= 3:
            sw = g.sigma_w.to_numpy()[ok]
            slope, intercept = fit_power_law(sw, g.u.to_numpy()[ok])
            slopes = np.array([fit_power_law(sw, loo[b, ok])[0] for b in range(n)])
            slope_se = np.sqrt((n - 1) / n * ((slopes - slopes.mean()) ** 2).sum())
            row.update(exponent=slope, exponent_se=slope_se, ci_low=slope - 1.96 * slope_se,
                       ci_high=slope + 1.96 * slope_se, intercept=intercept)
        row["exponent_exact"] = fit_power_law(g.sigma_w.to_numpy(), g.u_exact.to_numpy())[0]
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


def passive_flow(sigma_w0: float, u4_0: float, u6_0: float, t_end: float = -3.0, n_steps: int = 121,
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


def folded_normal_mean(mu, s):
    """E|X| for X ~ N(mu, s^2), the mean of the folded normal:
    s sqrt(2/pi) exp(-mu^2 / (2 s^2)) + mu erf(mu / (s sqrt 2)); |mu| where s = 0."""
    mu, s = np.broadcast_arrays(np.asarray(mu, dtype=float), np.asarray(s, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = mu / (s * np.sqrt(2.0))
        out = s * np.sqrt(2.0 / np.pi) * np.exp(-a * a) + mu * special.erf(a)
    return np.where(s > 0, out, np.abs(mu))


FALLOFF_KEYS = ["experiment", "activation", "d_in", "estimator", "sigma_b", "sigma_w", "N", "order"]


def falloff(dev: pd.DataFrame) -> pd.DataFrame:
    """HMS's falloff of the deviation from the Gaussian process with N (docs/science.md §8), from the deviations
    table: per experiment, point and order, means over the combinations of

    - ``m``: |m_n|, m_n = (Ḡ_exp - G_GP) / G_GP with Ḡ_exp the mean over bags (HMS's <m_n>);
    - ``background``: the bag-to-bag standard deviation over |G_GP| (HMS's background);
    - ``m_exact``: |m_n| of the exact finite-width theory;
    - ``m_expected``: E|m_n| if Ḡ_exp were the exact G^(n) plus Gaussian noise of the measured standard error
      (:func:`folded_normal_mean`). It is what ``m`` should read: a mean of absolute values of noisy numbers is
      biased upwards wherever the noise is comparable to m_n, which flattens the falloff at large N;
    - ``se``: the standard error of m_n (background / sqrt(n_bags)).
    """
    se = dev.background_m / np.sqrt(dev.n_bags)
    d = dev.assign(abs_m=dev.m.abs(), abs_exact=dev.m_exact.abs(), se=se,
                   expected=folded_normal_mean(dev.m_exact, se))
    return d.groupby(FALLOFF_KEYS, sort=True).agg(
        n_bags=("n_bags", "first"), n_combos=("m", "size"), m=("abs_m", "mean"), background=("background_m", "mean"),
        m_exact=("abs_exact", "mean"), m_expected=("expected", "mean"), se=("se", "mean")).reset_index()


# --- HMS's local quartic coupling and its running with the cutoff (docs/science.md §8) ----------------------------

def log_log_slope(cutoffs, values) -> float:
    """Least-squares slope of log|values| vs log cutoffs (HMS fit a straight line to log|λ| vs log Λ)."""
    return float(np.polyfit(np.log(cutoffs), np.log(np.abs(values)), 1)[0])


def pooled_slope(cutoffs, per_combo) -> float:
    """HMS's slope: the regression of the pooled per-combination log|λ_c(Λ)| (``per_combo``: [combo, cutoff])
    against log Λ. Every combination has the same cutoffs, so it is the mean of the per-combination slopes.
    Combinations with λ_c = 0 (ΔG^(4) = 0 by a symmetry of the point set, in the exact theory) have no logarithm
    and are left out, as HMS's code leaves out its NaNs."""
    x = np.log(np.asarray(cutoffs, dtype=float))
    per_combo = np.asarray(per_combo)
    y = np.log(np.abs(per_combo[(per_combo != 0).all(axis=1)]))
    return float(np.mean(((y - y.mean(axis=1, keepdims=True)) @ (x - x.mean())) / ((x - x.mean()) ** 2).sum()))


def lambda_tables(corr: pd.DataFrame, experiments: dict, cutoffs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """HMS's quartic coupling λ(x_1..x_4; Λ) in each experiment's ``lambda_convention`` (:class:`nnqft.design.LambdaConvention`;
    default HMS's: +ΔG^(4) / (24 ∫_{[−Λ,Λ]^d_in} Π (K − σ_b²))), for the experiments with the ``lambda_running``
    analysis, at every point and cutoff.

    Returns (lambda, slope). ``lambda``: λ̄, the mean over the 4-point combinations whose integrand keeps one sign
    (nnqft.cutoff.one_signed: all of them but Erf's W-part products with a point an odd number of times, whose
    I_4 can cross zero and give λ a pole in Λ; ``n_combos`` says how many), with its standard error over bags
    (λ̄ is linear in the bag means) and ``lambda_exact`` from the exact G^(4). ``slope`` per point: the slope of
    log|λ̄| vs log Λ over the cutoffs with its jackknife standard error over bags and the exact theory's;
    HMS's ``slope_pooled`` (:func:`pooled_slope`) and its exact value; ``slope_local_exact``, the exact λ̄'s
    slope between the two largest cutoffs; and ``slope_asymptotic``, the large-Λ power derived from the kernel
    (nnqft.cutoff.asymptotic_slope). Only the sign and scale of λ̄(Λ) come from the samples (ΔG^(4)); how it runs
    with Λ is the integrals', up to how the combinations' ΔG^(4) weight their different I_4(Λ) — and HMS's pooled
    slope does not depend on the samples at all (ΔG^(4) drops out of each per-combination slope).
    """
    cutoffs = np.asarray(cutoffs, dtype=float)
    wanted = design.asking(experiments, "lambda_running")
    lam_rows, slope_rows = [], []
    if wanted:
        rows = experiment_rows(corr, wanted)
        for (name, sb, sw, N), point_rows in rows.groupby(["experiment"] + POINT_KEYS, sort=True):
            exp = wanted[name]
            ens = design.ensemble_of(exp)
            conv = design.LAMBDA_CONVENTIONS[exp["lambda_convention"]]
            used = cutoff.one_signed(ens.activation, exp["points"], sb, sw, kernel=conv.kernel)
            i4 = cutoff.integrals(ens.activation, exp["points"], sb, sw, cutoffs, kernel=conv.kernel)[used]
            values, _ = bag_matrix(point_rows, 4)
            g_exact, g0 = _exact_point(ens.activation, ens.points_json, 4, sb, sw, int(N))
            scale = conv.sign / (24 * i4)  # [combo, cutoff]
            per_bag = ((values - g0)[:, used, None] * scale[None]).mean(axis=1)  # [bag, cutoff]
            n_bags = len(per_bag)
            lam = per_bag.mean(axis=0)
            exact_combo = (g_exact - g0)[used, None] * scale
            exact_lam = exact_combo.mean(axis=0)
            label = _point_label(name, exp, sb, sw, N, ngp=True)
            lam_rows.append(pd.DataFrame({**label, "convention": conv.name, "n_combos": int(used.sum()),
                                          "cutoff": cutoffs, "lambda": lam,
                                          "lambda_se": per_bag.std(axis=0, ddof=1) / np.sqrt(n_bags),
                                          "lambda_exact": exact_lam}))
            loo = (lam * n_bags - per_bag) / (n_bags - 1)
            loo_slopes = np.array([log_log_slope(cutoffs, v) for v in loo])
            measured_combo = (values.mean(axis=0) - g0)[used, None] * scale
            slope_rows.append({**label, "convention": conv.name, "slope": log_log_slope(cutoffs, lam),
                               "slope_se": float(_jackknife_se(None, loo_slopes)),
                               "slope_exact": log_log_slope(cutoffs, exact_lam),
                               "slope_pooled": pooled_slope(cutoffs, measured_combo),
                               "slope_pooled_exact": pooled_slope(cutoffs, exact_combo),
                               "slope_local_exact": log_log_slope(cutoffs[-2:], exact_lam[-2:]),
                               "slope_asymptotic": cutoff.asymptotic_slope(ens.activation, ens.d_in,
                                                                           kernel=conv.kernel)})
    lam_table = pd.concat(lam_rows, ignore_index=True) if lam_rows else pd.DataFrame(columns=LAMBDA_COLUMNS)
    return lam_table, pd.DataFrame(slope_rows, columns=SLOPE_COLUMNS)


LABEL_COLUMNS = ["experiment", "activation", "d_in", "estimator", "sigma_b", "sigma_w", "N", "n_bags", "ngp_width"]
LAMBDA_COLUMNS = LABEL_COLUMNS + ["convention", "n_combos", "cutoff", "lambda", "lambda_se", "lambda_exact"]
SLOPE_COLUMNS = LABEL_COLUMNS + ["convention", "slope", "slope_se", "slope_exact", "slope_pooled", "slope_pooled_exact",
                                 "slope_local_exact", "slope_asymptotic"]
SIX_POINT_COLUMNS = LABEL_COLUMNS + ["convention", "cutoff", "gp_over_measured", "gp_lambda_over_measured",
                                     "gp_over_exact", "gp_lambda_over_exact"]


def six_point_tables(corr: pd.DataFrame, experiments: dict, lam: pd.DataFrame, cutoffs) -> pd.DataFrame:
    """HMS's 6-point prediction for the experiments with the ``six_point`` analysis, per point and cutoff: the
    means over every 6-point combination of G_GP^(6) / Ḡ^(6) and (G_GP^(6) + T_λ) / Ḡ^(6), and the same with the
    exact G^(6) in place of the measured Ḡ^(6). T_λ = sign · 24 λ̄(Λ) Σ over the 15 ways to split the six points
    into four at the vertex and a pair (a, b) of I_4(four; Λ) k(x_a, x_b), in the experiment's λ convention
    (:class:`nnqft.design.LambdaConvention`: HMS's W-part at the vertex and on the pair, or the full K; the sign makes T_λ the
    first-order term of the vertex that defines λ); λ̄ is the measured mean over 4-point combinations (``lam``,
    from :func:`lambda_tables`). Unlike HMS's script, every multiset enters the means and every split is the
    right one (docs/science.md §8)."""
    cutoffs = np.asarray(cutoffs, dtype=float)
    wanted = design.asking(experiments, "six_point")
    out = []
    if wanted:
        rows = experiment_rows(corr, wanted)
        for (name, sb, sw, N), point_rows in rows.groupby(["experiment"] + POINT_KEYS, sort=True):
            exp = wanted[name]
            ens = design.ensemble_of(exp)
            conv = design.LAMBDA_CONVENTIONS[exp["lambda_convention"]]
            i4 = cutoff.integrals(ens.activation, exp["points"], sb, sw, cutoffs, kernel=conv.kernel)
            pair_k = conv.pair_kernel(theory(ens.activation, ens.points_json, sb, sw).K, sb)
            split_idx, split_k = _six_point_splits(pair_k)  # [combo6, 15]
            g_exact, g0 = _exact_point(ens.activation, ens.points_json, 6, sb, sw, int(N))
            measured = bag_matrix(point_rows, 6)[0].mean(axis=0)
            sel = lam[(lam.experiment == name) & (lam.sigma_b == sb) & (lam.sigma_w == sw) & (lam.N == N)]
            lam_bar = sel.set_index("cutoff")["lambda"].reindex(cutoffs).to_numpy()
            term = conv.sign * 24 * lam_bar[None, :] * np.einsum("cs,csl->cl", split_k, i4[split_idx])  # [combo6, cutoff]
            with_lam = g0[:, None] + term
            out.append(pd.DataFrame({**_point_label(name, exp, sb, sw, N, ngp=True), "convention": conv.name,
                                     "cutoff": cutoffs,
                                     "gp_over_measured": np.mean(g0 / measured),
                                     "gp_lambda_over_measured": (with_lam / measured[:, None]).mean(axis=0),
                                     "gp_over_exact": np.mean(g0 / g_exact),
                                     "gp_lambda_over_exact": (with_lam / g_exact[:, None]).mean(axis=0)}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=SIX_POINT_COLUMNS)
