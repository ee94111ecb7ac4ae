"""Merge calibration runs into one table: ``docs/calibration.md``'s measured part.

Each input is the ``--json`` output of ``theory-lab calibrate`` (a list of per-check results; several runs, possibly
on different machines and days). Parts of one calibration with disjoint root ranges (``--first-root``) are pooled;
otherwise the newest result per check wins (``theory_lab.calibrate.merge_results``).
Registered checks with no result are listed as not yet calibrated, so the table always shows what is missing.

    .venv/bin/theory-lab calibrate rmt.bbp --roots 100 --json > calib/rmt.bbp.json
    .venv/bin/python bench/calibration_doc.py calib/*.json            # prints Markdown
"""

from __future__ import annotations

import argparse
import json
import sys

from theory_lab.calibrate import markdown_table, merge_results
from theory_lab.claims import registry


def merge(paths: list[str]) -> list[dict]:
    results = []
    for path in paths:
        with open(path) as f:
            results.extend(json.load(f))
    return merge_results(results)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+", help="outputs of `theory-lab calibrate ... --json`")
    args = ap.parse_args(argv)
    results = merge(args.json)
    devices = sorted({f"{r.get('device', '?')}, {r.get('measured', '?')}" for r in results})
    out = [markdown_table(results, "; ".join(devices))]
    groups = [(r["check"], r["groups"]) for r in results if r.get("groups") and len(r["groups"]) > 1]
    if groups:
        out.append("Per evidence group (false FAILs / detections out of the roots):\n")
        for cid, g in groups:
            out.append(f"* `{cid}`: " + "; ".join(f"{name} {v['false_fails']} / {v['detections']}"
                                                  for name, v in g.items()))
        out.append("")
    missing = sorted(set(registry()) - {r["check"] for r in results})
    if missing:
        out.append("Not yet calibrated: " + ", ".join(f"`{m}`" for m in missing) + ".\n")
    sys.stdout.write("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
