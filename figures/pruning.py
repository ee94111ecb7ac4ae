"""Figure for `rmt.pruning-high-compression`: signed accuracy and pruned-ERM coefficient against the keep ratio.

(a) Signed test accuracy of the ridge refit after pruning to keep ratio r, per method: the population limit
Phi(mu sign c(r)) as lines (a step at r*(mu) for keep-hardest EL2N), simulated means ±95% as points, the Bayes
accuracy Phi(mu) and the flipped value Phi(-mu) dashed, the high-compression regime r <= 0.3 shaded.
(b) The fitted coefficient along mu against the minimiser c(r) under the pruned limit measure nu_r (lines).
Run ``python -m figures.pruning`` (computes the quick record if none is stored).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P
from theory_lab.rmt import pruning as pr

STYLE = {  # method: (label, colour, marker, x-offset factor so overlapping error bars stay readable)
    "random": ("random", P.PALETTE[0], "o", 0.97),
    "label_aware": ("EL2N keep-hardest (label-aware)", P.PALETTE[1], "v", 1.0),
    "label_agnostic": ("margin keep-closest (label-agnostic)", P.PALETTE[2], "s", 1.03),
    "mix": ("hardest + random fill, unweighted", P.PALETTE[4], "D", 0.985),
    "calibrated": ("hardest + random fill, HT-weighted", P.PALETTE[3], "^", 1.015),
}


def plot(record: Mapping[str, Any]):
    prm, disp = record["params"], record["display"]
    mu, alpha, lam = prm["mu"], prm["alpha"], prm["lam"]
    fig, axes = P.new_figure(ncols=2, width=4.2, height=3.1)
    ax_acc, ax_c = axes[0]
    methods = disp["methods"]
    pts = disp["points"]
    keep = np.asarray([q["keep"] for q in pts])
    grid = np.geomspace(min(0.01, keep.min() * 0.8), 1.0, 400)
    for ax in (ax_acc, ax_c):
        ax.axvspan(grid[0], 0.3, color="0.93", zorder=0)
        ax.axvline(disp["r_star"], color="0.5", lw=0.7, ls=":")
    for name, (label, color, marker, shift) in STYLE.items():
        j = methods.index(name)
        limit = np.array([pr.limit_accuracy(name, r, mu, alpha) for r in grid])
        coef = np.array([pr.pruned_minimiser(name, r, mu, alpha, lam) for r in grid])
        ax_acc.plot(grid, limit, color=color, lw=1.2, alpha=0.75, zorder=2,
                    ls="-" if name in ("label_aware", "mix") else (0, (4, 2)))
        P.theory_line(ax_c, grid, coef, color, label=None)
        acc = np.asarray([q["acc"][j] for q in pts])
        acc_se = np.asarray([q["acc_se"][j] for q in pts])
        c_m = np.asarray([q["coef"][j] for q in pts])
        c_se = np.asarray([q["coef_se"][j] for q in pts])
        P.sim_points(ax_acc, keep * shift, acc, acc_se, color, label=label, marker=marker)
        P.sim_points(ax_c, keep * shift, c_m, c_se, color, label=None, marker=marker)
    bayes = disp["bayes"]
    ax_acc.axhline(bayes, color="k", lw=0.8, ls="--", zorder=1)
    ax_acc.axhline(1 - bayes, color="k", lw=0.8, ls="--", zorder=1)
    ax_acc.axhline(0.5, color="0.6", lw=0.6, zorder=1)
    ax_acc.text(1.0, bayes + 0.015, rf"Bayes $\Phi(\mu)$={bayes:.3f}", ha="right", va="bottom", fontsize=7)
    ax_acc.text(1.0, 1 - bayes + 0.015, r"flipped $\Phi(-\mu)$", ha="right", va="bottom", fontsize=7)
    ax_acc.text(disp["r_star"] * 1.03, 0.52, rf"$r^*$={disp['r_star']:.3f}", fontsize=7, color="0.35")
    ax_acc.set(xscale="log", xlabel="keep ratio r", ylabel="signed test accuracy", ylim=(0.0, 1.0),
               title=(r"(a) accuracy of the refit: lines = limit $\Phi(\mu\,\mathrm{sign}\,c(r))$"))
    ax_c.axhline(0.0, color="0.6", lw=0.6)
    ax_c.set(xscale="log", xlabel="keep ratio r", ylabel=r"fitted coefficient $w\cdot\mu/\|\mu\|$",
             title=r"(b) lines = minimiser under $\nu_r$: $c(r)=E_\nu s\,/\,(E_\nu s^2+\lambda)$")
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=3, frameon=False, fontsize=7,
               title=(rf"ridge refit ($\lambda$={lam:g}) after pruning n={prm['n']} points of "
                      rf"$y\mu+N(0,I_{{{prm['d']}}})$, $\|\mu\|$={mu:g}; random fill share alpha={alpha:g};"
                      f"\nscores from a {prm['reference']} reference; points = simulation, shaded = keep <= 30%"),
               title_fontsize=7.5)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("rmt.pruning-high-compression")
