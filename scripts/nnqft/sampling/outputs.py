"""Networks of several outputs (d_out > 1, docs/science.md §12), by the conditional estimator: given a network's
hidden layer its outputs are independent centred Gaussian processes with one covariance
Ĝ = σ_b² + (σ_W²/N) Σ_j φ_j φ_jᵀ, so E[Π_l f_{o_l}(x_{p_l}) | hidden layer] is Wick's sum over the pairings that pair
equal outputs of Π Ĝ(x_{p_l}, x_{p_m}): the mean of that over a bag's networks estimates the d_out-output correlator
without drawing a readout (the natural estimator here; nnqft.theory.outputs is its exact expectation).

A combination of several outputs is a tuple of factors (point index, output index) in ascending order
(:func:`output_combos`); with d_out = 1 they are :func:`nnqft.combos.output_combos`'s combinations with output 0. The
hidden layers are those of :func:`nnqft.sampling.training.hidden_features` (network ``a`` of the bag drawn in the
plain sampler's order) from the conditional estimator's key, so a bag is independent of the one-output samplers'.
The workflow does not sample several outputs yet.
"""
from __future__ import annotations

from itertools import combinations_with_replacement

import numpy as np

from ..theory.partitions import pairings
from .streams import bag_key
from .training import NETS_AT_ONCE, hidden_features


def output_combos(n_points: int, d_out: int, orders) -> list[tuple[int, tuple[tuple[int, int], ...]]]:
    """(order, combination) pairs: every multiset of ``order`` factors (point, output), by order and then in
    lexicographic order of the sorted factors (with d_out = 1, :func:`nnqft.combos.output_combos`'s order)."""
    factors = [(p, o) for p in range(n_points) for o in range(d_out)]
    return [(n, c) for n in sorted(orders) for c in combinations_with_replacement(factors, n)]


def output_pairings(combo) -> list[list[tuple[int, int]]]:
    """The pairings of a combination's factors that pair equal outputs, each as pairs of point indices (empty for an
    odd number of factors of some output)."""
    return [[(combo[a][0], combo[b][0]) for a, b in pairing] for pairing in pairings(range(len(combo)))
            if all(combo[a][1] == combo[b][1] for a, b in pairing)]


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


def bag_correlators(model, seed: int, bag: int, orders, d_out: int) -> np.ndarray:
    """The conditional estimator of every combination of :func:`output_combos` at ``orders`` for bag ``bag`` of a
    one-hidden-layer ``model`` (estimator "conditional") with ``d_out`` outputs: float[n_combinations]."""
    if model.estimator != "conditional" or model.depth != 1 or model.training is not None:
        raise ValueError("several outputs are sampled by the conditional estimator, untrained, at one hidden layer")
    if d_out < 1:
        raise ValueError(f"d_out = {d_out}: a network has at least one output")
    combos = [c for _, c in output_combos(len(model.points), d_out, orders)]
    key = bag_key(seed, model, bag)
    total = np.zeros(len(combos))
    for start in range(0, model.n_nets, NETS_AT_ONCE):
        nets = range(start, min(start + NETS_AT_ONCE, model.n_nets))
        phi = hidden_features(key, model, nets, model.x)  # (M, P, N)
        G = model.sigma_b**2 + model.sigma_w**2 / model.N * (phi @ np.swapaxes(phi, -1, -2))
        total += conditional_values(G, combos).sum(axis=0)
    return total / model.n_nets
