"""The protocol the theories share (:class:`FieldTheory`): what the analysis asks of a theory, whichever it is.

- :class:`nnqft.theory.exact.Theory`         one hidden layer, exact at every N
- :class:`nnqft.theory.linear.LinearTheory`  linear networks of any depth, exact at every N
- :class:`nnqft.theory.deep.DeepTheory`      any depth and activation, at order 1/N

:func:`nnqft.theory.of` picks the one for a model.
"""
from __future__ import annotations

import numpy as np


class FieldTheory:
    """A theory of one family of ensembles (activation, points, σ_b, σ_W, depth) at every width N. Subclasses give
    :meth:`correlators`; the exact ones (``exact`` True) also :meth:`conditional_estimator_variance`. Combinations
    are tuples of point indices (:mod:`nnqft.combos`)."""

    #: Whether :meth:`correlators` is exact at every N (else truncated at order 1/N).
    exact = True

    def correlators(self, combos, N: int) -> tuple[np.ndarray, np.ndarray]:
        """(G, G_0): G^(n) at width N and the free (Wick) G_0^(n) of each combination."""
        raise NotImplementedError

    def conditional_estimator_variance(self, combo, N: int) -> float:
        """Variance of one network's conditional estimator of G^(n)(combo) (docs/science.md §9)."""
        raise NotImplementedError

    def conditional_moments(self, pairs: np.ndarray, N: int) -> np.ndarray:
        """E[Π_i Ĝ(pairs_i)] of the output's conditional covariance Ĝ (given the last hidden layer) for each row of
        ``pairs`` (int[m, k, 2]: k pairs of point indices per row): what a correlator of several outputs is a sum of
        (nnqft.theory.outputs)."""
        raise NotImplementedError

    def conditional_moment(self, pairs, N: int) -> float:
        """:meth:`conditional_moments` of one list of pairs."""
        pairs = np.array([[tuple(p) for p in pairs]], dtype=np.int64).reshape(1, -1, 2)
        return float(self.conditional_moments(pairs, N)[0])

    def estimator_variances(self, combos, N: int, estimator: str = "plain") -> np.ndarray:
        """Variance of one network's estimate of G^(n) for each combination: for the plain estimator, the product
        f(x_1)...f(x_n), G^(2n)(combo, combo) − G^(n)(combo)²; for the conditional one, its Wick sum of Π C
        (:meth:`conditional_estimator_variance`). Exact theories only (a truncated G^(2n) is no variance)."""
        if not self.exact:
            raise ValueError(f"{type(self).__name__} is truncated at order 1/N: it gives no estimator variance")
        combos = [tuple(c) for c in combos]
        if estimator == "conditional":
            return np.array([self.conditional_estimator_variance(c, N) for c in combos])
        g2n, _ = self.correlators([c + c for c in combos], N)
        g, _ = self.correlators(combos, N)
        return g2n - g * g

    def estimator_variance(self, combo, N: int) -> float:
        """:meth:`estimator_variances` of the plain estimator for one combination."""
        return float(self.estimator_variances([combo], N)[0])
