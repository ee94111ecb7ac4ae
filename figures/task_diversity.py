"""Figure for `icl.task-diversity`: the memorisation-to-ICL transition of the linear-attention model and the
convergence of the simulation to Lu et al.'s asymptotic formulas as d grows.

Left: test error against task diversity kappa = K/d (log axis): e_ICL on new tasks and e_IDG on the pretraining tasks.
Lines: Lu et al.'s asymptotic formulas; small open markers: simulated means at d and 2d (same l/d, K/d, n/d^2);
filled markers (±95%): the Richardson extrapolation 2 mean(2d) - mean(d) that the check compares, with the declared
O(1/d^2) allowance as a band; dashed: the kappa -> infinity values (the negative control); dotted: the zero predictor.
Right: relative deviation from the theory against 1/d_sim, per kappa: the straight line through the two sizes is
carried to 1/d = 0 (the extrapolated value). Run ``python -m figures.task_diversity``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P


def _raw(disp, stat, d):
    rs = [r for r in disp["raw"] if r["stat"] == stat and r["d"] == d]
    return (np.array([r["kappa"] for r in rs]), np.array([r["mean"] for r in rs]), np.array([r["se"] for r in rs]),
            np.array([r["theory"] for r in rs]))


def plot(record: Mapping[str, Any]):
    disp, prm = record["display"], record["params"]
    cur = disp["curve"]
    ks = np.asarray(cur["kappa"])
    d = prm["d"]
    fs = disp["c2"] / d**2
    fig, axes = P.new_figure(ncols=2, width=3.6, height=3.0)
    ax = axes[0][0]
    names = (("e_icl", "$e_{ICL}$ (new tasks)"), ("e_idg", "$e_{IDG}$ (pretraining tasks)"))
    for j, (stat, name) in enumerate(names):
        color = P.PALETTE[j]
        y = np.asarray(cur[stat])
        ax.fill_between(ks, y * (1 - fs), y * (1 + fs), color=color, alpha=0.12, lw=0,
                        label=f"allowance {disp['c2']:g}/d$^2$" if j == 0 else None)
        P.theory_line(ax, ks, y, color, label=f"{name}, theory")
        ax.axhline(cur[stat + "_inf"], color=color, ls="--", lw=0.9, label="$\\kappa\\to\\infty$ (neg. control)"
                   if j == 0 else None)
        for size, mk in ((1, "v"), (2, "^")):
            kk, m, _, _ = _raw(disp, stat, size * d)
            ax.plot(kk, m, mk, ms=3, color=color, mfc="none", mew=0.7, alpha=0.7,
                    label=f"simulation d={size * d}" if j == 0 else None)
        rows = P.rows(record, "errors", stat=stat)
        x, m, s = P.column(rows, "kappa"), P.column(rows, "mean"), P.column(rows, "se")
        ax.errorbar(x, m, yerr=P.CI_Z * s, fmt="o", ms=3.5, color=color, capsize=2, lw=1.0, zorder=4,
                    label=f"extrapolated 2 e({2 * d}) - e({d})" if j == 0 else None)
    ax.axhline(disp["zero_risk"], color="0.6", lw=0.8, ls=":", label="zero predictor $1+\\rho$")
    ax.axvline(1.0, color="0.85", lw=0.8, zorder=0)
    ax.set(xscale="log", xlabel="task diversity $\\kappa = K/d$", ylabel="test error",
           title=f"linear attention, $\\alpha$={prm['alpha']:g}, $\\tau$={prm['tau']:g}, $\\rho$={prm['rho']:g}")
    ax.legend(frameon=False, fontsize=5.5)

    ax = axes[0][1]
    xs = np.array([1.0 / d, 0.5 / d, 0.0])
    for j, (stat, name) in enumerate(names):
        k1, m1, s1, th = _raw(disp, stat, d)
        _, m2, s2, _ = _raw(disp, stat, 2 * d)
        ls = "-" if stat == "e_icl" else ":"
        for i, kappa in enumerate(k1):
            color = P.PALETTE[(2 + i) % len(P.PALETTE)]
            ext = 2 * m2[i] - m1[i]
            ys = np.array([m1[i], m2[i], ext]) / th[i] - 1
            ax.plot(xs[:2], ys[:2], ls, marker="o", ms=2.5, color=color, lw=0.9,
                    label=f"$\\kappa$={kappa:g}" if j == 0 else None)
            ax.plot(xs[1:], ys[1:], ls, color=color, lw=0.6, alpha=0.6)
            se = np.sqrt(4 * s2[i] ** 2 + s1[i] ** 2) / th[i]
            ax.errorbar([0.0 + (0.002 * (i - 2.5) if stat == "e_icl" else 0.002 * (i - 2.5) + 0.001)], [ys[2]],
                        yerr=[P.CI_Z * se], fmt="s" if stat == "e_icl" else "D", ms=2.5, color=color, capsize=1.5,
                        lw=0.8)
    ax.fill_between([-0.01, 1.1 / d], [-fs, -fs], [fs, fs], color="0.5", alpha=0.15, lw=0,
                    label=f"allowance $\\pm${disp['c2']:g}/d$^2$")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.plot([], [], "k-", lw=0.9, label="$e_{ICL}$")
    ax.plot([], [], "k:", lw=0.9, label="$e_{IDG}$")
    ax.errorbar([], [], yerr=[], fmt="s", ms=2.5, color="k", lw=0.8, label="extrapolated ($\\pm$95%)")
    ax.set(xlim=(-0.012, 1.1 / d), xlabel="1 / d  (sizes d=%d, %d; extrapolated at 0)" % (d, 2 * d),
           ylabel="simulation / theory $-$ 1", title="convergence in d (Richardson)")
    ax.legend(frameon=False, fontsize=5.5, ncol=2, loc="upper left")
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("icl.task-diversity")
