"""`loops.tv-contraction`: mixing real data contracts total variation in a self-consuming loop, and the TV distance
rises then falls with the synthetic amount when the same real set is reused (Fu et al., ICML 2024).

What is checked (the paper's theorem statements were not available; see :mod:`theory_lab.loops.tv_mixing`):

1. Bound from the contraction identity, measured learning errors. Protocol A (fresh real data): generation j fits the
   empirical law of ``n`` tokens drawn from q_j = lam p_0 + (1 - lam) p_{j-1} (each token real with probability lam).
   With eps_j = TV(p_j, q_j) measured in the same trial, TV(p_i, p_0) <= B_i = sum_j (1-lam)^{i-j} eps_j holds on every
   path (triangle inequality + TV(lam P + (1-lam) Q, P) = (1-lam) TV(Q, P)); checked as E[TV_i] <= E[B_i] with the
   SE of the paired difference, at every generation i >= 2 (at i = 1 it is an identity) and every lam.
2. Declared-eps bound: E TV(p_i, p_0) <= eps_bar (1 - (1-lam)^i)/lam < eps_bar/lam (i eps_bar at lam = 0), with
   eps_bar = (1/2) sqrt((k-1)/n) >= E[eps_j | q_j] for every q_j (Jensen + Cauchy–Schwarz). Slack reported per row.
3. Phase transition, protocol B (the Seddik et al. partially synthetic protocol): n_real real tokens drawn once and
   reused every generation, plus m synthetic tokens from the previous model; TV(p_gens, p_0) at the last generation
   against m. Claim: an initial ascent, then a decline: TV(m_peak) > TV(0) and TV(m_peak) > TV(m_max).
4. Protocol B' (fresh real tokens every generation, same sizes): the opposite shape (a dip, then a rise back),
   TV(m_peak) < TV(0) and TV(m_peak) < TV(m_max). The abstract's phase transition is therefore a property of the
   reused-real-set protocol, not of mixing in general.

The comparison point m_peak = 4 n_real is declared from the notes' pilot table (section 3.1: peak near m = 4n at k = 20,
n = 50, 10 generations), before this check ran; m_max is the largest amount in ``m_syn``. The differences are paired
(common random numbers: the same real draws for every m and both protocols).

Theory/simulators: :mod:`theory_lab.loops.tv_mixing`. Figure: ``figures/tv_contraction.py``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.loops import categorical as cat
from theory_lab.loops import tv_mixing as tvm
from theory_lab.rules import BoundHolds, Row, mean_and_se
from theory_lab.sweep import Grid, SweepResult


def initial(p: Mapping[str, Any]) -> np.ndarray:
    return cat.initial_distribution(p["family"], p["k"], p["zipf_a"], p["dirichlet_a"], p["dist_seed"])


def _amounts(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(","))


class TVContraction(Check):
    id = "loops.tv-contraction"
    source = Source(
        paper="Fu, Zhang, Wang, Tian, Tao, Towards Theoretical Understandings of Self-Consuming Generative Models "
              "(ICML 2024, PMLR 235:14228-14255)",
        where="mixed-training TV bounds and the phase transition in the synthetic amount (abstract; theorem text "
              "not obtained); contraction identity and accumulation derived in notes section 3.1",
        arxiv="2402.11778",
    )
    statement = ("Training each generation on a real fraction lam contracts TV: TV(p_i,p_0) <= sum_j (1-lam)^(i-j) "
                 "eps_j <= eps(1-(1-lam)^i)/lam < eps/lam; and with the same real set reused, TV(p_i,p_0) first "
                 "rises then falls as the synthetic amount grows (with fresh real data it first falls, then rises).")
    params = (
        Param("n", "int", 50, "tokens per generation in the mixed loop (protocol A)", low=1, high=1_000_000),
        Param("lam", "floats", (0.0, 0.2, 0.5, 0.8), "real fractions lam of protocol A (lam=1 is trivial)",
              low=0.0, high=1.0, open_high=True),
        Param("gens", "int", 10, "generations", low=2, high=10_000),
        Param("n_real", "int", 50, "real tokens per generation in protocols B/B'", low=1, high=1_000_000),
        Param("m_syn", "ints", (0, 50, 200, 1000), "synthetic amounts m of protocols B/B' (must include 0 and m_peak)",
              low=0, high=10_000_000),
        Param("m_peak", "int", 200, "declared amount at which the ascent/descent is tested (4 n_real, notes 3.1)",
              low=1, high=10_000_000),
        Param("k", "int", 20, "vocabulary size", low=2, high=100_000),
        Param("family", "str", "zipf", "real distribution family", choices=cat.FAMILIES),
        Param("zipf_a", "float", 1.0, "Zipf exponent (family=zipf)", low=0.0, high=20.0),
        Param("dirichlet_a", "float", 0.3, "Dirichlet concentration (family=dirichlet)", low=0.0, high=1000.0,
              open_low=True),
        Param("dist_seed", "int", 0, "NumPy seed of the Dirichlet draw (family=dirichlet)", low=0, high=2**31 - 1),
    )
    profiles = {
        "quick": Profile(seeds=2000, description=(
            "zipf(1) on 20 tokens, n=n_real=50, 10 generations, lam 0/0.2/0.5/0.8, m 0/50/200/1000. Power: the "
            "notes' pilot (4000 runs) has TV(m_peak)-TV(m_max) ~ 0.01 and paired SDs ~ 0.04, so 2000 seeds give "
            "SE ~ 0.001, ~10 SE against a one-sided threshold of ~2.9")),
        "full": Profile(seeds=20_000, params={"m_syn": (0, 50, 100, 200, 500, 1000, 5000, 20000), "gens": 20,
                                               "lam": (0.0, 0.1, 0.2, 0.5, 0.8)},
                        description="more amounts (a resolved curve), 20 generations, five real fractions"),
    }
    tolerance = ("All groups BoundHolds at alpha=0.01 (one-sided, Bonferroni over the rows of each group); a row "
                 "PASSes only if its confidence limit clears the bound, is violated if the opposite limit crosses it, "
                 "undecided otherwise. Group 1 uses the SE of the per-trial difference TV_i - B_i (paired); group 2 "
                 "the SE s/sqrt(R) of TV_i, rows with bound >= 1 flagged vacuous; groups 3-4 test paired differences "
                 "of TV at the last generation against 0 (side 'lower': the difference must be significantly "
                 "positive). No finite-size terms: the bounds hold at every finite n.")
    negative_control = ("groups 1-2: the off-by-one accumulation sum_j (1-lam)^(i-j+1) eps_j (the current "
                        "generation's error also contracted), i.e. (1-lam) times the bound; groups 3-4: the shapes "
                        "of the two protocols swapped (reused real set: dip then rise; fresh: rise then fall)")
    figure = "tv_contraction"

    def validate(self, p: Mapping[str, Any]) -> None:
        m = tuple(p["m_syn"])
        if 0 not in m or p["m_peak"] not in m:
            raise BadInput(f"m_syn={','.join(map(str, m))} must include 0 and m_peak={p['m_peak']}")
        if p["m_peak"] >= max(m):
            raise BadInput(f"m_peak={p['m_peak']} must be below the largest amount in m_syn ({max(m)})")
        if len(set(m)) != len(m):
            raise BadInput("m_syn has repeated amounts")
        if cat.support_size(initial(p)) < 2:
            raise BadInput("the real distribution is (numerically) a Dirac mass; raise dirichlet_a or k")

    def _static(self, p: Mapping[str, Any], part: str) -> dict[str, Any]:
        return {"part": part, "n": p["n"], "gens": p["gens"], "n_real": p["n_real"],
                "m_syn": ",".join(str(int(x)) for x in sorted(p["m_syn"])), "family": p["family"], "k": p["k"],
                "zipf_a": float(p["zipf_a"]), "dirichlet_a": float(p["dirichlet_a"]), "dist_seed": p["dist_seed"]}

    def grid(self, p: Mapping[str, Any]) -> Grid:
        pts = [dict(self._static(p, "contraction"), lam=float(lam)) for lam in p["lam"]]
        pts.append(dict(self._static(p, "reuse"), lam=0.0))
        return Grid.from_points(pts, static=tuple(self._static(p, "x")))

    def simulate(self, key, static, dynamic):
        import jax.numpy as jnp

        dtype = sim_dtype()
        p0 = initial(static)
        amounts = _amounts(static["m_syn"])
        g, n_m = static["gens"], len(amounts)
        if static["part"] == "contraction":
            out = dict(tvm.simulate_mixing_loop(key, p0, dynamic["lam"], n=static["n"], gens=g, dtype=dtype))
            out.update(tv_fixed=jnp.zeros((n_m,), dtype), tv_fresh=jnp.zeros((n_m,), dtype))
        else:
            out = dict(tvm.simulate_real_reuse(key, p0, n_real=static["n_real"], m_syn=amounts, gens=g, dtype=dtype))
            out.update({name: jnp.zeros((g,), dtype) for name in ("tv", "eps", "bound", "bound_shift")})
        return out

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        shift = 1 if control else 0
        eb = tvm.eps_bar(p["k"], p["n"])
        gens_all = np.arange(1, p["gens"] + 1)
        rows_path, rows_decl = [], []
        for lam in p["lam"]:
            i = sweep.index(part="contraction", lam=float(lam))
            tv = sweep.data["tv"][i].T  # (gens, seeds)
            bound = sweep.data["bound_shift" if control else "bound"][i].T
            tmean, tse, tbad = mean_and_se(tv)
            bmean, _, bbad = mean_and_se(bound)
            _, dse, _ = mean_and_se(tv - bound)
            declared = tvm.constant_eps_bound(gens_all, float(lam), eb, shift=shift)
            for j, gen in enumerate(gens_all):
                lab = {"lam": float(lam), "generation": int(gen)}
                if gen >= 2:
                    rows_path.append(Row(lab, float(bmean[j]), float(tmean[j]), float(dse[j]),
                                         int(tbad[j] + bbad[j])))
                rows_decl.append(Row(lab, float(declared[j]), float(tmean[j]), float(tse[j]), int(tbad[j])))
        amounts = sorted(int(x) for x in p["m_syn"])
        r = sweep.index(part="reuse")
        col = {m: amounts.index(m) for m in (0, p["m_peak"], max(amounts))}
        fixed, fresh = sweep.data["tv_fixed"][r], sweep.data["tv_fresh"][r]

        def diff_row(label: dict, x: np.ndarray, sign: float) -> Row:
            mean, se, bad = mean_and_se(sign * x)
            return Row(label, 0.0, float(mean), float(se), int(bad))

        s = -1.0 if control else 1.0
        mp, m0, mx = col[p["m_peak"]], col[0], col[max(amounts)]
        rows_fixed = [
            diff_row({"protocol": "reused real set", "difference": f"TV(m={p['m_peak']}) - TV(m=0)"},
                     fixed[:, mp] - fixed[:, m0], s),
            diff_row({"protocol": "reused real set", "difference": f"TV(m={p['m_peak']}) - TV(m={max(amounts)})"},
                     fixed[:, mp] - fixed[:, mx], s),
        ]
        rows_fresh = [
            diff_row({"protocol": "fresh real data", "difference": f"TV(m=0) - TV(m={p['m_peak']})"},
                     fresh[:, m0] - fresh[:, mp], s),
            diff_row({"protocol": "fresh real data", "difference": f"TV(m={max(amounts)}) - TV(m={p['m_peak']})"},
                     fresh[:, mx] - fresh[:, mp], s),
        ]
        return [
            Evidence("pathwise bound from measured eps_j", BoundHolds(alpha=0.01, side="upper"), rows_path),
            Evidence("declared-eps bound eps(1-(1-lam)^i)/lam", BoundHolds(alpha=0.01, side="upper", vacuous_at=1.0),
                     rows_decl),
            Evidence("reused real set: ascent then descent", BoundHolds(alpha=0.01, side="lower"), rows_fixed),
            Evidence("fresh real data: descent then ascent", BoundHolds(alpha=0.01, side="lower"), rows_fresh),
        ]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        """TV at the last generation per synthetic amount and protocol (means and SEs), and the mean measured-eps
        bound per generation and lam, for the figure."""
        r = sweep.index(part="reuse")
        out: dict[str, Any] = {"m_syn": sorted(int(x) for x in p["m_syn"]), "eps_bar": tvm.eps_bar(p["k"], p["n"])}
        for name in ("tv_fixed", "tv_fresh"):
            mean, se, _ = mean_and_se(sweep.data[name][r].T)
            out[name] = {"mean": mean.tolist(), "se": se.tolist()}
        out["bound_mean"] = {}
        for lam in p["lam"]:
            i = sweep.index(part="contraction", lam=float(lam))
            out["bound_mean"][f"{float(lam):g}"] = np.mean(sweep.data["bound"][i], axis=0).tolist()
        return out


CHECK = register(TVContraction())
