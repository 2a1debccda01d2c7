"""The model: what defines an ensemble of fully connected networks and one sampled point of it.

A :class:`Model` is one immutable value (activation, points, σ_b, σ_W, N, n_nets, estimator, depth, training) built
once from the config (:class:`Experiment` ``.model(sigma_w, N)``) and passed whole through sampling
(:mod:`nnqft.sampling`), theory (:mod:`nnqft.theory`) and analysis (:mod:`nnqft.analysis`), instead of its parts as
positional parameters.
Networks (docs/science.md §1, §8): f(x) = Σ_j W1_j φ(W0_j · x + b0_j) + b1 with W0_j ~ N(0, σ_W²/d_in),
W1_j ~ N(0, σ_W²/N), b0, b1 ~ N(0, σ_b²), N hidden neurons, one output. With ``depth`` L > 1 hidden layers
(docs/science.md §10), every hidden layer has N neurons: z^(1) = W0 x + b0, z^(ℓ+1) = W^(ℓ) φ(z^(ℓ)) + b^(ℓ) with
W^(ℓ) ~ N(0, σ_W²/N), b^(ℓ) ~ N(0, σ_b²), and f = z^(L+1).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

import numpy as np

#: The activations, by name, with their kernel codes (nnqft.sampling.kernel reads its codes from here).
ACTIVATIONS = {"gauss": 0, "relu": 1, "erf": 2, "linear": 3}
#: Estimators of G^(n) (docs/science.md §2, §9): the mean of f(x_1)...f(x_n) over networks (the papers'), and the
#: mean of its conditional expectation given each network's first layer (nnqft.sampling.conditional).
ESTIMATORS = ("plain", "conditional")

Points = tuple[tuple[float, ...], ...]


def as_points(points) -> np.ndarray:
    """Points as a C-contiguous float64 array of shape (n_points, d_in): plain numbers are points of d_in = 1."""
    x = np.asarray(points, dtype=np.float64)
    return np.ascontiguousarray(x[:, None] if x.ndim == 1 else x)


def points_json(points) -> str:
    """A point set as JSON text, always as rows of d_in numbers: ``"[[0.5, 0.5], [0.5, 1.0]]"``, ``"[[0.2], [0.4]]"``
    (the ``points`` column of the correlator tables)."""
    return json.dumps(as_points(points).tolist())


def point_rows(points) -> Points:
    """Points as given in a config (numbers for d_in = 1, or lists of d_in numbers) as rows of floats."""
    return tuple(tuple(float(v) for v in p) if isinstance(p, (list, tuple, np.ndarray)) else (float(p),)
                 for p in points)


def activation_code(activation: str) -> int:
    """The kernels' code of an activation (:data:`ACTIVATIONS`)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: expected one of {tuple(ACTIVATIONS)}")
    return ACTIVATIONS[activation]


#: What gradient flow trains (docs/science.md §11): every parameter, or the readout (v, c) with the first layer frozen.
LAYERS = ("all", "readout")
#: Estimators of a trained ensemble's G^(n)(τ) (nnqft.sampling.training.trained_correlators): products of the trained
#: outputs; their expectation given each network's hidden layer (layers: readout); the control variate (orders 1, 2).
TRAINED_ESTIMATORS = ("plain", "conditional", "control_variate")
#: The orders at which the control variate's expectation is exact at every N: g_τ is linear in f_0, whose mean (0) and
#: covariance (K) do not depend on N at one hidden layer; its higher moments do.
CONTROL_VARIATE_ORDERS = (1, 2)


