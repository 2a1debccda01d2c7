"""From a validated config to the work: parameter points, bag blocks and file names.

A *point* is (sigma_b, sigma_w, N) at the config's n_nets and seed. Experiments that share a
point share its bags: bag b of a point is the same ensemble whichever experiment asks for it,
so the point is sampled once, up to the largest n_bags that any experiment wants.

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


@dataclass(frozen=True, order=True)
class Point:
    sigma_b: float
    sigma_w: float
    N: int
    n_bags: int  # the largest n_bags among the experiments that contain the point


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


class ConfigError(ValueError):
    """A config that passed the JSON schema but is inconsistent; the message names key and value."""


def check_config(config: dict) -> None:
    """Checks the JSON schema cannot express: duplicates by value (10 and 10.0), finite points, the orders
    the analysis needs, float64 overflow, the CUDA backend's point limit, the memory of a job."""
    points = [float(p) for p in config["points"]]
    if not all(math.isfinite(p) for p in points):
        raise ConfigError(f"points: every point must be finite, got {config['points']}")
    if len(set(points)) != len(points):
        raise ConfigError(f"points: repeated value in {config['points']}")
    if len(set(config["orders"])) != len(config["orders"]):
        raise ConfigError(f"orders: repeated value in {config['orders']}")
    if sorted(config["orders"]) != list(ANALYSED_ORDERS):
        raise ConfigError(f"orders: the analysis needs orders {list(ANALYSED_ORDERS)} (m_2 and the figures from "
                          f"order 2, u_4 from order 4, u_6 from order 6), got {config['orders']}")
    for name, exp in config["experiments"].items():
        for key in ("sigma_w", "N"):
            vals = [float(v) for v in exp[key]]
            if len(set(vals)) != len(vals):
                raise ConfigError(f"experiments.{name}.{key}: repeated value in {exp[key]} (10 and 10.0 count as one)")
        for sigma_w in exp["sigma_w"]:
            bound = activation_log_bound(float(exp["sigma_b"]), float(sigma_w), max(exp["N"]), points,
                                         max(config["orders"]))
            if bound > EXP_LIMIT:
                raise ConfigError(
                    f"experiments.{name}.sigma_w: {sigma_w} (with sigma_b = {exp['sigma_b']}, points up to "
                    f"|x| = {max(abs(p) for p in points)}, order {max(config['orders'])}) can overflow float64: "
                    f"log of the correlator products may reach {bound:.0f} > {EXP_LIMIT:.0f}")
    if config.get("backend") == "cuda" and len(points) > CUDA_MAX_POINTS:
        raise ConfigError(f"points: the cuda backend handles at most {CUDA_MAX_POINTS} points, got {len(points)}")
    need, have = job_memory_mb(config), config.get("mem_mb_per_job", math.inf)
    if need > have:
        raise ConfigError(f"mem_mb_per_job: {have} MB is less than the {need:.0f} MB a sampling job needs")


#: Correlator orders the analysis uses: every config must measure all of them.
ANALYSED_ORDERS = (2, 4, 6)
#: Evaluation points one GPU thread keeps in registers (nnqft.cuda_kernel).
CUDA_MAX_POINTS = 8
#: Largest exponent that products of activations may reach before float64 overflows (exp(709) ~ 1e308).
EXP_LIMIT = 700.0
#: Draws beyond this many standard deviations do not occur in 10^12 normals (P ~ 1e-23 each).
MAX_SIGMAS = 10.0
#: Resident memory of a sampling job: interpreter, numpy, numba, pyarrow and the compiled kernel (measured ~250 MB).
JOB_BASE_MB = 400


def activation_log_bound(sigma_b: float, sigma_w: float, N: int, points, max_order: int) -> float:
    """A bound on log|f(x_1)...f(x_n)| over draws within MAX_SIGMAS: n (MAX_SIGMAS (sigma_w max|x| + sigma_b)
    + log(MAX_SIGMAS sigma_w sqrt(N) + MAX_SIGMAS sigma_b))."""
    xmax = max(abs(float(x)) for x in points)
    log_g = MAX_SIGMAS * (sigma_w * xmax + sigma_b)
    scale = MAX_SIGMAS * (sigma_w * math.sqrt(N) + sigma_b) + 1.0
    return max_order * (log_g + math.log(scale))


