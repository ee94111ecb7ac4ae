"""Figure for `icl.lsa-global-min`: the trained LSA's effective matrix, risk over test length, covariate scaling.

Panel 1: diagonal of the learned product W_PV[d+1,d+1]·W_KQ[:d,:d] against the eigenvalue λ of Λ (points, ±95%), with
ZFB's Γ⁻¹ = 1/((1+1/N)λ + tr Λ/N) (line) and the control Γ' (dashed). Panel 2: test risk against prompt length M
(log axis) with R_M(Γ⁻¹) (Thm 4.2). Panel 3: risk at the longest M against the covariate scale c, with the theory,
the zero predictor's risk c² tr Λ and the risk a scale-adaptive learner would have.
Run ``python -m figures.lsa_global_min``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from matplotlib.ticker import FormatStrFormatter, NullFormatter

from theory_lab import plotting as P
from theory_lab.icl import estimators as est
from theory_lab.icl import lsa


def _log_ticks(ax, axis: str, ticks) -> None:
    """Plain-number major ticks on a log axis, no minor labels (they overlap at this size)."""
    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_minor_formatter(NullFormatter())
    a.set_major_formatter(FormatStrFormatter("%g"))
    (ax.set_xticks if axis == "x" else ax.set_yticks)(list(ticks))


def plot(record: Mapping[str, Any]):
    disp = record["display"]["cases"]
    p = record["params"]
    N = int(p["N"])
    fig, axes = P.new_figure(ncols=3, width=3.0)
    names = {"iso": "Λ = I", "aniso": "Λ = diag(" + ", ".join(f"{x:g}" for x in p["spectrum"]) + ")"}
    ax = axes[0][0]
    for k, (case, c) in enumerate(disp.items()):
        color = P.PALETTE[k % len(P.PALETTE)]
        spec = np.asarray(c["spectrum"])
        trL = spec.sum()
        lam = np.geomspace(spec.min() * 0.8, spec.max() * 1.25, 200)
        P.theory_line(ax, lam, 1.0 / ((1 + 1 / N) * lam + trL / N), color, label=f"Γ⁻¹, {case}")
        ax.plot(lam, 1.0 / (lam + trL / N), ls="--", lw=0.9, color=color, alpha=0.6,
                label="control Γ'=Λ+trΛ/N" if k == 1 else None)
        P.sim_points(ax, spec * (1.0 + 0.03 * k), np.asarray(c["diag_mean"]), np.asarray(c["diag_se"]), color,
                     label=f"trained, {case}")
    ax.set(xscale="log", xlabel="eigenvalue λ of Λ", ylabel="learned diagonal of u·W_KQ,11",
           title=f"effective matrix → Γ⁻¹ (d={p['d']}, N={N})")
    _log_ticks(ax, "x", sorted(set(np.round(np.concatenate([np.asarray(c["spectrum"]) for c in disp.values()]), 4))))
    ax.legend(frameon=False, fontsize=6)

    ax = axes[0][1]
    Ms = np.geomspace(min(p["M"]) * 0.8, max(p["M"]) * 1.25, 200)
    for k, case in enumerate(disp):
        color = P.PALETTE[k % len(P.PALETTE)]
        spec = np.asarray(disp[case]["spectrum"])
        P.theory_line(ax, Ms, lsa.zfb_risk(spec, N, Ms), color, label=f"R_M(Γ⁻¹), {names[case]}")
        rs = P.rows(record, "risk", case=case)
        P.sim_points(ax, P.column(rs, "M"), P.column(rs, "mean"), P.column(rs, "se"), color,
                     label="trained LSA" if k == 0 else None)
        ax.axhline(lsa.zfb_risk(spec, N, 1e12), color=color, lw=0.7, ls=":")
    ax.set(xscale="log", yscale="log", xlabel="test prompt length M (trained at N)", ylabel="risk E(ŷ − y_q)²",
           title="length generalization (dotted: M→∞ floor)")
    _log_ticks(ax, "x", sorted(set(int(m) for m in p["M"]) | {N}))
    _log_ticks(ax, "y", [0.3, 0.5, 1, 2, 5])
    ax.legend(frameon=False, fontsize=6)

    ax = axes[0][2]
    cs = np.geomspace(0.3, 3.0, 100)
    Mx = max(p["M"])
    for k, case in enumerate(disp):
        color = P.PALETTE[k % len(P.PALETTE)]
        spec = np.asarray(disp[case]["spectrum"])
        L = np.diag(spec)
        P.theory_line(ax, cs, [lsa.zfb_risk(spec, N, Mx, c=c) for c in cs], color, label=f"LSA theory, {case}")
        ax.plot(cs, cs**2 * spec.sum(), color=color, lw=0.9, ls="--", label="predict 0" if k == 0 else None)
        ax.plot(cs, [est.linear_predictor_risk(lsa.gamma_inverse(c * c * spec, N), c * c * L, Mx) for c in cs],
                color=color, lw=0.9, ls=":", label="scale-adaptive (control)" if k == 0 else None)
        rs = P.rows(record, "covariate scaling", case=case)
        r1 = P.rows(record, "risk", case=case, M=Mx)
        P.sim_points(ax, np.r_[P.column(rs, "c"), 1.0], np.r_[P.column(rs, "mean"), P.column(r1, "mean")],
                     np.r_[P.column(rs, "se"), P.column(r1, "se")], color, label="trained LSA" if k == 0 else None)
    ax.set(xscale="log", yscale="log", xlabel="covariate scale c (test x → c x)", ylabel="risk",
           title=f"covariate scaling breaks it (M={Mx})")
    _log_ticks(ax, "x", [0.3, 0.5, 1, 2, 3])
    ax.legend(frameon=False, fontsize=6)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("icl.lsa-global-min")
