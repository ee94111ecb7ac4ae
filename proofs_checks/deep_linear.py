"""`kernels.deep-linear-dynamics`: mode strengths of a deep linear network follow Saxe et al.'s sigmoid.

Theory: :mod:`theory_lab.kernels.deep_linear` (closed-form u(t) and learning time). Simulator:
:func:`~theory_lab.kernels.deep_linear.simulate_deep_linear` (full-batch GD of W2 W1 in ``lax.scan``, Haar-random
bases per seed, vmapped over seeds). Figure: ``figures/deep_linear.py``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.kernels import deep_linear as dl
from theory_lab.rules import Agree, Row, mean_and_se
from theory_lab.sweep import Grid, SweepResult

#: Negative control: tau du/dt = u (s - u) (the factor 2 of the balanced two-layer product dropped).
CONTROL_RATE = 1.0
N_TIMES = 8


def steps_for(p: Mapping[str, Any]) -> int:
    return int(round(p["t_max"] / p["lr"]))


def compared_steps(steps: int) -> list[int]:
    """About eight evenly spaced GD steps (t = lr * step) at which u(t) is compared, ending at the last step."""
    return sorted({max(1, round(steps * j / N_TIMES)) for j in range(1, N_TIMES + 1)})


def u_allowance(s: float, u0: float, lr: float, eps: float) -> float:
    """Declared finite-step term for u(t): lr s^2 ln(s/u0) / 4 + 1e3 eps s.

    GD at step lr is the Euler scheme of the flow; to first order in lr it lowers the early growth rate 2s by the
    factor (1 - lr s/2) (modified equation), i.e. a time lag lr ln(s/u0)/4 at the transition, where |du/dt| <= s^2/2:
    |Delta u| <~ lr s^2 ln(s/u0)/8. The allowance is twice that, plus a rounding term (eps = machine epsilon).
    """
    return lr * s * s * math.log(s / u0) / 4.0 + 1e3 * eps * s


def t_allowance(s: float, u0: float, frac: float, lr: float) -> float:
    """Declared term for the learning time: twice the first-order lag lr ln[u_f(s-u0)/(u0(s-u_f))]/4, plus one step
    lr for reading a crossing off a grid of steps."""
    uf = frac * s
    return lr * math.log(uf * (s - u0) / (u0 * (s - uf))) / 2.0 + lr


def crossing_times(u: np.ndarray, level: float, lr: float) -> np.ndarray:
    """Per seed, the first time u(t) (rows: seeds, columns: steps 0..) reaches ``level`` (linear interpolation); NaN
    if never."""
    u = np.asarray(u, dtype=np.float64)
    above = u >= level
    hit = above.any(axis=1)
    j = above.argmax(axis=1)  # first step at or above the level (0 if none)
    rows = np.arange(u.shape[0])
    y0, y1 = u[rows, np.maximum(j - 1, 0)], u[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(j > 0, (level - y0) / (y1 - y0), 0.0)
    return np.where(hit, lr * (np.maximum(j - 1, 0) + np.where(j > 0, frac, 0.0)), np.nan)


class DeepLinearDynamics(Check):
    id = "kernels.deep-linear-dynamics"
    source = Source(
        paper="Saxe, McClelland & Ganguli, Exact solutions to the nonlinear dynamics of learning in deep linear neural "
              "networks (ICLR 2014)",
        where="section 2: decoupled mode dynamics tau du/dt = 2u(s-u), sigmoid solution and learning time "
              "t = (tau/2s) ln[u_f(s-u0)/(u0(s-u_f))]; notes section 7.1",
        arxiv="1312.6120",
    )
    statement = ("Gradient descent on a two-layer linear network with whitened inputs, started from a decoupled "
                 "balanced initialisation, learns each input-output mode alpha along u(t) = s e^{2st}/(e^{2st} - 1 + "
                 "s/u0) (tau = 1/lr), reaching u_f in time (1/2s) ln[u_f(s-u0)/(u0(s-u_f))].")
    params = (
        Param("s", "floats", (3.0, 2.0, 1.0, 0.5), "singular values s_alpha of Sigma^31 (one per mode)", low=0.0,
              high=100.0, open_low=True),
        Param("u0", "float", 1e-3, "initial mode strength u0 = a0^2", low=0.0, high=100.0, open_low=True),
        Param("lr", "float", 0.002, "GD learning rate lambda (tau = 1/lambda; t = lambda * steps)", low=0.0, high=0.05,
              open_low=True),
        Param("t_max", "float", 10.0, "training time simulated (units of tau)", low=0.0, high=1000.0, open_low=True),
        Param("frac", "float", 0.9, "learning time is measured to u_f = frac * s", low=0.0, high=1.0, open_low=True,
              open_high=True),
        Param("n_in", "int", 6, "input dimension", low=1, high=512),
        Param("n_hidden", "int", 6, "hidden width", low=1, high=512),
        Param("n_out", "int", 6, "output dimension", low=1, high=512),
    )
    profiles = {
        # Seeds: the dynamics are deterministic given the bases, so a few seeds suffice to show basis independence.
        "quick": Profile(seeds=16, description="6x6x6 net, 4 modes, 5000 GD steps; a few s on a 2-core CPU"),
        "full": Profile(seeds=256, params={"lr": 0.0005, "n_in": 64, "n_hidden": 64, "n_out": 64,
                                           "s": (4.0, 3.0, 2.0, 1.5, 1.0, 0.75, 0.5, 0.25)},
                        description="64-wide net, 8 modes, 20000 GD steps"),
    }
    tolerance = ("Agree at family-wise alpha=0.01 (Holm) for (1) u_alpha(t) at 8 times per mode and (2) each mode's "
                 "learning time to u_f = frac*s (first crossing, linear interpolation between steps). Declared "
                 "finite-step terms (GD is the Euler scheme of the flow; modified-equation lag, doubled): "
                 "lr s^2 ln(s/u0)/4 + 1e3 eps s for u(t), lr ln[u_f(s-u0)/(u0(s-u_f))]/2 + lr for the time. "
                 "From the decoupled start the trajectory does not depend on the random bases (SEs ~1e-16), so the "
                 "comparison is decided by the declared finite-step term, not by Monte-Carlo error.")
    negative_control = ("the mode ODE without the factor 2, tau du/dt = u(s-u) (sigmoid and learning time with 2s -> s)"
                        ": same rows, same rule")
    figure = "deep_linear"

    def validate(self, p: Mapping[str, Any]) -> None:
        k = len(p["s"])
        if k > min(p["n_in"], p["n_hidden"], p["n_out"]):
            raise BadInput(f"{k} modes need n_in, n_hidden, n_out >= {k}")
        if p["u0"] >= p["frac"] * min(p["s"]):
            raise BadInput(f"u0={p['u0']:g} must lie below frac*s for every mode (smallest frac*s = "
                           f"{p['frac'] * min(p['s']):g})")
        if p["lr"] * max(p["s"]) > 0.05:
            raise BadInput(f"lr*max(s) = {p['lr'] * max(p['s']):g} > 0.05: GD is then not close to the gradient flow "
                           "the theorem describes; lower lr")
        if not 10 <= steps_for(p) <= 200_000:
            raise BadInput(f"t_max/lr = {steps_for(p)} GD steps; allowed 10..200000")
        t_learn = dl.learning_time(np.asarray(p["s"]), p["u0"], p["frac"])
        if t_learn.max() > p["t_max"]:
            raise BadInput(f"t_max={p['t_max']:g} ends before the slowest mode is learned (t={t_learn.max():.3g})")

    def grid(self, p: Mapping[str, Any]) -> Grid:
        pt: dict[str, Any] = {"n_in": p["n_in"], "n_hidden": p["n_hidden"], "n_out": p["n_out"],
                              "steps": steps_for(p), "modes": len(p["s"])}
        pt.update({f"s_{i}": float(v) for i, v in enumerate(p["s"])})
        pt.update(u0=float(p["u0"]), lr=float(p["lr"]))
        return Grid.from_points([pt], static=("n_in", "n_hidden", "n_out", "steps", "modes"))

    def simulate(self, key, static, dynamic):
        import jax.numpy as jnp

        svals = jnp.stack([dynamic[f"s_{i}"] for i in range(static["modes"])])
        return dl.simulate_deep_linear(key, n_in=static["n_in"], n_hidden=static["n_hidden"], n_out=static["n_out"],
                                       steps=static["steps"], svals=svals, u0=dynamic["u0"], lr=dynamic["lr"],
                                       dtype=sim_dtype())

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        rate = CONTROL_RATE if control else 2.0
        lr, u0, frac = p["lr"], p["u0"], p["frac"]
        eps = float(np.finfo(np.dtype(sim_dtype())).eps)
        steps = compared_steps(steps_for(p))
        u = sweep.data["u"][0]  # (seeds, steps + 1, modes)
        rows, allow = [], {}
        t_rows, t_allow = [], {}
        for a, s in enumerate(p["s"]):
            theory = dl.mode_strength(np.asarray(steps) * lr, s, u0, rate=rate)
            mean, se, bad = mean_and_se(u[:, steps, a], axis=0)
            for j, st in enumerate(steps):
                label = {"mode": a, "s": float(s), "stat": "u", "t": round(st * lr, 6)}
                allow[(a, "u")] = u_allowance(s, u0, lr, eps)
                rows.append(Row(label, float(theory[j]), float(mean[j]), float(se[j]), int(bad[j]),
                                dof=float(u.shape[0] - 1 - bad[j])))  # few seeds: Student-t (Row.dof)
            times = crossing_times(u[:, :, a], frac * s, lr)
            m, se_t, bad_t = mean_and_se(times, axis=0)
            t_allow[a] = t_allowance(s, u0, frac, lr)
            t_rows.append(Row({"mode": a, "s": float(s), "stat": f"time_to_{frac:g}s"},
                              float(dl.learning_time(s, u0, frac, rate=rate)), float(m), float(se_t), int(bad_t),
                              dof=float(times.shape[0] - 1 - bad_t)))
        return [
            Evidence("mode strengths", Agree(alpha=0.01, correction="holm",
                                             finite_size=lambda r: allow[(r.label["mode"], "u")],
                                             finite_size_doc="lr s^2 ln(s/u0)/4 + 1e3 eps s (Euler lag, doubled)"),
                     rows),
            Evidence("learning times", Agree(alpha=0.01, correction="holm",
                                             finite_size=lambda r: t_allow[r.label["mode"]],
                                             finite_size_doc="lr ln[u_f(s-u0)/(u0(s-u_f))]/2 + lr"), t_rows),
        ]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        """Seed-mean trajectories u_alpha(t) on a thinned time grid and the largest off-diagonal coupling."""
        u = sweep.data["u"][0]
        n = u.shape[1]
        idx = np.unique(np.linspace(0, n - 1, min(n, 200)).astype(int))
        return {"t": (idx * p["lr"]).tolist(), "u_mean": u[:, idx, :].mean(axis=0).tolist(),
                "max_offdiag": float(np.nanmax(np.abs(sweep.data["offdiag"][0])))}


CHECK = register(DeepLinearDynamics())
