"""Several outputs at one hidden layer (nnqft.theory.outputs, docs/science.md §12): with one output it is the exact
theory's G^(n); the cross-output 2-point function vanishes and the connected cross 4-point is V/N; the O(d_out) ratio
3 at one point; and against networks of two outputs sampled in numpy, every (point, output) multiset of orders 2 and 4
within principled bounds, where a theory that treats the outputs as independent fails."""
import math
from itertools import combinations_with_replacement

import numpy as np
import pytest
from scipy import special, stats

from nnqft.theory import outputs
from nnqft.theory.exact import Theory

POINTS = [-0.8, 0.3, 1.1]


@pytest.mark.parametrize("activation", ["gauss", "relu", "erf"])
def test_one_output_is_the_exact_theory(activation):
    th = Theory(activation, [0.1, 0.4, -0.2] if activation == "gauss" else POINTS, 1.0, 1.5)
    combos = [c for n in (2, 4, 6) for c in combinations_with_replacement(range(3), n)]
    labelled = [[(p, 0) for p in c] for c in combos]
    g, g0 = th.correlators(combos, 5)
    np.testing.assert_allclose(outputs.correlators(th, labelled, 5), g, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(outputs.gaussian(th, labelled, 5), g0, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_outputs_are_uncorrelated_and_connected_at_order_one_over_N_with_the_vertex(activation):
    th = Theory(activation, POINTS, 0.5, 1.5)
    for N in (2, 7, 40):
        assert outputs.correlator(th, [(0, 0), (1, 1)], N) == 0.0
        assert outputs.correlator(th, [(0, 0), (1, 0)], N) == pytest.approx(th.K[0, 1], rel=1e-12)
        assert outputs.correlator(th, [(0, 0), (1, 0), (2, 1)], N) == 0.0
        for a, b, c, d in [(0, 1, 1, 2), (0, 0, 2, 2), (1, 1, 1, 1)]:
            cross = outputs.connected_four_point(th, [(a, 0), (b, 0), (c, 1), (d, 1)], N)
            assert cross == pytest.approx(outputs.vertex(th, a, b, c, d) / N, rel=1e-10)
        same = outputs.connected_four_point(th, [(1, 0)] * 4, N)
        cross = outputs.connected_four_point(th, [(1, 0), (1, 0), (1, 1), (1, 1)], N)
        assert same == pytest.approx(3 * cross, rel=1e-10)  # O(d_out): ⟨f_i⁴⟩_c = 3⟨f_i² f_j²⟩_c
        gp = outputs.gaussian(th, [[(0, 0), (1, 0), (2, 1), (2, 1)], [(0, 0), (1, 1)], [(0, 0), (1, 0), (2, 0), (2, 1)],
                                   [(1, 0)] * 4], N)  # the Gaussian process: only the pairings of equal outputs
        np.testing.assert_allclose(gp, [th.K[0, 1] * th.K[2, 2], 0, 0, 3 * th.K[1, 1] ** 2], rtol=1e-12)


def _sample(activation, points, sigma_b, sigma_w, N, n_nets, d_out, rng):
    """f_i(x) of ``n_nets`` networks with ``d_out`` outputs, drawn weight by weight: float[n_nets, d_out, points]."""
    x = np.asarray(points, dtype=float)
    w0 = rng.normal(0.0, sigma_w, size=(n_nets, N))
    b0 = rng.normal(0.0, sigma_b, size=(n_nets, N))
    z = w0[:, :, None] * x[None, None, :] + b0[:, :, None]
    phi = {"relu": lambda u: np.maximum(u, 0.0), "erf": special.erf}[activation](z)
    w1 = rng.normal(0.0, sigma_w / math.sqrt(N), size=(n_nets, d_out, N))
    b1 = rng.normal(0.0, sigma_b, size=(n_nets, d_out))
    return np.einsum("mon,mnp->mop", w1, phi) + b1[:, :, None]


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_sampled_networks_of_two_outputs_agree_and_independent_outputs_do_not(activation):
    """Every (point, output) multiset of orders 2 and 4 at two points and two outputs, N = 2, 4·10⁵ networks in 20
    bags: |t| below the Bonferroni bound for a 10⁻³ false alarm (t with 19 dof over all tests). Treating the outputs as
    independent networks (the cross-output 4-point functions' connected parts 0) is rejected by the same bound."""
    rng = np.random.default_rng(12)
    th = Theory(activation, POINTS[:2], 0.5, 1.5)
    N, bags = 2, 20
    factors = [(p, o) for p in range(2) for o in range(2)]
    combos = [c for n in (2, 4) for c in combinations_with_replacement(factors, n)]
    values = np.empty((bags, len(combos)))
    for b in range(bags):
        f = _sample(activation, POINTS[:2], 0.5, 1.5, N, 20000, 2, rng)
        for k, c in enumerate(combos):
            values[b, k] = np.prod([f[:, o, p] for p, o in c], axis=0).mean()
    mean, se = values.mean(axis=0), values.std(axis=0, ddof=1) / math.sqrt(bags)
    theory = outputs.correlators(th, combos, N)
    crit = stats.t.ppf(1 - 1e-3 / (2 * len(combos)), bags - 1)
    t = np.abs(mean - theory) / se
    assert t.max() < crit, (combos[int(t.argmax())], t.max(), crit)
    cross = [k for k, c in enumerate(combos) if len(c) == 4 and len({o for _, o in c}) == 2]
    independent = theory[cross] - [outputs.connected_four_point(th, combos[k], N) for k in cross]
    assert (np.abs(mean[cross] - independent) / se[cross]).max() > crit



def test_the_conditional_estimators_variance_is_the_one_output_one_and_zero_where_no_pairing_matches():
    th = Theory("relu", POINTS, 0.5, 1.5)
    combos = [(0, 1), (0, 0, 1, 2), (1, 1, 1, 1)]
    one = outputs.conditional_variances(th, [[(p, 0) for p in c] for c in combos], 5)
    np.testing.assert_allclose(one, [th.conditional_estimator_variance(c, 5) for c in combos], rtol=1e-12)
    assert outputs.conditional_variances(th, [[(0, 0), (1, 1)], [(0, 0), (0, 0), (1, 1)]], 5).tolist() == [0.0, 0.0]
    cross = outputs.conditional_variances(th, [[(0, 0), (0, 0), (1, 1), (1, 1)]], 5)[0]
    G = outputs.correlator(th, [(0, 0), (0, 0), (1, 1), (1, 1)], 5)
    assert cross == pytest.approx(th.conditional_moment([(0, 0), (1, 1), (0, 0), (1, 1)], 5) - G * G, rel=1e-12)


DEEP_CASES = [("relu", 2), ("erf", 3), ("linear", 2)]


@pytest.mark.parametrize("activation, depth", DEEP_CASES)
def test_at_any_depth_one_output_is_the_depth_theory_and_the_ratio_three_holds(activation, depth):
    """Several outputs at depth > 1 (nnqft.theory.outputs over the theory's conditional moments): with one output the
    sum over matchings is the 1/N theory's G^(n) (DeepTheory.expansion) or the exact linear one (LinearTheory), at
    orders 2 to 6; the cross-output 2-point function is 0; ⟨f_i⁴⟩_c = 3⟨f_i² f_j²⟩_c at one point; and the cross
    4-point function is connected at order 1/N: for the 1/N theory V/N of the output layer's vertex, less the product
    of the 2-point corrections K1 K1/N² that its truncated 2-point functions leave."""
    from nnqft import theory
    from nnqft.model import Model

    th = theory.of(Model(activation, POINTS, 0.5, 1.5, 8, 10, depth=depth))
    combos = [c for n in (2, 4, 6) for c in combinations_with_replacement(range(3), n)]
    for N in (3, 8, 50):
        g, g0 = th.correlators(combos, N)
        np.testing.assert_allclose(outputs.correlators(th, [[(p, 0) for p in c] for c in combos], N), g, rtol=1e-12,
                                   atol=1e-14)
        np.testing.assert_allclose(outputs.gaussian(th, [[(p, 0) for p in c] for c in combos], N), g0, rtol=1e-12,
                                   atol=1e-14)
        assert outputs.correlator(th, [(0, 0), (1, 1)], N) == 0.0
        same = outputs.connected_four_point(th, [(2, 0)] * 4, N)
        cross = outputs.connected_four_point(th, [(2, 0), (2, 0), (2, 1), (2, 1)], N)
        assert same == pytest.approx(3 * cross, rel=1e-12) and abs(cross) > 0
        if activation != "linear":
            mixed = outputs.connected_four_point(th, [(0, 0), (1, 0), (2, 1), (2, 1)], N)
            assert N * mixed == pytest.approx(th.V[0, 1, 2, 2] - th.K1[0, 1] * th.K1[2, 2] / N, rel=1e-9, abs=1e-12)
