"""From a validated config to the work: parameter points, bag blocks and file names.

A *point* is an ensemble (activation, point set, n_nets: :class:`Ensemble`) at (sigma_b, sigma_w, N) and
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

import hashlib
import math
from dataclasses import dataclass

from .neurons import ACTIVATIONS, MAX_ERF_VARIANCE, MAX_RANK, points_json


@dataclass(frozen=True, order=True)
class Ensemble:
    """What a sample is drawn from besides (σ_b, σ_W, N): the activation, the point set (rows of d_in
    numbers, in the config's order: combinations index into it), the networks per bag and the estimator
    (plain or conditional, docs/science.md §9)."""

    activation: str
    points: tuple[tuple[float, ...], ...]
    n_nets: int
    estimator: str = "plain"

    @property
    def d_in(self) -> int:
        return len(self.points[0])

    @property
    def points_json(self) -> str:
        """The point set as JSON text, always as rows (:func:`nnqft.neurons.points_json`)."""
        return points_json(self.points)

    @property
    def points_id(self) -> str:
        """12 hex digits of the SHA-256 of :attr:`points_json`: the point set's name in file paths."""
        return hashlib.sha256(self.points_json.encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        """The directory of its samples: ``{activation}_d{d_in}_x{points_id}_nnets{n_nets}_{estimator}``."""
        return f"{self.activation}_d{self.d_in}_x{self.points_id}_nnets{self.n_nets}_{self.estimator}"

    def as_dict(self) -> dict:
        return {"activation": self.activation, "d_in": self.d_in, "points": [list(r) for r in self.points],
                "n_nets": self.n_nets, "estimator": self.estimator}


def point_rows(points) -> tuple[tuple[float, ...], ...]:
    """Points as given in a config (numbers for d_in = 1, or lists of d_in numbers) as rows of floats."""
    return tuple(tuple(float(v) for v in p) if isinstance(p, (list, tuple)) else (float(p),) for p in points)


def ensemble(config: dict, exp: dict) -> Ensemble:
    """The ensemble of an experiment: its own activation, points and n_nets, else the config's defaults."""
    return Ensemble(exp.get("activation", "gauss"), point_rows(exp.get("points", config["points"])),
                    int(exp.get("n_nets", config["n_nets"])), exp.get("estimator", "plain"))


def experiments(config: dict) -> dict[str, dict]:
    """Every experiment complete, as plain data for rule params: activation, d_in, points (rows), n_nets,
    sigma_b, sigma_w, N, n_bags (defaults filled in from the top-level keys)."""
    out = {}
    for name, exp in config["experiments"].items():
        out[name] = {**ensemble(config, exp).as_dict(), "sigma_b": float(exp["sigma_b"]),
                     "sigma_w": [float(s) for s in exp["sigma_w"]], "N": [int(n) for n in exp["N"]],
                     "n_bags": int(exp["n_bags"]), "analyses": list(exp.get("analyses", [])),
                     "ngp_width": exp.get("ngp_width"),
                     "lambda_convention": exp.get("lambda_convention", DEFAULT_LAMBDA_CONVENTION)}
    return out


def ensemble_of(exp: dict) -> Ensemble:
    """The ensemble of a complete experiment (an entry of :func:`experiments`)."""
    return Ensemble(exp["activation"], point_rows(exp["points"]), int(exp["n_nets"]), exp["estimator"])


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


def check_models(config: dict) -> None:
    """Run before the JSON schema: the activation and point sets of every experiment (and the top-level
    points), with messages that name the experiment, the key and what is allowed (the schema's would name
    neither the experiment nor, for a point of 4 coordinates, the reason). Anything not of the expected
    shape is left to the schema."""
    if "points" in config:
        _check_points("points", config["points"])
    experiments = config.get("experiments")
    if not isinstance(experiments, dict):
        return
    for name, exp in experiments.items():
        if not isinstance(exp, dict):
            continue
        activation = exp.get("activation", "gauss")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"experiments.{name}.activation: unknown activation {activation!r}; "
                              f"allowed: {', '.join(ACTIVATIONS)}")
        if "points" in exp:
            _check_points(f"experiments.{name}.points", exp["points"])
        estimator = exp.get("estimator", "plain")
        if estimator not in ESTIMATORS:
            raise ConfigError(f"experiments.{name}.estimator: unknown estimator {estimator!r}; "
                              f"allowed: {', '.join(ESTIMATORS)}")
        analyses = exp.get("analyses", [])
        for analysis in analyses if isinstance(analyses, list) else []:
            if analysis not in ANALYSES:
                raise ConfigError(f"experiments.{name}.analyses: unknown analysis {analysis!r}; "
                                  f"allowed: {', '.join(ANALYSES)}")


def check_config(config: dict) -> None:
    """Checks the JSON schema cannot express: duplicates by value (10 and 10.0), point sets (finite, one
    dimension, d_in the kernels and the exact theory support, no repeated point), the orders the analysis
    needs, float64 overflow of GaussNet, the range of the Erf quadrature, what the CUDA backend samples,
    the memory of a job. Every message names the experiment, the key and what is allowed."""
    _check_points("points", config["points"])
    if len(set(config["orders"])) != len(config["orders"]):
        raise ConfigError(f"orders: repeated value in {config['orders']}")
    if 2 not in config["orders"]:
        raise ConfigError(f"orders: {config['orders']} lacks 2; allowed: any of {list(ANALYSED_ORDERS)} that holds 2 "
                          f"(every analysis starts from the 2-point function: G_0, m_2, the kernel check)")
    backend = config.get("backend", "cpu")
    for name, exp in config["experiments"].items():
        where = f"experiments.{name}"
        activation = exp.get("activation", "gauss")
        if activation not in ACTIVATIONS:
            raise ConfigError(f"{where}.activation: unknown activation {activation!r}; allowed: {list(ACTIVATIONS)}")
        if "points" in exp:
            _check_points(f"{where}.points", exp["points"])
        ens = ensemble(config, exp)
        for key in ("sigma_w", "N"):
            vals = [float(v) for v in exp[key]]
            if len(set(vals)) != len(vals):
                raise ConfigError(f"{where}.{key}: repeated value in {exp[key]} (10 and 10.0 count as one)")
        sigma_b = float(exp["sigma_b"])
        for sigma_w in map(float, exp["sigma_w"]):
            if activation == "gauss":
                bound = activation_log_bound(sigma_b, sigma_w, max(exp["N"]), ens.points, max(config["orders"]))
                if bound > EXP_LIMIT:
                    raise ConfigError(
                        f"{where}.sigma_w: {sigma_w} (GaussNet, sigma_b = {sigma_b}, d_in = {ens.d_in}, points up "
                        f"to |x| = {max(math.hypot(*p) for p in ens.points):.3g}, order {max(config['orders'])}) can "
                        f"overflow float64: log of the correlator products may reach {bound:.0f} > {EXP_LIMIT:.0f}; "
                        f"allowed: smaller sigma_w, sigma_b or points")
            if activation == "erf":
                variance = max(sigma_b**2 + sigma_w**2 * sum(v * v for v in p) / ens.d_in for p in ens.points)
                if variance > MAX_ERF_VARIANCE:
                    raise ConfigError(
                        f"{where}.sigma_w: {sigma_w} (Erf, sigma_b = {sigma_b}) gives a pre-activation variance "
                        f"{variance:.3g} at one of the points, beyond the {MAX_ERF_VARIANCE} up to which the exact "
                        f"theory's quadrature is tested; allowed: sigma_b^2 + sigma_w^2 |x|^2 / d_in <= "
                        f"{MAX_ERF_VARIANCE}")
        if backend == "cuda":
            if activation != "gauss" or ens.d_in != 1:
                raise ConfigError(f"{where}: the cuda backend samples GaussNet at d_in = 1 only, not {activation} at "
                                  f"d_in = {ens.d_in}; allowed: activation gauss with points of one number each, "
                                  f"or backend cpu")
            if ens.estimator != "plain":
                raise ConfigError(f"{where}.estimator: the cuda backend has the plain estimator only, not "
                                  f"{ens.estimator}; allowed: estimator plain, or backend cpu")
            if len(ens.points) > CUDA_MAX_POINTS:
                raise ConfigError(f"{where}.points: the cuda backend handles at most {CUDA_MAX_POINTS} points, "
                                  f"got {len(ens.points)}")
        for analysis in exp.get("analyses", []):
            unmet = analysis_unmet(analysis, exp, config["orders"])
            if unmet:
                raise ConfigError(f"{where}.analyses: {analysis} needs {unmet}; allowed for this experiment: "
                                  f"{[a for a in ANALYSES if not analysis_unmet(a, exp, config['orders'])]}")
    having = list(asking(config["experiments"], "passive_flow"))
    if len(having) > 1:
        raise ConfigError(f"experiments: passive_flow is asked for by {having}; allowed: one experiment at most "
                          f"(results/tables/passive_flow.parquet starts from one sigma_w scan)")
    need, have = job_memory_mb(config), config.get("mem_mb_per_job", math.inf)
    if need > have:
        raise ConfigError(f"mem_mb_per_job: {have} MB is less than the {need:.0f} MB a sampling job needs")


def _check_points(where: str, points) -> None:
    """A point set: numbers (d_in = 1) or lists of d_in numbers, one d_in for all, 1 <= d_in <= MAX_D_IN,
    finite, no point twice."""
    if not isinstance(points, (list, tuple)) or not points:
        raise ConfigError(f"{where}: expected a non-empty list of numbers or of lists of numbers, got {points!r}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
               for p in points for v in (p if isinstance(p, (list, tuple)) else [p])):
        raise ConfigError(f"{where}: every coordinate must be a number, got {points!r}")
    lists = [isinstance(p, (list, tuple)) for p in points]
    if any(lists) and not all(lists):
        raise ConfigError(f"{where}: points of mixed dimension in {points} (numbers and lists): write every point "
                          f"as a number (d_in = 1) or every point as a list of d_in numbers")
    rows = point_rows(points)
    dims = sorted({len(r) for r in rows})
    if len(dims) > 1:
        raise ConfigError(f"{where}: ragged points in {points}: every point needs the same number of coordinates "
                          f"(found {dims})")
    if not 1 <= dims[0] <= MAX_D_IN:
        raise ConfigError(f"{where}: d_in = {dims[0]} in {points}; allowed: 1 to {MAX_D_IN} coordinates per point "
                          f"(the exact theory's quadrature handles pre-activations of rank up to {MAX_D_IN + 1})")
    if not all(math.isfinite(v) for r in rows for v in r):
        raise ConfigError(f"{where}: every coordinate must be finite, got {points}")
    if len(set(rows)) != len(rows):
        raise ConfigError(f"{where}: repeated point in {points}")


#: What an experiment may ask for in its ``analyses`` list (the config schema lists the same names). Deviations and
#: couplings are computed for every experiment; these are the analyses and claims on top of them.
ANALYSES = {
    "falloff": "HMS's falloff of <|m_n|> with N (results/tables/hms_falloff.parquet, the falloff figure) and the "
               "claims m_2 ≈ 0 (with HMS's below-the-background ratio) and m_n ~ 1/N for the measured n > 2",
    "u4_negative": "the claim that u_4 is negative and nearly constant over combinations",
    "u6_positive": "the claim that u_6 is positive",
    "flow_fit": "the exponent of |<u_n>| vs sigma_w at each N (results/tables/flow_fit.parquet), its figures and "
                "claims",
    "passive_flow": "the passive flow of (u_4, u_6) from the smallest sigma_w (results/tables/passive_flow.parquet, "
                    "its figure); one experiment at most",
    "lambda_running": "HMS's quartic coupling lambda vs the cutoff (results/tables/hms_lambda.parquet, "
                      "hms_lambda_slope.parquet, the lambda_running figure) and the claim that it runs with the "
                      "power derived from the kernel at the experiment's ngp_width",
    "six_point": "HMS's 6-point prediction with and without lambda (results/tables/hms_six_point.parquet, the "
                 "six_point figure) and the claim that lambda brings it closer to the measurement at ngp_width",
}


def asking(experiments: dict, analysis: str) -> dict:
    """The experiments (name -> experiment, as in the config or complete) whose ``analyses`` list ``analysis``."""
    return {name: exp for name, exp in experiments.items() if analysis in exp.get("analyses", [])}


#: The analyses of the couplings u_n, which are GaussNet's only (nnqft.analysis.COUPLINGS_SKIPPED).
COUPLING_ANALYSES = ("u4_negative", "u6_positive", "flow_fit", "passive_flow")


#: The correlator orders each analysis reads (besides order 2, which every config measures): falloff takes
#: whichever orders are measured.
ANALYSIS_ORDERS = {"falloff": (), "u4_negative": (4,), "u6_positive": (4, 6), "flow_fit": (4,),
                   "passive_flow": (4, 6), "lambda_running": (4,), "six_point": (4, 6)}


def analysis_unmet(analysis: str, exp: dict, orders=None) -> str:
    """What experiment ``exp`` (as in the config) lacks for ``analysis``, with the config's ``orders`` (None: all);
    empty if nothing."""
    if analysis not in ANALYSES:
        return f"to be one of {list(ANALYSES)}"
    missing = [o for o in ANALYSIS_ORDERS[analysis] if orders is not None and o not in orders]
    if missing:
        return f"orders {missing} (the config's `orders` is {list(orders)})"
    if analysis == "falloff" and len(exp["N"]) < 2:
        return f"at least 2 widths N (a slope in N), got {exp['N']}"
    if analysis in ("falloff", "lambda_running", "six_point") and len(exp["sigma_w"]) != 1:
        return f"one sigma_w (HMS's measurements are at fixed sigma_w), got {exp['sigma_w']}"
    if analysis in COUPLING_ANALYSES and exp.get("activation", "gauss") != "gauss":
        return f"activation gauss (the couplings are GaussNet's), got {exp['activation']}"
    if analysis == "flow_fit" and len(exp["sigma_w"]) < 3:
        return f"at least 3 sigma_w (a power law with an interval), got {exp['sigma_w']}"
    if analysis in ("lambda_running", "six_point") and exp.get("ngp_width") not in exp["N"]:
        return f"ngp_width, one of its widths N {exp['N']} (where the claim is checked), got {exp.get('ngp_width')}"
    if analysis == "six_point" and not {"lambda_running", "falloff"} <= set(exp.get("analyses", [])):
        return ("lambda_running and falloff in the same experiment (the prediction uses the mean lambda, the claim "
                "the 6-point deviation)")
    return ""


@dataclass(frozen=True)
class LambdaConvention:
    """A definition of HMS's quartic coupling: λ(x_1..x_4; Λ) = sign · ΔG^(4) / (24 I_4(Λ)) with I_4 the integral
    over [−Λ, Λ]^d_in of Π_i k(y, x_i) (nnqft.cutoff, ``kernel``: "w" for K − σ_b², "full" for K), and the 6-point
    term T_λ = sign · 24 λ̄ Σ_15 I_4(four) k(x_a, x_b) with the same k on the external pair."""

    name: str
    kernel: str
    sign: int
    meaning: str

    def pair_kernel(self, K, sigma_b: float):
        """The kernel on the 6-point term's external pair: K − σ_b² or K."""
        return K - sigma_b**2 if self.kernel == "w" else K


#: The definitions of HMS's quartic coupling an experiment may choose (``lambda_convention``), by name.
LAMBDA_CONVENTIONS = {
    "hms": LambdaConvention("hms", "w", +1, "HMS's code: λ = +ΔG^(4) / (24 ∫ Π K_EFT), K_EFT = K − σ_b² (the W-part) at "
                                            "the vertex and on the 6-point term's external pair"),
    "full_kernel": LambdaConvention("full_kernel", "full", -1, "λ = −ΔG^(4) / (24 ∫ Π K), the tree-level sign of "
                                                               "S = S_GP + ∫ λ f⁴, the full K everywhere"),
}
DEFAULT_LAMBDA_CONVENTION = "hms"

#: Estimators of G^(n) (docs/science.md §2, §9): the mean of f(x_1)...f(x_n) over networks (the papers'), and the
#: mean of its conditional expectation given each network's first layer (nnqft.conditional).
ESTIMATORS = ("plain", "conditional")
#: Correlator orders the kernels measure: a config measures any of them that holds 2.
ANALYSED_ORDERS = (2, 4, 6)
#: Largest input dimension: the exact theory integrates pre-activations of rank up to d_in + 1 = MAX_RANK.
MAX_D_IN = MAX_RANK - 1
#: Evaluation points one GPU thread keeps in registers (nnqft.cuda_kernel).
CUDA_MAX_POINTS = 8
#: Largest exponent that products of activations may reach before float64 overflows (exp(709) ~ 1e308).
EXP_LIMIT = 700.0
#: Draws beyond this many standard deviations do not occur in 10^12 normals (P ~ 1e-23 each).
MAX_SIGMAS = 10.0
#: Resident memory of a sampling job: interpreter, numpy, numba, pyarrow and the compiled kernel (measured ~250 MB).
JOB_BASE_MB = 400


def activation_log_bound(sigma_b: float, sigma_w: float, N: int, points, max_order: int) -> float:
    """A bound on log|f(x_1)...f(x_n)| of GaussNet over draws within MAX_SIGMAS:
    n (MAX_SIGMAS (sigma_w ||x||_1 / sqrt(d_in) + sigma_b) + log(MAX_SIGMAS sigma_w sqrt(N) + MAX_SIGMAS sigma_b)),
    since |W0 . x + b0| <= MAX_SIGMAS (sigma_w / sqrt(d_in)) sum_k |x_k| + MAX_SIGMAS sigma_b."""
    rows = point_rows(points)
    xmax = max(sum(abs(v) for v in r) for r in rows) / math.sqrt(len(rows[0]))
    log_g = MAX_SIGMAS * (sigma_w * xmax + sigma_b)
    scale = MAX_SIGMAS * (sigma_w * math.sqrt(N) + sigma_b) + 1.0
    return max_order * (log_g + math.log(scale))


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
    return max((block_memory_mb(config, min(p.n_bags, bags_per_block(p.N, p.n_nets, neurons_per_job(config))),
                                len(p.ensemble.points))
                for p in sampling_points(config)), default=JOB_BASE_MB)


def sampling_points(config: dict) -> list[Point]:
    """The distinct points of all experiments, each with the largest n_bags asked for it."""
    n_bags: dict[tuple, int] = {}
    for exp in config["experiments"].values():
        ens = ensemble(config, exp)
        for sigma_w in exp["sigma_w"]:
            for N in exp["N"]:
                key = (ens, float(exp["sigma_b"]), float(sigma_w), int(N))
                n_bags[key] = max(n_bags.get(key, 0), int(exp["n_bags"]))
    return sorted(Point(*key, n) for key, n in n_bags.items())


def point_sets(config: dict) -> dict[str, list[list[float]]]:
    """Every point set of the config by its id (:attr:`Ensemble.points_id`), for the sampling rule's params."""
    return {p.ensemble.points_id: [list(r) for r in p.ensemble.points] for p in sampling_points(config)}


def ensembles(config: dict) -> dict[str, dict]:
    """Every ensemble of the config by its directory name (:attr:`Ensemble.name`), as plain data."""
    return {p.ensemble.name: p.ensemble.as_dict() for p in sampling_points(config)}


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
#: ensemble (:attr:`Ensemble.name`): activation, d_in, point-set id, n_nets and estimator.
BLOCK_PATTERN = ("seed{seed}/{activation}_d{d_in}_x{points_id}_nnets{n_nets}_{estimator}/"
                 "sb{sigma_b}_sw{sigma_w}_N{N}/bags{first}-{last}")


def block_paths(config: dict, root: str = "results/samples", ext: str = ".parquet") -> list[str]:
    """Every block file the config asks for, in a stable order, with numbers in their canonical spelling."""
    paths = []
    for p in sampling_points(config):
        ens = p.ensemble
        for first, last in bag_blocks(p.n_bags, bags_per_block(p.N, ens.n_nets, neurons_per_job(config))):
            paths.append(f"{root}/" + BLOCK_PATTERN.format(
                seed=int(config["seed"]), activation=ens.activation, d_in=ens.d_in, points_id=ens.points_id,
                n_nets=ens.n_nets, estimator=ens.estimator, sigma_b=fmt_float(p.sigma_b), sigma_w=fmt_float(p.sigma_w), N=int(p.N),
                first=first, last=last) + ext)
    return paths
