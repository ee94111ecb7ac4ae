"""Calibration of verdicts: how often a check FAILs a true theory (false alarms) and a wrong one (power).

For a check and R root seeds, the quick profile is simulated R times (independent keys: the root seed changes every
(point, seed) key). Each simulation is judged twice by the check's own agreement rules:
  * against the true theory: a FAIL is a false alarm (target rate <= 2%; the rules are built for alpha = 1%);
  * against the theory moved by min_effect (relative: theory + min_effect |theory|), the check's declared minimum
    detectable effect: a FAIL is a detection (target power >= 90%). A row that declares ``Row.scale`` is shifted
    by min_effect * scale instead (a theory of 0 such as a limit gap, or an exponent, where a relative change
    means nothing; the check then declares min_effect in those units); a zero row with no scale is left
    unperturbed and counted in ``unperturbed_rows`` (its check's power is then understated).
Only ``Agree`` evidence is calibrated (bounds and transitions have no "perturbed theory" in this sense). The compiled
programs are reused across root seeds (the root is a traced value), so R runs cost R simulations, not R compiles.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from theory_lab.claims import BadInput, Check, resolve_params, sim_dtype, warn_if_unchosen_float32
from theory_lab.rules import Agree, Verdict, combine

__all__ = ["calibrate_check", "calibration_settings", "judge_roots", "JudgedRoot", "merge_results", "read_log",
           "root_record", "wilson_interval", "markdown_table"]


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default)."""
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, center - half), min(1.0, center + half)


def perturbed_theory(row, effect: float, side: str = "two-sided") -> float:
    """The theory of ``row`` made wrong by ``effect``: theory + effect * |theory| (a relative change, away from 0
    for either sign) when the row declares no scale; theory + effect * |row.scale| when it does (a theory of 0, or
    an exponent, where a relative change is meaningless). A theory of 0 with no scale is left unchanged.

    A one-sided rule can only detect a theory wrong in one direction, so the shift goes that way: ``side="above"``
    (the rule rejects a mean significantly above the theory) lowers the theory by effect * |theory| (or
    effect * scale), ``"below"`` raises it.
    """
    size = abs(row.scale) if row.scale is not None else abs(row.theory)
    if side == "above":
        return row.theory - effect * size
    return row.theory + effect * size


def _agree_verdicts(evidence, effect: float) -> dict[str, Verdict]:
    """Verdict of each ``Agree`` evidence group against the theory perturbed by ``effect`` (0: the true theory)."""
    out = {}
    for e in evidence:
        if isinstance(e.rule, Agree):
            rows = ([dataclasses.replace(r, theory=perturbed_theory(r, effect, e.rule.side)) for r in e.rows]
                    if effect else e.rows)
            out[e.name] = e.rule.evaluate(rows).verdict
    return out


@dataclasses.dataclass
class JudgedRoot:
    """One root seed's simulation and its ``Agree`` groups' verdicts, against the true and the perturbed theory."""

    root: int
    sweep: Any
    evidence: list
    true: dict[str, Verdict]
    perturbed: dict[str, Verdict]


def judge_roots(check: Check, roots: Iterable[int], *, profile: str = "quick", effect: float | None = None,
                seeds: int | None = None) -> Iterator[JudgedRoot]:
    """Simulate ``profile`` once per root seed and judge it as calibration does (``effect`` defaults to the check's
    ``min_effect``, ``seeds`` to the profile's). The one loop behind :func:`calibrate_check`'s counts and
    bench/calibration_roots.py's per-root records."""
    from theory_lab.sweep import run_sweep

    p = resolve_params(check, profile, {})
    settings = calibration_settings(check, profile=profile, effect=effect, seeds=seeds)
    effect, n_seeds = settings["min_effect"], settings["seeds"]
    warn_if_unchosen_float32(check)
    grid = check.grid(p)
    for root in roots:
        sweep = run_sweep(check.simulate, grid, seeds=n_seeds, root_seed=root)
        evidence = check.evidence(p, sweep, control=False)
        yield JudgedRoot(root, sweep, evidence, _agree_verdicts(evidence, 0.0), _agree_verdicts(evidence, effect))


