"""Unit tests of theory_lab.icl.tasks and theory_lab.icl.estimators: reference numbers from
shared/theory/in_context_learning.md (sections 1d, 2a, 2b, 6) and Monte-Carlo agreement of every predictor with its
exact risk."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.icl import estimators as E
from theory_lab.icl import tasks as T

jax.config.update("jax_enable_x64", True)


# ------------------------------------------------------------------ reference numbers (notes)


def test_one_step_gd_reference_numbers():
    assert E.gd_one_step_optimal_eta(20, 5) == pytest.approx(20 / 26)
    assert E.gd_one_step_risk(20, 5, 20 / 26) == pytest.approx(30 / 26)  # 1.1538, notes 1d
    # Gaussian d = N = 10 (notes 2a): eta* = 0.476, R = 5.238 = d(d+1)/(N+d+1)
    assert E.gd_one_step_optimal_eta(10, 10) == pytest.approx(0.476, abs=5e-4)
    assert E.gd_one_step_risk(10, 10, E.gd_one_step_optimal_eta(10, 10)) == pytest.approx(5.238, abs=5e-4)
    # optimally tuned one-step risk, noisy (notes 6): sigma^2 + psi^2 d (d+1+s/p)/(k+d+1+s/p)
    k, d, s2, p2 = 12, 4, 0.5, 2.0
    eta = E.gd_one_step_optimal_eta(k, d, s2, p2)
    expected = s2 + p2 * d * (d + 1 + s2 / p2) / (k + d + 1 + s2 / p2)
    assert E.gd_one_step_risk(k, d, eta, s2, p2) == pytest.approx(expected)


def test_uniform_input_moments_reference():
    m2, m4 = 1 / 12, 1 / 80  # U(-1/2, 1/2)
    eta = E.gd_one_step_optimal_eta_moments(10, 10, m2, m4)
    assert eta == pytest.approx(6.061, abs=1e-3)
    assert E.gd_one_step_risk_moments(10, 10, eta, m2, m4) == pytest.approx(0.4125, abs=1e-4)  # 1/2 R = 0.206
    m2, m4 = 1 / 3, 1 / 5  # U(-1, 1)
    eta = E.gd_one_step_optimal_eta_moments(10, 10, m2, m4)
    assert eta == pytest.approx(1.515, abs=1e-3)
    assert E.gd_one_step_risk_moments(10, 10, eta, m2, m4) == pytest.approx(1.650, abs=1e-3)
    # Gaussian moments reproduce the Gaussian closed form
    assert E.gd_one_step_optimal_eta_moments(20, 5, 1.0, 3.0) == pytest.approx(20 / 26)


def test_linear_predictor_risk_reference():
    A = np.eye(5) * 20 / 26
    np.testing.assert_allclose(E.linear_predictor_risk(A, np.eye(5), [5, 20, 200]), [3.8166, 1.1538, 0.3550],
                               atol=1e-4)
    # d = 10, N = 40 (notes 1d): R(40) = 2.1569, R(400) = 0.6344, R(5) = 13.998
    A = np.eye(10) * 40 / 51
    np.testing.assert_allclose(E.linear_predictor_risk(A, np.eye(10), [40, 400, 5]), [2.1569, 0.6344, 13.998],
                               atol=1e-3)
    # matches the isotropic one-step closed form for any eta, with noise
    for eta in (0.3, 0.9):
        assert E.linear_predictor_risk(eta * np.eye(4), np.eye(4), 9, 0.3, 1.7) == pytest.approx(
            E.gd_one_step_risk(9, 4, eta, 0.3, 1.7))


def test_ols_minnorm_averaging_reference():
    assert E.ols_risk(20, 5, 0.25) == pytest.approx(0.25 + 0.25 * 5 / 14)
    assert np.isinf(E.ols_risk(5, 5, 0.1)) and np.isinf(E.ols_risk(4, 5, 0.1)) and np.isinf(E.ols_risk(6, 5, 0.1))
    assert E.minnorm_risk(3, 6, 0.25) == pytest.approx(0.25 + 3 + 0.25 * 3 / 2)
    np.testing.assert_allclose(E.ols_risk([2, 5, 9], 5, 0.0), [3.0, 0.0, 0.0])  # noiseless: psi^2 (d-k)_+
    # the peak: risk rises towards k = d from both sides
    r = {k: E.ols_risk(k, 10, 0.5) for k in range(1, 30)}
    assert r[8] > r[7] and r[12] > r[13] and all(r[k] > r[k + 1] for k in range(12, 29))
    assert E.averaging_risk(20, 5) == pytest.approx(5 * 6 / 20)  # (d+1)/k normalized
    assert E.zero_risk(5, 0.5, 2.0) == pytest.approx(10.5)


def test_ridge_deterministic_equivalent_reference():
    # Bayes: R = sigma^2 (1 + delta), notes table: d=8, k=16, sigma^2=0.25: delta=0.943; d=20,k=20,s=1: 4.00
    assert E.bayes_risk(16, 8, 0.25) == pytest.approx(0.25 * (1 + 0.943), abs=1e-3)
    assert E.bayes_risk(20, 20, 1.0) == pytest.approx(1 + 4.00, abs=0.01)
    assert E.bayes_risk(10, 20, 1.0) == pytest.approx(1 + 10.84, abs=0.01)
    # general-lambda deterministic equivalent is minimised at the Bayes lambda
    lams = np.linspace(0.05, 2.0, 400)
    vals = [E.ridge_risk(40, 20, lam, 0.5) for lam in lams]
    assert lams[int(np.argmin(vals))] == pytest.approx(0.5, abs=0.01)


def test_ridge_mc_reference():
    # notes table: d=8, k=16, sigma^2=0.25: MC E tr(X'X + lam)^-1 = 1.051
    val, se = E.ridge_risk_mc(16, 8, 0.25, 0.25, n_draws=20_000)
    assert (val / 0.25 - 1) == pytest.approx(1.051, abs=4 * se / 0.25 + 0.005)


def test_multistep_gd_reference():
    etas, risk = E.gd_steps_optimal_etas(20, 5, 2, n_draws=4000)
    np.testing.assert_allclose(etas, [0.516, 1.250], atol=0.02)
    assert risk == pytest.approx(0.362, abs=0.01)
    r1, se1 = E.gd_steps_risk_mc(20, 5, [20 / 26], n_draws=4000)
    assert r1 == pytest.approx(30 / 26, abs=4 * se1)  # L = 1 matches the closed form
    # with noise, L = 1 still matches the closed form
    r1, se1 = E.gd_steps_risk_mc(15, 4, [0.6], 0.4, 1.5, n_draws=4000)
    assert r1 == pytest.approx(E.gd_one_step_risk(15, 4, 0.6, 0.4, 1.5), abs=4 * se1)


# ------------------------------------------------------------------ tasks


def test_prompt_shapes_and_covariance():
    spec = jnp.array([4.0, 1.0, 0.25])
    pr = T.sample_prompts(jax.random.PRNGKey(0), 4000, 7, 3, noise_std=0.5, spectrum=spec)
    assert pr.X.shape == (4000, 7, 3) and pr.y.shape == (4000, 7) and pr.xq.shape == (4000, 3)
    assert pr.yq.shape == (4000,) and pr.w.shape == (4000, 3)
    x = np.asarray(pr.X).reshape(-1, 3)
    np.testing.assert_allclose(np.cov(x.T), np.diag(spec), atol=0.1)
    resid = np.asarray(pr.y) - np.einsum("bki,bi->bk", pr.X, pr.w)
    assert np.std(resid) == pytest.approx(0.5, rel=0.03)
    u = T.sample_covariates(jax.random.PRNGKey(1), 20000, 2, dist="uniform", input_range=1.0)
    assert float(jnp.max(jnp.abs(u))) <= 0.5 and float(jnp.var(u)) == pytest.approx(1 / 12, rel=0.03)
    np.testing.assert_allclose(T.geometric_spectrum(5, 4, 0.5), [4, 2, 1, 0.5, 0.25])
    assert T.power_law_spectrum(6, 1.0).sum() == pytest.approx(6)


def test_task_pool_and_dmmse():
    pool = T.make_task_pool(jax.random.PRNGKey(2), 3, 4)
    pr = T.sample_prompts_from_pool(jax.random.PRNGKey(3), pool, 50, 10, noise_std=0.1)
    dist = jnp.min(jnp.sum((pr.w[:, None, :] - pool[None]) ** 2, -1), -1)
    assert float(jnp.max(dist)) == 0.0  # every task is a pool member
    # dMMSE with small noise identifies the task: prediction ~ <w, x_q>
    yhat = E.dmmse_predict(pr.X, pr.y, pr.xq, pool, 0.01)
    np.testing.assert_allclose(yhat, jnp.sum(pr.w * pr.xq, -1), atol=1e-6)


# ------------------------------------------------------------------ Monte-Carlo agreement of the predictors


def _mc(pred, pr):
    e = np.asarray((pred - pr.yq) ** 2)
    return e.mean(), e.std(ddof=1) / np.sqrt(e.size)


@pytest.fixture(scope="module")
def prompts():
    return T.sample_prompts(jax.random.PRNGKey(11), 20000, 20, 5, noise_std=0.5, prior_std=1.0)


def test_ols_ridge_avg_gd_mc(prompts):
    pr, s2 = prompts, 0.25
    cases = {
        "ols": (E.ols_predict(pr.X, pr.y, pr.xq), E.ols_risk(20, 5, s2)),
        "avg": (E.averaging_predict(pr.X, pr.y, pr.xq), E.averaging_risk(20, 5, s2)),
        "bayes": (E.bayes_predict(pr.X, pr.y, pr.xq, s2), E.ridge_risk_mc(20, 5, s2, s2, n_draws=20000)[0]),
        "ridge": (E.ridge_predict(pr.X, pr.y, pr.xq, 3.0), E.ridge_risk_mc(20, 5, 3.0, s2, n_draws=20000)[0]),
        "gd1": (E.gd_one_step_predict(pr.X, pr.y, pr.xq, 0.6), E.gd_one_step_risk(20, 5, 0.6, s2)),
        "gd2": (E.gd_steps_predict(pr.X, pr.y, pr.xq, jnp.array([0.5, 1.2])),
                E.gd_steps_risk_mc(20, 5, [0.5, 1.2], s2, n_draws=20000)[0]),
    }
    for name, (pred, theory) in cases.items():
        m, se = _mc(pred, pr)
        assert abs(m - theory) < 4.5 * se, (name, m, se, theory)
    # Bayes beats every other estimator
    assert _mc(cases["bayes"][0], pr)[0] < min(_mc(cases[k][0], pr)[0] for k in ("avg", "gd1", "gd2", "ridge"))


def test_minnorm_mc_and_preconditioned():
    pr = T.sample_prompts(jax.random.PRNGKey(12), 20000, 3, 7, noise_std=0.5)
    m, se = _mc(E.minnorm_predict(pr.X, pr.y, pr.xq), pr)
    assert abs(m - E.minnorm_risk(3, 7, 0.25)) < 4.5 * se
    spec = jnp.array([3.0, 1.0, 0.3])
    pr = T.sample_prompts(jax.random.PRNGKey(13), 20000, 8, 3, noise_std=0.3, spectrum=spec)
    A = np.array([[0.4, 0.1, 0.0], [0.1, 0.8, 0.0], [0.0, 0.0, 1.5]])
    m, se = _mc(E.gd_one_step_predict(pr.X, pr.y, pr.xq, 1.0, precond=A), pr)
    assert abs(m - E.linear_predictor_risk(A, np.diag(spec), 8, 0.09)) < 4.5 * se
    # L-step with matrices equals L-step with scalars when the matrices are scaled identities
    a = E.gd_steps_predict(pr.X, pr.y, pr.xq, jnp.array([0.3, 0.7]))
    b = E.gd_steps_predict(pr.X, pr.y, pr.xq, jnp.stack([0.3 * jnp.eye(3), 0.7 * jnp.eye(3)]))
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_knn_exact_on_duplicates():
    X = jnp.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [1.1, 0.0]])
    y = jnp.array([1.0, 2.0, 9.0, 4.0])
    assert float(E.knn_predict(X, y, jnp.array([1.0, 0.05]), 2)) == pytest.approx(3.0)
    assert float(E.knn_predict(X, y, jnp.array([5.0, 5.0]), 1)) == pytest.approx(9.0)
