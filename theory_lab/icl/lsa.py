"""Linear self-attention (LSA) for in-context linear regression: models, training, and the global-minimum theory.

Two parametrizations, both of one prompt X (k, d), y (k,), x_q (d,):

* **Zhang–Frei–Bartlett (ZFB; arXiv:2306.09927, eqs. 3.3–3.6).** Embedding E = [[x_1..x_k, x_q],[y_1..y_k, 0]]
  ∈ R^{(d+1)×(k+1)}, f(E) = E + W^{PV} E (Eᵀ W^{KQ} E)/k, prediction ŷ = [f(E)]_{d+1,k+1}
  = W^{PV}[d,:] (EEᵀ/k) W^{KQ} (x_q, 0). The query column IS included in EEᵀ; the normalization is the number of
  labelled examples (ρ = N during training, M at a test prompt of length M, as in their Thm 4.2 predictor).
* **von Oswald et al. / Ahn et al. (arXiv:2212.07677, 2306.00297).** Tokens z_i = (x_i, y_i), query (x_q, 0);
  layer ℓ: Z ← Z + (1/k) P_ℓ Z M (Zᵀ Q_ℓ Z) with mask M = diag(I_k, 0) (keys/values from the k context tokens only);
  prediction ŷ = −[Z_L]_{d+1,k+1}. One layer with Q = [[I,0],[0,0]], P = η[[0,0],[0,−1]] is exactly one GD step
  of size η from w = 0 on (1/2k) Σ (<w,x_i> − y_i)² (von Oswald Prop. 1); L layers with P_ℓ = [[0,0],[0,1]],
  Q_ℓ = −[[A_ℓ,0],[0,0]] are exactly L steps of preconditioned GD w ← w − A_ℓ ∇ (Ahn et al. Lemma 1).

Theory (float64 NumPy): Γ = (1 + 1/N)Λ + tr(Λ)/N · I (ZFB Thm 4.1); the global minimum's effective predictor
ŷ = x_qᵀ Γ⁻¹ (1/M) Σ y_i x_i, reached as the product W^{PV}_{d+1,d+1} · W^{KQ}_{11} = Γ⁻¹ with the factor split
tr(Γ⁻²)^{±1/4} under gradient flow from the balanced initialization (Assumption 3.3); risks from
:func:`theory_lab.icl.estimators.linear_predictor_risk` (ZFB Thm 4.2 specialised to w ~ N(0, I)).

Training simulators are pure JAX: one trial = one training run from a seeded initialization, the optimizer steps
inside ``lax.scan`` with a fresh batch of prompts every step (online SGD/Adam on the population loss); shape
arguments are static ints, learning rate / init scale / noise are traced scalars.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np
import optax

from theory_lab.icl import estimators as est
from theory_lab.icl import tasks

__all__ = [
    "gamma_matrix", "gamma_inverse", "zfb_factor_limits", "zfb_risk", "zfb_thm42_risk", "zfb_cor43_bound",
    "zfb_predict", "zfb_init", "lsa_forward", "gd_construction", "gd_steps_construction",
    "conditional_loss", "train_zfb", "simulate_zfb_training", "train_lsa", "simulate_lsa_training",
    "simulate_construction_error", "lsa_readout", "gdpp_residual", "gdpp_risk_mc", "gdpp_optimal",
    "gdpp_projection", "simulate_lsa_multilayer",
]


# ---------------------------------------------------------------------------------------------------------------
# Theory (float64)
# ---------------------------------------------------------------------------------------------------------------


def gamma_matrix(cov, N: int) -> np.ndarray:
    """Γ = (1 + 1/N) Λ + (tr Λ / N) I_d  (ZFB arXiv:2306.09927 Thm 4.1).

    Symbols: Λ = ``cov`` (d, d) covariance of x (or a 1-D spectrum, meaning diag), N = training prompt length.
    Assumptions: x ~ N(0, Λ), w ~ N(0, I_d), noiseless labels, population loss, gradient flow from Assumption 3.3.
    Reference: Λ = I, d = 5, N = 20 gives Γ = (26/20) I."""
    L = np.asarray(cov, dtype=np.float64)
    if L.ndim == 1:
        L = np.diag(L)
    d = L.shape[0]
    return (1.0 + 1.0 / N) * L + np.trace(L) / N * np.eye(d)


def gamma_inverse(cov, N: int) -> np.ndarray:
    """Γ⁻¹: the global minimum's effective matrix W^{PV}_{d+1,d+1} W^{KQ}_{11} (ZFB Thm 4.1; = Ahn et al. Thm 1's
    −Q_0 block). Λ = diag(4, 2, 1, .5, .25), N = 20: diag Γ⁻¹ = [0.2180, 0.4020, 0.6957, 1.0959, 1.5385]."""
    return np.linalg.inv(gamma_matrix(cov, N))


def zfb_factor_limits(cov, N: int) -> tuple[float, float]:
    """Gradient-flow limit of the factors (ZFB Thm 4.1): u = W^{PV}_{d+1,d+1} → tr(Γ⁻²)^{1/4} and
    W^{KQ}_{11} → tr(Γ⁻²)^{-1/4} Γ⁻¹. Returns (u_limit, scale of W^{KQ}_11 = tr(Γ⁻²)^{-1/4}).
    Iso d=5, N=20: u = 1.3115."""
    gi = gamma_inverse(cov, N)
    t = float(np.trace(gi @ gi))
    return t**0.25, t**-0.25


def zfb_risk(cov, N: int, M, noise_var=0.0, prior_var=1.0, c: float = 1.0):
    """Prediction risk E(ŷ − y_q)² of the global-minimum LSA (trained at length N) on test prompts of length M with
    covariates scaled by c (x → c x, i.e. test covariance c²Λ):

        R = R_M(A = Γ⁻¹; Λ_test = c² Λ)   (:func:`theory_lab.icl.estimators.linear_predictor_risk`)

    ZFB Thm 4.2 for w ~ N(0, ψ² I) and noise σ² (notes section 1(b), [DER, MC-verified]); c ≠ 1 is their §4.2
    covariate shift, which the LSA does not tolerate: for large M, N, ŷ ≈ c² <w, x_q>.
    Reference (iso d=5, N=20): M=5: 3.8166, M=20: 1.1538, M=200: 0.3550; aniso Λ=diag(4,2,1,.5,.25): M=20: 1.5884."""
    L = np.asarray(cov, dtype=np.float64)
    if L.ndim == 1:
        L = np.diag(L)
    return est.linear_predictor_risk(gamma_inverse(L, N), c * c * L, M, noise_var, prior_var)


def zfb_thm42_risk(cov, N: int, M) -> np.ndarray:
    """ZFB Thm 4.2 as printed, for noiseless linear tasks (a = w, Σ_D = ‖w‖²_Λ Λ + Λwwᵀ Λ), averaged over
    w ~ N(0, I) (E Σ_D = tr(Λ) Λ + Λ²):

        R = (1/M) tr((tr(Λ) Λ + Λ²) Γ⁻² Λ) + (1/N²) tr(Γ⁻² Λ (Λ + tr(Λ) I)²).
    Must equal :func:`zfb_risk` (the independent derivation via E[Σ̂CΣ̂]); tested in tests/test_lsa.py."""
    L = np.asarray(cov, dtype=np.float64)
    if L.ndim == 1:
        L = np.diag(L)
    gi = gamma_inverse(L, N)
    g2 = gi @ gi
    t = np.trace(L)
    M = np.asarray(M, dtype=np.float64)
    B = L + t * np.eye(L.shape[0])
    return np.trace((t * L + L @ L) @ g2 @ L) / M + np.trace(g2 @ L @ B @ B) / N**2


def zfb_cor43_bound(cov, N: int, M) -> np.ndarray:
    """ZFB Cor. 4.3 (as read in the notes): E(ŷ − y)² ≤ (d+1) tr Λ / M + (1 + 2d + d² κ) tr Λ / N², κ = cond(Λ).
    Loose: 10.29 against the exact 1.59 at Λ = diag(4,2,1,.5,.25), N = M = 20."""
    L = np.asarray(cov, dtype=np.float64)
    if L.ndim == 1:
        L = np.diag(L)
    d = L.shape[0]
    ev = np.linalg.eigvalsh(L)
    kappa = ev[-1] / ev[0]
    M = np.asarray(M, dtype=np.float64)
    return (d + 1) * np.trace(L) / M + (1 + 2 * d + d * d * kappa) * np.trace(L) / N**2


def gdpp_residual(s, a, b):
    """Residual polynomial r_L(s) of L layers of GD++ with scalar parameters, evaluated at eigenvalues ``s`` of
    Σ̂ = XᵀX/k (isotropic noiseless model; von Oswald et al. App. A.10, Ahn et al. Thm 4's family with
    A_ℓ = a_ℓ I, B_ℓ = b_ℓ I): layer ℓ is the sparse LSA P_ℓ = [[b_ℓ I, 0],[0, 1]], Q_ℓ = −[[a_ℓ I, 0],[0, 0]], i.e.
    every token's input is transformed x ← (I − a_ℓ b_ℓ Σ̂_ℓ) x (Σ̂_ℓ the current inputs' second moment) and every
    label slot takes one preconditioned GD step of size a_ℓ on the current inputs. In the eigenbasis of Σ̂, with
    c the inputs' scale and r the residual coefficient (context labels = x_iᵀ r(Σ̂) w, prediction x_qᵀ (1 − r) w):

        c_0 = r_0 = 1,   r_{ℓ+1} = r_ℓ (1 − a_ℓ c_ℓ² s),   c_{ℓ+1} = c_ℓ (1 − a_ℓ b_ℓ c_ℓ² s)     [DER]

    and the risk is E Σ_j r_L(s_j)². b = 0 is plain L-step GD: r_L = Π_ℓ (1 − a_ℓ s) (Ahn Lemma 1). b_L is inert
    and may be omitted (``b`` of length L − 1, as :func:`gdpp_optimal` returns it)."""
    s = np.asarray(s, dtype=np.float64)
    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    b = np.atleast_1d(np.asarray(b, dtype=np.float64))
    b = np.concatenate([b, np.zeros(max(len(a) - len(b), 0))])  # b may omit the inert last entry
    c = np.ones_like(s)
    r = np.ones_like(s)
    for al, bl in zip(a, b):
        c2 = c * c
        r, c = r * (1.0 - al * c2 * s), c * (1.0 - al * bl * c2 * s)
    return r


def gdpp_risk_mc(k: int, d: int, a, b, *, n_draws: int = 100_000, seed: int = 0, chunk: int = 100_000):
    """Risk E(ŷ − y_q)² of L-layer scalar GD++ (:func:`gdpp_residual`) for x, w ~ N(0, I_d), noiseless, k context
    examples: E Σ_j r_L(s_j)², Monte-Carlo over Wishart spectra only, drawn in chunks of ``chunk`` (memory).
    Returns (risk, standard error). b = 0 reproduces :func:`estimators.gd_steps_risk_mc` (d=5, k=20: L=2 optimum
    0.362). The per-draw values are heavy-tailed for large steps (r_L is a polynomial in s of degree 4 at L = 2 and
    13 at L = 3), so use ≥ 10^6 draws where the value is a check's theory."""
    rng = np.random.default_rng(seed)
    tot = tot2 = 0.0
    n = int(n_draws)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        sv = est._wishart_eigs(rng, int(k), int(d), m) / k
        per = np.sum(gdpp_residual(sv, a, b) ** 2, axis=-1)
        tot += float(per.sum())
        tot2 += float((per * per).sum())
    mean = tot / n
    var = max(tot2 / n - mean * mean, 0.0) * n / (n - 1)
    return mean, float(np.sqrt(var / n))


