"""The trained ensembles (docs/science.md §11): their mean, covariance and fourth cumulant against the flow time τ at
every width N, beside the infinite-width theory of the neural tangent kernel (:class:`nnqft.theory.ntk.TrainedEnsemble`),
the power of N with which they approach it, and the claims of the ``training`` analysis.

Every quantity is computed from the means over bags of the measured G^(n)(τ) and its standard error by the jackknife
over bags: the mean μ_a = G^(1)_a, the covariance C_ab = G^(2)_ab − μ_a μ_b and, where orders 3 and 4 are measured, the
excess kurtosis κ_a = c4_a / C_aa² with c4 the fourth cumulant at point a (0 for a Gaussian process: N κ is the
interaction the ensemble keeps, as in the depth analysis). At τ = 0 a trained ensemble is the untrained one, whose
exact finite-width theory (:func:`nnqft.theory.of`) gives the ``exact`` column there.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import combos
from .deviations import experiment_rows
from .stats import jackknife_se, leave_one_out
from .verdicts import (AGREES, BELOW_NOISE, DISAGREES, FAILS, HOLDS, POWER_TOLERANCE, Claim, alpha_text, floored_se,
                       named, rounded_t, t_critical, wls_intercept, wls_slope)

COLUMNS = ["experiment", "activation", "d_in", "layers", "estimator", "sigma_b", "sigma_w", "N", "n_bags", "n_nets",
           "time", "quantity", "point", "value", "se", "theory", "exact", "N_deviation", "N_deviation_se"]
FIT_COLUMNS = ["experiment", "activation", "layers", "estimator", "sigma_w", "time", "quantity", "point", "widths",
               "slope", "slope_se", "limit_widths", "limit", "limit_se"]
#: The quantities of the table, with the orders each needs.
QUANTITIES = {"mean": (1,), "covariance": (1, 2), "kurtosis": (1, 2, 3, 4)}
#: How many of the largest widths the power of N of a deviation is measured between (where it is resolved), and its
#: N → ∞ limit extrapolated from (Δ = a + b/N): the leading order is judged where the subleading ones are smallest.
ASYMPTOTIC_WIDTHS = 2


def _quantities(g: dict, P: int) -> dict[str, tuple[list[str], callable]]:
    """The quantities measurable from the orders in ``g`` (order -> function of a bag-mean vector), as (point labels,
    function of the means over bags {order: float[combos]} -> float[labels])."""
    out = {}
    pairs = combos.multisets(P, 2)
    if 1 in g:
        out["mean"] = ([combos.combo_label((a,)) for a in range(P)], lambda m: m[1])
    if {1, 2} <= set(g):
        index2 = {c: k for k, c in enumerate(combos.multisets(P, 2))}
        out["covariance"] = ([combos.combo_label(c) for c in pairs],
                             lambda m: np.array([m[2][..., index2[c]] - m[1][..., c[0]] * m[1][..., c[1]]
                                                 for c in pairs]).T)
    if {1, 2, 3, 4} <= set(g):
        idx = {n: {c: k for k, c in enumerate(combos.multisets(P, n))} for n in (2, 3, 4)}

        def kurtosis(m):
            out = []
            for a in range(P):
                m1, m2 = m[1][..., a], m[2][..., idx[2][(a, a)]]
                m3, m4 = m[3][..., idx[3][(a,) * 3]], m[4][..., idx[4][(a,) * 4]]
                c2 = m2 - m1**2
                c4 = m4 - 4 * m3 * m1 + 6 * m2 * m1**2 - 3 * m1**4 - 3 * c2**2
                out.append(c4 / c2**2)
            return np.array(out).T
        out["kurtosis"] = ([combos.combo_label((a,) * 4) for a in range(P)], kurtosis)
    return out


def _theory(exp, sigma_w: float, times) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """The infinite-width (μ_τ, Σ_τ) of the experiment at ``sigma_w``, by time."""
    from ..theory.ntk import TrainedEnsemble, trained_gaussian

    tr = exp.training
    kernels = TrainedEnsemble(exp.activation, np.array(exp.points), tr.x, np.array(tr.targets), exp.sigma_b, sigma_w,
                              layers=tr.layers).kernels()
    return {t: trained_gaussian(kernels, np.array(tr.targets), t) for t in times}


def _untrained_exact(exp, sigma_w: float, N: int, labels: dict) -> dict[str, np.ndarray]:
    """The untrained ensemble's exact values of the quantities (its theory at every N: mean 0, covariance K, and the
    excess kurtosis of the exact G^(4) and G^(2))."""
    from .. import theory
    from ..model import Model

    model = Model(exp.activation, exp.points, exp.sigma_b, sigma_w, N)
    th = theory.of(model)
    P = len(exp.points)
    out = {"mean": np.zeros(P)}
    pairs = combos.multisets(P, 2)
    g2, _ = th.correlators(pairs, N)
    out["covariance"] = np.asarray(g2, dtype=float)
    if "kurtosis" in labels:
        d2, _ = th.correlators([(a, a) for a in range(P)], N)
        d4, _ = th.correlators([(a,) * 4 for a in range(P)], N)
        out["kurtosis"] = (np.asarray(d4) - 3 * np.asarray(d2) ** 2) / np.asarray(d2) ** 2
    return out


def training_table(corr: pd.DataFrame, experiments: dict) -> pd.DataFrame:
    """One row per trained experiment, σ_W, N, time, quantity (mean, covariance, kurtosis: :data:`QUANTITIES`) and
    point (a combination label: "0", "0,1", "0,0,0,0"): the measured ``value`` from the means over bags with its
    jackknife ``se``, the infinite-width ``theory`` (kurtosis 0), the untrained ensemble's ``exact`` value at τ = 0
    (NaN at τ > 0) and ``N_deviation`` = N (value − theory) with its standard error."""
    out = []
    for name, exp in experiments.items():
        rows = experiment_rows(corr, {name: exp})
        for sigma_w, by_width in rows.groupby("sigma_w", sort=True):
            theory_at = _theory(exp, sigma_w, exp.training.times)  # the infinite-width theory: one for every N
            for (N, time), at in by_width.groupby(["N", "time"], sort=True):
                out += _rows_at(name, exp, sigma_w, int(N), time, at, theory_at[time])
    return pd.DataFrame(out, columns=COLUMNS)


def _rows_at(name: str, exp, sigma_w, N: int, time, at: pd.DataFrame, theory_at_time) -> list[dict]:
    """The rows of :func:`training_table` of one experiment, σ_W, N and time, from that point's correlators ``at``
    and the infinite-width (mean, covariance) at that time."""
    P = len(exp.points)
    bags = {}
    for order, block in at.groupby("order"):
        table = block.pivot(index="bag", columns="combo", values="value")
        labels = [combos.combo_label(c) for c in combos.multisets(P, int(order))]
        bags[int(order)] = table[labels].to_numpy()
    quantities = _quantities(bags, P)
    mean = {n: v.mean(axis=0) for n, v in bags.items()}
    loo = {n: leave_one_out(v) for n, v in bags.items()}
    exact = _untrained_exact(exp, sigma_w, N, quantities) if time == 0 else {}
    mu, cov = theory_at_time
    theory = {"mean": mu, "covariance": np.array([cov[c] for c in combos.multisets(P, 2)]), "kurtosis": np.zeros(P)}
    out = []
    for quantity, (labels, f) in quantities.items():
        value, se = f(mean), jackknife_se(f(loo))
        for k, label in enumerate(labels):
            out.append({"experiment": name, "activation": exp.activation, "d_in": exp.d_in,
                        "layers": exp.training.layers, "estimator": exp.estimator, "sigma_b": exp.sigma_b,
                        "sigma_w": float(sigma_w), "N": N, "n_bags": exp.n_bags, "n_nets": exp.n_nets,
                        "time": float(time), "quantity": quantity, "point": label, "value": float(value[k]),
                        "se": float(se[k]), "theory": float(theory[quantity][k]),
                        "exact": float(exact[quantity][k]) if quantity in exact else np.nan,
                        "N_deviation": float(N * (value[k] - theory[quantity][k])), "N_deviation_se": float(N * se[k])})
    return out


def resolved(table: pd.DataFrame, n_tests: int) -> pd.Series:
    """Rows whose deviation from the theory is beyond the Bonferroni t bound over ``n_tests`` tests."""
    crit = t_critical(int(table.n_bags.iloc[0]), n_tests) if len(table) else np.inf
    return rounded_t(table.value - table.theory, table.se, table.theory) > crit


def deviation_limit(rows: pd.DataFrame) -> tuple[str, float, float]:
    """The N → ∞ limit a of the deviation Δ = value − theory of one quantity at one time and point (``rows``: one per
    N), with its standard error: the intercept of Δ = a + b/N fitted by weighted least squares (weights 1/se²) over
    the ASYMPTOTIC_WIDTHS largest widths (Δ at the largest itself if there is one width): with two, a = (N₂Δ₂ − N₁Δ₁) /
    (N₂ − N₁), free of the 1/N² terms that bias a fit reaching down to small widths. Returns (widths, a, se of a). A
    deviation of order 1/N, however well resolved, has a = 0; a theory wrong at N = ∞ (or a deviation slower than
    1/N) has a ≠ 0."""
    r = rows.sort_values("N").iloc[-ASYMPTOTIC_WIDTHS:]
    dev = (r.value - r.theory).to_numpy()
    se = floored_se(r.se.to_numpy(), r.theory.to_numpy())
    widths = ",".join(str(int(n)) for n in r.N)
    if len(r) == 1:
        return widths, float(dev[0]), float(se[0])
    return (widths, *wls_intercept(1.0 / r.N.to_numpy(dtype=float), dev, se))


def training_fit_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per experiment, σ_W, time τ > 0, quantity (mean, covariance) and point: the N → ∞ limit of the deviation from
    the theory (:func:`deviation_limit`: ``limit`` and ``limit_se``, over ``limit_widths``), and the power p of
    |value − theory| ∝ N^p:
    the local power between the ASYMPTOTIC_WIDTHS largest widths where the deviation is resolved (beyond the Bonferroni
    t bound over that experiment's widths, times and points) and has the sign it has at the largest of them (a
    deviation that crosses zero between widths is no power law there), by weighted least squares of log|value − theory|
    on log N, with its standard error; NaN with fewer than two such widths. Only the largest widths: a statement about
    the leading order in 1/N is judged where the subleading orders are smallest (Δ = 8/N − 80/N² gives −0.80 fitted
    over N = 32 to 512, −0.96 between 128 and 512)."""
    out = []
    t = table[(table.time > 0) & table.quantity.isin(["mean", "covariance"])]
    for (name, sigma_w, quantity), q in t.groupby(["experiment", "sigma_w", "quantity"], sort=False):
        ok = resolved(q, len(q))
        for (time, point), r in q.groupby(["time", "point"], sort=True):
            limit_widths, limit, limit_se = deviation_limit(r)
            r = r[ok[r.index]].sort_values("N")
            sign = np.sign(r.value - r.theory).to_numpy()
            if len(r):  # a power law has one sign: the widths down from the largest while the deviation keeps its sign
                r = r.iloc[len(r) - int(np.argmin(np.append(sign[::-1] == sign[-1], False))):]
            r = r.iloc[-ASYMPTOTIC_WIDTHS:]
            slope = slope_se = np.nan
            if len(r) >= 2:
                dev = (r.value - r.theory).abs().to_numpy()
                slope, slope_se = wls_slope(np.log(r.N.to_numpy(dtype=float)), np.log(dev), r.se.to_numpy() / dev)
            first = q.iloc[0]
            out.append({"experiment": name, "activation": first.activation, "layers": first.layers,
                        "estimator": first.estimator, "sigma_w": float(sigma_w), "time": float(time),
                        "quantity": quantity, "point": point, "widths": ",".join(str(int(n)) for n in r.N),
                        "slope": slope, "slope_se": slope_se, "limit_widths": limit_widths, "limit": limit,
                        "limit_se": limit_se})
    return pd.DataFrame(out, columns=FIT_COLUMNS)


