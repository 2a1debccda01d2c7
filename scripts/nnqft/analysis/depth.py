"""The running with depth (docs/science.md §10): N G_c^(4) / G^(2)² against the depth L and L/N, measured beside the
1/N theory (:class:`nnqft.theory.deep.DeepTheory`) and the exact theory where one exists (one hidden layer, or linear
networks at any depth), and the two claims of the ``depth_running`` analysis.

A depth scan is the set of experiments that ask for ``depth_running`` and share an activation, a point set, σ_b, σ_W
and an estimator (the config checks that it has two depths or more); it is named by its experiments.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import combos, theory
from .deviations import experiment_rows, point_bags, point_label
from .verdicts import (AGREES, BELOW_NOISE, DISAGREES, FAILS, HOLDS, POWER_TOLERANCE, UNRELIABLE, alpha_text,
                       Claim, correlator_agreement, t_critical, wls_slope)
from .registry import depth_scans
from .stats import jackknife_se, leave_one_out

COLUMNS = ["experiment", "activation", "d_in", "depth", "estimator", "sigma_b", "sigma_w", "N", "n_bags", "n_nets",
           "L_over_N", "kurtosis_N", "kurtosis_N_se", "kurtosis_N_theory", "kurtosis_N_exact", "scan"]


def kurtosis(g2: np.ndarray, g4: np.ndarray) -> np.ndarray:
    """The mean over the points of the excess kurtosis (G^(4)(a,a,a,a) − 3 G^(2)(a,a)²) / G^(2)(a,a)²."""
    return ((g4 - 3 * g2**2) / g2**2).mean(axis=-1)


def _diagonal_labels(n_points: int, order: int) -> list[str]:
    return [combos.combo_label((a,) * order) for a in range(n_points)]


def theory_kurtosis_N(model) -> float:
    """The 1/N theory's N G_c^(4)/G^(2)² averaged over the points: 3 V_(aa)(aa) / K_aa² (N-independent)."""
    th = theory.one_over_N(model)
    return float(np.mean([3 * th.V[a, a, a, a] / th.K[a, a] ** 2 for a in range(len(th.points))]))


def exact_kurtosis_N(model) -> float:
    """N times the exact theory's excess kurtosis averaged over the points, where an exact theory exists (NaN
    otherwise)."""
    th = theory.of(model)
    if not th.exact:
        return np.nan
    P = len(model.points)
    g2, _ = th.correlators([(a, a) for a in range(P)], model.N)
    g4, _ = th.correlators([(a,) * 4 for a in range(P)], model.N)
    return float(model.N * kurtosis(g2, g4))


def depth_running_table(corr: pd.DataFrame, experiments: dict) -> pd.DataFrame:
    """Per experiment of each depth scan and width N: ``kurtosis_N`` = N × the mean over points of the measured
    excess kurtosis (from the means over bags) with its jackknife standard error over bags, the 1/N theory's
    ``kurtosis_N_theory`` and the exact theory's ``kurtosis_N_exact`` (NaN where none exists)."""
    out = []
    for scan, names in depth_scans(experiments).items():
        subset = {n: experiments[n] for n in names}
        rows = experiment_rows(corr, subset)
        for (name, sb, sw, N), bags in point_bags(rows, subset):
            exp = experiments[name]
            model = exp.model(sw, N)
            P = len(exp.points)
            v2, labels2 = bags[2]
            v4, labels4 = bags[4]
            g2 = v2[:, [labels2.index(lab) for lab in _diagonal_labels(P, 2)]]
            g4 = v4[:, [labels4.index(lab) for lab in _diagonal_labels(P, 4)]]
            value = N * kurtosis(g2.mean(axis=0), g4.mean(axis=0))
            loo = N * kurtosis(leave_one_out(g2), leave_one_out(g4))
            out.append({**point_label(exp, model), "n_nets": exp.n_nets, "L_over_N": exp.depth / N,
                        "kurtosis_N": value, "kurtosis_N_se": float(jackknife_se(loo)),
                        "kurtosis_N_theory": theory_kurtosis_N(model), "kurtosis_N_exact": exact_kurtosis_N(model),
                        "scan": scan})
    return pd.DataFrame(out, columns=COLUMNS)


#: How far from a straight line (largest residual over the range of values) the theory's N G_c^(4)/G^(2)² may be in L
#: for the statement "grows linearly with depth" to hold in the theory.
LINEARITY_TOLERANCE = POWER_TOLERANCE


