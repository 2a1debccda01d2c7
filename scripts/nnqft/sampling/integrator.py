"""The gradient flow of one-hidden-layer networks, integrated by RK4 for LANES networks at once (docs/science.md §11).

:func:`train` is the kernel (nnqft.sampling.training.trained_outputs calls it, LANES networks at a time): it packs the
networks' θ into the lanes, integrates (:func:`rk4_step`, :func:`project`) and records the outputs at the test points
(:func:`record`). The whole compiled kernel lives in this module, but for the building blocks it shares with the other
kernels (:mod:`nnqft.sampling.fastmath` and :mod:`nnqft.sampling.blocks`; an edit of those reaches the cached kernel
too: :mod:`nnqft.sampling.kernel_cache`). Two choices make it fast without changing what it computes:

- **The activations are carried along the flow.** Besides θ = (w, b, v, c) the state holds, for every neuron j and
  training input x_a, Φ_ja = φ(z_ja) and Φ'_ja = φ'(z_ja), evolved by their own equations

      dΦ_ja/dτ = Φ'_ja ż_ja,    dΦ'_ja/dτ = φ''(z_ja) ż_ja,    ż_ja = σ_W ẇ_j·x_a/√d_in + σ_b ḃ_j,

  with φ'' = −2zφ' for Erf, φ for GaussNet and 0 for the linear activation (z_ja itself is linear in θ, computed).
  The exact flow keeps Φ = φ(z) and Φ' = φ'(z), so this is the same gradient flow; RK4 integrates the larger system
  to the same order (fourth), and no erf or exp is evaluated inside the integration: the activations are computed
  at τ = 0, every PROJECT_EVERY steps (below), and at the test points when the outputs are recorded. With ``readout_only`` the hidden layer does
  not move and Φ is a constant: only (v, c) are integrated.
- **A vector lane per network.** LANES networks are integrated together, network l in lane l of every array, and
  every loop over lanes is innermost, so that each operation runs as one vector instruction over the networks; a
  network's arithmetic (its sums over neurons and training inputs included, in ascending order) is the same in every
  lane and independent of the other lanes, so its result does not depend on which networks share its batch.

Every lane operation is written on a tuple of the LANES values (:func:`_load` … :func:`_fma`), loaded together and
stored together, which LLVM's SLP vectoriser turns into vector instructions; numba leaves that vectoriser off, so the
kernels are compiled with it on (:func:`vectorising`). It bundles identical scalar operations and reorders nothing, so
the bits are those of the scalar code on every machine; products are summed with fused multiply-adds
(:func:`nnqft.sampling.fastmath.fma`).

Arrays: ``U[i, j, f, l]`` for i = 0 the step's state Y, 1 the accumulated velocity A (RK4's k1 + 2k2 + 2k3), 2 the
stage state S; neuron j; field f = (w_0 … w_{d_in−1}, b, v, Φ_0 … Φ_{P−1}, Φ'_0 … Φ'_{P−1}); lane l. ``C[i, l]`` the
output bias c of Y, A and S. ``W`` (:func:`work_rows` × LANES) the work space: the output sums F_a = Σ_j v_j Φ_ja of
the state a stage reads and of the state it writes, the residuals, and the velocities of one neuron's weights.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import numba
from numba import njit

from ..model import ACTIVATIONS
from . import kernel_cache  # noqa: F401  (numba's cache folder, named before the first cache=True decorator)
from .blocks import activations_and_slopes
from .fastmath import fma

GAUSS, ERF = ACTIVATIONS["gauss"], ACTIVATIONS["erf"]
#: Networks integrated together, one per vector lane (8 doubles: one AVX-512 register, two AVX2 ones).
LANES = 8
#: Steps between two recomputations of the carried activations from θ (:func:`project`). The exact flow keeps
#: Φ = φ(z); RK4's errors move the carried Φ off it, and nothing in the flow pulls them back, so over a long flow
#: the drift adds up (at N = 16, Erf, to τ = 8 at the default step, the mean error: 56 times that of RK4 on θ alone
#: without the recomputation, 4 times with it every 16 steps; docs/benchmarks.md). Every 16 steps costs a sixteenth
#: of an evaluation of φ and φ' per step.
PROJECT_EVERY = 16


@njit(cache=True)
def fields(d_in, n_inputs):
    """Fields per neuron of the state: d_in weights, b, v, then Φ and Φ' at each of the ``n_inputs`` training inputs."""
    return d_in + 2 + 2 * n_inputs