def untrained_at_zero(table: pd.DataFrame, experiment: str) -> dict:
    """"At τ = 0 the trained ensemble is the untrained one": every measured quantity at τ = 0, every N, against the
    untrained ensemble's exact finite-width theory (mean 0, covariance K, the exact kurtosis), Bonferroni t over them.
    The statement holds in the theory by construction (a network is trained from the untrained sampler's draw); in the
    measurement it is the agreement."""
    d = table[(table.experiment == experiment) & (table.time == 0)]
    t = rounded_t(d.value - d.exact, d.se, d.exact)
    n_bags = int(d.n_bags.iloc[0])
    crit = t_critical(n_bags, len(d))
    worst = d.loc[t.idxmax()]
    agreement = AGREES if t.max() <= crit else DISAGREES
    return Claim(named("at τ = 0 the trained ensemble is the untrained one", experiment),
                 f"{worst.quantity} at point {worst.point}, N = {int(worst.N)} (the largest |t|)", worst.value,
                 worst.se, worst.exact, agreement, HOLDS, HOLDS if agreement == AGREES else FAILS,
                 alpha_text(len(d), n_bags, "widths, quantities and points at τ = 0"),
                 f"max |measured − exact| / se = {t.max():.3g} against {crit:.3g} over {', '.join(sorted(set(d.quantity)))}"
                 ).row()


