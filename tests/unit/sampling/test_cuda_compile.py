"""The CUDA backend with the toolchain a GPU node runs it with (.venv-cuda: numba-cuda and the CUDA wheels).

No GPU is needed: the kernels are compiled by NVVM and ptxas for A100 (sm_80) and H100 (sm_90), which
catches everything the simulator cannot (typing on the CUDA target, unsupported functions, local-memory
arrays, register spills), and the kernels run, on small sizes, in numba-cuda's simulator.
They run in subprocesses because .venv-cuda is another interpreter; without it (`make venv-cuda`) they skip.
"""
import json
import os
import subprocess

import numpy as np
import pytest

from helpers import CUDA_TINY as TINY
from helpers import ROOT, SIMULATED, check_device, run_snakemake, without_simulator
from nnqft.model import Model
from nnqft.sampling import bags as sampling

CUDA_PYTHON = ROOT / ".venv-cuda" / "bin" / "python"

pytestmark = pytest.mark.skipif(not CUDA_PYTHON.exists(), reason="no .venv-cuda: run `make venv-cuda`")


def run_cuda_python(*args, simulator=False, timeout=600):
    env = dict(os.environ)  # nnqft comes from .venv (editable install), through the overlay's .pth
    env.pop("NUMBA_ENABLE_CUDASIM", None)  # compile for real targets, not the simulator
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return subprocess.run([str(CUDA_PYTHON), *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=timeout)


def test_the_cuda_venv_uses_numba_cuda():
    result = run_cuda_python("-c", "import numba.cuda; print(numba.cuda.implementation)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "NVIDIA"


def test_kernels_compile_for_a100_and_h100_with_accumulators_in_registers():
    result = run_cuda_python("-m", "nnqft.sampling.cuda_compile", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = json.loads(result.stdout)
    assert {(r["kernel"], r["arch"], r["n_points"]) for r in rows} == {
        (k, a, n) for k in ("_outputs_kernel", "_chunk_sums_kernel", "_bag_sums_kernel")
        for a in ("sm_80", "sm_90") for n in (6, 8)}
    for row in rows:
        assert row["stack_frame_bytes"] == 0, row  # a per-thread array left in local memory
        assert row["spill_store_bytes"] == row["spill_load_bytes"] == 0, row
        assert row["registers"] <= 128, row  # keeps at least 4 blocks of 128 threads per SM


CONTROL = """
import json
from numba import cuda, float64, types
from nnqft.sampling import cuda_compile

def kernel(x, n, out):  # the accumulators of the network kernel as it was: a local array, run-time indices
    h = cuda.local.array(8, float64)
    for i in range(n):
        h[i] = 0.0
    for j in range(100):
        for i in range(n):
            h[i] += x[i] * j
    for i in range(n):
        out[i] = h[i]

with cuda_compile._pretend_device((9, 0)):
    print(json.dumps(cuda_compile.compile_kernel(kernel, (types.float64[::1], types.int64, types.float64[::1]), (9, 0))))
"""


def test_the_register_check_sees_a_local_array():
    result = run_cuda_python("-c", CONTROL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["stack_frame_bytes"] > 0


# model (GaussNet: points, sigma_b, sigma_w, N, n_nets), seed, bags, orders
DRAWS = (([-0.01, 0.002, 0.01], 1.0, 2.0, 3, 40), 11, [0, 1], [2, 4, 6])
SIMULATED_DRAWS = f"""
import json
import numba.cuda
from nnqft.model import Model
from nnqft.sampling import bags
model, seed, blocks, orders = {DRAWS!r}
gpu = bags.block_correlators(Model("gauss", *model), seed, blocks, orders, backend="cuda")
print(json.dumps({{"simulator": numba.cuda.__file__, "gpu": gpu.tolist()}}))
"""


def test_numba_cuda_simulator_draws_the_cpu_networks():
    # The simulator tests of test_cuda.py run under numba's built-in simulator; this reruns their core under
    # numba-cuda's, on small sizes on purpose: a whole rerun of test_cuda.py in it once ran past 600 s on a
    # CI machine while taking 18 s here (suspected: numba-cuda's simulator takes a module-wide lock on every
    # device-function call, and the simulator runs 128 Python threads per block).
    result = run_cuda_python("-c", SIMULATED_DRAWS, simulator=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    answer = json.loads(result.stdout)
    assert "numba_cuda" in answer["simulator"], answer["simulator"]
    (points, sigma_b, sigma_w, N, n_nets), seed, bags, orders = DRAWS
    model = Model("gauss", points, sigma_b, sigma_w, N, n_nets)
    cpu = sampling.block_correlators(model, seed, bags, orders, backend="cpu")
    np.testing.assert_allclose(np.array(answer["gpu"]), cpu, rtol=1e-13, atol=0)
    other = sampling.block_correlators(model, seed, [b + 2 for b in bags], orders, backend="cpu")
    assert np.abs(other - cpu).max() > 1e-3 * np.abs(cpu).max()  # the comparison can fail


@pytest.mark.workflow
def test_a_workflow_run_from_the_cuda_venv_samples_through_numba_cuda(tmp_path):
    # what `make reproduce-gpu` runs, on a tiny config, in numba-cuda's simulator (or the GPU, see test_cuda.py)
    from nnqft.workflow import tables

    result = run_snakemake(tmp_path, {**TINY, "n_nets": 20, "backend": "cuda"}, "--cores", "2",
                           "results/tables/correlators.parquet", python=CUDA_PYTHON)
    assert result.returncode == 0, result.stdout + result.stderr
    samples = sorted((tmp_path / "results" / "samples").rglob("*.parquet"))
    assert samples
    for sample in samples:
        device = tables.read_metadata(sample)["device"]
        assert device["cuda_target"] == "NVIDIA" and device["numba_cuda"], device
        check_device(device)


@pytest.mark.workflow
def test_backend_cuda_from_the_cuda_venv_without_a_gpu_names_the_driver(tmp_path):
    if not SIMULATED:
        pytest.skip("a GPU is present")
    result = run_snakemake(tmp_path, {**TINY, "backend": "cuda"}, "--cores", "1",
                           "results/tables/correlators.parquet", python=CUDA_PYTHON, env=without_simulator())
    assert result.returncode != 0
    assert "backend 'cuda' needs a CUDA GPU" in result.stderr
    assert "check the NVIDIA driver" in result.stderr
