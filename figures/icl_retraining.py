"""Figure for `loops.icl-retraining`: the least-squares self-consuming loop.

Panels: (a) E||w_i - w||^2 versus generation i for each real fraction lam, exact theory v(1-c^{i+1})/(1-c) as lines,
its limit v/(1-c) dotted, the negative control (c = (1-lam)^2) dashed grey, simulated means ±95%; (b) error after the
last generation versus the synthetic size m at a fixed number of real examples, with the exact curve, the stationary
limit and the notes' large-T approximation; (c) phase diagram of the final error over (real fraction, synthetic
size): simulated mean (colour, log scale; number on top) and the exact value (in brackets); (d) the trained
one-layer LSA loop: ||A_i - Gamma^{-1}||_F^2 versus generation for each real fraction (simulated means ±95%; no exact
curve), the fitted late-slope line over the second half, and the zero-predictor (collapsed-model) level.
Run ``python -m figures.icl_retraining``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from matplotlib.colors import LogNorm

from proofs_checks.icl_retraining import phase_points
from theory_lab import plotting as P
from theory_lab.loops import icl_retraining as ic


def plot(record: Mapping[str, Any]):
    prm = record["params"]
    d, s2, g, T = prm["d"], prm["sigma2"], prm["generations"], prm["T"]
    fig, axes = P.new_figure(ncols=2, nrows=2, width=4.6, height=3.3)
    (ax_t, ax_m), (ax_p, ax_l) = axes
    ii = np.arange(g + 1)
    for k, lam in enumerate(prm["lam"]):
        color = P.PALETTE[k % len(P.PALETTE)]
        n_r, n_s = ic.split_real(T, lam)
        P.theory_line(ax_t, ii, ic.expected_error(ii, n_r, n_s, d, s2), color, label=f"lam={lam:g} (n_real={n_r})")
        ax_t.plot(ii, ic.expected_error(ii, n_r, n_s, d, s2, c=ic.contraction_asymptotic(n_r, n_s, d)), ls="--",
                  color="0.6", lw=0.9)
        lim = ic.stationary_error(n_r, n_s, d, s2)
        if np.isfinite(lim):
            ax_t.axhline(lim, color=color, ls=":", lw=1.0)
        rs = [r for r in P.rows(record, "error", group="trajectory", stat="error") if np.isclose(r["lam"], lam)]
        P.sim_points(ax_t, P.column(rs, "i"), P.column(rs, "mean"), P.column(rs, "se"), color, label=None)
    ax_t.plot([], [], ls=":", color="0.3", label=r"limit $v/(1-c)$")
    ax_t.plot([], [], ls="--", color="0.6", label=r"control: $c=(1-\lambda)^2$")
    ax_t.set(xlabel="generation i", ylabel=r"$E\|\hat w_i - w\|^2$", yscale="log",
             title=f"(a) error vs generation, d={d}, T={T}")

    n_real = prm["n_real"]
    m_lo = max(0, d + 2 - n_real)
    mm = np.unique(np.round(np.geomspace(max(m_lo, 1), max(prm["synth"]) * 1.2, 200)).astype(int))
    if m_lo == 0:
        mm = np.concatenate([[0], mm])
    P.theory_line(ax_m, mm, [ic.expected_error(g, n_real, m, d, s2) for m in mm], P.PALETTE[0],
                  label=f"exact, after {g} generations")
    ax_m.plot(mm, [ic.stationary_error(n_real, m, d, s2) for m in mm], color=P.PALETTE[1], ls=":",
              label=r"stationary $v/(1-c)$")
    ax_m.plot(mm, [ic.stationary_error_asymptotic(n_real, m, d, s2) for m in mm], color="0.5", ls="--", lw=0.9,
              label=r"large-T approx. $\sigma^2 d(n+m)/(n(n+2m))$")
    ax_m.axhline(s2 * d / (2 * n_real), color="0.7", lw=0.6, label=r"$\sigma^2 d/(2n)$: $m\to\infty$ limit")
    rs = P.rows(record, "error", group="size")
    P.sim_points(ax_m, P.column(rs, "n_synth"), P.column(rs, "mean"), P.column(rs, "se"), P.PALETTE[0])
    ax_m.set_xscale("symlog", linthresh=10, linscale=0.6)
    ax_m.set(xlabel=f"synthetic examples m per generation (n_real={n_real} fixed)",
             ylabel="final error", title="(b) final error vs synthetic size")
    ax_m.set_xlim(left=0)

    pts = phase_points(prm["phase_lam"], prm["phase_synth"])
    rs = P.rows(record, "error", group="phase")
    lams, synth = list(prm["phase_lam"]), list(prm["phase_synth"])
    grid = np.full((len(lams), len(synth)), np.nan)
    theo = np.full_like(grid, np.nan)
    for (lam, n_r, n_s), r in zip(pts, rs):
        a, b = lams.index(lam), synth.index(n_s)
        grid[a, b], theo[a, b] = r["mean"], r["theory"]
    im = ax_p.imshow(grid, origin="lower", aspect="auto", cmap="viridis", norm=LogNorm())
    for a in range(len(lams)):
        for b in range(len(synth)):
            ax_p.text(b, a, f"{grid[a, b]:.3g}\n({theo[a, b]:.3g})", ha="center", va="center", fontsize=5.5,
                      color="white" if grid[a, b] < np.sqrt(np.nanmin(grid) * np.nanmax(grid)) else "black")
    ax_p.set_xticks(range(len(synth)), [str(m) for m in synth])
    ax_p.set_yticks(range(len(lams)), [f"{lam:g}" for lam in lams])
    ax_p.set(xlabel="synthetic examples n_synth per generation", ylabel=r"real fraction $\lambda$ (n_real rounded)",
             title=f"(c) error after {g} generations: sim (exact)")
    fig.colorbar(im, ax=ax_p, shrink=0.85)
    lsa = record.get("display", {}).get("lsa_trajectories", {})
    half = np.arange(g // 2, g + 1)
    for k, (lam, tr) in enumerate(lsa.items()):
        color = P.PALETTE[k % len(P.PALETTE)]
        m, se = np.asarray(tr["mean"]), np.asarray(tr["se"])
        P.sim_points(ax_l, ii, m, se, color, label=f"lam={lam}")
        slope = [r for r in (P.rows(record, "lsa_bounded") + P.rows(record, "lsa_growth"))
                 if np.isclose(r["lam"], float(lam))]
        if slope:
            b = slope[0]["mean"]
            a = m[half].mean() - b * half.mean()
            ax_l.plot(half, a + b * half, color=color, lw=1.4,
                      label=f"late slope {b:.2g} ± {1.96 * slope[0]['se']:.1g}")
    if lsa:
        ax_l.axhline(record["display"]["lsa_zero_predictor_error"], color="0.5", ls="--", lw=0.9,
                     label=r"zero predictor $\|\Gamma^{-1}\|_F^2$")
    ax_l.set(xlabel="generation i", ylabel=r"$\|A_i - \Gamma^{-1}\|_F^2$",
             title=f"(d) trained LSA loop, d={prm.get('lsa_d')}, N={prm.get('lsa_N')}, "
                   f"{prm.get('lsa_steps')} Adam steps/gen")
    for ax in (ax_t, ax_m, ax_l):
        ax.legend(frameon=False, fontsize=6)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("loops.icl-retraining")
