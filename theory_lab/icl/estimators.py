"""Classical in-context estimators (batched pure JAX) and their exact risks (float64 NumPy/SciPy).

Every ``*_predict(X, y, xq, ...)`` maps one prompt — X (k, d), y (k,), xq (d,) — to the prediction ŷ for the query,
and broadcasts over any leading batch axes (X (..., k, d), y (..., k), xq (..., d) -> ŷ (...)). Float arguments
(ridge, step sizes, noise variances) may be traced scalars; ``n_neighbors`` is a static int.

Risks use the notes' unnormalized risk R = E(ŷ − y_q)² (``shared/theory/in_context_learning.md`` section 0; Garg's
normalized risk is R/d). Unless stated otherwise the model is the isotropic Gaussian one of notes section 6:

    x_i, x_q ~ N(0, I_d),  w ~ N(0, ψ² I_d),  y = <w, x> + ε,  ε ~ N(0, σ²),  k in-context examples,
    so that R = σ² + E‖ŵ − w‖² for any linear predictor ŷ = <ŵ, x_q>.

Arguments: ``k`` (prompt length), ``d`` (dimension), ``noise_var`` = σ², ``prior_var`` = ψ².
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    # predictors (JAX)
    "ols_predict", "minnorm_predict", "ridge_predict", "bayes_predict", "averaging_predict",
    "gd_one_step_predict", "gd_steps_predict", "knn_predict", "dmmse_predict", "zero_predict",
    # risks (NumPy float64)
    "ols_risk", "minnorm_risk", "ridge_risk", "ridge_risk_deterministic", "ridge_risk_mc", "bayes_risk",
    "averaging_risk", "gd_one_step_risk", "gd_one_step_optimal_eta", "gd_one_step_risk_moments",
    "gd_one_step_optimal_eta_moments", "linear_predictor_risk", "gd_steps_risk", "gd_steps_risk_mc",
    "gd_steps_optimal_etas", "zero_risk",
]

_SIG = "(k,d),(k),(d)->()"


# ---------------------------------------------------------------------------------------------------------------
# Predictors (pure JAX, batched by jnp.vectorize)
# ---------------------------------------------------------------------------------------------------------------


def zero_predict(X, y, xq):
    """ŷ = 0 (the null baseline; R = ψ² tr Λ + σ²)."""
    return jnp.zeros(jnp.broadcast_shapes(X.shape[:-2], xq.shape[:-1]), X.dtype)


def _minnorm_single(X, y, xq):
    return xq @ (jnp.linalg.pinv(X) @ y)


def minnorm_predict(X, y, xq):
    """Minimum-norm least squares: ŵ = X⁺ y (Moore–Penrose; the interpolator of least norm when k < d, OLS when
    k ≥ d). ŷ = <ŵ, x_q>."""
    return jnp.vectorize(_minnorm_single, signature=_SIG)(X, y, xq)


def ols_predict(X, y, xq):
    """Ordinary least squares ŵ = (XᵀX)⁻¹Xᵀy, computed as the pseudo-inverse solution (identical for k ≥ d with X
    of full column rank, which holds a.s. for continuous covariates; for k < d it is the min-norm interpolator)."""
    return minnorm_predict(X, y, xq)


def _ridge_single(X, y, xq, lam):
    d = X.shape[-1]
    a = X.T @ X + lam * jnp.eye(d, dtype=X.dtype)
    return xq @ jnp.linalg.solve(a, X.T @ y)


def ridge_predict(X, y, xq, lam):
    """Ridge regression ŵ = (XᵀX + λ I)⁻¹ Xᵀ y (unnormalized Gram matrix; λ > 0)."""
    lam = jnp.asarray(lam, X.dtype)
    return jnp.vectorize(_ridge_single, signature="(k,d),(k),(d),()->()")(X, y, xq, lam)


def bayes_predict(X, y, xq, noise_var, prior_var=1.0):
    """Bayes posterior mean for w ~ N(0, ψ² I), ε ~ N(0, σ²): ridge with λ = σ²/ψ² (valid for any covariate law,
    since the posterior conditions on X). Needs σ² > 0 (use ``minnorm_predict`` for the noiseless limit)."""
    return ridge_predict(X, y, xq, jnp.asarray(noise_var, X.dtype) / jnp.asarray(prior_var, X.dtype))


def averaging_predict(X, y, xq):
    """Averaging estimator ŵ = (1/k) Σ_i y_i x_i = g (one GD step of size 1 from 0; Garg et al. baseline)."""
    k = X.shape[-2]
    return jnp.einsum("...kd,...k,...d->...", X, y, xq) / k


def gd_one_step_predict(X, y, xq, eta, precond=None):
    """One (preconditioned) GD step from w_0 = 0 on L(w) = (1/2k) Σ (<w,x_i> − y_i)²: ŵ = η P (1/k) Xᵀy,
    ŷ = η x_qᵀ P g. ``precond`` P is (d, d) (None = identity). Von Oswald et al. (arXiv:2212.07677) Prop. 1;
    ZFB's trained LSA is the case η P = Γ⁻¹."""
    k = X.shape[-2]
    g = jnp.einsum("...kd,...k->...d", X, y) / k
    if precond is not None:
        g = jnp.einsum("ij,...j->...i", jnp.asarray(precond, X.dtype), g)
    return jnp.asarray(eta, X.dtype) * jnp.einsum("...d,...d->...", xq, g)


