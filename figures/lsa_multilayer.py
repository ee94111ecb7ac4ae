"""Figure for `icl.lsa-multilayer`: trained L-layer LSA against optimal L-step GD and optimal GD++.

Panel 1: test risk per trained model (exact in the query; open circles: the data-level risk on the same prompts) with
the optimal risks of 1, L and L+1 plain GD steps and of L-layer GD++ (the declared tolerance band around it); log
scale. Panel 2: the trained weights projected on the GD++ family, per layer: step a_l = -P[d,d] x mean diag Q[:d,:d]
against input-transform b_l = mean diag P[:d,:d] / P[d,d], with the optimal GD++ and GD parameters; marker size shows
how much of the weights lies outside that pattern. Run ``python -m figures.lsa_multilayer``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from proofs_checks.lsa_multilayer import GDPP_EXCESS
from theory_lab import plotting as P


def plot(record: Mapping[str, Any]):
    disp, p = record["display"], record["params"]
    L = int(p["n_layers"])
    fig, axes = P.new_figure(ncols=2, width=3.6, height=2.9)
    ax = axes[0][0]
    risk, data = np.asarray(disp["risk"]), np.asarray(disp["risk_data"])
    seeds = np.arange(len(risk))
    ax.plot(seeds, risk, "o", ms=3, color=P.PALETTE[2], label="trained LSA: E over x_q exact")
    ax.plot(seeds, data, "o", ms=3, mfc="none", color=P.PALETTE[2], alpha=0.6, label="same prompts, one query each")
    frac = GDPP_EXCESS
    ax.fill_between([-0.5, len(risk) - 0.5], disp["gdpp"] * (1 - frac), disp["gdpp"] * (1 + frac),
                    color=P.PALETTE[0], alpha=0.15, lw=0, label=f"GD++ optimum ±{frac:g} (tolerance)")
    ax.axhline(disp["gdpp"], color=P.PALETTE[0], lw=1.4, label=f"optimal {L}-layer GD++ = {disp['gdpp']:.4f}")
    ax.axhline(disp["gd"], color=P.PALETTE[1], lw=1.2, ls="--",
               label=f"optimal {L}-step GD = {disp['gd']:.3f} (control)")
    ax.axhline(disp["gd_next"], color="0.5", lw=1.0, ls=":", label=f"optimal {L + 1}-step GD = {disp['gd_next']:.3f}")
    ax.axhline(disp["one_step"], color="0.7", lw=1.0, ls="-.", label=f"one GD step = {disp['one_step']:.3f}")
    top = max(disp["one_step"], float(np.nanmax(np.r_[risk, data]))) * 30
    ax.set(yscale="log", ylim=(None, top), xlabel="trained model (seed)", ylabel="risk E(ŷ − y_q)²",
           title=f"d={p['d']}, N={p['N']}, L={L}: {p['steps']} Adam steps of {p['batch']}")
    ax.legend(frameon=False, fontsize=5.5, loc="upper right", ncol=2)

    ax = axes[0][1]
    a, b, off = (np.asarray(disp[k]) for k in ("a", "b", "off"))
    for ell in range(L):
        ax.scatter(a[:, ell], b[:, ell], s=6 + 60 * np.clip(off[:, ell], 0, 1), color=P.PALETTE[ell % len(P.PALETTE)],
                   alpha=0.7, label=f"layer {ell + 1} (trained)")
    ga, gb = np.asarray(disp["gdpp_a"]), np.concatenate([disp["gdpp_b"], [np.nan]])
    ax.plot(ga[:-1], gb[:-1], "k*", ms=8, label="GD++ optimum (a_l, b_l)")
    ax.axvline(ga[-1], color="k", lw=0.8, ls="--", label="GD++ optimum, last step (b inert)")
    for e in disp["gd_etas"]:
        ax.plot([e], [0.0], "x", color=P.PALETTE[1], ms=6)
    ax.plot([], [], "x", color=P.PALETTE[1], label="plain GD optimum (b = 0)")
    ax.set(xlabel="step a_l", ylabel="input transform b_l", title="trained weights projected on GD++")
    ax.legend(frameon=False, fontsize=5.5)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("icl.lsa-multilayer")
