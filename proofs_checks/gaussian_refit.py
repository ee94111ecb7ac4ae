"""`loops.gaussian-refit`: model collapse of a 1-D Gaussian refit on its own samples, and how fresh data stops it.

Theory: :mod:`theory_lab.loops.gaussian_refit` (exact finite-n identities). Simulator: the data-level loop
:func:`~theory_lab.loops.gaussian_refit.simulate_gaussian_refit` (n samples drawn and refitted every generation).
Figure: ``figures/gaussian_refit.py``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.loops import gaussian_refit as gr
from theory_lab.rules import Agree, Row, mean_and_se, variance_and_se
from theory_lab.sweep import Grid, SweepResult


def compared_generations(t: int) -> list[int]:
    """Generations at which theory and simulation are compared: about eight, evenly spaced, ending at t."""
    return sorted({max(1, round(t * k / 8)) for k in range(1, 9)})


def wrong_pure(t: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Negative control for the pure loop: the formulas of the *unbiased* refit (divide by n-1) and the delta-method
    variance 2/(n-1) per generation — the plausible slips of someone who mixes up the two estimators."""
    from scipy.special import digamma

    return {
        "mean_log_var": t * (digamma((n - 1) / 2) + np.log(2 / (n - 1))),
        "var_log_var": t * 2.0 / (n - 1),
        "mean_drift_sq": t / n,
    }


def wrong_mixed(t_max: int, n: int, real_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Negative control for the mixed loop: the recursion without the cross term a(1-a) d_t in v_{t+1} (the
    contribution of the mean drift to the pooled variance), a derivation slip that changes the fixed point."""
    n_real, n_synth = gr.split_counts(n, real_fraction)
    a = n_synth / n
    v, d = np.empty(t_max + 1), np.empty(t_max + 1)
    v[0], d[0] = 1.0, 0.0
    for s in range(t_max):
        v[s + 1] = (1 - 1 / n) * ((1 - a) + a * v[s])
        d[s + 1] = a * a * d[s] + ((1 - a) + a * v[s]) / n
    return v, d


class GaussianRefit(Check):
    id = "loops.gaussian-refit"
    source = Source(
        paper="Shumailov et al., The curse of recursion (pure loop); Bertrand et al., On the stability of iterative "
              "retraining of generative models on their own data (fresh data); exact identities derived in "
              "shared/theory/rmt_and_self_consuming_loops.md",
        where="section 4e: chi-square factor n s_{t+1}^2/s_t^2 ~ chi^2_{n-1}; mixed-data moment recursion",
        arxiv="2305.17493, 2310.00429",
    )
    statement = ("Refitting a Gaussian by MLE on n of its own samples per generation gives E log s_t^2 = "
                 "t[psi((n-1)/2)+log(2/n)], Var log s_t^2 = t psi'((n-1)/2) and E(mu_t-mu_0)^2 = 1-((n-1)/n)^t "
                 "(collapse); with a fixed fraction of fresh real data the moments follow an exact linear recursion "
                 "to a non-degenerate fixed point.")
    params = (
        Param("n", "int", 20, "samples per generation", low=2, high=100_000),
        Param("t", "int", 40, "generations simulated", low=1, high=2_000),
        Param("real_fraction", "floats", (0.0, 0.25), "fractions of fresh real samples per generation (0 = pure loop)",
              low=0.0, high=1.0),
    )
    profiles = {
        "quick": Profile(seeds=4000, description="n=20, t=40, real fraction 0 and 0.25; ~1 s on a CPU"),
        "full": Profile(seeds=200_000, params={"t": 200, "real_fraction": (0.0, 0.1, 0.25, 0.5)},
                        description="paper-scale seeds and a longer horizon"),
    }
    tolerance = ("Agree at family-wise alpha=0.01 (Holm over all rows). No finite-size term: every formula is exact at "
                 "finite n. Standard errors: s/sqrt(R) for means, sqrt((m4 - s^4)/R) for the variance of log s_t^2. "
                 "Pure loop: log-moments and the mean drift (E s_t^2 itself is carried by rare paths at large t and "
                 "is not compared); mixed loop: E s_t^2 and E(mu_t-mu_0)^2, which have bounded fourth moments.")
    negative_control = ("pure loop: the unbiased-refit formulas (divide by n-1) with the delta-method variance "
                        "2/(n-1) per generation; mixed loop: the recursion without the a(1-a)d_t cross term")
    figure = "gaussian_refit"

    def validate(self, p: Mapping[str, Any]) -> None:
        for rf in p["real_fraction"]:
            n_real, _ = gr.split_counts(p["n"], rf)
            if rf > 0 and n_real == 0:
                raise BadInput(f"real_fraction={rf:g} rounds to 0 real samples at n={p['n']}; "
                               "use a larger n or fraction")

    def grid(self, p: Mapping[str, Any]) -> Grid:
        pts = [{"n": p["n"], "t_max": p["t"], "n_real": float(gr.split_counts(p["n"], rf)[0])}
               for rf in p["real_fraction"]]
        return Grid.from_points(pts, static=("n", "t_max"))

    def simulate(self, key, static, dynamic):
        return gr.simulate_gaussian_refit(key, n=static["n"], t_max=static["t_max"], n_real=dynamic["n_real"],
                                          dtype=sim_dtype())

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        n, t = p["n"], p["t"]
        gens = np.asarray(compared_generations(t))
        rows: list[Row] = []
        for i, rf in enumerate(p["real_fraction"]):
            n_real = gr.split_counts(n, rf)[0]
            log_var = sweep.data["log_var"][i][:, gens].T  # (gens, seeds)
            drift = sweep.data["mean_drift_sq"][i][:, gens].T
            var = sweep.data["var"][i][:, gens].T
            if n_real == 0:
                theory = (wrong_pure(gens, n) if control else {
                    "mean_log_var": gr.expected_log_var(gens, n),
                    "var_log_var": gr.var_log_var(gens, n),
                    "mean_drift_sq": gr.expected_mean_drift_sq(gens, n),
                })
                sims = {"mean_log_var": mean_and_se(log_var), "var_log_var": variance_and_se(log_var),
                        "mean_drift_sq": mean_and_se(drift)}
            else:
                v, d = (wrong_mixed if control else gr.mixed_moments)(t, n, rf)
                theory = {"mean_var": v[gens], "mean_drift_sq": d[gens]}
                sims = {"mean_var": mean_and_se(var), "mean_drift_sq": mean_and_se(drift)}
            for stat, (mean, se, bad) in sims.items():
                for j, g in enumerate(gens):
                    rows.append(Row({"real_fraction": float(rf), "stat": stat, "t": int(g)},
                                    float(theory[stat][j]), float(mean[j]), float(se[j]), int(bad[j])))
        return [Evidence("moments", Agree(alpha=0.01, correction="holm", finite_size_doc="none (exact at finite n)"),
                         rows)]


CHECK = register(GaussianRefit())
