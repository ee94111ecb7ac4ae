"""Checks of theory_lab.rmt.ridge: HMRT ridgeless / ridge risk reference numbers (notes section 4c), the exact
finite-sample ridgeless risk, and the JAX simulator (Monte Carlo agreement, estimator correctness, one compile)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.rmt import (
    mp_stieltjes,
    mp_stieltjes_derivative,
    ridge_risk,
    ridgeless_risk,
    ridgeless_risk_finite,
    simulate_ridge_risk,
)

R2, S2 = 1.0, 0.25


# ------------------------------------------------------------------------------------------------ theory


@pytest.mark.parametrize("gamma,expected", [(0.5, 0.25), (0.9, 2.25), (1.5, 0.8333), (3.0, 0.7917)])
def test_ridgeless_reference_numbers(gamma, expected):
    assert float(ridgeless_risk(gamma, R2, S2)) == pytest.approx(expected, abs=1e-4)


def test_ridgeless_vectorised_and_peak():
    g = np.array([0.5, 1.0, 3.0])
    out = ridgeless_risk(g, R2, S2)
    assert out.shape == (3,) and np.isinf(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.25, 2 / 3 + 0.125])


@pytest.mark.parametrize("gamma,lam,expected", [(0.5, 0.1, 0.1768), (1.5, 0.1, 0.6056), (1.5, 0.375, 0.5434)])
def test_ridge_reference_numbers(gamma, lam, expected):
    assert float(ridge_risk(gamma, lam, R2, S2)) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("gamma", [0.3, 0.5, 1.5, 3.0])
def test_ridge_lam_zero_limit_and_optimum(gamma):
    # lam = 0 delegates to the ridgeless formula, and lam -> 0+ is continuous with it
    assert float(ridge_risk(gamma, 0.0, R2, S2)) == float(ridgeless_risk(gamma, R2, S2))
    assert float(ridge_risk(gamma, 1e-7, R2, S2)) == pytest.approx(float(ridgeless_risk(gamma, R2, S2)), rel=1e-5)
    # optimum at lam* = sigma2 gamma / r2 (Dobriban–Wager)
    lam_star = S2 * gamma / R2
    lams = lam_star * np.exp(np.linspace(-1.0, 1.0, 201))
    risks = ridge_risk(gamma, lams, R2, S2)
    assert lams[np.argmin(risks)] == pytest.approx(lam_star, rel=0.011)
    # at lam*, the risk equals sigma2 gamma m(-lam*) (bias-variance terms combine)
    assert float(ridge_risk(gamma, lam_star, R2, S2)) == pytest.approx(
        S2 * gamma * float(mp_stieltjes(lam_star, gamma)), rel=1e-12
    )


def test_ridge_formula_on_empirical_spectrum():
    """Same structure as the formula with mu replaced by the ESD of one X^T X/n (n=400, p=600): the conditional
    expected risk given X, with beta uniform on the sphere, is close to the MP prediction."""
    n, p, lam = 400, 600, 0.1
    x = np.random.default_rng(0).standard_normal((n, p))
    ev = np.linalg.eigvalsh(x.T @ x / n)  # p eigenvalues, p - n of them ~0
    ev = np.clip(ev, 0.0, None)
    bias = R2 * lam**2 * np.mean(1.0 / (ev + lam) ** 2)
    var = S2 * np.sum(ev / (ev + lam) ** 2) / n
    assert bias + var == pytest.approx(float(ridge_risk(p / n, lam, R2, S2)), rel=5e-3)
    assert np.mean(1 / (ev + lam)) == pytest.approx(float(mp_stieltjes(lam, p / n)), rel=5e-3)
    assert np.mean(1 / (ev + lam) ** 2) == pytest.approx(float(mp_stieltjes_derivative(lam, p / n)), rel=5e-3)


def test_ridgeless_finite_values_and_limit():
    assert float(ridgeless_risk_finite(200, 100, R2, S2)) == pytest.approx(0.25 * 100 / 99)
    assert float(ridgeless_risk_finite(100, 300, R2, S2)) == pytest.approx(2 / 3 + 0.25 * 100 / 199)
    assert np.isinf(ridgeless_risk_finite(100, 100, R2, S2)) and np.isinf(ridgeless_risk_finite(100, 101, R2, S2))
    for g in [0.5, 1.5, 3.0]:
        n = 200_000
        assert float(ridgeless_risk_finite(n, int(g * n), R2, S2)) == pytest.approx(
            float(ridgeless_risk(g, R2, S2)), rel=1e-4
        )


# ------------------------------------------------------------------------------------------------ simulator


def _mc(n, p, lam, seeds=300, seed=0):
    fn = jax.jit(
        jax.vmap(
            lambda k, lam_: simulate_ridge_risk(k, n=n, p=p, lam=lam_, r2=R2, sigma2=S2),
            in_axes=(0, None),
        )
    )
    risk = np.asarray(fn(jax.random.split(jax.random.key(seed), seeds), lam)["risk"])
    assert risk.shape == (seeds,)
    return risk.mean(), risk.std(ddof=1) / np.sqrt(seeds)


@pytest.mark.parametrize("n,p", [(100, 50), (100, 150), (60, 180)])
def test_ridgeless_mc_vs_finite_formula(n, p):
    mean, se = _mc(n, p, 0.0, seed=n + p)
    exact = float(ridgeless_risk_finite(n, p, R2, S2))
    assert abs(mean - exact) < 4 * se, (mean, exact, se)


@pytest.mark.parametrize("n,p,lam", [(100, 50, 0.1), (100, 150, 0.1), (100, 150, 0.375)])
def test_ridge_mc_vs_asymptotic(n, p, lam):
    mean, se = _mc(n, p, lam, seed=7 * n + p)
    theory = float(ridge_risk(p / n, lam, R2, S2))
    assert abs(mean - theory) < 4 * se, (mean, theory, se)


def _replicate_draw(key, n, p):
    """The simulator's random draws, reproduced (same key splitting) to check the estimator itself."""
    k_x, k_b, k_e = jax.random.split(key, 3)
    x = np.asarray(jax.random.normal(k_x, (n, p)))
    z = np.asarray(jax.random.normal(k_b, (p,)))
    beta = np.sqrt(R2) * z / np.linalg.norm(z)
    y = x @ beta + np.sqrt(S2) * np.asarray(jax.random.normal(k_e, (n,)))
    return x, beta, y


