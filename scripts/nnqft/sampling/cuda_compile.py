"""Compile the CUDA kernels for a GPU architecture, on a machine with no GPU: ``python -m nnqft.sampling.cuda_compile``.

Each kernel of :mod:`nnqft.sampling.cuda_kernel` is typed with the very arguments a run passes (built by
:func:`nnqft.sampling.cuda_kernel.launches` on the host), compiled to PTX by NVVM for compute capability ``cc``,
then assembled by ``ptxas``, whose report gives the registers per thread, the stack frame and the spills.
A kernel that passes here is one the CUDA toolchain turns into GPU code; "stack frame 0" means the per-thread
accumulators stay in registers, which the throughput of the network kernel depends on.

Needs numba-cuda and the CUDA toolkit wheels (``requirements-cuda.txt``, ``make venv-cuda``); the numba
CUDA target that ships inside numba cannot find NVVM in pip wheels.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import re
import shutil
import subprocess
import tempfile
import types as pytypes
from pathlib import Path

import numba
import numpy as np

from ..model import Model
from . import cuda_kernel

#: The GPU generations the backend is built for: A100 (8.0) and H100/H200 (9.0).
ARCHITECTURES = ((8, 0), (9, 0))


@contextlib.contextmanager
def _pretend_device(cc):
    """Let device functions compile with no GPU present.

    numba-cuda compiles a device function for the compute capability of the current device, which it asks
    the driver for; ``compile_ptx`` itself takes ``cc`` as an argument. This lends the device functions the
    same ``cc`` for the duration of the block.
    """
    from numba.cuda import dispatcher

    if not hasattr(dispatcher, "get_current_device"):
        raise RuntimeError("this numba-cuda has no dispatcher.get_current_device: update nnqft.sampling.cuda_compile")
    real = dispatcher.get_current_device
    dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=cc)
    try:
        yield
    finally:
        dispatcher.get_current_device = real


def kernel_signatures(n_points: int, orders=(2, 4, 6)):
    """(python function, argument types) of each kernel, typed from the arguments of a small run."""
    points = np.linspace(-0.01, 0.01, n_points)
    keys = np.zeros((2, 2), dtype=np.uint64)
    model = Model("gauss", points, sigma_b=1.0, sigma_w=1.0, N=10, n_nets=600)
    steps, _ = cuda_kernel.launches(keys, model, orders, to_device=np.ascontiguousarray, empty=np.empty)
    return [(kernel.py_func, tuple(numba.typeof(a) for a in args))
            for kernel, _, args in steps]


def ptxas() -> str:
    """Path of ptxas: from the nvidia-cuda-nvcc wheel, else from PATH."""
    spec = importlib.util.find_spec("nvidia.cuda_nvcc")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "ptxas"
            if candidate.exists():
                return str(candidate)
    found = shutil.which("ptxas")
    if found is None:
        raise RuntimeError("ptxas not found: install requirements-cuda.txt (make venv-cuda)")
    return found


def _resources(report: str) -> dict:
    """Registers, stack frame and spills from ``ptxas -v`` output (one kernel)."""
    registers = re.search(r"Used (\d+) registers", report)
    frame = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", report)
    if registers is None or frame is None:
        raise RuntimeError(f"unexpected ptxas report:\n{report}")
    return {"registers": int(registers.group(1)), "stack_frame_bytes": int(frame.group(1)),
            "spill_store_bytes": int(frame.group(2)), "spill_load_bytes": int(frame.group(3))}


def compile_kernel(function, argtypes, cc=(9, 0)) -> dict:
    """PTX of ``function`` for ``argtypes`` by NVVM, assembled by ptxas: its resource report.

    Device functions it calls compile for the current device: call it inside :func:`_pretend_device`.
    """
    from numba import cuda

    arch = f"sm_{cc[0]}{cc[1]}"
    ptx, _ = cuda.compile_ptx(function, argtypes, cc=cc)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "kernel.ptx"
        path.write_text(ptx)
        done = subprocess.run([ptxas(), f"-arch={arch}", "-O3", "-v", str(path), "-o", str(path.with_suffix(".cubin"))],
                              capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ptxas failed for {function.__name__} ({arch}):\n{done.stderr}")
    return {"kernel": function.__name__, "arch": arch, **_resources(done.stderr)}


def compile_kernels(cc=(9, 0), n_points: int = 6, orders=(2, 4, 6)) -> list[dict]:
    """Compile every kernel of :mod:`nnqft.sampling.cuda_kernel` for ``cc``; one row per kernel (ptxas report)."""
    with _pretend_device(cc):
        return [{**compile_kernel(function, argtypes, cc), "n_points": n_points}
                for function, argtypes in kernel_signatures(n_points, orders)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, nargs="+", default=[6, cuda_kernel.MAX_POINTS])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    rows = [row for cc in ARCHITECTURES for n in args.points for row in compile_kernels(cc, n)]
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print("{kernel:20s} {arch} {n_points} points: {registers} registers, stack frame {stack_frame_bytes} B, "
                  "spills {spill_store_bytes}/{spill_load_bytes} B".format(**row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
