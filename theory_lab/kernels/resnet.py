"""Neural covariance of residual ReLU networks with 1/sqrt(depth) branches: the width-depth limit (depth ODE).

Model (Hayou & Yang, "Width and Depth Limits Commute in Residual Networks", ICML 2023, arXiv:2302.00453; notes
``theory/kernels_depth_lora.md`` section 2):

    Y_0 = W_in x,                                   W_in in R^{n x d}, entries N(0, 1/d)
    Y_l = Y_{l-1} + L^{-1/2} W_l phi(Y_{l-1}),      W_l in R^{n x n} iid N(0, 1/n),  l = 1..L
    q^{n,L}_l(a, b) = <Y_l(a), Y_l(b)> / n,         depth-time t = l / L in [0, 1].

Claim: whatever path (n, L) -> infinity takes, q^{n,L}_L converges to q_1 where q_t solves the depth ODE

    d q_t(a,b)/dt = E[phi(Z^a) phi(Z^b)],   (Z^a, Z^b) ~ N(0, [[q_t(a,a), q_t(a,b)], [q_t(a,b), q_t(b,b)]]),
    q_0(a,b) = <a, b>/d.

For ReLU (phi = max(0, .)) it is solved in closed form on the diagonal, q_t(a,a) = q_0(a,a) e^{t/2}, and the
correlation c_t = q_t(a,b)/sqrt(q_t(a,a) q_t(b,b)) solves the autonomous ODE

    dc/dt = ( sqrt(1 - c^2) - c arccos c ) / (2 pi)

(derived from the arc-cosine kernel E[phi phi] = sqrt(q_aa q_bb)/(2 pi) (sin th + (pi - th) c), th = arccos c;
notes section 2(b), [NUM]-checked there). No elementary closed form for c_t: it is integrated numerically here
(adaptive RK45, rtol 1e-12).

Infinite width at finite L is the Euler scheme of that ODE with step 1/L (exact: W_l is fresh, so cross terms vanish):
q_l = q_{l-1} + (1/L) E[phi phi](q_{l-1}); its gap to the ODE is O(1/L) and is computed exactly by
:func:`euler_covariance`.

Simulator (notes 2(c)): since W_l is used once, for the two inputs the rows of W_l phi(Y_{l-1}) are iid
N(0, Phi^T Phi / n) given the past (Phi = n x 2 matrix of phi(Y_{l-1})), so each layer draws n x 2 normals and
multiplies by the 2 x 2 Cholesky factor: exact in distribution for every statistic of (Y_l(a), Y_l(b)), O(n) per
layer. :func:`simulate_resnet_naive` builds the n x n matrices and is the reference for tests.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy.integrate import solve_ivp

__all__ = [
    "relu_kernel",
    "corr_rate",
    "ode_correlation",
    "ode_covariance",
    "euler_covariance",
    "simulate_resnet_covariance",
    "simulate_resnet_naive",
]


def relu_kernel(qaa, qbb, qab):
    """E[relu(Z^a) relu(Z^b)] for (Z^a, Z^b) ~ N(0, [[qaa, qab], [qab, qbb]]) (Cho & Saul arc-cosine kernel, degree 1).

        sqrt(qaa qbb) / (2 pi) * ( sin th + (pi - th) c ),   c = qab / sqrt(qaa qbb),  th = arccos c.

    float64 NumPy, broadcasting. Source: notes section 1(b) (neural-tangents ``ABRelu`` with a=0, b=1). The NumPy
    twin of :func:`theory_lab.kernels.analytic.kernel_map` for ReLU, kept in NumPy because the depth ODE's theory
    (SciPy's integrator, many scalar calls) is float64 NumPy whatever JAX's precision.
    """
    qaa, qbb, qab = (np.asarray(v, dtype=np.float64) for v in (qaa, qbb, qab))
    s = np.sqrt(qaa * qbb)
    c = np.clip(qab / s, -1.0, 1.0)
    th = np.arccos(c)
    return s / (2 * np.pi) * (np.sqrt(1 - c * c) + (np.pi - th) * c)


def corr_rate(c, scale: float = 1.0):
    """Right-hand side of the ReLU correlation ODE, dc/dt = scale * (sqrt(1 - c^2) - c arccos c) / (2 pi).

    ``scale = 1`` is the theory (notes 2(b)); other values give misprinted variants (negative controls).
    """
    c = np.clip(np.asarray(c, dtype=np.float64), -1.0, 1.0)
    return scale * (np.sqrt(1 - c * c) - c * np.arccos(c)) / (2 * np.pi)


def ode_correlation(c0: float, t=1.0, *, rate_scale: float = 1.0) -> np.ndarray:
    """c_t of the ReLU depth ODE from c_0, at times ``t`` (scalar or array, t >= 0), float64.

    Integrated with RK45 at rtol = atol = 1e-12. Reference (notes 2(d)): c_0 = 0.5 -> c_1 = 0.550277;
    c_0 = 0 -> 0.141348; c_0 = 0.9 -> 0.904603. Assumes -1 <= c_0 <= 1 (c = 1 is a fixed point).
    """
    c0 = float(c0)
    if not -1.0 <= c0 <= 1.0:
        raise ValueError(f"a correlation must lie in [-1, 1]; got c0={c0}")
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if np.any(t < 0):
        raise ValueError("depth-time t must be >= 0")
    t_end = float(t.max())
    if t_end == 0.0:
        return np.full(t.shape, c0)
    sol = solve_ivp(lambda _, c: corr_rate(c, rate_scale), (0.0, t_end), [c0], t_eval=np.sort(t), rtol=1e-12,
                    atol=1e-12, method="RK45")
    out = np.empty_like(t)
    out[np.argsort(t)] = sol.y[0]
    return out


def ode_covariance(qaa0: float, qbb0: float, qab0: float, t=1.0, *, rate_scale: float = 1.0,
                   var_rate: float = 0.5) -> dict[str, np.ndarray]:
    """Depth-ODE limit q_t = (q_aa, q_bb, q_ab) of the 1/sqrt(L)-branch ReLU resnet at depth-time t (float64).

        q_t(a,a) = q_0(a,a) e^{t/2},  q_t(b,b) = q_0(b,b) e^{t/2},  q_t(a,b) = c_t sqrt(q_t(a,a) q_t(b,b)),

    c_t from :func:`ode_correlation`. Symbols: q_0 = input Gram / d. Assumptions: ReLU, q_0(a,a), q_0(b,b) > 0.
    Source: Hayou & Yang 2023 (arXiv:2302.00453) limit ODE; closed form derived in notes section 2(b).
    Reference: q_0 = (1, 1, 0.5) -> q_1 = (1.648721, 1.648721, 0.907254).
    ``rate_scale`` / ``var_rate`` != (1, 1/2) are wrong variants used as negative controls.
    """
    if qaa0 <= 0 or qbb0 <= 0:
        raise ValueError("input variances must be positive")
    t = np.asarray(t, dtype=np.float64)
    growth = np.exp(var_rate * t)
    c = ode_correlation(qab0 / math.sqrt(qaa0 * qbb0), t, rate_scale=rate_scale).reshape(t.shape)
    qaa, qbb = qaa0 * growth, qbb0 * growth
    return {"qaa": qaa, "qbb": qbb, "qab": c * np.sqrt(qaa * qbb)}


def euler_covariance(qaa0: float, qbb0: float, qab0: float, depth: int) -> dict[str, float]:
    """Infinite-width covariance of the depth-L network: q_l = q_{l-1} + (1/L) E[phi phi](q_{l-1}), l = 1..L (exact).

    This is the Euler scheme of the depth ODE with step 1/L; its distance to :func:`ode_covariance` at t = 1 is the
    O(1/L) depth-discretisation term (notes 2(d): about -0.145/L in q_ab for q_0 = (1, 1, 0.5)).
    """
    q = np.array([qaa0, qbb0, qab0], dtype=np.float64)
    for _ in range(int(depth)):
        k = np.array([relu_kernel(q[0], q[0], q[0]), relu_kernel(q[1], q[1], q[1]), relu_kernel(q[0], q[1], q[2])])
        q = q + k / depth
    return {"qaa": float(q[0]), "qbb": float(q[1]), "qab": float(q[2])}


def _chol2(g11, g22, g12):
    """Lower Cholesky factor entries of a 2 x 2 PSD matrix (zeros where degenerate, e.g. all units dead)."""
    l11 = jnp.sqrt(jnp.maximum(g11, 0.0))
    safe = jnp.where(l11 > 0, l11, 1.0)
    l21 = jnp.where(l11 > 0, g12 / safe, 0.0)
    l22 = jnp.sqrt(jnp.maximum(g22 - l21 * l21, 0.0))
    return l11, l21, l22


@functools.partial(jax.jit, static_argnames=("width", "max_depth", "dtype"))
def simulate_resnet_covariance(key, *, width: int, max_depth: int, depth, qaa0, qbb0, qab0, dtype=jnp.float64):
    """One width-n, depth-L ReLU resnet with 1/sqrt(L) branches on two inputs; returns the final covariance.

    Args: ``width`` n and ``max_depth`` (static Python ints: they fix array shapes); ``depth`` L <= max_depth and the
    input Gram entries ``qaa0, qbb0, qab0`` (= <a,b>/d) are traced scalars, so networks of several depths share one
    compiled program (layers beyond L are masked out; their draws are discarded). Explicit ``key``.
    Sampling: Y_0 rows iid N(0, q_0) (the law of W_in x), then per layer Y_l = Y_{l-1} + L^{-1/2} Z C_l^T with Z an
    n x 2 standard normal block and C_l the Cholesky factor of Phi^T Phi / n (exactly the conditional law of
    W_l phi(Y_{l-1}); see the module docstring). Layers run in ``lax.scan``.
    Returns {"qaa", "qbb", "qab"}: <Y_L(a), Y_L(a)>/n, <Y_L(b), Y_L(b)>/n, <Y_L(a), Y_L(b)>/n, scalars of ``dtype``.
    """
    if width < 1 or max_depth < 1:
        raise ValueError(f"width and max_depth must be >= 1; got width={width}, max_depth={max_depth}")
    qaa0, qbb0, qab0 = (jnp.asarray(v, dtype) for v in (qaa0, qbb0, qab0))
    depth = jnp.asarray(depth, dtype)
    z = jax.random.normal(key, (max_depth + 1, width, 2), dtype)
    l11, l21, l22 = _chol2(qaa0, qbb0, qab0)
    y = jnp.stack([l11 * z[0, :, 0], l21 * z[0, :, 0] + l22 * z[0, :, 1]], axis=1)
    scale = 1.0 / jnp.sqrt(depth)

    def layer(y, xs):
        step, zl = xs
        phi = jnp.maximum(y, 0.0)
        g = phi.T @ phi / width
        c11, c21, c22 = _chol2(g[0, 0], g[1, 1], g[0, 1])
        inc = jnp.stack([c11 * zl[:, 0], c21 * zl[:, 0] + c22 * zl[:, 1]], axis=1)
        return jnp.where(step < depth, y + scale * inc, y), None

    y, _ = jax.lax.scan(layer, y, (jnp.arange(max_depth, dtype=dtype), z[1:]))
    g = y.T @ y / width
    return {"qaa": g[0, 0], "qbb": g[1, 1], "qab": g[0, 1]}


@functools.partial(jax.jit, static_argnames=("width", "depth", "dim", "dtype"))
def simulate_resnet_naive(key, *, width: int, depth: int, dim: int, qaa0, qbb0, qab0, dtype=jnp.float64):
    """Reference data-level simulator: real W_in (n x d) and W_l (n x n) matrices, inputs a, b in R^d with the
    given Gram / d (a, b built from the first two basis vectors). Same outputs as :func:`simulate_resnet_covariance`;
    O(n^2 L) per trial, for tests.
    """
    qaa0, qbb0, qab0 = (jnp.asarray(v, dtype) for v in (qaa0, qbb0, qab0))
    l11, l21, l22 = _chol2(qaa0, qbb0, qab0)
    x = jnp.zeros((dim, 2), dtype)
    x = x.at[0, 0].set(l11 * math.sqrt(dim)).at[0, 1].set(l21 * math.sqrt(dim)).at[1, 1].set(l22 * math.sqrt(dim))
    k0, kl = jax.random.split(key)
    y = (jax.random.normal(k0, (width, dim), dtype) / math.sqrt(dim)) @ x
    scale = 1.0 / math.sqrt(depth)

    def layer(y, k):
        w = jax.random.normal(k, (width, width), dtype) / math.sqrt(width)
        return y + scale * (w @ jnp.maximum(y, 0.0)), None

    y, _ = jax.lax.scan(layer, y, jax.random.split(kl, depth))
    g = y.T @ y / width
    return {"qaa": g[0, 0], "qbb": g[1, 1], "qab": g[0, 1]}