def gdpp_optimal(k: int, d: int, n_layers: int, *, n_draws: int = 50_000, n_val: int = 1_000_000, seed: int = 0):
    """Optimal scalar GD++ parameters (a_1..a_L, b_1..b_{L−1}) for the isotropic noiseless model, and their risk.

    The risk is quadratic in the last step a_L (r_L = r_{L−1}(1 − a_L c_{L−1}² s)), so a_L is profiled out in closed
    form and the remaining 2(L−1) parameters are minimised by Nelder–Mead (from the best points of a small grid) on
    one fixed set of ``n_draws`` Wishart spectra (common random numbers). The risk at the optimum is then re-estimated
    on ``n_val`` independent spectra (:func:`gdpp_risk_mc`), so the returned value is not biased low by the
    optimisation.
    No closed form exists for L ≥ 2 (von Oswald et al. App. A.10 and Ahn et al. Thm 4 give critical points only).
    Returns (a, b, risk, standard error). d=5, k=20: L=1: 1.155 (= one step, η* = k/(k+d+1)); L=2: ≈ 0.057
    (plain 2-step GD: 0.362; 3-step GD: 0.134); L=3: ≈ 7e-4."""
    from itertools import product

    from scipy.optimize import minimize

    L = int(n_layers)
    s_fit = est._wishart_eigs(np.random.default_rng(seed), int(k), int(d), int(n_draws)) / k

    def last_step(x, s):
        a = np.concatenate([x[: L - 1], [0.0]])
        b = np.concatenate([x[L - 1:], [0.0]])
        c = np.ones_like(s)
        r = np.ones_like(s)
        for al, bl in zip(a[:-1], b[:-1]):
            c2 = c * c
            r, c = r * (1.0 - al * c2 * s), c * (1.0 - al * bl * c2 * s)
        v = r * c * c * s
        a_last = float(np.sum(r * v) / np.sum(v * v))
        return np.concatenate([a[:-1], [a_last]]), b  # b_L = 0 (inert)

    def risk(x, s):
        a, b = last_step(x, s)
        return np.sum(gdpp_residual(s, a, b) ** 2, axis=-1)

    if L == 1:
        x = np.zeros(0)
    else:
        eta1 = float(est.gd_one_step_optimal_eta(k, d))
        grid = [np.array(list(ag) + list(bg)) for ag in product(eta1 * np.array([0.4, 0.7, 1.0, 1.5, 2.5]),
                                                                 repeat=L - 1)
                for bg in product([0.0, 0.3, 0.6, 0.9, 1.2], repeat=L - 1)]
        scored = sorted(grid, key=lambda x0: float(np.mean(risk(x0, s_fit))))[:3]
        fits = [minimize(lambda x: float(np.mean(risk(x, s_fit))), x0, method="Nelder-Mead",
                         options={"xatol": 1e-7, "fatol": 1e-12, "maxiter": 20_000}) for x0 in scored]
        x = min(fits, key=lambda r: r.fun).x
    a, b = last_step(x, s_fit)
    r, se = gdpp_risk_mc(k, d, a, b, n_draws=n_val, seed=seed + 1)
    return a, b[:-1], r, se


