"""`lora.hrp-init`: random LoRA initialisation leaves residual (1 - r/n)||M||^2; High-Rank Preheating's residual
falls with the preheating rank p toward the SVD oracle.

Theory: :mod:`theory_lab.kernels.hrp` (exact random-init and oracle residuals; the notes' Monte-Carlo reference
values for HRP(p) at m = n = 64, r = 4, sigma_i = 1/i). Simulator: :func:`~theory_lab.kernels.hrp.simulate_hrp`
(converged asymmetric LoRA, nested random preheat subspaces). Figure: ``figures/hrp_init.py``.
Source: Chen et al., HRP: High-Rank Preheating for Superior LoRA Initialization (arXiv:2502.07739); toy and numbers
from shared/theory/kernels_depth_lora.md section 5.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.kernels import hrp
from theory_lab.rules import Agree, BoundHolds, Row, mean_and_se
from theory_lab.sweep import Grid, SweepResult

#: Declared allowance for the notes' Monte-Carlo reference values (quoted to 3 decimals, no standard errors given).
FS_NOTES = 0.02
#: Declared floating-point allowance for the deterministic p = n endpoint: this many machine epsilons of the
#: simulation dtype, times ||M||^2 (eigvalsh of an n x n Gram matrix is backward stable: error ~ n eps ||M||^2).
FS_FLOAT_EPS = 1000


def _sigmas(p: Mapping[str, Any], decay: float) -> np.ndarray:
    return hrp.spectrum(min(p["m"], p["n"]), decay)


def wrong_rank_p(p_rank: np.ndarray, n: int, norm2: float) -> np.ndarray:
    """Negative control: (1 - p/n)||M||^2, the random rank-p LoRA's own residual, mistaken for HRP's rank-r one."""
    return (1.0 - np.asarray(p_rank, dtype=np.float64) / n) * norm2


class HrpInit(Check):
    id = "lora.hrp-init"
    source = Source(
        paper="Chen, Wang, Fu, Shen, Jing, Tian, Tao, HRP: High-Rank Preheating for Superior LoRA Initialization; "
              "matrix-approximation toy of shared/theory/kernels_depth_lora.md section 5",
        where="abstract/algorithm (preheat at rank p > r, SVD, initialise rank-r LoRA); toy residuals [derived], "
              "section 5(b); reference numbers [NUM], section 5(d)",
        arxiv="2502.07739",
    )
    statement = ("For LoRA fitting a target change M with A frozen and B trained to convergence, a random Gaussian A "
                 "leaves E residual = (1 - r/n)||M||_F^2, while High-Rank Preheating (rank-p preheat, top-r SVD "
                 "directions as A) leaves a residual that decreases with p, equals the random-init law at p = r and "
                 "the Eckart-Young optimum sum_{i>r} sigma_i^2 at p = n (notes' values for sigma_i = 1/i).")
    params = (
        Param("m", "int", 64, "output dimension of M", low=1, high=4096),
        Param("n", "int", 64, "input dimension of M (A is n x r)", low=2, high=4096),
        Param("r", "int", 4, "LoRA rank", low=1, high=4096),
        Param("ps", "ints", (4, 8, 16, 32, 48, 64), "preheating ranks p (r <= p <= n), increasing", low=1, high=4096),
        Param("decays", "floats", (1.0, 0.5), "spectra sigma_i = i^(-decay)", low=0.0, high=5.0),
    )
    profiles = {
        "quick": Profile(seeds=1024, description="m = n = 64, r = 4, two spectra; ~15 s on a CPU"),
        "full": Profile(seeds=16384, params={"m": 256, "n": 256, "r": 8, "ps": (8, 16, 32, 64, 128, 192, 256),
                                             "decays": (1.0, 0.5)},
                        description="m = n = 256, r = 8, 16384 seeds"),
    }
    tolerance = ("(1) random init and HRP at p = r: Agree (alpha=0.01, Holm) with (1 - r/n)||M||^2, exact, no "
                 f"finite-size term. (2) HRP at p = n: equals sum_{{i>r}} sigma_i^2 deterministically (floating-point "
                 f"allowance {FS_FLOAT_EPS} machine epsilons of the simulation dtype x ||M||^2). (3) Monotone in p: "
                 "every consecutive gain E[res(p_k) - res(p_k+1)] (paired within a trial; nested preheat subspaces "
                 "make it >= 0 trial by trial, Ky Fan) is >= 0 at the one-sided alpha=0.01 limit, Bonferroni "
                 "(BoundHolds lower). (4) At the notes' setting (m = n = 64, r = 4, decay 1) Agree with the notes' "
                 f"Monte-Carlo values (alpha=0.01, Holm) with allowance {FS_NOTES}: they are quoted to 3 decimals "
                 "without standard errors (a few hundred trials have SE ~0.005).")
    negative_control = ("(1) the misprint (1 - r/n)^2 ||M||^2; (2) off-by-one oracle sum_{i>=r} sigma_i^2; (3)-(4) "
                        "HRP(p) mistaken for the preheated rank-p LoRA's residual (1 - p/n)||M||^2, i.e. gains of at "
                        "least (p_k+1 - p_k)/n ||M||^2 per step")
    figure = "hrp_init"

    def validate(self, p: Mapping[str, Any]) -> None:
        ps = list(p["ps"])
        if p["r"] > min(p["m"], p["n"]):
            raise BadInput(f"r={p['r']} must be <= min(m, n)={min(p['m'], p['n'])}")
        if any(q < p["r"] or q > p["n"] for q in ps):
            raise BadInput(f"every preheating rank in ps must lie in [r, n] = [{p['r']}, {p['n']}]")
        if len(ps) < 2 or ps != sorted(set(ps)):
            raise BadInput("ps must hold at least two distinct preheating ranks in increasing order")

    def grid(self, p: Mapping[str, Any]) -> Grid:
        ps_key = ",".join(str(int(q)) for q in p["ps"])
        pts = [{"m": int(p["m"]), "n": int(p["n"]), "r": int(p["r"]), "ps": ps_key, "decay": float(d)}
               for d in p["decays"]]
        return Grid.from_points(pts, static=("m", "n", "r", "ps"))

    def simulate(self, key, static, dynamic):
        ps = tuple(int(q) for q in static["ps"].split(","))
        out = hrp.simulate_hrp(key, m=static["m"], n=static["n"], r=static["r"], ps=ps, decay=dynamic["decay"],
                               dtype=sim_dtype())
        return {"random": out["random"], "hrp": out["hrp"]}

    def summaries(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        ps = np.asarray(p["ps"])
        out: dict[str, Any] = {"ps": ps.tolist(), "n": p["n"], "r": p["r"], "curves": {}}
        for d in p["decays"]:
            i = sweep.index(decay=float(d))
            s = _sigmas(p, d)
            norm2 = float(np.sum(s * s))
            hm, hse, hbad = mean_and_se(sweep.data["hrp"][i], axis=0)
            rm, rse, rbad = mean_and_se(sweep.data["random"][i], axis=0)
            gains = sweep.data["hrp"][i][:, :-1] - sweep.data["hrp"][i][:, 1:]
            gm, gse, gbad = mean_and_se(gains, axis=0)
            out["curves"][f"{d:g}"] = {
                "norm2": norm2, "random_theory": hrp.random_init_residual(s, p["r"], p["n"]),
                "oracle": hrp.oracle_residual(s, p["r"]), "hrp": hm.tolist(), "hrp_se": hse.tolist(),
                "hrp_bad": hbad.tolist(), "random": float(rm), "random_se": float(rse), "random_bad": int(rbad),
                "gain": gm.tolist(), "gain_se": gse.tolist(), "gain_bad": gbad.tolist()}
        ref = hrp.NOTES_REFERENCE
        out["notes"] = ref["hrp"] if (p["m"], p["n"], p["r"]) == (ref["m"], ref["n"], ref["r"]) else {}
        return out

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        s = self.summaries(p, sweep)
        ps, n, r = p["ps"], p["n"], p["r"]
        exact, endpoint, mono, notes = [], [], [], []
        for d in p["decays"]:
            c = s["curves"][f"{d:g}"]
            sig = _sigmas(p, d)
            th_rand = (1 - r / n) ** 2 * c["norm2"] if control else c["random_theory"]
            exact.append(Row({"decay": float(d), "stat": "random_init"}, th_rand, c["random"], c["random_se"],
                             c["random_bad"]))
            if r in ps:
                k = ps.index(r)
                exact.append(Row({"decay": float(d), "stat": f"hrp_p={r}"}, th_rand, c["hrp"][k], c["hrp_se"][k],
                                 c["hrp_bad"][k]))
            if n in ps:
                k = ps.index(n)
                oracle = float(np.sum(np.sort(sig)[::-1][r - 1:] ** 2)) if control else c["oracle"]
                endpoint.append(Row({"decay": float(d), "stat": f"hrp_p={n}"}, oracle, c["hrp"][k], c["hrp_se"][k],
                                    c["hrp_bad"][k]))
            for k in range(len(ps) - 1):
                bound = (ps[k + 1] - ps[k]) / n * c["norm2"] if control else 0.0
                mono.append(Row({"decay": float(d), "stat": f"gain_p={ps[k]}->{ps[k + 1]}"}, bound, c["gain"][k],
                                c["gain_se"][k], c["gain_bad"][k]))
            if s["notes"] and np.isclose(d, hrp.NOTES_REFERENCE["decay"]):
                for k, q in enumerate(ps):
                    if q in s["notes"]:
                        th = float(wrong_rank_p(q, n, c["norm2"])) if control else s["notes"][q]
                        notes.append(Row({"decay": float(d), "stat": f"hrp_p={q}"}, th, c["hrp"][k], c["hrp_se"][k],
                                         c["hrp_bad"][k]))
        ev = [Evidence("random init", Agree(alpha=0.01, correction="holm", finite_size_doc="none (exact)"), exact)]
        if endpoint:
            eps = float(np.finfo(sweep.data["hrp"].dtype).eps)
            norm2 = {float(d): s["curves"][f"{d:g}"]["norm2"] for d in p["decays"]}
            ev.append(Evidence("oracle at p=n", Agree(
                alpha=0.01, finite_size=lambda row: FS_FLOAT_EPS * eps * norm2[row.label["decay"]],
                finite_size_doc=f"floating point: {FS_FLOAT_EPS} eps x ||M||^2"), endpoint))
        ev.append(Evidence("monotone in p", BoundHolds(alpha=0.01, side="lower"), mono))
        if notes:
            ev.append(Evidence("notes reference", Agree(alpha=0.01, correction="holm", finite_size=FS_NOTES,
                                                        finite_size_doc=f"{FS_NOTES} (notes' unreported MC error)"),
                               notes))
        return ev

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        out = self.summaries(p, sweep)
        out["notes"] = {str(k): v for k, v in out["notes"].items()}
        return out


CHECK = register(HrpInit())
