"""Mixing real data into a self-consuming loop: total-variation contraction and accumulation (Fu et al. 2024).

Source: S. Fu, S. Zhang, Y. Wang, X. Tian, D. Tao, "Towards Theoretical Understandings of Self-Consuming Generative
Models" (ICML 2024, PMLR 235:14228-14255, arXiv:2402.11778). The paper bounds TV(p_i, p_data) for generations trained
on mixtures of real and synthetic data, and reports a phase transition: "while the TV distance exhibits an initial
ascent, it declines beyond a threshold point" as the synthetic amount grows. The theorem statements and constants were
not available to us (notes ``shared/theory/rmt_and_self_consuming_loops.md`` section 3.1: abstract only); what is
implemented here is the exact backbone such bounds rest on, [derived] in the notes, with a categorical generator
(model = empirical token frequencies) so that every quantity is computable exactly.

Contraction identity (exact, any distributions P, Q, 0 <= lam <= 1):

    TV(lam P + (1 - lam) Q, P) = (1 - lam) TV(Q, P)         since lam P + (1-lam) Q - P = (1-lam)(Q - P).

Accumulation. Generation j is fitted to n tokens drawn from q_j = lam p_0 + (1 - lam) p_{j-1} (a real token with
probability lam, else a token of the previous model; p_0 = the real law, and generation 1 is fitted to p_0 itself).
With the learning error eps_j := TV(p_j, q_j), the triangle inequality and the identity give, pathwise,

    TV(p_i, p_0) <= eps_i + (1 - lam) TV(p_{i-1}, p_0)  =>  TV(p_i, p_0) <= B_i := sum_{j=1}^{i} (1-lam)^{i-j} eps_j,

and, in expectation, with a declared per-generation error eps >= E[eps_j | q_j]:

    E TV(p_i, p_0) <= eps (1 - (1 - lam)^i) / lam  <  eps / lam     (lam > 0);   <= i eps for lam = 0.

For the empirical law of n tokens from any q on k symbols, E TV(p_hat, q) <= (1/2) sum_i sqrt(q_i (1 - q_i) / n)
<= (1/2) sqrt((k - 1) / n) =: eps_bar(k, n) (Jensen, then Cauchy–Schwarz with sum_i q_i (1 - q_i) <= 1 - 1/k).

Theory is float64 NumPy; simulators are pure JAX (one trial, generations in ``lax.scan``; ``lam`` traced).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab.loops.categorical import counts_from_probs

__all__ = [
    "tv_distance",
    "mixture_tv",
    "accumulated_bound",
    "eps_bar",
    "constant_eps_bound",
    "simulate_mixing_loop",
    "simulate_real_reuse",
]


def tv_distance(p, q) -> np.ndarray:
    """TV(p, q) = (1/2) sum_i |p_i - q_i| over the last axis (float64)."""
    return 0.5 * np.sum(np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64)), axis=-1)


def mixture_tv(lam: float, tv_qp) -> np.ndarray:
    """TV(lam P + (1-lam) Q, P) = (1 - lam) TV(Q, P): the exact contraction identity (Fu et al. 2024's mixing step;
    notes 3.1 [derived])."""
    return (1.0 - float(lam)) * np.asarray(tv_qp, np.float64)


def accumulated_bound(eps, lam: float, shift: int = 0) -> np.ndarray:
    """B_i = sum_{j=1}^{i} (1-lam)^{i-j+shift} eps_j along the last axis (generations 1..i), i.e. the recursion
    B_i = (1-lam) B_{i-1} + (1-lam)^shift eps_i. ``shift=0`` is the bound; ``shift=1`` is the off-by-one misprint
    used as a negative control (the current generation's learning error also contracted)."""
    eps = np.asarray(eps, np.float64)
    out = np.empty_like(eps)
    acc = np.zeros(eps.shape[:-1])
    for i in range(eps.shape[-1]):  # a handful of generations (theory side)
        acc = (1.0 - lam) * acc + (1.0 - lam) ** shift * eps[..., i]
        out[..., i] = acc
    return out


def eps_bar(k: int, n: int) -> float:
    """Declared per-generation learning error eps_bar = (1/2) sqrt((k-1)/n) >= E TV(empirical_n(q), q) for every q on
    k symbols (Jensen + Cauchy–Schwarz, see the module docstring)."""
    return 0.5 * float(np.sqrt((k - 1) / n))


def constant_eps_bound(i, lam: float, eps: float, shift: int = 0) -> np.ndarray:
    """sum_{j=1}^{i} (1-lam)^{i-j+shift} eps = eps (1-lam)^shift (1 - (1-lam)^i) / lam (i eps at lam = 0) < eps/lam.
    ``shift=1`` is the off-by-one negative control."""
    i = np.asarray(i, np.float64)
    if lam == 0.0:
        return eps * i * (1.0 if shift == 0 else 1.0)
    return eps * (1.0 - lam) ** shift * (1.0 - (1.0 - lam) ** i) / lam


@functools.partial(jax.jit, static_argnames=("n", "gens", "dtype"))
def simulate_mixing_loop(key, p0, lam, *, n: int, gens: int, dtype=jnp.float64):
    """One trial of the mixed loop with *fresh* real data: p_j = empirical law of n tokens from
    q_j = lam p0 + (1 - lam) p_{j-1}, j = 1..gens (p_{0} := p0, so q_1 = p0).

    Args: key; p0 (k,) real law (traced); lam: real fraction (traced scalar in [0, 1]); n, gens static.
    Returns per-trial arrays of shape (gens,) for generations 1..gens:
      ``tv``: TV(p_j, p0); ``eps``: TV(p_j, q_j); ``bound``: B_j = sum_{l<=j} (1-lam)^{j-l} eps_l (pathwise upper
      bound on ``tv``); ``bound_shift``: the off-by-one variant (1-lam) B_j.
    """
    p0 = jnp.asarray(p0, dtype)
    lam = jnp.asarray(lam, dtype)

    def step(carry, kk):
        prev, acc = carry
        q = lam * p0 + (1.0 - lam) * prev
        p = counts_from_probs(kk, q, n).astype(dtype) / n
        eps = 0.5 * jnp.sum(jnp.abs(p - q))
        acc = (1.0 - lam) * acc + eps
        tv = 0.5 * jnp.sum(jnp.abs(p - p0))
        return (p, acc), (tv, eps, acc)

    _, (tv, eps, bound) = jax.lax.scan(step, (p0, jnp.zeros((), dtype)), jax.random.split(key, gens))
    return {"tv": tv, "eps": eps, "bound": bound, "bound_shift": (1.0 - lam) * bound}


@functools.partial(jax.jit, static_argnames=("n_real", "m_syn", "gens", "dtype"))
def simulate_real_reuse(key, p0, *, n_real: int, m_syn: tuple, gens: int, dtype=jnp.float64):
    """TV(p_gens, p0) after ``gens`` generations, for each synthetic amount m in ``m_syn``, under two protocols.

    * fixed (real set reused): r = Mult(n_real, p0) drawn once; p_1 = r / n_real; for j >= 2,
      p_j = (r + d_j) / (n_real + m), d_j = Mult(m, p_{j-1}).
    * fresh (new real data each generation): r_j = Mult(n_real, p0) drawn anew; p_1 = r_1 / n_real;
      p_j = (r_j + d_j) / (n_real + m).

    The real draws (r_1 = r and r_j) use the same keys for every m and both protocols (common random numbers), so
    differences between synthetic amounts are paired. m_syn is a static tuple of ints (shapes depend on it); the
    Python loop over it runs at trace time, once per value. Returns ``tv_fixed`` and ``tv_fresh``, shape (len(m_syn),).
    """
    p0 = jnp.asarray(p0, dtype)
    if gens < 1:
        raise ValueError(f"need gens >= 1, got {gens}")
    k_real, k_syn = jax.random.split(key)
    real = jax.vmap(lambda kk: counts_from_probs(kk, p0, n_real))(jax.random.split(k_real, gens))  # (gens, k)
    syn_keys = jax.random.split(k_syn, max(gens - 1, 1))[: gens - 1]
    p1 = real[0].astype(dtype) / n_real
    fresh = jnp.array([False, True])  # the two protocols, vmapped (same keys: paired)

    def final_tv(m: int):
        def run(is_fresh):
            def step(prev, xs):
                kk, r_new = xs
                r = jnp.where(is_fresh, r_new, real[0])
                return (r + counts_from_probs(kk, prev, m)).astype(dtype) / (n_real + m), None

            p_last, _ = jax.lax.scan(step, p1, (syn_keys, real[1:]))
            return 0.5 * jnp.sum(jnp.abs(p_last - p0))

        return jax.vmap(run)(fresh)

    tv = jnp.stack([final_tv(int(m)) for m in m_syn])  # (len(m_syn), 2); trace-time loop over the static amounts
    return {"tv_fixed": tv[:, 0], "tv_fresh": tv[:, 1]}
