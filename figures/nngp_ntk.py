"""Figure for `kernels.nngp-ntk`: finite-width empirical NNGP/NTK against the analytic kernels.

Panels: (a) NNGP and (b) NTK entries, seed means ±95% against 1/n with the fitted c0 + c1/n line; the analytic
kernel is the star at 1/n = 0 (the negative control's sigma_w^2 x 1.05 kernel a grey cross). (c) std across networks
against n on log-log axes, with the n^(-1/2) law through the first point and the fitted exponents printed.
Run ``python -m figures.nngp_ntk``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab.rules import extrapolate_inverse
from theory_lab import plotting as P


def plot(record: Mapping[str, Any]):
    disp = record["display"]
    widths = np.asarray(disp["widths"], dtype=float)
    mean, se = np.asarray(disp["mean"]), np.asarray(disp["se"])
    std, std_se = np.asarray(disp["std"]), np.asarray(disp["std_se"])
    theory, control = np.asarray(disp["theory"]), np.asarray(disp["control"])
    labels = disp["labels"]
    prm = record["params"]
    fig, axes = P.new_figure(ncols=3, width=3.0, height=2.9)
    inv = 1.0 / widths
    grid = np.linspace(0.0, inv.max() * 1.05, 50)
    for ax, kern in zip(axes[0][:2], ("NNGP", "NTK")):
        idx = [e for e, lab in enumerate(labels) if lab.startswith(kern)]
        for c, e in enumerate(idx):
            color = P.PALETTE[c % len(P.PALETTE)]
            c0, _, c1 = extrapolate_inverse(widths, mean[:, e], se[:, e])
            ax.plot(grid, c0 + c1 * grid, color=color, lw=0.8, alpha=0.7)
            P.sim_points(ax, inv, mean[:, e], se[:, e], color, label=lab_short(labels[e]))
            ax.plot([0.0], [theory[e]], marker="*", ms=8, color=color, ls="none")
            ax.plot([0.0], [control[e]], marker="x", ms=5, color="0.5", ls="none")
        ax.plot([], [], marker="*", color="k", ls="none", label="analytic (1/n = 0)")
        ax.plot([], [], marker="x", color="0.5", ls="none", label=r"control $\sigma_w^2\times1.05$")
        ax.set(xlabel="1 / width", title=f"({'a' if kern == 'NNGP' else 'b'}) {kern}: mean vs 1/n, c0 + c1/n fit")
        ax.set_xlim(left=-0.02 * inv.max())
        ax.legend(frameon=False, fontsize=6)
    ax = axes[0][2]
    rate = {r["kernel"] + " " + r["pair"]: r for r in P.rows(record, "rate")}
    for e, lab in enumerate(labels):
        color = P.PALETTE[e % len(P.PALETTE)]
        mk = "o" if lab.startswith("NNGP") else "s"
        slope = rate[lab]["mean"]
        ax.errorbar(widths, std[:, e], yerr=P.CI_Z * std_se[:, e], fmt=mk + "-", ms=3, lw=0.8, capsize=2,
                    color=color, label=f"{lab}: {slope:.3f}")
    ref = std[0].max()
    ax.plot(widths, ref * (widths / widths[0]) ** -0.5, ls="--", color="0.3", lw=1, label=r"$n^{-1/2}$ (claim)")
    ax.set(xscale="log", yscale="log", xlabel="width n", ylabel="std across networks",
           title="(c) fluctuations; fitted exponents")
    ax.set_xticks(widths, [f"{int(w)}" for w in widths])
    ax.minorticks_off()
    ax.legend(frameon=False, fontsize=5.2, ncol=2)
    fig.suptitle(f"{prm['activation']} MLP, depth L={prm['depth']}, $\\sigma_w^2$={prm['sigma_w2']:g}, "
                 f"$\\sigma_b^2$={prm['sigma_b2']:g}, NTK parametrization; inputs x1, x2 (|x|²/d=1, cos 0.5), "
                 f"x3 (|x|²/d=2)", fontsize=8)
    P.caption(fig, record)
    return fig


def lab_short(label: str) -> str:
    return label.split(" ", 1)[1]


if __name__ == "__main__":
    from figures import main

    main("kernels.nngp-ntk")
