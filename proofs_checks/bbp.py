"""`rmt.bbp`: the Baik–Ben Arous–Péché transition of a spiked sample covariance (top eigenvalue and overlap).

Theory: :mod:`theory_lab.rmt.spiked` (limits, threshold, critical window, null Tracy–Widom mean). Simulator:
:func:`~theory_lab.rmt.spiked.simulate_spiked_covariance_tridiagonal` (statistic-level sampler: the exact
tridiagonal model, truncated with a per-trial certificate; tested in distribution against the data-level
:func:`~theory_lab.rmt.spiked.simulate_spiked_covariance` in ``tests/test_spiked.py``). Figure: ``figures/bbp.py``.

Evidence groups, all computed from the same sweep (every gamma, every ell, two sizes p_small < p_large):
  * "limits": the limits of lambda_1 and |<u,v>|^2 above the threshold (Richardson-extrapolated in 1/n from the two
    sizes) and of lambda_1 below it (each size, with the null Tracy–Widom shift as declared finite-size term);
  * "subcritical overlap decay": below the threshold E|<u,v>|^2 -> 0 at least as fast as p^(-1/2);
  * "transition gamma=..": where the rescaled curves of the two sizes cross (finite-size scaling) versus 1+sqrt(gamma).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.rmt import spiked as sp
from theory_lab.rules import Agree, BoundHolds, Row, TransitionAt, fit_power_law, locate_crossing, mean_and_se
from theory_lab.sweep import Grid, SweepResult

#: A point is compared with a limit only if |ell - ell_c| >= K_WINDOW critical windows (``spiked.critical_window``)
#: at every size used for it: inside, the statistics follow the critical laws, not the limits.
K_WINDOW = 3.0
#: Below the threshold E|<u,v>|^2 must decay in p at least this fast (delocalisation predicts p^-1).
DECAY_BOUND = -0.5
#: Trials whose truncation certificate exceeds this are set to NaN (named and INCONCLUSIVE, never averaged).
MAX_TRUNC_RESID = 1e-10
#: Rescaling exponents of the finite-size-scaling crossing: at ell_c, E|<u,v>|^2 ~ p^(-1/3), E lambda_1 - b ~ p^(-2/3).
OVERLAP_EXP, EIG_EXP = 1.0 / 3.0, 2.0 / 3.0

#: Coarse below both thresholds, step 0.05 (about one critical window at p_large = 8000) across them, then a tail.
DEFAULT_ELL = ((1.0, 1.1, 1.2, 1.3, 1.4) + tuple(round(1.45 + 0.05 * k, 2) for k in range(31))
               + (3.2, 3.5, 4.0, 5.0, 6.0))


def n_for(p: int, gamma: float) -> int:
    return max(1, int(round(p / gamma)))


def threshold(gamma: float, control: bool) -> float:
    """ell_c of the theory under test; the negative control's misprint drops the square root (1 + gamma)."""
    return 1.0 + gamma if control else float(sp.bbp_threshold(gamma))


def richardson(m_small: float, se_small: float, n_small: int, m_large: float, se_large: float, n_large: int):
    """Limit of a mean with expansion L + c/n + O(n^-2) from two sizes: (n_L m_L - n_S m_S)/(n_L - n_S), and its SE
    (independent sizes)."""
    w = n_large - n_small
    return ((n_large * m_large - n_small * m_small) / w,
            float(np.hypot(n_large * se_large, n_small * se_small) / w))


