"""ReLU networks trained with both layers: the gradient flow through ReLU's kinks (docs/science.md §11).

With φ = ReLU the flow's velocity jumps where a pre-activation at a training input, z_ja = z_j(x_a), changes sign:
input a's pull on neuron j's first-layer weights switches on or off. A fixed RK4 step that straddles such a point
loses its order, and where the flow pushes z_ja towards 0 from both sides (the neuron is held at the edge of being
alive at x_a) the discrete steps chatter across it and decide by rounding whether the neuron ends alive or dead there.
This module integrates the flow as a hybrid system instead. Each pair (neuron j, training input a) has a mode,
frozen during a step:

- active: φ_ja = z_ja and φ'_ja = 1 (the linear branch continued a little past 0 within a step, so that the
  velocity is a polynomial in θ and RK4 keeps its order);
- inactive: φ_ja = φ'_ja = 0;
- sliding (Filippov's solution on the surface z_ja = 0): φ_ja = 0 and φ'_ja = α_ja, the convex combination of the
  two sides' velocities that keeps dz_ja/dτ = 0. With K_ab = σ_W² x_a·x_b/d_in + σ_b² and r_b = f(x_b) − y_b,
  dz_ja/dτ = −(σ_W/√N) v_j Σ_b K_ab r_b φ'_jb, so the α of neuron j's sliding inputs S solve
  Σ_{b∈S} K_ab r_b α_b = −Σ_{b∉S} K_ab r_b φ'_jb for a ∈ S (one equation per sliding input).

After every step the events are looked for: a non-sliding pair whose z_ja has the wrong sign for its mode beyond
Z_TOL, or a sliding pair whose α has left [0, 1] beyond Z_TOL. The step is then shortened to the earliest event,
located by the Illinois method (regula falsi) on that pair's event function, and the mode is switched: at a crossing,
to the mode that the Filippov conditions allow (active if z_ja then grows, inactive if it falls, sliding if the two
sides push against each other: exactly one holds where the pushes do not vanish); at a sliding pair's exit, to the
side α left towards. An event that the step's ends do not show (a sliding α outside [0, 1] at an RK4 stage, or a
pre-activation whose cubic Hermite interpolant between the ends dips past 0) shortens the step until it shows. Gradient
descent with a vanishing step converges to this solution (it chatters around a sliding surface with this mean
velocity). The outputs at the test points are those of the real ReLU network.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import kernel_cache  # noqa: F401  (numba's cache folder, named before the first cache=True decorator)
from .blocks import preactivations

INACTIVE, ACTIVE, SLIDING = 0, 1, 2
#: An event is a pre-activation past 0 (or a sliding α past [0, 1]) by more than this; an event is located to it.
Z_TOL = 1e-12
#: Events one network may meet before the flow is declared not to be resolved (a Zeno cascade).
MAX_EVENTS = 100_000


@njit(cache=True, error_model="numpy")
def _preactivations(theta, N, d_in, sigma_b, sigma_w, xs, z):
    """z[p, j] = σ_W w_j·x_p/√d_in + σ_b b_j at the rows of ``xs``."""
    for p in range(xs.shape[0]):
        preactivations(theta, N, d_in, sigma_b, sigma_w, xs[p], z[p])


@njit(cache=True, error_model="numpy")
def _sliding_rates(kernel, r, mode, dphi, j, work, index):
    """The α of neuron j's sliding inputs into dphi[a, j] (the other inputs' φ' already there): Gaussian elimination with
    partial pivoting on Σ_{b∈S} K_ab r_b α_b = −Σ_{b∉S} K_ab r_b φ'_jb, a ∈ S. A singular system (r_a = 0 at a
    sliding input) gives α = ±inf or NaN, which the event check reads as the end of sliding."""
    P = kernel.shape[0]
    k = 0
    for a in range(P):
        if mode[a, j] == SLIDING:
            index[k] = a
            k += 1
    for row in range(k):
        a = index[row]
        rhs = 0.0
        for b in range(P):
            if mode[b, j] != SLIDING:
                rhs -= kernel[a, b] * r[b] * dphi[b, j]
        for col in range(k):
            b = index[col]
            work[row, col] = kernel[a, b] * r[b]
        work[row, k] = rhs
    for col in range(k):
        pivot = col
        for row in range(col + 1, k):
            if abs(work[row, col]) > abs(work[pivot, col]):
                pivot = row
        for c in range(k + 1):
            work[col, c], work[pivot, c] = work[pivot, c], work[col, c]
        for row in range(col + 1, k):
            factor = work[row, col] / work[col, col]
            for c in range(col, k + 1):
                work[row, c] -= factor * work[col, c]
    for row in range(k - 1, -1, -1):
        total = work[row, k]
        for col in range(row + 1, k):
            total -= work[row, col] * dphi[index[col], j]
        dphi[index[row], j] = total / work[row, row]


@njit(cache=True, error_model="numpy")
def _state(theta, N, d_in, sigma_b, sigma_w, inputs, targets, kernel, mode, n_sliding, z, dphi, r, work, index):
    """At θ with the pairs' modes: z at the training inputs, φ'_ja (α for sliding pairs) into ``dphi`` and the
    residuals r_a = f(x_a) − y_a with φ_ja = z_ja for active pairs, 0 otherwise."""
    P = inputs.shape[0]
    _preactivations(theta, N, d_in, sigma_b, sigma_w, inputs, z)
    v0 = N * d_in + N
    scale_v = sigma_w / math.sqrt(N)
    for a in range(P):
        total = 0.0
        for j in range(N):
            dphi[a, j] = 1.0 if mode[a, j] == ACTIVE else 0.0
            total += theta[v0 + j] * dphi[a, j] * z[a, j]
        r[a] = scale_v * total + sigma_b * theta[-1] - targets[a]
    for j in range(N):
        if n_sliding[j] > 0:
            _sliding_rates(kernel, r, mode, dphi, j, work, index)


@njit(cache=True, error_model="numpy")
def _velocity(theta, N, d_in, sigma_b, sigma_w, inputs, targets, kernel, mode, n_sliding, z, dphi, r, work, index,
              out):
    """dθ/dτ of the hybrid flow with the pairs' modes frozen, into ``out``: −Σ_a r_a ∂f(x_a)/∂θ with φ and φ' of the
    modes (module docstring)."""
    _state(theta, N, d_in, sigma_b, sigma_w, inputs, targets, kernel, mode, n_sliding, z, dphi, r, work, index)
    _descent(theta, N, d_in, sigma_b, sigma_w, inputs, mode, z, dphi, r, out)


@njit(cache=True, error_model="numpy")
def _descent(theta, N, d_in, sigma_b, sigma_w, inputs, mode, z, dphi, r, out):
    """dθ/dτ into ``out`` from the state at θ that :func:`_state` left in ``z``, ``dphi`` and ``r``."""
    out[:] = 0.0
    scale_v = sigma_w / math.sqrt(N)
    nd, v0 = N * d_in, N * d_in + N
    for a in range(inputs.shape[0]):
        ra = r[a]
        out[-1] -= ra * sigma_b
        for j in range(N):
            g = ra * scale_v * dphi[a, j]
            phi = z[a, j] if mode[a, j] == ACTIVE else 0.0
            out[v0 + j] -= ra * scale_v * phi
            g *= theta[v0 + j]  # ∂L_a/∂z_ja
            out[nd + j] -= g * sigma_b
            for k in range(d_in):
                out[j * d_in + k] -= g * sigma_w / math.sqrt(d_in) * inputs[a, k]


@njit(cache=True, error_model="numpy")
def _event_values(mode, z, dphi, e):
    """e[a, j] ≥ 0 while pair (j, a) is consistent with its mode: the signed pre-activation of a non-sliding pair, the
    distance of a sliding pair's α to the nearer end of [0, 1]."""
    for a in range(mode.shape[0]):
        for j in range(mode.shape[1]):
            m = mode[a, j]
            if m == SLIDING:
                alpha = dphi[a, j]
                e[a, j] = min(alpha, 1.0 - alpha) if alpha == alpha else -np.inf
            else:
                e[a, j] = z[a, j] if m == ACTIVE else -z[a, j]


