"""Self-consuming loops on a categorical distribution (next-token model of one context): Seddik et al. 2024.

Source: M. E. A. Seddik, S.-W. Chen, S. Hayou, P. Youssef, M. Debbah, "How Bad is Training on Synthetic Data? A
Statistical Analysis of Language Model Collapse" (COLM 2024, arXiv:2404.05090), section 3 and appendix B; notes
``shared/theory/rmt_and_self_consuming_loops.md`` section 2.

Setting. p = p^(0) is a distribution on k tokens (the true next-token law of one context). A "model" of generation m
is the empirical frequency vector p^(m) of its training tokens (the cross-entropy minimiser of a softmax on one-hot
contexts, eq. (2) of the paper). Diversity statistic sigma_m = ||p^(m)||_2^2 = sum_i (p_i^(m))^2, S_m = E sigma_m.

* **Fully synthetic** (Theorem 1, Proposition 1): p^(m) = Multinomial(n, p^(m-1)) / n for m >= 1 — the neutral
  Wright–Fisher chain with n gene copies; it is absorbed at a Dirac mass ("total collapse").
* **Partially synthetic** (Theorem 2): p^(1) = Multinomial(N, p) / N (N real tokens, drawn once and *reused*), and for
  m >= 2, p^(m) = (N p^(1) + n q^(m)) / (N + n) with q^(m) = Multinomial(n, p^(m-1)) / n fresh synthetic tokens.

Theory is float64 NumPy. Simulators are pure JAX functions of one trial: every generation is one step of a
``lax.scan``; the static arguments (``n``, ``N``, ``m``, ``horizon``) fix array shapes; the initial distribution
``p0`` is a traced array, so the caller may vmap over it. Multinomial draws are exact (``counts_from_probs``):
tokens are drawn by inverse CDF and counted (few draws), or counts are read off sorted uniform spacings (many draws);
a category of weight 0 is never drawn, so collapsed states are exactly absorbing. The caller vmaps over seeds;
simulators return per-trial values.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "FAMILIES",
    "initial_distribution",
    "sum_sq",
    "support_size",
    "expected_sum_sq_fully",
    "collapse_prob_bounds",
    "collapse_time_bounds",
    "fixation_probabilities",
    "collapse_horizon",
    "partial_alpha_beta",
    "expected_sum_sq_partial",
    "partial_closed_form",
    "partial_closed_form_printed",
    "partial_limit",
    "counts_from_probs",
    "counts_by_draws",
    "counts_by_spacings",
    "simulate_fully_synthetic",
    "simulate_partial_synthetic",
]

FAMILIES = ("uniform", "zipf", "dirichlet")


# ----------------------------------------------------------------------------------------------------------------
# Initial distributions and their statistics (float64 NumPy)
# ----------------------------------------------------------------------------------------------------------------


def initial_distribution(family: str, k: int, zipf_a: float = 1.0, dirichlet_a: float = 0.3,
                         dist_seed: int = 0) -> np.ndarray:
    """The initial (true) distribution p^(0) on k tokens, float64, summing to 1.

    * ``uniform``: p_i = 1/k.
    * ``zipf``: p_i = i^(-zipf_a) / sum_j j^(-zipf_a), i = 1..k (a language-like rank-frequency law).
    * ``dirichlet``: one draw from Dirichlet(dirichlet_a, ..., dirichlet_a) with NumPy's ``default_rng(dist_seed)``
      (a fixed, reproducible vector; the notes' MC uses Dirichlet(0.3) on 50 tokens).
    """
    k = int(k)
    if k < 2:
        raise ValueError(f"need k >= 2 tokens, got k={k}")
    if family == "uniform":
        p = np.full(k, 1.0 / k)
    elif family == "zipf":
        w = np.arange(1, k + 1, dtype=np.float64) ** (-float(zipf_a))
        p = w / w.sum()
    elif family == "dirichlet":
        p = np.random.default_rng(int(dist_seed)).dirichlet(np.full(k, float(dirichlet_a)))
    else:
        raise ValueError(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
    return np.asarray(p, dtype=np.float64)


def sum_sq(p) -> float:
    """S_0 = sum_i p_i^2 (the collision probability; 1 - S_0 is the Gini–Simpson diversity / heterozygosity)."""
    p = np.asarray(p, dtype=np.float64)
    return float(np.sum(p * p))


def support_size(p) -> int:
    """s~ = |{i : p_i > 0}|, the support size of Theorem 1."""
    return int(np.count_nonzero(np.asarray(p) > 0))


# ----------------------------------------------------------------------------------------------------------------
# Theorem 1 and Proposition 1 (fully synthetic)
# ----------------------------------------------------------------------------------------------------------------


def expected_sum_sq_fully(m, n: int, s0: float) -> np.ndarray:
    """S_m = E ||p^(m)||_2^2 in the fully synthetic loop (Seddik et al. Theorem 1.1, eq. (6)):

        S_m = 1 - (1 - 1/n)^m (1 - S_0)

    Symbols: m = generation (array-like, >= 0), n = synthetic tokens per generation, S_0 = sum_i p_i^2.
    Why (exact): E[q_i^2 | p] = p_i^2 (1 - 1/n) + p_i / n for q = Mult(n, p)/n, so E[1 - sigma_m] = (1 - 1/n) E[1 -
    sigma_{m-1}] — the Wright–Fisher heterozygosity identity (notes 4e). Assumptions: n >= 1, any p.
    Source: arXiv:2404.05090, Theorem 1 (1). Reference (notes 2.5): uniform on 10 tokens, n = 20: S_1 = 0.1450,
    S_10 = 0.4611, S_50 = 0.9307.
    """
    m = np.asarray(m, dtype=np.float64)
    return 1.0 - (1.0 - 1.0 / n) ** m * (1.0 - float(s0))


def collapse_prob_bounds(m, n: int, s0: float, s_support: int) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on rho_m = P(||p^(m)||_inf = 1) (total collapse by generation m), Theorem 1.2, eq. (7):

        1 - n (1 - S_0)(1 - 1/n)^m  <=  rho_m  <=  1 - (1 - S_0)(1 - 1/n)^m / (1 - 1/s~)

    Symbols: s~ = support size of p. The lower bound is Markov's inequality on 1 - sigma_m (which is >= 2(n-1)/n^2
    >= 1/n whenever p^(m) is not a Dirac mass); it is negative (vacuous) for small m.
    Source: arXiv:2404.05090, Theorem 1 (2); notes 2.2. Returns (lower, upper), float64 arrays.
    """
    m = np.asarray(m, dtype=np.float64)
    decay = (1.0 - 1.0 / n) ** m * (1.0 - float(s0))
    return 1.0 - n * decay, 1.0 - decay / (1.0 - 1.0 / s_support)


def collapse_time_bounds(n: int, s0: float, s_support: int) -> tuple[float, float]:
    """Bounds on E[T], T = inf{t >= 1 : ||p^(t)||_inf = 1}, Theorem 1.3, eq. (8):

        1 + (1 - S_0)(n - 1) / (1 - 1/s~)  <=  E[T]  <=  1 + (1 - S_0) n (n - 1)

    Source: arXiv:2404.05090, Theorem 1 (3); notes 2.2 and 2.5 (p = (.4,.25,.15,.1,.06,.04), n = 15: E[T] = 24.2 by
    MC, bounds [13.4, 156.4] as the notes print them; see ``tests/test_categorical_loops.py``).
    """
    return 1.0 + (1.0 - s0) * (n - 1) / (1.0 - 1.0 / s_support), 1.0 + (1.0 - s0) * n * (n - 1)


def fixation_probabilities(p) -> np.ndarray:
    """P(lim_m p^(m) = delta_i) = p_i (Proposition 1 of arXiv:2404.05090): p^(m)_i is a bounded martingale absorbed
    at 0 or 1, so its limit's mean is p_i. Returns p itself (float64)."""
    return np.asarray(p, dtype=np.float64).copy()


def collapse_horizon(n: int, s0: float, censor: float = 1e-9) -> int:
    """Smallest H with n (1 - S_0)(1 - 1/n)^H <= censor: by Markov's inequality (Theorem 1.2's lower bound),
    P(T > H) <= censor, so simulating H generations censors a trial's collapse time with probability <= censor."""
    if s0 >= 1.0:
        return 1
    h = math.log(censor / (n * (1.0 - s0))) / math.log1p(-1.0 / n)
    return max(1, int(math.ceil(h)))


# ----------------------------------------------------------------------------------------------------------------
# Theorem 2 (partially synthetic, the same N real tokens reused)
# ----------------------------------------------------------------------------------------------------------------


def partial_alpha_beta(N: int, n: int) -> tuple[float, float]:
    """alpha = n / (N + n) (synthetic fraction) and beta = alpha [(1 + 1/N) alpha - 1/N] of Theorem 2.
    [derived] beta = alpha^2 (1 - 1/n): the contraction of E sigma per generation; 0 < beta < alpha < 1."""
    alpha = n / (N + n)
    return alpha, alpha * ((1.0 + 1.0 / N) * alpha - 1.0 / N)


def expected_sum_sq_partial(m_max: int, N: int, n: int, s0: float) -> np.ndarray:
    """Exact S_m = E||p^(m)||_2^2, m = 0..m_max, in the partially synthetic loop (recursion [derived]).

    With nu_i^(m) = E (p_i^(m))^2, q = Mult(n, p^(m-1))/n and p^(m) = (1 - alpha) p^(1) + alpha q (m >= 2):

        E[p_i^(1) p_i^(m)] = nu_i^(1) for all m >= 1   (induction: = (1-alpha) nu^(1) + alpha E[p^(1) p^(m-1)])
        nu_i^(1) = p_i / N + (1 - 1/N) p_i^2
        nu_i^(m) = (1-alpha)^2 nu^(1) + 2 alpha (1-alpha) nu^(1) + alpha^2 [(1 - 1/n) nu_i^(m-1) + p_i / n]
                 = (1-alpha)(1+2alpha) p_i / N + (1 - 1/N)(1 - alpha^2) p_i^2 + beta nu_i^(m-1)

    using alpha^2 / n = alpha (1 - alpha) / N and alpha^2 (1 - 1/n) = beta. Summing over i:
    S_1 = 1/N + (1 - 1/N) S_0 and S_m = (1-alpha)(1+2alpha)/N + (1-1/N)(1-alpha^2) S_0 + beta S_{m-1}, m >= 2.
    Assumptions: N, n >= 1; the N real tokens are drawn once (generation 1) and reused in every generation.
    Source: arXiv:2404.05090 appendix B.3 (proof of Theorem 2), re-derived; notes section 2.3. Reference (notes,
    S_0 = 0.1): N = 50, n = 200 gives S_1 = 0.11800, S_2 = 0.12082, S_5 = 0.12449.
    """
    alpha, beta = partial_alpha_beta(N, n)
    c = (1.0 - alpha) * (1.0 + 2.0 * alpha) / N + (1.0 - 1.0 / N) * (1.0 - alpha * alpha) * s0
    s = np.empty(int(m_max) + 1, dtype=np.float64)
    s[0] = s0
    if m_max >= 1:
        s[1] = 1.0 / N + (1.0 - 1.0 / N) * s0
    for m in range(2, int(m_max) + 1):  # scalar linear recursion (theory side, a handful of steps)
        s[m] = c + beta * s[m - 1]
    return s


def _closed_form(m, N: int, n: int, s0: float, sign: float) -> np.ndarray:
    alpha, beta = partial_alpha_beta(N, n)
    m = np.asarray(m, dtype=np.float64)
    bm = beta**m
    den = 1.0 + (1.0 + 1.0 / N) * alpha
    return ((1.0 / N) * (1.0 + 2.0 * alpha - (1.0 - 1.0 / N) * alpha * bm) / den
            + (1.0 - 1.0 / N) * s0 * (1.0 + alpha + sign * alpha * bm / N) / den)


def partial_closed_form(m, N: int, n: int, s0: float) -> np.ndarray:
    """S_{m+1} in closed form from the recursion of ``expected_sum_sq_partial`` [derived] (m >= 0):

        S_{m+1} = (1/N) [1 + 2alpha - (1 - 1/N) alpha beta^m] / D + (1 - 1/N) S_0 [1 + alpha + alpha beta^m / N] / D,
        D = 1 + (1 + 1/N) alpha.

    It equals S_inf + beta^m (S_1 - S_inf), and gives S_1 = 1/N + (1 - 1/N) S_0 at m = 0.
    Difference from the paper: eq. (9) of arXiv:2404.05090 prints "1 + alpha - (alpha/N) beta^m" in the S_0 term
    (``partial_closed_form_printed``); the recursion gives "+". Notes section 2.3 (erratum).
    """
    return _closed_form(m, N, n, s0, +1.0)


def partial_closed_form_printed(m, N: int, n: int, s0: float) -> np.ndarray:
    """S_{m+1} exactly as printed in Theorem 2, eq. (9), of arXiv:2404.05090 (v1), for m >= 1:

        S_{m+1} = (1/N) [1 + 2alpha - (1 - 1/N) alpha beta^m] / D + (1 - 1/N) S_0 [1 + alpha - (alpha/N) beta^m] / D,
        D = 1 + (1 + 1/N) alpha,   alpha = n/(N+n),   beta = alpha [(1 + 1/N) alpha - 1/N].

    It differs from ``partial_closed_form`` by 2 (1 - 1/N) S_0 alpha beta^m / (N D) (the sign of the last term)."""
    return _closed_form(m, N, n, s0, -1.0)


def partial_limit(N: int, n: int, s0: float) -> float:
    """S_inf = [(1 + 2alpha)/N + (1 - 1/N)(1 + alpha) S_0] / (1 + (1 + 1/N) alpha) (both closed forms agree)."""
    alpha, _ = partial_alpha_beta(N, n)
    return float(((1 + 2 * alpha) / N + (1 - 1 / N) * (1 + alpha) * s0) / (1 + (1 + 1 / N) * alpha))


# ----------------------------------------------------------------------------------------------------------------
# Simulators (pure JAX, one trial)
# ----------------------------------------------------------------------------------------------------------------


#: Above this many draws, ``counts_from_probs`` switches from per-draw scatter to sorted uniform spacings (both exact;
#: the crossover was measured on a 2-core CPU: scatter is faster for tens of draws, spacings for thousands).
SPACINGS_FROM = 256


def _last_positive(w):
    k = w.shape[-1]
    return k - 1 - jnp.argmax((w > 0)[::-1])


def counts_by_draws(key, w, n_draws: int):
    """Exact Multinomial(n_draws, w / sum(w)) counts by drawing every token: n_draws uniforms on [0, sum w) located in
    the cumulative weights (side='right', so a weight-0 category, whose interval is empty, is never hit; the index is
    clipped to the last positive category against rounding at the top end), then counted. The reference sampler."""
    k = w.shape[-1]
    cs = jnp.cumsum(w)
    v = jax.random.uniform(key, (n_draws,), dtype=cs.dtype) * cs[-1]
    idx = jnp.minimum(jnp.searchsorted(cs, v, side="right"), _last_positive(w))
    return jnp.zeros((k,), jnp.int32).at[idx].add(1)


def counts_by_spacings(key, w, n_draws: int):
    """Exact Multinomial(n_draws, w / sum(w)) counts from *sorted* uniforms, without a per-token scatter.

    u_(1) <= ... <= u_(n) are generated directly as normalised partial sums of n+1 standard exponentials (uniform
    order statistics), and count_i = #{u in [t_{i-1}, t_i)} with t = cumsum(w) / sum(w), read off by ``searchsorted``
    of the k thresholds into the sorted u: O(n + k log n). A weight-0 category has an empty interval; the (rounding)
    remainder, u >= t_k, goes to the last positive category."""
    e = jnp.cumsum(jax.random.exponential(key, (n_draws + 1,), dtype=w.dtype))
    u = e[:n_draws] / e[n_draws]
    t = jnp.cumsum(w) / jnp.sum(w)
    below = jnp.searchsorted(u, t, side="left").astype(jnp.int32)
    c = jnp.diff(below, prepend=0)
    return c.at[_last_positive(w)].add(n_draws - below[-1])


def counts_from_probs(key, w, n_draws: int):
    """Exact Multinomial(n_draws, w / sum(w)) counts (int32, shape (k,)) for non-negative weights ``w`` (traced);
    ``n_draws`` static. Uses ``counts_by_draws`` below ``SPACINGS_FROM`` draws, ``counts_by_spacings`` from there
    (same law; tests compare them in distribution)."""
    if n_draws == 0:
        return jnp.zeros(w.shape, jnp.int32)
    if n_draws < SPACINGS_FROM:
        return counts_by_draws(key, w, n_draws)
    return counts_by_spacings(key, w, n_draws)


@functools.partial(jax.jit, static_argnames=("n", "m", "horizon", "dtype"))
def simulate_fully_synthetic(key, p0, *, n: int, m: int, horizon: int = 0, dtype=jnp.float64):
    """One trial of the fully synthetic loop p^(t) = Mult(n, p^(t-1)) / n, t = 1..max(m, horizon).

    Args:
      key: PRNG key. p0: (k,) initial distribution (traced). n: tokens per generation (static). m: generations
        reported (static). horizon: generations simulated for the collapse time and fixation (static; 0 = m); take
        ``collapse_horizon(n, S_0)`` so that censoring is negligible.
    Returns a dict of per-trial values:
      ``sigma`` (m+1,): ||p^(t)||_2^2, t = 0..m; ``collapsed`` (m+1,): 1.0 if ||p^(t)||_inf = 1;
      ``T``: first t >= 1 with ||p^(t)||_inf = 1 (NaN if not collapsed by the horizon — censored);
      ``fixed`` (k,): one-hot of the token fixed at the horizon (all 0 if not collapsed).
    """
    if n < 1 or m < 1:
        raise ValueError(f"need n >= 1 and m >= 1, got n={n}, m={m}")
    h = max(int(m), int(horizon))
    p0 = jnp.asarray(p0, dtype)

    def stats(c):
        q = c.astype(dtype) / n
        return jnp.sum(q * q), (jnp.max(c) == n).astype(dtype)

    def step(c, kk):
        c = counts_from_probs(kk, c.astype(dtype), n)
        return c, stats(c)

    keys = jax.random.split(key, h)
    c1 = counts_from_probs(keys[0], p0, n)
    c_h, (sig, col) = jax.lax.scan(step, c1, keys[1:])
    s1, k1 = stats(c1)
    sig = jnp.concatenate([jnp.stack([jnp.sum(p0 * p0), s1]), sig])[: m + 1]
    col_all = jnp.concatenate([k1[None], col])  # generations 1..h
    col = jnp.concatenate([jnp.zeros((1,), dtype), col_all])[: m + 1]
    done = col_all[-1] > 0
    t_collapse = 1.0 + jnp.sum(1.0 - col_all[:-1])  # absorbing: T = 1 + #{t in 1..h-1 not collapsed}
    return {
        "sigma": sig,
        "collapsed": col,
        "T": jnp.where(done, t_collapse, jnp.nan).astype(dtype),
        "fixed": (c_h == n).astype(dtype),
    }


@functools.partial(jax.jit, static_argnames=("N", "n", "m", "dtype"))
def simulate_partial_synthetic(key, p0, *, N: int, n: int, m: int, dtype=jnp.float64):
    """One trial of the partially synthetic loop (Theorem 2's setting), generations 0..m.

    p^(1) = c / N with c = Mult(N, p0) drawn once; for t >= 2, p^(t) = (c + d_t) / (N + n) with
    d_t = Mult(n, p^(t-1)) (fresh synthetic tokens of the previous model). Static: N, n, m (>= 1).
    Returns ``sigma`` (m+1,): ||p^(t)||_2^2, t = 0..m, and ``l1_drift`` (m+1,): ||p^(t) - p^(1)||_1 (0 for t <= 1
    by convention at t = 0).
    """
    if N < 1 or n < 1 or m < 1:
        raise ValueError(f"need N, n, m >= 1, got N={N}, n={n}, m={m}")
    p0 = jnp.asarray(p0, dtype)
    keys = jax.random.split(key, m)
    c = counts_from_probs(keys[0], p0, N)
    p1 = c.astype(dtype) / N

    def step(prev, kk):
        d = counts_from_probs(kk, prev, n)
        p = (c + d).astype(dtype) / (N + n)
        return p, (jnp.sum(p * p), jnp.sum(jnp.abs(p - p1)))

    _, (sig, drift) = jax.lax.scan(step, p1, keys[1:])
    zero = jnp.zeros((1,), dtype)
    return {
        "sigma": jnp.concatenate([jnp.stack([jnp.sum(p0 * p0), jnp.sum(p1 * p1)]), sig]),
        "l1_drift": jnp.concatenate([zero, zero, drift]),
    }
