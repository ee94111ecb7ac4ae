"""Figure for `scaling.mup-width-coord`: microsoft/mup-style coordinate checks over width, with exponents printed.

Top row (SGD) and bottom row (Adam): one panel per parametrization, the l1 size of the last hidden layer's feature
update ΔW x against the training step, one line per width (dark = narrow, yellow = wide), ±95% over seeds; each
panel prints the exponent fitted over widths (at t = 1 for SP, the last step otherwise) and the theory's. Flat in
width = µP. Last panel: every fitted exponent with its 95% interval against the theory (the verdict's rows).
Run ``python -m figures.mup_width_coord``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P
from theory_lab.kernels.coord_check import plot_coord_check

NAMES = {"mup": "µP", "sp": "SP", "ntk": "NTK"}


def plot(record: Mapping[str, Any]):
    disp = record["display"]
    widths = disp["widths"]
    fig, axes = P.new_figure(ncols=3, nrows=2, width=3.0, height=2.5)
    where = {("mup", "sgd"): (0, 0), ("sp", "sgd"): (0, 1), ("ntk", "sgd"): (0, 2), ("mup", "adam"): (1, 0),
             ("sp", "adam"): (1, 1)}
    for panel in disp["panels"]:
        par, opt = panel["parametrization"], panel["optimizer"]
        ax = axes[where[(par, opt)]]
        values = np.asarray(panel["weight_update"], dtype=np.float64)
        exps = {int(t): e for t, e in panel["expected"].items()}
        fit_step = 1 if exps.get(values.shape[-1] - 1) is None else values.shape[-1] - 1
        plot_coord_check(ax, widths, values, expected=exps.get(fit_step), fit_step=fit_step,
                         ylabel="l1(ΔW x), last hidden layer" if where[(par, opt)][1] == 0 else None,
                         title=f"{NAMES[par]}, {opt.upper()} (η = {panel['lr']:g})")
        if where[(par, opt)] == (0, 0):
            ax.legend(frameon=False, fontsize=6, loc="lower right")
    # Summary panel: fitted exponents vs theory.
    ax = axes[1, 2]
    rows = P.rows(record, "width exponents")
    labels = [f"{NAMES[r['parametrization']]}-{r['optimizer']} t={r['step']}" for r in rows]
    y = np.arange(len(rows))
    theory = P.column(rows, "theory")
    mean = P.column(rows, "mean")
    tol = np.asarray([r.get("tolerance") or np.nan for r in rows])
    ax.errorbar(mean, y, xerr=P.CI_Z * P.column(rows, "se"), fmt="o", ms=3.5, color=P.PALETTE[0], mfc="white",
                capsize=2, lw=1, label="fitted ±95%")
    ax.errorbar(mean, y, xerr=tol, fmt="none", color=P.PALETTE[0], alpha=0.3, lw=4, label="verdict tolerance")
    ax.scatter(theory, y, marker="|", s=120, color=P.PALETTE[1], zorder=4, label="theory")
    ax.scatter(np.full(len(rows), -0.5), y, marker="x", s=14, color="0.5", zorder=4, label="control (lazy −½)")
    ax.set_yticks(y, labels, fontsize=6)
    ax.invert_yaxis()
    ax.axvline(0, color="0.85", lw=0.8, zorder=0)
    ax.set(xlabel="exponent b in l1(ΔW x) ∝ n^b", title="fitted vs theory")
    ax.legend(frameon=False, fontsize=5.5, loc="upper right")
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("scaling.mup-width-coord")
