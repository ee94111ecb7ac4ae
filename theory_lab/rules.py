"""Tolerance rules: how a theory value and a Monte-Carlo estimate become a verdict.

Every rule is decided *before* the simulation is looked at: its level ``alpha`` (family-wise error over all rows it
judges), its multiple-testing correction, and any declared finite-size term are part of the check's declaration.

A *row* is one compared quantity at one sweep point: the theory value, the simulated mean over seeds, its standard
error, and how many trials were not finite. Rules return a :class:`RuleResult` whose per-row table says, for each
row, the statistic (z, or slack for bounds), the threshold it was held to, and whether it passed.

Verdict logic shared by all rules:
  * a row whose simulation produced NaN/Inf (or whose theory is not finite) is INCONCLUSIVE and named;
  * any failing row makes the rule FAIL (evidence against the theory is evidence, even beside undecided rows);
  * otherwise any undecided row makes it INCONCLUSIVE; otherwise PASS.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import stats

__all__ = [
    "Verdict",
    "Row",
    "RuleResult",
    "Agree",
    "BoundHolds",
    "TransitionAt",
    "critical_z",
    "welch_dof",
    "combine",
    "mean_and_se",
    "mean_skew",
    "hall_transform",
    "hall_inverse",
    "variance_and_se",
    "fit_power_law",
    "exponent_row",
    "extrapolate_inverse",
    "locate_crossing",
]


class Verdict(str, enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"

    def __str__(self) -> str:  # "PASS", not "Verdict.PASS", in tables and JSON
        return self.value


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    """FAIL if any FAIL, else INCONCLUSIVE if any INCONCLUSIVE, else PASS (PASS for an empty list is refused)."""
    if not verdicts:
        raise ValueError("cannot combine an empty list of verdicts")
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.INCONCLUSIVE in verdicts:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS


@dataclasses.dataclass(frozen=True)
class Row:
    """One compared quantity at one point.

    Attributes:
      label: what is compared, where: parameter values plus e.g. ``stat="moment_2"``.
      theory: the prediction (float64).
      mean: the Monte-Carlo estimate.
      se: its standard error.
      n_bad: number of trials that produced NaN/Inf (the estimate is then not trusted).
      scale: the unit in which calibration perturbs this row's theory, additively (theory + min_effect * scale):
        the quantity's typical size for a theory of 0 (a limit gap, a vanishing mean), where scaling by
        (1 + min_effect) moves nothing, or 1 for an exponent, where a relative change is meaningless. ``None``:
        relative perturbation.
      dof: degrees of freedom of ``se`` when it is estimated from few trials (R - 1 for a mean over R seeds; Welch's
        for a combination of means): the rules then use Student-t instead of normal quantiles, so that a check with
        6 or 16 seeds keeps its declared false-FAIL rate. ``None``: large-sample (normal) quantiles.
      skew: skewness of the *estimator* ``mean`` over repetitions, gamma_hat / sqrt(R) for a mean of R trials whose
        sample skewness is gamma_hat (:func:`mean_skew`). When set, :class:`Agree` judges the row by Hall's
        skewness-removing transform of its t-statistic (:func:`hall_transform`): the t-statistic of a right-skewed
        quantity (a squared error, a trace) has a heavy lower tail: for a mean of 200 exponentials (skewness 2) it
        falls below -3.4 six times as often as a normal does. ``None``: no correction.
    """

    label: Mapping[str, Any]
    theory: float
    mean: float
    se: float
    n_bad: int = 0
    scale: float | None = None
    dof: float | None = None
    skew: float | None = None

    def sf(self, x: float) -> float:
        """Upper tail probability of the standardised deviation x (normal, or Student-t with ``dof``)."""
        return float(stats.norm.sf(x) if self._normal() else stats.t.sf(x, self.dof))

    def isf(self, q: float) -> float:
        """Critical value with upper tail probability q (normal, or Student-t with ``dof``)."""
        return float(stats.norm.isf(q) if self._normal() else stats.t.isf(q, self.dof))

    def _normal(self) -> bool:
        return self.dof is None or not math.isfinite(self.dof)

    def finite(self) -> bool:
        return self.n_bad == 0 and all(math.isfinite(v) for v in (self.theory, self.mean, self.se))

    def name(self) -> str:
        return ", ".join(f"{k}={_fmt(v)}" for k, v in self.label.items())


@dataclasses.dataclass
class RuleResult:
    """A rule's verdict with its evidence: one dict per row and a one-line summary naming the worst row."""

    rule: str
    verdict: Verdict
    summary: str
    rows: list[dict[str, Any]]
    settings: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "settings": self.settings,
            "verdict": str(self.verdict),
            "summary": self.summary,
            "rows": self.rows,
        }


