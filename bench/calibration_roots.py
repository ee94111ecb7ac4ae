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
    from theory_lab.calibrate import _agree_verdicts
    from theory_lab.claims import get_check, resolve_params
    from theory_lab.rules import Agree, Verdict
    from theory_lab.sweep import run_sweep

    check = get_check(args.check)
    p = resolve_params(check, args.profile, {})
    grid = check.grid(p)
    seeds = check.profiles[args.profile].seeds
    roots = ([int(r) for r in args.root_list.split(",")] if args.root_list
             else range(args.first_root, args.first_root + args.roots))
    for root in roots:
        t0 = time.perf_counter()
        sweep = run_sweep(check.simulate, grid, seeds=seeds, root_seed=root)
        evidence = check.evidence(p, sweep, control=False)
        true = _agree_verdicts(evidence, 0.0)
        wrong = _agree_verdicts(evidence, check.min_effect)
        failed = {e.name: e.rule.evaluate(e.rows).summary for e in evidence
                  if isinstance(e.rule, Agree) and true[e.name] is Verdict.FAIL}
        print(json.dumps({"root": root, "hash": sweep_hash(sweep.data),
                          "true": {k: v.name for k, v in true.items()}, "false_fail_summaries": failed,
                          "perturbed": {k: v.name for k, v in wrong.items()},
                          "seconds": round(time.perf_counter() - t0, 1),
                          **({"z": {e.name: {r.name(): round((r.mean - r.theory) / r.se, 3) if r.se > 0 else None
                                             for r in e.rows} for e in evidence if isinstance(e.rule, Agree)}}
                             if args.rows else {})}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
