"""Figure for `kernels.lazy-training`: trained finite-width networks against the infinite-width NTK predictor.

Panels: (a) GD trajectories of one network per width (solid) at training point 1 and the test point, with the NTK
predictor started from the same f_0 (dashed) and the NNGP predictor of the negative control (dotted grey, largest
width); (b) rms gap against width on log-log axes at each recorded step: network vs analytic-NTK predictor (circles,
claim n^{-1/2}), vs its own linearisation (squares, claim <= n^{-1/2}), vs the NNGP predictor (grey crosses,
control), fitted exponents in the legend; (c) the mean gap extrapolated to 1/n = 0 (c0 ± 95%) for every step and
point, NTK (claim: 0) and NNGP control. Run ``python -m figures.lazy_training``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P


def plot(record: Mapping[str, Any]):
    disp = record["display"]
    prm = record["params"]
    widths = np.asarray(disp["widths"], dtype=float)
    times = disp["times"]
    n_train = int(prm["n_train"])
    fig, axes = P.new_figure(ncols=3, width=3.3, height=3.0)

    # (a) trajectories
    ax = axes[0][0]
    for c, n in enumerate(disp["widths"]):
        tr = disp["traj"][str(n)]
        net, ntk = np.asarray(tr["net"]), np.asarray(tr["ntk"])
        steps = np.arange(net.shape[0])
        color = P.PALETTE[c % len(P.PALETTE)]
        for k, lw in ((0, 1.3), (n_train, 0.8)):
            ax.plot(steps, net[:, k], color=color, lw=lw, label=f"net n={n}" if k == 0 else None)
            ax.plot(steps, ntk[:, k], color=color, lw=lw, ls="--")
    gp = np.asarray(disp["traj"][str(disp["widths"][-1])]["nngp"])
    ax.plot(np.arange(gp.shape[0]), gp[:, 0], color="0.5", ls=":", lw=1.2, label="NNGP predictor (control)")
    ax.axhline(disp["y"][0], color="k", lw=0.6, ls="-.", label="target y_1")
    ax.plot([], [], color="k", ls="--", label="NTK predictor, same f_0")
    ax.set(xlabel="GD step t", ylabel="f_t",
           title="(a) one network per width: train pt 1 (thick), test (thin)")
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.45 * (hi - lo))
    ax.legend(frameon=False, fontsize=5.5, ncol=2, loc="upper center")

    # (b) rms gaps
    ax = axes[0][1]
    rate = {(r["t"], r["point"]): r for r in P.rows(record, "rate")}
    lin = {(r["t"], r["point"]): r for r in P.rows(record, "linearisation")}
    rate_c = {(r["t"], r["point"]): r for r in P.rows(record, "rate", control=True)}
    for j, t in enumerate(times):
        color = P.PALETTE[j % len(P.PALETTE)]
        for key, mk, src, lab in (("ntk_train", "o-", rate, "vs NTK"), ("lin_train", "s:", lin, "vs own lin.")):
            v = np.asarray(disp["rms"][key][j])
            ax.errorbar(widths, v[:, 0], yerr=P.CI_Z * v[:, 1], fmt=mk, ms=3, lw=0.9, capsize=2, color=color,
                        mfc="white" if mk.startswith("s") else color,
                        label=f"t={t} {lab}: {src[(t, 'train')]['mean']:.3f}")
        v = np.asarray(disp["rms"]["nngp_train"][j])
        ax.plot(widths, v[:, 0], "x-", color="0.6", ms=4, lw=0.7,
                label=f"t={t} vs NNGP (control): {rate_c[(t, 'train')]['mean']:.3f}")
    v0 = np.asarray(disp["rms"]["ntk_train"][0])[:, 0]
    ax.plot(widths, v0[0] * (widths / widths[0]) ** -0.5, color="k", lw=1, ls="--", label=r"$n^{-1/2}$ (claim)")
    ax.set(xscale="log", yscale="log", xlabel="width n", ylabel="rms gap on the training set",
           title="(b) rms gap vs width; fitted exponents")
    ax.set_xticks(widths, [f"{int(w)}" for w in widths])
    ax.minorticks_off()
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo / 30.0, hi)
    ax.legend(frameon=False, fontsize=4.8, ncol=2, loc="lower left")

    # (c) extrapolated mean gap
    ax = axes[0][2]
    rows = P.rows(record, "limit")
    rows_c = P.rows(record, "limit", control=True)
    x = np.arange(len(rows))
    ax.errorbar(x, P.column(rows, "mean"), yerr=P.CI_Z * P.column(rows, "se"), fmt="o", ms=2.5, lw=0.8,
                capsize=1.5, color=P.PALETTE[0], label="NTK predictor (claim 0)")
    ax.errorbar(x, P.column(rows_c, "mean"), yerr=P.CI_Z * P.column(rows_c, "se"), fmt="x", ms=3, lw=0.6,
                capsize=1.5, color="0.55", label="NNGP predictor (control)")
    ax.axhline(0.0, color="k", lw=0.8)
    per = n_train + 1
    for j, t in enumerate(times):
        ax.axvspan(j * per - 0.5, (j + 1) * per - 0.5, color="0.93" if j % 2 else "white", zorder=0)
        ax.text(j * per + per / 2 - 0.5, 0.70, f"t={t}", transform=ax.get_xaxis_transform(), ha="center",
                va="top", fontsize=6)
    ax.set(xlabel=f"row: step t x point (train 1..{n_train}, then test)",
           ylabel="mean gap at 1/n = 0 (c0 of c0 + c1/n fit)", title="(c) limit of the mean paired gap")
    ax.set_xticks([])
    m, se = P.column(rows, "mean"), P.column(rows, "se")
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.5 * (hi - lo))
    ax.text(0.02, 0.80, f"NTK rows: max |c0| = {np.abs(m).max():.2g}, max 95% half-width {P.CI_Z * se.max():.2g}",
            transform=ax.transAxes, fontsize=6, color=P.PALETTE[0])
    ax.legend(frameon=False, fontsize=6, loc="upper left")

    fig.suptitle(f"{prm['activation']} MLP, depth L={prm['depth']}, $\\sigma_w^2$={prm['sigma_w2']:g}, "
                 f"$\\sigma_b^2$={prm['sigma_b2']:g}, NTK param.; full-batch GD, $\\eta$={prm['eta']:g}, "
                 f"loss $|f-y|^2/(2N)$, N={n_train}, d={prm['d']}; gap = network - predictor from the same $f_0$",
                 fontsize=7.5)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("kernels.lazy-training")
