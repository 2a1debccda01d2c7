"""HMS's local quartic coupling λ and its running with the cutoff, and their 6-point prediction
(docs/science.md §8)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import combos, theory
from ..theory import couplings, cutoff
from .deviations import at_point, exact_point, experiment_rows, point_bags, point_columns, point_label
from .registry import asking
from .stats import jackknife_se, log_log_fit


@dataclass(frozen=True)
class LambdaConvention:
    """A definition of HMS's quartic coupling: λ(x_1..x_4; Λ) = sign · ΔG^(4) / (24 I_4(Λ)) with I_4 the integral
    over [−Λ, Λ]^d_in of Π_i k(y, x_i) (nnqft.theory.cutoff, ``kernel``: "w" for K − σ_b², "full" for K), and the 6-point
    term T_λ = sign · 24 λ̄ Σ_15 I_4(four) k(x_a, x_b) with the same k on the external pair."""

    name: str
    kernel: str
    sign: int
    meaning: str

    def pair_kernel(self, K, sigma_b: float):
        """The kernel on the 6-point term's external pair: K − σ_b² or K."""
        return K - sigma_b**2 if self.kernel == "w" else K


#: The definitions of HMS's quartic coupling an experiment may choose (``lambda_convention``), by name.
LAMBDA_CONVENTIONS = {
    "hms": LambdaConvention("hms", "w", +1, "HMS's code: λ = +ΔG^(4) / (24 ∫ Π K_EFT), K_EFT = K − σ_b² (the W-part) at "
                                            "the vertex and on the 6-point term's external pair"),
    "full_kernel": LambdaConvention("full_kernel", "full", -1, "λ = −ΔG^(4) / (24 ∫ Π K), the tree-level sign of "
                                                               "S = S_GP + ∫ λ f⁴, the full K everywhere"),
}

def _points(corr, experiments: dict, analysis: str):
    """(experiment, model, λ convention, bags: :func:`nnqft.analysis.deviations.point_bags`) for every point of the
    experiments that ask for ``analysis``, in the order of (experiment, σ_b, σ_W, N)."""
    wanted = asking(experiments, analysis)
    if not wanted:
        return
    for (name, _, sw, N), bags in point_bags(experiment_rows(corr, wanted), wanted):
        exp = wanted[name]
        yield exp, exp.model(sw, N), LAMBDA_CONVENTIONS[exp.lambda_convention], bags


INTEGRAL_COLUMNS = ["experiment", "activation", "d_in", "depth", "estimator", "sigma_b", "sigma_w", "convention",
                    "combo", "cutoff", "i4"]


