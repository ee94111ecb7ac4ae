"""Task diversity in in-context regression: the linear-attention model of Lu, Letey, Zavatone-Veth, Maiti, Pehlevan,
"Asymptotic theory of in-context learning by linear attention" (PNAS 122(28) 2025; arXiv:2405.11751), whose
memorisation-to-ICL transition at K ~ d pretraining tasks is the solvable analogue of Raventos, Paul, Chen, Ganguli
(arXiv:2306.15063; transformers behave like the discrete-prior Bayes estimator dMMSE below a task-count threshold and
like ridge above it).

Setting (Lu et al., code ``mletey/incontext-cleanup`` ``theory_runs/common.py``; notes in_context_learning.md 4c):
  x ~ N(0, I_d/d); a pretraining pool of K = kappa d tasks w with ||w|| = sqrt(d) (Gaussian directions); n = tau d^2
  pretraining prompts, each of context length l = alpha d and one query, prompt j using task j mod K; labels
  y = <w, x> + eps, eps ~ N(0, rho). Features h = [(d/l) sum_i y_i x_i ; (1/l) sum_i y_i^2] in R^{d+1}; prediction
  yhat = x_q^T Gamma h with Gamma in R^{d x (d+1)} fitted by ridge regression with penalty (n/d) lambda ||Gamma||_F^2.
  Errors: e_ICL on fresh tasks w ~ N(0, I_d); e_IDG on tasks drawn from the pretraining pool. The zero predictor
  scores 1 + rho.

Asymptotics (d, K, n, l -> inf with kappa = K/d, tau = n/d^2, alpha = l/d fixed; lambda -> 0, "ridgeless"):
:func:`ridgeless_icl` and :func:`ridgeless_idg`, ported from the authors' code (functions of the same name), built
on the Marchenko-Pastur Stieltjes transform M_kappa(x) = 2/((x + 1 - 1/kappa) + sqrt((x + 1 - 1/kappa)^2 + 4x/kappa))
at x* = (1 + rho)/alpha. As kappa -> inf e_ICL tends to the unlimited-diversity value; at tau, kappa -> inf it is
rho + (1 + rho)/(alpha + 1 + rho) (notes 4c, an independent cross-check).

Simulator: :func:`simulate_task_diversity` samples each prompt's sufficient statistics exactly (``simulate the
statistic``: O(d) random numbers per prompt instead of O(l d)), fits Gamma in closed form and measures e_ICL, e_IDG on
fresh prompts. :func:`prompt_features_naive` is the data-level reference it is tested against.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "m_kappa",
    "ridgeless_icl",
    "ridgeless_idg",
    "icl_infinite_diversity",
    "sizes",
    "n_normals",
    "prompt_features_from_normals",
    "prompt_features",
    "prompt_features_naive",
    "simulate_task_diversity",
]


def m_kappa(x, kappa):
    """Stieltjes-type transform of the Marchenko-Pastur law used by Lu et al.:
    M_kappa(x) = 2 / ((x + 1 - 1/kappa) + sqrt((x + 1 - 1/kappa)^2 + 4 x / kappa)), x > 0, kappa > 0."""
    x = np.asarray(x, dtype=np.float64)
    b = x + 1.0 - 1.0 / kappa
    return 2.0 / (b + np.sqrt(b * b + 4.0 * x / kappa))


def ridgeless_icl(alpha: float, kappa: float, tau: float, rho: float) -> float:
    """Asymptotic ICL error (fresh tasks) of the ridgeless (lambda -> 0) linear-attention fit, Lu et al. 2405.11751
    (Result 1/eq. for e_ICL; ported verbatim from ``ridgeless_icl`` in the authors' ``theory_runs/common.py``).

    Symbols: alpha = l/d (context length), kappa = K/d (task diversity), tau = n/d^2 (pretraining prompts),
    rho = noise variance; x* = (1 + rho)/alpha, m* = M_kappa(x*), mu* = x* M_{kappa/tau}(x*). Two branches: tau < 1
    (fewer prompts than parameters: minimum-norm interpolation) and tau > 1. Assumptions: Gaussian covariates
    N(0, I/d), task directions uniform, ||w||^2 = d, proportional limit. tau = 1 is the interpolation peak (diverges).
    """
    x = (1.0 + rho) / alpha
    m = float(m_kappa(x, kappa))
    mu = x * float(m_kappa(x, kappa / tau))
    if tau < 1:
        return float(tau * (1 + x) / (1 - tau) * (1 - tau * (1 - mu) ** 2 - (x - rho) / x * mu)
                     - 2 * tau * (1 - mu) + rho + 1)
    k_star = 1.0 / (1.0 - kappa * (m / (kappa + m)) ** 2)
    term1 = (k_star - 1.0 / (tau - 1)) * (1 + x) * (x * m) ** 2
    term2 = (3 - 2 * tau) / (tau - 1) * m * x**2
    term3 = ((1 + rho) / (tau - 1) * m + 1) * x + rho * m / (tau - 1) + rho
    return float(term1 + term2 + term3)


def ridgeless_idg(alpha: float, kappa: float, tau: float, rho: float) -> float:
    """Asymptotic in-distribution error (test tasks drawn from the pretraining pool), Lu et al. 2405.11751; ported
    from ``ridgeless_idg`` in the authors' code. Same symbols and assumptions as :func:`ridgeless_icl`."""
    xs = (1 + rho) / alpha
    ms = 2 / (xs + 1 - 1 / kappa + np.sqrt(4 * xs / kappa + (xs + 1 - 1 / kappa) ** 2))
    mus = 2 * xs / (xs + 1 - tau / kappa + np.sqrt(4 * xs * tau / kappa + (xs + 1 - tau / kappa) ** 2))
    if tau < 1:
        eps = (1 - tau) * xs / (tau * mus)
        c = 1 / (1 - kappa / (1 + kappa * eps / (1 - tau)) ** 2)
        ans = (xs + eps) ** 2 / eps + (rho + xs - 2 * xs * (1 - tau) * (xs / eps + 1)) / (1 - tau - c * (1 - tau) ** 2)
    else:
        ans = (rho + xs * (1 - xs * ms)) / (tau - 1)
    return float(tau * ans)


def icl_infinite_diversity(alpha: float, rho: float) -> float:
    """e_ICL at tau, kappa -> inf: rho + (1 + rho)/(alpha + 1 + rho) (notes 4b/4c [DER]; the optimal linear-attention
    risk at matched length in these units)."""
    return rho + (1 + rho) / (alpha + 1 + rho)


def sizes(d: int, alpha: float, kappa: float, tau: float) -> tuple[int, int, int]:
    """(l, K, n) = (round(alpha d), max(1, round(kappa d)), round(tau d^2))."""
    return int(round(alpha * d)), max(1, int(round(kappa * d))), int(round(tau * d * d))


def n_normals(d: int, ell: int) -> int:
    """Standard normals consumed by :func:`prompt_features_from_normals` for one prompt: 2 l + 2 d + 1."""
    return 2 * ell + 2 * d + 1


def prompt_features_from_normals(z, w, ell: int, rho, dtype=jnp.float64):
    """Exact sample of (h, x_q, y_q) for one prompt of task w (d,), without drawing the l x d context, from
    ``n_normals(d, l)`` iid standard normals z.

    Rotate so that w/||w|| is the first axis. The context's first coordinates a (l,) ~ N(0, I/d): A = ||a||^2 ~
    chi^2_l/d; write eps = e1 u + eps_perp with u = a/||a||: e1 ~ N(0, rho), ||eps_perp||^2 ~ rho chi^2_{l-1}. Then
    y = (||w|| sqrt(A) + e1) u + eps_perp, so sum_i y_i a_i = sqrt(A)(||w|| sqrt(A) + e1), ||y||^2 =
    (||w|| sqrt(A) + e1)^2 + ||eps_perp||^2, and the orthogonal part of sum_i y_i x_i is
    N(0, ||y||^2/d (I - w w^T/||w||^2)) given y. The query is drawn directly. Chi-square variates are sums of squared
    normals (exact). Returns h (d+1,), x_q (d,), y_q ().
    """
    d = w.shape[0]
    z = z.astype(dtype)
    sd = jnp.sqrt(jnp.asarray(d, dtype))
    a2 = jnp.sum(z[:ell] ** 2) / d
    eperp = rho * jnp.sum(z[ell:2 * ell - 1] ** 2)
    e1 = jnp.sqrt(rho) * z[2 * ell - 1]
    g = z[2 * ell:2 * ell + d]
    xq = z[2 * ell + d:2 * ell + 2 * d] / sd
    r = jnp.sqrt(jnp.sum(w * w))
    wh = w / r
    c = r * jnp.sqrt(a2) + e1
    s1 = jnp.sqrt(a2) * c
    y2 = c * c + eperp
    gperp = g - jnp.dot(g, wh) * wh
    v = s1 * wh + jnp.sqrt(y2 / d) * gperp
    h = jnp.concatenate([(d / ell) * v, (y2 / ell)[None]])
    yq = jnp.dot(w, xq) + jnp.sqrt(rho) * z[2 * ell + 2 * d]
    return h, xq, yq


def prompt_features(key, w, ell: int, rho, dtype=jnp.float64):
    """:func:`prompt_features_from_normals` with the normals drawn from ``key`` (one random call per prompt)."""
    z = jax.random.normal(key, (n_normals(w.shape[0], ell),), dtype)
    return prompt_features_from_normals(z, w, ell, rho, dtype)


def prompt_features_naive(key, w, ell: int, rho, dtype=jnp.float64):
    """Data-level reference for :func:`prompt_features`: draw the l x d context and the query, compute h. (All
    normals come from one random call, which keeps the compile time of the traced simulator short.)"""
    d = w.shape[0]
    z = jax.random.normal(key, (ell * d + ell + d + 1,), dtype)
    x = z[:ell * d].reshape(ell, d) / jnp.sqrt(jnp.asarray(d, dtype))
    y = x @ w + jnp.sqrt(rho) * z[ell * d:ell * d + ell]
    h = jnp.concatenate([(d / ell) * (x.T @ y), (jnp.sum(y * y) / ell)[None]])
    xq = z[ell * d + ell:ell * d + ell + d] / jnp.sqrt(jnp.asarray(d, dtype))
    yq = jnp.dot(w, xq) + jnp.sqrt(rho) * z[-1]
    return h, xq, yq


def _pool(key, k_max: int, d: int, dtype):
    b = jax.random.normal(key, (k_max, d), dtype)
    return b / jnp.linalg.norm(b, axis=1, keepdims=True) * jnp.sqrt(jnp.asarray(d, dtype))


def simulate_task_diversity(key, *, d: int, ell: int, n: int, k_max: int, n_test: int, n_tasks, rho, lam=1e-6,
                            naive: bool = False, dtype=jnp.float64):
    """One trial: draw a pool of ``n_tasks`` (traced, <= k_max static) tasks, n pretraining prompts (prompt j uses
    task j mod n_tasks), fit Gamma by ridge (penalty (n/d) lam), and return the test errors on ``n_test`` fresh
    prompts: ``e_icl`` (fresh tasks w ~ N(0, I_d)) and ``e_idg`` (tasks from the pool), plus the training error
    ``e_train``. Static: d, ell, n, k_max, n_test, naive (data-level features). Traced: n_tasks, rho, lam.
    """
    feats = prompt_features_from_normals
    k_pool, k_train, k_icl, k_pick = jax.random.split(key, 4)
    pool = _pool(k_pool, k_max, d, dtype)
    n_tasks = jnp.asarray(n_tasks, jnp.int32)
    rho = jnp.asarray(rho, dtype)
    # Accumulate the normal equations over chunks of prompts (lax.scan): memory O(chunk d^2 + d^4), not O(n d^2).
    # One random call per chunk (compile time: one threefry per call site rather than one per variate).
    chunk = min(n, 512)
    n_chunks = -(-n // chunk)
    nz = n_normals(d, ell)
    keys = jax.random.split(k_train, n_chunks)
    idx = jnp.arange(n_chunks * chunk).reshape(n_chunks, chunk)
    n_feat = d * (d + 1)

    def batch(k, tasks):
        z = jax.random.normal(k, (tasks.shape[0], nz), dtype)
        return jax.vmap(lambda zz, w: feats(zz, w, ell, rho, dtype))(z, tasks)

    if naive:
        def batch(k, tasks):  # noqa: F811  (data-level reference: one key per prompt)
            return jax.vmap(lambda kk, w: prompt_features_naive(kk, w, ell, rho, dtype))(
                jax.random.split(k, tasks.shape[0]), tasks)

    def accumulate(carry, args):
        gram, mom, yy = carry
        k, ids = args
        valid = (ids < n).astype(dtype)
        h, xq, yq = batch(k, pool[ids % n_tasks])
        z = jnp.einsum("na,nb->nab", xq, h).reshape(chunk, n_feat) * valid[:, None]  # vec(x_q h^T)
        yq = yq * valid
        return (gram + z.T @ z, mom + z.T @ yq, yy + jnp.sum(yq * yq)), None

    init = (jnp.zeros((n_feat, n_feat), dtype), jnp.zeros((n_feat,), dtype), jnp.zeros((), dtype))
    (gram, mom, yy), _ = jax.lax.scan(accumulate, init, (keys, idx))
    reg = (n / d) * jnp.asarray(lam, dtype)
    gamma = jnp.linalg.solve(gram + reg * jnp.eye(n_feat, dtype=dtype), mom)
    e_train = (yy - 2.0 * jnp.dot(gamma, mom) + gamma @ gram @ gamma) / n

    # Test prompts: n_test on fresh tasks w ~ N(0, I_d), then n_test on pool tasks, in one batch.
    w_new = jax.random.normal(k_pick, (n_test, d), dtype)
    w_old = pool[jax.random.randint(jax.random.fold_in(k_pick, 1), (n_test,), 0, n_tasks)]
    h2, xq2, yq2 = batch(k_icl, jnp.concatenate([w_new, w_old]))
    sq = (jnp.einsum("na,nb,ab->n", xq2, h2, gamma.reshape(d, d + 1)) - yq2) ** 2
    return {
        "e_icl": jnp.mean(sq[:n_test]),
        "e_idg": jnp.mean(sq[n_test:]),
        "e_train": e_train,
    }
