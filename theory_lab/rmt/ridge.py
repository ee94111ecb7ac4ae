"""Ridge and ridgeless (min-norm) least squares with isotropic Gaussian features: theory and a JAX simulator.

Setting (notes ``rmt_and_self_consuming_loops.md`` section 4c): rows x_i ~ N(0, I_p) of X ∈ R^{n×p},
y = X beta + eps with ||beta||^2 = r2 and eps ~ N(0, sigma2 I_n), gamma = p/n. The (excess) risk is
R = E_x[(x^T(beta_hat − beta))^2] = ||beta_hat − beta||^2.

Sources: T. Hastie, A. Montanari, S. Rosset, R. J. Tibshirani, "Surprises in High-Dimensional Ridgeless Least
Squares Interpolation", Ann. Statist. 50(2) (2022), arXiv:1903.08560 (isotropic min-norm risk: their first main
theorem, Sec. 3; ridge: their Sec. on regularization); E. Dobriban & S. Wager, "High-dimensional asymptotics of
prediction: ridge regression and classification", Ann. Statist. 46(1) (2018), arXiv:1507.03003 (ridge risk
through the MP Stieltjes transform). Theorem numbers were not re-checked against the PDFs; the formulas are
checked numerically (notes section 4c reference numbers and Monte Carlo in ``tests/test_ridge.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .marchenko_pastur import mp_stieltjes, mp_stieltjes_derivative

__all__ = [
    "ridgeless_risk",
    "ridgeless_risk_finite",
    "ridge_risk",
    "simulate_ridge_risk",
]


# ----------------------------------------------------------------------------------------------------------------
# Theory (float64 NumPy)
# ----------------------------------------------------------------------------------------------------------------


def ridgeless_risk(gamma, r2, sigma2):
    """Limiting risk of min-norm least squares with isotropic features (HMRT).

    Formula: R = sigma2 gamma / (1 − gamma)                      for gamma < 1 (bias 0, variance only),
             R = r2 (1 − 1/gamma) + sigma2 / (gamma − 1)         for gamma > 1,
             R = +inf                                            at gamma = 1 (interpolation peak).
    Symbols: gamma = p/n, r2 = ||beta||^2, sigma2 = noise variance; R = ||beta_hat − beta||^2.
    Assumptions: x ~ N(0, I_p) (any iid isotropic design with enough moments), p, n → ∞, p/n → gamma.
    Source: Hastie, Montanari, Rosset & Tibshirani, arXiv:1903.08560, isotropic-features theorem (Sec. 3);
    notes section 4c [MC] (r2 = 1, sigma2 = 0.25: 0.25 / 2.25 / 0.8333 / 0.7917 at gamma = 0.5 / 0.9 / 1.5 / 3).
    Vectorised (broadcasts gamma, r2, sigma2).
    """
    g = np.asarray(gamma, dtype=np.float64)
    r2 = np.asarray(r2, dtype=np.float64)
    s2 = np.asarray(sigma2, dtype=np.float64)
    g, r2, s2 = np.broadcast_arrays(g, r2, s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        under = s2 * g / (1.0 - g)
        over = r2 * (1.0 - 1.0 / g) + s2 / (g - 1.0)
    return np.where(g < 1.0, under, np.where(g > 1.0, over, np.inf))


def ridgeless_risk_finite(n, p, r2, sigma2):
    """Exact finite-sample expected risk E||beta_hat − beta||^2 of min-norm least squares, Gaussian design.

    Formula: p < n − 1:  R = sigma2 · p / (n − p − 1)                    (E tr (X^T X)^{-1}, inverse Wishart mean)
             p > n + 1:  R = r2 (1 − n/p) + sigma2 · n / (p − n − 1)     (bias ||(I − P_row(X)) beta||^2 has mean
                                                                         r2 (p − n)/p; variance E tr (X X^T)^{-1})
             otherwise (|p − n| ≤ 1): +inf (the inverse-Wishart mean does not exist).
    Symbols: n samples, p features (ints), r2 = ||beta||^2, sigma2 = noise variance.
    Assumptions: rows of X iid N(0, I_p), eps ~ N(0, sigma2 I_n) independent of X; beta fixed (or independent of X).
    Uses E[W^{-1}] = I/(m − d − 1) for W ~ Wishart_d(m, I), and rotation invariance of the row space of X.
    Source: derived here (standard inverse-Wishart mean, e.g. Muirhead 1982, Thm 3.2.12); tends to
    ``ridgeless_risk(p/n, ...)`` as n, p → ∞. Monte-Carlo check in tests/test_ridge.py.
    Vectorised over n, p, r2, sigma2.
    """
    n = np.asarray(n, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    r2 = np.asarray(r2, dtype=np.float64)
    s2 = np.asarray(sigma2, dtype=np.float64)
    n, p, r2, s2 = np.broadcast_arrays(n, p, r2, s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        under = s2 * p / (n - p - 1.0)
        over = r2 * (1.0 - n / p) + s2 * n / (p - n - 1.0)
    return np.where(p < n - 1.0, under, np.where(p > n + 1.0, over, np.inf))


def ridge_risk(gamma, lam, r2, sigma2):
    """Limiting risk of ridge regression with isotropic features, via the MP Stieltjes transform.

    Estimator: beta_hat = (X^T X/n + lam I)^{-1} X^T y / n.
    Formula (lam > 0):  R(lam) = r2 lam^2 m'(−lam) + sigma2 gamma [ m(−lam) − lam m'(−lam) ],
        m(−lam) = ∫ dmu_gamma(x)/(x + lam), m'(−lam) = ∫ dmu_gamma(x)/(x + lam)^2, mu_gamma the MP law of ratio gamma
        INCLUDING its zero atom (``mp_stieltjes``, ``mp_stieltjes_derivative``). First term = bias, second = variance.
    lam = 0 delegates to ``ridgeless_risk`` (the lam → 0+ limit).
    Symbols: gamma = p/n, lam ≥ 0 ridge penalty, r2 = ||beta||^2, sigma2 = noise variance.
    Assumptions: x ~ N(0, I_p), beta independent of X (or isotropic); p, n → ∞ with p/n → gamma.
    Optimum: lam* = sigma2 gamma / r2.
    Source: Dobriban & Wager, arXiv:1507.03003; HMRT arXiv:1903.08560 (regularisation section); notes section 4c
    [MC] (r2 = 1, sigma2 = 0.25: (0.5, 0.1) → 0.1768, (1.5, 0.1) → 0.6056, (1.5, 0.375) → 0.5434).
    Vectorised (broadcasts all arguments).
    """
    g = np.asarray(gamma, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    r2 = np.asarray(r2, dtype=np.float64)
    s2 = np.asarray(sigma2, dtype=np.float64)
    if np.any(lam < 0):
        raise ValueError("ridge_risk needs lam >= 0")
    g, lam, r2, s2 = np.broadcast_arrays(g, lam, r2, s2)
    safe = np.where(lam > 0, lam, 1.0)
    m = mp_stieltjes(safe, g)
    dm = mp_stieltjes_derivative(safe, g)
    ridge = r2 * safe**2 * dm + s2 * g * (m - safe * dm)
    return np.where(lam > 0, ridge, ridgeless_risk(g, r2, s2))


# ----------------------------------------------------------------------------------------------------------------
# Simulator (JAX)
# ----------------------------------------------------------------------------------------------------------------


def simulate_ridge_risk(key, *, n: int, p: int, lam, r2, sigma2, dtype=jnp.float64):
    """One Monte-Carlo draw of the ridge / min-norm least-squares risk ||beta_hat − beta||^2.

    Model: X ∈ R^{n×p} with iid N(0, 1) entries (rows x_i ~ N(0, I_p)); beta = sqrt(r2) u, u uniform on the unit
    sphere S^{p−1}; y = X beta + sqrt(sigma2) eps, eps ~ N(0, I_n).
    Estimator through the eigendecomposition of the smaller Gram matrix, with squared singular values s^2 of X:
        p <= n:  X^T X = V diag(s^2) V^T,  beta_hat = V diag(g(s^2)) V^T X^T y
        p >  n:  X X^T = U diag(s^2) U^T,  beta_hat = X^T U diag(g(s^2)) U^T y
        g(s^2) = 1 / (s^2 + n lam)                for lam > 0   [= (X^TX/n + lam I)^{-1} X^T y/n],
        g(s^2) = 1/s^2 if s > tol else 0          for lam = 0   [min-norm LS, X^+ y],
        tol = max(n, p) · eps_machine(dtype) · max(s)  (numpy.linalg.pinv's default cutoff).
    The branch is chosen with ``jnp.where`` on the traced ``lam``, so one compiled program serves lam = 0 and lam > 0.
    Returns {"risk": scalar ||beta_hat − beta||^2} (per trial; no averaging over trials).
    Arguments: ``key`` a PRNG key; ``n``, ``p`` static Python ints; ``lam`` (≥ 0), ``r2``, ``sigma2`` JAX/Python
    scalars (traced; vmappable); ``dtype`` a float dtype. Works for n < p and n > p.
    jit with ``jax.jit(simulate_ridge_risk, static_argnames=("n", "p", "dtype"))``.
    Compare with ``ridge_risk(p/n, lam, r2, sigma2)`` (asymptotic) or, at lam = 0, ``ridgeless_risk_finite``.
    Source: HMRT arXiv:1903.08560 / notes section 4c.
    """
    lam = jnp.asarray(lam, dtype=dtype)
    r2 = jnp.asarray(r2, dtype=dtype)
    sigma2 = jnp.asarray(sigma2, dtype=dtype)
    k_x, k_b, k_e = jax.random.split(key, 3)
    x = jax.random.normal(k_x, (n, p), dtype=dtype)
    z = jax.random.normal(k_b, (p,), dtype=dtype)
    beta = jnp.sqrt(r2) * z / jnp.linalg.norm(z)
    eps = jax.random.normal(k_e, (n,), dtype=dtype)
    y = x @ beta + jnp.sqrt(sigma2) * eps

    # Spectral decomposition of the smaller Gram matrix (k = min(n, p)): eigh of a k x k matrix is several times
    # faster than a thin SVD on CPU and gives the same estimator. s2 holds the squared singular values of X.
    if p <= n:
        s2, v = jnp.linalg.eigh(x.T @ x)  # X^T X = V diag(s2) V^T
        rhs = v.T @ (x.T @ y)
    else:
        s2, u = jnp.linalg.eigh(x @ x.T)  # X X^T = U diag(s2) U^T
        rhs = u.T @ y
    tol = (max(n, p) * jnp.finfo(dtype).eps * jnp.sqrt(jnp.max(s2))) ** 2
    keep = s2 > tol
    # (X^T X + n lam)^{-1} on the range of X; at lam = 0 the pseudo-inverse (min-norm least squares).
    inv_ridge = 1.0 / (s2 + n * lam)
    inv_pinv = jnp.where(keep, 1.0 / jnp.where(keep, s2, 1.0), 0.0)
    g = jnp.where(lam > 0, inv_ridge, inv_pinv) * rhs
    beta_hat = v @ g if p <= n else x.T @ (u @ g)
    risk = jnp.sum((beta_hat - beta) ** 2)
    return {"risk": risk}
