"""Process-level XLA settings that must be in place before JAX starts (no JAX import here).

XLA's CPU backend can wedge: a vmapped computation (seen with batched QR/eigh/Cholesky) never completes and the
process waits forever in ``BlockUntilReady`` with its Eigen worker threads parked. It happened in this suite's CI
(``tests/test_hrp.py``), in two LoRA/HRP check runs and in a sweep with a Cholesky inside ``shard_map``; the same
wedge is documented upstream (PyAutoFit #1528/#1530: 14/16 hangs with the multi-threaded Eigen pool, 0/12 without).
Turning the multi-threaded Eigen pool off avoids it. The cost is small here: sweeps are parallel over vmapped trials
and devices, not inside one matmul, and on a 2-core machine running two test workers the pool only oversubscribes.
Set ``THEORY_LAB_EIGEN_THREADS=1`` to keep XLA's default pool.
"""

from __future__ import annotations

import os

EIGEN_FLAG = "--xla_cpu_multi_thread_eigen=false"


def with_safe_cpu_flags(flags: str | None) -> str:
    """``flags`` (an XLA_FLAGS value) with the multi-threaded Eigen pool turned off, unless it says otherwise."""
    flags = (flags or "").strip()
    if "xla_cpu_multi_thread_eigen" in flags or os.environ.get("THEORY_LAB_EIGEN_THREADS") == "1":
        return flags
    return f"{flags} {EIGEN_FLAG}".strip()


def configure_xla_env() -> None:
    """Apply :func:`with_safe_cpu_flags` to this process's XLA_FLAGS (call before JAX is imported)."""
    os.environ["XLA_FLAGS"] = with_safe_cpu_flags(os.environ.get("XLA_FLAGS"))