@njit(cache=True, error_model="numpy")
def _sliding_overshoot(mode, n_sliding, dphi):
    """How far the α of a sliding pair lies outside [0, 1] at a state whose φ' are in ``dphi`` (0 if none does)."""
    worst = 0.0
    for j in range(mode.shape[1]):
        if n_sliding[j] > 0:
            for a in range(mode.shape[0]):
                if mode[a, j] == SLIDING:
                    alpha = dphi[a, j]
                    worst = max(worst, -alpha, alpha - 1.0) if alpha == alpha else np.inf
    return worst


@njit(cache=True, error_model="numpy")
def _event_rates(k, N, d_in, sigma_b, sigma_w, inputs, mode, out):
    """out[a, j] = de[a, j]/dτ of each non-sliding pair along the velocity ``k``: ± dz_ja/dτ (0 for a sliding pair)."""
    nd = N * d_in
    for a in range(inputs.shape[0]):
        for j in range(N):
            rate = sigma_b * k[nd + j]
            for c in range(d_in):
                rate += sigma_w / math.sqrt(d_in) * inputs[a, c] * k[j * d_in + c]
            m = mode[a, j]
            out[a, j] = 0.0 if m == SLIDING else (rate if m == ACTIVE else -rate)


@njit(cache=True, error_model="numpy")
def _dip(e0, e1, rate0, rate1, h):
    """Where, as a fraction s of the step, the cubic Hermite interpolant of a non-sliding pair's e (its values and rates
    at the step's ends) dips below −Z_TOL between ends where it is consistent: a pre-activation that crosses 0 and
    comes back within one step, which the ends alone do not see. The deepest such dip's s, or 0 if none."""
    best_s, best = 0.0, -Z_TOL
    P, N = e0.shape
    for a in range(P):
        for j in range(N):
            m0, m1 = h * rate0[a, j], h * rate1[a, j]
            if not (m0 < 0.0 < m1):  # a minimum inside needs e falling at the start and rising at the end
                continue
            y0, y1 = e0[a, j], e1[a, j]
            # p(s) = (2s³ − 3s² + 1) y0 + (s³ − 2s² + s) m0 + (−2s³ + 3s²) y1 + (s³ − s²) m1; p'(s) = A s² + B s + m0
            A = 6.0 * y0 + 3.0 * m0 - 6.0 * y1 + 3.0 * m1
            B = -6.0 * y0 - 4.0 * m0 + 6.0 * y1 - 2.0 * m1
            roots = np.empty(2)
            if A == 0.0:
                roots[0], roots[1] = -m0 / B if B != 0.0 else -1.0, -1.0
            else:
                disc = B * B - 4.0 * A * m0
                if disc < 0.0:
                    continue
                q = math.sqrt(disc)
                roots[0], roots[1] = (-B - q) / (2.0 * A), (-B + q) / (2.0 * A)
            for u in roots:
                if 0.0 < u < 1.0:
                    p = ((2 * u**3 - 3 * u**2 + 1) * y0 + (u**3 - 2 * u**2 + u) * m0 + (-2 * u**3 + 3 * u**2) * y1
                         + (u**3 - u**2) * m1)
                    if p < best:
                        best_s, best = u, p
    return best_s


