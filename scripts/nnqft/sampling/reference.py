"""The reference sampler: networks of any depth drawn weight matrix by weight matrix with numpy (docs/science.md §1,
§10), the direct definition that the kernels (:mod:`nnqft.sampling.kernel`, :mod:`nnqft.sampling.deep`) are tested
against in distribution, and the baseline of the depth benchmark (nnqft.bench.deep). Its streams are numpy's
(``numpy.random.Generator``), not the kernels': it agrees with them in distribution, never in bits.
"""
from __future__ import annotations

import numpy as np
from scipy.special import erf

from .. import combos


def activation(name: str, z: np.ndarray, norm) -> np.ndarray:
    """φ(z): GaussNet exp(z − norm) (norm: the layer's infinite-width variance at each point), ReLU, Erf, linear."""
    if name == "gauss":
        return np.exp(z - norm)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "erf":
        return erf(z)
    if name == "linear":
        return z
    raise ValueError(f"unknown activation {name!r}")


def outputs(model, n_nets: int, rng: np.random.Generator, batch: int = 16) -> np.ndarray:
    """f(x_a) of ``n_nets`` networks of ``model`` (any depth; ``model.n_nets`` is not used): float64[n_nets, P].
    Every weight and bias is drawn: W^(0) (N × d_in), then W^(ℓ) (N × N) per hidden layer after the first, then the
    output row, ``batch`` networks at a time as stacked matrix products."""
    x = model.x
    n_points, d_in = x.shape
    N, sb, sw = model.N, model.sigma_b, model.sigma_w
    first_norm = sb**2 + sw**2 * np.einsum("ij,ij->i", x, x) / d_in
    deep_norm = sb**2 + sw**2
    out = np.empty((n_nets, n_points))
    for start in range(0, n_nets, batch):
        B = min(batch, n_nets - start)
        z = (sw / np.sqrt(d_in)) * rng.standard_normal((B, N, d_in)) @ x.T + sb * rng.standard_normal((B, N, 1))
        norm = first_norm
        for _ in range(model.depth - 1):
            a = activation(model.activation, z, norm)
            z = (sw / np.sqrt(N)) * rng.standard_normal((B, N, N)) @ a + sb * rng.standard_normal((B, N, 1))
            norm = deep_norm
        a = activation(model.activation, z, norm)
        f = (sw / np.sqrt(N)) * rng.standard_normal((B, 1, N)) @ a + sb * rng.standard_normal((B, 1, 1))
        out[start:start + B] = f[:, 0, :]
    return out


def products(f: np.ndarray, orders) -> np.ndarray:
    """f(x_1)...f(x_n) of each network (rows of ``f``) for every combination of :func:`nnqft.combos.output_combos`:
    float64[n_nets, n_combinations]; its mean over networks is the plain estimator G_exp^(n)."""
    labelled = combos.output_combos(f.shape[1], list(orders))
    return np.stack([np.prod(f[:, list(c)], axis=1) for _, c in labelled], axis=1)
