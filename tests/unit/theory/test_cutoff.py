"""The cutoff integrals I_4(Λ) of HMS's quartic coupling (nnqft.theory.cutoff): the GaussNet closed form against scipy's
adaptive quadrature, the cubature against the closed form and against itself with more nodes, and the large-Λ
powers the slopes of λ(Λ) are compared with."""
import numpy as np
import pytest
from scipy import integrate

from nnqft.model import Model
from nnqft.theory import cutoff, neurons

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


def quad_1d(activation, points, combo, lam, sigma_b=1.0, sigma_w=1.0, kernel="w"):
    """I_4 at d_in = 1 by scipy's adaptive quadrature, split at 0, at the points, at the zeros −σ_b²d_in/(σ_W² x)
    of Erf's W-part and at ±10^k (so that no piece is so long that its first rule misses the structure near the
    points)."""
    def f(y):
        k = neurons.kernel_between(activation, [y], points, sigma_b, sigma_w)[0]
        return np.prod((k - sigma_b**2 if kernel == "w" else k)[list(combo)])
    zeros = [-sigma_b**2 / (sigma_w**2 * float(p)) for p in np.ravel(points) if p != 0]
    breaks = sorted({0.0, *[float(p) for p in np.ravel(points)], *zeros,
                     *[s * 10.0**k for k in range(-1, 6) for s in (-1, 1)]})
    edges = [-lam, *[b for b in breaks if -lam < b < lam], lam]
    return sum(integrate.quad(f, a, b, epsabs=0, epsrel=1e-13, limit=500)[0] for a, b in zip(edges[:-1], edges[1:]))


@pytest.mark.parametrize("kernel", cutoff.KERNELS)
@pytest.mark.parametrize("activation", ["gauss", "relu", "erf"])
def test_d1_integrals_agree_with_adaptive_quadrature(activation, kernel):
    """Relative to each integral, except for the Erf multisets whose W-part product changes sign (their I_4 may
    cross zero): relative to ∫|Π k|, as nnqft.theory.cutoff.converged_cubature refines them."""
    pts = HMS_POINTS[activation, 1]
    lams = (7, 100, 1e4)
    got = cutoff.integrals(Model(activation, pts, 1.0, 1.0, 1), lams, kernel=kernel)
    rows = cutoff.four_point_multisets(len(pts))
    _, scale_all = cutoff.cubature(Model(activation, pts, 1.0, 1.0, 1), lams, kernel=kernel, with_abs=True)
    for r in (0, 3, 17, 60, len(rows) - 1):
        want = np.array([quad_1d(activation, pts, rows[r], lam, kernel=kernel) for lam in lams])
        scale = scale_all[r]
        assert np.max(np.abs(got[r] - want) / scale) < cutoff.TOLERANCE, (rows[r], got[r], want)


def test_the_w_part_drops_sigma_b_and_only_erf_changes_sign():
    """K − σ_b² under the integral: GaussNet's W-part integral converges (its closed form at Λ = 10^5 equals the
    integral over all of R^d_in, σ_W^8 (2π d_in / (4 σ_W²))^{d_in/2} e^{...}, at coinciding points); and only Erf's
    multisets with a point an odd number of times can change sign."""
    pts = [[0.01, 0.0]]
    i4 = cutoff.integrals(Model("gauss", pts, 1.0, 1.5, 1), (1e5,), kernel="w")[0, 0]
    assert i4 == pytest.approx(1.5**8 * (2 * np.pi * 2 / (4 * 1.5**2)), rel=1e-12)
    assert cutoff.one_signed(Model("relu", HMS_POINTS["relu", 1], 1.0, 1.0, 1)).all()
    assert cutoff.one_signed(Model("gauss", HMS_POINTS["gauss", 2], 1.0, 1.0, 1)).all()
    erf = cutoff.one_signed(Model("erf", HMS_POINTS["erf", 1], 1.0, 1.0, 1))
    multisets = cutoff.four_point_multisets(6)
    assert [m for m, ok in zip(multisets, erf) if ok] == [m for m in multisets if all(m.count(i) % 2 == 0 for i in m)]
    assert cutoff.one_signed(Model("erf", HMS_POINTS["erf", 1], 1.0, 1.0, 1), kernel="full").all()
    assert not cutoff.one_signed(Model("erf", HMS_POINTS["erf", 1], 0.5, 1.0, 1), kernel="full").all()


