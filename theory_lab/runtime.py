"""Process-level XLA settings that must be in place before JAX starts (no JAX import here).

XLA's CPU backend can wedge: a vmapped computation never completes and the process waits forever in
``BlockUntilReady`` with its worker threads parked. Upstream reports (PyAutoFit #1528/#1530: 14/16 hangs with the
multi-threaded Eigen pool, 0/12 without) tie it to the Eigen pool, so it is turned off here. In this suite that was
not enough: a vmapped batched LAPACK QR (``lora.hrp-init``) hung in CI with and without the flag, and was replaced by
Gram-Schmidt in matmuls (``theory_lab.kernels.hrp.orthonormal_columns``). The flag is kept because it is cheap:
sweeps are parallel over vmapped trials and devices, not inside one matmul, and on a 2-core machine running two
test workers the pool only oversubscribes the cores.
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
