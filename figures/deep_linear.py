"""Figure for `kernels.deep-linear-dynamics`: Saxe et al.'s sigmoidal mode learning curves.

Panel 1: u_alpha(t)/s_alpha against t for every mode: the closed-form sigmoid (lines), the seed-mean GD trajectory
(thin dashed) and the compared points (markers, ±95%), the negative control's sigmoid (rate s instead of 2s, dotted).
Panel 2: learning time to u_f = frac s against 1/s: closed form (line), simulated (points), control (dotted).
Run ``python -m figures.deep_linear``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P
from theory_lab.kernels import deep_linear as dl


def plot(record: Mapping[str, Any]):
    p, disp = record["params"], record["display"]
    fig, axes = P.new_figure(ncols=2, width=3.4, height=2.7)
    ax = axes[0][0]
    t = np.asarray(disp["t"])
    um = np.asarray(disp["u_mean"])
    tt = np.linspace(0, p["t_max"], 400)
    for a, s in enumerate(p["s"]):
        c = P.PALETTE[a % len(P.PALETTE)]
        P.theory_line(ax, tt, dl.mode_strength(tt, s, p["u0"]) / s, c, label=f"s={s:g}" if a == 0 else f"s={s:g}")
        ax.plot(tt, dl.mode_strength(tt, s, p["u0"], rate=1.0) / s, color=c, lw=0.8, ls=":", alpha=0.8)
        ax.plot(t, um[:, a] / s, color=c, lw=0.7, ls="--", alpha=0.7)
        rs = P.rows(record, "mode strengths", mode=a)
        P.sim_points(ax, P.column(rs, "t"), P.column(rs, "mean") / s, P.column(rs, "se") / s, c, label=None)
    ax.plot([], [], color="0.3", ls=":", lw=0.8, label="control: rate s (no factor 2)")
    ax.plot([], [], color="0.3", ls="--", lw=0.7, label="GD, seed mean")
    ax.set(xlabel="t = lr x steps (units of tau)", ylabel="u(t) / s", title="mode strengths: theory (lines) vs GD")
    ax.legend(frameon=False, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax = axes[0][1]
    rs = P.rows(record, "learning times")
    s = P.column(rs, "s")
    ss = np.linspace(min(s) * 0.8, max(s) * 1.2, 200)
    P.theory_line(ax, 1 / ss, dl.learning_time(ss, p["u0"], p["frac"]), "k", label="(1/2s) ln[u_f(s-u0)/(u0(s-u_f))]")
    ax.plot(1 / ss, dl.learning_time(ss, p["u0"], p["frac"], rate=1.0), color="0.4", ls=":", lw=1,
            label="control (1/s) ln[...]")
    P.sim_points(ax, 1 / s, P.column(rs, "mean"), P.column(rs, "se"), P.PALETTE[1], label="GD (mean over seeds)")
    ax.set(xlabel="1 / s", ylabel=f"time to u = {p['frac']:g} s", title=f"learning time (u0 = {p['u0']:g})")
    ax.legend(frameon=False, fontsize=6)
    ax.text(0.98, 0.03, f"max off-diagonal |U^T W2 W1 V| = {disp['max_offdiag']:.1e}", transform=ax.transAxes,
            ha="right", fontsize=6, color="0.3")
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("kernels.deep-linear-dynamics")
