"""Config checks: one path, run before any job, with one message format naming the experiment, the key, the value
and what is allowed (``experiments.width_scan.activation: 'tanh' is not an activation; allowed: gauss, relu, erf,
linear``).

:func:`check` runs, in this order: the checks of the model's fields that the JSON schema would report without naming
the experiment (activation, points, estimator, analyses), the schema itself (a callable given by the caller: the
Snakefile passes Snakemake's ``validate``, which also fills in the defaults), then what no schema can express
(duplicates by value, float64 overflow of GaussNet at any layer, the range of the Erf quadrature, what the CUDA
backend samples, what each analysis needs, the depths of a depth scan, the memory of a job).
"""
from __future__ import annotations

import math

from ..analysis.registry import ANALYSES, analysis_unmet, asking, depth_scans
from ..model import ACTIVATIONS, CONTROL_VARIATE_ORDERS, ESTIMATORS, TRAINED_ESTIMATORS, point_rows
from ..sampling import cuda_limits
from ..theory.cones import MAX_RANK
from ..theory.neurons import MAX_ERF_VARIANCE
from . import design

#: Correlator orders the kernels measure: a config measures any of them that holds 2.
ANALYSED_ORDERS = (2, 4, 6)
#: Largest input dimension: the exact theory integrates pre-activations of rank up to d_in + 1 = MAX_RANK.
MAX_D_IN = MAX_RANK - 1
#: Largest exponent that products of activations may reach before float64 overflows (exp(709) ~ 1e308).
EXP_LIMIT = 700.0
#: Draws beyond this many standard deviations do not occur in 10^12 normals (P ~ 1e-23 each).
MAX_SIGMAS = 10.0
#: Largest moment tensor of the exact deep linear theory (nnqft.theory.linear.LinearTheory): P^n entries for G^(n).
MAX_LINEAR_TENSOR = 20_000_000


class ConfigError(ValueError):
    """An invalid config, in one line: where (experiment and key), the value, what is wrong, what is allowed."""


def invalid(where: str, value, problem: str, allowed: str) -> ConfigError:
    """The error of one value, in the one format: ``{where}: {value!r} {problem}; allowed: {allowed}``."""
    return ConfigError(f"{where}: {value!r} {problem}; allowed: {allowed}")


def check(config: dict, schema=None, validate=None) -> None:
    """Every check of a config, in one pass (see the module docstring). ``schema``: the JSON schema (a dict, or the
    path of its YAML file), whose keys are checked first (an unknown key names the closest known one);
    ``validate(config)`` then validates against it and fills in its defaults (Snakemake's ``validate``; None: the
    config is taken as complete). A schema error is reported in one line, as every other."""
    if schema is not None and not isinstance(schema, dict):
        import yaml

        with open(schema) as fh:
            schema = yaml.safe_load(fh)
    if schema is not None:
        _check_keys(config, schema)
    _check_fields(config)
    if validate is not None:
        try:
            validate(config)
        except Exception:  # the validator's message holds the whole schema: say what is wrong in one line
            one_line = _schema_error(config, schema) if schema is not None else None
            if one_line is None:  # not a schema error: as it is
                raise
            raise one_line from None
    _check_consistency(config)


def _suggestion(name, known) -> str:
    import difflib

    close = difflib.get_close_matches(str(name).lower(), [k.lower() for k in known], n=1, cutoff=0.6)
    return "" if not close else f" (did you mean {next(k for k in known if k.lower() == close[0])!r}?)"


def _check_keys(config: dict, schema: dict) -> None:
    """Unknown keys at the top level and in the experiments, each named with where it is and the closest key."""
    if not isinstance(config, dict):
        return
    levels = [("", config, schema["properties"], "a key of the config")]
    experiment = schema["properties"]["experiments"]["additionalProperties"]["properties"]
    for name, exp in (config.get("experiments") or {}).items() if isinstance(config.get("experiments"), dict) else []:
        if isinstance(exp, dict):
            levels.append((f"experiments.{name}.", exp, experiment, "a key of an experiment"))
    for prefix, values, known, what in levels:
        for key in values:
            if key not in known:
                raise invalid(f"{prefix}{key}", key, f"is not {what}{_suggestion(key, known)}", ", ".join(known))


