"""Claim checks: what a check declares, the registry of checks, and running one to a verdict record.

A :class:`Check` declares *before it runs*: a stable id, its source (paper, theorem/equation, arXiv id), the claim
in one sentence, typed parameters with defaults and allowed ranges, named profiles (``quick`` for CPU/CI, ``full``
for accelerators), its tolerance rule(s) and its negative control — a deliberately wrong theory that the same rule,
on the same simulated data, must reject. :func:`run_check` runs it and returns a JSON-able record with the verdict,
the control's verdict, the per-point evidence and everything needed to reproduce it.

A check whose negative control does not FAIL could not have failed: its PASS is downgraded to INCONCLUSIVE and the
record says why.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import difflib
import importlib
import json
import math
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from theory_lab.rules import Row, RuleResult, Verdict, combine

__all__ = [
    "BadInput",
    "Source",
    "Param",
    "Profile",
    "Evidence",
    "Check",
    "register",
    "registry",
    "get_check",
    "resolve_params",
    "run_check",
    "load_result",
    "sim_dtype",
    "Verdict",
]


class BadInput(ValueError):
    """Invalid user input; its message is one line that names the offending value and what is allowed."""


@dataclasses.dataclass(frozen=True)
class Source:
    paper: str
    where: str  # theorem / equation / section
    arxiv: str | None = None

    def cite(self) -> str:
        return f"{self.paper}, {self.where}" + (f" (arXiv:{self.arxiv})" if self.arxiv else "")


_KINDS = ("int", "float", "floats", "ints", "str", "bool")


@dataclasses.dataclass(frozen=True)
class Param:
    """A typed, range-checked parameter.

    ``kind`` is one of "int", "float", "str", "bool", or "floats"/"ints" (a comma-separated list, e.g. a sweep axis:
    ``--set gamma=0.5,2``). ``low``/``high`` bound every value; ``open_low``/``open_high`` make the bound strict.
    ``choices`` restricts "str" values.
    """

    name: str
    kind: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown parameter kind {self.kind!r}")

    def range_text(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.low is None and self.high is None:
            return {"bool": "true or false"}.get(self.kind, "any")
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return (f"{'(' if self.open_low or self.low is None else '['}{lo}, "
                f"{hi}{')' if self.open_high or self.high is None else ']'}")

    def _check_scalar(self, v: Any) -> Any:
        if self.choices is not None and v not in self.choices:
            raise BadInput(f"parameter {self.name}={v!r} is not allowed: {self.range_text()}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if not math.isfinite(v):
                raise BadInput(f"parameter {self.name}={v} must be finite, allowed {self.range_text()}")
            bad_low = self.low is not None and (v <= self.low if self.open_low else v < self.low)
            bad_high = self.high is not None and (v >= self.high if self.open_high else v > self.high)
            if bad_low or bad_high:
                raise BadInput(f"parameter {self.name}={v:g} is out of range, allowed {self.range_text()}")
        return v

    def parse(self, text: str) -> Any:
        """Parse a ``--set`` value; one-line :class:`BadInput` on a wrong type or an out-of-range value."""
        base = {"int": int, "ints": int, "float": float, "floats": float}.get(self.kind)
        try:
            if self.kind == "bool":
                low = text.strip().lower()
                if low not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                value: Any = low in ("true", "1", "yes")
            elif self.kind == "str":
                value = text
            elif self.kind in ("floats", "ints"):
                items = [s for s in text.split(",") if s.strip()]
                if not items:
                    raise ValueError
                value = tuple(base(s) for s in items)
            else:
                value = base(text)
        except ValueError:
            kind = {"floats": "comma-separated floats", "ints": "comma-separated integers"}.get(self.kind, self.kind)
            raise BadInput(f"parameter {self.name}={text!r} is not a valid {kind} "
                           f"(allowed {self.range_text()})") from None
        return self.validate(value)

    def validate(self, value: Any) -> Any:
        if self.kind in ("floats", "ints"):
            return tuple(self._check_scalar(v) for v in value)
        return self._check_scalar(value)


@dataclasses.dataclass(frozen=True)
class Profile:
    """A named setting of a check: parameter overrides (e.g. sizes) and the number of seeds per point."""

    seeds: int
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Evidence:
    """One group of compared rows judged by one rule (a check may have several, e.g. moments and a decay rate)."""

    name: str
    rule: Any  # Agree | BoundHolds | TransitionAt
    rows: Sequence[Row]


class Check:
    """Base class of a claim check. Subclasses set the declaration attributes and implement three methods.

    Declaration (class attributes): ``id``, ``source``, ``statement``, ``params`` (tuple of :class:`Param`),
    ``profiles`` (at least "quick" and "full"), ``tolerance`` (the rule and why its finite-size terms are what they
    are), ``negative_control`` (which wrong theory must be rejected), ``figure`` (module under ``figures`` with a
    ``plot(record) -> Figure`` function), ``precision``.

    Methods:
      ``grid(p)``: the sweep points (a :class:`~theory_lab.sweep.Grid`) for resolved parameters ``p``.
      ``simulate(key, static, dynamic)``: one trial, returning per-trial statistics (jit/vmap-able).
      ``evidence(p, sweep, control)``: the compared rows and rules; with ``control=True`` the same rows against the
        negative-control theory.
      ``validate(p)``: optional cross-parameter checks (raise :class:`BadInput`).
      ``display(p, sweep)``: optional summaries the figure needs beyond the compared rows.
    """

    id: str = ""
    source: Source
    statement: str = ""
    params: tuple[Param, ...] = ()
    profiles: Mapping[str, Profile] = {}
    tolerance: str = ""
    negative_control: str = ""
    figure: str | None = None
    precision: str = "float64"
    #: Declared minimum detectable effect: the relative error in the theory that the quick profile must detect with
    #: power >= 90% (measured by `theory-lab calibrate`); on rows that declare ``Row.scale``, the absolute shift in
    #: units of that scale (e.g. of an exponent, with scale 1).
    min_effect: float = 0.05
    #: The verdict the suite documents for the quick profile: "PASS", or "FAIL" when the check's subject is a
    #: published claim that the simulation refutes (the module docstring gives the evidence). A documented
    #: refutation is a finding, not a failure of the suite: the CLI exits 0 on it, tests assert it stays FAIL.
    expected: str = "PASS"

    def grid(self, p: Mapping[str, Any]):
        raise NotImplementedError

    def simulate(self, key, static, dynamic):
        raise NotImplementedError

    def evidence(self, p: Mapping[str, Any], sweep, control: bool = False) -> list[Evidence]:
        raise NotImplementedError

    def validate(self, p: Mapping[str, Any]) -> None:
        return None

    def display(self, p: Mapping[str, Any], sweep) -> dict[str, Any]:
        """Extra JSON-able summaries for the figure only (e.g. a mean histogram); never part of the verdict."""
        return {}

    def param(self, name: str) -> Param:
        for prm in self.params:
            if prm.name == name:
                return prm
        raise KeyError(name)

    def declaration(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": dataclasses.asdict(self.source),
            "statement": self.statement,
            "tolerance": self.tolerance,
            "negative_control": self.negative_control,
            "precision": self.precision,
            "expected": self.expected,
            "params": [
                {"name": p.name, "kind": p.kind, "default": p.default, "range": p.range_text(), "help": p.help}
                for p in self.params
            ],
            "profiles": {k: {"seeds": v.seeds, "params": dict(v.params), "description": v.description}
                         for k, v in self.profiles.items()},
        }


_REGISTRY: dict[str, Check] = {}


def register(check: Check) -> Check:
    """Add a check to the registry (ids are unique); returns it so modules can write ``CHECK = register(...)``."""
    if not check.id or check.id in _REGISTRY:
        raise ValueError(f"check id {check.id!r} is empty or already registered")
    for name in ("quick", "full"):
        if name not in check.profiles:
            raise ValueError(f"check {check.id} declares no {name!r} profile")
    _REGISTRY[check.id] = check
    return check


def registry() -> dict[str, Check]:
    """All registered checks by id (importing :mod:`proofs_checks` registers the suite)."""
    importlib.import_module("proofs_checks")
    return dict(sorted(_REGISTRY.items()))


def get_check(check_id: str) -> Check:
    checks = registry()
    if check_id not in checks:
        close = difflib.get_close_matches(check_id, list(checks), n=1)
        hint = f"; did you mean {close[0]}?" if close else "; see `theory-lab list`"
        raise BadInput(f"unknown check {check_id!r}{hint}")
    return checks[check_id]


def resolve_params(check: Check, profile: str, overrides: Mapping[str, str]) -> dict[str, Any]:
    """Defaults <- profile <- user overrides (strings from ``--set``, parsed and range-checked)."""
    if profile not in check.profiles:
        raise BadInput(f"check {check.id} has no profile {profile!r}; choose from {', '.join(check.profiles)}")
    p = {prm.name: prm.default for prm in check.params}
    p.update(check.profiles[profile].params)
    names = [prm.name for prm in check.params]
    for name, text in overrides.items():
        if name not in names:
            raise BadInput(f"check {check.id} has no parameter {name!r}; its parameters are {', '.join(names)}")
        p[name] = check.param(name).parse(text)
    check.validate(p)
    return p


# --- running a check ------------------------------------------------------------------------------------------------


def sim_dtype():
    """The float dtype simulations use in this process: float64 when x64 is enabled, else float32."""
    import jax
    import jax.numpy as jnp

    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def warn_if_unchosen_float32(check: Check) -> None:
    """Warn when a float64 check is about to simulate in float32 only because JAX's x64 is off, as it is in any
    script that imports checks without going through ``theory_lab.cli`` (Python's default warning filter shows it
    once per check). Choosing float32 (``--precision float32`` or ``THEORY_LAB_PRECISION=float32``) silences it; the
    CLI sets the variable itself."""
    import warnings

    import jax

    if jax.config.jax_enable_x64 or check.precision != "float64":
        return
    if os.environ.get("THEORY_LAB_PRECISION", "").strip().lower() == "float32":
        return
    warnings.warn(f"{check.id}: JAX's x64 is off, so this simulation runs in float32 although the check is declared "
                  "float64; call jax.config.update('jax_enable_x64', True) before any JAX work, or set "
                  "THEORY_LAB_PRECISION=float32 to choose float32", RuntimeWarning, stacklevel=3)


def _is_main() -> bool:
    from theory_lab.distributed import is_main

    return is_main()


def _git_revision() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    """Device, precision and package versions, recorded with every result."""
    import jax

    versions = {}
    for mod in ("theory_lab", "jax", "jaxlib", "numpy", "scipy", "flax", "optax", "matplotlib"):
        try:
            versions[mod] = importlib.import_module(mod).__version__
        except Exception:  # optional packages may be absent; record that rather than fail
            versions[mod] = None
    dev = jax.devices()
    return {
        "backend": jax.default_backend(),
        "devices": [f"{d.platform}:{getattr(d, 'device_kind', '')}" for d in dev],
        "device_count": len(dev),
        "x64": bool(jax.config.jax_enable_x64),
        "python": platform.python_version(),
        "versions": versions,
        "git": _git_revision(),
    }


def _evaluate(evidence: Sequence[Evidence]) -> tuple[Verdict, list[dict[str, Any]]]:
    results: list[RuleResult] = [e.rule.evaluate(list(e.rows)) for e in evidence]
    out = []
    for e, r in zip(evidence, results):
        js = r.to_json()
        js["name"] = e.name
        js["description"] = e.rule.describe()
        out.append(js)
    return combine([r.verdict for r in results]), out


def run_check(
    check: Check,
    *,
    profile: str = "quick",
    overrides: Mapping[str, str] | None = None,
    seeds: int | None = None,
    root_seed: int = 0,
    use_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
    make_figure: bool = True,
    chunk_size: int | None = None,
) -> dict[str, Any]:
    """Run a check end to end and return its record (also written to the results store).

    Input is validated before anything touches the disk; a :class:`BadInput` leaves no trace. A finished run with
    the same key is served from the store (``record["cache"] == "hit"``); an interrupted one resumes from its
    finished chunks (``"resumed"``); ``use_cache=False`` discards the run folder and recomputes.
    """
    from theory_lab import store as store_mod
    from theory_lab.sweep import run_sweep

    overrides = dict(overrides or {})
    p = resolve_params(check, profile, overrides)
    n_seeds = seeds if seeds is not None else check.profiles[profile].seeds
    if n_seeds < 2:
        raise BadInput(f"--seeds must be at least 2 (standard errors need two trials), got {n_seeds}")
    import numpy as np

    warn_if_unchosen_float32(check)
    dtype_name = np.dtype(sim_dtype()).name
    label = profile + ("-custom" if overrides or seeds is not None else "") + ("" if dtype_name == "float64"
                                                                               else f"-{dtype_name}")
    key = store_mod.run_key(check.id, p, profile, n_seeds, root_seed, precision=dtype_name)
    rs = store_mod.RunStore(check.id, key, {"check": check.id, "params": p, "profile": profile, "seeds": n_seeds,
                                            "root_seed": root_seed, "code": store_mod.code_version()})
    if not use_cache and rs.dir.exists() and _is_main():
        shutil.rmtree(rs.dir)
    if use_cache:
        cached = rs.read_record()
        if cached is not None:
            cached["cache"] = "hit"
            figs = cached.get("figures") or []
            if make_figure and (not figs or not all(Path(f).exists() for f in figs)):
                cached["figures"] = _save_figure(check, cached, label)
            return cached

    # Say why this run computes: a stored result for the same inputs made by other code is stale, not reused.
    previous = store_mod.latest_record(check.id, label)
    stale = (previous is not None and previous.get("run_key") != key and previous.get("seeds") == n_seeds
             and previous.get("root_seed") == root_seed and previous.get("params") == json.loads(json.dumps(p)))
    t0 = time.perf_counter()
    sweep = run_sweep(check.simulate, check.grid(p), seeds=n_seeds, root_seed=root_seed, store=rs,
                      progress=progress, chunk_size=chunk_size)
    sim_time = time.perf_counter() - t0
    verdict, rules = _evaluate(check.evidence(p, sweep, control=False))
    control_verdict, control_rules = _evaluate(check.evidence(p, sweep, control=True))
    notes = []
    if check.expected == "FAIL" and verdict is Verdict.FAIL:
        notes.append("published claim refuted: this FAIL is the suite's documented finding (see the check's "
                     "docstring), not a defect of the suite")
    if control_verdict is not Verdict.FAIL:
        notes.append("negative control did not FAIL: at these settings the check could not tell a wrong theory "
                     "apart, so its PASS is not evidence")
        if verdict is Verdict.PASS:
            verdict = Verdict.INCONCLUSIVE
    record: dict[str, Any] = {
        "check": check.id,
        "statement": check.statement,
        "source": check.source.cite(),
        "verdict": str(verdict),
        "expected": check.expected,
        "profile": profile,
        "label": label,
        "params": p,
        "overrides": overrides,
        "seeds": n_seeds,
        "root_seed": root_seed,
        "points": len(sweep.coords[next(iter(sweep.coords))]),
        "tolerance": check.tolerance,
        "rules": rules,
        "control": {"description": check.negative_control, "verdict": str(control_verdict), "rules": control_rules},
        "notes": notes,
        "display": check.display(p, sweep),
        "precision": check.precision,
        "sim_dtype": dtype_name,
        "cache": {"computed": "computed", "resumed": "resumed", "cached": "chunks-from-store"}[sweep.status]
        + (" (stored result stale: code changed)" if stale else ""),
        "chunks": {"computed": sweep.chunks_computed, "total": sweep.chunks_total},
        "sim_seconds": round(sim_time, 3),
        "environment": environment(),
        "run_key": key,
        "run_dir": str(rs.dir),
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    from theory_lab.distributed import is_main

    writer = is_main()  # in a multi-process run only process 0 writes figures and the record
    record["figures"] = _save_figure(check, record, label) if make_figure and writer else []
    record["wall_seconds"] = round(time.perf_counter() - t0, 3)
    if writer:
        rs.write_record(record)
    return record


def load_result(record: Mapping[str, Any]):
    """The per-trial simulation behind a record, as a labelled :class:`~theory_lab.sweep.SweepResult`.

    Chunks are read from the record's run folder (nothing is recomputed while they are there; any that are missing
    are simulated again, bit-identically, from the same keys).
    """
    from theory_lab.store import RunStore
    from theory_lab.sweep import run_sweep

    check = get_check(record["check"])
    rs = RunStore(check.id, record["run_key"], {})
    return run_sweep(check.simulate, check.grid(record["params"]), seeds=record["seeds"],
                     root_seed=record["root_seed"], store=rs)


def _save_figure(check: Check, record: Mapping[str, Any], label: str) -> list[str]:
    if not check.figure:
        return []
    from theory_lab import plotting

    module = importlib.import_module(f"figures.{check.figure}")
    with plotting.style():
        fig = module.plot(record)
        return plotting.save(fig, f"{check.id}-{label}")
