"""Exact learning dynamics of a two-layer (one hidden layer) deep linear network (Saxe, McClelland & Ganguli 2014).

Setting (Saxe, McClelland, Ganguli, "Exact solutions to the nonlinear dynamics of learning in deep linear neural
networks", ICLR 2014, arXiv:1312.6120, section 2; notes ``theory/kernels_depth_lora.md`` section 7.1):
y_hat = W2 W1 x with whitened inputs (Sigma^11 = E[x x^T] = I) and input-output correlation
Sigma^31 = E[y x^T] = U S V^T (modes alpha with singular values s_alpha). Batch gradient descent on the population
loss (1/2) E|y - W2 W1 x|^2 with learning rate lambda is, in continuous time,

    tau dW1/dt = W2^T (Sigma^31 - W2 W1),    tau dW2/dt = (Sigma^31 - W2 W1) W1^T,    tau = 1/lambda.

From a decoupled balanced initialisation W1 = R diag(a0) V^T, W2 = U diag(a0) R^T (R orthogonal) the modes decouple
and each mode strength u_alpha = U_alpha^T W2 W1 V_alpha obeys tau du/dt = 2 u (s - u), solved by the sigmoid

    u(t) = s e^{2 s t/tau} / ( e^{2 s t/tau} - 1 + s/u0 ),

with learning time (from u0 to u_f)  t = (tau / (2 s)) ln[ u_f (s - u0) / (u0 (s - u_f)) ].

Assumptions: whitened inputs, exact decoupled balanced start (u0 = a0^2 > 0), 0 < u0 < s, continuous time (the
simulator's gradient descent at step lambda is the Euler scheme of this flow; t = lambda * steps, tau = 1).
Reference numbers (notes 7.1(d), [NUM]): s = (3, 2, 1, 0.5), u0 = 1e-3, tau = 1: u(2) = (2.94572, 1.19718, 0.05182,
0.00730); t to reach 0.9 s: 1.7005, 2.4494, 4.5520, 8.4098.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["mode_strength", "learning_time", "simulate_deep_linear", "random_orthogonal"]


def mode_strength(t, s, u0: float, tau: float = 1.0, *, rate: float = 2.0) -> np.ndarray:
    """u(t) = s e^{r s t/tau} / (e^{r s t/tau} - 1 + s/u0) with r = ``rate`` (= 2 in the theorem), float64, broadcasting
    t against s. ``rate = 1`` is the misprinted variant (tau du/dt = u(s - u)) used as a negative control.
    Written with e^{-r s t/tau} so it never overflows: u = s / (1 + (s/u0 - 1) e^{-r s t/tau}).
    """
    t = np.asarray(t, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    return s / (1.0 + (s / u0 - 1.0) * np.exp(-rate * s * t / tau))


def learning_time(s, u0: float, frac: float = 0.9, tau: float = 1.0, *, rate: float = 2.0) -> np.ndarray:
    """Time for a mode to grow from u0 to u_f = frac * s: (tau/(r s)) ln[u_f (s - u0) / (u0 (s - u_f))], r = ``rate``.

    Assumes 0 < u0 < u_f < s. Source: Saxe et al. 2014 (arXiv:1312.6120), eq. for the learning time (notes 7.1).
    """
    s = np.asarray(s, dtype=np.float64)
    uf = frac * s
    return tau / (rate * s) * np.log(uf * (s - u0) / (u0 * (s - uf)))


def random_orthogonal(key, n: int, dtype=jnp.float64):
    """A Haar-random n x n orthogonal matrix (QR of a Gaussian matrix with the sign fix)."""
    q, r = jnp.linalg.qr(jax.random.normal(key, (n, n), dtype))
    return q * jnp.sign(jnp.diagonal(r))[None, :]


@functools.partial(jax.jit, static_argnames=("n_in", "n_hidden", "n_out", "steps", "dtype"))
def simulate_deep_linear(key, *, n_in: int, n_hidden: int, n_out: int, steps: int, svals, u0, lr,
                         dtype=jnp.float64):
    """Full-batch gradient descent of W2 W1 on the whitened population loss, from a decoupled balanced start.

    Args: layer sizes ``n_in``, ``n_hidden``, ``n_out`` and the number of GD ``steps`` (static ints); ``svals`` (k,)
    singular values of Sigma^31 (k <= min of the sizes; traced), initial mode strength ``u0`` and learning rate
    ``lr`` (traced scalars). Per trial the bases U (n_out), V (n_in) and R (n_hidden) are Haar-random, so the check
    also tests that the dynamics do not depend on them. Training runs in ``lax.scan``.
    Returns {"u": (steps + 1, k) mode strengths U_a^T W2 W1 V_a at t = lr * step, "offdiag": (steps + 1,) the largest
    |U^T W2 W1 V| entry off the mode diagonal (0 for exact decoupling)}.
    """
    k = svals.shape[0]
    if k > min(n_in, n_hidden, n_out):
        raise ValueError(f"{k} modes need n_in, n_hidden, n_out >= {k}")
    ku, kv, kr = jax.random.split(key, 3)
    U, V, R = random_orthogonal(ku, n_out, dtype), random_orthogonal(kv, n_in, dtype), random_orthogonal(kr, n_hidden,
                                                                                                      dtype)
    svals = jnp.asarray(svals, dtype)
    a0 = jnp.sqrt(jnp.asarray(u0, dtype)) * jnp.ones((k,), dtype)
    lr = jnp.asarray(lr, dtype)
    sigma31 = (U[:, :k] * svals[None, :]) @ V[:, :k].T
    w1 = (R[:, :k] * a0[None, :]) @ V[:, :k].T
    w2 = (U[:, :k] * a0[None, :]) @ R[:, :k].T
    mask = 1.0 - jnp.eye(n_out, n_in, dtype=dtype)[:, :]

    def measure(w1, w2):
        m = U.T @ (w2 @ w1) @ V
        return jnp.diagonal(m)[:k], jnp.max(jnp.abs(m * mask))

    def step(carry, _):
        w1, w2 = carry
        err = sigma31 - w2 @ w1
        w1n = w1 + lr * (w2.T @ err)
        w2n = w2 + lr * (err @ w1.T)
        u, off = measure(w1n, w2n)
        return (w1n, w2n), (u, off)

    u_init, off_init = measure(w1, w2)
    _, (u, off) = jax.lax.scan(step, (w1, w2), None, length=steps)
    return {"u": jnp.concatenate([u_init[None], u]), "offdiag": jnp.concatenate([off_init[None], off])}
