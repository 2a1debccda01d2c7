"""Building blocks of the sampling kernel: the exponential, the normal generator, and the parallel and serial
versions compiled from one body and cached apart."""
import os
import subprocess
import sys
import textwrap

import numpy as np
from scipy import stats

from nnqft.sampling import fastmath, streams


def test_fast_exp_is_accurate_to_a_few_ulp():
    x = np.concatenate([np.linspace(-708, 709, 100_001), np.random.default_rng(0).normal(0, 3, 100_000)])
    rel = np.abs(fastmath.exp_array(x) / np.exp(x) - 1)
    assert rel.max() < 5e-16


def test_ziggurat_normals_have_the_normal_distribution():
    """KS test on 10^6 draws at level 1e-3, and the tail beyond the base strip (slow path) at 5 sigma."""
    z = streams.draw_normals(np.uint64(987654321), 1_000_000)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    tail = np.mean(np.abs(z) > 3.6541528853610088)
    p = 2 * stats.norm.sf(3.6541528853610088)
    assert abs(tail - p) < 5 * np.sqrt(p * (1 - p) / len(z))
    assert abs(z.mean()) < 5 / np.sqrt(len(z)) and abs(z.var() - 1) < 5 * np.sqrt(2 / len(z))


def test_streams_of_neighbouring_states_are_uncorrelated():
    a = streams.draw_normals(np.uint64(streams.network_state(np.uint64(1), np.uint64(2), 0)), 100_000)
    b = streams.draw_normals(np.uint64(streams.network_state(np.uint64(1), np.uint64(2), 1)), 100_000)
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(len(a))


CACHED = textwrap.dedent("""
    import sys, numba
    from nnqft.model import Model
    from nnqft.sampling import bags, kernel
    model = Model("gauss", [0.1, 0.2], 1.0, 1.0, 4, 600)
    bags.bag_correlators(model, 1, 0, [2], threads=1)
    try:
        numba.threading_layer()
        started = True
    except ValueError:  # "Threading layer is not initialized."
        started = False
    hits = sum(kernel._bag_chunk_sums_serial.stats.cache_hits.values())
    if "parallel" in sys.argv:
        bags.bag_correlators(model, 1, 0, [2])
    print(started, hits)
""")


def test_numba_caches_the_parallel_and_the_serial_kernel_apart_and_their_chunk_body_once(tmp_path):
    """Both versions are compiled from one Python body (nnqft.sampling.blocks.parallel_and_serial, which the
    conditional kernel uses too). A cache that
    mixed them up would hand the one-thread jobs the parallel code (which starts numba's threading layer) or the
    parallel jobs the serial code: in a fresh process with a warm cache, the serial kernels load from the cache and
    start no threading layer, after a first process compiled and cached both."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    first = subprocess.run([sys.executable, "-c", CACHED, "parallel"], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([sys.executable, "-c", CACHED], capture_output=True, text=True, env=env)
    assert second.returncode == 0, second.stderr
    started, hits = second.stdout.split()
    assert started == "False" and int(hits) == 1, second.stdout
    names = {p.name.split("-")[0] for p in tmp_path.rglob("*.nbi")}
    assert {"kernel._bag_chunk_sums", "kernel._bag_chunk_sums_serial"} <= names, names
    # the two share one compiled chunk body, cached for one signature (a uint64 chunk index from the prange would
    # make it two, each kernel compiling its own: blocks.parallel_and_serial)
    bodies = [p.name for p in tmp_path.rglob("kernel._chunk_sums-*.nbc")]
    assert len(bodies) == 1, bodies
