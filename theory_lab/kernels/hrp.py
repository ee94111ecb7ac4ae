"""High-Rank Preheating (HRP) for LoRA initialisation, in the matrix-approximation toy of notes section 5.

Source: Chen, Wang, Fu, Shen, Jing, Tian, Tao, "HRP: High-Rank Preheating for Superior LoRA Initialization"
(arXiv:2502.07739). The notes' toy ([RECON; derived] in shared/theory/kernels_depth_lora.md section 5):

* target change M (m x n) with singular values sigma_i; LoRA ``Delta W = B A^T`` (B in R^{m x r}, A in R^{n x r});
  loss 1/2 ||M - B A^T||_F^2 (inputs X = I).
* **Asymmetric LoRA** (A frozen, B trained from 0 to convergence by gradient flow): ``B A^T = M P_A`` with P_A the
  orthogonal projector on col(A), leaving the residual ``||M (I - P_A)||_F^2``.
* **Random init** (A Gaussian): col(A) is a Haar-random r-dimensional subspace, E P_A = (r/n) I, so
  ``E residual = (1 - r/n) ||M||_F^2`` (:func:`random_init_residual`).
* **Oracle** (A = top-r right singular vectors of M): ``sum_{i>r} sigma_i^2`` (:func:`oracle_residual`, Eckart-Young).
* **HRP(p)**: preheat a rank-p asymmetric LoRA with a random A_p (converged: ``M P_{A_p}``), take the top-r right
  singular vectors V_r of ``M P_{A_p}`` as the rank-r LoRA's A, train B: residual ``||M (I - V_r V_r^T)||^2 =
  ||M||^2 - sum_{i<=r} sigma_i(M Q_p)^2`` (Q_p an orthonormal basis of col(A_p)). p = r gives the random-init law,
  p = n the oracle; the notes report E residual(p) decreasing in p in between (m = n = 64, r = 4, sigma_i = 1/i:
  1.533, 1.436, 1.258, 0.915, 0.554, 0.2058 for p = 4, 8, 16, 32, 48, 64) — see :data:`NOTES_REFERENCE`.

"Trained to convergence" is used in closed form (the gradient-flow limit of the least-squares problem in B), as in
the notes; no training loop is needed. Because a Gaussian A is rotation invariant, M may be taken diagonal
(M^T M = diag(sigma^2)) without changing any law: the simulator draws only A.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "spectrum",
    "random_init_residual",
    "oracle_residual",
    "hrp_residual",
    "simulate_hrp",
    "NOTES_REFERENCE",
]

#: Notes section 5(d) [NUM]: m = n = 64, r = 4, sigma_i = 1/i; Monte-Carlo E residual of HRP(p) (3 decimals, no SE).
NOTES_REFERENCE = {"m": 64, "n": 64, "r": 4, "decay": 1.0, "norm2": 1.6294, "oracle": 0.2058, "random": 1.5276,
                   "hrp": {4: 1.533, 8: 1.436, 16: 1.258, 32: 0.915, 48: 0.554, 64: 0.2058}}


def spectrum(k: int, decay, xp=np):
    """Singular values sigma_i = i^(-decay), i = 1..k (k = min(m, n))."""
    i = xp.arange(1, k + 1, dtype=xp.float64 if xp is np else None)
    return i ** (-decay)


def random_init_residual(sigmas, r: int, n: int) -> float:
    """E ||M (I - P_A)||_F^2 = (1 - r/n) ||M||_F^2 for A in R^{n x r} with i.i.d. Gaussian entries.

    Symbols: sigmas = singular values of M (m x n), r = LoRA rank, n = input dimension (columns of M).
    Why: col(A) is Haar distributed among r-dim subspaces of R^n, so E P_A = (r/n) I and
    E ||M P_A||^2 = tr(M^T M E P_A) = (r/n) ||M||^2. Assumptions: 1 <= r <= n; any M. Source: [derived], notes
    section 5(b) (toy of HRP, arXiv:2502.07739). Reference: n = 64, r = 4, sigma_i = 1/i -> 1.52758.
    """
    s = np.asarray(sigmas, dtype=np.float64)
    return float((1.0 - r / n) * np.sum(s * s))


def oracle_residual(sigmas, r: int) -> float:
    """min over rank-r B A^T of ||M - B A^T||_F^2 = sum_{i>r} sigma_i^2 (Eckart-Young); reached by A = top-r right
    singular vectors. Reference: sigma_i = 1/i, i <= 64, r = 4 -> 0.20576."""
    s = np.sort(np.asarray(sigmas, dtype=np.float64))[::-1]
    return float(np.sum(s[r:] ** 2))


def hrp_residual(m_mat: np.ndarray, a_p: np.ndarray, r: int) -> float:
    """Residual of HRP with a given preheat factor A_p (n x p), by the algorithm's steps (float64 reference).

    (1) converged preheat: Delta_p = M P_{A_p}; (2) SVD of Delta_p; (3) A = top-r right singular vectors; (4)
    converged asymmetric LoRA: residual ||M (I - A A^T)||_F^2.
    """
    m_mat = np.asarray(m_mat, dtype=np.float64)
    q, _ = np.linalg.qr(np.asarray(a_p, dtype=np.float64))
    delta = m_mat @ q @ q.T
    _, _, vt = np.linalg.svd(delta)
    v = vt[:r].T
    res = m_mat - m_mat @ v @ v.T
    return float(np.sum(res * res))


def orthonormal_columns(a):
    """An orthonormal basis of the nested column spans of ``a`` (n x p, full column rank): column j of the result
    spans the same first-j-columns subspace as a QR's Q, up to sign. Classical Gram-Schmidt applied twice (CGS2,
    accurate to machine precision for well-conditioned Gaussian matrices), in plain matmuls. It replaced a batched
    LAPACK QR after hangs in BlockUntilReady in CI; those were later traced to ``--xla_cpu_multi_thread_eigen=false``
    (12/28 hangs with it, 0/28 without), not to QR, but CGS2 is as exact here and keeps the trial in matmuls."""
    n, p = a.shape
    idx = jnp.arange(p)

    def step(j, q):
        v = a[:, j]
        for _ in range(2):  # the second pass restores orthogonality lost to rounding in the first
            c = (q.T @ v) * (idx < j)
            v = v - q @ c
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, p, step, jnp.zeros_like(a))


@functools.partial(jax.jit, static_argnames=("m", "n", "r", "ps", "dtype"))
def simulate_hrp(key, *, m: int, n: int, r: int, ps: tuple[int, ...], decay, dtype=jnp.float64):
    """One trial: residuals of random init and of HRP(p) for every p in ``ps`` (nested preheat subspaces).

    M has singular values i^(-decay) (``decay`` traced); M^T M = diag(sigma^2, 0...) (rotation invariance, see the
    module docstring). A_pmax ~ N(0, 1)^{n x max(ps)}; HRP(p) uses its first p columns (so the curve over p is
    paired within a trial); the random-init LoRA uses an independent N(0, 1)^{n x r}.

    Returns ``random`` (scalar), ``hrp`` (len(ps),), ``norm2`` = ||M||^2 and ``oracle`` (deterministic, for checking).
    """
    k = min(m, n)
    s2 = jnp.zeros((n,), dtype).at[:k].set(jnp.arange(1, k + 1, dtype=dtype) ** (-2.0 * jnp.asarray(decay, dtype)))
    norm2 = jnp.sum(s2)
    k1, k2 = jax.random.split(key)
    a_rand = jax.random.normal(k1, (n, r), dtype=dtype)
    q_r = orthonormal_columns(a_rand)
    random_res = norm2 - jnp.sum(s2[:, None] * q_r * q_r)
    a_p = jax.random.normal(k2, (n, max(ps)), dtype=dtype)
    q = orthonormal_columns(a_p)
    hrp = []
    for p in ps:  # a static loop over the few preheating ranks (shapes differ), not over trials
        qp = q[:, :p]
        gram = qp.T @ (s2[:, None] * qp)  # (M Q_p)^T (M Q_p), p x p
        ev = jnp.linalg.eigvalsh(gram)  # ascending
        hrp.append(norm2 - jnp.sum(ev[-r:]))
    oracle = norm2 - jnp.sum(jnp.sort(s2)[-r:])
    return {"random": random_res, "hrp": jnp.stack(hrp), "norm2": norm2, "oracle": oracle}
