"""Multisets of evaluation points ("all inequivalent combinations", docs/science.md §2).

A combination of order n is a multiset of n point indices, stored as an ascending tuple
(``(0, 0, 3, 5)``) and written in tables as ``"0,0,3,5"``.
"""
from __future__ import annotations

from itertools import combinations_with_replacement
from math import comb

import numpy as np


def multisets(n_points: int, order: int) -> list[tuple[int, ...]]:
    """All multisets of ``order`` indices from ``range(n_points)``, in lexicographic order."""
    return list(combinations_with_replacement(range(n_points), order))


def n_multisets(n_points: int, order: int) -> int:
    """Number of multisets, C(n_points + order - 1, order): 21, 126, 462 for 6 points and n = 2, 4, 6."""
    return comb(n_points + order - 1, order)


def combo_label(combo: tuple[int, ...]) -> str:
    """Table label of a combination: ascending 0-based indices joined by commas."""
    return ",".join(str(i) for i in combo)


def parse_combo(label: str) -> tuple[int, ...]:
    """Inverse of :func:`combo_label`."""
    return tuple(int(i) for i in label.split(","))


def product_tree(n_points: int, orders: list[int]):
    """Prefix tree of all monomials f(x_i1)...f(x_ik), 1 <= k <= max(orders).

    Every multiset of size k > 1 is its (k-1)-prefix times one more factor, so the per-network
    products of all 923 monomials up to order 6 cost one multiplication each.

    Returns
    -------
    parent : int64[n_nodes]   index of the prefix node (-1 for single points)
    last : int64[n_nodes]     point index of the last factor
    out_nodes : int64[n_out]  nodes of the requested orders, in the order of :func:`output_combos`
    """
    max_order = max(orders)
    index: dict[tuple[int, ...], int] = {}
    parent, last = [], []
    for k in range(1, max_order + 1):
        for ms in multisets(n_points, k):
            index[ms] = len(parent)
            parent.append(index[ms[:-1]] if k > 1 else -1)
            last.append(ms[-1])
    out_nodes = [index[ms] for _, ms in output_combos(n_points, orders)]
    return (np.asarray(parent, dtype=np.int64), np.asarray(last, dtype=np.int64),
            np.asarray(out_nodes, dtype=np.int64))


def output_combos(n_points: int, orders: list[int]) -> list[tuple[int, tuple[int, ...]]]:
    """(order, combination) pairs in the order the kernel returns them: by order, then lexicographic."""
    return [(n, ms) for n in sorted(orders) for ms in multisets(n_points, n)]


def products(f: np.ndarray, orders) -> np.ndarray:
    """f(x_1)...f(x_n) of each network for every combination of :func:`output_combos`, over the last axis of ``f`` (the
    points; leading axes: networks, times): float64[..., n_combinations]. Its mean over networks is the plain
    estimator G_exp^(n)."""
    labelled = output_combos(f.shape[-1], list(orders))
    return np.stack([np.prod(f[..., list(c)], axis=-1) for _, c in labelled], axis=-1)
