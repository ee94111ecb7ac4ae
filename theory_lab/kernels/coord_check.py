"""Coordinate checks (the microsoft/mup picture) for any flax model, with fitted exponents.

A coordinate check trains a model for a few steps at several widths (or depths) and records, per step, the typical
size of a coordinate of every activation — ``l1 = mean |x|`` as in microsoft/mup's ``coord_check.py`` — and of its
change since initialisation. Under a feature-learning parametrization (µP, Depth-µP) the curves do not move with
size; under SP they blow up. Readers of the plain plots could not tell how flat is flat (mup issues #42, #71), so
:func:`plot_coord_check` fits the exponent ``b`` of ``size ↦ l1 ∝ size^b`` (weighted log-log fit over seeds, with a
standard error) and prints it next to the expected one.

Pieces:
  * :class:`ScaledMLP` — a flax MLP whose layers take per-layer init stds and multipliers (see
    :mod:`theory_lab.kernels.parametrizations`); any other flax module works with the utilities below.
  * :func:`coord_trajectory` — pure JAX, one seed: ``steps`` optimizer steps in a ``lax.scan``, returning the l1
    size of every captured intermediate and of its change since init, per step. vmap it over seeds / learning rates.
  * :func:`coord_check` — driver over sizes (a factory ``size -> (model, params_from_key)``) and seeds.
  * :func:`fit_exponent`, :func:`plot_coord_check` — the fitted exponent and the plot.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["width_update_exponent", "LAZY_EXPONENT", "simulate_width_coord", "ScaledMLP", "scale_params",
           "coord_trajectory", "coord_check", "CoordCheckResult", "fit_exponent", "plot_coord_check", "l1"]


def l1(x):
    """Typical coordinate size: mean absolute value (microsoft/mup's ``x.abs().mean()``)."""
    return jnp.mean(jnp.abs(x))


try:  # flax is a dependency of the suite; keep the import local to this module's users
    import flax.linen as nn
except ImportError:  # pragma: no cover
    nn = None


if nn is not None:

    class ScaledMLP(nn.Module):
        """MLP ``d_in → width (× n_hidden) → d_out`` without biases, ReLU, layer l's output multiplied by
        ``multipliers[l]``. Kernels are initialised N(0, 1): apply the per-layer init stds with
        :func:`scale_params`. Each pre-activation is sown as intermediate ``h<l>`` (l = 1..n_hidden) and the output as
        ``out``, so :func:`coord_trajectory` can record them."""

        width: int
        n_hidden: int
        d_out: int = 1
        multipliers: Sequence[Any] | None = None
        dtype: Any = jnp.float32

        @nn.compact
        def __call__(self, x):
            mult = self.multipliers if self.multipliers is not None else (1.0,) * (self.n_hidden + 1)
            init = nn.initializers.normal(1.0)
            h = x
            for i in range(self.n_hidden):
                h = mult[i] * nn.Dense(self.width, use_bias=False, kernel_init=init, dtype=self.dtype,
                                         param_dtype=self.dtype, name=f"layer{i}")(h)
                self.sow("intermediates", f"h{i + 1}", h)
                h = nn.relu(h)
            out = mult[-1] * nn.Dense(self.d_out, use_bias=False, kernel_init=init, dtype=self.dtype,
                                    param_dtype=self.dtype, name=f"layer{self.n_hidden}")(h)
            self.sow("intermediates", "out", out)
            return out


def scale_params(params: Mapping[str, Any], stds: Sequence[Any]) -> dict[str, Any]:
    """Multiply the kernel of ``layer<i>`` by ``stds[i]`` (turns the N(0,1) init of :class:`ScaledMLP` into the
    parametrization's init; ``stds`` may be traced)."""
    return {name: jax.tree_util.tree_map(lambda w, s=stds[int(name.removeprefix("layer"))]: w * s, sub)
            for name, sub in params.items()}


def _intermediates(apply_fn, params, x) -> dict[str, jax.Array]:
    _, state = apply_fn(params, x, mutable=["intermediates"])
    flat = jax.tree_util.tree_flatten_with_path(state["intermediates"])[0]
    out = {}
    for path, leaf in flat:
        name = "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)
        out[name.removesuffix("/0")] = leaf
    return out


def coord_trajectory(apply_fn: Callable, params, x_train, y_train, tx, steps: int, x_probe=None,
                     extra: Callable | None = None) -> dict[str, dict[str, jax.Array]]:
    """Train ``steps`` steps (full batch, loss ½·mean‖f(x) − y‖²) with the optax transformation ``tx`` and record
    coordinate sizes on ``x_probe`` (default: the training batch).

    ``apply_fn(params, x, mutable=["intermediates"])`` must return ``(output, {"intermediates": ...})`` (a flax
    ``model.apply`` with sown intermediates). Returns ``{"size": {name: (steps+1,)}, "change": {name: (steps+1,)}}``:
    l1 of each intermediate at step t = 0..steps, and l1 of its change since step 0. Pure; vmap over seeds.
    ``extra(params_t, params_0, init_acts) -> {name: scalar}`` adds statistics under ``"extra"`` (e.g. the part
    ΔW x of a feature update due to one layer's own weight change).
    """
    x_probe = x_train if x_probe is None else x_probe

    def loss(p):
        out, _ = apply_fn(p, x_train, mutable=["intermediates"])
        return 0.5 * jnp.mean(jnp.sum((out - y_train) ** 2, axis=-1))

    init_acts = _intermediates(apply_fn, params, x_probe)

    def record(p):
        acts = _intermediates(apply_fn, p, x_probe)
        ex = extra(p, params, init_acts) if extra is not None else {}
        return ({k: l1(v) for k, v in acts.items()}, {k: l1(v - init_acts[k]) for k, v in acts.items()}, ex)

    def step(carry, _):
        p, s = carry
        g = jax.grad(loss)(p)
        u, s = tx.update(g, s, p)
        p = jax.tree_util.tree_map(lambda a, b: a + b, p, u)
        return (p, s), record(p)

    (_, _), (size, change, ex) = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
    size0, change0, ex0 = record(params)
    cat = lambda a0, a: {k: jnp.concatenate([a0[k][None], a[k]]) for k in a0}  # noqa: E731
    return {"size": cat(size0, size), "change": cat(change0, change), "extra": cat(ex0, ex)}


@dataclasses.dataclass
class CoordCheckResult:
    """Coordinate sizes per (size, seed, step) for every recorded intermediate: ``size[name]`` and ``change[name]``
    have shape (len(sizes), seeds, steps + 1)."""

    sizes: np.ndarray
    size: dict[str, np.ndarray]
    change: dict[str, np.ndarray]
    xlabel: str = "width"


def coord_check(factory: Callable[[int], tuple[Callable, Callable]], sizes: Sequence[int], x_train, y_train,
                make_tx: Callable[[int], Any], *, steps: int = 3, seeds: int = 4, key=None, xlabel: str = "width"
                ) -> CoordCheckResult:
    """Run :func:`coord_trajectory` for each size (one compile per size) and ``seeds`` seeds (vmapped).

    ``factory(size)`` returns ``(apply_fn, init_fn)`` with ``init_fn(key) -> params`` (already scaled by the
    parametrization); ``make_tx(size)`` the optax transformation for that size.
    """
    key = jax.random.key(0) if key is None else key
    res_size: dict[str, list] = {}
    res_change: dict[str, list] = {}
    for i, n in enumerate(sizes):
        apply_fn, init_fn = factory(int(n))
        tx = make_tx(int(n))

        @jax.jit
        def run(keys):
            return jax.vmap(lambda k: coord_trajectory(apply_fn, init_fn(k), x_train, y_train, tx, steps))(keys)

        out = run(jax.random.split(jax.random.fold_in(key, i), seeds))
        for name, v in out["size"].items():
            res_size.setdefault(name, []).append(np.asarray(v))
        for name, v in out["change"].items():
            res_change.setdefault(name, []).append(np.asarray(v))
    stack = lambda d: {k: np.stack(v) for k, v in d.items()}  # noqa: E731
    return CoordCheckResult(np.asarray(sizes), stack(res_size), stack(res_change), xlabel)


def fit_exponent(sizes, values: np.ndarray) -> tuple[float, float]:
    """Exponent b of ``E[value] ∝ size^b`` from per-seed values of shape (len(sizes), seeds): weighted log-log fit
    (:func:`theory_lab.rules.fit_power_law`) with standard errors s/√R. Returns (b, se(b))."""
    from theory_lab.rules import fit_power_law, mean_and_se

    mean, se, _ = mean_and_se(np.asarray(values, dtype=np.float64), axis=1)
    b, b_se, _ = fit_power_law(np.asarray(sizes, dtype=np.float64), mean, se)
    return b, b_se


def plot_coord_check(ax, sizes, values: np.ndarray, *, expected: float | None = None, fit_step: int | None = None,
                     xlabel: str = "width", ylabel: str = "l1 of feature update", title: str | None = None,
                     cmap: str = "viridis", ci_z: float = 1.96) -> tuple[float, float]:
    """The mup-style plot: coordinate size against training step, one line per size (dark → yellow = small →
    large), ± ci_z·SE over seeds, log y-axis; the exponent fitted over sizes at ``fit_step`` (default: the last
    step) and the ``expected`` one are printed in the panel. ``values`` has shape (len(sizes), seeds, steps + 1).
    Returns the fitted (exponent, se)."""
    import matplotlib

    values = np.asarray(values, dtype=np.float64)
    n_steps = values.shape[-1]
    t = np.arange(n_steps)
    colors = matplotlib.colormaps[cmap](np.linspace(0.1, 0.9, len(sizes)))
    first = 1 if np.allclose(values[..., 0], 0) else 0  # a change-since-init curve is 0 at t = 0: start at t = 1
    for c, n, v in zip(colors, sizes, values):
        m = v.mean(0)
        se = v.std(0, ddof=1) / np.sqrt(v.shape[0])
        ax.errorbar(t[first:], m[first:], yerr=ci_z * se[first:], color=c, marker="o", ms=3, lw=1.2, capsize=2,
                    label=f"{xlabel} {int(n)}")
    step = n_steps - 1 if fit_step is None else fit_step
    b, b_se = fit_exponent(sizes, values[..., step])
    text = f"fitted exponent at t={step}: {b:+.2f} ± {b_se:.2f}"
    if expected is not None:
        text += f"\nexpected: {expected:+.2f}"
    ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", ha="left", fontsize=7,
            bbox=dict(boxstyle="round,pad=0.25", fc="white", ec="0.7", lw=0.6))
    ax.set_yscale("log")
    ax.margins(y=0.12)
    ax.set_xticks(t[first:])
    ax.set(xlabel="training step t", ylabel=ylabel)
    if title:
        ax.set_title(title)
    return b, b_se


