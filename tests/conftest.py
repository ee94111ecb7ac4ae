"""Test configuration: float64 and strict rank promotion, as the checks assume (one process, one precision)."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

from theory_lab.runtime import configure_xla_env  # noqa: E402

configure_xla_env()  # XLA CPU's multi-threaded Eigen pool can wedge a vmapped computation (theory_lab/runtime.py)

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
