"""Unit tests of theory_lab.icl.lsa: ZFB theory against the notes' reference numbers, Thm 4.2 as printed against the
independent derivation, exact constructions, the exact-expectation training loss against the data-level loss, and a
short training run (Monte-Carlo agreement)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.icl import estimators as E
from theory_lab.icl import lsa
from theory_lab.icl import tasks as T

jax.config.update("jax_enable_x64", True)

ANISO = np.array([4.0, 2.0, 1.0, 0.5, 0.25])


def test_gamma_reference_numbers():
    np.testing.assert_allclose(lsa.gamma_inverse(np.ones(5), 20), np.eye(5) * 20 / 26)
    np.testing.assert_allclose(np.diag(lsa.gamma_inverse(ANISO, 20)), [0.2180, 0.4020, 0.6957, 1.0959, 1.5385],
                               atol=1e-4)
    u, s = lsa.zfb_factor_limits(np.ones(5), 20)
    assert u == pytest.approx(1.3115, abs=1e-4) and u * s == pytest.approx(1.0)
    # Ahn et al. Thm 1 isotropic: Q0 = -(n/(n+d+1)) I = -eta* I
    assert lsa.gamma_inverse(np.ones(7), 13)[0, 0] == pytest.approx(E.gd_one_step_optimal_eta(13, 7))


def test_zfb_risk_reference_and_thm42():
    np.testing.assert_allclose(lsa.zfb_risk(np.ones(5), 20, [5, 20, 200]), [3.8166, 1.1538, 0.3550], atol=1e-4)
    assert lsa.zfb_risk(np.ones(5), 20, 1e15) == pytest.approx(0.2663, abs=1e-4)  # training-length floor
    np.testing.assert_allclose(lsa.zfb_risk(ANISO, 20, [20, 200]), [1.5884, 0.5476], atol=1e-4)
    np.testing.assert_allclose(lsa.zfb_risk(np.ones(10), 40, [40, 400, 5]), [2.1569, 0.6344, 13.998], atol=1e-3)
    # Thm 4.2 as printed (averaged over w) equals the E[S C S] derivation
    for spec, N in ((ANISO, 20), (np.array([3.0, 0.1, 1.0]), 7)):
        for M in (3, 20, 500):
            assert lsa.zfb_thm42_risk(spec, N, M) == pytest.approx(lsa.zfb_risk(spec, N, M), rel=1e-12)
    # isotropic closed form: d gamma^2 [(d+1)/M + (d+1)^2/N^2]
    g = 20 / 26
    assert lsa.zfb_risk(np.ones(5), 20, 33) == pytest.approx(5 * g * g * (6 / 33 + 36 / 400))
    assert lsa.zfb_cor43_bound(ANISO, 20, 20) == pytest.approx(10.29, abs=0.01)


def test_covariate_scaling_reference():
    vals = [lsa.zfb_risk(np.ones(5), 20, 1000, c=c) for c in (0.5, 1.0, 2.0, 3.0)]
    np.testing.assert_allclose(vals, [0.82, 0.28, 87.4, 1592], rtol=1e-3, atol=0.005)  # notes: 2-3 digits


def test_constructions_exact():
    out = lsa.simulate_construction_error(jax.random.PRNGKey(0), d=5, N=20, n_layers=3, n_prompts=100, eta=0.7)
    assert float(out["err_one"]) < 1e-12 and float(out["err_multi"]) < 1e-12
    assert float(out["err_one_wrong"]) > 0.01 and float(out["err_multi_wrong"]) > 0.01


def test_zfb_predict_matches_effective_predictor():
    d, N = 4, 9
    WPV, WKQ = lsa.zfb_init(jax.random.PRNGKey(1), d, 0.5)
    pr = T.sample_prompts(jax.random.PRNGKey(2), 50, N, d)
    A = WPV[d, d] * WKQ[:d, :d]
    # balanced weights: ŷ = x_q^T A^T g  (g = X^T y / N)
    g = jnp.einsum("bki,bk->bi", pr.X, pr.y) / N
    np.testing.assert_allclose(lsa.zfb_predict(WPV, WKQ, pr.X, pr.y, pr.xq), jnp.einsum("bi,ij,bj->b", pr.xq, A.T, g),
                               rtol=1e-12, atol=1e-12)
    assert float(jnp.linalg.norm(WKQ[:d, :d] / WKQ[d - 1, d - 1] * WPV[d, d])) > 0  # non-degenerate init
    assert float(jnp.linalg.norm(WKQ[:d, :d] @ WKQ[:d, :d].T)) > 0


@pytest.mark.parametrize("query_term", [True, False])
def test_conditional_loss_matches_data_level(query_term):
    """The exact-expectation loss (context averaged out) against the data-level loss: same mean, same gradient."""
    d, N = 3, 6
    spec = jnp.array([2.0, 1.0, 0.5])
    k = jax.random.split(jax.random.PRNGKey(5), 3)
    WPV = 0.5 * jax.random.normal(k[0], (d + 1, d + 1))
    WKQ = 0.5 * jax.random.normal(k[1], (d + 1, d + 1))
    pr = T.sample_prompts(k[2], 120_000, N, d, spectrum=spec)

    def data_loss(a, b):
        if query_term:
            yhat = lsa.zfb_predict(a, b, pr.X, pr.y, pr.xq)
        else:
            yhat = lsa.lsa_forward(-a[None], b[None], pr.X, pr.y, pr.xq)  # masked layer, P = -W_PV
        return 0.5 * (yhat - pr.yq) ** 2

    def cond_loss(a, b):
        return lsa.conditional_loss(a[d], b[:, :d], pr.w, pr.xq, jnp.diag(spec), N, query_term)

    dl, cl = data_loss(WPV, WKQ), cond_loss(WPV, WKQ)
    se = float(jnp.std(dl - cl) / np.sqrt(dl.size))  # paired: same (w, x_q)
    assert abs(float(jnp.mean(dl) - jnp.mean(cl))) < 4.5 * se
    gd = jax.grad(lambda a, b: jnp.mean(data_loss(a, b)), argnums=(0, 1))(WPV, WKQ)
    gc = jax.grad(lambda a, b: jnp.mean(cond_loss(a, b)), argnums=(0, 1))(WPV, WKQ)
    for x, y in ((gd[0][d], gc[0][d]), (gd[1][:, :d], gc[1][:, :d])):
        np.testing.assert_allclose(x, y, atol=0.05 * float(jnp.max(jnp.abs(x))))


def test_short_training_reaches_gamma_inverse_and_risk():
    """A short ZFB training run (4 seeds, 1000 Adam steps of 64) gets the effective matrix within 1% of Γ⁻¹ and the MC
    risk agrees."""
    f = jax.jit(jax.vmap(lambda k: lsa.simulate_zfb_training(k, d=3, N=10, test_lengths=(10, 40), batch=64,
                                                             steps=1000, n_test=4000, lr=1e-2, init_scale=0.4,
                                                             spectrum=(2.0, 1.0, 0.5), scales=(2.0,))))
    o = f(jax.random.split(jax.random.PRNGKey(7), 4))
    gi = lsa.gamma_inverse([2.0, 1.0, 0.5], 10)
    np.testing.assert_allclose(np.asarray(o["product"]).mean(0), gi, atol=0.01 * gi.max())
    for j, M in enumerate((10, 40)):
        m = float(o["risk"][:, j].mean())
        se = float(np.sqrt(o["risk_se2"][:, j].sum()) / 4)
        assert abs(m - lsa.zfb_risk([2.0, 1.0, 0.5], 10, M)) < 4.5 * se + 0.01
    m = float(o["risk_scaled"][:, 0].mean())
    assert m == pytest.approx(lsa.zfb_risk([2.0, 1.0, 0.5], 10, 40, c=2.0), rel=0.1)
    assert m > 4 * 3.5  # worse than predicting 0 (c^2 tr Λ = 14)


def test_trained_masked_layer_is_gd():
    o = jax.jit(jax.vmap(lambda k: lsa.simulate_lsa_training(k, d=3, N=10, n_layers=1, batch=64, steps=1000,
                                                             n_test=2000, lr=1e-2, init_std=0.1,
                                                             eta_gd=(10 / 14, 10 / 13))))(
        jax.random.split(jax.random.PRNGKey(8), 4))
    diag = np.diagonal(np.asarray(o["product"]), axis1=1, axis2=2)
    np.testing.assert_allclose(diag.mean(), 10 / 14, atol=0.01)
    assert float(o["gap"].mean()) < 0.01 * E.gd_one_step_risk(10, 3, 10 / 14) < float(o["gap_wrong"].mean())


def test_readout_is_the_query_map_and_averages_the_query_exactly():
    """lsa_readout gives v with ŷ(x_q) = <v, x_q> for random full L-layer weights; ‖v − w‖² is the query-averaged
    squared error (paired Monte-Carlo over x_q)."""
    d, N, L = 3, 7, 2
    k = jax.random.split(jax.random.PRNGKey(11), 3)
    P = 0.4 * jax.random.normal(k[0], (L, d + 1, d + 1))
    Q = 0.4 * jax.random.normal(k[1], (L, d + 1, d + 1))
    pr = T.sample_prompts(k[2], 50, N, d)
    v = lsa.lsa_readout(P, Q, pr.X, pr.y)
    np.testing.assert_allclose(jnp.einsum("bi,bi->b", v, pr.xq), lsa.lsa_forward(P, Q, pr.X, pr.y, pr.xq),
                               rtol=1e-10, atol=1e-12)
    xq = jax.random.normal(jax.random.PRNGKey(12), (20_000, d))
    yh = lsa.lsa_forward(P, Q, jnp.broadcast_to(pr.X[0], (20_000, N, d)), jnp.broadcast_to(pr.y[0], (20_000, N)), xq)
    e = (yh - xq @ pr.w[0]) ** 2
    exact = float(jnp.sum((v[0] - pr.w[0]) ** 2))
    assert abs(float(e.mean()) - exact) < 4.5 * float(e.std()) / np.sqrt(e.size)


def test_gdpp_residual_is_the_sparse_lsa_and_reduces_to_gd():
    d, N = 4, 9
    a, b = np.array([0.5, 1.1, 0.8]), np.array([0.3, -0.2, 0.7])
    L = len(a)
    P = np.zeros((L, d + 1, d + 1))
    Q = np.zeros((L, d + 1, d + 1))
    for i in range(L):
        P[i, :d, :d], P[i, d, d], Q[i, :d, :d] = b[i] * np.eye(d), 1.0, -a[i] * np.eye(d)
    pr = T.sample_prompts(jax.random.PRNGKey(13), 6, N, d)
    yh = np.asarray(lsa.lsa_forward(jnp.asarray(P), jnp.asarray(Q), pr.X, pr.y, pr.xq))
    for i in range(6):
        X = np.asarray(pr.X[i])
        ev, U = np.linalg.eigh(X.T @ X / N)
        A = U @ np.diag(1 - lsa.gdpp_residual(ev, a, b)) @ U.T
        assert float(np.asarray(pr.xq[i]) @ A @ np.asarray(pr.w[i])) == pytest.approx(yh[i], rel=1e-10, abs=1e-12)
    # b = 0: plain L-step GD, same Wishart draws as estimators.gd_steps_risk_mc
    r0, _ = lsa.gdpp_risk_mc(20, 5, [0.516, 1.250], [0.0, 0.0], n_draws=20_000, seed=3)
    assert r0 == pytest.approx(E.gd_steps_risk_mc(20, 5, [0.516, 1.250], n_draws=20_000, seed=3)[0], rel=1e-12)


def test_gdpp_optimum_reference_and_inert_last_b():
    a, b, r, se = lsa.gdpp_optimal(20, 5, 2, n_draws=20_000, n_val=200_000)
    assert len(a) == 2 and len(b) == 1
    assert r == pytest.approx(0.057, rel=0.05) and se < 0.003  # notes: 2 plain GD steps 0.362, 3 steps 0.134
    s = np.array([[0.3, 1.0, 2.2]])
    np.testing.assert_array_equal(lsa.gdpp_residual(s, a, b), lsa.gdpp_residual(s, a, np.r_[b, 7.0]))