def critical_z(alpha: float, n_tests: int, two_sided: bool = True) -> float:
    """Bonferroni-corrected normal quantile: each of ``n_tests`` rows is tested at level alpha / n_tests."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    per_test = alpha / max(n_tests, 1)
    return float(stats.norm.isf(per_test / 2 if two_sided else per_test))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _finite_size_value(term: float | Callable[[Row], float], row: Row) -> float:
    value = term(row) if callable(term) else term
    return float(abs(value))


def _bad_note(r: Row) -> str:
    if r.n_bad:
        return f"diverged: {r.n_bad} trial(s) gave NaN/Inf"
    if not math.isfinite(r.theory):
        return "theory not finite here"
    return "simulated estimate not finite"


def _decide(rows_out: list[dict[str, Any]], bad_names: list[str]) -> Verdict:
    if any(r["ok"] is False for r in rows_out):
        return Verdict.FAIL
    if bad_names or any(r["ok"] is None for r in rows_out):
        return Verdict.INCONCLUSIVE
    return Verdict.PASS


def hall_transform(t: float, skew: float) -> float:
    """Hall's (1992, JRSS B 54:221) monotone skewness-removing transform of a studentized mean t:
    g(t) = t + a t^2 + a^2 t^3 / 3 + b with a = skew / 3, b = skew / 6, where ``skew`` is the estimated skewness of
    the mean (gamma_hat / sqrt(R)). g(t) is N(0, 1) to O(1/R) where t itself has an O(1/sqrt(R)) skewness error.
    ``skew`` = 0 gives t."""
    if skew == 0.0 or not math.isfinite(t):
        return t
    a, b = skew / 3.0, skew / 6.0
    return ((1.0 + a * t) ** 3 - 1.0) / (3.0 * a) + b


def hall_inverse(g: float, skew: float) -> float:
    """The t with :func:`hall_transform` (t, skew) = g (the transform is a monotone cubic, so this is unique)."""
    if skew == 0.0 or not math.isfinite(g):
        return g
    a, b = skew / 3.0, skew / 6.0
    return float((np.cbrt(3.0 * a * (g - b) + 1.0) - 1.0) / a)


@dataclasses.dataclass(frozen=True)
class Agree:
    """Two-sided agreement: |mean - theory| <= z * SE + finite_size at every row.

    ``z`` is the normal quantile that makes the family-wise false-FAIL rate ``alpha`` over all rows: Bonferroni
    (z = Phi^{-1}(1 - alpha / (2k)) for k rows) or Holm's step-down, which is uniformly more powerful and rejects
    exactly the rows whose p-values p_(i) <= alpha / (k - i + 1) in sequence. The p-value of a row is computed on the
    excess deviation max(0, |mean - theory| - finite_size) / SE, so the declared finite-size term is never tested.

    Args:
      alpha: family-wise level (probability of a false FAIL when the theory is right and finite-size bounded).
      finite_size: declared finite-size allowance: a number, or a function of the row (e.g. c / n at that row's n).
        Fixed before running; its justification belongs in the check's declaration.
      correction: ``"bonferroni"`` or ``"holm"``.
      max_halfwidth: if set, a row whose tolerance z * SE + finite_size exceeds ``max_halfwidth * max(|theory|, 1e-12)``
        cannot discriminate and is INCONCLUSIVE (unless it already fails).
      side: ``"two-sided"`` (default); ``"above"`` rejects only a mean significantly above the theory ("not
        larger than": e.g. a late slope of 0 for "stays bounded", where a falling error is no violation); ``"below"``
        the mirror image. One-sided rows use one-sided p-values and z = Phi^{-1}(1 - alpha / k).
    """

    alpha: float = 0.01
    finite_size: float | Callable[[Row], float] = 0.0
    correction: str = "bonferroni"
    max_halfwidth: float | None = None
    finite_size_doc: str = "none"
    side: str = "two-sided"

    name = "Agree"

    def settings(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "correction": self.correction,
            "finite_size": self.finite_size_doc,
            "max_halfwidth": self.max_halfwidth,
            **({"side": self.side} if self.side != "two-sided" else {}),
        }

    def describe(self) -> str:
        lhs = {"two-sided": "|mean - theory|", "above": "mean - theory", "below": "theory - mean"}[self.side]
        return (
            f"{lhs} <= z*SE + finite-size term ({self.finite_size_doc}); z from family-wise "
            f"alpha={self.alpha} with {self.correction} correction (Student-t where a row's SE has few degrees of "
            f"freedom; Hall's skewness-removing transform where a row carries the skewness of its mean)"
        )

    def evaluate(self, rows: Sequence[Row]) -> RuleResult:
        if self.correction not in ("bonferroni", "holm"):
            raise ValueError(f"unknown correction {self.correction!r}")
        if self.side not in ("two-sided", "above", "below"):
            raise ValueError(f"unknown side {self.side!r}")
        tails = 2 if self.side == "two-sided" else 1
        good = [r for r in rows if r.finite()]
        bad_names = [r.name() for r in rows if not r.finite()]
        k = max(len(good), 1)
        # p-values of the excess over the finite-size allowance, for Holm's ordering.
        excess, pvals, fs_vals, direction = {}, {}, {}, {}
        for i, r in enumerate(rows):
            if not r.finite():
                continue
            fs = _finite_size_value(self.finite_size, r)
            fs_vals[i] = fs
            dev = {"two-sided": abs(r.mean - r.theory), "above": r.mean - r.theory,
                   "below": r.theory - r.mean}[self.side]
            excess[i] = max(0.0, dev - fs)
            # the side of the deviation in the mean's own direction (+1: mean above theory), for the skew correction
            direction[i] = 1.0 if r.mean >= r.theory else -1.0
            if r.se > 0 and r.skew:
                pvals[i] = (tails * r.sf(abs(hall_transform(direction[i] * excess[i] / r.se, r.skew)))
                            if excess[i] > 0 else 1.0)
            elif r.se > 0:
                pvals[i] = tails * r.sf(excess[i] / r.se)
            else:
                pvals[i] = 0.0 if excess[i] > 0 else 1.0
        # critical value per row (on the raw t scale, so that tolerance = crit * SE + finite-size term) and which rows
        # are rejected (declared outside tolerance).
        thresholds: dict[int, float] = {}
        rejected: set[int] = set()

        def crit(i: int, q: float) -> float:
            z = rows[i].isf(q)
            if rows[i].skew and rows[i].se > 0:  # the raw |t| on this row's side whose transform is z
                return abs(hall_inverse(direction[i] * z, rows[i].skew))
            return z

        if self.correction == "bonferroni":
            level = self.alpha / k
            thresholds = {i: crit(i, level / tails) for i in pvals}
            rejected = {i for i in pvals if excess[i] > thresholds[i] * rows[i].se}
        else:
            order = sorted(pvals, key=lambda i: pvals[i])
            stopped = False
            for rank, i in enumerate(order):
                level = self.alpha / (len(order) - rank)
                thresholds[i] = crit(i, level / tails)
                stopped = stopped or pvals[i] > level  # Holm: once one row is kept, all later rows are kept
                if not stopped:
                    rejected.add(i)
        out: list[dict[str, Any]] = []
        for i, r in enumerate(rows):
            rec: dict[str, Any] = dict(r.label)
            rec.update(theory=r.theory, mean=r.mean, se=r.se, n_bad=r.n_bad)
            if r.dof is not None:
                rec["dof"] = r.dof
            if r.skew is not None:
                rec["skew"] = r.skew
            if not r.finite():
                rec.update(z=None, tolerance=None, ok=None, note=_bad_note(r))
                out.append(rec)
                continue
            z_used = thresholds[i]
            z_stat = (r.mean - r.theory) / r.se if r.se > 0 else (0.0 if r.mean == r.theory else math.inf)
            tol = z_used * r.se + fs_vals[i]
            ok: bool | None = i not in rejected
            note = ""
            if ok and self.max_halfwidth is not None and tol > self.max_halfwidth * max(abs(r.theory), 1e-12):
                ok, note = None, f"tolerance {tol:.3g} too wide to decide (max {self.max_halfwidth:g} x |theory|)"
            rec.update(z=z_stat, z_crit=z_used, finite_size=fs_vals[i],
                       tolerance=tol, ok=ok, note=note)
            out.append(rec)
        verdict = _decide(out, bad_names)
        summary = _agree_summary(rows, out, bad_names, self.side)
        return RuleResult(self.name, verdict, summary, out, self.settings())


def _agree_summary(rows: Sequence[Row], out: list[dict[str, Any]], bad_names: list[str],
                   side: str = "two-sided") -> str:
    if bad_names:
        bad = f"; diverged or non-finite at {len(bad_names)} row(s), first: {bad_names[0]}"
    else:
        bad = ""
    sign = {"two-sided": None, "above": 1.0, "below": -1.0}[side]
    scored = [((abs(o["mean"] - o["theory"]) if sign is None else sign * (o["mean"] - o["theory"])) / o["tolerance"],
               r, o) for r, o in zip(rows, out) if o.get("tolerance") not in (None, 0)]
    if not scored:
        return f"{len(rows)} rows, none decidable{bad}"
    ratio, r, o = max(scored, key=lambda s: s[0])
    n_fail = sum(1 for x in out if x["ok"] is False)
    return (f"{n_fail}/{len(rows)} rows outside tolerance; worst {r.name()}: theory {r.theory:.5g}, "
            f"sim {r.mean:.5g} ± {r.se:.2g} ({'|dev|' if sign is None else 'signed dev'}/tol = {ratio:.2f}){bad}")


@dataclasses.dataclass(frozen=True)
class BoundHolds:
    """One-sided: the simulated quantity stays below (``side="upper"``) or above (``"lower"``) the bound.

    With z Bonferroni-corrected over rows at family-wise level ``alpha`` (one-sided), a row
      * holds (PASS) when its upper confidence limit mean + z * SE is <= bound: the bound holds even for the worst
        value the data cannot exclude;
      * is violated (FAIL) when its lower confidence limit mean - z * SE is > bound: the data exclude the bound;
      * is undecided (INCONCLUSIVE) otherwise: the Monte-Carlo error is too large to tell (more seeds decide it).
    (Mirror everything for ``"lower"``.) The slack bound - mean (mirror for lower) is reported per row. A bound that
    is trivially true (at or beyond ``vacuous_at``, e.g. a probability bounded by 1) is flagged vacuous in the row and
    the summary: it cannot fail, so it is evidence of nothing.
    """

    alpha: float = 0.01
    side: str = "upper"
    vacuous_at: float | None = None

    name = "BoundHolds"

    def settings(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "side": self.side, "vacuous_at": self.vacuous_at}

    def describe(self) -> str:
        rel = "<=" if self.side == "upper" else ">="
        return f"one-sided: simulated {rel} bound at the {1 - self.alpha:.3g} confidence limit (Bonferroni over rows)"

    def evaluate(self, rows: Sequence[Row]) -> RuleResult:
        if self.side not in ("upper", "lower"):
            raise ValueError(f"side must be 'upper' or 'lower', got {self.side!r}")
        sign = 1.0 if self.side == "upper" else -1.0
        good = [r for r in rows if r.finite()]
        bad_names = [r.name() for r in rows if not r.finite()]
        out: list[dict[str, Any]] = []
        n_vacuous = 0
        for r in rows:
            rec: dict[str, Any] = dict(r.label)
            rec.update(theory=r.theory, mean=r.mean, se=r.se, n_bad=r.n_bad)
            if r.dof is not None:
                rec["dof"] = r.dof
            if not r.finite():
                rec.update(slack=None, limit=None, ok=None, vacuous=None, note=_bad_note(r))
                out.append(rec)
                continue
            zr = r.isf(self.alpha / max(len(good), 1))
            limit = r.mean + sign * zr * r.se
            slack = sign * (r.theory - r.mean)
            vacuous = self.vacuous_at is not None and sign * (r.theory - self.vacuous_at) >= 0
            n_vacuous += bool(vacuous)
            holds = sign * (r.theory - limit) >= 0
            violated = sign * (r.mean - sign * zr * r.se - r.theory) > 0
            ok = True if holds else (False if violated else None)
            note = ("vacuous bound" if vacuous
                    else ("" if ok is not None else "undecided: confidence interval straddles the bound"))
            rec.update(slack=slack, limit=limit, z_crit=zr, ok=ok, vacuous=vacuous, note=note)
            out.append(rec)
        verdict = _decide(out, bad_names)
        decided = [(o["slack"], r) for o, r in zip(out, rows) if o.get("slack") is not None]
        if decided:
            slack, worst = min(decided, key=lambda s: s[0])
            undecided = sum(1 for o in out if o["ok"] is None)
            summary = (f"{sum(1 for o in out if o['ok'] is False)}/{len(rows)} rows violate the bound"
                       + (f", {undecided} undecided" if undecided else "") + "; "
                       f"tightest {worst.name()}: bound {worst.theory:.5g}, sim {worst.mean:.5g} ± {worst.se:.2g}, "
                       f"slack {slack:.3g}")
        else:
            summary = f"{len(rows)} rows, none decidable"
        if n_vacuous:
            summary += f"; {n_vacuous} row(s) vacuous (bound beyond {self.vacuous_at:g})"
        if bad_names:
            summary += f"; diverged or non-finite at {len(bad_names)} row(s), first: {bad_names[0]}"
        return RuleResult(self.name, verdict, summary, out, self.settings())


@dataclasses.dataclass(frozen=True)
class TransitionAt:
    """A phase transition located from simulation sits where the theory predicts.

    Each row carries the predicted location (``theory``), the located one (``mean``) and its standard error (from
    bootstrap over seeds or the delta method; see :func:`locate_crossing`). The row passes when the confidence
    interval located ± (z * SE + finite_size) contains the prediction, z Bonferroni-corrected at level ``alpha``. A
    located transition whose SE is not finite (no crossing found) is INCONCLUSIVE.
    """

    alpha: float = 0.01
    #: A number, or a function of the row (as for :class:`Agree`), e.g. a grid-spacing or width term per row.
    finite_size: float | Callable[[Row], float] = 0.0
    finite_size_doc: str = "none"

    name = "TransitionAt"

    def settings(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "finite_size": self.finite_size_doc}

    def describe(self) -> str:
        return (f"confidence interval of the located transition (level {1 - self.alpha:.3g}, Bonferroni) "
                "contains the prediction")

    def evaluate(self, rows: Sequence[Row]) -> RuleResult:
        inner = Agree(alpha=self.alpha, finite_size=self.finite_size, finite_size_doc=self.finite_size_doc)
        res = inner.evaluate(rows)
        for o in res.rows:
            if o.get("tolerance") is not None:
                o["ci_low"] = o["mean"] - o["tolerance"]
                o["ci_high"] = o["mean"] + o["tolerance"]
        summary = res.summary.replace("rows outside tolerance", "predictions outside the located CI")
        return RuleResult(self.name, res.verdict, summary, res.rows, self.settings())


# --- estimators with standard errors -------------------------------------------------------------------------------


def exponent_allowance(sizes) -> float:
    """Declared finite-size allowance on an exponent fitted over ``sizes`` (widths or depths):
    s_min^{-1/2} / ln(s_max / s_min). A relative O(s^{-1/2}) correction c s^{-1/2} with |c| <= 1 to the leading power
    bends a log-log slope over [s_min, s_max] by at most about this much (used by the width and depth scaling checks,
    whose limits are approached at rate s^{-1/2})."""
    lo, hi = min(sizes), max(sizes)
    return lo ** -0.5 / math.log(hi / lo)


def mean_and_se(samples: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over ``axis``, its standard error s / sqrt(R), and the count of non-finite trials.

    Non-finite trials are counted and excluded from the mean, so the caller can name them; a point with any such
    trial is INCONCLUSIVE under every rule.
    """
    r, mean, dev, n_bad = _finite_deviations(samples, axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.sum(dev**2, axis=axis) / (r - 1)
        se = np.sqrt(var / r)
    return mean, se, n_bad


def _finite_deviations(samples: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(R, mean, deviations, n_bad) over ``axis`` from the finite trials only: R their count, deviations from their
    mean (0 at non-finite trials), n_bad the count of non-finite ones. Shared by the moment estimators below."""
    x = np.asarray(samples, dtype=np.float64)
    finite = np.isfinite(x)
    n_bad = np.sum(~finite, axis=axis)
    r = np.sum(finite, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.sum(np.where(finite, x, 0.0), axis=axis) / r
        dev = np.where(finite, x - np.expand_dims(mean, axis), 0.0)
    return r, mean, dev, n_bad


def welch_dof(parts: Sequence[tuple[float, float]]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of independent variance estimates.

    ``parts``: (variance contribution v_i, its degrees of freedom nu_i); returns (sum v_i)^2 / sum v_i^2 / nu_i.
    E.g. for 2 m_2 - m_1 with means over R_2 and R_1 seeds: [(4 se_2^2, R_2 - 1), (se_1^2, R_1 - 1)]. An infinite
    nu_i (an exactly known or very precise part) contributes no uncertainty about the variance.
    """
    total = sum(v for v, _ in parts)
    denom = sum(v * v / nu for v, nu in parts if math.isfinite(nu))
    return math.inf if denom == 0 else total * total / denom


def mean_skew(samples: np.ndarray, axis: int = -1) -> np.ndarray:
    """Skewness of the sample mean over ``axis``: gamma_hat / sqrt(R), with gamma_hat = m3 / m2^(3/2) the sample
    skewness of the R finite trials (non-finite ones excluded, as in :func:`mean_and_se`). For ``Row.skew``."""
    r, _, dev, _ = _finite_deviations(samples, axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        m2 = np.sum(dev**2, axis=axis) / r
        m3 = np.sum(dev**3, axis=axis) / r
        g = np.where(m2 > 0, m3 / np.maximum(m2, 1e-300) ** 1.5, 0.0)
        return g / np.sqrt(r)


def variance_and_se(samples: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unbiased sample variance over ``axis`` and its standard error sqrt((m4 - s^4 (R-3)/(R-1)) / R).

    The SE is the usual large-sample one for a variance (it needs a finite fourth moment); non-finite trials are
    counted as in :func:`mean_and_se`.
    """
    r, _, dev, n_bad = _finite_deviations(samples, axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.sum(dev**2, axis=axis) / (r - 1)
        m4 = np.sum(dev**4, axis=axis) / r
        se = np.sqrt(np.maximum(m4 - var**2 * (r - 3) / (r - 1), 0.0) / r)
    return var, se, n_bad


def fit_power_law(x: np.ndarray, y: np.ndarray, y_se: np.ndarray) -> tuple[float, float, float]:
    """Weighted least-squares fit log y = c + slope * log x; returns (slope, slope_se, c).

    Weights come from the delta method, Var(log y) ~= (SE / y)^2. The slope SE is the one implied by those weights
    (not rescaled by the residuals) so that it reflects the Monte-Carlo error only; with a model that fits badly the
    slope's interval is then too narrow, which makes a check stricter, never laxer.
    """
    x, y, y_se = (np.asarray(a, dtype=np.float64) for a in (x, y, y_se))
    if np.any(y <= 0) or np.any(x <= 0):
        return math.nan, math.nan, math.nan
    lx, ly = np.log(x), np.log(y)
    w = 1.0 / np.maximum((y_se / y) ** 2, 1e-300)
    a = np.stack([np.ones_like(lx), lx], axis=1)
    cov = np.linalg.inv(a.T @ (a * w[:, None]))
    coef = cov @ (a.T @ (w * ly))
    return float(coef[1]), float(math.sqrt(cov[1, 1])), float(coef[0])


def exponent_row(label: dict, theory: float, sizes, samples, means_key: str) -> Row:
    """A Row for the exponent b of size -> E[sample], with ``samples`` of shape (len(sizes), seeds).

    b is fitted by :func:`fit_power_law` over the per-size means (SEs s/sqrt(R), non-finite trials excluded and
    counted). The slope's SE is built from per-size SEs over few seeds, so the row uses Student-t with the smallest
    per-size dof (conservative). ``scale=1``: an exponent is perturbed additively in calibration, in powers. The
    per-size means are shown in the label under ``means_key``.
    """
    samples = np.asarray(samples, dtype=np.float64)
    mean, se, bad = mean_and_se(samples, axis=1)
    b, b_se, _ = fit_power_law(sizes, mean, se)
    label = {**label, means_key: ", ".join(f"{m:.3g}" for m in mean)}
    return Row(label, theory, b, b_se, int(bad.sum()), dof=float(samples.shape[1] - 1 - bad.max()), scale=1.0)


def extrapolate_inverse(sizes, mean, se) -> tuple[float, float, float]:
    """Weighted least squares of mean_n = c0 + c1 / n over sizes n (weights 1/se^2): returns (c0, se(c0), c1).

    The 1/n (Richardson-type) extrapolation to n = infinity of a quantity with an O(1/n) finite-size term; the SE
    is the one implied by the weights (Monte-Carlo error only), as in :func:`fit_power_law`.
    """
    n, y, s = (np.asarray(a, dtype=np.float64) for a in (sizes, mean, se))
    a = np.stack([np.ones_like(n), 1.0 / n], axis=1)
    w = 1.0 / np.maximum(s**2, 1e-300)
    cov = np.linalg.inv(a.T @ (a * w[:, None]))
    coef = cov @ (a.T @ (w * y))
    return float(coef[0]), float(math.sqrt(cov[0, 0])), float(coef[1])


def locate_crossing(x: np.ndarray, mean: np.ndarray, se: np.ndarray, level: float) -> tuple[float, float]:
    """Where a monotone-ish curve sampled at ``x`` first crosses ``level``, with a delta-method standard error.

    The crossing is interpolated linearly between the two bracketing points (x_i, y_i), (x_j, y_j):
    x* = x_i + (level - y_i)(x_j - x_i)/(y_j - y_i). Its SE propagates the (independent) SEs of y_i and y_j through
    the partial derivatives of that expression. Returns (nan, nan) when the curve does not cross ``level``, which
    :class:`TransitionAt` reports as INCONCLUSIVE.
    """
    x, mean, se = (np.asarray(a, dtype=np.float64) for a in (x, mean, se))
    s = np.sign(mean - level)
    idx = np.nonzero(s[:-1] * s[1:] <= 0)[0]
    if idx.size == 0:
        return math.nan, math.nan
    i = int(idx[0])
    j = i + 1
    dy = mean[j] - mean[i]
    if dy == 0:
        return float(x[i]), math.nan
    t = (level - mean[i]) / dy
    x_star = x[i] + t * (x[j] - x[i])
    # d x*/d y_i = -(x_j - x_i)(1 - t)/dy,  d x*/d y_j = -(x_j - x_i) t / dy
    g_i = -(x[j] - x[i]) * (1 - t) / dy
    g_j = -(x[j] - x[i]) * t / dy
    return float(x_star), float(math.sqrt((g_i * se[i]) ** 2 + (g_j * se[j]) ** 2))
