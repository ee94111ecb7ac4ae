"""`rmt.synthetic-mix` and `rmt.synthetic-label-noise-transition`: ridge classifiers trained on real plus verified /
pruned synthetic data (El Firdoussi et al., ICLR 2025, arXiv:2410.08942) and the synthetic-only label-noise phase
transition (Feng et al., arXiv:2406.07515, as the p/m -> 0 limit).

Theory and simulators: :mod:`theory_lab.rmt.synthetic_mix` (Theorem A general, Theorem B toy, Theorem C
synthetic-only; statistic-level samplers whose agreement in distribution with the data-level reference simulators is
tested in ``tests/test_synthetic_mix.py``). Figures: ``figures/synthetic_mix.py``, ``figures/synthetic_transition.py``.

Theory variants. The published formulas (authors' code, notes 1.2-1.4) are off by a p-independent amount whenever
pruning removes samples (alpha < 1); the default theory is the corrected one (pruning = subsampling; see
:func:`theory_lab.rmt.synthetic_mix.subsample_reduction`). ``--set theory=published`` runs either check against the
published formulas with the same rule and data.

Finite size. Both checks compare the limit theory with a Richardson extrapolation of the simulation from two sizes,
(p, n, m, nhat) and (2p, 2n, 2m, 2nhat): value 2 mean(2p) - mean(p), SE sqrt(4 SE(2p)^2 + SE(p)^2). The theory
depends only on the ratios (and the checks' geometry of C, mu, mu_b scales with p), so it is the same at both sizes;
the extrapolation cancels the O(1/p) finite-size bias exactly and leaves O(1/p^2).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
from scipy.stats import norm

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.rmt import synthetic_mix as sm
from theory_lab.rules import Agree, BoundHolds, Row, TransitionAt, fit_power_law, locate_crossing, mean_and_se
from theory_lab.sweep import Grid, SweepResult

#: Per-trial statistics compared (simulator key -> theory key).
STATS = {"acc": "acc", "mean": "M", "second": "V"}

RICHARDSON_DOC = ("Richardson extrapolation 2 mean(2p) - mean(p) from sizes (p, n, m, nhat) and twice that, SE "
                  "sqrt(4 SE_2p^2 + SE_p^2); no further finite-size term")


def richardson(small: np.ndarray, large: np.ndarray) -> tuple[float, float, int]:
    """(2 mean(large) - mean(small), sqrt(4 se_large^2 + se_small^2), non-finite trials): the O(1/p) finite-size
    bias a/p cancels between sizes p and 2p; the remainder is O(1/p^2)."""
    m1, s1, b1 = mean_and_se(small)
    m2, s2, b2 = mean_and_se(large)
    return float(2 * m2 - m1), float(math.sqrt(4 * s2**2 + s1**2)), int(b1 + b2)


def _strategies(p: Mapping[str, Any]) -> list[tuple[float, float]]:
    return [(float(r), float(f)) for r, f in zip(p["rho"], p["phi"])]


def _strategy_name(rho: float, phi: float) -> str:
    names = {(0.0, 1.0): "oracle", (1.0, 1.0): "none", (1.0, 0.5): "weak"}
    return names.get((rho, phi), "verifier")


# ================================================================================================================
# rmt.synthetic-mix
# ================================================================================================================


class SyntheticMix(Check):
    id = "rmt.synthetic-mix"
    source = Source(
        paper="El Firdoussi, Seddik, Hayou, Alami, Alzubaidi & Hacid, Maximizing the Potential of Synthetic Data: "
              "Insights from Random Matrix Theory (ICLR 2025)",
        where="general theorem (arbitrary synthetic mean and covariance; authors' rmt_results.py Delta/Q_bar/"
              "test_expectation(_2)) and toy theorem (covariance estimated from nhat samples; *_toy); notes 1.1-1.6",
        arxiv="2410.08942",
    )
    statement = ("The ridge classifier trained on n real and m synthetic samples with label noise eps, kept with "
                 "probability phi (label correct) or rho (flipped) and normalised by N = n + m, has test mean M, "
                 "second moment V and signed accuracy Phi(M/sqrt(V - M^2)) given by the general theorem for any "
                 "synthetic mean and covariance spectrum, and by the toy theorem when the covariance is estimated "
                 "from nhat real samples (formulas with hard pruning treated as subsampling; the published ones "
                 "put the keep rate inside the self-energy and are a named variant, --set theory=published).")
    params = (
        Param("p", "int", 40, "dimension of the smaller Richardson size (the other is 2p; even)", low=4, high=4000),
        Param("n", "int", 80, "real samples at size p (2n at size 2p)", low=2, high=100_000),
        Param("m", "int", 160, "synthetic samples before pruning at size p, general-theorem sweep", low=1,
              high=1_000_000),
        Param("nhat", "int", 80, "samples behind the estimated covariance (toy theorem) at size p", low=1,
              high=1_000_000),
        Param("mu", "float", 1.5, "||mu||, real class-mean norm (general theorem)", low=0.0, high=10.0, open_low=True),
        Param("mu_toy", "float", 0.7, "||mu|| in the toy-theorem sweep", low=0.0, high=10.0, open_low=True),
        Param("beta", "float", 0.7, "synthetic mean mu_b = beta mu + mu_perp", low=-5.0, high=5.0),
        Param("mu_perp", "float", 1.0, "||mu_perp||, synthetic-mean component orthogonal to mu", low=0.0, high=10.0),
        Param("sigma2", "float", 0.49, "synthetic covariance scale: C eigenvalues sigma2(1 +- kappa)", low=0.0,
              high=10.0, open_low=True),
        Param("kappa", "float", 0.5, "spread of C's two-level spectrum (half sigma2(1+kappa), half sigma2(1-kappa))",
              low=0.0, high=1.0, open_high=True),
        Param("eps", "floats", (0.1, 0.3, 0.5, 0.7, 0.9), "label-noise values (general-theorem sweep)", low=0.0,
              high=1.0),
        Param("eps_toy", "float", 0.2, "label noise in the toy-theorem sweep", low=0.0, high=1.0),
        Param("ratio", "floats", (0.25, 1.0, 4.0, 16.0), "synthetic-to-real ratios m/n (toy-theorem sweep)", low=0.0,
              high=1000.0),
        Param("rho", "floats", (0.0, 1.0, 1.0), "keep probability of flipped labels, one per strategy (default: "
              "oracle, weak, none)", low=0.0, high=1.0),
        Param("phi", "floats", (1.0, 0.5, 1.0), "keep probability of correct labels, paired with rho", low=0.0,
              high=1.0),
        Param("gam", "float", 1.0, "ridge penalty", low=0.0, high=1000.0, open_low=True),
        Param("theory", "str", "corrected", "theory variant: corrected (pruning = subsampling) or published "
              "(authors' code; alpha inside the self-energy)", choices=sm.VARIANTS),
    )
    profiles = {
        # Seeds from standard errors: at p = 40/80 the Richardson SE of M is about 2.5 sd_80/sqrt(R) ~ 0.0023 at
        # R = 200 (sd_100 ~ 0.011 from the stat-vs-data test, x sqrt(100/80)), far below the control's M shifts
        # (0.03-0.1). p = 40/80 rather than 50/100 keeps both checks' quick profiles near 60 s on 2 shared cores.
        "quick": Profile(seeds=200, description="p = 40 and 80 (one program of dimension 80); 27 points x 2 sizes"),
        "full": Profile(seeds=1000, params={"p": 200, "n": 400, "m": 800, "nhat": 400},
                        description="p = 200 and 400 (the notes' ratios p/n = 1/2, m/n = 2)"),
    }
    tolerance = ("Agree at family-wise alpha=0.01 (Holm over all rows) on acc, M = E[w.mu] and V = E[(w.mu)^2 + "
                 "||w||^2] at every point of both sweeps. Compared value: " + RICHARDSON_DOC + ". Justification: the "
                 "finite-size bias of deterministic equivalents and of Phi(.) of a ratio of O(1/sqrt p)-fluctuating "
                 "quadratic forms is O(1/p) for Gaussian data; extrapolating from p and 2p cancels it, the O(1/p^2) "
                 "remainder (~1e-4 at p=40 for biases ~5e-3 at p=40) is below the Monte-Carlo SE.")
    negative_control = ("the same theorems with the normalisation counted after pruning, N' = n + alpha m (alpha = "
                        "expected kept fraction) instead of N = n + m: equivalent to the ridge gam N'/N")
    figure = "synthetic_mix"

    def validate(self, p: Mapping[str, Any]) -> None:
        if p["p"] % 2:
            raise BadInput(f"p={p['p']} must be even (C's two-level spectrum splits the coordinates in halves)")
        if len(p["rho"]) != len(p["phi"]):
            raise BadInput(f"rho has {len(p['rho'])} values and phi {len(p['phi'])}: they pair into strategies")

    # --- points -------------------------------------------------------------------------------------------------

    def points(self, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every compared point at size 1 (dimension p) then the same points at size 2 (2p, 2n, 2m, 2nhat), in the
        fixed order shared by grid and evidence. All run in one compiled program of dimension 2p (``p_active``)."""
        out = []
        base = {"mu": p["mu"], "beta": p["beta"], "mu_perp": p["mu_perp"], "sigma2": p["sigma2"],
                "kappa": p["kappa"], "gam": p["gam"]}
        for size in (1, 2):
            for rho, phi in _strategies(p):
                for eps in p["eps"]:
                    out.append({"theorem": "A", "size": size, "p_active": float(size * p["p"]),
                                "n": float(size * p["n"]), "m": float(size * p["m"]), "nhat": 1.0,
                                "eps": float(eps), "rho": rho, "phi": phi, **base})
                for r in p["ratio"]:
                    m = round(r * p["n"])
                    out.append({"theorem": "B", "size": size, "p_active": float(size * p["p"]),
                                "n": float(size * p["n"]), "m": float(size * m), "nhat": float(size * p["nhat"]),
                                "eps": float(p["eps_toy"]), "rho": rho, "phi": phi, **base, "mu": p["mu_toy"]})
        return out

    def grid(self, p: Mapping[str, Any]) -> Grid:
        # theorem is static: the general rows compile the general sampler alone instead of also paying for the toy
        # branch's third Wishart factor and its p x p product (about a third of a general trial's time).
        pts = [{"p": 2 * p["p"], "toy": float(pt["theorem"] == "B"),
                **{k: v for k, v in pt.items() if k not in ("theorem", "size")}} for pt in self.points(p)]
        return Grid.from_points(pts, static=("p", "toy"))

    def simulate(self, key, static, dynamic):
        d = dynamic
        common = dict(p=static["p"], p_active=d["p_active"], n=d["n"], m=d["m"], mu=d["mu"], eps=d["eps"],
                      rho=d["rho"], phi=d["phi"], gam=d["gam"], dtype=sim_dtype())
        if static["toy"]:
            return sm.simulate_toy(key, nhat=d["nhat"], **common)
        return sm.simulate_accuracy(key, beta=d["beta"], mu_perp=d["mu_perp"], sigma2=d["sigma2"],
                                    kappa=d["kappa"], **common)

    # --- theory -------------------------------------------------------------------------------------------------

    @staticmethod
    def theory(pt: Mapping[str, Any], base_p: int, variant: str, control: bool = False) -> dict[str, float]:
        """Theory at a size-1 point; with ``control`` the ridge is rescaled to gam (n + alpha m)/(n + m)."""
        gam = pt["gam"]
        if control:
            alpha, _ = sm.pruning_constants(pt["eps"], pt["rho"], pt["phi"])
            gam = gam * (pt["n"] + alpha * pt["m"]) / (pt["n"] + pt["m"])
        if pt["theorem"] == "A":
            return sm.model_moments(pt["n"], pt["m"], base_p, pt["mu"], pt["beta"], pt["mu_perp"], pt["sigma2"],
                                    pt["kappa"], pt["eps"], pt["rho"], pt["phi"], gam, variant)
        return sm.toy_moments(pt["n"], pt["m"], base_p, pt["nhat"], pt["mu"], pt["eps"], pt["rho"], pt["phi"], gam,
                              variant)

    @staticmethod
    def label(pt: Mapping[str, Any]) -> dict[str, Any]:
        lab = {"theorem": pt["theorem"], "rho": pt["rho"], "phi": pt["phi"], "eps": pt["eps"]}
        if pt["theorem"] == "B":
            lab["m/n"] = pt["m"] / pt["n"]
        return lab

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        pts = self.points(p)
        half = len(pts) // 2
        rows = []
        for i in range(half):
            pt = pts[i]
            th = self.theory(pt, p["p"], p["theory"], control)
            for stat, key in STATS.items():
                value, se, bad = richardson(sweep.data[stat][i], sweep.data[stat][i + half])
                rows.append(Row({**self.label(pt), "stat": key}, th[key], value, se, bad))
        rule = Agree(alpha=0.01, correction="holm", finite_size=0.0, finite_size_doc=RICHARDSON_DOC)
        return [Evidence("moments and accuracy", rule, rows)]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        """Raw (not extrapolated) accuracy means per size, for the figure's finite-size markers."""
        pts = self.points(p)
        raw = []
        for i, pt in enumerate(pts):
            mean, se, _ = mean_and_se(sweep.data["acc"][i])
            raw.append({**self.label(pt), "size": pt["size"], "p": int(pt["p_active"]), "mean": float(mean),
                        "se": float(se)})
        return {"raw_acc": raw}