def approaches_as_one_over_N(table: pd.DataFrame, fit: pd.DataFrame, experiment: str, quantity: str) -> dict:
    """"The trained ensemble's {quantity} approaches the NTK theory as 1/N". Agreement: the N → ∞ limit of the
    deviation (:func:`deviation_limit`, Δ = a + b/N over the two largest widths) is 0 at every time τ > 0 and point
    (Bonferroni t over them): the infinite-width theory is the ensemble's limit. Not the comparison at the largest
    width, where the O(1/N) deviation is resolved whenever the estimate is precise enough (the control variate's at
    N = 1024): that comparison is in the detail, for information. Statement in the measurement: every fitted power
    (:func:`training_fit_table`, widths where the deviation is resolved) within the Bonferroni t bound times its
    standard error plus POWER_TOLERANCE of −1 (fails otherwise; below noise where no deviation is resolved at two
    widths). No finite-width theory of the trained ensemble is computed: the statement is not checked in a theory."""
    d = table[(table.experiment == experiment) & (table.quantity == quantity) & (table.time > 0)]
    n_bags = int(d.n_bags.iloc[0])
    top = d[d.N == d.N.max()]
    t_top = rounded_t(top.value - top.theory, top.se, top.theory)
    limits = fit[(fit.experiment == experiment) & (fit.quantity == quantity)]
    t = rounded_t(limits.limit, limits.limit_se, 1.0)
    crit = t_critical(n_bags, len(limits))
    agreement = AGREES if t.max() <= crit else DISAGREES
    f = limits[limits.slope.notna()]
    if f.empty:
        measured, best = BELOW_NOISE, None
    else:
        bound = t_critical(n_bags, len(f)) * f.slope_se + POWER_TOLERANCE
        measured = HOLDS if ((f.slope + 1).abs() <= bound).all() else FAILS
        best = f.loc[f.slope_se.idxmin()]
    worst, worst_top = limits.loc[t.idxmax()], top.loc[t_top.idxmax()]
    return Claim(named(f"the trained {quantity} approaches the NTK theory as 1/N", experiment),
                 f"power of N of |{quantity} − theory| (best-resolved time and point)" if best is not None
                 else f"power of N of |{quantity} − theory| (none resolved)",
                 np.nan if best is None else best.slope, np.nan if best is None else best.slope_se, -1.0, agreement,
                 "not computed", measured, alpha_text(len(limits), n_bags, "times and points, the N → ∞ limit"),
                 f"N → ∞ limit of {quantity} − NTK theory (a of a + b/N over N = {worst.limit_widths}): max |a| / se = "
                 f"{t.max():.3g} against {crit:.3g} ({worst.limit:.3g} ± {worst.limit_se:.2g} at point {worst.point}, "
                 f"τ = {worst.time:g}); at N = {int(top.N.max())} itself, max |measured − NTK theory| / se = "
                 f"{t_top.max():.3g} ({worst_top.quantity} at point {worst_top.point}, τ = {worst_top.time:g}: the "
                 f"finite-width deviation, resolved where above {crit:.3g}); "
                 + ("no deviation resolved at two widths" if best is None else
                    f"{len(f)} powers fitted, compared with −1 ± {POWER_TOLERANCE:g}: "
                    + ", ".join(f"τ = {r.time:g}, {r.point}: {r.slope:.3g} ± {r.slope_se:.2g} (N = {r.widths})"
                                for r in f.itertuples()))).row()


