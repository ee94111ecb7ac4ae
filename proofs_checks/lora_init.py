"""`lora.init-a-vs-b`: Init[A] (B = 0, A random) admits learning rates Theta(n^-1/2), Init[B] (A = 0, B random) only
Theta(n^-1), and only Init[A] shows the internal instability (the update-induced feature (A - A_0) x grows with n).

Theory: Hayou, Ghosh, Yu, "The Impact of Initialization on LoRA Finetuning Dynamics" (NeurIPS 2024,
arXiv:2406.08447): large-width analysis with Adam; the notes (shared/theory/kernels_depth_lora.md, section 4) record
the scalings. Simulator: :func:`theory_lab.kernels.lora.simulate_lora_init_toy` (the notes' [RECON] toy: teacher
B* A*, 16 Gaussian inputs, Adam with one learning rate for A and B, 60 steps). Figure: ``figures/lora_init.py``.

Which learning rate is located. The final training loss versus learning rate has a flat valley several octaves wide
(the toy interpolates its 16 examples), so its argmin is ill-defined; the paper's scaling statement is about the
*maximal* learning rate that still trains (eta = Theta(n^-1/2) for Init[A], Theta(n^-1) for Init[B]). The check locates
it as the largest learning rate at which the seed-mean final log-loss is still below ``level`` (the right flank of the
valley, interpolated in log2 eta with a delta-method SE, ``rules.locate_crossing``), and evaluates rms((A - A_0) x)
there. Note: this choice of statistic was made after a first look at loss curves of the toy (flat valleys); the
tolerance and finite-size term below were fixed before that look.

Findings (float64 CPU, this toy). The maximal-LR exponents agree with the paper: Init[A] -0.51 +- 0.02 (quick) and
-0.53 +- 0.02 (n = 256..4096, 48 seeds); Init[B] -0.79 +- 0.04 (quick, n = 64..1024; local slopes steepen with n) and
-1.19 +- 0.04 (n = 256..4096). The internal-feature part is marginal at quick (Init[A] 0.25 +- 0.03 against 1/2 with
the 0.15 allowance: |dev|/tol = 1.00) and FAILS with more power or width: 96 seeds at the quick widths give Init[A]
0.25 +- 0.02; n = 256..4096 gives Init[A] 0.17 +- 0.04 and Init[B] -1.03 +- 0.04 (the feature at Init[B]'s maximal LR
shrinks with n instead of staying O(1)). So in this reconstructed toy, measured at the maximal LR, rms((A - A_0) x)
does not grow like n^1/2 under Init[A]; at the valley's argmin (exploratory, 48 seeds, n = 64..4096) it grows like
about n^0.34 under Init[A] and stays ~0.75 under Init[B] — qualitatively the paper's picture, not its exponent.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.kernels import lora
from theory_lab.rules import Agree, Row, fit_power_law, locate_crossing, mean_and_se
from theory_lab.sweep import Grid, SweepResult

#: Theory exponents: maximal learning rate and update-induced A-feature at that learning rate.
THEORY = {("A", "lr"): -0.5, ("B", "lr"): -1.0, ("A", "dza"): 0.5, ("B", "dza"): 0.0}
#: Negative control: the two initialisations swapped.
CONTROL = {("A", "lr"): -1.0, ("B", "lr"): -0.5, ("A", "dza"): 0.0, ("B", "dza"): 0.5}
#: Declared finite-size allowance on every fitted exponent.
FS_EXPONENT = 0.15


def lr_grid(p: Mapping[str, Any]) -> np.ndarray:
    """log2 learning rates: from log2_lr_min to log2_lr_max in steps of 1/lr_per_octave."""
    k = int(round((p["log2_lr_max"] - p["log2_lr_min"]) * p["lr_per_octave"]))
    return p["log2_lr_min"] + np.arange(k + 1) / p["lr_per_octave"]


def _interp(x: np.ndarray, y: np.ndarray, yse: np.ndarray, x_star: float, x_se: float) -> tuple[float, float]:
    """Linear interpolation of y at x_star (x ascending) with a delta-method SE from the two bracketing SEs and x_se."""
    j = int(np.clip(np.searchsorted(x, x_star), 1, len(x) - 1))
    i = j - 1
    t = (x_star - x[i]) / (x[j] - x[i])
    val = (1 - t) * y[i] + t * y[j]
    slope = (y[j] - y[i]) / (x[j] - x[i])
    se = math.sqrt(((1 - t) * yse[i]) ** 2 + (t * yse[j]) ** 2 + (slope * x_se) ** 2)
    return float(val), float(se)


class LoraInitAvsB(Check):
    id = "lora.init-a-vs-b"
    source = Source(
        paper="Hayou, Ghosh, Yu, The Impact of Initialization on LoRA Finetuning Dynamics (NeurIPS 2024); toy model "
              "from shared/theory/kernels_depth_lora.md section 4c",
        where="large-width analysis with Adam: Init[A] maximal LR Theta(n^-1/2) with internal instability "
              "(Z_A ~ n^1/2), Init[B] maximal LR Theta(n^-1), stable",
        arxiv="2406.08447",
    )
    statement = ("In the LoRA teacher-student toy trained with Adam (one learning rate for A and B), the largest "
                 "learning rate that still fits scales as n^-1/2 under Init[A] (B=0, A random) and as n^-1 under "
                 "Init[B] (A=0, B random), and at that learning rate the update-induced feature (A-A_0)x grows like "
                 "n^1/2 under Init[A] but stays O(1) under Init[B].")
    params = (
        Param("widths", "ints", (64, 256, 1024), "widths n (input dimension of A)", low=8, high=2**20),
        Param("rank", "int", 4, "LoRA rank r (teacher and student)", low=1, high=64),
        Param("batch", "int", 16, "training inputs x ~ N(0, I_n)", low=1, high=4096),
        Param("steps", "int", 60, "full-batch Adam steps", low=1, high=100_000),
        Param("log2_lr_min", "float", -8.0, "smallest learning rate, log2", low=-40.0, high=10.0),
        Param("log2_lr_max", "float", 1.0, "largest learning rate, log2 (must exceed every located LR)",
              low=-40.0, high=10.0),
        Param("lr_per_octave", "int", 1, "learning rates per factor 2", low=1, high=16),
        Param("level", "float", -3.0, "'still fits': seed-mean natural log of the final training loss below this",
              low=-30.0, high=0.0),
    )
    profiles = {
        # Seeds for power: at 24 seeds the exponent SEs (0.03-0.07) were comparable to the declared allowance, so
        # deviations of 0.25 went undetected; 48 seeds (SE x 0.7) is what the ~30 s budget allows (LR grid trimmed to
        # 2^-6..2^1, which still brackets every right flank at these widths).
        "quick": Profile(seeds=48, params={"log2_lr_min": -6.0},
                         description="n = 64, 256, 1024; LRs 2^-6..2^1 by octaves; ~30 s on a CPU"),
        "full": Profile(seeds=128, params={"widths": (64, 256, 1024, 4096, 16384), "log2_lr_min": -14.0,
                                           "lr_per_octave": 2},
                        description="n up to 16384, half-octave LR grid, 128 seeds"),
    }
    tolerance = (f"Agree (alpha=0.01, Holm over the 4 exponents) between each fitted exponent (rules.fit_power_law "
                 f"over widths, SEs from the delta-method SEs of the located learning rates) and the theory's, with a "
                 f"declared finite-size term {FS_EXPONENT} on every exponent: the scalings are leading-order "
                 "large-width statements; next-order corrections of relative size O(n^-1/2) with O(1) constants, "
                 "over n from 64 on, move a log-log slope by up to about 0.15.")
    negative_control = ("Init[A] and Init[B] swapped: maximal LR n^-1 for Init[A] and n^-1/2 for Init[B]; feature "
                        "growth n^0 for Init[A] and n^1/2 for Init[B]")
    figure = "lora_init"

    def validate(self, p: Mapping[str, Any]) -> None:
        if len(set(p["widths"])) < 2:
            raise BadInput("parameter widths needs at least two distinct widths to fit an exponent")
        if p["rank"] > min(p["widths"]):
            raise BadInput(f"rank={p['rank']} exceeds the smallest width {min(p['widths'])}")
        if p["log2_lr_max"] - p["log2_lr_min"] < 2.0:
            raise BadInput("log2_lr_max must exceed log2_lr_min by at least 2 (a factor 4) to bracket the flank")

    def grid(self, p: Mapping[str, Any]) -> Grid:
        pts = [{"n": int(n), "init": init, "log2_lr": float(x), "lr": float(2.0**x)}
               for init in ("A", "B") for n in sorted(set(p["widths"])) for x in lr_grid(p)]
        for pt in pts:
            pt.update(rank=int(p["rank"]), batch=int(p["batch"]), steps=int(p["steps"]))
        return Grid.from_points(pts, static=("n", "init", "rank", "batch", "steps"))

    def simulate(self, key, static, dynamic):
        out = lora.simulate_lora_init_toy(key, n=static["n"], rank=static["rank"], batch=static["batch"],
                                          steps=static["steps"], init=static["init"], lr=dynamic["lr"],
                                          dtype=sim_dtype())
        return {k: out[k] for k in ("log_loss", "dza_rms", "za_rms")}

    def summaries(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        """Per init and width: the loss curve, the located maximal LR, the feature there; fitted exponents."""
        xs = lr_grid(p)
        widths = sorted(set(p["widths"]))
        out: dict[str, Any] = {"log2_lr": xs.tolist(), "widths": widths, "level": p["level"]}
        for init in ("A", "B"):
            d: dict[str, Any] = {"curves": [], "x_star": [], "x_se": [], "dza": [], "dza_se": [], "n_bad": 0}
            for n in widths:
                idx = [sweep.index(n=n, init=init, log2_lr=float(x)) for x in xs]
                m, se, bad = mean_and_se(sweep.data["log_loss"][idx], axis=1)
                dm, dse, dbad = mean_and_se(sweep.data["dza_rms"][idx], axis=1)
                d["n_bad"] += int(bad.sum() + dbad.sum())
                d["curves"].append({"mean": m.tolist(), "se": se.tolist(), "dza": dm.tolist()})
                # Right flank: scan from the largest LR down for the first crossing of the level.
                xr, sr = locate_crossing(xs[::-1], m[::-1], se[::-1], p["level"])
                d["x_star"].append(xr)
                d["x_se"].append(sr)
                if math.isfinite(xr) and math.isfinite(sr):
                    lz, lz_se = _interp(xs, np.log(dm), dse / dm, xr, sr)
                    d["dza"].append(float(np.exp(lz)))
                    d["dza_se"].append(float(np.exp(lz) * lz_se))
                else:
                    d["dza"].append(math.nan)
                    d["dza_se"].append(math.nan)
            x_star, x_se = np.asarray(d["x_star"]), np.asarray(d["x_se"])
            ok = np.isfinite(x_star) & np.isfinite(x_se)
            d["located"] = int(ok.sum())
            if ok.sum() >= 2:
                lr, lr_se = 2.0**x_star[ok], 2.0**x_star[ok] * math.log(2) * x_se[ok]
                w = np.asarray(widths, dtype=np.float64)[ok]
                d["lr_slope"] = fit_power_law(w, lr, lr_se)[:2]
                d["lr_fit_c"] = fit_power_law(w, lr, lr_se)[2]
                dz, dz_se = np.asarray(d["dza"])[ok], np.asarray(d["dza_se"])[ok]
                d["dza_slope"] = fit_power_law(w, dz, dz_se)[:2]
                d["dza_fit_c"] = fit_power_law(w, dz, dz_se)[2]
            else:
                d["lr_slope"] = d["dza_slope"] = (math.nan, math.nan)
                d["lr_fit_c"] = d["dza_fit_c"] = math.nan
            out[init] = d
        return out

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        s = self.summaries(p, sweep)
        table = CONTROL if control else THEORY
        rows = []
        for init in ("A", "B"):
            d = s[init]
            # A width whose flank was not located (no crossing inside the LR grid) makes the exponent undecided.
            missing = len(s["widths"]) - d["located"]
            for stat, key in (("lr", "lr_slope"), ("dza", "dza_slope")):
                rows.append(Row({"init": init, "stat": "max_lr_exponent" if stat == "lr" else "dZA_exponent",
                                 "widths_located": d["located"]},
                                table[(init, stat)], float(d[key][0]), float(d[key][1]), missing + d["n_bad"]))
        return [Evidence("exponents", Agree(alpha=0.01, correction="holm", finite_size=FS_EXPONENT,
                                            finite_size_doc=f"{FS_EXPONENT} on each exponent (leading-order "
                                                            "large-width scalings)"), rows)]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        return self.summaries(p, sweep)


CHECK = register(LoraInitAvsB())