# ---------------------------------------------------------------------------------------------------------------
# Models (pure JAX)
# ---------------------------------------------------------------------------------------------------------------


def zfb_predict(W_PV, W_KQ, X, y, xq):
    """ZFB LSA prediction for one prompt or a batch (X (..., k, d), y (..., k), xq (..., d)):
    ŷ = W_PV[d, :] (E Eᵀ / k) W_KQ (x_q, 0), E including the query column (x_q, 0)."""
    k = X.shape[-2]
    Z = jnp.concatenate([X, y[..., None]], axis=-1)                      # (..., k, d+1)
    zq = jnp.concatenate([xq, jnp.zeros_like(xq[..., :1])], axis=-1)     # (..., d+1)
    G = (jnp.einsum("...ti,...tj->...ij", Z, Z) + zq[..., :, None] * zq[..., None, :]) / k
    return jnp.einsum("i,...ij,jk,...k->...", W_PV[-1], G, W_KQ, zq)


def zfb_init(key, d: int, scale, dtype=jnp.float64):
    """Assumption 3.3 initialization: W_PV = σ [[0,0],[0,1]], W_KQ = σ [[ΘΘᵀ,0],[0,0]] with ‖ΘΘᵀ‖_F = 1
    (ΘΘᵀ = MMᵀ/‖MMᵀ‖_F, M a d×d standard Gaussian matrix); σ = ``scale``."""
    m = jax.random.normal(key, (d, d), dtype=dtype)
    t = m @ m.T
    t = t / jnp.linalg.norm(t)
    s = jnp.asarray(scale, dtype)
    W_PV = jnp.zeros((d + 1, d + 1), dtype).at[d, d].set(s)
    W_KQ = jnp.zeros((d + 1, d + 1), dtype).at[:d, :d].set(s * t)
    return W_PV, W_KQ


