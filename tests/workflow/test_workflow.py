"""The workflow through the `snakemake` command line, in a temporary working directory."""
import copy

import numpy as np
import pyarrow.parquet as pq
import pytest

from helpers import QUICK, complete_run, load_config, run_until, scheduled_outputs
from helpers import run_snakemake as snakemake
from nnqft import combos
from nnqft.analysis import registry
from nnqft.model import Model
from nnqft.sampling import bags as sampling
from nnqft.workflow import design, tables

pytestmark = pytest.mark.workflow


def sample_outputs(result):
    return {p for p in scheduled_outputs(result) if p.startswith("results/samples/")}


def test_quick_config_builds_the_gathered_table(quick_run):
    path = quick_run / "results" / "tables" / "correlators.parquet"
    table = pq.read_table(path).to_pandas()
    n_combos = len(combos.output_combos(len(QUICK["points"]), QUICK["orders"]))
    points = design.sampling_points(QUICK)
    assert len(table) == sum(p.n_bags for p in points) * n_combos
    assert set(table.columns) >= {"activation", "d_in", "points", "sigma_b", "sigma_w", "N", "n_nets", "bag", "order",
                                  "combo", "value"}
    assert table.groupby(["estimator", "sigma_b", "sigma_w", "N", "bag", "order", "combo"]).size().max() == 1
    assert np.isfinite(table["value"]).all()
    assert set(table.points) == {"[[-0.01], [-0.006], [-0.002], [0.002], [0.006], [0.01]]"}
    assert set(table.activation) == {"gauss"} and set(table.d_in) == {1}
    assert set(table.estimator) == {"plain", "conditional"}
    meta = tables.read_metadata(path)
    assert meta["params"]["seed"] == QUICK["seed"]
    assert {e["n_nets"] for e in meta["params"]["ensembles"].values()} == {QUICK["n_nets"]}
    assert {"numpy", "numba", "nnqft"} <= set(meta["versions"])


def test_table_rows_are_bit_identical_to_a_direct_kernel_call(quick_run):
    table = pq.read_table(quick_run / "results" / "tables" / "correlators.parquet").to_pandas()
    rows = table[(table.sigma_w == 2.0) & (table.N == 10) & (table.bag == 5) & (table.estimator == "plain")]
    model = Model("gauss", QUICK["points"], 1.0, 2.0, 10, QUICK["n_nets"])
    direct = sampling.bag_correlators(model, QUICK["seed"], 5, QUICK["orders"])
    assert rows["value"].to_numpy().tobytes() == direct.tobytes()
    labels = [combos.combo_label(c) for _, c in combos.output_combos(6, QUICK["orders"])]
    assert list(rows["combo"].astype(str)) == labels


def test_complete_run_has_nothing_to_do(quick_run):
    result = snakemake(quick_run, QUICK, "-n")
    assert result.returncode == 0
    assert scheduled_outputs(result) == set()


def test_adding_one_sigma_w_schedules_only_its_jobs_and_the_gathers(quick_run):
    config = copy.deepcopy(QUICK)
    config["experiments"]["sigma_scan"]["sigma_w"].append(3.0)
    outputs = scheduled_outputs(snakemake(quick_run, config, "-n"))
    samples = {p for p in outputs if p.startswith("results/samples/")}
    assert samples == {p for p in design.block_paths(config) if "_sw3.0_" in p}
    assert len(samples) == len(config["experiments"]["sigma_scan"]["N"])  # one block per point at N = 2, 10
    downstream = outputs - samples
    assert "results/tables/correlators.parquet" in downstream
    assert all(p.startswith(("results/tables/", "results/figures/", "results/claims.md")) for p in downstream)


def test_raising_n_bags_schedules_only_the_new_bags(quick_run):
    config = copy.deepcopy(QUICK)
    config["experiments"]["width_scan"]["n_bags"] = 6  # 4 -> 6 at N = 100, one bag per block there
    samples = sample_outputs(snakemake(quick_run, config, "-n"))
    assert sorted(p.split("/")[-2:] for p in samples) == [
        ["sb1.0_sw1.0_N100", "bags4-4.parquet"], ["sb1.0_sw1.0_N100", "bags5-5.parquet"]]


