"""Figure for `rmt.hmrt-ridgeless`: double descent of the min-norm risk and its ridge-regularised versions.

Risk against gamma = p/n on a log axis: theory lines per lam, simulated means ±95%, the ridgeless window around
gamma = 1 (not compared) shaded. Run ``python -m figures.hmrt_ridgeless``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P
from theory_lab.rmt import ridge


def plot(record: Mapping[str, Any]):
    prm = record["params"]
    fig, axes = P.new_figure(width=4.6, height=3.0)
    ax = axes[0][0]
    g = np.geomspace(0.1, 10, 600)
    g = g[np.abs(g - 1) > 1e-3]
    top = 0.0
    for k, lam in enumerate(prm["lam"]):
        color = P.PALETTE[k % len(P.PALETTE)]
        curve = ridge.ridge_risk(g, lam, prm["r2"], prm["sigma2"])
        curve = np.where(np.isfinite(curve), curve, np.nan)
        name = "min-norm (lam=0)" if lam == 0 else f"ridge lam={lam:g}"
        P.theory_line(ax, g, curve, color, label=name)
        rs = P.rows(record, "risk", lam=float(lam))
        if rs:
            P.sim_points(ax, P.column(rs, "gamma"), P.column(rs, "mean"), P.column(rs, "se"), color, label=None)
            top = max(top, float(np.max(P.column(rs, "mean"))))
    lo, hi = record["display"]["window"]
    ax.axvspan(lo, hi, color="0.92", zorder=0, label="lam=0 not compared")
    ax.axvline(1.0, color="0.6", lw=0.6, ls=":")
    ax.set(xscale="log", xlabel=r"$\gamma = p/n$", ylabel="excess risk", ylim=(0, max(2.0, 1.3 * top)),
           title=f"HMRT: r2={prm['r2']:g}, sigma2={prm['sigma2']:g}, n={prm['n']}")
    ax.legend(frameon=False)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("rmt.hmrt-ridgeless")
