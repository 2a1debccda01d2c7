"""The statistics the analysis tables share: jackknife errors, log-log fits, the folded normal."""
from __future__ import annotations

import numpy as np


def jackknife_se(leave_one_out) -> np.ndarray:
    """Jackknife standard error from leave-one-bag-out estimates (first axis: bags):
    sqrt((n − 1)/n Σ_b (θ_(b) − θ̄_(·))²)."""
    loo = np.asarray(leave_one_out)
    n = loo.shape[0]
    return np.sqrt((n - 1) / n * ((loo - loo.mean(axis=0)) ** 2).sum(axis=0))


def leave_one_out(values) -> np.ndarray:
    """The means over bags leaving out each bag in turn (first axis: bags)."""
    n = values.shape[0]
    return (values.sum(axis=0) - values) / (n - 1)


def log_log_fit(x, y) -> tuple[float, float]:
    """Least-squares slope and intercept of log|y| against log x (a power law |y| = e^intercept x^slope)."""
    slope, intercept = np.polyfit(np.log(x), np.log(np.abs(y)), 1)
    return float(slope), float(intercept)


def folded_normal_mean(mu, s):
    """E|X| for X ~ N(mu, s^2), the mean of the folded normal:
    s sqrt(2/pi) exp(-mu^2 / (2 s^2)) + mu erf(mu / (s sqrt 2)); |mu| where s = 0."""
    from scipy import special  # here: importing scipy.special costs 0.1 s of every analysis job's start-up

    mu, s = np.broadcast_arrays(np.asarray(mu, dtype=float), np.asarray(s, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = mu / (s * np.sqrt(2.0))
        out = s * np.sqrt(2.0 / np.pi) * np.exp(-a * a) + mu * special.erf(a)
    return np.where(s > 0, out, np.abs(mu))