def readout_partner(experiments: dict, name: str) -> str | None:
    """For an experiment that trains the readout alone with the plain estimator (its flow integrated), the experiment
    asking for ``training`` with the same ensemble, σ's and training but the conditional estimator (exact in
    distribution), if the config has one."""
    exp = experiments[name]
    if exp.training.layers != "readout" or exp.estimator != "plain":
        return None
    for other, o in experiments.items():
        if (o.estimator == "conditional" and "training" in o.analyses and o.training == exp.training
                and (o.activation, o.points, o.sigma_b) == (exp.activation, exp.points, exp.sigma_b)
                and set(o.sigma_w) & set(exp.sigma_w) and set(o.N) & set(exp.N)):
            return other
    return None


def readout_exact(table: pd.DataFrame, plain: str, conditional: str) -> dict:
    """"Readout training is exact at every N": the integrated flow of the readout (experiment ``plain``) against the
    exact conditional law given each network's hidden layer (experiment ``conditional``, sampled from its own
    streams: independent), every quantity, time, point, σ_W and N they share, by the Bonferroni t-test of the difference
    over sqrt(se_plain² + se_conditional²) with the smaller n_bags − 1 degrees of freedom (conservative). The statement
    holds in the theory by construction (the conditional law is the readout flow's exact solution, tested against
    RK4); in the measurement it is the agreement."""
    keys = ["sigma_w", "N", "time", "quantity", "point"]
    a = table[table.experiment == plain].set_index(keys)
    b = table[table.experiment == conditional].set_index(keys)
    both = a.merge(b, left_index=True, right_index=True, how="inner", suffixes=("_plain", "_conditional"))
    se = np.sqrt(both.se_plain**2 + both.se_conditional**2)
    t = rounded_t(both.value_plain - both.value_conditional, se, both.value_conditional)
    n_bags = int(min(both.n_bags_plain.min(), both.n_bags_conditional.min()))
    crit = t_critical(n_bags, len(both))
    worst = both.iloc[int(np.argmax(t.to_numpy()))]
    where = dict(zip(keys, t.idxmax()))
    agreement = AGREES if t.max() <= crit else DISAGREES
    return Claim(f"readout training is exact at every N ({plain} against {conditional})",
                 f"{where['quantity']} at point {where['point']}, N = {int(where['N'])}, τ = {where['time']:g} "
                 "(the largest |t|)", worst.value_plain, float(se.iloc[int(np.argmax(t.to_numpy()))]),
                 worst.value_conditional, agreement, HOLDS, HOLDS if agreement == AGREES else FAILS,
                 alpha_text(len(both), n_bags, "widths, times, quantities and points"),
                 f"max |integrated − exact conditional| / se = {t.max():.3g} against {crit:.3g}").row()


