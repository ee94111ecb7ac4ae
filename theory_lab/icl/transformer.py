"""A small causal softmax transformer (GPT-2 style) trained on in-context linear regression, fully jitted.

Model (Garg, Tsipras, Liang, Valiant, "What can transformers learn in-context?", arXiv:2208.01066, repository
``dtsip/in-context-learning`` ``src/models.py``): a prompt (x_1, y_1, ..., x_n, y_n) is the token sequence
x_1, (y_1, 0, ..., 0), x_2, (y_2, 0, ..., 0), ... in R^d; a linear read-in to width ``n_embd``, an optional learned
positional embedding, ``n_layer`` pre-LayerNorm blocks (causal multi-head softmax attention, then a GELU MLP of width
4 n_embd, both residual), a final LayerNorm and a linear read-out to one number. The prediction for y_i is the
read-out at the token x_i, so it sees (x_1, y_1, ..., x_{i-1}, y_{i-1}, x_i): i - 1 in-context examples. The loss is
the squared error averaged over all n positions (Garg's ``train.py``). No dropout.

Data: w ~ N(0, psi^2 I_d), x_i ~ N(0, I_d), y_i = <w, x_i> + eps_i with eps_i ~ N(0, sigma^2); a fresh batch of
prompts (fresh tasks) every step. Optionally a finite pool of ``n_tasks`` task vectors drawn once per trial from the
prior, each prompt picking one uniformly (Raventos et al., arXiv:2306.15063).

Curriculum (Garg et al. ``src/curriculum.py``, ``conf/linear_regression.yaml``: dimensions 5 -> 20, +1, and points
11 -> 41, +2, every 2000 steps): :class:`Curriculum` starts training on prompts whose x have only the first
``d_start`` coordinates non-zero (the rest set to 0 before the labels are computed, as Garg's sampler does) and whose
loss covers only the first ``n_start`` positions, and widens both every ``every`` steps. Shapes stay static inside the
``lax.scan``: coordinates are masked, and because attention is causal the prediction at position i never sees later
tokens, so a loss restricted to the first n_eff positions is exactly the loss of prompts of length n_eff.

Everything a trial does -- initialise the parameters from its key, ``steps`` Adam steps (a ``lax.scan``; data are
drawn inside the step from ``fold_in(key, step)``), evaluate on fresh prompts -- is one pure function of
(key, static ints, traced floats), so the sweep engine vmaps it over seeds and over the float parameters (learning
rate, noise). Nothing leaves the device inside the loop.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import flax.linen as nn
import optax

__all__ = [
    "GPTConfig",
    "Curriculum",
    "GPT",
    "make_tokens",
    "sample_prompts",
    "init_params",
    "predict",
    "train",
    "prefix_ridge_predictions",
    "prefix_minnorm_predictions",
    "simulate_transformer_icl",
    "param_count",
]


@dataclasses.dataclass(frozen=True)
class GPTConfig:
    """Static shape of the model: every field changes array shapes, so all are Python ints/bools."""

    d: int  # covariate dimension (token width)
    n_points: int  # examples per prompt (sequence length 2 n_points)
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 32
    pos_emb: bool = True  # learned positional embedding (Garg et al.); False: none (causal mask still orders)

    def __post_init__(self) -> None:
        for name in ("d", "n_points", "n_layer", "n_head", "n_embd"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"GPTConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")


@dataclasses.dataclass(frozen=True)
class Curriculum:
    """Garg et al.'s curriculum with static ints: at step t (stage = t // every) prompts use the first
    d_eff = min(d, d_start + d_inc * stage) coordinates of x and the loss covers the first
    n_eff = min(n_points, n_start + n_inc * stage) positions. Reaches the full task after
    max(ceil((d - d_start)/d_inc), ceil((n_points - n_start)/n_inc)) stages (:meth:`end`)."""

    d_start: int
    n_start: int
    every: int
    d_inc: int = 1
    n_inc: int = 2

    def __post_init__(self) -> None:
        for name in ("d_start", "n_start", "every", "d_inc", "n_inc"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"Curriculum.{name} must be >= 1, got {getattr(self, name)}")

    def at(self, step, d: int, n_points: int):
        """(d_eff, n_eff) at a (possibly traced) step."""
        stage = step // self.every
        return (jnp.minimum(d, self.d_start + self.d_inc * stage),
                jnp.minimum(n_points, self.n_start + self.n_inc * stage))

    def end(self, d: int, n_points: int) -> int:
        """First step at which prompts are full-size (d_eff = d and n_eff = n_points)."""
        stages = max(-(-(d - self.d_start) // self.d_inc), -(-(n_points - self.n_start) // self.n_inc), 0)
        return stages * self.every


def _torch_linear_init(fan_in: int):
    """PyTorch's default ``nn.Linear`` initialisation (weights and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))), used by
    Garg et al.'s read-in and read-out layers."""
    bound = 1.0 / float(fan_in) ** 0.5

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class _Block(nn.Module):
    n_head: int
    n_embd: int
    dtype: Any
    n_layer: int = 1

    @nn.compact
    def __call__(self, h):  # h: (B, T, E)
        b, t, e = h.shape
        hd = e // self.n_head
        # GPT-2 initialisation (HuggingFace GPT2Model, Garg's backbone): N(0, 0.02^2) weights, zero biases, and the
        # two projections back into the residual stream at 0.02/sqrt(2 n_layer)
        resid = 0.02 / (2.0 * self.n_layer) ** 0.5

        def dense(n, name):
            std = resid if name in ("proj", "fc2") else 0.02
            return nn.Dense(n, dtype=self.dtype, param_dtype=self.dtype, name=name,
                            kernel_init=nn.initializers.normal(std))
        a = nn.LayerNorm(dtype=self.dtype, param_dtype=self.dtype, name="ln1")(h)
        qkv = dense(3 * e, "qkv")(a).reshape(b, t, 3, self.n_head, hd)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # (B, T, H, hd)
        s = jnp.einsum("bqhc,bkhc->bhqk", q, k) / jnp.sqrt(jnp.asarray(hd, self.dtype))
        causal = jnp.tril(jnp.ones((t, t), dtype=bool))
        s = jnp.where(causal[None, None], s, jnp.asarray(-1e30 if self.dtype == jnp.float64 else -1e9, self.dtype))
        att = jax.nn.softmax(s, axis=-1)
        o = jnp.einsum("bhqk,bkhc->bqhc", att, v).reshape(b, t, e)
        h = h + dense(e, "proj")(o)
        m = nn.LayerNorm(dtype=self.dtype, param_dtype=self.dtype, name="ln2")(h)
        m = dense(e, "fc2")(jax.nn.gelu(dense(4 * e, "fc1")(m)))
        return h + m