@njit(cache=True)
def work_rows(d_in, n_inputs):
    """Rows of the work space W: the output sums twice, the residuals r_a and r_a x_ak, and the d_in weight
    velocities of one neuron."""
    return 3 * n_inputs + n_inputs * d_in + d_in


@contextlib.contextmanager
def vectorising():
    """Compile what is first called inside with LLVM's SLP vectoriser on (numba's NUMBA_SLP_VECTORIZE, off by
    default): the lane tuples of this module become vector instructions. Functions already compiled, or loaded from
    numba's cache, are not recompiled; their bits are the same either way."""
    previous = numba.core.config.SLP_VECTORIZE
    numba.core.config.SLP_VECTORIZE = 1
    try:
        yield
    finally:
        numba.core.config.SLP_VECTORIZE = previous


@njit(cache=True, inline="always")
def _load(U, i, j, f):
    """The LANES values U[i, j, f, :] as a tuple."""
    return (U[i, j, f, 0], U[i, j, f, 1], U[i, j, f, 2], U[i, j, f, 3], U[i, j, f, 4], U[i, j, f, 5], U[i, j, f, 6],
            U[i, j, f, 7])


@njit(cache=True, inline="always")
def _store(U, i, j, f, x):
    U[i, j, f, 0], U[i, j, f, 1], U[i, j, f, 2], U[i, j, f, 3] = x[0], x[1], x[2], x[3]
    U[i, j, f, 4], U[i, j, f, 5], U[i, j, f, 6], U[i, j, f, 7] = x[4], x[5], x[6], x[7]


@njit(cache=True, inline="always")
def _row(W, r):
    """The LANES values W[r, :] as a tuple."""
    return (W[r, 0], W[r, 1], W[r, 2], W[r, 3], W[r, 4], W[r, 5], W[r, 6], W[r, 7])


@njit(cache=True, inline="always")
def _store_row(W, r, x):
    W[r, 0], W[r, 1], W[r, 2], W[r, 3], W[r, 4], W[r, 5], W[r, 6], W[r, 7] = x


@njit(cache=True, inline="always")
def _fill(c):
    return (c, c, c, c, c, c, c, c)


@njit(cache=True, inline="always")
def _add(x, y):
    return (x[0] + y[0], x[1] + y[1], x[2] + y[2], x[3] + y[3], x[4] + y[4], x[5] + y[5], x[6] + y[6], x[7] + y[7])


@njit(cache=True, inline="always")
def _sub(x, y):
    return (x[0] - y[0], x[1] - y[1], x[2] - y[2], x[3] - y[3], x[4] - y[4], x[5] - y[5], x[6] - y[6], x[7] - y[7])


@njit(cache=True, inline="always")
def _mul(x, y):
    return (x[0] * y[0], x[1] * y[1], x[2] * y[2], x[3] * y[3], x[4] * y[4], x[5] * y[5], x[6] * y[6], x[7] * y[7])


@njit(cache=True, inline="always")
def _scale(c, x):
    return (c * x[0], c * x[1], c * x[2], c * x[3], c * x[4], c * x[5], c * x[6], c * x[7])


@njit(cache=True, inline="always")
def _fma(x, y, z):
    """x y + z lane by lane, rounded once."""
    return (fma(x[0], y[0], z[0]), fma(x[1], y[1], z[1]), fma(x[2], y[2], z[2]), fma(x[3], y[3], z[3]),
            fma(x[4], y[4], z[4]), fma(x[5], y[5], z[5]), fma(x[6], y[6], z[6]), fma(x[7], y[7], z[7]))


