"""Lazy training: a wide NTK-parametrized MLP trained by full-batch gradient descent on MSE follows the NTK predictor.

Source: Lee, Xiao, Schoenholz, Bahri, Novak, Sohl-Dickstein & Pennington, "Wide neural networks of any depth evolve
as linear models under gradient descent", NeurIPS 2019, arXiv 1902.06720 (Theorem 2.1 and eqs. (9)-(11)); the NTK
of Jacot, Gabriel & Hongler 2018 (arXiv 1806.07572). Conventions of neural-tangents ``predict.gradient_descent_mse``
(notes ``theory/kernels_depth_lora.md`` section 1(b)).

Setting. Training set X (N x d), targets y (N), loss (1/(2N)) |f(X) - y|^2, full-batch gradient descent with
learning rate eta: theta_{k+1} = theta_k - eta grad loss. Network: ``depth`` hidden layers of width n, NTK
parametrization, the network of :mod:`theory_lab.kernels.empirical` (``init_mlp`` / ``mlp_forward``), whose
infinite-width NTK Theta is :func:`theory_lab.kernels.analytic.nngp_ntk` (same conventions: input kernel x.x'/d,
readout Dense).

Prediction (infinite width, discrete-time GD; the residual r_k = f_k(X) - y evolves linearly):
    r_t = (I - eta Theta/N)^t r_0,                    i.e.  f_t(X) = y + (I - eta Theta/N)^t (f_0(X) - y)
    f_t(x*) = f_0(x*) + Theta(x*, X) Theta^{-1} ((I - eta Theta/N)^t - I) (f_0(X) - y)
with Theta = Theta(X, X). Its gradient-flow limit (eta -> 0 at fixed eta t) is Lee et al.'s eq. (9)-(10),
f_t = y + exp(-eta t Theta/N)(f_0 - y) (neural-tangents' normalisation by N = y.size); the two differ by
O(eta^2 t |Theta/N|^2), and :func:`predict_flow` gives the exponential form. Assumptions: Theta positive definite,
eta < 2N / lambda_max(Theta) (stable GD, Lee et al.'s eta_critical), phi with a Lipschitz derivative (Lee et al.'s
Theorem 2.1 assumption, [MEM]; ReLU violates it and its finite-width corrections are larger: see
``proofs_checks/lazy_training.py``).

Finite width. Per network, f_t - f_t^{NTK} (both from the network's own f_0) = O(n^{-1/2}): the empirical NTK at
initialisation fluctuates by O(n^{-1/2}) around Theta (Lee et al. Thm 2.1 bounds the kernel change during training
by O(n^{-1/2}) as well; Dyer & Gur-Ari 2019 and Huang & Yau 2019 give O(1/n) for it). The gap's mean over networks
is O(1/n): under the sign flip of the readout layer the empirical NTK is even and f_0 odd, so E[(Theta_n - Theta) f_0]
= 0 at every width and only the O(1/n) bias E[Theta_n] - Theta and second-order terms remain. The gap to the
network's own linearisation (the same predictor with its empirical NTK at initialisation) is O(n^{-1/2}) by Lee et
al. Thm 2.1 and O(1/n) by the later refinements.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from theory_lab.kernels import analytic, empirical

__all__ = ["training_set", "kernels", "predict_gd", "predict_flow", "simulate_lazy_training"]


def training_set(n_train: int = 8, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed data: (X (N, d), y (N,), x_test (1, d)), inputs on the sphere |x|^2 = d (so x.x/d = 1), targets
    y = sin(x_1) + x_2 x_3 / 2 standardised to mean 0 and unit variance; deterministic in ``seed``."""
    g = np.random.default_rng(seed)
    x = g.standard_normal((n_train + 1, d))
    x *= np.sqrt(d) / np.linalg.norm(x, axis=1, keepdims=True)
    y = np.sin(x[:n_train, 0]) + 0.5 * x[:n_train, 1] * x[:n_train, 2 % d]
    y = (y - y.mean()) / y.std()
    return x[:n_train], y, x[n_train:]


def kernels(x_train, x_test, *, depth: int, activation: str = "relu", sigma_w2: float = 2.0,
            sigma_b2: float = 0.0, which: str = "ntk") -> tuple[np.ndarray, np.ndarray]:
    """Analytic float64 (K(X, X), K(x*, X)) for ``which`` in {"ntk", "nngp"} (neural-tangents conventions)."""
    xa = np.concatenate([np.asarray(x_train), np.asarray(x_test)])
    with jax.enable_x64(True):
        k, t = analytic.nngp_ntk(xa, depth=depth, activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                                 dtype="float64")
        m = np.asarray(t if which == "ntk" else k)
    n = len(x_train)
    return m[:n, :n], m[n:, :n]


def _spectral(k_tt, fn):
    lam, u = np.linalg.eigh(np.asarray(k_tt, np.float64))
    return u, lam, fn(lam)


