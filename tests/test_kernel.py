"""Building blocks of the sampling kernel: the exponential and the normal generator."""
import numpy as np
from scipy import stats

from nnqft import kernel


def test_fast_exp_is_accurate_to_a_few_ulp():
    x = np.concatenate([np.linspace(-708, 709, 100_001), np.random.default_rng(0).normal(0, 3, 100_000)])
    rel = np.abs(kernel.exp_array(x) / np.exp(x) - 1)
    assert rel.max() < 5e-16


def test_ziggurat_normals_have_the_normal_distribution():
    """KS test on 10^6 draws at level 1e-3, and the tail beyond the base strip (slow path) at 5 sigma."""
    z = kernel.draw_normals(np.uint64(987654321), 1_000_000)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    tail = np.mean(np.abs(z) > 3.6541528853610088)
    p = 2 * stats.norm.sf(3.6541528853610088)
    assert abs(tail - p) < 5 * np.sqrt(p * (1 - p) / len(z))
    assert abs(z.mean()) < 5 / np.sqrt(len(z)) and abs(z.var() - 1) < 5 * np.sqrt(2 / len(z))


def test_streams_of_neighbouring_states_are_uncorrelated():
    a = kernel.draw_normals(np.uint64(kernel.network_state(np.uint64(1), np.uint64(2), 0)), 100_000)
    b = kernel.draw_normals(np.uint64(kernel.network_state(np.uint64(1), np.uint64(2), 1)), 100_000)
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(len(a))