def _gd_steps_single(X, y, xq, mats):
    k = X.shape[0]

    def step(w, a):
        grad = X.T @ (X @ w - y) / k
        return w - a @ grad, None

    w, _ = jax.lax.scan(step, jnp.zeros(X.shape[1], X.dtype), mats)
    return xq @ w


def gd_steps_predict(X, y, xq, etas):
    """L steps of (preconditioned) GD from w_0 = 0 on R(w) = (1/2k) Σ (<w,x_i> − y_i)²:
    w_{ℓ+1} = w_ℓ − A_ℓ ∇R(w_ℓ), ∇R(w) = (1/k) Xᵀ(Xw − y); ŷ = <w_L, x_q>.

    ``etas``: shape (L,) (A_ℓ = η_ℓ I) or (L, d, d) (general preconditioners A_ℓ), shared across the batch.
    Ahn et al. (arXiv:2306.00297) Lemma 1: the sparse L-layer LSA computes exactly this. lax.scan over steps.
    """
    d = X.shape[-1]
    etas = jnp.asarray(etas, X.dtype)
    mats = etas[:, None, None] * jnp.eye(d, dtype=X.dtype)[None] if etas.ndim == 1 else etas
    return jnp.vectorize(lambda a, b, c: _gd_steps_single(a, b, c, mats), signature=_SIG)(X, y, xq)


def _knn_single(X, y, xq, n_neighbors):
    dist2 = jnp.sum((X - xq[None, :]) ** 2, axis=-1)
    _, idx = jax.lax.top_k(-dist2, n_neighbors)
    return jnp.mean(y[idx])


def knn_predict(X, y, xq, n_neighbors: int = 3):
    """k-nearest-neighbour regression: mean label of the ``n_neighbors`` context points closest to x_q (Euclidean,
    uniform weights; Garg et al. arXiv:2208.01066 use 3). ``n_neighbors`` is static and must be ≤ k."""
    n_neighbors = int(n_neighbors)
    return jnp.vectorize(lambda a, b, c: _knn_single(a, b, c, n_neighbors), signature=_SIG)(X, y, xq)


def _dmmse_single(X, y, xq, pool, noise_var):
    resid = y[None, :] - pool @ X.T  # (K, k)
    logw = -0.5 * jnp.sum(resid**2, axis=-1) / noise_var
    p = jax.nn.softmax(logw)
    return xq @ (p @ pool)


def dmmse_predict(X, y, xq, pool, noise_var):
    """Discrete-prior Bayes estimator (dMMSE, Raventós et al. arXiv:2306.15063): posterior mean of w under the
    uniform prior on the pool {w_1..w_K} (shape (K, d)) and Gaussian noise σ² > 0:
    ŵ = Σ_j p_j w_j, p_j ∝ exp(−‖y − X w_j‖²/(2σ²)) (computed with a stable softmax)."""
    pool = jnp.asarray(pool, X.dtype)
    nv = jnp.asarray(noise_var, X.dtype)
    return jnp.vectorize(lambda a, b, c: _dmmse_single(a, b, c, pool, nv), signature=_SIG)(X, y, xq)


