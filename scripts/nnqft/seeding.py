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


def bag_key(seed: int, sigma_b: float, sigma_w: float, N: int, n_nets: int, bag: int) -> tuple[int, int]:
    """Two 64-bit words keying the bag's counter-based stream, through numpy's ``SeedSequence``."""
    ss = np.random.SeedSequence(
        entropy=int(seed),
        spawn_key=(STREAM_VERSION, float_bits(sigma_b), float_bits(sigma_w), int(N), int(n_nets), int(bag)),
    )
    k0, k1 = ss.generate_state(2, dtype=np.uint64)
    return int(k0), int(k1)