def grows_linearly(table: pd.DataFrame, scan: str) -> dict:
    """"N G_c^(4)/G^(2)² grows linearly with the depth L" (Roberts, Yaida, Hanin ch. 5: the depth-to-width ratio is
    the expansion parameter; for ReLU at criticality, σ_b = 0 and σ_W² = 2, it is 15 L exactly at order 1/N), judged
    at the scan's largest common width. Agreement: every depth's measured value against the exact theory where one
    exists, else the 1/N theory (Bonferroni t over the depths). Statement in the theory: the 1/N theory's values are a
    straight line in L within LINEARITY_TOLERANCE of their range; in the measurement: the weighted slope is resolved
    and positive, and no depth lies off the weighted straight line by more than the Bonferroni t bound (fails
    otherwise; below noise where the slope is not resolved). The theory's own slope is the 'exact' column."""
    t = table[table.scan == scan]
    N = t.groupby("depth").N.max().min()
    d = t[t.N == N].sort_values("depth")
    n_bags = int(d.n_bags.min())
    reference = d.kurtosis_N_exact.where(d.kurtosis_N_exact.notna(), d.kurtosis_N_theory)
    crit = t_critical(n_bags, len(d))
    worst = ((d.kurtosis_N - reference).abs() / d.kurtosis_N_se).max()
    agreement = AGREES if worst <= crit else DISAGREES
    L = d.depth.to_numpy(dtype=float)
    th = d.kurtosis_N_theory.to_numpy()
    coef = np.polyfit(L, th, 1)
    spread = max(np.ptp(th), 1e-300)
    exact_ok = np.abs(np.polyval(coef, L) - th).max() <= LINEARITY_TOLERANCE * spread and coef[0] > 0
    slope, slope_se = wls_slope(L, d.kurtosis_N.to_numpy(), d.kurtosis_N_se.to_numpy())
    if abs(slope) <= t_critical(n_bags, 1) * slope_se:
        measured = BELOW_NOISE
    else:
        w = 1 / d.kurtosis_N_se.to_numpy() ** 2
        X = np.stack([np.ones_like(L), L], axis=1)
        beta = np.linalg.solve(X.T @ (X * w[:, None]), X.T @ (w * d.kurtosis_N.to_numpy()))
        off = np.abs(d.kurtosis_N.to_numpy() - X @ beta) / d.kurtosis_N_se.to_numpy()
        measured = HOLDS if slope > 0 and (len(d) < 3 or off.max() <= crit) else FAILS
    return Claim(f"N G_c^(4)/G^(2)^2 grows linearly with depth ({scan}, N = {int(N)})",
                "slope of N G_c^(4)/G^(2)^2 in L", slope, slope_se, coef[0], agreement, HOLDS if exact_ok else FAILS,
                measured, alpha_text(len(d), n_bags, "depths"),
                f"depths {d.depth.tolist()}; max |measured − {'exact' if d.kurtosis_N_exact.notna().all() else 'theory'}|"
                f" / se = {worst:.3g} against {crit:.3g}; 1/N theory "
                + ", ".join(f"L = {int(r.depth)}: {r.kurtosis_N_theory:.4g}" for r in d.itertuples())
                + "; measured " + ", ".join(f"{r.kurtosis_N:.4g} ± {r.kurtosis_N_se:.2g}" for r in d.itertuples()),
                depth=", ".join(str(int(v)) for v in d.depth)).row()


