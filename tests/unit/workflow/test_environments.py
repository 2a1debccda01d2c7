"""The conda environments of envs/ (for `--sdm conda` on clusters) carry the pins of the requirements files."""
import re

import pytest
import yaml

from helpers import ROOT
from nnqft.workflow import design

#: Not in the rules' environments: the test runner, and Snakemake itself (it puts its own package on a
#: rule script's path).
NOT_IN_RULE_ENVS = {"pytest", "snakemake"}


def pins(requirements):
    """name -> version of every `name==version` line of a requirements file, following `-r` includes."""
    found = {}
    for line in (ROOT / requirements).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            found.update(pins(line[3:].strip()))
        elif (match := re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line)):
            found[match.group(1).lower()] = match.group(2)
    return found


def conda_pins(env):
    spec = yaml.safe_load((ROOT / env).read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    return dict(line.lower().split("==") for line in pip)


@pytest.mark.parametrize("env, requirements", [("envs/nnqft.yaml", "requirements.txt"),
                                               ("envs/nnqft-cuda.yaml", "requirements-cuda.txt")])
def test_conda_environments_pin_what_the_requirements_pin(env, requirements):
    expected = {name: version for name, version in pins(requirements).items() if name not in NOT_IN_RULE_ENVS}
    assert conda_pins(env) == expected


def test_the_sampling_rule_gets_an_environment_that_can_run_its_backend():
    """The sampling jobs' environment (design.sampling_env) has numba-cuda exactly where the backend is cuda,
    whatever else it holds; leaving the backend out means cpu."""
    for config, cuda in (({"backend": "cpu"}, False), ({}, False), ({"backend": "cuda"}, True)):
        env = ROOT / design.sampling_env(config)
        assert env.exists(), env
        assert ("numba-cuda" in conda_pins(env.relative_to(ROOT))) == cuda, env
