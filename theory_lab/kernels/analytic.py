"""Analytic NNGP and NTK of fully-connected networks (infinite width), in the conventions of neural-tangents.

Network (``depth`` = L hidden layers of width n, then a linear readout; inputs x in R^d):

  NTK parametrization (neural-tangents ``parameterization='ntk'``, the default):
      h^l = (sigma_w / sqrt(n_{l-1})) W^l x^{l-1} + sigma_b b^l,   W_ij, b_i ~ N(0, 1),   x^l = phi(h^l),  x^0 = x.
  Standard parametrization (``'standard'``): W_ij ~ N(0, sigma_w^2 / n_{l-1}), b_i ~ N(0, sigma_b^2), h = W x + b.

Recursion (notes ``theory/kernels_depth_lora.md`` section 1(b); neural-tangents ``stax.Dense``/``_affine``,
``requirements._cov`` for the input kernel, google/neural-tangents @ c17e770), with K^0(x, x') = x.x'/d, Theta~^0 = 0:

  Sigma^l = sigma_w^2 K^{l-1} + sigma_b^2
  Theta^l = Sigma^l + sigma_w^2 Theta~^{l-1}                           (NTK parametrization)
  Theta^l = n_{l-1} K^{l-1} + sigma_w^2 Theta~^{l-1} (+ 1 with a bias)  (standard parametrization; n_0 = d)
  K^l = E[phi(u) phi(v)],  Theta~^l = Theta^l E[phi'(u) phi'(v)],
      (u, v) ~ N(0, [[Sigma^l(x,x), Sigma^l(x,x')], [., Sigma^l(x',x')]])
  NNGP = Sigma^{L+1},  NTK = Theta^{L+1}  (layer L+1 is the readout Dense; no activation after it).

Kernel maps T(q1, q2, s12) -> (E phi phi, E phi' phi') with c = s12 / sqrt(q1 q2), theta = arccos c:
  * AB-ReLU a min(x,0) + b max(x,0) (ReLU: a=0, b=1; leaky ReLU: a=alpha, b=1; arc-cosine kernels, Cho & Saul 2009):
      E phi phi = (a-b)^2/(2 pi) sqrt(q1 q2) sin(theta) + ((a^2+b^2)/2 - (a-b)^2 theta/(2 pi)) s12,
      E phi' phi' = (a^2+b^2)/2 - (a-b)^2 theta/(2 pi).
  * erf (Williams 1997): E = (2/pi) arcsin(2 s12 / sqrt((1+2q1)(1+2q2))), E' = (4/pi)/sqrt((1+2q1)(1+2q2) - 4 s12^2).
  * any phi: 2-D Gauss-Hermite quadrature on the bivariate Gaussian, u = sqrt(q1) z1,
    v = sqrt(q2)(c z1 + sqrt(1-c^2) z2), ``deg`` nodes per axis (default 80; neural-tangents
    ``ElementwiseNumerical``); phi' by autodiff. The rule is not exactly symmetric in (x, x'): K(x, x') and K(x', x)
    differ by the quadrature error (about 1e-4 for tanh at deg 48 with q ~ 2; smaller at 80).

Assumptions: inputs with x != 0 (so q > 0 at every layer), sigma_w^2 > 0, sigma_b^2 >= 0; the standard
parametrization's NTK depends on the (finite) hidden ``width`` through the fan-in factor and grows with it.

Speed (see bench/neural_tangents.py): for a symmetric kernel only the blocks on and above the diagonal are computed;
sin(arccos c) is sqrt((1-c)(1+c)); in float32 arccos is a degree-7 minimax polynomial times sqrt(1-c)
(Abramowitz & Stegun 4.4.46, absolute error <= 2e-8, below float32 resolution); float64 uses the stable
theta = 2 atan2(sqrt(1-c), sqrt(1+c)). Large input sets are computed in blocks whose working set fits a memory budget
(:func:`nngp_ntk_blocked`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "activation",
    "kernel_map",
    "nngp_ntk",
    "nngp_ntk_blocked",
    "block_size_for_budget",
]

#: Named activations: closed forms ("relu", "leaky_relu", "abrelu", "erf") or Gauss-Hermite ("tanh", "gelu", ...).
ACTIVATIONS = ("relu", "leaky_relu", "abrelu", "erf", "tanh", "sigmoid", "gelu", "softplus")

_A_S_ARCCOS = (1.5707963050, -0.2145988016, 0.0889789874, -0.0501743046,
               0.0308918810, -0.0170881256, 0.0066700901, -0.0012624911)


@dataclasses.dataclass(frozen=True)
class Activation:
    """An activation for the kernel recursion. ``kind``: "abrelu" (a min(x,0) + b max(x,0)), "erf" (erf(x)) or
    "numerical" (``fn`` through ``deg``-node Gauss-Hermite quadrature). ``fn`` is the pointwise JAX function (used by
    empirical kernels and quadrature)."""

    name: str
    kind: str
    fn: Callable
    a: float = 0.0
    b: float = 1.0
    deg: int = 80


@functools.lru_cache(maxsize=256)
def activation(name: str | Callable, *, alpha: float = 0.01, a: float = 0.0, b: float = 1.0,
               deg: int = 80) -> Activation:
    """The :class:`Activation` for a name in :data:`ACTIVATIONS` or a pointwise callable (quadrature).

    ``alpha``: slope of leaky ReLU on x < 0; ``a``, ``b``: AB-ReLU slopes; ``deg``: quadrature nodes per axis.
    Cached, so equal arguments give the same object (and jitted code keyed on it is reused).
    """
    if callable(name):
        return Activation(getattr(name, "__name__", "custom"), "numerical", name, deg=deg)
    if name == "relu":
        return Activation("relu", "abrelu", jax.nn.relu, 0.0, 1.0)
    if name == "leaky_relu":
        return Activation("leaky_relu", "abrelu", lambda x: jnp.where(x > 0, x, alpha * x), float(alpha), 1.0)
    if name == "abrelu":
        return Activation("abrelu", "abrelu", lambda x: jnp.where(x > 0, b * x, a * x), float(a), float(b))
    if name == "erf":
        return Activation("erf", "erf", jax.scipy.special.erf)
    fns = {"tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "gelu": lambda x: jax.nn.gelu(x, approximate=False),
           "softplus": jax.nn.softplus}
    if name in fns:
        return Activation(name, "numerical", fns[name], deg=deg)
    raise ValueError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)} or pass a callable")


def _arccos(c, fast: bool):
    """arccos(c) for c in [-1, 1]: stable atan2 form, or (fast) the A&S 4.4.46 polynomial (|error| <= 2e-8)."""
    if not fast:
        return 2.0 * jnp.arctan2(jnp.sqrt(1.0 - c), jnp.sqrt(1.0 + c))
    x = jnp.abs(c)
    p = _A_S_ARCCOS[7]
    for coef in _A_S_ARCCOS[6::-1]:
        p = p * x + coef
    r = jnp.sqrt(1.0 - x) * p
    return jnp.where(c >= 0, r, math.pi - r)


def _gauss_hermite(deg: int):
    z, w = np.polynomial.hermite_e.hermegauss(deg)
    return z, w / w.sum()


def kernel_map(act: Activation, q1, q2, s12, *, fast: bool = False):
    """(E[phi(u) phi(v)], E[phi'(u) phi'(v)]) for (u, v) ~ N(0, [[q1, s12], [s12, q2]]); arrays broadcast.

    Closed forms for AB-ReLU and erf, Gauss-Hermite quadrature otherwise (module docstring).
    """
    dtype = jnp.result_type(q1, q2, s12)
    if act.kind == "erf":
        a1, a2 = 1.0 + 2.0 * q1, 1.0 + 2.0 * q2
        prod = a1 * a2
        k = (2.0 / math.pi) * jnp.arcsin(jnp.clip(2.0 * s12 * jax.lax.rsqrt(prod), -1.0, 1.0))
        kd = (4.0 / math.pi) * jax.lax.rsqrt(prod - 4.0 * s12 * s12)
        return k, kd
    # q1, q2 are vectors broadcast against s12 (n1, 1) x (1, n2): square roots on vectors, products per element
    rq = jnp.sqrt(q1) * jnp.sqrt(q2)
    c = jnp.clip(s12 * (jax.lax.rsqrt(q1) * jax.lax.rsqrt(q2)), -1.0, 1.0)
    if act.kind == "abrelu":
        a, b = act.a, act.b
        theta = _arccos(c, fast)
        sin = jnp.sqrt((1.0 - c) * (1.0 + c))
        kd = (a * a + b * b) / 2.0 - (a - b) ** 2 * theta / (2.0 * math.pi)
        k = (a - b) ** 2 / (2.0 * math.pi) * rq * sin + kd * s12
        return k, kd
    # Gauss-Hermite on the bivariate Gaussian: loop over the nodes of z1, vectorise over z2.
    z, w = _gauss_hermite(act.deg)
    z, w = jnp.asarray(z, dtype), jnp.asarray(w, dtype)
    fn = act.fn
    dfn = jax.vmap(jax.grad(lambda t: fn(t)))
    shape = jnp.broadcast_shapes(jnp.shape(q1), jnp.shape(q2), jnp.shape(s12))
    s1 = jnp.broadcast_to(jnp.sqrt(q1), shape)
    s2 = jnp.broadcast_to(jnp.sqrt(q2), shape)[..., None]
    c = jnp.broadcast_to(c, shape)
    sc = jnp.sqrt(jnp.maximum(1.0 - c * c, 0.0))[..., None]
    c = c[..., None]
    z_b = jnp.reshape(z, (1,) * len(shape) + (-1,))

    def body(carry, zw):
        zi, wi = zw
        u = s1 * zi
        v = s2 * (c * zi + sc * z_b)
        fv = fn(v) @ w
        dv = dfn(v.reshape(-1)).reshape(v.shape) @ w
        du = dfn(u.reshape(-1)).reshape(shape)
        return (carry[0] + wi * fn(u) * fv, carry[1] + wi * du * dv), None

    zero = jnp.zeros(shape, dtype)
    (k, kd), _ = jax.lax.scan(body, (zero, zero), (z, w))
    return k, kd


@functools.partial(jax.jit, static_argnames=("depth", "act", "parametrization", "width", "bias", "fast",
                                             "diag_only"))
def _recursion(x1, x2, sigma_w2, sigma_b2, *, depth, act, parametrization, width, bias, fast, diag_only=False):
    """NNGP and NTK between the rows of x1 and x2 (cross matrices) through depth hidden layers and the readout."""
    d = x1.shape[-1]
    q1 = jnp.sum(x1 * x1, -1) / d
    q2 = jnp.sum(x2 * x2, -1) / d
    k12 = q1 if diag_only else (x1 @ x2.T) / d
    q1, q2 = (q1, q2) if diag_only else (q1[:, None], q2[None, :])
    t12 = jnp.zeros_like(k12)

    def affine(q1, q2, k12, t12, fan_in):
        s11 = sigma_w2 * q1 + sigma_b2
        s22 = sigma_w2 * q2 + sigma_b2
        s12 = sigma_w2 * k12 + sigma_b2
        if parametrization == "ntk":
            th = s12 + sigma_w2 * t12
        else:
            th = fan_in * k12 + sigma_w2 * t12 + (1.0 if bias else 0.0)
        return s11, s22, s12, th

    def hidden_layer(carry, fan_in):
        q1, q2, k12, t12 = carry
        s11, s22, s12, th = affine(q1, q2, k12, t12, fan_in)
        # diagonal maps are cheap (vectors); the cross map carries the cost
        q1 = kernel_map(act, s11, s11, s11, fast=fast)[0]
        q2 = q1 if diag_only else kernel_map(act, s22, s22, s22, fast=fast)[0]
        k12, kd = kernel_map(act, s11, s22, s12, fast=fast)
        return (q1, q2, k12, th * kd), None

    # A scan, not a Python loop: unrolled, XLA CPU fuses the whole elementwise recursion into a few giant fusions
    # that recompute every earlier layer (about 10x slower at depth 10; bench/neural_tangents.py).
    fan_ins = jnp.asarray([d] + [width or 0] * (depth - 1), k12.dtype)[:depth]
    (q1, q2, k12, t12), _ = jax.lax.scan(hidden_layer, (q1, q2, k12, t12), fan_ins)
    _, _, s12, th = affine(q1, q2, k12, t12, d if depth == 0 else (width or 0))
    return s12, th


def _setup(x1, x2, activation_, parametrization, width, dtype, fast):
    if parametrization not in ("ntk", "standard"):
        raise ValueError(f"parametrization must be 'ntk' or 'standard', got {parametrization!r}")
    if parametrization == "standard" and (width is None or int(width) < 1):
        raise ValueError("the standard parametrization's NTK needs the hidden width (fan-in factor)")
    act = activation_ if isinstance(activation_, Activation) else activation(activation_)
    dtype = jnp.dtype(dtype) if dtype is not None else (jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
    x1 = jnp.asarray(x1, dtype)
    x2 = x1 if x2 is None else jnp.asarray(x2, dtype)
    if x1.ndim != 2 or x2.ndim != 2 or x1.shape[1] != x2.shape[1]:
        raise ValueError(f"inputs must be (n1, d) and (n2, d) arrays, got {x1.shape} and {x2.shape}")
    fast = (dtype == jnp.float32) if fast is None else bool(fast)
    return x1, x2, act, dtype, fast


def nngp_ntk(x1, x2=None, *, depth: int, activation="relu", sigma_w2=2.0, sigma_b2=0.0,
             parametrization: str = "ntk", width: int | None = None, bias: bool = True, dtype=None,
             fast: bool | None = None, diag: bool = False):
    """Analytic (NNGP, NTK) matrices between the rows of ``x1`` (n1, d) and ``x2`` (n2, d) (default x2 = x1).

    Args:
      depth: number of hidden layers L (>= 0; L = 0 is the linear readout alone).
      activation: a name in :data:`ACTIVATIONS`, an :class:`Activation` (e.g. ``activation("leaky_relu",
        alpha=0.2)``) or a pointwise JAX function (Gauss-Hermite).
      sigma_w2, sigma_b2: weight and bias variances (traced: a new value does not recompile).
      parametrization: "ntk" (neural-tangents default) or "standard" (needs ``width``; ``bias`` adds the +1 of the
        bias gradient, as neural-tangents does whenever b_std is not None).
      dtype: float64 / float32 (default: float64 when x64 is enabled).
      fast: polynomial arccos (default: on in float32 only).
      diag: return only the diagonal K(x_i, x_i), Theta(x_i, x_i) of x1 (vectors).
    Returns: (nngp, ntk), each (n1, n2) (or (n1,) with ``diag``) in ``dtype``.
    """
    x1, x2, act, dtype, fast = _setup(x1, x2, activation, parametrization, width, dtype, fast)
    if int(depth) < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")
    return _recursion(x1, x1 if diag else x2, jnp.asarray(sigma_w2, dtype), jnp.asarray(sigma_b2, dtype),
                      depth=int(depth), act=act, parametrization=parametrization,
                      width=None if width is None else int(width), bias=bool(bias), fast=fast, diag_only=diag)


#: Arrays of one block's size alive at once in the jitted recursion (inputs to a kernel map, its outputs, NNGP and
#: NTK carries, fusion temporaries); used to size blocks from a memory budget. Deliberately generous.
LIVE_BLOCKS = 12


def block_size_for_budget(n1: int, n2: int, itemsize: int, memory_budget: int, *, live: int = LIVE_BLOCKS,
                          quadrature_deg: int = 0) -> int:
    """The largest square block edge b (<= max(n1, n2)) with live * b^2 * itemsize (* deg for quadrature) within
    ``memory_budget`` bytes; at least 16."""
    per = itemsize * live * max(quadrature_deg, 1)
    b = int(math.isqrt(max(memory_budget // per, 1)))
    return max(16, min(b, max(n1, n2)))


def nngp_ntk_blocked(x1, x2=None, *, depth: int, activation="relu", sigma_w2=2.0, sigma_b2=0.0,
                     parametrization: str = "ntk", width: int | None = None, bias: bool = True, dtype=None,
                     fast: bool | None = None, memory_budget: int = 2 << 30, block: int | None = None):
    """:func:`nngp_ntk` for large input sets, computed block by block into NumPy outputs.

    The (n1, n2) outputs live in host memory (2 n1 n2 itemsize bytes: 20,000 x 20,000 in float32 is 3.2 GB); the
    jitted recursion only ever sees a (b, b) block whose working set fits ``memory_budget`` (see
    :func:`block_size_for_budget`), all blocks padded to the same shape so there is one compilation. With x2 None
    (a symmetric kernel) only the blocks on and above the diagonal are computed and mirrored. A few blocks are
    batched into one call (vmapped) to amortise dispatch.
    Returns (nngp, ntk) as NumPy arrays.
    """
    x1, x2, act, dtype, fast = _setup(x1, x2, activation, parametrization, width, dtype, fast)
    symmetric = x2 is x1
    n1, n2 = x1.shape[0], x2.shape[0]
    itemsize = jnp.dtype(dtype).itemsize
    deg = act.deg if act.kind == "numerical" else 0
    b = int(block) if block is not None else block_size_for_budget(n1, n2, itemsize, memory_budget,
                                                                    quadrature_deg=deg)
    nb1, nb2 = -(-n1 // b), -(-n2 // b)

    def pad(x, nb):
        return jnp.concatenate([x, jnp.ones((nb * b - x.shape[0], x.shape[1]), x.dtype)]).reshape(nb, b, -1)

    xb1, xb2 = pad(x1, nb1), pad(x2, nb2)
    pairs = [(i, j) for i in range(nb1) for j in range(nb2) if not symmetric or j >= i]
    # blocks per call: as many as the budget allows
    per_call = max(1, min(len(pairs), memory_budget // max(1, LIVE_BLOCKS * b * b * itemsize * max(deg, 1))))
    sw, sb = jnp.asarray(sigma_w2, dtype), jnp.asarray(sigma_b2, dtype)
    kw = dict(depth=int(depth), act=act, parametrization=parametrization,
              width=None if width is None else int(width), bias=bool(bias), fast=fast)
    batched = _batched_blocks(kw)
    out_k = np.empty((n1, n2), np.dtype(dtype.name if hasattr(dtype, "name") else dtype))
    out_t = np.empty_like(out_k)
    for start in range(0, len(pairs), per_call):
        chunk = pairs[start:start + per_call]
        chunk = chunk + [chunk[-1]] * (per_call - len(chunk))  # pad: one compiled shape
        ii = jnp.asarray([p[0] for p in chunk])
        jj = jnp.asarray([p[1] for p in chunk])
        k, t = batched(xb1[ii], xb2[jj], sw, sb)
        k, t = np.asarray(k), np.asarray(t)
        for m, (i, j) in enumerate(pairs[start:start + per_call]):
            r0, r1 = i * b, min((i + 1) * b, n1)
            c0, c1 = j * b, min((j + 1) * b, n2)
            out_k[r0:r1, c0:c1] = k[m, :r1 - r0, :c1 - c0]
            out_t[r0:r1, c0:c1] = t[m, :r1 - r0, :c1 - c0]
            if symmetric and j > i:
                out_k[c0:c1, r0:r1] = k[m, :r1 - r0, :c1 - c0].T
                out_t[c0:c1, r0:r1] = t[m, :r1 - r0, :c1 - c0].T
    return out_k, out_t


@functools.lru_cache(maxsize=64)
def _batched_blocks_cached(items):
    kw = dict(items)
    return jax.jit(jax.vmap(lambda a, c, sw, sb: _recursion(a, c, sw, sb, **kw), in_axes=(0, 0, None, None)))


def _batched_blocks(kw):
    return _batched_blocks_cached(tuple(sorted(kw.items(), key=lambda t: t[0])))
