"""What a Snakemake user relies on: the default profile, configs that replace the paper's, lint and format,
logs, an installable package, code digests that rerun exactly what an edit can change, stream versions."""
import json
import os
import shutil
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import yaml

from helpers import QUICK, ROOT, run_snakemake, run_until, scheduled_outputs, write_config
from nnqft.analysis import registry
from nnqft.workflow import design, tables

pytestmark = pytest.mark.workflow
BIN = ROOT / ".venv" / "bin"


def snakemake_cli(*args, cwd=ROOT, env=None, timeout=300):
    """A plain `snakemake` call (no -s, no --configfile unless given), as a user types it."""
    cmd = [sys.executable, "-m", "snakemake", *args]
    return subprocess.run(["timeout", "-k", "10", str(timeout), *cmd], capture_output=True, text=True, cwd=cwd,
                          env=env)


# --- lint and format --------------------------------------------------------------------------------------

@pytest.mark.parametrize("config", ["config/config.yaml", "config/quick.yaml"])
def test_snakemake_lint_is_clean(config):
    result = snakemake_cli("--lint", "--configfile", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def test_snakefmt_check_passes():
    snakefmt = BIN / "snakefmt"
    if not snakefmt.exists():
        pytest.fail("snakefmt is not installed: `make test` installs requirements-dev.txt into .venv")
    result = subprocess.run([str(snakefmt), "--check", "."], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


# --- configs ----------------------------------------------------------------------------------------------

MINE = {"experiments": {"mine": {"sigma_b": 0.3, "sigma_w": [0.7, 1.3], "N": [3, 7], "n_bags": 2}},
        "points": [0.1, 0.35, 0.5]}


def test_a_configfile_replaces_the_paper_config_and_omitted_keys_take_the_schema_defaults(tmp_path):
    (tmp_path / "config").mkdir()  # the working directory holds the paper config, as the repository root does
    shutil.copy(ROOT / "config" / "config.yaml", tmp_path / "config" / "config.yaml")
    result = run_snakemake(tmp_path, MINE, "-n")
    samples = {p for p in scheduled_outputs(result) if p.startswith("results/samples/")}
    defaults = {"seed": 20221223, "n_nets": 30000, "orders": [2, 4, 6]}
    expected = set(design.block_paths({**defaults, **MINE}))
    assert samples == expected
    assert all("/seed20221223/gauss_d1_x" in p and "_nnets30000_plain/sb0.3_sw" in p for p in samples)
    assert len(samples) == 4  # (0.7, 1.3) x (3, 7), one block each
    # the figures of the paper's experiments are not asked for; the validation figure (all experiments) is
    figures = {p for p in scheduled_outputs(result) if p.startswith("results/figures/")}
    assert figures == {"results/figures/validation.pdf", "results/figures/validation.png"}


def test_without_a_configfile_the_paper_config_is_used(tmp_path):
    result = snakemake_cli("-n", "--quiet", "rules")
    assert result.returncode == 0, result.stdout + result.stderr
    with open(ROOT / "config" / "config.yaml") as fh:
        paper = yaml.safe_load(fh)
    n_jobs = len(design.block_paths(paper))
    assert f"sample_bags        {n_jobs}" in result.stdout or f"sample_bags {n_jobs}" in " ".join(
        result.stdout.split()), result.stdout


def test_the_gpu_profile_still_applies_with_workflow_profile():
    """`--workflow-profile workflow/profiles/gpu` replaces the default profile and sets backend cuda and one
    sampling job per point, on the paper config (a dry run: no GPU here)."""
    result = snakemake_cli("-n", "--quiet", "rules", "--workflow-profile", "workflow/profiles/gpu")
    assert result.returncode == 0, result.stdout + result.stderr
    with open(ROOT / "config" / "config.yaml") as fh:
        paper = yaml.safe_load(fh)
    n_points = len(design.sampling_points(paper))
    assert result.stdout.split("sample_bags")[1].split()[0] == str(n_points)  # not 126, the CPU layout


def test_the_catalog_test_config_runs_end_to_end(quick_run):
    """`snakemake --cores 2 --directory .test`, the catalog's standardized test run: .test/config/config.yaml is a
    link to config/quick.yaml, so the shared quick run (conftest.py: a folder holding that config as
    config/config.yaml, run with --directory and no --configfile) is that run. Every rule of the quick config ran
    (its figures, tables and claims are there); the HMS figures it lacks are drawn by HMS's run
    (test_hms_workflow.py)."""
    link = ROOT / ".test" / "config" / "config.yaml"
    assert link.is_symlink() and link.resolve() == (ROOT / "config" / "quick.yaml").resolve()
    assert (quick_run / "config" / "config.yaml").read_text() == link.read_text()
    for path in registry.figure_paths(design.experiments(QUICK), QUICK["orders"]):
        assert (quick_run / "results" / "figures" / f"{path}.png").stat().st_size > 0, path
    assert "| m_2 ≈ 0 at every N (width_scan) |" in (quick_run / "results" / "claims.md").read_text()


# --- the default profile ----------------------------------------------------------------------------------

def test_the_default_profile_is_loaded_by_a_plain_call_rerun_incomplete(quick_run, tmp_path):
    """The default profile (workflow/profiles/default, found through the top-level `profiles` link) sets
    rerun-incomplete. A run is killed mid-way; the outputs of the jobs it left marked incomplete are then
    put in place (copied from a complete run), as when a job is killed after writing its output. A plain
    `snakemake -n` plans them again; the same call without the profile refuses to run."""
    import base64

    work = tmp_path / "killed"
    work.mkdir()
    marker = work / ".snakemake" / "incomplete"
    assert run_until(work, QUICK, lambda: marker.is_dir() and any(marker.iterdir())), "the run was not interrupted"
    incomplete = [base64.urlsafe_b64decode(p.name).decode() for p in marker.iterdir() if p.is_file()]
    assert incomplete and all(p.startswith("results/") for p in incomplete), incomplete
    for path in incomplete:
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(quick_run / path, work / path)
    assert run_snakemake(work, QUICK, "--unlock").returncode == 0
    without = run_snakemake(work, QUICK, "-n", "--workflow-profile", "none")
    assert without.returncode != 0 and "incomplete" in (without.stdout + without.stderr).lower()
    plain = run_snakemake(work, QUICK, "-n")
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert set(incomplete) <= scheduled_outputs(plain)


# --- logs and the package ---------------------------------------------------------------------------------

def test_every_rule_writes_its_log(quick_run):
    logs = quick_run / "logs"
    steps = registry.steps_for(design.experiments(QUICK))
    assert {s.name for s in registry.TABLES} - {s.name for s in steps} == set(registry.KIND_OF)
    expected = [*(f"analyse/{step.name}.log" for step in steps), "claims.log", "gather_correlators.log",
                *(f"plot/{path}.log" for path in registry.figure_paths(design.experiments(QUICK), QUICK["orders"]))]
    for name in expected:
        assert (logs / name).stat().st_size > 0, name
    sample_logs = list((logs / "sample_bags").rglob("*.log"))
    assert len(sample_logs) == len(design.block_paths(QUICK))
    assert all(p.stat().st_size > 0 for p in sample_logs)


def test_every_table_has_the_flow_time_and_an_untrained_run_has_it_zero(quick_run):
    """Every table of results/tables has ``time`` (docs/workflow.md), 0 for the quick config's untrained ensembles, before
    ``bag`` in the correlator table as in the trained one; the claims' verdicts have none (they span times)."""
    import pandas as pd

    tables_dir = quick_run / "results" / "tables"
    names = sorted(p.stem for p in tables_dir.glob("*.parquet"))
    assert "correlators" in names and "claims" in names
    for name in names:
        frame = pd.read_parquet(tables_dir / f"{name}.parquet")
        if name == "claims":
            assert "time" not in frame.columns
            continue
        assert "time" in frame.columns, name
        assert (frame.time == 0.0).all(), name
    columns = list(pd.read_parquet(tables_dir / "correlators.parquet").columns)
    assert columns[columns.index("time") + 1] == "bag"


def test_the_package_imports_from_anywhere_without_a_path_setting(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import nnqft, nnqft.theory.exact as exact; print(nnqft.__file__); "
            "print(exact.Theory('gauss', [0.1], 1, 1).correlators([(0, 0)], 2)[0][0])")
    result = subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == str(ROOT / "scripts" / "nnqft" / "__init__.py")
    for path in [ROOT / "Snakefile", *(ROOT / "workflow" / "rules").glob("*.smk")]:
        text = path.read_text()
        assert "sys.path" not in text and "PYTHONPATH" not in text, path


# --- code digests -----------------------------------------------------------------------------------------

def edited_copy(tmp_path, relative, old, new):
    """A copy of the workflow with one edit in one file; returns its root."""
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".venv*", "results", ".snakemake", "logs", ".git", "*.egg-info", "__pycache__"))
    path = src / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not unique in {relative}"
    path.write_text(text.replace(old, new))
    return src


