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
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from helpers import ROOT, complete_run, guard_snakemake, load_config, slurm_skip_reason  # noqa: E402


@pytest.fixture(autouse=True)
def snakemake_only_in_marked_tests(request, monkeypatch):
    """A test that runs the snakemake command line (itself, or through a fixture it asks for) carries the
    ``workflow`` or ``slurm`` marker, so that ``pytest -m "not workflow and not slurm"`` runs the package's own tests
    alone: in any other test, starting snakemake fails, naming the test."""
    if request.node.get_closest_marker("workflow") or request.node.get_closest_marker("slurm"):
        return
    monkeypatch.setattr(subprocess, "run", guard_snakemake(subprocess.run, request.node.nodeid))
    monkeypatch.setattr(subprocess, "Popen", guard_snakemake(subprocess.Popen, request.node.nodeid))


def shared_folder(tmp_path_factory) -> Path:
    """The folder that this session's pytest-xdist workers share (pytest-of-<user>/pytest-<n>), or this process's."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def slurm_runs(tmp_path_factory):
    """The folder of the SLURM module's cluster runs (tests/slurm/background.py), started once per session by the
    first process that asks, under a lock in the shared folder; that process waits for them at its end."""
    folder = shared_folder(tmp_path_factory) / "slurm-runs"
    background = None
    with open(f"{folder}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not folder.exists():
            folder.mkdir()
            with open(folder / "background.log", "w") as log:
                background = subprocess.Popen([sys.executable, str(ROOT / "tests" / "slurm" / "background.py"),
                                               str(folder)], stdout=log, stderr=subprocess.STDOUT)
    yield folder
    if background is not None:
        background.wait()


@pytest.fixture(scope="session", autouse=True)
def slurm_runs_from_the_start(request):
    """Starts the SLURM runs at each process's first test when the session has SLURM tests that can run here: the
    SLURM module is handed out last (pytest_collection_modifyitems), when its runs are over."""
    if slurm_skip_reason() is None and any(item.get_closest_marker("slurm") for item in request.session.items):
        request.getfixturevalue("slurm_runs")


@pytest.fixture(scope="session")
def workflow_runs(tmp_path_factory):
    """``workflow_runs(name)``: the folder of a complete local run (2 cores) of the shipped config/<name>.yaml, made
    once per session whichever test asks first. Under pytest-xdist the workers share it: the first to ask makes
    it under a lock in the folder the workers share, the others wait for it and read it."""
    shared = shared_folder(tmp_path_factory)

    def run(name: str):
        workdir = shared / f"run-{name}"
        with open(shared / f"run-{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (workdir / ".complete").exists():
                shutil.rmtree(workdir, ignore_errors=True)
                workdir.mkdir()
                complete_run(workdir, load_config(name))
                (workdir / ".complete").touch()
        return workdir

    return run


@pytest.fixture(scope="session")
def quick_run(workflow_runs):
    """The complete run of config/quick.yaml, shared by the workflow, convention, report and SLURM tests."""
    return workflow_runs("quick")


#: The package's test modules that took a minute or more of one core (``make test``'s durations, 2026-12-04).
LONG_MODULES = ("test_cutoff.py", "test_calibration.py", "test_neurons.py", "test_cuda.py")


def pytest_collection_modifyitems(items):
    """The order in which pytest-xdist hands out the test modules (``make test``: ``--dist loadfile
    --no-loadscope-reorder``), longest first so that no long module starts last: the modules that run the workflow,
    then the package's own tests, the package's modules that take a minute or more first (measured; a scheduling hint
    only), each group in collection order; and the SLURM module last, whose cluster runs were started in the background
    at the session's first test (``slurm_runs_from_the_start``) and are over by then, so that their waits overlapped
    every other test."""
    def rank(item):
        if item.get_closest_marker("slurm"):
            return 3
        if item.get_closest_marker("workflow"):
            return 0
        return 1 if item.path.name in LONG_MODULES else 2

    items.sort(key=rank)  # stable: the collection order within each group
