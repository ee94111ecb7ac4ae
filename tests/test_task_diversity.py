"""Tests for theory_lab.icl.task_diversity: Lu et al.'s ridgeless formulas against the reference numbers of the notes
(in_context_learning.md section 4c), the exact sufficient-statistic prompt sampler against the data-level one, and the
simulator's tracing/vmapping contract."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.icl import task_diversity as td

Z = 4.0  # agreement threshold in standard errors (fixed seeds: deterministic)


# ------------------------------------------------------------------------------------------------------------------
# Theory
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kappa,e_icl", [(0.2, 0.858), (0.5, 0.596), (1.0, 0.257), (2.0, 0.137), (4.0, 0.120),
                                         (10.0, 0.115)])
def test_icl_transition_table_from_notes(kappa, e_icl):
    # notes 4c: alpha = 10, tau = 10, rho = 0.01
    assert td.ridgeless_icl(10, kappa, 10, 0.01) == pytest.approx(e_icl, abs=6e-4)


def test_gap_and_idg_reference_numbers():
    assert td.ridgeless_idg(10, 10, 10, 0.01) == pytest.approx(0.112, abs=6e-4)
    gaps = {0.2: 0.825, 0.5: 0.533, 1.0: 0.164, 2.0: 0.030, 4.0: 0.009, 10.0: 0.003}
    for k, g in gaps.items():
        assert td.ridgeless_icl(10, k, 10, 0.01) - td.ridgeless_idg(10, k, 10, 0.01) == pytest.approx(g, abs=1.2e-3)
    # notes 4c validation point alpha = 2, kappa = 4, tau = 2 (rho = 0.01): 0.734 / 0.652
    assert td.ridgeless_icl(2, 4, 2, 0.01) == pytest.approx(0.734, abs=6e-4)
    assert td.ridgeless_idg(2, 4, 2, 0.01) == pytest.approx(0.652, abs=6e-4)


def test_unlimited_diversity_limit_matches_closed_form():
    # kappa, tau -> inf: rho + (1 + rho)/(alpha + 1 + rho)  (notes: 0.10174 vs 0.10173 at alpha = 10)
    for alpha, rho in [(10, 0.01), (2, 0.5), (5, 0.0)]:
        assert td.ridgeless_icl(alpha, 1e9, 1e9, rho) == pytest.approx(td.icl_infinite_diversity(alpha, rho), rel=1e-6)
    assert td.icl_infinite_diversity(10, 0.01) == pytest.approx(0.10173, abs=1e-5)


def test_m_kappa_limits_and_monotone_transition():
    x = np.array([0.01, 0.1, 1.0, 3.0])
    np.testing.assert_allclose(td.m_kappa(x, 1e12), 1 / (1 + x), rtol=1e-9)
    e = [td.ridgeless_icl(10, k, 10, 0.01) for k in np.geomspace(0.1, 50, 30)]
    assert np.all(np.diff(e) < 0)  # more task diversity never hurts ICL in this model
    assert td.ridgeless_icl(10, 0.01, 10, 0.01) > 0.9  # few tasks: near the zero predictor 1 + rho


def test_sizes():
    assert td.sizes(20, 10, 0.25, 10) == (200, 5, 4000)
    assert td.sizes(7, 1.5, 0.01, 2) == (10, 1, 98)


# ------------------------------------------------------------------------------------------------------------------
# Simulators
# ------------------------------------------------------------------------------------------------------------------


def _features(f, seed, w, ell, rho, r=20_000):
    keys = jax.random.split(jax.random.key(seed), r)
    h, xq, yq = jax.vmap(lambda k: f(k, w, ell, rho))(keys)
    return np.asarray(h), np.asarray(yq)


@pytest.mark.parametrize("ell,rho", [(12, 0.3), (2, 0.0)])
def test_statistic_sampler_matches_data_level_in_distribution(ell, rho):
    d = 6
    w = jax.random.normal(jax.random.key(1), (d,))
    w = w / jnp.linalg.norm(w) * jnp.sqrt(d)
    h1, y1 = _features(td.prompt_features, 2, w, ell, rho)
    h2, y2 = _features(td.prompt_features_naive, 3, w, ell, rho)
    r = h1.shape[0]
    for a, b in ((h1, h2), (h1**2, h2**2), (y1[:, None] * h1, y2[:, None] * h2)):
        se = np.hypot(a.std(0), b.std(0)) / np.sqrt(r)
        assert np.all(np.abs(a.mean(0) - b.mean(0)) <= Z * se), (a.mean(0), b.mean(0))
    # exact first moments: E h_x = (d/l) l E[y x] = d * w/d = w ; E h_y = E y^2 = ||w||^2/d + rho
    se = h1.std(0) / np.sqrt(r)
    assert np.all(np.abs(h1.mean(0)[:d] - np.asarray(w)) <= Z * se[:d])
    assert abs(h1.mean(0)[d] - (1 + rho)) <= Z * se[d]


TRACES: list[bool] = []


def _make_run(naive):
    def run(keys, n_tasks):
        TRACES.append(naive)
        return jax.vmap(lambda k, kk: td.simulate_task_diversity(k, d=6, ell=24, n=216, k_max=24, n_test=200,
                                                                 n_tasks=kk, rho=0.1, naive=naive))(keys, n_tasks)
    return jax.jit(run)


_RUN = {False: _make_run(False), True: _make_run(True)}  # one compile per sampler for the whole file


def _sim(naive, seed, n_tasks, trials=32):
    keys = jax.random.split(jax.random.key(seed), trials)
    return {k: np.asarray(v) for k, v in _RUN[naive](keys, jnp.full(trials, float(n_tasks))).items()}


def test_simulator_statistic_vs_naive_and_memorisation():
    a, b = _sim(False, 0, 3), _sim(True, 1, 3)
    for stat in ("e_icl", "e_idg"):
        se = np.hypot(a[stat].std(), b[stat].std()) / np.sqrt(a[stat].size)
        assert abs(a[stat].mean() - b[stat].mean()) <= Z * se, (stat, a[stat].mean(), b[stat].mean())
    # few tasks (K = 3 < d = 6): the fit memorises, new tasks are much worse than pretraining ones
    assert a["e_icl"].mean() > 2 * a["e_idg"].mean()
    c = _sim(False, 2, 24)
    assert c["e_icl"].mean() < 0.7 * a["e_icl"].mean()  # more tasks: in-context learning


def test_n_tasks_is_traced_no_recompile():
    o1, o2 = _sim(False, 5, 2), _sim(False, 5, 8)
    assert TRACES.count(False) == 1
    assert not np.allclose(o1["e_icl"], o2["e_icl"])
    for v in o1.values():
        assert v.shape == (32,) and np.all(np.isfinite(v))


def test_dtype():
    dtype = jnp.float32
    f = jax.jit(lambda k: td.simulate_task_diversity(k, d=3, ell=4, n=12, k_max=4, n_test=10, n_tasks=2, rho=0.1,
                                                     dtype=dtype))
    out = f(jax.random.key(1))
    assert all(v.dtype == dtype for v in out.values())


# ------------------------------------------------------------------------------------------------------------------
# The check's Richardson pair
# ------------------------------------------------------------------------------------------------------------------


def test_richardson_pair_keeps_ratios_and_cancels_1_over_d():
    from proofs_checks import task_diversity as chk

    p = {"d": 12, "alpha": 10.0, "tau": 10.0, "kappa": (0.25, 0.3, 8.0), "rho": 0.01, "lam": 1e-6, "n_test": 50}
    pts = chk.CHECK.points(p)
    small, large = pts[:3], pts[3:]
    for s, g in zip(small, large):
        assert g["d"] == 2 * s["d"] and g["kappa"] == s["kappa"]
        assert g["ell"] / g["d"] == s["ell"] / s["d"]
        assert g["n_tasks"] / g["d"] == s["n_tasks"] / s["d"]
        assert g["n"] / g["d"] ** 2 == s["n"] / s["d"] ** 2
    # exact O(1/d) bias cancels: e(d) = e + a/d at d = 12, 24
    e, a = 0.8, 6.0
    x1, x2 = np.full(4, e + a / 12), np.full(4, e + a / 24)
    value, se, bad, _ = chk.richardson(x1, x2)
    assert value == pytest.approx(e) and se == 0 and bad == 0
    _, se, _, dof = chk.richardson(np.array([0.0, 2.0]), np.array([0.0, 1.0]))
    assert se == pytest.approx(np.sqrt(4 * 0.5**2 + 1.0**2))
    # Welch: two SEs of 1 dof each, variance parts 1 and 1 -> (1 + 1)^2 / (1 + 1) = 2 dof
    assert dof == pytest.approx(2.0)
