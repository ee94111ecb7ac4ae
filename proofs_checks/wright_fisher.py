"""`loops.wright-fisher`: total collapse of a categorical model retrained on its own samples (Seddik et al. 2024,
Theorem 1 and Proposition 1).

Theory: :mod:`theory_lab.loops.categorical` (S_m, bounds on the collapse probability rho_m and on the expected
collapse time E[T], fixation probabilities). Simulator: the token-level loop
:func:`~theory_lab.loops.categorical.simulate_fully_synthetic` (n tokens drawn and re-counted every generation, one
``lax.scan`` step per generation, run to a horizon past which a trial is still uncollapsed with probability <= 1e-7).
Figure: ``figures/wright_fisher.py``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.loops import categorical as cat
from theory_lab.rules import Agree, BoundHolds, Row, mean_and_se
from theory_lab.sweep import Grid, SweepResult

MAX_HORIZON = 200_000
MAX_FIXATION_ROWS = 20
CENSOR = 1e-7  # bound on P(a trial is still uncollapsed at the simulated horizon)


def compared_generations(m: int) -> list[int]:
    """About eight generations, evenly spaced, ending at m."""
    return sorted({max(1, round(m * j / 8)) for j in range(1, 9)})


def proportion_and_se(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fraction of 0/1 trials along the last axis, its SE and the non-finite count. The SE is the "plus four"
    (Agresti-Coull) one, sqrt(r~(1-r~)/R) with r~ = (x+2)/(R+4): unlike the Wald SE it is not 0 when every trial
    agrees (an observed fraction of exactly 0 or 1), so a bound is never declared violated by a zero-width interval."""
    mean, _, bad = mean_and_se(x)
    r = np.sum(np.isfinite(x), axis=-1)
    tilde = (mean * r + 2.0) / (r + 4.0)
    return mean, np.sqrt(tilde * (1.0 - tilde) / r), bad


def initial(p: Mapping[str, Any]) -> np.ndarray:
    return cat.initial_distribution(p["family"], p["k"], p["zipf_a"], p["dirichlet_a"], p["dist_seed"])


def wrong_sum_sq(m, n: int, s0: float) -> np.ndarray:
    """Negative control: the classical diploid Wright–Fisher formula with 2n gene copies, 1 - (1 - 1/(2n))^m (1-S_0)
    (the textbook identity applied with the population size n instead of the n resampled tokens)."""
    return 1.0 - (1.0 - 1.0 / (2 * n)) ** np.asarray(m, dtype=np.float64) * (1.0 - s0)


