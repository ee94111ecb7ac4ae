"""Checks of theory_lab.rmt.random_features: Mei–Montanari reference numbers (notes section 4d), the fixed point, an
independent limit (zeta = 0 reduces to ridge on pure-noise features, the HMRT/MP formula), and the JAX simulator
(estimator and exact population risk against a direct NumPy solve and a large test set; Monte-Carlo agreement with
the theory; one compile for several lam)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

from proofs_checks.random_features import CHECK, control_risk, finite_size_allowance
from theory_lab.claims import BadInput, resolve_params
from theory_lab.rmt import random_features as rf
from theory_lab.rmt.ridge import ridge_risk

# ------------------------------------------------------------------------------------------------ theory


@pytest.mark.parametrize(
    "psi1,psi2,lam,expected",
    [(2, 3, 0.1, 0.4449), (1, 1, 0.01, 1.8733), (3, 1.5, 0.01, 0.6278), (0.5, 2, 1e-3, 0.9812), (2, 2, 1e-3, 2.167)],
)
def test_reference_numbers(psi1, psi2, lam, expected):
    # notes section 4d: ReLU, F1 = 1, tau = 0.5, F* = 0
    assert float(rf.rf_risk(psi1, psi2, lam, 1.0, 0.5, 0.0)) == pytest.approx(expected, abs=6e-4)


def test_relu_coefficients_by_quadrature():
    phi = lambda g: math.exp(-g * g / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    m0 = integrate.quad(lambda g: g * phi(g), 0, np.inf)[0]
    m1 = integrate.quad(lambda g: g * g * phi(g), 0, np.inf)[0]
    m2 = integrate.quad(lambda g: g**3 * phi(g), 0, np.inf)[0]  # E relu(G)^2 = E[G^2; G>0]
    mu0, mu1, mu_star = rf.relu_coefficients()
    assert mu0 == pytest.approx(m0, rel=1e-10) and mu1 == pytest.approx(m1, rel=1e-10)
    second = m1  # E relu(G)^2 = E[G^2; G > 0], the same integral as mu1 = E[G relu(G)]
    assert mu_star**2 == pytest.approx(second - m0**2 - m1**2, rel=1e-10)
    assert rf._RELU_G2 == pytest.approx(m2, rel=1e-10)


def test_fixed_point_solves_its_equations_on_the_imaginary_axis():
    psi1, psi2, zeta = np.array([0.5, 2.0, 6.0]), 2.0, 1.66
    xi = 1j * np.array([0.01, 0.3, 3.0])
    nu1, nu2 = rf.rf_nu_fixed_point(xi, psi1, psi2, zeta)
    c = 1 - zeta**2 * nu1 * nu2
    np.testing.assert_allclose(nu1, psi1 / (-xi - nu2 - zeta**2 * nu2 / c), rtol=1e-11)
    np.testing.assert_allclose(nu2, psi2 / (-xi - nu1 - zeta**2 * nu1 / c), rtol=1e-11)
    assert np.all(nu1.imag > 0) and np.all(nu2.imag > 0)
    np.testing.assert_allclose(nu1.real, 0, atol=1e-12)  # purely imaginary, so chi = nu1 nu2 is real
    # large |xi|: nu_k ~ -psi_k / xi
    big = 1j * 1e6
    n1, n2 = rf.rf_nu_fixed_point(big, 1.5, 2.5, zeta)
    assert complex(n1) == pytest.approx(-1.5 / big, rel=1e-5) and complex(n2) == pytest.approx(-2.5 / big, rel=1e-5)


@pytest.mark.parametrize("psi1,psi2,lam", [(2, 3, 0.1), (1, 1, 0.01), (3, 1.5, 0.01), (0.5, 2, 1e-3)])
def test_zeta_zero_is_ridge_on_pure_noise_features(psi1, psi2, lam):
    """With mu1 = 0 the features carry no linear signal: the RF model is ridge regression with iid features of
    variance mu*^2, ratio N/n and ridge psi1 lam/mu*^2 on a response that is pure noise. So V must equal the HMRT /
    Dobriban–Wager variance with r2 = 0, sigma2 = 1 (an independent formula, via the MP Stieltjes transform), and the
    signal must act as noise: B = 1 + V."""
    mu_star = rf.relu_coefficients()[2]
    b, v = rf.rf_bias_variance(psi1, psi2, lam, zeta=0.0)
    assert float(v) == pytest.approx(float(ridge_risk(psi1 / psi2, psi1 * lam / mu_star**2, 0.0, 1.0)), rel=1e-9)
    assert float(b) == pytest.approx(1.0 + float(v), rel=1e-12)


def test_limits_and_the_interpolation_peak():
    # huge ridge: a -> 0, the risk tends to the null risk F1^2 + F*^2
    assert float(rf.rf_risk(2.0, 3.0, 1e5, 1.0, 0.5, 0.3)) == pytest.approx(1.0 + 0.09, rel=1e-3)
    # as lam -> 0 the risk peaks at N = n and grows without bound there
    ratio = np.geomspace(0.2, 5, 801)
    peaks = []
    for lam in (1e-3, 1e-4, 1e-5):
        r = rf.rf_risk(2.0 * ratio, 2.0, lam)
        peaks.append(float(r.max()))
        assert ratio[np.argmax(r)] == pytest.approx(1.0, abs=0.05)
    assert peaks[0] < peaks[1] < peaks[2] and peaks[2] > 10
    # more ridge tames the peak: at N = n the risk decreases in lam over this range
    at_peak = rf.rf_risk(2.0, 2.0, np.array([1e-4, 1e-3, 1e-2, 1e-1]))
    assert np.all(np.diff(at_peak) < 0)
    # B, V are real and positive; R is linear in F1^2, tau^2, F*^2 as the formula says
    b, v = rf.rf_bias_variance(np.array([0.5, 2.0, 6.0]), 2.0, 0.01)
    assert np.all(b > 0) and np.all(v > 0)
    np.testing.assert_allclose(rf.rf_risk(2.0, 3.0, 0.1, 2.0, 0.0, 0.0), 4 * rf.rf_bias_variance(2.0, 3.0, 0.1)[0])


def test_negative_control_differs_and_bad_lam():
    assert abs(float(control_risk(2.0, 2.0, 0.01, 1.0, 0.5, 0.0)) / float(rf.rf_risk(2.0, 2.0, 0.01)) - 1) > 0.2
    with pytest.raises(ValueError):
        rf.rf_bias_variance(1.0, 1.0, 0.0)


def test_check_rejects_bad_input():
    with pytest.raises(BadInput, match="repeated N"):
        resolve_params(CHECK, "quick", {"psi1": "1.0,1.001"})
    with pytest.raises(BadInput, match="out of range"):
        resolve_params(CHECK, "quick", {"lam": "0"})
    with pytest.raises(BadInput, match="8000"):
        resolve_params(CHECK, "quick", {"psi1": "20", "d": "1000"})


# ------------------------------------------------------------------------------------------------ simulator


def _replicate(key, d, N, n, f1, tau, f_star):
    """The simulator's random draws, reproduced in NumPy from the same key (one normal vector, sliced)."""
    sizes = (n * d, N * d, d, d * d, n)
    flat = np.asarray(jax.random.normal(key, (sum(sizes),)))
    g_x, g_t, u, a_flat, eps = np.split(flat, np.cumsum(sizes)[:-1])
    sph = lambda g: g * np.sqrt(d) / np.linalg.norm(g, axis=1, keepdims=True)  # noqa: E731
    x, th = sph(g_x.reshape(n, d)), sph(g_t.reshape(N, d))
    beta = f1 * u / np.linalg.norm(u)
    g = (a_flat.reshape(d, d) + a_flat.reshape(d, d).T) / 2
    c_g = np.sqrt(2 * (d * np.sum(g * g) - np.trace(g) ** 2) / (d + 2))

    def target(z):
        return z @ beta + f_star * (np.einsum("jk,kl,jl->j", z, g, z) - np.trace(g)) / c_g

    y = target(x) + tau * eps
    return x, th, target, y


