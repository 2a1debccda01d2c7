"""The verdict machinery every claim shares (nnqft.analysis.claims, nnqft.analysis.depth): the verdict words, the
false-alarm rate ``ALPHA``, Student's t quantile with Bonferroni's correction, the weighted slope, and the agreement
test of measured correlators against a theory (docs/methods.md, "Claims and their false-alarm rates").

A claim is one row (:class:`Claim`) that answers two questions, never with one word for both: ``agreement`` (does the
measurement agree with the theory: is the workflow right?) and ``statement`` (does the paper's statement hold, in the
theory and in the measurement?).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .deviations import UNRELIABLE as UNRELIABLE_BARS

#: False-alarm probability of every claim's tests (family-wise over what the claim spans).
ALPHA = 0.01
#: How close an exact (noise-free) power must be to the paper's to say the statement holds in the exact theory.
POWER_TOLERANCE = 0.1

AGREES, DISAGREES, UNRELIABLE = "agrees", "disagrees", UNRELIABLE_BARS
HOLDS, FAILS, BELOW_NOISE = "holds", "fails", "below noise"

COLUMNS = ["claim", "depth", "quantity", "value", "uncertainty", "exact", "agreement", "statement_exact",
           "statement_measured", "false_alarm", "detail"]


@dataclass(frozen=True)
class Claim:
    """One claim checked: what it says (``claim``), the ``quantity`` measured, its ``value`` ± ``uncertainty`` beside
    the theory's (``exact``), the two verdicts (``agreement``; ``statement_exact``, ``statement_measured``), the
    tests' ``false_alarm`` rate, a ``detail`` and the ``depth`` of the networks it is checked on, as text ("1", or
    "1, 2, 3" for a scan)."""

    claim: str
    quantity: str
    value: float
    uncertainty: float
    exact: float
    agreement: str
    statement_exact: str
    statement_measured: str
    false_alarm: str
    detail: str = ""
    depth: str = "1"

    def row(self) -> dict:
        """The claim as a row of the claims table (columns :data:`COLUMNS`)."""
        numbers = {"value": float(self.value), "uncertainty": float(self.uncertainty), "exact": float(self.exact)}
        return {column: numbers.get(column, getattr(self, column)) for column in COLUMNS}


def named(claim: str, experiment: str) -> str:
    """The claim's name, with the experiment it is checked on."""
    return f"{claim} ({experiment})"


def t_critical(n_bags: int, n_tests: int, alpha: float = ALPHA) -> float:
    """Two-sided Student-t critical value for n_bags − 1 degrees of freedom, Bonferroni over ``n_tests`` tests:
    P(any |t| > it) <= alpha when the bag means are normal, whatever the correlations."""
    from scipy import stats  # here: importing scipy.stats costs most of an analysis job's start-up

    return float(stats.t.ppf(1 - alpha / (2 * max(int(n_tests), 1)), int(n_bags) - 1))


def alpha_text(n_tests: int, n_bags: int, spans: str) -> str:
    return f"{ALPHA:.0%} (Bonferroni over {spans}: {n_tests} tests; t, {int(n_bags) - 1} dof)"


def statuses(error_bars: pd.DataFrame, experiment: str, order: int) -> pd.DataFrame:
    e = error_bars[(error_bars.experiment == experiment) & (error_bars.order == order)]
    return e.set_index(["sigma_w", "N"]).status


def unreliable_widths(error_bars: pd.DataFrame, experiment: str, order: int) -> list[int]:
    """The widths N at which some sigma_w of the experiment has unreliable order-``order`` error bars."""
    return sorted({int(n) for (_, n), st in statuses(error_bars, experiment, order).items() if st == UNRELIABLE})


#: Relative to the reference, below this a standard error of 0 counts as rounding: an estimator that is exact by
#: construction (the control variate at τ = 0, the conditional estimator of several outputs' cross 2-point function).
ROUNDING = 1e-12


def floored_se(se, scale):
    """A standard error, one of 0 taken as the rounding of ``scale`` (:data:`ROUNDING`)."""
    return np.maximum(se, ROUNDING * np.maximum(np.abs(scale), 1.0))


def rounded_t(diff, se, scale):
    """|diff| / se, a standard error of 0 taken as the rounding of ``scale`` (:func:`floored_se`)."""
    return np.abs(diff) / floored_se(se, scale)


def max_t(dev: pd.DataFrame, reference: str) -> tuple[float, int, pd.Series]:
    """max over rows of |g_mean − reference| / g_se, its number of tests, and the row where it is reached."""
    t = (dev.g_mean - dev[reference]).abs() / dev.g_se
    t = t.where(dev.g_se > 0, np.where((dev.g_mean - dev[reference]).abs() > 0, np.inf, 0.0))
    worst = t.idxmax()
    return float(t[worst]), len(t), dev.loc[worst]


def correlator_agreement(dev: pd.DataFrame, error_bars: pd.DataFrame, experiment: str, order: int, *, N=None,
                         reference: str = "g_exact"):
    """(agreement, detail, n_tests): the measured G^(n) of one experiment and order against ``reference`` (the exact
    theory's g_exact, or G_0's g0) at every combination and width (``N``: one width) whose error bars are not
    unreliable, by the Bonferroni t-test; UNRELIABLE if no width is left."""
    d = dev[(dev.experiment == experiment) & (dev.order == order)]
    if N is not None:
        d = d[d.N == N]
    bad = [n for n in unreliable_widths(error_bars, experiment, order) if N is None or n == N]
    d = d[~d.N.isin(bad)]
    note = f"; error bars unreliable (heavy tails) at N = {bad}, left out" if bad else ""
    if d.empty:
        return UNRELIABLE, f"error bars unreliable (heavy tails) at every N {bad}", 0
    t, n_tests, worst = max_t(d, reference)
    crit = t_critical(d.n_bags.iloc[0], n_tests)
    verdict = AGREES if t <= crit else DISAGREES
    name = "G_0" if reference != "g_exact" else (
        "G_theory (order 1/N: its O(1/N²) remainder is no error bar)" if "theory" in d.columns and (
            d.theory == "order 1/N").any() else "G_exact")
    return verdict, (f"max |G − {name}| / se = {t:.3g} (N = "
                     f"{int(worst.N)}, combination {worst.combo}) against {crit:.3g}{note}"), n_tests



def _wls_line(x, y, sigma, k: int) -> tuple[float, float]:
    """Coefficient ``k`` (0: intercept, 1: slope) of the line y = a + b x fitted by weighted least squares (weights
    1/sigma^2) and its standard error."""
    w = 1 / np.asarray(sigma) ** 2
    X = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(X.T @ (X * w[:, None]))
    return float((cov @ (X.T @ (w * y)))[k]), float(np.sqrt(cov[k, k]))


def wls_slope(x, y, sigma) -> tuple[float, float]:
    """Slope of y vs x by weighted least squares (weights 1/sigma^2) and its standard error."""
    return _wls_line(x, y, sigma, 1)


def wls_intercept(x, y, sigma) -> tuple[float, float]:
    """Intercept of y = a + b x by weighted least squares (weights 1/sigma^2) and its standard error."""
    return _wls_line(x, y, sigma, 0)
