"""The command line: verdicts and exit codes, JSON records, and bad input that fails fast and leaves nothing."""

import json

import pytest

from theory_lab.cli import main


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORY_LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("THEORY_LAB_FIGURES", str(tmp_path / "figs"))
    return tmp_path


BAD_INPUTS = [
    (["check", "no.such-claim"], "unknown check"),
    (["check", "loops.gaussian-refit", "--set", "bogus=1"], "has no parameter 'bogus'"),
    (["check", "loops.gaussian-refit", "--set", "n=ten"], "n='ten' is not a valid int"),
    (["check", "loops.gaussian-refit", "--set", "n=-5"], "n=-5 is out of range"),
    (["check", "loops.gaussian-refit", "--set", "real_fraction=0.5,1.5"], "real_fraction=1.5 is out of range"),
    (["check", "loops.gaussian-refit", "--set", "n"], "malformed --set"),
    (["check", "loops.gaussian-refit", "--seeds", "-3"], "--seeds must be in [2,"),
    (["check", "loops.gaussian-refit", "--profile", "huge"], "Invalid value for '--profile'"),
    (["check"], "give check ids or --all"),
    (["frobnicate"], "No such command"),
]


@pytest.mark.parametrize("argv,message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_one_line_exit_2_nothing_written(argv, message, capsys, isolated_dirs):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("theory-lab: error:"), err
    assert message in err
    assert not (isolated_dirs / "results").exists()
    assert not (isolated_dirs / "figs").exists()


def test_check_json_record_and_cache(capsys, isolated_dirs):
    argv = ["check", "loops.gaussian-refit", "--set", "t=8", "--set", "real_fraction=0,0.5", "--seeds", "500",
            "--json", "--no-figures"]
    assert main(argv) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["check"] == "loops.gaussian-refit" and rec["verdict"] == "PASS"
    assert rec["control"]["verdict"] == "FAIL"
    assert rec["params"]["t"] == 8 and rec["seeds"] == 500 and rec["cache"] == "computed"
    row = rec["rules"][0]["rows"][0]
    for field in ("real_fraction", "stat", "t", "theory", "mean", "se", "z", "ok"):
        assert field in row
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["cache"] == "hit"


def test_failing_check_exits_1(capsys, monkeypatch):
    """A check whose theory is wrong must make the CLI exit 1: swap in the negative control as the theory."""
    from proofs_checks import gaussian_refit

    real = gaussian_refit.GaussianRefit.evidence

    def flipped(self, p, sweep, control=False):
        return real(self, p, sweep, control=not control)

    monkeypatch.setattr(gaussian_refit.GaussianRefit, "evidence", flipped)
    assert main(["check", "loops.gaussian-refit", "--set", "t=8", "--seeds", "500", "--no-figures"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out


def test_list_info_help(capsys):
    assert main(["list"]) == 0
    assert "loops.gaussian-refit" in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    decl = json.loads(capsys.readouterr().out)
    assert all(d["negative_control"] and d["tolerance"] and d["source"]["paper"] for d in decl)
    assert main(["info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["x64"] is True
    assert main(["check", "--help"]) == 0
    assert "--set" in capsys.readouterr().out


def test_warns_about_the_eigen_flag_that_hangs_cpu_programs(capsys, monkeypatch):
    """A user's own XLA_FLAGS with --xla_cpu_multi_thread_eigen=false (the cause of the suite's CI hangs) is named
    on stderr, once, and the command still runs; without the flag nothing is printed."""
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    assert main(["list"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "xla_cpu_multi_thread_eigen=false" in err and "hang" in err
    monkeypatch.delenv("XLA_FLAGS")
    assert main(["list"]) == 0
    assert capsys.readouterr().err == ""