def planned_by(src, workdir):
    """What `snakemake -n` of the workflow copy `src` (its own nnqft first on the path) plans in `workdir`."""
    configfile = write_config(workdir, QUICK)
    env = {**os.environ, "PYTHONPATH": str(src / "scripts")}
    result = subprocess.run(["timeout", "-k", "10", "300", sys.executable, "-m", "snakemake", "-s",
                             str(src / "Snakefile"), "-d", str(workdir), "--configfile", str(configfile), "-n"],
                            capture_output=True, text=True, env=env)
    return scheduled_outputs(result)


def figure_files(*paths):
    """The PDF and PNG of figures, by their path under results/figures (``{experiment}/{name}`` or ``{name}``)."""
    return {f"results/figures/{path}.{ext}" for path in paths for ext in ("pdf", "png")}


def test_editing_one_figure_reruns_only_that_figure(quick_run, tmp_path):
    src = edited_copy(tmp_path, "scripts/nnqft/analysis/figures.py",
                      'ax.set_ylabel("−⟨u_4⟩ (mean over 4-point combinations)")',
                      'ax.set_ylabel("−⟨u_4⟩, mean over combinations")')
    assert planned_by(src, quick_run) == figure_files("width_scan/u4_vs_N")


def test_editing_a_helper_reruns_the_figures_that_use_it_and_no_other(quick_run, tmp_path):
    src = edited_copy(tmp_path, "scripts/nnqft/analysis/style.py", "(1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000)",
                      "(1, 2, 4, 10, 20, 50, 100, 1000)")  # the ticks of plain_log_x
    assert planned_by(src, quick_run) == figure_files("sigma_scan/u4_vs_sigma", "sigma_scan/u6_vs_sigma",
                                                      "sigma_scan_conditional/u4_vs_sigma", "sigma_scan/passive_flow",
                                                      "validation")


