"""Figure for `scaling.depth-mup-coord`: coordinate checks over depth (TP VI), with fitted and expected exponents.

One panel per (α, γ, optimizer) setting: rms of the change of the last-layer features x^L since init against the
training step, one line per depth L (dark = shallow, yellow = deep), ±95% over seeds; each panel prints the exponent
fitted over depths at the last step and the theory's 1 − α − γ. Last panel: the (α, γ) plane of TP VI with the
stability line α + γ = 1 and α = 1/2, each setting annotated with its fitted exponent.
Run ``python -m figures.depth_mup_coord``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P
from theory_lab.kernels.coord_check import plot_coord_check


def plot(record: Mapping[str, Any]):
    disp = record["display"]
    depths = disp["depths"]
    panels = disp["panels"]
    ncols = 4
    nrows = int(np.ceil((len(panels) + 1) / ncols))
    fig, axes = P.new_figure(ncols=ncols, nrows=nrows, width=2.7, height=2.4)
    flat = list(axes.flat)
    for k, (ax, panel) in enumerate(zip(flat, panels)):
        plot_coord_check(ax, depths, np.asarray(panel["update"]), expected=panel["expected"], xlabel="L",
                         ylabel="rms(x^L_t − x^L_0)" if k % ncols == 0 else None,
                         title=f"{panel['setting']}, η={panel['lr']:g}")
        if k == 0:
            ax.legend(frameon=False, fontsize=6, loc="lower right")
    ax = flat[len(panels)]
    a = np.linspace(0.5, 1.25, 10)
    ax.fill_between(a, 1 - a, 1.6, color="#e8f0fa", zorder=0, label="stable in training (α ≥ ½, α+γ ≥ 1)")
    ax.plot(np.linspace(0.4, 1.25, 10), 1 - np.linspace(0.4, 1.25, 10), color="0.3", lw=1,
            label="α+γ = 1: Θ(1) updates (exponent 0)")
    ax.axvline(0.5, color="0.5", ls="--", lw=0.8, label="α = ½ (stable at init)")
    rows = P.rows(record, "depth exponents")
    for r in rows:
        marker = "s" if r["optimizer"] == "adam" else "o"
        ax.scatter(r["alpha"], r["gamma"], marker=marker, s=22, color=P.PALETTE[0], zorder=3)
        ax.annotate(f"{r['mean']:+.2f}±{P.CI_Z * r['se']:.2f}\n(th {r['theory']:+.1f})", (r["alpha"], r["gamma"]),
                    textcoords="offset points", xytext=(4, 2 if r["optimizer"] == "sgd" else -16), fontsize=5.5)
    ax.scatter([], [], marker="o", s=18, color=P.PALETTE[0], label="SGD (upper label)")
    ax.scatter([], [], marker="s", s=18, color=P.PALETTE[0], label="Adam (lower label)")
    ax.set(xlabel="α (branch ∝ L^-α)", ylabel="γ (update ∝ L^-γ)", xlim=(0.4, 1.3), ylim=(-0.1, 1.55),
           title="fitted exponents in the (α, γ) plane")
    handles, labels = ax.get_legend_handles_labels()
    spare = flat[len(panels) + 1:]
    if spare:  # the legend of the (alpha, gamma) plane goes into the empty panel next to it
        spare[0].legend(handles, labels, frameon=False, fontsize=6.5, loc="center left")
    else:
        ax.legend(handles, labels, frameon=False, fontsize=5, loc="upper right")
    for extra in spare:
        extra.axis("off")
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("scaling.depth-mup-coord")
