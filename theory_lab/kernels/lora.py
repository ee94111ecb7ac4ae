"""LoRA+ optimizer (separate A/B learning rates) and the LoRA toy models of notes section 4, in pure JAX.

LoRA: ``W = W* + B A`` with B (n_out x r), A (r x n_in); features ``Z_A = A x``, ``Z_B = B Z_A``.

* **LoRA+** (Hayou, Ghosh, Yu, ICML 2024, arXiv:2402.12354): train B with a larger learning rate than A,
  ``eta_B = ratio * eta_A``; the paper's large-width analysis gives ratio = Theta(n). :func:`loraplus` is an optax
  ``GradientTransformation`` usable outside the suite (any pytree; which leaves are "B" is decided by a mask)::

      import jax, jax.numpy as jnp, optax
      from theory_lab.kernels.lora import loraplus
      params = {"lora_A": jnp.ones((4, 64)) * 0.01, "lora_B": jnp.zeros((8, 4))}
      opt = loraplus(learning_rate=1e-3, ratio=16.0, base="adam")   # B trained at 1.6e-2
      state = opt.init(params)
      grads = jax.grad(lambda p: jnp.sum((p["lora_B"] @ p["lora_A"]) ** 2) + jnp.sum(p["lora_A"]))(params)
      updates, state = opt.update(grads, state, params)
      params = optax.apply_updates(params, updates)

  ``learning_rate`` and ``ratio`` may be traced JAX scalars (vmap over them; no recompilation per value).

* **LoRA+ toy** (notes section 4a, [RECON] of LoRA+ section 3): ``f(x) = (W* + b a^T) x`` with a in R^n, b scalar,
  one example (x, y), loss ``1/2 (f - y)^2``, init ``b = 0``, ``a ~ N(0, I/n)``; here x has i.i.d. +-1 entries so that
  ``||x||^2 = n`` exactly and ``s_0 = a_0^T x ~ N(0, 1)`` exactly. Only the residual ``r = y - W* x`` matters.
  :func:`simulate_lora_plus_toy` trains it with :func:`loraplus` (SGD). The theory (gradient flow) is in
  :func:`gf_feature`, :func:`gf_time_to_fit`, :func:`invariant`.

* **Init toy** (notes section 4c, [RECON] of arXiv:2406.08447): ``f(x) = w*.x + B A x``, B in R^{1 x r}, A in R^{r x n},
  teacher ``B* A*`` (A* rows N(0, I/n), B* ~ N(0, 1)), a batch of Gaussian inputs, Adam with one learning rate for
  both factors; Init[A]: B = 0, A ~ N(0, 1/n); Init[B]: A = 0, B ~ N(0, 1). :func:`simulate_lora_init_toy`.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy import integrate

__all__ = [
    "default_b_mask",
    "scale_by_loraplus",
    "loraplus",
    "invariant",
    "gf_feature",
    "gf_time_to_fit",
    "expected_gf_feature",
    "expected_gf_steps",
    "simulate_lora_plus_toy",
    "simulate_lora_plus_toy_fast",
    "simulate_lora_init_toy",
]


# ----------------------------------------------------------------------------------------------------------------
# The optimizer
# ----------------------------------------------------------------------------------------------------------------

_B_NAMES = ("b", "lora_b", "lora_B", "B")


def _key_name(k: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)


def default_b_mask(params: Any) -> Any:
    """True for the leaves that belong to a LoRA "B" factor: any leaf whose key path contains a key named ``b``,
    ``B``, ``lora_B`` or ``lora_b`` (dict keys, flax module names or dataclass fields). Everything else is "A".

    (The reference implementation, nikhil-ghosh-berkeley/loraplus ``create_loraplus_optimizer``, also puts every 1-D
    parameter in the fast group; pass your own mask for that.)
    """
    def is_b(path, _leaf):
        return any(_key_name(k) in _B_NAMES for k in path)

    return jax.tree_util.tree_map_with_path(is_b, params)


class ScaleByLoraPlusState(NamedTuple):
    """No state: the two learning rates are applied as they are given."""


def scale_by_loraplus(learning_rate, ratio, b_mask: Any | Callable[[Any], Any] = default_b_mask
                      ) -> optax.GradientTransformation:
    """Multiply updates by ``-learning_rate`` (A leaves) or ``-learning_rate * ratio`` (B leaves).

    Args:
      learning_rate: eta_A (a float or a traced JAX scalar).
      ratio: lambda = eta_B / eta_A (a float or traced scalar); LoRA+ recommends lambda >> 1 (Theta(n) asymptotically).
      b_mask: a pytree of bools matching the params (True = B factor) or a function params -> such a pytree.
        With no ``params`` passed to ``update``, a callable mask is applied to the updates' structure.
    """

    def init_fn(params):
        del params
        return ScaleByLoraPlusState()

    def update_fn(updates, state, params=None):
        mask = b_mask(params if params is not None else updates) if callable(b_mask) else b_mask
        lr = jnp.asarray(learning_rate)
        lam = jnp.asarray(ratio)
        new = jax.tree.map(lambda u, is_b: (-lr * jnp.where(is_b, lam, 1.0)).astype(u.dtype) * u, updates, mask)
        return new, state

    return optax.GradientTransformation(init_fn, update_fn)


def loraplus(learning_rate, ratio, *, base: str = "sgd", b_mask: Any | Callable[[Any], Any] = default_b_mask,
             b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> optax.GradientTransformation:
    """LoRA+ optimizer: ``base`` ("sgd" or "adam") with learning rate eta_A on A and eta_B = ratio * eta_A on B.

    SGD: ``theta <- theta - eta g``. Adam (bias-corrected, as ``optax.adam``): ``theta <- theta - eta m_hat /
    (sqrt(v_hat) + eps)``, with eta = eta_A or eta_B by group; ``ratio = 1`` reproduces ``optax.sgd`` / ``optax.adam``
    exactly. Source: Hayou, Ghosh, Yu, "LoRA+: Efficient Low Rank Adaptation of Large Models", ICML 2024,
    arXiv:2402.12354 (eta_B = lambda eta_A, lambda = Theta(n) for Theta(1) feature updates at width n).
    """
    scaler = scale_by_loraplus(learning_rate, ratio, b_mask)
    if base == "sgd":
        return scaler
    if base == "adam":
        return optax.chain(optax.scale_by_adam(b1=b1, b2=b2, eps=eps), scaler)
    raise ValueError(f"base must be 'sgd' or 'adam', got {base!r}")


# ----------------------------------------------------------------------------------------------------------------
# LoRA+ toy: theory (gradient flow, float64)
# ----------------------------------------------------------------------------------------------------------------


def invariant(s, b, eta_a, eta_b, x_sq):
    """The quantity conserved by gradient flow of the LoRA+ toy: ``Q = s^2 - (eta_a ||x||^2 / eta_b) b^2``.

    Symbols: s = a^T x (the A-feature), b the B weight, eta_a/eta_b the learning rates, x_sq = ||x||^2.
    Why: ds/dt = -eta_a ||x||^2 b U and db/dt = -eta_b s U (U = f - y), so d(s^2)/dt = d(kappa b^2)/dt with
    kappa = eta_a ||x||^2 / eta_b. Gradient descent (explicit Euler) changes Q by exactly
    ``eta_a ||x||^2 U^2 (eta_a ||x||^2 b^2 - eta_b s^2)`` per step, i.e. O(step^2) per step and O(step) over a fixed
    flow time: conservation to the integrator's (first) order. Source: [derived], notes section 4a.
    """
    return s * s - (eta_a * x_sq / eta_b) * b * b


def gf_feature(s0, kappa, r=1.0):
    """|s_inf| under gradient flow from b_0 = 0: ``s_inf^2 = (s0^2 + sqrt(s0^4 + 4 kappa r^2)) / 2``.

    Symbols: s0 = a_0^T x, kappa = eta_a ||x||^2 / eta_b, r = y - W* x (target residual). From Q = s^2 - kappa b^2
    conserved and b s = r at the fit. (Notes section 4a print the r = 1 case, ``4 kappa``.) Equal learning rates give
    kappa = ||x||^2 = n and s_inf ~ (n r^2)^(1/4): feature blow-up; LoRA+ with eta_b/eta_a = n keeps kappa = O(1).
    Assumptions: r != 0, kappa > 0. Source: [derived], notes section 4a.
    Reference: s0 = 1, kappa = 128, r = 1 -> 3.43871.
    """
    s0 = np.asarray(s0, dtype=np.float64)
    q = s0 * s0
    return np.sqrt((q + np.sqrt(q * q + 4.0 * kappa * r * r)) / 2.0)


def _time_integral(q, r, u_end):
    """int_0^u_end du / ((r - u) sqrt(q^2 + 4 u^2)), in closed form (0 <= u_end < r, q > 0).

    With c = q/2 and A = sqrt(r^2+c^2):
    int du/((r-u) 2 sqrt(u^2+c^2)) = 1/(2A) [ln((r u + c^2 + A sqrt(u^2+c^2)) / (r - u))].
    """
    c = np.asarray(q, dtype=np.float64) / 2.0
    a = np.sqrt(r * r + c * c)

    def prim(u):
        return np.log((r * u + c * c + a * np.sqrt(u * u + c * c)) / (r - u)) / (2.0 * a)

    return prim(u_end) - prim(0.0)


def gf_time_to_fit(s0, eta_a, eta_b, x_sq, r=1.0, tol=1e-3):
    """Gradient-flow time (in units of optimizer steps) for the loss 1/2 (b s - r)^2 to fall below ``tol``, from b = 0.

    With u = b s (the fitted output change) and Q = s0^2 conserved:  du/dt = (r - u) eta_b sqrt(Q^2 + 4 kappa u^2)
    (kappa = eta_a x_sq / eta_b), so  t* = (1/eta_b) int_0^{u*} du / ((r-u) sqrt(Q^2 + 4 kappa u^2)),
    u* = r - sqrt(2 tol). Rescaling u -> u sqrt(kappa) gives the closed form used here. Equal LRs eta = c/n:
    t* ~ (sqrt(n)/(2 c r)) log(n^(1/2) / s0^2) — steps grow like n^(1/2) log n; LoRA+ (eta_a = c_a/n, eta_b = c_b):
    t* is width-independent. Assumptions: r > 0, tol < r^2/2. Source: [derived], notes section 4a.
    Reference: s0 = 1, eta_a = eta_b = 0.5/128, x_sq = 128, r = 1, tol = 1e-3 -> 77.217 steps
    (notes: median 78 measured).
    """
    if not (r > 0 and 0 < tol < r * r / 2):
        raise ValueError(f"need r > 0 and 0 < tol < r^2/2; got r={r}, tol={tol}")
    s0 = np.asarray(s0, dtype=np.float64)
    kappa = eta_a * x_sq / eta_b
    q = s0 * s0 / np.sqrt(kappa)  # rescaled invariant: sigma^2 - beta^2 with sigma = s kappa^(-1/4)
    u_end = r - np.sqrt(2.0 * tol)
    return _time_integral(q, r, u_end) / (eta_b * np.sqrt(kappa))


def _normal_expectation(fn) -> float:
    """E fn(|Z|), Z ~ N(0,1), by adaptive quadrature on (0, inf) (fn may have an integrable log singularity at 0)."""
    dens = lambda z: 2.0 * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)  # noqa: E731
    val = 0.0
    for lo, hi in ((0.0, 1e-6), (1e-6, 1e-2), (1e-2, 1.0), (1.0, 12.0)):
        v, _ = integrate.quad(lambda z: fn(z) * dens(z), lo, hi, limit=200, epsabs=1e-12, epsrel=1e-10)
        val += v
    return float(val)


def expected_gf_feature(kappa, r=1.0, s0_sd=1.0) -> float:
    """E|s_inf| over s0 ~ N(0, s0_sd^2) (gradient flow, :func:`gf_feature`). Source: [derived]."""
    return _normal_expectation(lambda z: float(gf_feature(s0_sd * z, kappa, r)))


def expected_gf_steps(eta_a, eta_b, x_sq, r=1.0, tol=1e-3, s0_sd=1.0, cap=None) -> float:
    """E[min(t*, cap)] over s0 ~ N(0, s0_sd^2) for :func:`gf_time_to_fit` (cap = the simulated step budget)."""
    def f(z):
        t = float(gf_time_to_fit(s0_sd * z, eta_a, eta_b, x_sq, r, tol)) if z > 0 else np.inf
        return min(t, cap) if cap is not None else t

    return _normal_expectation(f)


# ----------------------------------------------------------------------------------------------------------------
# LoRA+ toy: simulator
# ----------------------------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("n", "steps", "dtype"))
def simulate_lora_plus_toy(key, *, n: int, steps: int, eta_a, eta_b, r=1.0, tol=1e-3, dtype=jnp.float64):
    """One trial of the LoRA+ toy trained by SGD with :func:`loraplus` (eta_A = eta_a, ratio = eta_b / eta_a).

    Model ``f = b a^T x`` fitted to the residual target r (W* x absorbed), x in {+-1}^n, a_0 ~ N(0, I/n), b_0 = 0,
    loss 1/2 (f - r)^2, ``steps`` full-batch steps in a ``lax.scan`` (n and steps static; eta_a, eta_b, r, tol traced).

    Returns per-trial statistics: ``s0`` (= a_0^T x), ``s_final`` = |a^T x|, ``b_final`` = |b|, ``steps_to_fit``
    (first step count k with loss_k < tol; ``steps`` if never), ``q0``/``q_final`` (the invariant of
    :func:`invariant`) and ``dq`` = |q_final - q0|.
    """
    kx, ka = jax.random.split(key)
    x = jax.random.rademacher(kx, (n,), dtype=dtype)
    a0 = jax.random.normal(ka, (n,), dtype=dtype) / jnp.sqrt(jnp.asarray(n, dtype))
    eta_a = jnp.asarray(eta_a, dtype)
    eta_b = jnp.asarray(eta_b, dtype)
    r = jnp.asarray(r, dtype)
    tol = jnp.asarray(tol, dtype)
    x_sq = jnp.asarray(n, dtype)
    params = {"a": a0, "b": jnp.zeros((), dtype)}
    opt = loraplus(eta_a, eta_b / eta_a, base="sgd", b_mask={"a": False, "b": True})

    def loss_fn(p):
        return 0.5 * (p["b"] * jnp.dot(p["a"], x) - r) ** 2

    def step(carry, k):
        p, state, hit = carry
        loss, g = jax.value_and_grad(loss_fn)(p)
        hit = jnp.where((hit < 0) & (loss < tol), k, hit)
        upd, state = opt.update(g, state, p)
        return (optax.apply_updates(p, upd), state, hit), None

    init = (params, opt.init(params), jnp.asarray(-1, jnp.int32))
    (p, _, hit), _ = jax.lax.scan(step, init, jnp.arange(steps, dtype=jnp.int32))
    final_loss = loss_fn(p)
    hit = jnp.where(hit < 0, steps, hit)
    s0 = jnp.dot(a0, x)
    s = jnp.dot(p["a"], x)
    q0 = invariant(s0, jnp.zeros((), dtype), eta_a, eta_b, x_sq)
    q1 = invariant(s, p["b"], eta_a, eta_b, x_sq)
    return {"s0": s0, "s_final": jnp.abs(s), "b_final": jnp.abs(p["b"]), "steps_to_fit": hit.astype(dtype),
            "q0": q0, "q_final": q1, "dq": jnp.abs(q1 - q0), "final_loss": final_loss}


@functools.partial(jax.jit, static_argnames=("n", "steps", "dtype"))
def simulate_lora_plus_toy_fast(key, *, n: int, steps: int, eta_a, eta_b, r=1.0, tol=1e-3, dtype=jnp.float64):
    """The LoRA+ toy simulated at the level of the statistic: same outputs and law as :func:`simulate_lora_plus_toy`.

    SGD moves a only along x (g_a = b U x), so with s = a^T x and ||x||^2 = n the run is exactly the scalar recursion
    ``s <- s - eta_a n b U``, ``b <- b - eta_b s U`` (U = b s - r) from s_0 ~ N(0, 1), b_0 = 0: O(steps) work instead
    of O(n steps). Tested in distribution against the data-level simulator (tests/test_lora.py).
    """
    s0 = jax.random.normal(key, (), dtype=dtype)
    eta_a = jnp.asarray(eta_a, dtype)
    eta_b = jnp.asarray(eta_b, dtype)
    r = jnp.asarray(r, dtype)
    tol = jnp.asarray(tol, dtype)
    x_sq = jnp.asarray(n, dtype)

    def step(carry, k):
        s, b, hit = carry
        u = b * s - r
        hit = jnp.where((hit < 0) & (0.5 * u * u < tol), k, hit)
        return (s - eta_a * x_sq * b * u, b - eta_b * s * u, hit), None

    init = (s0, jnp.zeros((), dtype), jnp.asarray(-1, jnp.int32))
    (s, b, hit), _ = jax.lax.scan(step, init, jnp.arange(steps, dtype=jnp.int32))
    final_loss = 0.5 * (b * s - r) ** 2
    hit = jnp.where(hit < 0, steps, hit)
    q0 = invariant(s0, jnp.zeros((), dtype), eta_a, eta_b, x_sq)
    q1 = invariant(s, b, eta_a, eta_b, x_sq)
    return {"s0": s0, "s_final": jnp.abs(s), "b_final": jnp.abs(b), "steps_to_fit": hit.astype(dtype),
            "q0": q0, "q_final": q1, "dq": jnp.abs(q1 - q0), "final_loss": final_loss}


# ----------------------------------------------------------------------------------------------------------------
# Init[A] / Init[B] toy: simulator
# ----------------------------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("n", "rank", "batch", "steps", "init", "dtype"))
def simulate_lora_init_toy(key, *, n: int, rank: int = 4, batch: int = 16, steps: int = 60, init: str = "A",
                           lr, dtype=jnp.float64):
    """One trial of the Init[A]/Init[B] toy (notes section 4c): Adam, one learning rate ``lr`` (traced) for A and B.

    Student ``f(x) = w*.x + B A x`` (w* frozen, so only ``B A`` learns), teacher ``B* A*`` with A* rows N(0, I/n),
    B* ~ N(0, 1) (1 x rank); ``batch`` inputs x ~ N(0, I_n); loss = mean over the batch of 1/2 (f - y)^2.
    Init[A] (``init="A"``): B = 0, A ~ N(0, 1/n) entries. Init[B] (``init="B"``): A = 0, B ~ N(0, 1).
    ``steps`` full-batch Adam steps (optax, through :func:`loraplus` with ratio 1) inside ``lax.scan``.

    Returns ``loss`` (final training loss), ``log_loss`` (its log, floored at 1e-30), ``za_rms`` (rms over the batch
    and the r coordinates of Z_A = A x after training), ``dza_rms`` (the same for the update-induced part
    (A - A_0) x: the internal feature whose growth with n is the Init[A] instability), ``zb_rms`` (rms of B A x).
    """
    if init not in ("A", "B"):
        raise ValueError(f"init must be 'A' or 'B', got {init!r}")
    kx, kt, kb, ki = jax.random.split(key, 4)
    xs = jax.random.normal(kx, (batch, n), dtype=dtype)
    a_star = jax.random.normal(kt, (rank, n), dtype=dtype) / jnp.sqrt(jnp.asarray(n, dtype))
    b_star = jax.random.normal(kb, (1, rank), dtype=dtype)
    ys = xs @ (b_star @ a_star)[0]
    if init == "A":
        params = {"A": jax.random.normal(ki, (rank, n), dtype=dtype) / jnp.sqrt(jnp.asarray(n, dtype)),
                  "B": jnp.zeros((1, rank), dtype)}
    else:
        params = {"A": jnp.zeros((rank, n), dtype), "B": jax.random.normal(ki, (1, rank), dtype=dtype)}
    opt = loraplus(jnp.asarray(lr, dtype), 1.0, base="adam")

    def loss_fn(p):
        f = (xs @ p["A"].T) @ p["B"][0]
        return 0.5 * jnp.mean((f - ys) ** 2)

    def step(carry, _):
        p, state = carry
        g = jax.grad(loss_fn)(p)
        upd, state = opt.update(g, state, p)
        return (optax.apply_updates(p, upd), state), None

    (p, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    loss = loss_fn(p)
    za = xs @ p["A"].T
    dza = xs @ (p["A"] - params["A"]).T
    zb = za @ p["B"][0]
    return {"loss": loss, "log_loss": jnp.log(jnp.maximum(loss, 1e-30)), "za_rms": jnp.sqrt(jnp.mean(za * za)),
            "dza_rms": jnp.sqrt(jnp.mean(dza * dza)), "zb_rms": jnp.sqrt(jnp.mean(zb * zb))}
