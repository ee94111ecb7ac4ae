"""A sweep on JAX's multi-controller runtime: 2 local processes x 2 forced CPU devices each (gloo collectives on
loopback) give results bit-identical to a single process, and only process 0 writes the store."""

import socket
import subprocess
import sys

import numpy as np

from tests.test_crash_safety import _store_is_consistent
from tests.test_sweep import PROBE, _probe_env, _run_probe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_two_devices_each_match_one_process(tmp_path):
    store_dir = tmp_path / "store"
    port = _free_port()
    procs = []
    for pid in range(2):
        env = _probe_env(2) | {"THEORY_LAB_COORDINATOR": f"127.0.0.1:{port}", "THEORY_LAB_NUM_PROCESSES": "2",
                               "THEORY_LAB_PROCESS_ID": str(pid)}
        procs.append(subprocess.Popen([sys.executable, str(PROBE), str(tmp_path / f"p{pid}.npz"), "all",
                                       str(store_dir)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    try:
        for p in procs:
            assert p.wait(timeout=110) == 0, p.stderr.read().decode()[-3000:]
    finally:
        for p in procs:  # never leave a process behind, whatever happened
            if p.poll() is None:
                p.kill()
                p.wait()
    outs = [dict(np.load(tmp_path / f"p{pid}.npz")) for pid in range(2)]
    single = _run_probe(tmp_path, 1, "all")
    for o in outs:
        assert o["devices"] == 4 and o["processes"] == 2
        for name in ("top", "moments", "walk"):
            assert o[name].tobytes() == single[name].tobytes()
    assert _store_is_consistent(store_dir) == outs[0]["total"]


def test_cli_check_distributed_matches_single_process(tmp_path):
    import json
    import os
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    argv = ["-m", "theory_lab.cli", "--distributed", "check", "loops.gaussian-refit", "--set", "t=6", "--seeds", "128",
            "--json", "--no-figures"]
    port = _free_port()
    procs = []
    for pid in range(2):
        env = _probe_env(2) | {"THEORY_LAB_COORDINATOR": f"127.0.0.1:{port}", "THEORY_LAB_NUM_PROCESSES": "2",
                               "THEORY_LAB_PROCESS_ID": str(pid), "THEORY_LAB_RESULTS": str(tmp_path / "multi")}
        procs.append(subprocess.Popen([sys.executable, *argv], env=env, cwd=root, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    try:
        outs = [p.communicate(timeout=110) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    assert outs[1][0].strip() == ""  # only process 0 reports
    multi = json.loads(outs[0][0])
    env = dict(os.environ, THEORY_LAB_RESULTS=str(tmp_path / "single"), JAX_PLATFORMS="cpu")
    single = json.loads(subprocess.run([sys.executable, *[a for a in argv if a != "--distributed"]], env=env,
                                       cwd=root, capture_output=True, text=True, timeout=110, check=True).stdout)
    assert multi["environment"]["device_count"] == 4
    assert multi["rules"] == single["rules"] and multi["verdict"] == "PASS"
    assert len(list((tmp_path / "multi").rglob("record.json"))) == 1
