"""A trained experiment's config (docs/science.md §11): what is accepted, what is rejected before any job (naming the
experiment, the key, the value and what is allowed), and the sample paths, orders and memory it gets."""
import copy

import pytest
import yaml
from snakemake.utils import validate

from helpers import QUICK, ROOT, load_config
from nnqft.analysis import registry
from nnqft.workflow import config as config_checks
from nnqft.workflow import design

SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
TRAINED = load_config("training_quick", defaults=True)


def check(config):
    config_checks.check(config, SCHEMA, lambda c: validate(c, SCHEMA))


def trained(config, key, value, name="erf_trained"):
    config["experiments"][name][key] = value


def training(config, key, value, name="erf_trained"):
    config["experiments"][name]["training"][key] = value


BAD = {
    "empty training inputs": (lambda c: training(c, "inputs", []), ["training.inputs", "[]"]),
    "ragged training inputs": (lambda c: training(c, "inputs", [[0.1, 0.2], [0.3]]),
                               ["experiments.erf_trained.training.inputs", "ragged"]),
    "inputs of another d_in": (lambda c: training(c, "inputs", [[0.1, 0.2], [0.3, 0.1], [1.0, 0.0]]),
                               ["experiments.erf_trained.training.inputs", "d_in = 2", "points (1)"]),
    "targets of another length": (lambda c: training(c, "targets", [1.0, 2.0]),
                                  ["experiments.erf_trained.training.targets", "2 for 3 training inputs"]),
    "negative time": (lambda c: training(c, "times", [-1.0, 0.5]), ["times", "-1.0", "minimum"]),
    "unsorted times": (lambda c: training(c, "times", [0.0, 2.0, 0.5]),
                       ["experiments.erf_trained.training.times", "ascending"]),
    "no times": (lambda c: training(c, "times", []), ["times", "[]"]),
    "repeated training input (a singular kernel)": (lambda c: training(c, "inputs", [-1.0, 0.5, -1.0]),
                                                   ["experiments.erf_trained.training.inputs", "-1.0", "non-unique",
                                                    "distinct"]),
    "collinear inputs of a linear network (a singular kernel)": (
        lambda c: (trained(c, "activation", "linear"), training(c, "inputs", [-1.0, 0.5, 2.0]),
                   training(c, "targets", [1.0, 2.0, 3.0])),
        ["experiments.erf_trained.training.inputs", "singular training kernel", "smallest eigenvalue"]),
    "unknown layers": (lambda c: training(c, "layers", "hidden"), ["layers", "hidden", "all"]),
    "odd orders without training": (lambda c: exp_orders(c), ["experiments.untrained.orders", "untrained experiment"]),
    "orders without 1": (lambda c: trained(c, "orders", [2, 4]), ["experiments.erf_trained.orders", "lacks 1 or 2"]),
    "order 7": (lambda c: trained(c, "orders", [1, 2, 7]), ["orders", "7"]),
    "an untrained analysis of a trained experiment": (lambda c: trained(c, "analyses", ["training", "falloff"]),
                                                      ["experiments.erf_trained.analyses", "falloff",
                                                       "untrained ensemble", "['training']"]),
    "the training analysis of an untrained experiment": (
        lambda c: c["experiments"]["untrained"].__setitem__("analyses", ["training"]),
        ["experiments.untrained.analyses", "training", "a training"]),
    "the training analysis at one width": (lambda c: trained(c, "N", [8]),
                                           ["experiments.erf_trained.analyses", "training", "at least 2 widths"]),
    "cuda": (lambda c: (c.update(backend="cuda"), c["experiments"].pop("untrained"), trained(c, "activation", "gauss")),
             ["experiments.erf_trained", "gradient flow", "not run by the cuda backend"]),
    "depth 2": (lambda c: trained(c, "depth", 2), ["experiments.erf_trained.depth", "depth 1"]),
    "conditional estimator of full training": (lambda c: trained(c, "estimator", "conditional"),
                                               ["experiments.erf_trained.estimator", "layers: all", "readout"]),
    "control variate at order 4": (lambda c: trained(c, "estimator", "control_variate"),
                                   ["experiments.erf_trained.orders", "[1, 2, 3, 4]", "control_variate"]),
    "control variate untrained": (lambda c: c["experiments"]["untrained"].__setitem__("estimator", "control_variate"),
                                  ["experiments.untrained.estimator", "control_variate", "untrained", "plain"]),
    "GaussNet that overflows": (lambda c: (trained(c, "activation", "gauss"), trained(c, "points", [30.0, 31.0]),
                                           training(c, "inputs", [30.0, 31.0, 32.0])),
                                ["experiments.erf_trained.sigma_w", "overflow"]),
}