def test_invalid_config_is_rejected_before_any_job(tmp_path):
    config = copy.deepcopy(QUICK)
    config["experiments"]["width_scan"]["sigma_W"] = config["experiments"]["width_scan"].pop("sigma_w")
    result = snakemake(tmp_path, config, "--cores", "1")
    assert result.returncode != 0
    assert "sigma_W" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_quick_run_produces_every_table_figure_and_the_claims(quick_run):
    for name in ("deviations", "couplings", "coupling_means", "flow_fit", "passive_flow", "claims"):
        assert (quick_run / "results" / "tables" / f"{name}.parquet").stat().st_size > 0
    for path in ("width_scan/histograms", "width_scan/mean_deviation_vs_N", "width_scan/u4_vs_N",
                 "sigma_scan/u4_vs_sigma", "sigma_scan/u6_vs_sigma", "sigma_scan/passive_flow",
                 "sigma_scan_conditional/u4_vs_sigma", "validation", "falloff", "u4_exponent_vs_d_in"):
        for ext in ("pdf", "png"):
            assert (quick_run / "results" / "figures" / f"{path}.{ext}").stat().st_size > 0
    text = (quick_run / "results" / "claims.md").read_text()
    assert "m_2 ≈ 0 at every N" in text and "**" in text


def test_report_is_self_contained_html(quick_run):
    # not results/report.html: tests/workflow/test_report.py writes that one in the same run folder, maybe meanwhile
    result = snakemake(quick_run, QUICK, "--report", "results/report-self-contained.html")
    assert result.returncode == 0, result.stdout + result.stderr
    html = (quick_run / "results" / "report-self-contained.html").read_text(errors="replace")
    assert "u4_vs_sigma.png" in html and "claims.md" in html


def test_config_changes_leave_every_other_row_bit_identical(quick_run, tmp_path):
    """Adding a sigma_w, removing an N and raising n_bags: the rows of every other point and bag are unchanged."""
    import shutil

    work = tmp_path / "changed"
    shutil.copytree(quick_run, work, symlinks=True)
    config = copy.deepcopy(QUICK)
    config["experiments"]["sigma_scan"]["sigma_w"].append(3.0)
    config["experiments"]["width_scan"]["N"].remove(100)
    config["experiments"]["sigma_scan"]["n_bags"] = 12
    result = snakemake(work, config, "--cores", "2", "results/tables/correlators.parquet")
    assert result.returncode == 0, result.stdout + result.stderr
    keys = ["estimator", "sigma_b", "sigma_w", "N", "bag", "order", "combo"]
    before = pq.read_table(quick_run / "results" / "tables" / "correlators.parquet").to_pandas()
    after = pq.read_table(work / "results" / "tables" / "correlators.parquet").to_pandas()
    for t in (before, after):
        t["combo"] = t["combo"].astype(str)
        t["estimator"] = t["estimator"].astype(str)
    merged = before.merge(after, on=keys, suffixes=("_before", "_after"))
    kept = before[before.N != 100]
    assert len(merged) == len(kept)
    assert merged.value_before.to_numpy().tobytes() == merged.value_after.to_numpy().tobytes()
    assert (after.sigma_w == 3.0).any() and after.bag.max() == 11 and not (after.N == 100).any()


#: The quick config without order 6 and its one analysis that reads it, and without the conditional experiment: the
#: orders test's config, and the SIGKILL test's (every stage it kills is there, at a third of the quick run's work).
ORDERS_24 = copy.deepcopy(QUICK)
ORDERS_24["orders"] = [2, 4]
ORDERS_24["experiments"]["sigma_scan"]["analyses"] = ["flow_fit", "u4_negative"]
ORDERS_24["experiments"]["width_scan"]["N"] = [2, 10]
del ORDERS_24["experiments"]["sigma_scan_conditional"]


@pytest.fixture(scope="module")
def orders24_run(tmp_path_factory):
    """A complete, uninterrupted run of ORDERS_24."""
    return complete_run(tmp_path_factory.mktemp("orders24"), ORDERS_24)


def test_sigkill_at_any_stage_then_rerun_gives_identical_tables(orders24_run, tmp_path):
    work = tmp_path / "killed"
    work.mkdir()
    results = work / "results"
    stages = {
        "sampling": lambda: any((results / "samples").rglob("*.parquet")) if (results / "samples").exists() else False,
        "analysis": lambda: (results / "tables" / "correlators.parquet").exists(),
        "plotting": lambda: any((results / "figures").rglob("*.p*")) if (results / "figures").exists() else False,
    }
    killed = [stage for stage, condition in stages.items() if run_until(work, ORDERS_24, condition)]
    assert "sampling" in killed  # the run really was interrupted mid-way at least once
    assert snakemake(work, ORDERS_24, "--unlock").returncode == 0  # SIGKILL leaves the lock behind
    result = snakemake(work, ORDERS_24, "--cores", "2")  # rerun-incomplete: from the default profile
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(results.rglob(".*.tmp-*")), "a temporary file of a killed job survived the rerun"
    for name in ("correlators", "deviations", "couplings"):
        a = pq.read_table(orders24_run / "results" / "tables" / f"{name}.parquet").to_pandas()
        b = pq.read_table(results / "tables" / f"{name}.parquet").to_pandas()
        pd_equal = a.astype({"combo": str}).equals(b.astype({"combo": str}))
        assert pd_equal, f"{name} differs after an interrupted run"
    assert (results / "claims.md").read_text() == (orders24_run / "results" / "claims.md").read_text()