def integral_table(experiments: dict, cutoffs) -> pd.DataFrame:
    """HMS's cutoff integrals I_4(Λ) (nnqft.theory.cutoff.integrals, in the experiment's λ convention's kernel) of
    every 4-point multiset (``combo``) at every σ_W and cutoff of the experiments with the ``lambda_running`` or
    ``six_point`` analysis: the cubature computed once, read by the 6-point table."""
    cutoffs = np.asarray(cutoffs, dtype=float)
    wanted = {**asking(experiments, "lambda_running"), **asking(experiments, "six_point")}
    parts = []
    for name in sorted(wanted):
        exp = wanted[name]
        conv = LAMBDA_CONVENTIONS[exp.lambda_convention]
        labels = [combos.combo_label(c) for c in cutoff.four_point_multisets(len(exp.points))]
        for sigma_w in exp.sigma_w:
            i4 = cutoff.integrals(exp.model(sigma_w, exp.N[0]), cutoffs, kernel=conv.kernel)  # [combo, cutoff]
            parts.append(pd.DataFrame({
                "experiment": name, "activation": exp.activation, "d_in": exp.d_in, "depth": exp.depth,
                "estimator": exp.estimator, "sigma_b": exp.sigma_b, "sigma_w": sigma_w, "convention": conv.name,
                "combo": np.repeat(labels, len(cutoffs)), "cutoff": np.tile(cutoffs, len(labels)), "i4": i4.ravel()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=INTEGRAL_COLUMNS)


def integrals_of(table: pd.DataFrame, experiment: str, model, cutoffs) -> np.ndarray:
    """I_4 [4-point multiset (canonical order), cutoff] of one experiment and σ's from :func:`integral_table`'s table."""
    sel = table[at_point(table, experiment, model, by_N=False)]
    labels = [combos.combo_label(c) for c in cutoff.four_point_multisets(len(model.points))]
    wide = sel.pivot(index="combo", columns="cutoff", values="i4")
    if len(sel) != len(labels) * len(cutoffs):
        raise ValueError(f"the integral table lacks experiment {experiment} at σ_W = {model.sigma_w}")
    return wide.loc[labels, list(cutoffs)].to_numpy()


def _models(experiments: dict, analysis: str):
    """(experiment, model) for every point of the experiments that ask for ``analysis``, in the order of
    (experiment, σ_b, σ_W, N), as :func:`_points` gives them."""
    wanted = asking(experiments, analysis)
    for name in sorted(wanted):
        exp = wanted[name]
        for sigma_w in sorted(exp.sigma_w):
            for N in sorted(exp.N):
                yield exp, exp.model(sigma_w, N)


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
    """HMS's quartic coupling λ(x_1..x_4; Λ) in each experiment's ``lambda_convention`` (:class:`LambdaConvention`;
    default HMS's: +ΔG^(4) / (24 ∫_{[−Λ,Λ]^d_in} Π (K − σ_b²))), for the experiments with the ``lambda_running``
    analysis, at every point and cutoff.

    Returns (lambda, slope). ``lambda``: λ̄, the mean over the 4-point combinations whose integrand keeps one sign
    (nnqft.theory.cutoff.one_signed: all of them but Erf's W-part products with a point an odd number of times, whose
    I_4 can cross zero and give λ a pole in Λ; ``n_combos`` says how many), with its standard error over bags
    (λ̄ is linear in the bag means) and ``lambda_exact`` from the exact G^(4). ``slope`` per point: the slope of
    log|λ̄| vs log Λ over the cutoffs with its jackknife standard error over bags and the exact theory's;
    HMS's ``slope_pooled`` (:func:`pooled_slope`) and its exact value; ``slope_local_exact``, the exact λ̄'s
    slope between the two largest cutoffs; and ``slope_asymptotic``, the large-Λ power derived from the kernel
    (nnqft.theory.cutoff.asymptotic_slope). Only the sign and scale of λ̄(Λ) come from the samples (ΔG^(4)); how it runs
    with Λ is the integrals', up to how the combinations' ΔG^(4) weight their different I_4(Λ) — and HMS's pooled
    slope does not depend on the samples at all (ΔG^(4) drops out of each per-combination slope).
    """
    cutoffs = np.asarray(cutoffs, dtype=float)
    lam_rows, slope_rows = [], []
    for exp, model, conv, bags in _points(corr, experiments, "lambda_running"):
        used = cutoff.one_signed(model, kernel=conv.kernel)
        i4 = cutoff.integrals(model, cutoffs, kernel=conv.kernel)[used]
        values, _ = bags[4]
        g_exact, g0 = exact_point(model, 4)
        scale = conv.sign / (24 * i4)  # [combo, cutoff]
        per_bag = ((values - g0)[:, used, None] * scale[None]).mean(axis=1)  # [bag, cutoff]
        n_bags = len(per_bag)
        lam = per_bag.mean(axis=0)
        exact_combo = (g_exact - g0)[used, None] * scale
        exact_lam = exact_combo.mean(axis=0)
        label = point_label(exp, model, ngp=True)
        lam_rows.append(pd.DataFrame({**label, "convention": conv.name, "n_combos": int(used.sum()),
                                      "cutoff": cutoffs, "lambda": lam,
                                      "lambda_se": per_bag.std(axis=0, ddof=1) / np.sqrt(n_bags),
                                      "lambda_exact": exact_lam}))
        loo = (lam * n_bags - per_bag) / (n_bags - 1)
        loo_slopes = np.array([log_log_fit(cutoffs, v)[0] for v in loo])
        measured_combo = (values.mean(axis=0) - g0)[used, None] * scale
        slope_rows.append({**label, "convention": conv.name, "slope": log_log_fit(cutoffs, lam)[0],
                           "slope_se": float(jackknife_se(loo_slopes)),
                           "slope_exact": log_log_fit(cutoffs, exact_lam)[0],
                           "slope_pooled": pooled_slope(cutoffs, measured_combo),
                           "slope_pooled_exact": pooled_slope(cutoffs, exact_combo),
                           "slope_local_exact": log_log_fit(cutoffs[-2:], exact_lam[-2:])[0],
                           "slope_asymptotic": cutoff.asymptotic_slope(model.activation, model.d_in,
                                                                       kernel=conv.kernel)})
    lam_table = pd.concat(lam_rows, ignore_index=True) if lam_rows else pd.DataFrame(columns=LAMBDA_COLUMNS)
    return lam_table, pd.DataFrame(slope_rows, columns=SLOPE_COLUMNS)


LABEL_COLUMNS = ["experiment", "activation", "d_in", "depth", "estimator", "sigma_b", "sigma_w", "N", "n_bags",
                 "ngp_width"]
LAMBDA_COLUMNS = LABEL_COLUMNS + ["convention", "n_combos", "cutoff", "lambda", "lambda_se", "lambda_exact"]
SLOPE_COLUMNS = LABEL_COLUMNS + ["convention", "slope", "slope_se", "slope_exact", "slope_pooled", "slope_pooled_exact",
                                 "slope_local_exact", "slope_asymptotic"]
SIX_POINT_COLUMNS = LABEL_COLUMNS + ["convention", "cutoff", "gp_over_measured", "gp_lambda_over_measured",
                                     "gp_over_exact", "gp_lambda_over_exact"]


def six_point_tables(frames: dict, experiments: dict, cutoffs) -> pd.DataFrame:
    """HMS's 6-point prediction for the experiments with the ``six_point`` analysis, per point and cutoff: the
    means over every 6-point combination of G_GP^(6) / Ḡ^(6) and (G_GP^(6) + T_λ) / Ḡ^(6), and the same with the
    exact G^(6) in place of the measured Ḡ^(6). T_λ = sign · 24 λ̄(Λ) Σ over the 15 ways to split the six points
    into four at the vertex and a pair (a, b) of I_4(four; Λ) k(x_a, x_b), in the experiment's λ convention
    (:class:`LambdaConvention`: HMS's W-part at the vertex and on the pair, or the full K; the sign makes T_λ the
    first-order term of the vertex that defines λ); λ̄ is the measured mean over 4-point combinations (``lam``,
    from :func:`lambda_tables`); Ḡ^(6), the exact G^(6) and G_0^(6) are the deviations table's (its ``g_mean``,
    ``g_exact`` and ``g0``, computed there once), the I_4 the integral table's (:func:`integral_table`).
    ``frames``: the tables hms_lambda, deviations and hms_integrals. Unlike HMS's script, every multiset enters the
    means and every split is the right one (docs/science.md §8)."""
    cutoffs = np.asarray(cutoffs, dtype=float)
    lam, dev = frames["hms_lambda"], frames["deviations"]
    out = []
    for exp, model in _models(experiments, "six_point"):
        conv = LAMBDA_CONVENTIONS[exp.lambda_convention]
        i4 = integrals_of(frames["hms_integrals"], exp.name, model, cutoffs)
        pair_k = conv.pair_kernel(theory.of(model).K, model.sigma_b)
        split_idx, split_k = couplings.six_point_splits(pair_k)  # [combo6, 15]
        measured, g_exact, g0 = point_columns(dev, exp.name, model, 6, columns=("g_mean", "g_exact", "g0"))
        sel = lam[at_point(lam, exp.name, model)]
        lam_bar = sel.set_index("cutoff")["lambda"].reindex(cutoffs).to_numpy()
        term = conv.sign * 24 * lam_bar[None, :] * np.einsum("cs,csl->cl", split_k, i4[split_idx])  # [combo6, cutoff]
        with_lam = g0[:, None] + term
        out.append(pd.DataFrame({**point_label(exp, model, ngp=True), "convention": conv.name,
                                 "cutoff": cutoffs,
                                 "gp_over_measured": np.mean(g0 / measured),
                                 "gp_lambda_over_measured": (with_lam / measured[:, None]).mean(axis=0),
                                 "gp_over_exact": np.mean(g0 / g_exact),
                                 "gp_lambda_over_exact": (with_lam / g_exact[:, None]).mean(axis=0)}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=SIX_POINT_COLUMNS)
