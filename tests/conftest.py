"""Test configuration: float64 and strict rank promotion, as the checks assume (one process, one precision)."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Test workers share the cores: one OpenBLAS thread each (why: theory_lab.cli._limit_blas_threads). Set before NumPy
# and SciPy load their OpenBLAS copies.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
