"""Every registered check: its quick profile PASSes, its negative control FAILs on the same data, its figure is
written, and its declaration is complete. Plus the engine's own guarantees (control downgrade, caching)."""

import json

import jax.numpy as jnp
from pathlib import Path

import pytest

from theory_lab.claims import Check, Evidence, Param, Profile, Source, registry, run_check
from theory_lab.rules import Agree, Row
from theory_lab.sweep import Grid

CHECKS = sorted(registry())


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORY_LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("THEORY_LAB_FIGURES", str(tmp_path / "figs"))
    return tmp_path


def test_suite_has_the_foundation_claims():
    assert {"rmt.marchenko-pastur", "rmt.hmrt-ridgeless", "loops.gaussian-refit"} <= set(CHECKS)


@pytest.mark.parametrize("check_id", CHECKS)
def test_declaration_is_complete(check_id):
    c = registry()[check_id]
    assert c.statement and c.tolerance and c.negative_control and c.figure
    assert c.expected in ("PASS", "FAIL")
    assert c.source.paper and c.source.where
    assert {"quick", "full"} <= set(c.profiles)
    for prm in c.params:
        assert prm.help
        prm.validate(prm.default)  # defaults lie inside their own ranges


@pytest.mark.parametrize("check_id", CHECKS)
def test_quick_profile_passes_and_negative_control_fails(check_id):
    check = registry()[check_id]
    rec = run_check(check, profile="quick")
    for g in rec["rules"]:
        assert g["rows"], "a rule with no rows cannot fail"
    if check.expected == "FAIL":
        # A documented refutation: decisively FAIL, and some evidence group on the same data PASSes, so the rule
        # is seen to be able to pass here.
        assert rec["verdict"] == "FAIL", [g["summary"] for g in rec["rules"]]
        assert any(g["verdict"] == "PASS" for g in rec["rules"]), [g["summary"] for g in rec["rules"]]
        assert rec["notes"] and "refuted" in rec["notes"][0]
    else:
        assert rec["control"]["verdict"] == "FAIL", rec["control"]
        assert rec["verdict"] == "PASS", [g["summary"] for g in rec["rules"]]
    assert all(Path(f).exists() for f in rec["figures"]) and len(rec["figures"]) == 2
    stored = json.loads((Path(rec["run_dir"]) / "record.json").read_text())
    assert stored["verdict"] == check.expected and stored["run_key"] == rec["run_key"]


def test_hmrt_runs_at_a_user_point():
    rec = run_check(registry()["rmt.hmrt-ridgeless"], overrides={"gamma": "2.5", "r2": "2", "sigma2": "0.5"},
                    make_figure=False)
    rows = rec["rules"][0]["rows"]
    assert {r["gamma"] for r in rows} == {2.5} and rec["params"]["r2"] == 2.0
    assert rec["verdict"] == "PASS" and rec["control"]["verdict"] == "FAIL"


class _Toothless(Check):
    """A toy check whose 'wrong' theory is the right one: its control cannot fail."""

    id = "test.toothless"
    source = Source("toy", "none")
    statement = "E[N(0,1)] = 0"
    params = (Param("scale", "float", 1.0, "scale", low=0.0, high=10.0),)
    profiles = {"quick": Profile(seeds=50), "full": Profile(seeds=50)}
    tolerance = "Agree"
    negative_control = "none (deliberately)"

    def grid(self, p):
        return Grid.product(static={}, dynamic={"scale": [p["scale"]]})

    def simulate(self, key, static, dynamic):
        import jax

        return {"x": jax.random.normal(key) * dynamic["scale"]}

    def evidence(self, p, sweep, control=False):
        x = sweep.data["x"][0]
        return [Evidence("mean", Agree(), [Row({"stat": "mean"}, 0.0, float(x.mean()), float(x.std() / 7))])]


def test_pass_without_a_failing_control_is_downgraded():
    rec = run_check(_Toothless(), make_figure=False)
    assert rec["control"]["verdict"] == "PASS"
    assert rec["verdict"] == "INCONCLUSIVE" and "negative control did not FAIL" in rec["notes"][0]


def test_cache_hit_and_no_cache():
    c = registry()["loops.gaussian-refit"]
    over = {"t": "5"}
    first = run_check(c, overrides=over, seeds=100, make_figure=False)
    assert first["cache"] == "computed"
    second = run_check(c, overrides=over, seeds=100, make_figure=False)
    assert second["cache"] == "hit" and second["rules"] == first["rules"]
    third = run_check(c, overrides=over, seeds=100, make_figure=False, use_cache=False)
    assert third["cache"] == "computed" and third["rules"] == first["rules"]  # same seed, same numbers


def test_load_result_gives_labelled_arrays_without_recomputing():
    from theory_lab.claims import load_result

    rec = run_check(registry()["loops.gaussian-refit"], overrides={"t": "6"}, seeds=64, make_figure=False)
    res = load_result(rec)
    assert res.status == "cached" and res.chunks_computed == 0
    assert res.data["log_var"].shape == (2, 64, 7)
    assert res.sel("log_var", n_real=5.0).shape == (64, 7)


def test_changed_code_is_reported_stale(monkeypatch):
    import theory_lab.store as store

    c = registry()["loops.gaussian-refit"]
    run_check(c, overrides={"t": "4"}, seeds=32, make_figure=False)
    monkeypatch.setattr(store, "code_version", lambda: "other-code")
    rec = run_check(c, overrides={"t": "4"}, seeds=32, make_figure=False)
    assert rec["cache"].startswith("computed") and "stale" in rec["cache"]


class _Diverging(_Toothless):
    """A toy check whose simulation returns NaN at one sweep point."""

    id = "test.diverging"

    def grid(self, p):
        return Grid.product(static={}, dynamic={"scale": [1.0, -1.0]})

    def simulate(self, key, static, dynamic):
        import jax

        x = jax.random.normal(key)
        return {"x": jnp.where(dynamic["scale"] < 0, jnp.nan, x)}

    def evidence(self, p, sweep, control=False):
        from theory_lab.rules import mean_and_se

        rows = []
        for i, scale in enumerate(sweep.coords["scale"]):
            m, se, bad = mean_and_se(sweep.data["x"][i])
            rows.append(Row({"scale": float(scale)}, 5.0 if control else 0.0, float(m), float(se), int(bad)))
        return [Evidence("mean", Agree(), rows)]


def test_nan_in_simulation_is_inconclusive_and_named():
    rec = run_check(_Diverging(), make_figure=False)
    assert rec["verdict"] == "INCONCLUSIVE"
    assert "scale=-1" in rec["rules"][0]["summary"]
    bad_row = [r for r in rec["rules"][0]["rows"] if r["scale"] == -1.0][0]
    assert bad_row["n_bad"] == 50 and bad_row["ok"] is None
