"""Width and depth parametrizations of neural networks: SP, NTK, µP and Depth-µP as pure functions.

A parametrization fixes, per layer, three numbers: the standard deviation of the initial weights, a constant
multiplier applied to the layer's output, and the learning-rate factor of the layer (relative to one global η).
Everything here is plain Python floats: feed them to any model (flax, haiku, plain JAX) and to
:func:`scaled_optimizer`, an optax transformation that multiplies each parameter's update by its factor times a
(possibly traced) global learning rate.

Width (``n`` = fan-in / fan-out of the infinite dimensions; ``m = n / n_base`` the width multiplier, so that every
parametrization coincides with SP at the base width, as in microsoft/mup). Layer roles: *input* (finite fan-in d,
infinite fan-out), *hidden* (both infinite), *output* (infinite fan-in, finite fan-out). Table 3 of Tensor Programs
V (Yang, Hu et al., arXiv 2203.03466), in the all-multipliers-one form, and the NTK parametrization of Jacot et al.::

    role     quantity         SP            NTK                    µP
    input    init var         1/fan_in      1 (multiplier 1/√fan_in)  1/fan_in
             SGD lr factor    1             1                      m_out          (= fan_out / base)
             Adam lr factor   1             1                      1
    hidden   init var         1/fan_in      1 (multiplier 1/√fan_in)  1/fan_in
             SGD lr factor    1             1                      1
             Adam lr factor   1             1                      1/m_in
    output   init var         1/fan_in      1 (multiplier 1/√fan_in)  1/(fan_in · m_in)
             SGD lr factor    1             1                      1/m_in
             Adam lr factor   1             1                      1/m_in

(µP's SGD factors equal MuSGD of microsoft/mup: vector-like parameters ×m, matrix-like ÷ fan_in/fan_out ratio; its
Adam factors equal MuAdam: matrix-like ÷ m_in. A zero-initialised readout, ``readout_zero_init``, is also µP.)

Depth (Tensor Programs VI, Yang, Yu, Zhu & Hayou, arXiv 2310.02244, Sec. 6.3 and Table 1). Residual blocks
``x^l = x^{l-1} + a · (L/L_0)^{-α} · block(x^{l-1})`` and hidden updates ``W^l ← W^l − η n^{-1} L^{-γ} Q(n L^δ g)``
(Def. 6.1/6.2; Q = identity for SGD, Adam's normalised moments for Adam; δ = α makes ``n L^δ g`` Θ(1)). The raw
per-step learning rate of a hidden weight is therefore ``η L^{α−γ}`` for SGD and ``η L^{−γ}`` for Adam::

    Table 1                 branch multiplier    learning rate
    Standard                1                    tuned
    Depth-µP (SGD)          a/√L                 η      (constant in L)
    Depth-µP (Adam)         a/√L                 η/√L

i.e. α = γ = 1/2 in the (branch ∝ L^{-α}, normalised update ∝ L^{-γ}) plane, for both optimizers.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "PARAMETRIZATIONS",
    "ROLES",
    "OPTIMIZERS",
    "LayerScale",
    "layer_scale",
    "mlp_scales",
    "DepthScale",
    "depth_scale",
    "DEPTH_MUP",
    "scaled_optimizer",
    "switch_optimizer",
]

PARAMETRIZATIONS = ("sp", "ntk", "mup")
ROLES = ("input", "hidden", "output")
OPTIMIZERS = ("sgd", "adam")
#: (α, γ) of Depth-µP for both SGD and Adam (Tensor Programs VI, Claim 7.5 / Table 1).
DEPTH_MUP = (0.5, 0.5)


@dataclasses.dataclass(frozen=True)
class LayerScale:
    """Per-layer scalings: weights ``w ~ N(0, init_std²)``, layer output ``multiplier · w x``, update
    ``lr · η · Q(g)``."""

    init_std: float
    multiplier: float
    lr: float


def _check(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(allowed)}")


def layer_scale(parametrization: str, role: str, fan_in: int, fan_out: int, *, optimizer: str = "sgd",
                base_fan_in: int | None = None, base_fan_out: int | None = None) -> LayerScale:
    """Init std, multiplier and learning-rate factor of one dense layer (table in the module docstring).

    Args:
      parametrization: "sp", "ntk" or "mup".
      role: "input" (finite fan-in), "hidden" or "output" (finite fan-out).
      fan_in, fan_out: the layer's dimensions.
      optimizer: "sgd" or "adam" (only the learning-rate factor depends on it).
      base_fan_in, base_fan_out: the base shape at which µP equals SP (default: m = 1 for the finite dimensions
        and base 1 for the infinite ones, i.e. the raw Table 3 of Tensor Programs V).

    The width multipliers are ``m_in = fan_in / base_fan_in`` and ``m_out = fan_out / base_fan_out``; only the
    infinite dimensions of a role enter (input: m_out; hidden: both; output: m_in).
    """
    _check("parametrization", parametrization, PARAMETRIZATIONS)
    _check("role", role, ROLES)
    _check("optimizer", optimizer, OPTIMIZERS)
    if fan_in < 1 or fan_out < 1:
        raise ValueError(f"fan_in={fan_in} and fan_out={fan_out} must be >= 1")
    m_in = fan_in / (base_fan_in or 1) if role != "input" else 1.0
    m_out = fan_out / (base_fan_out or 1) if role != "output" else 1.0
    std = 1.0 / math.sqrt(fan_in)
    if parametrization == "sp":
        return LayerScale(std, 1.0, 1.0)
    if parametrization == "ntk":
        return LayerScale(1.0, std, 1.0)
    # µP
    if role == "input":
        return LayerScale(std, 1.0, m_out if optimizer == "sgd" else 1.0)
    if role == "hidden":
        return LayerScale(std, 1.0, 1.0 if optimizer == "sgd" else 1.0 / m_in)
    return LayerScale(std / math.sqrt(m_in), 1.0, 1.0 / m_in)


def mlp_scales(parametrization: str, d_in: int, width: int, d_out: int, n_hidden: int, *, optimizer: str = "sgd",
               base_width: int = 1) -> list[LayerScale]:
    """Scalings of the ``n_hidden + 1`` dense layers of an MLP d_in → width (×n_hidden) → d_out.

    Layer 0 is the input layer, layers 1..n_hidden-1 hidden, the last the readout. ``base_width`` is the width at
    which µP coincides with SP.
    """
    if n_hidden < 1:
        raise ValueError(f"n_hidden={n_hidden} must be >= 1")
    out = [layer_scale(parametrization, "input", d_in, width, optimizer=optimizer, base_fan_out=base_width)]
    out += [layer_scale(parametrization, "hidden", width, width, optimizer=optimizer, base_fan_in=base_width,
                        base_fan_out=base_width) for _ in range(n_hidden - 1)]
    out.append(layer_scale(parametrization, "output", width, d_out, optimizer=optimizer, base_fan_in=base_width))
    return out


class DepthScale(NamedTuple):
    """Branch multiplier ``a (L/L0)^{-α}`` and the raw learning-rate factor of a hidden block weight."""

    branch: Any
    lr: Any


def depth_scale(alpha, gamma, depth: int, *, optimizer: str = "sgd", base_depth: int = 1, a: float = 1.0
                ) -> DepthScale:
    """Depth scalings of Tensor Programs VI (Def. 6.1/6.2): branch ``a (L/L0)^{-α}``; raw hidden LR factor
    ``(L/L0)^{α−γ}`` for SGD (the δ = α normalisation of the gradient, so that the *normalised* update is
    ∝ L^{-γ}) and ``(L/L0)^{-γ}`` for Adam (scale-invariant Q). ``alpha`` and ``gamma`` may be traced scalars.

    Depth-µP is ``alpha = gamma = 1/2`` (:data:`DEPTH_MUP`): raw LR constant in L for SGD, ∝ L^{-1/2} for Adam
    (Table 1). Standard (no block scaling, tuned LR) is ``alpha = 0``.
    """
    _check("optimizer", optimizer, OPTIMIZERS)
    if depth < 1 or base_depth < 1:
        raise ValueError(f"depth={depth} and base_depth={base_depth} must be >= 1")
    ratio = depth / base_depth
    log_r = math.log(ratio)
    branch = a * jnp.exp(-jnp.asarray(alpha) * log_r)
    expo = (jnp.asarray(alpha) - gamma) if optimizer == "sgd" else -jnp.asarray(gamma)
    return DepthScale(branch, jnp.exp(expo * log_r))


class _ScaledState(NamedTuple):
    inner: Any


def scaled_optimizer(optimizer: str, learning_rate, lr_factors, *, b1: float = 0.9, b2: float = 0.999,
                     eps: float = 1e-8):
    """An optax transformation: SGD or Adam directions, each leaf scaled by ``−learning_rate · factor``.

    ``lr_factors`` is a pytree with the structure of the parameters (floats or traced scalars, e.g. from
    :func:`layer_scale` / :func:`depth_scale`); ``learning_rate`` may be a traced scalar, so a sweep can vmap over it
    without recompiling (optax #577). Usable outside the suite as a µP / Depth-µP optimizer.
    """
    import optax

    _check("optimizer", optimizer, OPTIMIZERS)
    inner = optax.scale_by_adam(b1=b1, b2=b2, eps=eps) if optimizer == "adam" else optax.identity()

    def init_fn(params):
        return _ScaledState(inner.init(params))

    def update_fn(updates, state, params=None):
        u, s = inner.update(updates, state.inner, params)
        u = jax.tree_util.tree_map(lambda g, f: -learning_rate * f * g, u, lr_factors)
        return u, _ScaledState(s)

    return optax.GradientTransformation(init_fn, update_fn)


def switch_optimizer(adam_flag, learning_rate, sgd_factors, adam_factors, *, b1: float = 0.9, b2: float = 0.999,
                     eps: float = 1e-8):
    """Like :func:`scaled_optimizer`, but SGD or Adam is chosen by a *traced* ``adam_flag`` (0 or 1), so a sweep over
    optimizers is one compiled program: both directions are computed (Adam's moments are always tracked) and the
    update is ``−lr · (flag ? adam_factor · m̂/(√v̂+eps) : sgd_factor · g)``."""
    import optax

    inner = optax.scale_by_adam(b1=b1, b2=b2, eps=eps)

    def init_fn(params):
        return _ScaledState(inner.init(params))

    def update_fn(updates, state, params=None):
        a, s = inner.update(updates, state.inner, params)
        flag = jnp.asarray(adam_flag) > 0.5
        u = jax.tree_util.tree_map(lambda g, d, fs, fa: -learning_rate * jnp.where(flag, fa * d, fs * g),
                                   updates, a, sgd_factors, adam_factors)
        return u, _ScaledState(s)

    return optax.GradientTransformation(init_fn, update_fn)
