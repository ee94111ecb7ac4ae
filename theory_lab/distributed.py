"""Multi-process (multi-host) sweeps on JAX's own multi-controller runtime.

The same program runs in every process (one per host, or several per host); ``jax.distributed.initialize`` joins
them, ``jax.devices()`` then lists every device of every process, and a sweep's batch axis is sharded over that global
mesh. Every process builds the same global index arrays and hands JAX only the shards its own devices hold
(``make_array_from_callback``); results are gathered to every process (``process_allgather``) so each can judge the
evidence, and only process 0 writes chunks, manifest, record and figures.

Launch, e.g. two processes on one machine (CPU collectives go through gloo)::

    THEORY_LAB_COORDINATOR=127.0.0.1:12355 THEORY_LAB_NUM_PROCESSES=2 THEORY_LAB_PROCESS_ID=0 \\
        theory-lab --distributed check rmt.marchenko-pastur &
    THEORY_LAB_COORDINATOR=127.0.0.1:12355 THEORY_LAB_NUM_PROCESSES=2 THEORY_LAB_PROCESS_ID=1 \\
        theory-lab --distributed check rmt.marchenko-pastur

On SLURM, TPU pod slices and other clusters that ``jax.distributed.initialize()`` detects by itself, leave the three
variables unset (see docs/distributed.md).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["initialize", "process_count", "is_main", "put", "gather", "barrier", "broadcast"]


def initialize() -> None:
    """Join the multi-controller runtime; coordinator, size and rank from THEORY_LAB_* variables or auto-detection."""
    import jax

    platforms = os.environ.get("JAX_PLATFORMS", "")
    if platforms in ("", "cpu"):
        # CPU devices of different processes talk through gloo (the default CPU collectives are single-process).
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    kwargs: dict[str, Any] = {}
    if os.environ.get("THEORY_LAB_COORDINATOR"):
        kwargs = {
            "coordinator_address": os.environ["THEORY_LAB_COORDINATOR"],
            "num_processes": int(os.environ["THEORY_LAB_NUM_PROCESSES"]),
            "process_id": int(os.environ["THEORY_LAB_PROCESS_ID"]),
        }
    jax.distributed.initialize(**kwargs)


def process_count() -> int:
    import jax

    return jax.process_count()


def is_main() -> bool:
    """True in process 0 (the only one that writes files), and in any single-process run."""
    import jax

    return jax.process_index() == 0


def put(global_value: np.ndarray, sharding) -> Any:
    """A global array from a host array every process holds in full; each process supplies only its own shards."""
    import jax

    if jax.process_count() == 1:
        return jax.device_put(global_value, sharding)
    return jax.make_array_from_callback(global_value.shape, sharding, lambda idx: global_value[idx])


def gather(x: Any) -> np.ndarray:
    """The full value of a (possibly multi-process) global array as a NumPy array, in every process."""
    import jax

    if jax.process_count() == 1:
        return np.asarray(x)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def barrier(name: str) -> None:
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def broadcast(value: int) -> int:
    """Process 0's integer, in every process (keeps decisions such as chunk sizes identical everywhere)."""
    import jax

    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    return int(multihost_utils.broadcast_one_to_all(np.asarray(value, dtype=np.int64)))
