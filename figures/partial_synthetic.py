"""Figure for `loops.partial-synthetic`: S_m with a reused real set, the recursion's closed form against the printed
eq. (9) of Seddik et al. Theorem 2.

Panels: (a) S_m = E||p^(m)||^2 against generation m for each synthetic size n (real fraction N/(N+n)): the
recursion's closed form (solid), the printed form (dashed, the negative control), the fully synthetic collapse curve
of Theorem 1 at the largest n for contrast (dotted grey), simulated means ±95%; (b) the same data as deviations from
the recursion, mean - theory (±95%), with printed - recursion as dashed lines: the simulation sits on zero.
Run ``python -m figures.partial_synthetic``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from proofs_checks.partial_synthetic import initial
from theory_lab import plotting as P
from theory_lab.loops import categorical as cat


def plot(record: Mapping[str, Any]):
    prm = record["params"]
    N, m = prm["N"], prm["m"]
    s0 = cat.sum_sq(initial(prm))
    fig, axes = P.new_figure(ncols=2, width=3.6)
    ax, ax_d = axes[0]
    mm = np.arange(0, m + 1)
    ns = [int(n) for n in prm["n"]]
    for j, n in enumerate(ns):
        c = P.PALETTE[j % len(P.PALETTE)]
        rec = cat.expected_sum_sq_partial(m, N, n, s0)
        printed = np.concatenate([[np.nan, np.nan], cat.partial_closed_form_printed(mm[2:] - 1, N, n, s0)])
        rf = N / (N + n)
        P.theory_line(ax, mm, rec, c, label=f"n={n} (real {rf:.2f}): recursion")
        ax.plot(mm, printed, color=c, ls="--", lw=1)
        ax.axhline(cat.partial_limit(N, n, s0), color=c, ls=":", lw=0.8)
        rs = P.rows(record, "S_m (Thm 2)", n=n)
        x, mean, se = P.column(rs, "m"), P.column(rs, "mean"), P.column(rs, "se")
        th = P.column(rs, "theory")
        P.sim_points(ax, x, mean, se, c, label=None)
        off = 0.08 * (j - (len(ns) - 1) / 2)
        P.sim_points(ax_d, x + off, mean - th, se, c, label=f"n={n}: sim - recursion")
        ax_d.plot(x, cat.partial_closed_form_printed(x - 1, N, n, s0) - th, color=c, ls="--", lw=1)
    ax.plot([], [], color="0.3", ls=":", lw=1, label=r"limit $S_\infty$")
    ax.plot([], [], color="0.3", ls="--", lw=1, label="printed eq. (9) (control)")
    ax.set(xlabel="generation m", ylabel=r"$S_m=E\,\|p^{(m)}\|_2^2$",
           ylim=(s0 - 0.02, float(np.nanmax(P.column(P.rows(record, "S_m (Thm 2)"), "mean"))) + 0.03),
           title=f"(a) reused real set of N={N} tokens, $S_0$={s0:.3f}")
    ax_d.axhline(0, color="k", lw=1)
    ax_d.plot([], [], color="0.3", ls="--", lw=1, label="printed - recursion")
    ax_d.set(xlabel="generation m", ylabel="deviation from the recursion",
             title="(b) simulation vs the two closed forms")
    for a in (ax, ax_d):
        a.legend(frameon=False, fontsize=6.5)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("loops.partial-synthetic")
