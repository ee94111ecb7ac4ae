"""Crash safety of the store: SIGKILL at 20 random moments, concurrent writers, and corrupt chunks.

No partial or corrupt file is ever read as a result: a chunk counts only when the manifest lists it and its bytes
match the recorded sha256; everything else is recomputed, bit-identically, from the same keys.
"""

import json
import random
import signal
import subprocess
import sys
import time

import numpy as np

from theory_lab.store import RunStore
from tests.test_sweep import PROBE, _probe_env, _run_probe


def _store_is_consistent(store_dir) -> int:
    """Every chunk the manifest lists loads and verifies; returns how many there are."""
    run = store_dir / "probe" / "run"
    if not (run / "manifest.json").exists():
        return 0
    json.loads((run / "manifest.json").read_text())  # the manifest itself is never half-written
    rs = RunStore("probe", "run", {}, root=store_dir)
    names = rs.chunk_names()
    for name in names:
        assert rs.load_chunk(name) is not None, f"manifest lists {name} but it does not verify"
    return len(names)


def test_sigkill_at_20_random_moments_then_resume_is_bit_identical(tmp_path):
    rng = random.Random(20)
    store_dir = tmp_path / "store"
    out = tmp_path / "partial.npz"
    env = _probe_env(1) | {"PROBE_SEEDS": "90"}  # 68 chunks of 16 pairs
    finished_counts = []
    for k in range(20):
        proc = subprocess.Popen([sys.executable, str(PROBE), str(out), "16", str(store_dir), "0.03"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if k % 2 == 0:
            time.sleep(rng.uniform(0.2, 3.0))  # during start-up, compilation or the first chunks
        else:
            # After some new chunks (progress is also reported for the chunks served from disk, which come first),
            # at a random instant of a later chunk's compute or write.
            wanted = (finished_counts[-1] if finished_counts else 0) + rng.randint(1, 12)
            for line in proc.stdout:
                wanted -= line.startswith("progress")
                if wanted <= 0:
                    break
            time.sleep(rng.uniform(0.0, 0.06))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
        finished_counts.append(_store_is_consistent(store_dir))
    print("chunks on disk after each kill:", finished_counts)
    assert finished_counts == sorted(finished_counts)  # resumes only ever add chunks
    assert len(set(finished_counts)) > 5  # kills landed at many different stages of the sweep
    resumed = _run_probe(tmp_path, 1, 16, store_dir, env=env)
    fresh = _run_probe(tmp_path, 1, 16, env=env)
    assert resumed["computed"] == resumed["total"] - finished_counts[-1]
    for name in ("top", "moments", "walk"):
        assert resumed[name].tobytes() == fresh[name].tobytes()


def test_two_processes_on_the_same_run_do_not_corrupt_it(tmp_path):
    store_dir = tmp_path / "store"
    procs = [subprocess.Popen([sys.executable, str(PROBE), str(tmp_path / f"p{i}.npz"), "16", str(store_dir), "0.01"],
                              env=_probe_env(1), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for i in range(2)]
    for p in procs:
        assert p.wait(timeout=240) == 0, p.stderr.read()
    a, b = (dict(np.load(tmp_path / f"p{i}.npz")) for i in range(2))
    fresh = _run_probe(tmp_path, 1, 16)
    for name in ("top", "moments", "walk"):
        assert a[name].tobytes() == fresh[name].tobytes() == b[name].tobytes()
    _store_is_consistent(store_dir)
    # A later run serves or recomputes what the racing manifests dropped, and still agrees.
    again = _run_probe(tmp_path, 1, 16, store_dir)
    assert again["top"].tobytes() == fresh["top"].tobytes()


def test_corrupt_chunk_is_recomputed_not_read(tmp_path):
    store_dir = tmp_path / "store"
    first = _run_probe(tmp_path, 1, 16, store_dir)
    chunk = sorted((store_dir / "probe" / "run").glob("*.npz"))[0]
    chunk.write_bytes(chunk.read_bytes()[:100])  # truncated, as by a torn write
    again = _run_probe(tmp_path, 1, 16, store_dir)
    assert again["computed"] == 1
    assert again["top"].tobytes() == first["top"].tobytes()
