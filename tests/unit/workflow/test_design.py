import copy

import pytest

from helpers import load_config
from nnqft.workflow import config as config_checks
from nnqft.workflow import design

PAPER = load_config("config")


def test_shared_points_are_sampled_once_with_the_largest_n_bags():
    points = design.sampling_points(PAPER)
    keys = [(p.sigma_b, p.sigma_w, p.N) for p in points]
    assert len(keys) == len(set(keys)) == 10 + 20 * 4 - 4
    shared = [p for p in points if p.sigma_w == 1.0 and p.N in (2, 10, 100, 1000)]
    assert {p.n_bags for p in shared} == {30}
    assert {p.n_bags for p in points if p.N == 3} == {20}


def test_blocks_are_aligned_and_raising_n_bags_keeps_them():
    assert design.bag_blocks(20, 10) == [(0, 9), (10, 19)]
    assert design.bag_blocks(30, 10)[:2] == design.bag_blocks(20, 10)
    assert design.bag_blocks(7, 3) == [(0, 2), (3, 5), (6, 6)]


def test_block_size_follows_the_work_of_a_bag():
    assert design.bags_per_block(1000, 30000, 300_000_000) == 10
    assert design.bags_per_block(500, 30000, 300_000_000) == 20
    assert design.bags_per_block(2, 30000, 300_000_000) == 5000
    assert design.bags_per_block(10**6, 30000, 300_000_000) == 1  # never zero


def test_paper_config_gives_126_jobs_of_at_most_one_job_of_work():
    blocks = design.block_paths(PAPER)
    assert len(blocks) == 20 * 3 + 66  # N = 1000: 3 blocks of 10 bags; every other point: one block
    for path in blocks:
        N = int(path.split("_N")[1].split("/")[0])
        first, last = map(int, path.rsplit("bags", 1)[1].removesuffix(".parquet").split("-"))
        assert (last - first + 1) * N * PAPER["n_nets"] <= max(PAPER["neurons_per_job"], N * PAPER["n_nets"])


def test_raising_n_bags_recomputes_at_most_the_last_short_block():
    before = set(design.block_paths(PAPER))
    more = copy.deepcopy(PAPER)
    more["experiments"]["sigma_scan"]["n_bags"] = 45
    after = set(design.block_paths(more))
    redone = before - after  # blocks that change and so are recomputed
    assert all("_N1000/" not in p for p in redone)  # 30 -> 45 at 10 bags per block: only new blocks
    n_points = len({p.rsplit("/", 1)[0] for p in redone})
    assert len(redone) == n_points  # at most one block per point


def test_float_spelling_is_canonical():
    assert design.fmt_float(10) == design.fmt_float(10.0) == "10.0"
    assert design.parse_float("1.5") == 1.5
    with pytest.raises(ValueError):
        design.parse_float("1.50")
    with pytest.raises(ValueError):
        design.fmt_float(float("nan"))


def test_duplicate_sigma_w_by_value_is_rejected():
    bad = copy.deepcopy(PAPER)
    bad["experiments"]["sigma_scan"]["sigma_w"] = [1.0, 10, 10.0]
    with pytest.raises(config_checks.ConfigError, match=r"experiments\.sigma_scan\.sigma_w"):
        config_checks.check(bad)


def test_paper_config_lists_about_2600_bags():
    blocks = design.block_paths({**PAPER, "neurons_per_job": 1})
    assert len(blocks) == 10 * 20 + 80 * 30 - 4 * 20
