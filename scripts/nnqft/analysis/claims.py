"""The papers' claims, each checked from the tables with verdicts computed from the numbers.

Which claims a config gets follows its experiments' ``analyses`` (nnqft.analysis.registry.ANALYSES): ``falloff`` gives
m_2 ≈ 0 and m_n ~ 1/N for the measured orders n > 2; ``u4_negative`` and ``u6_positive`` the signs of the
couplings; ``flow_fit`` the running exponents; ``lambda_running`` and ``six_point`` HMS's quartic coupling.

Every claim answers two questions, never with one word for both:

- ``agreement``: does the measurement agree with the exact finite-width theory (is the workflow right)? Beyond one
  hidden layer of a nonlinear activation the reference is the 1/N theory (nnqft.theory.deep), and a disagreement at
  small N may be its O(1/N²) remainder (the detail says so). "agrees" or
  "disagrees", by a test whose false-alarm probability is ``ALPHA`` for the whole claim (family-wise over the
  widths, σ_W values and combinations it spans: Bonferroni, valid however they are correlated), with Student's t
  for n_bags − 1 degrees of freedom (the standard errors come from few bags). "error bars unreliable (heavy
  tails)" where the measured bag-to-bag variance is far below the exact one (nnqft.analysis.deviations.error_bars):
  there a test built on the error bars would mean nothing.
- ``statement``: does the paper's statement hold — ``statement_exact`` in the exact theory ("holds" / "fails"), and
  ``statement_measured`` in the measurement ("holds", "fails", "below noise" where the samples cannot decide, or
  "error bars unreliable (heavy tails)"). Where the statement is a test against the measurement's errors, its
  false-alarm probability is ALPHA too: a statement that holds exactly is said to fail at most that often.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .depth import depth_claims
from .deviations import UNCHECKED
from ..model import KINDS
from .outputs import output_claims
from .registry import asking, kind_of
from .stats import log_log_fit
from .training import training_claims
from .verdicts import (AGREES, ALPHA, BELOW_NOISE, COLUMNS, DISAGREES, FAILS, HOLDS, POWER_TOLERANCE, UNRELIABLE,
                       alpha_text, correlator_agreement, named, Claim, statuses, t_critical, unreliable_widths,
                       wls_slope)

#: The same for λ's local slope at the largest cutoffs against the power derived from the kernel.
LAMBDA_POWER_TOLERANCE = 0.01
#: Largest spread over combinations (std / |mean|) of "nearly constant" u_4.
MAX_SPREAD = 0.2


def m2_vanishes(dev: pd.DataFrame, falloff: pd.DataFrame, error_bars: pd.DataFrame, experiment: str) -> dict:
    """m_2 ≈ 0 at every N: G^(2) = K at every width in the exact theory (one hidden layer), and in the measurement
    every combination's (Ḡ^(2) − K) / se within the Bonferroni t bound. HMS's own criterion, <|m_2|> below the
    background at every N, is in the detail (it is not a test: its false-alarm rate depends on n_bags)."""
    d = dev[(dev.experiment == experiment) & (dev.order == 2)]
    agreement, detail, n_tests = correlator_agreement(dev, error_bars, experiment, 2)
    exact_ok = (d.m_exact.abs() <= 1e-12).all()
    vanishes, _, _ = correlator_agreement(dev, error_bars, experiment, 2, reference="g0")
    measured = {AGREES: HOLDS, DISAGREES: FAILS}.get(vanishes, UNRELIABLE)
    by_n = falloff[(falloff.experiment == experiment) & (falloff.order == 2)].set_index("N").sort_index()
    ratio = by_n.m / by_n.background
    worst = ratio.idxmax()
    return Claim(named("m_2 ≈ 0 at every N", experiment), "max over N of <|m_2|> (at the worst N)", by_n.m.max(),
                by_n.se[by_n.m.idxmax()], by_n.m_exact.max(), agreement, HOLDS if exact_ok else FAILS, measured,
                alpha_text(n_tests, d.n_bags.iloc[0], "widths and combinations"),
                f"{detail}; HMS's criterion <|m_2|> / background: max {ratio[worst]:.3g} at N = {worst} "
                f"({'below' if (ratio < 1).all() else 'not below'} the background at every N)").row()


def scaling_slope(dev: pd.DataFrame, falloff: pd.DataFrame, error_bars: pd.DataFrame, order: int,
                  experiment: str) -> dict:
    """m_n = O(1/N). Agreement: the measured G^(n) against the exact theory (:func:`correlator_agreement`). The
    statement is judged on the widths where <|m_n|> is resolved (the exact m_n beyond the Bonferroni t bound
    times its standard error, so that the noise's upward bias of a mean of |m| is small) and the error bars are
    not unreliable: in the measurement, the weighted least-squares slope of log <|m_n|> vs log N there within the
    t bound times its standard error plus POWER_TOLERANCE of −1 (below noise with fewer than two such widths);
    in the exact theory, the exact slope over the same widths (over the two largest widths where fewer than two
    are resolved: a large-N statement) within POWER_TOLERANCE of −1. At small N, m_6's 1/N² part can dominate."""
    agreement, detail, n_tests = correlator_agreement(dev, error_bars, experiment, order)
    f = falloff[(falloff.experiment == experiment) & (falloff.order == order)].set_index("N").sort_index()
    n_bags = int(f.n_bags.iloc[0])
    status = statuses(error_bars, experiment, order).droplevel("sigma_w").reindex(f.index)
    crit = t_critical(n_bags, len(f))
    resolved = f.m_exact > crit * f.se
    usable = resolved & (status != UNRELIABLE)
    where = f.index[usable] if usable.sum() >= 2 else f.index[-2:]
    exact_slope = log_log_fit(where.to_numpy(dtype=float), f.m_exact[where].to_numpy())[0]
    which = "resolved" if usable.sum() >= 2 else "none resolved: the two largest"
    slope = slope_se = np.nan
    if usable.sum() < 2:
        measured = UNRELIABLE if (resolved & (status == UNRELIABLE)).any() else BELOW_NOISE
    else:
        g = f[usable]
        slope, slope_se = wls_slope(np.log(g.index.to_numpy(dtype=float)), np.log(g.m.to_numpy()),
                                    g.se.to_numpy() / g.m.to_numpy())
        bound = t_critical(n_bags, 1) * slope_se + POWER_TOLERANCE
        measured = HOLDS if abs(slope + 1) <= bound else FAILS
    return Claim(named(f"m_{order} scales as 1/N", experiment), f"slope of log<|m_{order}|> vs log N (resolved N)",
                slope, slope_se, exact_slope, agreement,
                HOLDS if abs(exact_slope + 1) <= POWER_TOLERANCE else FAILS, measured,
                alpha_text(n_tests, n_bags, "widths and combinations"),
                f"{detail}; slopes over N = {where.tolist()} ({which}) compared with −1 ± {POWER_TOLERANCE:g}").row()

def _sign_claim(means, error_bars, experiment, order, sign):
    """Shared by the two sign claims: (rows, agreement, measured, resolved, n_tests)."""
    m = means[(means.experiment == experiment) & (means.order == order)].copy()
    m["status"] = [statuses(error_bars, experiment, order).get((sw, n), UNCHECKED)
                   for sw, n in zip(m.sigma_w, m.N)]
    ok = m[m.status != UNRELIABLE]
    n_bags = int(m.n_bags.iloc[0])
    crit = t_critical(n_bags, max(len(ok), 1))
    if ok.empty:
        return m, UNRELIABLE, UNRELIABLE, ok, 0
    agreement = AGREES if ((ok.u - ok.u_exact).abs() <= crit * ok.u_se).all() else DISAGREES
    z = ok.u / ok.u_se
    resolved = ok[z.abs() > crit]
    if resolved.empty:
        measured = BELOW_NOISE
    else:
        measured = HOLDS if (np.sign(resolved.u) == sign).all() else FAILS
    return m, agreement, measured, resolved, len(ok)


def u4_negative_constant(means: pd.DataFrame, per_combo: pd.DataFrame, error_bars: pd.DataFrame,
                         experiment: str, max_spread=MAX_SPREAD) -> dict:
    """u_4 negative at every point and nearly constant over combinations (spread std / |mean| below
    ``max_spread``). Agreement: (<u_4> − exact) / jackknife se within the Bonferroni t bound at every point whose
    4-point error bars are not unreliable. Statement in the exact theory: negative and nearly constant. In the
    measurement: every point where <u_4> is resolved (beyond the same bound) is negative; below noise where none
    is. The measured spread is in the detail but is no test: noise inflates it (a synthetic test showed an 11%
    false-alarm rate when it was one)."""
    m, agreement, measured, resolved, n_tests = _sign_claim(means, error_bars, experiment, 4, -1)
    pc = per_combo[(per_combo.experiment == experiment) & (per_combo.order == 4)]
    spread = pc.groupby(["sigma_w", "N"]).u.agg(lambda s: s.std() / abs(s.mean())).max()
    spread_exact = pc.groupby(["sigma_w", "N"]).u_exact.agg(lambda s: s.std() / abs(s.mean())).max()
    exact_ok = (m.u_exact < 0).all() and spread_exact < max_spread
    worst = m.iloc[int(np.argmax((m.u / m.u_se).to_numpy()))]
    return Claim(named("u_4 negative and nearly constant over combinations", experiment),
                "<u_4> at the least negative point", worst.u, worst.u_se, worst.u_exact, agreement,
                HOLDS if exact_ok else FAILS, measured, alpha_text(n_tests, m.n_bags.iloc[0], "points"),
                f"{len(resolved)} of {len(m)} points resolved; {int((m.status == UNRELIABLE).sum())} with "
                f"unreliable error bars left out; max spread over combinations {spread:.3g} (exact "
                f"{spread_exact:.3g})").row()


def u6_small_positive(means: pd.DataFrame, error_bars: pd.DataFrame, experiment: str) -> dict:
    """u_6 positive at every point: as :func:`u4_negative_constant` for the sign (6-point error bars)."""
    m, agreement, measured, resolved, n_tests = _sign_claim(means, error_bars, experiment, 6, +1)
    mid = resolved.iloc[0] if len(resolved) else m.iloc[int(np.argmin(np.abs((m.u / m.u_se).to_numpy())))]
    return Claim(named("u_6 small but positive", experiment), "<u_6> (first resolved point)", mid.u,
                mid.u_se, mid.u_exact, agreement, HOLDS if (m.u_exact > 0).all() else FAILS, measured,
                alpha_text(n_tests, m.n_bags.iloc[0], "points"),
                f"{len(resolved)} of {len(m)} points resolved; {int((m.status == UNRELIABLE).sum())} with "
                f"unreliable error bars left out; exact u_6 "
                f"{'negative' if (m.u_exact < 0).all() else 'not of one sign' if (m.u_exact <= 0).any() else 'positive'}"
                f" at every point").row()


def running_exponent(fit: pd.DataFrame, order: int, error_bars: pd.DataFrame, n_bags: dict) -> list[dict]:
    """Active-RG exponent of |<u_n>| vs sigma_w at each N of each fitted experiment, against both sign readings of
    eq. 4.6. Agreement: the fitted exponent against the exact theory's within the t bound times its jackknife
    error. Statement: which readings lie within POWER_TOLERANCE of the exact exponent (exact theory), or inside
    the measured exponent's t interval widened by POWER_TOLERANCE (measurement). Error bars unreliable if the
    order-n correlators of that N are, at any sigma_w of the scan. ``n_bags``: per experiment."""
    rows = []
    for _, r in fit[fit.order == order].iterrows():
        name = r.experiment
        readings = {"paper print": r.predicted_paper_print, "authors' code": r.predicted_authors_code}
        near_exact = [k for k, v in readings.items() if abs(r.exponent_exact - v) <= POWER_TOLERANCE]
        unreliable = int(r.N) in unreliable_widths(error_bars, name, order)
        t = t_critical(n_bags[name], 1)
        if unreliable:
            agreement = measured = UNRELIABLE
        elif not np.isfinite(r.exponent):
            agreement, measured = "not tested (below noise)", BELOW_NOISE
        else:
            agreement = AGREES if abs(r.exponent - r.exponent_exact) <= t * r.exponent_se else DISAGREES
            hits = [k for k, v in readings.items() if abs(r.exponent - v) <= t * r.exponent_se + POWER_TOLERANCE]
            measured = f"{HOLDS} ({', '.join(hits)} reading)" if hits else FAILS
        where = f"N = {int(r.N)}, {name}"
        rows.append(Claim(f"active-RG exponent of u_{order} ({where})", f"d log|<u_{order}>| / d log sigma_w",
                         r.exponent, r.exponent_se, r.exponent_exact, agreement,
                         f"{HOLDS} ({', '.join(near_exact)} reading)" if near_exact else FAILS, measured,
                         f"{ALPHA:.0%} (one test; t, {int(n_bags[name]) - 1} dof)",
                         f"predicted {r.predicted_paper_print:+g} (paper print) or {r.predicted_authors_code:+g} "
                         f"(authors' code); {int(r.n_used)} of {int(r.n_sigma_w)} sigma_w above noise; "
                         f"{(1 - ALPHA):.0%} interval ±{t * r.exponent_se:.3g}").row())
    return rows


def lambda_runs(slope: pd.DataFrame, lam: pd.DataFrame, error_bars: pd.DataFrame, experiment: str,
                ngp_width: int) -> dict:
    """HMS: λ runs with the cutoff, as Λ^p with p derived from the kernel (nnqft.theory.cutoff.asymptotic_slope: ReLU
    −(d_in + 4), Erf −d_in, GaussNet 0 in HMS's convention: it does not run). What the samples can decide: only
    λ̄'s sign and scale (ΔG^(4)); the running is the integrals'. So: agreement is λ̄ at the smallest cutoff
    against the exact theory (t test); the statement holds in the exact theory if its slope between the two
    largest cutoffs is within LAMBDA_POWER_TOLERANCE of p, and in the measurement if moreover λ̄ is resolved
    (below noise otherwise). The slopes over all cutoffs (of log|λ̄|, and HMS's pooled one, which the samples
    cannot move at all) are in the detail."""
    r = slope[(slope.experiment == experiment) & (slope.N == ngp_width)].iloc[0]
    sel = lam[(lam.experiment == experiment) & (lam.N == ngp_width)].sort_values("cutoff")
    first = sel.iloc[0]
    n_bags = int(r.n_bags)
    crit = t_critical(n_bags, 1)
    unreliable = int(ngp_width) in unreliable_widths(error_bars, experiment, 4)
    exact_ok = abs(r.slope_local_exact - r.slope_asymptotic) <= LAMBDA_POWER_TOLERANCE
    if unreliable:
        agreement = measured = UNRELIABLE
    else:
        agreement = AGREES if abs(first["lambda"] - first.lambda_exact) <= crit * first.lambda_se else DISAGREES
        if abs(first["lambda"]) <= crit * first.lambda_se:
            measured = BELOW_NOISE
        else:
            measured = HOLDS if exact_ok else FAILS
    power = "does not run (Λ^0)" if r.slope_asymptotic == 0 else f"runs as Λ^{r.slope_asymptotic:+g}"
    return Claim(f"lambda {power} ({experiment}, N = {ngp_width}, {r.convention} convention)",
                f"lambda at the smallest cutoff ({first.cutoff:g})", first["lambda"], first.lambda_se,
                first.lambda_exact, agreement, HOLDS if exact_ok else FAILS, measured,
                f"{ALPHA:.0%} (one test; t, {n_bags - 1} dof)",
                f"the samples set λ̄'s sign and scale, the integrals its running; exact local slope at the largest "
                f"cutoffs {r.slope_local_exact:.4g} against {r.slope_asymptotic:+g}; slope of log|λ̄| over the "
                f"cutoffs {r.slope:.4g} ± {r.slope_se:.2g} (exact {r.slope_exact:.4g}); HMS's pooled slope "
                f"{r.slope_pooled:.4g} (exact {r.slope_pooled_exact:.4g}: ΔG^(4) drops out of it)").row()

def six_point_closer(six: pd.DataFrame, dev: pd.DataFrame, falloff: pd.DataFrame, error_bars: pd.DataFrame, *,
                     experiment: str, ngp_width: int) -> dict:
    """HMS: adding the λ̄ term brings the 6-point prediction closer to the measurement at the NGP width:
    |(G_GP + T_λ)/G − 1| < |G_GP/G − 1| (means over combinations) at every cutoff. Agreement: the measured G^(6)
    at the NGP width against the exact theory (:func:`correlator_agreement`). Statement: with the exact G^(6) (exact
    theory) and with the measured one (measurement; below noise where the 6-point deviation is not resolved
    there: no <|m_6|> beyond the t bound; the ratios carry no error bar of their own, so this part is no test)."""
    sel = six[(six.experiment == experiment) & (six.N == ngp_width)]
    fall = falloff[(falloff.experiment == experiment) & (falloff.N == ngp_width) & (falloff.order == 6)]
    agreement, detail, n_tests = correlator_agreement(dev, error_bars, experiment, 6, N=ngp_width)
    off_gp = (sel.gp_over_measured - 1).abs()
    off_lam = (sel.gp_lambda_over_measured - 1).abs()
    closer = int((off_lam < off_gp).sum())
    exact_closer = int(((sel.gp_lambda_over_exact - 1).abs() < (sel.gp_over_exact - 1).abs()).sum())
    n_bags = int(fall.n_bags.iloc[0]) if len(fall) else 2
    if agreement == UNRELIABLE:
        measured = UNRELIABLE
    elif fall.empty or not (fall.m > t_critical(n_bags, 1) * fall.se).any():
        measured = BELOW_NOISE
    else:
        measured = HOLDS if closer == len(sel) else FAILS
    worst = sel.iloc[int(np.argmax((off_lam - off_gp).to_numpy()))]
    return Claim(f"lambda brings the 6-point prediction closer ({experiment}, N = {ngp_width}, "
                f"{sel.convention.iloc[0]} convention)",
                "(G_GP + lambda term) / G_measured at the least favourable cutoff", worst.gp_lambda_over_measured,
                np.nan, worst.gp_lambda_over_exact, agreement, HOLDS if exact_closer == len(sel) else FAILS, measured,
                alpha_text(n_tests, n_bags, "combinations") + " for the agreement; the statement is no test",
                f"{detail}; closer at {closer} of {len(sel)} cutoffs (exact G^(6): {exact_closer}); without lambda "
                f"G_GP / G_measured = {worst.gp_over_measured:.4g} there (cutoff {worst.cutoff:g})").row()


def claims_table(frames: dict[str, pd.DataFrame], experiments: dict) -> pd.DataFrame:
    """Every claim the config's experiments ask for in their ``analyses`` (nnqft.analysis.registry.ANALYSES);
    ``frames``: the analysis tables by name (deviations, error_bars, hms_falloff, hms_lambda, hms_lambda_slope, hms_six_point,
    couplings, coupling_means, flow_fit), ``experiments``: the complete experiments (name -> nnqft.model.Experiment).
    Falloff and u_4 claims first, then HMS's λ claims, the depth scans' claims (``frames["depth_running"]``), the
    running exponents of the flow fit, and u_6 > 0. Claims of an order the config does not measure are left out. Then
    the trained experiments' claims (``frames["training"]``, ``frames["training_fit"]``: nnqft.analysis.training) and
    those of several outputs (``frames["outputs"]``: nnqft.analysis.outputs)."""
    of = {kind: {n: e for n, e in experiments.items() if kind_of(e) == kind} for kind in KINDS}
    rows = _untrained_claims(frames, of["untrained"]) if of["untrained"] else []
    if of["trained"]:
        rows += training_claims(frames["training"], frames["training_fit"], of["trained"])
    if of["outputs"]:
        rows += output_claims(frames["outputs"], of["outputs"])
    return pd.DataFrame(rows, columns=COLUMNS)


def _untrained_claims(frames: dict[str, pd.DataFrame], experiments: dict) -> list[dict]:
    dev, bars, falloff = frames["deviations"], frames["error_bars"], frames["hms_falloff"]
    means, per_combo = frames["coupling_means"], frames["couplings"]
    orders = sorted(set(dev.order))
    rows = []
    for name, exp in experiments.items():
        wanted = exp.analyses
        mine = []
        if "falloff" in wanted:
            mine.append(m2_vanishes(dev, falloff, bars, name))
            mine += [scaling_slope(dev, falloff, bars, order, name) for order in orders if order > 2]
        if "u4_negative" in wanted:
            mine.append(u4_negative_constant(means, per_combo, bars, name))
        if "lambda_running" in wanted:
            mine.append(lambda_runs(frames["hms_lambda_slope"], frames["hms_lambda"], bars, name, exp.ngp_width))
        if "six_point" in wanted:
            mine.append(six_point_closer(frames["hms_six_point"], dev, falloff, bars, experiment=name,
                                         ngp_width=exp.ngp_width))
        rows += [{**row, "depth": str(exp.depth)} for row in mine]
    if "depth_running" in frames:
        rows += depth_claims(frames["depth_running"], dev, bars, experiments)
    n_bags = {name: exp.n_bags for name, exp in experiments.items()}
    for order in (4, 6):
        if order in orders:
            rows += running_exponent(frames["flow_fit"], order, bars, n_bags)
    if 6 in orders:
        rows += [u6_small_positive(means, bars, name) for name in asking(experiments, "u6_positive")]
    return rows


def to_markdown(table: pd.DataFrame) -> str:
    lines = ["# The papers' claims, checked", "",
             "Generated from the tables by `nnqft.analysis.claims`; verdicts are computed, never written by hand. Which "
             "claims are checked follows the `analyses` of the config's experiments (README). Two questions, two "
             "answers: *agreement* — does the measurement agree with the exact finite-width theory (is the "
             "workflow right)? *statement* — does the paper's statement hold, in the exact theory and in the "
             "measurement? The false-alarm column says how often a test says \"disagrees\" (or a statement that "
             "holds exactly \"fails\") by chance.", "",
             "| claim | depth | quantity | measured | ± | theory | agreement | statement (theory) | "
             "statement (measured) | false alarm | detail |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    def cell(text) -> str:  # a | inside a cell would end it
        return str(text).replace("|", "\\|")

    for r in table.itertuples():
        lines.append(f"| {cell(r.claim)} | {r.depth} | {cell(r.quantity)} | {r.value:.4g} | {r.uncertainty:.2g} | {r.exact:.4g} | "
                     f"**{r.agreement}** | {r.statement_exact} | **{r.statement_measured}** | {r.false_alarm} | "
                     f"{cell(r.detail)} |")
    return "\n".join(lines) + "\n"
