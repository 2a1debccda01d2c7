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

from .. import combos
from ..model import Ensemble, Experiment, Model, Training, depth_tag, point_rows, tag_depth

#: The correlator orders of a trained experiment that gives none (its mean, covariance and fourth cumulant).
DEFAULT_TRAINED_ORDERS = (1, 2, 3, 4)


def training(exp: dict) -> Training | None:
    """The :class:`nnqft.model.Training` of an experiment of the config (its ``training`` key), or None."""
    spec = exp.get("training")
    if spec is None:
        return None
    return Training(spec["inputs"], spec["targets"], spec["times"], spec.get("layers", "all"))


def ensemble(config: dict, exp: dict) -> Ensemble:
    """The ensemble of an experiment of the config: its own activation, points and n_nets, else the defaults."""
    return Ensemble(exp.get("activation", "gauss"), point_rows(exp.get("points", config["points"])),
                    int(exp.get("n_nets", config["n_nets"])), exp.get("estimator", "plain"), int(exp.get("depth", 1)),
                    training(exp), d_out=int(exp.get("d_out", 1)))


def experiment_orders(config: dict, exp: dict) -> tuple[int, ...] | None:
    """A trained experiment's own orders (default :data:`DEFAULT_TRAINED_ORDERS`); None for an untrained one."""
    if exp.get("training") is None:
        return None
    return tuple(sorted(int(n) for n in exp.get("orders", DEFAULT_TRAINED_ORDERS)))


def experiments(config: dict) -> dict[str, Experiment]:
    """Every experiment of a config that passed the schema, complete (:class:`nnqft.model.Experiment`: defaults
    filled in from the top-level keys), by name: the value the rules pass to the analysis, claims and figures."""
    return {name: Experiment(name, ensemble(config, exp), float(exp["sigma_b"]),
                             tuple(float(s) for s in exp["sigma_w"]), tuple(int(n) for n in exp["N"]),
                             int(exp["n_bags"]), tuple(exp.get("analyses", [])), exp.get("ngp_width"),
                             exp.get("lambda_convention", DEFAULT_LAMBDA_CONVENTION), experiment_orders(config, exp))
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
                     ens.depth, ens.training, d_out=ens.d_out)


def block_of(wildcards, points, stream_version: int, training: Training | None = None) -> tuple[Model, int, range]:
    """The model, seed and bags of one sampling job, from the wildcards of its path (a block of
    :data:`BLOCK_PATTERN` or :data:`TRAINED_BLOCK_PATTERN`), its point set and its training: refuses a rule that asks
    for another random-stream layout than this package draws, and a path whose d_in is not the point set's."""
    from .. import STREAM_VERSION

    if stream_version != STREAM_VERSION:
        raise RuntimeError(f"the rule asks for random-stream layout {stream_version}, but the nnqft package imported "
                           f"here ({__file__}) draws layout {STREAM_VERSION}")
    depth = tag_depth(wildcards.depth_tag) if "depth_tag" in wildcards.keys() else 1
    d_out = int(wildcards.d_out) if "d_out" in wildcards.keys() else 1
    model = Model(wildcards.activation, points, sigma_b=parse_float(wildcards.sigma_b),
                  sigma_w=parse_float(wildcards.sigma_w), N=int(wildcards.N), n_nets=int(wildcards.n_nets),
                  estimator=wildcards.estimator, depth=depth, training=training, d_out=d_out)
    if model.d_in != int(wildcards.d_in):
        raise RuntimeError(f"the path says d_in = {wildcards.d_in} but point set {wildcards.points_id} has "
                           f"{model.d_in} coordinates")
    return model, int(wildcards.seed), range(int(wildcards.first), int(wildcards.last) + 1)


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
    n_nodes = sum(combos.n_multisets(n_points, k) for k in range(1, max_order + 1))
    scratch = config.get("threads_per_job", 1) * 2 * n_nodes * 16 * 8
    rows = n_bags * n_nodes * 64
    return JOB_BASE_MB + (scratch + rows) / 2**20


#: Networks a trained sampling job holds at once (nnqft.sampling.training.NETS_AT_ONCE, repeated here so that parsing
#: the Snakefile imports no numba).
TRAINED_NETS_AT_ONCE = 1024


def trained_block_memory_mb(model: Model, orders) -> float:
    """Estimated peak memory of a trained sampling job: the fixed part and, for TRAINED_NETS_AT_ONCE networks at a
    time, their outputs' products at every time (three arrays of them for the control variate) and the hidden
    features at the test and training points (the conditional estimator)."""
    training = model.training
    P, times = len(model.points), len(training.times)
    n_combos = sum(combos.n_multisets(P, k) for k in orders)
    per_net = times * (3 * n_combos + 2 * P) + (P + len(training.inputs)) * (model.N + P + len(training.inputs))
    return JOB_BASE_MB + TRAINED_NETS_AT_ONCE * per_net * 8 / 2**20


def output_combos_count(n_points: int, d_out: int, orders) -> int:
    """The number of (point, output) multisets of the given orders: the correlators per bag of several outputs."""
    return sum(combos.n_multisets(n_points * d_out, k) for k in orders)