def test_editing_a_constant_reruns_the_figures_that_read_it(quick_run, tmp_path):
    src = edited_copy(tmp_path, "scripts/nnqft/analysis/style.py",
                      'COLORS = {2: "tab:blue", 4: "tab:orange", 6: "tab:green"}',
                      'COLORS = {2: "tab:blue", 4: "tab:red", 6: "tab:green"}')
    planned = planned_by(src, quick_run)
    assert planned == figure_files("width_scan/histograms", "width_scan/mean_deviation_vs_N", "falloff")


def test_editing_one_analysis_step_reruns_its_tables_and_their_readers_only(quick_run, tmp_path):
    """One rule per analysis step, each with its own code digest: an edit to the depth analysis reruns the
    depth_running table and the claims that read it, not the deviations, HMS's λ or the couplings."""
    src = edited_copy(tmp_path, "scripts/nnqft/analysis/depth.py", "    out = []\n    for scan, names in",
                      "    out = []  # edited\n    for scan, names in")
    assert planned_by(src, quick_run) == {"results/tables/depth_running.parquet", "results/tables/claims.parquet",
                                          "results/claims.md"}


def test_editing_the_exact_theory_reruns_the_analysis_and_not_the_sampling(quick_run, tmp_path):
    src = edited_copy(tmp_path, "scripts/nnqft/theory/partitions.py", "    double_fact = 1\n",
                      "    double_fact = 1  # edited\n")
    planned = planned_by(src, quick_run)
    assert "results/tables/deviations.parquet" in planned and "results/claims.md" in planned
    assert not any(p.startswith("results/samples/") for p in planned)
    assert "results/tables/correlators.parquet" not in planned


