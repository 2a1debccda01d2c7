"""Fixtures shared by the tests (helpers are in helpers.py): complete runs of the shipped configs."""
import os

# The CUDA backend's tests run in numba's CUDA simulator unless asked to use a real GPU. numba reads
# this when it is imported, so it is set here, before any test module imports numba.
if os.environ.get("NNQFT_CUDA_TESTS_ON_GPU") != "1":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

# Each test process computes with one BLAS thread, as every analysis job of the workflow does (Snakemake sets
# OPENBLAS_NUM_THREADS to a job's threads). `make test` runs two processes on two cores, where a second BLAS thread
# in each adds no speed and doubles the CPU time of the cubature tests (measured: 118 s user CPU against 55 s, the same
# wall time). OpenBLAS reads this when numpy is first imported, so it is set here, before any test module imports it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import fcntl  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402

import pytest  # noqa: E402

from helpers import ROOT, catalog_run, guard_snakemake, load_config, table_targets  # noqa: E402


@pytest.fixture(autouse=True)
def snakemake_only_in_marked_tests(request, monkeypatch):
    """A test that runs the snakemake command line (itself, or through a fixture it asks for) carries the
    ``workflow`` or ``slurm`` marker, so that ``pytest -m "not workflow and not slurm"`` runs the package's own tests
    alone: in any other test, starting snakemake fails, naming the test."""
    if request.node.get_closest_marker("workflow") or request.node.get_closest_marker("slurm"):
        return
    monkeypatch.setattr(subprocess, "run", guard_snakemake(subprocess.run, request.node.nodeid))
    monkeypatch.setattr(subprocess, "Popen", guard_snakemake(subprocess.Popen, request.node.nodeid))


@pytest.fixture(scope="session")
def workflow_runs(tmp_path_factory):
    """``workflow_runs(name)``: the folder of a complete local run (2 cores) of the shipped config/<name>.yaml, made
    once per session whichever test asks first, the way the Snakemake catalog runs ``.test`` (helpers.catalog_run;
    for config/quick.yaml, which ``.test/config/config.yaml`` links to, it is the catalog's test run). Under
    pytest-xdist the workers share it: the first to ask makes it under a lock in the folder the workers share, the
    others wait for it and read it."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # pytest-of-<user>/pytest-<n>: this session's workers' common folder

    def run(name: str, figures=True):
        """``figures`` True: every output. Otherwise the tables and the claims (helpers.table_targets) and only the
        figures ``figures`` names (paths under results/figures, without extension); the others such a run would
        draw are then checked by a dry run (helpers.planned_figures) and drawn in the test process
        (helpers.overflowing_figures), which saves a job process per figure."""
        label = name if figures is True else f"{name}-tables"
        workdir = shared / f"run-{label}"
        with open(shared / f"run-{label}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (workdir / ".complete").exists():
                shutil.rmtree(workdir, ignore_errors=True)
                workdir.mkdir()
                targets = [] if figures is True else [*table_targets(load_config(name)),
                                                      *(f"results/figures/{f}.png" for f in figures or ())]
                catalog_run(workdir, (ROOT / "config" / f"{name}.yaml").read_text(), *targets)
                (workdir / ".complete").touch()
        return workdir

    return run


@pytest.fixture(scope="session")
def quick_run(workflow_runs):
    """The complete run of config/quick.yaml, shared by the workflow, convention, report and SLURM tests: the
    catalog's ``.test`` run (test_conventions.py)."""
    return workflow_runs("quick")


#: The package's test modules that took a minute or more of one core (``make test``'s durations, 2026-12-04).
LONG_MODULES = ("test_cutoff.py", "test_calibration.py", "test_neurons.py", "test_cuda.py")


def pytest_collection_modifyitems(items):
    """The order in which pytest-xdist hands out the test modules (``make test``: ``--dist loadfile
    --no-loadscope-reorder``), longest first so that no long module starts last: the SLURM module (its jobs' waits
    overlap the other process's work), then the other modules that run the workflow, then the package's own tests,
    the package's modules that take a minute or more first (measured; a scheduling hint only), each group in
    collection order."""
    def rank(item):
        if item.get_closest_marker("slurm"):
            return 0
        if item.get_closest_marker("workflow"):
            return 1
        return 2 if item.path.name in LONG_MODULES else 3

    items.sort(key=rank)  # stable: the collection order within each group
