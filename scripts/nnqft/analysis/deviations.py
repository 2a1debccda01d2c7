"""From the gathered correlator table to the deviations from the Gaussian process, their exact values and errors,
whether the error bars can be trusted, and HMS's falloff (docs/science.md §2, §5, §8).

Every function takes pandas DataFrames and the complete experiments (name -> :class:`nnqft.model.Experiment`)
and returns a DataFrame; nothing reads files. Each experiment uses its own points and its first ``n_bags`` bags
of each point.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import chain

import numpy as np
import pandas as pd

from .. import combos, theory
from ..model import Model
from .stats import folded_normal_mean

POINT_KEYS = ["sigma_b", "sigma_w", "N"]


def experiment_rows(corr: pd.DataFrame, experiments: dict, columns=None) -> pd.DataFrame:
    """The rows of every experiment (its ensemble and points, its first n_bags bags), with an ``experiment``
    column; ``columns``: only these of the table's (the copies of its long string columns are most of the time)."""
    if "depth" not in corr.columns:  # a table from before networks had a depth: one hidden layer
        corr = corr.assign(depth=1)
    parts = []
    for name, exp in experiments.items():
        ens = exp.ensemble
        sel = (corr.activation == ens.activation) & (corr.points == ens.points_json) & (corr.n_nets == ens.n_nets)
        sel &= corr.depth == ens.depth
        sel &= corr.estimator == ens.estimator  # one estimator per experiment: never mixed
        sel &= (corr.sigma_b == exp.sigma_b) & corr.sigma_w.isin(list(exp.sigma_w))
        sel &= corr.N.isin(list(exp.N)) & (corr.bag < exp.n_bags)
        if "training" in corr.columns:  # a trained correlator table (nnqft.analysis.training)
            sel &= corr.training == (ens.training.training_id if ens.training is not None else "")
        if "d_out" in corr.columns:  # a table of several outputs (nnqft.analysis.outputs)
            sel &= corr.d_out == ens.d_out
        part = corr.loc[sel, list(columns) if columns is not None else corr.columns]  # a copy: a boolean mask
        bags = part.groupby(POINT_KEYS).bag.nunique()
        if len(bags) != len(exp.sigma_w) * len(exp.N) or (bags != exp.n_bags).any():
            raise ValueError(f"experiment {name}: the correlator table lacks some of its points or bags")
        part.insert(0, "experiment", name)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def point_bags(rows: pd.DataFrame, experiments: dict):
    """The bag values of every point of ``rows`` (:func:`experiment_rows`): yields ((experiment, σ_b, σ_W, N), bags),
    points in ascending order of those keys, where ``bags[order]`` = (float[n_bags, n_combos], labels): bags
    ascending, combinations in canonical order (:func:`nnqft.combos.multisets` of the experiment's points).

    One sort of the whole table instead of a pivot per point and order. The matrices are C-ordered, as pandas'
    pivot made them: numpy sums a contiguous axis pairwise and a strided one in sequence, so the layout fixes the bits
    of the means and standard deviations over bags."""
    combo_code, labels = pd.factorize(rows["combo"].to_numpy())
    combo_tuples = [combos.parse_combo(str(label)) for label in labels]
    lexicographic = np.empty(len(labels), dtype=np.int64)  # the canonical order of combinations of one length
    lexicographic[sorted(range(len(labels)), key=combo_tuples.__getitem__)] = np.arange(len(labels))
    exp_code, names = pd.factorize(rows["experiment"].to_numpy(), sort=True)
    columns = {c: rows[c].to_numpy() for c in ("sigma_b", "sigma_w", "N", "order", "bag", "value")}
    # np.lexsort: the last key is the primary one
    sort = np.lexsort((lexicographic[combo_code], columns["bag"], columns["order"], columns["N"], columns["sigma_w"],
                       columns["sigma_b"], exp_code))
    keys = [exp_code[sort], columns["sigma_b"][sort], columns["sigma_w"][sort], columns["N"][sort]]
    order = columns["order"][sort]
    new_point = np.zeros(len(sort), dtype=bool)
    new_point[0:1] = True
    for key in keys:
        new_point[1:] |= key[1:] != key[:-1]
    new_block = new_point.copy()
    new_block[1:] |= order[1:] != order[:-1]
    points, blocks = np.flatnonzero(new_point), np.append(np.flatnonzero(new_block), len(sort))
    values, bag, combo = columns["value"][sort], columns["bag"][sort], combo_code[sort]
    canonical: dict[tuple[int, int], list[str]] = {}  # (points, order) -> the labels in canonical order
    b = 0
    for p, start in enumerate(points):
        end = points[p + 1] if p + 1 < len(points) else len(sort)
        name = names[keys[0][start]]
        n_points = len(experiments[name].points)
        bags = {}
        while blocks[b] < end:
            lo, hi = blocks[b], blocks[b + 1]
            n = int(order[lo])
            if (n_points, n) not in canonical:
                canonical[n_points, n] = [combos.combo_label(c) for c in combos.multisets(n_points, n)]
            want = canonical[n_points, n]
            n_bags = (hi - lo) // len(want)
            block_bags = bag[lo:hi].reshape(-1, len(want)) if n_bags * len(want) == hi - lo else None
            if (block_bags is None or (block_bags != block_bags[:, :1]).any()
                    or len(np.unique(block_bags[:, 0])) != n_bags
                    or (labels[combo[lo:hi]].reshape(n_bags, -1) != np.array(want, dtype=object)).any()):
                raise ValueError(f"experiment {name}: the correlator table's order-{n} rows at σ_W = "
                                 f"{keys[2][start]:g}, N = {keys[3][start]} are not every combination once per bag")
            bags[n] = (values[lo:hi].reshape(n_bags, len(want)), want)
            b += 1
        yield (name, keys[1][start], keys[2][start], keys[3][start]), bags


