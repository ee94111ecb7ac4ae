"""Tests for theory_lab.kernels.hrp: the notes' numbers (section 5d), the exact random-init and oracle residuals, the
statistic-level simulator against the algorithm run on data (QR, SVD of the preheated update), and Monte-Carlo
agreement of the random-init residual with (1 - r/n)||M||^2."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.kernels import hrp as H

Z = 4.0  # agreement threshold in standard errors (fixed before looking)


def test_reference_numbers():
    s = H.spectrum(64, 1.0)
    assert float(np.sum(s * s)) == pytest.approx(1.62943, abs=1e-5)
    assert H.random_init_residual(s, 4, 64) == pytest.approx(1.52759, abs=1e-5)  # notes: 1.5276
    assert H.oracle_residual(s, 4) == pytest.approx(0.20582, abs=1e-5)  # notes: 0.2058
    assert H.random_init_residual(s, 64, 64) == 0.0


def test_reference_algorithm_endpoints():
    rng = np.random.default_rng(0)
    s = H.spectrum(16, 1.0)
    u, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    v, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    m = u @ np.diag(s) @ v.T
    # p = n: the preheat recovers M exactly and HRP reaches the Eckart-Young optimum
    assert H.hrp_residual(m, rng.standard_normal((16, 16)), 3) == pytest.approx(H.oracle_residual(s, 3), rel=1e-10)
    # p = r: the SVD directions span col(A_p), so the residual is ||M(I - P_A)||^2
    a = rng.standard_normal((16, 3))
    q, _ = np.linalg.qr(a)
    direct = float(np.sum((m - m @ q @ q.T) ** 2))
    assert H.hrp_residual(m, a, 3) == pytest.approx(direct, rel=1e-10)


def test_simulator_matches_algorithm_on_data():
    """Same key -> the statistic-level simulator (diagonal M, eigvalsh of the p x p Gram) equals the algorithm run on
    a rotated M = U diag(sigma) V^T with A_p rotated by V (rotation invariance), trial by trial."""
    m_dim = n = 24
    r, ps = 3, (3, 6, 12, 24)
    key = jax.random.key(5)
    out = H.simulate_hrp(key, m=m_dim, n=n, r=r, ps=ps, decay=0.7)
    _, k2 = jax.random.split(key)
    a_p = np.asarray(jax.random.normal(k2, (n, max(ps)), dtype=jnp.float64))
    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.standard_normal((m_dim, m_dim)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s = H.spectrum(n, 0.7)
    m = u @ np.diag(s) @ v.T
    for k, p in enumerate(ps):
        assert float(out["hrp"][k]) == pytest.approx(H.hrp_residual(m, v @ a_p[:, :p], r), rel=1e-9)
    assert float(out["oracle"]) == pytest.approx(H.oracle_residual(s, r), rel=1e-12)


def test_random_init_monte_carlo_and_monotone_hrp():
    reps = 3000
    keys = jax.random.split(jax.random.key(0), reps)
    out = jax.vmap(lambda k: H.simulate_hrp(k, m=32, n=32, r=2, ps=(2, 8, 32), decay=1.0))(keys)
    rnd = np.asarray(out["random"])
    s = H.spectrum(32, 1.0)
    assert abs(rnd.mean() - H.random_init_residual(s, 2, 32)) <= Z * rnd.std(ddof=1) / np.sqrt(reps)
    hrp = np.asarray(out["hrp"])
    assert abs(hrp[:, 0].mean() - H.random_init_residual(s, 2, 32)) <= Z * hrp[:, 0].std(ddof=1) / np.sqrt(reps)
    assert np.all(np.diff(hrp, axis=1) <= 1e-12)  # nested preheat subspaces: residual never increases with p
    np.testing.assert_allclose(hrp[:, -1], H.oracle_residual(s, 2), rtol=1e-10)
