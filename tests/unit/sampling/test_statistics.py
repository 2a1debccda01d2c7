"""The sampled ensemble against the exact finite-width theory (docs/science.md §5).

Bounds: z-scores use the exact standard error sqrt(Var/n) with Var = G^(2n)(xs, xs) - G^(n)(xs)^2,
never the sample's own error estimate. With sigma_b = 0.5 the products have light enough tails
for the normal approximation at n = 10^6 networks; the family-wise threshold is Bonferroni over
all combinations at alpha = 1e-3 (|z| < 4.5 for 147 combinations). The distribution-free
Chebyshev bound is checked too, where it has the power to see a wrong sigma_w.
Seeded: each test is deterministic; with a correct kernel it fails with probability < 1e-3.
"""
import numpy as np
import pytest

from helpers import chebyshev_bound, exact_zscores, normal_bonferroni_bound
from nnqft import combos
from nnqft.model import Model
from nnqft.sampling import bags
from nnqft.theory.exact import Theory

POINTS = [-0.01, -0.006, -0.002, 0.002, 0.006, 0.01]
ORDERS = [2, 4]
SIGMA_B, SIGMA_W = 0.5, 1.0
N_NETS, N_BAGS = 200_000, 5
ALPHA = 1e-3
COMBOS = [c for _, c in combos.output_combos(6, ORDERS)]


@pytest.fixture(scope="module", params=[2, 10])
def measured(request):
    N = request.param
    model = Model("gauss", POINTS, SIGMA_B, SIGMA_W, N, N_NETS)
    return N, np.mean([bags.bag_correlators(model, 2024, b, ORDERS) for b in range(N_BAGS)], axis=0)


def zscores(measured, sigma_w):
    N, G = measured
    return exact_zscores(G, N_NETS * N_BAGS, COMBOS, Theory("gauss", POINTS, SIGMA_B, sigma_w), N)


def test_second_and_fourth_moments_agree_with_exact_finite_width_theory(measured):
    z = zscores(measured, SIGMA_W)
    assert np.abs(z).max() < normal_bonferroni_bound(len(COMBOS), ALPHA)


def test_second_moments_agree_with_K(measured):
    N, G = measured
    n2 = combos.n_multisets(6, 2)
    th = Theory("gauss", POINTS, SIGMA_B, SIGMA_W)
    K = np.array([SIGMA_B**2 + SIGMA_W**2 * np.exp(-SIGMA_W**2 * (POINTS[i] - POINTS[j]) ** 2 / 2) for i, j in COMBOS[:n2]])
    se = np.sqrt([th.estimator_variance(c, N) / (N_NETS * N_BAGS) for c in COMBOS[:n2]])
    assert np.abs((G[:n2] - K) / se).max() < normal_bonferroni_bound(n2, ALPHA)


def test_a_wrong_sigma_w_fails_the_check(measured):
    z = zscores(measured, 1.1 * SIGMA_W)
    assert np.abs(z).max() > normal_bonferroni_bound(len(COMBOS), ALPHA)
    # even the distribution-free Chebyshev bound sees it, on the widest 2-point combination
    assert abs(z[COMBOS.index((0, 5))]) > chebyshev_bound(1, ALPHA)


def test_finite_width_correction_is_resolved(measured):
    """The infinite-width (Wick) prediction fails: the check resolves the 1/N connected part."""
    N, G = measured
    n2 = combos.n_multisets(6, 2)
    th = Theory("gauss", POINTS, SIGMA_B, SIGMA_W)
    _, g0 = th.correlators(COMBOS[n2:], N)
    for k, combo in enumerate(COMBOS[n2:], start=n2):
        se = np.sqrt(th.estimator_variance(combo, N) / (N_NETS * N_BAGS))
        assert abs(G[k] - g0[k - n2]) / se > 10