# --- the width claim: theory and simulator ------------------------------------------------------------------------

#: Negative-control theory: the kernel ("lazy") regime, where every feature moves by O(n^{-1/2}) whatever the
#: parametrization (Jacot et al. 2018; Lee et al. 2019) — true for NTK, wrong for µP and SP.
LAZY_EXPONENT = -0.5


def width_update_exponent(parametrization: str, optimizer: str, step: int) -> float | None:
    """Exponent b in ``l1(h_t − h_0) = Θ(n^b)`` for a hidden pre-activation h of an MLP of width n after t steps at
    a width-independent global learning rate η (leading order in η; Tensor Programs IV, Yang & Hu, arXiv 2011.14522,
    Thm 3.8/Sec. 5 dichotomy, and Tensor Programs V Table 3; derivation for this MLP below). ``None``: no
    power law is claimed.

    * µP (SGD or Adam): 0 at every step — maximal, width-independent feature learning (TP IV Thm 3.8/Cor. 3.9).
    * NTK + SGD: −1/2 at every step — the kernel regime (Jacot et al.; TP IV Cor. 3.10): ΔW = η n^{-1/2} Δω with
      gradient entries O(n^{-1/2}) per unit, ΔW x = η n^{-1}·O(n^{1/2}).
    * SP + SGD, t = 1: +1/2. The readout v has coordinates n^{-1/2}, so ∇W = r (v ⊙ φ') xᵀ has entries
      O(n^{-1/2}) and ΔW x = η n^{-1/2} (x·x) = η n^{1/2}. After step 1 the output has moved by η n and the next
      steps blow up faster than any fixed power (not claimed).
    * SP + Adam, t = 1: +1. Adam's first step is the sign of the gradient, ΔW = −η sign(r(v⊙φ'))sign(x)ᵀ, so
      ΔW x = η Σ_j |x_j| = Θ(η n) (TP V: SP with Adam needs η ∝ 1/n to be stable).
    """
    from theory_lab.kernels.parametrizations import OPTIMIZERS, PARAMETRIZATIONS

    if parametrization not in PARAMETRIZATIONS or optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown parametrization/optimizer {parametrization!r}/{optimizer!r}")
    if step < 1:
        raise ValueError(f"step={step} must be >= 1 (t = 0 is the initialisation)")
    if parametrization == "mup":
        return 0.0
    if parametrization == "ntk":
        return -0.5 if optimizer == "sgd" else None
    if step == 1:
        return 0.5 if optimizer == "sgd" else 1.0
    return None


