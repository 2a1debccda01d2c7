"""CUDA backend (numba.cuda): the sampling kernel of :mod:`nnqft.sampling.kernel` on a GPU, a block of bags at once.

Same model, estimator and random-stream layout (version 1) as the CPU kernel (see its docstring):
network ``a`` of a bag keyed (k0, k1) runs SplitMix64 from ``mix64(k0 ^ mix64(k1 + a))``, normals
come from the same 256-layer ziggurat, drawn in the order b1, then (W0_j, b0_j, W1_j) for j = 0..N-1,
and each activation sum runs over j in order. Then the correlator sums use the CPU's reduction order:
per chunk of ``CHUNK`` networks, network ``a`` into lane ``a % LANES``, lanes summed in order, then chunks
in order. So the GPU draws the very same networks as the CPU; the sums differ from the CPU's only by
rounding, because the GPU uses CUDA's exp (not :func:`nnqft.sampling.fastmath.fast_exp`) and may fuse a*b + c.
Nothing is summed with atomics, so the results are bit-identical from run to run on the same GPU.

Three kernels per block of bags: one thread per (bag, network) for the network outputs f_a(x_i),
one thread per (bag, chunk, combination) for the chunk sums, one thread per (bag, combination) for the
final sum; only the 609 correlators per bag are copied back.

``numba.cuda.random`` is not used (on numpy >= 2 some numba-cuda versions call the removed
``np.row_stack`` there). Tests run these kernels in numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1).
"""
from __future__ import annotations

import math

import numpy as np
from numba import config, cuda, float64

from .. import combos
from . import CUDA_MAX_POINTS
from .blocks import CHUNK, LANES, function_copy
from . import streams
from .streams import ZIG_F, ZIG_K, ZIG_W

#: Evaluation points one thread keeps in registers (the paper uses 6).
MAX_POINTS = CUDA_MAX_POINTS
#: Highest correlator order.
MAX_ORDER = 6
THREADS_PER_BLOCK = 128


def _on_device(cpu_function, inline=False, **helpers):
    """A function of :mod:`nnqft.sampling.streams` compiled as a CUDA device function: the CPU's own Python body,
    with the helpers it calls by name replaced by their device versions. The GPU draws from the same source."""
    return cuda.jit(device=True, inline=inline)(function_copy(cpu_function.py_func, **helpers))


_mix64 = _on_device(streams.mix64, inline=True)
_network_state = _on_device(streams.network_state, inline=True, mix64=_mix64)
_next = _on_device(streams._next, inline=True, mix64=_mix64)
_uniform = _on_device(streams._uniform, inline=True, _next=_next)
_normal_tail = _on_device(streams._normal_tail, _uniform=_uniform)
#: One N(0, 1) draw, (state, zig_k, zig_w, zig_f) -> (state, z): :func:`nnqft.sampling.streams.normal_from`.
_normal = _on_device(streams.normal_from, _next=_next, _normal_tail=_normal_tail)


@cuda.jit
def _outputs_kernel(keys, n_nets, N, sigma_b, sigma_w, x, log_norm, zig_k, zig_w, zig_f, out):
    """out[bag, a, i] = f_a(x_i) for every network ``a`` of every bag of the block.

    ``x`` and ``log_norm`` are tuples: their length is then a compile-time constant, the loops over the
    points unroll and the accumulators ``h`` live in registers (checked by :mod:`nnqft.sampling.cuda_compile`).
    """
    t = cuda.grid(1)
    if t >= keys.shape[0] * n_nets:
        return
    bag = t // n_nets
    a = t - bag * n_nets
    s = _network_state(keys[bag, 0], keys[bag, 1], a)
    n_points = len(x)
    h = cuda.local.array(MAX_POINTS, float64)
    for i in range(n_points):
        h[i] = 0.0
    s, z = _normal(s, zig_k, zig_w, zig_f)
    b1 = sigma_b * z
    sigma_w1 = sigma_w / math.sqrt(float64(N))
    for _ in range(N):
        s, z0 = _normal(s, zig_k, zig_w, zig_f)
        s, z1 = _normal(s, zig_k, zig_w, zig_f)
        s, z2 = _normal(s, zig_k, zig_w, zig_f)
        w0 = sigma_w * z0
        b0 = sigma_b * z1
        w1 = sigma_w1 * z2
        for i in range(n_points):
            h[i] += w1 * math.exp(w0 * x[i] + b0 - log_norm[i])
    for i in range(n_points):
        out[bag, a, i] = h[i] + b1


