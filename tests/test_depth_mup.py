"""Tests for theory_lab.kernels.depth_mup: the TP VI (alpha, gamma) classification and exponent law, the notes'
reference numbers (section 3(d)), and Monte-Carlo depth exponents of the residual-net simulator."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.kernels import depth_mup as dm
from theory_lab.rules import fit_power_law

Z = 4.0  # agreement threshold in standard errors (fixed before looking; seeds fixed)


def test_exponent_law_and_control():
    assert dm.feature_update_exponent(0.5, 0.5) == 0.0  # Depth-µP
    assert dm.feature_update_exponent(1.0, 0.0) == 0.0  # ODE line
    assert dm.feature_update_exponent(0.5, 0.0) == 0.5  # grows
    assert dm.feature_update_exponent(0.5, 1.0) == -0.5  # vanishes like L^-1/2
    assert dm.feature_update_exponent(0.75, 0.75) == -0.5
    assert dm.incoherent_exponent(0.5, 0.5) == -0.5
    with pytest.raises(ValueError):
        dm.feature_update_exponent(0.25, 0.75)  # unstable at init: no exponent claimed (Claim 7.1)


def test_classification_claims_7_1_to_7_5():
    c = dm.classify(0.5, 0.5)
    assert c == {"stable_init": True, "stable_training": True, "nontrivial": True, "faithful": True,
                 "redundant": False, "depth_mup": True}
    assert dm.classify(1.0, 0.0)["redundant"] and dm.classify(1.0, 0.0)["stable_training"]
    assert not dm.classify(0.5, 0.0)["stable_training"]  # alpha + gamma < 1: blows up
    assert not dm.classify(0.5, 1.0)["nontrivial"]  # alpha + gamma > 1: features freeze
    assert not dm.classify(0.0, 1.0)["stable_init"]  # standard resnet
    assert not dm.classify(1.5, 0.0)["faithful"]
    # Depth-µP is the unique stable, nontrivial, non-redundant point on a grid of the plane
    grid = [(a, g) for a in np.arange(0, 1.51, 0.25) for g in np.arange(0, 1.51, 0.25)]
    best = [(a, g) for a, g in grid if (lambda k: k["stable_training"] and k["nontrivial"] and k["faithful"]
                                        and not k["redundant"])(dm.classify(a, g))]
    assert best == [(0.5, 0.5)]


def test_notes_table_slopes():
    """Slopes of the notes' [NUM] table (section 3(d), L = 8..512): Depth-µP flat, (1/2,1) ~ L^-1/2, (1/2,0) grows."""
    L = np.array([8, 32, 128, 512])

    def slope(name):
        y = np.array([dm.NOTES_TABLE[name][k] for k in L])
        return fit_power_law(L, y, 0.1 * y)[0]

    assert abs(slope("sgd (1/2,1/2) eta=1")) < 0.05
    assert abs(slope("adam (1/2,1/2) eta=0.3")) < 0.05
    assert abs(slope("sgd (1,0)")) < 0.1
    assert slope("sgd (1/2,1)") == pytest.approx(-0.5, abs=0.05)
    assert slope("sgd (1/2,0)") > 0.1  # grows (0.18 at the notes' eta = 1, below the first-order 1/2)


@pytest.fixture(scope="module")
def depth_runs():
    """depth -> update array (settings, seeds, steps+1) for L = 4 and 32, width 32, 32 seeds."""
    settings = [(0.5, 0.5, 0.0, 0.1), (0.5, 0.0, 0.0, 0.1), (0.5, 1.0, 0.0, 0.1), (0.5, 0.5, 1.0, 0.03)]
    a, g, ad, lr = (jnp.array([s[i] for s in settings]) for i in range(4))
    out = {}
    for L in (4, 32):
        f = jax.jit(jax.vmap(jax.vmap(
            lambda k, a_, g_, ad_, lr_, L=L: dm.simulate_depth_coord(k, width=32, depth=L, alpha=a_, gamma=g_,
                                                                     adam=ad_, lr=lr_, steps=2),
            (0, None, None, None, None)), (None, 0, 0, 0, 0)))
        out[L] = {k: np.asarray(v) for k, v in f(jax.random.split(jax.random.key(3), 32), a, g, ad, lr).items()}
    return out