def calibrate_check(check: Check, *, roots: int = 100, profile: str = "quick", first_root: int = 10_000,
                    effect: float | None = None, seeds: int | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    log: str | os.PathLike | None = None) -> dict[str, Any]:
    """False-FAIL rate and power of ``check`` over ``roots`` independent simulations of ``profile``.

    Returns a dict with counts, rates, Wilson 95% intervals and whether the targets (false-FAIL <= 2%, power >= 90%)
    are met; ``None`` rates when the check has no agreement rule.

    With ``log``, each root's verdicts are appended to that file (one JSON line, written and fsynced before the next
    root starts) and roots already recorded there with the same settings are not simulated again: a run killed at
    any moment loses at most the root in progress, and its resumption counts exactly what an uninterrupted run
    counts (the counts are made from the records in both cases). See :func:`read_log` for what is trusted.
    """
    settings = calibration_settings(check, profile=profile, effect=effect, seeds=seeds)
    wanted = range(first_root, first_root + roots)
    done = read_log(log, settings) if log is not None else {}
    records = {r: done[r] for r in wanted if r in done}
    # A recorded root of a check with no agreement rule already shows there is nothing to calibrate.
    todo = [] if any(not rec["true"] for rec in records.values()) else [r for r in wanted if r not in records]
    if progress is not None and records:
        progress(len(records), roots)
    for jr in judge_roots(check, todo, profile=profile, effect=settings["min_effect"], seeds=settings["seeds"]):
        rec = root_record(jr, settings)
        if log is not None:
            _append_record(log, rec)
        records[jr.root] = rec
        if not rec["true"]:  # no agreement rule: nothing to calibrate, one root shows it
            break
        if progress is not None:
            progress(len(records), roots)
    out = {**settings, "first_root": first_root, **_count([records[r] for r in wanted if r in records])}
    if not out["roots"]:
        out.update(false_fail_rate=None, power=None, meets_targets=None)
    return out


def calibration_settings(check: Check, *, profile: str = "quick", effect: float | None = None,
                         seeds: int | None = None) -> dict[str, Any]:
    """What makes two calibrations of ``check`` the same experiment: profile, seeds, effect (defaults: the profile's
    seeds, the check's ``min_effect``) and the simulation precision (a process without JAX's x64 simulates in
    float32, other numbers)."""
    return {"check": check.id, "profile": profile,
            "seeds": seeds if seeds is not None else check.profiles[profile].seeds,
            "min_effect": effect if effect is not None else check.min_effect,
            "precision": np.dtype(sim_dtype()).name}


def root_record(jr: JudgedRoot, settings: Mapping[str, Any]) -> dict[str, Any]:
    """One root's verdicts as a JSON-ready record (what the counts, a resumed run and bench/calibration_roots.py's
    lines are made from)."""
    # int(): rows' theories are often NumPy scalars, whose comparisons sum to an np.int64 that JSON refuses
    unperturbed = int(sum(r.theory == 0.0 and r.scale is None
                          for e in jr.evidence if isinstance(e.rule, Agree) for r in e.rows))
    return {**settings, "root": jr.root, "true": {k: str(v) for k, v in jr.true.items()},
            "perturbed": {k: str(v) for k, v in jr.perturbed.items()}, "unperturbed_rows": unperturbed}


