"""`kernels.nngp-ntk`: empirical NNGP and NTK of finite-width MLPs converge to the analytic infinite-width kernels.

Theory: :func:`theory_lab.kernels.analytic.nngp_ntk` (NNGP/NTK recursion, neural-tangents conventions).
Simulator: :func:`theory_lab.kernels.empirical.simulate_kernels` (one random NTK-parametrized network per trial:
conditional NNGP of the readout from a forward pass, NTK by vjp contraction). Figure: ``figures/nngp_ntk.py``.

Two claims, from Neal 1996 / Lee et al. 2018 (NNGP), Jacot, Gabriel & Hongler 2018 (NTK) and the finite-width
corrections of Dyer & Gur-Ari 2019 / Hanin & Nica 2019: (1) E[K_n] = K + a/n + O(n^-2) for every kernel entry, so the
1/n-extrapolated mean equals the analytic kernel; (2) the standard deviation across networks scales as n^(-1/2).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, Evidence, Param, Profile, Source, register, sim_dtype
from theory_lab.kernels import analytic, empirical
from theory_lab.rules import Agree, Row, extrapolate_inverse, fit_power_law, mean_and_se, variance_and_se
from theory_lab.sweep import Grid, SweepResult

#: Inputs (d = 3): x1, x2 with |x|^2/d = 1 and cos(x1, x2) = 0.5 (the notes' section 1(d) pair), and x3 with
#: |x3|^2/d = 2 and negative correlations with both (a different norm and sign of the correlation).
INPUTS = np.array([
    [np.sqrt(3.0), 0.0, 0.0],
    [np.sqrt(3.0) * 0.5, np.sqrt(3.0) * np.sqrt(3.0) / 2.0, 0.0],
    np.sqrt(6.0) * np.array([-0.4, -0.3, np.sqrt(1.0 - 0.16 - 0.09)]),
])
#: Compared kernel entries (i, j) of the 3 x 3 kernel matrices.
PAIRS = ((0, 0), (0, 1), (0, 2), (1, 2), (2, 2))
KERNELS = ("NNGP", "NTK")
#: Negative control 1: the analytic kernels with sigma_w^2 misprinted 5% too large.
CONTROL_SW_FACTOR = 1.05
#: Negative control 2: fluctuations decaying like the mean's bias, n^-1, instead of n^-1/2.
CONTROL_EXPONENT = -1.0
#: Declared finite-size term on the fitted std exponent: 1.25 L / n_min (see ``tolerance``).
SLOPE_FS_COEF = 1.25


def labels() -> list[tuple[str, tuple[int, int]]]:
    return [(k, pr) for k in KERNELS for pr in PAIRS]


def theory_entries(depth: int, activation: str, sigma_w2: float, sigma_b2: float) -> np.ndarray:
    """The 10 compared analytic entries (NNGP pairs then NTK pairs), float64."""
    import jax

    with jax.enable_x64(True):
        k, t = analytic.nngp_ntk(INPUTS, depth=depth, activation=activation, sigma_w2=sigma_w2,
                                 sigma_b2=sigma_b2, dtype="float64")
        k, t = np.asarray(k), np.asarray(t)
    return np.array([k[i, j] for i, j in PAIRS] + [t[i, j] for i, j in PAIRS])


def std_and_se(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Std over axis 0 with its delta-method SE, SE(var) / (2 std)."""
    var, var_se, _ = variance_and_se(samples, axis=0)
    std = np.sqrt(var)
    return std, var_se / (2.0 * std)


