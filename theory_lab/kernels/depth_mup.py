"""Depth-µP (Tensor Programs VI; Yang, Yu, Zhu & Hayou, arXiv 2310.02244, ICLR 2024): the (α, γ) classification of
residual-network depth parametrizations and a coordinate-check simulator over depth.

Setting (TP VI Sec. 6.3, block depth 1)::

    x^0 = U ξ,   x^l = x^{l-1} + a L^{-α} MS(φ(W^l x^{l-1})),   l = 1..L,   f = Vᵀ x^L,   MS(z) = z − mean(z)·1

with µP in width (U entries N(0, 1/d), W^l N(0, 1/n), V N(0, 1/n²)) and hidden updates
``W^l ← W^l − η n^{-1} L^{-γ} Q(n L^α g)`` (Def. 6.1/6.2; raw LR η L^{α−γ} for SGD, η n^{-1} L^{-γ} for Adam; see
:func:`theory_lab.kernels.parametrizations.depth_scale`). U and V are kept fixed (as in the paper's transfer
experiments, where input/output layers are not depth-scaled).

Claims (TP VI Sec. 7, stated as Claims with heuristic proofs; rigorous for the linear case only):
  * 7.1 stable at initialisation ⇔ α ≥ 1/2;
  * 7.2 (given 7.1) stable during training ⇔ α + γ ≥ 1; nontrivial (features move Θ(1)) ⇔ α + γ ≤ 1;
  * 7.3 faithful at init ⇔ α ≥ 1/2, during training ⇔ α ≤ 1;
  * 7.4 α ∈ (1/2, 1] ⇒ redundant (feature diversity exponent κ = 0);
  * 7.5 Depth-µP α = γ = 1/2 is the unique stable, nontrivial, faithful parametrization with maximal diversity.

The size law behind 7.2 (derivation as in the paper's heuristic): the gradient of block l is ∝ L^{-α}, so the
normalised update moves W^l by Θ(η n^{-1} L^{-γ}) per entry and block l's output by L^{-α}·L^{-γ}; the L blocks'
first-order contributions to x^L are aligned (all follow the same backward signal), so they add coherently:
``rms(x^L_t − x^L_0) = Θ(L^{1−α−γ})`` for α ≥ 1/2 — exponent 0 on the line α + γ = 1, +1/2 for (½, 0) (blows up),
−1/2 for (½, 1) or (¾, ¾) (features freeze). Expected numbers: notes kernels_depth_lora.md section 3(d).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["feature_update_exponent", "incoherent_exponent", "optimal_lr_exponent", "classify", "simulate_depth_coord",
           "NOTES_TABLE"]

#: Notes section 3(d) [NUM]: rms of x^L change after 3 steps, n = 128, 8 inputs, 6 seeds, per (label, L).
NOTES_TABLE = {
    "sgd (1/2,1/2) eta=1": {8: 0.114, 32: 0.101, 128: 0.085, 512: 0.115},
    "sgd (1/2,0)": {8: 0.262, 32: 0.348, 128: 0.376, 512: 0.562},
    "sgd (1,0)": {8: 0.081, 32: 0.063, 128: 0.054, 512: 0.076},
    "sgd (1/2,1)": {8: 0.044, 32: 0.020, 128: 0.0080, 512: 0.0057},
    "adam (1/2,1/2) eta=0.3": {8: 0.096, 32: 0.073, 128: 0.072, 512: 0.092},
}


def feature_update_exponent(alpha: float, gamma: float) -> float:
    """Exponent e in ``rms(x^L_t − x^L_0) = Θ(L^e)`` after a fixed number of steps at fixed η: ``e = 1 − α − γ``
    (TP VI Claim 7.2 and its heuristic proof; module docstring). Requires α ≥ 1/2 (Claim 7.1: otherwise the
    network is unstable at initialisation and no training exponent is claimed)."""
    if alpha < 0.5:
        raise ValueError(f"alpha={alpha:g} < 1/2: unstable at initialisation (TP VI Claim 7.1), no exponent claimed")
    return 1.0 - alpha - gamma


def incoherent_exponent(alpha: float, gamma: float) -> float:
    """Negative control: the exponent if the L blocks' updates added like independent noise (a random walk,
    √L instead of L): ``1/2 − α − γ``. Plausible (it is how the *initial* branches add up) and wrong."""
    return 0.5 - alpha - gamma


def optimal_lr_exponent(alpha: float, gamma: float) -> float:
    """Exponent of the optimal SGD base learning rate in depth, η*(L) ∝ L^{γ − 1/2}, for branch multiplier
    L^{-1/2} (α = 1/2). Depth-µP (γ = 1/2) has an L → ∞ limit at fixed η, so its optimum is depth-independent
    (TP VI Sec. 10.2); any other γ runs the raw learning rate η L^{α−γ} = L^{1/2−γ} × Depth-µP's, which the
    optimum must undo. Only α = 1/2 is covered (for α > 1/2 the limit is the redundant ODE, Claim 7.4)."""
    if not math.isclose(alpha, 0.5):
        raise ValueError(f"alpha={alpha:g}: the optimal-lr exponent is stated for alpha = 1/2 only")
    return gamma - 0.5


def classify(alpha: float, gamma: float) -> dict[str, bool]:
    """TP VI Claims 7.1–7.5 as booleans for the (branch ∝ L^{-α}, update ∝ L^{-γ}) parametrization."""
    stable_init = alpha >= 0.5
    stable_train = stable_init and alpha + gamma >= 1.0
    nontrivial = alpha + gamma <= 1.0
    faithful = alpha >= 0.5 and alpha <= 1.0
    return {
        "stable_init": stable_init,                                  # 7.1
        "stable_training": stable_train,                             # 7.2
        "nontrivial": nontrivial,                                    # 7.2
        "faithful": faithful,                                        # 7.3
        "redundant": 0.5 < alpha <= 1.0,                             # 7.4 (kappa = 0)
        "depth_mup": math.isclose(alpha, 0.5) and math.isclose(gamma, 0.5),  # 7.5
    }


def simulate_depth_coord(key, *, width: int, depth: int, d_in: int = 16, batch: int = 8, steps: int = 3,
                         alpha, gamma, adam, lr, base_depth: int = 1, dtype=jnp.float64) -> dict[str, jax.Array]:
    """One coordinate-check trial over depth: the block-depth-1 residual MLP of the module docstring (φ = ReLU,
    a = 1) with ``depth`` blocks of width ``width``, trained ``steps`` full-batch steps on ``batch`` inputs
    N(0, I/d_in) with ±1 targets; SGD (``adam`` = 0) or Adam (``adam`` = 1), hidden weights only.

    ``alpha``, ``gamma``, ``adam`` and ``lr`` are traced scalars (one compile per (width, depth)); the depth
    scalings come from :func:`theory_lab.kernels.parametrizations.depth_scale` with ``base_depth``. Layers run in a
    ``lax.scan`` over the stacked weights, steps in a ``lax.scan``.

    Returns ``update`` (steps + 1,): rms over coordinates of x^L_t(ξ) − x^L_0(ξ) on a fresh test input ξ (the
    statistic of notes 3(d)); ``size`` (steps + 1,): rms of x^L_t(ξ); ``loss`` (steps + 1,): training loss.
    """
    from theory_lab.kernels.parametrizations import depth_scale, layer_scale, switch_optimizer

    if min(width, depth, d_in, batch, steps, base_depth) < 1:
        raise ValueError("width, depth, d_in, batch, steps and base_depth must be >= 1")
    n, L = width, depth
    sgd = depth_scale(alpha, gamma, L, optimizer="sgd", base_depth=base_depth)
    adm = depth_scale(alpha, gamma, L, optimizer="adam", base_depth=base_depth)
    branch = jnp.asarray(sgd.branch, dtype)
    f_sgd = jnp.asarray(sgd.lr * layer_scale("mup", "hidden", n, n, optimizer="sgd").lr, dtype)
    f_adam = jnp.asarray(adm.lr * layer_scale("mup", "hidden", n, n, optimizer="adam").lr, dtype)
    k_u, k_v, k_w, k_x, k_y, k_p = jax.random.split(key, 6)
    u = jax.random.normal(k_u, (d_in, n), dtype) / math.sqrt(d_in)
    v = jax.random.normal(k_v, (n,), dtype) / n
    w = jax.random.normal(k_w, (L, n, n), dtype) / math.sqrt(n)
    x = jax.random.normal(k_x, (batch, d_in), dtype) / math.sqrt(d_in)
    y = jnp.where(jax.random.bernoulli(k_y, 0.5, (batch,)), 1.0, -1.0).astype(dtype)
    probe = jax.random.normal(k_p, (1, d_in), dtype) / math.sqrt(d_in)

    def features(ws, inp):
        def block(h, wl):
            z = jax.nn.relu(h @ wl)
            return h + branch * (z - jnp.mean(z, axis=-1, keepdims=True)), None

        return jax.lax.scan(block, inp @ u, ws)[0]

    def loss(ws):
        return 0.5 * jnp.mean((features(ws, x) @ v - y) ** 2)

    tx = switch_optimizer(adam, jnp.asarray(lr, dtype), f_sgd, f_adam)
    feat0 = features(w, probe)

    def record(ws):
        feat = features(ws, probe)
        rms = lambda a: jnp.sqrt(jnp.mean(a**2))  # noqa: E731
        return rms(feat - feat0), rms(feat), loss(ws)

    def step(carry, _):
        ws, s = carry
        g = jax.grad(loss)(ws)
        upd, s = tx.update(g, s, ws)
        ws = ws + upd
        return (ws, s), record(ws)

    _, (upd, size, lss) = jax.lax.scan(step, (w, tx.init(w)), None, length=steps)
    u0, s0, l0 = record(w)
    cat = lambda a0, a: jnp.concatenate([a0[None], a])  # noqa: E731
    return {"update": cat(u0, upd), "size": cat(s0, size), "loss": cat(l0, lss)}
