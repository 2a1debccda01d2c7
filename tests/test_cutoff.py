"""The cutoff integrals I_4(Λ) of HMS's quartic coupling (nnqft.cutoff): the GaussNet closed form against scipy's
adaptive quadrature, the cubature against the closed form and against itself with more nodes, and the large-Λ
powers the slopes of λ(Λ) are compared with."""
import numpy as np
import pytest
from scipy import integrate

from nnqft import cutoff, neurons

HMS_POINTS = {
    ("erf", 1): [-1, -0.6, -0.2, 0.2, 0.6, 1],
    ("relu", 1): [0.2, 0.4, 0.6, 0.8, 1.0, 1.2],
    ("erf", 2): [[-1, -1], [-1, 1], [1, -1], [1, 1]],
    ("relu", 2): [[0.5, 0.5], [0.5, 1], [1, 0.5], [1, 1]],
    ("erf", 3): [[-1, -1, -1], [1, 1, -1], [-1, 1, 1], [1, -1, 1]],
    ("relu", 3): [[0.2, 0.2, 0.2], [1, 1, 0.2], [0.2, 1, 1], [1, 0.2, 1]],
}
for d in (1, 2, 3):
    HMS_POINTS["gauss", d] = (0.01 * np.array(HMS_POINTS["erf", d], dtype=float)).tolist()


def quad_1d(activation, points, combo, lam, sigma_b=1.0, sigma_w=1.0):
    """I_4 at d_in = 1 by scipy's adaptive quadrature, split at 0, at the points and at ±10^k (so that no piece is
    so long that its first rule misses the structure near the points)."""
    def f(y):
        k = neurons.kernel_between(activation, [y], points, sigma_b, sigma_w)[0]
        return np.prod(k[list(combo)])
    breaks = sorted({0.0, *[float(p) for p in np.ravel(points)], *[s * 10.0**k for k in range(-1, 6) for s in (-1, 1)]})
    edges = [-lam, *[b for b in breaks if -lam < b < lam], lam]
    return sum(integrate.quad(f, a, b, epsabs=0, epsrel=1e-13, limit=500)[0] for a, b in zip(edges[:-1], edges[1:]))


@pytest.mark.parametrize("activation", ["gauss", "relu", "erf"])
def test_d1_integrals_agree_with_adaptive_quadrature(activation):
    pts = HMS_POINTS[activation, 1]
    got = cutoff.integrals(activation, pts, 1.0, 1.0, (7, 100, 1e4))
    rows = cutoff.four_point_multisets(len(pts))
    for r in (0, 17, len(rows) - 1):
        want = [quad_1d(activation, pts, rows[r], lam) for lam in (7, 100, 1e4)]
        np.testing.assert_allclose(got[r], want, rtol=cutoff.TOLERANCE)


@pytest.mark.parametrize("d_in", [1, 2, 3])
@pytest.mark.parametrize("scale", [1.0, 0.01])
def test_the_cubature_reproduces_the_gaussnet_closed_form(d_in, scale):
    pts = (scale / 0.01) * np.array(HMS_POINTS["gauss", d_in])
    closed = cutoff.gauss_integrals(pts, 1.0, 1.0, cutoff.HMS_CUTOFFS)
    cubed = cutoff.cubature("gauss", pts, 1.0, 1.0, cutoff.HMS_CUTOFFS)
    np.testing.assert_allclose(cubed, closed, rtol=cutoff.TOLERANCE)


@pytest.mark.parametrize("activation, d_in", [(a, d) for a in ("relu", "erf") for d in (1, 2, 3)])
def test_more_nodes_change_the_cubature_by_less_than_its_tolerance(activation, d_in):
    pts = HMS_POINTS[activation, d_in]
    a = cutoff.cubature(activation, pts, 1.0, 1.0, cutoff.HMS_CUTOFFS, nodes=cutoff.CELL_NODES)
    b = cutoff.cubature(activation, pts, 1.0, 1.0, cutoff.HMS_CUTOFFS, nodes=cutoff.CELL_NODES + 4)
    np.testing.assert_allclose(a, b, rtol=cutoff.TOLERANCE)


def test_fewer_nodes_fail_the_tolerance():
    """The refinement test can fail: 3 nodes per cell are visibly off."""
    pts = HMS_POINTS["relu", 1]
    a = cutoff.cubature("relu", pts, 1.0, 1.0, cutoff.HMS_CUTOFFS, nodes=3)
    b = cutoff.cubature("relu", pts, 1.0, 1.0, cutoff.HMS_CUTOFFS, nodes=cutoff.CELL_NODES + 4)
    assert np.max(np.abs(a / b - 1)) > cutoff.TOLERANCE


@pytest.mark.parametrize("activation, d_in", [(a, d) for a in ("gauss", "relu", "erf") for d in (1, 2, 3)])
def test_the_integrals_grow_with_the_derived_power(activation, d_in):
    big = (2e5, 4e5)
    i4 = cutoff.integrals(activation, HMS_POINTS[activation, d_in], 1.0, 1.0, big)
    power = np.log(i4[:, 1] / i4[:, 0]) / np.log(big[1] / big[0])
    np.testing.assert_allclose(-power, cutoff.asymptotic_slope(activation, d_in), atol=2e-3)


def test_the_run_time_refinement_converges_or_says_why():
    """converged_cubature: at HMS's ReLU points it returns within the tolerance of a much finer rule; when it may
    not refine far enough (here capped at 2 nodes) it raises a ValueError naming the parameters instead of
    returning an unconverged value."""
    pts = HMS_POINTS["relu", 2]
    got = cutoff.converged_cubature("relu", pts, 1.0, 1.0, cutoff.HMS_CUTOFFS)
    fine = cutoff.cubature("relu", pts, 1.0, 1.0, cutoff.HMS_CUTOFFS, nodes=24)
    np.testing.assert_allclose(got, fine, rtol=cutoff.TOLERANCE)
    with pytest.raises(ValueError, match="relu.*did not converge"):
        cutoff.converged_cubature("relu", pts, 1.0, 1.0, cutoff.HMS_CUTOFFS, nodes=2, max_nodes=2)
