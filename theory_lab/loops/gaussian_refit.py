"""1-D Gaussian fit-and-resample loop (model collapse), pure and with a fixed fraction of fresh real data.

Generation t holds a fitted model N(mu_t, s_t^2), started at mu_0 = 0, s_0^2 = 1. Generation t+1 draws n samples
and refits by maximum likelihood:

    mu_{t+1}  = (1/n) sum_i x_i,        s_{t+1}^2 = (1/n) sum_i (x_i - mu_{t+1})^2      (MLE: divide by n).

* **Pure loop** (Shumailov et al. 2023, "The curse of recursion", arXiv:2305.17493): all n samples come from the
  current model N(mu_t, s_t^2). The variance collapses: s_t^2 -> 0 a.s.
* **Mixed loop** (fresh real data; cf. Bertrand et al. 2023, arXiv:2310.00429): n_real samples are fresh draws from
  the real distribution N(mu_0, s_0^2) = N(0, 1) and n_synth = n - n_real come from N(mu_t, s_t^2). For n_real >= 1
  the moments converge to a non-degenerate fixed point (no collapse).

Formulas: ``theory/rmt_and_self_consuming_loops.md`` section 4e. They are [derived] there (and re-derived in the
docstrings below), not quoted from the papers, which treat more general models.

Theory is float64 NumPy/SciPy. Simulators are pure JAX functions, jit-compiled with the shape-changing arguments
(``n``, ``t_max``) and ``dtype`` static; everything else is traced so a caller can vmap over it. The caller vmaps over
seeds; each simulator returns per-trial trajectories at generations 0..t_max, never summaries over trials.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import digamma, polygamma

__all__ = [
    "expected_log_var",
    "var_log_var",
    "expected_mean_drift_sq",
    "expected_var",
    "split_counts",
    "mixed_moments",
    "mixed_fixed_point",
    "simulate_gaussian_refit",
    "simulate_gaussian_refit_fast",
]


# ----------------------------------------------------------------------------------------------------------------
# Theory (float64 NumPy/SciPy)
# ----------------------------------------------------------------------------------------------------------------


def _check_n(n: int) -> int:
    n = int(n)
    if n < 2:
        raise ValueError(f"need n >= 2 samples per generation (the MLE variance of one sample is 0); got n={n}")
    return n


def expected_log_var(t, n: int) -> np.ndarray:
    """E[log s_t^2] for the pure MLE refit loop with s_0^2 = 1.

        E[log s_t^2] = t [ psi((n-1)/2) + log(2/n) ]          (≈ -2t/n for large n)

    Symbols: t = generation (array-like, >= 0), n = samples per generation, psi = digamma.
    Why: c_t := n s_{t+1}^2 / s_t^2 ~ chi^2_{n-1} iid across generations and independent of the past, so
    log s_t^2 = sum_{k<t} log(c_k / n), and E log chi^2_k = psi(k/2) + log 2.
    Assumptions: pure loop (no real data), Gaussian model refit by MLE (divide by n), n >= 2.
    Source: [derived], notes section 4e; the collapse itself is Shumailov et al. 2023 (arXiv:2305.17493).
    Reference: n = 10 gives a drift of -0.2206 per generation.
    """
    n = _check_n(n)
    t = np.asarray(t, dtype=np.float64)
    return t * (digamma((n - 1) / 2.0) + np.log(2.0 / n))


def var_log_var(t, n: int) -> np.ndarray:
    """Var[log s_t^2] for the pure MLE refit loop (any s_0^2).

        Var[log s_t^2] = t psi'((n-1)/2)

    Symbols: t = generation (array-like), n = samples per generation, psi' = trigamma = polygamma(1, .).
    Why: log s_t^2 is a sum of t iid terms log(c_k/n), c_k ~ chi^2_{n-1}, and Var log chi^2_k = psi'(k/2).
    Assumptions: as ``expected_log_var``. Source: [derived], notes section 4e.
    Reference: n = 10 gives 0.2487 t.
    """
    n = _check_n(n)
    t = np.asarray(t, dtype=np.float64)
    return t * polygamma(1, (n - 1) / 2.0)


def expected_var(t, n: int) -> np.ndarray:
    """E[s_t^2] for the pure MLE refit loop with s_0^2 = 1.

        E[s_t^2] = ((n-1)/n)^t

    Why: E[c_t / n] = (n-1)/n and the factors are independent. Note s_t^2 -> 0 a.s. while this mean is carried by
    rare paths at large t (lognormal tails): Monte-Carlo checks should use small t or log-moments.
    Assumptions: pure loop, MLE refit. Source: [derived], notes section 4e (Shumailov et al. 2023, arXiv:2305.17493).
    """
    n = _check_n(n)
    t = np.asarray(t, dtype=np.float64)
    return ((n - 1.0) / n) ** t


def expected_mean_drift_sq(t, n: int) -> np.ndarray:
    """E[(mu_t - mu_0)^2] for the pure MLE refit loop with s_0^2 = 1.

        E[(mu_t - mu_0)^2] = sum_{k<t} E[s_k^2] / n = 1 - ((n-1)/n)^t

    Why: mu_{k+1} - mu_k = s_k z_k / sqrt(n) with z_k ~ N(0,1) independent of the past (a martingale), so the
    squared drift adds up the conditional variances s_k^2 / n. Note E s_t^2 + E (mu_t - mu_0)^2 = 1 for all t.
    Assumptions: pure loop, MLE refit. Source: [derived], notes section 4e.
    """
    return 1.0 - expected_var(t, n)


def split_counts(n: int, real_fraction: float) -> tuple[int, int]:
    """Integer split of n samples into (n_real, n_synth) with n_real = round(real_fraction * n), halves rounded up.

    Rounding is half-up (floor(x + 1/2)), not Python's round-half-to-even, so e.g. n=10, real_fraction=0.25 gives
    n_real = 3. Use this to pick ``n_real`` for ``simulate_gaussian_refit`` so theory and simulation agree.
    """
    n = _check_n(n)
    real_fraction = float(real_fraction)
    if not 0.0 <= real_fraction <= 1.0:
        raise ValueError(f"real_fraction must lie in [0, 1]; got {real_fraction}")
    n_real = int(np.floor(real_fraction * n + 0.5))
    return n_real, n - n_real


def _mixed_coefficients(n: int, real_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(A, b) of the linear recursion x_{t+1} = A x_t + b for x_t = (v_t, d_t), s_0^2 = 1 (see ``mixed_moments``)."""
    n_real, n_synth = split_counts(n, real_fraction)
    a = n_synth / n
    A = np.array([[(1.0 - 1.0 / n) * a, a * (1.0 - a)],
                  [a / n, a * a]], dtype=np.float64)
    b = np.array([(1.0 - 1.0 / n) * (1.0 - a), (1.0 - a) / n], dtype=np.float64)
    return A, b


