"""From a validated config to the work: parameter points, bag blocks and file names.

A *point* is an ensemble (activation, point set, n_nets, estimator: :class:`nnqft.model.Ensemble`) at (sigma_b, sigma_w, N) and
the config's seed. Experiments that share a point share its bags: bag b of a point is the same sample
whichever experiment asks for it, so the point is sampled once, up to the largest n_bags that any
experiment wants.

A *block* is a run of consecutive bags [first, last] computed by one job. Its size follows the work of
a bag: ``neurons_per_job // (N * n_nets)`` bags (at least one), so every job carries about the same
number of neurons and cheap points are not swamped by the fixed cost of a job (interpreter, imports,
numba start-up: about 2 s). Blocks are aligned to multiples of that size, which depends on N and n_nets
only, never on n_bags: raising n_bags adds blocks and recomputes at most the last, short one, i.e. at
most one job's worth of work per point.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..model import Ensemble, Experiment, Model, depth_tag, point_rows


def ensemble(config: dict, exp: dict) -> Ensemble:
    """The ensemble of an experiment of the config: its own activation, points and n_nets, else the defaults."""
    return Ensemble(exp.get("activation", "gauss"), point_rows(exp.get("points", config["points"])),
                    int(exp.get("n_nets", config["n_nets"])), exp.get("estimator", "plain"), int(exp.get("depth", 1)))


def experiments(config: dict) -> dict[str, Experiment]:
    """Every experiment of a config that passed the schema, complete (:class:`nnqft.model.Experiment`: defaults
    filled in from the top-level keys), by name: the value the rules pass to the analysis, claims and figures."""
    return {name: Experiment(name, ensemble(config, exp), float(exp["sigma_b"]),
                             tuple(float(s) for s in exp["sigma_w"]), tuple(int(n) for n in exp["N"]),
                             int(exp["n_bags"]), tuple(exp.get("analyses", [])), exp.get("ngp_width"),
                             exp.get("lambda_convention", DEFAULT_LAMBDA_CONVENTION))
            for name, exp in config["experiments"].items()}


#: The λ convention of an experiment that names none (nnqft.analysis.hms.LAMBDA_CONVENTIONS).
DEFAULT_LAMBDA_CONVENTION = "hms"


@dataclass(frozen=True, order=True)
class Point:
    ensemble: Ensemble
    sigma_b: float
    sigma_w: float
    N: int
    n_bags: int  # the largest n_bags among the experiments that contain the point

    @property
    def n_nets(self) -> int:
        return self.ensemble.n_nets

    @property
    def model(self) -> Model:
        ens = self.ensemble
        return Model(ens.activation, ens.points, self.sigma_b, self.sigma_w, self.N, ens.n_nets, ens.estimator,
                     ens.depth)


def fmt_float(x: float) -> str:
    """Canonical text of a validated float for file names: ``repr(float(x))`` (10 and 10.0 -> '10.0')."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {x!r}")
    return repr(x)


def parse_float(text: str) -> float:
    """Inverse of :func:`fmt_float`; refuses any spelling other than the canonical one."""
    x = float(text)
    if fmt_float(x) != text:
        raise ValueError(f"{text!r} is not the canonical spelling {fmt_float(x)!r} of a parameter value")
    return x


#: Resident memory of a sampling job: interpreter, numpy, numba, pyarrow and the compiled kernel (measured ~250 MB).
JOB_BASE_MB = 400


def block_memory_mb(config: dict, n_bags: int, n_points: int) -> float:
    """Estimated peak memory of one sampling job of ``n_bags`` bags at ``n_points`` points: the fixed part,
    per-thread scratch and the block's rows (the weights are generated on the fly and never stored)."""
    max_order = max(config["orders"])
    n_nodes = sum(math.comb(n_points + k - 1, k) for k in range(1, max_order + 1))
    scratch = config.get("threads_per_job", 1) * 2 * n_nodes * 16 * 8
    rows = n_bags * n_nodes * 64
    return JOB_BASE_MB + (scratch + rows) / 2**20


def job_memory_mb(config: dict) -> float:
    """Estimated peak memory of the largest sampling job of the config."""
    return max((block_memory_mb(config, min(p.n_bags, bags_per_block(p.N * p.ensemble.depth, p.n_nets,
                                                                      neurons_per_job(config))),
                                len(p.ensemble.points))
                for p in sampling_points(config)), default=JOB_BASE_MB)


def sampling_points(config: dict) -> list[Point]:
    """The distinct points of all experiments, each with the largest n_bags asked for it."""
    n_bags: dict[tuple, int] = {}
    for exp in experiments(config).values():
        for sigma_w in exp.sigma_w:
            for N in exp.N:
                key = (exp.ensemble, exp.sigma_b, sigma_w, N)
                n_bags[key] = max(n_bags.get(key, 0), exp.n_bags)
    return sorted(Point(*key, n) for key, n in n_bags.items())


