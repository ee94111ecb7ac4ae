"""Figure for `lora.plus-ratio`: steps to fit and converged feature versus width for equal learning rates and LoRA+,
and the SGD drift of the gradient-flow invariant versus step size.

Panel 1: mean steps to fit (points, ±95%) vs n on log-log axes, gradient-flow theory for equal LRs (line), LoRA+
(flat). Panel 2: mean |a^T x| vs n, gradient-flow theory and the n^(1/4) asymptote; LoRA+ stays flat. Panel 3: mean
|Q_end - Q_0| vs the step factor eps with the first-order (slope 1) law and the rejected second-order one.
Fitted exponents with their standard errors are printed in the titles/legends. Run ``python -m figures.lora_plus``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P


def _log_axes(ax, xs):
    ax.set(xscale="log", yscale="log")
    ax.set_xticks(xs, [f"{int(x)}" if x >= 1 else f"{x:g}" for x in xs])
    ax.minorticks_off()


def plot(record: Mapping[str, Any]):
    d = record["display"]
    eq, pl, order = d["equal"], d["plus"], d["order"]
    p = record["params"]
    n = np.asarray(eq["n"])
    fig, axes = P.new_figure(ncols=3, width=3.3, height=2.8)
    c_eq, c_pl = P.PALETTE[1], P.PALETTE[0]

    ax = axes[0][0]
    P.theory_line(ax, n, eq["theory_steps"], c_eq, label="gradient flow (equal LR)")
    P.sim_points(ax, n, eq["steps"], eq["steps_se"], c_eq,
                 label=f"equal LR {p['lr_equal']:g}/n: slope {eq['steps_slope'][0]:.3f}±{eq['steps_slope'][1]:.3f}")
    P.sim_points(ax, n, pl["steps"], pl["steps_se"], c_pl, marker="s",
                 label=f"LoRA+ ({p['lr_a']:g}/n, {p['lr_b']:g}): slope {pl['steps_slope'][0]:.3f}"
                       f"±{pl['steps_slope'][1]:.3f}")
    ax.axhline(np.mean(pl["steps"]), color=c_pl, lw=0.8, ls=":")
    _log_axes(ax, n)
    ax.set(xlabel="width n", ylabel="SGD steps until loss < tol",
           title=f"steps to fit (theory slope {eq['theory_steps_slope']:.3f} ~ n$^{{1/2}}$log n)")
    ax.legend(frameon=False, fontsize=6.5, loc="upper left")

    ax = axes[0][1]
    P.theory_line(ax, n, eq["theory_feature"], c_eq, label="gradient flow (equal LR)")
    ax.plot(n, n**0.25, color="0.5", ls="--", lw=1, label="n$^{1/4}$")
    P.sim_points(ax, n, eq["feature"], eq["feature_se"], c_eq,
                 label=f"equal LR: slope {eq['feature_slope'][0]:.4f}±{eq['feature_slope'][1]:.4f}")
    P.sim_points(ax, n, pl["feature"], pl["feature_se"], c_pl, marker="s",
                 label=f"LoRA+: slope {pl['feature_slope'][0]:.3f}±{pl['feature_slope'][1]:.3f}")
    P.sim_points(ax, n, pl["b"], pl["b_se"], P.PALETTE[2], marker="^",
                 label=f"LoRA+ |b|: slope {pl['b_slope'][0]:.3f}±{pl['b_slope'][1]:.3f}")
    _log_axes(ax, n)
    ax.set(xlabel="width n", ylabel="converged |a$^T$x| (or |b|)",
           title=f"feature scale (theory slope {eq['theory_feature_slope']:.4f})")
    ax.legend(frameon=False, fontsize=6.5, loc="upper left")

    ax = axes[0][2]
    eps = np.asarray(order["eps"])
    dq = np.asarray(order["dq"])
    k = int(np.argmax(eps))
    ax.plot(eps, dq[k] * eps / eps[k], color=P.PALETTE[3], lw=1.4, label="first order: $\\propto$ eps")
    ax.plot(eps, dq[k] * (eps / eps[k]) ** 2, color="0.5", ls="--", lw=1, label="second order (control)")
    P.sim_points(ax, eps, dq, order["dq_se"], P.PALETTE[3],
                 label=f"SGD: slope {order['slope'][0]:.3f}±{order['slope'][1]:.3f}")
    _log_axes(ax, eps)
    ax.set(xlabel="step factor eps (LRs x eps)", ylabel="|Q$_{end}$ - Q$_0$|",
           title="invariant drift (LoRA+ arm, smallest n)\nQ = s$^2$ - ($\\eta_A$||x||$^2$/$\\eta_B$) b$^2$")
    ax.legend(frameon=False, fontsize=6.5, loc="upper left")
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("lora.plus-ratio")