class WrightFisher(Check):
    id = "loops.wright-fisher"
    source = Source(
        paper="Seddik, Chen, Hayou, Youssef, Debbah, How Bad is Training on Synthetic Data? A Statistical Analysis "
              "of Language Model Collapse (COLM 2024)",
        where="Theorem 1 (eqs. 6-8: S_m, bounds on rho_m and E[T]) and Proposition 1 (fixation probabilities); "
              "notes section 2.2",
        arxiv="2404.05090",
    )
    statement = ("Retraining a categorical model on n of its own tokens per generation gives S_m = E||p^(m)||^2 = "
                 "1 - (1-1/n)^m (1-S_0); the probability of total collapse by generation m lies in "
                 "[1 - n(1-S_0)(1-1/n)^m, 1 - (1-S_0)(1-1/n)^m/(1-1/s~)]; the collapse time obeys "
                 "1 + (1-S_0)(n-1)/(1-1/s~) <= E[T] <= 1 + (1-S_0)n(n-1); and the model collapses onto token i with "
                 "probability p_i.")
    params = (
        Param("n", "ints", (10, 20), "synthetic tokens per generation (one value per curve)", low=2, high=100_000),
        Param("m", "int", 40, "generations compared (S_m and rho_m)", low=1, high=100_000),
        Param("k", "int", 10, "vocabulary size (tokens of the initial distribution)", low=2, high=100_000),
        Param("family", "str", "zipf", "initial distribution family", choices=cat.FAMILIES),
        Param("zipf_a", "float", 1.0, "Zipf exponent (family=zipf): p_i proportional to i^-a", low=0.0, high=20.0),
        Param("dirichlet_a", "float", 0.3, "Dirichlet concentration (family=dirichlet)", low=0.0, high=1000.0,
              open_low=True),
        Param("dist_seed", "int", 0, "NumPy seed of the Dirichlet draw (family=dirichlet)", low=0, high=2**31 - 1),
    )
    profiles = {
        "quick": Profile(seeds=8000, description=(
            "zipf(1) on 10 tokens, n=10 and 20, 40 generations. Power: the rho_m upper bound's slack is about "
            "0.4(1-rho_m) (asymptotic ratio of the true to the bounded 1-rho_m), resolved at one-sided z~3.2 when "
            "R(1-rho_m) >> 64; m=40 keeps 1-rho_m >= 0.03 at n=10, so R=8000 suffices")),
        "full": Profile(seeds=100_000, params={"n": (10, 30, 100), "m": 60, "k": 50},
                        description="paper-scale seeds, three sample sizes, 50 tokens (R(1-rho_60) >= 200 at n=10)"),
    }
    tolerance = ("S_m and fixation probabilities: Agree at family-wise alpha=0.01, Holm over the rows of each group; "
                 "no finite-size term (Theorem 1.1 and Proposition 1 are exact at finite n). rho_m and E[T]: "
                 "BoundHolds (alpha=0.01, Bonferroni over rows, one-sided) for each side of the printed bounds; a "
                 "lower bound <= 0 or an upper bound >= 1 on rho_m is flagged vacuous. SEs: s/sqrt(R) for means, "
                 "the 'plus four' SE sqrt(r~(1-r~)/R), r~ = (x+2)/(R+4), for proportions (never 0 at an observed 0 "
                 "or 1). The collapse time is "
                 "simulated to the horizon H = min{h : n(1-S_0)(1-1/n)^h <= 1e-7} (Markov's inequality: a trial is "
                 "censored with probability <= 1e-7; a censored trial is reported as NaN, never dropped).")
    negative_control = ("S_m: the diploid Wright-Fisher formula 1-(1-1/(2n))^m(1-S_0); rho_m and E[T]: the printed "
                        "lower and upper bounds swapped; fixation: the uniform law 1/s~ (which equals the theory "
                        "when family=uniform, so there the other groups carry the control)")
    figure = "wright_fisher"

    def validate(self, p: Mapping[str, Any]) -> None:
        p0 = initial(p)
        if cat.support_size(p0) < 2 or np.max(p0) >= 1.0:
            raise BadInput("the initial distribution is (numerically) a Dirac mass: Theorem 1 assumes S_0 < 1; "
                           "raise dirichlet_a or k")
        s0 = cat.sum_sq(p0)
        for n in p["n"]:
            h = cat.collapse_horizon(n, s0, CENSOR)
            if max(h, p["m"]) > MAX_HORIZON:
                raise BadInput(f"n={n} needs {h} generations to reach collapse (max {MAX_HORIZON}); use a smaller n")

    def grid(self, p: Mapping[str, Any]) -> Grid:
        s0 = cat.sum_sq(initial(p))
        pts = [{"n": int(n), "m": p["m"], "horizon": cat.collapse_horizon(n, s0, CENSOR), "family": p["family"],
                "k": p["k"], "zipf_a": float(p["zipf_a"]), "dirichlet_a": float(p["dirichlet_a"]),
                "dist_seed": p["dist_seed"]} for n in p["n"]]
        return Grid.from_points(pts, static=tuple(pts[0]))

    def simulate(self, key, static, dynamic):
        p0 = initial(static)
        return cat.simulate_fully_synthetic(key, p0, n=static["n"], m=static["m"], horizon=static["horizon"],
                                            dtype=sim_dtype())

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        p0 = initial(p)
        s0, s_sup = cat.sum_sq(p0), cat.support_size(p0)
        gens = np.asarray(compared_generations(p["m"]))
        top = np.argsort(-p0, kind="stable")[: min(len(p0), MAX_FIXATION_ROWS)]
        rows_s, rows_lo, rows_hi, rows_tlo, rows_thi, rows_fix = [], [], [], [], [], []
        for i, n in enumerate(p["n"]):
            n = int(n)
            sig = sweep.data["sigma"][i][:, gens].T
            col = sweep.data["collapsed"][i][:, gens].T
            theory = wrong_sum_sq(gens, n, s0) if control else cat.expected_sum_sq_fully(gens, n, s0)
            mean, se, bad = mean_and_se(sig)
            rows_s += [Row({"n": n, "m": int(g)}, float(theory[j]), float(mean[j]), float(se[j]), int(bad[j]))
                       for j, g in enumerate(gens)]
            lo, hi = cat.collapse_prob_bounds(gens, n, s0, s_sup)
            if control:
                lo, hi = hi, lo
            rmean, rse, rbad = proportion_and_se(col)
            for j, g in enumerate(gens):
                lab = {"n": n, "m": int(g)}
                rows_lo.append(Row(lab, float(lo[j]), float(rmean[j]), float(rse[j]), int(rbad[j])))
                rows_hi.append(Row(lab, float(hi[j]), float(rmean[j]), float(rse[j]), int(rbad[j])))
            tlo, thi = cat.collapse_time_bounds(n, s0, s_sup)
            if control:
                tlo, thi = thi, tlo
            tm, tse, tbad = mean_and_se(sweep.data["T"][i])
            rows_tlo.append(Row({"n": n}, float(tlo), float(tm), float(tse), int(tbad)))
            rows_thi.append(Row({"n": n}, float(thi), float(tm), float(tse), int(tbad)))
            fm, fse, fbad = proportion_and_se(sweep.data["fixed"][i].T)
            fix_theory = np.full(len(p0), 1.0 / s_sup) * (p0 > 0) if control else cat.fixation_probabilities(p0)
            rows_fix += [Row({"n": n, "token": int(t) + 1}, float(fix_theory[t]), float(fm[t]), float(fse[t]),
                             int(fbad[t])) for t in top]
        agree = Agree(alpha=0.01, correction="holm", finite_size_doc="none (exact at finite n)")
        return [
            Evidence("sum of squares S_m (Thm 1.1)", agree, rows_s),
            Evidence("collapse probability, lower bound (Thm 1.2)",
                     BoundHolds(alpha=0.01, side="lower", vacuous_at=0.0), rows_lo),
            Evidence("collapse probability, upper bound (Thm 1.2)",
                     BoundHolds(alpha=0.01, side="upper", vacuous_at=1.0), rows_hi),
            Evidence("collapse time, lower bound (Thm 1.3)", BoundHolds(alpha=0.01, side="lower"), rows_tlo),
            Evidence("collapse time, upper bound (Thm 1.3)", BoundHolds(alpha=0.01, side="upper"), rows_thi),
            Evidence("fixation probability (Prop 1)", agree, rows_fix),
        ]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        """Per-generation collapse fraction rho_m (all generations) and the collapse-time quartiles, for the figure."""
        out: dict[str, Any] = {"rho": {}, "T_quantiles": {}}
        for i, n in enumerate(p["n"]):
            out["rho"][str(int(n))] = np.mean(sweep.data["collapsed"][i], axis=0).tolist()
            t = sweep.data["T"][i]
            out["T_quantiles"][str(int(n))] = np.nanpercentile(t, [10, 50, 90]).tolist()
        return out


CHECK = register(WrightFisher())
