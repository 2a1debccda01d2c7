"""Networks of several outputs (d_out > 1, docs/science.md §12), by either estimator.

- The conditional estimator: given a network's hidden layer its outputs are independent centred Gaussian processes
  with one covariance Ĝ = σ_b² + (σ_W²/N) Σ_j φ_j φ_jᵀ, so E[Π_l f_{o_l}(x_{p_l}) | hidden layer] is Wick's sum over
  the pairings that pair equal outputs of Π Ĝ(x_{p_l}, x_{p_m}): the mean of that over a bag's networks estimates the
  d_out-output correlator without drawing a readout (nnqft.theory.outputs is its exact expectation).
- The plain estimator: each network is drawn whole, its d_out readouts included
  (:func:`nnqft.sampling.training.network_outputs`: output 0 is the one-output network of the same draws, the further
  outputs' readouts follow in its stream), and the mean over a bag of the products Π_l f_{o_l}(x_{p_l}) estimates the
  correlator. Unlike the conditional one, it measures the outputs' decorrelation and their O(d_out) symmetry instead
  of building them in.

A combination of several outputs is a tuple of factors (point index, output index) in ascending order
(:func:`output_combos`); with d_out = 1 they are :func:`nnqft.combos.output_combos`'s combinations with output 0. The
hidden layers are those of :func:`nnqft.sampling.training.hidden_features` (network ``a`` of the bag drawn in the
plain sampler's order) from the conditional estimator's key, so a bag is independent of the one-output samplers'.
In the workflow (rule ``sample_outputs``) a combination's label is its factors as ``point:output`` joined by commas
(``"0:0,0:1,3:1"``, :func:`combo_label`); one-output experiments keep their tables and labels.
"""
from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np

from ..theory.outputs import output_pairings


def output_combos(n_points: int, d_out: int, orders) -> list[tuple[int, tuple[tuple[int, int], ...]]]:
    """(order, combination) pairs: every multiset of ``order`` factors (point, output), by order and then in
    lexicographic order of the sorted factors (with d_out = 1, :func:`nnqft.combos.output_combos`'s order)."""
    factors = [(p, o) for p in range(n_points) for o in range(d_out)]
    return [(n, c) for n in sorted(orders) for c in combinations_with_replacement(factors, n)]


def combo_label(combo) -> str:
    """A combination of several outputs as text: ``"0:0,0:1,3:1"`` (point:output, ascending)."""
    return ",".join(f"{p}:{o}" for p, o in combo)


def parse_combo(label: str) -> tuple[tuple[int, int], ...]:
    """The inverse of :func:`combo_label`."""
    return tuple(tuple(int(v) for v in factor.split(":")) for factor in str(label).split(","))


def conditional_values(G: np.ndarray, combos) -> np.ndarray:
    """Each network's E[Π f | hidden layer] for every combination, from its Ĝ (a stack (M, P, P)): float[M, len(combos)]."""
    out = np.zeros((G.shape[0], len(combos)))
    for k, combo in enumerate(combos):
        for pairs in output_pairings(combo):
            term = np.ones(G.shape[0])
            for a, b in pairs:
                term = term * G[:, a, b]
            out[:, k] += term
    return out


def bag_correlators(model, seed: int, bag: int, orders, d_out: int | None = None) -> np.ndarray:
    """The estimate of every combination of :func:`output_combos` at ``orders`` for bag ``bag`` of an untrained
    ``model`` with ``d_out`` outputs (default the model's), by the model's estimator (module docstring): at one hidden
    layer by either; at depth > 1 each network's Ĝ is that of its last hidden layer
    (:func:`nnqft.sampling.deep.output_covariances`, the deep conditional sampler's networks), and the plain estimator
    draws the outputs given it (:func:`nnqft.sampling.deep.network_outputs`, output 0 the deep plain sampler's network):
    float[n_combinations]."""
    # imported here, not at the top: the analysis reads this module's labels, and its jobs need not import numba
    from .. import combos as point_combos
    from .deep import network_outputs as deep_outputs
    from .deep import output_covariances
    from .streams import bag_key
    from .training import NETS_AT_ONCE, hidden_features, network_outputs

    d_out = model.d_out if d_out is None else int(d_out)
    if model.estimator not in ("plain", "conditional") or model.training is not None:
        raise ValueError("several outputs are sampled untrained, by the plain or the conditional estimator")
    if d_out < 1:
        raise ValueError(f"d_out = {d_out}: a network has at least one output")
    combos = [c for _, c in output_combos(len(model.points), d_out, orders)]
    key = bag_key(seed, model, bag)
    total = np.zeros(len(combos))
    for start in range(0, model.n_nets, NETS_AT_ONCE):
        nets = range(start, min(start + NETS_AT_ONCE, model.n_nets))
        if model.estimator == "plain":
            # factor (p, o) is column p d_out + o: the point combinations of P d_out columns, in their order, are
            # this module's combinations (checked in the tests)
            f = (network_outputs(key, model, nets, model.x, d_out) if model.depth == 1 else
                 deep_outputs(key, model, np.arange(nets.start, nets.stop), d_out)).reshape(len(nets), -1)
            total += point_combos.products(f, orders).sum(axis=0)
        else:
            if model.depth > 1:
                G = output_covariances(key, model, np.arange(nets.start, nets.stop))
            else:
                phi = hidden_features(key, model, nets, model.x)  # (M, P, N)
                G = model.sigma_b**2 + model.sigma_w**2 / model.N * (phi @ np.swapaxes(phi, -1, -2))
            total += conditional_values(G, combos).sum(axis=0)
    return total / model.n_nets


def block_table(model, seed: int, bags, orders):
    """The correlators of the bags ``bags`` of a ``model`` of several outputs as a long pyarrow table, one row per bag
    and combination: the untrained block table's columns (nnqft.sampling.bags.block_table) with ``d_out`` before
    ``bag`` and the combinations labelled by :func:`combo_label`."""
    import pyarrow as pa

    from . import point_columns

    labelled = output_combos(len(model.points), model.d_out, orders)
    values = np.stack([bag_correlators(model, seed, bag, orders) for bag in bags])
    n_combo = len(labelled)
    n_rows = len(bags) * n_combo
    return pa.table({
        **point_columns(model, n_rows),
        "d_out": np.full(n_rows, model.d_out, dtype=np.int64),
        "bag": np.repeat(np.asarray(list(bags), dtype=np.int64), n_combo),
        "order": np.tile(np.asarray([n for n, _ in labelled], dtype=np.int64), len(bags)),
        "combo": pa.array([combo_label(c) for _, c in labelled] * len(bags)).dictionary_encode(),
        "value": values.ravel(),
    })
