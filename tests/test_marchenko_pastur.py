"""Checks of theory_lab.rmt.marchenko_pastur: closed forms vs quadrature, reference numbers from the notes
(section 4a), exact Wishart moments (Wick expansion + Monte Carlo) and the JAX ESD simulator vs the MP law."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

from theory_lab.rmt.marchenko_pastur import (
    mp_atom,
    mp_bin_masses,
    mp_cdf,
    mp_density,
    mp_edges,
    mp_moments,
    mp_stieltjes,
    mp_stieltjes_derivative,
    simulate_esd,
    wishart_moments_finite,
)

GAMMAS = [0.1, 0.4, 1.0, 1.5, 3.0]


def _quad_cont(fun, gamma, s2=1.0, upper=None):
    """∫_a^upper fun(x) f(x) dx over the continuous MP part (substitution x = c − r cos t removes edge
    singularities)."""
    a, b = (float(v) for v in mp_edges(gamma, s2))
    c, r = (a + b) / 2, (b - a) / 2
    t_hi = np.pi if upper is None else float(np.arccos(np.clip((c - upper) / r, -1, 1)))

    def integrand(t):
        x = c - r * np.cos(t)
        if x <= 0:
            return 0.0
        # f(x) dx = sqrt((b-x)(x-a))/(2 pi s2 g x) * r sin t dt = r^2 sin^2 t / (2 pi s2 g x) dt
        return fun(x) * r * r * np.sin(t) ** 2 / (2 * np.pi * s2 * gamma * x)

    return integrate.quad(integrand, 0.0, t_hi, epsabs=1e-13, epsrel=1e-12, limit=200)[0]


# ------------------------------------------------------------------------------------------------ theory


def test_edges_reference_numbers():
    a, b = mp_edges(0.4)
    assert a == pytest.approx(0.135, abs=5e-4)
    assert b == pytest.approx(2.665, abs=5e-4)
    a, b = mp_edges(0.25, s2=2.0)
    assert (a, b) == (pytest.approx(0.5), pytest.approx(4.5))


def test_atom():
    np.testing.assert_allclose(mp_atom(np.array([0.5, 1.0, 2.0, 4.0])), [0.0, 0.0, 0.5, 0.75])


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("s2", [1.0, 0.5])
def test_density_integrates_to_one_minus_atom(gamma, s2):
    a, b = mp_edges(gamma, s2)
    pts = [float(a) + 1e-300, float(b)]
    total = integrate.quad(lambda x: float(mp_density(x, gamma, s2)), *pts, limit=400)[0]
    assert total == pytest.approx(1.0 - float(mp_atom(gamma)), abs=1e-6)
    # zero outside the support
    assert np.all(mp_density(np.array([-1.0, float(a) * 0.5 - 1e-9, float(b) * 1.01 + 1e-9]), gamma, s2) == 0.0)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_cdf_matches_quadrature(gamma):
    a, b = (float(v) for v in mp_edges(gamma))
    xs = np.array([-0.5, a - 1e-3, a + 0.1 * (b - a), a + 0.5 * (b - a), a + 0.93 * (b - a), b, b + 1.0])
    cdf = mp_cdf(xs, gamma)
    atom = float(mp_atom(gamma))
    for x, val in zip(xs, cdf):
        ref = (atom if x >= 0 else 0.0) + (_quad_cont(lambda _: 1.0, gamma, upper=x) if x > a else 0.0)
        assert val == pytest.approx(ref, abs=1e-10)
    assert cdf[-1] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(cdf) >= -1e-15)


@pytest.mark.parametrize("gamma", [0.4, 1.0, 2.5])
def test_bin_masses_sum_and_atom(gamma):
    a, b = (float(v) for v in mp_edges(gamma))
    edges = np.concatenate([[-1e-6], np.linspace(1e-3, b * 1.05, 31)])
    masses = mp_bin_masses(edges, gamma)
    assert masses.shape == (31,)
    assert np.all(masses >= 0)
    assert masses.sum() == pytest.approx(1.0, abs=1e-12)
    # first bin [-1e-6, 1e-3) holds the atom (plus a sliver of density when a < 1e-3)
    assert masses[0] >= float(mp_atom(gamma))
    assert masses[0] == pytest.approx(float(mp_cdf(1e-3, gamma)) - 0.0, abs=1e-12)
    # an edge exactly at 0: [.., 0) excludes the atom, [0, ..) includes it
    m0 = mp_bin_masses(np.array([-1.0, 0.0, b + 1.0]), gamma)
    assert m0[0] == 0.0 and m0[1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        mp_bin_masses(np.array([1.0, 0.5]), gamma)


@pytest.mark.parametrize("gamma", GAMMAS)
def test_moments_match_quadrature(gamma):
    mom = mp_moments(5, gamma)
    ref = [_quad_cont(lambda x, k=k: x**k, gamma) for k in range(1, 6)]  # atom contributes 0 to x^k, k >= 1
    np.testing.assert_allclose(mom, ref, rtol=1e-9)
    np.testing.assert_allclose(mp_moments(4, gamma), [1, 1 + gamma, 1 + 3 * gamma + gamma**2,
                                                      1 + 6 * gamma + 6 * gamma**2 + gamma**3], rtol=1e-14)


def _pairings(items):
    if not items:
        yield []
        return
    first = items[0]
    for i in range(1, len(items)):
        for rest in _pairings(items[1:i] + items[i + 1:]):
            yield [(first, items[i])] + rest


def _wick_trace_moment(k, p, n):
    """Exact E tr (X X^T)^k for X p×n iid N(0,1) by Isserlis/Wick: sum over pairings of the 2k entries of
    p^(#row-index classes) n^(#column-index classes). Factor 2a is X[i_a, j_a], factor 2a+1 is X[i_{a+1}, j_a]."""
    total = 0
    for pairing in _pairings(list(range(2 * k))):
        parent = list(range(2 * k))  # 0..k-1 row indices, k..2k-1 column indices

        def find(v):
            while parent[v] != v:
                v = parent[v]
            return v

        for f, g in pairing:
            for u, v in (((f // 2 + f % 2) % k, (g // 2 + g % 2) % k), (k + f // 2, k + g // 2)):
                parent[find(u)] = find(v)
        rows = len({find(i) for i in range(k)})
        cols = len({find(k + j) for j in range(k)})
        total += p**rows * n**cols
    return total


@pytest.mark.parametrize("p,n", [(1, 1), (1, 2), (2, 3), (3, 2), (4, 7), (5, 5)])
def test_wishart_moments_exact_wick(p, n):
    exact = [_wick_trace_moment(k, p, n) / (p * n**k) for k in range(1, 5)]
    np.testing.assert_allclose(wishart_moments_finite(4, p, n), exact, rtol=1e-14)


def test_wishart_moments_limits_and_errors():
    np.testing.assert_allclose(wishart_moments_finite(4, 4000, 8000), mp_moments(4, 0.5), rtol=2e-3)
    assert wishart_moments_finite(2, 3, 5).shape == (2,)
    with pytest.raises(ValueError):
        wishart_moments_finite(5, 3, 5)


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("lam", [0.01, 0.1, 1.0, 7.0])
def test_stieltjes_and_derivative_vs_quadrature(gamma, lam):
    atom = float(mp_atom(gamma))
    m_ref = _quad_cont(lambda x: 1.0 / (x + lam), gamma) + atom / lam
    d_ref = _quad_cont(lambda x: 1.0 / (x + lam) ** 2, gamma) + atom / lam**2
    assert float(mp_stieltjes(lam, gamma)) == pytest.approx(m_ref, rel=1e-9)
    assert float(mp_stieltjes_derivative(lam, gamma)) == pytest.approx(d_ref, rel=1e-9)
    # derivative is minus the lam-derivative of m(-lam)
    h = 1e-5 * lam
    fd = -(mp_stieltjes(lam + h, gamma) - mp_stieltjes(lam - h, gamma)) / (2 * h)
    assert float(mp_stieltjes_derivative(lam, gamma)) == pytest.approx(float(fd), rel=1e-6)


def test_stieltjes_reference_numbers_and_limits():
    assert float(mp_stieltjes(0.1, 0.4)) == pytest.approx(1.3278, abs=1e-4)
    assert float(mp_stieltjes(1.0, 0.4)) == pytest.approx(0.5495, abs=1e-4)
    # lam = 0: ∫ dmu/x = 1/(1-g), ∫ dmu/x^2 = 1/(1-g)^3 for g < 1; inf otherwise
    assert float(mp_stieltjes(0.0, 0.4)) == pytest.approx(1 / 0.6)
    assert float(mp_stieltjes_derivative(0.0, 0.4)) == pytest.approx(1 / 0.6**3)
    assert np.isinf(mp_stieltjes(0.0, 1.5)) and np.isinf(mp_stieltjes_derivative(0.0, 1.0))
    # vectorised, large-lam behaviour m ~ 1/lam
    lam = np.array([1e-8, 1e-3, 1.0, 1e6])
    m = mp_stieltjes(lam, 2.0)
    assert m.shape == (4,) and np.all(np.isfinite(m))
    assert m[-1] * 1e6 == pytest.approx(1.0, rel=1e-5)
    assert m[0] * 1e-8 == pytest.approx(0.5, rel=1e-6)  # atom 1 - 1/g dominates as lam -> 0
    with pytest.raises(ValueError):
        mp_stieltjes(-1.0, 0.5)


# ------------------------------------------------------------------------------------------------ simulator


def _run_esd(p, n, edges, seeds, k_max=4, seed=0):
    fn = jax.jit(
        jax.vmap(lambda k, e: simulate_esd(k, p=p, n=n, bin_edges=e, k_max=k_max), in_axes=(0, None))
    )
    keys = jax.random.split(jax.random.key(seed), seeds)
    out = fn(keys, jnp.asarray(edges))
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.mark.parametrize("p,n", [(2, 3), (3, 2), (4, 7)])
def test_wishart_moments_monte_carlo(p, n):
    """MC check of the finite-size Gaussian moment formulas (small p, n, where the corrections are large)."""
    out = _run_esd(p, n, np.array([-1.0, 1e6]), seeds=100_000, seed=p * 10 + n)
    mom = out["moments"]
    mean, se = mom.mean(0), mom.std(0, ddof=1) / np.sqrt(mom.shape[0])
    theory = wishart_moments_finite(4, p, n)
    assert np.all(np.abs(mean - theory) < 4 * se), (mean, theory, se)
    # ... and the formulas are far (>> 4 SE) from the MP limit at these sizes, so the test has power
    assert np.abs(theory[3] - mp_moments(4, p / n)[3]) > 10 * se[3]


@pytest.mark.parametrize("p,n", [(200, 400), (300, 200)])
def test_esd_simulator_vs_mp(p, n):
    gamma = p / n
    a, b = (float(v) for v in mp_edges(gamma))
    edges = np.concatenate([[-1e-6], np.linspace(1e-6, 1.1 * b, 21)])
    out = _run_esd(p, n, edges, seeds=100)
    hist, mom = out["hist"], out["moments"]
    assert hist.shape == (100, len(edges) - 1) and mom.shape == (100, 4)
    np.testing.assert_allclose(hist.sum(axis=1), 1.0, atol=1e-12)
    masses = mp_bin_masses(edges, gamma)
    assert np.max(np.abs(hist.mean(0) - masses)) < 5e-3
    if gamma > 1:  # the p - n zero eigenvalues land in the first bin
        assert np.all(hist[:, 0] >= 1 - n / p - 1e-12)
    # moments: exact finite-size expectation within 4 SE; MP limit within 1%
    mean, se = mom.mean(0), mom.std(0, ddof=1) / np.sqrt(mom.shape[0])
    assert np.all(np.abs(mean - wishart_moments_finite(4, p, n)) < 4 * se)
    np.testing.assert_allclose(mean, mp_moments(4, gamma), rtol=1e-2)


def test_esd_simulator_jit_single_trace_and_dtype():
    traces = []

    def f(key, edges):
        traces.append(1)
        return simulate_esd(key, p=20, n=30, bin_edges=edges, k_max=3)

    jf = jax.jit(f)
    r1 = jf(jax.random.key(0), jnp.linspace(-0.01, 4.0, 9))
    r2 = jf(jax.random.key(1), jnp.linspace(-0.01, 8.0, 9))  # different edges, same shape: no retrace
    assert len(traces) == 1
    assert r1["moments"].shape == (3,) and r1["hist"].shape == (8,)
    assert float(jnp.sum(r2["hist"])) == pytest.approx(1.0)
    r32 = simulate_esd(jax.random.key(2), p=20, n=30, bin_edges=jnp.linspace(-0.01, 8.0, 9), dtype=jnp.float32)
    assert r32["moments"].dtype == jnp.float32 and r32["hist"].dtype == jnp.float32
    # moment 1 is tr(S)/p = sum of squares / (p n), compare with a direct computation from the same draw
    x = jax.random.normal(jax.random.key(1), (20, 30), dtype=jnp.float64)
    assert float(r2["moments"][0]) == pytest.approx(float(jnp.sum(x * x)) / (20 * 30), rel=1e-12)


def test_stieltjes_vectorised_matches_scalar():
    grid = list(itertools.product([0.5, 2.0], [0.1, 1.0]))
    vals = mp_stieltjes(np.array([lam for _, lam in grid]), np.array([g for g, _ in grid]))
    for (g, lam), v in zip(grid, vals):
        assert v == pytest.approx(float(mp_stieltjes(lam, g)), rel=1e-15)
