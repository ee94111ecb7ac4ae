"""`kernels.beyond-iid-weights`: MLPs with orthogonal, low-rank (rank proportional to width) and block-sparse
hidden weights have the same infinite-width NNGP as iid Gaussian weights of the same variance.

Source: Nait Saada, Naderi & Tanner, "Beyond IID weights: sparse and low-rank deep neural networks are also Gaussian
processes" (ICLR 2024, arXiv 2310.16597); notes ``kernels_depth_lora.md`` section 7.3 ("pseudo-iid" weights:
exchangeable, uncorrelated, E W_ij^2 = sigma_w^2 / N_{l-1}, bounded 8th moments; first layer iid Gaussian; low rank
needs r proportional to N). Theory: :func:`theory_lab.kernels.analytic.nngp_ntk` (the iid NNGP
K^{l+1} = sigma_b^2 + sigma_w^2 E[phi(z) phi(z')]). Simulator: :func:`theory_lab.kernels.empirical.simulate_kernels`
(:func:`~theory_lab.kernels.empirical.simulate_nngp`) with ``weights=`` each kind (all four kinds on the same
inputs in one trial). Figure: ``figures/beyond_iid.py``.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from proofs_checks.nngp_ntk import INPUTS, PAIRS
from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.kernels import analytic, empirical
from theory_lab.rules import Agree, Row, extrapolate_inverse, mean_and_se
from theory_lab.sweep import Grid, SweepResult

KINDS = empirical.WEIGHT_KINDS  # iid, orthogonal, lowrank, sparse
#: Negative control: the NNGP with sigma_w^2 misprinted 5% too large.
CONTROL_SW_FACTOR = 1.05


def theory_entries(depth: int, activation: str, sigma_w2: float, sigma_b2: float) -> np.ndarray:
    """The iid NNGP at the compared pairs, float64."""
    import jax

    with jax.enable_x64(True):
        k, _ = analytic.nngp_ntk(INPUTS, depth=depth, activation=activation, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                                 dtype="float64")
        k = np.asarray(k)
    return np.array([k[i, j] for i, j in PAIRS])


class BeyondIid(Check):
    id = "kernels.beyond-iid-weights"
    source = Source(
        paper="Nait Saada, Naderi & Tanner, Beyond IID weights: sparse and low-rank deep neural networks are also "
              "Gaussian processes (ICLR 2024)",
        where="main theorem (pseudo-iid weights give the iid NNGP); examples: orthogonal, low-rank with r/N fixed, "
              "structured sparse; notes kernels_depth_lora.md section 7.3",
        arxiv="2310.16597",
    )
    statement = ("An MLP whose hidden-to-hidden weights are Haar-orthogonal, low rank (r = rank_fraction x width) or "
                 "block-sparse (density p), scaled to E W_ij^2 = sigma_w^2 / n, has the same infinite-width NNGP as "
                 "iid Gaussian weights: the 1/n-extrapolated mean empirical NNGP equals the iid NNGP for every kind.")
    params = (
        Param("depth", "int", 3, "hidden layers L (>= 2 so that a hidden-to-hidden layer exists)", low=2, high=32),
        Param("width", "ints", (64, 128, 256), "hidden widths n (>= 3 distinct; divisible by the sparse block count)",
              low=8, high=16384),
        Param("activation", "str", "tanh", "activation", choices=analytic.ACTIVATIONS),
        Param("sigma_w2", "float", 1.5, "weight variance sigma_w^2", low=0.0, high=16.0, open_low=True),
        Param("sigma_b2", "float", 0.05, "bias variance sigma_b^2", low=0.0, high=16.0),
        Param("rank_fraction", "float", 0.5, "low-rank r / n (fixed: r proportional to n, as the theorem needs)",
              low=0.0, high=1.0, open_low=True),
        Param("density", "float", 0.25, "block-sparse density p (1/p blocks, rounded)", low=0.0, high=1.0,
              open_low=True),
    )
    profiles = {
        "quick": Profile(seeds=300, description="tanh, L=3, n = 64, 128, 256, all four weight kinds"),
        "full": Profile(seeds=4000, params={"width": (128, 256, 512, 1024, 2048), "depth": 4},
                        description="n up to 2048, L=4 (accelerator)"),
    }
    tolerance = ("Per weight kind and kernel entry (5 input pairs), weighted least squares of the seed mean of the "
                 "empirical NNGP over widths on c0 + c1/n; c0 must Agree with the iid NNGP at family-wise alpha=0.01 "
                 "(Holm over all kinds x entries). No further finite-size term: the O(1/n) bias of the mean (present "
                 "for iid weights too, Yaida 2020) is the fitted c1/n; O(1/n^2) is below the Monte-Carlo error at "
                 "n >= 64. The empirical NNGP is the readout covariance given the last hidden layer, "
                 "sigma_w^2 x^L.x'^L/n + sigma_b^2.")
    negative_control = f"the iid NNGP with sigma_w^2 misprinted x{CONTROL_SW_FACTOR}, same rows and rule"
    figure = "beyond_iid"

    def validate(self, p: Mapping[str, Any]) -> None:
        widths = sorted(set(p["width"]))
        if len(widths) < 3:
            raise BadInput("parameter width needs at least three distinct widths for the c0 + c1/n fit")
        blocks = max(1, int(round(1.0 / p["density"])))
        bad = [w for w in widths if w % blocks]
        if bad:
            raise BadInput(f"width {bad[0]} is not divisible by the {blocks} blocks of density={p['density']:g}")

    def grid(self, p: Mapping[str, Any]) -> Grid:
        return Grid.product(static={"width": sorted(set(int(w) for w in p["width"])), "depth": [int(p["depth"])],
                                    "activation": [p["activation"]], "rank_fraction": [float(p["rank_fraction"])],
                                    "density": [float(p["density"])]},
                            dynamic={"sigma_w2": [float(p["sigma_w2"])], "sigma_b2": [float(p["sigma_b2"])]})

    def simulate(self, key, static, dynamic):
        import jax
        import jax.numpy as jnp

        ii = jnp.asarray([i for i, _ in PAIRS])
        jj = jnp.asarray([j for _, j in PAIRS])
        keys = jax.random.split(key, len(KINDS))
        rows = []
        for k, kind in zip(keys, KINDS):
            nngp = empirical.simulate_nngp(k, INPUTS, width=static["width"], depth=static["depth"],
                                           activation=static["activation"], sigma_w2=dynamic["sigma_w2"],
                                           sigma_b2=dynamic["sigma_b2"], weights=kind,
                                           rank_fraction=static["rank_fraction"], density=static["density"],
                                           dtype=sim_dtype())
            rows.append(nngp[ii, jj])
        return {"nngp": jnp.stack(rows)}  # (kinds, pairs)

    def _per_width(self, p, sweep):
        widths = sorted(set(int(w) for w in p["width"]))
        means, ses = [], []
        for n in widths:
            m, s, _ = mean_and_se(sweep.data["nngp"][sweep.index(width=n)], axis=0)
            means.append(m), ses.append(s)
        return widths, np.array(means), np.array(ses)  # (widths, kinds, pairs)

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        sw = p["sigma_w2"] * (CONTROL_SW_FACTOR if control else 1.0)
        theory = theory_entries(p["depth"], p["activation"], sw, p["sigma_b2"])
        widths, means, ses = self._per_width(p, sweep)
        n_bad = int((~np.isfinite(sweep.data["nngp"])).any(axis=(-1, -2)).sum())
        rows = []
        for a, kind in enumerate(KINDS):
            for e, (i, j) in enumerate(PAIRS):
                c0, c0_se, c1 = extrapolate_inverse(widths, means[:, a, e], ses[:, a, e])
                rows.append(Row({"weights": kind, "pair": f"x{i + 1},x{j + 1}", "c1": c1}, float(theory[e]), c0,
                                c0_se, n_bad))
        return [Evidence("limit", Agree(alpha=0.01, correction="holm",
                                        finite_size_doc="none (the O(1/n) bias is the fitted c1/n)"), rows)]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        widths, means, ses = self._per_width(p, sweep)
        return {"widths": widths, "kinds": list(KINDS), "pairs": [f"x{i + 1},x{j + 1}" for i, j in PAIRS],
                "mean": means.tolist(), "se": ses.tolist(),
                "theory": theory_entries(p["depth"], p["activation"], p["sigma_w2"], p["sigma_b2"]).tolist(),
                "control": theory_entries(p["depth"], p["activation"], p["sigma_w2"] * CONTROL_SW_FACTOR,
                                          p["sigma_b2"]).tolist()}


CHECK = register(BeyondIid())
