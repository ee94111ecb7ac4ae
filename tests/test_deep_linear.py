"""Tests for theory_lab.kernels.deep_linear: reference numbers from the notes (section 7.1(d)), the closed form
against a numerical ODE solution, and the GD simulator against the sigmoid (decoupling, basis independence)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from theory_lab.kernels import deep_linear as dl

S = np.array([3.0, 2.0, 1.0, 0.5])


def test_reference_numbers_from_notes():
    np.testing.assert_allclose(dl.mode_strength(2.0, S, 1e-3), [2.94572, 1.19718, 0.05182, 0.00730], atol=6e-6)
    np.testing.assert_allclose(dl.learning_time(S, 1e-3), [1.7005, 2.4494, 4.5520, 8.4098], atol=6e-5)


def test_closed_form_solves_the_mode_ode():
    t = np.linspace(0, 6, 13)
    for s, u0 in [(3.0, 1e-3), (0.5, 0.2), (1.0, 1.5)]:  # also u0 > s: decays to s
        sol = solve_ivp(lambda _, u: 2 * u * (s - u), (0, 6), [u0], t_eval=t, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(dl.mode_strength(t, s, u0), sol.y[0], rtol=1e-7)
    # learning time is the inverse of u(t)
    tl = dl.learning_time(S, 1e-3, 0.7)
    np.testing.assert_allclose(dl.mode_strength(tl, S, 1e-3), 0.7 * S, rtol=1e-12)
    # the control variant (rate 1) is twice as slow
    np.testing.assert_allclose(dl.learning_time(S, 1e-3, rate=1.0), 2 * dl.learning_time(S, 1e-3), rtol=1e-14)
    assert np.all(np.isfinite(dl.mode_strength(1e4, S, 1e-3)))  # no overflow at long times


def test_gd_follows_sigmoid_and_stays_decoupled():
    steps, lr = 2500, 0.002
    out = jax.vmap(lambda k: dl.simulate_deep_linear(k, n_in=5, n_hidden=7, n_out=4, steps=steps,
                                                     svals=jnp.asarray(S), u0=1e-3, lr=lr))(
        jax.random.split(jax.random.key(0), 4))
    u = np.asarray(out["u"])
    assert u.shape == (4, steps + 1, 4)
    np.testing.assert_allclose(u[:, 0], 1e-3, rtol=1e-12)
    assert float(np.max(np.asarray(out["offdiag"]))) < 1e-12  # modes never couple
    assert np.ptp(u, axis=0).max() < 1e-12  # independent of the random bases U, V, R
    t = np.arange(steps + 1) * lr
    dev = np.abs(u[0] - dl.mode_strength(t[:, None], S, 1e-3))
    allow = lr * S**2 * np.log(S / 1e-3) / 4  # the check's declared Euler term
    assert np.all(dev.max(axis=0) <= allow)
    # wrong theory (no factor 2) is far away
    wrong = np.abs(u[0] - dl.mode_strength(t[:, None], S, 1e-3, rate=1.0)).max(axis=0)
    assert np.all(wrong > 10 * allow)


def test_discrete_map_matches_scalar_euler_exactly():
    # each decoupled balanced mode follows a <- a + lr a (s - a^2), u = a^2
    out = dl.simulate_deep_linear(jax.random.key(1), n_in=3, n_hidden=3, n_out=3, steps=50,
                                  svals=jnp.array([1.5]), u0=0.01, lr=0.01)
    a = np.sqrt(0.01)
    for _ in range(50):
        a = a + 0.01 * a * (1.5 - a * a)
    assert float(out["u"][-1, 0]) == pytest.approx(a * a, rel=1e-12)


def test_lr_and_u0_are_traced_and_dtype():
    traces = []

    @jax.jit
    def run(lr, u0):
        traces.append(None)
        return dl.simulate_deep_linear(jax.random.key(0), n_in=3, n_hidden=3, n_out=3, steps=10,
                                       svals=jnp.array([1.0, 0.5]), u0=u0, lr=lr)

    a = run(jnp.asarray(0.01), jnp.asarray(0.01))
    b = run(jnp.asarray(0.02), jnp.asarray(0.05))
    assert len(traces) == 1 and not np.allclose(np.asarray(a["u"]), np.asarray(b["u"]))
    out = dl.simulate_deep_linear(jax.random.key(0), n_in=3, n_hidden=3, n_out=3, steps=5,
                                  svals=jnp.array([1.0], jnp.float32), u0=0.01, lr=0.01, dtype=jnp.float32)
    assert out["u"].dtype == jnp.float32 and out["u"].shape == (6, 1)
    with pytest.raises(ValueError):
        dl.simulate_deep_linear(jax.random.key(0), n_in=1, n_hidden=3, n_out=3, steps=5, svals=jnp.array([1.0, 2.0]),
                                u0=0.01, lr=0.01)


def test_crossing_times_interpolate_between_steps():
    from proofs_checks.deep_linear import crossing_times

    u = np.array([[0.0, 0.5, 1.0, 1.5], [0.0, 0.1, 0.2, 0.3], [2.0, 3.0, 4.0, 5.0]])
    out = crossing_times(u, 0.75, 0.1)
    assert out[0] == pytest.approx(0.15) and np.isnan(out[1]) and out[2] == 0.0