class GPT(nn.Module):
    """Garg-style GPT-2: read-in, (learned positions), pre-LN blocks, final LN, read-out; returns (B, T) outputs."""

    cfg: GPTConfig
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, tokens):  # tokens: (B, 2 n_points, d)
        c = self.cfg
        h = nn.Dense(c.n_embd, dtype=self.dtype, param_dtype=self.dtype, name="read_in",
                     kernel_init=_torch_linear_init(c.d), bias_init=_torch_linear_init(c.d))(tokens)
        if c.pos_emb:
            pos = self.param("wpe", nn.initializers.normal(0.02), (2 * c.n_points, c.n_embd), self.dtype)
            h = h + pos[None, : tokens.shape[1]]
        for i in range(c.n_layer):
            h = _Block(c.n_head, c.n_embd, self.dtype, c.n_layer, name=f"block{i}")(h)
        h = nn.LayerNorm(dtype=self.dtype, param_dtype=self.dtype, name="ln_f")(h)
        return nn.Dense(1, dtype=self.dtype, param_dtype=self.dtype, name="read_out",
                        kernel_init=_torch_linear_init(c.n_embd), bias_init=_torch_linear_init(c.n_embd))(h)[..., 0]


def make_tokens(x, y):
    """Interleave x_i and (y_i, 0, ..., 0): x (B, n, d), y (B, n) -> tokens (B, 2n, d)."""
    yt = jnp.zeros_like(x).at[..., 0].set(y.astype(x.dtype))
    return jnp.stack([x, yt], axis=2).reshape(x.shape[0], 2 * x.shape[1], x.shape[2])


def sample_prompts(key, batch: int, cfg: GPTConfig, sigma2, psi2=1.0, pool=None, dtype=jnp.float32, d_eff=None):
    """A batch of prompts: x (B, n, d) ~ N(0, I), w (B, d) ~ N(0, psi2 I) or uniform from ``pool`` (K, d),
    y = x w + N(0, sigma2). ``d_eff`` (a traced int, curriculum): coordinates d_eff.. of x are set to 0 before the
    labels are computed."""
    kx, kw, ke = jax.random.split(key, 3)
    x = jax.random.normal(kx, (batch, cfg.n_points, cfg.d), dtype)
    if d_eff is not None:
        x = jnp.where((jnp.arange(cfg.d) < d_eff)[None, None, :], x, jnp.zeros((), dtype))
    if pool is None:
        w = jnp.sqrt(jnp.asarray(psi2, dtype)) * jax.random.normal(kw, (batch, cfg.d), dtype)
    else:
        w = pool[jax.random.randint(kw, (batch,), 0, pool.shape[0])]
    y = jnp.einsum("bnd,bd->bn", x, w) + jnp.sqrt(jnp.asarray(sigma2, dtype)) * jax.random.normal(
        ke, (batch, cfg.n_points), dtype)
    return x, y, w


