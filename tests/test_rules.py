"""Tolerance rules: each must be able to FAIL, treat NaN/Inf as INCONCLUSIVE, and keep its false-FAIL rate."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from theory_lab.rules import (
    Agree,
    BoundHolds,
    Row,
    TransitionAt,
    Verdict,
    combine,
    critical_z,
    fit_power_law,
    hall_inverse,
    hall_transform,
    locate_crossing,
    mean_and_se,
    mean_skew,
    variance_and_se,
)


def _rows(devs, se=1.0, theory=10.0):
    return [Row({"i": i}, theory, theory + d, se) for i, d in enumerate(devs)]


def test_critical_z_bonferroni():
    assert critical_z(0.05, 1) == pytest.approx(1.959964, abs=1e-5)
    assert critical_z(0.05, 10) == pytest.approx(2.807034, abs=1e-5)
    assert critical_z(0.05, 1, two_sided=False) == pytest.approx(1.644854, abs=1e-5)


@pytest.mark.parametrize("correction", ["bonferroni", "holm"])
def test_agree_pass_and_fail(correction):
    rule = Agree(alpha=0.01, correction=correction)
    assert rule.evaluate(_rows([0.5, -1.0, 2.0])).verdict is Verdict.PASS
    res = rule.evaluate(_rows([0.5, -1.0, 6.0]))
    assert res.verdict is Verdict.FAIL
    assert [r["ok"] for r in res.rows] == [True, True, False]
    assert "i=2" in res.summary


def test_agree_finite_size_term_is_not_tested():
    rows = _rows([4.0])
    assert Agree(alpha=0.01).evaluate(rows).verdict is Verdict.FAIL
    assert Agree(alpha=0.01, finite_size=2.0).evaluate(rows).verdict is Verdict.PASS
    # Callable finite-size terms see the row.
    assert Agree(alpha=0.01, finite_size=lambda r: 0.2 * r.theory).evaluate(rows).verdict is Verdict.PASS


def test_agree_nan_is_inconclusive_and_named():
    rows = _rows([0.1, 0.2]) + [Row({"i": 7}, 10.0, math.nan, 1.0)]
    res = Agree().evaluate(rows)
    assert res.verdict is Verdict.INCONCLUSIVE
    assert "i=7" in res.summary
    rows = _rows([0.1]) + [Row({"i": 8}, 10.0, 10.0, 1.0, n_bad=3)]
    assert Agree().evaluate(rows).verdict is Verdict.INCONCLUSIVE
    # A failing row still makes it FAIL: evidence against the theory stands beside undecided rows.
    rows = _rows([50.0]) + [Row({"i": 9}, 10.0, math.inf, 1.0)]
    assert Agree().evaluate(rows).verdict is Verdict.FAIL


def test_agree_too_wide_to_decide_is_inconclusive():
    rows = _rows([0.1], se=50.0)
    assert Agree(max_halfwidth=0.5).evaluate(rows).verdict is Verdict.INCONCLUSIVE
    assert Agree().evaluate(rows).verdict is Verdict.PASS


def test_holm_is_at_least_as_powerful_as_bonferroni():
    rng = np.random.default_rng(0)
    for _ in range(200):
        devs = rng.normal(size=20) + rng.choice([0, 3.5], size=20)
        b = Agree(alpha=0.05).evaluate(_rows(devs))
        h = Agree(alpha=0.05, correction="holm").evaluate(_rows(devs))
        assert sum(r["ok"] is False for r in h.rows) >= sum(r["ok"] is False for r in b.rows)


@pytest.mark.parametrize("correction", ["bonferroni", "holm"])
def test_agree_false_fail_rate_is_at_most_alpha(correction):
    """Under the null (exact theory, Gaussian estimates) the family-wise false-FAIL rate stays <= alpha."""
    rng = np.random.default_rng(1)
    alpha, trials = 0.05, 4000
    fails = sum(Agree(alpha=alpha, correction=correction).evaluate(_rows(rng.normal(size=12))).verdict
                is Verdict.FAIL for _ in range(trials))
    assert fails / trials <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / trials)


def test_bound_holds_uses_upper_confidence_limit_and_reports_slack():
    rule = BoundHolds(alpha=0.05)
    ok = rule.evaluate([Row({"i": 0}, theory=1.0, mean=0.5, se=0.1)])
    assert ok.verdict is Verdict.PASS and ok.rows[0]["slack"] == pytest.approx(0.5)
    # Mean below the bound but its upper confidence limit above: neither shown to hold nor shown violated.
    near = rule.evaluate([Row({"i": 0}, theory=1.0, mean=0.95, se=0.1)])
    assert near.verdict is Verdict.INCONCLUSIVE and "undecided" in near.summary
    # The lower confidence limit above the bound: violated.
    over = rule.evaluate([Row({"i": 0}, theory=1.0, mean=1.5, se=0.1)])
    assert over.verdict is Verdict.FAIL and over.rows[0]["slack"] == pytest.approx(-0.5)
    lower = BoundHolds(side="lower").evaluate([Row({"i": 0}, theory=1.0, mean=2.0, se=0.1)])
    assert lower.verdict is Verdict.PASS


def test_bound_holds_flags_vacuous_bounds():
    res = BoundHolds(vacuous_at=1.0).evaluate([Row({"i": 0}, theory=1.5, mean=0.3, se=0.01)])
    assert res.rows[0]["vacuous"] is True
    assert "vacuous" in res.summary


def test_transition_at():
    rule = TransitionAt(alpha=0.05)
    assert rule.evaluate([Row({"i": 0}, theory=0.5, mean=0.52, se=0.02)]).verdict is Verdict.PASS
    res = rule.evaluate([Row({"i": 0}, theory=0.5, mean=0.7, se=0.02)])
    assert res.verdict is Verdict.FAIL and res.rows[0]["ci_low"] > 0.5
    assert rule.evaluate([Row({"i": 0}, theory=0.5, mean=math.nan, se=math.nan)]).verdict is Verdict.INCONCLUSIVE


def test_transition_at_takes_a_per_row_finite_size():
    rows = [Row({"n": 10}, theory=0.5, mean=0.6, se=0.001), Row({"n": 1000}, theory=0.5, mean=0.6, se=0.001)]
    per_row = TransitionAt(finite_size=lambda r: 1.0 / r.label["n"])  # 0.1 at n = 10, 0.001 at n = 1000
    res = per_row.evaluate(rows)
    assert [o["ok"] for o in res.rows] == [True, False] and res.verdict is Verdict.FAIL


def test_locate_crossing():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([1.0, 0.8, 0.2, 0.0])
    xs, se = locate_crossing(x, y, np.full(4, 0.01), 0.5)
    assert xs == pytest.approx(1.5) and 0 < se < 0.1
    assert math.isnan(locate_crossing(x, y + 2, np.full(4, 0.01), 0.5)[0])


def test_combine():
    assert combine([Verdict.PASS, Verdict.PASS]) is Verdict.PASS
    assert combine([Verdict.PASS, Verdict.INCONCLUSIVE]) is Verdict.INCONCLUSIVE
    assert combine([Verdict.INCONCLUSIVE, Verdict.FAIL]) is Verdict.FAIL
    with pytest.raises(ValueError):
        combine([])


def test_estimators():
    rng = np.random.default_rng(2)
    x = rng.normal(3.0, 2.0, size=(1, 200_000))
    m, se, bad = mean_and_se(x)
    assert abs(m[0] - 3.0) < 4 * se[0] and se[0] == pytest.approx(2 / math.sqrt(2e5), rel=0.02)
    v, vse, _ = variance_and_se(x)
    assert abs(v[0] - 4.0) < 4 * vse[0] and vse[0] == pytest.approx(4 * math.sqrt(2 / 2e5), rel=0.05)
    x[0, 5] = np.nan
    assert mean_and_se(x)[2][0] == 1


def test_fit_power_law():
    x = np.array([10.0, 20.0, 40.0, 80.0])
    y = 3.0 * x**-0.5
    slope, se, c = fit_power_law(x, y, 0.01 * y)
    assert slope == pytest.approx(-0.5) and c == pytest.approx(math.log(3.0)) and se > 0


def test_one_sided_agree_rejects_only_the_named_direction():
    rows = [Row({"i": 0}, theory=0.0, mean=-0.5, se=0.01), Row({"i": 1}, theory=0.0, mean=0.001, se=0.01)]
    assert Agree(side="above").evaluate(rows).verdict is Verdict.PASS  # far below is not "above"
    assert Agree().evaluate(rows).verdict is Verdict.FAIL
    up = [Row({"i": 0}, theory=0.0, mean=0.05, se=0.01)]
    assert Agree(side="above").evaluate(up).verdict is Verdict.FAIL
    assert Agree(side="below").evaluate(up).verdict is Verdict.PASS
    # one-sided z is Phi^-1(1 - alpha/k): between the two-sided z and the same alpha doubled
    z1 = Agree(side="above", alpha=0.01).evaluate(up).rows[0]["z_crit"]
    assert z1 == pytest.approx(2.3263, abs=1e-3)
    with pytest.raises(ValueError):
        Agree(side="sideways").evaluate(up)


def test_extrapolate_inverse_recovers_c0_and_its_se():
    """Exact c0 + c1/n data give c0 back; the SE matches the weighted-least-squares formula for two sizes."""
    from theory_lab.rules import extrapolate_inverse

    c0, se, c1 = extrapolate_inverse([10, 20, 40], [1.0 + 2.0 / 10, 1.0 + 2.0 / 20, 1.0 + 2.0 / 40], [0.1, 0.1, 0.1])
    assert c0 == pytest.approx(1.0) and c1 == pytest.approx(2.0)
    # two sizes n1, n2 with SE s: c0 = (n2 y2 - n1 y1)/(n2 - n1), se = s sqrt(n1^2 + n2^2)/(n2 - n1)
    _, se2, _ = extrapolate_inverse([10, 20], [1.2, 1.1], [0.1, 0.1])
    assert se2 == pytest.approx(0.1 * math.sqrt(10**2 + 20**2) / 10)


def test_few_seed_rows_use_student_t_quantiles():
    # 3.5 SE off: outside a normal tolerance at alpha = 1% (z = 2.58), inside a t_5 one (t = 4.03)
    row = Row({"x": 1}, 0.0, 3.5, 1.0)
    assert Agree(alpha=0.01).evaluate([row]).verdict is Verdict.FAIL
    res = Agree(alpha=0.01).evaluate([dataclasses.replace(row, dof=5)])
    assert res.verdict is Verdict.PASS
    assert res.rows[0]["z_crit"] == pytest.approx(stats.t.isf(0.005, 5)) and res.rows[0]["dof"] == 5
    # Holm uses the same quantiles; a large dof is the normal rule
    assert Agree(alpha=0.01, correction="holm").evaluate([dataclasses.replace(row, dof=5)]).verdict is Verdict.PASS
    assert Agree(alpha=0.01).evaluate([dataclasses.replace(row, dof=10**7)]).verdict is Verdict.FAIL
    # one-sided bounds too: 3 SE above an upper bound is a violation for the normal rule (z = 2.33), not for t_5
    b = Row({"x": 1}, 0.0, 3.0, 1.0)
    assert BoundHolds(alpha=0.01).evaluate([b]).verdict is Verdict.FAIL
    assert BoundHolds(alpha=0.01).evaluate([dataclasses.replace(b, dof=5)]).verdict is not Verdict.FAIL


def test_hall_transform_removes_the_skewed_lower_tail():
    """The t-statistic of a mean of exponentials (skewness 2) over R = 200 trials falls below -3 about four times as
    often as a normal would; after Hall's transform with the estimated skewness both tails are near nominal."""
    rng = np.random.default_rng(1)
    x = rng.exponential(size=(40_000, 200))
    m, se, _ = mean_and_se(x, axis=1)
    t = (m - 1.0) / se
    sk = mean_skew(x, axis=1)
    g = np.array([hall_transform(a, b) for a, b in zip(t, sk)])
    nominal = stats.norm.sf(3.0)
    assert np.mean(t < -3.0) > 2.5 * nominal  # the defect being corrected
    band = 4 * math.sqrt(nominal / len(t))
    assert abs(np.mean(g < -3.0) - nominal) < band and abs(np.mean(g > 3.0) - nominal) < band
    # mean_skew is gamma_hat / sqrt(R); the inverse undoes the (monotone) transform
    assert np.median(sk) * math.sqrt(200) == pytest.approx(2.0, rel=0.15)
    for tv in (-4.0, -0.3, 0.0, 2.5):
        assert hall_inverse(hall_transform(tv, 0.2), 0.2) == pytest.approx(tv, abs=1e-12)
    assert hall_transform(1.7, 0.0) == 1.7


