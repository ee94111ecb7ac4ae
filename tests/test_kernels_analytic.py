"""Tests for theory_lab.kernels.analytic: the notes' reference numbers (kernels_depth_lora.md sections 1(d), 7.3(d)),
closed forms against quadrature and Monte Carlo, blocking to a memory budget, float32 accuracy and tracing."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.kernels import analytic as A

# Inputs with |x|^2/d = 1 and cos(x, x') = 0.5, d = 3 (notes section 1(d)).
X = np.array([[math.sqrt(3.0), 0.0, 0.0], [math.sqrt(3.0) * 0.5, 1.5, 0.0]])


@pytest.mark.parametrize("act,depth,sw,sb,ref", [
    ("relu", 1, 2.0, 0.0, (2.0, 1.21800, 4.0, 1.88466)),
    ("relu", 2, 2.0, 0.0, (2.0, 1.36781, 6.0, 2.70296)),
    ("relu", 3, 2.0, 0.1, (2.4, 1.86018, 9.0, 4.28881)),
    ("relu", 2, 1.0, 0.0, (0.25, 0.17098, 0.75, 0.33787)),
    ("erf", 1, 1.0, 0.0, (0.46456, 0.21635, 1.03397, 0.44143)),
    ("erf", 3, 1.5, 0.05, (0.64744, 0.33704, 3.07558, 1.14343)),
])
def test_reference_numbers_from_notes(act, depth, sw, sb, ref):
    k, t = A.nngp_ntk(X, depth=depth, activation=act, sigma_w2=sw, sigma_b2=sb, dtype=jnp.float64)
    got = np.asarray([k[0, 0], k[0, 1], t[0, 0], t[0, 1]])
    np.testing.assert_allclose(got, ref, atol=6e-6, rtol=0)
    assert k.dtype == jnp.float64 and k.shape == (2, 2)
    np.testing.assert_allclose(np.asarray(k), np.asarray(k).T, rtol=1e-14)


def test_tanh_quadrature_reference_section_7_3():
    # "4-layer tanh MLP" of the notes = 3 hidden layers + readout: K11 = 0.4921, K12 = 0.2790
    k, _ = A.nngp_ntk(X, depth=3, activation="tanh", sigma_w2=1.5, sigma_b2=0.05, dtype=jnp.float64)
    assert (round(float(k[0, 0]), 4), round(float(k[0, 1]), 4)) == (0.4921, 0.2790)


def test_relu_ntk_diagonal_closed_form():
    x = np.random.default_rng(0).standard_normal((5, 7))
    q = np.sum(x * x, 1) / 7
    for depth in (1, 4, 9):
        k, t = A.nngp_ntk(x, depth=depth, sigma_w2=2.0, sigma_b2=0.0, dtype=jnp.float64, diag=True)
        np.testing.assert_allclose(np.asarray(t), (depth + 1) * 2.0 * q, rtol=1e-7)  # arccos near c = 1
        np.testing.assert_allclose(np.asarray(k), 2.0 * q, rtol=1e-12)


def test_quadrature_matches_closed_forms():
    erf_num = A.activation(jax.scipy.special.erf, deg=64)
    x = np.random.default_rng(1).standard_normal((4, 3)) * 0.7
    k1, t1 = A.nngp_ntk(x, depth=2, activation="erf", sigma_w2=1.2, sigma_b2=0.1, dtype=jnp.float64)
    k2, t2 = A.nngp_ntk(x, depth=2, activation=erf_num, sigma_w2=1.2, sigma_b2=0.1, dtype=jnp.float64)
    np.testing.assert_allclose(np.asarray(k2), np.asarray(k1), rtol=1e-7)
    np.testing.assert_allclose(np.asarray(t2), np.asarray(t1), rtol=1e-6)
    # ReLU is not smooth: quadrature converges slowly (why neural-tangents warns), within 2% at 64 nodes
    relu_num = A.activation(lambda z: jnp.maximum(z, 0.0), deg=64)
    k1, t1 = A.nngp_ntk(x, depth=2, activation="relu", sigma_w2=2.0, sigma_b2=0.1, dtype=jnp.float64)
    k2, t2 = A.nngp_ntk(x, depth=2, activation=relu_num, sigma_w2=2.0, sigma_b2=0.1, dtype=jnp.float64)
    np.testing.assert_allclose(np.asarray(k2), np.asarray(k1), rtol=2e-2)


@pytest.mark.parametrize("name,kw", [("leaky_relu", {"alpha": 0.2}), ("abrelu", {"a": -0.5, "b": 1.5}),
                                     ("erf", {}), ("relu", {})])
def test_kernel_map_against_monte_carlo(name, kw):
    act = A.activation(name, **kw)
    q1, q2, s12 = 1.3, 0.7, -0.4
    cov = np.array([[q1, s12], [s12, q2]])
    z = np.random.default_rng(2).multivariate_normal([0, 0], cov, size=400_000)
    u, v = jnp.asarray(z[:, 0]), jnp.asarray(z[:, 1])
    phi = np.asarray(act.fn(u)) * np.asarray(act.fn(v))
    dfn = jax.vmap(jax.grad(act.fn))
    dphi = np.asarray(dfn(u)) * np.asarray(dfn(v))
    k, kd = A.kernel_map(act, jnp.float64(q1), jnp.float64(q2), jnp.float64(s12))
    for sim, th in ((phi, k), (dphi, kd)):
        se = sim.std() / math.sqrt(sim.size)
        assert abs(sim.mean() - float(th)) <= 4 * se + 1e-12, (name, sim.mean(), float(th), se)


def test_standard_parametrization():
    x = np.random.default_rng(3).standard_normal((3, 4))
    k_ntk, _ = A.nngp_ntk(x, depth=2, activation="erf", sigma_w2=1.5, sigma_b2=0.2, dtype=jnp.float64)
    k_sp, t_sp = A.nngp_ntk(x, depth=2, activation="erf", sigma_w2=1.5, sigma_b2=0.2, parametrization="standard",
                            width=100, dtype=jnp.float64)
    np.testing.assert_allclose(np.asarray(k_sp), np.asarray(k_ntk), rtol=1e-14)  # same forward distribution
    # depth 0 (readout only): Theta = d K0 + 1 = x.x' + 1
    _, t0 = A.nngp_ntk(x, depth=0, parametrization="standard", width=100, dtype=jnp.float64)
    np.testing.assert_allclose(np.asarray(t0), x @ x.T + 1.0, rtol=1e-13)
    # the SP NTK grows linearly with the width (fan-in factor)
    _, t_sp2 = A.nngp_ntk(x, depth=2, activation="erf", sigma_w2=1.5, sigma_b2=0.2, parametrization="standard",
                          width=200, dtype=jnp.float64)
    assert np.all(np.diag(np.asarray(t_sp2)) > 1.5 * np.diag(np.asarray(t_sp)))
    with pytest.raises(ValueError):
        A.nngp_ntk(x, depth=2, parametrization="standard")


@pytest.mark.parametrize("symmetric", [True, False])
def test_blocked_equals_direct(symmetric):
    rng = np.random.default_rng(4)
    for act, n1, n2 in (("relu", 103, 41), ("tanh", 37, 19)):
        x1 = rng.standard_normal((n1, 6))
        x2 = None if symmetric else rng.standard_normal((n2, 6))
        k0, t0 = A.nngp_ntk(x1, x2, depth=3, activation=act, sigma_w2=1.8, sigma_b2=0.05, dtype=jnp.float64)
        # a tiny budget forces blocks of 16 (the minimum): 7 x 7 (or 7 x 3) blocks, padded edges
        k, t = A.nngp_ntk_blocked(x1, x2, depth=3, activation=act, sigma_w2=1.8, sigma_b2=0.05, dtype=jnp.float64,
                                  memory_budget=300_000)
        assert isinstance(k, np.ndarray) and k.shape == k0.shape
        # closed forms: equal to rounding; arccos is ill-conditioned at c -> 1 (near-diagonal entries), where one ulp
        # of c (1e-16) moves theta by sqrt(1e-16) = 1e-8, and the blocked and direct programs round c differently.
        # Quadrature: a mirrored block is K(x', x), equal up to the quadrature error.
        tol = dict(rtol=1e-8, atol=1e-14) if act == "relu" else dict(rtol=0, atol=2e-3)
        np.testing.assert_allclose(k, np.asarray(k0), **tol)
        np.testing.assert_allclose(t, np.asarray(t0), **tol)


def test_block_size_for_budget_fits_20k_on_24gib():
    # 20,000 x 20,000 float32 on a 24 GiB machine: outputs 3.2 GB in host memory, blocks within a 2 GiB budget
    b = A.block_size_for_budget(20_000, 20_000, 4, 2 << 30)
    assert A.LIVE_BLOCKS * b * b * 4 <= 2 << 30 and b >= 4000
    assert 2 * 20_000**2 * 4 + (2 << 30) < 24 * 2**30
    # small budgets give small blocks, never below 16
    assert A.block_size_for_budget(1000, 1000, 8, 10_000) == 16
    assert A.block_size_for_budget(50, 30, 8, 1 << 30) == 50


def test_float32_fast_path_accuracy_depth10():
    x = np.random.default_rng(5).standard_normal((60, 50))
    k64, t64 = (np.asarray(a) for a in A.nngp_ntk(x, depth=10, sigma_w2=2.0, sigma_b2=0.01, dtype=jnp.float64))
    k32, t32 = (np.asarray(a) for a in A.nngp_ntk(x, depth=10, sigma_w2=2.0, sigma_b2=0.01, dtype=jnp.float32))
    assert k32.dtype == np.float32
    assert np.max(np.abs(k32 - k64) / np.abs(k64)) < 1e-5
    assert np.max(np.abs(t32 - t64) / np.abs(t64)) < 3e-3  # NTK near c = 1 (neural-tangents: 1.2e-3..1.6e-3)


def test_sigmas_are_traced():
    x = np.random.default_rng(6).standard_normal((4, 3))
    A.nngp_ntk(x, depth=2, sigma_w2=2.0, sigma_b2=0.1, dtype=jnp.float64)
    n = A._recursion._cache_size()
    k, _ = A.nngp_ntk(x, depth=2, sigma_w2=1.7, sigma_b2=0.3, dtype=jnp.float64)
    assert A._recursion._cache_size() == n
    assert np.all(np.isfinite(np.asarray(k)))


def test_bad_inputs():
    with pytest.raises(ValueError):
        A.nngp_ntk(np.ones((2, 3)), np.ones((2, 4)), depth=1)
    with pytest.raises(ValueError):
        A.activation("swishy")
    with pytest.raises(ValueError):
        A.nngp_ntk(np.ones((2, 3)), depth=-1)
