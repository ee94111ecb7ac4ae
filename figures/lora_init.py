"""Figure for `lora.init-a-vs-b`: final loss versus learning rate per width for Init[A] and Init[B] (each on its own LR
window), the located maximal learning rate versus width on log-log axes (fitted exponent vs n^-1/2 and n^-1), and the
update-induced feature rms((A - A_0) x) at that learning rate versus width (tested: exponent > 0 under Init[A], not > 0
under Init[B]; the paper's n^1/2 for Init[A] drawn as a reference only). Run ``python -m figures.lora_init``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P

#: Reference slopes drawn dashed: max-LR exponents (tested) and the feature exponents (paper's 1/2 for Init[A]:
#: reference only; 0 for Init[B]: the tested bound).
_THEORY = {"A": (-0.5, 0.5), "B": (-1.0, 0.0)}


def plot(record: Mapping[str, Any]):
    d = record["display"]
    widths = np.asarray(d["widths"], dtype=float)
    fig, axes = P.new_figure(ncols=4, width=2.9, height=2.8)
    for k, init in enumerate(("A", "B")):
        ax = axes[0][k]
        s = d[init]
        xs = np.asarray(s["log2_lr"])
        for j, (n, cur) in enumerate(zip(widths, s["curves"])):
            color = P.PALETTE[j % len(P.PALETTE)]
            m, se = np.asarray(cur["mean"]), np.asarray(cur["se"])
            ax.errorbar(xs, m, yerr=P.CI_Z * se, fmt="o-", ms=2.5, lw=1, capsize=1.5, color=color, label=f"n={int(n)}")
            if np.isfinite(s["x_star"][j]):
                ax.axvline(s["x_star"][j], color=color, lw=0.8, ls=":")
        ax.axhline(d["level"], color="0.4", lw=0.8, ls="--", label=f"level {d['level']:g}")
        ax.set(xlabel="log$_2$ learning rate (Adam)", ylabel="mean log final train loss" if k == 0 else None,
               title=f"Init[{init}]: " + ("B=0, A random" if init == "A" else "A=0, B random")
               + " (dotted: $\\eta^*$)")
        ax.legend(frameon=False, fontsize=6.5, loc="upper left")
    for k, (stat, ylab, title) in enumerate((
            ("lr", "max learning rate $\\eta^*$", "largest LR that fits (- - theory)"),
            ("dza", "rms((A-A$_0$)x) at $\\eta^*$", "feature at $\\eta^*$ (- - paper / bound)"))):
        ax = axes[0][2 + k]
        for j, init in enumerate(("A", "B")):
            s = d[init]
            # init colours (purple / orange) distinct from the width colours of the first two panels
            color = P.PALETTE[3 + j]
            if stat == "lr":
                y = 2.0 ** np.asarray(s["x_star"], dtype=float)
                yse = y * np.log(2) * np.asarray(s["x_se"], dtype=float)
            else:
                y, yse = np.asarray(s["dza"], dtype=float), np.asarray(s["dza_se"], dtype=float)
            slope, slope_se = s[f"{stat}_slope"]
            c = s[f"{stat}_fit_c"]
            th = _THEORY[init][0 if stat == "lr" else 1]
            if stat == "lr":
                ref = f"theory {th:g}"
            elif init == "A":
                ref = f"tested > 0; paper {th:g}, untested"
            else:
                ref = "tested: not > 0"
            P.sim_points(ax, widths, y, yse, color, marker="os"[j],
                         label=f"Init[{init}]: fit {slope:.2f}±{slope_se:.2f} ({ref})")
            if np.isfinite(c):
                ax.plot(widths, np.exp(c) * widths**slope, color=color, lw=1)
                # reference slope anchored at the geometric mean of the simulated points
                ok = np.isfinite(y) & (y > 0)
                if ok.any():
                    g = np.exp(np.mean(np.log(y[ok])) - th * np.mean(np.log(widths[ok])))
                    ax.plot(widths, g * widths**th, color=color, lw=1, ls="--", alpha=0.6)
        ax.set(xscale="log", yscale="log", xlabel="width n", ylabel=ylab, title=title)
        ax.set_xticks(widths, [f"{int(w)}" for w in widths])
        ax.minorticks_off()
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo / 6, hi)  # room for the legend below the data
        ax.legend(frameon=False, fontsize=6.5, loc="lower left")
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("lora.init-a-vs-b")