# ---------------------------------------------------------------------------------------------------------------
# Exact risks (float64 NumPy), isotropic Gaussian model unless stated
# ---------------------------------------------------------------------------------------------------------------


def zero_risk(d: int, noise_var=0.0, prior_var=1.0) -> float:
    """R(ŷ = 0) = ψ² d + σ² (isotropic)."""
    return float(prior_var) * d + float(noise_var)


def ols_risk(k, d: int, noise_var, prior_var=1.0):
    """Exact risk of OLS / min-norm least squares at prompt length k (array-like), isotropic Gaussian model.

        k ≥ d + 2:   R = σ² + σ² d / (k − d − 1)            (E (XᵀX)⁻¹ = I/(k − d − 1), inverse-Wishart mean)
        k ≤ d − 2:   R = σ² + ψ²(d − k) + σ² k / (d − k − 1)  (min-norm; E (XXᵀ)⁻¹ = I/(d − k − 1))
        k ∈ {d−1, d, d+1}: R = +inf when σ² > 0 (the noise-induced peak at k = d: the inverse-Wishart mean
        diverges). Noiseless (σ² = 0): R = ψ² max(d − k, 0) for every k (projection onto a random k-dim subspace).

    Source: notes section 6 [DER, MC-verified]; the double-descent peak is e.g. Hastie et al. arXiv:1903.08560.
    Assumptions: x ~ N(0, I_d) (full rank a.s.), w ~ N(0, ψ² I), Gaussian noise independent of X.
    """
    k = np.asarray(k, dtype=np.float64)
    s2, p2 = float(noise_var), float(prior_var)
    with np.errstate(divide="ignore", invalid="ignore"):
        over = s2 + s2 * d / (k - d - 1)
        under = s2 + p2 * (d - k) + s2 * k / (d - k - 1)
    out = np.where(k >= d + 2, over, np.where(k <= d - 2, under, np.inf))
    if s2 == 0.0:
        out = p2 * np.maximum(d - k, 0.0)
    return out[()] if out.ndim == 0 else out


def minnorm_risk(k, d: int, noise_var, prior_var=1.0):
    """Exact risk of the min-norm least-squares interpolator; identical to :func:`ols_risk` (the pseudo-inverse
    solution is OLS for k ≥ d). Under-parametrized branch k ≤ d − 2: σ² + ψ²(d − k) + σ² k/(d − k − 1)."""
    return ols_risk(k, d, noise_var, prior_var)


def ridge_risk_deterministic(k, d: int, lam, noise_var, prior_var=1.0):
    """Deterministic-equivalent (large d, k with k/d fixed) risk of ridge ŵ = (XᵀX + λI)⁻¹Xᵀy, isotropic model.

        E‖ŵ − w‖² = ψ² λ² tr A⁻² + σ² (tr A⁻¹ − λ tr A⁻²),   A = XᵀX + λ I,
        tr A⁻¹ ≈ δ = [−(λ + k − d) + sqrt((λ + k − d)² + 4 λ d)] / (2λ)   (root of λδ² + (λ+k−d)δ − d = 0),
        tr A⁻² ≈ −dδ/dλ = (δ² + δ) / (2λδ + λ + k − d).
    R = σ² + E‖ŵ − w‖². At λ = σ²/ψ² (Bayes) it reduces to σ²(1 + δ).
    Source: notes section 6 (Bayes case; the general-λ form is the same Marchenko–Pastur equivalent differentiated
    in λ) [DER]. Accuracy: a few percent for d ≳ 20 (notes table: d=8, k=16, σ²=0.25: δ=0.943 vs MC 1.051).
    """
    k = np.asarray(k, dtype=np.float64)
    lam = float(lam)
    b = lam + k - d
    delta = (-b + np.sqrt(b * b + 4.0 * lam * d)) / (2.0 * lam)
    t2 = (delta**2 + delta) / (2.0 * lam * delta + b)
    s2, p2 = float(noise_var), float(prior_var)
    return s2 + p2 * lam**2 * t2 + s2 * (delta - lam * t2)


