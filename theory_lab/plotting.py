"""House style for figures: theory as a line, simulation as points with confidence bars, the verdict in a caption.

Uses matplotlib's object-oriented API (``matplotlib.figure.Figure``) so importing this module selects no GUI
backend and changes no global state. Figures are saved as vector PDF and PNG through the store's atomic writes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = ["figures_root", "style", "new_figure", "theory_line", "sim_points", "rows", "caption", "save", "CI_Z"]

#: Error bars show mean ± CI_Z * SE (a 95% pointwise interval); the verdict itself uses the check's corrected z.
CI_Z = 1.96

_RC = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 200,
}

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def figures_root() -> Path:
    """``$THEORY_LAB_FIGURES`` if set, else ``./figures/out``."""
    return Path(os.environ.get("THEORY_LAB_FIGURES", "figures/out"))


def style():
    """Context manager applying the house style; figure scripts are drawn inside it (text picks up sizes when made)."""
    import matplotlib

    return matplotlib.rc_context(_RC)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 3.4, height: float = 2.6) -> tuple[Figure, np.ndarray]:
    """A figure of ``nrows x ncols`` panels, each ``width x height`` inches, in the house style."""
    fig = Figure(figsize=(width * ncols, height * nrows + 0.55), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.tick_params(labelsize=8)
    return fig, axes


def theory_line(ax, x: np.ndarray, y: np.ndarray, color: str, label: str | None = "theory", **kw: Any) -> None:
    ax.plot(x, y, color=color, lw=1.4, label=label, zorder=2, **kw)


def sim_points(ax, x: np.ndarray, mean: np.ndarray, se: np.ndarray, color: str, label: str | None = "simulation",
               marker: str = "o") -> None:
    """Simulated means with ± CI_Z·SE bars."""
    ax.errorbar(x, mean, yerr=CI_Z * np.asarray(se), fmt=marker, ms=3.5, color=color, mfc="white", mew=1.1,
                capsize=2, lw=1.0, label=label, zorder=3)


def rows(record: Mapping[str, Any], evidence: str, control: bool = False, **where: Any) -> list[dict[str, Any]]:
    """The rows of evidence group ``evidence`` in a record, filtered by label values (floats compared loosely)."""
    groups = record["control"]["rules"] if control else record["rules"]
    for g in groups:
        if g["name"] == evidence:
            out = g["rows"]
            for k, v in where.items():
                out = [r for r in out if (np.isclose(r[k], v) if isinstance(v, float) else r[k] == v)]
            return list(out)
    raise KeyError(f"record of {record['check']} has no evidence group {evidence!r}")


def column(rs: Sequence[Mapping[str, Any]], name: str) -> np.ndarray:
    return np.asarray([r[name] for r in rs], dtype=np.float64)


def caption(fig: Figure, record: Mapping[str, Any]) -> None:
    """Verdict, control verdict, profile and seeds under the panels; the worst row's summary on a second line."""
    worst = "; ".join(f"{g['name']}: {g['summary']}" for g in record["rules"])
    fig.supxlabel(
        f"{record['check']}: {record['verdict']} (negative control: {record['control']['verdict']})  ·  "
        f"profile {record['label']}, {record['seeds']} seeds/point, error bars ±{CI_Z}·SE\n"
        f"{_wrap(worst, int(fig.get_figwidth() * 19))}",
        fontsize=6.5, color="#333333",
    )


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:5])


def save(fig: Figure, stem: str) -> list[str]:
    """Write ``<figures root>/<stem>.pdf`` and ``.png`` atomically; returns the two paths."""
    from theory_lab.store import atomic_write_bytes

    root = figures_root()
    paths = []
    for ext in ("pdf", "png"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=200 if ext == "png" else None)
        path = root / f"{stem}.{ext}"
        atomic_write_bytes(path, buf.getvalue())
        paths.append(str(path))
    return paths
