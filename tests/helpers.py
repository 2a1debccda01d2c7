"""Helpers shared by the test modules (the one place they import from each other): the repository root, the
shipped configs, running the workflow, network products and their z-scores, the CUDA simulator's environment."""
from __future__ import annotations

import hashlib
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from nnqft import combos
from nnqft.analysis.deviations import ERROR_BAR_KEYS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def load_config(name: str, defaults: bool = False) -> dict:
    """A shipped config (config/<name>.yaml); with ``defaults``, completed by the schema as the Snakefile does."""
    with open(ROOT / "config" / f"{name}.yaml") as fh:
        config = yaml.safe_load(fh)
    return load_config_dict(config) if defaults else config


def load_config_dict(config: dict) -> dict:
    """``config`` completed by the schema's defaults, as the Snakefile does (a copy)."""
    import copy

    from snakemake.utils import validate

    config = copy.deepcopy(config)
    validate(config, str(SCHEMA))
    return config


QUICK = load_config("quick")


def guard_snakemake(start, test: str):
    """``start`` (subprocess.run or Popen) refusing to start snakemake: for the tests without the workflow marker."""
    def guarded(cmd, *args, **kwargs):
        words = [str(w) for w in (cmd if isinstance(cmd, (list, tuple)) else [cmd])]
        if any(w == "snakemake" or w.endswith("/snakemake") for w in words):
            raise AssertionError(f"{test} runs snakemake: mark it with pytest.mark.workflow")
        return start(cmd, *args, **kwargs)

    return guarded


def write_config(workdir, config: dict) -> Path:
    """``config`` as a file in ``workdir``, named by its content and written atomically: tests in other pytest-xdist
    workers run Snakemake in the same shared run folder at the same time, each with its own config. Keys keep their
    order, as in the shipped file the config was read from: the rules' ``experiments`` params, and the tables' rows,
    follow the config's order of experiments, so a reordered copy would rerun the gathers and the analyses."""
    text = yaml.safe_dump(config, sort_keys=False)
    path = Path(workdir) / f"test-config-{hashlib.sha256(text.encode()).hexdigest()[:16]}.yaml"
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(text)
    os.replace(partial, path)
    return path


def snakemake_command(workdir, config, *args, python=sys.executable, snakefile=ROOT / "Snakefile",
                      timeout=600) -> list[str]:
    """The command line of `snakemake` on ``snakefile`` in `workdir`, with `config` written to a file there (None: no
    config file), under `timeout -k` because a hung snakemake may ignore SIGTERM."""
    config_args = [] if config is None else ["--configfile", str(write_config(workdir, config))]
    return ["timeout", "-k", "10", str(timeout), str(python), "-m", "snakemake", "-s", str(snakefile),
            "-d", str(workdir), *config_args, *map(str, args)]


def run_snakemake(workdir, config, *args, python=sys.executable, timeout=600, env=None):
    """`snakemake` on the project's Snakefile in `workdir` with `config` written to a file there
    (`env`: the environment, default this one)."""
    cmd = snakemake_command(workdir, config, *args, python=python, timeout=timeout)
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def scheduled_outputs(result):
    """The outputs of the jobs that a `snakemake -n` run printed."""
    assert result.returncode == 0, result.stdout + result.stderr
    outputs = re.findall(r"^\s+output: (.+)$", result.stdout, flags=re.M)
    return {path.strip() for line in outputs for path in line.split(",")}


def complete_run(workdir: Path, config: dict, *targets) -> Path:
    """A complete local run of ``config`` (2 cores) in ``workdir``: every output, or only ``targets``."""
    result = run_snakemake(workdir, config, "--cores", "2", *targets)
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir


