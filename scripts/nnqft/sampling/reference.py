"""The reference sampler: networks of any depth drawn weight matrix by weight matrix with numpy (docs/science.md §1,
§10), the direct definition that the kernels (:mod:`nnqft.sampling.kernel`, :mod:`nnqft.sampling.deep`) are tested
against in distribution, and the baseline of the depth benchmark (nnqft.bench.deep). Its streams are numpy's
(``numpy.random.Generator``), not the kernels': it agrees with them in distribution, never in bits.
"""
from __future__ import annotations

import numpy as np
from scipy.special import erf

from .integrator import PROJECT_EVERY



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


def first_layer_variance(model, x: np.ndarray) -> np.ndarray:
    """σ_b² + σ_W² |x|²/d_in at each row of ``x``: the first layer's pre-activation variance (GaussNet's norm)."""
    return model.sigma_b**2 + model.sigma_w**2 * np.einsum("ij,ij->i", x, x) / x.shape[1]


def outputs(model, n_nets: int, rng: np.random.Generator, batch: int = 16) -> np.ndarray:
    """f(x_a) of ``n_nets`` networks of ``model`` (any depth; ``model.n_nets`` is not used): float64[n_nets, P].
    Every weight and bias is drawn: W^(0) (N × d_in), then W^(ℓ) (N × N) per hidden layer after the first, then the
    output row, ``batch`` networks at a time as stacked matrix products."""
    x = model.x
    n_points, d_in = x.shape
    N, sb, sw = model.N, model.sigma_b, model.sigma_w
    first_norm = first_layer_variance(model, x)
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


def trained_outputs(model, thetas: np.ndarray, training, step: float, *, carried: bool = False,
                    project_every: int = PROJECT_EVERY) -> np.ndarray:
    """The training kernel's computation (:func:`nnqft.sampling.training.trained_outputs`) in batched numpy: the
    networks whose initial parameters are the rows of ``thetas`` ([w (N × d_in), b, v, c] each), trained by fixed-step
    RK4 on ``training``; f at the model's points at each time: float64[M, n_times, P]. ``carried``: integrate the
    kernel's system, θ with the activations Φ = φ(z) and Φ' = φ'(z) at the training inputs carried along the flow
    (nnqft.sampling.integrator), instead of θ alone with φ and φ' computed at every stage; both are RK4 on the same gradient
    flow, and agree to the integrator's error. The test oracle of the kernel's training and the baseline of its
    benchmark (nnqft.bench.training)."""
    x, points, y = training.x, model.x, np.array(training.targets)
    N, d, sb, sw = model.N, model.d_in, model.sigma_b, model.sigma_w
    M, P = len(thetas), len(x)
    s, q = sw / np.sqrt(N), sw / np.sqrt(d)
    n = N * (d + 2) + 1
    readout = training.layers == "readout"

    def unpack(theta):
        return (theta[:, :N * d].reshape(M, N, d), theta[:, N * d:N * d + N], theta[:, N * d + N:N * d + 2 * N],
                theta[:, n - 1])

    def preactivations(w, b, at):
        """z = σ_W w·x/√d_in + σ_b b at the rows of ``at``, (M, P, N); with the velocities of w and b, that of z."""
        return q * np.einsum("mnk,pk->mpn", w, at) + sb * b[:, None, :]

    def neurons(theta, at):
        w, b, v, c = unpack(theta)
        z = preactivations(w, b, at)
        norm = first_layer_variance(model, at)[:, None]
        phi = activation(model.activation, z, norm)
        dphi = {"gauss": phi, "relu": (z > 0).astype(float), "linear": np.ones_like(z),
                "erf": 2 / np.sqrt(np.pi) * np.exp(-z * z)}[model.activation]
        return z, phi, dphi

    def output(theta, phi):
        _, _, v, c = unpack(theta)
        return s * np.einsum("mpn,mn->mp", phi, v) + sb * c[:, None]

    def velocity(state):
        theta = state[:, :n]
        w, b, v, c = unpack(theta)
        if carried:
            phi = state[:, n:n + P * N].reshape(M, P, N)
            dphi = state[:, n + P * N:].reshape(M, P, N)
        else:
            _, phi, dphi = neurons(theta, x)
        r = output(theta, phi) - y
        out = np.zeros_like(state)
        out[:, N * d + N:N * d + 2 * N] = -s * np.einsum("mp,mpn->mn", r, phi)
        out[:, n - 1] = -sb * r.sum(axis=1)
        if not readout:
            g = r[:, :, None] * s * v[:, None, :] * dphi  # (M, P, N)
            out[:, N * d:N * d + N] = -sb * g.sum(axis=1)
            out[:, :N * d] = -q * np.einsum("mpn,pk->mnk", g, x).reshape(M, N * d)
            if carried:
                z_dot = preactivations(out[:, :N * d].reshape(M, N, d), out[:, N * d:N * d + N], x)
                z = preactivations(w, b, x)
                ddphi = {"gauss": dphi, "erf": -2 * z * dphi}.get(model.activation, np.zeros_like(z))
                out[:, n:n + P * N] = (dphi * z_dot).reshape(M, P * N)
                out[:, n + P * N:] = (ddphi * z_dot).reshape(M, P * N)
        return out

    def activations_at_inputs(theta):
        """The carried fields [Φ (P × N), Φ' (P × N)] of each network, computed from its θ."""
        _, phi, dphi = neurons(theta, x)
        return np.concatenate([phi.reshape(M, P * N), dphi.reshape(M, P * N)], axis=1)

    theta = np.array(thetas, dtype=float)
    state = np.concatenate([theta, activations_at_inputs(theta)], axis=1) if carried else theta
    out = np.empty((M, len(training.times), len(points)))
    tau, done = 0.0, 0
    for t, until in enumerate(training.times):
        n_steps = int(np.ceil((until - tau) / step)) if until > tau else 0
        for _ in range(n_steps):
            h = (until - tau) / n_steps
            k1 = velocity(state)
            k2 = velocity(state + 0.5 * h * k1)
            k3 = velocity(state + 0.5 * h * k2)
            k4 = velocity(state + h * k3)
            state = state + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            done += 1
            if carried and not readout and project_every > 0 and done % project_every == 0:
                state[:, n:] = activations_at_inputs(state[:, :n])
        tau = max(tau, until)
        out[:, t] = output(state[:, :n], neurons(state[:, :n], points)[1])
    return out
