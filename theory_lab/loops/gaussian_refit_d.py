"""d-dimensional Gaussian fit-and-resample loop (model collapse), pure and with a fixed fraction of fresh real data.

Generation t holds a fitted model N(mu_t, Sigma_t) in R^d, started at mu_0 = 0, Sigma_0 = I_d. Generation t+1 draws
n samples and refits by maximum likelihood:

    mu_{t+1} = (1/n) sum_i x_i,      Sigma_{t+1} = (1/n) sum_i (x_i - mu_{t+1})(x_i - mu_{t+1})^T   (MLE: divide by n).

* **Pure loop** (all n samples from the current fit; Shumailov et al. 2023, arXiv:2305.17493): with the scatter
  factor W_t := n Sigma_t^{-1/2} Sigma_{t+1} Sigma_t^{-1/2} ~ Wishart_d(n - 1, I) iid across generations,
  log det Sigma_t is a random walk with exact drift and variance (sums of digammas / trigammas), and the covariance
  collapses, Sigma_t -> 0 a.s.
* **Mixed loop** (fresh real data; cf. Bertrand et al. 2023, arXiv:2310.00429): n_real fresh samples from the real
  distribution N(0, I) and n_synth = n - n_real from N(mu_t, Sigma_t). By rotation invariance E Sigma_t = v_t I and
  E mu_t mu_t^T = d_t I, where (v_t, d_t) follow exactly the 1-D recursion of
  :func:`theory_lab.loops.gaussian_refit.mixed_moments`; log det Sigma_t stays above a t-independent floor set by the
  real samples alone (no collapse).

Formulas: ``theory/rmt_and_self_consuming_loops.md`` section 4e ("d-dim"), [derived] there and re-derived below.
Theory is float64 NumPy/SciPy. Simulators are pure JAX, jit-compiled with ``d``, ``n``, ``t_max`` and ``dtype``
static and ``n_real`` traced; they return per-trial trajectories at generations 0..t_max.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import digamma, polygamma

from theory_lab.loops import gaussian_refit as _gr

__all__ = [
    "wishart_log_det_mean",
    "wishart_log_det_var",
    "expected_log_det",
    "var_log_det",
    "expected_trace",
    "expected_mean_drift_sq",
    "trace_second_moments",
    "mixed_moments",
    "log_det_floor",
    "log_det_ceiling",
    "simulate_gaussian_refit_d",
    "simulate_gaussian_refit_d_fast",
    "bartlett_factor",
]


# ----------------------------------------------------------------------------------------------------------------
# Theory (float64 NumPy/SciPy)
# ----------------------------------------------------------------------------------------------------------------


def _check_nd(n: int, d: int) -> tuple[int, int]:
    n, d = int(n), int(d)
    if d < 1:
        raise ValueError(f"need dimension d >= 1; got d={d}")
    if n < d + 1:
        raise ValueError(f"need n >= d + 1 samples per generation (else the MLE covariance is singular); "
                         f"got n={n}, d={d}")
    return n, d


def wishart_log_det_mean(k: int, d: int) -> float:
    """E log det W for W ~ Wishart_d(k, I):  sum_{i=1}^d psi((k - i + 1)/2) + d log 2.

    Why (Bartlett): det W = prod_i chi^2_{k-i+1} with independent factors and E log chi^2_m = psi(m/2) + log 2.
    Assumptions: k >= d (W non-singular). Source: Bartlett decomposition (e.g. Muirhead 1982, Thm 3.2.14).
    """
    k, d = int(k), int(d)
    if k < d:
        raise ValueError(f"Wishart log det needs k >= d degrees of freedom; got k={k}, d={d}")
    i = np.arange(1, d + 1)
    return float(np.sum(digamma((k - i + 1) / 2.0)) + d * np.log(2.0))


def wishart_log_det_var(k: int, d: int) -> float:
    """Var log det W for W ~ Wishart_d(k, I):  sum_{i=1}^d psi'((k - i + 1)/2)  (independent Bartlett factors)."""
    k, d = int(k), int(d)
    if k < d:
        raise ValueError(f"Wishart log det needs k >= d degrees of freedom; got k={k}, d={d}")
    i = np.arange(1, d + 1)
    return float(np.sum(polygamma(1, (k - i + 1) / 2.0)))