#: What the ``g_exact`` column holds (the ``theory`` column of the deviations table).
EXACT, ORDER_1_OVER_N = "exact", "order 1/N"


def theory_kind(model: Model) -> str:
    """EXACT where the model's theory (:func:`nnqft.theory.of`) is exact at every N (one hidden layer, or linear
    networks), else ORDER_1_OVER_N."""
    return EXACT if theory.of(model).exact else ORDER_1_OVER_N


def exact_point(model: Model, order: int):
    """Exact G^(n), Wick G_0^(n) for every combination of one order at one point."""
    return _exact_point(model.at(n_nets=1, estimator="plain"), int(order))


@lru_cache(maxsize=None)
def _exact_point(model: Model, order: int):
    th = theory.of(model)
    return th.correlators(combos.multisets(len(th.points), order), model.N)


def at_point(table: pd.DataFrame, experiment: str, model: Model, *, by_N: bool = True) -> pd.Series:
    """The rows of an analysis table that belong to one experiment and point (σ_b, σ_W and, with ``by_N``, N)."""
    sel = (table.experiment == experiment) & (table.sigma_b == model.sigma_b) & (table.sigma_w == model.sigma_w)
    return sel & (table.N == model.N) if by_N else sel


def point_columns(dev: pd.DataFrame, experiment: str, model: Model, order: int, *, columns) -> list[np.ndarray]:
    """The deviations table's (:func:`deviations`) ``columns`` of one experiment, point and order, each an array over
    the combinations in canonical order: its exact theory and bag means read where they were computed, not again."""
    sel = dev[at_point(dev, experiment, model) & (dev.order == order)].set_index("combo")
    labels = [combos.combo_label(c) for c in combos.multisets(len(model.points), order)]
    if len(sel) != len(labels):
        raise ValueError(f"the deviations table lacks order {order} of experiment {experiment} at {model}")
    sel = sel.loc[labels]
    return [sel[c].to_numpy() for c in columns]


#: Orders at which the exact theory gives the estimator's variance (G^(2n) at doubled points: order 8 for n = 4).
VARIANCE_ORDERS = (2, 4)
#: Largest moment tensor (entries) the exact linear theory builds for a variance: P^(2n) for G^(2n), so the
#: 4-point variance up to 6 points.
MAX_LINEAR_TENSOR = 2_000_000


def exact_standard_error(model: Model, order: int, n_bags: int) -> np.ndarray:
    """The exact standard error of the mean over n_bags bags of the model's n_nets networks, per combination of the
    order
    (canonical order): from the exact variance of one network's estimate (plain: G^(2n)(c, c) − G^(n)(c)²;
    conditional: the variance of its Wick sum of Π C, nnqft.theory.base.FieldTheory.estimator_variances). Computed for orders 2 and 4
    (VARIANCE_ORDERS) of unbounded activations; NaN otherwise: order 6 would need G^(12), and Erf is bounded
    (|erf| ≤ 1), so its products have light tails and the 4-point variance (8-point moments by quadrature) would
    cost minutes for nothing."""
    return np.sqrt(_network_variance(model.at(n_nets=1), int(order)) / (model.n_nets * int(n_bags)))


@lru_cache(maxsize=None)
def _network_variance(model: Model, order: int) -> np.ndarray:
    th = theory.of(model)
    combos_ = combos.multisets(len(th.points), order)
    if order not in VARIANCE_ORDERS or (order > 2 and model.activation == "erf") or not th.exact:
        return np.full(len(combos_), np.nan)  # the 1/N theory of deep networks gives no variance
    if model.depth > 1 and len(th.points) ** (2 * order) > MAX_LINEAR_TENSOR:
        return np.full(len(combos_), np.nan)
    return np.maximum(th.estimator_variances(combos_, model.N, model.estimator), 0.0)