def _count(records: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts, rates and the targets' verdict from per-root records, in root order."""
    decided = [r for r in records if r["true"]]
    out: dict[str, Any] = {"roots": len(decided)}
    if not decided:
        return out
    groups: dict[str, dict[str, int]] = {}
    false_fail = detect = inconclusive = 0
    for r in decided:
        v_true = combine([Verdict(v) for v in r["true"].values()])
        v_wrong = combine([Verdict(v) for v in r["perturbed"].values()])
        false_fail += v_true is Verdict.FAIL
        inconclusive += v_true is Verdict.INCONCLUSIVE
        detect += v_wrong is Verdict.FAIL
        for name in r["true"]:
            g = groups.setdefault(name, {"false_fails": 0, "detections": 0})
            g["false_fails"] += r["true"][name] == "FAIL"
            g["detections"] += r["perturbed"][name] == "FAIL"
    out.update(groups=groups, unperturbed_rows=decided[-1]["unperturbed_rows"], false_fails=false_fail,
               inconclusive=inconclusive, detections=detect)
    _finish(out)
    return out


_SETTINGS = ("check", "profile", "seeds", "min_effect", "precision")


def read_log(path: str | os.PathLike, settings: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """The records of ``path`` (a calibration log) for ``settings``' check, by root; {} if there is no file.

    Only whole, well-formed lines whose checksum matches count: a line cut by a kill mid-write (or otherwise
    damaged) is skipped, so its root is simulated again, never read as a result. A root recorded twice (two
    processes sharing the log) counts once; both records come from the same key, hence the same simulation. Records
    of the same check made with other settings (profile, seeds, effect, precision) make the log ambiguous:
    :class:`BadInput`, rather than a silent mix. Records of other checks are left alone (one log may serve several
    checks).
    """
    try:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
    except FileNotFoundError:
        return {}
    out: dict[int, dict[str, Any]] = {}
    for line in lines:
        try:
            rec = json.loads(line)
            ok = (isinstance(rec, dict) and rec.pop("sha256", None) == _digest(rec)
                  and all(k in rec for k in (*_SETTINGS, "unperturbed_rows"))
                  and isinstance(rec.get("root"), int) and isinstance(rec.get("true"), dict)
                  and isinstance(rec.get("perturbed"), dict))
        except ValueError:  # empty, torn or corrupt line
            ok = False
        if not ok or rec["check"] != settings["check"]:
            continue
        if any(rec[k] != settings[k] for k in _SETTINGS):
            diff = ", ".join(f"{k} {rec[k]!r} (this run: {settings[k]!r})" for k in _SETTINGS
                             if rec[k] != settings[k])
            raise BadInput(f"calibration log {os.fspath(path)} has records of {settings['check']} with {diff}; "
                           "use another --log file")
        out.setdefault(rec["root"], rec)
    return out


def _digest(rec: Mapping[str, Any]) -> str:
    """Checksum of a record's canonical JSON: damage that leaves a line valid JSON (a changed digit) is caught."""
    return hashlib.sha256(json.dumps(rec, sort_keys=True).encode()).hexdigest()


def _append_record(path: str | os.PathLike, rec: Mapping[str, Any]) -> None:
    """Append one record as a single write to an O_APPEND file, then fsync: concurrent appenders never interleave
    inside a line, and a record on disk is a finished root. The leading newline ends a line a kill may have torn."""
    # Key order kept (the digest sorts its own copy): a resumed run lists evidence groups in the check's order.
    data = ("\n" + json.dumps({**rec, "sha256": _digest(rec)}) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _finish(out: dict[str, Any]) -> None:
    """Rates, Wilson intervals and the targets' verdict from the counts in ``out``."""
    n = out["roots"]
    out.update(false_fail_rate=out["false_fails"] / n, false_fail_ci=wilson_interval(out["false_fails"], n),
               power=out["detections"] / n, power_ci=wilson_interval(out["detections"], n))
    out["meets_targets"] = out["false_fail_rate"] <= 0.02 and out["power"] >= 0.90


def merge_results(results: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One result per check from several calibration runs (``calibrate_check`` outputs, e.g. parts of a long run
    split by ``first_root`` over processes or days).

    Runs of a check with the same profile, seeds, min_effect and precision (a missing precision, from files written
    before it was recorded, matches only another missing one) whose root ranges [first_root, first_root + roots)
    are disjoint are pooled: their counts add (they are independent simulations). Otherwise the newest run (by its
    ``measured`` date, then list order) replaces the older ones: a changed profile or effect makes old counts stale.
    """
    by_check: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_check.setdefault(r["check"], []).append(dict(r))
    merged = []
    for cid in sorted(by_check):
        runs = sorted(by_check[cid], key=lambda r: r.get("measured", ""))  # stable: file order within a date
        newest = runs[-1]
        same = ("profile", "seeds", "min_effect", "precision")
        pool = [r for r in runs if all(r.get(k) == newest.get(k) for k in same)
                and r.get("false_fail_rate") is not None and "first_root" in r]
        spans = sorted((r["first_root"], r["first_root"] + r["roots"]) for r in pool)
        disjoint = all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
        if len(pool) < 2 or newest not in pool or not disjoint:
            merged.append(newest)
            continue
        out = dict(newest)
        for k in ("roots", "false_fails", "detections", "inconclusive"):
            out[k] = sum(r.get(k, 0) for r in pool)
        groups: dict[str, dict[str, int]] = {}
        for r in pool:
            for name, g in r.get("groups", {}).items():
                acc = groups.setdefault(name, {"false_fails": 0, "detections": 0})
                acc["false_fails"] += g["false_fails"]
                acc["detections"] += g["detections"]
        out.update(groups=groups, first_root=spans[0][0], root_ranges=[list(s) for s in spans],
                   measured=", ".join(sorted({r.get("measured", "?") for r in pool})))
        _finish(out)
        merged.append(out)
    return merged


def markdown_table(results: list[Mapping[str, Any]], device: str) -> str:
    """The calibration table as Markdown (for docs/calibration.md)."""
    lines = [
        f"Measured on {device}. Each row: the quick profile simulated under `roots` independent root seeds; a FAIL "
        "against the true theory is a false alarm, a FAIL against the theory made wrong by min_effect (relative, "
        "theory x (1 + min_effect); absolute, + min_effect x Row.scale, on rows that declare a scale: zero limits, "
        "exponents) is a detection. 95% Wilson intervals.",
        "",
        "| check | roots x seeds | min effect | false-FAIL rate (target <= 2%) | power (target >= 90%) | targets |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.get("false_fail_rate") is None:
            lines.append(f"| `{r['check']}` | - | - | no agreement rule | - | - |")
            continue
        lo, hi = r["false_fail_ci"]
        plo, phi = r["power_ci"]
        unperturbed = f" ({r['unperturbed_rows']} zero-theory rows unperturbed)" if r.get("unperturbed_rows") else ""
        prec = f" ({r['precision']})" if r.get("precision") not in (None, "float64") else ""
        lines.append(
            f"| `{r['check']}` | {r['roots']} x {r['seeds']}{prec} | {r['min_effect']:g} | "
            f"{r['false_fails']}/{r['roots']} = {r['false_fail_rate']:.1%} [{lo:.1%}, {hi:.1%}] | "
            f"{r['detections']}/{r['roots']} = {r['power']:.1%} [{plo:.1%}, {phi:.1%}] | "
            f"{'met' if r['meets_targets'] else 'MISSED'}{unperturbed} |")
    return "\n".join(lines) + "\n"
