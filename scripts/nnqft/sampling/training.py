"""Networks of one hidden layer trained by gradient flow, each from its own initial draw (docs/science.md §11).

NTK parameterisation: every parameter is N(0, 1) and the σ's and 1/√fan-in sit in the forward pass,

    z_j(x) = σ_W w_j·x/√d_in + σ_b b_j,    f(x) = (σ_W/√N) Σ_j v_j φ_x(z_j(x)) + σ_b c,

so that at τ = 0 network ``a`` of a bag is the sampler's network ``a`` (:mod:`nnqft.sampling.kernel`): the same
stream, drawn in the same order (c, then per neuron the components of w_j, b_j, v_j), the same outputs up to
rounding. GaussNet's φ_x(z) = exp(z − Σ(x, x)) is normalised by the prior variance at x, a constant of the flow.

The flow dθ/dτ = −∇_θ ½ Σ_a (f(x_a) − y_a)² over the training set is integrated by the classical fixed-step
Runge–Kutta method (RK4), with equal steps of at most ``step`` between consecutive recorded times; ``layers``
"readout" trains (v, c) only. ReLU with both layers trained is integrated through its kinks instead
(:mod:`nnqft.sampling.kinks`: the events located, Filippov's sliding), where a fixed step loses RK4's order. One step
costs four gradients, O(N · P_train · d_in) each; recording the outputs costs O(N · P_test · d_in) per time. :func:`trained_correlators` averages products of the outputs over a bag's networks
(or, for readout training, each network's exact Gaussian moments given its hidden layer), and
:func:`bag_correlators` gives them for a bag of a trained :class:`nnqft.model.Model`, :func:`block_table` for a block
of bags as the workflow's long table (rule ``sample_trained``). The module reads the infinite-width theory (the
default step, the control variate), so it is kept out of the untrained sampling jobs' code (nnqft.sampling.bags does
not import it, and the untrained rule's code digest does not reach it).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..model import ACTIVATIONS, CONTROL_VARIATE_ORDERS, LAYERS, TRAINED_ESTIMATORS, Training, as_points  # noqa: F401
from . import integrator, kinks
from . import kernel_cache  # noqa: F401  (numba's cache folder, named before the first cache=True decorator)
from .blocks import activations_and_slopes, log_norm_of, preactivations
from .streams import bag_key, network_state, normal

#: Default RK4 step: this fraction of 1/λ_max of the infinite-width gradient kernel on the training inputs (the
#: fastest mode of the linearised flow; RK4 is stable below 2.78/λ).
STEP_FACTOR = 0.1


@njit(cache=True, error_model="numpy")
def _draw(key0, key1, a, N, d_in, theta):
    """θ of network ``a`` as standard normals in the sampler's order, into ``theta`` = [w (N × d_in, by neuron), b (N),
    v (N), c]; returns the stream's state after them."""
    s = network_state(key0, key1, a)
    s, theta[-1] = normal(s)
    for j in range(N):
        for k in range(d_in):
            s, theta[j * d_in + k] = normal(s)
        s, theta[N * d_in + j] = normal(s)
        s, theta[N * d_in + N + j] = normal(s)
    return s


@njit(cache=True, error_model="numpy")
def _draw_with_readouts(key0, key1, a, N, d_in, theta, readouts):
    """θ of network ``a`` as :func:`_draw`, then from the same stream the readouts of its further outputs: for
    output o = 1, 2, ... its bias first, then its N weights, as standard normals into readouts[o − 1] = [c_o, v_o]."""
    s = _draw(key0, key1, a, N, d_in, theta)
    for o in range(readouts.shape[0]):
        for j in range(N + 1):
            s, readouts[o, j] = normal(s)


@njit(cache=True, inline="always", error_model="numpy")
def _neurons(theta, N, d_in, sigma_b, sigma_w, activation, x, shift, phi, dphi):
    """φ_j and φ'_j at the point ``x`` for every neuron j, into ``phi`` and ``dphi``: loops over the neurons without
    branches inside (the pre-activations first, then one activation), so that they run as vector loops; exp and erf
    are the sampler's branch-free ones (:mod:`nnqft.sampling.fastmath`)."""
    preactivations(theta, N, d_in, sigma_b, sigma_w, x, phi)
    activations_and_slopes(activation, shift, N, phi, dphi)


