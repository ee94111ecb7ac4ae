"""Cross-check of theory_lab's analytic NNGP/NTK against neural-tangents 0.6.5 (float64, random architectures,
relative difference <= 1e-5). neural-tangents lives in its own environment, bench/.nt-venv (built by
``bench/neural_tangents.py``); without it this test is skipped. Our own analytic-vs-Monte-Carlo agreement is tested
in test_kernels_analytic.py / test_kernels_empirical.py and always runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NT_PY = ROOT / "bench" / ".nt-venv" / "bin" / "python"


@pytest.mark.skipif(not NT_PY.exists(), reason="bench/.nt-venv absent: build it with `python bench/neural_tangents.py`"
                                                " (needs the package index); the cross-check against neural-tangents "
                                                "is skipped")
def test_matches_neural_tangents_float64():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "neural_tangents.py"), "--crosscheck-only",
                          "--configs", "6"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["versions"]["neural_tangents"] == "0.6.5"
    assert res["ok"] and res["worst_rel"] <= 1e-5, res
