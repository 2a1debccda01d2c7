"""Shared by the tests: the repository root, the quick config and a local run of it."""
import os
import re
import subprocess
import sys
from pathlib import Path

# The CUDA backend's tests run in numba's CUDA simulator unless asked to use a real GPU. numba reads
# this when it is imported, so it is set here, before any test module imports numba.
if os.environ.get("NNQFT_CUDA_TESTS_ON_GPU") != "1":
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

with open(ROOT / "config" / "quick.yaml") as fh:
    QUICK = yaml.safe_load(fh)


def run_snakemake(workdir, config, *args, python=sys.executable, timeout=600, env=None):
    """`snakemake` on the project's Snakefile in `workdir` with `config` written to a file there
    (`env`: the environment, default this one)."""
    configfile = Path(workdir) / "test-config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    cmd = [str(python), "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--configfile", str(configfile), *args]
    # `timeout -k` because a hung snakemake may ignore SIGTERM
    return subprocess.run(["timeout", "-k", "10", str(timeout), *cmd], capture_output=True, text=True, env=env)


def scheduled_outputs(result):
    """The outputs of the jobs that a `snakemake -n` run printed."""
    assert result.returncode == 0, result.stdout + result.stderr
    outputs = re.findall(r"^\s+output: (.+)$", result.stdout, flags=re.M)
    return {path.strip() for line in outputs for path in line.split(",")}


def complete_run(tmp_path_factory, config, name):
    """A complete local run of ``config`` (2 cores) in a new temporary directory called ``name``."""
    workdir = tmp_path_factory.mktemp(name)
    result = run_snakemake(workdir, config, "--cores", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """A complete local run of config/quick.yaml, shared by the workflow and SLURM tests."""
    return complete_run(tmp_path_factory, QUICK, "quick")