@njit(cache=True, inline="always", error_model="numpy")
def _output(theta, N, d_in, sigma_b, sigma_w, phi):
    total = 0.0
    v0 = N * d_in + N
    for j in range(N):
        total += theta[v0 + j] * phi[j]
    return sigma_w / math.sqrt(N) * total + sigma_b * theta[-1]


@njit(cache=True, error_model="numpy")
def _velocity(theta, N, d_in, sigma_b, sigma_w, activation, inputs, shifts, targets, readout_only, phi, dphi, out):
    """dθ/dτ = −Σ_a (f(x_a) − y_a) ∂f(x_a)/∂θ, into ``out``."""
    out[:] = 0.0
    scale_v = sigma_w / math.sqrt(N)
    nd, v0 = N * d_in, N * d_in + N
    for a in range(inputs.shape[0]):
        x = inputs[a]
        _neurons(theta, N, d_in, sigma_b, sigma_w, activation, x, shifts[a], phi, dphi)
        r = _output(theta, N, d_in, sigma_b, sigma_w, phi) - targets[a]
        out[-1] -= r * sigma_b
        for j in range(N):
            out[v0 + j] -= r * scale_v * phi[j]
        if not readout_only:
            for j in range(N):
                dphi[j] *= r * scale_v * theta[v0 + j]  # now ∂L_a/∂z_j
            for j in range(N):
                out[nd + j] -= dphi[j] * sigma_b
            for k in range(d_in):
                xk = sigma_w / math.sqrt(d_in) * x[k]
                for j in range(N):
                    out[j * d_in + k] -= dphi[j] * xk


def _shifts(model, x) -> np.ndarray:
    """GaussNet's normalisation Σ(x, x) = σ_b² + σ_W² |x|²/d_in at each row of ``x``, the sampler's own
    (:func:`nnqft.sampling.blocks.log_norm_of`); 0 for the other activations."""
    return log_norm_of(model.sigma_b, model.sigma_w, x) if model.activation == "gauss" else np.zeros(len(x))


def initial_parameters(key, model, a: int) -> np.ndarray:
    """θ of network ``a`` of the bag keyed ``key`` (:func:`nnqft.sampling.streams.bag_key`) of a one-hidden-layer
    ``model``: [w (N × d_in, by neuron), b (N), v (N), c], standard normals in the sampler's order."""
    theta = np.empty(model.N * (model.d_in + 2) + 1)
    _draw(np.uint64(key[0]), np.uint64(key[1]), int(a), model.N, model.d_in, theta)
    return theta


def velocity(model, theta, training: Training) -> np.ndarray:
    """dθ/dτ = −∇_θ ½ Σ_a (f(x_a) − y_a)² at ``theta``, with φ computed (for the tests: the gradient whose flow the
    integrator follows, with the activations carried: nnqft.sampling.integrator)."""
    x = training.x
    out = np.empty(len(theta))
    _velocity(np.asarray(theta, dtype=float), model.N, model.d_in, model.sigma_b, model.sigma_w,
              model.activation_code, x, _shifts(model, x), np.array(training.targets), training.layers == "readout",
              np.empty(model.N), np.empty(model.N), out)
    return out


def default_step(model, training: Training) -> float:
    """STEP_FACTOR / λ_max of the infinite-width gradient kernel (Θ, or K for readout training) on the inputs."""
    from ..theory.ntk import gradient_kernel

    x = training.x
    g = gradient_kernel(model.activation, x, x, model.sigma_b, model.sigma_w, layers=training.layers)
    return STEP_FACTOR / float(np.linalg.eigvalsh(g).max())