#: What a schema keyword allows, for the one-line message.
_ALLOWED = {"minimum": "at least {}", "exclusiveMinimum": "more than {}", "maximum": "at most {}",
            "type": "a value of type {}", "enum": "one of {}", "minItems": "at least {} item(s)",
            "maxItems": "at most {} item(s)", "uniqueItems": "distinct values", "required": "the keys {}",
            "minProperties": "at least {} entry"}


def _schema_error(config: dict, schema: dict) -> ConfigError | None:
    """The most relevant JSON-schema error of ``config`` as a ConfigError: where, the validator's message, what the
    schema allows there; None if the schema finds none."""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    err = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if err is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path).lstrip(".") or "config"
    allowed = _ALLOWED.get(err.validator, "see workflow/schemas/config.schema.yaml").format(
        err.validator_value if err.validator != "required" else ", ".join(err.validator_value))
    return ConfigError(f"{where}: {err.message}; allowed: {allowed}")


def _check_fields(config: dict) -> None:
    if "points" in config:
        _check_points("points", config["points"])
    experiments = config.get("experiments")
    if not isinstance(experiments, dict):
        return  # the schema's to report
    for name, exp in experiments.items():
        if not isinstance(exp, dict):
            continue
        where = f"experiments.{name}"
        activation = exp.get("activation", "gauss")
        if activation not in ACTIVATIONS:
            raise invalid(f"{where}.activation", activation,
                          f"is not an activation{_suggestion(activation, ACTIVATIONS)}", ", ".join(ACTIVATIONS))
        if "points" in exp:
            _check_points(f"{where}.points", exp["points"])
        estimator = exp.get("estimator", "plain")
        allowed = TRAINED_ESTIMATORS if "training" in exp else ESTIMATORS
        if estimator not in allowed:
            what = "an estimator of a trained ensemble" if "training" in exp else (
                "an estimator of an untrained ensemble" if estimator in TRAINED_ESTIMATORS else "an estimator")
            raise invalid(f"{where}.estimator", estimator, f"is not {what}", ", ".join(allowed))
        analyses = exp.get("analyses", [])
        for analysis in analyses if isinstance(analyses, list) else []:
            if analysis not in ANALYSES:
                raise invalid(f"{where}.analyses", analysis,
                              f"is not an analysis{_suggestion(analysis, ANALYSES)}", ", ".join(ANALYSES))


def _check_points(where: str, points) -> None:
    """A point set: numbers (d_in = 1) or lists of d_in numbers, one d_in for all, 1 <= d_in <= MAX_D_IN,
    finite, no point twice."""
    if not isinstance(points, (list, tuple)) or not points:
        raise invalid(where, points, "is no point set", "a non-empty list of numbers or of lists of numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
               for p in points for v in (p if isinstance(p, (list, tuple)) else [p])):
        raise invalid(where, points, "has a coordinate that is not a number", "every coordinate must be a number")
    lists = [isinstance(p, (list, tuple)) for p in points]
    if any(lists) and not all(lists):
        raise invalid(where, points, "has points of mixed dimension (numbers and lists)",
                          "every point as a number (d_in = 1) or every point as a list of d_in numbers")
    rows = point_rows(points)
    dims = sorted({len(r) for r in rows})
    if len(dims) > 1:
        raise invalid(where, points, f"has ragged points (found {dims} coordinates)",
                          "every point needs the same number of coordinates")
    if not 1 <= dims[0] <= MAX_D_IN:
        raise invalid(where, points, f"has d_in = {dims[0]}",
                          f"1 to {MAX_D_IN} coordinates per point (the exact theory's quadrature handles "
                          f"pre-activations of rank up to {MAX_D_IN + 1})")
    if not all(math.isfinite(v) for r in rows for v in r):
        raise invalid(where, points, "has a coordinate that is not finite", "every coordinate must be finite")
    if len(set(rows)) != len(rows):
        raise invalid(where, points, "has a repeated point", "distinct points")


