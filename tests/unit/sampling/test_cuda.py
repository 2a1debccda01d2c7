"""The CUDA backend (nnqft.sampling.cuda_kernel), in numba's CUDA simulator unless NNQFT_CUDA_TESTS_ON_GPU=1.

The GPU draws the same networks as the CPU kernel (same stream layout), so on tiny sizes its correlators
must equal the CPU's up to rounding (the GPU uses CUDA's exp, the CPU a polynomial exp: ~1e-16 relative
per term); a different stream, layout or reduction would differ at O(1). The statistical check against
the exact finite-N theory is the CPU's (exact standard errors, Bonferroni at alpha = 1e-3), on fewer
networks. Sizes are tiny because the simulator runs every GPU thread in Python.
"""
import os

import numpy as np
import pytest

from numba import cuda

from helpers import CUDA_POINTS as POINTS
from helpers import CUDA_SEED as SEED
from helpers import CUDA_TINY as TINY
from helpers import (SIMULATED, check_device, exact_zscores, normal_bonferroni_bound, run_snakemake,
                     without_simulator)
from nnqft import combos
from nnqft.model import Model
from nnqft.sampling import bags as sampling
from nnqft.sampling import cuda_kernel, streams
from nnqft.theory.exact import Theory

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # uint64 wrap-around in the simulator


def both(N, n_nets, bags, orders, sigma_b=1.0, sigma_w=2.0, points=POINTS):
    model = Model("gauss", points, sigma_b, sigma_w, N, n_nets)
    return (sampling.block_correlators(model, SEED, bags, orders, backend="cuda"),
            sampling.block_correlators(model, SEED, bags, orders, backend="cpu"))


def test_cuda_draws_the_same_networks_as_the_cpu_kernel():
    # 600 networks: two chunks (512 + 88), lanes partly filled; N = 3 neurons; all orders
    gpu, cpu = both(3, 600, range(2), [2, 4, 6])
    assert gpu.shape == cpu.shape == (2, len(combos.output_combos(len(POINTS), [2, 4, 6])))
    np.testing.assert_allclose(gpu, cpu, rtol=1e-13, atol=0)
    other_bag = sampling.block_correlators(Model("gauss", POINTS, 1.0, 2.0, 3, 600), SEED, [5], [2, 4, 6],
                                           backend="cpu")
    assert np.abs(other_bag[0] - gpu[0]).max() > 1e-3 * np.abs(gpu[0]).max()  # the comparison can fail


def test_cuda_results_are_bit_identical_from_run_to_run():
    model = Model("gauss", POINTS, 1.0, 2.0, 2, 100)
    first = sampling.block_correlators(model, SEED, range(3), [2, 4], backend="cuda")
    second = sampling.block_correlators(model, SEED, range(3), [2, 4], backend="cuda")
    assert first.tobytes() == second.tobytes()
    # and a bag does not depend on the block it is computed in
    alone = sampling.block_correlators(model, SEED, [1], [2, 4], backend="cuda")
    assert alone[0].tobytes() == first[1].tobytes()


def test_cuda_correlators_agree_with_the_exact_finite_width_theory():
    sigma_b, sigma_w, N, n_nets, n_bags = 0.5, 1.0, 2, 2000, 2
    orders = [2, 4]
    measured = sampling.block_correlators(Model("gauss", POINTS, sigma_b, sigma_w, N, n_nets), SEED, range(n_bags),
                                          orders, backend="cuda").mean(axis=0)
    combos_ = [c for _, c in combos.output_combos(len(POINTS), orders)]
    z = exact_zscores(measured, n_nets * n_bags, combos_, Theory("gauss", POINTS, sigma_b, sigma_w), N)
    bound = normal_bonferroni_bound(len(combos_), 1e-3)
    assert np.abs(z).max() < bound
    wrong = exact_zscores(measured, n_nets * n_bags, combos_, Theory("gauss", POINTS, sigma_b, 2 * sigma_w), N)
    assert np.abs(wrong).max() > bound  # a wrong sigma_w (x2) is seen at this size


def test_cuda_backend_refuses_more_points_than_it_keeps_in_registers():
    with pytest.raises(ValueError, match="at most"):
        many = Model("gauss", list(np.linspace(-1, 1, cuda_kernel.MAX_POINTS + 1)), 1.0, 1.0, 2, 10)
        sampling.block_correlators(many, SEED, [0], [2], backend="cuda")
    with pytest.raises(ValueError, match="unknown backend"):
        sampling.block_correlators(Model("gauss", POINTS, 1.0, 1.0, 2, 10), SEED, [0], [2], backend="opencl")


