# Helpers shared by the other .smk files: config validation, the nnqft package, code digests, job resources.
import math
import os
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

try:
    import nnqft
except ImportError as err:
    raise WorkflowError(
        f"the nnqft package is not importable ({err}): install it into this environment with "
        f"`pip install -e {workflow.basedir}` (make venv does), see the README"
    )
from nnqft import STREAM_VERSION
from nnqft.model import Model, Training, tag_depth
from nnqft.analysis import registry
from nnqft.workflow import codedeps, config as config_checks, design

SCRIPTS_DIR = Path(workflow.basedir) / "scripts"
PACKAGE_DIR = Path(nnqft.__file__).resolve().parent
if PACKAGE_DIR != (SCRIPTS_DIR / "nnqft").resolve():
    logger.warning(
        f"nnqft is imported from {PACKAGE_DIR}, not from this workflow's {SCRIPTS_DIR / 'nnqft'}: "
        f"the jobs run that code (reinstall with `pip install -e {workflow.basedir}` to use this one)"
    )

# One pass (nnqft.workflow.config): the model's fields, then the JSON schema (which fills in the defaults), then
# what no schema can express; every message names the experiment, the key, the value and what is allowed.
SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
try:
    config_checks.check(config, SCHEMA, lambda c: validate(c, SCHEMA))
except config_checks.ConfigError as err:
    raise WorkflowError(f"invalid config: {err}") from None

BLOCK = design.BLOCK_PATTERN
TRAINED_BLOCK = design.TRAINED_BLOCK_PATTERN
OUTPUTS_BLOCK = design.OUTPUTS_BLOCK_PATTERN

# Estimated cost of one neuron (3 normals, one exp per point), for job resources: on one CPU core,
# and on a GPU (measured elsewhere at ~4e10 neurons/s on an H100; 1e9 leaves room for small GPUs).
SECONDS_PER_NEURON = {"cpu": 1.5e-7, "cuda": 1e-9}


#: Point sets of the config by id (the {points_id} of a block's path), and the complete experiments
#: (nnqft.model.Experiment: activation, points, n_nets filled in from the top-level defaults) for the rules' params.
POINT_SETS = design.point_sets(config)
EXPERIMENTS = design.experiments(config)
#: The trainings of the config by id (the {training_id} of a trained block's path), and the orders of each trained
#: ensemble by its directory name.
TRAININGS = design.trainings(config)
TRAINED_ORDERS = design.trained_orders(config)


def block_points(wildcards):
    """The point set of a sampling job, from the point-set id in its path."""
    return POINT_SETS[wildcards.points_id]


def network_work(wildcards):
    """The work of one network of a sampling job, in sampled hidden neurons: N x depth, and for a trained network whose
    training is integrated (every estimator but the conditional one) N x design.TRAINED_NEURON_WORK."""
    if "training_id" in wildcards.keys():
        integrated = wildcards.estimator != "conditional"
        return int(wildcards.N) * (design.TRAINED_NEURON_WORK if integrated else 1)
    return int(wildcards.N) * tag_depth(wildcards.depth_tag)


def block_work(wildcards):
    """Hidden neurons sampled by one sampling job: network_work x n_nets x bags."""
    n_bags = int(wildcards.last) - int(wildcards.first) + 1
    return network_work(wildcards) * int(wildcards.n_nets) * n_bags


def trained_ensemble(wildcards):
    """The directory name of a trained block's ensemble (nnqft.model.Ensemble.name), from its path."""
    return (
        f"{wildcards.activation}_d{wildcards.d_in}_x{wildcards.points_id}_nnets{wildcards.n_nets}_"
        f"{wildcards.estimator}_T{wildcards.training_id}"
    )


def trained_block_orders(wildcards):
    """The orders a trained block is sampled at: those of the experiments that share its ensemble."""
    return TRAINED_ORDERS[trained_ensemble(wildcards)]


def trained_mem_mb(wildcards):
    """Memory asked for one trained sampling job (design.trained_block_memory_mb), or mem_mb_per_job if set."""
    if "mem_mb_per_job" in config:
        return config["mem_mb_per_job"]
    model = Model(
        wildcards.activation,
        POINT_SETS[wildcards.points_id],
        0.0,
        1.0,
        int(wildcards.N),
        int(wildcards.n_nets),
        wildcards.estimator,
        training=Training(**TRAININGS[wildcards.training_id]),
    )
    return math.ceil(design.trained_block_memory_mb(model, trained_block_orders(wildcards)))


def outputs_mem_mb(wildcards):
    """Memory asked for one sampling job of several outputs (design.outputs_block_memory_mb), or mem_mb_per_job."""
    if "mem_mb_per_job" in config:
        return config["mem_mb_per_job"]
    model = Model(
        wildcards.activation,
        POINT_SETS[wildcards.points_id],
        0.0,
        1.0,
        int(wildcards.N),
        int(wildcards.n_nets),
        wildcards.estimator,
        d_out=int(wildcards.d_out),
    )
    return math.ceil(design.outputs_block_memory_mb(model, config["orders"]))


def sampling_group(wildcards):
    """Cluster group of a sampling job (groups are inactive in local runs): see design.sampling_group."""
    return design.sampling_group(config, network_work(wildcards), wildcards.n_nets, wildcards.first, wildcards.last)


#: Conda environment of the sampling jobs (--sdm conda), relative to this folder: see design.sampling_env.
SAMPLING_ENV = os.path.join("..", "..", design.sampling_env(config))


def sample_mem_mb(wildcards):
    """Memory asked for one sampling job: mem_mb_per_job if the config sets it, else the estimate for
    this block (fixed part + per-thread scratch + its rows; weights are never stored)."""
    if "mem_mb_per_job" in config:
        return config["mem_mb_per_job"]
    n_bags = int(wildcards.last) - int(wildcards.first) + 1
    return math.ceil(design.block_memory_mb(config, n_bags, len(block_points(wildcards))))


def sample_runtime(wildcards, attempt):
    """Minutes asked for one sampling job: 4x the estimate plus start-up, doubled on each retry."""
    if config["backend"] == "cuda":
        seconds = block_work(wildcards) * SECONDS_PER_NEURON["cuda"]
    else:
        seconds = block_work(wildcards) * SECONDS_PER_NEURON["cpu"] / config["threads_per_job"]
    return math.ceil((4 * seconds + 60) / 60) * attempt


CODE = codedeps.CachedDigests(PACKAGE_DIR)


def code_digest(script, *roots):
    """The code param of a rule: a digest of everything in nnqft that the rule script (in scripts/)
    reaches, transitively, plus ``roots`` ("module.name") that it reaches by name only. Read with ast,
    not imported, so parsing the Snakefile (also done by every cluster job) imports no numba or scipy."""
    return CODE.digest(SCRIPTS_DIR / script, roots)