def _wishart_eigs(rng: np.random.Generator, k: int, d: int, n_draws: int) -> np.ndarray:
    """Eigenvalues of XᵀX, X (k, d) iid N(0,1): (n_draws, d) float64 (zeros when k < d)."""
    x = rng.standard_normal((n_draws, k, d))
    return np.clip(np.linalg.eigvalsh(np.einsum("nki,nkj->nij", x, x)), 0.0, None)


def ridge_risk_mc(k: int, d: int, lam, noise_var, prior_var=1.0, *, n_draws: int = 20_000, seed: int = 0):
    """Finite-(k, d) ridge risk by Monte-Carlo over the Wishart spectrum only (the w, ε and x_q averages are exact):

        R = σ² + E Σ_j [ψ² λ² + σ² s_j] / (s_j + λ)²,   s_j = eigenvalues of XᵀX.

    Returns (R, standard error). Deterministic given ``seed`` (a NumPy Generator; no global state). Use it where
    the exact finite-d Bayes/ridge value is needed (no elementary closed form exists at finite d; notes section 6).
    """
    rng = np.random.default_rng(seed)
    s = _wishart_eigs(rng, int(k), int(d), int(n_draws))
    lam, s2, p2 = float(lam), float(noise_var), float(prior_var)
    per = np.sum((p2 * lam**2 + s2 * s) / (s + lam) ** 2, axis=-1)
    return s2 + float(per.mean()), float(per.std(ddof=1) / np.sqrt(per.size))


def ridge_risk(k, d: int, lam, noise_var, prior_var=1.0, *, exact: bool = False, n_draws: int = 20_000,
               seed: int = 0):
    """Risk of ridge with penalty λ at prompt length k (isotropic Gaussian model). ``exact=False``: the
    deterministic equivalent :func:`ridge_risk_deterministic`; ``exact=True``: the finite-d value by Monte-Carlo
    over Wishart spectra (:func:`ridge_risk_mc`, value only; k must be a scalar int)."""
    if exact:
        return ridge_risk_mc(int(k), d, lam, noise_var, prior_var, n_draws=n_draws, seed=seed)[0]
    return ridge_risk_deterministic(k, d, lam, noise_var, prior_var)


def bayes_risk(k, d: int, noise_var, prior_var=1.0, **kw):
    """Bayes (posterior-mean) risk = ridge risk at λ = σ²/ψ²: R = σ² + σ² E tr (XᵀX + λI)⁻¹ (notes section 6).
    Needs σ² > 0. Keywords as :func:`ridge_risk`."""
    return ridge_risk(k, d, float(noise_var) / float(prior_var), noise_var, prior_var, **kw)


def averaging_risk(k, d: int, noise_var=0.0, prior_var=1.0):
    """Exact risk of the averaging estimator ŵ = (1/k)Xᵀy (isotropic Gaussian):

        R = σ² + ψ² d(d + 1)/k + σ² d/k          (noiseless, Garg-normalized: (d + 1)/k).

    Derivation: E tr(Σ̂ − I)² = d(d+1)/k for Σ̂ = XᵀX/k (Gaussian fourth moments). Source: notes section 6 [DER]."""
    k = np.asarray(k, dtype=np.float64)
    return float(noise_var) + float(prior_var) * d * (d + 1) / k + float(noise_var) * d / k


def gd_one_step_risk(k, d: int, eta, noise_var=0.0, prior_var=1.0):
    """Exact risk of one GD step ŷ = η x_qᵀ (1/k)Xᵀy (isotropic Gaussian model, any η):

        R(η) = σ² + ψ² d − 2 η ψ² d + η² [ψ² d (k + d + 1)/k + σ² d/k].

    Minimized at η* = k / (k + d + 1 + σ²/ψ²) (:func:`gd_one_step_optimal_eta`), where
    R(η*) = σ² + ψ² d (d + 1 + σ²/ψ²) / (k + d + 1 + σ²/ψ²) (notes section 6; = ZFB's Γ⁻¹ for Λ = I).
    Source: von Oswald et al. arXiv:2212.07677 (the model), notes sections 2a and 6 [DER, MC-verified].
    """
    k = np.asarray(k, dtype=np.float64)
    s2, p2, eta = float(noise_var), float(prior_var), np.asarray(eta, dtype=np.float64)
    eg2 = p2 * d * (k + d + 1) / k + s2 * d / k
    return s2 + p2 * d - 2 * eta * p2 * d + eta**2 * eg2


