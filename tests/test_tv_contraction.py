"""Tests for theory_lab.loops.tv_mixing (Fu et al. 2024, arXiv:2402.11778; notes section 3.1): the exact contraction
identity, the accumulation bounds, the declared per-generation error, and the simulators (pathwise bound, protocols
of the real-reuse experiment, traced real fraction)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.loops import categorical as cat
from theory_lab.loops import tv_mixing as tvm

Z = 4.0


def _mean_se(x):
    x = np.asarray(x, dtype=np.float64)
    return x.mean(0), x.std(0, ddof=1) / np.sqrt(x.shape[0])


def test_contraction_identity_is_exact():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.full(7, 0.3))
        lam = rng.uniform()
        assert tvm.tv_distance(lam * p + (1 - lam) * q, p) == pytest.approx(
            float(tvm.mixture_tv(lam, tvm.tv_distance(q, p))), rel=1e-12, abs=1e-15)
    assert tvm.tv_distance([1, 0], [0, 1]) == 1.0


def test_accumulated_and_constant_bounds():
    eps = np.array([0.3, 0.1, 0.2, 0.05])
    lam = 0.25
    b = tvm.accumulated_bound(eps, lam)
    explicit = [sum((1 - lam) ** (i - j) * eps[j] for j in range(i + 1)) for i in range(4)]
    np.testing.assert_allclose(b, explicit, rtol=1e-14)
    np.testing.assert_allclose(tvm.accumulated_bound(eps, lam, shift=1), (1 - lam) * b, rtol=1e-14)
    i = np.arange(1, 30)
    c = tvm.constant_eps_bound(i, lam, 0.2)
    np.testing.assert_allclose(c, tvm.accumulated_bound(np.full(29, 0.2), lam), rtol=1e-12)
    assert np.all(c < 0.2 / lam) and np.all(np.diff(c) > 0)
    np.testing.assert_allclose(tvm.constant_eps_bound(i, 0.0, 0.2), 0.2 * i)  # fully synthetic: linear
    assert tvm.eps_bar(20, 50) == pytest.approx(0.5 * np.sqrt(19 / 50))


def test_eps_bar_bounds_the_expected_learning_error():
    n, reps = 50, 4000
    for q in (cat.initial_distribution("uniform", 20), cat.initial_distribution("zipf", 20, 1.0),
              cat.initial_distribution("dirichlet", 20, dirichlet_a=0.3)):
        c = jax.jit(jax.vmap(lambda k: cat.counts_from_probs(k, jnp.asarray(q), n)))(
            jax.random.split(jax.random.key(0), reps))
        tv = tvm.tv_distance(np.asarray(c) / n, q)
        m, se = _mean_se(tv)
        jensen = 0.5 * np.sum(np.sqrt(q * (1 - q) / n))
        assert m + Z * se <= jensen <= tvm.eps_bar(20, n) + 1e-15


@pytest.fixture(scope="module")
def mixing():
    p0 = cat.initial_distribution("zipf", 12, 1.0)
    keys = jax.random.split(jax.random.key(3), 3000)
    run = jax.jit(jax.vmap(lambda k, lam: tvm.simulate_mixing_loop(k, p0, lam, n=30, gens=8), in_axes=(0, None)))
    return p0, {lam: {k: np.asarray(v) for k, v in run(keys, jnp.asarray(lam)).items()} for lam in (0.0, 0.5)}


def test_mixing_loop_pathwise_bound_and_generation_one(mixing):
    _, runs = mixing
    for lam, out in runs.items():
        assert out["tv"].shape == out["eps"].shape == out["bound"].shape == (3000, 8)
        assert np.all(out["tv"] <= out["bound"] + 1e-12)  # the bound holds on every path
        np.testing.assert_allclose(out["tv"][:, 0], out["eps"][:, 0], atol=1e-12)  # q_1 = p_0
        np.testing.assert_allclose(out["bound_shift"], (1 - lam) * out["bound"], rtol=1e-12)
        np.testing.assert_allclose(out["bound"], tvm.accumulated_bound(out["eps"], lam), rtol=1e-10, atol=1e-14)


def test_mixing_loop_declared_bound_and_real_data_helps(mixing):
    _, runs = mixing
    eb = tvm.eps_bar(12, 30)
    for lam, out in runs.items():
        m, se = _mean_se(out["tv"])
        assert np.all(m + Z * se <= tvm.constant_eps_bound(np.arange(1, 9), lam, eb))
    # fresh real data keeps TV bounded; without it TV keeps growing
    m0, m5 = runs[0.0]["tv"].mean(0), runs[0.5]["tv"].mean(0)
    assert m0[-1] > m0[3] > m0[0] and m5[-1] < m0[-1]
    assert abs(m5[-1] - m5[-3]) < 0.02


def test_mixing_loop_lam_is_traced():
    traces = []
    p0 = jnp.asarray(cat.initial_distribution("uniform", 5))

    @jax.jit
    def run(key, lam):
        traces.append(None)
        return tvm.simulate_mixing_loop(key, p0, lam, n=10, gens=3)["tv"]

    a, b = run(jax.random.key(0), jnp.asarray(0.1)), run(jax.random.key(0), jnp.asarray(0.9))
    assert len(traces) == 1 and not np.allclose(np.asarray(a), np.asarray(b))


def test_real_reuse_protocols():
    p0 = cat.initial_distribution("zipf", 10, 1.0)
    # one generation: only real data, so both protocols and every amount give the same TV
    out = tvm.simulate_real_reuse(jax.random.key(0), p0, n_real=20, m_syn=(0, 5, 300), gens=1)
    vals = np.concatenate([np.asarray(out["tv_fixed"]), np.asarray(out["tv_fresh"])])
    np.testing.assert_allclose(vals, vals[0], rtol=0, atol=0)
    # several generations, reused set, m = 0: the model is the first real sample throughout
    run = jax.jit(jax.vmap(lambda k: tvm.simulate_real_reuse(k, p0, n_real=20, m_syn=(0, 40, 400), gens=6,
                                                             dtype=jnp.float32)))
    res = run(jax.random.split(jax.random.key(1), 1500))
    fixed, fresh = np.asarray(res["tv_fixed"]), np.asarray(res["tv_fresh"])
    assert fixed.dtype == np.float32 and fixed.shape == fresh.shape == (1500, 3)
    # m = 0: same law for both protocols (the empirical law of n_real real tokens)
    m1, s1 = _mean_se(fixed[:, 0])
    m2, s2 = _mean_se(fresh[:, 0])
    assert abs(m1 - m2) <= Z * np.hypot(s1, s2)
    # adding synthetic tokens to a reused real set raises TV at first; with fresh real data it lowers it
    d_fixed, sd_fixed = _mean_se(fixed[:, 1] - fixed[:, 0])
    d_fresh, sd_fresh = _mean_se(fresh[:, 1] - fresh[:, 0])
    assert d_fixed > Z * sd_fixed and d_fresh < -Z * sd_fresh
