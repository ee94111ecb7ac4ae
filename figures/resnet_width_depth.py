"""Figure for `kernels.resnet-width-depth`: RMS error of the neural covariance over (width n, depth L).

Panel 1: heat map of the RMS error of q^{n,L}_L(a,b) against the depth-ODE limit q_1(a,b) at every simulated (n, L),
log-log axes, with the three paths n = L, n = L^2, L = n^2 drawn through it. Colour depends on n only (rows of equal
colour) = convergence uniform in depth. Panel 2: the same error along each path against n with the fitted exponent
and the n^(-1/2) CLT slope. Panel 3: mean q_ab against L per width, with the depth-ODE limit and the exact
infinite-width Euler curve (the O(1/L) depth term). Run ``python -m figures.resnet_width_depth``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from matplotlib.colors import LogNorm

from theory_lab import plotting as P


def plot(record: Mapping[str, Any]):
    disp = record["display"]
    cells = disp["cells"]
    fig, axes = P.new_figure(ncols=3, width=3.1, height=2.8)
    ax = axes[0][0]
    n = np.array([c["n"] for c in cells], float)
    L = np.array([c["L"] for c in cells], float)
    err = np.array([c["rmse"] for c in cells])
    sc = ax.scatter(L, n, c=err, s=150, marker="s", cmap="viridis", norm=LogNorm(err.min(), err.max()),
                    edgecolors="none", zorder=2)
    for x, y, e in zip(L, n, err):
        ax.annotate(f"{e:.2f}", (x, y), ha="center", va="center", fontsize=5, color="w", zorder=3)
    fig.colorbar(sc, ax=ax, label="RMS error of $q_{ab}$")
    lo, hi = min(n.min(), L.min()) / 1.5, max(n.max(), L.max()) * 1.5
    t = np.geomspace(lo, hi, 50)
    for k, (name, y, at) in enumerate([("n=L", t, 0.55), ("n=L$^2$", t**2, 0.22), ("L=n$^2$", np.sqrt(t), 0.8)]):
        ax.plot(t, y, color=P.PALETTE[k + 1], lw=1, ls="--", zorder=1)
        j = int(at * (len(t) - 1))
        ax.annotate(name, (t[j], y[j]), color=P.PALETTE[k + 1], fontsize=7, xytext=(3, -9),
                    textcoords="offset points", zorder=4)
    ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi), xlabel="depth L", ylabel="width n",
           title="RMS error vs depth-ODE limit")

    ax = axes[0][1]
    decay = P.rows(record, "error decay")
    s_vals = sorted(disp["path_s"])
    for k, row in enumerate(decay):
        path = row["path"]
        e = np.array([float(v) for v in row["rmse"].split(",")])
        widths = np.array([{"n=L": s * s, "n=L^2": s * s, "L=n^2": s}[path] for s in s_vals], float)
        by = {(c["n"], c["L"]): c for c in cells}
        lens = [{"n=L": s * s, "n=L^2": s, "L=n^2": s * s}[path] for s in s_vals]
        se = np.array([by[(int(w), int(depth))]["rmse_se"] for w, depth in zip(widths, lens)])
        P.sim_points(ax, widths, e, se, P.PALETTE[k + 1], label=f"{path}: slope {row['mean']:.2f} ± {row['se']:.2f}")
    ref = np.geomspace(n.min(), n.max(), 20)
    anchor = err[np.argmax(n)] * np.sqrt(n.max())
    ax.plot(ref, anchor / np.sqrt(ref), color="0.5", lw=1, ls=":", label="$n^{-1/2}$ (CLT)")
    ax.set(xscale="log", yscale="log", xlabel="width n", ylabel="RMS error",
           title=f"decay along paths (bound: slope $\\leq$ {decay[0]['theory']:g})")
    ax.legend(frameon=False, fontsize=6)

    ax = axes[0][2]
    q1 = disp["q1_ab"]
    widths = [w for w in sorted({c["n"] for c in cells}) if w >= 16] or sorted({c["n"] for c in cells})
    for k, w in enumerate(widths):
        cs = sorted([c for c in cells if c["n"] == w], key=lambda c: c["L"])
        x = np.array([c["L"] for c in cs], float) * (1 + 0.06 * (k - len(widths) / 2))
        P.sim_points(ax, x, q1 + np.array([c["bias"] for c in cs]), np.array([c["bias_se"] for c in cs]),
                     P.PALETTE[k % len(P.PALETTE)], label=f"n={w}")
    Ls = np.array(sorted({c["L"] for c in cells}), float)
    gap = {c["L"]: c["euler_gap"] for c in cells}
    ax.plot(Ls, [q1 + gap[int(depth)] for depth in Ls], color="k", lw=1, ls="--", label="n=$\\infty$, depth L (Euler)")
    ax.axhline(q1, color="k", lw=1.4, label=f"ODE limit $q_1$={q1:.4f}")
    ctrl = P.rows(record, "limit at the largest sizes", control=True, stat="qab")
    if ctrl:
        ax.axhline(ctrl[0]["theory"], color="0.5", lw=1, ls=":",
                   label=f"control (1/$\\pi$ ODE) {ctrl[0]['theory']:.3f}")
    ax.set(xscale="log", xlabel="depth L", ylabel="mean $q_{ab}$", title="mean $q_{ab}$ vs depth")
    ax.legend(frameon=False, fontsize=5.5, ncol=2)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("kernels.resnet-width-depth")
