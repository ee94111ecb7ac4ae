"""Layerwise effective dimension of the hidden activations of a random ReLU network, and the published claims about it.

Claims under test (Makwana, "Layerwise Effective Dimension Oscillations in Finite Width ReLU Networks",
arXiv:2507.07675, abstract; notes ``theory/kernels_depth_lora.md`` section 6): for a fixed batch of m inputs and
random Gaussian weights, the expected effective dimension of the m x n hidden activation matrix H^l is

    E[EDim(l)] = m [1 - rho^l] + O(e^{-c m}),   rho = 1 - 2/pi,

with "revival peaks" at l_k* ~ (k + 1/2) pi / log(1/rho) of height ~ (1 - e^{-pi/2}) m ~ 0.79 m. The body of the paper
(its definition of EDim, of rho, the tolerance, the n vs m regime) could not be read; the notes (6(b)) point out that
m[1 - rho^l] is strictly increasing (it cannot have peaks), gives EDim(0) = 0 for a full-rank input, and that the
0.79 m "peak" is simply that curve evaluated at l_0*. We implement the claims as printed with rho = 1 - 2/pi.

Standard definitions measured (all on the singular values sigma_1 >= ... of H^l):
  * numerical rank at NumPy's default tolerance: #{sigma_i > sigma_1 max(m, n) eps}  (eps of the dtype);
  * numerical rank at a stated relative tolerance tau: #{sigma_i > tau sigma_1};
  * entropy effective rank (Roy & Vetterli 2007): exp(-sum p_i log p_i), p_i = sigma_i / sum_j sigma_j.

A fact the same data can confirm (exact at any width): with He initialisation W^l_ij ~ N(0, 2/fan_in) and no bias,
E[|h^l|^2 / n | h^{l-1}] = |h^{l-1}|^2 / fan_in, so E[|h^l(x)|^2 / n] = |x|^2 / d for every layer l >= 1
(notes 1(d): "for ReLU with sigma_w^2 = 2, sigma_b = 0 the diagonal is preserved exactly at any width").
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "RHO",
    "claimed_edim",
    "claimed_peak_layers",
    "claimed_peak_height",
    "he_norm",
    "simulate_edim",
]

#: rho = 1 - 2/pi as read in the abstract's formula (1 - 2/pi)^l.
RHO = 1.0 - 2.0 / math.pi


def claimed_edim(layers, m: int, rho: float = RHO) -> np.ndarray:
    """Published E[EDim(l)] = m (1 - rho^l) (arXiv:2507.07675, abstract), float64, vectorised over layers l >= 0."""
    layers = np.asarray(layers, dtype=np.float64)
    return m * (1.0 - rho**layers)


def claimed_peak_layers(k, rho: float = RHO) -> np.ndarray:
    """Published revival-peak depths l_k* = (k + 1/2) pi / log(1/rho), k = 0, 1, ... (1.552, 4.656, 7.760 for
    rho = 1 - 2/pi)."""
    k = np.asarray(k, dtype=np.float64)
    return (k + 0.5) * np.pi / np.log(1.0 / rho)


def claimed_peak_height(m: int) -> float:
    """Published revival-peak height (1 - e^{-pi/2}) m ~ 0.792 m."""
    return (1.0 - math.exp(-math.pi / 2)) * m


def he_norm(layers, x_sq_over_d: float = 1.0, gain: float = 1.0) -> np.ndarray:
    """E[|h^l|^2 / n] for a bias-free He-initialised ReLU net: x_sq_over_d * gain^l with gain = 1 (exact at any width;
    gain != 1 is a wrong variant used as a negative control, e.g. 1.1 for a 10% error in sigma_w^2)."""
    layers = np.asarray(layers, dtype=np.float64)
    return x_sq_over_d * gain**layers


def _dims(s, cols: int, rel_tol, dtype):
    """(NumPy-default rank, rank at relative tol, entropy effective rank) from singular values s (descending)."""
    eps = jnp.finfo(dtype).eps
    smax = s[0]
    rank_np = jnp.sum(s > smax * max(s.shape[0], cols) * eps).astype(dtype)
    rank_tol = jnp.sum(s > rel_tol * smax).astype(dtype)
    total = jnp.sum(s)
    p = s / jnp.where(total > 0, total, 1.0)
    ent = -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.where(p > 0, p, 1.0)), 0.0))
    return rank_np, rank_tol, jnp.where(total > 0, jnp.exp(ent), 0.0)


@functools.partial(jax.jit, static_argnames=("m", "n", "d", "depth", "dtype"))
def simulate_edim(key, *, m: int, n: int, d: int, depth: int, rel_tol, dtype=jnp.float64):
    """Effective dimensions of H^l, l = 0..depth, for one random He-initialised bias-free ReLU MLP on m inputs.

    X in R^{m x d} has iid N(0, 1) entries (H^0 = X), H^l = relu(H^{l-1} W^l) with W^1 in R^{d x n},
    W^l in R^{n x n} (l >= 2), entries N(0, 2/fan_in). Static ints m, n, d, depth; ``rel_tol`` traced.
    Layers run in ``lax.scan``; singular values by a batched SVD of the stacked activations.
    Returns (depth + 1,) arrays: "rank_np", "rank_tol", "erank" (see module docstring) and "sq_norm"
    = mean over the m inputs of |h^l|^2 / width_l.
    """
    if min(m, n, d, depth) < 1:
        raise ValueError(f"m, n, d, depth must be >= 1; got {(m, n, d, depth)}")
    kx, k1, kl = jax.random.split(key, 3)
    rel_tol = jnp.asarray(rel_tol, dtype)
    x = jax.random.normal(kx, (m, d), dtype)
    h1 = jnp.maximum(x @ (jax.random.normal(k1, (d, n), dtype) * math.sqrt(2.0 / d)), 0.0)

    def layer(h, k):
        h = jnp.maximum(h @ (jax.random.normal(k, (n, n), dtype) * math.sqrt(2.0 / n)), 0.0)
        return h, h

    _, hs = jax.lax.scan(layer, h1, jax.random.split(kl, depth - 1))
    hs = jnp.concatenate([h1[None], hs], axis=0)  # (depth, m, n)
    s_in = jnp.linalg.svd(x, compute_uv=False)
    s_h = jnp.linalg.svd(hs, compute_uv=False)  # (depth, min(m, n))
    d0 = _dims(s_in, d, rel_tol, dtype)
    dh = jax.vmap(lambda s: _dims(s, n, rel_tol, dtype))(s_h)
    out = {name: jnp.concatenate([jnp.reshape(a, (1,)), b]) for name, a, b in zip(("rank_np", "rank_tol", "erank"),
                                                                                   d0, dh)}
    out["sq_norm"] = jnp.concatenate([jnp.mean(jnp.sum(x * x, axis=1) / d)[None],
                                      jnp.mean(jnp.sum(hs * hs, axis=2), axis=1) / n])
    return out
