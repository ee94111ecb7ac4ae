"""The verdict report: one self-contained static HTML page with every claim, its verdict, evidence and figure.

Built from the stored records (``latest-<profile>.json`` of each check) with a Jinja2 template; figures are embedded
as PNG data URIs so the page needs no server and no network. A claim without a record is listed as "not run".
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
from pathlib import Path
from typing import Any, Mapping

__all__ = ["build_report", "render_report", "report_rows"]

def _worst(record: Mapping[str, Any]) -> str:
    """The worst statistic across rules: the largest |deviation| / tolerance (above 1 fails) for agreement rules, the
    smallest slack for bounds."""
    ratios, slacks = [], []
    for g in record.get("rules", []):
        for r in g["rows"]:
            tol = r.get("tolerance")
            if tol and r.get("mean") is not None and math.isfinite(tol):
                ratios.append(abs(r["mean"] - r["theory"]) / tol)
            if r.get("slack") is not None:
                slacks.append(r["slack"])
    parts = []
    if ratios:
        parts.append(f"|dev|/tol {max(ratios):.2f}")
    if slacks:
        parts.append(f"min slack {min(slacks):.3g}")
    return "; ".join(parts) or "-"


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else ("yes" if v else "no")
    if isinstance(v, float):
        return f"{v:.5g}"
    return str(v)


def _table(rows: list[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    skip = {"z_crit", "n_bad", "note"}
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols and k not in skip:
                cols.append(k)
    if any(r.get("note") for r in rows):
        cols.append("note")
    return cols, [[_fmt(r.get(c)) for c in cols] for r in rows]


def _figure_data(record: Mapping[str, Any]) -> str | None:
    """The record's PNG (or the one `theory-lab figures` draws for it) as a data URI."""
    from theory_lab.plotting import figures_root

    candidates = [Path(p) for p in record.get("figures", []) if str(p).endswith(".png")]
    candidates.append(figures_root() / f"{record['check']}-{record.get('label', record.get('profile'))}.png")
    for path in candidates:
        if path.exists():
            return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
    return None


def report_rows(profile: str | None = None) -> list[dict[str, Any]]:
    """One entry per registered check: its declaration and its latest record (or None)."""
    from theory_lab.claims import registry
    from theory_lab.store import latest_record

    out = []
    for check in registry().values():
        rec = latest_record(check.id, profile)
        entry: dict[str, Any] = {
            "id": check.id,
            "anchor": check.id.replace(".", "-"),
            "family": check.id.split(".")[0],
            "source": check.source.cite(),
            "statement": check.statement,
            "tolerance": check.tolerance,
            "negative_control": check.negative_control,
            "record": rec,
        }
        if rec is not None:
            env = rec.get("environment", {})
            entry.update(
                verdict=rec["verdict"],
                control_verdict=rec["control"]["verdict"],
                worst=_worst(rec),
                seeds=rec["seeds"],
                profile=rec.get("label", rec.get("profile")),
                runtime=f"{rec.get('wall_seconds', 0):.1f} s",
                device=f"{env.get('backend', '?')} x{env.get('device_count', '?')}",
                date=rec.get("finished_at", ""),
                figure=_figure_data(rec),
                evidence=[{"name": g["name"], "rule": g["rule"], "verdict": g["verdict"], "summary": g["summary"],
                           "description": g.get("description", ""), "table": _table(g["rows"])}
                          for g in rec["rules"]],
                control=[{"name": g["name"], "verdict": g["verdict"], "summary": g["summary"]}
                         for g in rec["control"]["rules"]],
                notes=rec.get("notes", []),
                environment=env,
                params=rec.get("params", {}),
            )
        else:
            entry.update(verdict="NOT RUN", control_verdict="-", worst="-", seeds="-", profile="-", runtime="-",
                         device="-", date="-", figure=None, evidence=[], control=[], notes=[], environment={},
                         params={})
        out.append(entry)
    return out


def render_report(profile: str | None = None) -> str:
    """The report page as a string."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("theory_lab", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined)
    rows = report_rows(profile)
    counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in ("PASS", "FAIL", "INCONCLUSIVE", "NOT RUN")}
    import theory_lab

    return env.get_template("report.html.j2").render(
        claims=rows,
        counts=counts,
        families=sorted({r["family"] for r in rows}),
        generated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        version=theory_lab.__version__,
    )


def build_report(path: Path, profile: str | None = None) -> Path:
    """Render the report and write it atomically to ``path``."""
    from theory_lab.store import atomic_write_bytes

    path = Path(path)
    atomic_write_bytes(path, render_report(profile).encode())
    return path
