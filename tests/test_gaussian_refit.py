"""Tests for theory_lab.loops.gaussian_refit: exact numbers from the notes (section 4e), the recursion's special
cases, and Monte-Carlo agreement of the JAX simulators with the theory within ~4 standard errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.loops.gaussian_refit import (
    expected_log_var,
    expected_mean_drift_sq,
    expected_var,
    mixed_fixed_point,
    mixed_moments,
    simulate_gaussian_refit,
    simulate_gaussian_refit_fast,
    split_counts,
    var_log_var,
)

Z = 4.0  # agreement threshold in standard errors (fixed before looking; seeds are fixed, so tests are deterministic)
R = 20_000  # trials per Monte-Carlo test


def _mean_se(x):
    """Sample mean over axis 0 and its standard error."""
    x = np.asarray(x, dtype=np.float64)
    return x.mean(0), x.std(0, ddof=1) / np.sqrt(x.shape[0])


def _var_se(x):
    """Sample variance over axis 0 and its standard error sqrt((m4 - s^4) / R) (central fourth moment m4)."""
    x = np.asarray(x, dtype=np.float64)
    c = x - x.mean(0)
    s2 = (c * c).mean(0)
    m4 = (c**4).mean(0)
    return x.var(0, ddof=1), np.sqrt(np.maximum(m4 - s2 * s2, 0.0) / x.shape[0])


def _run(sim, seed, **kw):
    keys = jax.random.split(jax.random.key(seed), R)
    out = jax.vmap(lambda k: sim(k, **kw))(keys)
    return {name: np.asarray(v) for name, v in out.items()}


@pytest.fixture(scope="module")
def pure_data():
    return _run(simulate_gaussian_refit, 0, n=10, t_max=20, n_real=0)


@pytest.fixture(scope="module")
def pure_fast():
    return _run(simulate_gaussian_refit_fast, 1, n=10, t_max=20)


# ---------------------------------------------------------------------------------------------------------------
# Theory
# ---------------------------------------------------------------------------------------------------------------


def test_reference_numbers_from_notes():
    # notes 4e: n = 10, drift -0.2206/gen, Var log s^2 = 0.2487 t; at t = 20: E log = -4.411, Var = 4.97
    assert round(float(expected_log_var(1, 10)), 4) == -0.2206
    assert round(float(var_log_var(1, 10)), 4) == 0.2487
    assert round(float(expected_log_var(20, 10)), 3) == -4.411
    assert round(float(var_log_var(20, 10)), 2) == 4.97
    # large-n approximation -2t/n
    assert expected_log_var(1, 10_000) == pytest.approx(-2.0 / 10_000, rel=1e-3)


def test_theory_is_vectorised_float64():
    t = np.arange(7)
    for f in (expected_log_var, var_log_var, expected_var, expected_mean_drift_sq):
        y = f(t, 10)
        assert y.shape == (7,) and y.dtype == np.float64
        assert y[0] == (1.0 if f is expected_var else 0.0)
    np.testing.assert_allclose(expected_var(t, 10) + expected_mean_drift_sq(t, 10), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(expected_log_var(t, 10), t * expected_log_var(1, 10), rtol=1e-14)
    with pytest.raises(ValueError):
        expected_log_var(t, 1)


def test_split_counts():
    assert split_counts(20, 0.25) == (5, 15)
    assert split_counts(10, 0.25) == (3, 7)  # half-up, not round-half-to-even
    assert split_counts(10, 0.0) == (0, 10)
    assert split_counts(10, 1.0) == (10, 0)
    with pytest.raises(ValueError):
        split_counts(10, 1.5)


def test_fixed_point_reference_and_closed_form():
    v, d = mixed_fixed_point(20, 0.25)  # n_r = 5, n_s = 15
    assert (round(v, 4), round(d, 4)) == (0.8947, 0.1053)
    for n, f in [(20, 0.25), (10, 0.5), (7, 0.1), (50, 0.9), (10, 1.0)]:
        v, d = mixed_fixed_point(n, f)
        a = split_counts(n, f)[1] / n
        d_closed = 1.0 / (n * (1.0 - a * a) + a)
        assert d == pytest.approx(d_closed, rel=1e-12)
        assert v == pytest.approx(1.0 - d_closed, rel=1e-12)
        # the recursion converges to it
        vt, dt = mixed_moments(2000, n, f)
        assert (vt[-1], dt[-1]) == pytest.approx((v, d), rel=1e-10)
    assert mixed_fixed_point(10, 0.0) == (0.0, 1.0)  # pure loop: limit of the recursion


def test_recursion_reduces_to_pure_loop():
    t = np.arange(51)
    for n in (2, 10, 37):
        v, d = mixed_moments(50, n, 0.0)
        assert v.shape == d.shape == (51,) and v.dtype == d.dtype == np.float64
        np.testing.assert_allclose(v, expected_var(t, n), rtol=1e-13, atol=0)
        np.testing.assert_allclose(d, expected_mean_drift_sq(t, n), rtol=1e-13, atol=1e-15)


def test_recursion_invariant_and_start():
    v, d = mixed_moments(40, 20, 0.25)
    assert (v[0], d[0]) == (1.0, 0.0)
    np.testing.assert_allclose(v + d, 1.0, rtol=0, atol=1e-14)  # [derived] second moment about mu_0 is preserved
    v, d = mixed_moments(0, 20, 0.25)
    assert v.shape == d.shape == (1,)


# ---------------------------------------------------------------------------------------------------------------
# Simulators against theory
# ---------------------------------------------------------------------------------------------------------------


def test_mc_pure_loop_log_moments(pure_data):
    t = np.array([1, 5, 10, 20])
    m, se = _mean_se(pure_data["log_var"][:, t])
    assert np.all(np.abs(m - expected_log_var(t, 10)) <= Z * se), (m, expected_log_var(t, 10), se)
    s2, se2 = _var_se(pure_data["log_var"][:, t])
    assert np.all(np.abs(s2 - var_log_var(t, 10)) <= Z * se2), (s2, var_log_var(t, 10), se2)


def test_mc_pure_loop_rejects_unbiased_formula(pure_data):
    # negative control: the unbiased-refit drift psi((n-1)/2) + log(2/(n-1)) must be rejected by the MLE simulator
    from scipy.special import digamma

    m, se = _mean_se(pure_data["log_var"][:, 20])
    wrong = 20 * (digamma(4.5) + np.log(2.0 / 9.0))
    assert abs(m - wrong) > 10 * Z * se


def test_mc_pure_loop_drift_and_var(pure_data):
    t = np.arange(1, 11)  # small t only: E s^2 and E mu^2 are carried by rare paths at large t (notes 4e)
    m, se = _mean_se(pure_data["mean_drift_sq"][:, t])
    assert np.all(np.abs(m - expected_mean_drift_sq(t, 10)) <= Z * se), (m, se)
    m, se = _mean_se(pure_data["var"][:, t])
    assert np.all(np.abs(m - expected_var(t, 10)) <= Z * se), (m, se)


def test_mc_mixed_loop_at_t40():
    n, f, t_max = 20, 0.25, 40
    n_real, _ = split_counts(n, f)
    out = _run(simulate_gaussian_refit, 2, n=n, t_max=t_max, n_real=n_real)
    v, d = mixed_moments(t_max, n, f)
    for name, theory in (("var", v), ("mean_drift_sq", d)):
        m, se = _mean_se(out[name][:, [1, 2, 10, 40]])
        assert np.all(np.abs(m - theory[[1, 2, 10, 40]]) <= Z * se), (name, m, theory[[1, 2, 10, 40]], se)


def test_fast_sampler_matches_data_level_in_distribution(pure_data, pure_fast):
    for t in (5, 20):
        m1, se1 = _mean_se(pure_data["log_var"][:, t])
        m2, se2 = _mean_se(pure_fast["log_var"][:, t])
        assert abs(m1 - m2) <= Z * np.hypot(se1, se2), (t, m1, m2)
        v1, sv1 = _var_se(pure_data["log_var"][:, t])
        v2, sv2 = _var_se(pure_fast["log_var"][:, t])
        assert abs(v1 - v2) <= Z * np.hypot(sv1, sv2), (t, v1, v2)
    # the drift too (small t)
    m1, se1 = _mean_se(pure_data["mean_drift_sq"][:, 5])
    m2, se2 = _mean_se(pure_fast["mean_drift_sq"][:, 5])
    assert abs(m1 - m2) <= Z * np.hypot(se1, se2)


# ---------------------------------------------------------------------------------------------------------------
# Shapes, dtypes, tracing
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
@pytest.mark.parametrize("fast", [False, True])
def test_shapes_dtypes_generation_zero(dtype, fast):
    key = jax.random.key(3)
    if fast:
        out = simulate_gaussian_refit_fast(key, n=6, t_max=7, dtype=dtype)
    else:
        out = simulate_gaussian_refit(key, n=6, t_max=7, n_real=2, dtype=dtype)
    assert set(out) == {"log_var", "var", "mean_drift_sq"}
    for v in out.values():
        assert v.shape == (8,) and v.dtype == dtype
        assert np.all(np.isfinite(np.asarray(v)))
    assert (float(out["log_var"][0]), float(out["var"][0]), float(out["mean_drift_sq"][0])) == (0.0, 1.0, 0.0)
    np.testing.assert_allclose(np.exp(np.asarray(out["log_var"], np.float64)), np.asarray(out["var"]), rtol=1e-5)


def test_t_max_zero_and_bad_static_args():
    for out in (simulate_gaussian_refit(jax.random.key(0), n=4, t_max=0, n_real=0),
                simulate_gaussian_refit_fast(jax.random.key(0), n=4, t_max=0)):
        assert all(v.shape == (1,) for v in out.values())
    with pytest.raises(ValueError):
        simulate_gaussian_refit(jax.random.key(0), n=1, t_max=3, n_real=0)
    with pytest.raises(ValueError):
        simulate_gaussian_refit_fast(jax.random.key(0), n=5, t_max=-1)


def test_n_real_is_traced_and_vmappable():
    traces = []

    @jax.jit
    def run(key, n_real):
        traces.append(None)
        return simulate_gaussian_refit(key, n=8, t_max=5, n_real=n_real)

    a = run(jax.random.key(0), jnp.asarray(0))
    b = run(jax.random.key(0), jnp.asarray(3))
    assert len(traces) == 1  # a new n_real does not retrace / recompile
    assert not np.allclose(np.asarray(a["log_var"]), np.asarray(b["log_var"]))
    # vmap over n_real alongside keys
    keys = jax.random.split(jax.random.key(2), 3)
    out = jax.vmap(lambda k, r: simulate_gaussian_refit(k, n=8, t_max=5, n_real=r))(keys, jnp.array([0, 4, 8]))
    assert out["var"].shape == (3, 6)


def test_simulator_is_deterministic_and_collapse_is_robust():
    k = jax.random.key(5)
    a = simulate_gaussian_refit(k, n=5, t_max=10, n_real=1)
    b = simulate_gaussian_refit(k, n=5, t_max=10, n_real=1)
    np.testing.assert_array_equal(np.asarray(a["log_var"]), np.asarray(b["log_var"]))
    # deep collapse: log_var stays finite (tracked in log space) even after s^2 underflows in float32
    for out in (simulate_gaussian_refit(k, n=3, t_max=2000, n_real=0, dtype=jnp.float32),
                simulate_gaussian_refit_fast(k, n=3, t_max=2000, dtype=jnp.float32)):
        lv = np.asarray(out["log_var"])
        assert np.all(np.isfinite(lv)) and lv[-1] < -200
