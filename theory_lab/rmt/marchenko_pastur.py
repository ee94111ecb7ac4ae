"""Marchenko–Pastur (MP) law: theory (float64 NumPy/SciPy) and a JAX Monte-Carlo simulator of the ESD.

Setting used throughout (notes ``rmt_and_self_consuming_loops.md`` section 4a):
X is p×n with iid entries of mean 0 and variance s2, S = X X^T / n (p×p), gamma = p/n.
As p, n → ∞ with p/n → gamma, the empirical spectral distribution (ESD) of S, normalised by p,
converges to the MP law mu_gamma,s2: a continuous part on [a, b] plus an atom of mass
max(0, 1 − 1/gamma) at 0 (the p − n zero eigenvalues when p > n).

Sources: V. A. Marchenko & L. A. Pastur, "Distribution of eigenvalues for some sets of random matrices",
Math. USSR-Sbornik 1(4):457–483 (1967); Z. Bai & J. W. Silverstein, "Spectral Analysis of Large Dimensional
Random Matrices" (2nd ed., Springer 2010), Ch. 3 (MP law, its moments and Stieltjes transform).
Numbers at gamma = 0.4 from the notes (edges 0.135/2.665, m(−0.1) = 1.3278, m(−1) = 0.5495) are reproduced in
``tests/test_marchenko_pastur.py``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "mp_edges",
    "mp_density",
    "mp_atom",
    "mp_cdf",
    "mp_bin_masses",
    "mp_moments",
    "wishart_moments_finite",
    "mp_stieltjes",
    "mp_stieltjes_derivative",
    "simulate_esd",
]


# ----------------------------------------------------------------------------------------------------------------
# Theory (float64 NumPy)
# ----------------------------------------------------------------------------------------------------------------


def mp_edges(gamma, s2=1.0):
    """Support edges of the continuous part of the MP law.

    Formula: a = s2 (1 − sqrt(gamma))^2,  b = s2 (1 + sqrt(gamma))^2.
    Symbols: gamma = p/n > 0 (aspect ratio of X, p×n), s2 = entry variance of X; S = X X^T / n.
    Assumptions: none beyond gamma > 0 (for gamma = 1, a = 0).
    Source: Marchenko & Pastur (1967); Bai & Silverstein (2010) Ch. 3; notes section 4a.

    Returns ``(a, b)`` as float64 arrays broadcast over ``gamma`` and ``s2`` (0-d for scalar inputs).
    """
    g = np.asarray(gamma, dtype=np.float64)
    s2 = np.asarray(s2, dtype=np.float64)
    sg = np.sqrt(g)
    return s2 * (1.0 - sg) ** 2, s2 * (1.0 + sg) ** 2


def mp_atom(gamma):
    """Mass of the MP law at zero.

    Formula: mu({0}) = max(0, 1 − 1/gamma).
    Symbols: gamma = p/n; for p > n, S = X X^T / n (p×p) has p − n zero eigenvalues, a fraction 1 − n/p.
    Source: Marchenko & Pastur (1967); Bai & Silverstein (2010) Ch. 3; notes section 4a.
    """
    g = np.asarray(gamma, dtype=np.float64)
    return np.maximum(0.0, 1.0 - 1.0 / g)


def mp_density(x, gamma, s2=1.0):
    """Density of the continuous part of the MP law (the atom at 0 is NOT included; see ``mp_atom``).

    Formula: f(x) = sqrt((b − x)(x − a)) / (2 pi s2 gamma x) for a ≤ x ≤ b, and 0 elsewhere,
    with (a, b) = ``mp_edges(gamma, s2)``. It integrates to 1 − mp_atom(gamma) = min(1, 1/gamma).
    Symbols: gamma = p/n, s2 = entry variance of X (p×n), S = X X^T / n.
    Assumptions: gamma > 0. At gamma = 1 the density has an integrable 1/sqrt(x) singularity at 0; x = 0 returns 0.
    Source: Marchenko & Pastur (1967); Bai & Silverstein (2010) Thm 3.6-type statement; notes section 4a [MC].
    """
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    s2 = np.asarray(s2, dtype=np.float64)
    a, b = mp_edges(g, s2)
    inside = (x >= a) & (x <= b) & (x > 0)
    xs = np.where(inside, x, 1.0)
    val = np.sqrt(np.maximum((b - xs) * (xs - a), 0.0)) / (2.0 * np.pi * s2 * g * xs)
    return np.where(inside, val, 0.0)


def _mp_cont_cdf(x, gamma, s2):
    """Continuous-part mass of the MP law on (−inf, x] (closed form; helper of ``mp_cdf``).

    Substituting t = c − r cos(theta), c = s2 (1 + gamma), r = 2 s2 sqrt(gamma) (so c − r = a, c + r = b) gives
        ∫_a^x f(t) dt = [ (1 + gamma) theta + 2 sqrt(gamma) sin(theta) − 2 |1 − gamma| phi(theta) ] / (2 pi gamma),
        theta = arccos((c − x)/r) ∈ [0, pi],  phi(theta) = atan2( sqrt(b) sin(theta/2), sqrt(a) cos(theta/2) ).
    At x = b (theta = pi, phi = pi/2) this equals (1 + gamma − |1 − gamma|)/(2 gamma) = min(1, 1/gamma).
    Derivation: elementary (sin^2/(c − r cos) partial fractions + the Weierstrass substitution); checked against
    ``scipy.integrate.quad`` of ``mp_density`` in the tests.
    """
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    s2 = np.asarray(s2, dtype=np.float64)
    a, b = mp_edges(g, s2)
    c = s2 * (1.0 + g)
    r = 2.0 * s2 * np.sqrt(g)
    theta = np.arccos(np.clip((c - x) / r, -1.0, 1.0))
    phi = np.arctan2(np.sqrt(b) * np.sin(theta / 2.0), np.sqrt(a) * np.cos(theta / 2.0))
    val = ((1.0 + g) * theta + 2.0 * np.sqrt(g) * np.sin(theta) - 2.0 * np.abs(1.0 - g) * phi) / (2.0 * np.pi * g)
    return np.clip(val, 0.0, None)


def mp_cdf(x, gamma, s2=1.0):
    """Cumulative distribution function F(x) = mu((−inf, x]) of the MP law, atom included (right-continuous).

    Formula: F(x) = mp_atom(gamma) 1{x ≥ 0} + ∫_a^{min(x,b)} f(t) dt, with the integral in closed form
    (see ``_mp_cont_cdf``): [ (1+gamma) theta + 2 sqrt(gamma) sin(theta) − 2|1−gamma| phi(theta) ] / (2 pi gamma),
    theta = arccos((s2(1+gamma) − x) / (2 s2 sqrt(gamma))), phi = atan2(sqrt(b) sin(theta/2), sqrt(a) cos(theta/2)).
    Symbols: gamma = p/n, s2 = entry variance, (a, b) = ``mp_edges``; f = ``mp_density``.
    Assumptions: gamma > 0; vectorised over x (broadcasts with gamma, s2).
    Source: Marchenko & Pastur (1967); closed form derived here, verified against quad in the tests.
    """
    x = np.asarray(x, dtype=np.float64)
    return mp_atom(gamma) * (x >= 0.0) + _mp_cont_cdf(x, gamma, s2)


def mp_bin_masses(edges, gamma, s2=1.0):
    """MP probability of each half-open bin [edges[i], edges[i+1]), atom at 0 included.

    Formula: mass_i = F(edges[i+1]^−) − F(edges[i]^−), where F(x^−) = mu((−inf, x)) = mp_atom(gamma) 1{x > 0}
    + continuous CDF (see ``mp_cdf``). So the atom is credited to the bin with edges[i] ≤ 0 < edges[i+1].
    Convention: numerically, the p − n "zero" eigenvalues of a rank-deficient S come out as ±1e-15-ish, so
    START THE EDGES SLIGHTLY BELOW 0 (e.g. edges[0] = −1e-6 or −0.01·b) so that 0 lies strictly inside the first
    bin and the histogram from ``simulate_esd`` is comparable. With edges[0] < 0 and edges[-1] > b, the masses sum to 1.
    Symbols: edges = increasing 1-D array (len ≥ 2); gamma = p/n; s2 = entry variance.
    Source: as ``mp_cdf``.

    Returns an array of shape (len(edges) − 1,).
    """
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.shape[0] < 2:
        raise ValueError("edges must be a 1-D array with at least two entries")
    if np.any(np.diff(e) <= 0):
        raise ValueError("edges must be strictly increasing")
    f_left = mp_atom(gamma) * (e > 0.0) + _mp_cont_cdf(e, gamma, s2)
    return np.diff(f_left)


def mp_moments(k_max, gamma):
    """Moments m_k = ∫ x^k dmu_gamma(x) of the MP law (s2 = 1), k = 1..k_max.

    Formula: m_k = sum_{r=0}^{k−1} gamma^r / (r+1) · C(k, r) · C(k−1, r)   (Narayana polynomials),
    e.g. m_1 = 1, m_2 = 1 + gamma, m_3 = 1 + 3 gamma + gamma^2, m_4 = 1 + 6 gamma + 6 gamma^2 + gamma^3.
    Symbols: gamma = p/n; moments of the ESD of S = X X^T / n normalised by p (i.e. lim tr(S^k)/p), atom included.
    Assumptions: k_max ≥ 1 integer; gamma a scalar.
    Source: Bai & Silverstein (2010) Ch. 3 (moment-method proof of the MP law).

    Returns a float64 array of shape (k_max,).
    """
    k_max = int(k_max)
    if k_max < 1:
        raise ValueError("k_max must be >= 1")
    g = float(gamma)
    out = np.empty(k_max, dtype=np.float64)
    for k in range(1, k_max + 1):
        out[k - 1] = sum(g**r / (r + 1) * math.comb(k, r) * math.comb(k - 1, r) for r in range(k))
    return out


def wishart_moments_finite(k_max, p, n):
    """Exact finite-size moments E[tr(S^k)]/p, k = 1..k_max ≤ 4, for Gaussian X (p×n, iid N(0,1)), S = X X^T / n.

    Formula: E[tr(S^k)]/p = E[tr(W^k)] / (p n^k), W = X X^T (real Wishart, n degrees of freedom, identity scale):
        E tr W   = n p
        E tr W^2 = n p (n + p + 1)
        E tr W^3 = n p (n^2 + p^2 + 3np + 3n + 3p + 4)
        E tr W^4 = n p (n^3 + p^3 + 6n^2 p + 6n p^2 + 6n^2 + 6p^2 + 17np + 21n + 21p + 20)
    Symbols: p, n positive ints. Leading order reproduces ``mp_moments`` with gamma = p/n.
    Assumptions: real Gaussian entries (the lower-order terms are NOT universal).
    Source: moments of the real Wishart distribution, e.g. G. Letac & H. Massam, "All invariant moments of the
    Wishart distribution", Scand. J. Statist. 31:295–318 (2004). Checked here: p = n = 1 gives the chi^2_1 moments
    1, 3, 15, 105; p = 1, n = 2 gives chi^2_2 moments 2, 8, 48, 384; Monte-Carlo test in tests/test_marchenko_pastur.py.

    Raises ValueError for k_max > 4 (or < 1). Returns a float64 array of shape (k_max,).
    """
    k_max = int(k_max)
    if not 1 <= k_max <= 4:
        raise ValueError("wishart_moments_finite implements k = 1..4 only (k_max in 1..4)")
    p = float(p)
    n = float(n)
    if p <= 0 or n <= 0:
        raise ValueError("p and n must be positive")
    traces = [
        n * p,
        n * p * (n + p + 1.0),
        n * p * (n**2 + p**2 + 3 * n * p + 3 * n + 3 * p + 4.0),
        n * p * (n**3 + p**3 + 6 * n**2 * p + 6 * n * p**2 + 6 * n**2 + 6 * p**2 + 17 * n * p + 21 * n + 21 * p + 20.0),
    ]
    return np.array([traces[k - 1] / (p * n**k) for k in range(1, k_max + 1)], dtype=np.float64)


def _mp_stieltjes_parts(lam, gamma):
    """Return (m, D) with m = m(−lam) and D = sqrt((1 − gamma + lam)^2 + 4 gamma lam), for lam > 0 (helper)."""
    A = 1.0 - gamma + lam
    D = np.sqrt(A * A + 4.0 * gamma * lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Two algebraically equal forms, each free of cancellation on its branch: (D − A)(D + A) = 4 gamma lam.
        m_pos = 2.0 / (A + D)
        m_neg = (D - A) / (2.0 * gamma * lam)
    return np.where(A >= 0.0, m_pos, m_neg), D


def mp_stieltjes(lam, gamma):
    """MP Stieltjes transform on the negative real axis, zero atom included (s2 = 1).

    Formula: m(−lam) = ∫ dmu_gamma(x) / (x + lam)
                     = [ −(1 − gamma + lam) + sqrt((1 − gamma + lam)^2 + 4 gamma lam) ] / (2 gamma lam)
                     = 2 / [ (1 − gamma + lam) + sqrt((1 − gamma + lam)^2 + 4 gamma lam) ]
                       (used when 1−gamma+lam ≥ 0).
    It is the positive root of gamma lam m^2 + (1 − gamma + lam) m − 1 = 0.
    Symbols: lam ≥ 0 (evaluation point z = −lam), gamma = p/n.
    Limits: lam = 0 gives 1/(1 − gamma) for gamma < 1 and +inf for gamma ≥ 1 (the atom/edge at 0).
    Assumptions: vectorised (broadcasts lam with gamma); lam < 0 raises ValueError.
    Source: Marchenko & Pastur (1967); Bai & Silverstein (2010) Ch. 3; notes section 4a [MC]
    (gamma = 0.4: m(−0.1) = 1.3278, m(−1) = 0.5495).
    """
    lam = np.asarray(lam, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    if np.any(lam < 0):
        raise ValueError("mp_stieltjes needs lam >= 0")
    lam_b, g_b = np.broadcast_arrays(lam, g)
    safe = np.where(lam_b > 0, lam_b, 1.0)
    m, _ = _mp_stieltjes_parts(safe, g_b)
    with np.errstate(divide="ignore"):
        at_zero = np.where(g_b < 1.0, 1.0 / np.where(g_b < 1.0, 1.0 - g_b, 1.0), np.inf)
    return np.where(lam_b > 0, m, at_zero)


def mp_stieltjes_derivative(lam, gamma):
    """Derivative of the MP Stieltjes transform at z = −lam: m'(−lam) := ∫ dmu_gamma(x) / (x + lam)^2 (atom included).

    Formula (implicit differentiation of gamma lam m^2 + (1 − gamma + lam) m − 1 = 0 in lam, using
    (1 − gamma + lam) + 2 gamma lam m = D):
        m'(−lam) = −d/dlam m(−lam) = m (1 + gamma m) / D,   D = sqrt((1 − gamma + lam)^2 + 4 gamma lam),
    with m = ``mp_stieltjes(lam, gamma)``.
    Symbols: lam ≥ 0, gamma = p/n. Limits: lam = 0 gives 1/(1 − gamma)^3 for gamma < 1 and +inf for gamma ≥ 1.
    Assumptions: vectorised; lam < 0 raises ValueError.
    Source: derived here from the closed form of notes section 4a; tested against quadrature of ``mp_density``
    plus the atom term mp_atom/lam^2.
    """
    lam = np.asarray(lam, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    if np.any(lam < 0):
        raise ValueError("mp_stieltjes_derivative needs lam >= 0")
    lam_b, g_b = np.broadcast_arrays(lam, g)
    safe = np.where(lam_b > 0, lam_b, 1.0)
    m, D = _mp_stieltjes_parts(safe, g_b)
    with np.errstate(divide="ignore"):
        at_zero = np.where(g_b < 1.0, 1.0 / np.where(g_b < 1.0, 1.0 - g_b, 1.0) ** 3, np.inf)
    return np.where(lam_b > 0, m * (1.0 + g_b * m) / D, at_zero)


# ----------------------------------------------------------------------------------------------------------------
# Simulator (JAX)
# ----------------------------------------------------------------------------------------------------------------


def simulate_esd(key, *, p: int, n: int, bin_edges, k_max: int = 4, dtype=jnp.float64):
    """One Monte-Carlo draw of the ESD of a white Wishart matrix: spectral moments and a histogram.

    Model: X ∈ R^{p×n} with iid N(0, 1) entries, S = X X^T / n, eigenvalues lambda_1..lambda_p = eigvalsh(S).
    Statistics (per trial):
        "moments": (k_max,) array, entry k−1 = tr(S^k)/p = (1/p) sum_i lambda_i^k, k = 1..k_max
                   (compare with ``wishart_moments_finite`` exactly, or ``mp_moments`` as p, n → ∞);
        "hist":    (len(bin_edges) − 1,) array, fraction of eigenvalues in [bin_edges[i], bin_edges[i+1])
                   (compare with ``mp_bin_masses``; sums to 1 when the edges cover the spectrum — start the edges
                   slightly below 0 so the numerically-zero eigenvalues for p > n are counted, see ``mp_bin_masses``).
    Arguments: ``key`` a PRNG key; ``p``, ``n``, ``k_max`` static Python ints (shape-changing); ``bin_edges`` a
    traced 1-D array (increasing; its length is the only static thing about it); ``dtype`` a float dtype.
    Pure and jit-able (``jax.jit(simulate_esd, static_argnames=("p", "n", "k_max", "dtype"))``); vmap over keys
    for many trials.
    Source: MP law, notes section 4a (MC there: p = 400, n = 1000).
    """
    edges = jnp.asarray(bin_edges, dtype=dtype)
    x = jax.random.normal(key, (p, n), dtype=dtype)
    s = (x @ x.T) / jnp.asarray(n, dtype=dtype)
    ev = jnp.linalg.eigvalsh(s)  # (p,)
    # Powers by repeated multiplication (exact sign handling for tiny negative round-off eigenvalues).
    powers = jnp.cumprod(jnp.broadcast_to(ev[None, :], (k_max, p)), axis=0)  # row k-1 = ev**k
    moments = jnp.mean(powers, axis=1)
    # Empirical left-limit CDF at the edges: P_emp(lambda < e_j); bin masses are its differences.
    below = jnp.mean((ev[:, None] < edges[None, :]).astype(dtype), axis=0)
    hist = below[1:] - below[:-1]
    return {"moments": moments, "hist": hist}