def test_mc_depth_exponents(depth_runs):
    allowance = 4**-0.5 / math.log(8)  # the check's declared finite-size term at L = 4..32
    for j, e in enumerate([0.0, 0.5, -0.5, 0.0]):
        a, b = depth_runs[4]["update"][j, :, -1], depth_runs[32]["update"][j, :, -1]
        slope = math.log(b.mean() / a.mean()) / math.log(8)
        se = math.hypot(a.std(ddof=1) / a.mean(), b.std(ddof=1) / b.mean()) / math.sqrt(a.size) / math.log(8)
        assert abs(slope - e) <= Z * se + allowance, (j, slope, se, e)


def test_depth_simulator_shapes_init_and_tracing(depth_runs):
    r = depth_runs[4]
    assert r["update"].shape == (4, 32, 3) and np.all(r["update"][..., 0] == 0)
    assert np.all(np.isfinite(r["loss"])) and np.all(r["size"] > 0)
    # Depth-µP at init keeps x^L Theta(1): rms of x^L at L = 32 within a factor 2 of L = 4
    ratio = depth_runs[32]["size"][0, :, 0].mean() / r["size"][0, :, 0].mean()
    assert 0.5 < ratio < 2.0
    traces = []

    @jax.jit
    def run(alpha):
        traces.append(None)
        return dm.simulate_depth_coord(jax.random.key(0), width=8, depth=3, alpha=alpha, gamma=0.5, adam=0.0,
                                       lr=0.1, steps=1)

    u1, u2 = run(jnp.asarray(0.5)), run(jnp.asarray(1.0))
    assert len(traces) == 1 and float(u1["update"][1]) != float(u2["update"][1])
    out = dm.simulate_depth_coord(jax.random.key(0), width=8, depth=3, alpha=0.5, gamma=0.5, adam=1.0, lr=0.03,
                                  steps=1, dtype=jnp.float32)
    assert out["update"].dtype == jnp.float32
    with pytest.raises(ValueError):
        dm.simulate_depth_coord(jax.random.key(0), width=8, depth=0, alpha=0.5, gamma=0.5, adam=0.0, lr=0.1)


# ---------------------------------------------------------------------------------------------------------------
# Learning-rate transfer helpers (scaling.depth-mup-transfer)
# ---------------------------------------------------------------------------------------------------------------


def test_optimal_lr_exponent():
    assert dm.optimal_lr_exponent(0.5, 0.5) == 0.0  # Depth-µP transfers
    assert dm.optimal_lr_exponent(0.5, 0.0) == -0.5  # raw LR eta sqrt(L): optimum drifts as L^-1/2
    with pytest.raises(ValueError):
        dm.optimal_lr_exponent(1.0, 0.0)


def test_locate_optimum_and_bootstrap():
    from proofs_checks.depth_mup_transfer import locate_optimum, log_final_loss, optimum_and_se

    x = np.arange(-2.0, 4.01, 0.5)
    rng = np.random.default_rng(0)
    per_seed = (x[:, None] - 1.3) ** 2 + 0.05 * rng.standard_normal((x.size, 40))
    best, se = optimum_and_se(x, per_seed, rng)
    assert abs(best - 1.3) <= Z * se + 0.05 and 0 < se < 0.1
    assert math.isnan(locate_optimum(x, (x[:, None] + 5.0) ** 2 * np.ones((1, 3))))  # minimum on the edge
    capped = log_final_loss(np.array([np.nan, np.inf, 1e9, np.e]))
    np.testing.assert_allclose(capped, [10.0, 10.0, 10.0, 1.0])
