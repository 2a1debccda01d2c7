"""Theory: what the sampled correlators should be, exactly at finite width and in the papers' expansions.

- ``base``        the protocol every theory follows (``correlators(combos, N)``, ``estimator_variances``, ``exact``)
- ``neurons``     single-neuron theory: kernels in closed form, moments by converged quadrature (docs/science.md §8)
- ``cones``       ReLU's single-neuron moments by cubature on simplicial cones (§8)
- ``partitions``  set partitions, perfect pairings and the moment-cumulant weights of the exact theory
- ``exact``       the exact finite-width theory of one hidden layer ``Theory`` (§5, §8, §9): G^(n), G_0^(n),
                  cumulants, the estimators' variances
- ``linear``      linear networks of any depth, exactly at every N ``LinearTheory`` (§10)
- ``deep``        networks of L hidden layers at order 1/N (§10): the infinite-width kernel recursion, the 1/N vertex
                  and 2-point recursions ``DeepTheory``
- ``couplings``   u_4, u_6 and their Gaussian vertex integrals I_n, T_6 (§3)
- ``cutoff``      HMS's cutoff integrals ∫_{[−Λ,Λ]^d_in} Π k(y, x_i) by converged cubature (§8)
- ``ntk``         training by gradient flow at one hidden layer (§11): E[φ'φ'], the NTK Θ, the variance of the empirical
                  NTK, the infinite-width trained ensemble ``TrainedEnsemble``
- ``outputs``     several outputs (d_out > 1) at one hidden layer, exactly (§12): correlators over (point, output)
                  multisets, the cross-output vertex

The entry point is :func:`of`: model -> its theory. Importing this package imports no numpy or scipy (the config
checks read constants of :mod:`nnqft.theory.neurons` at parse time); :func:`of` imports the theories it builds.
"""
from __future__ import annotations

from functools import lru_cache


def of(model):
    """The theory of a :class:`nnqft.model.Model`'s family (activation, points, σ_b, σ_W, depth), for every N, order
    and table (its moments are computed once, and the theory built once per family): exact at every N for one
    hidden layer (:class:`nnqft.theory.exact.Theory`) or linear networks (:class:`nnqft.theory.linear.LinearTheory`),
    else the 1/N theory of deep networks (:class:`nnqft.theory.deep.DeepTheory`). Its ``exact`` says which. A trained
    model is refused: its theory is :class:`nnqft.theory.ntk.TrainedEnsemble`, not the untrained family's."""
    _untrained(model)
    return _of_family(model.family)


def _untrained(model):
    if getattr(model, "training", None) is not None:
        raise ValueError("a trained model: its theory is nnqft.theory.ntk.TrainedEnsemble, not the untrained one")


def one_over_N(model):
    """The 1/N theory (:class:`nnqft.theory.deep.DeepTheory`) of a model's family at any depth, depth 1 included,
    built once per family: its vertex V and correction K1 are what the depth analysis reads. A trained model is
    refused, as by :func:`of`."""
    _untrained(model)
    return _one_over_N_family(model.family)


@lru_cache(maxsize=None)
def _of_family(family):
    activation, points, sigma_b, sigma_w, depth = family
    if depth == 1:
        from .exact import Theory

        return Theory(activation, points, sigma_b, sigma_w)
    if activation == "linear":
        from .linear import LinearTheory

        return LinearTheory(points, sigma_b, sigma_w, depth)
    return _one_over_N_family(family)


@lru_cache(maxsize=None)
def _one_over_N_family(family):
    from .deep import DeepTheory

    return DeepTheory(*family)
