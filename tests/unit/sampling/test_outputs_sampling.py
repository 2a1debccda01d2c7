"""The two estimators of networks of several outputs (nnqft.sampling.outputs, docs/science.md §12) against the exact
theory of several outputs (nnqft.theory.outputs)."""
import math

import numpy as np
import pytest
from scipy import stats

from nnqft.sampling.streams import bag_key
from nnqft.sampling.training import hidden_features
from nnqft.theory import outputs
from nnqft.theory.exact import Theory

POINTS = [-0.8, 0.3, 1.1]


def test_the_conditional_estimator_of_several_outputs_is_unbiased_and_reduces_to_one_output():
    """nnqft.sampling.outputs: with d_out = 1 its combinations are the one-output ones and each network's value is the
    one-output Wick sum; with d_out = 3 at N = 4, 16 bags of 3000 networks, every combination of orders 2 and 4 at two
    points agrees with nnqft.theory.outputs within the Bonferroni bound (10⁻³ false alarm)."""
    from nnqft import combos as combos_
    from nnqft.model import Model
    from nnqft.sampling import outputs as sampled

    one = sampled.output_combos(3, 1, [2, 4])
    assert [(n, tuple(p for p, _ in c)) for n, c in one] == combos_.output_combos(3, [2, 4])
    G = np.array([[[2.0, 0.5], [0.5, 1.0]]])
    assert sampled.conditional_values(G, [((0, 0), (0, 0), (1, 0), (1, 0))])[0, 0] == pytest.approx(2 + 2 * 0.25)
    assert sampled.conditional_values(G, [((0, 0), (0, 0), (1, 1), (1, 1))])[0, 0] == pytest.approx(2.0)
    model = Model("erf", POINTS[:2], 0.5, 1.5, 4, 3000, estimator="conditional")
    th = Theory("erf", POINTS[:2], 0.5, 1.5)
    labelled = [c for _, c in sampled.output_combos(2, 3, [2, 4])]
    bags = np.array([sampled.bag_correlators(model, 5, b, [2, 4], 3) for b in range(16)])
    mean, se = bags.mean(axis=0), bags.std(axis=0, ddof=1) / math.sqrt(len(bags))
    theory = outputs.correlators(th, labelled, 4)
    nonzero = se > 0
    assert (theory[~nonzero] == 0).all() and (mean[~nonzero] == 0).all()  # an odd count of some output: exactly 0
    t = np.abs(mean - theory)[nonzero] / se[nonzero]
    crit = stats.t.ppf(1 - 1e-3 / (2 * nonzero.sum()), len(bags) - 1)
    assert t.max() < crit, t.max()
    # the protection: Wick's sum over every pairing (outputs treated as one) is rejected by the same bound
    merged = np.array([sampled.conditional_values(
        model.sigma_b**2 + model.sigma_w**2 / model.N * (phi @ np.swapaxes(phi, -1, -2)),
        [tuple((p, 0) for p, _ in c) for c in labelled]).mean(axis=0) for phi in [
            hidden_features(bag_key(5, model, b), model, range(3000), model.x) for b in range(4)]])
    assert (np.abs(merged.mean(axis=0) - theory)[nonzero] / se[nonzero]).max() > crit


def test_output_0_of_a_network_of_several_outputs_is_the_one_output_network_of_the_same_draws():
    """nnqft.sampling.training.network_outputs: output 0 is the plain kernel's network (the same stream, the same
    parameters) to rounding, at d_in = 1 and 2; the further outputs differ from it."""
    from nnqft.model import Model
    from nnqft.sampling import kernel, training

    for activation, points in (("relu", [0.5, 1.0, 1.5]), ("gauss", [[0.01, -0.01], [0.0, 0.01]])):
        model = Model(activation, points, 1.0, 1.5, 5, 40, d_out=3)
        key = bag_key(7, model, 2)
        f = training.network_outputs(key, model, range(40), model.x, 3)
        one = kernel.network_outputs(key, model.at(d_out=1), range(40))
        np.testing.assert_allclose(f[:, :, 0], one, rtol=1e-13, atol=1e-15)
        assert np.abs(f[:, :, 1] - f[:, :, 0]).min() > 0 and np.abs(f[:, :, 2] - f[:, :, 1]).min() > 0


