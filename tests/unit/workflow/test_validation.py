"""Bad input is rejected before any job runs, with a message naming the key, the value and what is allowed."""
import copy

import pytest
import yaml
from snakemake.utils import validate

from helpers import QUICK, ROOT
from nnqft.analysis import hms, registry
from nnqft.workflow import config as config_checks
from nnqft.workflow import design

SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


def check(config):
    """What the Snakefile does before building the DAG (workflow/rules/common.smk)."""
    config_checks.check(config, SCHEMA, lambda c: validate(c, SCHEMA))


def exp(config, key, value, name="width_scan"):
    config["experiments"][name][key] = value


BAD = {
    "negative N": (lambda c: exp(c, "N", [2, -3]), ["N", "-3", "minimum"]),
    "zero N": (lambda c: exp(c, "N", [0]), ["N", "0", "minimum"]),
    "non-integer N": (lambda c: exp(c, "N", [2.5]), ["N", "2.5", "integer"]),
    "sigma_w zero": (lambda c: exp(c, "sigma_w", [0.0]), ["sigma_w", "0.0", "minimum"]),
    "sigma_w negative": (lambda c: exp(c, "sigma_w", [-1.0]), ["sigma_w", "-1.0", "minimum"]),
    "sigma_b negative": (lambda c: exp(c, "sigma_b", -0.5), ["sigma_b", "-0.5", "minimum"]),
    "n_nets below 2": (lambda c: c.__setitem__("n_nets", 1), ["n_nets", "1", "minimum"]),
    "n_bags below 2": (lambda c: exp(c, "n_bags", 1), ["n_bags", "1", "minimum"]),
    "empty N": (lambda c: exp(c, "N", []), ["N", "[]", "non-empty"]),
    "empty points": (lambda c: c.__setitem__("points", []), ["points", "[]", "non-empty"]),
    "duplicate sigma_w 10 and 10.0": (lambda c: exp(c, "sigma_w", [10, 10.0]), ["sigma_w", "10", "repeated"]),
    "duplicate N": (lambda c: exp(c, "N", [2, 2]), ["N", "2", "repeated"]),
    "repeated point": (lambda c: c.__setitem__("points", [0.1, 0.1]), ["points", "0.1", "repeated"]),
    "infinite point": (lambda c: c.__setitem__("points", [0.1, float("inf")]), ["points", "inf", "finite"]),
    "odd order": (lambda c: c.__setitem__("orders", [2, 3]), ["orders", "3", "[2, 4, 6]"]),
    "order 8": (lambda c: c.__setitem__("orders", [8]), ["orders", "8", "[2, 4, 6]"]),
    "order 0": (lambda c: c.__setitem__("orders", [0]), ["orders", "0", "[2, 4, 6]"]),
    "orders without 6, but an analysis that needs it": (lambda c: c.__setitem__("orders", [2, 4]),
                                                        ["sigma_scan", "passive_flow", "orders [6]", "[2, 4]"]),
    "orders without 2": (lambda c: c.__setitem__("orders", [4, 6]), ["orders", "[4, 6]", "[2, 4, 6]"]),
    "no experiments": (lambda c: c.pop("experiments"), ["experiments", "required"]),
    "unknown key sigma_W": (lambda c: c["experiments"]["width_scan"].__setitem__("sigma_W", [1.0]), ["sigma_W"]),
    "unknown top-level key": (lambda c: c.__setitem__("n_net", 10), ["n_net"]),
    "string for a number": (lambda c: c.__setitem__("n_nets", "2000"), ["n_nets", "'2000'", "integer"]),
    "experiment missing n_bags": (lambda c: c["experiments"]["width_scan"].pop("n_bags"), ["n_bags", "required"]),
    "sigma_w that overflows": (lambda c: exp(c, "sigma_w", [5000.0]), ["sigma_w", "5000.0", "overflow"]),
    "too little memory per job": (lambda c: c.__setitem__("mem_mb_per_job", 100), ["mem_mb_per_job", "100"]),
    "unknown backend": (lambda c: c.__setitem__("backend", "opencl"), ["backend", "opencl", "cuda"]),
    "cuda with too many points": (lambda c: c.update(backend="cuda", points=[0.001 * k for k in range(9)]),
                                  ["points", "cuda", "at most 8"]),
    # architectures and input dimensions (docs/science.md §8): each names the experiment, the key, what is allowed
    "unknown activation": (lambda c: exp(c, "activation", "tanh"),
                           ["experiments.width_scan.activation", "tanh", "gauss, relu, erf, linear"]),
    "ragged points": (lambda c: exp(c, "points", [[0.1, 0.2], [0.3]]),
                      ["experiments.width_scan.points", "ragged", "same number of coordinates"]),
    "points of mixed dimension": (lambda c: exp(c, "points", [0.1, [0.2, 0.3]]),
                                  ["experiments.width_scan.points", "mixed dimension", "every point as a list"]),
    "d_in beyond 3": (lambda c: exp(c, "points", [[0.1, 0.2, 0.3, 0.4]]),
                      ["experiments.width_scan.points", "d_in = 4", "1 to 3 coordinates"]),
    "repeated point in d_in = 2 (1 and 1.0)": (lambda c: exp(c, "points", [[1, 2], [0.5, 0.5], [1.0, 2.0]]),
                                                ["experiments.width_scan.points", "repeated point"]),
    "coordinate not a number": (lambda c: exp(c, "points", [[0.1, "a"]]),
                                ["experiments.width_scan.points", "must be a number"]),
    "GaussNet overflow at d_in = 2": (lambda c: c["experiments"]["width_scan"].update(
        points=[[3.0, 3.0], [3.0, -3.0]], sigma_w=[5.0]), ["experiments.width_scan.sigma_w", "5.0", "GaussNet",
                                                           "d_in = 2", "overflow", "allowed"]),
    "Erf beyond the quadrature's tested variance": (lambda c: c["experiments"]["width_scan"].update(
        activation="erf", points=[[1.0, 1.0]], sigma_w=[5.0]), ["experiments.width_scan.sigma_w", "5.0", "Erf",
                                                                "variance 26", "<= 18"]),
    "cuda with ReLU": (lambda c: (c.update(backend="cuda"), exp(c, "activation", "relu")),
                       ["experiments.width_scan", "cuda", "GaussNet at d_in = 1 only", "relu", "backend cpu"]),
    "cuda at d_in = 2": (lambda c: (c.update(backend="cuda"), exp(c, "points", [[0.1, 0.2], [0.2, 0.1]])),
                         ["experiments.width_scan", "cuda", "d_in = 2"]),
    "n_nets per experiment below 2": (lambda c: exp(c, "n_nets", 1), ["n_nets", "1", "minimum"]),
    "unknown estimator": (lambda c: exp(c, "estimator", "rao"),
                          ["experiments.width_scan.estimator", "rao", "plain, conditional"]),
    "cuda with the conditional estimator": (lambda c: (c.update(backend="cuda"), exp(c, "estimator", "conditional")),
                                            ["experiments.width_scan.estimator", "cuda", "plain estimator only"]),
    # analyses: said in the config, checked against what the experiment has
    "unknown analysis": (lambda c: exp(c, "analyses", ["lambda"]),
                         ["experiments.width_scan.analyses", "'lambda'", "falloff, u4_negative"]),
    "flow fit with one sigma_w": (lambda c: exp(c, "analyses", ["flow_fit"]),
                                  ["experiments.width_scan.analyses", "flow_fit", "at least 3 sigma_w", "[1.0]",
                                   "allowed: ['falloff', 'u4_negative', 'u6_positive', 'passive_flow', 'depth_running'] (the analyses this experiment supports)"]),
    "falloff with one width": (lambda c: exp(c, "N", [10]),
                               ["experiments.width_scan.analyses", "falloff", "at least 2 widths", "[10]"]),
    "falloff over several sigma_w": (lambda c: exp(c, "analyses", ["falloff"], name="sigma_scan"),
                                     ["experiments.sigma_scan.analyses", "falloff", "one sigma_w",
                                      "add a second experiment"]),
    "a coupling claim on ReLU": (lambda c: exp(c, "activation", "relu"),
                                 ["experiments.width_scan.analyses", "u4_negative", "activation gauss", "relu",
                                  "allowed: ['falloff', 'depth_running'] (the analyses this experiment supports)"]),
    "lambda without an NGP width": (lambda c: exp(c, "analyses", ["falloff", "lambda_running"]),
                                    ["experiments.width_scan.analyses", "lambda_running", "ngp_width", "[2, 10, 100]"]),
    "NGP width not among the widths": (lambda c: (exp(c, "analyses", ["falloff", "lambda_running"]),
                                                  exp(c, "ngp_width", 20)),
                                       ["experiments.width_scan.analyses", "lambda_running", "ngp_width", "got 20"]),
    "lambda over several sigma_w": (lambda c: (exp(c, "analyses", ["lambda_running"], name="sigma_scan"),
                                               exp(c, "ngp_width", 10, name="sigma_scan")),
                                    ["experiments.sigma_scan.analyses", "lambda_running", "one sigma_w"]),
    "six-point without lambda": (lambda c: (exp(c, "analyses", ["falloff", "six_point"]), exp(c, "ngp_width", 10)),
                                 ["experiments.width_scan.analyses", "six_point", "lambda_running and falloff"]),
    # deep networks (docs/science.md §10)
    "depth zero": (lambda c: exp(c, "depth", 0), ["depth", "0", "minimum"]),
    "depth not an integer": (lambda c: exp(c, "depth", 2.5), ["depth", "2.5", "integer"]),
    "cuda at depth 2": (lambda c: (c.update(backend="cuda"), exp(c, "depth", 2), exp(c, "activation", "relu")),
                        ["experiments.width_scan.depth", "2", "cuda", "one hidden layer", "depth 1, or backend cpu"]),
    "a one-hidden-layer analysis at depth 2": (lambda c: (exp(c, "depth", 2), exp(c, "activation", "relu")),
                                               ["experiments.width_scan.analyses", "u4_negative", "depth 2",
                                                "['falloff', 'depth_running']"]),
    "depth_running at one depth": (lambda c: exp(c, "analyses", ["falloff", "depth_running"]),
                                   ["experiments", "['width_scan']", "depth_running", "one depth [1]",
                                    "two depths or more"]),
    "deep GaussNet that overflows": (lambda c: (exp(c, "depth", 3), exp(c, "analyses", ["falloff"])),
                                     ["experiments.width_scan.sigma_w", "1.0", "GaussNet", "depth 3", "overflow",
                                      "or depth"]),
    "deep Erf beyond the quadrature's tested variance": (lambda c: c["experiments"]["width_scan"].update(
        activation="erf", depth=2, sigma_w=[4.5], analyses=["falloff"]), ["experiments.width_scan.sigma_w", "4.5",
                                                                          "Erf", "<= 18"]),
    "falloff where G_GP = 0": (lambda c: c["experiments"]["width_scan"].update(activation="relu", sigma_b=0.0,
                                                                                 analyses=["falloff"]),
                               ["experiments.width_scan.analyses", "falloff", "opposite rays", "undefined"]),
    "a deep linear network at too many points": (lambda c: c["experiments"]["width_scan"].update(
        activation="linear", depth=2, analyses=["falloff"], points=[0.01 * k for k in range(1, 18)]),
        ["experiments.width_scan.points", "17", "deep linear", "P^6 <= 2e+07"]),
    "lambda for a linear network": (lambda c: (exp(c, "activation", "linear"), exp(c, "analyses", ["lambda_running"]),
                                               exp(c, "ngp_width", 10)),
                                    ["experiments.width_scan.analyses", "lambda_running", "linear kernel"]),
    "passive flow asked twice": (lambda c: exp(c, "analyses", ["flow_fit", "passive_flow"],
                                               name="sigma_scan_conditional"),
                                 ["passive_flow", "['sigma_scan', 'sigma_scan_conditional']", "one experiment at most"]),
}


