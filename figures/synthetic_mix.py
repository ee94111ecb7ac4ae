"""Figure for `rmt.synthetic-mix`: accuracy of the real + synthetic ridge classifier.

Left: signed test accuracy against label noise eps (general theorem) for several verification / pruning strategies.
Right: accuracy against the synthetic-to-real ratio m/n (toy theorem, covariance estimated from nhat samples).
Lines: the theory the check tests (solid) and the published formulas (dotted, where they differ visibly). Points:
the Richardson-extrapolated simulation (sizes p and 2p) ± 95%; small grey ticks: the raw simulation at size 2p.
Run ``python -m figures.synthetic_mix``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab import plotting as P
from theory_lab.rmt import synthetic_mix as sm

GROUP = "moments and accuracy"


def _strategy_label(rho: float, phi: float) -> str:
    names = {(0.0, 1.0): "oracle", (1.0, 1.0): "no verification", (1.0, 0.5): "weak"}
    name = names.get((rho, phi), "verifier")
    return f"{name} (rho={rho:g}, phi={phi:g})"


def plot(record: Mapping[str, Any]):
    prm = record["params"]
    variant = prm.get("theory", "corrected")
    other = "published" if variant == "corrected" else "corrected"
    raw = record["display"]["raw_acc"]
    fig, axes = P.new_figure(ncols=2, width=4.0, height=3.0)
    ax_a, ax_b = axes[0]
    eps_grid = np.linspace(0.0, 1.0, 101)
    for k, (rho, phi) in enumerate(zip(prm["rho"], prm["phi"])):
        color = P.PALETTE[k % len(P.PALETTE)]
        rho, phi = float(rho), float(phi)

        def curve_a(e, v):
            return sm.model_moments(prm["n"], prm["m"], prm["p"], prm["mu"], prm["beta"], prm["mu_perp"],
                                    prm["sigma2"], prm["kappa"], e, rho, phi, prm["gam"], v)["acc"]

        P.theory_line(ax_a, eps_grid, np.array([curve_a(e, variant) for e in eps_grid]), color,
                      label=_strategy_label(rho, phi))
        alt = np.array([curve_a(e, other) for e in eps_grid])
        ax_a.plot(eps_grid, alt, color=color, lw=0.9, ls=":", zorder=1)
        rs = P.rows(record, GROUP, theorem="A", rho=rho, phi=phi, stat="acc")
        if rs:
            P.sim_points(ax_a, P.column(rs, "eps"), P.column(rs, "mean"), P.column(rs, "se"), color, label=None)
        big = [r for r in raw if r["theorem"] == "A" and r["size"] == 2 and r["rho"] == rho and r["phi"] == phi]
        ax_a.plot([r["eps"] for r in big], [r["mean"] for r in big], "_", color="0.45", ms=6, zorder=2)

        ratios = np.geomspace(max(min(prm["ratio"]) / 2, 1e-3), max(prm["ratio"]) * 2, 80)

        def curve_b(r, v):
            return sm.toy_moments(prm["n"], r * prm["n"], prm["p"], prm["nhat"], prm["mu_toy"], prm["eps_toy"], rho,
                                  phi, prm["gam"], v)["acc"]

        P.theory_line(ax_b, ratios, np.array([curve_b(r, variant) for r in ratios]), color, label=None)
        ax_b.plot(ratios, np.array([curve_b(r, other) for r in ratios]), color=color, lw=0.9, ls=":", zorder=1)
        rs = P.rows(record, GROUP, theorem="B", rho=rho, phi=phi, stat="acc")
        if rs:
            P.sim_points(ax_b, P.column(rs, "m/n"), P.column(rs, "mean"), P.column(rs, "se"), color, label=None)
        big = [r for r in raw if r["theorem"] == "B" and r["size"] == 2 and r["rho"] == rho and r["phi"] == phi]
        ax_b.plot([r["m/n"] for r in big], [r["mean"] for r in big], "_", color="0.45", ms=6, zorder=2)
    real_only = sm.toy_moments(prm["n"], 0.0, prm["p"], prm["nhat"], prm["mu_toy"], prm["eps_toy"], 1.0, 1.0,
                               prm["gam"])["acc"]
    ax_b.axhline(real_only, color="0.5", lw=0.8, ls="--", label=f"real data only ({real_only:.3f})")
    ax_b.plot([], [], color="0.3", lw=1.4, label="strategies: colours as left")
    # Legend proxies for the line and marker conventions.
    ax_a.plot([], [], color="0.3", lw=0.9, ls=":", label=f"{other} formulas")
    ax_a.plot([], [], "o", color="0.3", mfc="white", ms=3.5, label=f"sim., Richardson p={prm['p']}&{2 * prm['p']}")
    ax_a.plot([], [], "_", color="0.45", ms=6, label=f"sim. at p={2 * prm['p']} (raw)")
    ax_a.axhline(0.5, color="0.8", lw=0.6)
    ax_a.set(xlabel=r"label noise $\varepsilon$", ylabel="signed test accuracy",
             title=f"General theorem: p/n={prm['p'] / prm['n']:.3g}, m/n={prm['m'] / prm['n']:.3g}, "
                   f"$\\|\\mu\\|$={prm['mu']:g}, $\\gamma$={prm['gam']:g}\n"
                   f"$\\mu_b$={prm['beta']:g}$\\mu$+$\\mu_\\perp$ ($\\|\\mu_\\perp\\|$={prm['mu_perp']:g}), "
                   f"C eigenvalues {prm['sigma2']:g}(1±{prm['kappa']:g})")
    ax_a.legend(frameon=False, loc="lower left")
    ax_b.set(xscale="log", xlabel="synthetic-to-real ratio m/n", ylabel="signed test accuracy",
             title=f"Toy theorem (C estimated from $\\hat n$ samples)\n"
                   f"p/n={prm['p'] / prm['n']:.3g}, p/$\\hat n$={prm['p'] / prm['nhat']:.3g}, "
                   f"$\\|\\mu\\|$={prm['mu_toy']:g}, $\\varepsilon$={prm['eps_toy']:g}, $\\gamma$={prm['gam']:g}")
    ax_b.legend(frameon=False, loc="upper left")
    P.caption(fig, record)
    return fig


if __name__ == "__main__":
    from figures import main

    main("rmt.synthetic-mix")
