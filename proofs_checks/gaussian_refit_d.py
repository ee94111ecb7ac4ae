"""`loops.gaussian-refit-d`: d-dimensional Gaussian refit on its own samples: covariance and log-det drift, with and
without a fixed fraction of fresh real data (extends the 1-D `loops.gaussian-refit`).

Theory: :mod:`theory_lab.loops.gaussian_refit_d` (exact finite-n Wishart identities, [derived] in notes section 4e
and in the docstrings). Simulator: the statistic-level (Bartlett) sampler
:func:`~theory_lab.loops.gaussian_refit_d.simulate_gaussian_refit_d_fast` by default; ``--set sampler=data`` runs the
data-level reference :func:`~theory_lab.loops.gaussian_refit_d.simulate_gaussian_refit_d` instead (the tests compare
the two in distribution). Figure: ``figures/gaussian_refit_d.py``.

Measured cost on 2 shared CPU cores (d = 4, n = 20, under ~4x contention): the Bartlett sampler costs ~20 us per
generation-trial against ~12 us for the data-level one: at n = 20 the rejection-sampled chi-squares cost more than the
80 normals they replace. Its cost does not grow with n: at the full profile's d = 10, n = 400 (n_real = 100), 1000
trials x 20 generations took 0.50 s of CPU against 52 s for the data-level simulator (~100x).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy.special import digamma

from proofs_checks.gaussian_refit import wrong_mixed
from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.loops import gaussian_refit as gr
from theory_lab.loops import gaussian_refit_d as gd
from theory_lab.rules import Agree, BoundHolds, Row, mean_and_se, variance_and_se
from theory_lab.sweep import Grid, SweepResult


def compared_generations(t: int) -> list[int]:
    """About eight generations, evenly spaced, ending at t (as in `loops.gaussian-refit`)."""
    return sorted({max(1, round(t * k / 8)) for k in range(1, 9)})


def trace_generations(t: int, n: int, d: int) -> list[int]:
    """Pure-loop generations at which E tr Sigma_t / d is compared: those of :func:`compared_generations` where the
    exact coefficient of variation of tr Sigma_t (from :func:`gd.trace_second_moments`) is at most 1. Beyond that the
    mean is carried by rare paths and its sample standard error is unreliable (notes 4e warning). Decided from theory
    alone, before any simulation."""
    a, _ = gd.trace_second_moments(t, n, d)
    v = gd.expected_trace(np.arange(t + 1), n)
    cv = np.sqrt(np.maximum(a / (d * v) ** 2 - 1.0, 0.0))
    return [g for g in compared_generations(t) if cv[g] <= 1.0]


def wrong_pure(t: np.ndarray, n: int, d: int) -> dict[str, np.ndarray]:
    """Negative control, pure loop: the formulas of the *unbiased* covariance refit (divide by n - 1): drift
    sum psi((n-i)/2) + d log(2/(n-1)) per generation, E tr Sigma_t / d = 1 (a martingale), E||mu_t||^2/d = t/n, and
    the delta-method variance 2d/(n-1) per generation for log det."""
    i = np.arange(1, d + 1)
    t = np.asarray(t, dtype=np.float64)
    return {
        "mean_log_det": t * (np.sum(digamma((n - i) / 2.0)) + d * np.log(2.0 / (n - 1))),
        "var_log_det": t * 2.0 * d / (n - 1),
        "mean_trace": np.ones_like(t),
        "mean_drift_sq": t / n,
    }


def wrong_floor(n: int, n_real: int, d: int) -> float:
    """Negative control, mixed loop floor: forgetting that centring at the sample mean costs a degree of freedom
    (Wishart with n_real instead of n_real - 1 dof)."""
    return gd.wishart_log_det_mean(n_real, d) - d * np.log(n)


class GaussianRefitD(Check):
    id = "loops.gaussian-refit-d"
    source = Source(
        paper="Shumailov et al., The curse of recursion (pure loop); Bertrand et al., On the stability of iterative "
              "retraining of generative models on their own data (fresh data); exact d-dim identities derived in "
              "shared/theory/rmt_and_self_consuming_loops.md and theory_lab/loops/gaussian_refit_d.py",
        where="section 4e (d-dim): W_t = n Sigma_t^{-1/2} Sigma_{t+1} Sigma_t^{-1/2} ~ Wishart_d(n-1, I); "
              "E log det Wishart = sum of digammas; mixed-data moment recursion",
        arxiv="2305.17493, 2310.00429",
    )
    statement = ("Refitting a d-dim Gaussian by MLE on n of its own samples per generation gives E log det Sigma_t = "
                 "t[sum_i psi((n-i)/2) + d log(2/n)], Var log det Sigma_t = t sum_i psi'((n-i)/2), E tr Sigma_t/d = "
                 "((n-1)/n)^t and E||mu_t||^2/d = 1-((n-1)/n)^t (collapse); with n_real fresh real samples per "
                 "generation, E tr Sigma_t/d and E||mu_t||^2/d follow the exact 1-D recursion and E log det Sigma_t "
                 "stays between the real-data floor sum_i psi((n_real-i)/2) + d log(2/n) and d log E[tr Sigma_t/d].")
    params = (
        Param("d", "int", 4, "dimension of the Gaussian", low=1, high=256),
        Param("n", "int", 20, "samples per generation (n >= d + 1)", low=2, high=100_000),
        Param("t", "int", 30, "generations simulated", low=1, high=2_000),
        Param("real_fraction", "floats", (0.0, 0.25, 0.5),
              "fractions of fresh real samples per generation (0 = pure loop); n_real = round(fraction * n) must be "
              "0 or in [d+1, n-d-1]", low=0.0, high=1.0, open_high=True),
        Param("sampler", "str", "bartlett",
              "bartlett = statistic-level (Bartlett) sampler; data = data-level reference",
              choices=("bartlett", "data")),
    )
    profiles = {
        "quick": Profile(seeds=3000, description="d=4, n=20, t=30, real fraction 0, 0.25, 0.5; ~10 s on 2 CPU cores"),
        "full": Profile(seeds=200_000, params={"d": 10, "n": 400, "t": 200, "real_fraction": (0.0, 0.1, 0.25, 0.5)},
                        description="paper-scale seeds, d=10, n=400, a longer horizon (Bartlett sampler)"),
    }
    tolerance = ("moments: Agree at family-wise alpha=0.01 (Holm over all rows). No finite-size term: every formula is "
                 "exact at finite n. SEs: s/sqrt(R) for means, sqrt((m4 - s^4)/R) for Var log det. Pure loop: E and "
                 "Var of log det Sigma_t and E||mu_t||^2/d at ~8 generations, E tr Sigma_t/d only at generations "
                 "where the exact coefficient of variation of tr Sigma_t is <= 1 (beyond, rare paths carry the mean). "
                 "Mixed loop: E tr Sigma_t/d and E||mu_t||^2/d. bounds: BoundHolds (alpha=0.01, Bonferroni, one-sided) "
                 "for the mixed loop's E log det Sigma_t above the real-data floor and below d log v_t, every compared "
                 "generation.")
    negative_control = ("pure loop: the unbiased-refit (divide by n-1) formulas with the delta-method variance "
                        "2d/(n-1) per generation; mixed loop: the 1-D recursion without the a(1-a)d_t cross term "
                        "(also inside the d log v_t ceiling) and the floor with n_real instead of n_real-1 degrees of "
                        "freedom")
    figure = "gaussian_refit_d"

    def validate(self, p: Mapping[str, Any]) -> None:
        d, n = p["d"], p["n"]
        if n < d + 1:
            raise BadInput(f"n={n} < d+1={d + 1}: the MLE covariance is singular; use n >= d + 1")
        for rf in p["real_fraction"]:
            n_real, _ = gr.split_counts(n, rf)
            if n_real != 0 and not d + 1 <= n_real <= n - d - 1:
                raise BadInput(f"real_fraction={rf:g} gives n_real={n_real}; need 0 or d+1 <= n_real <= n-d-1 "
                               f"= [{d + 1}, {n - d - 1}] at d={d}, n={n}")
        if len(set(gr.split_counts(n, rf)[0] for rf in p["real_fraction"])) != len(p["real_fraction"]):
            raise BadInput(f"real_fraction values {p['real_fraction']} give repeated n_real at n={n}; "
                           "give distinct ones")

    def grid(self, p: Mapping[str, Any]) -> Grid:
        pts = [{"d": p["d"], "n": p["n"], "t_max": p["t"], "sampler": p["sampler"],
                "n_real": float(gr.split_counts(p["n"], rf)[0])} for rf in p["real_fraction"]]
        return Grid.from_points(pts, static=("d", "n", "t_max", "sampler"))

    def simulate(self, key, static, dynamic):
        sim = gd.simulate_gaussian_refit_d_fast if static["sampler"] == "bartlett" else gd.simulate_gaussian_refit_d
        return sim(key, d=static["d"], n=static["n"], t_max=static["t_max"], n_real=dynamic["n_real"],
                   dtype=sim_dtype())

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        d, n, t = p["d"], p["n"], p["t"]
        gens = np.asarray(compared_generations(t))
        tr_gens = np.asarray(trace_generations(t, n, d))
        rows: list[Row] = []
        bounds: list[Row] = []

        def add(rf, stat, g_arr, theory, sims):
            mean, se, bad = sims
            for j, g in enumerate(g_arr):
                rows.append(Row({"real_fraction": float(rf), "stat": stat, "t": int(g)}, float(theory[j]),
                                float(mean[j]), float(se[j]), int(bad[j])))

        floor_rows: list[Row] = []
        for i, rf in enumerate(p["real_fraction"]):
            n_real = gr.split_counts(n, rf)[0]
            log_det = sweep.data["log_det"][i]  # (seeds, t+1)
            trace = sweep.data["trace"][i]
            drift = sweep.data["mean_drift_sq"][i]
            if n_real == 0:
                th = wrong_pure(np.arange(t + 1), n, d) if control else {
                    "mean_log_det": gd.expected_log_det(np.arange(t + 1), n, d),
                    "var_log_det": gd.var_log_det(np.arange(t + 1), n, d),
                    "mean_trace": gd.expected_trace(np.arange(t + 1), n),
                    "mean_drift_sq": gd.expected_mean_drift_sq(np.arange(t + 1), n),
                }
                add(rf, "mean_log_det", gens, th["mean_log_det"][gens], mean_and_se(log_det[:, gens].T))
                add(rf, "var_log_det", gens, th["var_log_det"][gens], variance_and_se(log_det[:, gens].T))
                add(rf, "mean_drift_sq", gens, th["mean_drift_sq"][gens], mean_and_se(drift[:, gens].T))
                if tr_gens.size:
                    add(rf, "mean_trace", tr_gens, th["mean_trace"][tr_gens], mean_and_se(trace[:, tr_gens].T))
            else:
                if control:
                    v, dd = wrong_mixed(t, n, rf)
                    floor = wrong_floor(n, n_real, d)
                else:
                    v, dd = gd.mixed_moments(t, n, rf)
                    floor = gd.log_det_floor(n, n_real, d)
                add(rf, "mean_trace", gens, v[gens], mean_and_se(trace[:, gens].T))
                add(rf, "mean_drift_sq", gens, dd[gens], mean_and_se(drift[:, gens].T))
                m, se, bad = mean_and_se(log_det[:, gens].T)
                for j, g in enumerate(gens):
                    floor_rows.append(Row({"real_fraction": float(rf), "stat": "log_det_floor", "t": int(g)},
                                          float(floor), float(m[j]), float(se[j]), int(bad[j])))
                    bounds.append(Row({"real_fraction": float(rf), "stat": "log_det_ceiling", "t": int(g)},
                                      float(d * np.log(v[g])), float(m[j]), float(se[j]), int(bad[j])))
        ev = [Evidence("moments", Agree(alpha=0.01, correction="holm", finite_size_doc="none (exact at finite n)"),
                       rows)]
        if floor_rows:
            ev.append(Evidence("log_det_floor", BoundHolds(alpha=0.01, side="lower"), floor_rows))
            ev.append(Evidence("log_det_ceiling", BoundHolds(alpha=0.01, side="upper"), bounds))
        return ev

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        """Mean log det Sigma_t and its SE at every generation, per real fraction (for the figure's curves)."""
        out = {}
        for i, rf in enumerate(p["real_fraction"]):
            m, se, _ = mean_and_se(sweep.data["log_det"][i].T)
            out[f"{float(rf):g}"] = {"mean_log_det": m.tolist(), "se_log_det": se.tolist()}
        return {"log_det_by_generation": out}


CHECK = register(GaussianRefitD())