def gd_one_step_optimal_eta(k, d: int, noise_var=0.0, prior_var=1.0):
    """η* = k / (k + d + 1 + σ²/ψ²) (Gaussian inputs; noiseless: N/(N + d + 1), von Oswald / ZFB)."""
    k = np.asarray(k, dtype=np.float64)
    return k / (k + d + 1 + float(noise_var) / float(prior_var))


def gd_one_step_optimal_eta_moments(k: int, d: int, m2: float, m4: float, noise_var=0.0):
    """η* for one GD step with iid-coordinate inputs of moments m2 = E x², m4 = E x⁴ (w ~ N(0, I)):

        η* = tr EΣ̂ / (E tr Σ̂² + σ² d m2/k),   E tr Σ̂² = E‖x‖⁴/k + (1 − 1/k) d m2²,  E‖x‖⁴ = d m4 + d(d−1) m2².
    U(−½, ½)^10, k = 10: η* = 6.061 (notes section 2a)."""
    ex4 = d * m4 + d * (d - 1) * m2**2
    etr2 = ex4 / k + (1 - 1 / k) * d * m2**2 + float(noise_var) * d * m2 / k
    return d * m2 / etr2


def gd_one_step_risk_moments(k: int, d: int, eta, m2: float, m4: float, noise_var=0.0):
    """Exact risk of ŷ = η x_qᵀ (1/k)Xᵀy for iid-coordinate inputs (moments m2, m4; e.g. uniform U(−a, a) has
    m2 = a²/3, m4 = a⁴/5), w ~ N(0, I), noise σ²:

        R(η) = σ² + m2 [d − 2η d m2 + η² (E tr Σ̂² + σ² d m2/k)].
    Reference (notes section 2a): U(−½,½)^10, k = 10 at η*: R = 0.4125 (½R = 0.206, von Oswald's "GD loss ≈ 0.2");
    U(−1,1)^10: R = 1.650; Gaussian d = k = 10: η* = 0.476, R = 5.238."""
    ex4 = d * m4 + d * (d - 1) * m2**2
    etr2 = ex4 / k + (1 - 1 / k) * d * m2**2 + float(noise_var) * d * m2 / k
    eta = np.asarray(eta, dtype=np.float64)
    return float(noise_var) + m2 * (d - 2 * eta * d * m2 + eta**2 * etr2)


def linear_predictor_risk(A, cov, M, noise_var=0.0, prior_var=1.0):
    """Exact risk of ŷ = x_qᵀ A g, g = (1/M) Σ_{i≤M} y_i x_i, for x ~ N(0, Λ), w ~ N(0, ψ² I), noise σ²:

        E[g gᵀ] = ψ² [(1 + 1/M) Λ² + tr(Λ) Λ / M] + (σ²/M) Λ,
        R_M(A)  = tr(Λ A E[ggᵀ] Aᵀ) − 2 ψ² tr(Λ A Λ) + ψ² tr(Λ) + σ².

    Symbols: A (d, d) any matrix (one preconditioned GD step; ZFB's trained LSA has A = Γ⁻¹), Λ = ``cov`` (d, d),
    M = test prompt length (array-like). Source: notes section 1(b) "general anisotropic closed form" [DER,
    MC-verified], from the Gaussian identity E[Σ̂ C Σ̂] = (1 + 1/M) ΛCΛ + tr(CΛ)Λ/M (ZFB Lemma D.2).
    Reference: Λ = I, d = 5, A = (20/26) I: M = 20 -> 1.1538, M = 200 -> 0.3550.
    """
    A = np.asarray(A, dtype=np.float64)
    L = np.asarray(cov, dtype=np.float64)
    Ms = np.asarray(M, dtype=np.float64)
    s2, p2 = float(noise_var), float(prior_var)
    trL = np.trace(L)
    c2 = np.trace(L @ A @ L @ L @ A.T)
    c1 = np.trace(L @ A @ L @ A.T)
    quad = p2 * ((1 + 1 / Ms) * c2 + trL * c1 / Ms) + s2 * c1 / Ms
    out = quad - 2 * p2 * np.trace(L @ A @ L) + p2 * trL + s2
    return out[()] if np.ndim(out) == 0 else out


