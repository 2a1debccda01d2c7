"""The paper's claims, each checked from the tables with a verdict computed from the numbers.

Verdicts: "reproduced", "not reproduced", "below noise" (the measurement cannot decide).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .figure_list import SIGMA_SCAN, WIDTH_SCAN

Z = 2.0  # significance (in standard errors) for a signal to count as seen


def _row(claim, quantity, value, uncertainty, exact, verdict, detail=""):
    return {"claim": claim, "quantity": quantity, "value": float(value), "uncertainty": float(uncertainty),
            "exact": float(exact), "verdict": verdict, "detail": detail}


def m2_vanishes(dev: pd.DataFrame, experiment="width_scan") -> dict:
    """m_2 ~ 0 at every N: <|m_2|> within Z standard errors of zero at every N (noise only)."""
    d = dev[(dev.experiment == experiment) & (dev.order == 2)]
    d = d.assign(se_m=d.background_m / np.sqrt(d.n_bags))
    by_n = d.groupby("N").agg(m=("m", lambda s: s.abs().mean()), se=("se_m", "mean"), exact=("m_exact", "mean"))
    worst = (by_n.m / by_n.se).idxmax()
    ok = (by_n.m <= Z * by_n.se).all()
    return _row("m_2 ≈ 0 at every N", "max over N of <|m_2|> (at the worst N)", by_n.m[worst], by_n.se[worst],
                by_n.exact[worst], "reproduced" if ok else "not reproduced", f"worst N = {worst}")


def scaling_slope(dev: pd.DataFrame, order: int, experiment="width_scan") -> dict:
    """m_n = O(1/N): slope of log <|m_n|> vs log N, weighted least squares, 95% interval contains -1."""
    d = dev[(dev.experiment == experiment) & (dev.order == order)]
    d = d.assign(se_m=d.background_m / np.sqrt(d.n_bags), abs_exact=d.m_exact.abs())
    by_n = d.groupby("N").agg(m=("m", lambda s: s.abs().mean()), se=("se_m", "mean"), exact=("abs_exact", "mean"))
    x = np.log(by_n.index.to_numpy(dtype=float))
    y = np.log(by_n.m.to_numpy())
    sigma = np.maximum(by_n.se.to_numpy() / by_n.m.to_numpy(), 1e-12)
    w = 1 / sigma**2
    X = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(X.T @ (X * w[:, None]))
    slope = (cov @ (X.T @ (w * y)))[1]
    slope_se = np.sqrt(cov[1, 1])
    exact_slope = np.polyfit(x, np.log(by_n.exact.to_numpy()), 1)[0]
    signal = (by_n.m > Z * by_n.se).any()
    if not signal:
        verdict = "below noise"
    else:
        verdict = "reproduced" if abs(slope + 1) <= 1.96 * slope_se else "not reproduced"
    return _row(f"m_{order} scales as 1/N", f"slope of log<|m_{order}|> vs log N", slope, slope_se, exact_slope, verdict)


def u4_negative_constant(means: pd.DataFrame, per_combo: pd.DataFrame, experiment="width_scan",
                         max_spread=0.2) -> dict:
    """u_4 negative at every N where it is resolved (|z| >= Z) and nearly constant: spread over
    combinations (std / |mean|) below ``max_spread``."""
    m = means[(means.experiment == experiment) & (means.order == 4)]
    pc = per_combo[(per_combo.experiment == experiment) & (per_combo.order == 4)]
    spread = pc.groupby(["sigma_w", "N"]).u.agg(lambda s: s.std() / abs(s.mean())).max()
    z = (m.u / m.u_se).to_numpy()
    resolved = np.abs(z) >= Z
    if not resolved.any():
        verdict = "below noise"
    elif (z[resolved] < 0).all() and spread < max_spread:
        verdict = "reproduced"
    else:
        verdict = "not reproduced"
    worst = m.iloc[int(np.argmax(z))]
    return _row("u_4 negative and nearly constant over combinations", "<u_4> at the least negative N",
                worst.u, worst.u_se, worst.u_exact, verdict,
                f"{int(resolved.sum())} of {len(m)} N resolved; max spread over combinations {spread:.3g}")


def running_exponent(fit: pd.DataFrame, order: int) -> list[dict]:
    """Active-RG exponent of |<u_n>| vs sigma_w at each N of each fitted experiment, against both sign
    readings of eq. 4.6 (the paper's sigma_w scan unnamed in the claim, any other experiment named)."""
    rows = []
    for _, r in fit[fit.order == order].iterrows():
        if not np.isfinite(r.exponent):
            verdict = "below noise"
        else:
            hits = [name for name in ("paper_print", "authors_code")
                    if r.ci_low <= r[f"predicted_{name}"] <= r.ci_high]
            verdict = f"reproduced ({', '.join(hits)} reading)" if hits else "not reproduced"
        where = f"N = {int(r.N)}" + ("" if r.get("experiment", SIGMA_SCAN) == SIGMA_SCAN else f", {r.experiment}")
        rows.append(_row(f"active-RG exponent of u_{order} ({where})", f"d log|<u_{order}>| / d log sigma_w",
                         r.exponent, r.exponent_se, r.exponent_exact, verdict,
                         f"predicted {r.predicted_paper_print:+g} (paper print) or {r.predicted_authors_code:+g} "
                         f"(authors' code); {int(r.n_used)} of {int(r.n_sigma_w)} sigma_w above noise; 95% interval "
                         f"[{r.ci_low:.3g}, {r.ci_high:.3g}]"))
    return rows


def u6_small_positive(means: pd.DataFrame, experiment="sigma_scan") -> dict:
    """u_6 positive: <u_6> > Z standard errors at every point of the experiment where it is resolved."""
    m = means[(means.experiment == experiment) & (means.order == 6)]
    z = (m.u / m.u_se).to_numpy()
    resolved = np.abs(z) >= Z
    if not resolved.any():
        verdict = "below noise"
    else:
        verdict = "reproduced" if (z[resolved] > 0).all() else "not reproduced"
    mid = m.iloc[int(np.argmin(np.abs(z)))] if not resolved.any() else m[resolved].iloc[0]
    return _row("u_6 small but positive", "<u_6> (first resolved point)", mid.u, mid.u_se, mid.u_exact, verdict,
                f"{int(resolved.sum())} of {len(m)} points resolved; exact u_6 is "
                f"{'negative' if (m.u_exact < 0).all() else 'not always negative'} at every point")


COLUMNS = ["claim", "quantity", "value", "uncertainty", "exact", "verdict", "detail"]


def claims_table(dev, per_combo, means, fit, width=WIDTH_SCAN, sigma=SIGMA_SCAN) -> pd.DataFrame:
    """Every claim the config's experiments can check: those of the width scan ``width`` (m_2, m_n ~ 1/N,
    u_4 < 0), the running exponents of the flow fit, and u_6 > 0 on the sigma_w scan ``sigma``."""
    present = set(dev.experiment)
    rows = []
    if width in present:
        rows += [m2_vanishes(dev, width), scaling_slope(dev, 4, width), scaling_slope(dev, 6, width),
                 u4_negative_constant(means, per_combo, width)]
    rows += running_exponent(fit, 4) + running_exponent(fit, 6)
    if sigma in present:
        rows.append(u6_small_positive(means, sigma))
    return pd.DataFrame(rows, columns=COLUMNS)


def to_markdown(table: pd.DataFrame) -> str:
    lines = ["# The paper's claims, checked", "",
             "Generated from the tables by `nnqft.claims`; verdicts are computed, never written by hand. "
             f"Claims on the width scan need an experiment `{WIDTH_SCAN}`, u_6 > 0 one called `{SIGMA_SCAN}`; "
             "a config without them gets the other claims only.", "",
             "| claim | quantity | reproduced | ± | exact theory | verdict | detail |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in table.itertuples():
        lines.append(f"| {r.claim} | {r.quantity} | {r.value:.4g} | {r.uncertainty:.2g} | {r.exact:.4g} | "
                     f"**{r.verdict}** | {r.detail} |")
    return "\n".join(lines) + "\n"