@pytest.mark.parametrize("activation, points, d_out, N", [("relu", [0.5, 1.2], 3, 2), ("erf", [-0.8, 0.3], 2, 3)])
def test_the_plain_estimator_of_several_outputs_is_unbiased_and_its_outputs_share_the_hidden_layer(
        activation, points, d_out, N):
    """The plain estimator (whole networks drawn, readouts included), 4 bags of 25 000 networks: a bag's estimate is
    the mean of its networks' products (nnqft.sampling.training.network_outputs); every (point, output) combination of
    orders 2 and 4 (ReLU with three outputs, Erf with two) agrees with nnqft.theory.outputs, z with the sample standard
    error of the products (light tails for ReLU and Erf), within the normal Bonferroni bound at 10⁻³; the sample
    variance of each order-2 product agrees with the exact nnqft.theory.outputs.plain_variances (its standard error
    from the sample's fourth moment, the same bound). The protection: outputs drawn as independent networks (no shared
    hidden layer) give a law whose cross-output 4-point functions the same bound rejects."""
    from helpers import normal_bonferroni_bound
    from nnqft import combos as combos_
    from nnqft.model import Model
    from nnqft.sampling import outputs as sampled
    from nnqft.sampling import training

    n = 25_000
    model = Model(activation, points, 0.5, 1.5, N, n, d_out=d_out)
    th = Theory(activation, points, 0.5, 1.5)
    labelled = [c for _, c in sampled.output_combos(2, d_out, [2, 4])]
    flat = [tuple((i // d_out, i % d_out) for i in c) for _, c in combos_.output_combos(2 * d_out, [2, 4])]
    assert flat == labelled  # the flattened columns' combinations are this module's, in its order
    f = np.concatenate([training.network_outputs(bag_key(5, model, b), model, range(n), model.x, d_out).reshape(n, -1)
                        for b in range(4)])
    prods = combos_.products(f, [2, 4])
    bags = np.array([sampled.bag_correlators(model, 5, b, [2, 4]) for b in range(4)])
    np.testing.assert_allclose(bags, prods.reshape(4, n, -1).mean(axis=1), rtol=1e-12, atol=1e-14)
    exact = outputs.correlators(th, labelled, N)
    se = prods.std(axis=0, ddof=1) / math.sqrt(len(prods))
    bound = normal_bonferroni_bound(len(labelled), 1e-3)
    assert (np.abs(prods.mean(axis=0) - exact) / se).max() < bound
    two = [k for k, c in enumerate(labelled) if len(c) == 2]
    centred = prods[:, two] - prods[:, two].mean(axis=0)
    s2, m4 = (centred**2).mean(axis=0), (centred**4).mean(axis=0)
    exact_var = outputs.plain_variances(th, [labelled[k] for k in two], N)
    assert (np.abs(s2 - exact_var) / np.sqrt((m4 - s2**2) / len(prods))).max() < normal_bonferroni_bound(len(two), 1e-3)

    # the protection: independent networks per output (Π over outputs of the one-output correlators)
    def one_output(points_of_output):
        if len(points_of_output) % 2:
            return 0.0
        return th.correlators([points_of_output], N)[0][0] if points_of_output else 1.0

    independent = np.array([np.prod([one_output(tuple(p for p, o in c if o == out)) for out in range(d_out)])
                            for c in labelled])
    assert (np.abs(prods.mean(axis=0) - independent) / se).max() > bound


def test_at_depth_two_the_conditional_estimator_of_several_outputs_is_the_deep_sampler_s_and_unbiased():
    """Depth 2: each network's Ĝ is that of its last hidden layer (the deep conditional sampler's networks). With one
    output the estimate is the deep sampler's own to rounding (ReLU); linear networks of two outputs at N = 3, 4 bags
    of 20 000, agree with the exact linear theory at every (point, output) multiset of orders 2 and 4, z against the
    exact standard error (nnqft.theory.outputs.conditional_variances over LinearTheory's moments) within the normal
    Bonferroni bound at 10⁻³, and the theory that drops the outputs' labels is rejected by the same bound."""
    from helpers import normal_bonferroni_bound
    from nnqft import theory
    from nnqft.model import Model
    from nnqft.sampling import bags as one_output
    from nnqft.sampling import outputs as sampled

    relu = Model("relu", POINTS, 0.5, 1.5, 5, 2000, estimator="conditional", depth=2)
    np.testing.assert_allclose(sampled.bag_correlators(relu, 5, 1, [2, 4], 1),
                               one_output.bag_correlators(relu, 5, 1, [2, 4]), rtol=1e-12, atol=1e-14)
    model = Model("linear", POINTS[:2], 0.5, 1.2, 3, 20_000, estimator="conditional", depth=2)
    th = theory.of(model)
    labelled = [c for _, c in sampled.output_combos(2, 2, [2, 4])]
    bags = np.array([sampled.bag_correlators(model, 5, b, [2, 4], 2) for b in range(4)])
    exact = outputs.correlators(th, labelled, 3)
    se = np.sqrt(np.maximum(outputs.conditional_variances(th, labelled, 3), 0) / (4 * model.n_nets))
    nonzero = se > 0
    assert (bags[:, ~nonzero] == 0).all() and (exact[~nonzero] == 0).all()
    bound = normal_bonferroni_bound(int(nonzero.sum()), 1e-3)
    assert (np.abs(bags.mean(axis=0) - exact)[nonzero] / se[nonzero]).max() < bound
    merged = outputs.correlators(th, [[(p, 0) for p, _ in c] for c in labelled], 3)
    assert (np.abs(bags.mean(axis=0) - merged)[nonzero] / se[nonzero]).max() > bound


def test_at_depth_two_the_plain_estimator_of_several_outputs_is_the_deep_sampler_s_and_unbiased():
    """Depth 2, the plain estimator: each network's outputs drawn given its last hidden layer
    (nnqft.sampling.deep.network_outputs). Output 0 is the deep plain sampler's network: with one output the estimate
    is that sampler's own to rounding (ReLU), and the further outputs differ from it. Linear networks of two outputs at
    N = 3, 4 bags of 20 000: every (point, output) combination of orders 2 and 4 agrees with the exact linear theory,
    z with the sample standard error of the products, within the normal Bonferroni bound at 10⁻³. The protection:
    the outputs of independent networks (output 1 taken from other networks of the bag) are rejected by that bound."""
    from helpers import normal_bonferroni_bound
    from nnqft import combos as combos_
    from nnqft import theory
    from nnqft.model import Model
    from nnqft.sampling import bags as one_output
    from nnqft.sampling import deep
    from nnqft.sampling import outputs as sampled

    relu = Model("relu", POINTS, 0.5, 1.5, 5, 2000, depth=2)
    np.testing.assert_allclose(sampled.bag_correlators(relu, 5, 1, [2, 4], 1),
                               one_output.bag_correlators(relu, 5, 1, [2, 4]), rtol=1e-12, atol=1e-14)
    f = deep.network_outputs(bag_key(5, relu, 1), relu, range(50), 3)
    assert np.abs(f[:, :, 1] - f[:, :, 0]).min() > 0 and np.abs(f[:, :, 2] - f[:, :, 1]).min() > 0
    n = 20_000
    model = Model("linear", POINTS[:2], 0.5, 1.2, 3, n, depth=2, d_out=2)
    th = theory.of(model.at(d_out=1))
    labelled = [c for _, c in sampled.output_combos(2, 2, [2, 4])]
    f = np.concatenate([deep.network_outputs(bag_key(5, model, b), model, range(n), 2) for b in range(4)])
    prods = combos_.products(f.reshape(len(f), -1), [2, 4])
    bags = np.array([sampled.bag_correlators(model, 5, b, [2, 4]) for b in range(4)])
    np.testing.assert_allclose(bags, prods.reshape(4, n, -1).mean(axis=1), rtol=1e-12, atol=1e-14)
    exact = outputs.correlators(th, labelled, 3)
    se = prods.std(axis=0, ddof=1) / math.sqrt(len(prods))
    bound = normal_bonferroni_bound(len(labelled), 1e-3)
    assert (np.abs(prods.mean(axis=0) - exact) / se).max() < bound
    independent = f.copy()
    independent[:, :, 1] = np.roll(f[:, :, 1], 1, axis=0)  # output 1 of the previous network
    prods = combos_.products(independent.reshape(len(f), -1), [2, 4])
    assert (np.abs(prods.mean(axis=0) - exact) / se).max() > bound