def trained_outputs(key, model, nets, training: Training, *, step: float | None = None,
                    project_every: int = integrator.PROJECT_EVERY) -> np.ndarray:
    """f_τ at the model's points, at each of the training's times, for each network of ``nets`` of the bag keyed
    ``key``, trained from its own initial draw: float64[len(nets), len(times), n_points] (τ = 0: the untrained
    network); ``step``: the largest RK4 step (default :func:`default_step`); ``project_every``: steps between two
    recomputations of the carried activations (:data:`nnqft.sampling.integrator.PROJECT_EVERY`; 0: never, for the
    benchmark's check of what the recomputation does)."""
    training.check(d_in=model.d_in, depth=model.depth)
    x, points = training.x, model.x
    step = default_step(model, training) if step is None else float(step)
    y, shifts, point_shifts = np.array(training.targets), _shifts(model, x), _shifts(model, points)
    times = np.array(training.times)
    out = np.empty((len(nets), len(times), len(points)))
    through_kinks = model.activation == "relu" and training.layers == "all"
    if through_kinks:
        for r, a in enumerate(nets):
            kinks.train(initial_parameters(key, model, a), model.N, model.d_in, model.sigma_b, model.sigma_w, x, y,
                        points, times, step, out[r])
        return out
    nets = list(nets)
    inputs, point_rows = (tuple(tuple(float(c) for c in row) for row in rows) for rows in (x, points))
    lanes = np.empty((integrator.LANES, len(times), len(points)))
    with integrator.vectorising():
        for first in range(0, len(nets), integrator.LANES):
            batch = nets[first:first + integrator.LANES]
            batch += batch[-1:] * (integrator.LANES - len(batch))  # a short batch: copies of its last network
            thetas = np.stack([initial_parameters(key, model, a) for a in batch])
            integrator.train(thetas, model.N, model.d_in, model.sigma_b, model.sigma_w, model.activation_code, inputs,
                             shifts, y, point_rows, point_shifts, times, step, training.layers == "readout",
                             int(project_every), lanes)
            out[first:first + integrator.LANES] = lanes[:len(out) - first]
    return out


@njit(cache=True, error_model="numpy")
def _features(theta, N, d_in, sigma_b, sigma_w, activation, xs, shifts, out):
    dphi = np.empty(N)
    for p in range(xs.shape[0]):
        _neurons(theta, N, d_in, sigma_b, sigma_w, activation, xs[p], shifts[p], out[p], dphi)


def hidden_features(key, model, nets, x) -> np.ndarray:
    """φ_j(x_p) of the initial hidden layer of each network of ``nets`` of the bag keyed ``key``, at the rows of ``x``:
    float64[len(nets), len(x), N] (the same draws and activations as :func:`trained_outputs`)."""
    x = as_points(x)
    shifts = _shifts(model, x)
    out = np.empty((len(nets), len(x), model.N))
    for r, a in enumerate(nets):
        _features(initial_parameters(key, model, a), model.N, model.d_in, model.sigma_b, model.sigma_w,
                  model.activation_code, x, shifts, out[r])
    return out


def network_outputs(key, model, nets, x, d_out: int) -> np.ndarray:
    """f_o(x_p) = σ_b c_o + (σ_W/√N) Σ_j v_oj φ_j(x_p) of the untrained networks ``nets`` of the bag keyed ``key`` of a
    one-hidden-layer ``model`` with ``d_out`` outputs, at the rows of ``x``: float64[len(nets), len(x), d_out]
    (docs/science.md §12). Output 0 is the one-output network of the same draws (θ's v and c); the further outputs'
    readouts follow θ in the network's stream (:func:`_draw_with_readouts`), so they share its hidden layer only."""
    x = as_points(x)
    shifts = _shifts(model, x)
    N, d_in = model.N, model.d_in
    theta, readouts = np.empty(N * (d_in + 2) + 1), np.empty((d_out - 1, N + 1))
    phi = np.empty((len(x), N))
    biases, weights = np.empty(d_out), np.empty((d_out, N))
    out = np.empty((len(nets), len(x), d_out))
    for r, a in enumerate(nets):
        _draw_with_readouts(np.uint64(key[0]), np.uint64(key[1]), int(a), N, d_in, theta, readouts)
        _features(theta, N, d_in, model.sigma_b, model.sigma_w, model.activation_code, x, shifts, phi)
        biases[0], biases[1:] = theta[-1], readouts[:, 0]
        weights[0], weights[1:] = theta[N * d_in + N:N * d_in + 2 * N], readouts[:, 1:]
        out[r] = model.sigma_w / np.sqrt(N) * (phi @ weights.T) + model.sigma_b * biases
    return out