def _check_consistency(config: dict) -> None:
    orders = config["orders"]
    if len(set(orders)) != len(orders):
        raise invalid("orders", orders, "has a repeated value", f"distinct orders among {list(ANALYSED_ORDERS)}")
    if 2 not in orders:
        raise invalid("orders", orders, "lacks 2", f"any of {list(ANALYSED_ORDERS)} that holds 2 (every analysis "
                          f"starts from the 2-point function: G_0, m_2, the kernel check)")
    for key in ("sigma_w", "N"):
        for name, exp in config["experiments"].items():
            vals = [float(v) for v in exp[key]]
            if len(set(vals)) != len(vals):
                raise invalid(f"experiments.{name}.{key}", exp[key], "has a repeated value (10 and 10.0 count as "
                                  "one)", "distinct values")
    for name, exp in config["experiments"].items():
        _check_training(f"experiments.{name}", exp, config)
        _check_outputs(f"experiments.{name}", exp, config)
    experiments = design.experiments(config)
    for name, exp in experiments.items():
        _check_experiment(f"experiments.{name}", exp, config)
    _check_depth_scans(experiments)
    having = list(asking(experiments, "passive_flow"))
    if len(having) > 1:
        raise invalid("experiments", having, "ask for passive_flow", "one experiment at most "
                          "(results/tables/passive_flow.parquet starts from one sigma_w scan)")
    need, have = design.job_memory_mb(config), config.get("mem_mb_per_job", math.inf)
    if need > have:
        raise invalid("mem_mb_per_job", have, f"MB is less than the {need:.0f} MB a sampling job needs",
                          f"at least {math.ceil(need)}")


#: Smallest eigenvalue of the training kernel (Θ or K on the training inputs), relative to its largest, below which
#: the training set is refused: gradient flow would not determine the outputs' limit (repeated or collinear inputs).
MIN_KERNEL_CONDITION = 1e-10


def _check_training(where: str, exp: dict, config: dict) -> None:
    """A trained experiment's ``training`` and ``orders`` (an untrained one may give neither), before the experiment
    is built: the training set, its times, what can be trained and measured, and a training kernel that is not
    singular."""
    spec = exp.get("training")
    if spec is None:
        if "orders" in exp:
            raise invalid(f"{where}.orders", exp["orders"], "is given for an untrained experiment",
                          "per-experiment orders for trained experiments only (untrained ones measure the top-level "
                          "`orders`)")
        return
    _check_points(f"{where}.training.inputs", spec["inputs"])
    inputs, points = point_rows(spec["inputs"]), point_rows(exp.get("points", config["points"]))
    if len(inputs[0]) != len(points[0]):
        raise invalid(f"{where}.training.inputs", spec["inputs"], f"have d_in = {len(inputs[0])}",
                      f"the d_in of the experiment's points ({len(points[0])})")
    if len(spec["targets"]) != len(inputs):
        raise invalid(f"{where}.training.targets", spec["targets"], f"are {len(spec['targets'])} for "
                      f"{len(inputs)} training inputs", "one target per training input")
    if not all(math.isfinite(y) for y in spec["targets"]):
        raise invalid(f"{where}.training.targets", spec["targets"], "has a target that is not finite", "finite targets")
    times = [float(t) for t in spec["times"]]
    if times != sorted(times) or len(set(times)) != len(times) or not all(math.isfinite(t) for t in times):
        raise invalid(f"{where}.training.times", spec["times"], "are not ascending", "distinct finite times >= 0, "
                      "in ascending order")
    orders = sorted(exp.get("orders", design.DEFAULT_TRAINED_ORDERS))
    if not {1, 2} <= set(orders):
        raise invalid(f"{where}.orders", orders, "lacks 1 or 2", "orders holding 1 and 2 (the trained analysis starts "
                      "from the mean and the covariance)")
    if int(exp.get("depth", 1)) != 1:
        raise invalid(f"{where}.depth", exp["depth"], "is not trained", "depth 1 (training is implemented for one "
                      "hidden layer)")
    layers, estimator = spec.get("layers", "all"), exp.get("estimator", "plain")
    if estimator == "conditional" and layers != "readout":
        raise invalid(f"{where}.estimator", estimator, f"is not exact for layers: {layers}",
                      "plain or control_variate, or layers: readout (the conditional estimator of a trained "
                      "ensemble is exact for readout training only)")
    if estimator == "control_variate" and not set(orders) <= set(CONTROL_VARIATE_ORDERS):
        raise invalid(f"{where}.orders", orders, "are not all orders at which the control variate's expectation is "
                      "exact", f"{list(CONTROL_VARIATE_ORDERS)} with estimator control_variate")
    import numpy as np

    from ..theory.ntk import gradient_kernel

    for sigma_w in exp["sigma_w"]:
        g = gradient_kernel(exp.get("activation", "gauss"), inputs, inputs, float(exp["sigma_b"]), float(sigma_w),
                            layers=layers)
        eig = np.linalg.eigvalsh(g)
        if eig.min() <= MIN_KERNEL_CONDITION * eig.max():
            raise invalid(f"{where}.training.inputs", spec["inputs"], f"give a singular training kernel at sigma_w = "
                          f"{sigma_w} (smallest eigenvalue {eig.min():.3g} of {eig.max():.3g})",
                          "training inputs whose kernel is not singular: no input repeated, none collinear with "
                          "others where the kernel is linear")


