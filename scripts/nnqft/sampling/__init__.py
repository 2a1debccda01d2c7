"""Sampling: from a model's identity (:class:`nnqft.model.Model`, a seed, a bag) to its measured correlators.

- ``streams``       per-bag keys from the point's identity, and the SplitMix64 / ziggurat generator of the kernels
- ``fastmath``      branch-free exp and erf with the same bits on every machine
- ``blocks``        the compiled building blocks the CPU kernels share (batches, lanes, activations, Wick sums)
- ``kernel``        the CPU kernel of the plain estimator (numba)
- ``conditional``   the CPU kernel of the conditional-Gaussian estimator (docs/science.md §9)
- ``deep``          networks of several hidden layers, each layer drawn from its conditional Gaussian (§10)
- ``reference``     the numpy reference sampler that draws every weight matrix, at any depth (tests, benchmark)
- ``cuda_kernel``   the plain estimator on a GPU (numba.cuda), the same networks as the CPU
- ``cuda_compile``  compiling the CUDA kernels to PTX without a GPU (``python -m nnqft.sampling.cuda_compile``)
- ``kernel_cache``  numba's cache folder of the kernels, named by the digest of their sources (an edit of a shared
                    block reaches every kernel that inlines it)
- ``precompile``    compiling the CPU kernels into numba's cache once, before a run (``python -m nnqft.sampling.precompile``)
- ``training``      networks of one hidden layer trained by gradient flow, each from its own draw (§11; RK4)
- ``integrator``    the RK4 step of eight networks at once, one per vector lane, the activations carried along
- ``kinks``         ReLU's flow with both layers trained, through its kinks: events located, Filippov's sliding (§11)
- ``outputs``       networks of several outputs by the conditional estimator (§12), as the workflow's long table
- ``bags``          a bag or a block of bags of a model, as arrays or as the long table of the workflow

The entry points, model -> samples: :func:`bag_correlators` and :func:`block_correlators` (nnqft.sampling.bags),
imported on first use: importing this package imports no numba, so the config checks read its constants cheaply.
"""

#: Sampling backends: ``cpu`` (numba, :mod:`nnqft.sampling.kernel`) and ``cuda`` (:mod:`nnqft.sampling.cuda_kernel`).
BACKENDS = ("cpu", "cuda")
#: Evaluation points one GPU thread keeps in registers (nnqft.sampling.cuda_kernel).
CUDA_MAX_POINTS = 8


def cuda_limits(model) -> list[tuple[str, object, str, str]]:
    """What the CUDA backend cannot sample of a :class:`nnqft.model.Model` (or an experiment): one (key, value, what,
    allowed) per limit it breaks, empty if none. It samples untrained GaussNet at d_in = 1, one hidden layer, the plain
    estimator, at most CUDA_MAX_POINTS points. The config checks and the sampler both read this."""
    limits = []
    if model.depth != 1:
        limits.append(("depth", model.depth, "is not sampled by the cuda backend (one hidden layer only)",
                       "depth 1, or backend cpu"))
    if model.activation != "gauss" or model.d_in != 1:
        limits.append(("", f"{model.activation} at d_in = {model.d_in}", "is not sampled by the cuda backend "
                       "(GaussNet at d_in = 1 only)", "activation gauss with points of one number each, or backend cpu"))
    if model.estimator != "plain":
        limits.append(("estimator", model.estimator, "is not sampled by the cuda backend (plain estimator only)",
                       "estimator plain, or backend cpu"))
    if getattr(model, "training", None) is not None:
        limits.append(("training", "gradient flow", "is not run by the cuda backend", "backend cpu"))
    if getattr(model, "d_out", 1) > 1:
        limits.append(("d_out", model.d_out, "outputs are not sampled by the cuda backend (one output only)",
                       "d_out: 1, or backend cpu"))
    if len(model.points) > CUDA_MAX_POINTS:
        limits.append(("points", len(model.points), "points are more than the cuda backend handles",
                       f"at most {CUDA_MAX_POINTS}"))
    return limits


def point_columns(model, n_rows: int) -> dict:
    """The leading columns of a block table, which say what sampled point its ``n_rows`` rows belong to (the
    workflow's sample keys): activation, d_in, depth, points (the point set as JSON rows), estimator, sigma_b, sigma_w,
    N, n_nets; the strings dictionary-encoded."""
    import numpy as np
    import pyarrow as pa

    return {
        "activation": pa.array([model.activation] * n_rows).dictionary_encode(),
        "d_in": np.full(n_rows, model.d_in, dtype=np.int64),
        "depth": np.full(n_rows, model.depth, dtype=np.int64),
        "points": pa.array([model.points_json] * n_rows).dictionary_encode(),
        "estimator": pa.array([model.estimator] * n_rows).dictionary_encode(),
        "sigma_b": np.full(n_rows, model.sigma_b),
        "sigma_w": np.full(n_rows, model.sigma_w),
        "N": np.full(n_rows, model.N, dtype=np.int64),
        "n_nets": np.full(n_rows, model.n_nets, dtype=np.int64),
    }


def __getattr__(name):
    """The entry points of :mod:`nnqft.sampling.bags`, imported (with numba) on first use."""
    if name in ("bag_correlators", "block_correlators"):
        from . import bags

        return getattr(bags, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
