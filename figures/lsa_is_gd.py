"""Figure for `icl.lsa-is-gd`: LSA constructions are GD to machine precision; a trained layer is GD with η*.

Panel 1: per-trial relative error of the one-layer and L-layer constructions against (preconditioned) GD, log scale,
with the declared bound and the error against the control (GD normalized by N+1). Panel 2: the trained layer's
effective step (mean diagonal of −P[d,d]·Q[:d,:d]) per seed against η* = N/(N+d+1) and the control N/(N+d).
Panel 3: the one-step GD risk curve R(η) (exact) with the trained LSA placed at its learned step and measured risk.
Run ``python -m figures.lsa_is_gd``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P
from theory_lab.icl import estimators as est


def plot(record: Mapping[str, Any]):
    disp = record["display"]
    p = record["params"]
    d, N = int(p["d"]), int(p["N"])
    fig, axes = P.new_figure(ncols=3, width=3.0)
    ax = axes[0][0]
    bound = P.rows(record, "construction")[0]["theory"]
    for k, (key, lab) in enumerate((("err_one", "1 layer vs 1 GD step"),
                                    ("err_multi", f"{p['n_layers']} layers vs {p['n_layers']} precond. GD steps"),
                                    ("err_one_wrong", "1 layer vs control (η·N/(N+1))"))):
        e = np.asarray(disp[key])
        ax.plot(np.arange(len(e)), np.maximum(e, 1e-18), "o", ms=2.5, color=P.PALETTE[k % len(P.PALETTE)], label=lab)
    ax.axhline(bound, color="0.3", ls="--", lw=1, label="declared bound (1000 eps)")
    ax.set(yscale="log", xlabel="trial (seed)", ylabel="relative error vs GD",
           title="constructions: exact equivalence")
    ax.legend(frameon=False, fontsize=6)

    ax = axes[0][1]
    diag = np.asarray(disp["diag_per_seed"])
    ax.plot(np.arange(len(diag)), diag, "o", ms=3, color=P.PALETTE[0], mfc="white", label="trained LSA (mean diag)")
    ax.axhline(disp["eta_star"], color=P.PALETTE[0], lw=1.4, label=f"η* = N/(N+d+1) = {disp['eta_star']:.4f}")
    ax.axhline(disp["eta_wrong"], color=P.PALETTE[1], lw=1, ls="--", label=f"control N/(N+d) = {disp['eta_wrong']:.4f}")
    ax.set(xlabel="seed", ylabel="learned step: mean diag of −P·Q",
           title=f"trained 1-layer LSA (d={d}, N={N})")
    ax.legend(frameon=False, fontsize=6)

    ax = axes[0][2]
    etas = np.linspace(0.3, 1.2, 200)
    P.theory_line(ax, etas, est.gd_one_step_risk(N, d, etas), P.PALETTE[0], label="one-step GD risk R(η) (exact)")
    ax.axvline(disp["eta_star"], color="0.5", lw=0.8, ls=":")
    r = P.rows(record, "trained risk")[0]
    P.sim_points(ax, np.array([diag.mean()]), np.array([r["mean"]]), np.array([r["se"]]), P.PALETTE[2],
                 label="trained LSA (risk at its learned step)")
    ax.plot([1.0], [est.averaging_risk(N, d)], "s", ms=4, color=P.PALETTE[1], label="averaging (η = 1)")
    ax.set(xlabel="step size η", ylabel="risk E(ŷ − y_q)²", title="risk: trained LSA sits at GD's optimum")
    ax.legend(frameon=False, fontsize=6)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("icl.lsa-is-gd")
