"""Branch-free exp and erf for the kernels' vector loops, with the same bits on every machine."""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import int64, njit, types
from numba.extending import intrinsic

from . import kernel_cache  # noqa: F401  (numba's cache folder, named before the first cache=True decorator)

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two (fdlibm): n * _LN2_HI is exact for |n| < 2^20
_LN2_LO = 1.90821492927058770002e-10
_EXP_MIN, _EXP_MAX = -708.0, 709.0


@intrinsic
def _bits_to_float(typingctx, bits):
    """Reinterpret an int64 as the float64 with the same bits."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (IEEE fused multiply-add, LLVM's llvm.fma): the same bits on every machine, and
    one vector instruction where the CPU has FMA (numba does not contract a * b + c into one by itself)."""
    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return types.float64(types.float64, types.float64, types.float64), codegen


@njit(cache=True, inline="always")
def fast_exp(x):
    """exp(x) in branch-free arithmetic, so that loops over points vectorise.

    x = n ln2 + r with |r| <= ln2/2 (Cody-Waite reduction), exp(r) by its Taylor series to r^13 (Estrin scheme)
    (truncation below 1e-17 relative), times 2^n built from the exponent bits. Arguments are clamped
    to [-708, 709]: below, the true value (< 3e-308) is replaced by 3e-308; above, exp overflows anyway.
    Relative error about 2e-16 (tested against numpy.exp).
    """
    return _exp_in_range(min(max(x, _EXP_MIN), _EXP_MAX))


@njit(cache=True, inline="always")
def _exp_in_range(x):
    """:func:`fast_exp` without the clamp, for arguments known to lie in [-708, 709]."""
    n = np.floor(x * _LOG2E + 0.5)
    r = (x - n * _LN2_HI) - n * _LN2_LO
    # Estrin's scheme: a short dependency chain, so that the vectorised loop is not latency-bound
    r2 = r * r
    r4 = r2 * r2
    s0 = (1.0 + r) + (1.0 / 2 + r * (1.0 / 6)) * r2
    s1 = (1.0 / 24 + r * (1.0 / 120)) + (1.0 / 720 + r * (1.0 / 5040)) * r2
    s2 = (1.0 / 40320 + r * (1.0 / 362880)) + (1.0 / 3628800 + r * (1.0 / 39916800)) * r2
    s3 = 1.0 / 479001600 + r * (1.0 / 6227020800)
    p = (s0 + s1 * r4) + (s2 + s3 * r4) * (r4 * r4)
    return p * _bits_to_float((int64(n) + 1023) << 52)




# fast_erf: for |x| >= 1, erf(x) = 1 - exp(-x^2 + h(v)), v = (|x| - 3.5) / 2.5 in [-1, 1] on |x| in [1, 6], where h
# is a degree-16 polynomial in v for log(erfcx(x)) = log(erfc(x)) + x^2. Its error only has to be small where erfc
# is not: it is the weighted minimax fit, minimising max |h - log erfcx| erfc(x) (the error it puts on erf), found
# by Lawson's iteration on 4000 points against scipy's erfcx (tests/unit/sampling/test_architectures.py repeats the fit): 3.2e-16
# (a plain Chebyshev interpolant needs degree 22 for that). For |x| < 1, erf(x) = x s(x^2) with s the degree-11
# Chebyshev interpolant of erf(x)/x in z = x^2 on [0, 1] (12 nodes; recomputed by the tests). Both as monomials.
# Beyond 6, erf = 1 to double precision. No division; one exponential and two short polynomials by Estrin's scheme,
# every multiply-add fused (:func:`fma`): short dependency chains, so that the vector loop is limited by the number of
# multiply-adds. Max relative error 8e-16 against scipy.special.erf (7.96e-16 against mpmath at 30 digits).
_ERF_H = np.array([-1.8624374019465308, -0.6652489632326712, 0.20779348254964983, -0.0816506820971859,
    0.03412789375824787, -0.014389928882927871, 0.005940050739590886, -0.0023810041420093044, 0.0009269935725265152,
    -0.0002392215332395445, 0.0001141787333618356, -9.23006355401348e-05, -9.400963909517866e-05,
    -8.693533483362847e-06, 4.095903385841161e-05, 3.3107309484446466e-05, 4.656517568017572e-06])