def _poly_risk_terms(s, etas, k, noise_var, prior_var):
    """Per-draw E-terms of the L-step GD error for spectra s (n, d) of Σ̂ = XᵀX/k."""
    P = np.ones_like(s)
    for e in etas:
        P = P * (1 - e * s)
    with np.errstate(divide="ignore", invalid="ignore"):
        Q = np.where(s > 0, (1 - P) / np.where(s > 0, s, 1.0), np.sum(etas))
    return np.sum(prior_var * P**2 + noise_var / k * Q**2 * s, axis=-1)


def gd_steps_risk_mc(k: int, d: int, etas, noise_var=0.0, prior_var=1.0, *, n_draws: int = 20_000, seed: int = 0):
    """Risk of L steps of GD with step sizes η_1..η_L from 0 (isotropic Gaussian model), Monte-Carlo over Wishart
    spectra only (everything else exact):

        R = σ² + E Σ_j [ψ² P(s_j)² + (σ²/k) Q(s_j)² s_j],  P(s) = Π_ℓ (1 − η_ℓ s),  Q(s) = (1 − P(s))/s,
    s_j the eigenvalues of Σ̂ = XᵀX/k (error recursion e_{ℓ+1} = (I − η_ℓ Σ̂) e_ℓ + η_ℓ Xᵀε/k, e_0 = −w).
    Symmetric in the η_ℓ. Returns (R, standard error). Source: notes section 2b ("optimal L-step GD risk") [NUM];
    reference (d=5, k=20, noiseless): L=1: 1.155 at η=0.769; L=2: 0.362 at (0.516, 1.250); L=3: 0.134.
    """
    rng = np.random.default_rng(seed)
    s = _wishart_eigs(rng, int(k), int(d), int(n_draws)) / k
    per = _poly_risk_terms(s, np.asarray(etas, dtype=np.float64), k, float(noise_var), float(prior_var))
    return float(noise_var) + float(per.mean()), float(per.std(ddof=1) / np.sqrt(per.size))


def gd_steps_risk(k: int, d: int, etas, noise_var=0.0, prior_var=1.0, **kw) -> float:
    """Value of :func:`gd_steps_risk_mc` (for L = 1 prefer the closed form :func:`gd_one_step_risk`)."""
    return gd_steps_risk_mc(k, d, etas, noise_var, prior_var, **kw)[0]


def gd_steps_optimal_etas(k: int, d: int, n_steps: int, noise_var=0.0, prior_var=1.0, *, n_draws: int = 20_000,
                          seed: int = 0):
    """Step sizes (η_1 ≤ … ≤ η_L) minimizing the L-step GD risk on a fixed set of Wishart spectra (common random
    numbers; Nelder–Mead then BFGS). Returns (etas, risk). No closed form exists for L ≥ 2 (Ahn et al.
    arXiv:2306.00297 give critical-point statements only). d=5, k=20, L=2: ≈ (0.516, 1.250), R ≈ 0.362."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(seed)
    s = _wishart_eigs(rng, int(k), int(d), int(n_draws)) / k

    def f(e):
        return float(noise_var) + float(np.mean(_poly_risk_terms(s, e, k, float(noise_var), float(prior_var))))

    eta1 = float(gd_one_step_optimal_eta(k, d, noise_var, prior_var))
    x0 = np.linspace(0.6 * eta1, 1.6 * eta1, n_steps) if n_steps > 1 else np.array([eta1])
    res = minimize(f, x0, method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 20_000})
    res = minimize(f, res.x, method="BFGS")
    return np.sort(res.x), float(res.fun)