def expected_log_det(t, n: int, d: int) -> np.ndarray:
    """E[log det Sigma_t] for the pure MLE refit loop with Sigma_0 = I_d.

        E log det Sigma_t = t [ sum_{i=1}^d psi((n - i)/2) + d log(2/n) ]        (≈ -t d(d+3)/(2n) for large n)

    Symbols: t generation (array-like), n samples per generation, d dimension, psi digamma.
    Why: Sigma_{t+1} = Sigma_t^{1/2} (W_t / n) Sigma_t^{1/2} with W_t ~ Wishart_d(n - 1, I) independent of the past
    (Cochran), so log det Sigma_t = sum_{k<t} log det(W_k / n); the Wishart log-det mean has k = n - 1.
    Assumptions: pure loop, Gaussian model refit by MLE, n >= d + 1.
    Source: [derived], notes section 4e ("d-dim"). Reference: d = 5, n = 20 gives -1.1321 per generation.
    """
    n, d = _check_nd(n, d)
    t = np.asarray(t, dtype=np.float64)
    return t * (wishart_log_det_mean(n - 1, d) - d * np.log(n))


def var_log_det(t, n: int, d: int) -> np.ndarray:
    """Var[log det Sigma_t] = t sum_{i=1}^d psi'((n - i)/2) for the pure loop (sum of t iid Wishart log-dets).

    Assumptions and source: as :func:`expected_log_det`; psi' = trigamma.
    """
    n, d = _check_nd(n, d)
    t = np.asarray(t, dtype=np.float64)
    return t * wishart_log_det_var(n - 1, d)


def expected_trace(t, n: int) -> np.ndarray:
    """E[tr Sigma_t] / d = ((n - 1)/n)^t for the pure loop (E W = (n-1) I, factors independent).

    Carried by rare paths at large t (heavy upper tail), see :func:`trace_second_moments` for its spread.
    Source: [derived], notes section 4e ("E[Sigma_t] = ((n-1)/n)^t Sigma_0").
    """
    t = np.asarray(t, dtype=np.float64)
    return ((n - 1.0) / n) ** t


def expected_mean_drift_sq(t, n: int) -> np.ndarray:
    """E[||mu_t - mu_0||^2] / d = 1 - ((n - 1)/n)^t for the pure loop.

    Why: mu_{k+1} - mu_k = Sigma_k^{1/2} z_k / sqrt(n) (a martingale), so E||mu_t||^2 = sum_{k<t} E tr Sigma_k / n.
    Source: [derived] (the d-dim analogue of notes 4e's 1-D identity).
    """
    return 1.0 - expected_trace(t, n)


