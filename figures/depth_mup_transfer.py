"""Figure for `scaling.depth-mup-transfer`: training loss against learning rate, one curve per depth (TP VI Fig. 3
style), for Depth-µP and for the branch-scaled net without depth-scaled updates; the located optima (triangles, ±95%)
and, in the last panel, log2 η*(L) against log2 L with the theory's slopes.
Run ``python -m figures.depth_mup_transfer``.
"""

from __future__ import annotations

from typing import Any, Mapping

import matplotlib
import numpy as np

from theory_lab import plotting as P


def plot(record: Mapping[str, Any]):
    disp = record["display"]
    lrs = np.asarray(disp["log2_lr"])
    settings = disp["settings"]
    fig, axes = P.new_figure(ncols=len(settings) + 1, width=3.0, height=2.6)
    for ax, s in zip(axes[0], settings):
        colors = matplotlib.colormaps["viridis"](np.linspace(0.1, 0.9, len(s["depths"])))
        for c, d in zip(colors, s["depths"]):
            m, se = np.asarray(d["mean"]), np.asarray(d["se"])
            ax.plot(lrs, m, color=c, lw=1.2, label=f"L {d['L']}")
            ax.fill_between(lrs, m - P.CI_Z * se, m + P.CI_Z * se, color=c, alpha=0.2, lw=0)
            if np.isfinite(d["best"]):
                y = np.interp(d["best"], lrs, m)
                ax.errorbar([d["best"]], [y], xerr=[P.CI_Z * d["best_se"]] if np.isfinite(d["best_se"]) else None,
                            marker="v", color=c, ms=5, capsize=2, lw=1)
        ax.set(xlabel="log2 η (base learning rate)", ylabel="log training loss after T steps",
               title=f"{s['setting']}: α={s['alpha']:g}, γ={s['gamma']:g}")
        ax.legend(frameon=False, fontsize=6)
    ax = axes[0][-1]
    rows = P.rows(record, "optimal-lr exponents")
    for k, (s, r) in enumerate(zip(settings, rows)):
        L = np.asarray([d["L"] for d in s["depths"]], dtype=float)
        best = np.asarray([d["best"] for d in s["depths"]], dtype=float)
        se = np.asarray([d["best_se"] for d in s["depths"]], dtype=float)
        col = P.PALETTE[k]
        ax.errorbar(np.log2(L), best, yerr=P.CI_Z * se, fmt="o", color=col, mfc="white", capsize=2, ms=4,
                    label=f"{s['setting']}: fit {r['mean']:+.2f}±{P.CI_Z * r['se']:.2f}, theory {r['theory']:+.1f}")
        ok = np.isfinite(best)
        if ok.any():
            anchor = np.nanmean(best[ok] - r["theory"] * np.log2(L[ok]))
            ax.plot(np.log2(L), anchor + r["theory"] * np.log2(L), color=col, lw=1, ls="--")
    ax.set(xlabel="log2 L (depth)", ylabel="log2 η* (located optimum)", title="optimal learning rate vs depth")
    ax.legend(frameon=False, fontsize=5.5)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("scaling.depth-mup-transfer")
