"""Figures of the reproduction; each function takes tables (and, drawing one experiment, its name) and returns a
matplotlib Figure. Which figures a config gets, and from which experiments, is nnqft.analysis.registry's."""
from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .style import (COLORS, MARKERS, by_experiment, fit_text, label_panel, panels, plain_log_x, subtitle,
                    width_ticks)


def histograms(dev: pd.DataFrame, experiment: str):
    """Fig. 1: histograms of m_2 and m_4 over the combinations, one panel per N (the experiment's one sigma_w; the
    paper's is 1)."""
    d = dev[dev.experiment == experiment]
    d = d[d.sigma_w == d.sigma_w.min()]
    widths = sorted(d.N.unique())
    ncol = min(5, len(widths))
    nrow = int(np.ceil(len(widths) / ncol))
    fig, axes = plt.subplots(2 * nrow, ncol, figsize=(3.0 * ncol, 2.4 * 2 * nrow), squeeze=False)
    for r, order in enumerate((2, 4)):
        for k, N in enumerate(widths):
            ax = axes[r * nrow + k // ncol, k % ncol]
            sel = d[(d.N == N) & (d.order == order)]
            flat = np.ptp(sel.m) <= 1e-12 * np.abs(sel.m).max()  # one value (points on one ray of a ReLU at σ_b = 0)
            ax.hist(sel.m, bins=1 if flat else 20, color=COLORS[order], alpha=0.8)
            exact = sel.m_exact.mean()
            lo, hi = ax.get_xlim()
            if lo <= exact <= hi:
                ax.axvline(exact, color="k", ls="--", lw=1)
            ax.set_title(f"m_{order}, N = {N} (exact {exact:.3g})", fontsize=9)
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(3))
            ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # counts
            ax.set_xlabel(f"m_{order}", fontsize=8)
            ax.set_ylabel("combinations", fontsize=8)
            ax.tick_params(labelsize=7)
        for k in range(len(widths), nrow * ncol):
            axes[r * nrow + k // ncol, k % ncol].set_visible(False)
    fig.suptitle(fit_text(f"Fig. 1: relative deviation m_n = ΔG^(n)/G_0^(n) over combinations ({experiment}: σ_W = "
                      f"{d.sigma_w.iloc[0]:g}, {subtitle(d)})\n"
                      "titles give the exact finite-N mean (dashed where inside the range)", fig.get_figwidth()),
                 fontsize=10)
    fig.tight_layout()
    return fig


def mean_deviation_vs_N(dev: pd.DataFrame, experiment: str):
    """<|m_n|> vs N for n = 2, 4, 6 (log-log), with the background and the exact finite-N curve (the experiment's
    one sigma_w)."""
    d = dev[dev.experiment == experiment]
    d = d[d.sigma_w == d.sigma_w.min()]
    fig, ax = plt.subplots(figsize=(6.5, 5.0))
    for order, g in d.groupby("order"):
        by_n = g.groupby("N").agg(m=("m", lambda s: s.abs().mean()), bg=("background_m", "mean"),
                                  exact=("m_exact", lambda s: s.abs().mean()))
        ax.plot(by_n.index, by_n.m, "o-", color=COLORS[order], label=f"⟨|m_{order}|⟩ measured")
        ax.plot(by_n.index, by_n.bg, ":", color=COLORS[order], label=f"background (n = {order})")
        if order > 2:
            ax.plot(by_n.index, by_n.exact, "--", color=COLORS[order], alpha=0.7, label=f"exact finite N (n = {order})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    width_ticks(ax, d.N.unique())
    ax.set_xlabel("width N")
    ax.set_ylabel("⟨|m_n|⟩")
    ax.set_title(fit_text(f"Mean relative deviation vs width ({experiment}: σ_W = {d.sigma_w.iloc[0]:g}, {subtitle(d)})",
                      0.8 * fig.get_figwidth()), fontsize=10)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)  # off the curves
    fig.tight_layout()
    return fig


def falloff(fall: pd.DataFrame):
    """HMS's falloff: <|m_n|> vs N for n = 2, 4, 6, one panel per experiment with the falloff analysis (titled by
    activation, d_in, σ_b, σ_W, bags and networks): measured (markers), background (dotted), exact (dashed) and what
    the exact theory plus the measured noise makes <|m_n|> read (thin solid: the noise floor the 1/N claims compare
    with), and a 1/N guide (gray) through the exact m_4 at the smallest width. Colours are orders, line styles
    kinds; the legend sits below the panels."""
    from matplotlib.lines import Line2D

    names = by_experiment(fall)
    fig, axes = panels(len(names), layout="constrained")
    for ax, name in zip(axes, names):
        d = fall[fall.experiment == name]
        widths = sorted(d.N.unique())
        for order, g in d.groupby("order"):
            g = g.sort_values("N")
            c = COLORS[order]
            ax.plot(g.N, g.m, "o", color=c, ms=4)
            ax.plot(g.N, g.background, ":", color=c)
            ax.plot(g.N, g.m_expected, "-", color=c, lw=0.8, alpha=0.8)
            if order > 2 or (g.m_exact > 1e-10).any():  # m_2's theory is 0 at one hidden layer, K1/(N K) beyond
                ax.plot(g.N, g.m_exact, "--", color=c, alpha=0.8)
        four = d[d.order == 4].sort_values("N")
        if len(four) and four.m_exact.iloc[0] > 0:
            n = np.array(widths, dtype=float)
            ax.plot(n, 0.3 * four.m_exact.iloc[0] * n[0] / n, "-", color="0.6", lw=1.5, alpha=0.6, zorder=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        width_ticks(ax, widths)
        row = d.iloc[0]
        nets = f", {int(row.n_nets)} networks" if "n_nets" in d.columns else ""
        depth = f", depth {int(row.depth)}" if "depth" in d.columns and row.depth > 1 else ""
        label_panel(ax, f"{name}: {row.activation}, d_in = {int(row.d_in)}{depth}, σ_b = {row.sigma_b:g}, "
                     f"σ_W = {row.sigma_w:g}\n{int(row.n_bags)} bags{nets}", "width N", "⟨|m_n|⟩ over combinations",
                     legend=False)
    orders, deep = sorted(set(fall.order)), "depth" in fall.columns and (fall.depth > 1).any()
    handles = ([Line2D([], [], color=COLORS[o], marker="s", ls="", label=f"n = {o}") for o in orders]
               + [Line2D([], [], color="k", marker="o", ls="", ms=4, label="⟨|m_n|⟩ measured"),
                  Line2D([], [], color="k", ls=":", label="background"),
                  Line2D([], [], color="k", ls="-", lw=0.8, label="exact + noise"),
                  Line2D([], [], color="k", ls="--", label="exact (1/N theory at depth > 1)" if deep else "exact"),
                  Line2D([], [], color="0.6", lw=1.5, label="1/N")])
    ncol = min(len(handles), 3 * min(3, len(names)))
    # constrained layout makes room for the suptitle and the legend in proportion to what they hold, whatever
    # the number of rows of panels
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, fontsize=7, frameon=False)
    fig.suptitle("Falloff of the deviation from the Gaussian process with N (HMS)\nm_n = |Ḡ_exp − G_GP| / G_GP",
                 fontsize=10)
    return fig


def lambda_running(lam: pd.DataFrame, slope: pd.DataFrame):
    """HMS's λ̄ vs the cutoff at each experiment's NGP width (log-log), in each experiment's λ convention (in the
    panel's title): measured with its standard error, exact, and the fitted, exact, HMS's pooled and asymptotic
    slopes in the legend."""
    lam = lam[lam.N == lam.ngp_width]
    names = by_experiment(lam)
    fig, axes = panels(len(names))
    for ax, name in zip(axes, names):
        d = lam[lam.experiment == name].sort_values("cutoff")
        r = slope[(slope.experiment == name) & (slope.N == slope.ngp_width)].iloc[0]
        sign = "−" if (d["lambda"] < 0).all() else ""
        ax.errorbar(d.cutoff, d["lambda"].abs(), yerr=d.lambda_se, fmt="o", ms=3, capsize=2,
                    label=f"{sign}λ̄ measured, slope {r.slope:.3f} ± {r.slope_se:.2g}")
        ax.plot(d.cutoff, d.lambda_exact.abs(), "k--", lw=1,
                label=f"exact, slope {r.slope_exact:.3f} (HMS's pooled {r.slope_pooled_exact:.3f})")
        ref = d.lambda_exact.abs().iloc[-1] * (d.cutoff / d.cutoff.iloc[-1]) ** r.slope_asymptotic
        ax.plot(d.cutoff, ref, ":", color="tab:red", label=f"Λ^{r.slope_asymptotic:g} (derived from the kernel)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        label_panel(ax, f"{name}: {r.activation}, d_in = {int(r.d_in)}, N = {int(r.N)}, n_bags = {int(r.n_bags)}, "
                         f"{r.convention} convention", "cutoff Λ", f"|λ̄| (mean over {int(d.n_combos.iloc[0])} "
                                                               f"4-point combinations)")
    fig.suptitle("HMS's quartic coupling vs the cutoff at the NGP width (hms: +ΔG^(4) / (24 ∫ Π (K − σ_b²)); "
                 "full_kernel: −ΔG^(4) / (24 ∫ Π K))", fontsize=9)
    fig.tight_layout()
    return fig


def six_point(six: pd.DataFrame):
    """HMS's 6-point prediction at each experiment's NGP width: G_GP^(6)/Ḡ^(6) and (G_GP^(6) + λ̄ term)/Ḡ^(6) vs the
    cutoff, with the measured (solid) and the exact (dashed) G^(6) in the denominator."""
    six = six[six.N == six.ngp_width]
    names = by_experiment(six)
    fig, axes = panels(len(names))
    for ax, name in zip(axes, names):
        d = six[six.experiment == name].sort_values("cutoff")
        ax.plot(d.cutoff, d.gp_over_measured, "-", color="tab:blue", label="G_GP / Ḡ measured")
        ax.plot(d.cutoff, d.gp_lambda_over_measured, "-", color="tab:orange", label="(G_GP + λ̄ term) / Ḡ measured")
        ax.plot(d.cutoff, d.gp_over_exact, "--", color="tab:blue", label="G_GP / G exact")
        ax.plot(d.cutoff, d.gp_lambda_over_exact, "--", color="tab:orange", label="(G_GP + λ̄ term) / G exact")
        ax.axhline(1.0, color="k", lw=0.6)
        ax.set_xscale("log")
        r = d.iloc[0]
        label_panel(ax, f"{name}: {r.activation}, d_in = {int(r.d_in)}, N = {int(r.N)}, {r.convention} convention",
                     "cutoff Λ", "ratio (mean over 6-point combinations)")
    fig.suptitle("HMS's 6-point prediction with and without the quartic coupling, at the NGP width", fontsize=10)
    fig.tight_layout()
    return fig


def exponent_vs_d_in(fit: pd.DataFrame, order: int = 4):
    """The exponent of |<u_n>| vs σ_W against d_in, per N (every flow-fit experiment of the plain estimator), with
    its 95% interval, the exact theory's exponent, and the two readings of the paper's eq. 4.6."""
    f = fit[(fit.order == order) & (fit.estimator == "plain")]
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    widths = sorted(f.N.unique())
    for k, N in enumerate(widths):
        g = f[f.N == N].sort_values("d_in")
        shift = 0.06 * (k - (len(widths) - 1) / 2)
        ok = np.isfinite(g.exponent)
        if ok.any():  # a width whose exponent is below noise everywhere gets no legend entry
            ax.errorbar(g.d_in[ok] + shift, g.exponent[ok],
                        yerr=[g.exponent[ok] - g.ci_low[ok], g.ci_high[ok] - g.exponent[ok]],
                        fmt="o", capsize=3, ms=4, label=f"measured, N = {N}")
        ax.plot(g.d_in + shift, g.exponent_exact, "x", color="k", ms=6, label="exact finite-N theory" if k == 0 else None)
    d = np.array([1, 2, 3])
    dim = {4: 4 - d, 6: 6 - 2 * d}[order]
    ax.plot(d, dim, ":", color="gray", label=f"eq. 4.6 as printed ({'4 − d_in' if order == 4 else '6 − 2 d_in'})")
    ax.plot(d, -dim, "-.", color="gray", label=f"eq. 4.6 as the authors' code draws it ({'d_in − 4' if order == 4 else '2 d_in − 6'})")
    ax.set_xticks(d)
    ax.set_xlabel("input dimension d_in")
    ax.set_ylabel(f"exponent of |⟨u_{order}⟩| vs σ_W")
    ax.set_title(f"Running of u_{order} with σ_W against d_in (GaussNet σ_W scans; 95% intervals)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def u4_vs_N(means: pd.DataFrame, experiment: str):
    """-<u_4> vs N at the experiment's smallest sigma_w (the paper's: 1; mean over combinations, jackknife errors) and
    the exact curve."""
    m = means[(means.experiment == experiment) & (means.order == 4)]
    m = m[m.sigma_w == m.sigma_w.min()].sort_values("N")
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.errorbar(m.N, -m.u, yerr=m.u_se, fmt="o", capsize=3, label="measured −⟨u_4⟩")
    ax.plot(m.N, -m.u_exact, "k--", label="exact finite-N theory")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width N")
    ax.set_ylabel("−⟨u_4⟩ (mean over 4-point combinations)")
    ax.set_title(f"u_4 vs N ({experiment}: σ_W = {m.sigma_w.iloc[0]:g}, {subtitle(m)})", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def coupling_vs_sigma(means: pd.DataFrame, fit: pd.DataFrame, order: int, experiment: str, z_min=2.0):
    """Fig. 2 (order 4) and its u_6 twin: |<u_n>| vs sigma_w, one panel per N, with the fitted power law,
    the flow-equation lines under both sign readings (anchored at the first resolved point) and the
    exact curve. Open markers: below the noise floor (|u| < 2 SE), excluded from the fit."""
    m = means[(means.experiment == experiment) & (means.order == order)]
    fit = fit[fit.experiment == experiment]
    widths = sorted(m.N.unique())
    fig, axes = plt.subplots(1, len(widths), figsize=(3.6 * len(widths), 3.8), squeeze=False)
    for ax, N in zip(axes[0], widths):
        g = m[m.N == N].sort_values("sigma_w")
        ok = np.abs(g.u) > z_min * g.u_se
        neg = g.u < 0
        signs = "".join(sorted({"+" if v > 0 else "−" for v in g.u[ok]}))
        for sel, fill, label in ((ok, "full", f"measured (sign {signs or '?'})"), (~ok, "none", "below noise")):
            if sel.any():
                ax.errorbar(g.sigma_w[sel], np.abs(g.u[sel]), yerr=g.u_se[sel], fmt="o", fillstyle=fill,
                            color="tab:blue", capsize=2, ms=4, label=label)
        ax.plot(g.sigma_w, np.abs(g.u_exact), "k--", lw=1, label="exact |u| (sign " +
                ("−" if (g.u_exact < 0).all() else "±") + ")")
        f = fit[(fit.N == N) & (fit.order == order)]
        sw = np.geomspace(g.sigma_w.min(), g.sigma_w.max(), 50)
        if len(f) and np.isfinite(f.exponent.iloc[0]):
            r = f.iloc[0]
            ax.plot(sw, np.exp(r.intercept) * sw**r.exponent, color="tab:red",
                    label=f"fit: exponent {r.exponent:.2f} ± {r.exponent_se:.2f}")
        if ok.any() and len(f):
            s0, u0 = g.sigma_w[ok].iloc[0], abs(g.u[ok].iloc[0])
            for reading, style in (("paper_print", ":"), ("authors_code", "-.")):
                p = int(f.iloc[0][f"predicted_{reading}"])
                ax.plot(sw, u0 * (sw / s0) ** p, style, color="gray", label=f"flow eq. σ^{p:+d} ({reading.replace('_', ' ')})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_x(ax)
        ax.set_xlabel("σ_W")
        ax.set_ylabel(f"|⟨u_{order}⟩|")
        ax.set_title(f"N = {N}" + ("   (measured ⟨u⟩ > 0 somewhere)" if (~neg).any() and order == 4 else ""), fontsize=9)
        ymax = max(np.abs(g.u).max() + g.u_se.max(), np.abs(g.u_exact).max())
        ymin = min(np.abs(g.u[ok]).min() if ok.any() else ymax, np.abs(g.u_exact).min())
        ax.set_ylim(ymin / 5, ymax * 5)
        ax.legend(fontsize=6)
    authors = fit[fit.order == order].predicted_authors_code
    reading = f"\nplotted on log|u|, the authors'-code reading has slope {int(authors.iloc[0]):+d}" if len(authors) else ""
    fig.suptitle(f"|⟨u_{order}⟩| vs σ_W ({experiment}: {subtitle(m)}){reading}", fontsize=10)
    fig.tight_layout()
    return fig


def passive_flow(flows: pd.DataFrame, means: pd.DataFrame, experiment: str):
    """Passive-RG flow u_4(k) against sigma_w(k), beside the measured <u_4>(sigma_w), one panel per N."""
    widths = sorted(flows.N.unique())
    fig, axes = plt.subplots(2, len(widths), figsize=(3.6 * len(widths), 6.4), squeeze=False)
    m = means[(means.experiment == experiment) & (means.order == 4)]
    for col, N in enumerate(widths):
        fl = flows[flows.N == N]
        ax = axes[0, col]
        ax.plot(fl.k, fl.u4, color="tab:purple", label="passive RG u_4(k)")
        ax.set_xlabel("k (flowing into the IR from k = 1)")
        ax.set_ylabel("u_4(k)")
        ax.invert_xaxis()
        stopped = "" if fl.success.all() and fl.k.min() < 0.06 else f", integration stops at k = {fl.k.min():.3g}"
        ax.set_title(f"N = {N}{stopped}", fontsize=9)
        ax.legend(fontsize=7)
        ax = axes[1, col]
        g = m[m.N == N].sort_values("sigma_w")
        ax.errorbar(g.sigma_w, g.u, yerr=g.u_se, fmt="o", ms=3, capsize=2, label="measured ⟨u_4⟩")
        ax.plot(fl.sigma_w, fl.u4, color="tab:purple", lw=2, label="passive RG: u_4 vs σ_W(k)")
        ax.set_xscale("log")
        plain_log_x(ax)
        ax.set_xlabel("σ_W")
        ax.set_ylabel("u_4")
        ax.legend(fontsize=7)
    fig.suptitle("Passive-RG flow from the measured couplings at σ_W = 1 (u_2 = 2σ_W², u_4, u_6 measured)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def validation(dev: pd.DataFrame):
    """z = (G_measured - G_exact) / SE for every correlator, by order and N: where heavy tails bias the MC.
    One marker per activation (both estimators alike); a point shared by two experiments is drawn once (at the
    larger n_bags)."""
    d = dev[dev.theory == "exact"] if "theory" in dev.columns else dev  # not the 1/N theory of deep networks
    d = d.sort_values("n_bags").drop_duplicates(["activation", "d_in", "depth", "estimator", "sigma_b", "sigma_w", "N",
                                                 "order", "combo", "g_exact"], keep="last")
    orders = sorted(set(d.order))
    fig, axes = plt.subplots(1, len(orders), figsize=(14 * len(orders) / 3, 4.2), layout="constrained", squeeze=False)
    axes = axes[0]
    vmin, vmax = np.log10(d.sigma_w.min()), np.log10(d.sigma_w.max())
    for ax, order in zip(axes, orders):
        g = d[d.order == order]
        z = (g.g_mean - g.g_exact) / g.g_se
        rng = np.random.default_rng(0)
        jitter = np.exp(rng.uniform(-0.08, 0.08, len(g)))
        for activation, (marker, label) in MARKERS.items():
            sel = (g.activation == activation).to_numpy()
            if sel.any():
                sc = ax.scatter(g.N[sel] * jitter[sel], z[sel], c=np.log10(g.sigma_w[sel]), s=4, marker=marker,
                                cmap="viridis", vmin=vmin, vmax=vmax if vmax > vmin else vmin + 1, alpha=0.5,
                                label=f"{label} (d_in = {', '.join(map(str, sorted(set(g.d_in[sel]))))})")
        ax.axhspan(-2, 2, color="gray", alpha=0.2, label="|z| < 2")
        ax.set_xscale("log")
        plain_log_x(ax)
        ax.set_yscale("symlog", linthresh=2)
        top = max(2.0, float(np.nanmax(np.abs(z)))) if len(z) else 2.0
        ax.set_ylim(-1.5 * top, 1.5 * top)  # every point inside, the band's edges ticked
        ticks = sorted({-2.0, 0.0, 2.0} | {s * 10.0**k for s in (-1, 1) for k in range(1, 12) if 10.0**k <= top})
        ax.set_yticks(ticks)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("width N")
        ax.set_ylabel("z = (G_measured − G_exact) / SE")
        ax.set_title(f"G^({order}): median z = {np.median(z):.2g}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    if vmax > vmin:  # one σ_W: nothing for a colour bar to say
        fig.colorbar(sc, ax=axes, label="log10 σ_W")
    fig.suptitle("Monte Carlo against the exact finite-width theory (every point and combination)", fontsize=10)
    return fig


