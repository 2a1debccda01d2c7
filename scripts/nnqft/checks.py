"""Checks of measured correlators against the exact finite-width theory (docs/science.md §5)."""
from __future__ import annotations

import numpy as np
from statistics import NormalDist

from . import exact


def exact_zscores(measured, n_networks, combos, points, sigma_b, sigma_w, N):
    """z = (G_measured - G_exact) / SE_exact for each combination.

    ``measured[k]`` is the mean of the product over ``n_networks`` i.i.d. networks for combination
    ``combos[k]`` (a tuple of point indices). The standard error comes from the exact variance of one
    network's product, G^(2n)(xs, xs) - G^(n)(xs)^2, not from the sample: the sample variance of
    these heavy-tailed products is itself biased low (docs/science.md §6).
    """
    z = np.empty(len(combos))
    for k, combo in enumerate(combos):
        xs = [points[i] for i in combo]
        g = exact.correlator(xs, sigma_b, sigma_w, N)
        se = np.sqrt(exact.estimator_variance(xs, sigma_b, sigma_w, N) / n_networks)
        z[k] = (measured[k] - g) / se
    return z


def normal_bonferroni_bound(n_tests: int, alpha: float) -> float:
    """|z| threshold with family-wise false-alarm rate ``alpha`` over ``n_tests`` two-sided normal tests."""
    return NormalDist().inv_cdf(1 - alpha / (2 * n_tests))


def chebyshev_bound(n_tests: int, alpha: float) -> float:
    """|z| threshold with family-wise false-alarm rate <= ``alpha`` for any finite-variance distribution."""
    return float(np.sqrt(n_tests / alpha))
