"""Figure for `icl.transformer-vs-baselines` (Garg et al. style): normalised test error against the number of
in-context examples k for the trained transformer (points, ±95% over trained models) and the exact baseline curves
(Bayes/ridge, least squares with its noise-induced peak at k = d, one tuned GD step = the negative control,
averaging); the declared tolerance band around the Bayes curve. Right: the training loss against the step (on the
curriculum's current task until the dotted line, where prompts reach full size).
Run ``python -m figures.transformer_baselines``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P


def _arr(v):
    return np.asarray([np.nan if x is None else x for x in v], dtype=np.float64)


def plot(record: Mapping[str, Any]):
    disp, prm = record["display"], record["params"]
    k = np.asarray(disp["k"], dtype=np.float64)
    fig, axes = P.new_figure(ncols=2, width=3.6, height=2.9)
    ax = axes[0][0]
    bayes = _arr(disp["bayes"])
    frac = float(prm["max_excess"])
    ax.fill_between(k, bayes, bayes * (1 + frac), color=P.PALETTE[0], alpha=0.15, lw=0,
                    label=f"tolerance: Bayes x (1+{frac:g})")
    P.theory_line(ax, k, bayes, P.PALETTE[0], label="Bayes (ridge $\\lambda=\\sigma^2/\\psi^2$), exact")
    ols = _arr(disp["ols"])
    ax.plot(k, ols, color=P.PALETTE[1], lw=1.2, label="least squares (min-norm), exact; $\\infty$ at k=d$\\pm$1")
    ax.plot(k, _arr(disp["gd"]), color=P.PALETTE[3], lw=1.2, ls="--", label="1 tuned GD step (neg. control)")
    ax.plot(k, _arr(disp["averaging"]), color="0.55", lw=1.0, ls=":", label="averaging")
    m, s = (np.asarray(a) for a in disp["err_ridge"])
    ax.plot(k, m, "x", color=P.PALETTE[0], ms=4, label="ridge on the eval prompts")
    m, s = (np.asarray(a) for a in disp["err_tf"])
    P.sim_points(ax, k, m, s, P.PALETTE[2], label="transformer (mean of trained models)")
    d = int(prm["d"])
    ax.axvline(d, color="0.8", lw=0.8, zorder=0)
    top = float(prm["psi2"]) + float(prm["sigma2"]) / d
    ax.set(xlabel="in-context examples k", ylabel="test error / d", ylim=(0, 2.2 * top),
           title=f"d={d}, $\\sigma^2$={prm['sigma2']:g}: {prm['n_layer']}L x {prm['n_head']}H x {prm['n_embd']}")
    ax.legend(frameon=False, fontsize=5.5, loc="upper right")
    ax = axes[0][1]
    tl, tls = (np.asarray(a) for a in disp["train_loss"])
    steps = int(prm["steps"])
    x = (np.arange(len(tl)) + 0.5) * steps / len(tl)
    P.sim_points(ax, x, tl, tls, P.PALETTE[2], label="training loss (window mean)")
    ax.axhline(disp["bayes_avg"], color=P.PALETTE[0], lw=1.2, label="Bayes risk, averaged over k")
    end = int(disp.get("curriculum_end", 0))
    if end:
        ax.axvline(end, color="0.6", lw=0.8, ls=":", label="curriculum reaches the full task")
    prec = "float32" if prm.get("train_float32") else "sim. dtype"
    ax.set(xlabel="Adam step", ylabel="MSE (scored positions)", yscale="log",
           title=f"training: batch {prm['batch']}, lr {prm['lr']:g}, {prec}")
    ax.legend(frameon=False)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("icl.transformer-vs-baselines")
