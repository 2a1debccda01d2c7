"""The three architectures at d_in = 1, 2, 3 through the workflow: config/architectures_quick.yaml end to
end, sample identity in paths, the gathered table's columns, the exact columns of the analysis."""
import copy
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from helpers import load_config, overflowing_figures, planned_figures, scheduled_outputs
from helpers import run_snakemake as snakemake
from nnqft import combos
from nnqft.analysis import flow, registry
from nnqft.model import Model
from nnqft.sampling import bags as sampling
from nnqft.theory.exact import Theory
from nnqft.workflow import design, tables

pytestmark = pytest.mark.workflow

ARCH = load_config("architectures_quick", defaults=True)  # the defaults, as the Snakefile does
PAPER = load_config("config")


@pytest.fixture(scope="module")
def arch_run(workflow_runs):
    """The tables and claims of config/architectures_quick.yaml; its figures are planned by a dry run and drawn in
    this process (the canvas test)."""
    return workflow_runs("architectures_quick", figures=False)


def test_the_quick_config_covers_every_activation_and_input_dimension():
    resolved = design.experiments(ARCH)
    assert {e.activation for e in resolved.values()} == {"gauss", "relu", "erf"}
    assert {e.d_in for e in resolved.values()} == {1, 2, 3}


def test_every_row_says_what_it_measured(arch_run):
    corr = pq.read_table(arch_run / "results" / "tables" / "correlators.parquet").to_pandas()
    for name, exp in design.experiments(ARCH).items():
        ens = exp.ensemble
        rows = corr[(corr.activation == ens.activation) & (corr.points == ens.points_json)]
        assert set(rows.d_in) == {ens.d_in} and set(rows.n_nets) == {ens.n_nets}, name
        assert json.loads(rows.points.iloc[0]) == [list(p) for p in exp.points]
        labels = {combos.combo_label(c) for _, c in combos.output_combos(len(exp.points), ARCH["orders"])}
        assert set(rows.combo.astype(str)) == labels, name  # combo indexes into this experiment's point set


def test_the_conditional_experiment_is_its_own_ensemble_with_its_own_rows(arch_run):
    corr = pq.read_table(arch_run / "results" / "tables" / "correlators.parquet").to_pandas()
    plain = design.experiments(ARCH)["erf_d1"].ensemble
    cond = design.experiments(ARCH)["erf_d1_conditional"].ensemble
    assert plain.name.endswith("_plain") and cond.name == plain.name.removesuffix("_plain") + "_conditional"
    rows = corr[corr.points == cond.points_json]
    assert set(rows.estimator) == {"plain", "conditional"}
    one = rows[(rows.estimator == "conditional") & (rows.N == 10) & (rows.bag == 2)]
    model = Model("erf", cond.points, 1.0, 1.0, 10, cond.n_nets, estimator="conditional")
    direct = sampling.bag_correlators(model, ARCH["seed"], 2, [2, 4, 6])
    assert one["value"].to_numpy().tobytes() == direct.tobytes()
    dev = pd.read_parquet(arch_run / "results" / "tables" / "deviations.parquet")
    both = dev[dev.experiment.isin(["erf_d1", "erf_d1_conditional"])]
    assert set(both.groupby("experiment").estimator.unique().map(tuple)) == {("plain",), ("conditional",)}
    # same exact values, measured by two estimators
    a, b = (both[both.experiment == e].set_index(["N", "order", "combo"]).g_exact for e in ("erf_d1", "erf_d1_conditional"))
    assert (a == b).all()


def test_table_rows_are_bit_identical_to_a_direct_kernel_call(arch_run):
    corr = pq.read_table(arch_run / "results" / "tables" / "correlators.parquet").to_pandas()
    exp = design.experiments(ARCH)["erf_d3"]
    rows = corr[(corr.points == exp.ensemble.points_json) & (corr.N == 10) & (corr.bag == 3)]
    direct = sampling.bag_correlators(exp.model(1.0, 10), ARCH["seed"], 3, [2, 4, 6])
    assert rows["value"].to_numpy().tobytes() == direct.tobytes()


def test_the_exact_columns_are_filled_for_every_experiment(arch_run):
    dev = pd.read_parquet(arch_run / "results" / "tables" / "deviations.parquet")
    assert set(dev.experiment) == set(ARCH["experiments"])
    assert np.isfinite(dev[["g_exact", "m_exact", "g0"]].to_numpy()).all()
    # spot check: one row against Theory directly
    row = dev[(dev.experiment == "relu_d2") & (dev.order == 4) & (dev.N == 2)].iloc[7]
    theory = Theory("relu", ARCH["experiments"]["relu_d2"]["points"], 1.0, 1.0)
    g, g0 = theory.correlators([combos.parse_combo(row.combo)], 2)
    assert row.g_exact == pytest.approx(g[0], rel=1e-12) and row.g0 == pytest.approx(g0[0], rel=1e-12)


