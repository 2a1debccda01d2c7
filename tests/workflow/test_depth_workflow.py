"""The depth scans end to end (config/depth_quick.yaml): depth in every table and path, the theory beside the samples,
the depth_running table, claims and figure."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import load_config, overflowing_figures
from nnqft import combos
from nnqft.sampling import bags
from nnqft.workflow import design

pytestmark = pytest.mark.workflow

TABLES = ["correlators", "deviations", "error_bars", "hms_falloff", "hms_lambda", "hms_lambda_slope", "hms_integrals",
          "hms_six_point", "couplings", "coupling_means", "flow_fit", "passive_flow", "depth_running", "claims"]


@pytest.fixture(scope="module")
def depth_run(workflow_runs):
    return workflow_runs("depth_quick")


def table(run, name):
    return pd.read_parquet(Path(run) / "results" / "tables" / f"{name}.parquet")


def test_every_table_has_a_depth_column(depth_run):
    for name in TABLES:
        assert "depth" in table(depth_run, name).columns, name
    corr = table(depth_run, "correlators")
    assert sorted(set(corr.depth)) == [1, 2, 3]


def test_samples_of_depth_above_one_have_their_own_folders_and_depth_one_keeps_its_paths(depth_run):
    config = load_config("depth_quick", defaults=True)
    folders = {Path(p).parts[3] for p in design.block_paths(config)}
    assert {f.endswith(("_L2", "_L3")) for f in folders} == {True, False}
    assert not any("_L1" in f for f in folders)
    for path in design.block_paths(config):
        assert (Path(depth_run) / path).exists()


def test_table_rows_of_a_deep_point_are_a_direct_kernel_call(depth_run):
    config = load_config("depth_quick", defaults=True)
    exp = design.experiments(config)["relu_L3"]
    model = exp.model(exp.sigma_w[0], exp.N[-1])
    corr = table(depth_run, "correlators")
    sel = corr[(corr.depth == 3) & (corr.N == model.N) & (corr.bag == 2) & (corr.activation == "relu")]
    labels = [combos.combo_label(c) for _, c in combos.output_combos(len(model.points), config["orders"])]
    got = sel.set_index("combo").value[labels].to_numpy()
    want = bags.bag_correlators(model, config["seed"], 2, config["orders"])
    assert got.tobytes() == want.tobytes()


def test_the_theory_column_says_which_theory_and_linear_networks_meet_theirs(depth_run):
    dev = table(depth_run, "deviations")
    kinds = dev.groupby("experiment").theory.unique().map(lambda v: ", ".join(v)).to_dict()
    assert kinds == {"relu_L1": "exact", "relu_L2": "order 1/N", "relu_L3": "order 1/N", "lin3": "exact"}
    lin = dev[dev.experiment == "lin3"]
    assert lin.g_se_exact[lin.order == 2].notna().all()  # the exact theory gives the linear network's error bars
    z = (lin.g_mean - lin.g_exact) / lin.g_se
    assert np.abs(z).max() < 6


def test_the_depth_scan_table_claims_and_figure(depth_run):
    run = table(depth_run, "depth_running")
    assert set(run.scan) == {"relu_L1+relu_L2+relu_L3"}
    theory = run.drop_duplicates("depth").set_index("depth").kurtosis_N_theory
    assert np.allclose(theory.to_numpy(), [15.0, 30.0, 45.0], rtol=1e-10)  # ReLU at criticality: 15 L
    assert run.kurtosis_N_exact[run.depth == 1].notna().all() and run.kurtosis_N_exact[run.depth > 1].isna().all()
    claims = table(depth_run, "claims")
    linear = claims[claims.claim.str.startswith("N G_c^(4)/G^(2)^2 grows linearly with depth")]
    assert len(linear) == 1 and linear.depth.iloc[0] == "1, 2, 3"
    assert linear.statement_exact.iloc[0] == "holds"
    m2 = claims[claims.claim.str.startswith("depth breaks m_2")]
    assert sorted(m2.depth) == ["2", "3"]
    figures = Path(depth_run) / "results" / "figures"
    assert (figures / "depth_running.png").stat().st_size > 10_000
    assert (figures / "falloff.png").exists()


def test_no_title_label_or_legend_of_a_figure_falls_outside_its_canvas(depth_run):
    """Every figure of this run, checked on matplotlib's own layout (tests/helpers.py: overflowing_figures)."""
    assert overflowing_figures("depth_quick", depth_run) == {}
