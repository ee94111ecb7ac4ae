"""Empirical NNGP and NTK of finite-width fully-connected networks (one random network per key), in the conventions of
:mod:`theory_lab.kernels.analytic` and neural-tangents.

Network: ``depth`` = L hidden layers of width n, readout Dense to ``n_out`` outputs. NTK parametrization
h^l = sqrt(sigma_w^2 / n_{l-1}) x^{l-1} W^l + sqrt(sigma_b^2) b^l with unit-variance W, b; standard parametrization
h^l = x^{l-1} W^l + b^l with W ~ N(0, sigma_w^2 / n_{l-1}), b ~ N(0, sigma_b^2).

* Empirical NNGP (by a forward pass): the covariance of the readout given the last hidden layer,
  Sigma_n(x, x') = sigma_w^2 x^L(x).x^L(x') / n + sigma_b^2 = E[f(x) f(x') | hidden weights]. Its mean over
  networks tends to the NNGP and its fluctuations are O(n^{-1/2}). (:func:`simulate_kernels` also returns the
  output product f(x) f(x') averaged over outputs, neural-tangents' ``empirical_nngp_fn``.)
* Empirical NTK: Theta_n(x, x') = sum over parameters of df(x)/dp df(x')/dp, averaged over the outputs
  (neural-tangents' ``trace_axes=(-1,)`` convention). Computed from one forward and one backward pass (vjp) per
  output, never materialising a Jacobian: with delta^l = df/dh^l (from the vjp with respect to zero perturbations
  added to every pre-activation) and the layer inputs x^{l-1},
      Theta_n = sum_{l=1}^{L+1} (delta^l . delta'^l) (sigma_w^2 x^{l-1}.x'^{l-1} / n_{l-1} + sigma_b^2)   (NTK)
      Theta_n = sum_{l=1}^{L+1} (delta^l . delta'^l) (x^{l-1}.x'^{l-1} + [bias])                        (standard)
  (notes ``theory/kernels_depth_lora.md`` section 1(c)). :func:`ntk_jvp_vjp` is the generic contraction
  J(x1) J(x2)^T = columns jvp(vjp(e_j)) for any function, used to test this one.

Weights beyond iid (Nait Saada, Naderi & Tanner, ICLR 2024, arXiv 2310.16597; notes section 7.3), applied to the
hidden-to-hidden layers 2..L (the first layer and the readout stay iid Gaussian), all with E W_ij^2 = 1 in the
NTK-parametrization units: "orthogonal" sqrt(n) Q with Q Haar; "lowrank" W = P C with P (n x r) orthonormal columns
of a Haar matrix, C iid N(0, n / r), r = round(rank_fraction n); "sparse": a block-diagonal mask of
round(1/density) blocks with randomly permuted rows and columns, times iid N(0, 1/density_actual).
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from theory_lab.kernels.analytic import Activation, activation as _activation

__all__ = ["WEIGHT_KINDS", "init_mlp", "mlp_forward", "simulate_kernels", "ntk_jvp_vjp", "hidden_weight",
           "haar_apply", "apply_hidden", "simulate_nngp"]

WEIGHT_KINDS = ("iid", "orthogonal", "lowrank", "sparse")


def haar_apply(key, y):
    """y @ Q for Q Haar-distributed on O(n) (n = y.shape[-1]), without forming Q or a QR decomposition.

    Subgroup algorithm (Diaconis & Shahshahani 1987; Stewart 1980): Q = H_1 diag(1, Q') with Q' Haar on O(n-1) and
    H_1 any orthogonal map sending e_1 to a uniform random unit vector, so Q = H_1 H_2 ... H_n where H_k acts on
    coordinates k..n (e_k -> s_k, s_k uniform on that sphere; the last step is a random sign). H_k is a
    Householder reflection or minus one, chosen so that its vector has norm >= sqrt(2) (a reflection along a
    near-zero vector would be an arbitrary reflection, not the identity). Cost O(m n^2) for y of
    shape (m, n), n steps of a ``lax.scan``; n^2 normals.
    """
    n = y.shape[-1]
    g = jax.random.normal(key, (n, n), y.dtype)
    idx = jnp.arange(n)

    def step(y, inp):
        k, gk = inp
        block = idx >= k
        v = jnp.where(block, gk, 0.0)
        v = v / jnp.sqrt(jnp.sum(v * v))  # uniform on the unit sphere of coordinates k..n
        # An orthogonal map of the block sending e_k to v, in a stable form (|u|^2 >= 2): the reflection along
        # u = e_k - v when v_k < 0, else minus the reflection along u = e_k + v.
        pos = v[k] >= 0
        ek = jnp.where(idx == k, 1.0, 0.0)
        u = ek + jnp.where(pos, v, -v)
        y = y - (2.0 / jnp.sum(u * u)) * (y @ u)[..., None] * u[None, :]
        return jnp.where((pos & block)[None, :], -y, y), None

    y, _ = jax.lax.scan(step, y, (idx, g))
    return y


def hidden_weight(key, n: int, kind: str, *, rank_fraction: float = 0.5, density: float = 0.25, dtype=jnp.float64):
    """One n x n hidden-to-hidden weight matrix with E W_ij = 0, E W_ij^2 = 1 (module docstring for the kinds)."""
    if kind in ("orthogonal", "lowrank"):
        return apply_hidden(key, jnp.eye(n, dtype=dtype), kind, rank_fraction=rank_fraction, density=density)
    if kind == "iid":
        return jax.random.normal(key, (n, n), dtype)
    if kind == "sparse":
        blocks = max(1, int(round(1.0 / density)))
        if n % blocks:
            raise ValueError(f"block-sparse weights need the width {n} divisible by {blocks} blocks")
        k1, k2, k3 = jax.random.split(key, 3)
        ids = jnp.arange(n) // (n // blocks)
        rows = jax.random.permutation(k1, ids)
        cols = jax.random.permutation(k2, ids)
        mask = (rows[:, None] == cols[None, :]).astype(dtype)
        return mask * jax.random.normal(k3, (n, n), dtype) * math.sqrt(blocks)
    raise ValueError(f"unknown weight kind {kind!r}; choose from {', '.join(WEIGHT_KINDS)}")


def apply_hidden(key, y, kind: str, *, rank_fraction: float = 0.5, density: float = 0.25):
    """y @ W for one hidden weight W of the given kind (n x n, E W_ij^2 = 1), cheaply for the structured kinds:
    orthogonal sqrt(n) y Q and low-rank (y Q[:, :r]) C via :func:`haar_apply` (O(m n^2), no n x n matrix for
    m << n inputs); iid and sparse multiply by the explicit matrix."""
    n = y.shape[-1]
    if kind == "orthogonal":
        return math.sqrt(n) * haar_apply(key, y)
    if kind == "lowrank":
        r = max(1, int(round(rank_fraction * n)))
        k1, k2 = jax.random.split(key)
        c = jax.random.normal(k2, (r, n), y.dtype) * math.sqrt(n / r)
        return haar_apply(k1, y)[..., :r] @ c
    return y @ hidden_weight(key, n, kind, rank_fraction=rank_fraction, density=density, dtype=y.dtype)


def init_mlp(key, *, d: int, width: int, depth: int, n_out: int = 1, weights: str = "iid",
             rank_fraction: float = 0.5, density: float = 0.25, dtype=jnp.float64):
    """Unit-variance parameters [(W1, b1), ..., (W_{L+1}, b_{L+1})], W_l of shape (n_{l-1}, n_l); the scales
    sigma_w, sigma_b are applied in :func:`mlp_forward` (so they stay traced)."""
    sizes = [d] + [width] * depth + [n_out]
    keys = jax.random.split(key, 2 * (depth + 1))
    params = []
    for layer in range(depth + 1):
        if 1 <= layer < depth and weights != "iid":
            w = hidden_weight(keys[2 * layer], width, weights, rank_fraction=rank_fraction, density=density,
                              dtype=dtype)
        else:
            w = jax.random.normal(keys[2 * layer], (sizes[layer], sizes[layer + 1]), dtype)
        params.append((w, jax.random.normal(keys[2 * layer + 1], (sizes[layer + 1],), dtype)))
    return params


def mlp_forward(params, x, *, act: Activation, sigma_w2, sigma_b2, parametrization: str = "ntk", eps=None):
    """Outputs (m, n_out) and the inputs of every layer [x^0, ..., x^L]. ``eps``: optional list of additive
    perturbations of the pre-activations h^1..h^{L+1} (zeros; their cotangents are the deltas).

    For the standard parametrization the parameters passed here are the *scaled* ones (see :func:`_sp_params`).
    """
    xs = [x]
    h = x
    for layer, (w, b) in enumerate(params):
        if parametrization == "ntk":
            fan_in = w.shape[0]
            pre = jnp.sqrt(sigma_w2 / fan_in) * (h @ w) + jnp.sqrt(sigma_b2) * b[None, :]
        else:
            pre = h @ w + b[None, :]
        if eps is not None:
            pre = pre + eps[layer]
        if layer == len(params) - 1:
            return pre, xs
        h = act.fn(pre)
        xs.append(h)


def _sp_params(params, sigma_w2, sigma_b2):
    return [(w * jnp.sqrt(sigma_w2 / w.shape[0]), b * jnp.sqrt(sigma_b2)) for w, b in params]


def simulate_kernels(key, x, *, width: int, depth: int, activation="relu", sigma_w2=2.0, sigma_b2=0.0,
                     parametrization: str = "ntk", bias: bool = True, n_out: int = 1, weights: str = "iid",
                     rank_fraction: float = 0.5, density: float = 0.25, with_ntk: bool = True,
                     dtype=jnp.float64):
    """Empirical kernels of one random network (one trial) on the fixed inputs ``x`` (m, d).

    Static: width, depth, activation, parametrization, n_out, weights (and rank_fraction / density, which set
    shapes). Traced: sigma_w2, sigma_b2. Returns {"nngp": (m, m) conditional NNGP of the readout,
    "ntk": (m, m) NTK averaged over outputs, "out_prod": (m, m) f f^T / n_out}; ``with_ntk=False`` skips the
    backward pass (no "ntk").
    """
    act = activation if isinstance(activation, Activation) else _activation(activation)
    x = jnp.asarray(x, dtype)
    sigma_w2 = jnp.asarray(sigma_w2, dtype)
    sigma_b2 = jnp.asarray(sigma_b2, dtype)
    m, d = x.shape
    params = init_mlp(key, d=d, width=width, depth=depth, n_out=n_out, weights=weights,
                      rank_fraction=rank_fraction, density=density, dtype=dtype)
    if parametrization == "standard":
        params = _sp_params(params, sigma_w2, sigma_b2)
    elif parametrization != "ntk":
        raise ValueError(f"parametrization must be 'ntk' or 'standard', got {parametrization!r}")
    eps = [jnp.zeros((m, w.shape[1]), dtype) for w, _ in params]

    def f(e):
        out, xs = mlp_forward(params, x, act=act, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                              parametrization=parametrization, eps=e)
        return out, xs

    if not with_ntk:
        out, xs = f(None)
        xl = xs[-1]
        return {"nngp": sigma_w2 * (xl @ xl.T) / xl.shape[1] + sigma_b2, "out_prod": out @ out.T / n_out}
    out, vjp_fn, xs = jax.vjp(f, eps, has_aux=True)
    # layer-input Gram factors G^{l-1}
    grams = []
    for xl in xs:
        gram = xl @ xl.T
        if parametrization == "ntk":
            grams.append(sigma_w2 * gram / xl.shape[1] + sigma_b2)
        else:
            grams.append(gram + (1.0 if bias else 0.0))

    def ntk_for_output(o):
        (deltas,) = vjp_fn(jnp.zeros_like(out).at[:, o].set(1.0))
        return sum((dl @ dl.T) * g for dl, g in zip(deltas, grams))

    ntk = jax.lax.map(ntk_for_output, jnp.arange(n_out)).mean(0) if n_out > 1 else ntk_for_output(0)
    xl = xs[-1]
    nngp = sigma_w2 * (xl @ xl.T) / xl.shape[1] + sigma_b2
    return {"nngp": nngp, "ntk": ntk, "out_prod": out @ out.T / n_out}


def simulate_nngp(key, x, *, width: int, depth: int, activation="relu", sigma_w2=2.0, sigma_b2=0.0,
                  weights: str = "iid", rank_fraction: float = 0.5, density: float = 0.25, dtype=jnp.float64):
    """Empirical (conditional) NNGP of one random NTK-parametrized network on inputs x (m, d), forward pass only,
    applying the structured hidden weights to the m activation vectors without forming them
    (:func:`apply_hidden`); same distribution as ``simulate_kernels(..., with_ntk=False)["nngp"]``. (m, m)."""
    act = activation if isinstance(activation, Activation) else _activation(activation)
    x = jnp.asarray(x, dtype)
    sigma_w2 = jnp.asarray(sigma_w2, dtype)
    sigma_b2 = jnp.asarray(sigma_b2, dtype)
    keys = jax.random.split(key, 2 * depth)
    h = x
    for layer in range(depth):
        fan_in = h.shape[-1]
        if layer == 0 or weights == "iid":
            hw = h @ jax.random.normal(keys[2 * layer], (fan_in, width), dtype)
        else:
            hw = apply_hidden(keys[2 * layer], h, weights, rank_fraction=rank_fraction, density=density)
        bias = jax.random.normal(keys[2 * layer + 1], (1, width), dtype)
        pre = jnp.sqrt(sigma_w2 / fan_in) * hw + jnp.sqrt(sigma_b2) * bias
        h = act.fn(pre)
    return sigma_w2 * (h @ h.T) / width + sigma_b2


def ntk_jvp_vjp(f: Callable, params, x1, x2):
    """Generic empirical NTK J(x1) J(x2)^T / n_out of ``f(params, x) -> (m, n_out)`` (traced over outputs), column
    by column: column (j, o) is jvp(f(., x1), vjp(f(., x2))(e_{j,o})). No Jacobian is held in memory: one tangent
    the size of the parameters at a time (``lax.map``)."""
    out2, vjp2 = jax.vjp(lambda p: f(p, x2), params)
    m2, n_out = out2.shape

    def column(idx):
        j, o = idx // n_out, idx % n_out
        (tangent,) = vjp2(jnp.zeros_like(out2).at[j, o].set(1.0))
        _, col = jax.jvp(lambda p: f(p, x1), (params,), (tangent,))
        return col[:, o]

    cols = jax.lax.map(column, jnp.arange(m2 * n_out))  # (m2 * n_out, m1)
    return cols.reshape(m2, n_out, -1).sum(1).T / n_out