def test_the_schema_lists_the_analyses_the_package_knows_and_hms_cutoffs():
    from nnqft.theory import cutoff
    with open(SCHEMA) as fh:
        schema = yaml.safe_load(fh)
    props = schema["properties"]["experiments"]["additionalProperties"]["properties"]
    assert props["analyses"]["items"]["enum"] == list(registry.ANALYSES)
    assert tuple(schema["properties"]["cutoffs"]["default"]) == cutoff.HMS_CUTOFFS
    assert props["lambda_convention"]["enum"] == list(hms.LAMBDA_CONVENTIONS)


def test_orders_without_6_are_accepted_where_no_analysis_needs_them():
    """orders: [2, 4] is cheaper (147 instead of 609 correlators per network at six points); it is rejected only by
    the analyses that read order 6, and each names them; without them the config is valid, and the figures of
    order 6 are not asked for."""
    config = copy.deepcopy(QUICK)
    config["orders"] = [2, 4]
    config["experiments"]["sigma_scan"]["analyses"] = ["flow_fit", "u6_positive"]
    with pytest.raises(config_checks.ConfigError, match=r"'u6_positive' needs orders \[6\]"):
        check(copy.deepcopy(config))
    config["experiments"]["sigma_scan"]["analyses"] = ["flow_fit"]
    check(config)
    experiments = design.experiments(config)
    for analysis, needs in registry.ANALYSIS_ORDERS.items():
        unmet = registry.analysis_unmet(analysis, experiments["width_scan"], [2, 4])
        assert unmet.startswith("orders [6]") == (6 in needs), (analysis, unmet)
    paths = registry.figure_paths(experiments, [2, 4])
    assert "sigma_scan/u4_vs_sigma" in paths and "width_scan/histograms" in paths
    assert not any(p.endswith("u6_vs_sigma") for p in paths)
    assert "width_scan/histograms" not in registry.figure_paths(experiments, [2])