def test_orders_without_6_run_end_to_end(orders24_run):
    """orders: [2, 4] (147 instead of 609 correlators per network): the quick config without its one analysis that
    reads order 6 runs through; no order-6 row, figure or claim is made, the others all are."""
    import pandas as pd

    results = orders24_run / "results"
    assert set(pd.read_parquet(results / "tables" / "correlators.parquet").order) == {2, 4}
    figures = {str(p.relative_to(results / "figures").with_suffix("")) for p in (results / "figures").rglob("*.png")}
    assert figures == set(registry.figure_paths(design.experiments(ORDERS_24), [2, 4]))
    assert not any(f.endswith("u6_vs_sigma") for f in figures)
    claims = pd.read_parquet(results / "tables" / "claims.parquet")
    assert not claims.claim.str.contains("m_6|u_6").any()
    assert claims.claim.str.startswith("active-RG exponent of u_4").any() and claims.claim.str.startswith("m_4").any()


def test_renaming_an_experiment_renames_its_figures_and_nothing_else(tmp_path):
    """The paper's config with width_scan renamed: the dry run plans the same jobs (the samples of a point do not
    depend on the experiments' names), and that experiment's figures under its new name; nothing else changes."""
    paper = load_config("config")
    renamed = copy.deepcopy(paper)
    renamed["experiments"] = {("widths" if k == "width_scan" else k): v for k, v in paper["experiments"].items()}
    planned = {}
    for name, config in (("paper", paper), ("renamed", renamed)):
        (tmp_path / name).mkdir()
        planned[name] = scheduled_outputs(snakemake(tmp_path / name, config, "-n"))
    moved = {p.replace("results/figures/width_scan/", "results/figures/widths/") for p in planned["paper"]}
    assert moved == planned["renamed"]
    assert {p for p in planned["renamed"] if p.startswith("results/figures/widths/")} == {
        f"results/figures/widths/{name}.{ext}" for name in ("histograms", "mean_deviation_vs_N", "u4_vs_N")
        for ext in ("pdf", "png")}


def test_a_second_config_leaves_nothing_of_the_first_in_the_figures(tmp_path):
    """Two configs in turn in one folder: the second's figures, tables and claims are exactly its own. Its samples
    are the first's (a point is sampled once); the first's experiment, renamed, draws under its new name, and
    the figures the first drew and the second does not are removed before any job (the protection: without it,
    width_scan/ would still be there)."""
    import pandas as pd

    first = {"seed": 3, "points": [-0.01, 0.0, 0.01], "orders": [2, 4], "n_nets": 300, "experiments": {
        "width_scan": {"sigma_b": 1.0, "sigma_w": [1.0], "N": [2, 3], "n_bags": 2, "analyses": ["falloff"]}}}
    second = {**first, "experiments": {"renamed": first["experiments"]["width_scan"]}}
    complete_run(tmp_path, first)
    assert (tmp_path / "results" / "figures" / "width_scan" / "histograms.png").exists()
    result = snakemake(tmp_path, second, "--cores", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sample_bags" not in result.stdout + result.stderr  # the samples are shared, not redrawn
    root = tmp_path / "results" / "figures"
    figures = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert figures == {f"{path}.{ext}" for path in registry.figure_paths(design.experiments(second), [2, 4])
                       for ext in ("pdf", "png")}
    assert not (root / "width_scan").exists()
    for table in ("deviations", "hms_falloff", "claims"):
        assert set(pd.read_parquet(tmp_path / "results" / "tables" / f"{table}.parquet").get(
            "experiment", pd.Series(["renamed"]))) <= {"renamed"}, table
    assert "width_scan" not in (tmp_path / "results" / "claims.md").read_text()


def test_the_example_notebook_runs_on_a_quick_run(quick_run, monkeypatch):
    """docs/example.ipynb, cell by cell, in the folder of a `make quick` run: the readers it shows work on what a run
    writes, and its comparison of a measured point with the exact theory lines up the same combinations (GaussNet's
    4-point error bars at σ_b = 1 are unreliable, error_bars.parquet: no z-test here)."""
    import json

    from helpers import ROOT

    monkeypatch.chdir(quick_run)
    namespace = {}
    cells = json.loads((ROOT / "docs" / "example.ipynb").read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "example.ipynb", "exec"), namespace)
    measured, exact = namespace["by_bag"].mean().to_numpy(), namespace["g_exact"]
    assert len(measured) == len(exact) == combos.n_multisets(len(QUICK["points"]), 4)
    assert np.all(np.abs(measured / exact - 1) < 0.5)  # the same combinations, in the same order
    assert set(namespace["claims"].agreement) <= {"agrees", "disagrees", "error bars unreliable (heavy tails)"}
