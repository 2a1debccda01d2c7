import copy

import pytest
import yaml

from conftest import ROOT
from nnqft import design

with open(ROOT / "config" / "config.yaml") as fh:
    PAPER = yaml.safe_load(fh)


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
    with pytest.raises(design.ConfigError, match=r"experiments\.sigma_scan\.sigma_w"):
        design.check_config(bad)


def test_paper_config_lists_about_2600_bags():
    blocks = design.block_paths({**PAPER, "bags_per_job": 1})
    assert len(blocks) == 10 * 20 + 80 * 30 - 4 * 20