def point_sets(config: dict) -> dict[str, list[list[float]]]:
    """Every point set of the config by its id (:attr:`nnqft.model.Ensemble.points_id`), for the sampling rule's params."""
    return {p.ensemble.points_id: [list(r) for r in p.ensemble.points] for p in sampling_points(config)}


def ensembles(config: dict) -> dict[str, dict]:
    """Every ensemble of the config by its directory name (:attr:`nnqft.model.Ensemble.name`), as plain data."""
    return {p.ensemble.name: p.ensemble.as_dict() for p in sampling_points(config)}


#: Default sampling work of one job, in neurons: about 30 s on one core, 10 bags at N = 1000, n_nets = 30000.
NEURONS_PER_JOB = 300_000_000


def neurons_per_job(config: dict) -> int:
    return int(config.get("neurons_per_job", NEURONS_PER_JOB))


def bags_per_block(N: int, n_nets: int, neurons_per_job: int) -> int:
    """Bags in one block of a point: as many as fit in ``neurons_per_job`` neurons (N x n_nets each), at least 1.
    Networks of L hidden layers count as width N·L (their hidden neurons)."""
    return max(1, int(neurons_per_job) // (int(N) * int(n_nets)))


def sampling_env(config: dict) -> str:
    """Conda environment file of the sampling rule (``--sdm conda``), relative to the repository root:
    the CUDA backend needs numba-cuda and the CUDA toolkit wheels on top of the common environment."""
    return "envs/nnqft-cuda.yaml" if config.get("backend", "cpu") == "cuda" else "envs/nnqft.yaml"


def sampling_group(config: dict, N: int, n_nets: int, first: int, last: int) -> str:
    """Cluster group of a sampling job: "sampling" for blocks of at least half the target work
    (neurons_per_job), "sampling_small" for the short blocks of points that ran out of bags (small N).
    A cluster profile packs a few of the first and many of the second into one cluster job."""
    work = int(N) * int(n_nets) * (int(last) - int(first) + 1)
    return "sampling" if 2 * work >= neurons_per_job(config) else "sampling_small"


def bag_blocks(n_bags: int, block_size: int) -> list[tuple[int, int]]:
    """Inclusive bag ranges [(0, B-1), (B, 2B-1), ...] covering range(n_bags), the last one possibly short."""
    return [(first, min(first + block_size, n_bags) - 1) for first in range(0, n_bags, block_size)]


#: Where a block lives, relative to results/samples (or logs/..., results/benchmarks/...): the rule's
#: wildcard pattern and the list of inputs of the gather are both made from it. The second level is the
#: ensemble (:attr:`nnqft.model.Ensemble.name`): activation, d_in, point-set id, n_nets, estimator and, beyond one
#: hidden layer, ``_L{depth}``.
BLOCK_PATTERN = ("seed{seed}/{activation}_d{d_in}_x{points_id}_nnets{n_nets}_{estimator}{depth_tag}/"
                 "sb{sigma_b}_sw{sigma_w}_N{N}/bags{first}-{last}")


def block_paths(config: dict, root: str = "results/samples", ext: str = ".parquet") -> list[str]:
    """Every block file the config asks for, in a stable order, with numbers in their canonical spelling."""
    paths = []
    for p in sampling_points(config):
        ens = p.ensemble
        size = bags_per_block(p.N * ens.depth, ens.n_nets, neurons_per_job(config))
        for first, last in bag_blocks(p.n_bags, size):
            paths.append(f"{root}/" + BLOCK_PATTERN.format(
                seed=int(config["seed"]), activation=ens.activation, d_in=ens.d_in, points_id=ens.points_id,
                n_nets=ens.n_nets, estimator=ens.estimator, depth_tag=depth_tag(ens.depth), sigma_b=fmt_float(p.sigma_b), sigma_w=fmt_float(p.sigma_w), N=int(p.N),
                first=first, last=last) + ext)
    return paths


def remove_stale_outputs(folder, expected) -> list:
    """Remove the files under ``folder`` (results/figures) that the current config does not produce, a figure of an
    experiment or analysis another config had, and the folders left empty; ``expected``: the paths the config's
    rules write there. Returns the removed files."""
    from pathlib import Path

    keep = {Path(p) for p in expected}
    stale = sorted(p for p in Path(folder).rglob("*") if p.is_file() and p not in keep)
    for path in stale:
        path.unlink()
    for sub in sorted((p for p in Path(folder).rglob("*") if p.is_dir()), reverse=True):
        if not any(sub.iterdir()):
            sub.rmdir()
    return stale
