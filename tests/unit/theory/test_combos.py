import numpy as np
import pytest

from nnqft import combos


@pytest.mark.parametrize("order, count", [(2, 21), (4, 126), (6, 462)])
def test_multiset_counts_for_six_points(order, count):
    assert len(combos.multisets(6, order)) == count == combos.n_multisets(6, order)
    assert len(set(combos.multisets(6, order))) == count


def test_output_has_609_correlators_for_orders_2_4_6():
    assert len(combos.output_combos(6, [2, 4, 6])) == 609


def test_labels_round_trip_and_are_ascending():
    for _, ms in combos.output_combos(6, [2, 4, 6]):
        label = combos.combo_label(ms)
        assert combos.parse_combo(label) == ms
        assert list(ms) == sorted(ms)
    assert combos.combo_label((0, 0, 3, 5)) == "0,0,3,5"


def test_product_tree_gives_every_monomial():
    rng = np.random.default_rng(1)
    f = rng.normal(size=6)
    parent, last, out_nodes = combos.product_tree(6, [2, 4, 6])
    prod = np.empty(len(parent))
    prod[:6] = f
    for m in range(6, len(parent)):
        prod[m] = prod[parent[m]] * prod[last[m]]
    expected = [np.prod(f[list(ms)]) for _, ms in combos.output_combos(6, [2, 4, 6])]
    np.testing.assert_allclose(prod[out_nodes], expected, rtol=1e-14)