@njit(cache=True, error_model="numpy")
def _earliest(e0, e1):
    """Among the pairs past their event at the step's end (e1 < −Z_TOL), the one whose event comes first by linear
    interpolation of e between the step's ends; -1 if none."""
    best, best_frac = -1, np.inf
    P, N = e1.shape
    for a in range(P):
        for j in range(N):
            if e1[a, j] < -Z_TOL:
                start = max(e0[a, j], 0.0)
                frac = start / (start - e1[a, j])
                if frac < best_frac:
                    best, best_frac = a * N + j, frac
    return best


@njit(cache=True, error_model="numpy")
def _resolve(j, a_event, kernel, r, theta, N, d_in, mode, n_sliding, z, dphi, work, index, zero):
    """New modes for neuron j after its pre-activation at input ``a_event`` reached 0: over the pairs of j at 0 (that
    one, any with |z| ≤ Z_TOL, and the sliding ones), the first assignment of active / inactive / sliding (fewest sliding first) that the Filippov conditions
    allow: an active pair's z does not fall, an inactive pair's does not rise, a sliding pair's α is in [0, 1]."""
    P = kernel.shape[0]
    v = theta[N * d_in + N + j]
    n_zero = 0
    for a in range(P):
        if a == a_event or mode[a, j] == SLIDING or abs(z[a, j]) <= Z_TOL:
            zero[n_zero] = a
            n_zero += 1
    saved = mode[:, j].copy()
    for n_slide in range(n_zero + 1):
        for code in range(3 ** n_zero):
            c, slides = code, 0
            for k in range(n_zero):
                m = c % 3
                c //= 3
                mode[zero[k], j] = m
                if m == SLIDING:
                    slides += 1
            if slides != n_slide:
                continue
            n_sliding[j] = slides
            for a in range(P):
                dphi[a, j] = 1.0 if mode[a, j] == ACTIVE else 0.0
            if slides:
                _sliding_rates(kernel, r, mode, dphi, j, work, index)
            ok = True
            for k in range(n_zero):
                a = zero[k]
                rate = 0.0
                for b in range(P):
                    rate -= v * kernel[a, b] * r[b] * dphi[b, j]  # ∝ dz_ja/dτ
                if mode[a, j] == SLIDING:
                    ok = ok and dphi[a, j] >= -Z_TOL and dphi[a, j] <= 1.0 + Z_TOL
                elif mode[a, j] == ACTIVE:
                    ok = ok and rate >= 0.0
                else:
                    ok = ok and rate <= 0.0
            if ok:
                return
    # degenerate (pushes that vanish at the event): each pair takes the side its pre-activation is on
    for k in range(n_zero):
        a = zero[k]
        mode[a, j] = ACTIVE if z[a, j] > 0.0 or (saved[a] == INACTIVE and z[a, j] == 0.0) else INACTIVE
    n_sliding[j] = 0