@pytest.mark.parametrize("case", BAD)
def test_bad_config_is_rejected_with_a_clear_message(case):
    modify, fragments = BAD[case]
    config = copy.deepcopy(QUICK)
    modify(config)
    with pytest.raises(Exception) as err:
        check(config)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"


def test_the_shipped_configs_are_valid():
    for name in ("config.yaml", "quick.yaml", "architectures_quick.yaml", "estimators.yaml", "hms.yaml",
                 "hms_quick.yaml", "d_in_scans.yaml", "depth.yaml", "depth_quick.yaml"):
        with open(ROOT / "config" / name) as fh:
            check(yaml.safe_load(fh))


def test_make_reproduce_merges_the_papers_configs_without_changing_any_experiment():
    """`make reproduce` passes every paper's config to one run (Makefile ALL_CONFIGS); Snakemake merges them key by
    key. Each experiment must come out as it is in its own config: a top-level key of one config (n_nets, points)
    would otherwise change the experiments of another."""
    import re
    names = re.search(r"^ALL_CONFIGS = (.+)$", (ROOT / "Makefile").read_text(), re.M).group(1).split()
    merged, alone = {}, {}
    for name in names:
        with open(ROOT / name) as fh:
            one = yaml.safe_load(fh)
        merged = {**merged, **{k: v for k, v in one.items() if k != "experiments"},
                  "experiments": {**merged.get("experiments", {}), **one["experiments"]}}
        validate(one, SCHEMA)
        alone.update(design.experiments(one))
    check(merged)
    assert design.experiments(merged) == alone