def catalog_run(workdir: Path, config_text: str, *targets) -> Path:
    """A complete local run (2 cores) the way the Snakemake catalog runs a workflow's ``.test`` folder: the config
    written as ``config/config.yaml`` in ``workdir`` and found by the Snakefile itself (`snakemake --cores 2
    --directory workdir`, no --configfile); every output, or only ``targets``."""
    (Path(workdir) / "config").mkdir(parents=True, exist_ok=True)
    (Path(workdir) / "config" / "config.yaml").write_text(config_text)
    result = subprocess.run(snakemake_command(workdir, None, "--cores", "2", *targets), capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir


def table_targets(config: dict) -> list[str]:
    """Every table and the claims of ``config``: what ``rule all`` asks for but the figures."""
    from nnqft.analysis import registry
    from nnqft.workflow import design

    validated = load_config_dict(config)
    steps = registry.steps_for(design.experiments(validated))
    return [f"results/tables/{t}.parquet" for s in steps for t in (*s.reads, *s.writes)] + ["results/claims.md"]


def planned_figures(workdir, config: dict) -> set[str]:
    """The figures (paths under results/figures, without extension) that a run of ``config`` in ``workdir`` would
    draw next: those a dry run schedules, in a run folder whose tables are complete."""
    root = "results/figures/"
    return {p[len(root):-len(".png")] for p in scheduled_outputs(run_snakemake(workdir, config, "-n"))
            if p.startswith(root) and p.endswith(".png")}


def run_until(workdir, config, condition, timeout=300):
    """Start a full run in its own process group and SIGKILL the whole group once ``condition()`` holds."""
    configfile = write_config(workdir, config)
    base = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
            "--configfile", str(configfile)]
    subprocess.run([*base, "--unlock"], capture_output=True, timeout=120)
    proc = subprocess.Popen([*base, "--cores", "2", "--rerun-incomplete"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not condition() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return killed


# The point sets of Halverson, Maiti and Stoner (docs/science.md §8), by activation and d_in.
ERF_POINTS = {1: [[-1.0], [-0.6], [-0.2], [0.2], [0.6], [1.0]],
              2: [[-1, -1], [-1, 1], [1, -1], [1, 1]],
              3: [[-1, -1, -1], [1, 1, -1], [-1, 1, 1], [1, -1, 1]]}
RELU_POINTS = {1: [[0.2], [0.4], [0.6], [0.8], [1.0], [1.2]],
               2: [[0.5, 0.5], [0.5, 1], [1, 0.5], [1, 1]],
               3: [[0.2, 0.2, 0.2], [1, 1, 0.2], [0.2, 1, 1], [1, 0.2, 1]]}
HMS_POINTS = {"erf": ERF_POINTS, "relu": RELU_POINTS,
              "gauss": {d: (0.01 * np.array(p)).tolist() for d, p in ERF_POINTS.items()}}


def products(outputs, orders=(2, 4)):
    """Every combination of the given orders, and the per-network products f(x_1)...f(x_n) for each."""
    cs = [c for n in orders for c in combos.multisets(outputs.shape[1], n)]
    return cs, np.stack([np.prod(outputs[:, list(c)], axis=1) for c in cs], axis=1)


def zscores(cs, prods, theory, N):
    """z of the sampled G^(n) against ``theory`` at width N, with the sample standard error of the network
    products (the products of ReLU and Erf networks have light tails)."""
    g, _ = theory.correlators(cs, N)
    return (prods.mean(axis=0) - g) / (prods.std(axis=0, ddof=1) / math.sqrt(len(prods)))


#: An error-bar table without flags: every point's error bars taken as reliable.
NO_FLAGS = pd.DataFrame(columns=ERROR_BAR_KEYS + ["status"])

# --- the CUDA backend's tests run in numba's simulator unless NNQFT_CUDA_TESTS_ON_GPU=1 (conftest.py) ---------
SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
CUDA_SEED = 11
CUDA_POINTS = [-0.01, 0.002, 0.01]
#: A config small enough for the simulator.
CUDA_TINY = {
    "seed": CUDA_SEED, "points": CUDA_POINTS, "orders": [2, 4, 6], "n_nets": 300, "threads_per_job": 1,
    "experiments": {"scan": {"sigma_b": 1.0, "sigma_w": [1.0, 2.0], "N": [2], "n_bags": 2}},
}


def check_device(device):
    """The ``device`` metadata of a table sampled by the CUDA backend names the simulator or a real GPU."""
    if SIMULATED:
        assert device["gpu"] == "simulator", device
    else:
        assert device["gpu"] != "simulator" and device["compute_capability"], device


def without_simulator():
    return {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}


def normal_bonferroni_bound(n_tests: int, alpha: float) -> float:
    """|z| threshold with family-wise false-alarm rate ``alpha`` over ``n_tests`` two-sided normal tests."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(1 - alpha / (2 * n_tests))


def chebyshev_bound(n_tests: int, alpha: float) -> float:
    """|z| threshold with family-wise false-alarm rate <= ``alpha`` for any finite-variance distribution."""
    return float(np.sqrt(n_tests / alpha))


def exact_zscores(measured, n_networks, combos_, theory, N):
    """z = (G_measured − G_exact) / SE_exact per combination, the standard error from the exact variance of one
    network's product, G^(2n)(c, c) − G^(n)(c)², never from the sample (whose variance of heavy-tailed products is
    itself biased low, docs/science.md §6)."""
    g, _ = theory.correlators(combos_, N)
    var = np.array([theory.estimator_variance(c, N) for c in combos_])
    return (np.asarray(measured) - g) / np.sqrt(var / n_networks)


def overflowing(fig) -> list[str]:
    """The titles, axis labels and legends of ``fig`` that reach outside its canvas (matplotlib's own layout, after
    a draw), each as ``kind: text``."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    texts = [("suptitle", fig._suptitle)] if fig._suptitle is not None else []
    legends = list(fig.legends)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [("title", ax.title), ("title", ax._left_title), ("title", ax._right_title),
                  ("x label", ax.xaxis.label), ("y label", ax.yaxis.label)]
        if ax.get_legend() is not None:
            legends.append(ax.get_legend())
    out = []
    for kind, text in texts:
        if text is not None and text.get_text() and text.get_visible():
            box = text.get_window_extent(renderer)
            if box.x0 < canvas.x0 - 1 or box.x1 > canvas.x1 + 1 or box.y0 < canvas.y0 - 1 or box.y1 > canvas.y1 + 1:
                out.append(f"{kind}: {text.get_text()[:60]}")
    for legend in legends:
        box = legend.get_window_extent(renderer)
        if box.x0 < canvas.x0 - 1 or box.x1 > canvas.x1 + 1 or box.y0 < canvas.y0 - 1 or box.y1 > canvas.y1 + 1:
            out.append("legend")
    return out


def overflowing_figures(config_name: str, run) -> dict:
    """Every figure that the shipped config ``config_name`` draws, redrawn from the tables of its complete ``run``
    and checked by :func:`overflowing`: {figure path: what overflows} for those that overflow (a figure whose
    suptitle was cut at both ends, as several were, is found)."""
    import matplotlib.pyplot as plt

    from nnqft.analysis import registry
    from nnqft.workflow import design

    cfg = load_config(config_name, defaults=True)
    frames = {}
    bad = {}
    for path in registry.figure_paths(design.experiments(cfg), cfg["orders"]):
        experiment, _, name = path.rpartition("/")
        spec = registry.figure(name)
        for table in spec.tables:
            if table not in frames:
                frames[table] = pd.read_parquet(Path(run) / "results" / "tables" / f"{table}.parquet")
        fig = registry.draw(spec, frames, experiment or None)
        found = overflowing(fig)
        plt.close(fig)
        if found:
            bad[path] = found
    return bad