def lsa_forward(P, Q, X, y, xq):
    """L-layer masked LSA (von Oswald / Ahn): P, Q of shape (L, d+1, d+1); per layer
    Z ← Z + (1/k) P Z M Zᵀ Q Z (keys/values from the k context tokens only, every token updated); ŷ = −Z[d, k]
    (the query's label slot, started at 0). Batched over leading axes of X, y, xq."""
    k = X.shape[-2]
    Z = jnp.concatenate([X, y[..., None]], axis=-1)
    zq = jnp.concatenate([xq, jnp.zeros_like(xq[..., :1])], axis=-1)
    T = jnp.concatenate([Z, zq[..., None, :]], axis=-2)  # (..., k+1, d+1) tokens as rows

    def layer(T, pq):
        p, q = pq
        ctx = T[..., :k, :]
        S = jnp.einsum("...ti,...tj->...ij", ctx, ctx) / k  # (1/k) Σ_{i≤k} z_i z_iᵀ
        upd = jnp.einsum("ab,...bc,cd,...td->...ta", p, S, q, T)
        return T + upd, None

    T, _ = jax.lax.scan(layer, T, (P, Q))
    return -T[..., k, -1]


def lsa_readout(P, Q, X, y):
    """The linear read-out v(X, y) of the masked L-layer LSA (:func:`lsa_forward`): ŷ(x_q) = <v, x_q> for every query.

    Keys and values come from the context only, so the context tokens evolve independently of the query, and the
    query token evolves linearly: z_q ← (I + P_ℓ S_ℓ Q_ℓ) z_q. Propagating the d basis queries (e_j, 0) through the
    same layers therefore gives v_j = ŷ(e_j) exactly. For x_q ~ N(0, I) and noiseless labels this averages the query
    out exactly: E_{x_q}[(ŷ − <w, x_q>)² | X, w] = ‖v − w‖² (Rao–Blackwellization over the query). X (..., k, d),
    y (..., k) -> v (..., d)."""
    k, d = X.shape[-2], X.shape[-1]
    Z = jnp.concatenate([X, y[..., None]], axis=-1)
    basis = jnp.concatenate([jnp.eye(d, dtype=X.dtype), jnp.zeros((d, 1), X.dtype)], axis=-1)
    basis = jnp.broadcast_to(basis, X.shape[:-2] + basis.shape)
    T = jnp.concatenate([Z, basis], axis=-2)  # (..., k+d, d+1)

    # Layers unrolled (L is static and small) and M = P S Q formed first: about 2x faster on CPU than a lax.scan of
    # one 4-way einsum.
    for ell in range(P.shape[0]):
        ctx = T[..., :k, :]
        S = jnp.einsum("...ti,...tj->...ij", ctx, ctx) / k
        M = jnp.einsum("ab,...bc,cd->...ad", P[ell], S, Q[ell])
        T = T + jnp.einsum("...ad,...td->...ta", M, T)
    return -T[..., k:, d]


def gd_construction(d: int, eta, dtype=jnp.float64):
    """von Oswald Prop. 1 weights (one layer, Ahn normalization): P = η [[0,0],[0,−1]], Q = [[I,0],[0,0]]; then
    ``lsa_forward`` returns η x_qᵀ (1/k) Σ y_i x_i = one GD step of size η from w = 0. Shapes (1, d+1, d+1)."""
    P = jnp.zeros((1, d + 1, d + 1), dtype).at[0, d, d].set(-jnp.asarray(eta, dtype))
    Q = jnp.zeros((1, d + 1, d + 1), dtype).at[0, :d, :d].set(jnp.eye(d, dtype=dtype))
    return P, Q


def gd_steps_construction(precond, dtype=jnp.float64):
    """Ahn et al. Lemma 1 weights: P_ℓ = [[0,0],[0,1]], Q_ℓ = −[[A_ℓ,0],[0,0]] for preconditioners A_ℓ
    (``precond`` of shape (L, d, d)); ``lsa_forward`` then equals :func:`estimators.gd_steps_predict`."""
    A = jnp.asarray(precond, dtype)
    L, d = A.shape[0], A.shape[1]
    P = jnp.zeros((L, d + 1, d + 1), dtype).at[:, d, d].set(1.0)
    Q = jnp.zeros((L, d + 1, d + 1), dtype).at[:, :d, :d].set(-A)
    return P, Q