@dataclass(frozen=True)
class Training:
    """How an ensemble is trained by gradient flow (docs/science.md §11): the training set (``inputs``, rows of d_in
    numbers or numbers for d_in = 1, and their ``targets``), the flow times τ at which the outputs are recorded
    (ascending, ≥ 0) and the ``layers`` trained. Its :attr:`json` is its identity."""

    inputs: Points
    targets: tuple[float, ...]
    times: tuple[float, ...]
    layers: str = "all"

    def __post_init__(self):
        object.__setattr__(self, "inputs", point_rows(self.inputs))
        object.__setattr__(self, "targets", tuple(float(y) for y in self.targets))
        object.__setattr__(self, "times", tuple(float(t) for t in self.times))
        if not self.inputs or len({len(row) for row in self.inputs}) != 1 or not self.inputs[0]:
            raise ValueError(f"training inputs {[list(r) for r in self.inputs]}: at least one, all of one d_in ≥ 1")
        if not self.times:
            raise ValueError("a training records the outputs at one time at least")
        if len(self.targets) != len(self.inputs):
            raise ValueError(f"{len(self.targets)} targets for {len(self.inputs)} training inputs")
        if any(t < 0 for t in self.times) or list(self.times) != sorted(self.times):
            raise ValueError(f"times {list(self.times)} must be ascending and non-negative")
        if self.layers not in LAYERS:
            raise ValueError(f"unknown layers {self.layers!r}: expected one of {LAYERS}")

    @property
    def x(self) -> np.ndarray:
        """The training inputs as float64[P_train, d_in]."""
        return as_points(self.inputs)

    def check(self, *, d_in: int, depth: int):
        """Refuses networks it cannot train: depth > 1, or points of another d_in than its inputs."""
        if depth != 1:
            raise ValueError(f"depth {depth}: training is implemented for one hidden layer")
        if len(self.inputs[0]) != d_in:
            raise ValueError(f"training inputs of d_in = {len(self.inputs[0])} for points of d_in = {d_in}")

    def as_dict(self) -> dict:
        return {"inputs": [list(r) for r in self.inputs], "targets": list(self.targets), "times": list(self.times),
                "layers": self.layers}

    @property
    def json(self) -> str:
        """The training as canonical JSON text: what tells two trainings apart."""
        return json.dumps(self.as_dict(), sort_keys=True)

    @property
    def training_id(self) -> str:
        """12 hex digits of the SHA-256 of :attr:`json`: the training's name in file paths."""
        return hashlib.sha256(self.json.encode()).hexdigest()[:12]


#: The kinds of sampled points (:attr:`Ensemble.kind`): untrained networks of one output (the papers'), trained ones
#: (docs/science.md §11), and untrained ones of several outputs (§12).
KINDS = ("untrained", "trained", "outputs")


def training_tag(training: Training | None) -> str:
    """The training's part of a sample directory's name: empty untrained, ``_T{training_id}`` trained."""
    return "" if training is None else f"_T{training.training_id}"


def _training_key(training: Training | None) -> str:
    return "" if training is None else training.json


def outputs_tag(d_out: int) -> str:
    """The outputs' part of a sample directory's name: empty for one output, ``_O{d_out}`` for several."""
    return "" if int(d_out) == 1 else f"_O{int(d_out)}"


def depth_tag(depth: int) -> str:
    """The depth's part of a sample directory's name: empty at depth 1, ``_L{depth}`` beyond."""
    return "" if int(depth) == 1 else f"_L{int(depth)}"


def tag_depth(tag: str) -> int:
    """The depth a :func:`depth_tag` names (refusing any other spelling of it)."""
    depth = int(tag[2:]) if tag else 1
    if depth_tag(depth) != tag:
        raise ValueError(f"{tag!r} is not the canonical depth tag {depth_tag(depth)!r}")
    return depth


