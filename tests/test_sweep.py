"""Sweeps: bit-identical results whatever the chunk size and device count; one compile per static group;
resumption after SIGKILL recomputes nothing finished and ends bit-identical to an uninterrupted run."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from theory_lab.sweep import Grid, run_sweep

PROBE = Path(__file__).with_name("sweep_probe.py")
ROOT = PROBE.parent.parent


def _probe_env(devices: int) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run_probe(tmp_path, devices, chunk, *extra, env=None):
    out = tmp_path / f"d{devices}_c{chunk}.npz"
    subprocess.run([sys.executable, str(PROBE), str(out), str(chunk), *map(str, extra)], check=True,
                   env=env or _probe_env(devices), capture_output=True, text=True, timeout=300)
    return dict(np.load(out))


def test_bit_identical_across_chunk_sizes_and_device_counts(tmp_path):
    runs = {(d, c): _run_probe(tmp_path, d, c) for d in (1, 4) for c in (1, 7, "all")}
    assert runs[(4, 1)]["devices"] == 4 and runs[(1, 1)]["devices"] == 1
    ref = runs[(1, "all")]
    for key, r in runs.items():
        for name in ("top", "moments", "walk"):
            assert r[name].shape == ref[name].shape, key
            assert r[name].tobytes() == ref[name].tobytes(), f"{name} differs for devices, chunk = {key}"
    # Chunking really happened: on one device chunk 1 means one block (16 pairs) per chunk, 54 pairs per group.
    assert runs[(1, 1)]["total"] == 2 * 4
    assert runs[(1, "all")]["total"] == 2


def test_sigkill_mid_sweep_resumes_without_recomputing(tmp_path):
    store_dir = tmp_path / "store"
    out = tmp_path / "killed.npz"
    proc = subprocess.Popen([sys.executable, str(PROBE), str(out), "16", str(store_dir), "0.3"], env=_probe_env(1),
                            stdout=subprocess.PIPE, text=True)
    seen = 0
    for line in proc.stdout:
        if line.startswith("progress"):
            seen += 1
        if seen == 3:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    finished = [p for p in (store_dir / "probe" / "run").glob("*.npz")]
    assert len(finished) >= 3  # at least the chunks reported before the kill are on disk
    resumed = _run_probe(tmp_path, 1, 16, store_dir)
    assert len(finished) < resumed["total"]  # killed mid-run
    assert resumed["computed"] == resumed["total"] - len(finished)
    fresh = _run_probe(tmp_path, 1, 16)
    for name in ("top", "moments", "walk"):
        assert resumed[name].tobytes() == fresh[name].tobytes()
    # A finished sweep is served from the store: nothing recomputed.
    again = _run_probe(tmp_path, 1, 16, store_dir)
    assert again["computed"] == 0


def test_one_compile_per_static_group_and_no_recompile_for_new_dynamic_values():
    traces = []

    def sim(key, static, dynamic):
        traces.append(static["n"])
        return {"x": jnp.sum(jax.random.normal(key, (static["n"],))) * dynamic["a"]}

    grid = Grid.product(static={"n": [3, 4]}, dynamic={"a": [1.0, 2.0, 3.0]})
    run_sweep(sim, grid, seeds=16, chunk_size=16)
    assert sorted(traces) == [3, 4]  # one trace per static group, despite 3 chunks per group
    run_sweep(sim, Grid.product(static={"n": [3]}, dynamic={"a": [7.0, 8.0]}), seeds=16, chunk_size=16)
    assert sorted(traces) == [3, 4]  # new dynamic values reuse the compiled program


def test_sweep_result_is_labelled():
    def sim(key, static, dynamic):
        return {"y": dynamic["a"] + 0.0 * jax.random.normal(key), "v": jnp.ones((3,)) * static["n"]}

    grid = Grid.product(static={"n": [2, 5]}, dynamic={"a": [0.5, 1.5]})
    res = run_sweep(sim, grid, seeds=3)
    assert res.data["y"].shape == (4, 3) and res.data["v"].shape == (4, 3, 3)
    assert np.all(res.sel("y", n=5, a=1.5) == 1.5)
    assert res.coords["n"].tolist() == [2, 2, 5, 5]
    with pytest.raises(KeyError):
        res.index(a=0.5)


def test_grid_validation():
    with pytest.raises(ValueError):
        Grid(("n",), ("n",), ({"n": 1},))
    with pytest.raises(ValueError):
        Grid.from_points([], static=())
    with pytest.raises(ValueError):
        run_sweep(lambda k, s, d: {}, Grid.product({"n": [1]}, {}), seeds=0)


def test_memory_budget_splits_into_chunks_with_identical_results():
    def sim(key, static, dynamic):
        x = jax.random.normal(key, (static["n"], static["n"]))
        return {"t": jnp.trace(x @ x.T) * dynamic["a"]}

    grid = Grid.product(static={"n": [16]}, dynamic={"a": [1.0, 2.0]})
    whole = run_sweep(sim, grid, seeds=128, memory_budget=1 << 30)
    small = run_sweep(sim, grid, seeds=128, memory_budget=20_000)
    assert whole.chunks_total == 1 and small.chunks_total > 1
    assert whole.data["t"].tobytes() == small.data["t"].tobytes()