@njit(cache=True, inline="always")
def _fma_s(c, y, z):
    """c y + z lane by lane for a number c, rounded once."""
    return (fma(c, y[0], z[0]), fma(c, y[1], z[1]), fma(c, y[2], z[2]), fma(c, y[3], z[3]),
            fma(c, y[4], z[4]), fma(c, y[5], z[5]), fma(c, y[6], z[6]), fma(c, y[7], z[7]))


_ZERO = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@njit(cache=True, inline="always")
def _advance(U, j, f, k, stage, h):
    """RK4's bookkeeping for field f of neuron j with velocities ``k`` at ``stage`` (0 to 3): A accumulates
    k1 + 2k2 + 2k3, and the next stage's state y + (h/2)k1, y + (h/2)k2, y + hk3 goes to S, the step's
    y + (h/6)(k1 + 2k2 + 2k3 + k4) to Y. Returns the value written. (The stage is the same for a whole pass, so the
    branch is predicted; each branch is whole vector operations.)"""
    if stage == 0:
        _store(U, 1, j, f, k)
        new = _fma_s(0.5 * h, k, _load(U, 0, j, f))
        _store(U, 2, j, f, new)
    elif stage == 3:
        new = _fma_s(h / 6.0, _add(_load(U, 1, j, f), k), _load(U, 0, j, f))
        _store(U, 0, j, f, new)
    else:
        _store(U, 1, j, f, _fma_s(2.0, k, _load(U, 1, j, f)))
        new = _fma_s(h if stage == 2 else 0.5 * h, k, _load(U, 0, j, f))
        _store(U, 2, j, f, new)
    return new


@njit(cache=True, error_model="numpy")
def _stage(U, C, W, stage, h, inputs, targets, sigma_b, sigma_w, activation, readout_only):
    """One RK4 stage of every lane: the velocity of the state it reads (Y at stage 0, else S), whose output sums are
    in W, and RK4's bookkeeping (:func:`_advance`), with the output sums of the state it writes (S, or Y at stage 3).
    S is read and written in place: each neuron's velocity depends on its own fields and the residuals only, and
    its fields are read before they are written."""
    N = U.shape[1]
    P, d = len(inputs), len(inputs[0])
    s, q = sigma_w / math.sqrt(N), sigma_w / math.sqrt(d)
    ib, iv, ip = d, d + 1, d + 2
    idp = ip + P
    src = 0 if stage == 0 else 2
    f_in = P * (stage % 2)  # the output sums alternate between rows 0..P-1 and P..2P-1
    f_out, r0 = P - f_in, 2 * P
    rx0 = r0 + P
    t0 = rx0 + P * d
    kc = _ZERO
    for a in range(P):
        r = _sub(_fma_s(s, _row(W, f_in + a), _scale(sigma_b, _row(C, src))), _fill(targets[a]))  # f(x_a) − y_a
        _store_row(W, r0 + a, r)
        for k in range(d):
            _store_row(W, rx0 + a * d + k, _scale(inputs[a][k], r))
        _store_row(W, f_out + a, _ZERO)
        kc = _fma_s(-sigma_b, r, kc)
    if stage == 0:
        _store_row(C, 1, kc)
        _store_row(C, 2, _fma_s(0.5 * h, kc, _row(C, 0)))
    elif stage == 3:
        _store_row(C, 0, _fma_s(h / 6.0, _add(_row(C, 1), kc), _row(C, 0)))
    else:
        _store_row(C, 1, _fma_s(2.0, kc, _row(C, 1)))
        _store_row(C, 2, _fma_s(h if stage == 2 else 0.5 * h, kc, _row(C, 0)))
    for j in range(N):
        sum_phi, sum_dphi = _ZERO, _ZERO  # Σ_a r_a Φ_ja, Σ_a r_a Φ'_ja
        for a in range(P):
            r = _row(W, r0 + a)
            sum_phi = _fma(r, _load(U, src, j, ip + a), sum_phi)
            sum_dphi = _fma(r, _load(U, src, j, idp + a), sum_dphi)
        v = _load(U, src, j, iv)
        if readout_only:
            v = _advance(U, j, iv, _scale(-s, sum_phi), stage, h)
            for a in range(P):
                _store_row(W, f_out + a, _fma(v, _load(U, src, j, ip + a), _row(W, f_out + a)))
            continue
        kb = _scale(-s * sigma_b, _mul(v, sum_dphi))
        for k in range(d):
            sum_x = _ZERO  # Σ_a r_a x_ak Φ'_ja
            for a in range(P):
                sum_x = _fma(_row(W, rx0 + a * d + k), _load(U, src, j, idp + a), sum_x)
            _store_row(W, t0 + k, _scale(-s * q, _mul(v, sum_x)))  # the velocity of w_jk
        z_b, z_dot_b = _scale(sigma_b, _load(U, src, j, ib)), _scale(sigma_b, kb)
        v = _advance(U, j, iv, _scale(-s, sum_phi), stage, h)
        for a in range(P):  # the carried activations
            z, z_dot = z_b, z_dot_b
            for k in range(d):
                xk = q * inputs[a][k]
                z = _fma_s(xk, _load(U, src, j, k), z)
                z_dot = _fma_s(xk, _row(W, t0 + k), z_dot)
            k_phi = _mul(_load(U, src, j, idp + a), z_dot)
            if activation == ERF:
                k_dphi = _mul(_scale(-2.0, z), k_phi)
            elif activation == GAUSS:
                k_dphi = k_phi
            else:
                k_dphi = _ZERO
            phi = _advance(U, j, ip + a, k_phi, stage, h)
            _advance(U, j, idp + a, k_dphi, stage, h)
            _store_row(W, f_out + a, _fma(v, phi, _row(W, f_out + a)))
        _advance(U, j, ib, kb, stage, h)
        for k in range(d):
            _advance(U, j, k, _row(W, t0 + k), stage, h)