def outputs_block_memory_mb(model: Model, orders) -> float:
    """Estimated peak memory of a sampling job of several outputs (nnqft.sampling.outputs): the fixed part and, for
    TRAINED_NETS_AT_ONCE networks at a time, their hidden features, Ĝ and their values of every combination (twice:
    the values and a product being formed)."""
    P = len(model.points)
    per_net = P * model.N + P * P + 2 * output_combos_count(P, model.d_out, orders)
    return JOB_BASE_MB + TRAINED_NETS_AT_ONCE * per_net * 8 / 2**20


def job_memory_mb(config: dict) -> float:
    """Estimated peak memory of the largest sampling job of the config."""
    orders = trained_orders(config)

    def memory(p: Point) -> float:
        kind = p.ensemble.kind
        if kind == "trained":
            return trained_block_memory_mb(p.model, orders[p.ensemble.name])
        if kind == "outputs":
            return outputs_block_memory_mb(p.model, config["orders"])
        size = min(p.n_bags, bags_per_block(point_width(p), p.n_nets, neurons_per_job(config)))
        return block_memory_mb(config, size, len(p.ensemble.points))

    return max((memory(p) for p in sampling_points(config)), default=JOB_BASE_MB)


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


def ensembles(config: dict, kind: str = "untrained") -> dict[str, dict]:
    """Every ensemble of one ``kind`` of point (:data:`nnqft.model.KINDS`) by its directory name
    (:attr:`nnqft.model.Ensemble.name`), as plain data; a trained one with the orders it is sampled at."""
    orders = trained_orders(config)
    return {p.ensemble.name: {**p.ensemble.as_dict(), **({"orders": orders[p.ensemble.name]}
                                                         if kind == "trained" else {})}
            for p in sampling_points(config) if p.ensemble.kind == kind}


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


#: The path pattern of a block of a trained point: the ensemble's directory ends in ``_T{training_id}``
#: (:func:`nnqft.model.training_tag`; one hidden layer, so no depth tag).
TRAINED_BLOCK_PATTERN = ("seed{seed}/{activation}_d{d_in}_x{points_id}_nnets{n_nets}_{estimator}_T{training_id}/"
                         "sb{sigma_b}_sw{sigma_w}_N{N}/bags{first}-{last}")

#: The path pattern of a block of a point of several outputs: the ensemble's directory ends in ``_O{d_out}``
#: (:func:`nnqft.model.outputs_tag`), after the depth tag (empty at one hidden layer).
OUTPUTS_BLOCK_PATTERN = ("seed{seed}/{activation}_d{d_in}_x{points_id}_nnets{n_nets}_{estimator}{depth_tag}_O{d_out}/"
                         "sb{sigma_b}_sw{sigma_w}_N{N}/bags{first}-{last}")
#: The work of training one network, in sampled neurons per hidden neuron (measured by ``make bench-training``: about
#: 65 µs per hidden neuron for Erf trained to τ = 8 at the default step, against 0.15 µs to sample one): it sizes the
#: blocks of a trained point.
TRAINED_NEURON_WORK = 500


def point_width(p: Point) -> int:
    """The work of one network of point ``p`` in sampled hidden neurons: N per layer, times the cost of integrating its
    training (none for the conditional estimator of readout training, which integrates nothing)."""
    integrated = p.ensemble.training is not None and p.ensemble.estimator != "conditional"
    return p.N * p.ensemble.depth * (TRAINED_NEURON_WORK if integrated else 1)


def block_paths(config: dict, root: str = "results/samples", ext: str = ".parquet", *,
                kind: str = "untrained") -> list[str]:
    """Every block file the config asks for, in a stable order, with numbers in their canonical spelling: of the
    points of one ``kind`` (:data:`nnqft.model.KINDS`: each has its rule)."""
    pattern = {"untrained": BLOCK_PATTERN, "trained": TRAINED_BLOCK_PATTERN, "outputs": OUTPUTS_BLOCK_PATTERN}[kind]
    paths = []
    for p in sampling_points(config):
        ens = p.ensemble
        if ens.kind != kind:
            continue
        size = bags_per_block(point_width(p), ens.n_nets, neurons_per_job(config))
        for first, last in bag_blocks(p.n_bags, size):
            paths.append(f"{root}/" + pattern.format(
                seed=int(config["seed"]), activation=ens.activation, d_in=ens.d_in, points_id=ens.points_id,
                n_nets=ens.n_nets, estimator=ens.estimator, depth_tag=depth_tag(ens.depth),
                training_id=ens.training.training_id if ens.training is not None else "", d_out=ens.d_out,
                sigma_b=fmt_float(p.sigma_b), sigma_w=fmt_float(p.sigma_w), N=int(p.N), first=first, last=last)
                + ext)
    return paths


def trainings(config: dict) -> dict[str, dict]:
    """Every training of the config by its id (:attr:`nnqft.model.Training.training_id`), as plain data, for the
    trained sampling rule's params."""
    return {p.ensemble.training.training_id: p.ensemble.training.as_dict() for p in sampling_points(config)
            if p.ensemble.training is not None}


def trained_orders(config: dict) -> dict[str, list[int]]:
    """The orders each trained ensemble is sampled at, by its directory name: the union of the orders of the
    experiments that share it."""
    out: dict[str, set] = {}
    for exp in experiments(config).values():
        if exp.training is not None:
            out.setdefault(exp.ensemble.name, set()).update(exp.orders)
    return {name: sorted(orders) for name, orders in out.items()}


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
