"""Figure for `loops.tv-contraction`: TV to the real law across generations for several real fractions, and the
TV after the last generation against the synthetic amount for the two real-data protocols.

Panels: (a) E TV(p_i, p_0) against generation i for each real fraction lam (simulated means ±95%), the declared bound
eps_bar (1-(1-lam)^i)/lam (solid line), the mean of the pathwise bound sum_j (1-lam)^(i-j) eps_j from the measured
errors (dashed), and the negative control's off-by-one bound (dotted grey); (b) E TV(p_gens, p_0) against the
synthetic amount m, for the reused real set (rise then fall) and for fresh real data (fall then rise), with the
declared comparison point m_peak marked. Run ``python -m figures.tv_contraction``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P
from theory_lab.loops import tv_mixing as tvm


def plot(record: Mapping[str, Any]):
    prm, disp = record["params"], record["display"]
    eb = disp["eps_bar"]
    fig, axes = P.new_figure(ncols=2, width=3.8, height=2.9)
    ax, ax_m = axes[0]
    gens = np.arange(1, prm["gens"] + 1)
    top = 0.0
    for j, lam in enumerate(prm["lam"]):
        c = P.PALETTE[j % len(P.PALETTE)]
        rs = P.rows(record, "declared-eps bound eps(1-(1-lam)^i)/lam", lam=float(lam))
        x, mean, se = P.column(rs, "generation"), P.column(rs, "mean"), P.column(rs, "se")
        declared = tvm.constant_eps_bound(gens, float(lam), eb)
        P.theory_line(ax, gens, declared, c, label=f"$\\lambda$={lam:g}: bound")
        ax.plot(gens, disp["bound_mean"][f"{float(lam):g}"], color=c, ls="--", lw=1)
        if lam > 0:
            ax.plot(gens, tvm.constant_eps_bound(gens, float(lam), eb, shift=1), color="0.6", ls=":", lw=1)
        P.sim_points(ax, x, mean, se, c, label=None)
        top = max(top, float(np.max(mean)))
    ax.plot([], [], color="0.3", ls="--", lw=1, label=r"mean of $\sum_j(1-\lambda)^{i-j}\epsilon_j$ (measured)")
    ax.plot([], [], color="0.6", ls=":", lw=1, label="control: off-by-one")
    ax.plot([], [], "o", color="0.3", mfc="white", ms=3.5, label=r"simulated $E\,TV(p_i,p_0)$")
    ax.set(xlabel="generation i", ylabel=r"$TV(p_i, p_0)$", ylim=(0, max(1.5, 1.2 * top)),
           title=f"(a) real fraction $\\lambda$, fresh real data: n={prm['n']}, k={prm['k']}, "
                 f"$\\bar\\epsilon$={eb:.3f}")
    m = np.asarray(disp["m_syn"], dtype=float)
    for name, c, label in (("tv_fixed", P.PALETTE[1], "same real set reused"),
                           ("tv_fresh", P.PALETTE[0], "fresh real data each generation")):
        ax_m.errorbar(m, disp[name]["mean"], yerr=P.CI_Z * np.asarray(disp[name]["se"]), fmt="o-", ms=3.5,
                      color=c, mfc="white", capsize=2, lw=1.2, label=label)
    ax_m.axvline(prm["m_peak"], color="0.5", ls=":", lw=1, label=f"declared m_peak={prm['m_peak']}")
    ax_m.set_xscale("symlog", linthresh=max(1.0, float(sorted(m)[1]) if len(m) > 1 else 1.0), linscale=0.5)
    ax_m.set_xticks(m, [str(int(v)) for v in m])
    ax_m.minorticks_off()
    ax_m.set(xlabel="synthetic tokens per generation m", ylabel=f"$TV(p_{{{prm['gens']}}}, p_0)$",
             title=f"(b) after {prm['gens']} generations, {prm['n_real']} real tokens per generation")
    ax.legend(frameon=False, fontsize=6, ncol=2, loc="upper left")
    ax_m.legend(frameon=False, fontsize=6.5)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("loops.tv-contraction")
