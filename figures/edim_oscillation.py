"""Figure for `kernels.edim-oscillation`: measured effective dimensions against the published law.

One panel per input dimension d: the published E[EDim(l)] = m[1 - (1-2/pi)^l] (black line), its claimed revival-peak
depths l_k* (dotted verticals) and height 0.79 m (dashed horizontal), and the simulated means (±95%) of the numerical
rank at NumPy's tolerance, at the stated relative tolerance, and the entropy effective rank. Last panel: the exact
He-init identity E|h^l|^2/n = |x|^2/d = 1 (the evidence group that passes on the same networks).
Run ``python -m figures.edim_oscillation``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P
from theory_lab.kernels import edim as ed

LABELS = {"rank_np": "rank (NumPy tol)", "rank_tol": "rank (rel tol {tol:g})", "erank": "entropy eff. rank"}


def plot(record: Mapping[str, Any]):
    disp, p = record["display"], record["params"]
    ds = list(disp["by_d"])
    m, depth = disp["m"], disp["depth"]
    fig, axes = P.new_figure(ncols=len(ds) + 1, width=3.0, height=2.7)
    ll = np.linspace(0, depth, 200)
    for col, d in enumerate(ds):
        ax = axes[0][col]
        P.theory_line(ax, ll, ed.claimed_edim(ll, m), "k", label="published law m[1-(1-2/$\\pi$)$^l$]")
        for lk in disp["peaks"]:
            ax.axvline(lk, color="0.5", lw=0.8, ls=":")
        ax.axhline(disp["peak_height"], color="0.5", lw=0.8, ls="--", label="claimed peak height 0.79 m")
        ax.plot([], [], color="0.5", lw=0.8, ls=":", label="claimed peak depths $l_k^*$")
        layers = np.arange(depth + 1)
        for k, name in enumerate(LABELS):
            e = disp["by_d"][d][name]
            P.sim_points(ax, layers + 0.12 * (k - 1), np.asarray(e["mean"]), np.asarray(e["se"]),
                         P.PALETTE[k + 1], label=LABELS[name].format(tol=p["rel_tol"]),
                         marker="os^"[k])
        ax.set(xlabel="layer l", ylabel="effective dimension" if col == 0 else None, ylim=(0, 1.08 * m),
               title=f"m={m}, n={disp['n']}, d={d}" + (" (rank-deficient input)" if int(d) < m else ""))
        if col == 0:
            ax.legend(frameon=False, fontsize=5.5, loc="lower left")
    ax = axes[0][-1]
    for k, d in enumerate(ds):
        e = disp["by_d"][d]["sq_norm"]
        layers = np.arange(depth + 1)
        P.sim_points(ax, layers + 0.15 * k, np.asarray(e["mean"]), np.asarray(e["se"]), P.PALETTE[k + 1],
                     label=f"d={d}")
    ax.axhline(1.0, color="k", lw=1.4, label="theory |x|$^2$/d = 1 (exact)")
    ax.plot(np.arange(depth + 1), 1.1 ** np.arange(depth + 1), color="0.5", ls=":", lw=1, label="control 1.1$^l$")
    ax.set(xlabel="layer l", ylabel="mean |h$^l$|$^2$/n", title="He-init norm (passes)", ylim=(0.7, 1.6))
    ax.legend(frameon=False, fontsize=6)
    fig.suptitle("Published EDim law vs standard effective dimensions (expected verdict FAIL: the law is refuted; "
                 "the exact norm identity on the same networks passes)", fontsize=8)
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("kernels.edim-oscillation")