@cuda.jit
def _chunk_sums_kernel(outputs, combo_idx, combo_len, partial):
    """partial[bag, c, o]: sum over the networks of chunk c of the product of outputs over combination o."""
    t = cuda.grid(1)
    n_bags, n_nets = outputs.shape[0], outputs.shape[1]
    n_chunks, n_out = partial.shape[1], partial.shape[2]
    if t >= n_bags * n_chunks * n_out:
        return
    o = t % n_out
    c = (t // n_out) % n_chunks
    bag = t // (n_out * n_chunks)
    length = combo_len[o]
    end = min(n_nets, (c + 1) * CHUNK)
    total = 0.0
    # lane by lane: the CPU's lane sums (networks a = lane mod LANES, in order), added in lane order,
    # without a per-thread array in local memory
    for lane in range(LANES):
        lane_sum = 0.0
        for a in range(c * CHUNK + lane, end, LANES):
            p = outputs[bag, a, combo_idx[o, 0]]
            for k in range(1, length):
                p *= outputs[bag, a, combo_idx[o, k]]
            lane_sum += p
        total += lane_sum
    partial[bag, c, o] = total


@cuda.jit
def _bag_sums_kernel(partial, n_nets, out):
    """out[bag, o] = (sum over chunks of partial[bag, c, o], in order) / n_nets."""
    t = cuda.grid(1)
    n_bags, n_chunks, n_out = partial.shape
    if t >= n_bags * n_out:
        return
    o = t % n_out
    bag = t // n_out
    total = 0.0
    for c in range(n_chunks):
        total += partial[bag, c, o]
    out[bag, o] = total / n_nets


def _blocks(n_threads):
    return (n_threads + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK, THREADS_PER_BLOCK


def combo_arrays(n_points: int, orders) -> tuple[np.ndarray, np.ndarray]:
    """Point indices (padded) and lengths of the output combinations, in the order of combos.output_combos."""
    labelled = combos.output_combos(n_points, list(orders))
    idx = np.zeros((len(labelled), MAX_ORDER), dtype=np.int64)
    length = np.zeros(len(labelled), dtype=np.int64)
    for o, (n, c) in enumerate(labelled):
        idx[o, :n] = c
        length[o] = n
    return idx, length


def launches(keys, model, orders, to_device, empty):
    """The three kernel launches for a block of bags: ([(kernel, n_threads, args), ...], result array).

    ``to_device``/``empty`` place and allocate arrays: ``cuda.to_device``/``cuda.device_array`` for a
    run, numpy's for :mod:`nnqft.sampling.cuda_compile`, which types the very arguments a run passes.
    """
    x = model.x[:, 0]
    if len(x) > MAX_POINTS:
        raise ValueError(f"the CUDA backend handles at most {MAX_POINTS} points, got {len(x)}")
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    n_bags, n_nets, N = keys.shape[0], model.n_nets, model.N
    sigma_b, sigma_w = model.sigma_b, model.sigma_w
    log_norm = sigma_b * sigma_b + sigma_w * sigma_w * x * x  # as nnqft.sampling.blocks.log_norm_of (d_in = 1)
    combo_idx, combo_len = combo_arrays(len(x), orders)
    n_chunks = (n_nets + CHUNK - 1) // CHUNK
    n_out = combo_idx.shape[0]

    outputs = empty((n_bags, n_nets, len(x)), dtype=np.float64)
    partial = empty((n_bags, n_chunks, n_out), dtype=np.float64)
    result = empty((n_bags, n_out), dtype=np.float64)
    tables = [to_device(t) for t in (ZIG_K, ZIG_W, ZIG_F)]
    return [
        (_outputs_kernel, n_bags * n_nets,
         (to_device(keys), n_nets, N, sigma_b, sigma_w, tuple(x.tolist()), tuple(log_norm.tolist()), *tables,
          outputs)),
        (_chunk_sums_kernel, n_bags * n_chunks * n_out,
         (outputs, to_device(combo_idx), to_device(combo_len), partial)),
        (_bag_sums_kernel, n_bags * n_out, (partial, float(n_nets), result)),
    ], result


def block_correlators(keys, model, orders) -> np.ndarray:
    """G_exp^(n) of a block of bags of ``model`` (GaussNet, d_in = 1) on the GPU: float64[n_bags, n_combinations].

    ``keys``: uint64[n_bags, 2], the bag keys of :func:`nnqft.sampling.streams.bag_key`.
    """
    steps, result = launches(keys, model, orders, cuda.to_device, cuda.device_array)
    for kernel, n_threads, args in steps:
        kernel[_blocks(n_threads)](*args)
    return result.copy_to_host()


def device_info() -> dict:
    """What runs the kernels, for the tables' metadata: numba's CUDA target and the GPU (or the simulator)."""
    from importlib import metadata

    info = {"cuda_target": getattr(cuda, "implementation", "unknown")}
    try:
        info["numba_cuda"] = metadata.version("numba-cuda")
    except metadata.PackageNotFoundError:
        pass
    if config.ENABLE_CUDASIM:
        info["gpu"] = "simulator"
    else:
        device = cuda.get_current_device()
        name = device.name
        info["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
        info["compute_capability"] = "{}.{}".format(*device.compute_capability)
    return info


def available() -> bool:
    """True where numba sees a CUDA GPU (or runs its simulator)."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a missing driver raises on some platforms instead of returning False
        return False


class NoGPUError(RuntimeError):
    """``backend: cuda`` where numba sees no CUDA GPU; the message says what to check."""


def require_gpu() -> None:
    """Raise :class:`NoGPUError` unless numba sees a CUDA GPU (or runs its simulator)."""
    if available():
        return
    hint = ("numba's built-in CUDA target is in use: run from .venv-cuda (make venv-cuda, make reproduce-gpu) "
            "or install requirements-cuda.txt" if getattr(cuda, "implementation", "") != "NVIDIA" else
            "check the NVIDIA driver (nvidia-smi) and, on a cluster, that the job was given a GPU "
            "(profile slurm-gpu)")
    raise NoGPUError(f"backend 'cuda' needs a CUDA GPU visible to numba and none is: {hint}; "
                     f"or set backend: cpu")