@pytest.mark.parametrize("kernel", cutoff.KERNELS)
@pytest.mark.parametrize("d_in", [1, 2, 3])
@pytest.mark.parametrize("scale", [1.0, 0.01])
def test_the_cubature_reproduces_the_gaussnet_closed_form(d_in, scale, kernel):
    """The run-time rule (refined until converged) on the one case with a closed form: without the constant σ_b²
    (W-part) the Gaussian bumps carry all of I_4, and 8 nodes alone miss it by 2e-9 at unit spacing."""
    pts = (scale / 0.01) * np.array(HMS_POINTS["gauss", d_in])
    closed = cutoff.gauss_integrals(Model("gauss", pts, 1.0, 1.0, 1), cutoff.HMS_CUTOFFS, kernel=kernel)
    cubed = cutoff.converged_cubature(Model("gauss", pts, 1.0, 1.0, 1), cutoff.HMS_CUTOFFS, kernel=kernel)
    np.testing.assert_allclose(cubed, closed, rtol=cutoff.TOLERANCE)


@pytest.mark.parametrize("kernel", cutoff.KERNELS)
@pytest.mark.parametrize("activation, d_in", [(a, d) for a in ("relu", "erf") for d in (1, 2, 3)])
def test_more_nodes_change_the_cubature_by_less_than_its_tolerance(activation, d_in, kernel):
    """Relative to ∫|Π k| (|I_4| where the integrand keeps one sign), as the run-time refinement measures it."""
    pts = HMS_POINTS[activation, d_in]
    a = cutoff.converged_cubature(Model(activation, pts, 1.0, 1.0, 1), cutoff.HMS_CUTOFFS, kernel=kernel)
    b, scale = cutoff.cubature(Model(activation, pts, 1.0, 1.0, 1), cutoff.HMS_CUTOFFS, nodes=20 if d_in < 3 else 14, kernel=kernel, with_abs=True)
    assert np.max(np.abs(a - b) / scale) < cutoff.TOLERANCE


def test_fewer_nodes_fail_the_tolerance():
    """The refinement test can fail: 3 nodes per cell are visibly off."""
    pts = HMS_POINTS["relu", 1]
    a = cutoff.cubature(Model("relu", pts, 1.0, 1.0, 1), cutoff.HMS_CUTOFFS, nodes=3)
    b = cutoff.cubature(Model("relu", pts, 1.0, 1.0, 1), cutoff.HMS_CUTOFFS, nodes=cutoff.CELL_NODES + 4)
    assert np.max(np.abs(a / b - 1)) > cutoff.TOLERANCE


@pytest.mark.parametrize("kernel", cutoff.KERNELS)
@pytest.mark.parametrize("activation, d_in", [(a, d) for a in ("gauss", "relu", "erf") for d in (1, 2, 3)])
def test_the_integrals_grow_with_the_derived_power(activation, d_in, kernel):
    """The I_4 of every multiset that λ̄ averages over (those whose integrand keeps one sign) grows with the power
    nnqft.theory.cutoff.asymptotic_slope derives (GaussNet's W-part: 0, it converges), whichever kernel; so λ̄'s slope at
    large Λ is that power. (Erf's sign-changing W-part products may cancel at leading order: at d_in = 2 some
    grow as Λ^0.08, not Λ^2.)"""
    big = (2e5, 4e5)
    i4 = cutoff.integrals(Model(activation, HMS_POINTS[activation, d_in], 1.0, 1.0, 1), big, kernel=kernel)
    power = np.log(np.abs(i4[:, 1] / i4[:, 0])) / np.log(big[1] / big[0])
    used = cutoff.one_signed(Model(activation, HMS_POINTS[activation, d_in], 1.0, 1.0, 1), kernel=kernel)
    np.testing.assert_allclose(-power[used], cutoff.asymptotic_slope(activation, d_in, kernel=kernel), atol=2e-3)


def test_the_run_time_refinement_converges_or_says_why():
    """converged_cubature: at HMS's ReLU points it returns within the tolerance of a much finer rule; when it may
    not refine far enough (here capped at 2 nodes) it raises a ValueError naming the parameters instead of
    returning an unconverged value."""
    pts = HMS_POINTS["relu", 2]
    got = cutoff.converged_cubature(Model("relu", pts, 1.0, 1.0, 1), cutoff.HMS_CUTOFFS)
    fine = cutoff.cubature(Model("relu", pts, 1.0, 1.0, 1), cutoff.HMS_CUTOFFS, nodes=24)
    np.testing.assert_allclose(got, fine, rtol=cutoff.TOLERANCE)
    with pytest.raises(ValueError, match="relu.*did not converge"):
        cutoff.converged_cubature(Model("relu", pts, 1.0, 1.0, 1), cutoff.HMS_CUTOFFS, nodes=2, max_nodes=2)
