"""Figure for `rmt.random-features`: the random-features double-descent curve (Mei & Montanari).

Left: test risk against N/n (log axis) at fixed n/d, one theory line per ridge lam and the simulated means ±95%;
the interpolation threshold N = n is marked. Right: each point's deviation |sim − theory| in units of its declared
tolerance (z·SE + finite-d term; 1 = the pass/fail line) for the claim and for the negative control.
Run ``python -m figures.random_features``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from matplotlib.ticker import NullFormatter

from theory_lab import plotting as P
from theory_lab.rmt import random_features as rf


def plot(record: Mapping[str, Any]):
    prm = record["params"]
    d, psi2 = prm["d"], prm["psi2"]
    n = record["display"]["n"]
    fig, axes = P.new_figure(ncols=2, width=3.6, height=3.0)
    ax, axr = axes[0]
    ratios = np.asarray(prm["psi1"], dtype=np.float64) / psi2
    r = np.geomspace(min(ratios.min(), 1.0) / 1.3, max(ratios.max(), 1.0) * 1.3, 400)
    top, ratios_all = 0.0, []
    for k, lam in enumerate(prm["lam"]):
        color = P.PALETTE[k % len(P.PALETTE)]
        # theory in the limit at the simulated n/d; the points sit at their realised N/n
        curve = rf.rf_risk(r * (n / d), n / d, lam, prm["f1"], prm["tau"], prm["f_star"])
        P.theory_line(ax, r, curve, color, label=f"lam={lam:g}")
        rs = P.rows(record, "risk", lam=float(lam))
        x, mean, se = P.column(rs, "N_over_n"), P.column(rs, "mean"), P.column(rs, "se")
        P.sim_points(ax, x, mean, se, color, label=None)
        top = max(top, float(np.max(mean + P.CI_Z * se)), float(np.max(curve)))
        for control, marker in ((False, "o"), (True, "x")):
            rr = P.rows(record, "risk", control=control, lam=float(lam))
            ratio = [abs(o["mean"] - o["theory"]) / o["tolerance"] if o.get("tolerance") else np.nan for o in rr]
            ratios_all += [v for v in ratio if np.isfinite(v) and v > 0]
            axr.plot(P.column(rr, "N_over_n"), ratio, marker, color=color, ms=4, mfc="white" if not control else color,
                     mew=1.1, ls="none")
    ticks = [t for t in (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0) if r[0] <= t <= r[-1]]
    for a in (ax, axr):
        a.set_xscale("log")
        a.set_xticks(ticks, [f"{t:g}" for t in ticks])
        a.xaxis.set_minor_formatter(NullFormatter())
        a.axvline(1.0, color="0.6", lw=0.6, ls=":")
    ax.text(1.03, 0.02, "N = n", transform=ax.get_xaxis_transform(), fontsize=7, color="0.4")
    ax.plot([], [], "o", color="0.3", mfc="white", ms=3.5, label="simulation ±95%")
    extra = f", F*={prm['f_star']:g}" if prm["f_star"] else ""
    ax.set(xlabel="N / n  (features / samples)", ylabel=r"test risk $E_x(f - \hat f)^2$", ylim=(0, 1.15 * top),
           title=f"ReLU random features: d={d}, n={n} (n/d={n / d:g})\nF1={prm['f1']:g}, tau={prm['tau']:g}{extra}; "
                 "lines: Mei-Montanari limit")
    ax.legend(frameon=False, fontsize=7, title="ridge", title_fontsize=7)
    axr.axhline(1.0, color="k", lw=0.8, label="a point fails above this line")
    axr.plot([], [], "o", color="0.3", mfc="white", ms=4, label="claim (Mei-Montanari)")
    axr.plot([], [], "x", color="0.3", ms=4, label="negative control (lam_bar = lam)")
    lo, hi = (min(ratios_all), max(ratios_all)) if ratios_all else (0.1, 10.0)
    axr.set(yscale="log", ylim=(min(lo, 1.0) / 2, max(hi, 1.0) * 40), xlabel="N / n",
            ylabel="|sim - theory| / tolerance",
            title="deviation / declared tolerance\n(z*SE + finite-d term; colours as left)")
    axr.legend(frameon=False, fontsize=7, loc="upper left")
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("rmt.random-features")