@njit(cache=True, error_model="numpy")
def output_sums(U, P, W):
    """W[a, l] = Σ_j v_j Φ_ja of the state Y = U[0], in ascending j by fused multiply-adds (as :func:`_stage`)."""
    d = U.shape[2] - 2 - 2 * P
    for a in range(P):
        _store_row(W, a, _ZERO)
    for j in range(U.shape[1]):
        v = _load(U, 0, j, d + 1)
        for a in range(P):
            _store_row(W, a, _fma(v, _load(U, 0, j, d + 2 + a), _row(W, a)))


@njit(cache=True, error_model="numpy")
def rk4_step(U, C, W, h, inputs, targets, sigma_b, sigma_w, activation, readout_only):
    """One classical RK4 step of length h of every lane's network, in place in Y = U[0] and C[0], whose output sums
    are W's first rows on entry and on return. With ``readout_only`` the stage state U[2] must hold Y's hidden layer
    (it is not written)."""
    for stage in range(4):
        _stage(U, C, W, stage, h, inputs, targets, sigma_b, sigma_w, activation, readout_only)



@njit(cache=True, error_model="numpy")
def _activations(U, j, x, shift, sigma_b, sigma_w, activation, phi, dphi):
    """φ(z_j(x)) and φ'(z_j(x)) of neuron j of the state Y = U[0] in every lane, into ``phi`` and ``dphi``: z_j(x) =
    σ_b b_j + σ_W w_j·x/√d_in by fused multiply-adds as the stages compute it (``x`` a tuple), then the sampler's
    branch-free erf and exp (:func:`nnqft.sampling.blocks.activations_and_slopes`; GaussNet's φ(z) = exp(z − shift),
    shift = Σ(x, x)). Plain loops over the lanes, which LLVM's loop vectoriser takes: this runs once per PROJECT_EVERY
    steps and per recorded time, and compiles faster than the tuples would."""
    d, L = len(x), phi.shape[0]
    q = sigma_w / math.sqrt(d)
    for l in range(L):
        phi[l] = sigma_b * U[0, j, d, l]
    for k in range(d):
        xk = q * x[k]
        for l in range(L):
            phi[l] = fma(xk, U[0, j, k, l], phi[l])
    activations_and_slopes(activation, shift, L, phi, dphi)