def m2_follows_K1(dev: pd.DataFrame, error_bars: pd.DataFrame, experiment: str) -> dict:
    """"Depth breaks m_2 ≈ 0: G^(2) = K + K1/N" for one experiment of depth > 1, at its largest width (where the
    1/N theory's O(1/N²) remainder is smallest). Agreement: the measured G^(2) against the theory (1/N, or exact for
    linear networks), Bonferroni t over the combinations. Statement in the theory: K1 ≠ 0 (m_2 = K1/(N K) is not 0);
    in the measurement: G^(2) differs from K beyond the same bound (holds), or not (below noise)."""
    d = dev[(dev.experiment == experiment) & (dev.order == 2)]
    N = int(d.N.max())
    agreement, detail, n_tests = correlator_agreement(dev, error_bars, experiment, 2, N=N)
    nonzero = (d.m_exact.abs() > 1e-12).any()
    vs_k, _, _ = correlator_agreement(dev, error_bars, experiment, 2, N=N, reference="g0")
    measured = {DISAGREES: HOLDS, AGREES: BELOW_NOISE}.get(vs_k, UNRELIABLE)
    at = d[d.N == N]
    worst = at.iloc[int(np.argmax(at.m_exact.abs().to_numpy()))]
    depth = int(d.depth.iloc[0])
    return Claim(f"depth breaks m_2 ≈ 0: G^(2) = K + K1/N ({experiment}, depth {depth}, N = {N})",
                "m_2 at the combination of largest |m_2| in the theory", worst.m, worst.g_se / abs(worst.g0),
                worst.m_exact, agreement, HOLDS if nonzero else FAILS, measured,
                alpha_text(n_tests, d.n_bags.iloc[0], "combinations"),
                f"{detail}; theory: {d.theory.iloc[0]}; combination {worst.combo}", depth=str(depth)).row()


def depth_claims(table: pd.DataFrame, dev: pd.DataFrame, error_bars: pd.DataFrame, experiments: dict) -> list[dict]:
    """The claims of every depth scan: linear growth with depth, then m_2 = K1/N for each experiment of depth > 1."""
    rows = []
    for scan, names in depth_scans(experiments).items():
        rows.append(grows_linearly(table, scan))
        rows += [m2_follows_K1(dev, error_bars, n) for n in names if experiments[n].depth > 1]
    return rows


def depth_running(table: pd.DataFrame):
    """Per depth scan (nnqft.analysis.depth): N G_c^(4)/G^(2)² vs L at each width (measured, 1/N theory line, exact
    crosses), and G_c^(4)/G^(2)² vs L/N (log-log) beside the 1/N theory's c(L)/N."""
    from .style import label_panel  # first: style selects the Agg backend
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    scans = list(dict.fromkeys(table.scan))
    fig, axes = plt.subplots(len(scans), 2, figsize=(11, 3.9 * len(scans)), squeeze=False, layout="constrained")
    for (left, right), scan in zip(axes, scans):
        t = table[table.scan == scan]
        widths, depths = sorted(t.N.unique()), sorted(t.depth.unique())
        for k, N in enumerate(widths):
            g = t[t.N == N].sort_values("depth")
            colour = plt.get_cmap("viridis")(k / max(len(widths) - 1, 1))
            left.errorbar(g.depth + 0.04 * (k - len(widths) / 2), g.kurtosis_N, g.kurtosis_N_se, fmt="o", ms=4,
                          color=colour, capsize=2, label=f"N = {int(N)}")
            left.plot(g.depth, g.kurtosis_N_exact, "x", color=colour, ms=7)  # NaN where no exact theory
        th = t.drop_duplicates("depth").sort_values("depth")[["depth", "kurtosis_N_theory"]].to_numpy().T
        left.plot(*th, "-", color="k", lw=1, label="1/N theory")
        left.plot([], [], "x", color="k", label="exact theory" if t.kurtosis_N_exact.notna().any() else None)
        left.set_xticks(depths)
        r = t.iloc[0]
        label_panel(left, f"{scan}: {r.activation}, d_in = {int(r.d_in)}, σ_b = {r.sigma_b:g}, σ_W = {r.sigma_w:g}",
                     "depth L (hidden layers)", "N G_c^(4) / G^(2)²")
        for k, L in enumerate(depths):
            g = t[(t.depth == L) & (t.kurtosis_N > 0)].sort_values("N")
            colour = plt.get_cmap("plasma")(k / max(len(depths) - 1, 1))
            right.errorbar(g.L_over_N, g.kurtosis_N / g.N, g.kurtosis_N_se / g.N, fmt="o", ms=4, color=colour,
                           capsize=2, label=f"L = {int(L)}")
            right.plot(g.L_over_N, g.kurtosis_N_theory / g.N, "-", color=colour, lw=1, alpha=0.7)
        right.set_xscale("log")
        right.set_yscale("log")
        right.xaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels overlap
        right.yaxis.set_minor_formatter(NullFormatter())
        label_panel(right, "excess kurtosis against the depth-to-width ratio (lines: 1/N theory)", "L / N",
                     "G_c^(4) / G^(2)²")
    fig.suptitle("Running with depth: the depth-to-width ratio L/N sets the deviation from the Gaussian process")
    return fig