def conditional_loss(v, B, w, xq, cov, N: int, query_term: bool = True):
    """E_X[½ (ŷ − <w, x_q>)² | w, x_q]: the training loss of a one-layer LSA averaged exactly over the N context
    inputs (Rao–Blackwellization; "simulate the statistic, not the data"), for noiseless labels y_i = <w, x_i>.

    Model: ŷ = vᵀ G B x_q with v = W_PV[d, :] = (a, c), B = W_KQ[:, :d] = [B1; b2ᵀ], G = (Σ_i z_i z_iᵀ + q z_q z_qᵀ)/N,
    z_i = (x_i, y_i), z_q = (x_q, 0), q = 1 for ZFB (query in the keys) and 0 for the masked von Oswald/Ahn layer
    (whose read-out sign is absorbed into v). With p = a + c w, r = (B1 + w b2ᵀ) x_q, s = q (aᵀx_q)(x_qᵀ B1 x_q),
    t = <w, x_q>, ŷ = pᵀ W r / N + s/N, W = Σ x_i x_iᵀ ~ Wishart(N, Λ), and E[W A W] = N(N+1)ΛAΛ + N tr(AΛ)Λ
    (A symmetric) give

        E_X[ŷ²] = (1 + 1/N)(pᵀΛr)² + (rᵀΛr)(pᵀΛp)/N + 2 (pᵀΛr) s/N + s²/N²,   E_X[ŷ] = pᵀΛr + s/N.

    Unbiased for the population loss given (w, x_q) (tested against the data-level loss in tests/test_lsa.py).
    Batched over leading axes of w, xq; ``cov`` is Λ (d, d)."""
    d = w.shape[-1]
    a, c = v[:d], v[d]
    B1, b2 = B[:d], B[d]
    p = a.reshape((1,) * (w.ndim - 1) + a.shape) + c * w
    r = xq @ B1.T + w * (xq @ b2)[..., None]
    pLr = jnp.einsum("...i,ij,...j->...", p, cov, r)
    pLp = jnp.einsum("...i,ij,...j->...", p, cov, p)
    rLr = jnp.einsum("...i,ij,...j->...", r, cov, r)
    s = (xq @ a) * jnp.einsum("...i,ij,...j->...", xq, B1, xq) if query_term else jnp.zeros_like(pLr)
    t = jnp.sum(w * xq, axis=-1)
    ey2 = (1 + 1 / N) * pLr**2 + rLr * pLp / N + 2 * pLr * s / N + s**2 / N**2
    ey = pLr + s / N
    return 0.5 * (ey2 - 2 * ey * t + t**2)


# ---------------------------------------------------------------------------------------------------------------
# Training (online Adam, lax.scan over steps)
# ---------------------------------------------------------------------------------------------------------------


def _optimizer(lr, steps: int, b2: float = 0.999, hold: float = 0.0):
    """Adam with a cosine decay of the learning rate to 0 over ``steps`` (a decayed final step removes most of the
    stochastic-gradient jitter of the final iterate); with ``hold`` = h > 0 the rate stays at its peak for the first
    h·steps and the cosine runs over the rest (time at full rate to leave saddles, then the decay)."""
    flat = int(round(hold * steps))
    sched = optax.join_schedules([optax.constant_schedule(1.0), optax.cosine_decay_schedule(1.0, steps - flat)],
                                 [flat]) if flat > 0 else optax.cosine_decay_schedule(1.0, steps)
    return optax.chain(optax.scale_by_adam(b2=b2), optax.scale_by_schedule(lambda t: -lr * sched(t)))


def train_zfb(key, *, d: int, N: int, batch: int, steps: int, lr, init_scale, spectrum=None, noise_std=0.0,
              method: str = "conditional", dtype=jnp.float64):
    """Train the ZFB LSA from Assumption 3.3's initialization on fresh prompts every step (x ~ N(0, diag spectrum),
    w ~ N(0, I), noiseless, loss ½ mean (ŷ − y_q)²). ``method="data"`` draws whole prompts (the naive reference);
    ``"conditional"`` (default) draws only (w, x_q) and averages the context out exactly (:func:`conditional_loss`;
    same expected gradient, far fewer random numbers; ``noise_std`` must then be 0). Returns (W_PV, W_KQ, last loss).
    """
    kinit, kdata = jax.random.split(key)
    params = zfb_init(kinit, d, init_scale, dtype)
    opt = _optimizer(jnp.asarray(lr, dtype), steps)
    state = opt.init(params)

    cov = jnp.eye(d, dtype=dtype) if spectrum is None else jnp.diag(jnp.asarray(spectrum, dtype))

    def loss_fn(params, pr):
        if method == "data":
            return 0.5 * jnp.mean((zfb_predict(*params, pr.X, pr.y, pr.xq) - pr.yq) ** 2)
        return jnp.mean(conditional_loss(params[0][d], params[1][:, :d], pr.w, pr.xq, cov, N, True))

    def step(carry, kk):
        params, state = carry
        if method == "data":
            pr = tasks.sample_prompts(kk, batch, N, d, noise_std=noise_std, spectrum=spectrum, dtype=dtype)
        else:  # only (w, x_q) are drawn; the context is averaged out exactly
            z = jax.random.normal(kk, (batch, 2, d), dtype=dtype)  # one draw site: fast compile
            xq = z[:, 1] if spectrum is None else z[:, 1] * jnp.sqrt(jnp.asarray(spectrum, dtype))[None, :]
            pr = tasks.Prompt(X=None, y=None, xq=xq, yq=None, w=z[:, 0])
        loss, g = jax.value_and_grad(loss_fn)(params, pr)
        upd, state = opt.update(g, state, params)
        return (optax.apply_updates(params, upd), state), loss

    (params, _), losses = jax.lax.scan(step, (params, state), jax.random.split(kdata, steps))
    return params[0], params[1], losses[-1]


