"""Figure for `rmt.synthetic-label-noise-transition`: the synthetic-only label-noise phase transition.

Left: signed test accuracy against label noise eps for several p/m (closed form, lines; Richardson-extrapolated
simulation, points ± 95%), the crossing eps* = phi/(phi+rho) (vertical line) and Feng et al.'s sharp p/m -> 0 limit
Phi(±||mu||) (black step). Right: the transition width against p/m on log-log axes, simulated and predicted, with the
fitted exponent. Run ``python -m figures.synthetic_transition``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy.stats import norm

from theory_lab import plotting as P
from theory_lab.rmt import synthetic_mix as sm


def plot(record: Mapping[str, Any]):
    prm = record["params"]
    disp = record["display"]
    variant = prm.get("theory", "corrected")
    es = disp["eps_star"]
    fig, axes = P.new_figure(ncols=2, width=4.0, height=3.0)
    ax, ax_w = axes[0]
    eps = np.unique(np.concatenate([np.linspace(0.0, 1.0, 401), es + np.linspace(-0.02, 0.02, 81)]))
    for k, r in enumerate(prm["pm"]):
        color = P.PALETTE[k % len(P.PALETTE)]
        m = max(1, round(prm["p"] / r))
        acc = [sm.synthetic_only_moments(m, prm["p"], prm["mu"], e, prm["rho"], prm["phi"], prm["gam"], variant)["acc"]
               for e in eps]
        P.theory_line(ax, eps, np.asarray(acc), color, label=f"p/m = {r:g}")
        rs = P.rows(record, "moments and accuracy", stat="acc", **{"p/m": float(r)})
        if rs:
            P.sim_points(ax, P.column(rs, "eps"), P.column(rs, "mean"), P.column(rs, "se"), color, label=None)
    step = [sm.feng_limit(e, prm["mu"], prm["rho"], prm["phi"]) for e in eps]
    ax.plot(eps, step, color="black", lw=1.0, ls="--", label="p/m $\\to$ 0 (Feng et al.)", zorder=1)
    ax.axvline(es, color="0.5", lw=0.8, ls=":")
    ax.axhline(0.5, color="0.85", lw=0.6)
    ax.text(es, 0.02, f" $\\varepsilon^*=\\phi/(\\phi+\\rho)$={es:.3f}", fontsize=7, color="0.3",
            transform=ax.get_xaxis_transform())
    ax.set(xlabel=r"label noise $\varepsilon$", ylabel="signed test accuracy", ylim=(0.0, 1.0),
           title=f"Synthetic data only: $\\|\\mu\\|$={prm['mu']:g}, $\\rho$={prm['rho']:g}, "
                 f"$\\phi$={prm['phi']:g}, $\\gamma$={prm['gam']:g}\n"
                 f"points: Richardson sim. p={prm['p']}&{2 * prm['p']} (±95%)")
    ax.legend(frameon=False, loc="lower left")

    width = P.rows(record, "width")
    ratio = P.column(width, "p/m")
    P.sim_points(ax_w, ratio, P.column(width, "mean"), P.column(width, "se"), P.PALETTE[0], label="simulation")
    ax_w.plot(ratio, P.column(width, "theory"), "s", color=P.PALETTE[1], ms=4, mfc="none", label="closed form")
    dense = np.geomspace(min(ratio), max(ratio), 60)
    spread = norm.cdf(prm["mu"]) - norm.cdf(-prm["mu"])
    curve = []
    for r in dense:
        h = min(0.1, max(0.005, prm["near"] * np.sqrt(r)))
        m = max(1, round(prm["p"] / r))
        lo, hi = (sm.synthetic_only_moments(m, prm["p"], prm["mu"], e, prm["rho"], prm["phi"], prm["gam"],
                                            variant)["acc"] for e in (es - h, es + h))
        curve.append(spread * 2 * h / (lo - hi))
    ax_w.plot(dense, curve, color=P.PALETTE[1], lw=1.0, zorder=1)
    sharp = P.rows(record, "sharpening")[0]
    ax_w.set(xscale="log", yscale="log", xlabel="p/m", ylabel="transition width (eps units)",
             title=f"width = $[\\Phi(\\|\\mu\\|)-\\Phi(-\\|\\mu\\|)]$ / |slope at $\\varepsilon^*$|\n"
                   f"fitted exponent {sharp['mean']:.3f} ± {sharp['se']:.3f} (closed form "
                   f"{sharp['theory exponent']:.3f})")
    ax_w.legend(frameon=False, loc="upper left")
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("rmt.synthetic-label-noise-transition")
