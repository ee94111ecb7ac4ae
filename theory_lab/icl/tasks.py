"""In-context linear-regression prompts: covariates, tasks, labels (pure JAX, explicit keys).

A prompt of length k holds k labelled examples (x_i, y_i) and a query (x_q, y_q) of one task w:

    x_i, x_q ~ D_x (iid),   y = <w, x> + eps,   eps ~ N(0, noise_std^2),   w ~ N(0, prior_std^2 I_d)
    (or w drawn uniformly from a finite task pool {w_1..w_K}, Raventós et al. arXiv:2306.15063).

Covariates D_x:
  * ``"gaussian"``: x = (z * sqrt(spectrum)) @ basis.T with z ~ N(0, I_d), i.e. x ~ N(0, Λ), Λ = B diag(spectrum) Bᵀ.
    ``spectrum=None`` is the isotropic case Λ = I (Garg et al. arXiv:2208.01066; Zhang–Frei–Bartlett
    arXiv:2306.09927 with general Λ); ``basis=None`` means B = I (diagonal Λ).
  * ``"uniform"``: x_k ~ U(-input_range/2, +input_range/2) iid (von Oswald et al. arXiv:2212.07677; their code's
    default input_range = 1 gives U(-1/2, 1/2), the paper's text says U(-1, 1)); ``spectrum`` rescales coordinate k
    by sqrt(spectrum_k).

Notation follows ``shared/theory/in_context_learning.md`` section 0. Every sampler is one pure function of an
explicit ``jax.random`` key; the shape-changing arguments (``k``, ``d``, ``batch``, ``n_tasks``) are static Python
ints, every float (``noise_std``, ``prior_std``, ``input_range``, ``spectrum`` entries) may be a traced scalar/array
so the engine can vmap over it. ``dist`` is a static string.

Shapes: a single prompt is a :class:`Prompt` with X (k, d), y (k,), xq (d,), yq (), w (d,); batched samplers add a
leading batch axis to every field. ``Prompt`` is a NamedTuple, hence a JAX pytree (jit/vmap/scan friendly).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Prompt",
    "sample_covariates",
    "sample_tasks",
    "sample_prompt",
    "sample_prompts",
    "make_task_pool",
    "sample_prompt_from_pool",
    "sample_prompts_from_pool",
    "covariance_matrix",
    "power_law_spectrum",
    "geometric_spectrum",
]


class Prompt(NamedTuple):
    """One (or a batch of) in-context regression prompt(s).

    X: (..., k, d) context inputs; y: (..., k) context labels; xq: (..., d) query input; yq: (...) query label
    (noisy, same noise as the context); w: (..., d) the task vector that generated the labels.
    """

    X: jax.Array
    y: jax.Array
    xq: jax.Array
    yq: jax.Array
    w: jax.Array


def sample_covariates(key, n: int, d: int, *, dist: str = "gaussian", spectrum=None, basis=None,
                      input_range=1.0, dtype=jnp.float64) -> jax.Array:
    """n iid covariate vectors, shape (n, d).

    gaussian: x = (z ⊙ sqrt(spectrum)) Bᵀ, z ~ N(0, I_d), so Cov x = Λ = B diag(spectrum) Bᵀ (B = I if ``basis`` is
    None; spectrum = 1 if None). uniform: x_k = sqrt(spectrum_k) u_k, u_k ~ U(-input_range/2, input_range/2), so
    E x_k² = spectrum_k input_range²/12 (``basis`` rotates as above).
    Assumptions: spectrum entries > 0, basis orthogonal (not checked here: the callers validate their parameters).
    """
    if dist == "gaussian":
        z = jax.random.normal(key, (n, d), dtype=dtype)
    elif dist == "uniform":
        z = (jax.random.uniform(key, (n, d), dtype=dtype) - 0.5) * jnp.asarray(input_range, dtype)
    else:
        raise ValueError(f"dist must be 'gaussian' or 'uniform', got {dist!r}")
    if spectrum is not None:
        z = z * jnp.sqrt(jnp.asarray(spectrum, dtype))[None, :]
    if basis is not None:
        z = z @ jnp.asarray(basis, dtype).T
    return z


def sample_tasks(key, n: int, d: int, *, prior_std=1.0, dtype=jnp.float64) -> jax.Array:
    """n task vectors w ~ N(0, prior_std² I_d), shape (n, d)."""
    return jnp.asarray(prior_std, dtype) * jax.random.normal(key, (n, d), dtype=dtype)


def _prompt_given_task(key, w, k: int, d: int, *, noise_std, dist, spectrum, basis, input_range, dtype) -> Prompt:
    kx, ke = jax.random.split(key)
    xs = sample_covariates(kx, k + 1, d, dist=dist, spectrum=spectrum, basis=basis, input_range=input_range,
                           dtype=dtype)
    eps = jnp.asarray(noise_std, dtype) * jax.random.normal(ke, (k + 1,), dtype=dtype)
    ys = xs @ w + eps
    return Prompt(X=xs[:k], y=ys[:k], xq=xs[k], yq=ys[k], w=w)


def sample_prompt(key, k: int, d: int, *, noise_std=0.0, prior_std=1.0, dist: str = "gaussian", spectrum=None,
                  basis=None, input_range=1.0, dtype=jnp.float64) -> Prompt:
    """One prompt of length k with a fresh task w ~ N(0, prior_std² I_d) (see the module docstring)."""
    kw, kp = jax.random.split(key)
    w = sample_tasks(kw, 1, d, prior_std=prior_std, dtype=dtype)[0]
    return _prompt_given_task(kp, w, k, d, noise_std=noise_std, dist=dist, spectrum=spectrum, basis=basis,
                              input_range=input_range, dtype=dtype)


def sample_prompts(key, batch: int, k: int, d: int, *, noise_std=0.0, prior_std=1.0, dist: str = "gaussian",
                   spectrum=None, basis=None, input_range=1.0, dtype=jnp.float64) -> Prompt:
    """``batch`` independent prompts (fresh task each), every field with a leading batch axis."""
    keys = jax.random.split(key, batch)
    return jax.vmap(lambda kk: sample_prompt(kk, k, d, noise_std=noise_std, prior_std=prior_std, dist=dist,
                                             spectrum=spectrum, basis=basis, input_range=input_range,
                                             dtype=dtype))(keys)


def make_task_pool(key, n_tasks: int, d: int, *, prior_std=1.0, dtype=jnp.float64) -> jax.Array:
    """A finite pool of ``n_tasks`` tasks w_1..w_K ~ N(0, prior_std² I_d) iid, shape (K, d) (Raventós et al.
    arXiv:2306.15063: pretraining task diversity K)."""
    return sample_tasks(key, n_tasks, d, prior_std=prior_std, dtype=dtype)


def sample_prompt_from_pool(key, pool, k: int, *, noise_std=0.0, dist: str = "gaussian", spectrum=None, basis=None,
                            input_range=1.0, dtype=jnp.float64) -> Prompt:
    """One prompt whose task is drawn uniformly from ``pool`` (shape (K, d))."""
    pool = jnp.asarray(pool, dtype)
    ki, kp = jax.random.split(key)
    idx = jax.random.randint(ki, (), 0, pool.shape[0])
    return _prompt_given_task(kp, pool[idx], k, pool.shape[1], noise_std=noise_std, dist=dist, spectrum=spectrum,
                              basis=basis, input_range=input_range, dtype=dtype)


def sample_prompts_from_pool(key, pool, batch: int, k: int, *, noise_std=0.0, dist: str = "gaussian",
                             spectrum=None, basis=None, input_range=1.0, dtype=jnp.float64) -> Prompt:
    """``batch`` prompts, tasks drawn uniformly (with replacement) from ``pool``."""
    keys = jax.random.split(key, batch)
    return jax.vmap(lambda kk: sample_prompt_from_pool(kk, pool, k, noise_std=noise_std, dist=dist,
                                                       spectrum=spectrum, basis=basis, input_range=input_range,
                                                       dtype=dtype))(keys)


# ---------------------------------------------------------------------------------------------------------------
# Covariance helpers (float64 NumPy)
# ---------------------------------------------------------------------------------------------------------------


def covariance_matrix(spectrum, basis=None) -> np.ndarray:
    """Λ = B diag(spectrum) Bᵀ as float64 (B = I when ``basis`` is None)."""
    lam = np.diag(np.asarray(spectrum, dtype=np.float64))
    if basis is None:
        return lam
    b = np.asarray(basis, dtype=np.float64)
    return b @ lam @ b.T


def power_law_spectrum(d: int, exponent: float, *, normalize_trace: bool = True) -> np.ndarray:
    """λ_k = k^(-exponent), k = 1..d, rescaled so that tr Λ = d when ``normalize_trace``."""
    lam = np.arange(1, d + 1, dtype=np.float64) ** (-float(exponent))
    return lam * (d / lam.sum()) if normalize_trace else lam


def geometric_spectrum(d: int, top: float, ratio: float) -> np.ndarray:
    """λ_k = top · ratio^(k-1); e.g. top=4, ratio=1/2, d=5 gives the notes' Λ = diag(4, 2, 1, 1/2, 1/4)."""
    return float(top) * float(ratio) ** np.arange(d, dtype=np.float64)
