"""Per-root record of a calibration: for each root seed, a hash of the simulated sweep and every agreement group's
verdict against the true theory (with the rule's summary of each false FAIL) and against the theory moved by the
check's ``min_effect``.

``theory-lab calibrate`` reports counts only. When a count looks wrong (a false FAIL that a rerun does not
reproduce), this prints one JSON line per root, computed exactly as the calibration computes it (same grid, seeds,
root seed and rules), so that single roots can be re-run in fresh processes and compared hash by hash:

    .venv/bin/python bench/calibration_roots.py loops.icl-retraining --first-root 10000 --roots 100 > a.jsonl
    .venv/bin/python bench/calibration_roots.py loops.icl-retraining --root-list 10061,10097 > b.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time

import numpy as np


def sweep_hash(data: dict[str, np.ndarray]) -> str:
    """First 16 hex digits of a SHA-256 over the sweep's arrays (names sorted): equal hashes, equal simulations."""
    h = hashlib.sha256()
    for name in sorted(data):
        h.update(name.encode())
        h.update(np.ascontiguousarray(data[name]).tobytes())
    return h.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("check")
    ap.add_argument("--first-root", type=int, default=10_000)
    ap.add_argument("--roots", type=int, default=1)
    ap.add_argument("--root-list", default=None, help="comma-separated root seeds (instead of a range)")
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--rows", action="store_true",
                    help="also print every agreement row's z = (mean - theory) / SE, to look for a systematic bias")
    args = ap.parse_args(argv)

    from theory_lab.cli import _configure_jax

    _configure_jax("float64")
    from theory_lab.calibrate import calibration_settings, judge_roots, root_record
    from theory_lab.claims import get_check
    from theory_lab.rules import Agree, Verdict

    check = get_check(args.check)
    settings = calibration_settings(check, profile=args.profile)
    roots = ([int(r) for r in args.root_list.split(",")] if args.root_list
             else range(args.first_root, args.first_root + args.roots))
    t0 = time.perf_counter()
    for jr in judge_roots(check, roots, profile=args.profile):
        agree = [e for e in jr.evidence if isinstance(e.rule, Agree)]
        record = {**root_record(jr, settings), "hash": sweep_hash(jr.sweep.data),
                  "false_fail_summaries": {e.name: e.rule.evaluate(e.rows).summary for e in agree
                                           if jr.true[e.name] is Verdict.FAIL},
                  "seconds": round(time.perf_counter() - t0, 1)}
        if args.rows:
            record["z"] = {e.name: {r.name(): round((r.mean - r.theory) / r.se, 3) if r.se > 0 else None
                                    for r in e.rows} for e in agree}
        print(json.dumps(record), flush=True)
        t0 = time.perf_counter()
    return 0


if __name__ == "__main__":
    sys.exit(main())
