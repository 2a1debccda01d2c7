"""Random keys of bags, derived from the identity of the bag alone.

A bag's stream is a function of (seed, sigma_b, sigma_w, N, n_nets, bag) and of the stream
layout version: not of the order of execution, the job it runs in, the number of threads, or
the other points of the config. Floats enter through their exact IEEE-754 bits, so 10 and 10.0
are the same point.
"""
from __future__ import annotations

import struct

import numpy as np

from . import STREAM_VERSION


def float_bits(x: float) -> int:
    """The 64 bits of ``float(x)`` as a non-negative integer (``-0.0`` is mapped to ``0.0``)."""
    return struct.unpack("<Q", struct.pack("<d", float(x) + 0.0))[0]


def bag_key(seed: int, sigma_b: float, sigma_w: float, N: int, n_nets: int, bag: int,
            estimator: str = "plain") -> tuple[int, int]:
    """Two 64-bit words keying the bag's counter-based stream, through numpy's ``SeedSequence``.

    The conditional estimator (docs/science.md §9) draws first layers only, from a key of its own (one more
    spawn-key word), so its samples are independent of the plain estimator's at the same point; the plain
    key is that of the first version.
    """
    spawn_key = (STREAM_VERSION, float_bits(sigma_b), float_bits(sigma_w), int(N), int(n_nets), int(bag))
    if estimator == "conditional":
        spawn_key += (1,)
    elif estimator != "plain":
        raise ValueError(f"unknown estimator {estimator!r}: expected plain or conditional")
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=spawn_key)
    k0, k1 = ss.generate_state(2, dtype=np.uint64)
    return int(k0), int(k1)
