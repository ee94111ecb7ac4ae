"""Figure for `loops.wright-fisher`: total collapse in the fully synthetic categorical loop (Seddik et al. Thm 1).

Panels: (a) S_m = E||p^(m)||^2 against generation m, theory lines, simulated means ±95%, the negative control (diploid
formula) dashed grey; (b) the collapse probability rho_m (simulated fraction, every generation) between the printed
lower and upper bounds; (c) the mean collapse time E[T] (±95%, with the 10-90% range of T) and the two bounds of
eq. (8) per n; (d) fixation frequencies against p_i (Proposition 1: the diagonal).
Run ``python -m figures.wright_fisher``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from proofs_checks.wright_fisher import initial, wrong_sum_sq
from theory_lab import plotting as P
from theory_lab.loops import categorical as cat


def plot(record: Mapping[str, Any]):
    prm = record["params"]
    p0 = initial(prm)
    s0, s_sup = cat.sum_sq(p0), cat.support_size(p0)
    m = prm["m"]
    ns = [int(n) for n in prm["n"]]
    fig, axes = P.new_figure(ncols=4, width=3.0)
    ax_s, ax_r, ax_t, ax_f = axes[0]
    mm = np.arange(m + 1)
    for j, n in enumerate(ns):
        c = P.PALETTE[j % len(P.PALETTE)]
        P.theory_line(ax_s, mm, cat.expected_sum_sq_fully(mm, n, s0), c, label=f"n={n}: theory")
        ax_s.plot(mm, wrong_sum_sq(mm, n, s0), ls="--", color="0.6", lw=1)
        rs = P.rows(record, "sum of squares S_m (Thm 1.1)", n=n)
        P.sim_points(ax_s, P.column(rs, "m"), P.column(rs, "mean"), P.column(rs, "se"), c, label=None)
        rho = np.asarray(record["display"]["rho"][str(n)])
        lo, hi = cat.collapse_prob_bounds(mm, n, s0, s_sup)
        ax_r.plot(mm, rho, color=c, lw=1.5, label=f"n={n}: simulated")
        ax_r.fill_between(mm, np.clip(lo, 0, 1), np.clip(hi, 0, 1), color=c, alpha=0.12, lw=0)
        ax_r.plot(mm, np.clip(hi, 0, 1), color=c, ls=":", lw=1)
        ax_r.plot(mm, np.clip(lo, 0, 1), color=c, ls="--", lw=1)
        rs = P.rows(record, "collapse time, lower bound (Thm 1.3)", n=n)
        if rs:
            tlo, thi = cat.collapse_time_bounds(n, s0, s_sup)
            mean, se = rs[0]["mean"], rs[0]["se"]
            q10, _, q90 = record["display"]["T_quantiles"][str(n)]
            ax_t.errorbar([n], [mean], yerr=[[P.CI_Z * se], [P.CI_Z * se]], fmt="o", color=c, ms=4, capsize=2)
            ax_t.vlines([n], q10, q90, color=c, alpha=0.35, lw=4)
            ax_t.plot([n * 0.9, n * 1.1], [tlo, tlo], color="k", lw=1.5)
            ax_t.plot([n * 0.9, n * 1.1], [thi, thi], color="k", lw=1.5, ls=":")
        rs = P.rows(record, "fixation probability (Prop 1)", n=n)
        ax_f.errorbar(P.column(rs, "theory") * (1 + 0.03 * (j - (len(ns) - 1) / 2)), P.column(rs, "mean"),
                      yerr=P.CI_Z * P.column(rs, "se"), fmt="o", ms=3, capsize=2, lw=1, color=c, label=f"n={n}")
    ax_s.plot([], [], ls="--", color="0.6", label="control (2n copies)")
    ax_s.set(xlabel="generation m", ylabel=r"$S_m=E\,\|p^{(m)}\|_2^2$", ylim=(0, 1.02),
             title=f"(a) collapse of diversity, $S_0$={s0:.3f}")
    ax_r.plot([], [], color="0.3", ls="--", lw=1, label="lower bound (7)")
    ax_r.plot([], [], color="0.3", ls=":", lw=1, label="upper bound (7)")
    ax_r.set(xlabel="generation m", ylabel=r"$\rho_m=P(\|p^{(m)}\|_\infty=1)$", ylim=(-0.02, 1.02),
             title="(b) probability of total collapse")
    ax_t.plot([], [], color="k", lw=1.5, label="lower bound (8)")
    ax_t.plot([], [], color="k", lw=1.5, ls=":", label="upper bound (8)")
    ax_t.plot([], [], color="0.5", lw=4, alpha=0.35, label="10-90% of T")
    ax_t.set(xscale="log", yscale="log", xlabel="tokens per generation n", ylabel="collapse time T",
             title="(c) E[T] (±95%) and its bounds")
    ax_t.set_xticks(ns, [str(n) for n in ns])
    ax_t.minorticks_off()
    lim = max(P.column(P.rows(record, "fixation probability (Prop 1)"), "theory").max(),
              P.column(P.rows(record, "fixation probability (Prop 1)"), "mean").max()) * 1.1
    ax_f.plot([0, lim], [0, lim], color="k", lw=1, label=r"Prop. 1: $p_i$")
    ax_f.axhline(1.0 / s_sup, color="0.6", ls="--", lw=1, label="control: uniform")
    ax_f.set(xlabel=r"initial probability $p_i$", ylabel="fixation frequency", xlim=(0, lim), ylim=(0, lim),
             title=f"(d) fixation on token i ({prm['family']}, k={prm['k']})")
    for ax in axes[0]:
        ax.legend(frameon=False, fontsize=6.5)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("loops.wright-fisher")