# ================================================================================================================
# rmt.synthetic-label-noise-transition
# ================================================================================================================

#: Width statistic: Delta Phi / slope, the eps-interval a linear ramp at the crossing slope needs to go from
#: Phi(||mu||) to Phi(-||mu||); sharp (Feng) limit 0.
#: Per agreement group of rmt.synthetic-label-noise-transition: two groups share a family-wise alpha of 0.01
#: (calibration at 0.01 per group measured 4/100 false FAILs over both, docs/calibration.md).
AGREE_ALPHA = 0.005

WIDTH_DOC = "(Phi(||mu||) - Phi(-||mu||)) / [(acc(eps*-h) - acc(eps*+h)) / 2h]"


def near_offset(ratio: float, near: float) -> float:
    """Half-spacing h of the two points bracketing eps*: near sqrt(p/m), clipped to [0.005, 0.1]. The theory's
    transition width scales like sqrt(p/m) (Theorem C: slope of M/sd at eps* ~ (p/m)^(-1/2)), so the bracketing
    points sit at a fixed fraction of the width at every p/m."""
    return float(min(0.1, max(0.005, near * math.sqrt(ratio))))


class SyntheticTransition(Check):
    id = "rmt.synthetic-label-noise-transition"
    source = Source(
        paper="El Firdoussi et al., Maximizing the Potential of Synthetic Data: Insights from Random Matrix Theory "
              "(ICLR 2025); sharp limit: Feng, Dohmatob, Yang, Charton & Kempe, Beyond Model Collapse: Scaling Up "
              "with Synthesized Data Requires Verification (arXiv:2406.07515)",
        where="synthetic-only closed form (authors' Delta_synth, test_*_synth) and its phase transition at "
              "eps* = phi/(phi+rho); notes 1.4, 1.6 (phase-transition table) and 5.1",
        arxiv="2410.08942",
    )
    statement = ("Trained on pruned synthetic data only, the ridge classifier's signed accuracy crosses 1/2 at "
                 "eps* = phi/(phi+rho), smoothly at finite p/m as the closed form predicts, and the transition "
                 "sharpens towards Feng et al.'s jump from Phi(||mu||) to Phi(-||mu||) as p/m -> 0.")
    params = (
        Param("p", "int", 40, "dimension of the smaller Richardson size (the other is 2p; even)", low=4, high=4000),
        Param("pm", "floats", (1.0, 0.1, 0.01, 0.001), "ratios p/m (m = p/ratio synthetic samples before pruning)",
              low=1e-5, high=10.0),
        Param("eps", "floats", (0.0, 0.3, 0.5, 0.9), "label-noise values away from the transition (two more are "
              "added at eps* +- h per p/m)", low=0.0, high=1.0),
        Param("near", "float", 0.1, "h = near sqrt(p/m), clipped to [0.005, 0.1]: half-spacing of the points "
              "bracketing eps*", low=0.0, high=1.0, open_low=True),
        Param("mu", "float", 1.0, "||mu||", low=0.0, high=10.0, open_low=True),
        Param("rho", "float", 0.3, "keep probability of flipped labels", low=0.0, high=1.0),
        Param("phi", "float", 0.8, "keep probability of correct labels", low=0.0, high=1.0),
        Param("gam", "float", 1.0, "ridge penalty", low=0.0, high=1000.0, open_low=True),
        Param("theory", "str", "corrected", "theory variant: corrected (pruning = subsampling) or published "
              "(authors' code; alpha inside the self-energy)", choices=sm.VARIANTS),
    )
    profiles = {
        # Seeds from standard errors: near eps* the per-trial accuracy sd is ~||mu|| phi(0)/sqrt(p) ~ 0.06 at
        # p = 40, so R = 400 gives a Richardson SE ~ 0.006, a located-crossing SE ~ 0.01 at p/m = 1 (the swapped
        # control is 0.45 away) and width SEs of ~10%.
        "quick": Profile(seeds=400, description="p = 40 and 80 (one program), p/m = 1 .. 0.001; 24 points x 2 sizes"),
        "full": Profile(seeds=2000, params={"p": 200, "pm": (1.0, 0.1, 0.01, 0.001, 0.0001)},
                        description="p = 200 and 400, p/m down to 1e-4"),
    }
    tolerance = ("The two agreement groups (1) and (3) split a family-wise alpha=0.01 between them (Bonferroni, "
                 "0.005 each, Holm within), so that the claim's agreement evidence as a whole has a 1% false-FAIL "
                 "rate, not 2%. (1) moments and accuracy: Agree at alpha=0.005 (Holm) of the signed accuracy, "
                 "M = E[w.mu] and V = E[(w.mu)^2 + ||w||^2] with the closed form at every (p/m, eps); compared "
                 "value: " + RICHARDSON_DOC + ". (2) location: per p/m and per simulated size, the crossing of "
                 "1/2 located by rules.locate_crossing (linear interpolation, delta-method SE) "
                 "contains eps* = phi/(phi+rho) (TransitionAt, alpha=0.01 Bonferroni); finite-size term = the largest "
                 "interpolation error of the same locate_crossing applied to the limit theory on the same grid "
                 "(the crossing is exactly at eps* at every finite size by the w -> -w symmetry at lam = 0, so only "
                 "interpolation error remains). (3) width " + WIDTH_DOC + " per p/m: Agree (alpha=0.005, Holm) with "
                 "the closed form at the same two points, Richardson value. (4) sharpening: the fitted exponent of "
                 "width against p/m is > 0 at the one-sided alpha=0.01 limit (BoundHolds, lower).")
    negative_control = ("the closed form with the two keep probabilities swapped (phi <-> rho: transition at "
                        "rho/(phi+rho))")
    figure = "synthetic_transition"

    def eps_star(self, p: Mapping[str, Any]) -> float:
        return sm.transition_eps(p["rho"], p["phi"])

    def validate(self, p: Mapping[str, Any]) -> None:
        if p["p"] % 2:
            raise BadInput(f"p={p['p']} must be even (the Richardson sizes are p and 2p)")
        if p["phi"] + p["rho"] <= 0:
            raise BadInput("phi + rho must be > 0 (otherwise nothing with any label is kept)")
        if len(set(p["pm"])) < 2:
            raise BadInput("pm needs at least two distinct ratios p/m to see the transition sharpen")
        es = self.eps_star(p)
        for r in p["pm"]:
            h = near_offset(r, p["near"])
            if not (0.0 <= es - h and es + h <= 1.0):
                raise BadInput(f"eps* +- h = {es:.3g} +- {h:.3g} leaves [0, 1]; lower near or change rho, phi")
            for e in p["eps"]:
                if abs(e - es) <= h:
                    raise BadInput(f"eps={e:g} lies within h={h:.3g} of eps*={es:.4g}; the bracketing points are "
                                   "added automatically, drop it")
            for e in self.eps_grid(p, r):
                alpha, _ = sm.pruning_constants(e, p["rho"], p["phi"])
                if alpha <= 0:
                    raise BadInput(f"at eps={e:g} nothing is kept (alpha = 0): the classifier is undefined")
            if round(p["p"] / r) < 1:
                raise BadInput(f"pm={r:g} gives m < 1 at p={p['p']}")

    def eps_grid(self, p: Mapping[str, Any], ratio: float) -> list[float]:
        es, h = self.eps_star(p), near_offset(ratio, p["near"])
        return sorted({float(e) for e in p["eps"]} | {es - h, es + h})

    def m_for(self, p: Mapping[str, Any], ratio: float) -> int:
        return max(1, round(p["p"] / ratio))

    def points(self, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        out = []
        for size in (1, 2):
            for r in p["pm"]:
                for e in self.eps_grid(p, r):
                    out.append({"size": size, "p_active": float(size * p["p"]), "pm": float(r),
                                "m": float(size * self.m_for(p, r)), "eps": e, "mu": p["mu"], "rho": p["rho"],
                                "phi": p["phi"], "gam": p["gam"]})
        return out

    def grid(self, p: Mapping[str, Any]) -> Grid:
        pts = [{"p": 2 * p["p"], **{k: v for k, v in pt.items() if k != "size"}} for pt in self.points(p)]
        return Grid.from_points(pts, static=("p",))

    def simulate(self, key, static, dynamic):
        d = dynamic
        return sm.simulate_synthetic_only(key, p=static["p"], p_active=d["p_active"], m=d["m"], mu=d["mu"],
                                          eps=d["eps"], rho=d["rho"], phi=d["phi"], gam=d["gam"],
                                          dtype=sim_dtype())

    def theory_moments(self, p: Mapping[str, Any], ratio: float, eps: float, control: bool = False) -> dict[str, float]:
        rho, phi = (p["phi"], p["rho"]) if control else (p["rho"], p["phi"])
        return sm.synthetic_only_moments(self.m_for(p, ratio), p["p"], p["mu"], eps, rho, phi, p["gam"], p["theory"])

    def theory_acc(self, p: Mapping[str, Any], ratio: float, eps: float, control: bool = False) -> float:
        return self.theory_moments(p, ratio, eps, control)["acc"]

    def interpolation_allowance(self, p: Mapping[str, Any]) -> float:
        """Largest |locate_crossing(limit-theory curve on the grid) - eps*| over p/m: the declared finite-size term
        of the location rule (interpolation error only; computed from the theory, never from the simulation)."""
        worst = 0.0
        for r in p["pm"]:
            xs = np.asarray(self.eps_grid(p, r))
            ys = np.asarray([self.theory_acc(p, r, e) for e in xs])
            x_star, _ = locate_crossing(xs, ys, np.zeros_like(ys), 0.5)
            worst = max(worst, abs(x_star - self.eps_star(p)))
        return worst

    def _index(self, p: Mapping[str, Any]) -> dict[tuple[int, float, float], int]:
        return {(pt["size"], pt["pm"], pt["eps"]): i for i, pt in enumerate(self.points(p))}

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        idx = self._index(p)
        acc = sweep.data["acc"]
        es = self.eps_star(p)
        es_theory = sm.transition_eps(p["phi"], p["rho"]) if control else es
        spread = norm.cdf(p["mu"]) - norm.cdf(-p["mu"])
        acc_rows, loc_rows, width_rows = [], [], []
        ratios, widths, width_ses, theory_widths = [], [], [], []
        for r in p["pm"]:
            xs = self.eps_grid(p, r)
            rich = {}
            for e in xs:
                th = self.theory_moments(p, r, e, control)
                for stat, key in STATS.items():
                    data = sweep.data[stat]
                    value, se, bad = richardson(data[idx[(1, r, e)]], data[idx[(2, r, e)]])
                    if stat == "acc":
                        rich[e] = (value, se, bad)
                    acc_rows.append(Row({"p/m": r, "eps": round(e, 6), "stat": key}, th[key], value, se, bad))
            for size in (1, 2):
                stats = [mean_and_se(acc[idx[(size, r, e)]]) for e in xs]
                mean = np.asarray([s[0] for s in stats])
                se = np.asarray([s[1] for s in stats])
                bad = int(sum(s[2] for s in stats))
                x_star, x_se = locate_crossing(np.asarray(xs), mean, se, 0.5)
                loc_rows.append(Row({"p/m": r, "p": size * p["p"], "stat": "crossing of 1/2"}, es_theory, x_star,
                                    x_se, bad))
            h = near_offset(r, p["near"])
            lo, hi = es - h, es + h
            (y1, s1, b1), (y2, s2, b2) = rich[lo], rich[hi]
            diff = y1 - y2
            width = spread * 2 * h / diff if diff != 0 else math.nan
            width_se = abs(width) * math.sqrt(s1**2 + s2**2) / abs(diff) if diff != 0 else math.nan
            t_diff = self.theory_acc(p, r, lo, control) - self.theory_acc(p, r, hi, control)
            t_width = spread * 2 * h / t_diff if t_diff != 0 else math.nan
            width_rows.append(Row({"p/m": r, "h": round(h, 6), "stat": "width"}, t_width, width, width_se, b1 + b2))
            ratios.append(r)
            widths.append(width)
            width_ses.append(width_se)
            theory_widths.append(t_width)
        slope, slope_se, _ = fit_power_law(np.asarray(ratios), np.asarray(widths), np.asarray(width_ses))
        t_slope = float(np.polyfit(np.log(ratios), np.log(np.abs(theory_widths)), 1)[0])
        sharp_rows = [Row({"stat": "width exponent in p/m", "theory exponent": round(t_slope, 4)}, 0.0, slope,
                          slope_se)]
        interp = self.interpolation_allowance(p)
        return [
            Evidence("moments and accuracy", Agree(alpha=AGREE_ALPHA, correction="holm",
                                                   finite_size_doc=RICHARDSON_DOC),
                     acc_rows),
            Evidence("location", TransitionAt(alpha=0.01, finite_size=interp,
                                              finite_size_doc=f"interpolation error of the limit theory on the "
                                                              f"grid, {interp:.2g}"), loc_rows),
            Evidence("width", Agree(alpha=AGREE_ALPHA, correction="holm", finite_size_doc=RICHARDSON_DOC),
                     width_rows),
            Evidence("sharpening", BoundHolds(alpha=0.01, side="lower"), sharp_rows),
        ]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        idx = self._index(p)
        raw = []
        for (size, r, e), i in idx.items():
            mean, se, _ = mean_and_se(sweep.data["acc"][i])
            raw.append({"size": size, "p": size * p["p"], "p/m": r, "eps": e, "mean": float(mean), "se": float(se)})
        return {"raw_acc": raw, "eps_star": self.eps_star(p),
                "near": {f"{r:g}": near_offset(r, p["near"]) for r in p["pm"]}}


SYNTHETIC_MIX = register(SyntheticMix())
SYNTHETIC_TRANSITION = register(SyntheticTransition())