def test_keys_left_out_take_the_schema_defaults():
    config = {"experiments": copy.deepcopy(QUICK["experiments"])}
    check(config)
    with open(ROOT / "config" / "config.yaml") as fh:
        paper = yaml.safe_load(fh)
    for key in ("seed", "points", "orders", "n_nets"):
        assert config[key] == paper[key], key
    assert config["backend"] == "cpu" and config["threads_per_job"] == 1


def test_file_names_come_from_validated_numbers():
    config = copy.deepcopy(QUICK)
    exp(config, "sigma_w", [1, 2.50])
    exp(config, "analyses", [])
    check(config)
    paths = design.block_paths(config)
    assert any("_sw1.0_" in p for p in paths) and any("_sw2.5_" in p for p in paths)


@pytest.mark.parametrize("modify, where, suggestion", [
    (lambda c: c["experiments"]["width_scan"].update(sigma_W=c["experiments"]["width_scan"].pop("sigma_w")),
     "experiments.width_scan.sigma_W", "sigma_w"),
    (lambda c: c["experiments"]["width_scan"].update(analysis=c["experiments"]["width_scan"].pop("analyses")),
     "experiments.width_scan.analysis", "analyses"),
    (lambda c: c.update(seeds=c.pop("seed")), "seeds", "seed"),
    (lambda c: c["experiments"]["width_scan"].update(activation="ReLU"), "experiments.width_scan.activation", "relu"),
    (lambda c: c["experiments"]["width_scan"].update(analyses=["fall_off"]), "experiments.width_scan.analyses",
     "falloff"),
])
def test_a_misspelled_key_or_name_is_one_line_naming_the_closest(modify, where, suggestion):
    config = copy.deepcopy(QUICK)
    modify(config)
    with pytest.raises(config_checks.ConfigError) as err:
        check(config)
    message = str(err.value)
    assert message.startswith(f"{where}: ") and f"(did you mean {suggestion!r}?)" in message, message
    assert "\n" not in message


@pytest.mark.workflow
def test_the_command_line_shows_a_schema_error_in_one_line_without_the_schema(tmp_path):
    """A value the JSON schema refuses (N = -3) comes out as one line naming it, not the validator's dump of the
    whole schema (which ran to 80 lines)."""
    from helpers import run_snakemake

    config = copy.deepcopy(QUICK)
    config["experiments"]["width_scan"]["N"] = [2, -3]
    result = run_snakemake(tmp_path, config, "-n")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "invalid config: experiments.width_scan.N[1]: -3 is less than the minimum of 1; allowed: at least 1" in output
    assert len(output.splitlines()) < 8 and "$schema" not in output and "properties" not in output, output


def test_a_validator_failure_that_is_no_schema_error_comes_through_as_it_is():
    def broken(config):
        raise RuntimeError("the schema file could not be read")

    with pytest.raises(RuntimeError, match="could not be read"):
        config_checks.check(copy.deepcopy(QUICK), SCHEMA, broken)
