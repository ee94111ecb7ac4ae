"""float32 and float64 simulations of the same check reach the same verdict on CPU (each in its own process:
one process, one precision)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


CASES = {
    "loops.gaussian-refit": [],
    "rmt.hmrt-ridgeless": ["--set", "gamma=0.5,0.8,1.25,3", "--set", "lam=0,0.1", "--seeds", "200"],
}


def _run(tmp_path, precision: str) -> dict:
    env = dict(os.environ, THEORY_LAB_RESULTS=str(tmp_path / "results"), JAX_PLATFORMS="cpu")
    records = {}
    for check, sets in CASES.items():
        # -W error: a float64 request truncated to float32 (a simulator ignoring the precision) is an error.
        out = subprocess.run([sys.executable, "-W", "error::UserWarning", "-m", "theory_lab.cli", "check", check,
                              "--precision", precision, "--json", "--no-figures", *sets],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode in (0, 1), out.stderr[-2000:]
        records[check] = json.loads(out.stdout)
    return records


def test_float32_and_float64_agree_within_tolerance(tmp_path):
    r32, r64 = _run(tmp_path, "float32"), _run(tmp_path, "float64")
    for check in CASES:
        assert r32[check]["sim_dtype"] == "float32" and r64[check]["sim_dtype"] == "float64"
        assert r32[check]["run_key"] != r64[check]["run_key"]  # never served from the other precision's cache
        assert r32[check]["verdict"] == r64[check]["verdict"] == "PASS", r32[check]["rules"][0]["summary"]
        assert r32[check]["control"]["verdict"] == "FAIL"


def test_float32_by_accident_warns_and_a_chosen_float32_does_not(monkeypatch):
    # A script that imports checks without the CLI leaves JAX's x64 off: the float64 check would quietly simulate in
    # float32 (how a phantom calibration result of 2026-12-03 came about). Warn then, not when float32 was chosen.
    import warnings

    import jax
    import pytest

    from theory_lab.claims import get_check, warn_if_unchosen_float32

    check = get_check("rmt.bbp")
    monkeypatch.delenv("THEORY_LAB_PRECISION", raising=False)
    with jax.enable_x64(False):
        with pytest.warns(RuntimeWarning, match="rmt.bbp: JAX's x64 is off"):
            warn_if_unchosen_float32(check)
        monkeypatch.setenv("THEORY_LAB_PRECISION", "float32")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warn_if_unchosen_float32(check)
    monkeypatch.delenv("THEORY_LAB_PRECISION")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_unchosen_float32(check)  # x64 on: float64 as declared
