"""Figure for `rmt.marchenko-pastur`: binned ESD against the MP density per aspect ratio, and the distance decay.

Panels 1..k: the seed-averaged histogram at the largest p (points, ±95%) over the MP density (line), the atom at 0
for gamma > 1 given in the legend. Last panel: the debiased distance ||E[ESD] - MP|| against p on log-log axes, with
the declared p^(-1/2) bound's slope and the local-law p^(-1) slope for reference.
Run ``python -m figures.marchenko_pastur``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P
from theory_lab.rmt import marchenko_pastur as mp


def plot(record: Mapping[str, Any]):
    disp = record["display"]
    gammas = list(disp["hist"])
    fig, axes = P.new_figure(ncols=len(gammas) + 1, width=2.6)
    for k, (ax, g) in enumerate(zip(axes[0], gammas)):
        h = disp["hist"][g]
        edges = np.asarray(h["edges"])
        ratio = h["ratio"]
        color = P.PALETTE[k % len(P.PALETTE)]
        # Bin 0 is the atom bin; densities from the continuous bins only.
        mass, se = np.asarray(h["mass"])[1:], np.asarray(h["se"])[1:]
        a, b = mp.mp_edges(ratio)
        x = np.linspace(max(a, 1e-4), b, 400)
        P.theory_line(ax, x, mp.mp_density(x, ratio), color, label="MP density")
        # The outer bins reach beyond the support (to catch edge fluctuations): densities are per unit of the bin's
        # part inside [a, b], and the binned MP law (step) is what the points estimate.
        lo, hi = np.maximum(edges[1:-1], a), np.minimum(edges[2:], b)
        eff = np.maximum(hi - lo, 1e-12)
        binned = mp.mp_bin_masses(edges, ratio)[1:] / eff
        ax.stairs(binned, np.concatenate([lo[:1], hi]), color=color, alpha=0.35, lw=1, label="MP, binned")
        P.sim_points(ax, 0.5 * (lo + hi), mass / eff, se / eff, color, label=f"p={disp['p_max']}")
        atom = np.asarray(h["mass"])[0]
        title = f"$\\gamma$={g}" + (f", atom {atom:.3f} (theory {mp.mp_atom(ratio):.3f})" if ratio > 1 else "")
        ax.set(xlabel="eigenvalue", ylabel="density" if k == 0 else None, title=title)
        if ratio >= 1:
            ax.set_ylim(0, 1.3 * np.nanmax((mass / eff)[1:]) if len(mass) > 1 else None)
        ax.legend(frameon=False)
    ax = axes[0][-1]
    for k, g in enumerate(gammas):
        rows = np.asarray(disp["distance"][g])
        ax.errorbar(rows[:, 0], rows[:, 1], yerr=P.CI_Z * rows[:, 2], fmt="o-", ms=3, capsize=2, lw=1,
                    color=P.PALETTE[k % len(P.PALETTE)], label=f"$\\gamma$={g}")
    sizes = np.asarray(disp["distance"][gammas[0]])[:, 0]
    anchor = np.asarray(disp["distance"][gammas[0]])[0, 1]
    ax.plot(sizes, anchor * (sizes / sizes[0]) ** -0.5, ls="--", color="0.5", lw=1, label="$p^{-1/2}$ (bound)")
    ax.plot(sizes, anchor * (sizes / sizes[0]) ** -1.0, ls=":", color="0.3", lw=1, label="$p^{-1}$ (local law)")
    ax.set(xscale="log", yscale="log", xlabel="p", title="distance of E[ESD] to MP")
    ax.set_xticks(sizes, [f"{int(s)}" for s in sizes])
    ax.minorticks_off()
    ax.legend(frameon=False, fontsize=6.5)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("rmt.marchenko-pastur")
