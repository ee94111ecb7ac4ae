"""Self-consuming loop of a least-squares (linear-regression) in-context learner: exact error across generations.

Setting (Fu, Wang, Chen, Tian, Tao, "A Theoretical Perspective: How to Prevent Model Collapse in Self-consuming
Training Loops", ICLR 2025, arXiv:2502.18865; the exactly solvable surrogate of notes ``in_context_learning.md``
section 5(i)). A task vector w in R^d is fixed. Generation i draws T = n_real + n_synth fresh inputs x ~ N(0, I_d):

* n_real **real** examples labelled y = x^T w + eps,
* n_synth **synthetic** examples labelled by the previous generation, y = x^T w_hat_{i-1} + eps (the generator samples
  from its own model with the same noise), eps ~ N(0, sigma^2) independent,

and fits w_hat_i by ordinary least squares on all T. Generation 0 is labelled by w_hat_{-1} := w (equivalently: all
its labels are real). The real fraction is lam = n_real / T. With e_i = w_hat_i - w, X = [X_r; X_s], W = X^T X:

    e_i = S_i e_{i-1} + W^{-1} X^T eps_i,      S_i = W^{-1} X_s^T X_s,

with (X, eps) fresh each generation, hence exactly [derived; notes 5(i)]

    E||e_i||^2 = v (1 - c^{i+1}) / (1 - c),       v = sigma^2 d / (T - d - 1),     c = E tr(S^T S) / d,

(E S^T S = c I by rotation invariance; the cross term vanishes because eps_i is independent and centred). So the error
stays below v / (1 - c) for every constant lam > 0 (c < 1), and grows linearly, (i + 1) v, for lam = 0 (c = 1).

**Exact c at finite T** [derived here; the notes give only c ≈ (1 - lam)^2 + O(1/T)]. Write X = Q W^{1/2} (polar
decomposition: Q uniform on the Stiefel manifold, independent of W ~ Wishart_d(T, I)) and U = Q^T D_s Q (D_s the
synthetic-row selector). Then S = W^{-1/2} U W^{1/2}, tr S^T S = tr(U W^{-1} U W), and with
E[(W^{-1})_jk W_li] = (T d_jk d_li - d_jl d_ik - d_ij d_kl) / (T - d - 1):

    c d = [ (T - 1) E tr U^2 - E (tr U)^2 ] / (T - d - 1),

where (X1, X2) = (E tr U^2, E (tr U)^2) solve the 2x2 system obtained from B = X_s^T X_s = W^{1/2} U W^{1/2} ~
Wishart_d(n_synth, I):

    T(T + 1) X1 + T X2 = n_s d (n_s + d + 1),        2 T X1 + T^2 X2 = n_s d (n_s d + 2).

Checks: n_synth = 0 gives c = 0, n_real = 0 gives c = 1; d = 10, T = 50, lam = 0.1 gives c = 0.8342 (notes: 0.834).
Assumptions: Gaussian inputs N(0, I_d), T >= d + 2 (E W^{-1} finite), label noise of equal variance on both parts.

**Trained linear self-attention (LSA) learner** (:func:`simulate_lsa_retraining`; the notes' 5(ii)/(c) item 2).
The learner is the one-layer Zhang–Frei–Bartlett LSA (arXiv:2306.09927; :mod:`theory_lab.icl.lsa`) trained by
online Adam on prompts (N context pairs x ~ N(0, I_d), y = <w, x>, w ~ N(0, I_d), query x_q). In generation i a
``lam`` fraction of each batch keeps the real query label <w, x_q>; the rest get the previous generation's LSA
prediction plus N(0, noise2) (the generator samples from its own model). Generation 0 is all real and starts from
ZFB's Assumption 3.3 initialization; generation i >= 1 starts from generation i - 1's weights (warm start, notes
5(c) item 2). The error is ||A_i - Gamma^{-1}||_F^2, A_i = W_PV[d, d] W_KQ[:d, :d] (the effective matrix), Gamma^{-1}
= (1 + (d + 1)/N)^{-1} I the global minimum (ZFB Thm 4.1, :func:`lsa_gamma_inverse`).
Theory [derived; linear response]: both losses are quadratic in the prediction with the same Hessian, so the
population minimizer of generation i is exactly lam Gamma^{-1} + (1 - lam) A_{i-1}; with training error xi_i,
e_i = (1 - kappa lam) e_{i-1} + xi_i (kappa in (0, 1] the fraction of the way a generation's training goes). Hence
for lam > 0 the error is bounded (late slope -> 0); for lam = 0 nothing pulls A back, and the label-noise-driven
training error accumulates (growth). The per-generation training error v_T = E||xi||^2 of Adam is not predicted, so
no exact curve is claimed for the LSA. (With noise2 = 0 and lam = 0 the warm start is an exact fixed point: the
error stays at its generation-0 value.)

Theory is float64 NumPy. Simulators are pure JAX: a data-level reference (T rows per generation) and a
statistic-level sampler (Wishart blocks; cost independent of T), both with the generations inside ``lax.scan``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "noise_floor",
    "contraction",
    "contraction_asymptotic",
    "expected_error",
    "stationary_error",
    "stationary_error_asymptotic",
    "split_real",
    "simulate_icl_retraining",
    "simulate_icl_retraining_fast",
    "wishart_factor",
    "lsa_gamma_inverse",
    "lsa_zero_predictor_error",
    "simulate_lsa_retraining",
]


# ----------------------------------------------------------------------------------------------------------------
# Theory (float64 NumPy)
# ----------------------------------------------------------------------------------------------------------------


def _check(n_real: int, n_synth: int, d: int) -> tuple[int, int, int]:
    n_real, n_synth, d = int(n_real), int(n_synth), int(d)
    if d < 1 or n_real < 0 or n_synth < 0:
        raise ValueError(f"need d >= 1 and non-negative counts; got d={d}, n_real={n_real}, n_synth={n_synth}")
    if n_real + n_synth < d + 2:
        raise ValueError(f"need T = n_real + n_synth >= d + 2 samples per generation (finite OLS error); "
                         f"got T={n_real + n_synth}, d={d}")
    return n_real, n_synth, d


def split_real(T: int, lam: float) -> tuple[int, int]:
    """(n_real, n_synth) with n_real = floor(lam T + 1/2) (half-up rounding), n_synth = T - n_real."""
    n_real = int(np.floor(float(lam) * int(T) + 0.5))
    return n_real, int(T) - n_real


def noise_floor(T: int, d: int, sigma2: float) -> float:
    """v = sigma^2 E tr W^{-1} = sigma^2 d / (T - d - 1): the one-generation OLS error (inverse-Wishart mean).
    Source: notes ``in_context_learning.md`` section 6 (OLS, k > d + 1)."""
    if int(T) < d + 2:
        raise ValueError(f"need T >= d + 2; got T={T}, d={d}")
    return float(sigma2) * d / (int(T) - d - 1.0)


def contraction(n_real: int, n_synth: int, d: int) -> float:
    """Exact c = E tr(S^T S) / d, S = (X^T X)^{-1} X_s^T X_s, for Gaussian inputs (see the module docstring).

    Symbols: n_real real rows, n_synth synthetic rows, T = n_real + n_synth, d dimension. Source: [derived] here; the
    notes (in_context_learning.md 5(i)) give c ≈ (1 - lam)^2 + O(1/T), see :func:`contraction_asymptotic`.
    Reference: d = 10, T = 50: c = 0.8342 at n_real = 5, 0.5466 at n_real = 15 (notes: 0.834, 0.546).
    """
    n_r, n_s, d = _check(n_real, n_synth, d)
    T = float(n_r + n_s)
    if n_s == 0:
        return 0.0
    if n_r == 0:
        return 1.0
    M = np.array([[T * (T + 1.0), T], [2.0 * T, T * T]])
    rhs = np.array([n_s * d * (n_s + d + 1.0), n_s * d * (n_s * d + 2.0)])
    x1, x2 = np.linalg.solve(M, rhs)
    return float(((T - 1.0) * x1 - x2) / (d * (T - d - 1.0)))


def contraction_asymptotic(n_real: int, n_synth: int, d: int) -> float:
    """The notes' large-T value c ≈ (1 - lam)^2, lam = n_real / T (the negative control's contraction)."""
    T = n_real + n_synth
    return (n_synth / T) ** 2


def expected_error(i, n_real: int, n_synth: int, d: int, sigma2: float, c: float | None = None) -> np.ndarray:
    """E ||w_hat_i - w||^2 = v (1 - c^{i+1}) / (1 - c) at generations i (array-like, i >= 0); (i + 1) v when c = 1.

    ``c`` defaults to the exact :func:`contraction`; pass another value to evaluate a wrong theory.
    Source: notes ``in_context_learning.md`` 5(i) [derived, MC-verified there]; Fu et al. 2025 (arXiv:2502.18865).
    """
    n_r, n_s, d = _check(n_real, n_synth, d)
    v = noise_floor(n_r + n_s, d, sigma2)
    c = contraction(n_r, n_s, d) if c is None else float(c)
    i = np.asarray(i, dtype=np.float64)
    if c == 1.0:
        return v * (i + 1.0)
    return v * (1.0 - c ** (i + 1.0)) / (1.0 - c)


def stationary_error(n_real: int, n_synth: int, d: int, sigma2: float) -> float:
    """lim_i E||e_i||^2 = v / (1 - c) (infinite for n_real = 0). Source: as :func:`expected_error`."""
    n_r, n_s, d = _check(n_real, n_synth, d)
    c = contraction(n_r, n_s, d)
    return np.inf if c == 1.0 else noise_floor(n_r + n_s, d, sigma2) / (1.0 - c)


def stationary_error_asymptotic(n_real: int, n_synth: int, d: int, sigma2: float) -> float:
    """The notes' large-T approximation sigma^2 d (n + m) / (n (n + 2m)), n = n_real, m = n_synth: decreasing in m
    from sigma^2 d / n to sigma^2 d / (2n)."""
    n, m = float(n_real), float(n_synth)
    return sigma2 * d * (n + m) / (n * (n + 2 * m))


# ----------------------------------------------------------------------------------------------------------------
# Simulators (JAX)
# ----------------------------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("d", "T", "generations", "dtype"))
def simulate_icl_retraining(key: jax.Array, *, d: int, T: int, generations: int, n_real, sigma2,
                            dtype=jnp.float64) -> dict[str, jax.Array]:
    """One trial of the data-level loop (the reference simulator): T labelled examples per generation, OLS refit.

    Rows ``arange(T) < n_real`` are labelled by the true w (fixed, w = 1/sqrt(d) in every coordinate; the error's law
    does not depend on w), the others by the previous fit w_hat_{i-1}; noise N(0, sigma2) on all. w_hat_{-1} = w.

    Args: key (one trial); d, T (>= d + 2), generations static ints; n_real (0..T) and sigma2 traced (vmappable, no
      recompile); dtype static.
    Returns: {"err": ||w_hat_i - w||^2 for i = 0..generations}, shape (generations + 1,).
    Theory: :func:`expected_error`.
    """
    if T < d + 2:
        raise ValueError(f"need T >= d + 2; got T={T}, d={d}")
    w = jnp.full((d,), 1.0 / np.sqrt(d), dtype=dtype)
    is_real = jnp.arange(T) < jnp.asarray(n_real)
    sigma = jnp.sqrt(jnp.asarray(sigma2, dtype))

    def step(w_prev, k):
        kx, ke = jax.random.split(k)
        X = jax.random.normal(kx, (T, d), dtype=dtype)
        eps = jax.random.normal(ke, (T,), dtype=dtype)
        y = jnp.where(is_real, X @ w, X @ w_prev) + sigma * eps
        w_hat = jnp.linalg.solve(X.T @ X, X.T @ y)
        e = w_hat - w
        return w_hat, jnp.sum(e * e)

    _, err = jax.lax.scan(step, w, jax.random.split(key, generations + 1))
    return {"err": err}


def wishart_factor(key: jax.Array, dof, d: int, dtype=jnp.float64) -> jax.Array:
    """G (d x d) with G G^T ~ Wishart_d(dof, I) for any integer dof >= 0 (traced); ``dof`` may carry leading batch
    axes (one factor per entry, all drawn in one gamma call).

    dof >= d: Bartlett's lower-triangular factor (sqrt chi^2_{dof-i+1} on the diagonal, N(0, 1) below); dof < d (a
    singular Wishart): a d x d standard normal matrix with its columns >= dof set to zero. Both are drawn and one is
    selected, so the cost is ~d^2 normals and d gamma draws whatever dof is.
    """
    k_chi, k_low, k_g = jax.random.split(key, 3)
    dof = jnp.asarray(dof, dtype)
    batch = dof.shape
    i = jnp.arange(d, dtype=dtype)
    shape = jnp.maximum((dof[..., None] - jnp.broadcast_to(i, (*batch, d))) / 2.0, 0.5)  # (..., d)
    chi2 = 2.0 * jax.random.gamma(k_chi, shape, dtype=dtype)
    diag = jnp.sqrt(chi2)[..., :, None] * jnp.broadcast_to(jnp.eye(d, dtype=dtype), (*batch, d, d))
    bartlett = jnp.tril(jax.random.normal(k_low, (*batch, d, d), dtype=dtype), -1) + diag
    dof_m = dof[..., None, None]
    thin = jax.random.normal(k_g, (*batch, d, d), dtype=dtype) * (jnp.broadcast_to(i, (*batch, d, d)) < dof_m)
    return jnp.where(dof_m >= d, bartlett, thin)


@functools.partial(jax.jit, static_argnames=("d", "generations", "dtype"))
def simulate_icl_retraining_fast(key: jax.Array, *, d: int, generations: int, n_real, n_synth, sigma2,
                                 dtype=jnp.float64) -> dict[str, jax.Array]:
    """One trial of the same loop sampled from its sufficient statistics, exact in distribution.

    The OLS refit only sees A = X_r^T X_r ~ Wishart_d(n_real, I), B = X_s^T X_s ~ Wishart_d(n_synth, I) (independent)
    and X^T eps | X ~ N(0, sigma2 W), W = A + B = L L^T. Hence, per generation,

        e_i = W^{-1} (B e_{i-1} + sqrt(sigma2) L z),      z ~ N(0, I_d),

    drawn with :func:`wishart_factor` (cost ~d^3 per generation, independent of T; every count traced, so a whole
    sweep over (lam, T) is one compiled program). Requires n_real + n_synth >= d (W invertible); the theory needs
    >= d + 2. Same output as :func:`simulate_icl_retraining`; the tests compare the two in distribution.
    """
    n_r = jnp.asarray(n_real, dtype)
    n_s = jnp.asarray(n_synth, dtype)
    sigma = jnp.sqrt(jnp.asarray(sigma2, dtype))

    def step(e_prev, k):
        kw, kz = jax.random.split(k)
        G2 = wishart_factor(kw, jnp.stack([n_r, n_s]), d, dtype)  # both blocks in one gamma call
        Ga, Gb = G2[0], G2[1]
        B = Gb @ Gb.T
        W = Ga @ Ga.T + B
        L = jnp.linalg.cholesky(W)
        rhs = B @ e_prev + sigma * (L @ jax.random.normal(kz, (d,), dtype=dtype))
        e = jax.scipy.linalg.cho_solve((L, True), rhs)
        return e, jnp.sum(e * e)

    _, err = jax.lax.scan(step, jnp.zeros((d,), dtype=dtype), jax.random.split(key, generations + 1))
    return {"err": err}


# ----------------------------------------------------------------------------------------------------------------
# Trained linear self-attention learner (ZFB one-layer LSA, Adam, warm start)
# ----------------------------------------------------------------------------------------------------------------


def lsa_gamma_inverse(d: int, N: int) -> float:
    """Gamma^{-1} = (1 + (d + 1)/N)^{-1} (times I_d): the ZFB global-minimum effective matrix for Lambda = I_d
    (Zhang, Frei, Bartlett, arXiv:2306.09927, Thm 4.1: Gamma = (1 + 1/N) Lambda + tr(Lambda)/N I). d = 2, N = 8:
    0.72727."""
    if int(d) < 1 or int(N) < 1:
        raise ValueError(f"need d, N >= 1; got d={d}, N={N}")
    return 1.0 / (1.0 + (d + 1.0) / N)


def lsa_zero_predictor_error(d: int, N: int) -> float:
    """||0 - Gamma^{-1}||_F^2 = d (1 + (d + 1)/N)^{-2}: the error of the collapsed (zero) predictor.
    d=2, N=8: 1.0579."""
    return d * lsa_gamma_inverse(d, N) ** 2


@functools.partial(jax.jit, static_argnames=("d", "N", "batch", "steps", "generations", "dtype"))
def simulate_lsa_retraining(key: jax.Array, *, d: int, N: int, batch: int, steps: int, generations: int, lam, lr,
                            init_scale, noise2, dtype=jnp.float64) -> dict[str, jax.Array]:
    """One trial of the self-consuming loop of a trained one-layer ZFB LSA (see the module docstring).

    Each generation: ``steps`` Adam steps (cosine-decayed peak ``lr``, fresh optimizer state) inside ``lax.scan``, a
    fresh batch of ``batch`` prompts of N context pairs per step; rows ``arange(batch) < floor(lam batch + 1/2)``
    keep the real query label, the others get the previous generation's prediction + sqrt(noise2) N(0, 1).
    Generations run inside an outer ``lax.scan``; generation 0 is all real from ZFB's initialization (scale
    ``init_scale``). Args: d, N, batch, steps, generations static ints; lam, lr, init_scale, noise2 traced.
    Returns {"err": ||A_i - Gamma^{-1}||_F^2 for i = 0..generations}, A_i = W_PV[d, d] W_KQ[:d, :d].
    """
    import optax

    from theory_lab.icl import lsa as _lsa  # read-only use of the ICL family's LSA

    kinit, kgen = jax.random.split(key)
    params0 = _lsa.zfb_init(kinit, d, init_scale, dtype)
    n_real = jnp.floor(jnp.asarray(lam, dtype) * batch + 0.5)
    noise = jnp.sqrt(jnp.asarray(noise2, dtype))
    lr = jnp.asarray(lr, dtype)
    sched = optax.cosine_decay_schedule(1.0, steps)
    opt = optax.chain(optax.scale_by_adam(), optax.scale_by_schedule(lambda t: -lr * sched(t)))
    target_A = lsa_gamma_inverse(d, N) * jnp.eye(d, dtype=dtype)
    rows = jnp.arange(batch)

    def loss_fn(p, X, y, xq, target):
        return 0.5 * jnp.mean((_lsa.zfb_predict(*p, X, y, xq) - target) ** 2)

    def generation(params, gk):
        k, i = gk
        prev = jax.lax.stop_gradient(params)
        is_real = jnp.where(i == 0, True, rows < n_real)

        def step(carry, kk):
            p, st = carry
            z = jax.random.normal(kk, (batch, N + 3, d), dtype=dtype)
            X, xq, w = z[:, :N], z[:, N], z[:, N + 1]
            y = jnp.einsum("bti,bi->bt", X, w)
            synth = _lsa.zfb_predict(*prev, X, y, xq) + noise * z[:, N + 2, 0]
            target = jnp.where(is_real, jnp.sum(xq * w, -1), synth)
            g = jax.grad(loss_fn)(p, X, y, xq, target)
            upd, st = opt.update(g, st, p)
            return (optax.apply_updates(p, upd), st), None

        (p, _), _ = jax.lax.scan(step, (params, opt.init(params)), jax.random.split(k, steps))
        A = p[0][d, d] * p[1][:d, :d]
        return p, jnp.sum((A - target_A) ** 2)

    _, err = jax.lax.scan(generation, params0,
                          (jax.random.split(kgen, generations + 1), jnp.arange(generations + 1)))
    return {"err": err}
