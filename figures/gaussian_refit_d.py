"""Figure for `loops.gaussian-refit-d`: log-det and covariance drift of a d-dim Gaussian refit loop, for several real
fractions.

Panels: (a) E log det Sigma_t versus generation: the pure loop's exact linear drift, and for each real fraction the
simulated mean between its floor (real samples alone) and ceiling (d log v_t); (b) Var log det Sigma_t of the pure
loop; (c) E tr Sigma_t / d (circles) and E ||mu_t||^2 / d (squares) with their exact curves. Negative control dashed
grey. Run ``python -m figures.gaussian_refit_d``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from proofs_checks.gaussian_refit import wrong_mixed
from proofs_checks.gaussian_refit_d import wrong_pure
from theory_lab import plotting as P
from theory_lab.loops import gaussian_refit as gr
from theory_lab.loops import gaussian_refit_d as gd


def plot(record: Mapping[str, Any]):
    prm = record["params"]
    d, n, t = prm["d"], prm["n"], prm["t"]
    fracs = [float(f) for f in prm["real_fraction"]]
    fig, axes = P.new_figure(ncols=3, width=3.6, height=3.0)
    ax_ld, ax_var, ax_tr = axes[0]
    tt = np.arange(t + 1)
    by_gen = record.get("display", {}).get("log_det_by_generation", {})
    for k, rf in enumerate(fracs):
        color = P.PALETTE[k % len(P.PALETTE)]
        n_real = gr.split_counts(n, rf)[0]
        if n_real == 0:
            P.theory_line(ax_ld, tt, gd.expected_log_det(tt, n, d), color, label="pure loop: theory")
            ax_ld.plot(tt, wrong_pure(tt, n, d)["mean_log_det"], ls="--", color="0.6", lw=1)
            rs = P.rows(record, "moments", real_fraction=rf, stat="mean_log_det")
            P.sim_points(ax_ld, P.column(rs, "t"), P.column(rs, "mean"), P.column(rs, "se"), color, label=None)
            P.theory_line(ax_var, tt, gd.var_log_det(tt, n, d), color, label="theory")
            ax_var.plot(tt, wrong_pure(tt, n, d)["var_log_det"], ls="--", color="0.6", lw=1,
                        label="negative control")
            rs = P.rows(record, "moments", real_fraction=rf, stat="var_log_det")
            P.sim_points(ax_var, P.column(rs, "t"), P.column(rs, "mean"), P.column(rs, "se"), color)
            curve_tr, curve_mu = gd.expected_trace(tt, n), gd.expected_mean_drift_sq(tt, n)
            w = wrong_pure(tt, n, d)
            wtr, wmu = w["mean_trace"], w["mean_drift_sq"]
        else:
            key = f"{rf:g}"
            if key in by_gen:
                m = np.asarray(by_gen[key]["mean_log_det"])
                ax_ld.plot(tt, m, color=color, lw=1.0, alpha=0.8, label=f"real {rf:g} (n_real={n_real}): simulated")
            ax_ld.axhline(gd.log_det_floor(n, n_real, d), color=color, ls=":", lw=1.2)
            ax_ld.plot(tt, gd.log_det_ceiling(tt, n, rf, d), color=color, ls="-.", lw=1.0)
            curve_tr, curve_mu = gd.mixed_moments(t, n, rf)
            wtr, wmu = wrong_mixed(t, n, rf)
        for stat, curve, wcurve, marker in (("mean_trace", curve_tr, wtr, "o"), ("mean_drift_sq", curve_mu, wmu, "s")):
            P.theory_line(ax_tr, tt, curve, color, label=(f"real {rf:g}" if stat == "mean_trace" else None))
            ax_tr.plot(tt, wcurve, ls="--", color="0.6", lw=0.8)
            rs = P.rows(record, "moments", real_fraction=rf, stat=stat)
            if rs:
                P.sim_points(ax_tr, P.column(rs, "t"), P.column(rs, "mean"), P.column(rs, "se"), color, label=None,
                             marker=marker)
    ax_ld.plot([], [], color="0.3", ls=":", label="floor: real samples alone")
    ax_ld.plot([], [], color="0.3", ls="-.", lw=1.0, label=r"ceiling $d\log v_t$ (dash-dot)")
    ax_ld.plot([], [], color="0.6", ls="--", label="negative control")
    ax_ld.set(xlabel="generation t", ylabel=r"$E\log\det\Sigma_t$",
              title=f"(a) log-det drift, d={d}, n={n}")
    ax_var.set(xlabel="generation t", ylabel=r"$\mathrm{Var}\log\det\Sigma_t$", title="(b) pure loop: spread")
    ax_tr.plot([], [], "o", color="0.3", mfc="white", label=r"$E\,\mathrm{tr}\Sigma_t/d$")
    ax_tr.plot([], [], "s", color="0.3", mfc="white", label=r"$E\|\mu_t-\mu_0\|^2/d$")
    ax_tr.set(xlabel="generation t", title="(c) covariance and mean drift", ylim=(-0.05, 1.3))
    ax_tr.text(0.98, 0.98,
               "pure-loop $E\\,\\mathrm{tr}\\Sigma_t$ compared only while\nits exact CV <= 1 (rare paths beyond)",
               transform=ax_tr.transAxes, ha="right", va="top", fontsize=5.5, color="0.35")
    for ax in axes[0]:
        ax.legend(frameon=False, fontsize=6)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("loops.gaussian-refit-d")
