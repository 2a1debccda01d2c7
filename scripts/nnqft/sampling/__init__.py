"""Sampling: from a model's identity (:class:`nnqft.model.Model`, a seed, a bag) to its measured correlators.

- ``streams``       per-bag keys from the point's identity, and the SplitMix64 / ziggurat generator of the kernels
- ``fastmath``      branch-free exp and erf with the same bits on every machine
- ``kernel``        the CPU kernel of the plain estimator (numba)
- ``conditional``   the CPU kernel of the conditional-Gaussian estimator (docs/science.md §9)
- ``deep``          networks of several hidden layers, each layer drawn from its conditional Gaussian (§10)
- ``reference``     the numpy reference sampler that draws every weight matrix, at any depth (tests, benchmark)
- ``cuda_kernel``   the plain estimator on a GPU (numba.cuda), the same networks as the CPU
- ``cuda_compile``  compiling the CUDA kernels to PTX without a GPU (``python -m nnqft.sampling.cuda_compile``)
- ``bags``          a bag or a block of bags of a model, as arrays or as the long table of the workflow

Importing this package imports no numba: its constants are read by the config checks.
"""

#: Sampling backends: ``cpu`` (numba, :mod:`nnqft.sampling.kernel`) and ``cuda`` (:mod:`nnqft.sampling.cuda_kernel`).
BACKENDS = ("cpu", "cuda")
#: Evaluation points one GPU thread keeps in registers (nnqft.sampling.cuda_kernel).
CUDA_MAX_POINTS = 8
