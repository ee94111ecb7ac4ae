"""Figure for `loops.gaussian-refit`: collapse of the pure loop and the fixed point with fresh data.

Panels: (a) E log s_t^2 and Var log s_t^2 of the pure loop; (b) E (mu_t - mu_0)^2 of the pure loop; (c) E s_t^2 and
E (mu_t - mu_0)^2 with fresh real data. Theory as lines, the negative control's wrong theory dashed grey, simulated
means with 95% bars. Run ``python -m figures.gaussian_refit`` (computes the quick record if none is stored).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from proofs_checks.gaussian_refit import wrong_mixed, wrong_pure
from theory_lab import plotting as P
from theory_lab.loops import gaussian_refit as gr


def plot(record: Mapping[str, Any]):
    n, t = record["params"]["n"], record["params"]["t"]
    fracs = [float(f) for f in record["params"]["real_fraction"]]
    fig, axes = P.new_figure(ncols=3)
    tt = np.arange(t + 1)
    ax_log, ax_drift, ax_mix = axes[0]
    if 0.0 in fracs:
        wrong = wrong_pure(tt, n)
        for stat, fn, color, name in (("mean_log_var", gr.expected_log_var, P.PALETTE[0], r"$E\log s_t^2$"),
                                      ("var_log_var", gr.var_log_var, P.PALETTE[1], r"$\mathrm{Var}\log s_t^2$")):
            P.theory_line(ax_log, tt, fn(tt, n), color, label=f"{name} theory")
            ax_log.plot(tt, wrong[stat], ls="--", color="0.6", lw=1)
            rs = P.rows(record, "moments", real_fraction=0.0, stat=stat)
            P.sim_points(ax_log, P.column(rs, "t"), P.column(rs, "mean"), P.column(rs, "se"), color, label=None)
        ax_log.plot([], [], ls="--", color="0.6", label="negative control")
        P.theory_line(ax_drift, tt, gr.expected_mean_drift_sq(tt, n), P.PALETTE[2])
        ax_drift.plot(tt, wrong["mean_drift_sq"], ls="--", color="0.6", lw=1, label="negative control")
        rs = P.rows(record, "moments", real_fraction=0.0, stat="mean_drift_sq")
        P.sim_points(ax_drift, P.column(rs, "t"), P.column(rs, "mean"), P.column(rs, "se"), P.PALETTE[2])
    ax_log.set(xlabel="generation t", title=f"(a) pure loop, n={n}: log-variance")
    ax_drift.set(xlabel="generation t", ylabel=r"$E(\mu_t-\mu_0)^2$", title="(b) pure loop: mean drift")
    for k, rf in enumerate(f for f in fracs if f > 0):
        v, d = gr.mixed_moments(t, n, rf)
        wv, wd = wrong_mixed(t, n, rf)
        color = P.PALETTE[(k + 3) % len(P.PALETTE)]
        for stat, curve, wcurve, marker in (("mean_var", v, wv, "o"), ("mean_drift_sq", d, wd, "s")):
            P.theory_line(ax_mix, tt, curve, color, label=f"real {rf:g}: " + ("$E s_t^2$" if stat == "mean_var"
                                                                               else r"$E(\mu_t-\mu_0)^2$"))
            ax_mix.plot(tt, wcurve, ls="--", color="0.6", lw=1)
            rs = P.rows(record, "moments", real_fraction=rf, stat=stat)
            P.sim_points(ax_mix, P.column(rs, "t"), P.column(rs, "mean"), P.column(rs, "se"), color, label=None,
                         marker=marker)
    ax_mix.set(xlabel="generation t", title="(c) with fresh real data: fixed point")
    for ax in axes[0]:
        ax.legend(frameon=False)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("loops.gaussian-refit")
