"""Tests for theory_lab.icl.transformer: token layout, causality, the batched prefix baselines against
theory_lab.icl.estimators (predictions and exact risks), training in a lax.scan (loss falls on a learnable task;
traced learning rate, no recompiles), and the check's theory curves (notes sections 3 and 6)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.icl import estimators as est
from theory_lab.icl import transformer as tf

Z = 4.0


def _prompts(seed, b=64, n=9, d=4, sigma2=0.5):
    cfg = tf.GPTConfig(d=d, n_points=n)
    x, y, w = tf.sample_prompts(jax.random.key(seed), b, cfg, sigma2, dtype=jnp.float64)
    return cfg, x, y


def test_tokens_interleave_x_and_y():
    x = jnp.arange(2 * 3 * 2, dtype=jnp.float32).reshape(2, 3, 2)
    y = jnp.array([[10.0, 11, 12], [13, 14, 15]])
    t = tf.make_tokens(x, y)
    assert t.shape == (2, 6, 2)
    np.testing.assert_array_equal(t[0, 0], x[0, 0])
    np.testing.assert_array_equal(t[0, 1], [10.0, 0.0])
    np.testing.assert_array_equal(t[1, 4], x[1, 2])
    np.testing.assert_array_equal(t[1, 5], [15.0, 0.0])


def test_config_validation_and_param_count():
    with pytest.raises(ValueError):
        tf.GPTConfig(d=3, n_points=5, n_head=3, n_embd=16)
    with pytest.raises(ValueError):
        tf.GPTConfig(d=0, n_points=5)
    small = tf.param_count(tf.GPTConfig(d=5, n_points=11, n_layer=2, n_head=2, n_embd=16))
    big = tf.param_count(tf.GPTConfig(d=5, n_points=11, n_layer=4, n_head=2, n_embd=16))
    assert 0 < small < big


def test_model_is_causal():
    cfg, x, y = _prompts(0, b=3)
    params = tf.init_params(jax.random.key(1), cfg, jnp.float64)
    pred = jax.jit(lambda xx, yy: tf.predict(params, cfg, xx, yy, jnp.float64))
    base = pred(x, y)
    i = 4
    pert = pred(x, y.at[:, i].add(3.0))  # change y_i
    np.testing.assert_allclose(pert[:, : i + 1], base[:, : i + 1], rtol=0, atol=1e-12)  # y_i unseen up to x_i
    assert np.max(np.abs(pert[:, i + 1] - base[:, i + 1])) > 1e-8  # seen from x_{i+1} on
    pert = pred(x.at[:, i + 1].add(1.0), y)
    np.testing.assert_allclose(pert[:, : i + 1], base[:, : i + 1], rtol=0, atol=1e-12)


def test_prefix_baselines_match_estimators():
    cfg, x, y = _prompts(2, b=5, n=9, d=4)
    lam = 0.5
    r = tf.prefix_ridge_predictions(x, y, lam)
    m = tf.prefix_minnorm_predictions(x, y)
    np.testing.assert_array_equal(np.asarray(r[:, 0]), 0.0)
    np.testing.assert_allclose(np.asarray(m[:, 0]), 0.0, atol=1e-12)
    for k in (1, 4, 8):
        ref_r = est.ridge_predict(x[:, :k], y[:, :k], x[:, k], lam)
        ref_m = est.minnorm_predict(x[:, :k], y[:, :k], x[:, k])
        np.testing.assert_allclose(np.asarray(r[:, k]), np.asarray(ref_r), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(np.asarray(m[:, k]), np.asarray(ref_m), rtol=1e-7, atol=1e-8)


def test_prefix_ridge_error_matches_exact_bayes_risk():
    d, n, s2 = 4, 9, 0.5
    cfg, x, y = _prompts(3, b=20_000, n=n, d=d, sigma2=s2)
    e = np.asarray((tf.prefix_ridge_predictions(x, y, s2) - y) ** 2)
    for k in (1, 3, 4, 6, 8):
        th, th_se = est.ridge_risk_mc(k, d, s2, s2, 1.0, n_draws=50_000, seed=k)
        se = np.hypot(e[:, k].std() / np.sqrt(e.shape[0]), th_se)
        assert abs(e[:, k].mean() - th) <= Z * se, (k, e[:, k].mean(), th)


def test_training_scan_learns_a_fixed_task_and_lr_is_traced():
    cfg = tf.GPTConfig(d=3, n_points=5, n_layer=1, n_head=1, n_embd=8)
    traces = []

    @jax.jit
    def run(key, lr):
        traces.append(None)
        pool = jnp.ones((1, 3), jnp.float32)  # one task: learnable in-weights within a few hundred steps
        return tf.train(key, cfg, steps=300, batch=16, lr=lr, sigma2=0.1, pool=pool, n_log=10, dtype=jnp.float32)

    _, loss = run(jax.random.key(0), jnp.asarray(3e-3))
    _, loss_lr0 = run(jax.random.key(0), jnp.asarray(1e-9))
    assert len(traces) == 1  # a new learning rate does not retrace
    assert loss.shape == (10,)
    assert float(loss[-1]) < 0.3 * float(loss[0])  # initial loss ~ ||w||^2 + 0.1 = 3.1, floor 0.1
    assert float(loss_lr0[-1]) > 0.7 * float(loss_lr0[0])  # without steps nothing is learnt


def test_simulator_outputs_and_vmap():
    f = jax.jit(jax.vmap(lambda k: tf.simulate_transformer_icl(k, d=3, n_points=5, n_layer=1, n_head=1, n_embd=8,
                                                       steps=3, batch=4, n_eval=32, lr=1e-3, sigma2=0.25, n_log=3,
                                                       dtype=jnp.float32)))
    out = f(jax.random.split(jax.random.key(0), 2))
    assert set(out) == {"err_tf", "err_ridge", "err_ols", "train_loss"}
    assert out["err_tf"].shape == (2, 5) and out["train_loss"].shape == (2, 3)
    assert all(v.dtype == jnp.float32 for v in out.values())
    assert np.all(np.isfinite(np.asarray(out["err_ridge"])))


def test_check_theory_curves():
    from proofs_checks.transformer_baselines import bayes_curve, gd_curve, ols_rows_k

    b, se = bayes_curve(5, 11, 0.5, 1.0)
    g = gd_curve(5, 11, 0.5, 1.0)
    ols = est.ols_risk(np.arange(11), 5, 0.5)
    assert b[0] == g[0] == 5.5 and se[0] == 0
    assert np.all(np.diff(b) < 0) and np.all(se[1:] < 1e-2 * b[1:])
    assert np.all(b[1:] < g[1:])  # Bayes beats one tuned GD step
    assert np.all(b[[3, 7]] < ols[[3, 7]]) and np.isinf(ols[5])
    # one tuned GD step at sigma^2 = 0 reproduces the notes' table (d = 20: (d+1)/(k+d+1) normalised)
    assert gd_curve(20, 41, 1e-12, 1.0)[20] / 20 == pytest.approx(0.512, abs=5e-4)
    assert ols_rows_k(5, 11) == [3, 7] and ols_rows_k(5, 5) == [3]


def test_curriculum_schedule_and_masked_prompts():
    cur = tf.Curriculum(d_start=2, n_start=3, every=100)
    assert [tuple(int(v) for v in cur.at(t, 5, 11)) for t in (0, 99, 100, 250, 10_000)] == [
        (2, 3), (2, 3), (3, 5), (4, 7), (5, 11)]
    assert cur.end(5, 11) == 400 and cur.end(2, 3) == 0
    with pytest.raises(ValueError):
        tf.Curriculum(d_start=0, n_start=3, every=10)
    cfg = tf.GPTConfig(d=5, n_points=7)
    x, y, w = tf.sample_prompts(jax.random.key(4), 8, cfg, 0.0, dtype=jnp.float64, d_eff=jnp.asarray(2))
    assert float(jnp.max(jnp.abs(x[..., 2:]))) == 0.0 and float(jnp.min(jnp.abs(x[..., :2]))) > 0.0
    np.testing.assert_allclose(y, jnp.einsum("bnd,bd->bn", x[..., :2], w[:, :2]), rtol=1e-12)  # labels use d_eff


def test_curriculum_training_float32_with_float64_evaluation():
    cur = tf.Curriculum(d_start=1, n_start=2, every=3)
    f = jax.jit(jax.vmap(lambda k: tf.simulate_transformer_icl(
        k, d=3, n_points=5, n_layer=1, n_head=1, n_embd=8, steps=12, batch=4, n_eval=32, lr=1e-3, sigma2=0.25,
        n_log=4, dtype=jnp.float64, train_dtype=jnp.float32, curriculum=cur, cosine=True, warmup=2)))
    out = f(jax.random.split(jax.random.key(0), 2))
    assert all(v.dtype == jnp.float64 for v in out.values())
    assert out["err_tf"].shape == (2, 5) and np.all(np.isfinite(np.asarray(out["train_loss"])))
    # early curriculum stages (1 active coordinate, 2 scored positions) have a smaller loss than the full task
    assert float(out["train_loss"][:, 0].mean()) < 3.25
