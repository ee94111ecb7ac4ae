"""Figure for `kernels.beyond-iid-weights`: empirical NNGP of MLPs with iid, orthogonal, low-rank and block-sparse
hidden weights against the iid NNGP.

One panel per compared kernel entry: seed means ±95% against 1/n for each weight kind (offset slightly in x for
legibility) with their fitted c0 + c1/n lines; the iid NNGP (theory) is the black star at 1/n = 0, the negative
control's sigma_w^2 x 1.05 kernel a grey cross. Run ``python -m figures.beyond_iid``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab.rules import extrapolate_inverse
from theory_lab import plotting as P

NAMES = {"iid": "iid Gaussian", "orthogonal": "orthogonal (Haar)", "lowrank": "low rank", "sparse": "block sparse"}


def plot(record: Mapping[str, Any]):
    disp = record["display"]
    prm = record["params"]
    widths = np.asarray(disp["widths"], dtype=float)
    mean, se = np.asarray(disp["mean"]), np.asarray(disp["se"])  # (widths, kinds, pairs)
    theory, control = np.asarray(disp["theory"]), np.asarray(disp["control"])
    kinds, pairs = disp["kinds"], disp["pairs"]
    fig, axes = P.new_figure(ncols=len(pairs), width=2.3, height=2.7)
    inv = 1.0 / widths
    grid = np.linspace(0.0, inv.max() * 1.05, 40)
    dx = 0.012 * inv.max()
    for e, (ax, pair) in enumerate(zip(axes[0], pairs)):
        for a, kind in enumerate(kinds):
            color = P.PALETTE[a % len(P.PALETTE)]
            c0, c0_se, c1 = extrapolate_inverse(widths, mean[:, a, e], se[:, a, e])
            ax.plot(grid, c0 + c1 * grid, color=color, lw=0.7, alpha=0.7)
            P.sim_points(ax, inv + (a - 1.5) * dx, mean[:, a, e], se[:, a, e], color,
                         label=NAMES.get(kind, kind) if e == 0 else None)
            ax.errorbar([(a - 1.5) * dx], [c0], yerr=[P.CI_Z * c0_se], fmt="D", ms=3, color=color, capsize=2,
                        mfc="white", lw=0.8)
        ax.plot([0.0], [theory[e]], marker="*", ms=9, color="k", ls="none", label="iid NNGP" if e == 0 else None)
        ax.plot([0.0], [control[e]], marker="x", ms=6, color="0.5", ls="none",
                label=r"control $\sigma_w^2\times1.05$" if e == 0 else None)
        ax.set(xlabel="1 / width", title=f"K({pair.replace(',', ', ')})")
        ax.set_xlim(-4 * dx, inv.max() * 1.08)
    axes[0][0].set_ylabel("empirical NNGP (mean)")
    axes[0][0].legend(frameon=False, fontsize=5.5)
    fig.suptitle(f"{prm['activation']} MLP, L={prm['depth']}, $\\sigma_w^2$={prm['sigma_w2']:g}, "
                 f"$\\sigma_b^2$={prm['sigma_b2']:g}; low rank r = {prm['rank_fraction']:g} n, sparse density "
                 f"{prm['density']:g}; open diamonds: extrapolation to 1/n = 0 (±95%)", fontsize=7.5)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("kernels.beyond-iid-weights")