@njit(cache=True, error_model="numpy")
def train(theta, N, d_in, sigma_b, sigma_w, inputs, targets, points, times, step, out):
    """Integrates the hybrid flow of one ReLU network with both layers trained from θ (overwritten) and writes f at
    ``points`` at each of ``times`` (ascending, ≥ 0) into out[t, p]; returns the number of events met (crossings and
    ends of sliding) and how many of them began a sliding. Between events, equal RK4 steps of at most ``step`` to the
    next recorded time, shortened where a pre-activation would cross 0 and come back within one (:func:`_dip`)."""
    n = theta.shape[0]
    P = inputs.shape[0]
    kernel = np.empty((P, P))
    for a in range(P):
        for b in range(P):
            dot = 0.0
            for k in range(d_in):
                dot += inputs[a, k] * inputs[b, k]
            kernel[a, b] = sigma_w * sigma_w * dot / d_in + sigma_b * sigma_b
    mode = np.empty((P, N), dtype=np.int8)
    n_sliding = np.zeros(N, dtype=np.int64)
    z, dphi, r = np.empty((P, N)), np.empty((P, N)), np.empty(P)
    e0, e1, rate0, rate1 = np.empty((P, N)), np.empty((P, N)), np.empty((P, N)), np.empty((P, N))
    work, index, zero = np.empty((P, P + 1)), np.empty(P, dtype=np.int64), np.empty(P, dtype=np.int64)
    k1, k2, k3, k4, tmp, trial = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    k_end = np.empty(n)
    fresh = False  # whether k1, z and dphi are those of θ with the current modes (after a step without an event)
    zt = np.empty((points.shape[0], N))
    _preactivations(theta, N, d_in, sigma_b, sigma_w, inputs, z)
    for a in range(P):
        for j in range(N):
            mode[a, j] = ACTIVE if z[a, j] > 0.0 else INACTIVE
    events, slides, tau = 0, 0, 0.0
    for t in range(times.shape[0]):
        while tau < times[t]:
            remaining = times[t] - tau
            h_full = remaining / math.ceil(remaining / step)
            args = (N, d_in, sigma_b, sigma_w, inputs, targets, kernel, mode, n_sliding, z, dphi, r, work, index)
            if not fresh:
                _velocity(theta, *args, k1)
            _event_values(mode, z, dphi, e0)
            _event_rates(k1, N, d_in, sigma_b, sigma_w, inputs, mode, rate0)
            # a trial step of length h from θ into ``trial``, and its event values into e1
            h = h_full
            lo, e_lo, hi, e_hi, target, side, final = 0.0, 0.0, h_full, 0.0, -1, 0, False
            for attempt in range(200):
                for i in range(n):
                    tmp[i] = theta[i] + 0.5 * h * k1[i]
                _velocity(tmp, *args, k2)
                inside = _sliding_overshoot(mode, n_sliding, dphi)
                for i in range(n):
                    tmp[i] = theta[i] + 0.5 * h * k2[i]
                _velocity(tmp, *args, k3)
                inside = max(inside, _sliding_overshoot(mode, n_sliding, dphi))
                for i in range(n):
                    tmp[i] = theta[i] + h * k3[i]
                _velocity(tmp, *args, k4)
                inside = max(inside, _sliding_overshoot(mode, n_sliding, dphi))
                for i in range(n):
                    trial[i] = theta[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i])
                _state(trial, *args)
                _event_values(mode, z, dphi, e1)
                first = _earliest(e0, e1)
                if target < 0:
                    if first < 0:
                        # the next step's k1 if this one is taken (no event): not needed while an event is bracketed
                        _descent(trial, N, d_in, sigma_b, sigma_w, inputs, mode, z, dphi, r, k_end)
                        _event_rates(k_end, N, d_in, sigma_b, sigma_w, inputs, mode, rate1)
                        s_dip = _dip(e0, e1, rate0, rate1, h)
                        if s_dip > 0.0 and h > 1e-3 * h_full:
                            h *= s_dip  # end the step near the dip's bottom, where the crossing shows
                            continue
                        if inside > Z_TOL and h > 1e-3 * h_full:
                            h *= 0.5  # a sliding α left [0, 1] inside the step and came back: a shorter one sees it
                            continue
                        break  # no event in the step
                    target = first
                    lo, e_lo, hi, e_hi = 0.0, max(e0[first // N, first % N], 0.0), h, e1[first // N, first % N]
                else:
                    value = e1[target // N, target % N]
                    if first >= 0 and first != target and e1[first // N, first % N] < -Z_TOL:
                        # another event comes before this point: bracket it instead
                        target, side, final = first, 0, False
                        lo, e_lo, hi, e_hi = 0.0, max(e0[first // N, first % N], 0.0), h, e1[first // N, first % N]
                    elif final or -Z_TOL <= value <= 0.0:
                        break  # at the event or past it by at most Z_TOL: the pair's new mode is read there
                    elif value < 0.0:
                        hi, e_hi = h, value
                        if side == -1:
                            e_lo *= 0.5  # Illinois: the end kept twice is halved
                        side = -1
                    else:
                        lo, e_lo = h, value
                        if side == 1:
                            e_hi *= 0.5
                        side = 1
                if target >= 0 and hi - lo <= 1e-14 * h_full:
                    h, final = hi, True  # located to rounding: the step to the bracket's far side
                    continue
                h = (lo * e_hi - hi * e_lo) / (e_hi - e_lo)
                if not lo < h < hi:
                    h = 0.5 * (lo + hi)
            theta[:] = trial
            tau += h
            if times[t] - tau < 1e-12 * step:
                tau = times[t]
            fresh = target < 0
            if fresh:
                k1[:] = k_end
            else:
                events += 1
                if events > MAX_EVENTS:
                    raise ValueError("the ReLU flow met more events than MAX_EVENTS: not resolved")
                a, j = target // N, target % N
                if mode[a, j] == SLIDING:
                    mode[a, j] = INACTIVE if dphi[a, j] < 0.5 else ACTIVE
                    n_sliding[j] -= 1
                else:
                    before = n_sliding[j]
                    _resolve(j, a, kernel, r, theta, N, d_in, mode, n_sliding, z, dphi, work, index, zero)
                    slides += n_sliding[j] > before
        _preactivations(theta, N, d_in, sigma_b, sigma_w, points, zt)
        v0 = N * d_in + N
        for p in range(points.shape[0]):
            total = 0.0
            for j in range(N):
                total += theta[v0 + j] * max(zt[p, j], 0.0)
            out[t, p] = sigma_w / math.sqrt(N) * total + sigma_b * theta[-1]
    return events, slides