def training_claims(table: pd.DataFrame, fit: pd.DataFrame, experiments: dict) -> list[dict]:
    """The claims of every experiment that asks for ``training``, and for each experiment that integrates readout
    training beside one that samples its exact conditional law, :func:`readout_exact`."""
    rows = []
    for name, exp in experiments.items():
        if "training" not in exp.analyses:
            continue
        rows.append(untrained_at_zero(table, name))
        rows += [approaches_as_one_over_N(table, fit, name, q) for q in ("mean", "covariance")]
        partner = readout_partner(experiments, name)
        if partner is not None:
            rows.append(readout_exact(table, name, partner))
    return rows


def training_figure(table: pd.DataFrame, fit: pd.DataFrame, experiment: str):
    """One trained experiment: the mean and the variance at each test point against τ at every N beside the NTK
    theory (lines), N (measured − theory) against N at the last time, and N κ (the fourth cumulant's interaction)
    against τ where orders 3 and 4 are measured. One row per σ_W."""
    from . import style  # first: style selects the Agg backend
    import matplotlib.pyplot as plt

    t = table[table.experiment == experiment]
    sigmas = sorted(set(t.sigma_w))
    has_kurtosis = (t.quantity == "kurtosis").any()
    ncol = 4 if has_kurtosis else 3
    fig, axes = plt.subplots(len(sigmas), ncol, figsize=(3.6 * ncol, 3.4 * len(sigmas) + 0.6), squeeze=False,
                             layout="constrained")
    widths = sorted(set(t.N))
    colours = plt.cm.viridis(np.linspace(0, 0.85, len(widths)))
    for row, sw in zip(axes, sigmas):
        s = t[t.sigma_w == sw]
        variances = [combos.combo_label((a, a)) for a in range(len(set(s[s.quantity == "mean"].point)))]
        for ax, quantity, points, title in ((row[0], "mean", None, "mean μ_a(τ)"),
                                             (row[1], "covariance", variances, "variance C_aa(τ)")):
            q = s[s.quantity == quantity]
            if points is not None:
                q = q[q.point.isin(points)]
            for k, (point, p) in enumerate(q.groupby("point", sort=True)):
                th = p[p.N == widths[-1]].sort_values("time")
                ax.plot(th.time, th.theory, "k-", lw=1, label="N = ∞ (NTK)" if k == 0 else None)
                for colour, N in zip(colours, widths):
                    m = p[p.N == N].sort_values("time")
                    ax.errorbar(m.time, m.value, yerr=m.se, fmt="o", ms=3, color=colour, capsize=2,
                                label=f"N = {N}" if k == 0 else None)
            ax.set_xlabel("flow time τ")
            ax.set_title(f"{title}, σ_W = {sw:g}", fontsize=9)
        ax = row[2]
        last = s.time.max()
        for quantity, marker in (("mean", "o"), ("covariance", "s")):
            q = s[(s.quantity == quantity) & (s.time == last)]
            for k, (point, p) in enumerate(q.groupby("point", sort=True)):
                p = p.sort_values("N")
                ax.errorbar(p.N, p.N_deviation, yerr=p.N_deviation_se, fmt=marker + "-", ms=3, capsize=2,
                            label=f"{quantity} {point}")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xscale("log")
        style.width_ticks(ax, widths)
        ax.set_xlabel("N")
        ax.set_title(f"N (measured − NTK theory) at τ = {last:g}", fontsize=9)
        ax.legend(fontsize=6)
        if has_kurtosis:
            ax = row[3]
            q = s[s.quantity == "kurtosis"]
            for colour, N in zip(colours, widths):
                for marker, (point, p) in zip("osD^v<>", q[q.N == N].groupby("point", sort=True)):
                    p = p.sort_values("time")
                    ax.errorbar(p.time, N * p.value, yerr=N * p.se, fmt=marker + "-", ms=3, capsize=2, color=colour,
                                label=f"N = {N}, point {point.split(',')[0]}")
            ax.legend(fontsize=6, ncol=2)
            ax.axhline(0, color="k", lw=0.8)
            ax.set_xlabel("flow time τ")
            ax.set_title("N κ_a(τ): the fourth cumulant", fontsize=9)
        row[0].legend(fontsize=7)
    first = t.iloc[0]
    fig.suptitle(f"{experiment}: {first.activation}, d_in = {first.d_in}, layers: {first.layers}, "
                 f"estimator {first.estimator}, {int(first.n_bags)} bags of {int(first.n_nets)} networks")
    return fig
