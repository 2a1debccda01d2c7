"""Fixtures shared by the tests (helpers are in helpers.py): complete runs of the shipped configs."""
import os

# The CUDA backend's tests run in numba's CUDA simulator unless asked to use a real GPU. numba reads
# this when it is imported, so it is set here, before any test module imports numba.
if os.environ.get("NNQFT_CUDA_TESTS_ON_GPU") != "1":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import subprocess  # noqa: E402

import pytest  # noqa: E402

from helpers import complete_run, guard_snakemake, load_config  # noqa: E402


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
    """``workflow_runs(name)``: the folder of a complete local run (2 cores) of the shipped config/<name>.yaml, run
    once per session whichever test asks first."""
    done = {}

    def run(name: str):
        if name not in done:
            done[name] = complete_run(tmp_path_factory.mktemp(name), load_config(name))
        return done[name]

    return run


@pytest.fixture(scope="session")
def quick_run(workflow_runs):
    """The complete run of config/quick.yaml, shared by the workflow, convention, report and SLURM tests."""
    return workflow_runs("quick")
