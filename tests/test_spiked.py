"""Checks of theory_lab.rmt.spiked: BBP limits (reference numbers of notes section 4b and identities), the finite-size
helpers, the tridiagonal eigen-solver, and the two simulators against each other and against the limits."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.claims import BadInput, registry, resolve_params
from theory_lab.rmt import spiked as sp

# ------------------------------------------------------------------------------------------------ theory


def test_reference_numbers_gamma_half():
    """Notes section 4b, gamma = 0.5: threshold 1.707; ell = 1.5 -> 2.914 / 0; 2 -> 3.000 / 0.333; 4 -> 4.667 /
    0.810."""
    assert float(sp.bbp_threshold(0.5)) == pytest.approx(1.7071, abs=1e-4)
    ell = np.array([1.5, 2.0, 4.0])
    np.testing.assert_allclose(sp.top_eigenvalue_limit(ell, 0.5), [2.914, 3.000, 4.667], atol=5e-4)
    np.testing.assert_allclose(sp.overlap_limit(ell, 0.5), [0.0, 0.333, 0.810], atol=5e-4)
    assert float(sp.bulk_edge(0.5)) == pytest.approx((1 + np.sqrt(0.5)) ** 2)


@pytest.mark.parametrize("gamma", [0.1, 0.5, 1.0, 2.0, 7.0])
def test_limits_continuous_monotone_and_identities(gamma):
    lc, b = float(sp.bbp_threshold(gamma)), float(sp.bulk_edge(gamma))
    # continuity at the threshold: rho(ell_c) = b, overlap -> 0, with slope 2/(sqrt(g)(1+sqrt(g)))
    h = 1e-7
    assert float(sp.top_eigenvalue_limit(lc + h, gamma)) == pytest.approx(b, abs=1e-9)
    assert float(sp.overlap_limit(lc + h, gamma)) / h == pytest.approx(2 / (np.sqrt(gamma) * (1 + np.sqrt(gamma))),
                                                                        rel=1e-5)
    below = np.linspace(1.0, lc, 7)
    np.testing.assert_array_equal(sp.top_eigenvalue_limit(below, gamma), b)
    np.testing.assert_array_equal(sp.overlap_limit(below, gamma), 0.0)
    ell = np.linspace(lc + 1e-3, lc + 30, 400)
    rho, ov = sp.top_eigenvalue_limit(ell, gamma), sp.overlap_limit(ell, gamma)
    assert np.all(np.diff(rho) > 0) and np.all(np.diff(ov) > 0) and np.all((ov > 0) & (ov < 1))
    assert np.all(rho > b)
    # the overlap is the elasticity of the outlier: |<u,v>|^2 = d log rho / d log ell (first-order perturbation)
    eps = 1e-6
    elasticity = (np.log(sp.top_eigenvalue_limit(ell * (1 + eps), gamma))
                  - np.log(sp.top_eigenvalue_limit(ell * (1 - eps), gamma))) / (np.log1p(eps) - np.log1p(-eps))
    np.testing.assert_allclose(elasticity, ov, rtol=1e-6)
    assert float(sp.overlap_limit(1e6, gamma)) == pytest.approx(1.0, abs=1e-5)


def test_threshold_override_is_only_a_regime_switch():
    # the negative control's threshold 1 + gamma: same formulas, other side of the switch
    assert float(sp.top_eigenvalue_limit(2.8, 2.0, threshold=3.0)) == float(sp.bulk_edge(2.0))
    assert float(sp.overlap_limit(1.6, 0.5, threshold=1.5)) < 0  # the misprint predicts a negative overlap here
    assert float(sp.overlap_limit(4.0, 0.5, threshold=1.5)) == float(sp.overlap_limit(4.0, 0.5))


def test_edge_scale_and_window_scaling():
    for g in (0.25, 0.5, 2.0):
        n = np.array([1000, 8000, 64000])
        p = g * n
        w = sp.critical_window(p, n)
        np.testing.assert_allclose(w[1:] / w[:-1], 8 ** (-1 / 3), rtol=1e-9)  # window ~ n^(-1/3)
        # by construction the limiting outlier separation one window above ell_c is one edge scale, to leading
        # order: the relative O(window) correction shrinks like n^(-1/3)
        lc = float(sp.bbp_threshold(g))
        big = n * 1000.0
        sep = sp.top_eigenvalue_limit(lc + sp.critical_window(g * big, big), g) - sp.bulk_edge(g)
        err = np.abs(sep / sp.edge_scale(g * big, big) - 1.0)
        assert err[-1] < 0.02 and np.all(np.diff(err) < 0)
    np.testing.assert_allclose(sp.edge_scale(500, 1000) * 1000 ** (2 / 3),
                               (1 + np.sqrt(0.5)) * (1 + np.sqrt(2)) ** (1 / 3), rtol=1e-12)


def test_null_top_eigenvalue_mean_limit():
    assert float(sp.null_top_eigenvalue_mean(4_000_000, 8_000_000)) == pytest.approx(float(sp.bulk_edge(0.5)), abs=2e-4)
    assert float(sp.null_top_eigenvalue_mean(1000, 2000)) < float(sp.bulk_edge(0.5))  # TW1 mean is negative
    assert sp.TW1_SD == pytest.approx(1.268, abs=1e-3)


# ------------------------------------------------------------------------------------------------ eigen-solver


def test_top_eigenpair_weight_matches_dense_eigh():
    rng = np.random.default_rng(0)
    solve = jax.jit(jax.vmap(sp.top_eigenpair_weight))
    for m in (60,):
        ds, es = rng.uniform(0, 3, size=(8, m)), rng.uniform(0.05, 1.0, size=(8, m - 1))
        for d, e, lam, w, last in zip(ds, es, *solve(jnp.asarray(ds), jnp.asarray(es))):
            ev, vec = np.linalg.eigh(np.diag(d) + np.diag(e, 1) + np.diag(e, -1))
            assert float(lam) == pytest.approx(ev[-1], abs=1e-13)
            # absolute accuracy (LAPACK's own components are only accurate to ~1e-16 absolutely) ...
            assert float(w) == pytest.approx(vec[0, -1] ** 2, abs=1e-14)
            assert float(last) == pytest.approx(abs(vec[-1, -1]), abs=1e-14)
            # ... and relative accuracy where LAPACK's component is itself resolved
            if vec[0, -1] ** 2 > 1e-6:
                assert float(w) == pytest.approx(vec[0, -1] ** 2, rel=1e-9)
    lam = sp.top_eigenvalue_tridiagonal(jnp.asarray([1.0, 1.0]), jnp.asarray([0.0]))  # decoupled, repeated
    assert float(lam) == pytest.approx(1.0, abs=1e-14)


def test_tridiagonal_model_exact_structure():
    """T = D B B^T D / n: for p > n every row beyond n + 1 is zero; rows may not exceed p."""
    d, e, c = jax.jit(lambda k: sp.spiked_laguerre_tridiagonal(k, p=30, n=10, ell=2.0, rows=25))(jax.random.key(0))
    d, e = np.asarray(d), np.asarray(e)
    assert np.all(d[11:] == 0) and np.all(e[10:] == 0) and float(c) == 0.0
    assert np.all(d[:11] > 0) and np.all(e[:10] > 0)
    with pytest.raises(ValueError):
        sp.simulate_spiked_covariance_tridiagonal(jax.random.key(0), p=30, n=10, ell=2.0, rows=31)


def test_truncation_is_exact_to_round_off():
    """Same chi draws (p = 2000, gamma = 2): the default truncated block gives the eigenpair of a 3x larger block to
    round-off at spikes below, at and above the threshold, and the certificate it reports is tiny."""
    p, n = 2000, 1000
    rows = sp.truncation_rows(p, n)
    big = 3 * rows

    def f(key, ell):
        d, e, _ = sp.spiked_laguerre_tridiagonal(key, p=p, n=n, ell=ell, rows=big)
        lam, w, last = sp.top_eigenpair_weight(d[:rows], e[: rows - 1])
        lam_b, w_b, _ = sp.top_eigenpair_weight(d, e)
        return lam - lam_b, w - w_b, jnp.abs(e[rows - 1]) * last

    ells = jnp.repeat(jnp.asarray([1.0, float(sp.bbp_threshold(2.0)), 4.0]), 100)
    keys = jax.random.split(jax.random.key(1), ells.shape[0])
    dl, dw, cert = (np.asarray(x) for x in jax.jit(jax.vmap(f))(keys, ells))
    assert np.abs(dl).max() < 1e-12 and np.abs(dw).max() < 1e-12 and cert.max() < 1e-12


# ------------------------------------------------------------------------------------------------ simulators

FAST_ROWS = 240  # valid for every p >= 240 below; one compiled program serves all sizes (p, n are traced)


FAST_TRACES = []


@functools.lru_cache(maxsize=None)
def _fast():
    def one(k, p, n, ell):
        FAST_TRACES.append(1)  # runs only when traced
        return sp.simulate_spiked_covariance_tridiagonal(k, p=p, n=n, ell=ell, rows=FAST_ROWS)

    return jax.jit(jax.vmap(one))


def _batch(fn, seeds, seed, ells, *args):
    """``seeds`` trials at each spike in ``ells``: returns {stat: (len(ells), seeds)} (keep seeds x len(ells) fixed
    per compiled function: a new batch size is a new compile)."""
    ell = jnp.repeat(jnp.asarray(ells, dtype=jnp.float64), seeds)
    keys = jax.random.split(jax.random.key(seed), ell.shape[0])
    out = fn(keys, *[jnp.full(ell.shape, a, dtype=jnp.float64) for a in args], ell)
    return {k: np.asarray(v).reshape(len(ells), seeds) for k, v in out.items()}


@functools.lru_cache(maxsize=None)
def _naive(p, n):
    return jax.jit(jax.vmap(lambda k, ell: sp.simulate_spiked_covariance(k, p=p, n=n, ell=ell)))


@functools.lru_cache(maxsize=None)
def _exact_tridiagonal():
    # rows = 40 is the untruncated model for (p, n) = (40, 80) (rows = p) and (80, 39) (rows = n + 1)
    return jax.jit(jax.vmap(lambda k, p, n, ell: sp.simulate_spiked_covariance_tridiagonal(
        k, p=p, n=n, ell=ell, rows=40)))


@pytest.mark.parametrize("p,n", [(40, 80), (80, 39)])
def test_tridiagonal_sampler_matches_data_level_in_distribution(p, n):
    """The statistic-level sampler (untruncated) against the naive data-level one at spikes below, near and above
    the threshold: means and variances of both statistics agree within 4.5 standard errors (independent draws)."""
    r, ells = 2000, [1.0, 2.2, 4.0]
    ref = _batch(_naive(p, n), r, 0, ells)
    fast = _batch(_exact_tridiagonal(), r, 1, ells, float(p), float(n))
    for i, ell in enumerate(ells):
        for stat in ("top_eig", "overlap"):
            a, b = ref[stat][i], fast[stat][i]
            se = np.sqrt(a.var(ddof=1) / r + b.var(ddof=1) / r)
            assert abs(a.mean() - b.mean()) < 4.5 * se, (ell, stat, a.mean(), b.mean(), se)
            va, vb = a.var(ddof=1), b.var(ddof=1)
            se_v = np.sqrt((np.mean((a - a.mean()) ** 4) - va**2) / r + (np.mean((b - b.mean()) ** 4) - vb**2) / r)
            assert abs(va - vb) < 4.5 * se_v, (ell, stat, va, vb, se_v)
    # at ell = 1 the top eigenvector is Haar-distributed: E <u, v>^2 = 1/p exactly
    for out in (ref, fast):
        assert abs(out["overlap"][0].mean() - 1 / p) < 4.5 * out["overlap"][0].std() / np.sqrt(r)


def test_fast_sampler_approaches_the_limits():
    """p = 4000, gamma = 0.5: away from the threshold the means sit at the BBP limits (1/n-sized residuals)."""
    p, n = 4000, 8000
    out = _batch(_fast(), 2000, 2, [1.2, 4.0], p, n)
    assert out["top_eig"][1].mean() == pytest.approx(float(sp.top_eigenvalue_limit(4.0, 0.5)), abs=0.01)
    assert out["overlap"][1].mean() == pytest.approx(float(sp.overlap_limit(4.0, 0.5)), abs=0.005)
    assert out["trunc_resid"].max() < 1e-12
    assert out["overlap"][0].mean() < 0.005
    # below the threshold: between the null Tracy-Widom mean (lambda_1 increases with ell) and the edge
    m, se = out["top_eig"][0].mean(), out["top_eig"][0].std() / np.sqrt(2000)
    assert float(sp.null_top_eigenvalue_mean(p, n)) - 4 * se < m < float(sp.bulk_edge(0.5))


def test_null_tw_mean_matches_simulation():
    """The declared finite-size term of the check: E lambda_1 at ell = 1 equals Ma's Tracy-Widom mean within MC."""
    p, n, r = 500, 1000, 4000
    out = _batch(_fast(), r, 4, [1.0], p, n)
    m, se = out["top_eig"][0].mean(), out["top_eig"][0].std() / np.sqrt(r)
    assert abs(m - float(sp.null_top_eigenvalue_mean(p, n))) < 4 * se
    assert abs(m - float(sp.bulk_edge(0.5))) > 10 * se  # and the shift is real: far outside MC error
    # sizes and spikes are traced: this call (p = 500) and the previous test's (p = 4000) share one compiled program
    assert len(FAST_TRACES) == 1


def test_float32():
    r32 = jax.jit(lambda k: sp.simulate_spiked_covariance_tridiagonal(k, p=500, n=1000, ell=3.0, rows=12,
                                                                      dtype=jnp.float32))(jax.random.key(1))
    assert r32["top_eig"].dtype == jnp.float32 and 0 < float(r32["overlap"]) < 1
    assert abs(float(r32["top_eig"]) - float(sp.top_eigenvalue_limit(3.0, 0.5))) < 0.3


# ------------------------------------------------------------------------------------------------ check inputs


@pytest.mark.parametrize("overrides,needle", [
    ({"p": "1000"}, "exactly two"),
    ({"p": "1000,1500"}, "at least 2"),
    ({"ell": "3,4,5,6"}, "bracket"),
])
def test_check_rejects_bad_input(overrides, needle):
    with pytest.raises(BadInput, match=needle):
        resolve_params(registry()["rmt.bbp"], "quick", overrides)


def test_check_grid_is_one_static_group():
    c = registry()["rmt.bbp"]
    grid = c.grid(resolve_params(c, "quick", {}))
    assert len(grid.groups()) == 1 and grid.static == ("rows",)