@njit(cache=True, error_model="numpy")
def project(U, inputs, shifts, sigma_b, sigma_w, activation):
    """Φ_ja = φ(z_ja) and Φ'_ja = φ'(z_ja) of the state Y = U[0] computed from its θ (:func:`_activations`, ``shifts``
    GaussNet's Σ(x_a, x_a)): the carried activations at τ = 0, and put back on the exact flow's manifold every
    PROJECT_EVERY steps."""
    N, P = U.shape[1], len(inputs)
    d = len(inputs[0])
    for j in range(N):
        for a in range(P):
            _activations(U, j, inputs[a], shifts[a], sigma_b, sigma_w, activation, U[0, j, d + 2 + a],
                         U[0, j, d + 2 + P + a])


@njit(cache=True, error_model="numpy")
def record(U, C, points, point_shifts, sigma_b, sigma_w, activation, out):
    """f(x_p) = (σ_W/√N) Σ_j v_j φ(z_j(x_p)) + σ_b c of every lane's network at the state Y = U[0], C[0], for the test
    points ``points`` (a tuple of rows), into out[l, p] (the sum over ascending j by fused multiply-adds)."""
    N, L = U.shape[1], U.shape[3]
    d = len(points[0])
    s = sigma_w / math.sqrt(N)
    phi, dphi, total = np.empty(L), np.empty(L), np.empty(L)
    for p in range(len(points)):
        total[:] = 0.0
        for j in range(N):
            _activations(U, j, points[p], point_shifts[p], sigma_b, sigma_w, activation, phi, dphi)
            for l in range(L):
                total[l] = fma(U[0, j, d + 1, l], phi[l], total[l])
        for l in range(L):
            out[l, p] = s * total[l] + sigma_b * C[0, l]


@njit(cache=True, error_model="numpy")
def train(thetas, N, d_in, sigma_b, sigma_w, activation, inputs, shifts, targets, points, point_shifts, times, step,
          readout_only, project_every, out):
    """Integrates the flow of the networks θ = thetas[l] (l < LANES: [w (N × d_in, by neuron), b (N), v (N), c]) together
    by RK4 on the carried state (:func:`rk4_step`, at most ``step`` long, equal steps between consecutive ``times``),
    the activations recomputed from θ every ``project_every`` steps (never if 0; :func:`project`), and writes network l's
    f at the test points at each of ``times`` (ascending, ≥ 0) into out[l, t, p] (:func:`record`). ``inputs`` and
    ``points`` are tuples of rows, so that the kernel is compiled for their number and dimension."""
    L, P = thetas.shape[0], len(inputs)
    U, C = np.zeros((3, N, fields(d_in, P), L)), np.zeros((3, L))
    W = np.empty((work_rows(d_in, P), L))
    for l in range(L):
        for j in range(N):
            for k in range(d_in):
                U[0, j, k, l] = thetas[l, j * d_in + k]
            U[0, j, d_in, l] = thetas[l, N * d_in + j]
            U[0, j, d_in + 1, l] = thetas[l, N * d_in + N + j]
        C[0, l] = thetas[l, -1]
    project(U, inputs, shifts, sigma_b, sigma_w, activation)
    U[2] = U[0]
    output_sums(U, P, W)
    tau, done = 0.0, 0
    for t in range(times.shape[0]):
        n_steps = int(math.ceil((times[t] - tau) / step)) if times[t] > tau else 0
        h = (times[t] - tau) / n_steps if n_steps > 0 else 0.0
        for _ in range(n_steps):
            rk4_step(U, C, W, h, inputs, targets, sigma_b, sigma_w, activation, readout_only)
            done += 1
            if not readout_only and project_every > 0 and done % project_every == 0:
                project(U, inputs, shifts, sigma_b, sigma_w, activation)
                output_sums(U, P, W)
        tau = times[t]
        record(U, C, points, point_shifts, sigma_b, sigma_w, activation, out[:, t])