@pytest.mark.workflow
def test_backend_cuda_through_the_workflow_records_itself_and_matches_the_cpu(tmp_path):
    import pyarrow.parquet as pq

    from nnqft.workflow import tables

    target = "results/tables/correlators.parquet"
    found = {}
    for backend in ("cpu", "cuda"):
        workdir = tmp_path / backend
        workdir.mkdir()
        result = run_snakemake(workdir, {**TINY, "backend": backend}, "--cores", "2", target)
        assert result.returncode == 0, result.stdout + result.stderr
        assert tables.read_metadata(workdir / target)["backend"] == backend
        samples = sorted((workdir / "results" / "samples").rglob("*.parquet"))
        assert samples
        for sample in samples:
            device = tables.read_metadata(sample).get("device")
            if backend == "cpu":
                assert device is None
            else:
                check_device(device)
        found[backend] = pq.read_table(workdir / target).to_pandas()
    assert (found["cuda"].drop(columns="value").astype(str) == found["cpu"].drop(columns="value").astype(str)).all().all()
    np.testing.assert_allclose(found["cuda"]["value"], found["cpu"]["value"], rtol=1e-13)

    # a block of the other backend in the folder (say, after --rerun-triggers mtime): the gather refuses it
    import shutil

    block = sorted((tmp_path / "cuda" / "results" / "samples").rglob("*.parquet"))[0]
    shutil.copy(block, tmp_path / "cpu" / block.relative_to(tmp_path / "cuda"))
    result = run_snakemake(tmp_path / "cpu", {**TINY, "backend": "cpu"}, "--cores", "1", "--forcerun",
                           "gather_correlators", target)
    assert result.returncode != 0
    assert "was sampled with backend = cuda but the config says cpu" in result.stdout + result.stderr


@cuda.jit
def _draw_normals_kernel(states, n, zig_k, zig_w, zig_f, out):
    t = cuda.grid(1)
    if t < states.shape[0]:
        s = states[t]
        for i in range(n):
            s, out[t, i] = cuda_kernel._normal(s, zig_k, zig_w, zig_f)


def test_cuda_ziggurat_draws_the_cpu_normals_slow_paths_included():
    # The ziggurat is written twice (streams.py for the CPU, cuda_kernel.py for the GPU): this compares them
    # draw by draw, over enough draws (64,000) that the wedge test (~0.7%) and the base-strip tail run.
    threads, n = 16, 4000
    states = np.array([streams.network_state(np.uint64(3), np.uint64(4), a) for a in range(threads)], dtype=np.uint64)
    out = np.zeros((threads, n))
    _draw_normals_kernel[1, threads](states, n, streams.ZIG_K, streams.ZIG_W, streams.ZIG_F, out)
    cpu = np.array([streams.draw_normals(s, n) for s in states])
    assert (np.abs(cpu) > streams.ZIG_R).sum() >= 1  # the base-strip tail ran (P(|z| > 3.654) = 2.6e-4 per draw)
    np.testing.assert_allclose(out, cpu, rtol=1e-15, atol=0)


@pytest.mark.workflow
def test_the_gpu_benchmark_runs_as_is(tmp_path):
    # the script `make bench-cuda` runs on a GPU node, on tiny sizes (the simulator runs threads in Python)
    import subprocess
    import sys

    import pandas as pd
    import yaml

    # the smallest run of the GPU profile with backend cuda: no analysis beyond the deviations (the analyses of
    # CUDA-sampled tables are tested by test_backend_cuda_through_the_workflow_records_itself_and_matches_the_cpu)
    mini = {"seed": SEED, "points": [-0.01, 0.01], "orders": [2, 4], "n_nets": 100, "threads_per_job": 1,
            "experiments": {"width_scan": {"sigma_b": 1.0, "sigma_w": [1.0], "N": [2, 3], "n_bags": 2,
                                           "analyses": []}}}
    config = tmp_path / "mini.yaml"
    config.write_text(yaml.safe_dump(mini))
    out = tmp_path / "cuda.parquet"
    result = subprocess.run([sys.executable, "-m", "nnqft.bench.cuda", "--widths", "2", "3", "--n-nets", "5",
                             "--bags", "2", "--big-width", "2", "--end-to-end", "--configfile", str(config),
                             "--out", str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=600,
                            env=dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    table = pd.read_parquet(out)
    assert list(table["case"]) == ["block", "block", "100x n_nets", "end to end, mini.yaml (snakemake, backend cuda)"]
    assert (table["gpu_s"] > 0).all() and (table["gpu_neurons_per_s"].iloc[:3] > 0).all()


@pytest.mark.workflow
@pytest.mark.skipif(not SIMULATED, reason="a GPU is present")
def test_backend_cuda_without_a_gpu_fails_with_a_message_that_says_what_to_do(tmp_path):
    result = run_snakemake(tmp_path, {**TINY, "backend": "cuda"}, "--cores", "1",
                           "results/tables/correlators.parquet", env=without_simulator())
    assert result.returncode != 0
    logs = "".join(p.read_text() for p in (tmp_path / "logs" / "sample_bags").rglob("*.log"))
    for text in (result.stderr, logs):
        assert "backend 'cuda' needs a CUDA GPU" in text
        assert "run from .venv-cuda" in text  # numba's built-in CUDA target: the hint names the overlay
    assert not list((tmp_path / "results" / "samples").rglob("*.parquet"))
