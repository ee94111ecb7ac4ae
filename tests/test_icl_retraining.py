"""Tests for theory_lab.loops.icl_retraining: reference numbers from the notes (in_context_learning.md section 5(i)),
the exact finite-T contraction c against a direct Monte-Carlo of tr(S^T S)/d, the statistic-level sampler against
the data-level reference in distribution, and both against the exact error curve (seeds fixed: deterministic)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.claims import BadInput, resolve_params
from theory_lab.loops import icl_retraining as ic

Z = 4.0  # agreement threshold in standard errors, fixed before looking
R = 2000


def _mean_se(x):
    x = np.asarray(x, dtype=np.float64)
    return x.mean(0), x.std(0, ddof=1) / np.sqrt(x.shape[0])


# --- theory ------------------------------------------------------------------------------------------------------


def test_reference_numbers_from_notes():
    # notes 5(i), d = 10, T = 50, sigma^2 = 1: c = 0.834 (lam 0.1), 0.546 (lam 0.3); limits 1.547, 0.565;
    # gen 5 / gen 30 formula values 1.538 / 7.95 (lam 0), 1.026 / 1.542 (lam 0.1), 0.550 / 0.565 (lam 0.3)
    assert round(ic.contraction(5, 45, 10), 3) == 0.834
    assert round(ic.contraction(15, 35, 10), 3) == 0.547  # notes print 0.546 (truncated); exact 0.54658
    assert round(ic.stationary_error(5, 45, 10, 1.0), 3) == 1.547
    assert round(ic.stationary_error(15, 35, 10, 1.0), 3) == 0.565
    for (n_r, n_s), (e5, e30) in {(0, 50): (1.538, 7.95), (5, 45): (1.025, 1.541), (15, 35): (0.550, 0.565)}.items():
        assert ic.expected_error(5, n_r, n_s, 10, 1.0) == pytest.approx(e5, abs=1.5e-3)
        assert ic.expected_error(30, n_r, n_s, 10, 1.0) == pytest.approx(e30, abs=6e-3)
    # synthetic-size table (n = 25, d = 10): formula v/(1-c) = 0.714, 0.376, 0.255, 0.214
    got = [ic.stationary_error(25, m, 10, 1.0) for m in (0, 25, 100, 400)]
    np.testing.assert_allclose(got, [0.714, 0.376, 0.255, 0.214], atol=1.5e-3)
    assert all(b < a for a, b in zip(got, got[1:]))  # monotone decreasing: no interior optimum


def test_contraction_limits_and_asymptotics():
    assert ic.contraction(0, 30, 5) == 1.0 and ic.contraction(30, 0, 5) == 0.0
    # the formula's general branch is continuous into the end points
    assert ic.contraction(1, 400, 5) == pytest.approx(1.0, abs=0.01)
    assert ic.contraction(400, 1, 5) == pytest.approx(0.0, abs=1e-3)
    for lam in (0.1, 0.5, 0.9):
        n_r, n_s = ic.split_real(100_000, lam)
        assert ic.contraction(n_r, n_s, 4) == pytest.approx((1 - lam) ** 2, rel=1e-3)
    assert ic.split_real(50, 0.1) == (5, 45) and ic.split_real(10, 0.25) == (3, 7)
    i = np.arange(6)
    np.testing.assert_allclose(ic.expected_error(i, 0, 30, 5, 2.0), (i + 1) * 2.0 * 5 / 24)  # linear growth
    with pytest.raises(ValueError):
        ic.contraction(3, 8, 10)  # T < d + 2


def test_exact_contraction_matches_direct_monte_carlo():
    d, n_r, n_s, r = 4, 3, 9, 6000
    X = jax.random.normal(jax.random.key(0), (r, n_r + n_s, d), dtype=jnp.float64)
    W = jnp.einsum("rti,rtj->rij", X, X)
    B = jnp.einsum("rti,rtj->rij", X[:, n_r:], X[:, n_r:])
    S = jnp.linalg.solve(W, B)
    vals = np.asarray(jnp.sum(S * S, axis=(1, 2)) / d)
    m, se = _mean_se(vals)
    assert abs(m - ic.contraction(n_r, n_s, d)) <= Z * se
    assert abs(m - ic.contraction_asymptotic(n_r, n_s, d)) > 10 * Z * se  # the notes' (1 - lam)^2 is off at T = 12


# --- simulators ----------------------------------------------------------------------------------------------------

D, T, G = 4, 12, 12


@pytest.fixture(scope="module")
def runs():
    keys = jax.random.split(jax.random.key(1), R)
    data = jax.jit(jax.vmap(lambda k, nr: ic.simulate_icl_retraining(k, d=D, T=T, generations=G, n_real=nr,
                                                                      sigma2=0.5), in_axes=(0, None)))
    fast = jax.jit(jax.vmap(lambda k, nr: ic.simulate_icl_retraining_fast(k, d=D, generations=G, n_real=nr,
                                                                           n_synth=T - nr, sigma2=0.5),
                            in_axes=(0, None)))
    keys2 = jax.random.split(jax.random.key(2), R)
    return {(name, nr): np.asarray(f(kk, nr)["err"]) for name, f, kk in (("data", data, keys), ("fast", fast, keys2))
            for nr in (0, 2, 6)}


@pytest.mark.parametrize("name", ["data", "fast"])
@pytest.mark.parametrize("n_real", [0, 2, 6])
def test_simulators_match_exact_error(runs, name, n_real):
    err = runs[(name, n_real)]
    assert err.shape == (R, G + 1)
    i = np.array([0, 3, 12])
    m, se = _mean_se(err[:, i])
    theory = ic.expected_error(i, n_real, T - n_real, D, 0.5)
    assert np.all(np.abs(m - theory) <= Z * se), (m, theory, se)


@pytest.mark.parametrize("n_real", [0, 2, 6])
def test_fast_sampler_matches_data_level_in_distribution(runs, n_real):
    a, b = runs[("data", n_real)], runs[("fast", n_real)]
    for i in (0, 6, 12):
        m1, s1 = _mean_se(a[:, i])
        m2, s2 = _mean_se(b[:, i])
        assert abs(m1 - m2) <= Z * np.hypot(s1, s2), (i, m1, m2)
        # the spread too (log scale: lighter tails)
        l1, l2 = np.log(a[:, i]), np.log(b[:, i])
        v1, v2 = l1.var(ddof=1), l2.var(ddof=1)
        sv = np.hypot(v1 * np.sqrt(2 / (R - 1)), v2 * np.sqrt(2 / (R - 1)))
        assert abs(v1 - v2) <= 2 * Z * sv, (i, v1, v2)


def test_wishart_factor_singular_and_regular():
    f = jax.jit(jax.vmap(lambda k, dof: ic.wishart_factor(k, dof, 3), in_axes=(0, None)))
    keys = jax.random.split(jax.random.key(5), 4000)
    for dof in (0.0, 2.0, 3.0, 7.0):
        G_ = np.asarray(f(keys, dof))
        W = G_ @ np.swapaxes(G_, 1, 2)
        m, se = _mean_se(W.reshape(len(W), -1))
        assert np.all(np.abs(m - (dof * np.eye(3)).ravel()) <= Z * se + 1e-12), dof
        if dof < 3:
            assert np.allclose(np.linalg.matrix_rank(W[:20]), int(dof))


def test_counts_are_traced_and_float32_runs():
    traces = []

    @jax.jit
    def run(key, n_real, n_synth):
        traces.append(None)
        return ic.simulate_icl_retraining_fast(key, d=3, generations=4, n_real=n_real, n_synth=n_synth, sigma2=1.0)

    a = run(jax.random.key(0), jnp.asarray(0.0), jnp.asarray(10.0))
    b = run(jax.random.key(0), jnp.asarray(4.0), jnp.asarray(30.0))
    assert len(traces) == 1 and a["err"].shape == b["err"].shape == (5,)
    out = ic.simulate_icl_retraining(jax.random.key(0), d=3, T=8, generations=3, n_real=2, sigma2=1.0,
                                     dtype=jnp.float32)
    assert out["err"].dtype == jnp.float32 and np.all(np.isfinite(np.asarray(out["err"])))
    with pytest.raises(ValueError):
        ic.simulate_icl_retraining(jax.random.key(0), d=5, T=6, generations=2, n_real=0, sigma2=1.0)


def test_check_validates_and_builds_one_program():
    from proofs_checks.icl_retraining import CHECK

    with pytest.raises(BadInput, match="d\\+4"):
        resolve_params(CHECK, "quick", {"T": "12"})
    with pytest.raises(BadInput, match="phase"):
        resolve_params(CHECK, "quick", {"phase_synth": "5,30"})
    with pytest.raises(BadInput):
        resolve_params(CHECK, "quick", {"phase_lam": "1.0"})
    p = resolve_params(CHECK, "quick", {"d": "3", "lam": "0.2", "synth": "0,10", "sigma2": "0.5"})
    grid = CHECK.grid(p)
    # every least-squares (lam, size) point shares one compiled program; the LSA loop is the second
    assert [g["learner"] for g, _ in grid.groups()] == ["ls", "lsa"]
    assert len(grid) == 1 + 2 + len(p["phase_lam"]) * len(p["phase_synth"]) + len(p["lsa_lam"])
    with pytest.raises(BadInput, match="lsa_lam"):
        resolve_params(CHECK, "quick", {"lsa_lam": "0.3,0.5"})
    with pytest.raises(BadInput, match="init_scale"):
        resolve_params(CHECK, "quick", {"lsa_init_scale": "3"})


# --- trained LSA learner -------------------------------------------------------------------------------------------


def test_lsa_theory_reference():
    from theory_lab.icl import lsa

    assert ic.lsa_gamma_inverse(2, 8) == pytest.approx(8 / 11)
    assert ic.lsa_zero_predictor_error(2, 8) == pytest.approx(2 * 64 / 121)
    np.testing.assert_allclose(lsa.gamma_inverse(np.eye(5), 20), ic.lsa_gamma_inverse(5, 20) * np.eye(5))


_LSA_RUN = jax.jit(jax.vmap(lambda k, lam, n2: ic.simulate_lsa_retraining(
    k, d=2, N=8, batch=8, steps=20, generations=12, lam=lam, lr=0.05, init_scale=0.4, noise2=n2), in_axes=(0, 0, 0)))


def _lsa_runs(lam, noise2):
    f = _LSA_RUN  # one compiled program for both LSA tests (12 generations)
    lam = np.asarray(lam, dtype=np.float64)
    return np.asarray(f(jax.random.split(jax.random.key(7), len(lam)), lam, np.full(len(lam), noise2))["err"])


def test_lsa_noiseless_self_loop_is_a_fixed_point():
    # lam = 0 and a noiseless generator: the warm start already fits its own labels exactly (zero gradient)
    err = _lsa_runs(np.zeros(96), 0.0)  # same shapes as the next test: no recompile
    assert err.shape == (96, 13)
    np.testing.assert_allclose(err, np.repeat(err[:, :1], 13, axis=1), rtol=1e-10)
    assert np.all(err[:, 0] < 1.0)  # generation 0 trained towards Gamma^{-1} from the ZFB init


def test_lsa_loop_grows_without_real_data_and_stays_bounded_with_it():
    from proofs_checks.icl_retraining import late_slope_weights

    R = 48
    err = _lsa_runs(np.repeat([0.0, 0.5], R), 1.0)
    slopes = err @ late_slope_weights(err.shape[1] - 1)
    m0, se0 = _mean_se(slopes[:R])
    m5, se5 = _mean_se(slopes[R:])
    assert m0 > Z * se0, (m0, se0)  # lam = 0: significant growth
    assert abs(m5) <= Z * se5, (m5, se5)  # lam = 0.5: flat (bounded)
    assert err[R:, -1].mean() < 0.5 * err[:R, -1].mean()
