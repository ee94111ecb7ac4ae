"""Checks of theory_lab.rmt.pruning: the pruned-measure limit theory of the Gaussian-mixture pruning toy (closed-form
moments against quadrature, the flip threshold, signs under another convex loss) and the JAX simulator (Monte-Carlo
agreement with the pruned-measure minimiser, its shortcuts against a naive simulator, selection exactness, one
compile for every keep ratio)."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, optimize, stats

from theory_lab.claims import BadInput, get_check, resolve_params
from theory_lab.rmt import pruning as pr

M = 1.0
COL = {name: i for i, name in enumerate(pr.METHODS)}


# ------------------------------------------------------------------------------------------------ theory


def test_reference_numbers():
    assert float(pr.bayes_accuracy(1.0)) == pytest.approx(0.841345, abs=1e-6)
    r_star = pr.flip_threshold(1.0)
    assert r_star == pytest.approx(0.381086, abs=1e-6)
    assert stats.norm.pdf(stats.norm.ppf(r_star)) == pytest.approx(r_star, rel=1e-10)  # phi(Phi^-1(r*)) = m r*
    # stronger signal -> the flip needs harder compression
    assert pr.flip_threshold(2.0) == pytest.approx(0.057992, abs=1e-5)
    assert pr.flip_threshold(0.5) > r_star > pr.flip_threshold(2.0)
    # notes section 5.2: keep-hardest flips for r <= 0.3, random stays at Bayes (here for ||mu|| = 1)
    for r in (0.03, 0.1, 0.2, 0.3):
        assert pr.limit_accuracy("label_aware", r, M) == pytest.approx(1 - 0.841345, abs=1e-6)
        assert pr.limit_accuracy("random", r, M) == pytest.approx(0.841345, abs=1e-6)


@pytest.mark.parametrize("method", pr.METHODS)
@pytest.mark.parametrize("r", [0.05, 0.3, 0.7])
def test_closed_form_moments_match_quadrature(method, r):
    tot = np.zeros(5)
    for a, b, pi, om in pr.pieces(method, r, M, 0.5):
        lo, hi = max(a, -15.0), min(b, 15.0)
        for j in range(5):
            tot[j] += pi * om * integrate.quad(lambda s: s**j * stats.norm.pdf(s - M), lo, hi, epsabs=1e-13)[0]
    mo = pr.pruned_moments(method, r, M, 0.5)
    assert mo["Z"] == pytest.approx(tot[0], abs=1e-10)
    assert mo["e1"] == pytest.approx(tot[1] / tot[0], abs=1e-8)
    assert mo["e2"] == pytest.approx(tot[2] / tot[0], abs=1e-8)
    assert mo["kept"] == pytest.approx(r if method != "full" else 1.0, abs=1e-10)


def test_special_cases_of_the_limit_measure():
    lam = 0.3
    c_full = M / (1 + M**2 + lam)
    for r in (0.02, 0.2, 0.9):
        # random pruning and HT-weighted calibration leave the limit measure = the full law
        for method in ("random", "calibrated"):
            mo = pr.pruned_moments(method, r, M, 0.3)
            assert mo["e1"] == pytest.approx(M, abs=1e-10) and mo["e2"] == pytest.approx(1 + M**2, abs=1e-10)
            assert pr.pruned_minimiser(method, r, M, 0.3, lam) == pytest.approx(c_full, rel=1e-10)
        # keep-hardest: truncated normal mean m - phi(Phi^-1(r))/r
        e1 = pr.pruned_moments("label_aware", r, M)["e1"]
        assert e1 == pytest.approx(M - stats.norm.pdf(stats.norm.ppf(r)) / r, abs=1e-10)
        # the label-agnostic cut keeps P(y|x): its limit is never flipped
        assert pr.pruned_moments("label_agnostic", r, M)["e1"] > 0
        assert pr.limit_accuracy("label_agnostic", r, M) == pytest.approx(float(pr.bayes_accuracy(M)))
    # alpha = 1: the calibrated/mixed set is a plain random subset
    assert pr.pruned_minimiser("mix", 0.1, M, 1.0) == pytest.approx(M / (1 + M**2), rel=1e-12)
    # the unweighted mix at alpha = 0.5 is still flipped at r = 0.05 and barely positive at r = 0.1
    assert pr.pruned_minimiser("mix", 0.05, M, 0.5) < 0 < pr.pruned_minimiser("mix", 0.1, M, 0.5) < 0.05


@pytest.mark.parametrize("method,r", [("label_aware", 0.1), ("label_aware", 0.3), ("label_aware", 0.5),
                                      ("label_agnostic", 0.1), ("mix", 0.05), ("mix", 0.3)])
def test_sign_of_limit_is_loss_independent(method, r):
    """The docstring's claim: for a convex loss l(y w.x) with l'(0) < 0 the limit's sign is sign(E_nu[s]); check it
    for the L2-penalised logistic loss by minimising E_nu[log(1 + exp(-c s))] + lam c^2/2 by quadrature."""
    lam = 0.05
    pcs = pr.pieces(method, r, M, 0.5)
    z = sum(pi * om * (stats.norm.cdf(b - M) - stats.norm.cdf(a - M)) for a, b, pi, om in pcs)

    def risk(c):
        tot = 0.0
        for a, b, pi, om in pcs:
            lo, hi = max(a, M - 12), min(b, M + 12)
            if hi > lo:
                tot += pi * om * integrate.quad(lambda s: np.logaddexp(0.0, -c * s) * stats.norm.pdf(s - M), lo, hi)[0]
        return tot / z + lam * c * c / 2

    c_log = optimize.minimize_scalar(risk, bounds=(-30, 30), method="bounded", options={"xatol": 1e-8}).x
    assert np.sign(c_log) == np.sign(pr.pruned_moments(method, r, M, 0.5)["e1"])


def test_delta_method_random_pruning_is_the_usual_ols_variance():
    n, d, r = 10_000, 10, 0.2
    dm = pr.delta_method("random", r, M, d, n)
    k = r * n
    # OLS on k points: residual variance E(1 - c s)^2 = 1/(1 + m^2), so var(w_perp) = 1/(k (1 + m^2))
    assert dm["var_perp"] == pytest.approx(1 / (k * (1 + M**2)), rel=1e-10)
    assert dm["k_eff"] == pytest.approx(k, rel=1e-10)
    assert dm["c"] == pytest.approx(0.5, rel=1e-12)
    # gap ~ phi(m)(d-1)(1+m^2)/(2 k m) at leading order (plus the small c-fluctuation factor)
    assert dm["gap"] == pytest.approx(stats.norm.pdf(M) * (d - 1) * (1 + M**2) / (2 * k * M), rel=0.02)
    assert math.isnan(pr.delta_method("label_aware", 0.1, M, d, n)["gap"])  # flipped: no near-Bayes expansion


# ------------------------------------------------------------------------------------------------ simulator


TRACES: list[str] = []


@functools.lru_cache(maxsize=None)
def _batched(n, d, reference):
    """One compiled program per (n, d, reference), vmapped over keys; r, alpha, lam are traced arguments."""

    def one(key, r, alpha, lam):
        TRACES.append(reference)  # Python side effect: runs only while tracing
        return pr.simulate_pruning(key, n=n, d=d, m=M, r=r, alpha=alpha, lam=lam, reference=reference)

    return jax.jit(jax.vmap(one, in_axes=(0, None, None, None)))


def _run(n, d, r, alpha, lam, reference, seeds, root=0):
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(root), i))(jnp.arange(seeds))
    return jax.tree.map(np.asarray, _batched(n, d, reference)(keys, r, alpha, lam))


N_MC, D_MC = 4000, 5


@pytest.mark.parametrize("reference", ["oracle", "full-data"])
def test_mc_agrees_with_pruned_measure_minimiser(reference):
    n, d, alpha, lam, seeds = N_MC, D_MC, 0.5, 0.1, 200
    for r in (0.1, 0.3):
        out = _run(n, d, r, alpha, lam, reference, seeds)
        for method in pr.METHODS[1:]:
            c = pr.pruned_minimiser(method, r, M, alpha, lam)
            dm = pr.delta_method(method, r, M, d, n, alpha, lam)
            samples = out["coef"][:, COL[method]]
            se = samples.std(ddof=1) / math.sqrt(seeds)
            allowance = d / dm["k_eff"] * max(abs(c), 1.0)  # the check's declared finite-size term
            assert abs(samples.mean() - c) <= 4 * se + allowance, (r, method, samples.mean(), c, se)
            if method in ("random", "calibrated"):  # independent-inclusion designs: the delta-method SD is right
                assert samples.std(ddof=1) == pytest.approx(dm["sd_c"], rel=0.25), (r, method)
        acc = out["acc"]
        assert np.all(acc[:, COL["label_aware"]] < 0.5)  # flipped in every trial
        assert np.all(acc[:, COL["calibrated"]] > float(pr.bayes_accuracy(M)) - 0.03)
        k = round(r * n)
        assert np.all(out["kept"][:, COL["full"]] == n)
        assert np.all(out["kept"][:, 1:] == k)
    # r (and alpha, lam) are traced: both keep ratios ran on one compiled program
    assert TRACES.count(reference) == 1


def _naive(key, n, d, r, alpha, lam):
    """Reference simulator without the shortcuts: jax.random.normal draws and explicit random permutations for the
    random subset and the random fill-in (sort-based selection of the hardest)."""
    k_y, k_z, k_p, k_q = jax.random.split(key, 4)
    y = jnp.where(jax.random.bernoulli(k_y, 0.5, (n,)), 1.0, -1.0)
    x = y[:, None] * jnp.zeros(d).at[0].set(M)[None, :] + jax.random.normal(k_z, (n, d))
    w0 = pr._ridge(x, y, jnp.ones(n), lam)
    k = round(r * n)
    k_r = max(1, round(alpha * k))
    k_s = k - k_r
    order = jnp.argsort(y * (x @ w0))
    rand = jnp.zeros(n).at[jax.random.permutation(k_p, n)[:k]].set(1.0)
    hard = jnp.zeros(n).at[order[:k_s]].set(1.0)
    rest = jnp.argsort(jnp.where(hard > 0, jnp.inf, jax.random.uniform(k_q, (n,))))[:k_r]
    fill = jnp.zeros(n).at[rest].set(1.0)
    ws = [pr._ridge(x, y, rand, lam), pr._ridge(x, y, hard + (n - k_s) / k_r * fill, lam)]
    return jnp.stack([w[0] for w in ws])


def test_shortcuts_match_naive_simulator_in_distribution():
    n, d, r, alpha, lam, seeds = N_MC, D_MC, 0.1, 0.5, 0.0, 300
    fast = _run(n, d, r, alpha, lam, "full-data", seeds, root=1)["coef"][:, [COL["random"], COL["calibrated"]]]
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(2), i))(jnp.arange(seeds))
    slow = np.asarray(jax.jit(jax.vmap(lambda k: _naive(k, n, d, r, alpha, lam)))(keys))
    for j in range(2):
        a, b = fast[:, j], slow[:, j]
        z_mean = (a.mean() - b.mean()) / math.sqrt(a.var(ddof=1) / seeds + b.var(ddof=1) / seeds)
        assert abs(z_mean) < 4, (j, a.mean(), b.mean())
        # variances: log-ratio with SE ~ sqrt(2/(R-1)) * sqrt(2) (kurtosis ~ normal)
        assert abs(math.log(a.var(ddof=1) / b.var(ddof=1))) < 4 * math.sqrt(4 / (seeds - 1)), (j,)


@pytest.mark.parametrize("k", [0, 1, 7, 100, 999, 1000])
def test_smallest_selects_exactly_the_k_smallest(k):
    v = jax.random.normal(jax.random.key(k), (1000,))
    mask = np.asarray(pr._smallest(v, jnp.int32(k)))
    expected = np.zeros(1000, dtype=bool)
    expected[np.argsort(np.asarray(v))[:k]] = True
    np.testing.assert_array_equal(mask, expected)
    first = np.asarray(pr._first(jnp.asarray(~expected), jnp.int32(5)))
    assert first.sum() == min(5, 1000 - k) and not np.any(first & expected)


def test_weighted_ridge_matches_direct_solution():
    rng = np.random.default_rng(0)
    x, y, w = rng.normal(size=(50, 4)), rng.choice([-1.0, 1.0], 50), rng.uniform(0, 3, 50) * (rng.random(50) < 0.6)
    lam = 0.2
    got = np.asarray(pr._ridge(jnp.asarray(x), jnp.asarray(y), jnp.asarray(w), lam))
    want = np.linalg.solve(x.T @ (w[:, None] * x) / w.sum() + lam * np.eye(4), x.T @ (w * y) / w.sum())
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # accuracy formula: Phi(<w, mu>/||w||)
    assert pr.accuracy_of(np.array([1.0, 1.0]), np.array([M, 0.0])) == pytest.approx(stats.norm.cdf(M / math.sqrt(2)))


def test_float32_and_bad_reference():
    sim = jax.jit(lambda k: pr.simulate_pruning(k, n=500, d=3, m=M, r=0.2, alpha=0.5, lam=0.0, dtype=jnp.float32))
    out = sim(jax.random.key(1))
    assert out["acc"].dtype == jnp.float32 and np.all(np.isfinite(np.asarray(out["acc"])))
    assert float(out["kept"][COL["random"]]) == 100
    with pytest.raises(ValueError, match="reference"):
        pr.simulate_pruning(jax.random.key(1), n=500, d=3, m=M, r=0.2, alpha=0.5, lam=0.0, reference="bogus")


# ------------------------------------------------------------------------------------------------ check inputs


def test_check_refuses_inputs_outside_the_claim():
    check = get_check("rmt.pruning-high-compression")
    with pytest.raises(BadInput, match="flip threshold"):
        resolve_params(check, "quick", {"mu": "2.0"})  # r*(2) = 0.058: keep = 0.1..0.3 predicts no flip
    with pytest.raises(BadInput, match="too small"):
        resolve_params(check, "quick", {"n": "2000"})  # finite-n gap of calibrated pruning beyond the margin share
    with pytest.raises(BadInput, match="out of range"):
        resolve_params(check, "quick", {"keep": "0.4"})  # not high compression
    with pytest.raises(BadInput, match="both"):
        resolve_params(check, "quick", {"keep_curve": "0.3,1"})
    p = resolve_params(check, "quick", {"mu": "2.0", "keep": "0.03", "n": "200000"})
    assert p["keep"] == (0.03,)