#: The most (point, output) combinations one bag of several outputs may measure: each sampling job holds
#: TRAINED_NETS_AT_ONCE networks' values of all of them (about 1.6 GB at this limit).
MAX_OUTPUT_COMBOS = 100_000


def _check_outputs(where: str, exp: dict, config: dict) -> None:
    """An experiment of several outputs (``d_out`` > 1), before it is built: untrained (either estimator, any depth), and
    no more correlators per bag than a job can hold."""
    d_out = exp.get("d_out", 1)
    if d_out == 1:
        return
    if "training" in exp:
        raise invalid(f"{where}.training", "gradient flow", f"is not run with d_out = {d_out}", "d_out: 1")
    n_points = len(point_rows(exp.get("points", config["points"])))
    count = design.output_combos_count(n_points, d_out, config["orders"])
    if count > MAX_OUTPUT_COMBOS:
        raise invalid(f"{where}.d_out", d_out, f"at {n_points} points and orders {list(config['orders'])} gives "
                      f"{count} correlators per bag, more than a job holds", f"at most {MAX_OUTPUT_COMBOS} (fewer "
                      "outputs, points or orders)")


def _check_experiment(where: str, exp, config: dict) -> None:
    """The checks of one complete experiment (:class:`nnqft.model.Experiment`) that depend on its values."""
    orders = config["orders"] if exp.orders is None else exp.orders
    max_order = max(orders)
    for sigma_w in exp.sigma_w:
        if exp.activation == "gauss":
            bound = activation_log_bound(exp.model(sigma_w, max(exp.N)), max_order)
            if bound > EXP_LIMIT:
                layers = "" if exp.depth == 1 else f", depth {exp.depth}"
                raise invalid(
                    f"{where}.sigma_w", sigma_w,
                    f"(GaussNet, sigma_b = {exp.sigma_b}, d_in = {exp.d_in}{layers}, points up to |x| = "
                    f"{max(math.hypot(*p) for p in exp.points):.3g}, order {max_order}) can overflow float64: log of "
                    f"the correlator products may reach {bound:.3g} > {EXP_LIMIT:.0f}", "smaller sigma_w, sigma_b, "
                    "points or depth")
        if exp.activation == "erf":
            variance = max(exp.sigma_b**2 + sigma_w**2 * sum(v * v for v in p) / exp.d_in for p in exp.points)
            if exp.depth > 1:  # a deeper layer's variance is σ_b² + σ_W² E[erf²] < σ_b² + σ_W²
                variance = max(variance, exp.sigma_b**2 + sigma_w**2)
            if variance > MAX_ERF_VARIANCE:
                raise invalid(
                    f"{where}.sigma_w", sigma_w, f"(Erf, sigma_b = {exp.sigma_b}) gives a pre-activation variance "
                    f"{variance:.3g} at one of the points, beyond the {MAX_ERF_VARIANCE} up to which the exact "
                    f"theory's quadrature is tested", f"sigma_b^2 + sigma_w^2 |x|^2 / d_in <= {MAX_ERF_VARIANCE}")
    if exp.activation == "linear" and exp.depth > 1 and len(exp.points) ** max_order > MAX_LINEAR_TENSOR:
        raise invalid(f"{where}.points", len(exp.points), f"points are too many for the exact theory of a deep linear "
                      f"network at order {max_order} (its moment tensors have P^{max_order} entries)",
                      f"P^{max_order} <= {MAX_LINEAR_TENSOR:.0e}: fewer points or lower orders")
    if config.get("backend", "cpu") == "cuda":
        for key, value, what, allowed in cuda_limits(exp)[:1]:
            raise invalid(f"{where}.{key}" if key else where, value, what, allowed)
    for analysis in exp.analyses:
        unmet = analysis_unmet(analysis, exp, orders)
        if unmet:
            supported = [a for a in ANALYSES if not analysis_unmet(a, exp, orders)]
            raise invalid(f"{where}.analyses", analysis, f"needs {unmet}",
                              f"{supported} (the analyses this experiment supports)")


