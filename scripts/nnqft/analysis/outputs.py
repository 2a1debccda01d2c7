"""Networks of several outputs (docs/science.md §12) against their exact theory (:mod:`nnqft.theory.outputs`): the
``outputs`` analysis's table, claims and figure.

Every (point, output) correlator is measured as the mean over bags with its standard error, beside the exact value at
its width; every combination of four factors also gives its connected part, G^(4) − Σ over its three pairings of
G^(2) G^(2), computed from the means over bags with its jackknife error. A combination's ``structure`` says whether its
factors are of one output ("same output") or of several ("cross output").
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from functools import lru_cache

from .. import theory
from ..sampling.outputs import combo_label, output_combos, parse_combo
from ..theory.partitions import pairings
from .deviations import EXACT, experiment_rows, theory_kind
from .stats import jackknife_se, leave_one_out
from .verdicts import (AGREES, DISAGREES, FAILS, HOLDS, UNRELIABLE, Claim, alpha_text, named, rounded_t, t_critical,
                       wls_intercept)

COLUMNS = ["experiment", "activation", "d_in", "depth", "d_out", "estimator", "sigma_b", "sigma_w", "N", "n_bags",
           "n_nets", "order", "combo", "structure", "quantity", "value", "se", "se_exact", "theory", "exact", "gp",
           "N_value", "N_exact", "status"]


def structure(combo) -> str:
    return "same output" if len({o for _, o in combo}) == 1 else "cross output"


def _connected(g: dict, combo):
    """G^(4) − Σ_pairings G^(2) G^(2) of a four-factor ``combo`` from the correlators ``g`` (label -> value or array)."""
    two = lambda a, b: g[combo_label(tuple(sorted((combo[a], combo[b]))))]  # noqa: E731
    return g[combo_label(combo)] - sum(two(a, b) * two(c, d) for (a, b), (c, d) in pairings(range(4)))


def _family(model):
    """One model per family (activation, points, σ's, depth): what the caches of this module are keyed by."""
    return model.at(d_out=1, estimator="plain", N=1, n_nets=1)


@lru_cache(maxsize=None)
def _exact(model, orders: tuple) -> tuple[list, np.ndarray, np.ndarray, np.ndarray]:
    """The combinations of a model of several outputs (one network per bag: ``model.at(n_nets=1)``), their values in
    its theory, the variance of one network's estimate by the model's estimator (its product for the plain one, its
    Wick sum for the conditional one; NaN for Erf beyond order 2: 8-point moments by quadrature, for bounded outputs,
    as for one output, nnqft.analysis.deviations.exact_standard_error; NaN for the 1/N theory, which gives none), and
    their Gaussian process values (nnqft.theory.outputs.gaussian)."""
    from ..theory import outputs as exact_outputs

    th = theory.of(model)  # one per family (nnqft.theory.of)
    combos = [c for _, c in output_combos(len(model.points), model.d_out, orders)]
    exact = exact_outputs.correlators(th, combos, model.N)
    cheap = [k for k, c in enumerate(combos) if th.exact and (len(c) <= 2 or model.activation != "erf")]
    variances = exact_outputs.plain_variances if model.estimator == "plain" else exact_outputs.conditional_variances
    variance = np.full(len(combos), np.nan)
    if cheap:
        variance[cheap] = np.maximum(variances(th, [combos[k] for k in cheap], model.N), 0.0)
    return combos, exact, variance, exact_outputs.gaussian(th, combos, model.N)


def outputs_table(corr: pd.DataFrame, experiments: dict) -> pd.DataFrame:
    """One row per experiment of several outputs, σ_W, N and combination of :func:`nnqft.sampling.outputs.output_combos`
    (quantity "moment"), and one per combination of four factors (quantity "connected"): the measured ``value`` and
    its ``se`` over bags (jackknife for the connected part), the ``exact`` value at that width, and N times both; for
    the moments the exact standard error ``se_exact`` too, and per point and order the error bars' ``status``
    (:func:`nnqft.analysis.deviations.error_bars`: "error bars unreliable (heavy tails)" where the measured
    bag-to-bag variance is far below the exact one), which the connected rows take from order 4. ``theory`` names the
    theory of ``exact``, as in the deviations table (nnqft.analysis.deviations.theory_kind): "exact" (one hidden
    layer, linear networks) or "order 1/N" (deeper: nnqft.theory.deep); ``gp`` is the Gaussian process's value (nnqft.theory.outputs.gaussian; 0 for a connected part), which
    :func:`falloff` measures the deviations from."""
    out = []
    for name, exp in experiments.items():
        rows = experiment_rows(corr, {name: exp})
        orders = tuple(sorted(set(rows.order)))
        theory_name = theory_kind(exp.model(exp.sigma_w[0], exp.N[0]))
        for (sigma_w, N), point in rows.groupby(["sigma_w", "N"], sort=True):
            combos, exact, variance, gp = _exact(exp.model(sigma_w, int(N)).at(n_nets=1), orders)
            labels = [combo_label(c) for c in combos]
            bags = point.pivot(index="bag", columns="combo", values="value")[labels].to_numpy()
            mean, loo = bags.mean(axis=0), leave_one_out(bags)
            se = bags.std(axis=0, ddof=1) / np.sqrt(len(bags))
            se_exact = np.sqrt(variance / (exp.n_nets * len(bags)))
            label = {"experiment": name, "activation": exp.activation, "d_in": exp.d_in, "depth": exp.depth,
                     "d_out": exp.d_out, "estimator": exp.estimator, "sigma_b": exp.sigma_b, "sigma_w": float(sigma_w),
                     "N": int(N), "n_bags": exp.n_bags, "n_nets": exp.n_nets, "theory": theory_name}
            for k, combo in enumerate(combos):
                out.append({**label, "order": len(combo), "combo": labels[k], "structure": structure(combo),
                            "quantity": "moment", "value": float(mean[k]), "se": float(se[k]),
                            "se_exact": float(se_exact[k]), "exact": float(exact[k]), "gp": float(gp[k]),
                            "N_value": float(N * mean[k]), "N_exact": float(N * exact[k])})
            g_mean, g_loo, g_exact = dict(zip(labels, mean)), dict(zip(labels, loo.T)), dict(zip(labels, exact))
            for combo in (c for c in combos if len(c) == 4):
                value, exact_c = float(_connected(g_mean, combo)), float(_connected(g_exact, combo))
                se_c = float(jackknife_se(_connected(g_loo, combo)))
                out.append({**label, "order": 4, "combo": combo_label(combo), "structure": structure(combo),
                            "quantity": "connected", "value": value, "se": se_c, "se_exact": np.nan, "exact": exact_c,
                            "gp": 0.0, "N_value": float(N * value), "N_exact": float(N * exact_c)})
    table = pd.DataFrame(out, columns=[c for c in COLUMNS if c != "status"])
    return table.merge(_statuses(table), on=STATUS_KEYS, how="left")[COLUMNS]


#: What the error bars' status is given per.
STATUS_KEYS = ["experiment", "sigma_w", "N", "order"]


def _statuses(table: pd.DataFrame) -> pd.DataFrame:
    """The error bars' status per point and order, from the moments (:func:`nnqft.analysis.deviations.error_bars`)."""
    from .deviations import UNCHECKED, error_bars

    m = table[table.quantity == "moment"]
    if m.empty:
        return pd.DataFrame(columns=STATUS_KEYS + ["status"])
    frame = m.assign(depth=1, g_se=m.se, g_se_exact=m.se_exact.where(m.se_exact > 0))
    bars = error_bars(frame)[STATUS_KEYS + ["status"]]
    return bars.assign(status=bars.status.fillna(UNCHECKED))


#: What the outputs' falloff is given per: the one-output falloff's keys, the number of outputs and the structure.
FALLOFF_KEYS = ["experiment", "activation", "d_in", "depth", "d_out", "estimator", "sigma_b", "sigma_w", "N", "order",
                "structure"]


def falloff(table: pd.DataFrame) -> pd.DataFrame:
    """HMS's falloff (nnqft.analysis.deviations.falloff, docs/science.md §8) per output structure: per experiment,
    σ_W, N, order and structure ("same output", "cross output"), the means over the combinations of |m| with
    m = (measured − G_GP)/G_GP, of the exact theory's |m|, of what noise makes |m| read, the background and the standard
    error, from the moments of the outputs table whose Gaussian process value G_GP (its ``gp``) is not 0: a
    cross-output combination enters where every output appears an even number of times (f_i f_i f_j f_j), so the
    cross-output rows are of order 4 and more, the interaction between the outputs alone."""
    from .deviations import falloff as one_output

    m = table[(table.quantity == "moment") & (table.gp != 0)]
    gp = m.gp
    frame = m.assign(m=(m.value - gp) / gp, m_exact=(m.exact - gp) / gp,
                     background_m=m.se * np.sqrt(m.n_bags) / gp.abs())
    return one_output(frame, FALLOFF_KEYS)


def _agreement(rows: pd.DataFrame):
    t = rounded_t(rows.value - rows.exact, rows.se, rows.exact)
    n_bags = int(rows.n_bags.min())
    crit = t_critical(n_bags, len(rows))
    return (AGREES if t.max() <= crit else DISAGREES), rows.loc[t.idxmax()], float(t.max()), crit, n_bags


def _two_outputs_twice(combo) -> bool:
    outs = [o for _, o in combo]
    return len(set(outs)) == 2 and all(outs.count(o) == 2 for o in set(outs))


def uncorrelated(table: pd.DataFrame, experiment: str, depth: int = 1) -> dict:
    """"The outputs are uncorrelated at every N": every cross-output 2-point function against 0 (exact at every N),
    Bonferroni t over them. With the conditional estimator each network's value is exactly 0 (Wick's sum has no
    pairing of different outputs): the claim then checks the estimator's structure, not a noisy mean; with the plain
    one it measures."""
    d = table[(table.experiment == experiment) & (table.quantity == "moment") & (table.order == 2)
              & (table.structure == "cross output")]
    agreement, worst, t, crit, n_bags = _agreement(d)
    return Claim(named("the outputs are uncorrelated at every N", experiment),
                 f"⟨f_i f_j⟩, i ≠ j, at {worst.combo}, N = {int(worst.N)} (the largest |t|)", worst.value, worst.se,
                 worst.exact, agreement, HOLDS if (d.exact == 0).all() else FAILS,
                 HOLDS if agreement == AGREES else FAILS, alpha_text(len(d), n_bags, "widths and combinations"),
                 f"max |measured| / se = {t:.3g} against {crit:.3g}"
                 + ("; the conditional estimator gives 0 for every network" if (d.se == 0).all() else ""),
                 depth=str(depth)).row()


def cross_connected(table: pd.DataFrame, experiment: str, depth: int = 1, truncated: bool = False,
                    vertex=None) -> dict:
    """"The cross-output connected 4-point function is V/N": ⟨f_i f_i f_j f_j⟩_c for two outputs i ≠ j, every
    combination and width, against the theory (Bonferroni t); the statement holds in the theory where N times it is V
    at every N (one hidden layer) or approaches it (deeper: closer to V at the largest width than at the smallest,
    ``vertex``: combination label -> the output layer's V of the 1/N theory) and in the measurement where they agree.
    With the 1/N theory (``truncated``: networks of ``depth`` > 1 but linear ones, whose theory is exact), whose
    O(1/N²) remainder the data resolve, the agreement is that of the limit instead: per combination N times the
    measured value is fitted by a + b/N over the widths (weighted least squares), and a is tested against V."""
    d = table[(table.experiment == experiment) & (table.quantity == "connected")]
    d = d[[_two_outputs_twice(parse_combo(c)) for c in d.combo]]
    name = named("the cross-output connected 4-point function is V/N", experiment)
    bad = sorted({int(n) for n in d.N[d.status == UNRELIABLE]})
    if len(bad) == d.N.nunique():
        return Claim(name, "N ⟨f_i f_i f_j f_j⟩_c", np.nan, np.nan, np.nan, UNRELIABLE, HOLDS, UNRELIABLE,
                     "", f"error bars unreliable (heavy tails) at every N {bad}", depth=str(depth)).row()
    d = d[~d.N.isin(bad)]
    if vertex is None:  # one hidden layer: exactly V/N at every N
        spread = d.groupby("combo").N_exact.agg(lambda v: np.ptp(v) / max(np.abs(v).max(), 1e-300)).max()
        statement = HOLDS if spread < 1e-9 else FAILS
    else:
        def closer(combo, rows):
            rows = rows.sort_values("N")
            v = vertex[combo]
            return abs(rows.N_exact.iloc[-1] - v) <= abs(rows.N_exact.iloc[0] - v) + 1e-9 * abs(v)  # rounding
        statement = HOLDS if all(closer(c, rows) for c, rows in d.groupby("combo")) else FAILS
    left_out = f"; error bars unreliable (heavy tails) at N = {bad}, left out" if bad else ""
    if not truncated:
        agreement, worst, t, crit, n_bags = _agreement(d)
        return Claim(name, f"N ⟨f_i f_i f_j f_j⟩_c at {worst.combo}, N = {int(worst.N)} (the largest |t|)",
                     worst.N_value, worst.N * worst.se, worst.N_exact, agreement, statement,
                     HOLDS if agreement == AGREES else FAILS, alpha_text(len(d), n_bags, "widths and combinations"),
                     f"max |measured − theory| / se = {t:.3g} against {crit:.3g}" + left_out, depth=str(depth)).row()
    fits = []
    for combo, rows in d.groupby("combo", sort=True):
        a, se_a = wls_intercept(1.0 / rows.N.to_numpy(float), rows.N_value.to_numpy(), (rows.N * rows.se).to_numpy())
        fits.append({"combo": combo, "value": a, "se": se_a, "exact": vertex[combo], "n_bags": rows.n_bags.min(),
                     "N": rows.N.max(), "widths": len(rows)})
    fits = pd.DataFrame(fits)
    agreement, worst, t, crit, n_bags = _agreement(fits)
    return Claim(name, f"N ⟨f_i f_i f_j f_j⟩_c as N → ∞ (a of a + b/N over {int(worst.widths)} widths) at "
                 f"{worst.combo}", worst.value, worst.se, worst.exact, agreement, statement,
                 HOLDS if agreement == AGREES else FAILS, alpha_text(len(fits), n_bags, "combinations"),
                 f"max |a − V| / se = {t:.3g} against {crit:.3g}; the theory is the 1/N one of depth {depth}, whose "
                 f"O(1/N²) remainder the fit's b/N takes" + left_out, depth=str(depth)).row()


def ratio_three(table: pd.DataFrame, experiment: str, depth: int = 1) -> dict:
    """"⟨f_i⁴⟩_c = 3 ⟨f_i² f_j²⟩_c at one point" (the O(d_out) symmetry of the outputs' law): at every point, width and
    pair of outputs, the measured same-output connected part against 3 times the cross-output one, their difference
    with its error (the two share networks: the error of the difference from the jackknife of each is conservative
    only if they are not anti-correlated, so the bag-to-bag error of the difference is used), Bonferroni t."""
    d = table[(table.experiment == experiment) & (table.quantity == "connected")]
    rows = []
    for r in d.itertuples():
        combo = parse_combo(r.combo)
        if len({p for p, _ in combo}) == 1 and _two_outputs_twice(combo):
            (p, i), (_, j) = combo[0], combo[2]
            same = d[(d.N == r.N) & (d.sigma_w == r.sigma_w) & (d.combo == combo_label(((p, i),) * 4))].iloc[0]
            diff, diff_exact = same.value - 3 * r.value, same.exact - 3 * r.exact
            rows.append({"N": r.N, "combo": r.combo, "value": diff, "exact": diff_exact,
                         "se": float(np.hypot(same.se, 3 * r.se)), "n_bags": r.n_bags,
                         "ratio": same.value / r.value if r.value else np.nan, "ratio_exact": same.exact / r.exact})
    rows = pd.DataFrame(rows)
    agreement, worst, t, crit, n_bags = _agreement(rows)
    return Claim(named("⟨f_i⁴⟩_c = 3 ⟨f_i² f_j²⟩_c at one point", experiment),
                 f"⟨f_i⁴⟩_c / ⟨f_i² f_j²⟩_c at {worst.combo}, N = {int(worst.N)} (the largest |t| of the difference)",
                 worst.ratio, np.nan, worst.ratio_exact, agreement,
                 HOLDS if (np.abs(rows.ratio_exact - 3) < 1e-9).all() else FAILS,
                 HOLDS if agreement == AGREES else FAILS, alpha_text(len(rows), n_bags, "points, widths and outputs"),
                 f"max |⟨f_i⁴⟩_c − 3⟨f_i² f_j²⟩_c| / se = {t:.3g} against {crit:.3g} (se: the two errors added in "
                 f"quadrature)" + ("; the conditional estimator keeps the ratio for every network (3⟨Ĝ²⟩ − 3⟨Ĝ⟩² "
                                   "against ⟨Ĝ²⟩ − ⟨Ĝ⟩²): the claim then checks the estimator's structure"
                                   if t < 1e-6 else ""), depth=str(depth)).row()


def output_claims(table: pd.DataFrame, experiments: dict) -> list[dict]:
    """The claims of every experiment that asks for ``outputs``."""
    rows = []
    for name, exp in experiments.items():
        if "outputs" in exp.analyses:
            family = _family(exp.model(exp.sigma_w[0], exp.N[0]))
            vertex = _vertices(family, exp.d_out) if exp.depth > 1 else None
            rows += [uncorrelated(table, name, exp.depth),
                     cross_connected(table, name, exp.depth, not theory.of(family).exact, vertex),
                     ratio_three(table, name, exp.depth)]
    return rows


@lru_cache(maxsize=None)
def _vertices(family, d_out: int) -> dict:
    """The output layer's vertex V_(ab)(cd) of the 1/N theory (nnqft.theory.deep, any activation) of each cross-output
    combination of four factors (two of output i at points a, b, two of output j at c, d), by label."""
    V = theory.one_over_N(family).V  # the family's 1/N theory, the one theory.of shares where it is not exact
    out = {}
    for _, combo in output_combos(len(family.points), d_out, [4]):
        if _two_outputs_twice(combo):
            i = combo[0][1]
            (a, b), (c, e) = [p for p, o in combo if o == i], [p for p, o in combo if o != i]
            out[combo_label(combo)] = float(V[a, b, c, e])
    return out


def outputs_figure(table: pd.DataFrame, fall: pd.DataFrame, experiment: str):
    """One experiment of several outputs, a column per σ_W. Top: N times the connected 4-point function at each
    point, of one output (⟨f_i⁴⟩_c, divided by 3) and of two (⟨f_i² f_j²⟩_c), against N (markers with errors) beside
    the theory (lines): equal where the exact theory holds (flat in N at one hidden layer), approached as N grows by
    the 1/N theory's V (deeper networks, whose O(1/N²) remainder N× the data show). Bottom: HMS's falloff per output
    structure (:func:`falloff`), <|m|> against N for each order and structure (markers), the theory's (dashed), what
    the theory plus the measured noise makes <|m|> read (thin solid) and the background (dotted)."""
    from . import style  # first: style selects the Agg backend
    import matplotlib.pyplot as plt

    d = table[(table.experiment == experiment) & (table.quantity == "connected")]
    f = fall[fall.experiment == experiment]
    sigmas = sorted(set(d.sigma_w))
    fig, axes = plt.subplots(2, len(sigmas), figsize=(6.0 * len(sigmas), 8.4), squeeze=False, layout="constrained")
    widths = sorted(set(d.N))
    points = sorted({parse_combo(c)[0][0] for c in d.combo})
    colours = plt.cm.tab10(np.arange(len(points)))
    for ax, sw in zip(axes[0], sigmas):
        s = d[d.sigma_w == sw]
        for colour, p in zip(colours, points):
            same = s[s.combo == combo_label(((p, 0),) * 4)].sort_values("N")
            cross = s[s.combo == combo_label(((p, 0), (p, 0), (p, 1), (p, 1)))].sort_values("N")
            ax.errorbar(same.N, same.N_value / 3, yerr=same.N * same.se / 3, fmt="o", ms=4, capsize=2, color=colour,
                        label=f"x_{p}: N ⟨f_1⁴⟩_c / 3")
            ax.errorbar(cross.N, cross.N_value, yerr=cross.N * cross.se, fmt="s", ms=4, capsize=2, mfc="none",
                        color=colour, label=f"x_{p}: N ⟨f_1² f_2²⟩_c")
            ax.plot(cross.N, cross.N_exact, "-", color=colour, lw=1)
        ax.set_xscale("log")
        style.width_ticks(ax, widths)
        ax.set_xlabel("N")
        lines = "exact theory" if (s.theory == EXACT).all() else "the 1/N theory's V"
        ax.set_title(f"σ_W = {sw:g}: N × connected 4-point functions (lines: {lines})", fontsize=9)
        ax.legend(fontsize=7)
    kinds = {("same output", 2): ("C0", "v"), ("same output", 4): ("C0", "o"), ("cross output", 4): ("C3", "s")}
    for ax, sw in zip(axes[1], sigmas):
        for (structure_, order), g in f[f.sigma_w == sw].groupby(["structure", "order"], sort=True):
            g = g.sort_values("N")
            colour, marker = kinds.get((structure_, order), ("C2", "^"))
            cross = structure_ == "cross output"  # open and larger: at one point it lies on the same-output one
            ax.plot(g.N, g.m, marker, color=colour, ms=8 if cross else 4, mfc="none" if cross or order == 2 else colour,
                    label=f"order {order}, {structure_}")
            ax.plot(g.N, g.m_expected, "-", color=colour, lw=0.8, alpha=0.8)
            ax.plot(g.N, g.background, ":", color=colour, lw=1)
            if (g.m_exact > 1e-10).any():  # the same-output m_2 is 0 at one hidden layer
                ax.plot(g.N, g.m_exact, "--", color=colour, alpha=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        style.width_ticks(ax, widths)
        ax.set_xlabel("N")
        ax.set_ylabel("<|m|>, m = (G − G_GP) / G_GP")
        ax.set_title("falloff per output structure: measured (markers), theory (dashed),\n"
                     "theory + noise (thin), background (dotted)", fontsize=9)
        ax.legend(fontsize=7)
    first = d.iloc[0]
    depth = f", depth {first.depth}" if first.depth > 1 else ""
    fig.suptitle(f"{experiment}: {first.activation}{depth}, d_in = {first.d_in}, d_out = {first.d_out}\n"
                 f"{int(first.n_bags)} bags of {int(first.n_nets)} networks, {first.estimator} estimator", fontsize=10)
    return fig
