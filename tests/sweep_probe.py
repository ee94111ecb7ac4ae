"""Subprocess helper for the sweep tests: runs one sweep under the device count and chunk size given on the command
line (XLA_FLAGS must be set before JAX starts, hence a separate process) and saves the per-trial outputs.

usage: python tests/sweep_probe.py OUT.npz CHUNK|all [STORE_DIR] [SLEEP_PER_CHUNK]
"""

import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

if os.environ.get("THEORY_LAB_COORDINATOR"):  # one of several processes of a multi-process sweep
    from theory_lab import distributed

    distributed.initialize()
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from theory_lab.store import RunStore  # noqa: E402
from theory_lab.sweep import Grid, run_sweep  # noqa: E402


def sim(key, static, dynamic):
    """A trial with the operations real simulators use: normals, a matmul, eigvalsh, a reduction, a scan."""
    k1, k2 = jax.random.split(key)
    x = jax.random.normal(k1, (static["p"], 2 * static["p"])) * dynamic["scale"]
    s = x @ x.T / (2 * static["p"])
    ev = jnp.linalg.eigvalsh(s)

    def step(c, k):
        return c + jax.random.uniform(k) * dynamic["shift"], None

    walk, _ = jax.lax.scan(step, jnp.zeros(()), jax.random.split(k2, 5))
    return {"top": ev[-1], "moments": jnp.stack([jnp.mean(ev), jnp.mean(ev**2)]), "walk": walk}


GRID = Grid.product(static={"p": [5, 8]}, dynamic={"scale": [0.5, 1.0, 2.0], "shift": [0.0, 1.5]})
SEEDS = int(os.environ.get("PROBE_SEEDS", "9"))


def main() -> None:
    out, chunk = sys.argv[1], sys.argv[2]
    store = None
    if len(sys.argv) > 3:
        store = RunStore("probe", "run", {"probe": True}, root=sys.argv[3])
    sleep = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0

    def progress(done, total):
        print(f"progress {done}/{total}", flush=True)
        time.sleep(sleep)

    res = run_sweep(sim, GRID, seeds=SEEDS, root_seed=123, chunk_size=None if chunk == "all" else int(chunk),
                    store=store, progress=progress, memory_budget=1 << 40 if chunk == "all" else None)
    np.savez(out, devices=len(jax.devices()), processes=jax.process_count(), computed=res.chunks_computed,
             total=res.chunks_total, **res.data)
    print("done", res.status, res.chunks_computed, res.chunks_total, flush=True)


if __name__ == "__main__":
    main()
