"""Trained ensembles through the workflow: config/training_quick.yaml end to end (both layers trained with the plain
estimator, the readout alone with the conditional one), its tables, figure, claims and sample paths."""
import pandas as pd
import pyarrow.parquet as pq
import pytest

from helpers import load_config, overflowing_figures
from nnqft import combos
from nnqft.sampling import training as trained_sampling
from nnqft.workflow import design

pytestmark = pytest.mark.workflow

CONFIG = load_config("training_quick", defaults=True)


@pytest.fixture(scope="module")
def training_run(workflow_runs):
    return workflow_runs("training_quick")


def test_every_trained_point_is_sampled_under_its_training_and_gathered_with_its_times(training_run):
    samples = {p.relative_to(training_run).as_posix() for p in (training_run / "results" / "samples").rglob("*.parquet")}
    assert samples == set(design.block_paths(CONFIG, kind="trained")) and not design.block_paths(CONFIG)
    corr = pq.read_table(training_run / "results" / "tables" / "trained_correlators.parquet").to_pandas()
    for name, exp in design.experiments(CONFIG).items():
        rows = corr[(corr.training.astype(str) == exp.training.training_id) & (corr.estimator.astype(str) == exp.estimator)]
        assert set(rows.time) == set(exp.training.times) and set(rows.order) == set(exp.orders), name
        labels = {combos.combo_label(c) for _, c in combos.output_combos(len(exp.points), list(exp.orders))}
        assert set(rows.combo.astype(str)) == labels
        assert len(rows) == len(exp.N) * exp.n_bags * len(exp.training.times) * len(labels)
    assert not (training_run / "results" / "tables" / "correlators.parquet").exists()  # no untrained experiment


def test_a_gathered_bag_is_the_kernels_bag_bit_for_bit(training_run):
    """One bag of the gathered table against nnqft.sampling.training.bag_correlators called directly: the job layout
    (a block of bags per job) changes no bit."""
    corr = pq.read_table(training_run / "results" / "tables" / "trained_correlators.parquet").to_pandas()
    exp = design.experiments(CONFIG)["erf_trained"]
    model = exp.model(exp.sigma_w[0], exp.N[1])
    direct = trained_sampling.bag_correlators(model, CONFIG["seed"], 2, exp.orders)
    rows = corr[(corr.training.astype(str) == exp.training.training_id) & (corr.N == model.N) & (corr.bag == 2)]
    assert rows.sort_values(["time", "order"], kind="stable").value.to_numpy().tobytes() == direct.ravel().tobytes()


def test_the_training_tables_figures_and_claims(training_run):
    tables = training_run / "results" / "tables"
    table = pd.read_parquet(tables / "training.parquet")
    exps = design.experiments(CONFIG)
    for name, exp in exps.items():
        mine = table[table.experiment == name]
        P = len(exp.points)
        per_time = P + P * (P + 1) // 2 + (P if {3, 4} <= set(exp.orders) else 0)
        assert len(mine) == len(exp.N) * len(exp.training.times) * per_time, name
        assert mine[mine.time == 0].exact.notna().all() and mine[mine.time > 0].exact.isna().all()
    fit = pd.read_parquet(tables / "training_fit.parquet")
    assert set(fit.experiment) == set(exps) and (fit.time > 0).all()
    root = training_run / "results" / "figures"
    assert {p.relative_to(root).as_posix() for p in root.rglob("*.png")} == {f"{n}/training.png" for n in exps}
    claims = pd.read_parquet(tables / "claims.parquet")
    for name in exps:
        mine = claims[claims.claim.str.endswith(f"({name})")]
        assert len(mine) == 3
        zero = mine[mine.claim.str.startswith("at τ = 0 the trained ensemble is the untrained one")].iloc[0]
        assert zero.agreement == "agrees", zero.detail
        assert set(mine.statement_measured) <= {"holds", "fails", "below noise"}
        assert mine.false_alarm.str.startswith("1%").all()
    assert "the trained covariance approaches the NTK theory as 1/N" in (training_run / "results" / "claims.md").read_text()
    readout = claims[claims.claim.str.startswith("readout training is exact at every N")]
    assert readout.claim.tolist() == ["readout training is exact at every N (erf_readout_integrated against erf_readout)"]
    assert readout.agreement.iloc[0] == "agrees", readout.detail.iloc[0]


def test_every_trained_rule_writes_its_log_and_no_untrained_rule_runs(training_run):
    logs = training_run / "logs"
    expected = ["analyse/training.log", "claims.log", "gather_trained.log",
                *(f"plot/{name}/training.log" for name in CONFIG["experiments"])]
    for name in expected:
        assert (logs / name).stat().st_size > 0, name
    sample_logs = list((logs / "sample_trained").rglob("*.log"))
    assert len(sample_logs) == len(design.block_paths(CONFIG, kind="trained"))
    assert all(p.stat().st_size > 0 for p in sample_logs)
    assert {p.name for p in (logs / "analyse").iterdir()} == {"training.log"} and not (logs / "sample_bags").exists()


def test_no_title_label_or_legend_of_a_figure_falls_outside_its_canvas(training_run):
    assert overflowing_figures("training_quick", training_run) == {}
