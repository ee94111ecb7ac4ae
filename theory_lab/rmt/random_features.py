"""Mei–Montanari random-features ridge regression: asymptotic test risk (float64) and a JAX simulator.

Setting (notes ``rmt_and_self_consuming_loops.md`` section 4d). Inputs x_j (j ≤ n) and first-layer weights
theta_a (a ≤ N) are iid uniform on the sphere S^{d−1}(sqrt d) of radius sqrt(d). The random features are
sigma(<theta_a, x>/sqrt d) with sigma = ReLU, N = psi1 d and n = psi2 d. Ridge regression on the features:

    a_hat = argmin_a (1/n) sum_j (y_j − sum_a a_a sigma(<theta_a, x_j>/sqrt d))^2 + (N lam / d) ||a||^2,

with y = f(x) + eps, f(x) = <beta, x> + f_NL(x), ||beta||^2 = F1^2, E f_NL^2 = F*^2, Var(eps) = tau^2. The test
risk is R = E_x (f(x) − f_hat(x))^2 over a fresh x (noise excluded).

Source: S. Mei & A. Montanari, "The generalization error of random features regression: Precise asymptotics and
the double descent curve", Comm. Pure Appl. Math. 75(4) (2022), arXiv:1908.05355 — their "formula for the
asymptotic risk" (Definition 1) and main theorem for ridge lam > 0 (Theorem 2 in our recollection; the numbering
and the polynomials E0, E1, E2 are written from memory in the notes, tag [MEM], and are checked here only against
Monte Carlo).

Exactness of the simulator's test risk. ReLU is positively 1-homogeneous, so for Gaussian g ~ N(0, I_d) written as
g = s u sqrt(d) with s = ||g||/sqrt(d) independent of the direction u, every term of (f_lin − f_hat)^2 is
2-homogeneous and E_g[...] = E[s^2] E_sphere[...] with E[s^2] = 1. The population risk over the sphere therefore
equals the Gaussian one, which is closed form (the arc-cosine kernel and Stein's lemma) — no test points, no
test-set noise. The nonlinear target part (F* > 0) is handled the same way with E[s], E[s^3] (see
``simulate_random_features_risk``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import gammaln

from theory_lab.kernels.analytic import activation, kernel_map

__all__ = [
    "relu_coefficients",
    "rf_nu_fixed_point",
    "rf_bias_variance",
    "rf_risk",
    "chi_moments",
    "simulate_random_features_risk",
]


# ----------------------------------------------------------------------------------------------------------------
# Theory (float64 NumPy)
# ----------------------------------------------------------------------------------------------------------------


def relu_coefficients() -> tuple[float, float, float]:
    """Hermite coefficients of ReLU under G ~ N(0, 1): (mu0, mu1, mu_star).

    Formula: mu0 = E sigma(G) = 1/sqrt(2 pi);  mu1 = E[G sigma(G)] = 1/2;
             mu_star^2 = E sigma(G)^2 − mu0^2 − mu1^2 = 1/2 − 1/(2 pi) − 1/4 = 1/4 − 1/(2 pi).
    Only zeta = mu1/mu_star and lam_bar = lam/mu_star^2 enter the limiting risk; mu0 does not.
    Source: Mei & Montanari arXiv:1908.05355 (definition of mu0, mu1, mu_star); notes section 4d.
    """
    mu0 = 1.0 / math.sqrt(2.0 * math.pi)
    mu1 = 0.5
    mu_star = math.sqrt(0.25 - 1.0 / (2.0 * math.pi))
    return mu0, mu1, mu_star


def rf_nu_fixed_point(xi, psi1, psi2, zeta, *, damping: float = 0.5, tol: float = 1e-13, max_iter: int = 200_000):
    """The Stieltjes-type pair (nu1, nu2) ∈ C_+^2 of the random-features Gram matrix, by damped iteration.

    Equations (complex, float64):
        nu1 = psi1 / ( −xi − nu2 − zeta^2 nu2 / (1 − zeta^2 nu1 nu2) )
        nu2 = psi2 / ( −xi − nu1 − zeta^2 nu1 / (1 − zeta^2 nu1 nu2) )
    solved from nu_k = i psi_k / |xi| (their large-|xi| behaviour) with the update nu <- (1 − w) nu + w F(nu),
    w = ``damping``, until max |F(nu) − nu| <= tol (1 + |nu|). For xi = i s (s > 0, the only case the risk needs)
    both nu_k stay on the positive imaginary axis and chi = nu1 nu2 is real and negative.
    Symbols: xi ∈ C_+ spectral argument, psi1 = N/d, psi2 = n/d, zeta = mu1/mu_star.
    Vectorised: broadcasts xi, psi1, psi2, zeta. Raises RuntimeError (naming the worst point) if the iteration has
    not converged in ``max_iter`` steps or left C_+.
    Source: Mei & Montanari arXiv:1908.05355, Definition 1 [MEM in the notes]; notes section 4d.
    """
    xi = np.asarray(xi, dtype=np.complex128)
    psi1 = np.asarray(psi1, dtype=np.float64)
    psi2 = np.asarray(psi2, dtype=np.float64)
    zeta = np.asarray(zeta, dtype=np.float64)
    xi, psi1, psi2, zeta = np.broadcast_arrays(xi, psi1, psi2, zeta)
    if np.any(xi.imag <= 0):
        raise ValueError("rf_nu_fixed_point needs Im(xi) > 0")
    z2 = zeta**2
    nu1 = 1j * psi1 / np.abs(xi)
    nu2 = 1j * psi2 / np.abs(xi)

    def update(n1, n2):
        c = 1.0 - z2 * n1 * n2
        f1 = psi1 / (-xi - n2 - z2 * n2 / c)
        f2 = psi2 / (-xi - n1 - z2 * n1 / c)
        return f1, f2

    err = np.inf
    for _ in range(max_iter):
        f1, f2 = update(nu1, nu2)
        err_each = np.maximum(np.abs(f1 - nu1) / (1 + np.abs(nu1)), np.abs(f2 - nu2) / (1 + np.abs(nu2)))
        err = float(np.max(err_each)) if err_each.size else 0.0
        nu1 = (1.0 - damping) * nu1 + damping * f1
        nu2 = (1.0 - damping) * nu2 + damping * f2
        if err <= tol:
            break
    if not err <= tol or np.any(nu1.imag <= 0) or np.any(nu2.imag <= 0):
        raise RuntimeError(f"rf_nu_fixed_point did not converge (residual {err:.3g} after {max_iter} steps)")
    return nu1, nu2


def _e_polynomials(chi, psi1, psi2, zeta):
    """E0, E1, E2 of the notes (section 4d), as polynomials in chi and z = zeta."""
    z = zeta
    p12 = psi1 * psi2
    e0 = (-(chi**5) * z**6 + 3 * chi**4 * z**4 + (p12 - psi2 - psi1 + 1) * chi**3 * z**6 - 2 * chi**3 * z**4
          - 3 * chi**3 * z**2 + (psi1 + psi2 - 3 * p12 + 1) * chi**2 * z**4 + 2 * chi**2 * z**2 + chi**2
          + 3 * p12 * chi * z**2 - p12)
    e1 = psi2 * chi**3 * z**4 - psi2 * chi**2 * z**2 + p12 * chi * z**2 - p12
    e2 = (chi**5 * z**6 - 3 * chi**4 * z**4 + (psi1 - 1) * chi**3 * z**6 + 2 * chi**3 * z**4 + 3 * chi**3 * z**2
          + (-psi1 - 1) * chi**2 * z**4 - 2 * chi**2 * z**2 - chi**2)
    return e0, e1, e2


def rf_bias_variance(psi1, psi2, lam, zeta=None, mu_star=None):
    """Limiting bias and variance factors (B, V) of random-features ridge regression.

    Formula: lam_bar = lam / mu_star^2, xi = i sqrt(psi1 psi2 lam_bar), (nu1, nu2) = ``rf_nu_fixed_point(xi, ...)``,
    chi = nu1 nu2, and with z = zeta:
        E0 = −chi^5 z^6 + 3 chi^4 z^4 + (psi1 psi2 − psi2 − psi1 + 1) chi^3 z^6 − 2 chi^3 z^4 − 3 chi^3 z^2
             + (psi1 + psi2 − 3 psi1 psi2 + 1) chi^2 z^4 + 2 chi^2 z^2 + chi^2 + 3 psi1 psi2 chi z^2 − psi1 psi2
        E1 = psi2 chi^3 z^4 − psi2 chi^2 z^2 + psi1 psi2 chi z^2 − psi1 psi2
        E2 = chi^5 z^6 − 3 chi^4 z^4 + (psi1 − 1) chi^3 z^6 + 2 chi^3 z^4 + 3 chi^3 z^2 + (−psi1 − 1) chi^2 z^4
             − 2 chi^2 z^2 − chi^2
        B = E1 / E0,  V = E2 / E0   (real: chi is real for purely imaginary xi).
    Symbols: psi1 = N/d, psi2 = n/d, lam > 0 the ridge of the (N lam/d)||a||^2 penalty, zeta = mu1/mu_star and
    mu_star default to ReLU's (``relu_coefficients``).
    Assumptions: lam > 0 (the ridgeless limit lam -> 0+ exists away from psi1 = psi2, where V diverges).
    Source: Mei & Montanari arXiv:1908.05355, Definition 1 / main theorem [MEM]; notes section 4d.
    Vectorised; returns float64 arrays (B, V).
    """
    _, mu1, mu_s = relu_coefficients()
    if mu_star is None:
        mu_star = mu_s
    if zeta is None:
        zeta = mu1 / mu_s
    lam = np.asarray(lam, dtype=np.float64)
    if np.any(lam <= 0):
        raise ValueError("rf_bias_variance needs lam > 0")
    psi1 = np.asarray(psi1, dtype=np.float64)
    psi2 = np.asarray(psi2, dtype=np.float64)
    lam_bar = lam / mu_star**2
    xi = 1j * np.sqrt(psi1 * psi2 * lam_bar)
    nu1, nu2 = rf_nu_fixed_point(xi, psi1, psi2, zeta)
    chi = nu1 * nu2
    e0, e1, e2 = _e_polynomials(chi, psi1, psi2, np.asarray(zeta, dtype=np.float64))
    return np.real(e1 / e0), np.real(e2 / e0)


def rf_risk(psi1, psi2, lam, f1=1.0, tau=0.5, f_star=0.0, zeta=None, mu_star=None):
    """Limiting test risk of random-features ridge regression (ReLU features by default).

    Formula: R = F1^2 B + (tau^2 + F*^2) V + F*^2, with (B, V) = ``rf_bias_variance(psi1, psi2, lam)``.
    Symbols: psi1 = N/d, psi2 = n/d, lam > 0 ridge (penalty (N lam / d)||a||^2 on the (1/n)-normalised square loss),
    F1 = ||beta|| (linear part of the target), tau^2 = noise variance, F*^2 = E f_NL^2 (nonlinear part, which
    random features with N, n ∝ d cannot learn: it acts as extra noise and adds its own F*^2).
    R = E_x (f(x) − f_hat(x))^2 over a fresh input (the noise is not counted).
    Assumptions: x, theta uniform on S^{d−1}(sqrt d); N, n, d → ∞ with N/d → psi1, n/d → psi2; lam > 0.
    Source: Mei & Montanari arXiv:1908.05355 [MEM]; notes section 4d [MC] (ReLU, F1 = 1, tau = 0.5, F* = 0:
    (psi1, psi2, lam) = (2, 3, 0.1) -> 0.4449; (1, 1, 0.01) -> 1.8733; (3, 1.5, 0.01) -> 0.6278;
    (0.5, 2, 1e-3) -> 0.9812; (2, 2, 1e-3) -> 2.167).
    Vectorised (broadcasts all arguments).
    """
    b, v = rf_bias_variance(psi1, psi2, lam, zeta=zeta, mu_star=mu_star)
    f1 = np.asarray(f1, dtype=np.float64)
    tau = np.asarray(tau, dtype=np.float64)
    fs = np.asarray(f_star, dtype=np.float64)
    return f1**2 * b + (tau**2 + fs**2) * v + fs**2


# ----------------------------------------------------------------------------------------------------------------
# Simulator (JAX)
# ----------------------------------------------------------------------------------------------------------------

#: E[sigma(G) G^2] for ReLU and G ~ N(0, 1): E[G^3; G > 0] = sqrt(2/pi).
_RELU_G2 = math.sqrt(2.0 / math.pi)
#: E[sigma(G)] for ReLU: 1/sqrt(2 pi).
_RELU_MEAN = 1.0 / math.sqrt(2.0 * math.pi)
_RELU = activation("relu")


def chi_moments(d: int) -> tuple[float, float]:
    """(E s, E s^3) for s = ||g|| / sqrt(d), g ~ N(0, I_d) (chi distribution with d degrees of freedom).

    E chi_d = sqrt(2) Gamma((d+1)/2) / Gamma(d/2) and E chi_d^3 = (d + 1) E chi_d, so
    E s = E chi_d / sqrt(d) and E s^3 = (d + 1) E chi_d / d^(3/2). (E s^2 = 1.)
    """
    e_chi = math.sqrt(2.0) * math.exp(gammaln((d + 1) / 2.0) - gammaln(d / 2.0))
    return e_chi / math.sqrt(d), (d + 1) * e_chi / d**1.5


def _to_sphere(g):
    """Rows of a standard normal matrix g (rows, d) mapped to iid uniform points on the sphere of radius sqrt(d)."""
    return g * (math.sqrt(g.shape[-1]) / jnp.linalg.norm(g, axis=-1, keepdims=True))


def _arccos_kernel(rho):
    """E[relu(u) relu(v)] for standard Gaussians u, v with correlation rho (arc-cosine kernel of degree 1):
    (sqrt(1 − rho^2) + (pi − arccos rho) rho) / (2 pi). At rho = 1 it is 1/2 = E relu(G)^2. The kernels family's
    closed form (:func:`theory_lab.kernels.analytic.kernel_map`, the one JAX implementation) at unit variances."""
    return kernel_map(_RELU, 1.0, 1.0, rho)[0]


def simulate_random_features_risk(key, *, d: int, N: int, n: int, lam, f1=1.0, tau=0.5, f_star=0.0,
                                  dtype=jnp.float64):
    """One Monte-Carlo draw of the test risk of random-features ridge regression with ReLU features.

    Model (Mei & Montanari arXiv:1908.05355; notes section 4d): x_j (j ≤ n) and theta_a (a ≤ N) iid uniform on
    S^{d−1}(sqrt d); features Z_ja = relu(<theta_a, x_j>/sqrt d); target f(x) = <beta, x> + f_NL(x) with
    beta = F1 u, u uniform on the unit sphere, and f_NL(x) = F* (x^T G x − tr G) / c_G, G = (A + A^T)/2, A with iid
    N(0, 1) entries (a random degree-2 polynomial whose law is rotation invariant, with no degree-0/1 component, as
    the theorem's nonlinear part assumes; the paper takes a centred isotropic Gaussian process),
    c_G^2 = 2 (d tr G^2 − (tr G)^2)/(d + 2) the exact variance of x^T G x on
    the sphere, so that E_x f_NL^2 = F*^2 and E_x[f_NL x] = 0 for every G; y_j = f(x_j) + tau eps_j, eps ~ N(0, I_n).
    Estimator: a_hat = argmin (1/n)||y − Z a||^2 + (N lam/d)||a||^2 = (Z^T Z + r I_N)^{-1} Z^T y, r = n N lam / d,
    solved by Cholesky on the smaller Gram matrix (N ≤ n: the N×N one; N > n: a_hat = Z^T (Z Z^T + r I_n)^{-1} y).
    Test risk, exactly (no test points): R = E_x (f(x) − f_hat(x))^2 over x uniform on S^{d−1}(sqrt d), with
    f_hat(x) = sum_a a_a relu(<theta_a, x>/sqrt d). By the 1-homogeneity of ReLU, for g ~ N(0, I_d) = s sqrt(d) u
    (s = ||g||/sqrt d independent of u uniform on the unit sphere) E_g[h(g)] = E[s^k] E_sphere[h] for a
    k-homogeneous h, which gives every term in closed form:
        E f_lin^2 = F1^2,  E f_NL^2 = F*^2,  E f_lin f_NL = 0 (odd),
        E f_hat^2 = a^T K a,   K_ab = kappa(<theta_a, theta_b>/d),  kappa the degree-1 arc-cosine kernel,
        E f_lin f_hat = a^T b, b_a = <theta_a, beta> / (2 sqrt d)   (Stein: E[relu(t) w] = Cov(t, w)/2),
        E f_NL f_hat = (F*/c_G) sum_a a_a ( [sqrt(2/pi) q_a + (tr G − q_a)/sqrt(2 pi)] / E s^3
                                            − tr G / (sqrt(2 pi) E s) ),   q_a = theta_a^T G theta_a / d,
    (``chi_moments``), and R = F1^2 + F*^2 + a^T K a − 2 a^T b − 2 E f_NL f_hat.
    Returns {"risk": scalar R} for this trial (no averaging over trials).
    Arguments: ``key`` a PRNG key; ``d``, ``N``, ``n`` static Python ints (shapes); ``lam`` (> 0), ``f1``, ``tau``,
    ``f_star`` traced scalars (vmappable); ``dtype`` a float dtype (float64 for CPU checks).
    jit with ``jax.jit(simulate_random_features_risk, static_argnames=("d", "N", "n", "dtype"))``.
    Compare with ``rf_risk(N/d, n/d, lam, f1, tau, f_star)``.
    """
    lam = jnp.asarray(lam, dtype=dtype)
    f1 = jnp.asarray(f1, dtype=dtype)
    tau = jnp.asarray(tau, dtype=dtype)
    f_star = jnp.asarray(f_star, dtype=dtype)
    # One normal draw, sliced: a single threefry call compiles several times faster than five.
    sizes = (n * d, N * d, d, d * d, n)
    flat = jax.random.normal(key, (sum(sizes),), dtype=dtype)
    g_x, g_t, u, a_flat, eps = jnp.split(flat, np.cumsum(sizes)[:-1].tolist())
    x = _to_sphere(g_x.reshape(n, d))
    theta = _to_sphere(g_t.reshape(N, d))
    beta = f1 * u / jnp.linalg.norm(u)
    a_mat = a_flat.reshape(d, d)
    g_mat = 0.5 * (a_mat + a_mat.T)
    tr_g = jnp.trace(g_mat)
    c_g = jnp.sqrt(2.0 * (d * jnp.sum(g_mat * g_mat) - tr_g**2) / (d + 2.0))
    f_nl = f_star * (jnp.einsum("jk,kl,jl->j", x, g_mat, x) - tr_g) / c_g
    y = x @ beta + f_nl + tau * eps

    z = jax.nn.relu(x @ theta.T / math.sqrt(d))  # (n, N)
    r = n * N * lam / d
    if N <= n:
        gram = z.T @ z + r * jnp.eye(N, dtype=dtype)
        a_hat = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(gram, lower=True), z.T @ y)
    else:
        gram = z @ z.T + r * jnp.eye(n, dtype=dtype)
        a_hat = z.T @ jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(gram, lower=True), y)

    kern = _arccos_kernel(theta @ theta.T / d)
    b = theta @ beta / (2.0 * math.sqrt(d))
    e_s, e_s3 = chi_moments(d)
    q = jnp.einsum("ak,kl,al->a", theta, g_mat, theta) / d
    nl_feat = (_RELU_G2 * q + _RELU_MEAN * (tr_g - q)) / e_s3 - _RELU_MEAN * tr_g / e_s
    cross_nl = f_star / c_g * (a_hat @ nl_feat)
    risk = f1**2 + f_star**2 + a_hat @ (kern @ a_hat) - 2.0 * (a_hat @ b) - 2.0 * cross_nl
    return {"risk": risk}
