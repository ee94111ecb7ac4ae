"""theory_lab.gaussian: AS 241's inverse normal CDF against SciPy, and the draws' law (fixed seeds)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sp
from scipy import stats

from theory_lab import gaussian as g


def test_ndtri_matches_scipy_over_the_whole_range():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0, 1, 100_000), 10.0 ** -rng.uniform(0, 16.3, 50_000),
                        1 - 10.0 ** -rng.uniform(0.3, 15.9, 50_000),
                        [0.075, 0.925, 0.5, 2.0**-54, 0.5 - 2.0**-54, 0.5 + 2.0**-53]])  # region edges, extremes
    p = p[(p > 0) & (p < 1)]
    got, ref = np.asarray(g.ndtri(p)), sp.ndtri(p)
    away = np.abs(ref) > 1e-3
    assert np.max(np.abs(got - ref)[away] / np.abs(ref[away])) < 4e-15
    assert np.max(np.abs(got - ref)[~away]) < 1e-17


def test_log_unit_is_log():
    x = 10.0 ** -np.random.default_rng(1).uniform(0, 300, 50_000)
    x = np.concatenate([x, [0.5, 1.0, np.sqrt(0.5), np.sqrt(2.0) / 2 + 1e-16, 2.0**-54]])
    np.testing.assert_allclose(np.asarray(g._log_unit(jnp.asarray(x))), np.log(x), rtol=5e-16, atol=1e-300)


def test_draws_are_standard_normal_and_batching_invariant():
    key = jax.random.key(3)
    z = np.asarray(jax.jit(lambda k: g.standard_normal(k, (1000, 500)))(key)).ravel()
    assert z.dtype == np.float64
    se = 1 / np.sqrt(z.size)
    assert abs(z.mean()) < 4 * se and abs(z.var() - 1) < 4 * np.sqrt(2) * se
    assert abs(stats.skew(z)) < 4 * np.sqrt(6) * se and abs(stats.kurtosis(z)) < 4 * np.sqrt(24) * se
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(np.mean(z > 0) - 0.5) < 4 * 0.5 * se  # the sign bit
    # vmapped draws equal unbatched ones (the engine's chunking must not change numbers)
    keys = jax.random.split(key, 5)
    batched = np.asarray(jax.jit(jax.vmap(lambda k: g.standard_normal(k, (7, 3))))(keys))
    one = jax.jit(lambda k: g.standard_normal(k, (7, 3)))  # compiled as the engine compiles (eager differs by 1 ulp)
    single = np.stack([np.asarray(one(k)) for k in keys])
    np.testing.assert_array_equal(batched, single)


def test_wrong_transform_is_detected():
    # Negative control of the law test above: a transform off by 1% in scale fails the variance check.
    z = 1.01 * np.asarray(g.standard_normal(jax.random.key(3), (1000, 500))).ravel()
    se = 1 / np.sqrt(z.size)
    assert abs(z.var() - 1) > 4 * np.sqrt(2) * se


@pytest.mark.parametrize("dtype", [jnp.float32])
def test_other_dtypes_use_jax_random_normal(dtype):
    with jax.enable_x64(False):
        key = jax.random.key(0)
        np.testing.assert_array_equal(np.asarray(g.standard_normal(key, (4,), dtype)),
                                      np.asarray(jax.random.normal(key, (4,), dtype)))