_PARAM_CODES = {"sp": 0, "ntk": 1, "mup": 2}


def simulate_width_coord(key, *, width: int, n_hidden: int = 2, d_in: int = 16, batch: int = 8, steps: int = 3,
                         param_code, adam, lr, base_width: int = 1, dtype=jnp.float64) -> dict[str, jax.Array]:
    """One coordinate-check trial of the width claim: a bias-free ReLU MLP d_in → width (× n_hidden) → 1 in the
    parametrization ``param_code`` (traced: 0 = SP, 1 = NTK, 2 = µP; see
    :mod:`theory_lab.kernels.parametrizations`), trained ``steps`` full-batch steps of SGD (``adam`` = 0) or Adam
    (``adam`` = 1; traced) at global learning rate ``lr`` (traced) on ``batch`` inputs N(0, I/d_in) (norm ≈ 1) with
    ±1 targets.

    Returns, per step t = 0..steps:
      ``change``, ``size`` (n_hidden + 1, steps + 1): l1 of the change since init (resp. of the value) of each
        hidden pre-activation h1..h_{n_hidden} and of the output, on the training batch (the mup plot);
      ``weight_update`` (steps + 1,): l1 of ``ΔW x`` for the last hidden layer — ``mult·(W_t − W_0)`` applied to
        its input features at init — the per-coordinate feature update that Tensor Programs V (Desideratum J.1)
        asks to be Θ(1) and whose width exponent :func:`width_update_exponent` predicts.
    """
    from theory_lab.kernels.parametrizations import mlp_scales, switch_optimizer

    if min(width, n_hidden, d_in, batch, steps) < 1:
        raise ValueError("width, n_hidden, d_in, batch and steps must be >= 1")
    table = np.asarray([[[(s.init_std, s.multiplier, s.lr) for s in
                          mlp_scales(p, d_in, width, 1, n_hidden, optimizer=o, base_width=base_width)]
                         for p in ("sp", "ntk", "mup")] for o in ("sgd", "adam")])  # (2, 3, layers, 3)
    tab = jnp.asarray(table, dtype=dtype)[:, jnp.asarray(param_code, jnp.int32)]  # (2, layers, 3)
    stds, mults = tab[0, :, 0], tab[0, :, 1]
    k_x, k_y, k_w = jax.random.split(key, 3)
    x = jax.random.normal(k_x, (batch, d_in), dtype) / np.sqrt(d_in)
    y = jnp.where(jax.random.bernoulli(k_y, 0.5, (batch, 1)), 1.0, -1.0).astype(dtype)
    model = ScaledMLP(width=width, n_hidden=n_hidden, d_out=1, multipliers=tuple(mults[i] for i in range(n_hidden + 1)),
                      dtype=dtype)
    params = scale_params(model.init(k_w, x)["params"], stds)
    f_sgd = {f"layer{i}": {"kernel": tab[0, i, 2]} for i in range(n_hidden + 1)}
    f_adam = {f"layer{i}": {"kernel": tab[1, i, 2]} for i in range(n_hidden + 1)}
    tx = switch_optimizer(adam, jnp.asarray(lr, dtype), f_sgd, f_adam)
    last = f"layer{n_hidden - 1}"

    def weight_update(p, p0, acts0):
        feats = x if n_hidden == 1 else jax.nn.relu(acts0[f"h{n_hidden - 1}"])
        dw = p[last]["kernel"] - p0[last]["kernel"]
        return {"weight_update": l1(mults[n_hidden - 1] * feats @ dw)}

    traj = coord_trajectory(lambda p, xx, mutable: model.apply({"params": p}, xx, mutable=mutable), params, x, y, tx,
                            steps, extra=weight_update)
    names = [f"h{i + 1}" for i in range(n_hidden)] + ["out"]
    return {"change": jnp.stack([traj["change"][k] for k in names]),
            "size": jnp.stack([traj["size"][k] for k in names]),
            "weight_update": traj["extra"]["weight_update"]}
