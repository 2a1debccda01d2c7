# Helpers shared by the rule files: config validation, the nnqft package, the list of blocks.
import math
import os
import sys

from snakemake.utils import validate

SCRIPTS_DIR = os.path.join(workflow.basedir, "scripts")
# Rule scripts import the nnqft package from scripts/ (locally and inside cluster jobs).
sys.path.insert(0, SCRIPTS_DIR)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (SCRIPTS_DIR, os.environ.get("PYTHONPATH")) if p)

from nnqft import design

validate(config, os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"))
design.check_config(config)

BLOCK = design.BLOCK_PATTERN

# Estimated cost of one neuron (3 normals, one exp per point), for job resources: on one CPU core,
# and on a GPU (measured elsewhere at ~4e10 neurons/s on an H100; 1e9 leaves room for small GPUs).
SECONDS_PER_NEURON = {"cpu": 1.5e-7, "cuda": 1e-9}


def block_work(wildcards):
    """Neurons sampled by one sampling job: N x n_nets x bags."""
    n_bags = int(wildcards.last) - int(wildcards.first) + 1
    return int(wildcards.N) * int(wildcards.n_nets) * n_bags


def sampling_group(wildcards):
    """Cluster group of a sampling job (groups are inactive in local runs): see design.sampling_group."""
    return design.sampling_group(config, wildcards.N, wildcards.first, wildcards.last)


#: Conda environment of the sampling rule (--sdm conda), relative to this folder: see design.sampling_env.
SAMPLING_ENV = os.path.join("..", "..", design.sampling_env(config))


def sample_mem_mb(wildcards):
    """Memory asked for one sampling job: mem_mb_per_job if the config sets it, else the estimate for
    this block (fixed part + per-thread scratch + its rows; weights are never stored)."""
    if "mem_mb_per_job" in config:
        return config["mem_mb_per_job"]
    n_bags = int(wildcards.last) - int(wildcards.first) + 1
    return math.ceil(design.block_memory_mb(config, n_bags))


def sample_runtime(wildcards, attempt):
    """Minutes asked for one sampling job: 4x the estimate plus start-up, doubled on each retry."""
    if config["backend"] == "cuda":
        seconds = block_work(wildcards) * SECONDS_PER_NEURON["cuda"]
    else:
        seconds = block_work(wildcards) * SECONDS_PER_NEURON["cpu"] / config["threads_per_job"]
    return math.ceil((4 * seconds + 60) / 60) * attempt


def code_digest(module, function=None):
    """Digest of a module's source, or of one top-level function in it: a param that reruns a rule only
    when that code changes. Read with ast, not imported, so parsing the Snakefile (also done by every
    cluster job) does not import matplotlib or scipy."""
    import ast
    import hashlib

    path = os.path.join(SCRIPTS_DIR, "nnqft", f"{module}.py")
    with open(path) as fh:
        text = fh.read()
    if function is not None:
        node = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == function)
        text = ast.get_source_segment(text, node)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sigma_experiment():
    """The experiment scanned in sigma_w (the one with the most sigma_w values)."""
    return max(config["experiments"], key=lambda name: len(config["experiments"][name]["sigma_w"]))