@pytest.mark.parametrize("n,p", [(30, 12), (12, 30)])
@pytest.mark.parametrize("lam", [0.0, 0.3])
def test_simulator_estimator_matches_direct_solution(n, p, lam):
    key = jax.random.key(3)
    x, beta, y = _replicate_draw(key, n, p)
    if lam > 0:
        bhat = np.linalg.solve(x.T @ x / n + lam * np.eye(p), x.T @ y / n)
    else:
        bhat = np.linalg.pinv(x) @ y  # min-norm least squares (OLS when n > p)
    got = float(simulate_ridge_risk(key, n=n, p=p, lam=lam, r2=R2, sigma2=S2)["risk"])
    assert got == pytest.approx(float(np.sum((bhat - beta) ** 2)), rel=1e-9)


def test_simulator_compiles_once_for_two_lams_and_vmaps_over_lam():
    traces = []

    def f(key, lam):
        traces.append(1)  # Python side effect: runs only while tracing
        return simulate_ridge_risk(key, n=40, p=60, lam=lam, r2=R2, sigma2=S2)

    jf = jax.jit(f)
    r0 = jf(jax.random.key(0), 0.0)
    r1 = jf(jax.random.key(0), 0.2)
    assert len(traces) == 1
    assert np.isfinite(float(r0["risk"])) and np.isfinite(float(r1["risk"]))
    assert float(r0["risk"]) != float(r1["risk"])
    # lam is an ordinary traced value: vmap over it (same data, increasing penalty)
    lams = jnp.array([0.0, 0.1, 1.0, 100.0])
    out = jax.vmap(lambda lam_: simulate_ridge_risk(jax.random.key(0), n=40, p=60, lam=lam_, r2=R2, sigma2=S2))(lams)
    assert out["risk"].shape == (4,)
    assert float(out["risk"][0]) == pytest.approx(float(r0["risk"]), rel=1e-12)
    assert float(out["risk"][-1]) == pytest.approx(R2, rel=0.05)  # heavy shrinkage: beta_hat ~ 0


def test_simulator_float32():
    out = simulate_ridge_risk(jax.random.key(1), n=50, p=20, lam=0.1, r2=R2, sigma2=S2, dtype=jnp.float32)
    assert out["risk"].dtype == jnp.float32 and np.isfinite(float(out["risk"]))