def readout_gaussians(key, model, nets, training: Training):
    """The conditional estimator's per-network law for readout training (docs/science.md §11): given its hidden layer, a network whose readout
    alone is trained has Gaussian outputs f_τ at the model's points, with mean Ĝ*Ĝ⁻¹(1 − e^{−Ĝτ})Y and the covariance
    of :func:`nnqft.theory.ntk.readout_trained` (Ĝ the network's empirical kernel). Returns (means
    float64[len(nets), len(times), P], covariances float64[len(nets), len(times), P, P]) for the networks ``nets`` of
    the bag keyed ``key``: exact in distribution, with no integration."""
    from ..theory.ntk import readout_trained

    if training.layers != "readout":
        raise ValueError("the conditional estimator of a trained ensemble is exact for layers: readout only")
    p = len(model.points)
    features = hidden_features(key, model, nets, np.vstack([model.x, training.x]))  # one draw per network
    test, train = features[:, :p], features[:, p:]
    laws = [readout_trained(test, train, training.targets, tau, sigma_b=model.sigma_b, sigma_w=model.sigma_w)
            for tau in training.times]
    return np.stack([m for m, _ in laws], axis=1), np.stack([c for _, c in laws], axis=1)


def gaussian_moments(mean: np.ndarray, cov: np.ndarray, multisets) -> np.ndarray:
    """E[Π_{i∈S} f_i] for f ~ N(mean, cov), for each multiset S of point indices, over stacks of laws (mean (..., P),
    cov (..., P, P)): float64[..., len(multisets)]. Isserlis's theorem with a mean, by the recursion on the first
    index s of S: E[f_s Π_R f] = μ_s E[Π_R f] + Σ_{r∈R} C_sr E[Π_{R∖r} f]."""
    memo: dict[tuple, np.ndarray] = {(): np.ones(mean.shape[:-1])}

    def moment(s: tuple) -> np.ndarray:
        if s not in memo:
            first, rest = s[0], s[1:]
            total = mean[..., first] * moment(rest)
            for k, r in enumerate(rest):
                total = total + cov[..., first, r] * moment(rest[:k] + rest[k + 1:])
            memo[s] = total
        return memo[s]

    return np.stack([moment(tuple(m)) for m in multisets], axis=-1)


#: Networks :func:`trained_correlators` holds at once (their outputs' products, their hidden features): the memory of a
#: trained sampling job does not grow with n_nets (nnqft.workflow.design.TRAINED_NETS_AT_ONCE says the same).
NETS_AT_ONCE = 1024


def _infinite_width(model, training: Training):
    from ..theory.ntk import TrainedEnsemble

    return TrainedEnsemble(model.activation, model.x, training.x, np.array(training.targets), model.sigma_b,
                           model.sigma_w, layers=training.layers)


def control_variates(key, model, nets, training: Training, ensemble=None) -> np.ndarray:
    """g_τ = f_0(x*) + A_τ (Y − f_0(X)) of each network of ``nets``: its own initial outputs propagated by the
    infinite-width gradient kernel (:meth:`nnqft.theory.ntk.TrainedEnsemble.control_variate`, docs/science.md §11),
    float64[len(nets), len(times), P]. At one hidden layer E[g_τ] = μ_τ and Cov g_τ = Σ_τ exactly at every N.
    ``ensemble``: the infinite-width ensemble of the model and training, if the caller has it."""
    initial = Training(training.inputs, training.targets, (0.0,), training.layers)
    f0_test = trained_outputs(key, model, nets, initial)[:, 0]
    f0_train = trained_outputs(key, model.at(points=training.inputs), nets, initial)[:, 0]
    ensemble = _infinite_width(model, training) if ensemble is None else ensemble
    return np.stack([ensemble.control_variate(f0_test, f0_train, tau) for tau in training.times], axis=1)


