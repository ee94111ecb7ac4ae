"""Spiked covariance (Baik–Ben Arous–Péché transition): theory (float64 NumPy) and two JAX simulators.

Setting (notes ``rmt_and_self_consuming_loops.md`` section 4b): population covariance Sigma = I_p + (ell − 1) v v^T
with ||v|| = 1 and spike ell ≥ 1; n samples x_i ~ N(0, Sigma), X = [x_1 .. x_n] (p×n), S = X X^T / n (not centred:
the mean is known to be 0), gamma = p/n. Statistics of one draw: the top eigenvalue lambda_1 of S and the squared
overlap |<u_hat, v>|^2 of its unit eigenvector u_hat with the spike direction.

Limits as p, n → ∞ with p/n → gamma (threshold ell_c = 1 + sqrt(gamma)):
    ell >  ell_c:  lambda_1 → ell (1 + gamma/(ell − 1)),   |<u_hat, v>|^2 → (1 − gamma/(ell−1)^2) / (1 + gamma/(ell−1))
    ell <= ell_c:  lambda_1 → (1 + sqrt(gamma))^2 (the Marchenko–Pastur edge),   |<u_hat, v>|^2 → 0.

Sources: J. Baik, G. Ben Arous, S. Péché, "Phase transition of the largest eigenvalue for nonnull complex sample
covariance matrices", Ann. Probab. 33(5) (2005) 1643–1697, arXiv:math/0403022 (the transition, complex case);
J. Baik & J. W. Silverstein, "Eigenvalues of large sample covariance matrices of spiked population models",
J. Multivariate Anal. 97 (2006), arXiv:math/0408165 (almost-sure eigenvalue limits, real or complex samples);
D. Paul, "Asymptotics of sample eigenstructure for a large dimensional spiked covariance model", Statistica Sinica
17 (2007) 1617–1642, Thm 4 (the eigenvector overlap, real Gaussian). Edge scale: I. M. Johnstone, Ann. Statist.
29(2) (2001) 295–327; Z. Ma, Bernoulli 18(1) (2012) 322–359 (second-order accurate centring and scaling).
Theorem numbers below were not re-checked against the PDFs; the formulas are checked numerically (notes 4b and the
Monte Carlo in ``tests/test_spiked.py`` and the ``rmt.bbp`` check).
Numbers from the notes (gamma = 0.5: threshold 1.707; ell = 2 → 3.000 / 0.333; ell = 4 → 4.667 / 0.810; ell = 1.5
→ edge 2.914 / 0) are reproduced in ``tests/test_spiked.py``.

Simulators: ``simulate_spiked_covariance`` draws the data (reference, O(p^2 n + p^3) per trial);
``simulate_spiked_covariance_tridiagonal`` samples the same two statistics from their exact distribution through
the Dumitriu–Edelman bidiagonal model, truncated to the top-left block where the top eigenvector lives (O(p^(1/3))
per trial, with a per-trial certificate of the truncation). ``tests/test_spiked.py`` tests them against each other.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "TW1_MEAN",
    "TW1_SD",
    "bbp_threshold",
    "bulk_edge",
    "top_eigenvalue_limit",
    "overlap_limit",
    "edge_scale",
    "critical_window",
    "null_top_eigenvalue_mean",
    "truncation_rows",
    "spiked_laguerre_tridiagonal",
    "top_eigenvalue_tridiagonal",
    "top_eigenpair_weight",
    "simulate_spiked_covariance",
    "simulate_spiked_covariance_tridiagonal",
]

#: Mean and standard deviation of the GOE Tracy–Widom law TW_1 (Tracy & Widom 1996; moments as tabulated by
#: Bornemann, arXiv:0904.1581: mean −1.2065335745820, variance 1.6077810345810).
TW1_MEAN = -1.2065335745820
TW1_SD = math.sqrt(1.6077810345810)


# ----------------------------------------------------------------------------------------------------------------
# Theory (float64 NumPy)
# ----------------------------------------------------------------------------------------------------------------


def bbp_threshold(gamma):
    """Critical spike of the BBP transition.

    Formula: ell_c = 1 + sqrt(gamma).
    Symbols: gamma = p/n > 0; the spike ell is the top population eigenvalue (all others 1).
    Source: Baik, Ben Arous & Péché, arXiv:math/0403022 (complex case); Baik & Silverstein, arXiv:math/0408165,
    and Paul (2007) (real case); notes section 4b (gamma = 0.5: 1.707).
    """
    return 1.0 + np.sqrt(np.asarray(gamma, dtype=np.float64))


def bulk_edge(gamma):
    """Right edge of the Marchenko–Pastur bulk, the limit of lambda_1 for ell <= ell_c.

    Formula: b = (1 + sqrt(gamma))^2.  Symbols: gamma = p/n.  Source: notes sections 4a/4b.
    """
    return (1.0 + np.sqrt(np.asarray(gamma, dtype=np.float64))) ** 2


def top_eigenvalue_limit(ell, gamma, threshold=None):
    """Almost-sure limit of the top eigenvalue of S = X X^T / n under Sigma = I + (ell − 1) v v^T.

    Formula: lambda_1 → rho(ell) = ell (1 + gamma/(ell − 1))   for ell > ell_c = 1 + sqrt(gamma),
             lambda_1 → (1 + sqrt(gamma))^2                   for ell <= ell_c.
    rho is continuous at ell_c (rho(ell_c) = (1 + sqrt(gamma))^2) and increasing above it.
    Symbols: ell ≥ 1 spike, gamma = p/n > 0. ``threshold`` replaces ell_c (used only by negative controls; a
    wrong threshold makes the formula discontinuous).
    Assumptions: p, n → ∞ with p/n → gamma; iid samples with finite fourth moments (Gaussian here).
    Source: Baik & Silverstein, arXiv:math/0408165 (main theorem); Paul (2007) (eigenvalue limit); notes section 4b
    (gamma = 0.5: ell = 2 → 3.000, ell = 4 → 4.667, ell = 1.5 → 2.914).
    Vectorised (broadcasts ell and gamma).
    """
    ell = np.asarray(ell, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    ell, g = np.broadcast_arrays(ell, g)
    lc = bbp_threshold(g) if threshold is None else np.broadcast_to(np.asarray(threshold, np.float64), g.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        above = ell * (1.0 + g / (ell - 1.0))
    return np.where(ell > lc, above, bulk_edge(g))


def overlap_limit(ell, gamma, threshold=None):
    """Almost-sure limit of the squared overlap |<u_hat, v>|^2 of the top sample eigenvector with the spike.

    Formula: |<u_hat, v>|^2 → (1 − gamma/(ell − 1)^2) / (1 + gamma/(ell − 1))   for ell > ell_c = 1 + sqrt(gamma),
             |<u_hat, v>|^2 → 0                                                for ell <= ell_c.
    It vanishes linearly at ell_c (slope 2/(sqrt(gamma)(1 + sqrt(gamma)))) and tends to 1 as ell → ∞; above ell_c it
    equals the elasticity d log rho / d log ell of the outlier rho = ``top_eigenvalue_limit`` (first-order
    perturbation: d lambda_1/d ell = <u_hat, v>^2 lambda_1/ell), a consistency check used in the tests.
    Symbols: ell ≥ 1 spike, gamma = p/n; ``threshold`` replaces ell_c (negative controls only).
    Assumptions: p, n → ∞ with p/n → gamma; Gaussian samples (Paul's theorem; universality holds more generally).
    Source: Paul (2007), Statistica Sinica 17 (eigenvector theorem); Benaych-Georges & Nadakuditi, arXiv:0910.2120,
    for the general low-rank form; notes section 4b (gamma = 0.5: ell = 2 → 0.333, ell = 4 → 0.810).
    Vectorised.
    """
    ell = np.asarray(ell, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    ell, g = np.broadcast_arrays(ell, g)
    lc = bbp_threshold(g) if threshold is None else np.broadcast_to(np.asarray(threshold, np.float64), g.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        above = (1.0 - g / (ell - 1.0) ** 2) / (1.0 + g / (ell - 1.0))
    return np.where(ell > lc, above, 0.0)


def edge_scale(p, n):
    """Fluctuation scale of the top eigenvalue of a white Wishart S = X X^T / n at the bulk edge.

    Formula: sigma = (sqrt(n) + sqrt(p)) (1/sqrt(n) + 1/sqrt(p))^(1/3) / n  ~  (1+sqrt(g))(1+1/sqrt(g))^(1/3) n^(-2/3).
    Source: Johnstone (2001), Thm 1 (with n − 1 → n; the difference is of lower order).
    """
    p = np.asarray(p, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    return (np.sqrt(n) + np.sqrt(p)) * (1.0 / np.sqrt(n) + 1.0 / np.sqrt(p)) ** (1.0 / 3.0) / n


def critical_window(p, n):
    """Width in ell of the critical (BBP) window at finite p, n: the spike offset delta = ell − ell_c at which the
    limiting outlier separation equals the edge fluctuation scale.

    Formula: rho(ell_c + delta) − b = delta^2/sqrt(g) + O(delta^3) (rho''(ell_c) = 2/sqrt(g)), so
             window = sqrt( sqrt(g) · edge_scale(p, n) ) ∝ n^(-1/3),  g = p/n.
    Inside |ell − ell_c| ≲ window the finite-p statistics follow the critical (deformed Tracy–Widom) laws of BBP
    (their Thm 1.1(b), scaling ell − ell_c ∝ n^(-1/3)), not the limits; outside it the corrections are a series in
    1/(n |ell − ell_c|^3). Derived here from ``top_eigenvalue_limit`` and ``edge_scale``.
    """
    g = np.asarray(p, dtype=np.float64) / np.asarray(n, dtype=np.float64)
    return np.sqrt(np.sqrt(g) * edge_scale(p, n))


def null_top_eigenvalue_mean(p, n):
    """Tracy–Widom approximation of E[lambda_1] for the null case ell = 1 (white Wishart S = X X^T / n).

    Formula: E lambda_1 ≈ (mu_np + sigma_np · E[TW_1]) / n,
             mu_np = (sqrt(n − 1/2) + sqrt(p − 1/2))^2,
             sigma_np = (sqrt(n − 1/2) + sqrt(p − 1/2)) (1/sqrt(n − 1/2) + 1/sqrt(p − 1/2))^(1/3),
             E[TW_1] = −1.2065335745820.
    Symbols: X is p×n with iid N(0, 1) entries.
    Accuracy: Ma's centring makes the Tracy–Widom approximation second-order accurate (error O(n^(-2/3)) in units of
    sigma_np/n), so the mean is off by O(n^(-4/3)).
    Source: Johnstone (2001) Thm 1; Z. Ma, "Accuracy of the Tracy–Widom limits for the extreme eigenvalues in white
    Wishart matrices", Bernoulli 18(1) (2012) (centring with n − 1/2, p − 1/2).
    """
    p = np.asarray(p, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    a, b = np.sqrt(n - 0.5), np.sqrt(p - 0.5)
    mu = (a + b) ** 2
    sigma = (a + b) * (1.0 / a + 1.0 / b) ** (1.0 / 3.0)
    return (mu + sigma * TW1_MEAN) / n


# ----------------------------------------------------------------------------------------------------------------
# Simulators (JAX)
# ----------------------------------------------------------------------------------------------------------------


def simulate_spiked_covariance(key, *, p: int, n: int, ell, dtype=jnp.float64):
    """One data-level draw of the spiked sample covariance: top eigenvalue and squared overlap (the reference).

    Model: v uniform on the unit sphere S^{p−1}; Z ∈ R^{p×n} iid N(0, 1); X = Sigma^{1/2} Z with
    Sigma^{1/2} = I + (sqrt(ell) − 1) v v^T (so columns are iid N(0, I + (ell − 1) v v^T)); S = X X^T / n.
    Eigen-decomposition of the smaller Gram matrix: p <= n: eigh(X X^T / n) (p×p); p > n: eigh(X^T X / n) (n×n)
    and u_hat = X a / ||X a|| for its top eigenvector a.
    Returns {"top_eig": lambda_1(S), "overlap": <u_hat, v>^2} (per trial).
    Arguments: ``key`` a PRNG key; ``p``, ``n`` static Python ints; ``ell`` (≥ 1) a traced scalar; ``dtype``.
    jit with ``jax.jit(simulate_spiked_covariance, static_argnames=("p", "n", "dtype"))``; vmap over keys.
    Compare with ``top_eigenvalue_limit`` / ``overlap_limit`` (p, n → ∞), or in distribution with
    ``simulate_spiked_covariance_tridiagonal``. Source: notes section 4b (MC there: p = 500, n = 1000).
    """
    ell = jnp.asarray(ell, dtype=dtype)
    k_v, k_z = jax.random.split(key)
    v = jax.random.normal(k_v, (p,), dtype=dtype)
    v = v / jnp.linalg.norm(v)
    z = jax.random.normal(k_z, (p, n), dtype=dtype)
    x = z + (jnp.sqrt(ell) - 1.0) * v[:, None] * (v @ z)[None, :]
    if p <= n:
        ev, vec = jnp.linalg.eigh(x @ x.T / n)
        top, u = ev[-1], vec[:, -1]
    else:
        ev, vec = jnp.linalg.eigh(x.T @ x / n)
        top = ev[-1]
        u = x @ vec[:, -1]
        u = u / jnp.linalg.norm(u)
    return {"top_eig": top, "overlap": jnp.dot(u, v) ** 2}


def truncation_rows(p: int, n: int, factor: float = 20.0, minimum: int = 48) -> int:
    """Rows of the top-left block of the tridiagonal model kept by the fast simulator (a static Python int).

    The top eigenvector of the Laguerre tridiagonal model lives on its first O(p^(1/3)) coordinates: near the top
    the matrix is a discrete Laplacian with hopping ~ sqrt(g) in a linear potential whose slope is
    (1+sqrt(g))^2/(sqrt(g) n) per row, so the Airy length is k0 = (p/(1+sqrt(g))^2)^(1/3) rows, and the
    eigenvector decays like exp(−(2/3)(k/k0)^(3/2)) beyond its turning point (Edelman & Persson, "Numerical
    methods for eigenvalue distributions of random matrices" (2005), truncate the tridiagonal models at ~10 n^(1/3)
    rows for the largest eigenvalue). We keep max(minimum, factor·k0) rows (factor 20: at
    p = 1000..64000 the kept block's certificate ``trunc_resid`` was below 1e-17 in 4000 trials per setting, and the
    eigenpair equal to that of a 900-row block to the last bit); if that reaches min(p, n) − 1 the untruncated model
    (min(p, n + 1) rows) is used.
    """
    g = p / n
    k0 = (p / (1.0 + math.sqrt(g)) ** 2) ** (1.0 / 3.0)
    rows = max(minimum, int(math.ceil(factor * k0)))
    return min(p, rows) if rows < min(p, n) - 1 else min(p, n + 1)


def spiked_laguerre_tridiagonal(key, *, p, n, ell, rows: int, dtype=jnp.float64):
    """The first ``rows`` diagonal and ``rows − 1`` off-diagonal entries of a tridiagonal T with the same top
    eigenvalue and e_1-overlap as S = Sigma^{1/2} Z Z^T Sigma^{1/2} / n (Sigma = I + (ell − 1) e_1 e_1^T).

    Derivation (Dumitriu & Edelman, "Matrix models for beta ensembles", J. Math. Phys. 43 (2002),
    arXiv:math-ph/0206043, beta = 1): Householder reflections applied alternately from the right (to row k) and from
    the left (to rows k+1..p) reduce Z to a lower-bidiagonal B, Z = U B V^T, with independent entries
        B_kk = chi_{n−k+1} (k = 1..min(p, n)),   B_{k+1,k} = chi_{p−k} (k = 1..min(p−1, n)).
    The left reflections never touch row 1, so U e_1 = e_1 and U commutes with D = Sigma^{1/2} = diag(sqrt(ell), 1,
    .., 1). Hence S = U (D B B^T D / n) U^T: T = D B B^T D / n has the spectrum of S, and the top eigenvector of S is
    U t, whose overlap with v = e_1 is t_1^2. T is tridiagonal:
        T_kk = (B_kk^2 + B_{k,k−1}^2)/n,   T_{k,k+1} = B_kk B_{k+1,k}/n,   T_11 ← ell T_11,  T_12 ← sqrt(ell) T_12.
    (By rotation invariance the direction of v does not matter.) Only the chi variables of the first ``rows`` rows
    (and the coupling to row rows+1) are drawn: 2·rows chi variates instead of p·n normals. For p > n the rows beyond
    n + 1 are identically zero.
    Arguments: ``rows`` a static int with 2 <= rows <= p (not checked when p is traced); ``p``, ``n`` Python ints or
    traced scalars (only the chi degrees of freedom depend on them); ``ell`` traced.
    Returns (d, e, coupling): d (rows,), e (rows − 1,), and the entry T_{rows, rows+1} (0 if rows >= p).
    """
    ell = jnp.asarray(ell, dtype=dtype)
    p = jnp.asarray(p, dtype=dtype)
    n = jnp.asarray(n, dtype=dtype)
    k_a, k_b = jax.random.split(key)
    m = rows + 1  # one extra row for the coupling to the discarded part
    k = jnp.arange(1, m + 1, dtype=dtype)
    df_a = jnp.where(k <= jnp.minimum(p, n), n - k + 1, 0.0)  # B_kk = chi_{n-k+1}, columns 1..min(p, n)
    df_b = jnp.where(k <= jnp.minimum(p - 1, n), p - k, 0.0)  # B_{k+1,k} = chi_{p-k}, k <= min(p-1, n)
    # chi^2_df = 2 Gamma(df/2) (jax.random.gamma: exact rejection sampler); df = 0 gives exactly 0.
    a = jnp.where(df_a > 0, jnp.sqrt(2.0 * jax.random.gamma(k_a, jnp.maximum(df_a, 1.0) / 2.0, dtype=dtype)), 0.0)
    b = jnp.where(df_b > 0, jnp.sqrt(2.0 * jax.random.gamma(k_b, jnp.maximum(df_b, 1.0) / 2.0, dtype=dtype)), 0.0)
    b_prev = jnp.concatenate([jnp.zeros((1,), dtype), b[:-1]])
    diag = (a**2 + b_prev**2) / n
    off = a * b / n  # off[k-1] = T_{k,k+1}
    diag = diag.at[0].multiply(ell)
    off = off.at[0].multiply(jnp.sqrt(ell))
    return diag[:rows], off[: rows - 1], off[rows - 1]  # off[rows-1] = 0 automatically when rows >= p


UNROLL = 4  # scan unrolling of the Sturm sweep (measured: ~25% faster than 1 on CPU; compile time grows with it)


def top_eigenvalue_tridiagonal(d, e, *, points: int = 63, passes: int = 9):
    """Largest eigenvalue of a symmetric tridiagonal matrix by multisection on positive definiteness.

    z > lambda_max  <=>  z I − T is positive definite  <=>  every pivot of its LDL^T factorisation is positive:
    q_1 = z − d_1, q_k = z − d_k − e_{k−1}^2 / q_{k−1} (the Sturm sequence; backward stable, Kahan 1966).
    Start from the Gershgorin bracket [min_k d_k − r_k, max_k d_k + r_k]; each pass tests ``points`` equispaced
    interior z at once (one vectorised sweep down the rows) and keeps the sub-interval between the largest
    indefinite and the smallest definite point, shrinking the bracket by points + 1. ``passes`` = 9 with
    ``points`` = 63 shrinks it by 2^54, i.e. to the float64 resolution of the bracket's ends. Returns the upper end
    of the final bracket (>= lambda_max up to round-off), so that z − T[1:, 1:] is positive definite there (used by
    ``top_eigenpair_weight``). Pure JAX; O(passes · points · m) work, ``passes · m`` sequential steps.
    """
    dtype = d.dtype
    zero = jnp.zeros((1,), dtype)
    radius = jnp.abs(jnp.concatenate([e, zero])) + jnp.abs(jnp.concatenate([zero, e]))  # Gershgorin radii
    lo, hi = jnp.min(d - radius), jnp.max(d + radius)
    span = jnp.maximum(hi - lo, jnp.finfo(dtype).tiny)
    lo, hi = lo - 1e-12 * span, hi + 1e-12 * span
    frac = jnp.arange(1, points + 1, dtype=dtype) / (points + 1)
    e2 = jnp.concatenate([jnp.zeros((1,), dtype), e**2])  # e2[k] couples row k-1 to row k
    pivmin = jnp.finfo(dtype).tiny * jnp.maximum(1.0, jnp.max(e2)) / jnp.finfo(dtype).eps

    def definite(z):
        def step(carry, de):
            q, ok = carry
            dk, e2k = de
            q = z - dk - e2k / q
            ok = ok & (q > 0)
            q = jnp.where(jnp.abs(q) < pivmin, -pivmin, q)  # keep the recursion finite past a zero pivot
            return (q, ok), None

        (_, ok), _ = jax.lax.scan(step, (jnp.ones_like(z), jnp.ones(z.shape, bool)), (d, e2), unroll=UNROLL)
        return ok

    def one_pass(_, bracket):
        lo, hi = bracket
        z = lo + (hi - lo) * frac
        ok = definite(z)
        new_hi = jnp.min(jnp.where(ok, z, hi))
        new_lo = jnp.max(jnp.where(ok, lo, z))
        return new_lo, new_hi

    lo, hi = jax.lax.fori_loop(0, passes, one_pass, (lo, hi))
    return hi


def top_eigenpair_weight(d, e):
    """Top eigenvalue of a symmetric tridiagonal matrix with positive off-diagonal, the squared first component of
    its unit eigenvector, and the absolute value of its last component.

    lambda: ``top_eigenvalue_tridiagonal`` (multisection on Sturm pivots; equals
    ``jax.scipy.linalg.eigh_tridiagonal`` to round-off, tested).
    Eigenvector by a twisted factorisation of lambda − T (Parlett & Dhillon's MRRR device): forward pivots
    q_1 = lambda − d_1, q_k = lambda − d_k − e_{k−1}^2/q_{k−1}; backward pivots s_m = lambda − d_m,
    s_k = lambda − d_k − e_k^2/s_{k+1}; twist index r = argmin_k |q_k + s_k − (lambda − d_k)|. With t_r = 1 the
    eigen-equations give t_k = t_{k+1} e_k / q_k above r and t_k = t_{k−1} e_{k−1} / s_k below it; every ratio is
    positive (the top eigenvector of a Jacobi matrix is positive, Perron–Frobenius), so the vector is assembled in
    logarithms and normalised with a log-sum-exp: accurate for any location of the eigenvector, including first
    components far below machine epsilon. Pure JAX: two scans and two cumulative sums over the m rows.
    Returns (lambda, t_1^2, |t_m|) for the unit eigenvector t.
    """
    m = d.shape[0]
    lam = top_eigenvalue_tridiagonal(d, e)
    if m == 1:
        return lam, jnp.ones_like(lam), jnp.ones_like(lam)
    tiny = jnp.finfo(d.dtype).tiny
    shift = lam - d  # diagonal of lambda − T

    def fwd(q_prev, xe):
        x, e_prev = xe
        q = x - e_prev**2 / q_prev
        return jnp.maximum(q, tiny), q

    def bwd(s_next, xe):
        x, e_next = xe
        s = x - e_next**2 / s_next
        return jnp.maximum(s, tiny), s

    q0 = jnp.maximum(shift[0], tiny)
    _, q_rest = jax.lax.scan(fwd, q0, (shift[1:], e))
    q = jnp.concatenate([shift[:1], q_rest])
    s_last = jnp.maximum(shift[-1], tiny)
    _, s_rest = jax.lax.scan(bwd, s_last, (shift[:-1], e), reverse=True)
    s = jnp.concatenate([s_rest, shift[-1:]])
    r = jnp.argmin(jnp.abs(q + s - shift))
    log_e = jnp.log(e)
    up = log_e - jnp.log(jnp.maximum(q[:-1], tiny))  # log(t_k / t_{k+1}), k = 0..m−2 (used for k < r)
    down = log_e - jnp.log(jnp.maximum(s[1:], tiny))  # log(t_{k+1} / t_k), k = 0..m−2 (used for k >= r)
    up_cum = jnp.concatenate([jnp.zeros((1,), d.dtype), jnp.cumsum(up)])  # up_cum[k] = sum_{j<k} up_j
    down_cum = jnp.concatenate([jnp.zeros((1,), d.dtype), jnp.cumsum(down)])  # down_cum[k] = sum_{j<k} down_j
    idx = jnp.arange(m)
    log_t = jnp.where(idx < r, up_cum[r] - up_cum, jnp.where(idx > r, down_cum - down_cum[r], 0.0))
    log_norm = jax.scipy.special.logsumexp(2.0 * log_t)
    return lam, jnp.exp(2.0 * log_t[0] - log_norm), jnp.exp(log_t[-1] - 0.5 * log_norm)


def simulate_spiked_covariance_tridiagonal(key, *, p, n, ell, rows: int | None = None, dtype=jnp.float64):
    """One draw of (top eigenvalue, squared overlap) of the spiked sample covariance, sampled at the statistic level.

    Same model and statistics as ``simulate_spiked_covariance`` (the data-level reference), through the exact
    tridiagonal reduction of ``spiked_laguerre_tridiagonal`` truncated to its first ``rows`` rows
    (``truncation_rows(p, n)`` by default; ``rows = min(p, n + 1)`` is the untruncated, exact model).
    Truncation certificate: with (lambda, t) the top eigenpair of the kept block T_r and c = T_{r, r+1}, the vector
    (t, 0) has residual ||(T − lambda)(t, 0)|| = |c t_r| in the full model, so lambda is within |c t_r| of an
    eigenvalue of T (and lambda <= lambda_max(T) by interlacing), and the overlap moves by O(|c t_r|/gap).
    Returned as "trunc_resid" (0 when nothing is cut); a check should refuse trials where it is not tiny.
    Cost: 2·rows chi variates and O(rows) sequential work per multisection pass, against p·n normals and O(p^2 n)
    for the data.
    Returns {"top_eig", "overlap", "trunc_resid"}.
    Arguments: ``key``; ``rows`` a static int (2 <= rows <= p); ``p``, ``n`` static ints when ``rows`` is None,
    otherwise they may be traced scalars (they only set chi degrees of freedom, so one compiled program serves every
    size with the same ``rows``); ``ell`` (≥ 1) traced; ``dtype``.
    """
    if rows is None:
        rows = truncation_rows(int(p), int(n))
    rows = int(rows)
    if rows < 2 or (isinstance(p, (int, np.integer)) and rows > p):
        raise ValueError(f"rows must be in [2, p], got rows={rows}, p={p}")
    d, e, coupling = spiked_laguerre_tridiagonal(key, p=p, n=n, ell=ell, rows=rows, dtype=dtype)
    lam, weight, last = top_eigenpair_weight(d, e)
    return {"top_eig": lam, "overlap": weight, "trunc_resid": jnp.abs(coupling) * last}