class NngpNtk(Check):
    id = "kernels.nngp-ntk"
    source = Source(
        paper="Lee et al., Deep neural networks as Gaussian processes (ICLR 2018); Jacot, Gabriel & Hongler, Neural "
              "tangent kernel (NeurIPS 2018); finite width: Dyer & Gur-Ari 2019, Hanin & Nica 2019 (1909.05989)",
        where="NNGP/NTK recursion in neural-tangents conventions (notes kernels_depth_lora.md section 1(b)); "
              "E[Theta_n] = Theta + O(1/n), Var[Theta_n] = O(1/n) at fixed depth",
        arxiv="1711.00165, 1806.07572",
    )
    statement = ("For an NTK-parametrized MLP of depth L and width n, the empirical NNGP and NTK on fixed inputs have "
                 "mean K + O(1/n), whose 1/n-extrapolation equals the analytic infinite-width kernel, and their "
                 "standard deviation across random networks scales as n^(-1/2).")
    params = (
        Param("depth", "int", 2, "hidden layers L", low=1, high=64),
        Param("width", "ints", (64, 128, 256, 512), "hidden widths n (>= 3 distinct, for the 1/n fit)", low=8,
              high=65536),
        Param("activation", "str", "relu", "activation", choices=analytic.ACTIVATIONS),
        Param("sigma_w2", "float", 2.0, "weight variance sigma_w^2", low=0.0, high=16.0, open_low=True),
        Param("sigma_b2", "float", 0.0, "bias variance sigma_b^2", low=0.0, high=16.0),
    )
    profiles = {
        # Seeds from standard errors: ReLU L=2 has std(Theta_11) ~ 15.5/sqrt(n) (notes 1(d)), so 500 nets give an
        # SE of ~1% at n = 512 and ~0.025 on each fitted exponent (500: 0.022 measured).
        "quick": Profile(seeds=500, description="ReLU, L=2, n = 64..512; ~20 s on a 2-core CPU"),
        "full": Profile(seeds=4000, params={"depth": 3, "width": (128, 256, 512, 1024, 2048, 4096),
                                           "sigma_b2": 0.1},
                        description="L=3 with biases, n up to 4096 (accelerator)"),
    }
    tolerance = (
        "(1) limit: per kernel entry (NNGP and NTK at 5 input pairs), weighted least squares of the seed mean over "
        "widths on c0 + c1/n; the extrapolated c0 must Agree with the analytic kernel at family-wise alpha=0.01 "
        "(Holm), no further finite-size term: the O(1/n) bias of E[K_n] (Dyer & Gur-Ari 2019; Hanin & Nica 2019) is "
        "the fitted c1, and O(1/n^2) is below the Monte-Carlo error at n >= 64. (2) rate: per entry, the weighted "
        "log-log slope of the std across networks against n must Agree with -1/2 (alpha=0.01, Holm) with the "
        "declared finite-size term 1.25 L / n_min: the relative variance is a/n + b/n^2 with b/a = 2.5 L for deep "
        "ReLU nets (Hanin & Nica's exp(5L/n) law), which moves the local slope of the std by at most "
        "(b/a)/(2 n_min).")
    negative_control = (f"(1) the analytic kernels with sigma_w^2 misprinted x{CONTROL_SW_FACTOR}; (2) std decaying as "
                        f"n^{CONTROL_EXPONENT:g} (the rate of the mean's bias) instead of n^-1/2")
    figure = "nngp_ntk"

    def validate(self, p: Mapping[str, Any]) -> None:
        if len(set(p["width"])) < 3:
            raise BadInput("parameter width needs at least three distinct widths for the c0 + c1/n fit")

    def grid(self, p: Mapping[str, Any]) -> Grid:
        return Grid.product(static={"width": sorted(set(int(w) for w in p["width"])), "depth": [int(p["depth"])],
                                    "activation": [p["activation"]]},
                            dynamic={"sigma_w2": [float(p["sigma_w2"])], "sigma_b2": [float(p["sigma_b2"])]})

    def simulate(self, key, static, dynamic):
        out = empirical.simulate_kernels(key, INPUTS, width=static["width"], depth=static["depth"],
                                         activation=static["activation"], sigma_w2=dynamic["sigma_w2"],
                                         sigma_b2=dynamic["sigma_b2"], dtype=sim_dtype())
        import jax.numpy as jnp

        ii = jnp.asarray([i for i, _ in PAIRS])
        jj = jnp.asarray([j for _, j in PAIRS])
        return {"entries": jnp.concatenate([out["nngp"][ii, jj], out["ntk"][ii, jj]])}

    def _per_width(self, p, sweep):
        widths = sorted(set(int(w) for w in p["width"]))
        means, ses, stds, std_ses = [], [], [], []
        for n in widths:
            x = sweep.data["entries"][sweep.index(width=n)]
            m, s, _ = mean_and_se(x, axis=0)
            sd, sd_se = std_and_se(x)
            means.append(m), ses.append(s), stds.append(sd), std_ses.append(sd_se)
        return widths, np.array(means), np.array(ses), np.array(stds), np.array(std_ses)

    def evidence(self, p: Mapping[str, Any], sweep: SweepResult, control: bool = False) -> list[Evidence]:
        sw = p["sigma_w2"] * (CONTROL_SW_FACTOR if control else 1.0)
        theory = theory_entries(p["depth"], p["activation"], sw, p["sigma_b2"])
        widths, means, ses, stds, std_ses = self._per_width(p, sweep)
        bad = np.isfinite(sweep.data["entries"]).all(axis=-1)
        n_bad = int((~bad).sum())
        limit_rows, rate_rows = [], []
        for e, (kern, (i, j)) in enumerate(labels()):
            label = {"kernel": kern, "pair": f"x{i + 1},x{j + 1}"}
            c0, c0_se, c1 = extrapolate_inverse(widths, means[:, e], ses[:, e])
            limit_rows.append(Row({**label, "stat": "limit", "c1": c1}, float(theory[e]), c0, c0_se, n_bad))
            slope, slope_se, _ = fit_power_law(np.array(widths), stds[:, e], std_ses[:, e])
            rate_rows.append(Row({**label, "stat": "std_exponent"}, CONTROL_EXPONENT if control else -0.5,
                                 slope, slope_se, n_bad))
        fs = SLOPE_FS_COEF * p["depth"] / min(widths)
        return [
            Evidence("limit", Agree(alpha=0.01, correction="holm",
                                    finite_size_doc="none (the O(1/n) bias is the fitted c1/n)"), limit_rows),
            Evidence("rate", Agree(alpha=0.01, correction="holm", finite_size=fs,
                                   finite_size_doc=f"1.25 L / n_min = {fs:.3g}"), rate_rows),
        ]

    def display(self, p: Mapping[str, Any], sweep: SweepResult) -> dict[str, Any]:
        widths, means, ses, stds, std_ses = self._per_width(p, sweep)
        return {"widths": widths, "labels": [f"{k} x{i + 1},x{j + 1}" for k, (i, j) in labels()],
                "mean": means.tolist(), "se": ses.tolist(), "std": stds.tolist(), "std_se": std_ses.tolist(),
                "theory": theory_entries(p["depth"], p["activation"], p["sigma_w2"], p["sigma_b2"]).tolist(),
                "control": theory_entries(p["depth"], p["activation"], p["sigma_w2"] * CONTROL_SW_FACTOR,
                                          p["sigma_b2"]).tolist()}


CHECK = register(NngpNtk())
