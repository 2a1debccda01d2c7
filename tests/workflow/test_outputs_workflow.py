"""Networks of several outputs through the workflow: config/outputs_quick.yaml end to end (ReLU with two outputs, Erf
with three, by the conditional estimator; ReLU by the plain one too, and ReLU of depth 2 by both), its sample paths, the gathered bags against the sampler, the outputs table,
falloff per output structure, figure and claims, and a claim that fails when the theory ignores the outputs."""
import pandas as pd
import pyarrow.parquet as pq
import pytest

from helpers import load_config, overflowing_figures
from nnqft.analysis import outputs as analysis
from nnqft.sampling import outputs as sampling
from nnqft.workflow import design, tables

pytestmark = pytest.mark.workflow

CONFIG = load_config("outputs_quick", defaults=True)


@pytest.fixture(scope="module")
def outputs_run(workflow_runs):
    return workflow_runs("outputs_quick")


def test_every_point_is_sampled_under_its_outputs_and_gathered_bit_for_bit(outputs_run):
    samples = {p.relative_to(outputs_run).as_posix() for p in (outputs_run / "results" / "samples").rglob("*.parquet")}
    assert samples == set(design.block_paths(CONFIG, kind="outputs")) and not design.block_paths(CONFIG)
    corr = pq.read_table(outputs_run / "results" / "tables" / "output_correlators.parquet").to_pandas()
    assert set(corr.d_out) == {2, 3}
    assert set(corr.estimator.astype(str)) == {"plain", "conditional"}
    for name in ("erf_three_outputs", "relu_two_outputs_plain", "relu_two_outputs_L2", "relu_two_outputs_L2_plain"):
        exp = design.experiments(CONFIG)[name]
        model = exp.model(exp.sigma_w[0], exp.N[1])
        direct = sampling.bag_correlators(model, CONFIG["seed"], 3, CONFIG["orders"])
        rows = corr[(corr.d_out == exp.d_out) & (corr.estimator == exp.estimator) & (corr.depth == exp.depth)
                    & (corr.activation == exp.activation) & (corr.N == model.N) & (corr.bag == 3)]
        labels = [sampling.combo_label(c) for _, c in sampling.output_combos(2, exp.d_out, CONFIG["orders"])]
        assert rows.combo.astype(str).tolist() == labels, name
        assert rows.value.to_numpy().tobytes() == direct.tobytes(), name
    assert not (outputs_run / "results" / "tables" / "correlators.parquet").exists()


def test_the_outputs_table_figure_and_claims(outputs_run):
    table = pd.read_parquet(outputs_run / "results" / "tables" / "outputs.parquet")
    for name, exp in design.experiments(CONFIG).items():
        mine = table[table.experiment == name]
        n_combos = len(sampling.output_combos(len(exp.points), exp.d_out, CONFIG["orders"]))
        n_four = len(sampling.output_combos(len(exp.points), exp.d_out, [4]))
        assert len(mine) == len(exp.N) * (n_combos + n_four), name
        assert set(mine.structure) == {"same output", "cross output"}
        assert set(mine.theory) == {"exact" if exp.depth == 1 else "order 1/N"} and set(mine.depth) == {exp.depth}, name
    fall = pd.read_parquet(outputs_run / "results" / "tables" / "outputs_falloff.parquet")
    for name, exp in design.experiments(CONFIG).items():
        mine = fall[fall.experiment == name]
        assert set(zip(mine.structure, mine.order)) == {("same output", 2), ("same output", 4), ("cross output", 4)}
        assert len(mine) == 3 * len(exp.N) and set(mine.d_out) == {exp.d_out}, name
    root = outputs_run / "results" / "figures"
    assert {p.relative_to(root).as_posix() for p in root.rglob("*.png")} == {
        f"{n}/outputs.png" for n in CONFIG["experiments"]}
    claims = pd.read_parquet(outputs_run / "results" / "tables" / "claims.parquet")
    assert len(claims) == 3 * len(CONFIG["experiments"])
    assert set(claims.agreement) == {"agrees"}, claims[["claim", "detail"]].to_string()
    assert claims.false_alarm.str.startswith("1%").all()


def test_a_theory_that_ignores_the_outputs_is_rejected(outputs_run, monkeypatch):
    """The protection, removed: with the one-output theory for every combination (the outputs' labels dropped), the
    cross-output claim on the same samples says disagrees."""
    from nnqft.theory import outputs as theory

    corr = tables.read_correlators(outputs_run / "results" / "tables" / "output_correlators.parquet",
                                   seed=CONFIG["seed"])
    experiments = {n: e for n, e in design.experiments(CONFIG).items() if n == "relu_two_outputs"}
    real = theory.correlators
    monkeypatch.setattr(theory, "correlators", lambda th, combos, N: real(th, [[(p, 0) for p, _ in c]
                                                                                for c in combos], N))
    table = analysis.outputs_table(corr, experiments)
    assert analysis.cross_connected(table, "relu_two_outputs")["agreement"] == "disagrees"


def test_every_rule_writes_its_log_and_no_figure_falls_outside_its_canvas(outputs_run):
    logs = outputs_run / "logs"
    for name in ["analyse/outputs.log", "analyse/outputs_falloff.log", "claims.log", "gather_outputs.log",
                 *(f"plot/{n}/outputs.log" for n in CONFIG["experiments"])]:
        assert (logs / name).stat().st_size > 0, name
    assert len(list((logs / "sample_outputs").rglob("*.log"))) == len(design.block_paths(CONFIG, kind="outputs"))
    assert overflowing_figures("outputs_quick", outputs_run) == {}
