import numba
import numpy as np
import pytest

from nnqft import combos
from nnqft.model import Model
from nnqft.sampling import bags as sampling
from nnqft.sampling import streams

POINTS = [-0.01, -0.006, -0.002, 0.002, 0.006, 0.01]


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_bit_identical_with_1_and_2_threads():
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        results.append(sampling.bag_correlators(Model("gauss", POINTS, 1.0, 1.5, 7, 3000), 11, 2, [2, 4, 6]))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    serial = sampling.bag_correlators(Model("gauss", POINTS, 1.0, 1.5, 7, 3000), 11, 2, [2, 4, 6], threads=1)
    assert results[0].tobytes() == results[1].tobytes() == serial.tobytes()


def test_rerun_is_bit_identical_and_bags_differ():
    a = sampling.bag_correlators(Model("gauss", POINTS, 1.0, 1.5, 7, 1000), 11, 0, [2, 4])
    b = sampling.bag_correlators(Model("gauss", POINTS, 1.0, 1.5, 7, 1000), 11, 0, [2, 4])
    c = sampling.bag_correlators(Model("gauss", POINTS, 1.0, 1.5, 7, 1000), 11, 1, [2, 4])
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


def test_key_depends_on_identity_only():
    def key(seed, sigma_b, sigma_w, N, n_nets, bag, activation="gauss", points=(0.1,)):
        return streams.bag_key(seed, Model(activation, points, sigma_b, sigma_w, N, n_nets), bag)

    base = key(1, 1.0, 10.0, 5, 100, 3)
    assert key(1, 1, 10, 5, 100, 3) == base  # 10 and 10.0 are one point
    # the activation and the points are not part of the key: the three activations see the same weights
    assert key(1, 1.0, 10.0, 5, 100, 3, "relu", (0.2, 0.3)) == base
    variants = [(2, 1.0, 10.0, 5, 100, 3), (1, 0.5, 10.0, 5, 100, 3), (1, 1.0, 9.5, 5, 100, 3),
                (1, 1.0, 10.0, 6, 100, 3), (1, 1.0, 10.0, 5, 101, 3), (1, 1.0, 10.0, 5, 100, 4)]
    keys = {key(*v) for v in variants}
    assert base not in keys and len(keys) == len(variants)


def test_block_table_rows_do_not_depend_on_the_block():
    whole = sampling.block_table(Model("gauss", POINTS, 1.0, 2.0, 4, 500), 3, range(0, 3), [2, 4])
    part = sampling.block_table(Model("gauss", POINTS, 1.0, 2.0, 4, 500), 3, range(2, 3), [2, 4])
    tail = whole.filter(np.asarray(whole["bag"]) == 2)
    assert tail["value"].to_numpy().tobytes() == part["value"].to_numpy().tobytes()
    assert tail["combo"].to_pylist() == part["combo"].to_pylist()


def test_fused_kernel_matches_per_network_reference():
    """The fused kernel's correlators equal products of the reference per-network outputs."""
    n_nets = 1500  # spans several reduction chunks
    f = sampling.network_outputs(Model("gauss", POINTS, 1.0, 1.0, 3, n_nets), 5, 0, range(n_nets))
    G = sampling.bag_correlators(Model("gauss", POINTS, 1.0, 1.0, 3, n_nets), 5, 0, [2, 4, 6])
    expected = [np.mean(np.prod(f[:, list(ms)], axis=1)) for _, ms in combos.output_combos(6, [2, 4, 6])]
    np.testing.assert_allclose(G, expected, rtol=1e-12)