@pytest.mark.parametrize("N,n", [(40, 60), (60, 40)])
@pytest.mark.parametrize("f_star", [0.0, 0.8])
def test_simulator_risk_is_the_exact_population_risk(N, n, f_star):
    """Both solver branches (N <= n, N > n): the returned risk equals E_x (f - f_hat)^2 of the directly solved
    estimator, estimated on 200,000 fresh sphere points (within 4 SE)."""
    d, lam, key = 25, 0.05, jax.random.key(11)
    sim = jax.jit(rf.simulate_random_features_risk, static_argnames=("d", "N", "n", "dtype"))
    got = float(sim(key, d=d, N=N, n=n, lam=lam, f1=1.0, tau=0.5, f_star=f_star)["risk"])
    x, th, target, y = _replicate(key, d, N, n, 1.0, 0.5, f_star)
    z = np.maximum(x @ th.T / np.sqrt(d), 0)
    a = np.linalg.solve(z.T @ z / n + N * lam / d * np.eye(N), z.T @ y / n)  # primal form of the estimator
    g = np.random.default_rng(0).standard_normal((200_000, d))
    xt = g * np.sqrt(d) / np.linalg.norm(g, axis=1, keepdims=True)
    err = (target(xt) - np.maximum(xt @ th.T / np.sqrt(d), 0) @ a) ** 2
    se = err.std() / np.sqrt(err.size)
    assert abs(got - err.mean()) < 4 * se, (got, err.mean(), se)


