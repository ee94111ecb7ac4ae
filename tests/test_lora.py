"""Tests for theory_lab.kernels.lora: the LoRA+ optimizer against hand computations, the gradient-flow formulas of the
LoRA+ toy against the notes' numbers (section 4d) and quadrature, the scalar-reduced simulator against the data-level
one in distribution, and the Init[A]/Init[B] toy simulator's basic properties."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import integrate

from theory_lab.kernels import lora as L

Z = 4.0  # agreement threshold in standard errors (fixed before looking; keys are fixed, so tests are deterministic)


def _mc(sim, seed, reps, **kw):
    keys = jax.random.split(jax.random.key(seed), reps)
    out = jax.vmap(lambda k: sim(k, **kw))(keys)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def _agree(a, b):
    """Two independent samples have equal means within Z standard errors of the difference."""
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(a.mean() - b.mean()) <= Z * se, (a.mean(), b.mean(), se)


# --- optimizer ------------------------------------------------------------------------------------------------------


def test_loraplus_sgd_step_by_hand():
    params = {"lora_A": jnp.array([[1.0, 2.0]]), "lora_B": jnp.array([[3.0]])}
    grads = {"lora_A": jnp.array([[0.5, -1.0]]), "lora_B": jnp.array([[2.0]])}
    opt = L.loraplus(0.1, 4.0)
    upd, _ = opt.update(grads, opt.init(params), params)
    new = optax.apply_updates(params, upd)
    np.testing.assert_allclose(new["lora_A"], [[1.0 - 0.1 * 0.5, 2.0 + 0.1 * 1.0]])
    np.testing.assert_allclose(new["lora_B"], [[3.0 - 0.4 * 2.0]])


def test_loraplus_adam_by_hand_and_ratio_one_is_adam():
    params = {"A": jnp.array([1.0, -2.0]), "B": jnp.array([0.5])}
    g1 = {"A": jnp.array([0.3, -0.1]), "B": jnp.array([2.0])}
    g2 = {"A": jnp.array([-0.2, 0.4]), "B": jnp.array([1.0])}
    lr, lam, b1, b2, eps = 0.01, 8.0, 0.9, 0.999, 1e-8
    opt = L.loraplus(lr, lam, base="adam", b1=b1, b2=b2, eps=eps)
    st = opt.init(params)
    p = params
    m = {k: np.zeros_like(np.asarray(v)) for k, v in params.items()}
    v = {k: np.zeros_like(np.asarray(v)) for k, v in params.items()}
    hand = {k: np.asarray(x, dtype=np.float64) for k, x in params.items()}
    for t, g in enumerate((g1, g2), start=1):
        upd, st = opt.update(g, st, p)
        p = optax.apply_updates(p, upd)
        for k in hand:
            gk = np.asarray(g[k])
            m[k] = b1 * m[k] + (1 - b1) * gk
            v[k] = b2 * v[k] + (1 - b2) * gk * gk
            mh, vh = m[k] / (1 - b1**t), v[k] / (1 - b2**t)
            hand[k] = hand[k] - lr * (lam if k == "B" else 1.0) * mh / (np.sqrt(vh) + eps)
    for k in hand:
        np.testing.assert_allclose(np.asarray(p[k]), hand[k], rtol=1e-6)
    # ratio 1 is exactly optax.adam
    ref = optax.adam(lr, b1=b1, b2=b2, eps=eps)
    u1, _ = L.loraplus(lr, 1.0, base="adam").update(g1, L.loraplus(lr, 1.0, base="adam").init(params), params)
    u2, _ = ref.update(g1, ref.init(params), params)
    for k in params:
        np.testing.assert_allclose(np.asarray(u1[k]), np.asarray(u2[k]), rtol=1e-6)


def test_default_mask_finds_b_factors_in_nested_trees():
    params = {"layer": {"lora_A": jnp.ones(2), "lora_B": jnp.ones(2)}, "B": jnp.ones(1), "bias": jnp.ones(1)}
    mask = L.default_b_mask(params)
    assert mask["layer"]["lora_B"] and mask["B"] and not mask["layer"]["lora_A"] and not mask["bias"]


def test_traced_learning_rates_do_not_recompile():
    traces = []

    @jax.jit
    def step(lr, ratio):
        traces.append(1)
        opt = L.loraplus(lr, ratio)
        p = {"A": jnp.ones(3), "B": jnp.ones(3)}
        u, _ = opt.update(p, opt.init(p), p)
        return u["B"][0]

    assert float(step(0.1, 2.0)) == pytest.approx(-0.2)
    assert float(step(0.3, 5.0)) == pytest.approx(-1.5)
    assert len(traces) == 1


# --- LoRA+ toy theory -------------------------------------------------------------------------------------------------


def test_gf_formulas_reference_numbers():
    # notes 4d: equal LR 0.5/n at n=128 fits in ~78 steps (median); s_inf ~ (n)^(1/4) = 3.36 with the s0 correction
    assert float(L.gf_time_to_fit(1.0, 0.5 / 128, 0.5 / 128, 128)) == pytest.approx(77.217, abs=1e-3)
    assert float(L.gf_feature(1.0, 128.0)) == pytest.approx(3.43871, abs=1e-5)
    assert float(L.gf_feature(0.0, 16.0, r=2.0)) == pytest.approx(np.sqrt(8.0))  # s^2 = sqrt(kappa) r
    # closed-form time integral against quadrature
    for q in (1e-3, 0.3, 2.0):
        num, _ = integrate.quad(lambda u: 1 / ((1.5 - u) * np.sqrt(q * q + 4 * u * u)), 0, 1.2, limit=200)
        assert L._time_integral(q, 1.5, 1.2) == pytest.approx(num, rel=1e-9)
    # LoRA+ scaling: the time to fit does not depend on n when eta_a = c/n, eta_b = c
    t = [float(L.gf_time_to_fit(0.7, 0.25 / n, 0.25, n)) for n in (64, 4096)]
    assert t[0] == pytest.approx(t[1], rel=1e-12)


def test_gd_invariant_drift_identity():
    """One SGD step changes Q by exactly eta_a X U^2 (eta_a X b^2 - eta_b s^2)."""
    s, b, ea, eb, x, r = 0.8, 0.3, 0.01, 0.2, 50.0, 1.0
    u = b * s - r
    s1, b1 = s - ea * x * b * u, b - eb * s * u
    dq = L.invariant(s1, b1, ea, eb, x) - L.invariant(s, b, ea, eb, x)
    assert dq == pytest.approx(ea * x * u * u * (ea * x * b * b - eb * s * s), rel=1e-12)


# --- LoRA+ toy simulators ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("eta", [(0.5 / 64, 0.5 / 64), (0.125 / 64, 0.125)])
def test_fast_simulator_matches_data_level_in_distribution(eta):
    kw = dict(n=64, steps=600, eta_a=eta[0], eta_b=eta[1])
    slow = _mc(L.simulate_lora_plus_toy, 1, 1500, **kw)
    fast = _mc(L.simulate_lora_plus_toy_fast, 2, 1500, **kw)
    for k in ("s0", "s_final", "b_final", "steps_to_fit", "dq"):
        assert np.all(np.isfinite(slow[k])) and np.all(np.isfinite(fast[k]))
        _agree(slow[k], fast[k])
    assert np.abs(slow["s0"]).std() == pytest.approx(np.abs(fast["s0"]).std(), rel=0.1)


def test_equal_lr_simulation_matches_gradient_flow_theory():
    n, c = 1024, 0.5
    out = _mc(L.simulate_lora_plus_toy_fast, 3, 4000, n=n, steps=2048, eta_a=c / n, eta_b=c / n)
    th_s = L.expected_gf_feature(n)
    th_t = L.expected_gf_steps(c / n, c / n, n, cap=2048)
    m, se = out["s_final"].mean(), out["s_final"].std(ddof=1) / np.sqrt(4000)
    assert abs(m - th_s) <= Z * se + 0.002 * th_s  # Euler step c/sqrt(n) = 1/64
    m, se = out["steps_to_fit"].mean(), out["steps_to_fit"].std(ddof=1) / np.sqrt(4000)
    assert abs(m - th_t) <= Z * se + 0.02 * th_t
    assert out["final_loss"].max() < 1e-3


# --- Init[A] / Init[B] toy ---------------------------------------------------------------------------------------


def test_init_toy_zero_lr_keeps_the_initial_loss():
    """At lr = 0 nothing moves: (A - A_0)x = 0, and E loss = 1/2 E (B* A* x)^2 = rank / 2 (both inits start at
    f = 0)."""
    for init in ("A", "B"):
        out = _mc(L.simulate_lora_init_toy, 7, 1000, n=32, rank=4, batch=16, steps=1, init=init, lr=0.0)
        assert np.all(out["dza_rms"] == 0.0)
        m, se = out["loss"].mean(), out["loss"].std(ddof=1) / np.sqrt(1000)
        assert abs(m - 2.0) <= Z * se
        if init == "B":
            assert np.all(out["za_rms"] == 0.0)  # A = 0
        else:
            assert abs(np.mean(out["za_rms"] ** 2) - 1.0) < 0.08  # A_0 x has unit variance per coordinate


def test_init_toy_learns_and_adam_feature_update_scales_with_lr_times_n():
    """A moderate Adam learning rate lowers the loss; under Init[B] one step moves A x by about lr * n (sign-like
    Adam updates add up coherently over the n coordinates), the mechanism behind the Theta(1/n) maximal LR."""
    a = _mc(L.simulate_lora_init_toy, 8, 32, n=32, rank=4, batch=16, steps=60, init="A", lr=2.0**-4)
    assert np.mean(a["loss"]) < 0.1
    b1 = _mc(L.simulate_lora_init_toy, 9, 64, n=32, rank=4, batch=16, steps=1, init="B", lr=1e-3)
    b2 = _mc(L.simulate_lora_init_toy, 9, 64, n=128, rank=4, batch=16, steps=1, init="B", lr=1e-3)
    ratio = np.mean(b2["dza_rms"]) / np.mean(b1["dza_rms"])
    assert 3.0 < ratio < 5.0
