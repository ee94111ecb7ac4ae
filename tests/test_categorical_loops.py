"""Tests for theory_lab.loops.categorical (Seddik et al. 2024, arXiv:2404.05090): reference numbers from the notes
(section 2), the Theorem 2 recursion against both closed forms, the exact multinomial samplers, and Monte-Carlo
agreement of the simulators with the theory within ~4 standard errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.loops import categorical as cat

Z = 4.0  # agreement threshold in standard errors (fixed before looking; seeds fixed, so tests are deterministic)


def _mean_se(x):
    x = np.asarray(x, dtype=np.float64)
    return x.mean(0), x.std(0, ddof=1) / np.sqrt(x.shape[0])


def _vmap(fn, seed, reps):
    out = jax.jit(jax.vmap(fn))(jax.random.split(jax.random.key(seed), reps))
    return {k: np.asarray(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------------------------
# Theory: reference numbers
# ---------------------------------------------------------------------------------------------------------------


def test_theorem1_reference_numbers_from_notes():
    p = cat.initial_distribution("uniform", 10)
    s0 = cat.sum_sq(p)
    assert s0 == pytest.approx(0.1, abs=1e-15)
    s = cat.expected_sum_sq_fully([1, 10, 50], 20, s0)
    np.testing.assert_allclose(s, [0.1450, 0.4611, 0.9307], atol=5e-5)
    # rho_60 bounds for S_0 = 0.0971, n = 20, s~ = 50 (notes 2.5): [0.168, 0.958]
    lo, hi = cat.collapse_prob_bounds(60, 20, 0.0971, 50)
    assert (round(float(lo), 3), round(float(hi), 3)) == (0.168, 0.958)
    # E[T] bounds for p = (.4,.25,.15,.1,.06,.04), n = 15 (notes 2.5): [13.4, 156.4]
    p6 = np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04])
    lo, hi = cat.collapse_time_bounds(15, cat.sum_sq(p6), cat.support_size(p6))
    assert (round(lo, 1), round(hi, 1)) == (13.4, 156.4)


def test_theorem2_reference_numbers_from_notes():
    # notes 2.5 table, S_0 = 0.1: (N, n) -> S_1, S_2, S_5, S_inf
    table = {(100, 10): (0.10900, 0.10974, 0.10974, 0.10974),
             (100, 100): (0.10900, 0.11123, 0.11195, 0.11196),
             (50, 200): (0.11800, 0.12082, 0.12449, 0.12577)}
    for (N, n), (s1, s2, s5, sinf) in table.items():
        s = cat.expected_sum_sq_partial(5, N, n, 0.1)
        np.testing.assert_allclose([s[1], s[2], s[5]], [s1, s2, s5], atol=6e-6)
        assert cat.partial_limit(N, n, 0.1) == pytest.approx(sinf, abs=6e-6)
    # notes 2.3: S_0 = 0.0971, N = 50, n = 200: S_2 = 0.11796 with "+", 0.11690 as printed ("-"). S_0 is printed to
    # 4 digits and dS_2/dS_0 ~ 0.97, so the tolerance is 0.97 * 5e-5; the gap between the forms is exact.
    plus, minus = (float(f(1, 50, 200, 0.0971)) for f in (cat.partial_closed_form, cat.partial_closed_form_printed))
    assert plus == pytest.approx(0.11796, abs=5e-5) and minus == pytest.approx(0.11690, abs=5e-5)
    assert plus - minus == pytest.approx(0.11796 - 0.11690, abs=2e-5)


def test_theorem2_closed_form_is_the_recursion_and_printed_form_is_not():
    for N, n, s0 in [(10, 40, 0.18), (3, 7, 0.5), (100, 1000, 0.05), (1, 5, 0.3)]:
        s = cat.expected_sum_sq_partial(30, N, n, s0)
        m = np.arange(30)
        np.testing.assert_allclose(cat.partial_closed_form(m, N, n, s0), s[1:], rtol=1e-12)
        alpha, beta = cat.partial_alpha_beta(N, n)
        assert beta == pytest.approx(alpha**2 * (1 - 1 / n), rel=1e-13)
        assert 0 < beta < alpha < 1
        gap = cat.partial_closed_form(m, N, n, s0) - cat.partial_closed_form_printed(m, N, n, s0)
        d = 1 + (1 + 1 / N) * alpha
        np.testing.assert_allclose(gap, 2 * (1 - 1 / N) * s0 * alpha * beta**m / (N * d), rtol=1e-8, atol=1e-14)
        # the printed form misses S_1 = 1/N + (1-1/N) S_0 at m = 0 (when N > 1); both share the limit
        if N > 1:
            assert abs(float(cat.partial_closed_form_printed(0, N, n, s0)) - s[1]) > 1e-4
        assert float(cat.partial_closed_form_printed(400, N, n, s0)) == pytest.approx(cat.partial_limit(N, n, s0))


def test_initial_distributions_and_horizon():
    z = cat.initial_distribution("zipf", 10, 1.0)
    assert z.sum() == pytest.approx(1.0) and np.all(np.diff(z) < 0) and z[0] / z[1] == pytest.approx(2.0)
    d1 = cat.initial_distribution("dirichlet", 50, dirichlet_a=0.3, dist_seed=4)
    d2 = cat.initial_distribution("dirichlet", 50, dirichlet_a=0.3, dist_seed=4)
    np.testing.assert_array_equal(d1, d2)
    assert d1.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        cat.initial_distribution("poisson", 10)
    with pytest.raises(ValueError):
        cat.initial_distribution("uniform", 1)
    h = cat.collapse_horizon(20, 0.1, 1e-7)
    assert 20 * 0.9 * (1 - 1 / 20) ** h <= 1e-7 < 20 * 0.9 * (1 - 1 / 20) ** (h - 1)


# ---------------------------------------------------------------------------------------------------------------
# Samplers
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", [cat.counts_by_draws, cat.counts_by_spacings])
def test_multinomial_samplers_exact_moments(sampler):
    w = jnp.array([0.0, 3.0, 1.0, 0.0, 6.0, 0.0])  # zero weights inside and at the end
    n, reps = 40, 20_000
    c = np.asarray(jax.jit(jax.vmap(lambda k: sampler(k, w, n)))(jax.random.split(jax.random.key(7), reps)))
    assert np.all(c.sum(1) == n)
    assert np.all(c[:, [0, 3, 5]] == 0)  # never draws a weight-0 category
    p = np.asarray(w) / 10.0
    m, se = _mean_se(c)
    assert np.all(np.abs(m - n * p) <= Z * se + 1e-12), (m, n * p)
    var = c.var(0, ddof=1)
    mask = p > 0
    # Var of a multinomial count n p (1-p); SE of a sample variance ~ sqrt(2/R) var for near-normal counts
    assert np.all(np.abs(var[mask] - n * p[mask] * (1 - p[mask])) <= Z * np.sqrt(2.5 / reps) * var[mask])
    cov = np.cov(c[:, 1], c[:, 4])[0, 1]
    assert cov == pytest.approx(-n * p[1] * p[4], rel=0.1)


def test_samplers_agree_in_distribution_and_switch():
    w = jnp.asarray(cat.initial_distribution("zipf", 8, 1.2))
    reps, n = 8000, 300
    a = np.asarray(jax.jit(jax.vmap(lambda k: cat.counts_by_draws(k, w, n)))(jax.random.split(jax.random.key(1), reps)))
    b = np.asarray(jax.jit(jax.vmap(lambda k: cat.counts_by_spacings(k, w, n)))(
        jax.random.split(jax.random.key(2), reps)))
    for x, y in ((a, b), (a**2, b**2)):
        m1, s1 = _mean_se(x)
        m2, s2 = _mean_se(y)
        assert np.all(np.abs(m1 - m2) <= Z * np.hypot(s1, s2))
    assert int(cat.counts_from_probs(jax.random.key(0), w, 0).sum()) == 0
    assert cat.SPACINGS_FROM > 1


# ---------------------------------------------------------------------------------------------------------------
# Simulators against theory
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wf_data():
    p = cat.initial_distribution("zipf", 6, 1.0)
    n = 8
    h = cat.collapse_horizon(n, cat.sum_sq(p), 1e-9)
    out = _vmap(lambda k: cat.simulate_fully_synthetic(k, p, n=n, m=20, horizon=h), 3, 10_000)
    return p, n, out


def test_mc_theorem1_sum_of_squares(wf_data):
    p, n, out = wf_data
    m = np.array([0, 1, 3, 8, 20])
    mean, se = _mean_se(out["sigma"][:, m])
    theory = cat.expected_sum_sq_fully(m, n, cat.sum_sq(p))
    assert mean[0] == pytest.approx(theory[0], abs=1e-12)
    assert np.all(np.abs(mean[1:] - theory[1:]) <= Z * se[1:]), (mean, theory, se)
    # the diploid (2n copies) formula is far outside
    wrong = 1 - (1 - 1 / (2 * n)) ** m[1:] * (1 - cat.sum_sq(p))
    assert np.all(np.abs(mean[1:] - wrong) > 5 * Z * se[1:])


def test_mc_collapse_probability_time_and_fixation(wf_data):
    p, n, out = wf_data
    s0, ss = cat.sum_sq(p), cat.support_size(p)
    rho = out["collapsed"].mean(0)
    assert rho[0] == 0.0 and np.all(np.diff(rho) >= 0)  # absorbing
    lo, hi = cat.collapse_prob_bounds(np.arange(21), n, s0, ss)
    assert np.all(rho >= lo - 0.02) and np.all(rho <= hi + 0.02)
    t = out["T"]
    assert not np.any(np.isnan(t))
    t_lo, t_hi = cat.collapse_time_bounds(n, s0, ss)
    assert t_lo < t.mean() < t_hi
    # T is consistent with the collapse indicators: collapsed at m <=> T <= m
    np.testing.assert_array_equal(out["collapsed"][:, 1:] > 0, t[:, None] <= np.arange(1, 21)[None, :])
    fixed = out["fixed"]
    assert np.all(fixed.sum(1) == 1)
    m, se = _mean_se(fixed)
    assert np.all(np.abs(m - p) <= Z * se)


def test_censored_collapse_time_is_nan_not_dropped():
    p = cat.initial_distribution("uniform", 5)
    out = cat.simulate_fully_synthetic(jax.random.key(0), p, n=200, m=3, horizon=3)
    assert np.isnan(float(out["T"])) and float(np.asarray(out["fixed"]).sum()) == 0.0


def test_mc_theorem2_supports_the_recursion_not_the_printed_form():
    p = cat.initial_distribution("zipf", 10, 1.0)
    s0 = cat.sum_sq(p)
    N, n = 10, 160
    out = _vmap(lambda k: cat.simulate_partial_synthetic(k, p, N=N, n=n, m=6), 4, 10_000)
    sig = out["sigma"]
    mean, se = _mean_se(sig)
    rec = cat.expected_sum_sq_partial(6, N, n, s0)
    assert mean[0] == pytest.approx(s0, abs=1e-12)
    assert np.all(np.abs(mean[1:] - rec[1:]) <= Z * se[1:]), (mean, rec, se)
    printed = cat.partial_closed_form_printed(1, N, n, s0)
    assert abs(mean[2] - printed) > 2.5 * Z * se[2]  # ~15 SE apart at this size
    assert np.all(out["l1_drift"][:, :2] == 0) and np.all(out["l1_drift"][:, 2:] >= 0)


# ---------------------------------------------------------------------------------------------------------------
# Shapes, dtypes, tracing
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_shapes_and_dtypes(dtype):
    p = cat.initial_distribution("zipf", 7, 1.0)
    out = cat.simulate_fully_synthetic(jax.random.key(1), p, n=5, m=4, horizon=10, dtype=dtype)
    assert out["sigma"].shape == out["collapsed"].shape == (5,) and out["fixed"].shape == (7,)
    assert all(v.dtype == dtype for v in out.values())
    out = cat.simulate_partial_synthetic(jax.random.key(1), p, N=4, n=3, m=5, dtype=dtype)
    assert out["sigma"].shape == out["l1_drift"].shape == (6,) and out["sigma"].dtype == dtype
    with pytest.raises(ValueError):
        cat.simulate_partial_synthetic(jax.random.key(1), p, N=0, n=3, m=5)


def test_initial_distribution_is_traced():
    traces = []

    @jax.jit
    def run(key, p0):
        traces.append(None)
        return cat.simulate_partial_synthetic(key, p0, N=5, n=5, m=3)["sigma"]

    a = run(jax.random.key(0), jnp.asarray(cat.initial_distribution("zipf", 6, 1.0)))
    b = run(jax.random.key(0), jnp.asarray(cat.initial_distribution("uniform", 6)))
    assert len(traces) == 1 and not np.allclose(np.asarray(a), np.asarray(b))