def _check_depth_scans(experiments: dict) -> None:
    """Each depth scan (nnqft.analysis.registry.depth_scans) needs at least two depths (a running with L)."""
    for names in depth_scans(experiments).values():
        depths = sorted({experiments[n].depth for n in names})
        if len(depths) < 2:
            raise invalid("experiments", names, f"ask for depth_running at the one depth {depths}",
                          "experiments of one activation, points, sigma_b and sigma_w at two depths or more (the "
                          "scan runs across them)")


def activation_log_bound(model, max_order: int) -> float:
    """A bound on log|f(x_1)...f(x_n)| of a GaussNet ``model`` over draws within MAX_SIGMAS:
    n (MAX_SIGMAS (sigma_w ||x||_1 / sqrt(d_in) + sigma_b) + log(MAX_SIGMAS sigma_w sqrt(N) + MAX_SIGMAS sigma_b)),
    since |W0 . x + b0| <= MAX_SIGMAS (sigma_w / sqrt(d_in)) sum_k |x_k| + MAX_SIGMAS sigma_b.

    At depth L > 1 (nnqft.sampling.deep) a layer's pre-activation at a point is z = R ξ with R Rᵀ = Ĝ, so
    |z| <= MAX_SIGMAS sqrt(P Ĝ_aa), and Ĝ_aa = σ_b² + (σ_W²/N) Σ_j φ_j² <= σ_b² + σ_W² max φ²: with log φ <= B the
    next layer's B' = MAX_SIGMAS sqrt(P (σ_b² + σ_W² e^{2B})) − (σ_b² + σ_W²) (its normalisation), and the output
    |f| <= MAX_SIGMAS sqrt(P (σ_b² + σ_W² e^{2B})) from the last hidden layer's B. The bound compounds: deep GaussNets
    pass only with small σ's."""
    xmax = max(sum(abs(v) for v in r) for r in model.points) / math.sqrt(model.d_in)
    log_g = MAX_SIGMAS * (model.sigma_w * xmax + model.sigma_b)
    if model.depth == 1:
        scale = MAX_SIGMAS * (model.sigma_w * math.sqrt(model.N) + model.sigma_b) + 1.0
        return max_order * (log_g + math.log(scale))
    P, sb2, sw2 = len(model.points), model.sigma_b**2, model.sigma_w**2

    def spread(log_phi):  # MAX_SIGMAS sqrt(P (σ_b² + σ_W² e^{2B})), in logs where e^{2B} would overflow
        if 2 * log_phi > EXP_LIMIT:
            return math.inf
        return MAX_SIGMAS * math.sqrt(P * (sb2 + sw2 * math.exp(2 * log_phi)))

    for _ in range(model.depth - 1):
        log_g = spread(log_g) - (sb2 + sw2)
    top = spread(log_g)
    return math.inf if not math.isfinite(top) else max_order * math.log(max(top, 1.0))