def simulate_zfb_training(key, *, d: int, N: int, test_lengths: tuple, batch: int, steps: int, n_test: int, lr,
                          init_scale, spectrum=None, scales: tuple = (), method: str = "conditional",
                          dtype=jnp.float64):
    """One trial of ZFB training and evaluation. Returns per-trial statistics:

    * ``product`` (d, d): W_PV[d, d] · W_KQ[:d, :d] (the identifiable effective matrix; → Γ⁻¹);
    * ``u``: W_PV[d, d]; ``kq_norm``: ‖W_KQ[:d,:d]‖_F (factors, reported, not compared: SGD/Adam do not keep them);
    * ``off_pv``, ``off_kq``: ‖W_PV[d, :d]‖, ‖W_KQ[d, :d]‖ (→ 0 at the balanced global minimum);
    * ``risk`` (len(test_lengths),): mean over ``n_test`` fresh noiseless prompts of (ŷ − y_q)² at each test length M;
    * ``risk_se2``: the squared standard error of ``risk`` over the test prompts (variance / n_test);
    * ``risk_scaled``, ``risk_scaled_se2`` (len(scales),): the same at M = test_lengths[-1] with covariates (and
      hence labels) scaled x → c x.
    ``test_lengths`` and ``scales`` are static tuples (shapes); ``spectrum`` a static tuple or None.
    """
    ktrain, ktest = jax.random.split(key)
    spec = None if spectrum is None else jnp.asarray(spectrum, dtype)
    W_PV, W_KQ, last = train_zfb(ktrain, d=d, N=N, batch=batch, steps=steps, lr=lr, init_scale=init_scale,
                                 spectrum=spec, method=method, dtype=dtype)
    # one draw of n_test prompts of the longest test length; shorter lengths use prefixes (prefix sums of the
    # per-token attention terms, so memory is O(n_test * M)); scaled covariates x -> c x reuse the same prompts
    # (common random numbers): every token and the query scale by c, so the ZFB prediction scales by c^3 and the
    # label by c.
    m_max = int(max(test_lengths))
    z = jax.random.normal(ktest, (n_test, m_max + 2, d), dtype=dtype)
    w = z[:, -1]
    xs = z[:, :-1] if spec is None else z[:, :-1] * jnp.sqrt(spec)[None, None, :]
    ys = jnp.einsum("bti,bi->bt", xs, w)
    X, y, xq, yq = xs[:, :m_max], ys[:, :m_max], xs[:, m_max], ys[:, m_max]
    v = W_PV[d]
    Bx = xq @ W_KQ[:, :d].T                                        # (n_test, d+1): W_KQ (x_q, 0)
    a_i = X @ v[:d] + y * v[d]                                     # v . z_i
    c_i = jnp.einsum("bti,bi->bt", X, Bx[:, :d]) + y * Bx[:, d:]   # z_i . W_KQ (x_q, 0)
    cums = jnp.cumsum(a_i * c_i, axis=1)
    q_term = (xq @ v[:d]) * jnp.sum(xq * Bx[:, :d], axis=-1)       # the query column's own term

    def risk_at(M, c=1.0):
        yhat = (cums[:, M - 1] + q_term) / M
        err2 = (c**3 * yhat - c * yq) ** 2
        return jnp.stack([jnp.mean(err2), jnp.var(err2, ddof=1) / n_test])

    risks = [risk_at(int(M)) for M in test_lengths]
    scaled = [risk_at(int(test_lengths[-1]), jnp.asarray(c, dtype)) for c in scales]
    out = {
        "product": W_PV[d, d] * W_KQ[:d, :d],
        "u": W_PV[d, d],
        "kq_norm": jnp.linalg.norm(W_KQ[:d, :d]),
        "off_pv": jnp.linalg.norm(W_PV[d, :d]),
        "off_kq": jnp.linalg.norm(W_KQ[d, :d]),
        "risk": jnp.stack(risks)[:, 0],
        "risk_se2": jnp.stack(risks)[:, 1],
        "final_loss": last,
    }
    if scales:
        out["risk_scaled"] = jnp.stack(scaled)[:, 0]
        out["risk_scaled_se2"] = jnp.stack(scaled)[:, 1]
    return out