@dataclass(frozen=True, order=True)
class Ensemble:
    """What a sample is drawn from besides (σ_b, σ_W, N): the activation, the point set (rows of d_in numbers, in
    the config's order: combinations index into it), the networks per bag and the estimator (docs/science.md §9).
    Its :attr:`name` is the directory of its samples."""

    activation: str
    points: Points
    n_nets: int
    estimator: str = "plain"
    depth: int = 1
    training: Training | None = field(default=None, compare=False)
    #: :attr:`Training.json`, or "" untrained: what equality, hashing and ordering compare in place of ``training``
    training_key: str = field(init=False, default="", repr=False)
    d_out: int = 1  # the number of outputs (docs/science.md §12): 1 leaves every name and table as it was

    def __post_init__(self):
        object.__setattr__(self, "training_key", _training_key(self.training))

    @property
    def d_in(self) -> int:
        return len(self.points[0])

    @property
    def points_json(self) -> str:
        """The point set as JSON text, always as rows (:func:`points_json`)."""
        return points_json(self.points)

    @property
    def kind(self) -> str:
        """Which of :data:`KINDS` its points are: each kind has its own sampling rule, gathered table and analyses."""
        return "trained" if self.training is not None else ("outputs" if self.d_out > 1 else "untrained")

    @property
    def points_id(self) -> str:
        """12 hex digits of the SHA-256 of :attr:`points_json`: the point set's name in file paths."""
        return hashlib.sha256(self.points_json.encode()).hexdigest()[:12]

    @property
    def name(self) -> str:
        """The directory of its samples:
        ``{activation}_d{d_in}_x{points_id}_nnets{n_nets}_{estimator}{depth_tag}{training_tag}{outputs_tag}``, the
        depth tag ``_L{depth}`` only for depth > 1, the training tag ``_T{training_id}`` only for a trained ensemble
        and the outputs tag ``_O{d_out}`` only for several outputs (so that the untrained one-output one-hidden-layer
        samples keep their paths)."""
        return (f"{self.activation}_d{self.d_in}_x{self.points_id}_nnets{self.n_nets}_{self.estimator}"
                f"{depth_tag(self.depth)}{training_tag(self.training)}{outputs_tag(self.d_out)}")

    def as_dict(self) -> dict:
        """As plain data (the tables' metadata); ``training`` only for a trained ensemble, ``d_out`` only above 1."""
        out = {"activation": self.activation, "d_in": self.d_in, "points": [list(r) for r in self.points],
               "n_nets": self.n_nets, "estimator": self.estimator, "depth": self.depth}
        if self.training is not None:
            out["training"] = self.training.as_dict()
        return out if self.d_out == 1 else {**out, "d_out": self.d_out}