def trained_correlators(key, model, nets, training: Training, orders, *, estimator: str = "plain",
                        step: float | None = None) -> np.ndarray:
    """G^(n)(τ) = the mean over the networks ``nets`` of the bag keyed ``key`` of Π_{i∈S} f_τ(x_i), for every
    combination S of :func:`nnqft.combos.output_combos` at ``orders`` (odd orders too: a trained ensemble has a mean)
    and every time of the training: float64[len(times), n_combinations]. ``estimator``
    (:data:`nnqft.model.TRAINED_ESTIMATORS`): "plain", the products of the outputs of :func:`trained_outputs`;
    "conditional", their expectation given each network's hidden layer (:func:`readout_gaussians`, layers: readout only;
    at τ = 0 the untrained ensemble's conditional estimator); or "control_variate", Π f_τ − Π g_τ + E[Π g_τ] with g_τ each
    network's :func:`control_variates` and E[Π g_τ] the moment of the infinite-width μ_τ and Σ_τ, exact at every N for
    orders 1 and 2 (CONTROL_VARIATE_ORDERS): unbiased, and far less noisy where f_τ and g_τ are close (large N)."""
    from .. import combos
    from ..theory.ntk import trained_gaussian

    multisets = [c for _, c in combos.output_combos(len(model.points), list(orders))]
    if estimator not in TRAINED_ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r} of a trained ensemble: expected one of {TRAINED_ESTIMATORS}")
    if estimator == "control_variate" and not set(orders) <= set(CONTROL_VARIATE_ORDERS):
        raise ValueError(f"the control variate's expectation is exact at orders {CONTROL_VARIATE_ORDERS} only, "
                         f"not {sorted(set(orders) - set(CONTROL_VARIATE_ORDERS))}")
    if estimator == "control_variate":
        ensemble = _infinite_width(model, training)
        kernels, targets = ensemble.kernels(), np.array(training.targets)
        laws = [trained_gaussian(kernels, targets, tau) for tau in training.times]  # (μ_τ, Σ_τ) per time
        expected = gaussian_moments(np.stack([m for m, _ in laws]), np.stack([c for _, c in laws]), multisets)
    nets = list(nets)
    total = np.zeros((len(training.times), len(multisets)))
    for start in range(0, len(nets), NETS_AT_ONCE):  # bounded memory; the sums in a fixed order
        chunk = nets[start:start + NETS_AT_ONCE]
        if estimator == "conditional":
            values = gaussian_moments(*readout_gaussians(key, model, chunk, training), multisets)
        else:
            values = combos.products(trained_outputs(key, model, chunk, training, step=step), orders)
            if estimator == "control_variate":
                g = control_variates(key, model, chunk, training, ensemble)
                values = values - combos.products(g, orders) + expected[None]
        total += values.sum(axis=0)
    return total / len(nets)


def bag_correlators(model, seed: int, bag: int, orders, *, step: float | None = None) -> np.ndarray:
    """G^(n)(τ) of one bag of a trained ``model`` (``model.training``) by its estimator, at every recorded time:
    float64[len(times), n_combinations] (:func:`trained_correlators` over the bag's n_nets networks). The bag's key is
    the untrained sampler's at the same point (:func:`nnqft.sampling.streams.bag_key`): at τ = 0 the plain estimator's
    networks are those of :func:`nnqft.sampling.bags.bag_correlators`, and the conditional estimator's are drawn from
    the conditional estimator's key."""
    if model.training is None:
        raise ValueError("an untrained model: nnqft.sampling.bags.bag_correlators samples it")
    return trained_correlators(bag_key(seed, model, bag), model, range(model.n_nets), model.training, orders,
                               estimator=model.estimator, step=step)


def block_table(model, seed: int, bags, orders, *, step: float | None = None):
    """G^(n)(τ) of the bags ``bags`` of a trained ``model`` as a long pyarrow table, one row per bag, time and
    combination: the untrained block table's columns (nnqft.sampling.bags.block_table) with ``training`` (the
    training's id, :attr:`nnqft.model.Training.training_id`) and ``time`` before ``bag``."""
    import pyarrow as pa

    from .. import combos
    from . import point_columns

    labelled = combos.output_combos(len(model.points), list(orders))
    times = np.array(model.training.times)
    values = np.stack([bag_correlators(model, seed, bag, orders, step=step) for bag in bags])  # (bags, T, combos)
    n_combo, n_times = len(labelled), len(times)
    n_rows = len(bags) * n_times * n_combo
    return pa.table({
        **point_columns(model, n_rows),
        "training": pa.array([model.training.training_id] * n_rows).dictionary_encode(),
        "time": np.tile(np.repeat(times, n_combo), len(bags)),
        "bag": np.repeat(np.asarray(list(bags), dtype=np.int64), n_times * n_combo),
        "order": np.tile(np.asarray([n for n, _ in labelled], dtype=np.int64), len(bags) * n_times),
        "combo": pa.array([combos.combo_label(c) for _, c in labelled] * (len(bags) * n_times)).dictionary_encode(),
        "value": values.ravel(),
    })