def predict_gd(k_tt, k_st, f0_train, f0_test, y, eta: float, times) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-width discrete-GD predictor (module docstring), float64 NumPy, batched over leading axes of f0.

    Args: k_tt (N, N) kernel on the training set, k_st (M, N) test-train kernel, f0_train (..., N), f0_test
    (..., M), y (N,), eta learning rate, times: step counts. Returns (f_train (..., T, N), f_test (..., T, M)).
    """
    n = len(y)
    lam, u = np.linalg.eigh(np.asarray(k_tt, np.float64))
    if lam.min() <= 0:
        raise ValueError("the kernel on the training set must be positive definite")
    r0 = np.asarray(f0_train, np.float64) - y
    r0u = r0 @ u  # (..., N) in the eigenbasis
    decay = (1.0 - eta * lam / n)[None, :] ** np.asarray(times, np.float64)[:, None]  # (T, N)
    f_train = y + np.einsum("...k,tk,nk->...tn", r0u, decay, u)
    proj = np.asarray(k_st, np.float64) @ u / lam  # (M, N): Theta(x*, X) U diag(1/lam)
    f_test = np.asarray(f0_test, np.float64)[..., None, :] + np.einsum("...k,tk,mk->...tm", r0u, decay - 1.0, proj)
    return f_train, f_test


def predict_flow(k_tt, k_st, f0_train, f0_test, y, eta: float, times) -> tuple[np.ndarray, np.ndarray]:
    """Gradient-flow form f_t = y + exp(-eta t Theta/N)(f_0 - y) (Lee et al. 2019 eq. (9)-(10); neural-tangents
    ``gradient_descent_mse``), same arguments and shapes as :func:`predict_gd`."""
    n = len(y)
    lam, u = np.linalg.eigh(np.asarray(k_tt, np.float64))
    r0u = (np.asarray(f0_train, np.float64) - y) @ u
    decay = np.exp(-eta * lam[None, :] * np.asarray(times, np.float64)[:, None] / n)
    f_train = y + np.einsum("...k,tk,nk->...tn", r0u, decay, u)
    proj = np.asarray(k_st, np.float64) @ u / lam
    f_test = np.asarray(f0_test, np.float64)[..., None, :] + np.einsum("...k,tk,mk->...tm", r0u, decay - 1.0, proj)
    return f_train, f_test


def _linear_predict_jax(k, f0, y, eta, times, n_train):
    """:func:`predict_gd` in JAX for one network's empirical kernel k ((N+M) x (N+M)); returns (T, N+M)."""
    k_tt, k_st = k[:n_train, :n_train], k[n_train:, :n_train]
    lam, u = jnp.linalg.eigh(k_tt)
    r0u = (f0[:n_train] - y) @ u
    decay = (1.0 - eta * lam / n_train)[None, :] ** jnp.asarray(times, lam.dtype)[:, None]
    f_train = y[None, :] + (r0u[None, :] * decay) @ u.T
    f_test = f0[None, n_train:] + ((r0u[None, :] * (decay - 1.0)) @ (k_st @ u / lam[None, :]).T)
    return jnp.concatenate([f_train, f_test], axis=1)


@functools.partial(jax.jit, static_argnames=("width", "depth", "activation", "steps", "dtype"))
def simulate_lazy_training(key, x_train, y, x_test, *, width: int, depth: int, activation: str = "relu",
                           steps: int = 64, sigma_w2=2.0, sigma_b2=0.0, eta=0.5, dtype=jnp.float64):
    """One trial: initialise the width-n network of :mod:`theory_lab.kernels.empirical` from ``key``, train it by
    full-batch GD on (1/(2N)) |f(X) - y|^2 for ``steps`` steps (``lax.scan``), and record its outputs.

    Static: width, depth, activation, steps. Traced: sigma_w2, sigma_b2, eta (x_train, y, x_test are constants).
    Returns {"f0": (N+M,) outputs at initialisation on [X; x_test], "f": (steps, N+M) outputs after step
    1, ..., steps, "lin_ntk" / "lin_nngp": (steps, N+M) the discrete-GD linear predictor (:func:`predict_gd`) from
    the same f_0 with this network's empirical NTK / conditional NNGP at initialisation
    (``empirical.simulate_kernels``, same key hence the same network)}.
    """
    act = analytic.activation(activation)
    x_train = jnp.asarray(x_train, dtype)
    x_test = jnp.asarray(x_test, dtype)
    y = jnp.asarray(y, dtype)
    sigma_w2 = jnp.asarray(sigma_w2, dtype)
    sigma_b2 = jnp.asarray(sigma_b2, dtype)
    eta = jnp.asarray(eta, dtype)
    n_train, d = x_train.shape
    x_all = jnp.concatenate([x_train, x_test])
    params = empirical.init_mlp(key, d=d, width=width, depth=depth, dtype=dtype)

    def apply(p, x):
        return empirical.mlp_forward(p, x, act=act, sigma_w2=sigma_w2, sigma_b2=sigma_b2)[0][:, 0]

    def loss(p):
        r = apply(p, x_train) - y
        return 0.5 * jnp.sum(r * r) / n_train

    def step(p, _):
        g = jax.grad(loss)(p)
        p = jax.tree_util.tree_map(lambda a, b: a - eta * b, p, g)
        return p, apply(p, x_all)

    f0 = apply(params, x_all)
    _, f = jax.lax.scan(step, params, None, length=steps)
    times = tuple(range(1, steps + 1))
    emp = empirical.simulate_kernels(key, x_all, width=width, depth=depth, activation=act, sigma_w2=sigma_w2,
                                     sigma_b2=sigma_b2, dtype=dtype)
    return {"f0": f0, "f": f,
            "lin_ntk": _linear_predict_jax(emp["ntk"], f0, y, eta, times, n_train),
            "lin_nngp": _linear_predict_jax(emp["nngp"], f0, y, eta, times, n_train)}
