"""`rmt.random-features`: Mei–Montanari random-features ridge regression, test risk versus N/n (double descent).

Theory: :mod:`theory_lab.rmt.random_features` (`rf_risk`: the (nu1, nu2) fixed point and E0/E1/E2, B and V).
Simulator: :func:`~theory_lab.rmt.random_features.simulate_random_features_risk` (x, theta uniform on the sphere of
radius sqrt(d), ReLU features, ridge (N lam/d)||a||^2, the test risk computed exactly from population quantities).
Figure: ``figures/random_features.py``.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.rmt import random_features as rf
from theory_lab.rules import Agree, Row, mean_and_se
from theory_lab.sweep import Grid, SweepResult

#: Declared finite-d relative term C_D / sqrt(d) (see ``finite_size_allowance``), fixed before any simulation.
C_D = 0.6
#: ReLU's second Hermite coefficient squared over mu_star^2: mu2 = E[relu(G)(G^2 − 1)]/sqrt(2) = 1/(2 sqrt(pi)).
_MU2_OVER_MUSTAR_SQ = (1.0 / (4.0 * math.pi)) / (0.25 - 1.0 / (2.0 * math.pi))


def sizes(psi1: float, psi2: float, d: int) -> tuple[int, int]:
    """(N, n) = (round(psi1 d), round(psi2 d)); the theory is evaluated at the realised N/d, n/d."""
    return max(1, int(round(psi1 * d))), max(1, int(round(psi2 * d)))


def control_risk(psi1, psi2, lam, f1, tau, f_star):
    """Negative control: the risk with lam_bar = lam, i.e. the rescaling lam / mu_star^2 forgotten (zeta kept)."""
    return rf.rf_risk(psi1, psi2, lam, f1, tau, f_star, mu_star=1.0)


def finite_size_allowance(theory: float, d: int, N: int, n: int, lam: float, f_star: float) -> float:
    """Declared finite-d term of the comparison at one point (fixed before any simulation was run).

    allowance = |R| [ C_D / sqrt(d) + 1 / max(|N − n|, n sqrt(psi1 lam_bar)) ] + F*^2 2 psi2 (mu2/mu_star)^2 / d.

    1. C_D / sqrt(d), C_D = 0.6. The notes' Monte Carlo (section 4d; d = 400, 8 repetitions, 4 points) agrees within
       about 2 SE, with deviations of up to 2.8% of R (psi1 = 0.5, psi2 = 2, lam = 1e-3) that the notes flag as a
       possible finite-d bias of 2–3%. We take 3% at d = 400 as the size of the finite-d bias and extrapolate to
       smaller d with the slower of the two plausible rates, 1/sqrt(d) (the nonlinear part of the features deviates
       from the theorem's independent-noise model by a matrix of relative operator norm ~ d^(-1/2)); 1/d would be
       smaller for d < 400. Gives 6% at d = 100, 4.2% at d = 200, 3% at d = 400.
    2. 1 / max(|N − n|, n sqrt(psi1 lam_bar)): the interpolation peak. For min-norm least squares the exact finite-n
       relative correction of the variance is 1/|p − n| (inverse-Wishart means); with a ridge the hard-edge
       singularity at p = n is cut off at sqrt(ridge in Marchenko–Pastur units), here psi1 lam_bar (the nonlinear
       part of Z^T Z / n is mu_star^2 times an MP matrix, and the penalty adds N lam / d to it). Same shape as the
       declared heuristic of `rmt.hmrt-ridgeless`; it matters only near N = n with small lam.
    3. F* > 0 only: a random quadratic target is not exactly unlearnable at finite d; by the eigen-learnability
       estimate, ridge regression with n samples learns a fraction ~ (mu2/mu_star)^2 n / dim(degree-2 harmonics)
       = (mu2/mu_star)^2 2 psi2 / d of it, which changes the F*^2 term by that fraction. Zero at F* = 0.
    """
    psi1 = N / d
    lam_bar = lam / rf.relu_coefficients()[2] ** 2
    peak = 1.0 / max(abs(N - n), n * math.sqrt(psi1 * lam_bar))
    nonlinear = f_star**2 * 2.0 * (n / d) * _MU2_OVER_MUSTAR_SQ / d
    return float(abs(theory) * (C_D / math.sqrt(d) + peak) + nonlinear)


class RandomFeatures(Check):
    id = "rmt.random-features"
    source = Source(
        paper="Mei & Montanari, The generalization error of random features regression: precise asymptotics and the "
              "double descent curve (Comm. Pure Appl. Math. 2022)",
        where="formula for the asymptotic risk (Definition 1) and the main theorem for lam > 0: R = F1^2 B + "
              "(tau^2 + F*^2) V + F*^2, B = E1/E0, V = E2/E0 from the (nu1, nu2) fixed point at "
              "xi = i sqrt(psi1 psi2 lam/mu_star^2); formula from memory in the notes [MEM], section 4d",
        arxiv="1908.05355",
    )
    statement = ("For ReLU random features sigma(<theta_a, x>/sqrt d) with x, theta uniform on the sphere of radius "
                 "sqrt(d), N = psi1 d features and n = psi2 d samples, the test risk of ridge regression with "
                 "penalty (N lam/d)||a||^2 converges to F1^2 B + (tau^2 + F*^2) V + F*^2, which for small lam peaks "
                 "near the interpolation threshold N = n and diverges there as lam -> 0 (double descent in N/n).")
    params = (
        Param("psi1", "floats", (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0),
              "features per dimension N/d (the sweep; N = round(psi1 d))", low=0.05, high=20.0),
        Param("psi2", "float", 2.0, "samples per dimension n/d (n = round(psi2 d))", low=0.05, high=20.0),
        Param("lam", "floats", (1e-3, 1e-2, 1e-1),
              "ridge values lam of the penalty (N lam/d)||a||^2; the theorem needs lam > 0", low=1e-5, high=100.0),
        Param("d", "int", 100, "input dimension", low=16, high=4000),
        Param("f1", "float", 1.0, "||beta||, the linear part of the target", low=0.0, high=10.0, open_low=True),
        Param("tau", "float", 0.5, "noise standard deviation", low=0.0, high=10.0),
        Param("f_star", "float", 0.0, "F*, the norm of the (unlearnable) nonlinear target part", low=0.0, high=10.0),
    )
    profiles = {
        # 48 seeds: SE ~1-1.5% of R, so z*SE (z ~3.2-3.5 after Holm over 24 rows) is about the declared 6% finite-d
        # term; wall time is dominated by compiling the 8 static (N) groups.
        "quick": Profile(seeds=48, description="d = 100 (n = 200, N = 50..600), 8 N-values x 3 lam x 48 seeds; "
                                               "46 s wall measured on the shared 2-core CPU at load ~4"),
        "full": Profile(seeds=400, params={"d": 400}, description="d = 400 (n = 800, N up to 2,400)"),
    }
    tolerance = ("Agree at family-wise alpha=0.01 (Holm over points) with max half-width 0.5 x theory (wider is "
                 "INCONCLUSIVE). Declared finite-d term, fixed before running: |R| [0.6/sqrt(d) + 1/max(|N-n|, "
                 "n sqrt(psi1 lam/mu*^2))] + F*^2 2 psi2 (mu2/mu*)^2/d. The 0.6/sqrt(d) term is 3% at d=400, the "
                 "size of the possible bias seen in the notes' Monte Carlo there, extrapolated to smaller d at the "
                 "slower rate 1/sqrt(d) (6% at d=100); the second is the exact inverse-Wishart shape of the "
                 "finite-n correction near the interpolation peak, cut off by the ridge; the third (F*>0 only) is "
                 "the fraction of a quadratic target that n samples can learn at finite d. The simulated risk is "
                 "exact given the draw (population quantities, no test-set noise), float64.")
    negative_control = ("the same formula with lam_bar = lam (the rescaling by mu_star^2 = 1/4 - 1/(2 pi) "
                        "forgotten): off by 5-37% across the default grid")
    figure = "random_features"
    # Calibration effect: the declared finite-d term alone is 6.2-9.4% of R at the quick profile's d = 100, and with
    # the Holm t-quantile times the SE the narrowest relative half-width is about 11% (psi1 = 3-6, lam = 0.1). A 5%
    # theory error is therefore below what the quick profile is built to resolve (measured: power 0/100 at 5%,
    # 0/100 false FAILs); 15% is. The full profile (d = 400, finite-d term 3%) resolves smaller errors.
    min_effect = 0.15

    def points(self, p: Mapping[str, Any]) -> list[tuple[float, float]]:
        return [(float(s), float(lam)) for lam in p["lam"] for s in p["psi1"]]

    def validate(self, p: Mapping[str, Any]) -> None:
        d = p["d"]
        n_list = [sizes(s, p["psi2"], d) for s in p["psi1"]]
        big_n = [N for N, _ in n_list]
        if len(set(big_n)) != len(big_n):
            raise BadInput(f"psi1 values {p['psi1']} give repeated N = round(psi1 d) at d={d}; use distinct values")
        n = n_list[0][1]
        if n < 10 or min(big_n) < 4:
            raise BadInput(f"d={d} gives n={n} samples and N={min(big_n)} features; need n >= 10 and N >= 4")
        if max(max(big_n), n) > 8000:
            raise BadInput(f"N={max(big_n)}, n={n} at d={d}: above 8000 a trial's N x N kernel does not fit the memory "
                           "budget; lower psi1, psi2 or d")

    def grid(self, p: Mapping[str, Any]) -> Grid:
        d = p["d"]
        pts = []
        for s, lam in self.points(p):
            N, n = sizes(s, p["psi2"], d)
            pts.append({"psi1": s, "d": d, "N": N, "n": n, "lam": lam, "f1": p["f1"], "tau": p["tau"],
                        "f_star": p["f_star"]})
        return Grid.from_points(pts, static=("psi1", "d", "N", "n"))

    def simulate(self, key, static, dynamic):
        return rf.simulate_random_features_risk(key, d=static["d"], N=static["N"], n=static["n"], lam=dynamic["lam"],
                                                f1=dynamic["f1"], tau=dynamic["tau"], f_star=dynamic["f_star"],
                                                dtype=sim_dtype())

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        d, f1, tau, fs = p["d"], p["f1"], p["tau"], p["f_star"]
        rows, allowance = [], {}
        theory_fn = control_risk if control else rf.rf_risk
        for s, lam in self.points(p):
            N, n = sizes(s, p["psi2"], d)
            i = sweep.index(psi1=s, lam=lam)
            theory = float(theory_fn(N / d, n / d, lam, f1, tau, fs))
            true_theory = float(rf.rf_risk(N / d, n / d, lam, f1, tau, fs))
            mean, se, bad = mean_and_se(sweep.data["risk"][i])
            label = {"psi1": s, "lam": lam, "N": N, "n": n, "d": d, "N_over_n": N / n}
            # the allowance is declared on the (correct) theory's size, so the control is judged with the same
            # tolerances as the claim
            allowance[(s, lam)] = finite_size_allowance(true_theory, d, N, n, lam, fs)
            rows.append(Row(label, theory, float(mean), float(se), int(bad)))
        rule = Agree(alpha=0.01, correction="holm", max_halfwidth=0.5,
                     finite_size=lambda row: allowance[(row.label["psi1"], row.label["lam"])],
                     finite_size_doc="|R|[0.6/sqrt(d) + 1/max(|N-n|, n sqrt(psi1 lam_bar))] + F*^2 2 psi2 "
                                     "(mu2/mu*)^2/d")
        return [Evidence("risk", rule, rows)]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        n = sizes(p["psi1"][0], p["psi2"], p["d"])[1]
        return {"n": n, "c_d": C_D}


CHECK = register(RandomFeatures())
