"""The conditional estimator of networks of several outputs (nnqft.sampling.outputs, docs/science.md §12) against the
exact theory of several outputs (nnqft.theory.outputs)."""
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
    with pytest.raises(ValueError, match="conditional estimator"):
        sampled.bag_correlators(model.at(estimator="plain"), 5, 0, [2], 2)