def init_params(key, cfg: GPTConfig, dtype=jnp.float32):
    model = GPT(cfg, dtype)
    return model.init(key, jnp.zeros((1, 2 * cfg.n_points, cfg.d), dtype))["params"]


def param_count(cfg: GPTConfig) -> int:
    p = jax.eval_shape(lambda k: init_params(k, cfg), jax.random.key(0))
    return int(sum(a.size for a in jax.tree.leaves(p)))


def predict(params, cfg: GPTConfig, x, y, dtype=jnp.float32):
    """Predictions of y_i from the first i - 1 examples and x_i, for i = 1..n: (B, n)."""
    out = GPT(cfg, dtype).apply({"params": params}, make_tokens(x, y))
    return out[:, ::2]


def train(key, cfg: GPTConfig, *, steps: int, batch: int, lr, sigma2, psi2=1.0, pool=None, warmup: int = 0,
          n_log: int = 20, dtype=jnp.float32, curriculum: Curriculum | None = None, cosine: bool = False,
          antithetic: bool = False, b2: float = 0.999):
    """Train from parameters initialised by ``key``: ``steps`` Adam steps (``lax.scan``), fresh prompts each step.

    ``lr``, ``sigma2``, ``psi2`` may be traced scalars; ``steps``, ``batch``, ``warmup``, ``n_log`` are static ints.
    The learning rate warms up linearly over ``warmup`` steps, then stays constant (Garg et al.) or, with ``cosine``,
    decays along a half cosine to 0 at the last step; gradients are clipped at global norm 1; ``b2`` is Adam's
    second-moment decay (static; 0.999 as PyTorch's default, which Garg et al. use). ``curriculum`` (static): Garg's
    schedule of masked dimensions and loss positions (:class:`Curriculum`);
    None trains on full prompts throughout. Returns (params, train_loss) where train_loss (n_log,) averages the
    per-step loss (on that step's curriculum task) over equal windows.

    ``antithetic`` (static; ``batch`` even): each step draws batch/2 prompts and adds their mirror images
    (x, -y), i.e. the tasks -w with noise -eps, which are equally likely under w ~ N(0, psi^2 I) and symmetric noise
    (and under a finite pool only if it is symmetric; not used with ``pool``). Every prompt is still a sample of the
    training distribution, so the loss and its gradient are unbiased; while the model's output barely depends on the
    labels (the initial plateau) the label-odd part of the per-prompt gradient, -2 y grad f, cancels within a pair,
    which removes most of the gradient noise there.
    """
    if steps < 1 or batch < 1:
        raise ValueError(f"steps and batch must be >= 1, got {steps}, {batch}")
    if antithetic and (batch % 2 or pool is not None):
        raise ValueError("antithetic pairs need an even batch and the Gaussian task prior (no pool)")
    n_log = max(1, min(n_log, steps))
    k_init, k_data = jax.random.split(key)
    params = init_params(k_init, cfg, dtype)
    lr = jnp.asarray(lr, dtype)

    def schedule(count):
        ramp = jnp.minimum(1.0, (count + 1.0) / max(warmup, 1)).astype(dtype) if warmup > 0 else 1.0
        if cosine:
            frac = jnp.clip((count - warmup) / max(steps - warmup, 1), 0.0, 1.0)
            ramp = ramp * (0.5 * (1.0 + jnp.cos(jnp.pi * frac))).astype(dtype)
        return lr * ramp

    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule, b2=b2))
    state = opt.init(params)

    def loss_fn(p, x, y, n_eff):
        err = (predict(p, cfg, x, y, dtype) - y) ** 2
        if curriculum is None:
            return jnp.mean(err)
        keep = (jnp.arange(cfg.n_points) < n_eff).astype(dtype)  # causal: positions >= n_eff never reach earlier ones
        return jnp.sum(err * keep[None, :]) / (batch * n_eff.astype(dtype))

    def step(carry, i):
        p, s = carry
        d_eff, n_eff = (None, None) if curriculum is None else curriculum.at(i, cfg.d, cfg.n_points)
        half = batch // 2 if antithetic else batch
        x, y, _ = sample_prompts(jax.random.fold_in(k_data, i), half, cfg, sigma2, psi2, pool, dtype, d_eff=d_eff)
        if antithetic:
            x, y = jnp.concatenate([x, x], axis=0), jnp.concatenate([y, -y], axis=0)
        loss, g = jax.value_and_grad(loss_fn)(p, x, y, n_eff)
        upd, s = opt.update(g, s, p)
        return (optax.apply_updates(p, upd), s), loss

    (params, _), losses = jax.lax.scan(step, (params, state), jnp.arange(steps))
    usable = (steps // n_log) * n_log
    return params, losses[steps - usable:].reshape(n_log, -1).mean(axis=1)


def prefix_ridge_predictions(x, y, lam):
    """Ridge / Bayes posterior-mean predictions of y_i from the first i - 1 examples: x_i^T (X^T X + lam I)^-1 X^T y
    with X the first i - 1 rows (i = 1 gives 0). With lam = sigma^2/psi^2 this is E[y_i | prefix] under
    w ~ N(0, psi^2 I). x (B, n, d), y (B, n) -> (B, n)."""
    d = x.shape[-1]
    outer = jnp.einsum("bni,bnj->bnij", x, x)
    gram = jnp.cumsum(outer, axis=1) - outer  # sum over j < i
    xy = x * y[..., None]
    mom = jnp.cumsum(xy, axis=1) - xy
    a = gram + lam * jnp.eye(d, dtype=x.dtype)[None, None]
    w = jnp.linalg.solve(a, mom[..., None])[..., 0]
    return jnp.einsum("bnd,bnd->bn", x, w)


def prefix_minnorm_predictions(x, y):
    """Minimum-norm least-squares predictions (``lstsq``, Garg's baseline) of y_i from the first i - 1 examples.
    Computed as pinv of the prompt matrix with rows j >= i zeroed (pinv of a row-masked matrix is the min-norm
    solution on the kept rows)."""
    b, n, d = x.shape
    mask = (jnp.arange(n)[None, :] < jnp.arange(n)[:, None]).astype(x.dtype)  # (i, j): j < i
    xm = x[:, None, :, :] * mask[None, :, :, None]  # (B, i, n, d)
    ym = y[:, None, :] * mask[None]
    w = jnp.einsum("bidn,bin->bid", jnp.linalg.pinv(xm), ym)
    return jnp.einsum("bnd,bnd->bn", x, w)


def simulate_transformer_icl(key, *, d: int, n_points: int, n_layer: int, n_head: int, n_embd: int, steps: int,
                             batch: int, n_eval: int, lr, sigma2, psi2=1.0, warmup: int = 0, pos_emb: bool = True,
                             n_tasks: int = 0, n_log: int = 20, dtype=jnp.float64, train_dtype=None,
                             curriculum: Curriculum | None = None, cosine: bool = False, antithetic: bool = False,
                             b2: float = 0.999):
    """One trial: train a transformer from ``key`` and evaluate it on ``n_eval`` fresh prompts (fresh tasks).

    Returns per-position mean squared errors over the evaluation prompts (unnormalised; index k = number of
    in-context examples, k = 0..n_points-1) of the transformer (``err_tf``), of the Bayes/ridge estimator with
    lam = sigma2/psi2 (``err_ridge``) and of min-norm least squares (``err_ols``) on the same prompts, and the
    training-loss curve (``train_loss``, n_log windows). ``n_tasks`` > 0 trains on a finite pool of that many tasks.
    ``train_dtype`` (default ``dtype``): precision of training (parameters, Adam state, prompts); the trained
    parameters are then cast to ``dtype``, in which the evaluation prompts, the baselines and all outputs are
    computed. ``curriculum``, ``cosine``, ``antithetic``, ``b2``: see :func:`train`.
    """
    cfg = GPTConfig(d=d, n_points=n_points, n_layer=n_layer, n_head=n_head, n_embd=n_embd, pos_emb=pos_emb)
    tdt = dtype if train_dtype is None else train_dtype
    k_train, k_eval, k_pool = jax.random.split(key, 3)
    pool = None
    if n_tasks > 0:
        pool = jnp.sqrt(jnp.asarray(psi2, tdt)) * jax.random.normal(k_pool, (n_tasks, d), tdt)
    params, losses = train(k_train, cfg, steps=steps, batch=batch, lr=jnp.asarray(lr, tdt),
                           sigma2=jnp.asarray(sigma2, tdt), psi2=jnp.asarray(psi2, tdt), pool=pool, warmup=warmup,
                           n_log=n_log, dtype=tdt, curriculum=curriculum, cosine=cosine,
                           antithetic=antithetic, b2=b2)
    params = jax.tree.map(lambda a: a.astype(dtype), params)
    x, y, _ = sample_prompts(k_eval, n_eval, cfg, sigma2, psi2, None, dtype)
    lam = jnp.asarray(sigma2, dtype) / jnp.asarray(psi2, dtype)
    out = {
        "err_tf": jnp.mean((predict(params, cfg, x, y, dtype) - y) ** 2, axis=0),
        "err_ridge": jnp.mean((prefix_ridge_predictions(x, y, lam) - y) ** 2, axis=0),
        "err_ols": jnp.mean((prefix_minnorm_predictions(x, y) - y) ** 2, axis=0),
        "train_loss": losses.astype(dtype),
    }
    return out
