"""Calibration: a fast version of the study (one check, 20 root seeds) — false alarms rare, detections common."""

import pytest

from theory_lab.calibrate import calibrate_check, markdown_table, wilson_interval
from theory_lab.claims import registry


def test_wilson_interval():
    lo, hi = wilson_interval(0, 100)
    assert lo == 0.0 and 0.03 < hi < 0.04
    lo, hi = wilson_interval(50, 100)
    assert lo < 0.5 < hi


def test_gaussian_refit_is_calibrated():
    res = calibrate_check(registry()["loops.gaussian-refit"], roots=20)
    assert res["roots"] == 20
    assert res["false_fails"] <= 2  # alpha = 1%: P(>= 3 of 20) < 0.1%
    assert res["detections"] >= 18
    assert "loops.gaussian-refit" in markdown_table([res], "cpu x1")


def test_zero_theory_rows_are_shifted_by_their_declared_scale():
    from theory_lab.calibrate import perturbed_theory
    from theory_lab.rules import Row

    assert perturbed_theory(Row({}, 2.0, 2.0, 0.1), 0.05) == 2.0 * 1.05
    # a limit of 0 cannot be scaled: it is shifted to effect * scale, and left alone without a scale
    assert perturbed_theory(Row({}, 0.0, 0.0, 0.1, scale=-3.0), 0.05) == 0.05 * 3.0
    assert perturbed_theory(Row({}, 0.0, 0.0, 0.1), 0.05) == 0.0

    # one-sided rules: the theory moves the way the rule can detect
    assert perturbed_theory(Row({}, 2.0, 2.0, 0.1), 0.05, "above") == pytest.approx(1.9)
    assert perturbed_theory(Row({}, -2.0, 2.0, 0.1), 0.05, "below") == pytest.approx(-1.9)
    assert perturbed_theory(Row({}, 0.0, 0.0, 0.1, scale=2.0), 0.05, "above") == pytest.approx(-0.1)
    # a declared scale makes the shift additive for any theory (an exponent: scale 1, min_effect in powers)
    assert perturbed_theory(Row({}, -0.5, -0.5, 0.1, scale=1.0), 0.25) == pytest.approx(-0.25)


def test_parts_with_disjoint_root_ranges_pool_to_the_whole_run():
    from theory_lab.calibrate import merge_results

    check = registry()["loops.gaussian-refit"]
    whole = calibrate_check(check, roots=6, first_root=500)
    parts = [calibrate_check(check, roots=3, first_root=500), calibrate_check(check, roots=3, first_root=503)]
    (pooled,) = merge_results(parts)
    for k in ("roots", "false_fails", "detections", "inconclusive", "false_fail_rate", "power", "groups"):
        assert pooled[k] == whole[k], k
    assert pooled["root_ranges"] == [[500, 503], [503, 506]]
    # the same roots twice are not independent: not pooled, the newest (last) run stands alone
    (again,) = merge_results([parts[0], parts[0]])
    assert again["roots"] == 3
    # a run at another effect makes older counts stale rather than adding to them
    other = dict(parts[1], min_effect=0.5)
    (stale,) = merge_results([parts[0], other])
    assert stale["roots"] == 3 and stale["min_effect"] == 0.5
    # the precision is recorded, and float32 and float64 runs are different simulations: never pooled
    assert whole["precision"] == "float64"
    (single,) = merge_results([parts[0], dict(parts[1], precision="float32")])
    assert single["roots"] == 3 and single["precision"] == "float32"
    assert "(float32)" in markdown_table([single], "cpu x1")