def test_couplings_are_computed_for_gaussnet_and_skipped_with_a_note_otherwise(arch_run):
    means = pd.read_parquet(arch_run / "results" / "tables" / "coupling_means.parquet")
    for name, exp in design.experiments(ARCH).items():
        m = means[means.experiment == name]
        assert len(m) == 2 * len(exp.sigma_w) * len(exp.N), name
        if exp.activation == "gauss":
            assert (m.note == "").all() and np.isfinite(m.u_exact).all(), name
        else:
            assert m.u.isna().all() and m.note.str.contains("GaussNet only").all(), name
    # GaussNet at d_in = 2: u_4 follows the exact theory's sign and d_in-dependent running
    fit = flow.flow_fit(means[means.experiment == "gauss_d2"], d_in=2)
    assert set(fit[fit.order == 4].predicted_paper_print) == {4 - 2}
    assert set(fit[fit.order == 6].predicted_authors_code) == {-(6 - 2 * 2)}


def test_analysis_and_figures_only_where_they_apply(arch_run):
    figures = planned_figures(arch_run, load_config("architectures_quick"))
    assert figures == set(registry.figure_paths(design.experiments(ARCH), ARCH["orders"]))
    falloff = {"width_scan", "relu_d1", "erf_d1", "relu_d2", "erf_d3", "gauss_d3", "erf_d1_conditional"}
    assert figures == {"validation", "falloff", "u4_exponent_vs_d_in", "width_scan/u4_vs_N",
                       *(f"{e}/u4_vs_sigma" for e in ("sigma_scan", "gauss_d2")), "sigma_scan/u6_vs_sigma",
                       "sigma_scan/passive_flow", *(f"{e}/{f}" for e in falloff
                                                    for f in ("histograms", "mean_deviation_vs_N"))}
    # the tables follow the experiments' analyses (config/architectures_quick.yaml)
    out = arch_run / "results" / "tables"
    assert set(pd.read_parquet(out / "flow_fit.parquet").experiment) == {"sigma_scan", "gauss_d2"}
    assert set(pd.read_parquet(out / "hms_falloff.parquet").experiment) == {
        "width_scan", "relu_d1", "erf_d1", "relu_d2", "erf_d3", "gauss_d3", "erf_d1_conditional"}


def test_changing_one_experiments_points_or_activation_reruns_only_its_points(arch_run):
    config = copy.deepcopy(ARCH)
    config["experiments"]["relu_d2"]["points"] = [[0.5, 0.5], [0.5, 1.0], [1.0, 0.5], [1.0, 1.5]]
    config["experiments"]["erf_d1"]["activation"] = "relu"
    samples = {p for p in scheduled_outputs(snakemake(arch_run, config, "-n")) if p.startswith("results/samples/")}
    new = set(design.block_paths(config)) - set(design.block_paths(ARCH))
    assert samples == new and len(new) == 4  # 2 widths x (relu_d2's new points, erf_d1 now relu)
    assert all("/relu_d1_x" in p or "/relu_d2_x" in p for p in new)


@pytest.mark.parametrize("key, value", [("activation", "relu"), ("estimator", "plain")])
def test_the_gather_refuses_a_block_whose_ensemble_differs_from_its_path(arch_run, tmp_path, key, value):
    """A block whose metadata says another activation or estimator than its path: never mixed in."""
    import shutil

    work = tmp_path / "w"
    shutil.copytree(arch_run, work, symlinks=True)
    block = next(p for p in design.block_paths(ARCH) if "/erf_d1_" in p and p.split("/")[3].endswith("_conditional"))
    table = pq.read_table(work / block)
    meta = json.loads(table.schema.metadata[tables.METADATA_KEY])
    assert meta["params"][key] != value
    meta["params"][key] = value  # a block that is not what its path says
    tables.write_table(table, work / block, meta)
    result = snakemake(work, ARCH, "--cores", "1", "--forcerun", "gather_correlators",
                       "results/tables/correlators.parquet")
    assert result.returncode != 0
    log = (work / "logs" / "gather_correlators.log").read_text()
    assert block in log and f"{key} = {value}" in log


def test_experiments_that_agree_on_the_ensemble_share_samples():
    config = copy.deepcopy(ARCH)
    config["experiments"]["twin"] = copy.deepcopy(config["experiments"]["relu_d1"])
    assert design.block_paths(config) == design.block_paths(ARCH)
    config["experiments"]["twin"]["n_nets"] = 4000  # another n_nets: another ensemble
    assert len(design.block_paths(config)) == len(design.block_paths(ARCH)) + 2


def test_the_paper_config_keeps_its_stream_keys_and_one_ensemble():
    ensembles = {p.ensemble for p in design.sampling_points(PAPER)}
    assert len(ensembles) == 1
    (ens,) = ensembles
    assert (ens.activation, ens.d_in, ens.n_nets) == ("gauss", 1, 30000)
    assert all(f"/seed20221223/{ens.name}/sb" in p for p in design.block_paths(PAPER))


def test_no_title_label_or_legend_of_a_figure_falls_outside_its_canvas(arch_run):
    """Every figure of this run, checked on matplotlib's own layout (tests/helpers.py: overflowing_figures)."""
    assert overflowing_figures("architectures_quick", arch_run) == {}