class BBP(Check):
    id = "rmt.bbp"
    source = Source(
        paper="Baik, Ben Arous & Péché, Phase transition of the largest eigenvalue for nonnull complex sample "
              "covariance matrices (Ann. Probab. 2005); Baik & Silverstein (J. Multivariate Anal. 2006, "
              "arXiv:math/0408165); Paul, Asymptotics of sample eigenstructure for a large dimensional spiked "
              "covariance model (Statistica Sinica 2007)",
        where="BBP Thm 1.1 (transition at 1+sqrt(gamma)); Baik-Silverstein main theorem (eigenvalue limits); Paul's "
              "eigenvector theorem (overlap (1-g/(l-1)^2)/(1+g/(l-1))); notes section 4b (theorem numbers not "
              "re-checked against the PDFs)",
        arxiv="math/0403022",
    )
    statement = ("For Sigma = I + (ell-1)vv^T and p/n = gamma, the top eigenvalue of XX^T/n tends to "
                 "ell(1+gamma/(ell-1)) and the squared overlap of its eigenvector with v to "
                 "(1-gamma/(ell-1)^2)/(1+gamma/(ell-1)) when ell > 1+sqrt(gamma), and to the bulk edge "
                 "(1+sqrt(gamma))^2 and 0 when ell < 1+sqrt(gamma); the transition sits at ell = 1+sqrt(gamma).")
    params = (
        Param("gamma", "floats", (0.5, 2.0), "aspect ratios p/n", low=0.05, high=10.0),
        Param("ell", "floats", DEFAULT_ELL, "spikes (top population eigenvalue); the grid must bracket every "
              "threshold 1+sqrt(gamma), spaced at most ~ one critical window there for the crossing", low=1.0,
              high=100.0),
        Param("p", "ints", (1000, 8000), "two dimensions p_small, p_large (p_large >= 2 p_small); n = round(p/gamma)",
              low=100, high=10_000_000),
    )
    profiles = {
        # 240 seeds: 164 points x 240 = 39,360 trials, just under ten 4096-trial chunks (250 would start an 11th).
        "quick": Profile(seeds=240, description="p = 1000 and 8000, gamma 0.5 and 2, 41 spikes; ~30 s on a busy "
                                                "2-core CPU"),
        "full": Profile(seeds=1000, params={"p": (8000, 64000),
                                            "ell": tuple(round(1.0 + 0.01 * k, 2) for k in range(301))
                                            + (5.0, 6.0, 8.0)},
                        description="p = 8000 and 64000, ell step 0.01"),
    }
    tolerance = (
        "Windows: w(p) = sqrt(sqrt(g) sigma_edge(p,n)) with sigma_edge Johnstone's edge scale, the spike offset at "
        "which the limiting outlier separation (ell-ell_c)^2/sqrt(g) equals the edge fluctuation; points within "
        f"K={K_WINDOW:g} windows of ell_c are never compared with a limit. "
        "(1) 'limits', Agree at family-wise alpha=0.01 (Holm over rows): above the threshold "
        "(ell >= ell_c + K w(p_small)) "
        "the means of lambda_1 and |<u,v>|^2 have expansions L + c/n + O(n^-2) (smooth functions of Gaussian "
        "quadratic forms), so the 1/n term is removed exactly by Richardson extrapolation from the two sizes, "
        "(n_L m_L - n_S m_S)/(n_L - n_S), and compared with the limit with no finite-size term (the O(n^-2) rest is "
        "relatively ~(n |ell-ell_c|^3)^-2, i.e. O(K^-6) at the window's edge). Below it (ell <= ell_c - K w(p), "
        "at each size) lambda_1 is compared with "
        "(1+sqrt g)^2 with the declared finite-size term |E_TW - b|, E_TW = (mu_np + sigma_np E[TW1])/n the "
        "Tracy-Widom mean of the null case (Ma 2012 centring, E[TW1] = -1.2065): lambda_1 is pathwise increasing in "
        "ell, so E lambda_1 >= the null mean, and below the window the spike raises it by less than |E_TW - b|. "
        f"(2) 'subcritical overlap decay', BoundHolds (alpha=0.01, one-sided, Bonferroni): for ell <= ell_c - K "
        f"w(p_small) the exponent of E|<u,v>|^2 in p (two-size log-log slope, delta-method SE) is <= {DECAY_BOUND:g}; "
        "delocalisation predicts -1. (3) 'transition gamma=g', TransitionAt at alpha=0.01/#gamma (Bonferroni over "
        "gammas and within over 2 rows): finite-size scaling makes p^(1/3) E|<u,v>|^2 and p^(2/3)(E lambda_1 - b) "
        "functions of (ell-ell_c) p^(1/3) up to O(p^(-1/3)), so the two sizes' curves cross at ell_c + "
        "O((p_S p_L)^(-1/3)); the crossing of their difference with 0 is located by linear interpolation "
        "(rules.locate_crossing, scanning down from the largest ell, delta-method SE) and its CI must contain "
        "1+sqrt(gamma), with declared finite-size term w(p_large), the critical window of the larger size (a bound on "
        "the crossing's O((p_S p_L)^(-1/3)) shift and on the interpolation error for a grid spaced ~w(p_large)). "
        f"Trials whose truncation certificate exceeds {MAX_TRUNC_RESID:g} are NaN (INCONCLUSIVE, named).")
    negative_control = ("the threshold misprinted as 1 + gamma (square root dropped), with the same limit formulas "
                        "and windows placed at that threshold: the located transitions exclude it, and rows it "
                        "puts on the wrong side of the transition disagree")
    figure = "bbp"

    # ------------------------------------------------------------------------------------------ declaration helpers

    def sizes(self, p: Mapping[str, Any]) -> tuple[int, int]:
        small, large = sorted(int(s) for s in p["p"])
        return small, large

    def validate(self, p: Mapping[str, Any]) -> None:
        if len(p["p"]) != 2 or len(set(p["p"])) != 2:
            raise BadInput(f"parameter p needs exactly two distinct sizes (p_small,p_large), got {p['p']}")
        small, large = self.sizes(p)
        if large < 2 * small:
            raise BadInput(f"p_large={large} must be at least 2 x p_small={small} to resolve the finite-size crossing")
        if len(set(p["ell"])) < 4:
            raise BadInput("parameter ell needs at least 4 distinct spikes (a sweep across the threshold)")
        for g in p["gamma"]:
            if n_for(small, g) < 10:
                raise BadInput(f"gamma={g:g} leaves n={n_for(small, g)} < 10 samples at p={small}; "
                               "raise p or lower gamma")
            lc = float(sp.bbp_threshold(g))
            if not (min(p["ell"]) < lc < max(p["ell"])):
                raise BadInput(f"ell grid [{min(p['ell']):g}, {max(p['ell']):g}] does not bracket the threshold "
                               f"1+sqrt({g:g})={lc:.4g}; the transition cannot be located")

    def rows_for(self, p: Mapping[str, Any]) -> dict[int, int]:
        """Rows of the truncated tridiagonal model per size. The statistic-level sampler's shapes depend on the rows
        only (p and n are traced chi degrees of freedom), so when one row count is valid for every point (it must
        not exceed any p) the whole sweep is one compiled program."""
        need = {s: max(sp.truncation_rows(s, n_for(s, g)) for g in p["gamma"]) for s in self.sizes(p)}
        shared = max(need.values())
        return {s: shared for s in need} if shared <= min(need) else need

    def grid(self, p: Mapping[str, Any]) -> Grid:
        rows = self.rows_for(p)
        pts = [{"rows": rows[s], "gamma": float(g), "p": float(s), "n": float(n_for(s, g)), "ell": float(e)}
               for g in p["gamma"] for s in self.sizes(p) for e in sorted(set(p["ell"]))]
        return Grid.from_points(pts, static=("rows",))

    def simulate(self, key, static, dynamic):
        import jax.numpy as jnp

        out = sp.simulate_spiked_covariance_tridiagonal(key, p=dynamic["p"], n=dynamic["n"], ell=dynamic["ell"],
                                                        rows=static["rows"], dtype=sim_dtype())
        ok = out["trunc_resid"] <= MAX_TRUNC_RESID
        return {"top_eig": jnp.where(ok, out["top_eig"], jnp.nan), "overlap": jnp.where(ok, out["overlap"], jnp.nan),
                "trunc_resid": out["trunc_resid"]}

    # ------------------------------------------------------------------------------------------ evidence

    def _curves(self, p: Mapping[str, Any], sweep: SweepResult, g: float, size: int) -> dict[str, np.ndarray]:
        ells = np.asarray(sorted(set(p["ell"])), dtype=np.float64)
        out: dict[str, list] = {"ell": ells}
        for stat in ("top_eig", "overlap"):
            m, s, b = [], [], []
            for e in ells:
                mean, se, bad = mean_and_se(sweep.sel(stat, gamma=g, p=size, ell=float(e)))
                m.append(float(mean)), s.append(float(se)), b.append(int(bad))
            out[stat], out[stat + "_se"], out[stat + "_bad"] = np.asarray(m), np.asarray(s), np.asarray(b)
        return out

    def crossings(self, p: Mapping[str, Any], sweep: SweepResult, g: float) -> dict[str, Any]:
        """Finite-size-scaling crossings of the two sizes' rescaled curves (scanning down from the largest ell)."""
        small, large = self.sizes(p)
        cs, cl = self._curves(p, sweep, g, small), self._curves(p, sweep, g, large)
        ratio_s, ratio_l = small / n_for(small, g), large / n_for(large, g)
        res: dict[str, Any] = {"ell": cs["ell"].tolist()}
        for stat, expo in (("overlap", OVERLAP_EXP), ("top_eig", EIG_EXP)):
            edge_s = float(sp.bulk_edge(ratio_s)) if stat == "top_eig" else 0.0
            edge_l = float(sp.bulk_edge(ratio_l)) if stat == "top_eig" else 0.0
            ys, yl = small**expo * (cs[stat] - edge_s), large**expo * (cl[stat] - edge_l)
            ses, sel = small**expo * cs[stat + "_se"], large**expo * cl[stat + "_se"]
            diff, dse = yl - ys, np.hypot(sel, ses)
            x_star, x_se = locate_crossing(cs["ell"][::-1], diff[::-1], dse[::-1], 0.0)
            res[stat] = {"scaled_small": ys.tolist(), "scaled_small_se": ses.tolist(), "scaled_large": yl.tolist(),
                         "scaled_large_se": sel.tolist(), "crossing": x_star, "crossing_se": x_se,
                         "n_bad": int(cs[stat + "_bad"].sum() + cl[stat + "_bad"].sum())}
        return res

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        small, large = self.sizes(p)
        limit_rows: list[Row] = []
        allowance: dict[tuple, float] = {}
        decay_rows: list[Row] = []
        transitions: list[Evidence] = []
        for g in p["gamma"]:
            g = float(g)
            n_s, n_l = n_for(small, g), n_for(large, g)
            ratio_s, ratio_l = small / n_s, large / n_l
            lc_s, lc_l = threshold(ratio_s, control), threshold(ratio_l, control)
            w_s, w_l = float(sp.critical_window(small, n_s)), float(sp.critical_window(large, n_l))
            cs, cl = self._curves(p, sweep, g, small), self._curves(p, sweep, g, large)
            for j, e in enumerate(cs["ell"]):
                e = float(e)
                if e >= lc_s + K_WINDOW * w_s and e >= lc_l + K_WINDOW * w_l:  # above, outside both windows
                    for stat, limit_fn in (("top_eig", sp.top_eigenvalue_limit), ("overlap", sp.overlap_limit)):
                        th_s = float(limit_fn(e, ratio_s, threshold=lc_s))
                        th_l = float(limit_fn(e, ratio_l, threshold=lc_l))
                        dev, se = richardson(cs[stat][j] - th_s, cs[stat + "_se"][j], n_s,
                                             cl[stat][j] - th_l, cl[stat + "_se"][j], n_l)
                        label = {"gamma": g, "ell": e, "stat": stat, "regime": "above", "p": "extrapolated"}
                        allowance[(g, e, stat, "extrapolated")] = 0.0
                        limit_rows.append(Row(label, th_l, th_l + dev, se,
                                              int(cs[stat + "_bad"][j] + cl[stat + "_bad"][j])))
                per_size = ((small, n_s, ratio_s, lc_s, w_s, cs), (large, n_l, ratio_l, lc_l, w_l, cl))
                for size, n, ratio, lc, w, c in per_size:
                    if e <= lc - K_WINDOW * w:  # below, outside this size's window: lambda_1 -> bulk edge
                        th = float(sp.top_eigenvalue_limit(e, ratio, threshold=lc))
                        label = {"gamma": g, "ell": e, "stat": "top_eig", "regime": "below", "p": size}
                        allowance[(g, e, "top_eig", size)] = abs(float(sp.null_top_eigenvalue_mean(size, n))
                                                                 - float(sp.bulk_edge(ratio)))
                        limit_rows.append(Row(label, th, float(c["top_eig"][j]), float(c["top_eig_se"][j]),
                                              int(c["top_eig_bad"][j])))
                if e <= lc_s - K_WINDOW * w_s and e <= lc_l - K_WINDOW * w_l:
                    m = np.asarray([cs["overlap"][j], cl["overlap"][j]])
                    s = np.asarray([cs["overlap_se"][j], cl["overlap_se"][j]])
                    bad = int(cs["overlap_bad"][j] + cl["overlap_bad"][j])
                    slope, slope_se, _ = fit_power_law(np.asarray([small, large], float), m, s) if bad == 0 else (
                        np.nan, np.nan, np.nan)
                    decay_rows.append(Row({"gamma": g, "ell": e, "stat": "overlap_exponent",
                                           "overlaps": f"{m[0]:.3g}, {m[1]:.3g}"}, DECAY_BOUND, slope, slope_se, bad))
            cross = self.crossings(p, sweep, g)
            t_rows = [Row({"gamma": g, "stat": f"{stat}_crossing", "scaling": f"p^{expo:.3g}"},
                          threshold(ratio_l, control), float(cross[stat]["crossing"]),
                          float(cross[stat]["crossing_se"]), cross[stat]["n_bad"])
                      for stat, expo in (("overlap", OVERLAP_EXP), ("top_eig", EIG_EXP))]
            transitions.append(Evidence(
                f"transition gamma={g:g}",
                TransitionAt(alpha=0.01 / len(p["gamma"]), finite_size=w_l,
                             finite_size_doc=f"critical window at p_large: {w_l:.4g}"),
                t_rows))

        def limit_allowance(row: Row) -> float:
            lab = row.label
            return allowance[(lab["gamma"], lab["ell"], lab["stat"], lab["p"])]

        out: list[Evidence] = []
        if limit_rows:
            out.append(Evidence("limits", Agree(alpha=0.01, correction="holm", finite_size=limit_allowance,
                                                finite_size_doc="above: 0 after Richardson extrapolation in 1/n; "
                                                                "below (lambda_1): |null Tracy-Widom mean - edge|"),
                                limit_rows))
        if decay_rows:
            out.append(Evidence("subcritical overlap decay", BoundHolds(alpha=0.01, side="upper"), decay_rows))
        return out + transitions

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        """Per gamma and size: mean ± SE of both statistics at every ell, the windows, and the crossing curves."""
        small, large = self.sizes(p)
        out: dict[str, Any] = {"sizes": [small, large], "k_window": K_WINDOW, "gamma": {}}
        for g in p["gamma"]:
            g = float(g)
            per = {}
            for size in (small, large):
                c = self._curves(p, sweep, g, size)
                n = n_for(size, g)
                per[str(size)] = {"n": n, "window": float(sp.critical_window(size, n)),
                                  **{k: np.asarray(v).tolist() for k, v in c.items()}}
            out["gamma"][f"{g:g}"] = {"sizes": per, "crossings": self.crossings(p, sweep, g)}
        out["max_trunc_resid"] = float(np.nanmax(sweep.data["trunc_resid"]))
        out["rows"] = {str(k): v for k, v in self.rows_for(p).items()}
        return out


CHECK = register(BBP())
