"""HMS's experiments through the workflow: config/hms_quick.yaml (config/hms.yaml with small n_nets) end to end,
one row per what each table names, the figures and a claim of each kind per experiment."""
import pandas as pd
import pytest

from helpers import load_config, overflowing_figures, planned_figures
from nnqft.theory import cutoff
from nnqft.workflow import design

pytestmark = pytest.mark.workflow

HMS, QUICK = load_config("hms", defaults=True), load_config("hms_quick", defaults=True)
#: The figures of the λ and 6-point analyses, drawn by this run's figure rules.
DRAWN = ("lambda_running", "six_point")


@pytest.fixture(scope="module")
def hms_run(workflow_runs):
    """The tables and claims of config/hms_quick.yaml and its two figures that no other run of the suite draws
    (DRAWN); the others are planned by a dry run, and all drawn in this process (the canvas test), as the figure
    rules would draw them (the other workflow runs draw theirs)."""
    return workflow_runs("hms_quick", figures=DRAWN)


def test_the_hms_config_holds_their_parameter_sets_and_the_quick_one_mirrors_it():
    full, quick = design.experiments(HMS), design.experiments(QUICK)
    assert {(e.activation, e.d_in) for e in full.values()} == {(a, d) for a in ("gauss", "relu", "erf")
                                                               for d in (1, 2, 3)}
    for name, exp in full.items():
        assert exp.N == (2, 3, 4, 5, 10, 20, 50, 100, 500, 1000) and exp.n_bags == 10
        assert exp.n_nets == 100_000 and exp.sigma_b == 1.0 and exp.sigma_w == (1.0,)
        assert exp.ngp_width == {"relu": 20, "gauss": 100, "erf": 5}[exp.activation]
        assert (quick[name].points, quick[name].analyses) == (exp.points, exp.analyses)
    assert full["erf_d3"].points == ((-1, -1, -1), (1, 1, -1), (-1, 1, 1), (1, -1, 1))
    assert full["gauss_d2"].points == ((-0.01, -0.01), (-0.01, 0.01), (0.01, -0.01), (0.01, 0.01))


def test_every_table_has_one_row_per_what_it_names(hms_run):
    tables = hms_run / "results" / "tables"
    exps = design.experiments(QUICK)
    n_cut = len(cutoff.HMS_CUTOFFS)
    fall = pd.read_parquet(tables / "hms_falloff.parquet")
    assert len(fall) == len(exps) * 3 * 3 and not fall.duplicated(["experiment", "N", "order"]).any()
    lam = pd.read_parquet(tables / "hms_lambda.parquet")
    assert len(lam) == len(exps) * 3 * n_cut and not lam.duplicated(["experiment", "N", "cutoff"]).any()
    slope = pd.read_parquet(tables / "hms_lambda_slope.parquet")
    assert len(slope) == len(exps) * 3
    assert set(slope.columns) >= {"activation", "d_in", "N", "slope", "slope_se", "slope_exact", "slope_asymptotic"}
    six = pd.read_parquet(tables / "hms_six_point.parquet")
    assert len(six) == len(exps) * 3 * n_cut
    assert set(six.columns) >= {"gp_over_measured", "gp_lambda_over_measured", "gp_over_exact", "gp_lambda_over_exact"}
    for table in (fall, lam, slope, six):
        assert set(table.experiment) == set(exps)


def test_the_figures_and_a_claim_of_each_kind_per_experiment(hms_run):
    figures = planned_figures(hms_run, load_config("hms_quick"))
    assert figures == {"falloff", "validation",
                       *(f"{e}/{f}" for e in QUICK["experiments"] for f in ("histograms", "mean_deviation_vs_N"))}
    for name in DRAWN:  # drawn by their rules, so no longer planned
        assert all((hms_run / "results" / "figures" / f"{name}.{ext}").stat().st_size > 0 for ext in ("pdf", "png"))
    table = pd.read_parquet(hms_run / "results" / "tables" / "claims.parquet")
    for name in design.experiments(QUICK):
        mine = table[table.claim.str.contains(f"({name}", regex=False)]
        kinds = {"m_2 ≈ 0", "m_4 scales as 1/N", "m_6 scales as 1/N", "lambda runs as", "lambda does not run",
                 "lambda brings the 6-point prediction closer"}
        found = {kind for kind in kinds if mine.claim.str.startswith(kind).any()}
        assert found == kinds - {"lambda runs as" if name.startswith("gauss") else "lambda does not run"}, name
        assert set(mine.agreement) <= {"agrees", "disagrees", "error bars unreliable (heavy tails)"}
        assert set(mine.statement_exact) <= {"holds", "fails"}
        assert set(mine.statement_measured) <= {"holds", "fails", "below noise", "error bars unreliable (heavy tails)"}
        assert mine.claim[mine.claim.str.startswith("lambda")].str.contains("hms convention").all()
        assert (mine.false_alarm.str.startswith("1%")).all()


def test_no_title_label_or_legend_of_a_figure_falls_outside_its_canvas(hms_run):
    """Every figure of this run, checked on matplotlib's own layout (tests/helpers.py: overflowing_figures)."""
    assert overflowing_figures("hms_quick", hms_run) == {}
