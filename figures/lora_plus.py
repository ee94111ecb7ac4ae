"""Figure for `lora.plus-ratio`: steps to fit and converged feature versus width for equal learning rates and LoRA+,
and the SGD drift of the gradient-flow invariant versus step size.

Panel 1: mean steps to fit (points, ±95%) vs n on log-log axes, gradient-flow theory for equal LRs (line), LoRA+
(flat). Panel 2: mean |a^T x| vs n, gradient-flow theory and the n^(1/4) asymptote; LoRA+ stays flat. Panel 3: mean
|Q_end - Q_0| vs the step factor eps with the first-order (slope 1) law and the rejected second-order one.
Panel 4 (display data, not part of the verdict): heat map of the mean steps to fit (capped) over the ratio
lambda = eta_B/eta_A (log2, rows) and the width n (log2, columns) at eta_A = lr_a/n, in the style of the LoRA+ paper's
learning-rate heat maps; white dots mark the optimal ratio per width, the dashed line is lambda* proportional to n
(slope 1, intercept fitted), the dotted line the check's LoRA+ arm; the fitted exponent of lambda* is in the title.
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
    fig, axes = P.new_figure(ncols=2, nrows=2, width=4.2, height=3.2)
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

    ax = axes[1][0]
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
    if "heat" in d:
        _heat_panel(fig, axes[1][1], d["heat"])
    else:
        axes[1][1].set_visible(False)
    P.caption(fig, record)
    return fig


def _heat_panel(fig, ax, h: Mapping[str, Any]) -> None:
    from matplotlib.colors import LogNorm

    x = np.log2(np.asarray(h["n"], dtype=np.float64))
    k = np.asarray(h["log2_ratio"], dtype=np.float64)
    z = np.asarray(h["steps"], dtype=np.float64)
    dx = np.diff(x).min() if len(x) > 1 else 1.0
    xe = np.concatenate([[x[0] - dx / 2], (x[:-1] + x[1:]) / 2, [x[-1] + dx / 2]])
    ke = np.concatenate([k - 0.5, [k[-1] + 0.5]])
    mesh = ax.pcolormesh(xe, ke, z, cmap="viridis", norm=LogNorm(vmin=max(np.nanmin(z), 1.0), vmax=h["cap"]),
                         shading="flat")
    cb = fig.colorbar(mesh, ax=ax, pad=0.02)
    cb.set_label(f"mean SGD steps until loss < tol\n(capped at {h['cap']}: not fitted / diverged)", fontsize=7)
    cb.ax.tick_params(labelsize=7)
    xs = np.linspace(xe[0], xe[-1], 2)
    ax.plot(xs, xs + h["opt_log2_const"], color="#ff4040", ls="--", lw=1.4,
            label="theory $\\lambda^* \\propto n$ (slope 1)")
    ax.plot(xs, xs + h["plus_log2_ratio_minus_log2_n"], color="orange", ls=":", lw=1.2,
            label="LoRA+ arm of the check: $\\lambda = n\\,$lr$_B$/lr$_A$")
    ax.errorbar(x, h["opt_log2_ratio"], yerr=1.96 * np.asarray(h.get("opt_log2_ratio_se", np.zeros(len(x)))),
                fmt="o", color="w", mec="k", ecolor="w", ms=5, capsize=2,
                label="optimal $\\lambda$ per width (±1.96 SE)")
    ax.set_xticks(x, [f"$2^{{{v:.3g}}}$" for v in x])
    kt = k[:: max(1, len(k) // 8)]
    ax.set_yticks(kt, [f"$2^{{{int(v)}}}$" for v in kt])
    ax.set(xlim=(xe[0], xe[-1]), ylim=(ke[0], ke[-1]), xlabel="width n",
           ylabel=f"ratio $\\lambda = \\eta_B/\\eta_A$ ($\\eta_A$ = {h['lr_a']:g}/n)")
    e, se = h["opt_exponent"]
    ax.set_title(f"LoRA+ ratio heat map: fitted $\\lambda^* \\propto n^{{{e:.3f}\\pm{se:.3f}}}$ (theory: 1)\n"
                 "(display only, not part of the verdict)", fontsize=8)
    ax.legend(frameon=True, framealpha=0.85, fontsize=6, loc="lower right")


if __name__ == "__main__":
    from figures import main

    main("lora.plus-ratio")
