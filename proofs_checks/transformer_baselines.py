"""`icl.transformer-vs-baselines`: a small softmax transformer trained on noisy linear-regression prompts approaches
the Bayes-optimal (ridge) error curve over the number of in-context examples, and stays below least squares near
k = d (Garg, Tsipras, Liang, Valiant, arXiv:2208.01066, Figure 2 and the noisy-regression evaluation).

Theory: the exact finite-(k, d) Bayes risk R_Bayes(k) = sigma^2 + sigma^2 E tr (X_k^T X_k + (sigma^2/psi^2) I)^-1
(posterior mean = ridge with lambda = sigma^2/psi^2; :func:`theory_lab.icl.estimators.bayes_risk`, a float64
Monte-Carlo over Wishart spectra only) and the exact least-squares risk (:func:`~theory_lab.icl.estimators.ols_risk`:
sigma^2 + psi^2 (d-k) + sigma^2 k/(d-k-1) for k <= d-2, sigma^2 + sigma^2 d/(k-d-1) for k >= d+2, infinite in
between). Simulator: :func:`theory_lab.icl.transformer.simulate_transformer_icl` (GPT-2-style model, Adam in a
``lax.scan``, one trained model per seed). Figure: ``figures/transformer_baselines.py``.

Status: NOT registered in proofs_checks/__init__.py. On 2 CPU cores no quick profile found gets the trained models
near the Bayes curve, so its verdict would be an undertrained FAIL, which is no evidence about Garg et al.'s claim.

What the declared quick profile (d=3, 7 points, 2 layers x 2 heads x width 32, batch 64, lr 1e-3, 3000 steps) does,
measured 2026-11-23 on the shared 2-core CPU (load average 3-4 from other developers' jobs), run through the engine
(`run_check` after importing this module): 344 s of simulation (16 models, one vmapped block, compile included;
about half of that on quiet cores, still over the ~3-minute quick budget). The models leave the initial plateau: the
training loss falls from the zero predictor's 3.5 to ~2.45 (Bayes, averaged over k: 1.89), and the test error per k
(normalised by d) is 1.19, 0.95, 0.81, 0.75, 0.69, 0.66, 0.66 against Bayes 1.17, 0.91, 0.69, 0.54, 0.43, 0.36, 0.32:
within 20% of Bayes for k <= 2, 1.4-2.1x above it for k >= 3, i.e. on the one-tuned-GD-step curve (the negative
control; 0.77, 0.70, 0.64, 0.60 at k = 3..6), where a shallow, briefly trained model is expected to sit. Verdict FAIL
(4/7 near-Bayes rows outside the declared 0.2), negative control INCONCLUSIVE (the below-OLS row at k = d+2 is
undecided: 0.663 +- 0.041 against 0.667).

What was changed to get off the plateau (each compared on 4 models, same load; losses are training-window means):
* Garg's initialisation (``theory_lab.icl.transformer``): PyTorch-default read-in/read-out, GPT-2's 0.02 positional
  embedding and 0.02/sqrt(2 L) residual projections, instead of N(0, 0.02^2) everywhere: 2 of 4 models leave the
  plateau within 3000 steps at batch 32 instead of 0 of 4.
* Garg's curriculum over dimensions (1 -> 3, +1 every 300 steps; masking x's coordinates inside the scan). The points
  part (masking the loss to the first n_eff positions, exact under causal attention) did not help at this size and is
  off (curriculum_n0 = n_points): with d_eff = 1 every position still carries signal.
* Batch 64 instead of 16-32, and antithetic pairs (x, y), (x, -y): unbiased, and on the plateau the label-odd part of
  the gradient cancels within a pair. All 4 models then leave the plateau by ~step 1000 (batch 64).
* float32 training (evaluation in float64): ~2x cheaper than float64. Cosine decay of the rate.
After the plateau the models converge slowly: at 8000 steps (batch 64) the training loss is 2.08-2.16 and the test
error 1.3-1.5x Bayes at k = 6; 12,000 steps at batch 32 gave the same; 3 layers (6000 steps) the same; width 16 (6000
steps, batch 64) 1.2-1.6x at k = 5..6 for the models that left the plateau, 2 of 4 did not; Adam beta2 = 0.95 no
change; lr 2e-3 / 3e-3 no better than 1e-3. Reaching 1.2x Bayes at every k looks like >= 20,000 steps per model,
i.e. ~20 minutes of one core for 16 models: the full profile (Garg's own setting, d = 20, 12 layers) is for a GPU, and
this check is registered once one is lent or the quick budget allows it.

Seeds: the engine runs every trial inside a vmapped block of 16 (theory_lab/sweep.py BLOCK; the last trial is
repeated to fill a block), so 8 seeds cost the same as 16 (measured on `icl.lsa-multilayer`: 8, 16, 32 seeds took
38.6, 42.6, 75.9 s under the same load).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.icl import estimators as est
from theory_lab.icl.transformer import Curriculum, simulate_transformer_icl
from theory_lab.rules import Agree, BoundHolds, Row, mean_and_se
from theory_lab.sweep import Grid, SweepResult

#: Wishart draws for the float64 Monte-Carlo of the exact finite-d Bayes risk; its (tiny) standard error is added in
#: quadrature to the simulation's.
BAYES_DRAWS = 100_000


@lru_cache(maxsize=64)
def bayes_curve(d: int, n_points: int, sigma2: float, psi2: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact Bayes risk R_Bayes(k) for k = 0..n_points-1 (unnormalised) and its Monte-Carlo standard error."""
    vals, ses = [], []
    for k in range(n_points):
        if k == 0:
            vals.append(est.zero_risk(d, sigma2, psi2))
            ses.append(0.0)
            continue
        r, s = est.ridge_risk_mc(k, d, sigma2 / psi2, sigma2, psi2, n_draws=BAYES_DRAWS, seed=1000 + k)
        vals.append(r)
        ses.append(s)
    return np.asarray(vals), np.asarray(ses)


