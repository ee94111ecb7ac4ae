"""Figure for `rmt.bbp`: the BBP transition of the top eigenvalue and of the eigenvector overlap, and where the
finite-size curves locate it.

Panel 1 and 2: top eigenvalue and squared overlap against the spike ell, per gamma: the limits (lines), simulated
means ±95% at the two sizes (filled: p_large, open: p_small), the threshold 1+sqrt(gamma) (dotted) and the band of
K critical windows at p_small around it in which no limit is compared (shaded). Then one panel per gamma: the
rescaled overlap p^(1/3) E|<u,v>|^2 of both sizes, whose crossing locates the transition, with the located crossing
and its CI (band), the prediction 1+sqrt(gamma) and the negative control's 1+gamma.
Run ``python -m figures.bbp``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P
from theory_lab.rmt import spiked as sp


def plot(record: Mapping[str, Any]):
    disp = record["display"]
    small, large = disp["sizes"]
    k_win = disp["k_window"]
    gammas = list(disp["gamma"])
    fig, axes = P.new_figure(ncols=2 + len(gammas), width=3.1, height=2.8)
    ax_eig, ax_ov = axes[0][0], axes[0][1]
    ell_max = max(max(d["sizes"][str(large)]["ell"]) for d in disp["gamma"].values())
    for k, gname in enumerate(gammas):
        color = P.PALETTE[k % len(P.PALETTE)]
        d = disp["gamma"][gname]
        g = float(gname)
        lc = float(sp.bbp_threshold(g))
        x = np.linspace(1.0, ell_max, 800)
        P.theory_line(ax_eig, x, sp.top_eigenvalue_limit(x, g), color, label=f"$\\gamma$={gname}: limit")
        P.theory_line(ax_ov, x, sp.overlap_limit(x, g), color, label=f"$\\gamma$={gname}: limit")
        w_small = d["sizes"][str(small)]["window"]
        for ax in (ax_eig, ax_ov):
            ax.axvspan(lc - k_win * w_small, lc + k_win * w_small, color=color, alpha=0.08, lw=0, zorder=0)
            ax.axvline(lc, color=color, ls=":", lw=0.9)
        for size, marker, alpha in ((large, "o", 1.0), (small, "s", 0.45)):
            c = d["sizes"][str(size)]
            lab = f"p={size}" if k == 0 else None
            for ax, stat in ((ax_eig, "top_eig"), (ax_ov, "overlap")):
                ax.errorbar(c["ell"], c[stat], yerr=P.CI_Z * np.asarray(c[stat + "_se"]), fmt=marker, ms=2.6,
                            color=color, mfc="white" if size == small else color, mew=0.8, capsize=0, lw=0.8,
                            alpha=alpha, label=lab, zorder=3)
    ax_eig.set(xlabel=r"spike $\ell$", ylabel=r"top eigenvalue $\lambda_1$", title=r"top eigenvalue of $XX^\top/n$")
    ax_ov.set(xlabel=r"spike $\ell$", ylabel=r"$|\langle \hat u, v\rangle|^2$", title="squared overlap with the spike",
              ylim=(-0.03, 1.0))
    ax_eig.legend(frameon=False, fontsize=6.5, loc="upper left")
    ax_ov.legend(frameon=False, fontsize=6.5, loc="lower right")
    ax_ov.text(0.02, 0.97, f"shaded: ±{k_win:g} critical windows\n(p={small}), not compared", transform=ax_ov.transAxes,
               fontsize=6.5, va="top", color="0.35")

    for k, gname in enumerate(gammas):
        ax = axes[0][2 + k]
        color = P.PALETTE[k % len(P.PALETTE)]
        d = disp["gamma"][gname]
        g = float(gname)
        lc = float(sp.bbp_threshold(g))
        cross = d["crossings"]["overlap"]
        ell = np.asarray(d["crossings"]["ell"])
        w_large = d["sizes"][str(large)]["window"]
        lo, hi = lc - 5 * d["sizes"][str(small)]["window"], lc + 5 * d["sizes"][str(small)]["window"]
        lo, hi = min(lo, 1.0 + g - 0.05), max(hi, 1.0 + g + 0.05)  # keep the control's threshold in view
        sel = (ell >= lo) & (ell <= hi)
        for key, size, marker, fill in (("scaled_small", small, "s", "white"), ("scaled_large", large, "o", color)):
            ax.errorbar(ell[sel], np.asarray(cross[key])[sel], yerr=P.CI_Z * np.asarray(cross[key + "_se"])[sel],
                        fmt=marker + "-", ms=2.8, lw=0.8, color=color, mfc=fill, mew=0.8, capsize=0,
                        label=f"p={size}")
        rows = {r["stat"]: r for r in P.rows(record, f"transition gamma={gname}")}
        ov = rows.get("overlap_crossing")
        if ov is not None and ov.get("ci_low") is not None:
            ax.axvspan(ov["ci_low"], ov["ci_high"], color="0.8", alpha=0.6, lw=0, zorder=0,
                       label=f"crossing {ov['mean']:.3f}, CI + window")
        ax.axvline(lc, color="k", lw=1.0, label=f"1+$\\sqrt{{\\gamma}}$ = {lc:.3f}")
        ax.axvline(1.0 + g, color="0.45", lw=1.0, ls="--", label=f"control 1+$\\gamma$ = {1 + g:.3g}")
        eig = rows.get("top_eig_crossing")
        txt = (f"eigenvalue curves $p^{{2/3}}(\\lambda_1-b)$ cross at\n{eig['mean']:.3f} ± {eig['se']:.3f} (SE)"
               if eig is not None and np.isfinite(eig["mean"]) else "")
        txt += f"\ndeclared finite-size term: window {w_large:.3f}"
        ax.text(0.98, 0.03, txt.strip(), transform=ax.transAxes, fontsize=6.2, va="bottom", ha="right", color="0.3",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5})
        ax.set(xlim=(lo, hi), yscale="log", xlabel=r"spike $\ell$",
               ylabel=r"$p^{1/3}\,E|\langle \hat u, v\rangle|^2$ (log)",
               title=f"locating the transition, $\\gamma$={gname}")
        ax.legend(frameon=False, fontsize=6.2, loc="upper left")
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("rmt.bbp")
