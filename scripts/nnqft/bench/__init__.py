"""Benchmarks: scripts that print ratios measured in one run (never timed assertions in tests).

- ``kernel``      the CPU kernel against a numpy reference (``python -m nnqft.bench.kernel``)
- ``estimators``  the conditional estimator against the plain one at equal error (``python -m nnqft.bench.estimators``)
- ``deep``        the layer-by-layer kernel against the numpy reference that draws every weight matrix
                  (``python -m nnqft.bench.deep``)
- ``training``    the training kernel against the same training in batched numpy (``python -m nnqft.bench.training``)
- ``cuda``        the CUDA backend against the CPU on a GPU (``python -m nnqft.bench.cuda``)
"""
