"""Property-based tests of the command line: whatever the arguments and --set values, the CLI either accepts them
(and would run) or answers with one line on stderr and exit 2 — never a traceback, never a file written."""

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theory_lab.claims import registry
from theory_lab.cli import main

CHECKS = registry()
PARAM_NAMES = sorted({p.name for c in CHECKS.values() for p in c.params})


def _number_text():
    return st.one_of(
        st.integers(-10**15, 10**15).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["nan", "inf", "-inf", "1e400", "0", "-0", "1e-320", "0x10", "1_000", " 3 ", "3.", ".5"]),
    )


values = st.one_of(
    _number_text(),
    st.lists(_number_text(), min_size=1, max_size=4).map(",".join),
    st.text(alphabet=string.printable, max_size=12),
    st.sampled_from(["true", "false", "", ",", ",,1", "1,", "quick"]),
)
set_items = st.one_of(
    st.tuples(st.sampled_from(PARAM_NAMES), values).map(lambda t: f"{t[0]}={t[1]}"),
    st.tuples(st.text(alphabet=string.ascii_letters + "_=", max_size=8), values).map(lambda t: f"{t[0]}={t[1]}"),
    st.text(alphabet=string.printable, max_size=10),
)
ids = st.one_of(st.sampled_from(sorted(CHECKS)), st.text(alphabet=string.ascii_lowercase + ".-", max_size=12))
options = st.lists(
    st.one_of(
        st.tuples(st.just("--seeds"), st.one_of(_number_text(), st.text(max_size=5))),
        st.tuples(st.just("--root-seed"), st.one_of(_number_text(), st.text(max_size=5))),
        st.tuples(st.just("--profile"), st.sampled_from(["quick", "full", "fast", "", "QUICK"])),
        st.tuples(st.just("--set"), set_items),
    ),
    max_size=4,
)


class Ran(Exception):
    """Raised by the stub in place of running a check: the input was accepted."""


@pytest.fixture
def stubbed(tmp_path, monkeypatch):
    import theory_lab.claims as claims

    def fake_run_check(check, **kwargs):
        raise Ran(check.id)

    monkeypatch.setattr(claims, "run_check", fake_run_check)
    monkeypatch.setenv("THEORY_LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("THEORY_LAB_FIGURES", str(tmp_path / "figs"))
    return tmp_path


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(check_ids=st.lists(ids, max_size=2), opts=options, use_all=st.booleans())
def test_cli_never_tracebacks_and_bad_input_is_one_line(stubbed, capsys, check_ids, opts, use_all):
    argv = ["check", *check_ids, *(["--all"] if use_all else [])]
    for flag, value in opts:
        argv += [flag, value]
    try:
        rc = main(argv)
    except Ran:
        return  # accepted: a check would run with these (valid) arguments
    err = capsys.readouterr().err
    assert rc == 2, (argv, rc, err)
    assert err.startswith("theory-lab: error:") and err.count("\n") == 1, (argv, err)
    assert "Traceback" not in err
    assert not (stubbed / "results").exists() and not (stubbed / "figs").exists()


@pytest.mark.parametrize("argv,assumption", [
    (["check", "rmt.hmrt-ridgeless", "--set", "gamma=1", "--set", "lam=0"], "ridgeless risk diverges"),
    (["check", "rmt.hmrt-ridgeless", "--set", "gamma=0.1", "--set", "n=10"], "n=10 is out of range"),
    (["check", "loops.gaussian-refit", "--set", "n=1"], "n=1 is out of range"),
    (["check", "rmt.marchenko-pastur", "--set", "p=50"], "at least two distinct sizes"),
])
def test_assumption_violations_name_the_assumption(stubbed, capsys, argv, assumption):
    assert main(argv) == 2
    assert assumption in capsys.readouterr().err


def test_unwritable_results_folder_is_a_clear_error(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the results folder should be")
    monkeypatch.setenv("THEORY_LAB_RESULTS", str(blocker / "results"))
    monkeypatch.setenv("THEORY_LAB_FIGURES", str(tmp_path / "figs"))
    rc = main(["check", "loops.gaussian-refit", "--set", "t=3", "--seeds", "16", "--no-figures"])
    err = capsys.readouterr().err
    assert rc == 3 and err.startswith("theory-lab: error: cannot write") and err.count("\n") == 1
    assert str(blocker) in err
