"""Standard normal draws in float64, about 1.5x as fast on CPU as ``jax.random.normal``, with the same law.

``jax.random.normal`` maps a uniform through ``erf_inv``, whose float64 form on XLA's CPU backend evaluates a
logarithm for every draw with a scalar (not vectorised) routine: measured 2026-12-07 on the 2-core Intel Xeon, for a
200 x 200 block vmapped 16 times, the 64-bit threefry words cost 0.38 ms per block, ``erf_inv`` alone 0.50 ms, a
float64 ``jnp.log`` alone 0.25 ms and a degree-20 polynomial 0.06 ms. :func:`standard_normal` uses the same threefry
words and replaces the transform by Wichura's inverse normal CDF (Algorithm AS 241, PPND16: rational approximations,
relative accuracy about 1e-16) with the logarithm of the tails computed by exponent extraction and a polynomial
(:func:`_log_unit`), which XLA vectorises.

Law: one 64-bit word per draw; bit 0 gives the sign, the top 52 bits an integer k and the tail probability
q = (k + 1/2) 2^-53 in (0, 1/2), every value exactly representable; z = -sign * Phi^-1(q) (Phi^-1 by AS 241). So z is
the inverse-CDF transform of a uniform on a grid of 2^53 points symmetric about 1/2 -- the same resolution as
``jax.random.normal``'s float64 uniform, |z| <= 8.3. tests/test_gaussian.py checks Phi^-1 against SciPy's ``ndtri``
over the whole range and the draws' distribution.

Source: M. J. Wichura, Algorithm AS 241: The percentage points of the normal distribution, Applied Statistics 37
(1988) 477-484 (coefficients of PPND16).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["standard_normal", "ndtri"]

# AS 241 PPND16: central region |p - 1/2| <= 0.425, numerator (A) and denominator (B) in r = 0.180625 - q^2.
_A = (3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3, 1.3731693765509461125e4,
      4.5921953931549871457e4, 6.7265770927008700853e4, 3.3430575583588128105e4, 2.5090809287301226727e3)
_B = (1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
      2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4, 5.2264952788528545610e3)
# Intermediate tail, r = sqrt(-log q) <= 5, in r - 1.6.
_C = (1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0, 3.64784832476320460504e0,
      1.27045825245236838258e0, 2.41780725177450611770e-1, 2.27238449892691845833e-2, 7.74545014278341407640e-4)
_D = (1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
      1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4, 1.05075007164441684324e-9)
# Far tail, r > 5, in r - 5.
_E = (6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0, 2.96560571828504891230e-1,
      2.65321895265761230930e-2, 1.24266094738807843860e-3, 2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
      7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7, 2.04426310338993978564e-15)

_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that e * _LN2_HI is exact for |e| < 2^11 (fdlibm)
_LN2_LO = 1.90821492927058770002e-10


def _poly(coefs, x):
    """Horner evaluation of sum_k coefs[k] x^k; a coefficient may be an array (one per element of x)."""
    acc = coefs[-1] * jnp.ones_like(x)
    for c in coefs[-2::-1]:
        acc = acc * x + c
    return acc


def _log_unit(x):
    """log(x) for normal float64 x > 0 (here x in (0, 1/2]): x = 2^e m with m in [sqrt(1/2), sqrt 2), then
    log m = 2 atanh(s) = 2 (s + s^3/3 + ...), s = (m - 1)/(m + 1), |s| <= 0.172, 13 terms (error < 1e-18 in the
    series); about 1 ulp in all. Vectorises on XLA CPU, unlike float64 ``jnp.log``."""
    bits = jax.lax.bitcast_convert_type(x, jnp.uint64)
    e = ((bits >> 52) & 0x7FF).astype(jnp.int64) - 1023
    m = jax.lax.bitcast_convert_type((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000, jnp.float64)  # [1, 2)
    big = m > math.sqrt(2.0)
    m = jnp.where(big, 0.5 * m, m)
    e = (e + big).astype(jnp.float64)
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    series = _poly(tuple(1.0 / (2 * k + 1) for k in range(13)), s2)
    return e * _LN2_HI + (2.0 * s * series + e * _LN2_LO)


def ndtri(p):
    """Phi^-1(p) for float64 p in (0, 1) by AS 241 (PPND16), relative accuracy about 1e-16; the tails' logarithm by
    :func:`_log_unit`. Matches ``scipy.special.ndtri`` to a few ulp (tests/test_gaussian.py)."""
    p = jnp.asarray(p, jnp.float64)
    return _ppnd(p - 0.5, jnp.minimum(p, 1.0 - p))


def _ppnd(q, tail):
    """AS 241 from q = p - 1/2 and tail = min(p, 1 - p) (both exact when the caller has them exactly). One rational
    function per element: each element's region picks the coefficients (a select per Horner step is cheaper than
    evaluating all three rationals and their divisions)."""
    r = jnp.sqrt(-_log_unit(jnp.maximum(tail, 1e-300)))
    central = jnp.abs(q) <= 0.425
    near = r <= 5.0
    def region(central_value, near_value, far_value):
        return jnp.where(central, central_value, jnp.where(near, near_value, far_value))

    x = region(0.180625 - q * q, r - 1.6, r - 5.0)
    t = (_poly([region(*abc) for abc in zip(_A, _C, _E)], x)
         / _poly([region(*abc) for abc in zip(_B, _D, _F)], x))
    return jnp.where(central, q * t, jnp.where(q < 0, -t, t))


def standard_normal(key, shape, dtype=jnp.float64):
    """Independent N(0, 1) draws of the given shape. float64: one 64-bit threefry word per draw through AS 241 (module
    docstring); any other dtype: ``jax.random.normal`` (its float32 transform is already vectorised)."""
    if jnp.dtype(dtype) != jnp.float64:
        return jax.random.normal(key, shape, dtype)
    bits = jax.random.bits(key, shape, jnp.uint64)
    k = (bits >> 12).astype(jnp.float64)  # 52 bits: exact in float64
    tail = (k + 0.5) * 2.0**-53  # (0, 1/2), exactly representable
    negative = (bits & 1) == 1
    q = 0.5 - tail  # p - 1/2 for p = 1 - tail: the upper half; the sign bit mirrors it
    z = _ppnd(q, tail)
    return jnp.where(negative, -z, z)