def trace_second_moments(t_max: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact (E (tr Sigma_t)^2, E tr Sigma_t^2), t = 0..t_max, for the pure loop with Sigma_0 = I_d.

    With k = n - 1 and the Wishart moments E[W_ij W_kl] = k^2 d_ij d_kl + k (d_ik d_jl + d_il d_jk):

        a_{t+1} = (k^2 a_t + 2 k b_t) / n^2,     b_{t+1} = (k (k + 1) b_t + k a_t) / n^2,     a_0 = d^2, b_0 = d,

    for a_t = E (tr Sigma_t)^2 and b_t = E tr(Sigma_t^2). Used to decide (from theory, before any simulation) at which
    generations the sample mean of tr Sigma_t is a trustworthy estimate: its coefficient of variation
    sqrt(a_t / (d v_t)^2 - 1) grows geometrically. Source: [derived].
    """
    n, d = _check_nd(n, d)
    k = n - 1.0
    a, b = np.empty(t_max + 1), np.empty(t_max + 1)
    a[0], b[0] = d * d, d
    for s in range(t_max):  # deterministic 2-vector recursion
        a[s + 1] = (k * k * a[s] + 2 * k * b[s]) / n**2
        b[s + 1] = (k * (k + 1) * b[s] + k * a[s]) / n**2
    return a, b


def mixed_moments(t_max: int, n: int, real_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact (v_t, d_t) = (E tr Sigma_t / d, E ||mu_t - mu_0||^2 / d), t = 0..t_max, for the loop with fresh real data.

    Each generation: n_real fresh samples from N(0, I_d) and n_synth = n - n_real from N(mu_t, Sigma_t) (integer split
    of :func:`theory_lab.loops.gaussian_refit.split_counts`), MLE refit over all n. With a = n_synth / n, the
    conditional moments are E[Sigma_{t+1} | t] = (1 - 1/n)[(1-a) I + a Sigma_t] + a(1-a) mu_t mu_t^T and
    E[mu_{t+1} mu_{t+1}^T | t] = a^2 mu_t mu_t^T + [(1-a) I + a Sigma_t]/n; taking traces gives exactly the 1-D
    recursion, independent of d:

        v_{t+1} = (1 - 1/n)[(1-a) + a v_t] + a(1-a) d_t,     d_{t+1} = a^2 d_t + [(1-a) + a v_t]/n,
        (v_0, d_0) = (1, 0).

    (By rotation invariance E Sigma_t = v_t I and E mu_t mu_t^T = d_t I entrywise.) Source: [derived], notes 4e.
    """
    return _gr.mixed_moments(t_max, n, real_fraction)


def log_det_floor(n: int, n_real: int, d: int) -> float:
    """Lower bound on E log det Sigma_t, valid at every generation t >= 1 of the mixed loop (n_real >= d + 1).

        E log det Sigma_t >= E log det(W_r / n) = sum_{i=1}^d psi((n_real - i)/2) + d log(2/n),

    Why: n Sigma_{t+1} = sum_i (x_i - mu_{t+1})(x_i - mu_{t+1})^T >= sum_{real i} (x_i - xbar_r)(x_i - xbar_r)^T =: W_r
    in the Loewner order (drop the synthetic terms, then re-centre the real ones at their own mean, which minimises the
    scatter); W_r ~ Wishart_d(n_real - 1, I) whatever the past, and log det is monotone. So the loop cannot collapse.
    Assumptions: fresh real samples N(0, I_d) every generation, n_real >= d + 1. Source: [derived] here.
    """
    n, d = _check_nd(n, d)
    if int(n_real) < d + 1:
        raise ValueError(f"the floor needs n_real >= d + 1 real samples; got n_real={n_real}, d={d}")
    return wishart_log_det_mean(int(n_real) - 1, d) - d * np.log(n)


def log_det_ceiling(t, n: int, real_fraction: float, d: int) -> np.ndarray:
    """Upper bound E log det Sigma_t <= d log v_t (AM-GM: log det S <= d log(tr S / d); then Jensen), v_t from
    :func:`mixed_moments`. Holds for any loop; tight only when Sigma_t is nearly isotropic and nearly deterministic.
    Source: [derived] here.
    """
    t = np.asarray(t, dtype=int)
    v, _ = mixed_moments(int(np.max(t)), n, real_fraction)
    return d * np.log(v[t])


# ----------------------------------------------------------------------------------------------------------------
# Simulators (JAX)
# ----------------------------------------------------------------------------------------------------------------


def _check_static(d: int, n: int, t_max: int) -> None:
    _check_nd(n, d)
    if int(t_max) < 0:
        raise ValueError(f"t_max must be >= 0; got {t_max}")


def _outputs(L_hist, mu_hist, logdet_hist, d: int, dtype) -> dict[str, jax.Array]:
    """Prepend generation 0 (mu = 0, Sigma = I) and return the per-trial trajectories."""
    trace = jnp.sum(L_hist * L_hist, axis=(1, 2)) / d
    msq = jnp.sum(mu_hist * mu_hist, axis=1) / d
    one = jnp.ones((1,), dtype=dtype)
    zero = jnp.zeros((1,), dtype=dtype)
    return {
        "log_det": jnp.concatenate([zero, logdet_hist]),
        "trace": jnp.concatenate([one, trace]),
        "mean_drift_sq": jnp.concatenate([zero, msq]),
    }


def _refit(L, mu, logdet, u_bar, M, n: int):
    """Refit in the current model's frame: sample x = mu + L u has mean mu + L u_bar and scatter L M L^T."""
    C = jnp.linalg.cholesky(M / n)
    L_next = L @ C
    mu_next = mu + L @ u_bar
    logdet_next = logdet + 2.0 * jnp.sum(jnp.log(jnp.diagonal(C)))
    return L_next, mu_next, logdet_next


@functools.partial(jax.jit, static_argnames=("d", "n", "t_max", "dtype"))
def simulate_gaussian_refit_d(key: jax.Array, *, d: int, n: int, t_max: int, n_real,
                              dtype=jnp.float64) -> dict[str, jax.Array]:
    """One trial of the data-level d-dim Gaussian refit loop (the reference simulator): n samples per generation.

    Generation t+1 draws n standard normal vectors z_i; the first n_real are real samples x_i = z_i ~ N(0, I_d), the
    others synthetic x_i = mu_t + L_t z_i with Sigma_t = L_t L_t^T (Cholesky). The refit is computed in the current
    model's frame u_i = L_t^{-1}(x_i - mu_t) (u_i = z_i for synthetic samples): with u_bar and M = sum (u_i - u_bar)
    (u_i - u_bar)^T, mu_{t+1} = mu_t + L_t u_bar and L_{t+1} = L_t chol(M/n), and log det Sigma_{t+1} =
    log det Sigma_t + log det(M/n) — algebraically the MLE refit, but exact deep into the collapse (no underflow of
    det, no cancellation against mu_t).

    Args: key (one trial); d, n, t_max static ints (n >= d + 1); n_real traced (0 <= n_real <= n; vmappable, no
      recompile); dtype static.
    Returns: dict of shape-(t_max + 1,) trajectories: "log_det" = log det Sigma_t, "trace" = tr Sigma_t / d,
      "mean_drift_sq" = ||mu_t - mu_0||^2 / d; generation 0 is (0, 1, 0).
    Theory: :func:`expected_log_det`, :func:`var_log_det`, :func:`expected_trace`, :func:`expected_mean_drift_sq`
    (n_real = 0); :func:`mixed_moments`, :func:`log_det_floor`, :func:`log_det_ceiling` (n_real > 0).
    """
    _check_static(d, n, t_max)
    is_real = (jnp.arange(n) < jnp.asarray(n_real))[:, None]
    has_real = jnp.asarray(n_real) > 0

    def step(carry, k):
        L, mu, logdet = carry
        z = jax.random.normal(k, (n, d), dtype=dtype)
        L_safe = jnp.where(has_real, L, jnp.eye(d, dtype=dtype))  # never invert a collapsed L when unused
        u_real = jax.scipy.linalg.solve_triangular(L_safe, (z - mu[None, :]).T, lower=True).T
        u = jnp.where(is_real, u_real, z)
        u_bar = jnp.mean(u, axis=0)
        c = u - u_bar[None, :]
        out = _refit(L, mu, logdet, u_bar, c.T @ c, n)
        return out, out

    init = (jnp.eye(d, dtype=dtype), jnp.zeros((d,), dtype=dtype), jnp.zeros((), dtype=dtype))
    _, (L_h, mu_h, ld_h) = jax.lax.scan(step, init, jax.random.split(key, t_max))
    return _outputs(L_h, mu_h, ld_h, d, dtype)


def bartlett_factor(key: jax.Array, dof, d: int, dtype=jnp.float64) -> jax.Array:
    """Lower-triangular A with A A^T ~ Wishart_d(dof, I) (Bartlett): A_ii = sqrt(chi^2_{dof-i+1}), A_ij ~ N(0, 1)
    below the diagonal, independent. A is then the Cholesky factor of the Wishart draw. ``dof`` may be traced; it must
    be >= d (smaller values give NaN, which the engine reports)."""
    k_chi, k_n = jax.random.split(key)
    i = jnp.arange(d, dtype=dtype)
    chi2 = 2.0 * jax.random.gamma(k_chi, (jnp.asarray(dof, dtype) - i) / 2.0, dtype=dtype)
    below = jnp.tril(jax.random.normal(k_n, (d, d), dtype=dtype), -1)
    return below + jnp.diag(jnp.sqrt(chi2))


@functools.partial(jax.jit, static_argnames=("d", "n", "t_max", "dtype"))
def simulate_gaussian_refit_d_fast(key: jax.Array, *, d: int, n: int, t_max: int, n_real,
                                   dtype=jnp.float64) -> dict[str, jax.Array]:
    """One trial of the d-dim refit loop sampled from the sufficient statistics (Bartlett), exact in distribution.

    Per block of m iid N(c, S) samples, the block mean and scatter are independent: mean ~ N(c, S/m), scatter
    ~ Wishart_d(m - 1, S) (Cochran). Per generation this draws, in the current model's frame,

        synthetic block (m = n_synth):  u_s ~ N(0, I/n_s),  W_s = A_s A_s^T, A_s Bartlett with n_s - 1 dof;
        real block (m = n_real):        xbar_r ~ N(0, I/n_r), W_r = A_r A_r^T (n_r - 1 dof), mapped to the frame by
                                        L_t^{-1}(. - mu_t);
        pooled scatter M = W_r + W_s + (n_r n_s / n)(ubar_r - u_s)(ubar_r - u_s)^T,
                                        mean ubar = (n_r ubar_r + n_s u_s)/n,

    then refits as :func:`simulate_gaussian_refit_d`. Cost per generation ~ d^3 and d(d+3) random numbers instead of
    n d, independent of n. For n_real = 0 (pure loop) M = W_s and chol(M) = A_s.
    Domain: n_real = 0 or d + 1 <= n_real <= n - d - 1 (both Bartlett blocks non-singular); the check validates this.
    Same signature and outputs as the data-level simulator; tests compare the two in distribution.
    """
    _check_static(d, n, t_max)
    n_r = jnp.asarray(n_real, dtype)
    n_s = n - n_r
    has_real = n_r > 0
    n_r_safe = jnp.where(has_real, n_r, jnp.asarray(d + 1.0, dtype))

    def step(carry, k):
        L, mu, logdet = carry
        k1, k2, k3, k4 = jax.random.split(k, 4)
        u_s = jax.random.normal(k1, (d,), dtype=dtype) / jnp.sqrt(n_s)
        A_s = bartlett_factor(k2, n_s - 1.0, d, dtype)
        xbar_r = jax.random.normal(k3, (d,), dtype=dtype) / jnp.sqrt(n_r_safe)
        A_r = bartlett_factor(k4, n_r_safe - 1.0, d, dtype)
        L_safe = jnp.where(has_real, L, jnp.eye(d, dtype=dtype))
        ubar_r = jax.scipy.linalg.solve_triangular(L_safe, xbar_r - mu, lower=True)
        B_r = jax.scipy.linalg.solve_triangular(L_safe, A_r, lower=True)
        diff = ubar_r - u_s
        M_mixed = B_r @ B_r.T + A_s @ A_s.T + (n_r * n_s / n) * jnp.outer(diff, diff)
        M = jnp.where(has_real, M_mixed, A_s @ A_s.T)
        u_bar = jnp.where(has_real, (n_r * ubar_r + n_s * u_s) / n, u_s)
        out = _refit(L, mu, logdet, u_bar, M, n)
        return out, out

    init = (jnp.eye(d, dtype=dtype), jnp.zeros((d,), dtype=dtype), jnp.zeros((), dtype=dtype))
    _, (L_h, mu_h, ld_h) = jax.lax.scan(step, init, jax.random.split(key, t_max))
    return _outputs(L_h, mu_h, ld_h, d, dtype)