def exp_orders(config):
    config["experiments"]["untrained"]["orders"] = [1, 2]


@pytest.mark.parametrize("case", BAD)
def test_a_bad_training_is_rejected_naming_the_experiment_and_key(case):
    config = copy.deepcopy(TRAINED)
    config["experiments"]["untrained"] = copy.deepcopy(QUICK["experiments"]["width_scan"])
    config["experiments"]["untrained"]["analyses"] = ["falloff"]
    BAD[case][0](config)
    with pytest.raises(Exception) as err:
        check(config)
    for fragment in BAD[case][1]:
        assert fragment in str(err.value), f"{fragment!r} not in: {err.value}"


def test_the_shipped_training_configs_are_valid():
    for name in ("training_quick", "training"):
        check(load_config(name))


def test_trained_points_get_their_own_paths_and_untrained_ones_keep_theirs():
    """A config with a trained experiment beside the quick config's: the untrained block paths are the quick config's
    (the trained point, even with the same activation, points, n_nets and σ's, is another ensemble), and every trained
    block's ensemble directory ends in the training's id."""
    config = copy.deepcopy(QUICK)
    trained_exp = copy.deepcopy(TRAINED["experiments"]["erf_trained"])
    config["experiments"]["trained"] = trained_exp
    check(config)
    assert design.block_paths(config) == design.block_paths(QUICK)
    paths = design.block_paths(config, kind="trained")
    tid = design.experiments(config)["trained"].training.training_id
    assert paths and all(p.split("/")[3].endswith(f"_plain_T{tid}") for p in paths)
    same = copy.deepcopy(trained_exp)
    same["training"]["times"] = [0.0, 1.0]
    config["experiments"]["other"] = same
    assert len({p.split("/")[3] for p in design.block_paths(config, kind="trained")}) == 2  # times are its identity


def test_experiments_sharing_a_trained_ensemble_sample_the_union_of_their_orders():
    config = copy.deepcopy(TRAINED)
    second = copy.deepcopy(config["experiments"]["erf_trained"])
    second["orders"] = [1, 2, 5]
    config["experiments"]["second"] = second
    check(config)
    name = design.experiments(config)["erf_trained"].ensemble.name
    assert design.trained_orders(config)[name] == [1, 2, 3, 4, 5]
    assert design.ensembles(config, kind="trained")[name]["orders"] == [1, 2, 3, 4, 5]


def test_a_trained_experiment_gets_only_the_trained_steps_figures_and_claims():
    experiments = design.experiments(TRAINED)
    assert [s.name for s in registry.steps_for(experiments)] == ["training"]
    assert registry.claims_reads(experiments) == registry.CLAIMS_READS["trained"]
    assert registry.figure_paths(experiments, [2]) == [f"{name}/training" for name in experiments]
    untrained = design.experiments(QUICK)
    assert "training" not in [s.name for s in registry.steps_for(untrained)]
    assert registry.claims_reads(untrained) == registry.CLAIMS_READS["untrained"]


def test_a_trained_jobs_memory_does_not_grow_with_n_nets():
    small, large = copy.deepcopy(TRAINED), copy.deepcopy(TRAINED)
    large["n_nets"] = 10**6
    assert design.job_memory_mb(small) == design.job_memory_mb(large) < 1000