def train_lsa(key, *, d: int, N: int, n_layers: int, batch: int, steps: int, lr, init_std, method: str = "conditional",
              dtype=jnp.float64, b2: float = 0.999, hold: float = 0.0):
    """Train an L-layer masked LSA (:func:`lsa_forward`, all entries of P_ℓ, Q_ℓ free) on fresh isotropic noiseless
    Gaussian prompts, loss ½ mean (ŷ − y_q)², Adam with cosine decay, init P, Q entries ~ N(0, init_std²)
    (Ahn et al.'s code uses N(0, 1e-4²); von Oswald 0.002/L — a larger std avoids the long plateau of App. A.11).
    For one layer, ``method="conditional"`` (default) averages the context out exactly given (w, x_q)
    (:func:`conditional_loss` without the query term); ``"readout"`` (any L) draws (X, w) and averages the query out
    exactly, loss ½ mean ‖v − w‖² with v the read-out of :func:`lsa_readout` (same expected loss and gradient as the
    data-level loss, lower variance); ``"data"`` (and "conditional" at L > 1) draw whole prompts. ``b2``: Adam's
    second-moment decay, ``hold``: fraction of steps at the peak rate before the cosine decay (both static).
    Returns (P, Q, final loss)."""
    kinit, kdata = jax.random.split(key)
    k1, k2 = jax.random.split(kinit)
    s = jnp.asarray(init_std, dtype)
    params = (s * jax.random.normal(k1, (n_layers, d + 1, d + 1), dtype),
              s * jax.random.normal(k2, (n_layers, d + 1, d + 1), dtype))
    opt = _optimizer(jnp.asarray(lr, dtype), steps, b2, hold)
    state = opt.init(params)

    conditional = method == "conditional" and n_layers == 1
    readout = method == "readout"
    eye = jnp.eye(d, dtype=dtype)

    def loss_fn(params, pr):
        if conditional:  # masked one-layer: ŷ = (−P[d,:]) S Q[:, :d] x_q, no query term
            return jnp.mean(conditional_loss(-params[0][0, d], params[1][0, :, :d], pr.w, pr.xq, eye, N, False))
        if readout:
            return 0.5 * jnp.mean(jnp.sum((lsa_readout(*params, pr.X, pr.y) - pr.w) ** 2, axis=-1))
        return 0.5 * jnp.mean((lsa_forward(*params, pr.X, pr.y, pr.xq) - pr.yq) ** 2)

    def step(carry, kk):
        params, state = carry
        if conditional:
            z = jax.random.normal(kk, (batch, 2, d), dtype=dtype)
            pr = tasks.Prompt(X=None, y=None, xq=z[:, 1], yq=None, w=z[:, 0])
        else:
            pr = tasks.sample_prompts(kk, batch, N, d, dtype=dtype)
        loss, g = jax.value_and_grad(loss_fn)(params, pr)
        upd, state = opt.update(g, state, params)
        return (optax.apply_updates(params, upd), state), loss

    (params, _), losses = jax.lax.scan(step, (params, state), jax.random.split(kdata, steps))
    return params[0], params[1], losses[-1]


def simulate_lsa_training(key, *, d: int, N: int, n_layers: int, batch: int, steps: int, n_test: int, lr, init_std,
                          eta_gd=None, method: str = "conditional", dtype=jnp.float64):
    """One trial: train an L-layer LSA, then on ``n_test`` fresh prompts (length N) return ``risk`` = mean (ŷ − y_q)²,
    and for one layer also ``product`` = −P[0, d, d] · Q[0, :d, :d] (→ η* I) and, when ``eta_gd`` is given,
    ``gap`` = mean (ŷ_LSA − ŷ_GD(η))² against one GD step of size ``eta_gd`` on the same prompts (a pair
    (η, η') also gives ``gap_wrong`` against η'). ``risk_se2`` is the squared standard error of ``risk``."""
    ktrain, ktest = jax.random.split(key)
    P, Q, last = train_lsa(ktrain, d=d, N=N, n_layers=n_layers, batch=batch, steps=steps, lr=lr, init_std=init_std,
                           method=method, dtype=dtype)
    pr = tasks.sample_prompts(ktest, n_test, N, d, dtype=dtype)
    yhat = lsa_forward(P, Q, pr.X, pr.y, pr.xq)
    err2 = (yhat - pr.yq) ** 2
    out = {"risk": jnp.mean(err2), "risk_se2": jnp.var(err2, ddof=1) / n_test, "final_loss": last}
    if n_layers == 1:
        out["product"] = -P[0, d, d] * Q[0, :d, :d]
        # value read-out from the x-rows of P and the y-column of Q (zero at the GD-like optimum)
        out["off"] = jnp.sqrt(jnp.sum(P[0, d, :d] ** 2) * jnp.sum(Q[0, :d, :d] ** 2)
                              + P[0, d, d] ** 2 * jnp.sum(Q[0, d, :d] ** 2))
        if eta_gd is not None:
            etas = tuple(eta_gd) if isinstance(eta_gd, (tuple, list)) else (eta_gd,)
            for name, e in zip(("gap", "gap_wrong"), etas):
                out[name] = jnp.mean((yhat - est.gd_one_step_predict(pr.X, pr.y, pr.xq, e)) ** 2)
    return out


def gdpp_projection(P, Q):
    """The scalar GD++ parameters nearest to trained full weights, per layer (layer ℓ of Ahn et al. Thm 4's family
    P = [[b I, 0],[0, 1]], Q = −[[a I, 0],[0, 0]] up to the symmetry (P, Q) → (tP, Q/t)): with c = P[d,d],
    a = −c · mean diag Q[:d,:d], b = mean diag P[:d,:d] / c. Also the fraction of the weights' squared norm outside
    that pattern (off-block entries, Q[d,d], and the traceless parts of the d×d blocks), after balancing ‖P‖ = ‖Q‖
    per layer. Shapes (L,), (L,), (L,)."""
    d = P.shape[-1] - 1
    c = P[:, d, d]
    dq = jnp.trace(Q[:, :d, :d], axis1=1, axis2=2) / d
    dp = jnp.trace(P[:, :d, :d], axis1=1, axis2=2) / d
    a = -c * dq
    b = dp / c
    eye = jnp.eye(d, dtype=P.dtype)
    t = jnp.sqrt(jnp.linalg.norm(Q, axis=(1, 2)) / jnp.linalg.norm(P, axis=(1, 2)))
    Pb, Qb = P * t[:, None, None], Q / t[:, None, None]

    def off(M, dm):
        inside = jnp.sum((M[:, :d, :d] - dm[:, None, None] * eye[None]) ** 2, axis=(1, 2))
        return jnp.sum(M[:, :d, d] ** 2, axis=1) + jnp.sum(M[:, d, :d] ** 2, axis=1) + inside

    frac = (off(Pb, dp * t) + off(Qb, dq / t) + Qb[:, d, d] ** 2) / (
        jnp.sum(Pb**2, axis=(1, 2)) + jnp.sum(Qb**2, axis=(1, 2)))
    return a, b, frac