def mixed_moments(t_max: int, n: int, real_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact (v_t, d_t) = (E s_t^2, E (mu_t - mu_0)^2), t = 0..t_max, for the loop with fresh real data.

    Each generation draws n_real fresh samples from N(mu_0, s_0^2) = N(0, 1) and n_synth = n - n_real from the
    current fit N(mu_t, s_t^2), then refits mean and variance by MLE over all n. With a = n_synth / n (integer counts
    from ``split_counts``):

        v_{t+1} = (1 - 1/n) [ (1-a) s_0^2 + a v_t ] + a (1-a) d_t
        d_{t+1} = a^2 d_t + [ (1-a) s_0^2 + a v_t ] / n,          v_0 = s_0^2 = 1,  d_0 = 0.

    Why: given (mu_t, s_t), mu_{t+1} has mean a mu_t and variance [(1-a) s_0^2 + a s_t^2]/n, and
    E[(1/n) sum x_i^2] = (1-a) s_0^2 + a (s_t^2 + mu_t^2); subtract E mu_{t+1}^2. A consequence: v_t + d_t = s_0^2
    for every t (the second moment about mu_0 is preserved).
    Special case real_fraction = 0 (a = 1): v_t = ((n-1)/n)^t, d_t = 1 - ((n-1)/n)^t, the pure loop.
    Assumptions: Gaussian model, MLE refit, real data N(0, 1), samples independent within and across generations.
    Source: [derived], notes section 4e; the fresh-data setting is that of Bertrand et al. 2023 (arXiv:2310.00429).

    Returns: (v, d), float64 arrays of shape (t_max + 1,).
    """
    t_max = int(t_max)
    if t_max < 0:
        raise ValueError(f"t_max must be >= 0; got {t_max}")
    A, b = _mixed_coefficients(n, real_fraction)
    x = np.empty((t_max + 1, 2), dtype=np.float64)
    x[0] = (1.0, 0.0)
    for t in range(t_max):  # deterministic 2-vector recursion; t_max is small
        x[t + 1] = A @ x[t] + b
    return x[:, 0].copy(), x[:, 1].copy()


def mixed_fixed_point(n: int, real_fraction: float) -> tuple[float, float]:
    """Fixed point (v*, d*) of the mixed-loop recursion of ``mixed_moments``.

        (I - A) (v*, d*)^T = b,     closed form [derived]:  d* = 1 / (n (1 - a^2) + a),   v* = 1 - d*,

    with a = n_synth / n. Solved as the 2x2 linear system for a < 1 (I - A is then non-singular). For a = 1 (no real
    data) the system is singular; we return the limit of the recursion from (v_0, d_0) = (1, 0), which is (0, 1): the
    variance collapses and the squared mean drift tends to s_0^2 (the closed form also gives this).
    Reference: n_real = 5, n_synth = 15 (n = 20, real_fraction = 0.25) gives (0.8947, 0.1053).
    Source: [derived], notes section 4e.
    """
    n = _check_n(n)
    A, b = _mixed_coefficients(n, real_fraction)
    _, n_synth = split_counts(n, real_fraction)
    if n_synth == n:
        return 0.0, 1.0
    v, d = np.linalg.solve(np.eye(2) - A, b)
    return float(v), float(d)


# ----------------------------------------------------------------------------------------------------------------
# Simulators (JAX)
# ----------------------------------------------------------------------------------------------------------------


def _with_generation_zero(log_var: jax.Array, mu: jax.Array, dtype) -> dict[str, jax.Array]:
    """Prepend generation 0 (mu_0 = 0, s_0^2 = 1) to the per-generation trajectories of generations 1..t_max."""
    zero = jnp.zeros((1,), dtype=dtype)
    log_var = jnp.concatenate([zero, log_var])
    mu = jnp.concatenate([zero, mu])
    return {"log_var": log_var, "var": jnp.exp(log_var), "mean_drift_sq": mu * mu}


def _check_static(n: int, t_max: int) -> None:
    _check_n(n)
    if int(t_max) < 0:
        raise ValueError(f"t_max must be >= 0; got {t_max}")


@functools.partial(jax.jit, static_argnames=("n", "t_max", "dtype"))
def simulate_gaussian_refit(key: jax.Array, *, n: int, t_max: int, n_real, dtype=jnp.float64) -> dict[str, jax.Array]:
    """One trial of the data-level Gaussian fit-and-resample loop, pure (n_real = 0) or with fresh real data.

    Generation t+1 draws n samples: the first n_real fresh from N(0, 1) (the real distribution, mu_0 = 0,
    s_0^2 = 1), the other n - n_real from the current fit N(mu_t, s_t^2); it refits by MLE,

        mu_{t+1} = mean_i x_i,      s_{t+1}^2 = mean_i (x_i - mu_{t+1})^2.

    Implementation: n standard normals z_i per generation, and the mask ``arange(n) < n_real`` picks which are real.
    The sample is written in the current model's frame, x_i = mu_t + s_t u_i with u_i = z_i (synthetic) or
    u_i = (z_i - mu_t)/s_t (real), so that mu_{t+1} = mu_t + s_t mean(u) and
    log s_{t+1}^2 = log s_t^2 + log mean((u - mean u)^2). This is the same sample algebraically; it just keeps
    log_var exact (no cancellation against mu_t, no underflow of s_t^2) deep into the collapse.
    Theory: ``expected_log_var``, ``var_log_var``, ``expected_var``, ``expected_mean_drift_sq`` (n_real = 0) and
    ``mixed_moments`` (n_real > 0, with ``split_counts``). Sources: Shumailov et al. 2023 (arXiv:2305.17493),
    Bertrand et al. 2023 (arXiv:2310.00429); notes section 4e.

    Args:
      key: PRNG key (one trial; the caller vmaps over keys).
      n: samples per generation (static, >= 2).
      t_max: number of generations (static, >= 0).
      n_real: fresh real samples per generation, 0 <= n_real <= n. **Traced**, not static: it only enters through
        the mask, so a sweep over it neither recompiles nor changes shapes (it may be vmapped). Values outside
        [0, n] behave as clipped to it.
      dtype: floating dtype of the simulation (static).

    Returns: dict of per-trial trajectories at generations 0..t_max, each of shape (t_max + 1,) and dtype ``dtype``:
      "log_var" = log s_t^2, "var" = s_t^2, "mean_drift_sq" = (mu_t - mu_0)^2. Generation 0 is (0, 1, 0).
    """
    _check_static(n, t_max)
    is_real = jnp.arange(n) < jnp.asarray(n_real)

    def step(carry, k):
        mu, log_s2 = carry
        z = jax.random.normal(k, (n,), dtype=dtype)
        inv_s = jnp.exp(-0.5 * log_s2)
        u = jnp.where(is_real, (z - mu) * inv_s, z)
        u_bar = jnp.mean(u)
        mu_next = mu + jnp.exp(0.5 * log_s2) * u_bar
        dev = u - u_bar
        log_s2_next = log_s2 + jnp.log(jnp.mean(dev * dev))
        return (mu_next, log_s2_next), (mu_next, log_s2_next)

    init = (jnp.zeros((), dtype=dtype), jnp.zeros((), dtype=dtype))
    _, (mu, log_var) = jax.lax.scan(step, init, jax.random.split(key, t_max))
    return _with_generation_zero(log_var, mu, dtype)


@functools.partial(jax.jit, static_argnames=("n", "t_max", "dtype"))
def simulate_gaussian_refit_fast(key: jax.Array, *, n: int, t_max: int, dtype=jnp.float64) -> dict[str, jax.Array]:
    """One trial of the pure Gaussian refit loop (no real data), sampled at the level of the sufficient statistics.

    For a Gaussian sample the MLE mean and variance are independent, with

        n s_{t+1}^2 / s_t^2 ~ chi^2_{n-1} = 2 Gamma((n-1)/2),     mu_{t+1} = mu_t + s_t z / sqrt(n),  z ~ N(0, 1),

    so a generation costs two random numbers instead of n. The chi^2 draw is taken in log space
    (``jax.random.loggamma``), log s_{t+1}^2 = log s_t^2 + log 2 + log G - log n, so log_var never underflows.
    Same distribution and output as ``simulate_gaussian_refit(key, n=n, t_max=t_max, n_real=0)`` (not the same
    random numbers); the test suite compares the two in distribution.
    Assumptions: pure loop, mu_0 = 0, s_0^2 = 1, MLE refit. Source: Cochran's theorem; notes section 4e.

    Args: key (one trial), n (static, >= 2), t_max (static, >= 0), dtype (static).
    Returns: dict "log_var", "var", "mean_drift_sq" of shape (t_max + 1,), generation 0 = (0, 1, 0).
    """
    _check_static(n, t_max)
    shape = jnp.asarray((n - 1) / 2.0, dtype=dtype)
    log_two_over_n = jnp.asarray(np.log(2.0 / n), dtype=dtype)
    inv_sqrt_n = jnp.asarray(1.0 / np.sqrt(n), dtype=dtype)

    def step(carry, k):
        mu, log_s2 = carry
        k_chi, k_z = jax.random.split(k)
        log_g = jax.random.loggamma(k_chi, shape, dtype=dtype)
        z = jax.random.normal(k_z, (), dtype=dtype)
        mu_next = mu + jnp.exp(0.5 * log_s2) * z * inv_sqrt_n
        log_s2_next = log_s2 + log_two_over_n + log_g
        return (mu_next, log_s2_next), (mu_next, log_s2_next)

    init = (jnp.zeros((), dtype=dtype), jnp.zeros((), dtype=dtype))
    _, (mu, log_var) = jax.lax.scan(step, init, jax.random.split(key, t_max))
    return _with_generation_zero(log_var, mu, dtype)
