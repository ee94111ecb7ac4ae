"""Tests for theory_lab.kernels.parametrizations and theory_lab.kernels.coord_check: the scaling tables of
Tensor Programs V/VI, the optax transformations, the width-exponent theory, and Monte-Carlo exponents of the width
simulator (µP flat, SP growing, NTK shrinking) within a few standard errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from theory_lab.kernels import coord_check as cc
from theory_lab.kernels import parametrizations as pz

Z = 4.0  # agreement threshold in standard errors (fixed before looking; seeds fixed, so deterministic)


# ---------------------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------------------


def test_mup_table_tp5():
    n, d = 256, 10
    s = pz.layer_scale("mup", "input", d, n, optimizer="sgd")
    assert (s.init_std, s.multiplier, s.lr) == pytest.approx((1 / math.sqrt(d), 1.0, n))  # SGD input lr x fan_out
    assert pz.layer_scale("mup", "input", d, n, optimizer="adam").lr == 1.0
    h = pz.layer_scale("mup", "hidden", n, n, optimizer="adam")
    assert (h.init_std, h.lr) == pytest.approx((1 / math.sqrt(n), 1 / n))  # MuAdam: matrix-like lr / fan_in
    assert pz.layer_scale("mup", "hidden", n, n, optimizer="sgd").lr == 1.0
    o = pz.layer_scale("mup", "output", n, 1, optimizer="sgd")
    assert o.init_std**2 == pytest.approx(1 / n**2) and o.lr == pytest.approx(1 / n)  # var 1/fan_in^2, lr/fan_in


def test_sp_ntk_and_base_width():
    for role, fi, fo in (("input", 7, 64), ("hidden", 64, 64), ("output", 64, 1)):
        sp = pz.layer_scale("sp", role, fi, fo)
        ntk = pz.layer_scale("ntk", role, fi, fo)
        assert (sp.init_std, sp.multiplier, sp.lr) == pytest.approx((fi**-0.5, 1.0, 1.0))
        assert (ntk.init_std, ntk.multiplier, ntk.lr) == pytest.approx((1.0, fi**-0.5, 1.0))
        # µP coincides with SP at the base width (microsoft/mup convention)
        for opt in ("sgd", "adam"):
            mu = pz.layer_scale("mup", role, fi, fo, optimizer=opt, base_fan_in=fi if role != "input" else None,
                                base_fan_out=fo if role != "output" else None)
            assert (mu.init_std, mu.multiplier, mu.lr) == pytest.approx((sp.init_std, 1.0, 1.0))
    layers = pz.mlp_scales("mup", 5, 128, 1, 3, optimizer="adam", base_width=32)
    assert len(layers) == 4 and layers[1].lr == pytest.approx(32 / 128) and layers[-1].lr == pytest.approx(0.25)
    with pytest.raises(ValueError):
        pz.layer_scale("mup", "middle", 4, 4)
    with pytest.raises(ValueError):
        pz.layer_scale("abc", "hidden", 4, 4)


def test_depth_mup_table1():
    for L in (4, 64, 1024):
        sgd = pz.depth_scale(0.5, 0.5, L, optimizer="sgd")
        adam = pz.depth_scale(0.5, 0.5, L, optimizer="adam")
        assert float(sgd.branch) == pytest.approx(L**-0.5)  # a / sqrt(L)
        assert float(sgd.lr) == pytest.approx(1.0)  # SGD: eta constant in L
        assert float(adam.lr) == pytest.approx(L**-0.5)  # Adam: eta / sqrt(L)
    assert float(pz.depth_scale(0.5, 0.5, 64, base_depth=8).branch) == pytest.approx(8**-0.5)
    assert pz.DEPTH_MUP == (0.5, 0.5)
    # alpha, gamma may be traced (vmapped over)
    br = jax.jit(jax.vmap(lambda a: pz.depth_scale(a, 0.0, 16).branch))(jnp.array([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(np.asarray(br), [1.0, 0.25, 1 / 16])


def test_scaled_and_switch_optimizers():
    params = {"a": jnp.array([1.0, -2.0]), "b": jnp.array([[0.5]])}
    grads = {"a": jnp.array([0.3, -0.1]), "b": jnp.array([[2.0]])}
    fac = {"a": 2.0, "b": 0.5}
    u, _ = pz.scaled_optimizer("sgd", 0.1, fac).update(grads, pz.scaled_optimizer("sgd", 0.1, fac).init(params))
    np.testing.assert_allclose(np.asarray(u["a"]), -0.1 * 2.0 * np.array([0.3, -0.1]))
    tx = pz.scaled_optimizer("adam", 0.1, fac)
    u, _ = tx.update(grads, tx.init(params))
    np.testing.assert_allclose(np.asarray(u["a"]), -0.2 * np.sign([0.3, -0.1]), rtol=1e-6)  # Adam step 1 = sign
    for flag, name in ((0.0, "sgd"), (1.0, "adam")):
        sw = pz.switch_optimizer(jnp.asarray(flag), 0.1, fac, fac)
        ref = pz.scaled_optimizer(name, 0.1, fac)
        s1, s2 = sw.init(params), ref.init(params)
        for _ in range(3):
            u1, s1 = sw.update(grads, s1, params)
            u2, s2 = ref.update(grads, s2, params)
            for k in params:
                np.testing.assert_allclose(np.asarray(u1[k]), np.asarray(u2[k]), rtol=1e-12)
    assert isinstance(tx, optax.GradientTransformation)


def test_width_exponent_theory():
    assert cc.width_update_exponent("mup", "sgd", 1) == 0.0
    assert cc.width_update_exponent("mup", "adam", 5) == 0.0
    assert cc.width_update_exponent("ntk", "sgd", 3) == -0.5
    assert cc.width_update_exponent("sp", "sgd", 1) == 0.5
    assert cc.width_update_exponent("sp", "adam", 1) == 1.0
    assert cc.width_update_exponent("sp", "sgd", 2) is None
    assert cc.width_update_exponent("ntk", "adam", 1) is None
    with pytest.raises(ValueError):
        cc.width_update_exponent("mup", "sgd", 0)


def test_fit_exponent_recovers_a_power():
    sizes = np.array([16, 64, 256])
    rng = np.random.default_rng(0)
    vals = 3.0 * sizes[:, None] ** 0.7 * (1 + 0.01 * rng.standard_normal((3, 50)))
    b, se = cc.fit_exponent(sizes, vals)
    assert abs(b - 0.7) <= Z * se and se < 0.01


# ---------------------------------------------------------------------------------------------------------------
# Simulator and the generic utility
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def width_runs():
    """(width -> per (setting) arrays) for widths 32 and 256, 24 seeds; settings SP/NTK/µP x SGD, SP/µP x Adam."""
    settings = [(0, 0.0, 0.1), (1, 0.0, 0.1), (2, 0.0, 0.1), (0, 1.0, 0.01), (2, 1.0, 0.01)]
    codes, adam, lr = (jnp.array([s[i] for s in settings]) for i in range(3))
    out = {}
    for w in (32, 256):
        f = jax.jit(jax.vmap(jax.vmap(
            lambda k, c, a, lr, w=w: cc.simulate_width_coord(k, width=w, param_code=c, adam=a, lr=lr, steps=2),
            (0, None, None, None)), (None, 0, 0, 0)))
        out[w] = {k: np.asarray(v) for k, v in f(jax.random.split(jax.random.key(7), 24), codes, adam, lr).items()}
    return out


def _two_point_exponent(a, b, ratio):
    """Slope between two widths from per-seed samples, with a delta-method SE."""
    ma, mb = a.mean(), b.mean()
    sa, sb = a.std(ddof=1) / np.sqrt(a.size), b.std(ddof=1) / np.sqrt(b.size)
    return math.log(mb / ma) / math.log(ratio), math.hypot(sa / ma, sb / mb) / math.log(ratio)


def test_mc_width_exponents(width_runs):
    allowance = 32**-0.5 / math.log(8)  # the check's declared finite-size term
    expected = [0.5, -0.5, 0.0, 1.0, 0.0]  # step 1: SP-SGD, NTK-SGD, µP-SGD, SP-Adam, µP-Adam
    for j, e in enumerate(expected):
        b, se = _two_point_exponent(width_runs[32]["weight_update"][j, :, 1],
                                    width_runs[256]["weight_update"][j, :, 1], 8)
        assert abs(b - e) <= Z * se + allowance, (j, b, se, e)
        assert abs(b - cc.LAZY_EXPONENT) > Z * se + allowance or e == cc.LAZY_EXPONENT  # the control is rejected


def test_simulator_shapes_and_init(width_runs):
    r = width_runs[32]
    assert r["change"].shape == (5, 24, 3, 3) and r["weight_update"].shape == (5, 24, 3)
    assert np.all(r["change"][:, :, :, 0] == 0) and np.all(r["weight_update"][:, :, 0] == 0)
    assert np.all(np.isfinite(r["size"]))
    # SP and µP share the hidden init (var 1/fan_in): same l1 of h1 and h2 at init for the same key
    np.testing.assert_allclose(r["size"][0, :, :2, 0], r["size"][2, :, :2, 0], rtol=1e-12)
    # µP's readout is 1/sqrt(n) smaller at init
    assert r["size"][2, :, 2, 0].mean() < 0.5 * r["size"][0, :, 2, 0].mean()


def test_lr_is_traced_no_recompile_and_float32():
    traces = []

    @jax.jit
    def run(lr):
        traces.append(None)
        return cc.simulate_width_coord(jax.random.key(0), width=16, steps=1, param_code=2, adam=0.0, lr=lr)

    a, b = run(jnp.asarray(0.1)), run(jnp.asarray(0.2))
    assert len(traces) == 1
    np.testing.assert_allclose(2 * np.asarray(a["weight_update"][1]), np.asarray(b["weight_update"][1]), rtol=0.05)
    out = cc.simulate_width_coord(jax.random.key(0), width=16, steps=1, param_code=0, adam=1.0, lr=0.01,
                                  dtype=jnp.float32)
    assert out["change"].dtype == jnp.float32


def test_generic_coord_check_and_plot():
    from matplotlib.figure import Figure

    x = jax.random.normal(jax.random.key(1), (4, 3))
    y = jnp.ones((4, 1))

    def factory(n):
        scales = pz.mlp_scales("mup", 3, n, 1, 2, optimizer="sgd")
        model = cc.ScaledMLP(width=n, n_hidden=2, dtype=jnp.float64)
        stds = [s.init_std for s in scales]
        return ((lambda p, xx, mutable: model.apply({"params": p}, xx, mutable=mutable)),
                (lambda k: cc.scale_params(model.init(k, x)["params"], stds)))

    def make_tx(n):
        scales = pz.mlp_scales("mup", 3, n, 1, 2, optimizer="sgd")
        return pz.scaled_optimizer("sgd", 0.5, {f"layer{i}": {"kernel": s.lr} for i, s in enumerate(scales)})

    res = cc.coord_check(factory, [16, 32], x, y, make_tx, steps=2, seeds=3)
    assert set(res.change) == {"h1", "h2", "out"}
    assert res.change["h2"].shape == (2, 3, 3) and np.all(res.change["h2"][..., 0] == 0)
    ax = Figure().subplots()
    b, se = cc.plot_coord_check(ax, res.sizes, res.change["h2"], expected=0.0)
    assert np.isfinite(b) and np.isfinite(se)
    assert "expected: +0.00" in ax.texts[0].get_text()
