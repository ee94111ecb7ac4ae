"""Tests for theory_lab.kernels.empirical: the structured (vjp) NTK against the generic jvp/vjp contraction, exact
finite-width expectations at depth 1 by Monte Carlo, Haar and structured weights, and the fast NNGP sampler against
the explicit-matrix one in distribution."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.kernels import analytic as A
from theory_lab.kernels import empirical as E

Z = 4.0  # agreement threshold in standard errors (fixed seeds: deterministic)


def _mean_se(x):
    x = np.asarray(x, np.float64)
    return x.mean(0), x.std(0, ddof=1) / math.sqrt(x.shape[0])


@pytest.mark.parametrize("par,n_out", [("ntk", 1), ("standard", 3)])
def test_structured_ntk_equals_jvp_vjp_contraction(par, n_out):
    x = np.random.default_rng(0).standard_normal((4, 5))
    act = A.activation("erf")
    key = jax.random.key(1)
    got = E.simulate_kernels(key, x, width=16, depth=2, activation=act, sigma_w2=1.7, sigma_b2=0.3,
                             parametrization=par, n_out=n_out)
    params = E.init_mlp(key, d=5, width=16, depth=2, n_out=n_out)
    if par == "standard":
        params = E._sp_params(params, 1.7, 0.3)
    def f(p, xx):
        return E.mlp_forward(p, xx, act=act, sigma_w2=1.7, sigma_b2=0.3, parametrization=par)[0]
    ref = E.ntk_jvp_vjp(f, params, jnp.asarray(x), jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(got["ntk"]), np.asarray(ref), rtol=1e-11, atol=1e-12)
    assert got["ntk"].shape == got["nngp"].shape == got["out_prod"].shape == (4, 4)


@pytest.mark.parametrize("act,sw,sb", [("relu", 2.0, 0.1), ("erf", 1.5, 0.05)])
def test_depth_one_expectations_are_exact(act, sw, sb):
    # at L = 1 both E[NNGP_n] and E[NTK_n] equal the analytic kernels at any width
    x = np.random.default_rng(1).standard_normal((3, 4))
    keys = jax.random.split(jax.random.key(2), 2000)
    out = jax.jit(jax.vmap(lambda k: E.simulate_kernels(k, x, width=32, depth=1, activation=act, sigma_w2=sw,
                                                          sigma_b2=sb)))(keys)
    k, t = A.nngp_ntk(x, depth=1, activation=act, sigma_w2=sw, sigma_b2=sb, dtype=jnp.float64)
    for name, th in (("nngp", k), ("ntk", t)):
        m, se = _mean_se(out[name])
        assert np.all(np.abs(m - np.asarray(th)) <= Z * se), (name, m, np.asarray(th), se)


def test_haar_orthogonal():
    q = np.asarray(E.haar_apply(jax.random.key(3), jnp.eye(40)))
    np.testing.assert_allclose(q @ q.T, np.eye(40), atol=1e-13)
    qs = np.asarray(jax.vmap(lambda k: E.haar_apply(k, jnp.eye(5)))(jax.random.split(jax.random.key(4), 10000)))
    # Haar moments: E Q_ij^2 = 1/n, E Q_ij^4 = 3/(n(n+2)); det = +-1 with probability 1/2 each
    for (i, j) in ((0, 0), (4, 4), (1, 3)):
        m, se = _mean_se(qs[:, i, j] ** 4)
        assert abs(m - 3 / 35) <= Z * se
        m, se = _mean_se(qs[:, i, j] ** 2)
        assert abs(m - 0.2) <= Z * se
    det = np.linalg.det(qs)
    m, se = _mean_se(det)
    assert abs(m) <= Z * se


def test_structured_weight_kinds():
    n = 32
    for kind in E.WEIGHT_KINDS:
        ws = np.asarray(jax.vmap(lambda k: E.hidden_weight(k, n, kind))(jax.random.split(jax.random.key(5), 40)))
        m, se = _mean_se((ws**2).mean(axis=(1, 2)))
        assert abs(m - 1.0) <= Z * se + 1e-12, kind  # E W_ij^2 = 1
    w = np.asarray(E.hidden_weight(jax.random.key(6), n, "lowrank", rank_fraction=0.25))
    assert np.linalg.matrix_rank(w) == 8
    w = np.asarray(E.hidden_weight(jax.random.key(7), n, "sparse", density=0.25))
    assert np.mean(w != 0) == pytest.approx(0.25)
    assert np.all(np.sum(w != 0, axis=0) == 8)  # every column has one block of n/4 entries
    with pytest.raises(ValueError):
        E.hidden_weight(jax.random.key(0), 30, "sparse", density=0.25)


@pytest.mark.parametrize("kind", ["orthogonal", "lowrank"])  # (sparse and iid use the explicit matrix in both)
def test_fast_nngp_sampler_matches_explicit_matrices(kind):
    x = np.random.default_rng(8).standard_normal((3, 3))
    keys = jax.random.split(jax.random.key(9), 1000)
    kw = dict(width=16, depth=2, activation="tanh", sigma_w2=1.5, sigma_b2=0.05, weights=kind)
    fast = jax.jit(jax.vmap(lambda k: E.simulate_nngp(k, x, **kw)))(keys)
    slow = jax.jit(jax.vmap(lambda k: E.simulate_kernels(k, x, with_ntk=False, **kw)["nngp"]))(keys)
    for stat in (lambda a: a, lambda a: a**2):
        m1, s1 = _mean_se(stat(np.asarray(fast)))
        m2, s2 = _mean_se(stat(np.asarray(slow)))
        assert np.all(np.abs(m1 - m2) <= Z * np.hypot(s1, s2)), (kind, m1, m2)


def test_float32_and_traced_sigmas():
    x = np.random.default_rng(9).standard_normal((2, 3))
    traces = []

    @jax.jit
    def run(key, sw):
        traces.append(None)
        return E.simulate_kernels(key, x, width=8, depth=2, sigma_w2=sw, sigma_b2=0.1, dtype=jnp.float32)

    a = run(jax.random.key(0), jnp.float32(2.0))
    b = run(jax.random.key(0), jnp.float32(1.0))
    assert len(traces) == 1 and a["ntk"].dtype == jnp.float32
    assert not np.allclose(np.asarray(a["ntk"]), np.asarray(b["ntk"]))