def simulate_lsa_multilayer(key, *, d: int, N: int, n_layers: int, batch: int, steps: int, n_test: int, lr,
                            init_std, b2: float = 0.999, hold: float = 0.0, dtype=jnp.float64, train_dtype=None):
    """One trial of the multi-layer experiment: train an L-layer masked LSA with every entry of P_ℓ, Q_ℓ free from
    a small random initialization (:func:`train_lsa`, ``method="readout"``: fresh isotropic noiseless prompts, the
    query averaged out exactly; ``b2``, ``hold`` as there), in ``train_dtype`` (default ``dtype``); then, in ``dtype``,
    on ``n_test`` fresh prompts of length N:

    * ``risk``: mean over prompts of ‖v − w‖² = E_{x_q}[(ŷ − <w, x_q>)² | X, w] (exact in the query), and
      ``risk_se2`` its squared standard error over the prompts;
    * ``risk_data``: the plain data-level mean (ŷ − y_q)² on the same prompts (one query each; a cross-check);
    * ``a``, ``b``, ``off`` (L,): :func:`gdpp_projection` of the trained weights; ``final_loss``."""
    tdt = dtype if train_dtype is None else train_dtype
    ktrain, ktest = jax.random.split(key)
    P, Q, last = train_lsa(ktrain, d=d, N=N, n_layers=n_layers, batch=batch, steps=steps,
                           lr=jnp.asarray(lr, tdt), init_std=jnp.asarray(init_std, tdt), method="readout",
                           dtype=tdt, b2=b2, hold=hold)
    P, Q = P.astype(dtype), Q.astype(dtype)
    pr = tasks.sample_prompts(ktest, n_test, N, d, dtype=dtype)
    v = lsa_readout(P, Q, pr.X, pr.y)
    e = jnp.sum((v - pr.w) ** 2, axis=-1)
    yhat = jnp.sum(v * pr.xq, axis=-1)
    a, b, off = gdpp_projection(P, Q)
    return {"risk": jnp.mean(e), "risk_se2": jnp.var(e, ddof=1) / n_test,
            "risk_data": jnp.mean((yhat - pr.yq) ** 2), "a": a, "b": b, "off": off,
            "final_loss": last.astype(dtype)}


def simulate_construction_error(key, *, d: int, N: int, n_layers: int, n_prompts: int, eta, dtype=jnp.float64):
    """One trial of the exact-equivalence check on ``n_prompts`` fresh isotropic Gaussian prompts of length N.

    * ``err_one``: max |ŷ_LSA − ŷ_GD| / max |ŷ_GD| for von Oswald's one-layer construction (:func:`gd_construction`)
      against one GD step of size η (traced) from 0; ``err_one_wrong``: the same against the slip "step η/(N+1)"
      (normalizing by the N+1 tokens instead of the N context examples);
    * ``err_multi``, ``err_multi_wrong``: Ahn et al. Lemma 1 — the sparse ``n_layers``-layer construction
      (:func:`gd_steps_construction`) with random symmetric positive-definite preconditioners A_ℓ (drawn per trial,
      scale η) against ``n_layers`` steps of preconditioned GD (and against the same slip).
    """
    kp, ka = jax.random.split(key)
    pr = tasks.sample_prompts(kp, n_prompts, N, d, dtype=dtype)
    eta = jnp.asarray(eta, dtype)
    P1, Q1 = gd_construction(d, eta, dtype)
    y_lsa = lsa_forward(P1, Q1, pr.X, pr.y, pr.xq)
    y_gd = est.gd_one_step_predict(pr.X, pr.y, pr.xq, eta)
    y_wrong = est.gd_one_step_predict(pr.X, pr.y, pr.xq, eta * N / (N + 1))
    scale = jnp.max(jnp.abs(y_gd))
    g = jax.random.normal(ka, (n_layers, d, d), dtype=dtype)
    A = eta * (jnp.eye(d, dtype=dtype)[None] + 0.1 * (g + jnp.swapaxes(g, 1, 2)))
    PL, QL = gd_steps_construction(A, dtype)
    m_lsa = lsa_forward(PL, QL, pr.X, pr.y, pr.xq)
    m_gd = est.gd_steps_predict(pr.X, pr.y, pr.xq, A)
    m_wrong = est.gd_steps_predict(pr.X, pr.y, pr.xq, A * (N / (N + 1)))
    mscale = jnp.max(jnp.abs(m_gd))
    return {
        "err_one": jnp.max(jnp.abs(y_lsa - y_gd)) / scale,
        "err_one_wrong": jnp.max(jnp.abs(y_lsa - y_wrong)) / scale,
        "err_multi": jnp.max(jnp.abs(m_lsa - m_gd)) / mscale,
        "err_multi_wrong": jnp.max(jnp.abs(m_lsa - m_wrong)) / mscale,
    }