def _mc(d, N, n, lam, f_star=0.0, seeds=200, seed=0):
    fn = jax.jit(jax.vmap(lambda k: rf.simulate_random_features_risk(k, d=d, N=N, n=n, lam=lam, f_star=f_star)))
    risk = np.asarray(fn(jax.random.split(jax.random.key(seed), seeds))["risk"])
    assert risk.shape == (seeds,) and np.all(np.isfinite(risk))
    return risk.mean(), risk.std(ddof=1) / np.sqrt(seeds)


@pytest.mark.parametrize("psi1,psi2,lam,f_star", [(2.0, 3.0, 0.1, 0.0), (1.0, 1.0, 0.01, 0.0), (1.5, 2.0, 0.05, 0.6)])
def test_simulator_agrees_with_theory(psi1, psi2, lam, f_star):
    """Monte Carlo at d = 60 against the limit, with the check's declared finite-d allowance plus 4 SE."""
    d = 60
    N, n = int(round(psi1 * d)), int(round(psi2 * d))
    mean, se = _mc(d, N, n, lam, f_star=f_star, seed=N + n)
    theory = float(rf.rf_risk(N / d, n / d, lam, 1.0, 0.5, f_star))
    assert abs(mean - theory) < 4 * se + finite_size_allowance(theory, d, N, n, lam, f_star), (mean, se, theory)


def test_simulator_compiles_once_for_two_lams_vmaps_and_runs_in_float32():
    traces = []

    def f(key, lam):
        traces.append(1)  # runs only while tracing
        return rf.simulate_random_features_risk(key, d=20, N=30, n=40, lam=lam)

    jf = jax.jit(f)
    r0, r1 = jf(jax.random.key(0), 0.01), jf(jax.random.key(0), 0.5)
    assert len(traces) == 1 and float(r0["risk"]) != float(r1["risk"])
    # lam is an ordinary traced value: vmap over it (same data, increasing penalty)
    out = jax.jit(jax.vmap(lambda lam: f(jax.random.key(0), lam)))(jnp.array([1e-3, 0.1, 10.0, 1e4]))
    assert out["risk"].shape == (4,)
    assert float(out["risk"][-1]) == pytest.approx(1.0, abs=1e-3)  # huge ridge: null predictor, risk F1^2
    r32 = jax.jit(lambda k: rf.simulate_random_features_risk(k, d=20, N=30, n=40, lam=0.1, dtype=jnp.float32))(
        jax.random.key(0))
    assert r32["risk"].dtype == jnp.float32 and 0 < float(r32["risk"]) < 2