def block_memory_mb(config: dict, n_bags: int) -> float:
    """Estimated peak memory of one sampling job of ``n_bags`` bags: the fixed part, per-thread scratch
    and the block's rows (the weights are generated on the fly and never stored)."""
    n_points, max_order = len(config["points"]), max(config["orders"])
    n_nodes = sum(math.comb(n_points + k - 1, k) for k in range(1, max_order + 1))
    scratch = config.get("threads_per_job", 1) * 2 * n_nodes * 16 * 8
    rows = n_bags * n_nodes * 64
    return JOB_BASE_MB + (scratch + rows) / 2**20


def job_memory_mb(config: dict) -> float:
    """Estimated peak memory of the largest sampling job of the config."""
    bags = max((min(p.n_bags, bags_per_block(p.N, config["n_nets"], neurons_per_job(config)))
                for p in sampling_points(config)), default=1)
    return block_memory_mb(config, bags)


def sampling_points(config: dict) -> list[Point]:
    """The distinct points of all experiments, each with the largest n_bags asked for it."""
    n_bags: dict[tuple[float, float, int], int] = {}
    for exp in config["experiments"].values():
        for sigma_w in exp["sigma_w"]:
            for N in exp["N"]:
                key = (float(exp["sigma_b"]), float(sigma_w), int(N))
                n_bags[key] = max(n_bags.get(key, 0), int(exp["n_bags"]))
    return sorted(Point(*key, n) for key, n in n_bags.items())


#: Default sampling work of one job, in neurons: about 30 s on one core, 10 bags at N = 1000, n_nets = 30000.
NEURONS_PER_JOB = 300_000_000


def neurons_per_job(config: dict) -> int:
    return int(config.get("neurons_per_job", NEURONS_PER_JOB))


def bags_per_block(N: int, n_nets: int, neurons_per_job: int) -> int:
    """Bags in one block of a point: as many as fit in ``neurons_per_job`` neurons (N x n_nets each), at least 1."""
    return max(1, int(neurons_per_job) // (int(N) * int(n_nets)))


def sampling_env(config: dict) -> str:
    """Conda environment file of the sampling rule (``--sdm conda``), relative to the repository root:
    the CUDA backend needs numba-cuda and the CUDA toolkit wheels on top of the common environment."""
    return "envs/nnqft-cuda.yaml" if config.get("backend", "cpu") == "cuda" else "envs/nnqft.yaml"


def sampling_group(config: dict, N: int, first: int, last: int) -> str:
    """Cluster group of a sampling job: "sampling" for blocks of at least half the target work
    (neurons_per_job), "sampling_small" for the short blocks of points that ran out of bags (small N).
    A cluster profile packs a few of the first and many of the second into one cluster job."""
    work = int(N) * int(config["n_nets"]) * (int(last) - int(first) + 1)
    return "sampling" if 2 * work >= neurons_per_job(config) else "sampling_small"


def bag_blocks(n_bags: int, block_size: int) -> list[tuple[int, int]]:
    """Inclusive bag ranges [(0, B-1), (B, 2B-1), ...] covering range(n_bags), the last one possibly short."""
    return [(first, min(first + block_size, n_bags) - 1) for first in range(0, n_bags, block_size)]


#: Where a block lives, relative to results/samples (or logs/..., results/benchmarks/...): the rule's
#: wildcard pattern and the list of inputs of the gather are both made from it.
BLOCK_PATTERN = "seed{seed}_nnets{n_nets}/sb{sigma_b}_sw{sigma_w}_N{N}/bags{first}-{last}"


def block_paths(config: dict, root: str = "results/samples", ext: str = ".parquet") -> list[str]:
    """Every block file the config asks for, in a stable order, with numbers in their canonical spelling."""
    return [
        f"{root}/" + BLOCK_PATTERN.format(seed=int(config["seed"]), n_nets=int(config["n_nets"]),
                                          sigma_b=fmt_float(p.sigma_b), sigma_w=fmt_float(p.sigma_w), N=int(p.N),
                                          first=first, last=last) + ext
        for p in sampling_points(config)
        for first, last in bag_blocks(p.n_bags, bags_per_block(p.N, config["n_nets"], neurons_per_job(config)))
    ]