def test_per_root_record_reproduces_the_calibration_counts(capsys):
    """bench/calibration_roots.py (the per-root diagnostic) judges exactly what calibrate_check counts."""
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "calibration_roots", Path(__file__).resolve().parents[1] / "bench" / "calibration_roots.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["loops.gaussian-refit", "--first-root", "500", "--roots", "4"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["root"] for r in lines] == [500, 501, 502, 503]
    assert len({r["hash"] for r in lines}) == 4  # independent roots, different simulations
    res = calibrate_check(registry()["loops.gaussian-refit"], roots=4, first_root=500)
    for name, g in res["groups"].items():
        assert g["false_fails"] == sum(r["true"][name] == "FAIL" for r in lines)
        assert g["detections"] == sum(r["perturbed"][name] == "FAIL" for r in lines)
    assert all(set(r["false_fail_summaries"]) == {k for k, v in r["true"].items() if v == "FAIL"} for r in lines)


def test_log_resumes_a_killed_calibration_with_the_uninterrupted_counts(tmp_path, monkeypatch):
    """A --log records each finished root; a rerun simulates only the missing roots and counts exactly what an
    uninterrupted run counts. A line torn by a kill mid-write is skipped (its root simulated again), never read."""
    import json

    import theory_lab.calibrate as cal

    check = registry()["loops.gaussian-refit"]
    whole = calibrate_check(check, roots=5, first_root=700)
    log = tmp_path / "calib.jsonl"

    class Killed(Exception):
        pass

    def kill_after_two(k, n):
        if k == 2:
            raise Killed

    with pytest.raises(Killed):
        calibrate_check(check, roots=5, first_root=700, log=log, progress=kill_after_two)
    recs = [json.loads(x) for x in log.read_text().split("\n") if x]
    assert [r["root"] for r in recs] == [700, 701]
    # a kill during the third root's write: half a record, no newline
    line = json.dumps(dict(recs[0], root=702))
    with open(log, "a") as f:
        f.write(line[: len(line) // 2])
    simulated = []
    real = cal.judge_roots

    def spy(check, roots, **kw):
        roots = list(roots)
        simulated.extend(roots)
        return real(check, roots, **kw)

    monkeypatch.setattr(cal, "judge_roots", spy)
    resumed = calibrate_check(check, roots=5, first_root=700, log=log)
    assert simulated == [702, 703, 704]
    assert resumed == whole
    assert list(resumed["groups"]) == list(whole["groups"])  # the check's group order, from the log too
    # everything recorded now: a third run simulates nothing, and a second writer's duplicate line counts once
    with open(log, "a") as f:
        f.write(json.dumps(recs[0]) + "\n")
    simulated.clear()
    assert calibrate_check(check, roots=5, first_root=700, log=log) == whole and simulated == []
    assert cal.read_log(log, {k: whole[k] for k in cal._SETTINGS}).keys() == set(range(700, 705))


def test_log_of_other_settings_is_refused(tmp_path, capsys):
    """A log written at another effect (or profile, seeds, precision) would mix two calibrations: one-line error,
    exit 2, the log untouched."""
    import json

    from theory_lab.cli import main

    log = tmp_path / "calib.jsonl"
    calibrate_check(registry()["loops.gaussian-refit"], roots=1, first_root=700, log=log)
    before = log.read_bytes()
    rc = main(["calibrate", "loops.gaussian-refit", "--roots", "2", "--first-root", "700", "--effect", "0.3",
               "--log", str(log), "--json"])
    err = capsys.readouterr().err
    assert rc == 2 and log.read_bytes() == before
    assert len(err.strip().splitlines()) == 1 and "min_effect" in err and str(log) in err
    # the same settings resume: one root from the log, one new
    rc = main(["calibrate", "loops.gaussian-refit", "--roots", "2", "--first-root", "700", "--log", str(log),
               "--json"])
    (res,) = json.loads(capsys.readouterr().out)
    assert rc in (0, 1) and res["roots"] == 2 and len([x for x in log.read_text().split("\n") if x]) == 2


def test_a_damaged_log_never_yields_a_record_that_was_not_written(tmp_path_factory):
    """Whatever a kill or a bad disk leaves (the log cut at any byte, garbage spliced in), read_log returns only
    records that were written whole, and never raises on damage."""
    import json

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from theory_lab.calibrate import _SETTINGS, _append_record, read_log

    settings_ = {"check": "x.y", "profile": "quick", "seeds": 4, "min_effect": 0.05, "precision": "float64"}
    assert set(settings_) == set(_SETTINGS)
    written = [dict(settings_, root=r, true={"g": "PASS"}, perturbed={"g": "FAIL"}, unperturbed_rows=0)
               for r in range(3)]
    src = tmp_path_factory.mktemp("log") / "whole.jsonl"
    for rec in written:
        _append_record(src, rec)
    whole = src.read_bytes()
    path = src.with_name("damaged.jsonl")

    lines = whole.split(b"\n")

    @settings(max_examples=300, deadline=None)
    @given(cut=st.integers(0, len(whole)), junk=st.binary(max_size=40), at=st.integers(0, len(whole)),
           replace=st.booleans())
    def check(cut, junk, at, replace):
        data = whole[:cut]
        at = min(at, len(data))
        # spliced in, or overwriting as many bytes (a changed digit keeps the line valid JSON: the checksum's case)
        damaged = data[:at] + junk + data[at + (len(junk) if replace else 0):]
        path.write_bytes(damaged)
        got = read_log(path, settings_)
        assert all(rec == written[root] for root, rec in got.items())
        # a record is read only if its whole line survived
        assert set(got) <= {json.loads(x)["root"] for x in lines if x and x in damaged.split(b"\n")}

    check()
    # the minimal damage a plain JSON check misses: one digit of a value
    path.write_bytes(whole.replace(b'"root": 1', b'"root": 7'))
    assert set(read_log(path, settings_)) == {0, 2}


def test_a_root_record_is_plain_json_whatever_the_rows_hold(tmp_path):
    """Rows built from NumPy arrays carry NumPy scalars (a theory of np.float64(0) counts as unperturbed): the log
    record must still serialise (it once raised TypeError on an np.int64 count)."""
    import numpy as np

    from theory_lab.calibrate import JudgedRoot, _SETTINGS, _append_record, read_log, root_record
    from theory_lab.claims import Evidence
    from theory_lab.rules import Agree, Row, Verdict

    rows = [Row({"k": np.int64(1)}, np.float64(0.0), np.float64(0.01), np.float64(0.1)),
            Row({"k": 2}, np.float64(1.0), np.float64(1.01), np.float64(0.1))]
    jr = JudgedRoot(7, None, [Evidence("g", Agree(), rows)], {"g": Verdict.PASS}, {"g": Verdict.FAIL})
    settings = {"check": "x.y", "profile": "quick", "seeds": 4, "min_effect": 0.05, "precision": "float64"}
    rec = root_record(jr, settings)
    assert rec["unperturbed_rows"] == 1 and type(rec["unperturbed_rows"]) is int
    _append_record(tmp_path / "log.jsonl", rec)
    assert read_log(tmp_path / "log.jsonl", {k: settings[k] for k in _SETTINGS}) == {7: rec}


def test_sigkill_during_a_logged_calibration_then_resume_counts_as_uninterrupted(tmp_path):
    """A real kill (SIGKILL, no cleanup) of `theory-lab calibrate --log` after some roots: the rerun of the same
    command prints the counts of an uninterrupted run, and the log holds each root once."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    log = tmp_path / "calib.jsonl"
    cmd = [sys.executable, "-m", "theory_lab.cli", "calibrate", "loops.gaussian-refit", "--roots", "6",
           "--first-root", "900", "--log", str(log), "--json"]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and log.read_bytes().count(b"sha256") >= 2:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    done_before = log.read_bytes().count(b"sha256")
    assert 2 <= done_before < 6, done_before  # killed mid-run (else the test says nothing)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode in (0, 1), out.stderr
    (resumed,) = json.loads(out.stdout)
    whole = calibrate_check(registry()["loops.gaussian-refit"], roots=6, first_root=900)
    for k in ("roots", "false_fails", "detections", "inconclusive", "groups", "power", "false_fail_rate"):
        assert resumed[k] == whole[k], k
    roots = [json.loads(x)["root"] for x in log.read_text().split("\n") if x]
    assert sorted(roots) == list(range(900, 906))
