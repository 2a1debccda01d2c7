"""Several outputs in a config (docs/science.md §12): what is rejected before any job, naming the experiment, the key,
the value and what is allowed; one output keeps every name; several get their own sample folder, rule and tables."""
import copy

import pytest
from snakemake.utils import validate

from helpers import QUICK, ROOT, load_config
from nnqft.analysis import registry
from nnqft.workflow import config as config_checks
from nnqft.workflow import design

SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
OUTPUTS = load_config("outputs_quick", defaults=True)


def check(config):
    config_checks.check(config, SCHEMA, lambda c: validate(c, SCHEMA))


def exp(config, key, value, name="relu_two_outputs"):
    config["experiments"][name][key] = value


BAD = {
    "d_out 0": (lambda c: exp(c, "d_out", 0), ["d_out", "0", "minimum"]),
    "d_out not an integer": (lambda c: exp(c, "d_out", 1.5), ["d_out", "1.5", "integer"]),
    "training": (lambda c: exp(c, "training", {"inputs": [0.1, 0.2], "targets": [1.0, 0.0], "times": [1.0],
                                               "layers": "readout"}),
                 ["experiments.relu_two_outputs.training", "d_out: 1"]),
    "too many correlators for a job": (lambda c: (exp(c, "d_out", 12), c.update(orders=[2, 4, 6]),
                                                  exp(c, "points", [0.1 * k for k in range(1, 7)])),
                                       ["experiments.relu_two_outputs.d_out", "12", "correlators per bag",
                                        "at most 100000"]),
    "cuda": (lambda c: (c.update(backend="cuda"), c["experiments"].pop("erf_three_outputs"),
                        exp(c, "activation", "gauss"), exp(c, "points", [0.001, 0.002])),
             ["experiments.relu_two_outputs", "cuda"]),
    "an analysis of one output": (lambda c: exp(c, "analyses", ["outputs", "falloff"]),
                                  ["experiments.relu_two_outputs.analyses", "falloff", "one output", "['outputs']"]),
    "the outputs analysis of one output": (lambda c: (exp(c, "d_out", 1), exp(c, "estimator", "conditional")),
                                           ["experiments.relu_two_outputs.analyses", "outputs", "several outputs"]),
    "outputs without order 4": (lambda c: c.update(orders=[2]), ["analyses", "outputs", "orders [4]"]),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_config_of_several_outputs_is_rejected_naming_the_key(case):
    config = copy.deepcopy(OUTPUTS)
    BAD[case][0](config)
    with pytest.raises(Exception) as err:
        check(config)
    for fragment in BAD[case][1]:
        assert fragment in str(err.value), f"{fragment!r} not in: {err.value}"


def test_the_shipped_configs_of_several_outputs_are_valid():
    for name in ("outputs_quick", "d_out"):
        check(load_config(name))


def test_one_output_keeps_every_name_and_several_get_their_own():
    config = copy.deepcopy(QUICK)
    config["experiments"]["two"] = copy.deepcopy(OUTPUTS["experiments"]["relu_two_outputs"])
    check(config)
    assert design.block_paths(config) == design.block_paths(QUICK)
    assert design.ensembles(config) == design.ensembles(QUICK)
    paths = design.block_paths(config, kind="outputs")
    assert paths and all(p.split("/")[3].endswith("_conditional_O2") for p in paths)
    config["experiments"]["two"]["estimator"] = "plain"  # whole networks: their own folder
    check(config)
    assert all(p.split("/")[3].endswith("_plain_O2") for p in design.block_paths(config, kind="outputs"))
    config["experiments"]["two"].update(estimator="conditional", depth=2)  # deeper: the depth tag before the outputs'
    check(config)
    assert all(p.split("/")[3].endswith("_conditional_L2_O2") for p in design.block_paths(config, kind="outputs"))
    assert design.experiments(config)["two"].ensemble.name.endswith("_conditional_L2_O2")
    config["experiments"]["two"]["estimator"] = "plain"  # either estimator at any depth
    check(config)
    assert all(p.split("/")[3].endswith("_plain_L2_O2") for p in design.block_paths(config, kind="outputs"))
    experiments = design.experiments(config)
    assert experiments["two"].kind == "outputs" and experiments["width_scan"].kind == "untrained"
    assert "d_out" not in experiments["width_scan"].as_dict() and experiments["two"].as_dict()["d_out"] == 2
    assert [s.name for s in registry.steps_for({"two": experiments["two"]})] == ["outputs", "outputs_falloff"]
    assert registry.claims_reads({"two": experiments["two"]}) == registry.CLAIMS_READS["outputs"]
    assert registry.figure_paths({"two": experiments["two"]}, [2, 4]) == ["two/outputs"]