_ERF_S = np.array([1.1283791670955121, -0.37612638903177437, 0.11283791670718551, -0.026866170609705614,
    0.005223977348372273, -0.0008548314213663343, 0.00012054959622806318, -1.491857664123655e-05,
    1.6374549980549365e-06, -1.567238008227256e-07, 1.1489097535443256e-08, -3.7838980048459157e-10])


@njit(cache=True, inline="always")
def _estrin12(c, x):
    """c[0] + c[1] x + ... + c[11] x^11 by Estrin's scheme, fused multiply-adds."""
    x2 = x * x
    x4 = x2 * x2
    q0 = fma(fma(c[3], x, c[2]), x2, fma(c[1], x, c[0]))
    q1 = fma(fma(c[7], x, c[6]), x2, fma(c[5], x, c[4]))
    q2 = fma(fma(c[11], x, c[10]), x2, fma(c[9], x, c[8]))
    return fma(q2, x4 * x4, fma(q1, x4, q0))


@njit(cache=True, inline="always")
def _estrin17(c, x):
    """c[0] + c[1] x + ... + c[16] x^16 by Estrin's scheme, fused multiply-adds."""
    x2 = x * x
    x4 = x2 * x2
    x8 = x4 * x4
    q0 = fma(fma(c[3], x, c[2]), x2, fma(c[1], x, c[0]))
    q1 = fma(fma(c[7], x, c[6]), x2, fma(c[5], x, c[4]))
    q2 = fma(fma(c[11], x, c[10]), x2, fma(c[9], x, c[8]))
    q3 = fma(fma(c[15], x, c[14]), x2, fma(c[13], x, c[12]))
    return fma(c[16], x8 * x8, fma(fma(q3, x4, q2), x8, fma(q1, x4, q0)))


@njit(cache=True, inline="always")
def _exp_fused(x):
    """exp(x) for x in [-708, 709] as :func:`_exp_in_range`, with fused multiply-adds and the Taylor series to r^12
    (truncation below 1.7e-16 relative): erf's exponential. GaussNet keeps :func:`fast_exp`, whose bits are the
    first version's."""
    n = np.floor(fma(x, _LOG2E, 0.5))
    r = fma(-n, _LN2_LO, fma(-n, _LN2_HI, x))
    r2 = r * r
    r4 = r2 * r2
    s0 = fma(fma(r, 1.0 / 6, 0.5), r2, 1.0 + r)
    s1 = fma(fma(r, 1.0 / 5040, 1.0 / 720), r2, fma(r, 1.0 / 120, 1.0 / 24))
    s2 = fma(fma(r, 1.0 / 39916800, 1.0 / 3628800), r2, fma(r, 1.0 / 362880, 1.0 / 40320))
    p = fma(fma(1.0 / 479001600, r4, s2), r4 * r4, fma(s1, r4, s0))
    return p * _bits_to_float((int64(n) + 1023) << 52)


@njit(cache=True, inline="always", error_model="numpy")
def fast_erf(x):
    """erf(x) in branch-free arithmetic, so that loops over neurons vectorise (see _ERF_H above).

    Both branches are computed and one is selected. Compiled with error_model="numpy" like its callers
    (with Python's error model a zero check would stop the vectorisation).
    """
    a = min(abs(x), 6.0)
    z = a * a
    small = a * _estrin12(_ERF_S, z)
    large = 1.0 - _exp_fused(_estrin17(_ERF_H, (a - 3.5) * (1.0 / 2.5)) - z)  # argument in [-38, 0]
    return math.copysign(small if a < 1.0 else large, x)



@njit(cache=True, error_model="numpy")
def erf_array(x):
    """:func:`fast_erf` elementwise (tests)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = fast_erf(x[i])
    return out


@njit(cache=True)
def exp_array(x):
    """:func:`fast_exp` elementwise (tests)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = fast_exp(x[i])
    return out

