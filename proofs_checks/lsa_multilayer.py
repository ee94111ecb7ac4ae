"""`icl.lsa-multilayer`: a trained L-layer linear self-attention does at least as well as optimally tuned L-step
preconditioned GD, and reaches the optimum of the GD++ family (inputs transformed as well as labels).

Theory (float64, :mod:`theory_lab.icl.lsa`): Ahn, Cheng, Daneshmand & Sra (arXiv:2306.00297) Lemma 1 -- the sparse
L-layer LSA P_l = [[0,0],[0,1]], Q_l = -[[A_l,0],[0,0]] computes exactly L steps of preconditioned GD (checked to
machine precision in `icl.lsa-is-gd`), so a trained L-layer LSA can do at least as well as the best such GD:
R_GD(L) = min over step sizes of E sum_j prod_l (1 - eta_l s_j)^2 (s_j the eigenvalues of the prompt's second moment;
isotropic x, w ~ N(0, I), noiseless; 0.362 at d=5, N=20, L=2; :func:`~theory_lab.icl.estimators.gd_steps_optimal_etas`).
Ahn et al. Thm 4 (and von Oswald et al. App. A.10, "GD++") give critical points of the full objective in the larger
family P_l = [[B_l,0],[0,1]], Q_l = -[[A_l,0],[0,0]] with A_l = a_l I, B_l = b_l I for isotropic data: every token's
input is also transformed, x <- (I - a_l b_l Sigma_l) x. Its risk is E sum_j r_L(s_j)^2 with the residual recursion of
:func:`~theory_lab.icl.lsa.gdpp_residual` [DER, checked against the sparse LSA to 1e-15 in tests/test_lsa.py]; the
optimum over the 2L - 1 scalars (:func:`~theory_lab.icl.lsa.gdpp_optimal`) is R_GD++(2) = 0.0570 at d=5, N=20, six
times below two plain GD steps and below three (0.134).

Simulator: :func:`~theory_lab.icl.lsa.simulate_lsa_multilayer` -- all (d+1)^2 entries of every P_l, Q_l free, small
random initialization (N(0, init_std^2), no structure), Adam with a cosine-decayed step on fresh prompts inside
``lax.scan``. The loss averages the query out exactly: the context tokens never see the query (mask), so the query
token evolves linearly and y_hat = <v(X, y), x_q> with v read off by propagating the d basis queries; then
E_{x_q}[(y_hat - <w, x_q>)^2 | X, w] = ||v - w||^2 (:func:`~theory_lab.icl.lsa.lsa_readout`). Same expected loss and
gradient as the data-level loss, lower variance. The test risk is the same exact-in-the-query average on fresh
prompts (the data-level risk on the same prompts is reported alongside).

History (measured 2026-11-23 on the shared 2-core CPU, load average 3-5): an earlier attempt (data-level loss, 128
prompts a step, lr 5e-3, 2000 Adam steps) left the 2-layer LSA at risk 0.7-1.05, below one optimal GD step (1.155) but
far above two (0.362), and this part was dropped from `icl.lsa-is-gd`. What changed: the query-averaged loss above,
256 prompts a step and a larger peak learning rate. With lr 3e-3 (3000 steps) 4 seeds reached 0.29-0.65; with lr 1e-2
(2000 steps) 16 seeds of an exploration script reached 0.054-0.078 (mean 0.0598 +- 0.0018). An initial std of 0.1
instead of 0.01 left 4 of 8 seeds on saddles (risk 0.1-0.54) after 2000 steps; 0.01 is used (Ahn et al.'s code: 1e-4;
von Oswald et al.: 0.002/L). float32 training was not faster here (tiny matrices), so training is float64.
Through the engine (its own seeds) with Adam's default beta2 = 0.999 one of 16 seeds was still on a saddle (0.59) and
two were slow (0.09, 0.16): mean 0.10 +- 0.033, which "agreed" only because of the large SE -- hence MAX_HALFWIDTH (such
a row is INCONCLUSIVE). 3000 steps: one seed at 0.21, INCONCLUSIVE; holding the peak rate for half the steps: worse
(seeds at 1.0 and 0.63). beta2 = 0.9, as in Ahn et al.'s code (betas (0.9, 0.9)): all 16 seeds converge, 0.052-0.071,
mean 0.0588 +- 0.0014 against 0.0570: PASS, control FAIL; root seed 1: 0.0563 +- 0.0007, PASS. 100-110 s of simulation
under load average 3-4. The trained weights sit on the GD++ pattern (median share of their squared norm outside it:
0.01% in layer 1, 0.06% in layer 2); seed-mean projected steps (0.531, 3.489) and transform b_1 = 0.871 against the
optimum (0.515, 3.453), 0.865 (figure, right panel).
The GD++ tolerance (10%) was fixed before the first multi-layer training run and not changed since.
Figure: ``figures/lsa_multilayer.py``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from theory_lab.claims import Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.icl import estimators as est
from theory_lab.icl import lsa
from theory_lab.rules import Agree, BoundHolds, Row, welch_dof
from theory_lab.sweep import Grid, SweepResult

#: Declared (before training) finite-training allowance of the GD++ agreement, as a fraction of R_GD++(L).
GDPP_EXCESS = 0.10
#: A GD++ row whose tolerance (z SE + allowance) exceeds this fraction of the theory cannot decide (INCONCLUSIVE): a
#: few seeds left on a saddle inflate the seed SE until anything "agrees".
MAX_HALFWIDTH = 0.5


@lru_cache(maxsize=16)
def theory(d: int, N: int, L: int) -> dict[str, Any]:
    """Optimal L-step GD and optimal scalar GD++ (parameters, risks and Monte-Carlo standard errors), float64."""
    etas, _ = est.gd_steps_optimal_etas(N, d, L, n_draws=50_000)
    r_gd, se_gd = lsa.gdpp_risk_mc(N, d, etas, np.zeros(L), n_draws=1_000_000, seed=1)
    a, b, r_pp, se_pp = lsa.gdpp_optimal(N, d, L)
    return {"gd_etas": np.asarray(etas), "gd": r_gd, "gd_se": se_gd, "gdpp_a": a, "gdpp_b": b, "gdpp": r_pp,
            "gdpp_se": se_pp}


class LsaMultilayer(Check):
    id = "icl.lsa-multilayer"
    source = Source(
        paper="Ahn, Cheng, Daneshmand & Sra, Transformers learn to implement preconditioned gradient descent for "
              "in-context learning (NeurIPS 2023); von Oswald et al., Transformers learn in-context by gradient "
              "descent (ICML 2023)",
        where="Ahn et al. Lemma 1 (L layers = L preconditioned GD steps), Thms 3-4 (critical points A_l ~ Sigma^-1, "
              "B_l ~ I); von Oswald et al. App. A.10 (GD++); notes in_context_learning.md section 2b",
        arxiv="2306.00297, 2212.07677",
    )
    statement = ("An L-layer linear self-attention with all entries free, trained from a small random initialization "
                 "on isotropic Gaussian noiseless regression prompts, has a risk at most that of optimally tuned "
                 "L-step preconditioned GD (which it can express exactly, Ahn et al. Lemma 1), and equal to the "
                 "optimum of the GD++ family (Ahn et al. Thm 4, von Oswald et al. App. A.10), not to that of plain "
                 "GD.")
    params = (
        Param("d", "int", 5, "covariate dimension", low=1, high=64),
        Param("N", "int", 20, "prompt length (labelled examples)", low=1, high=10_000),
        Param("n_layers", "int", 2, "LSA layers L (2 or 3: GD++ optimum computed by profiling the last step)",
              low=2, high=3),
        Param("init_std", "float", 0.01, "std of the random initial entries of P_l, Q_l", low=0.0, open_low=True,
              high=1.0),
        Param("lr", "float", 1e-2, "peak Adam learning rate (cosine decay to 0)", low=0.0, open_low=True, high=1.0),
        Param("steps", "int", 2000, "training steps", low=1, high=10_000_000),
        Param("b2", "float", 0.9, "Adam's second-moment decay (0.9 as in Ahn et al.'s code, betas (0.9, 0.9))",
              low=0.0, open_low=True, high=0.9999),
        Param("hold", "float", 0.0, "fraction of the steps at the peak learning rate before the cosine decay",
              low=0.0, high=0.95),
        Param("batch", "int", 256, "prompts per training step (fresh each step)", low=1, high=1_000_000),
        Param("n_test", "int", 4000, "test prompts per seed", low=2, high=10_000_000),
    )
    profiles = {
        "quick": Profile(seeds=16, description="d=5, N=20, L=2; 2000 Adam steps of 256 prompts; 16 trained models "
                         "(one vmapped block)"),
        "full": Profile(seeds=64, params={"n_layers": 3, "batch": 4000, "steps": 20_000, "lr": 3e-3,
                                          "n_test": 20_000},
                        description="d=5, N=20, L=3 (Ahn et al.'s experiment size: 3 layers, 4000 prompts a step), "
                                    "for a GPU"),
    }
    tolerance = ("(1) at least L-step GD: the seed-mean test risk (each seed: mean of ||v - w||^2 over n_test fresh "
                 "prompts; SE over seeds) is <= R_GD(L), BoundHolds one-sided alpha=0.01. (2) GD++: it agrees with "
                 f"the optimal scalar GD++ risk R_GD++(L), Agree alpha=0.01 two-sided, SE over seeds and the theory's "
                 f"Monte-Carlo SE in quadrature, finite-training term {GDPP_EXCESS:g} x R_GD++(L) (declared before "
                 "any multi-layer run; Adam with a decayed step stops near, not at, the optimum); INCONCLUSIVE when "
                 f"the tolerance exceeds {MAX_HALFWIDTH:g} x R_GD++(L) (seeds left on saddles make the SE too large "
                 "to tell).")
    negative_control = ("the trained LSA implements plain L-step preconditioned GD (Ahn et al.'s sparse construction, "
                        "B_l = 0): R_GD(L) replaces R_GD++(L) in rule (2), same tolerance")
    figure = "lsa_multilayer"
    # Calibration: the theory wrong by half its value (the claim tells R_GD++ from R_GD, 6.35 times larger). The GD++
    # rule's half-width is the declared finite-training allowance (10% of the theory it is compared with) plus the
    # Student-t(15) quantile times the seed SE (about 2.5% of R_GD++ at the quick profile, so ~7%), and the trained
    # mean sits ~3% above R_GD++ (Adam stops near the optimum), on the side calibration moves the theory to. 0.25 was
    # declared first from the half-width alone and detected 2 of the first 5 roots (0 false FAILs; 2026-12-07,
    # docs/calibration.md): inside the resolution once the bias and roots with a larger seed SE are counted.
    min_effect = 0.5

    def grid(self, p: Mapping[str, Any]) -> Grid:
        static = {k: [p[k]] for k in ("d", "N", "n_layers", "steps", "batch", "n_test", "hold", "b2")}
        return Grid.product(static=static, dynamic={"lr": [float(p["lr"])], "init_std": [float(p["init_std"])]})

    def simulate(self, key, static, dynamic):
        return lsa.simulate_lsa_multilayer(key, d=static["d"], N=static["N"], n_layers=static["n_layers"],
                                           batch=static["batch"], steps=static["steps"], n_test=static["n_test"],
                                           lr=dynamic["lr"], init_std=dynamic["init_std"],
                                           hold=float(static["hold"]), b2=float(static["b2"]), dtype=sim_dtype())

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        th = theory(p["d"], p["N"], p["n_layers"])
        r = np.asarray(sweep.data["risk"][0], dtype=np.float64)
        fin = np.isfinite(r)
        n_bad = int((~fin).sum())
        mean = float(r[fin].mean()) if fin.any() else float("nan")
        se = float(r[fin].std(ddof=1) / np.sqrt(fin.sum())) if fin.sum() > 1 else float("nan")
        L = p["n_layers"]
        dof = float(fin.sum() - 1)  # 16 trained models: Student-t quantiles (Row.dof)
        bound = [Row({"stat": "risk", "vs": f"optimal {L}-step GD"}, th["gd"], mean, se, n_bad, dof=dof)]
        key, th_se = ("gd", th["gd_se"]) if control else ("gdpp", th["gdpp_se"])
        name = f"optimal {L}-step GD" if control else f"optimal {L}-layer GD++"
        agree = [Row({"stat": "risk", "vs": name}, th[key], mean, float(np.hypot(se, th_se)), n_bad,
                     dof=welch_dof([(se**2, dof), (th_se**2, math.inf)]))]
        rule = Agree(alpha=0.01, finite_size=lambda row: GDPP_EXCESS * abs(row.theory), max_halfwidth=MAX_HALFWIDTH,
                     finite_size_doc=f"{GDPP_EXCESS:g} x theory (finite training, declared)")
        return [Evidence(f"at least {L}-step GD", BoundHolds(alpha=0.01, side="upper"), bound),
                Evidence("GD++ optimum", rule, agree)]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        th = theory(p["d"], p["N"], p["n_layers"])
        one = float(est.gd_one_step_risk(p["N"], p["d"], est.gd_one_step_optimal_eta(p["N"], p["d"])))
        nxt, _ = est.gd_steps_optimal_etas(p["N"], p["d"], p["n_layers"] + 1, n_draws=50_000)
        r_next, _ = lsa.gdpp_risk_mc(p["N"], p["d"], nxt, np.zeros(len(nxt)), n_draws=200_000, seed=2)
        g = lambda k: np.asarray(sweep.data[k][0]).tolist()  # noqa: E731
        return {
            "risk": g("risk"), "risk_data": g("risk_data"), "a": g("a"), "b": g("b"), "off": g("off"),
            "gd": th["gd"], "gd_etas": th["gd_etas"].tolist(), "gdpp": th["gdpp"], "gdpp_a": th["gdpp_a"].tolist(),
            "gdpp_b": th["gdpp_b"].tolist(), "one_step": one, "gd_next": r_next,
        }


CHECK = register(LsaMultilayer())