def test_editing_the_kernel_reruns_the_sampling(quick_run, tmp_path):
    src = edited_copy(tmp_path, "scripts/nnqft/sampling/streams.py", "def mix64(z):", "def mix64(z):  # edited")
    planned = planned_by(src, quick_run)
    assert {p for p in planned if p.startswith("results/samples/")} == set(design.block_paths(QUICK))


# --- random-stream layout ---------------------------------------------------------------------------------

def test_the_stream_version_is_recorded_and_the_gather_refuses_to_mix_versions(quick_run, tmp_path):
    import nnqft

    work = tmp_path / "mixed"
    shutil.copytree(quick_run, work, symlinks=True)
    block = work / design.block_paths(QUICK)[0]
    assert tables.read_metadata(block)["stream_version"] == nnqft.STREAM_VERSION
    assert tables.read_metadata(work / "results/tables/correlators.parquet")["stream_version"] == nnqft.STREAM_VERSION
    table = pq.read_table(block)
    meta = json.loads(table.schema.metadata[tables.METADATA_KEY])
    meta["stream_version"] = nnqft.STREAM_VERSION + 1  # a block drawn under another layout
    tables.write_table(table, block, meta)
    result = run_snakemake(work, QUICK, "--cores", "1", "--forcerun", "gather_correlators",
                           "results/tables/correlators.parquet")
    assert result.returncode != 0
    log = (work / "logs" / "gather_correlators.log").read_text()
    assert f"stream_version = {nnqft.STREAM_VERSION + 1}" in log and block.name in log


def test_bumping_the_stream_version_reruns_every_sampling_job(quick_run, tmp_path):
    src = edited_copy(tmp_path, "scripts/nnqft/__init__.py", "STREAM_VERSION = 1", "STREAM_VERSION = 2")
    planned = planned_by(src, quick_run)
    assert {p for p in planned if p.startswith("results/samples/")} == set(design.block_paths(QUICK))


def test_catalog_citation_and_license_files():
    catalog = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())
    assert catalog["usage"]["software-stack-deployment"]["conda"] is True and catalog["usage"]["report"] is True
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT"
    cited = {ref["identifiers"][0]["value"] for ref in citation["references"]}
    readme = (ROOT / "README.md").read_text()
    references = readme.split("## References")[1]
    for arxiv in cited:
        assert arxiv in references, arxiv
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    science = (ROOT / "docs" / "science.md").read_text()
    assert "## References" in science and "arXiv:2212.11811" in science


def test_every_figure_has_a_caption_and_a_rule():
    result = snakemake_cli("--list-rules", "--configfile", "config/quick.yaml")
    assert result.returncode == 0, result.stderr
    rules = set(result.stdout.split())
    names = {spec.name for spec in registry.FIGURES}
    for name in names:
        assert (ROOT / "workflow" / "report" / f"{name}.rst").exists(), name
    assert {r for r in rules if r.startswith("plot_")} == {f"plot_{n}" for n in names}
    captions = {p.stem for p in (ROOT / "workflow" / "report").glob("*.rst")}
    assert captions == names | {"claims", "workflow"}  # no caption of a figure that is gone