def test_agree_with_skew_keeps_its_false_fail_rate_and_can_fail():
    """Rows that carry the skewness of their mean: the family-wise false-FAIL rate over 12 right-skewed rows is near
    alpha (the plain rule's is several times higher), and a clearly wrong theory still FAILs."""
    rng = np.random.default_rng(2)
    alpha, trials, R = 0.05, 1000, 200
    plain = corrected = 0
    for _ in range(trials):
        x = rng.exponential(size=(12, R))
        m, se, _ = mean_and_se(x, axis=1)
        sk = mean_skew(x, axis=1)
        rows = [Row({"i": i}, 1.0, float(m[i]), float(se[i])) for i in range(12)]
        plain += Agree(alpha=alpha, correction="holm").evaluate(rows).verdict is Verdict.FAIL
        rows_sk = [dataclasses.replace(r, skew=float(sk[i])) for i, r in enumerate(rows)]
        corrected += Agree(alpha=alpha, correction="holm").evaluate(rows_sk).verdict is Verdict.FAIL
    assert corrected / trials <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / trials)
    assert plain > corrected
    x = rng.exponential(size=R)
    m, se, _ = mean_and_se(x)
    for correction in ("bonferroni", "holm"):
        for wrong in (0.6, 1.4):  # both directions of a 40% error
            row = Row({"i": 0}, wrong, float(m), float(se), skew=float(mean_skew(x)))
            res = Agree(alpha=0.01, correction=correction).evaluate([row])
            assert res.verdict is Verdict.FAIL
            # the reported tolerance (crit * SE) is the one the decision used
            assert abs(row.mean - row.theory) > res.rows[0]["tolerance"]
            assert res.rows[0]["skew"] == row.skew
