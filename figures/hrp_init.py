"""Figure for `lora.hrp-init`: LoRA residual ||M - B A^T||^2 after convergence versus the preheating rank p, one panel
per spectrum: HRP (points, ±95%), the random-init law (1 - r/n)||M||^2 and the Eckart-Young oracle (lines), the
notes' reference values (crosses) and the negative control (1 - p/n)||M||^2 (dotted).
Run ``python -m figures.hrp_init``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P


def plot(record: Mapping[str, Any]):
    d = record["display"]
    ps = np.asarray(d["ps"], dtype=float)
    n, r = d["n"], d["r"]
    decays = list(d["curves"])
    fig, axes = P.new_figure(ncols=len(decays), width=3.4, height=2.8)
    for k, (ax, dec) in enumerate(zip(axes[0], decays)):
        c = d["curves"][dec]
        color = P.PALETTE[k % len(P.PALETTE)]
        ax.axhline(c["random_theory"], color="0.3", lw=1.2, ls="--", label="random init (1-r/n)||M||$^2$")
        ax.axhline(c["oracle"], color="0.3", lw=1.2, ls="-.", label="SVD oracle $\\Sigma_{i>r}\\,\\sigma_i^2$")
        ax.plot(ps, (1 - ps / n) * c["norm2"], color="0.6", lw=1, ls=":", label="control (1-p/n)||M||$^2$")
        P.sim_points(ax, ps, c["hrp"], c["hrp_se"], color, label="HRP(p), simulated")
        ax.errorbar([r], [c["random"]], yerr=[P.CI_Z * c["random_se"]], fmt="s", ms=4, color="0.2", mfc="white",
                    label="random A, simulated")
        if d["notes"] and np.isclose(float(dec), 1.0):
            q = np.asarray([float(x) for x in d["notes"]])
            ax.plot(q, list(d["notes"].values()), "x", color="k", ms=5, label="notes (MC)")
            ax.legend(handles=ax.get_lines()[-1:], frameon=False, fontsize=6.2, loc="center right")
        ax.set(xlabel="preheating rank p", ylabel="residual ||M - BA$^T$||$_F^2$" if k == 0 else None,
               title=f"$\\sigma_i = i^{{-{dec}}}$, m = n = {n}, r = {r}" if dec != "0" else f"flat spectrum, r = {r}")
        ax.set_xticks(ps)
        if k == len(decays) - 1:  # the last panel has room at the lower left (residuals stay near the random line)
            ax.legend(frameon=False, fontsize=6.2, loc="lower left")
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("lora.hrp-init")
