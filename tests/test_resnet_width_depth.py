"""Tests for theory_lab.kernels.resnet: reference numbers from the notes (section 2(d)), the exact Euler scheme, and
Monte-Carlo agreement of the exact-in-law sampler with exact one-layer moments and with the data-level simulator."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.kernels import resnet as rn

Z = 4.0  # agreement threshold in standard errors (fixed before looking; seeds fixed, tests deterministic)


def _mc(sim, seed, r, **kw):
    keys = jax.random.split(jax.random.key(seed), r)
    out = jax.jit(jax.vmap(lambda k: sim(k, **kw)))(keys)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def _ms(x):
    return x.mean(), x.std(ddof=1) / np.sqrt(len(x))


def test_reference_numbers_from_notes():
    q = rn.ode_covariance(1.0, 1.0, 0.5, 1.0)
    assert (round(float(q["qaa"]), 6), round(float(q["qbb"]), 6), round(float(q["qab"]), 6)) == (1.648721, 1.648721,
                                                                                                  0.907254)
    assert round(float(rn.ode_correlation(0.5)[0]), 6) == 0.550277
    assert round(float(rn.ode_correlation(0.0)[0]), 6) == 0.141348
    assert round(float(rn.ode_correlation(0.9)[0]), 6) == 0.904603
    # notes 1(d): ReLU NNGP, sigma_w^2 = 2, one hidden layer, cos = 0.5: Sigma^1 = 2 x (1, 1, 0.5), then the readout
    # K12 = 2 E[relu relu](Sigma^1) = 1.21800
    assert round(2 * float(rn.relu_kernel(2.0, 2.0, 1.0)), 5) == 1.21800
    assert float(rn.relu_kernel(2.0, 2.0, 2.0)) == pytest.approx(1.0, rel=1e-12)  # c = 1: E[relu(z)^2] = q/2


def test_numpy_relu_kernel_is_the_jax_kernel_map():
    # Two implementations of one formula (NumPy for the ODE theory, JAX for the kernel recursions): they must agree.
    from theory_lab.kernels.analytic import activation, kernel_map

    rng = np.random.default_rng(0)
    qaa, qbb = rng.uniform(0.1, 3.0, 50), rng.uniform(0.1, 3.0, 50)
    qab = rng.uniform(-1.0, 1.0, 50) * np.sqrt(qaa * qbb)
    got = np.asarray(kernel_map(activation("relu"), qaa, qbb, qab)[0])
    np.testing.assert_allclose(rn.relu_kernel(qaa, qbb, qab), got, rtol=1e-13, atol=1e-15)


def test_diagonal_closed_form_and_correlation_fixed_point():
    t = np.array([0.0, 0.3, 1.0, 2.0])
    q = rn.ode_covariance(2.0, 0.5, 0.3, t)
    np.testing.assert_allclose(q["qaa"], 2.0 * np.exp(t / 2), rtol=1e-14)
    np.testing.assert_allclose(q["qbb"], 0.5 * np.exp(t / 2), rtol=1e-14)
    assert q["qab"][0] == pytest.approx(0.3)
    assert rn.ode_correlation(1.0, 1.0)[0] == pytest.approx(1.0)  # c = 1 is a fixed point
    c = rn.ode_correlation(-0.5, np.linspace(0, 3, 7))
    assert np.all(np.diff(c) > 0)  # the rate is positive for c < 1
    with pytest.raises(ValueError):
        rn.ode_correlation(1.5)


def test_euler_scheme_converges_at_rate_one_over_L():
    q1 = float(rn.ode_covariance(1.0, 1.0, 0.5)["qab"])
    gaps = {L: rn.euler_covariance(1.0, 1.0, 0.5, L)["qab"] - q1 for L in (16, 64, 256)}
    for L, g in gaps.items():
        assert -0.15 < g * L < -0.14  # notes 2(d): about -0.145/L
    # diagonal: (1 + 1/(2L))^L -> e^{1/2}
    assert rn.euler_covariance(1.0, 1.0, 0.5, 64)["qaa"] == pytest.approx((1 + 1 / 128) ** 64, rel=1e-13)


def test_one_layer_moments_are_exact_at_any_width():
    # Depth 1: Y_0 rows are exactly N(0, q_0) and the branch is independent given Y_0, so
    # E q_aa = q_aa0 (1 + 1/2) and E q_ab = q_ab0 + relu_kernel(q_0) for every n.
    out = _mc(rn.simulate_resnet_covariance, 0, 10_000, width=8, max_depth=1, depth=1.0, qaa0=1.0, qbb0=2.0,
              qab0=0.6)
    m, se = _ms(out["qaa"])
    assert abs(m - 1.5) <= Z * se
    m, se = _ms(out["qbb"])
    assert abs(m - 3.0) <= Z * se
    m, se = _ms(out["qab"])
    assert abs(m - (0.6 + float(rn.relu_kernel(1.0, 2.0, 0.6)))) <= Z * se


def test_sampler_matches_data_level_simulator_in_distribution():
    kw = dict(width=16, qaa0=1.0, qbb0=1.0, qab0=0.5)
    fast = _mc(rn.simulate_resnet_covariance, 1, 4000, max_depth=8, depth=8.0, **kw)
    naive = _mc(rn.simulate_resnet_naive, 2, 4000, depth=8, dim=3, **kw)
    for stat in ("qaa", "qab"):
        m1, s1 = _ms(fast[stat])
        m2, s2 = _ms(naive[stat])
        assert abs(m1 - m2) <= Z * np.hypot(s1, s2), (stat, m1, m2)
        v1, v2 = fast[stat].var(ddof=1), naive[stat].var(ddof=1)
        assert abs(np.log(v1 / v2)) <= Z * np.sqrt(4 / 4000) * 1.5, (stat, v1, v2)  # ~ SE of a log-variance ratio


def test_masked_depth_is_traced_and_wide_net_is_near_the_limit():
    traces = []

    @jax.jit
    def run(key, depth):
        traces.append(None)
        return rn.simulate_resnet_covariance(key, width=512, max_depth=32, depth=depth, qaa0=1.0, qbb0=1.0, qab0=0.5)

    a = run(jax.random.key(0), jnp.asarray(4.0))
    b = run(jax.random.key(0), jnp.asarray(32.0))
    assert len(traces) == 1
    assert float(a["qab"]) != float(b["qab"])
    out = jax.vmap(lambda k: rn.simulate_resnet_covariance(k, width=512, max_depth=32, depth=32.0, qaa0=1.0,
                                                           qbb0=1.0, qab0=0.5))(
        jax.random.split(jax.random.key(3), 400))
    m, se = _ms(np.asarray(out["qab"]))
    euler = rn.euler_covariance(1.0, 1.0, 0.5, 32)["qab"]
    assert abs(m - euler) <= Z * se + 2 * 1.65 / 512  # the check's declared width allowance
    # the negative control's misprinted ODE is far outside
    wrong = float(rn.ode_covariance(1.0, 1.0, 0.5, rate_scale=2.0)["qab"])
    assert abs(m - wrong) > 2 * (Z * se + 2 * 1.65 / 512)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_dtype_and_shapes(dtype):
    out = rn.simulate_resnet_covariance(jax.random.key(0), width=4, max_depth=3, depth=2.0, qaa0=1.0, qbb0=1.0,
                                        qab0=0.0, dtype=dtype)
    assert set(out) == {"qaa", "qbb", "qab"}
    for v in out.values():
        assert v.shape == () and v.dtype == dtype and np.isfinite(float(v))
    with pytest.raises(ValueError):
        rn.simulate_resnet_covariance(jax.random.key(0), width=0, max_depth=3, depth=2.0, qaa0=1.0, qbb0=1.0, qab0=0.0)
