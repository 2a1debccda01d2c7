"""Set partitions, the combinatorics of the exact theory (docs/science.md §5): G^(n) is a sum over the partitions
of its points into even blocks of products of joint cumulants, and a cumulant of order k a sum over the even
partitions of its k points with the weights (|π|−1)! (−1)^(|π|−1) of the moment-cumulant formula."""
from __future__ import annotations

from functools import lru_cache
from math import factorial


def even_set_partitions(items):
    """Set partitions of ``items`` (a tuple) whose blocks all have even size."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    n = len(rest)
    # the block holding `first` takes an odd number of the remaining items
    for mask in range(1 << n):
        if bin(mask).count("1") % 2 == 0:
            continue
        block = (first,) + tuple(rest[i] for i in range(n) if mask >> i & 1)
        others = tuple(rest[i] for i in range(n) if not mask >> i & 1)
        for tail in even_set_partitions(others):
            yield [block] + tail


def pairings(items) -> list:
    """Perfect matchings of ``items``, as lists of pairs: (n-1)!! of them (1, 3, 15 for n = 2, 4, 6), the first item
    paired with each other one in turn (the order of the pair-only partitions of :func:`even_set_partitions`)."""
    items = tuple(items)
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    return [[(first, partner)] + sub for i, partner in enumerate(rest) for sub in pairings(rest[:i] + rest[i + 1:])]


def set_partitions(items):
    """Every set partition of the tuple ``items`` (Bell(n) of them), blocks as tuples."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for tail in set_partitions(rest):
        yield [(first,)] + tail
        for i in range(len(tail)):
            yield tail[:i] + [(first,) + tail[i]] + tail[i + 1:]


@lru_cache(maxsize=None)
def even_partitions(n: int) -> tuple:
    """The even set partitions of range(n), computed once per n."""
    return tuple(tuple(part) for part in even_set_partitions(tuple(range(n))))


@lru_cache(maxsize=None)
def weighted_partitions(n: int) -> tuple:
    """Even set partitions of range(n) with their cumulant weights (|π|−1)! (−1)^(|π|−1)."""
    return tuple((factorial(len(part) - 1) * (-1) ** (len(part) - 1), part) for part in even_partitions(n))


def w1_moment(k: int, sigma_w: float, N: int) -> float:
    """E[W1^k] = (k−1)!! (σ_W² / N)^(k/2) for even k, 0 for odd k."""
    if k % 2:
        return 0.0
    double_fact = 1
    for j in range(k - 1, 0, -2):
        double_fact *= j
    return double_fact * (sigma_w**2 / N) ** (k // 2)