@dataclass(frozen=True, order=True)
class Model:
    """One sampled point: the ensemble of networks at (σ_b, σ_W, N). ``points`` may be given as numbers (d_in = 1)
    or rows; they are kept as rows of floats, so equal models compare and hash equal (10 and 10.0 alike). With a
    ``training`` (:class:`Training`), the ensemble after gradient flow, recorded at the training's times."""

    activation: str
    points: Points
    sigma_b: float
    sigma_w: float
    N: int
    n_nets: int = 1
    estimator: str = "plain"
    depth: int = 1
    training: Training | None = field(default=None, compare=False)
    #: :attr:`Training.json`, or "" untrained: what equality, hashing and ordering compare in place of ``training``
    training_key: str = field(init=False, default="", repr=False)
    #: the number of outputs (docs/science.md §12); several are sampled by either estimator, untrained, at any depth
    #: (nnqft.sampling.outputs)
    d_out: int = 1

    def __post_init__(self):
        activation_code(self.activation)
        allowed, what = (ESTIMATORS, "estimator") if self.training is None else (TRAINED_ESTIMATORS,
                                                                                 "estimator of a trained ensemble")
        if self.estimator not in allowed:
            raise ValueError(f"unknown {what} {self.estimator!r}: expected one of {allowed}")
        object.__setattr__(self, "points", point_rows(self.points))
        for name, kind in (("sigma_b", float), ("sigma_w", float), ("N", int), ("n_nets", int), ("depth", int)):
            object.__setattr__(self, name, kind(getattr(self, name)))
        if self.depth < 1:
            raise ValueError(f"depth {self.depth}: a network has at least one hidden layer")
        object.__setattr__(self, "d_out", int(self.d_out))
        if self.d_out < 1:
            raise ValueError(f"d_out = {self.d_out}: a network has at least one output")
        if self.d_out > 1 and self.training is not None:
            raise ValueError("several outputs are sampled untrained")
        if self.training is not None:
            self.training.check(d_in=self.d_in, depth=self.depth)
            if self.estimator == "conditional" and self.training.layers != "readout":
                raise ValueError("the conditional estimator of a trained ensemble is exact for layers: readout only")
        object.__setattr__(self, "training_key", _training_key(self.training))

    @property
    def d_in(self) -> int:
        return len(self.points[0])

    @property
    def x(self) -> np.ndarray:
        """The points as float64[n_points, d_in] (:func:`as_points`), as the kernels take them."""
        return as_points(self.points)

    @property
    def activation_code(self) -> int:
        return ACTIVATIONS[self.activation]

    @property
    def ensemble(self) -> Ensemble:
        return Ensemble(self.activation, self.points, self.n_nets, self.estimator, self.depth, self.training,
                        d_out=self.d_out)

    @property
    def points_json(self) -> str:
        return points_json(self.points)

    @property
    def family(self) -> tuple:
        """What the theory of the model depends on at every N: (activation, points, σ_b, σ_W, depth)."""
        return (self.activation, self.points, self.sigma_b, self.sigma_w, self.depth)

    def at(self, **changes) -> Model:
        """The same model with some fields changed (``model.at(N=100)``)."""
        return replace(self, **changes)


class _FromEnsemble:
    """A read-only attribute of an :class:`Experiment` that is its ensemble's (``experiment.d_in``)."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        return self if obj is None else getattr(obj.ensemble, self.name)


@dataclass(frozen=True)
class Experiment:
    """An experiment of the config, complete (defaults filled in from the top-level keys): an ensemble scanned over
    ``sigma_w`` and ``N`` at one ``sigma_b``, ``n_bags`` bags per point, and the ``analyses`` it asks for."""

    name: str
    ensemble: Ensemble
    sigma_b: float
    sigma_w: tuple[float, ...]
    N: tuple[int, ...]
    n_bags: int
    analyses: tuple[str, ...] = ()
    ngp_width: int | None = None
    lambda_convention: str = "hms"
    #: The correlator orders of a trained experiment (its own ``orders`` key; odd ones too: a trained ensemble has a
    #: mean); None for an untrained one, which measures the config's top-level ``orders``.
    orders: tuple[int, ...] | None = None

    activation = _FromEnsemble()
    points = _FromEnsemble()
    d_in = _FromEnsemble()
    n_nets = _FromEnsemble()
    estimator = _FromEnsemble()
    depth = _FromEnsemble()
    training = _FromEnsemble()
    d_out = _FromEnsemble()
    kind = _FromEnsemble()

    def as_dict(self) -> dict:
        """As plain data (the tables' metadata)."""
        out = {**self.ensemble.as_dict(), "sigma_b": self.sigma_b, "sigma_w": list(self.sigma_w), "N": list(self.N),
               "n_bags": self.n_bags, "analyses": list(self.analyses), "ngp_width": self.ngp_width,
               "lambda_convention": self.lambda_convention}
        return out if self.orders is None else {**out, "orders": list(self.orders)}

    def model(self, sigma_w: float, N: int) -> Model:
        """The model of one point of the experiment."""
        ens = self.ensemble
        return Model(ens.activation, ens.points, self.sigma_b, sigma_w, N, ens.n_nets, ens.estimator, ens.depth,
                     ens.training, d_out=ens.d_out)

    def models(self) -> list[Model]:
        """Every point of the experiment, σ_W then N in the config's order."""
        return [self.model(sw, n) for sw in self.sigma_w for n in self.N]
