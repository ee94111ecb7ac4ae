"""Tests for theory_lab.kernels.edim: the published formulas and their internal inconsistencies (notes section 6(b)),
the rank definitions on known spectra, and Monte-Carlo checks of the simulator (exact He-init norm identity; the
published law's layer-1 value is refuted by the numerical rank)."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.kernels import edim as ed

Z = 4.0


def test_published_numbers():
    np.testing.assert_allclose(ed.claimed_peak_layers([0, 1, 2]), [1.5517, 4.6551, 7.7585], atol=1e-4)
    assert ed.claimed_peak_height(100) == pytest.approx(79.21, abs=0.01)
    np.testing.assert_allclose(ed.claimed_edim([0, 1, 2], 32), [0.0, 20.3718, 27.7746], atol=1e-4)  # notes 6(c)


def test_published_law_is_internally_inconsistent():
    layers = np.linspace(0, 20, 2001)
    law = ed.claimed_edim(layers, 64)
    assert np.all(np.diff(law) > 0)  # strictly increasing: it has no peaks to "revive"
    assert law[0] == 0.0  # EDim(0) = 0, yet the input batch has rank min(m, d) > 0
    # the claimed peak height is the monotone law evaluated at l_0*
    assert float(ed.claimed_edim(ed.claimed_peak_layers(0), 64)) == pytest.approx(ed.claimed_peak_height(64), rel=1e-12)


def test_rank_definitions_on_known_spectra():
    s = jnp.array([2.0, 2.0, 2.0, 1e-20])
    r_np, r_tol, er = ed._dims(s, 10, 1e-2, jnp.float64)
    assert (float(r_np), float(r_tol)) == (3.0, 3.0)
    assert float(er) == pytest.approx(3.0, rel=1e-12)  # uniform nonzero spectrum of size 3
    s = jnp.array([1.0, 0.5, 0.005])
    _, r_tol, _ = ed._dims(s, 3, 1e-2, jnp.float64)
    assert float(r_tol) == 2.0
    # NumPy-default numerical rank agrees with np.linalg.matrix_rank on a rank-deficient matrix
    a = np.random.default_rng(0).normal(size=(12, 3)) @ np.random.default_rng(1).normal(size=(3, 20))
    sv = jnp.asarray(np.linalg.svd(a, compute_uv=False))
    assert float(ed._dims(sv, 20, 1e-2, jnp.float64)[0]) == np.linalg.matrix_rank(a) == 3


@pytest.fixture(scope="module")
def sims():
    keys = jax.random.split(jax.random.key(0), 1000)
    f = jax.jit(jax.vmap(lambda k: ed.simulate_edim(k, m=16, n=32, d=4, depth=6, rel_tol=1e-2)))
    return {k: np.asarray(v) for k, v in f(keys).items()}


def test_shapes_and_layer_zero(sims):
    for v in sims.values():
        assert v.shape == (1000, 7) and np.all(np.isfinite(v))
    assert np.all(sims["rank_np"][:, 0] == 4)  # input rank min(m, d)
    assert np.all(sims["erank"] <= sims["rank_np"] + 1e-9)


def test_he_init_norm_is_preserved_exactly(sims):
    x = sims["sq_norm"][:, 1:]
    m, se = x.mean(0), x.std(0, ddof=1) / np.sqrt(x.shape[0])
    assert np.all(np.abs(m - 1.0) <= Z * se), (m, se)
    assert np.all(np.abs(m - 1.1 ** np.arange(1, 7)) > Z * se)  # the control's 10% gain error is rejected


def test_published_law_refuted_at_layer_one(sims):
    # a rank-4 input becomes (numerically) full rank m = 16 after one ReLU layer of width 32 (law: 0.64 m = 10.2)
    assert np.mean(sims["rank_np"][:, 1]) > 15.5
    assert abs(np.mean(sims["rank_np"][:, 1]) - float(ed.claimed_edim(1, 16))) > 5
    # entropy rank decreases after its early hump (no revival): mean at layer 6 below layer 2
    er = sims["erank"].mean(0)
    assert er[6] < er[2]


def test_dtype_and_rel_tol_traced():
    out = ed.simulate_edim(jax.random.key(1), m=4, n=6, d=3, depth=2, rel_tol=0.1, dtype=jnp.float32)
    assert all(v.dtype == jnp.float32 and v.shape == (3,) for v in out.values())
    traces = []

    @jax.jit
    def run(tol):
        traces.append(None)
        return ed.simulate_edim(jax.random.key(1), m=4, n=6, d=3, depth=2, rel_tol=tol)

    run(jnp.asarray(0.1))
    run(jnp.asarray(0.5))
    assert len(traces) == 1
    with pytest.raises(ValueError):
        ed.simulate_edim(jax.random.key(1), m=4, n=6, d=3, depth=0, rel_tol=0.1)