def deviations(corr: pd.DataFrame, experiments: dict) -> pd.DataFrame:
    """Per experiment, point, order and combination (docs/science.md §2, §5, §8):

    g_mean (mean over bags), g_se (its standard error), background (std over bags), g0 (Wick, full K),
    delta_g = g_mean - g0, m = delta_g / g0, background_m = background / |g0|, g_exact, m_exact, g_se_exact (the
    standard error the exact theory gives, :func:`exact_standard_error`, NaN where not computed); and the
    experiment's activation, d_in and depth, and ``theory``: what g_exact is (:func:`theory_kind`: the exact theory,
    or beyond one hidden layer of a nonlinear activation the 1/N theory, whose G^(2) − K is K1/N).
    """
    out: dict[str, list] = {}  # column -> its pieces, one per point and order (one frame at the end, not 1000)
    rows = experiment_rows(corr, experiments, columns=POINT_KEYS + ["bag", "order", "combo", "value"])
    for (name, sb, sw, N), bags in point_bags(rows, experiments):
        ens = experiments[name].ensemble
        model = experiments[name].model(sw, N)
        for order, (values, labels) in bags.items():
            g_exact, g0 = exact_point(model, order)
            n_bags = values.shape[0]
            mean = values.mean(axis=0)
            background = values.std(axis=0, ddof=1)
            se_exact = exact_standard_error(model, order, n_bags)
            block = {
                "experiment": name, "activation": ens.activation, "d_in": ens.d_in, "depth": ens.depth,
                "estimator": ens.estimator, "n_nets": ens.n_nets, "sigma_b": sb, "sigma_w": sw,
                "N": N, "order": order, "combo": labels, "n_bags": n_bags, "g_mean": mean,
                "g_se": background / np.sqrt(n_bags), "background": background, "g0": g0, "delta_g": mean - g0,
                "m": (mean - g0) / g0, "background_m": background / np.abs(g0), "g_exact": g_exact,
                "m_exact": (g_exact - g0) / g0, "g_se_exact": se_exact, "theory": theory_kind(model),
            }
            for col, value in block.items():
                out.setdefault(col, []).append(value if isinstance(value, (np.ndarray, list)) else
                                               [value] * len(labels))
    return pd.DataFrame({col: np.concatenate(pieces) if isinstance(pieces[0], np.ndarray) else
                         list(chain.from_iterable(pieces)) for col, pieces in out.items()})


def point_label(exp, model: Model, ngp: bool = False) -> dict:
    """The columns that say which experiment and point (``model``) a row of an analysis table belongs to (``ngp``:
    with the experiment's NGP width, for HMS's tables)."""
    label = {"experiment": exp.name, "activation": exp.activation, "d_in": exp.d_in, "depth": exp.depth,
             "estimator": exp.estimator,
             "sigma_b": model.sigma_b, "sigma_w": model.sigma_w, "N": model.N, "n_bags": exp.n_bags}
    return {**label, "ngp_width": int(exp.ngp_width)} if ngp else label


#: Probability that :func:`error_bars` calls a point's error bars unreliable although they are right.
ERROR_BAR_ALPHA = 0.001
ERROR_BAR_KEYS = ["experiment", "activation", "d_in", "depth", "estimator", "sigma_b", "sigma_w", "N", "order"]
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
    from scipy import stats  # here: importing scipy.stats costs most of an analysis job's start-up

    out["threshold"] = stats.chi2.ppf(alpha / 2, out.n_bags - 1) / (out.n_bags - 1)
    out["status"] = np.where(out.var_ratio.isna(), UNCHECKED, np.where(out.var_ratio < out.threshold, UNRELIABLE,
                                                                       RELIABLE))
    point = ["experiment", "sigma_b", "sigma_w", "N"]
    out = out.sort_values(point + ["order"]).reset_index(drop=True)
    bad_below = out.groupby(point).status.transform(lambda st: (st == UNRELIABLE).cumsum().shift(fill_value=0) > 0)
    out.loc[bad_below, "status"] = UNRELIABLE
    return out


FALLOFF_KEYS = ["experiment", "activation", "d_in", "depth", "estimator", "sigma_b", "sigma_w", "N", "order"]


def falloff(dev: pd.DataFrame, keys=FALLOFF_KEYS) -> pd.DataFrame:
    """HMS's falloff of the deviation from the Gaussian process with N (docs/science.md §8), from the deviations
    table: per experiment, point and order (per ``keys``), means over the combinations of

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
    return d.groupby(list(keys), sort=True).agg(
        n_bags=("n_bags", "first"), n_nets=("n_nets", "first"), n_combos=("m", "size"), m=("abs_m", "mean"),
        background=("background_m", "mean"),
        m_exact=("abs_exact", "mean"), m_expected=("expected", "mean"), se=("se", "mean")).reset_index()