def gd_curve(d: int, n_points: int, sigma2: float, psi2: float) -> np.ndarray:
    """Negative control: risk of one optimally tuned gradient-descent step (the linear-attention optimum,
    eta* = k/(k+d+1+sigma^2/psi^2)); k = 0 gives the zero predictor."""
    k = np.arange(n_points, dtype=np.float64)
    out = np.full(n_points, est.zero_risk(d, sigma2, psi2))
    kk = k[1:]
    out[1:] = est.gd_one_step_risk(kk, d, est.gd_one_step_optimal_eta(kk, d, sigma2, psi2), sigma2, psi2)
    return out


def ols_rows_k(d: int, n_points: int) -> list[int]:
    """Prompt lengths near k = d where least squares has a finite risk: d-2 and d+2 (when inside the prompt)."""
    return [k for k in (d - 2, d + 2) if 1 <= k <= n_points - 1]


class TransformerVsBaselines(Check):
    id = "icl.transformer-vs-baselines"
    source = Source(
        paper="Garg, Tsipras, Liang, Valiant, What can transformers learn in-context? A case study of simple function "
              "classes (NeurIPS 2022)",
        where="Section 3 and Figure 2 (linear functions; noisy linear regression evaluation); baselines from notes "
              "in_context_learning.md sections 3 and 6",
        arxiv="2208.01066",
    )
    statement = ("A GPT-2-style softmax transformer trained on noisy linear-regression prompts (x ~ N(0,I_d), "
                 "w ~ N(0,psi^2 I), noise sigma^2) has, at every number k of in-context examples, a test error within "
                 "a declared fraction of the Bayes-optimal (ridge, lambda = sigma^2/psi^2) risk, and below the "
                 "least-squares risk near k = d.")
    params = (
        Param("d", "int", 3, "covariate dimension", low=2, high=64),
        Param("n_points", "int", 7, "examples per training prompt (errors reported for k = 0..n_points-1)",
              low=3, high=256),
        Param("sigma2", "float", 0.5, "label-noise variance (> 0: the Bayes estimator is ridge with lambda = "
              "sigma2/psi2)", low=0.0, high=100.0, open_low=True),
        Param("psi2", "float", 1.0, "prior variance of the task vector w", low=0.0, high=100.0, open_low=True),
        Param("n_layer", "int", 2, "transformer layers", low=1, high=48),
        Param("n_head", "int", 2, "attention heads (must divide n_embd)", low=1, high=32),
        Param("n_embd", "int", 32, "embedding width", low=2, high=2048),
        Param("pos_emb", "bool", True, "learned positional embedding (Garg et al.); false: none"),
        Param("steps", "int", 3000, "Adam steps (fresh prompts every step)", low=1, high=2_000_000),
        Param("batch", "int", 64, "prompts per step", low=1, high=4096),
        Param("lr", "float", 1e-3, "Adam learning rate (after linear warm-up)", low=0.0, high=1.0, open_low=True),
        Param("warmup", "int", 100, "linear learning-rate warm-up steps", low=0, high=1_000_000),
        Param("cosine", "bool", True, "after warm-up, decay the learning rate along a half cosine to 0 at the last "
              "step (false: constant, as Garg et al.)"),
        Param("curriculum_every", "int", 300, "Garg's curriculum: steps between increments of +1 active dimension "
              "and +2 scored points (0: no curriculum)", low=0, high=1_000_000),
        Param("curriculum_d0", "int", 1, "curriculum: active dimensions of x at the start", low=1, high=64),
        Param("curriculum_n0", "int", 7, "curriculum: scored points per prompt at the start (= n_points: the "
              "dimension curriculum only)", low=1, high=256),
        Param("antithetic", "bool", True, "train on antithetic pairs of prompts (x, y) and (x, -y) (tasks w and -w: "
              "unbiased, much less gradient noise on the initial plateau; batch must be even)"),
        Param("train_float32", "bool", True, "train in float32 (parameters, Adam state, training prompts); the "
              "trained model is cast to the simulation dtype for evaluation, baselines and theory"),
        Param("n_eval", "int", 1000, "fresh evaluation prompts per trained model", low=10, high=1_000_000),
        Param("max_excess", "float", 0.2, "declared tolerance: allowed excess risk over Bayes as a fraction of the "
              "Bayes risk at each k", low=0.0, high=1.0),
    )
    profiles = {
        "quick": Profile(seeds=16, description="d=3, 7 points, 2 layers x 2 heads x width 32, 3000 Adam steps at "
                         "batch 64 (32 antithetic pairs), dimension curriculum 1 -> 3, float32 training; 16 "
                         "independently trained models (one vmapped block: fewer seeds cost the same)"),
        "full": Profile(seeds=16, params={"d": 20, "n_points": 41, "n_layer": 12, "n_head": 8, "n_embd": 256,
                                          "steps": 500_000, "batch": 64, "lr": 1e-4, "warmup": 5000,
                                          "cosine": False, "curriculum_every": 2000, "curriculum_d0": 5,
                                          "curriculum_n0": 11, "antithetic": False, "n_eval": 1280,
                                          "max_excess": 0.05},
                        description="Garg et al.'s standard setting: 12 layers, 8 heads, width 256, d=20, 41 points, "
                                    "500k Adam steps at batch 64, constant lr 1e-4, their curriculum (dimensions "
                                    "5 -> 20 and points 11 -> 41, +1 / +2 every 2000 steps); for a GPU"),
    }
    tolerance = ("(1) near-Bayes: for every k = 0..n_points-1, Agree at family-wise alpha=0.01 (Holm) between the "
                 "transformer's mean test error over trained models (each averaged over n_eval fresh prompts; SE over "
                 "models, plus the Bayes Monte-Carlo SE in quadrature) and the exact Bayes risk, with the declared "
                 "finite-training term max_excess x R_Bayes(k): 0.2 at the quick profile (a 2-layer width-32 model "
                 "trained 3000 steps on 2 CPU cores cannot be expected to be exactly Bayes-optimal; 0.2 still "
                 "separates Bayes from least squares and from one GD step, which are 1.3-1.9x worse at k = 3..6 for "
                 "d = 3), 0.05 at the full (paper-scale) profile. Fixed before training (0.2 was declared with the "
                 "first, d = 5 quick profile and kept when the profile changed). (2) below least squares: at "
                 "k = d-2 and d+2 (where the OLS risk is finite), the transformer's error is <= the exact OLS risk at "
                 "the one-sided alpha=0.01 upper confidence limit (BoundHolds, Bonferroni). Errors are reported "
                 "normalised by d (Garg's convention). Precision: training in float32 (train_float32); the trained "
                 "model, the evaluation prompts, the baselines and the theory are float64 (the simulation dtype), and "
                 "the tolerance is about those float64 errors.")
    negative_control = ("the transformer implements one optimally tuned gradient-descent step (the trained linear "
                        "self-attention optimum of von Oswald et al. / Zhang-Frei-Bartlett) instead of the Bayes "
                        "estimator: the risk sigma^2 + psi^2 d (d+1+sigma^2/psi^2)/(k+d+1+sigma^2/psi^2) replaces "
                        "R_Bayes(k) in rule (1), same tolerance")
    figure = "transformer_baselines"

    def validate(self, p: Mapping[str, Any]) -> None:
        if p["n_embd"] % p["n_head"]:
            raise BadInput(f"n_embd={p['n_embd']} is not divisible by n_head={p['n_head']}")
        if p["warmup"] >= p["steps"]:
            raise BadInput(f"warmup={p['warmup']} must be smaller than steps={p['steps']}")
        if p["antithetic"] and p["batch"] % 2:
            raise BadInput(f"antithetic pairs need an even batch, got batch={p['batch']}")
        if p["curriculum_every"] and (p["curriculum_d0"] > p["d"] or p["curriculum_n0"] > p["n_points"]):
            raise BadInput(f"curriculum start (d0={p['curriculum_d0']}, n0={p['curriculum_n0']}) exceeds the task "
                           f"(d={p['d']}, n_points={p['n_points']})")
        if not ols_rows_k(p["d"], p["n_points"]):
            raise BadInput(f"n_points={p['n_points']} is too short to reach k = d-2 = {p['d'] - 2} in-context examples")

    def grid(self, p: Mapping[str, Any]) -> Grid:
        static = {k: [p[k]] for k in ("d", "n_points", "n_layer", "n_head", "n_embd", "pos_emb", "steps", "batch",
                                      "warmup", "n_eval", "cosine", "curriculum_every", "curriculum_d0",
                                      "curriculum_n0", "train_float32", "antithetic")}
        dynamic = {"lr": [float(p["lr"])], "sigma2": [float(p["sigma2"])], "psi2": [float(p["psi2"])]}
        return Grid.product(static=static, dynamic=dynamic)

    def simulate(self, key, static, dynamic):
        import jax.numpy as jnp

        every = int(static["curriculum_every"])
        cur = Curriculum(int(static["curriculum_d0"]), int(static["curriculum_n0"]), every) if every else None
        return simulate_transformer_icl(
            key, d=static["d"], n_points=static["n_points"], n_layer=static["n_layer"], n_head=static["n_head"],
            n_embd=static["n_embd"], steps=static["steps"], batch=static["batch"], n_eval=static["n_eval"],
            warmup=static["warmup"], pos_emb=bool(static["pos_emb"]), lr=dynamic["lr"], sigma2=dynamic["sigma2"],
            psi2=dynamic["psi2"], dtype=sim_dtype(), train_dtype=jnp.float32 if static["train_float32"] else None,
            curriculum=cur, cosine=bool(static["cosine"]), antithetic=bool(static["antithetic"]))

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        d, n, s2, p2 = p["d"], p["n_points"], float(p["sigma2"]), float(p["psi2"])
        bayes, bayes_se = bayes_curve(d, n, s2, p2)
        theory = gd_curve(d, n, s2, p2) if control else bayes
        th_se = np.zeros(n) if control else bayes_se
        tf = sweep.data["err_tf"][0] / d  # (seeds, n_points), normalised
        mean, se, bad = mean_and_se(tf, axis=0)
        frac = float(p["max_excess"])
        near = [Row({"k": k}, float(theory[k] / d), float(mean[k]), float(np.hypot(se[k], th_se[k] / d)),
                    int(bad[k])) for k in range(n)]
        rule = Agree(alpha=0.01, correction="holm", finite_size=lambda r: frac * abs(r.theory),
                     finite_size_doc=f"max_excess x theory = {frac:g} x R(k)/d (finite training, declared)")
        ols = est.ols_risk(np.arange(n), d, s2, p2)
        below = [Row({"k": k}, float(ols[k] / d), float(mean[k]), float(se[k]), int(bad[k]))
                 for k in ols_rows_k(d, n)]
        return [Evidence("near-bayes", rule, near),
                Evidence("below-ols", BoundHolds(alpha=0.01, side="upper"), below)]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        d, n, s2, p2 = p["d"], p["n_points"], float(p["sigma2"]), float(p["psi2"])
        out: dict[str, Any] = {"k": list(range(n))}
        for name in ("err_tf", "err_ridge", "err_ols"):
            m, s, _ = mean_and_se(sweep.data[name][0] / d, axis=0)
            out[name] = [m.tolist(), s.tolist()]
        out["bayes"] = (bayes_curve(d, n, s2, p2)[0] / d).tolist()
        ols = est.ols_risk(np.arange(n), d, s2, p2) / d
        out["ols"] = [float(v) if np.isfinite(v) else None for v in ols]
        out["gd"] = (gd_curve(d, n, s2, p2) / d).tolist()
        out["averaging"] = [None] + (est.averaging_risk(np.arange(1, n), d, s2, p2) / d).tolist()
        tl, tls, _ = mean_and_se(sweep.data["train_loss"][0], axis=0)
        out["train_loss"] = [tl.tolist(), tls.tolist()]
        out["bayes_avg"] = float(np.mean(bayes_curve(d, n, s2, p2)[0]))
        every = int(p["curriculum_every"])
        out["curriculum_end"] = Curriculum(p["curriculum_d0"], p["curriculum_n0"], every).end(d, n) if every else 0
        return out


CHECK = register(TransformerVsBaselines())
