"""`rmt.marchenko-pastur`: the empirical spectral distribution of XXᵀ/n converges to the Marchenko–Pastur law.

Theory: :mod:`theory_lab.rmt.marchenko_pastur` (MP moments, bin masses, exact finite-n Wishart moments).
Simulator: :func:`~theory_lab.rmt.marchenko_pastur.simulate_esd` (Gaussian X, eigenvalues of XXᵀ/n).
Figure: ``figures/marchenko_pastur.py``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.rmt import marchenko_pastur as mp
from theory_lab.rules import Agree, BoundHolds, Row, fit_power_law, mean_and_se
from theory_lab.sweep import Grid, SweepResult

K_MAX = 4
#: The distance of the expected binned ESD to the law must decay at least this fast in p. The local MP law
#: (eigenvalue rigidity; Pillai & Yin, arXiv:1204.0961) gives about p^-1 up to logarithms for fixed bins, so -1/2 is
#: a conservative declared rate.
DECAY_BOUND = -0.5
#: Negative control: the MP law at an aspect ratio 10% too large.
CONTROL_GAMMA_FACTOR = 1.1


def bin_edges(gamma: float, n_bins: int) -> np.ndarray:
    """Edges of the histogram that the check compares: an atom bin [-0.01 b, a/2), then ``n_bins`` bins over the
    support [a, b] whose outer bins extend to a/2 and 2b (edge fluctuations of size p^(-2/3) stay inside).
    The same number of bins for every gamma (the atom bin simply has mass 0 for gamma <= 1)."""
    a, b = mp.mp_edges(gamma)
    inner = np.linspace(a, b, n_bins + 1)[1:-1]
    return np.concatenate([[-0.01 * b, a / 2], inner, [2 * b]])


def n_for(p: int, gamma: float) -> int:
    return max(1, int(round(p / gamma)))


def mean_law_distance(hist: np.ndarray, masses: np.ndarray) -> tuple[float, float]:
    """Distance between the expected binned ESD and a law's bin masses, with a jackknife standard error.

    D = sqrt( sum_b (hbar_b - m_b)^2 - sum_b s_b^2 / R ), where hbar_b is the seed-averaged fraction of eigenvalues
    in bin b, s_b^2 its sample variance over the R seeds; subtracting sum s_b^2/R removes the upward bias of the
    squared distance caused by Monte-Carlo noise, so D estimates ||E[ESD] - law|| (binned, L2) itself. For the true
    law it shrinks like the 1/p bias of E[ESD]; for a wrong law it tends to a positive constant. (The per-trial
    distance would not do: its fluctuation part shrinks with p whatever the law.) The SE is the leave-one-seed-out
    jackknife, which accounts for the correlation between bins.
    """
    h = np.asarray(hist, dtype=np.float64)  # (R, bins)
    r = h.shape[0]

    def dist(total: np.ndarray, total_sq: np.ndarray, count: int) -> np.ndarray:
        mean = total / count
        var = (total_sq - count * mean**2) / (count - 1)
        d2 = np.sum((mean - masses) ** 2, axis=-1) - np.sum(var, axis=-1) / count
        return np.sqrt(np.maximum(d2, 0.0))

    total, total_sq = h.sum(axis=0), (h**2).sum(axis=0)
    d = float(dist(total, total_sq, r))
    loo = dist(total[None, :] - h, total_sq[None, :] - h**2, r - 1)  # (R,) leave-one-out distances
    se = float(np.sqrt((r - 1) / r * np.sum((loo - loo.mean()) ** 2)))
    return d, se


class MarchenkoPastur(Check):
    id = "rmt.marchenko-pastur"
    source = Source(
        paper="Marchenko & Pastur, Distribution of eigenvalues for some sets of random matrices (Mat. Sb. 1967)",
        where="MP law: density sqrt((b-x)(x-a))/(2 pi gamma x) on [(1-sqrt g)^2, (1+sqrt g)^2] plus an atom "
              "1-1/gamma at 0; moments sum_r gamma^r/(r+1) C(k,r) C(k-1,r); notes section 4a",
    )
    statement = ("For X with iid N(0,1) entries and p/n = gamma, the eigenvalue distribution of XX^T/n converges to "
                 "the Marchenko-Pastur law: its spectral moments converge to the MP moments and the binned "
                 "distance of its expectation to the MP law shrinks as p grows.")
    params = (
        Param("gamma", "floats", (0.25, 0.5, 1.0, 2.0), "aspect ratios p/n", low=0.02, high=20.0),
        Param("p", "ints", (16, 32, 64, 128), "matrix sizes (rows of X); n = round(p / gamma)", low=4, high=8000),
        Param("n_bins", "int", 16, "histogram bins over the MP support", low=4, high=200),
    )
    profiles = {
        # Seeds: the distance exponent needs SE ~0.07 to resolve -1 from the declared -1/2 bound (jackknife SE
        # scales as 1/sqrt(seeds): ~0.3 at 200 seeds).
        "quick": Profile(seeds=1000, description="p = 16..128, four ratios; ~20 s on a 2-core CPU"),
        "full": Profile(seeds=4000, params={"p": (50, 100, 200, 400, 800, 1600)}, description="p up to 1600"),
    }
    tolerance = ("(1) moments k=1..4 at every (gamma, p): Agree at family-wise alpha=0.01 (Holm) with the declared "
                 "finite-size term |E_n[tr S^k/p] - m_k(gamma)| from the exact Gaussian Wishart moments (Hanlon, "
                 "Stanley & Stembridge 1992), so only the large-n limit is tested, never the known 1/n bias. "
                 f"(2) per gamma, the exponent in p of the noise-debiased L2 distance between the seed-averaged binned "
                 f"ESD and the MP bin masses (weighted log-log fit, jackknife SEs) is <= {DECAY_BOUND} at the "
                 f"one-sided alpha=0.01 upper confidence limit (BoundHolds); the local MP law gives about -1.")
    negative_control = (f"the MP law at gamma x {CONTROL_GAMMA_FACTOR} (moments and bin masses): the moments "
                        "disagree, and the distance to the wrong law stops shrinking")
    figure = "marchenko_pastur"

    def validate(self, p: Mapping[str, Any]) -> None:
        if len(set(p["p"])) < 2:
            raise BadInput("parameter p needs at least two distinct sizes to measure how the distance shrinks")
        for g in p["gamma"]:
            for size in p["p"]:
                if n_for(size, g) < 2:
                    raise BadInput(f"p={size} with gamma={g:g} leaves n={n_for(size, g)} < 2 samples; lower gamma")

    def grid(self, p: Mapping[str, Any]) -> Grid:
        pts = [{"gamma": float(g), "p": int(s), "n": n_for(s, g), "n_bins": int(p["n_bins"])}
               for g in p["gamma"] for s in p["p"]]
        return Grid.from_points(pts, static=("gamma", "p", "n", "n_bins"))

    def simulate(self, key, static, dynamic):
        edges = bin_edges(static["gamma"], static["n_bins"])
        return mp.simulate_esd(key, p=static["p"], n=static["n"], bin_edges=edges, k_max=K_MAX,
                                dtype=sim_dtype())

    def flops_per_trial(self, static: Mapping[str, Any]) -> float:
        """X X^T (2 p^2 n) plus Householder tridiagonalisation in eigvalsh (4/3 p^3); a lower bound (for bench/)."""
        p, n = static["p"], static["n"]
        return 2.0 * p * p * n + 4.0 / 3.0 * p**3

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        factor = CONTROL_GAMMA_FACTOR if control else 1.0
        moment_rows: list[Row] = []
        finite_size: dict[tuple, float] = {}
        decay_rows: list[Row] = []
        for g in p["gamma"]:
            sizes, dist, dist_se = [], [], []
            for size in p["p"]:
                n = n_for(size, g)
                i = sweep.index(gamma=g, p=size)
                ratio = size / n  # the exact aspect ratio simulated
                theory = mp.mp_moments(K_MAX, ratio * factor)
                exact = mp.wishart_moments_finite(K_MAX, size, n)
                limit = mp.mp_moments(K_MAX, ratio)
                mean, se, bad = mean_and_se(sweep.data["moments"][i], axis=0)
                for k in range(K_MAX):
                    label = {"gamma": float(g), "p": int(size), "stat": f"moment_{k + 1}"}
                    finite_size[(float(g), int(size), k)] = abs(exact[k] - limit[k])
                    moment_rows.append(Row(label, float(theory[k]), float(mean[k]), float(se[k]), int(bad[k])))
                masses = mp.mp_bin_masses(bin_edges(g, p["n_bins"]), ratio * factor)
                d_mean, d_se = mean_law_distance(sweep.data["hist"][i], masses)
                sizes.append(size)
                dist.append(float(d_mean))
                dist_se.append(float(d_se))
            slope, slope_se, _ = fit_power_law(np.asarray(sizes), np.asarray(dist), np.asarray(dist_se))
            decay_rows.append(Row({"gamma": float(g), "stat": "distance_exponent",
                                   "distances": ", ".join(f"{d:.4f}" for d in dist)},
                                  DECAY_BOUND, slope, slope_se))

        def allowance(row: Row) -> float:
            return finite_size[(row.label["gamma"], row.label["p"], int(row.label["stat"].split("_")[1]) - 1)]

        return [
            Evidence("moments", Agree(alpha=0.01, correction="holm", finite_size=allowance,
                                      finite_size_doc="|exact finite-n Wishart moment - MP moment|"), moment_rows),
            Evidence("distance decay", BoundHolds(alpha=0.01, side="upper"), decay_rows),
        ]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        """Mean binned ESD at the largest p for each gamma, and the distance per (gamma, p), for the figure."""
        p_max = max(p["p"])
        hist = {}
        for g in p["gamma"]:
            i = sweep.index(gamma=g, p=p_max)
            m, se, _ = mean_and_se(sweep.data["hist"][i], axis=0)
            hist[f"{g:g}"] = {"edges": bin_edges(g, p["n_bins"]).tolist(), "mass": m.tolist(), "se": se.tolist(),
                              "ratio": p_max / n_for(p_max, g)}
        dist = {}
        for g in p["gamma"]:
            rows = []
            for size in p["p"]:
                i = sweep.index(gamma=g, p=size)
                masses = mp.mp_bin_masses(bin_edges(g, p["n_bins"]), size / n_for(size, g))
                rows.append([size, *mean_law_distance(sweep.data["hist"][i], masses)])
            dist[f"{g:g}"] = rows
        return {"p_max": p_max, "hist": hist, "distance": dist}


CHECK = register(MarchenkoPastur())
