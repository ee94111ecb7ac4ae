"""`theory-lab`: list claims, check them, regenerate figures, describe the machine.

Exit codes: 0 when every check PASSes (or FAILs where it documents a published claim as refuted, ``expected =
"FAIL"``), 1 when any other check FAILs or is INCONCLUSIVE, 2 for bad input (one line on stderr,
nothing written), 3 when results or figures cannot be written (one line naming the path).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Sequence

import click

from theory_lab.claims import BadInput

EXIT_OK, EXIT_NOT_PASS, EXIT_BAD_INPUT, EXIT_IO_ERROR = 0, 1, 2, 3
MAX_SEEDS = 10_000_000
_EIGEN_OFF = "xla_cpu_multi_thread_eigen=false"

_VERDICT_STYLE = {"PASS": "bold green", "FAIL": "bold red", "INCONCLUSIVE": "bold yellow"}


def _precision(argv: Sequence[str]) -> str:
    """``--precision`` from the command line (read before JAX starts), else $THEORY_LAB_PRECISION, else float64."""
    for i, arg in enumerate(argv):
        if arg == "--precision" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--precision="):
            return arg.split("=", 1)[1]
    return os.environ.get("THEORY_LAB_PRECISION", "float64")


def _configure_jax(precision: str) -> None:
    """One process, one precision: x64 is switched on (float64 simulation) or left off (float32) before any JAX
    computation, and never toggled mid-run. Theory is float64 NumPy either way."""
    os.environ.setdefault("JAX_PLATFORMS", os.environ.get("THEORY_LAB_PLATFORM", "cpu"))
    if _EIGEN_OFF in os.environ.get("XLA_FLAGS", "").replace(" ", ""):
        # Measured (session of 2026-12-03): with this flag, vmapped CPU programs of the test suite hung in
        # BlockUntilReady in 12 of 28 runs, without it in 0 of 28. Warn rather than edit the user's flags.
        print(f"theory-lab: warning: XLA_FLAGS contains --{_EIGEN_OFF}, which can make vmapped CPU "
              "computations hang; unset it unless you need it", file=sys.stderr)
    import jax

    jax.config.update("jax_enable_x64", precision != "float32")
    os.environ["THEORY_LAB_PRECISION"] = precision  # a chosen float32 does not warn (claims.warn_if_unchosen_float32)
    _limit_blas_threads()


def _limit_blas_threads() -> None:
    """One BLAS thread per process, unless the user chose (OPENBLAS_NUM_THREADS or OMP_NUM_THREADS set).

    JAX's CPU Cholesky, triangular solves and eigensolvers are LAPACK calls into SciPy's OpenBLAS, one per batch
    element, and OpenBLAS's worker threads spin while they wait. Measured 2026-12-07 on the 2-core machine, a vmapped
    batch of 64 float64 200 x 200 Cholesky + solves: 0.52-0.56 ms per matrix with 2 BLAS threads on idle cores,
    75-180 ms (150-300x slower) with 2 BLAS threads while two other processes were running, 0.42-0.57 ms with one
    thread under the same load. A check shares the cores with other checks, test workers and users, so one thread is
    the safe default; JAX's own matmuls do not use OpenBLAS and keep their threads."""
    if "OPENBLAS_NUM_THREADS" in os.environ or "OMP_NUM_THREADS" in os.environ:
        return
    import scipy.linalg  # noqa: F401  (loads SciPy's OpenBLAS, the one jaxlib's LAPACK kernels call)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def _console(stderr: bool = False):
    from rich.console import Console

    con = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not con.is_terminal:  # logs and pipes: wide enough that ids and numbers are not folded
        con = Console(stderr=stderr, highlight=False, soft_wrap=False, width=140)
    return con


def _parse_sets(sets: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise BadInput(f"malformed --set {item!r}: expected name=value, e.g. --set gamma=2.5")
        out[name.strip()] = value.strip()
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="theory-lab", prog_name="theory-lab")
@click.option("--distributed", is_flag=True,
              help="Join a multi-process run (jax.distributed): coordinator, size and rank from "
                   "THEORY_LAB_COORDINATOR, THEORY_LAB_NUM_PROCESSES, THEORY_LAB_PROCESS_ID, or auto-detected on "
                   "SLURM/TPU. See docs/distributed.md.")
def cli(distributed: bool) -> None:
    """Numerical verification of machine-learning theory.

    Each claim check compares a theorem's prediction with a JIT-compiled Monte-Carlo simulation of the same
    quantity and returns PASS, FAIL or INCONCLUSIVE under a tolerance rule fixed in advance. Every check also runs
    its negative control (a deliberately wrong theory) on the same data, which must FAIL.

    Results go to ./results (or $THEORY_LAB_RESULTS), figures to ./figures/out (or $THEORY_LAB_FIGURES).
    """


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the declarations as JSON.")
def list_cmd(as_json: bool) -> int:
    """Every claim: its id, source, statement and last verdict (quick / full)."""
    from theory_lab.claims import registry
    from theory_lab.store import latest_record

    checks = registry()
    if as_json:
        out = []
        for c in checks.values():
            d = c.declaration()
            d["last"] = {prof: (r or {}).get("verdict") for prof in ("quick", "full")
                         for r in [latest_record(c.id, prof)]}
            out.append(d)
        click.echo(json.dumps(out, indent=2, default=str))
        return EXIT_OK
    from rich.markup import escape
    from rich.table import Table

    t = Table(title="theory_lab claims", show_lines=True)
    for col in ("id", "source", "statement", "quick", "full"):
        t.add_column(col, overflow="fold", no_wrap=col in ("id", "quick", "full"))
    for c in checks.values():
        last = []
        for prof in ("quick", "full"):
            r = latest_record(c.id, prof)
            v = r["verdict"] if r else "-"
            last.append(f"[{_VERDICT_STYLE.get(v, '')}]{v}[/]" if r else "-")
        t.add_row(c.id, escape(c.source.cite()), escape(c.statement), *last)
    _console().print(t)
    return EXIT_OK


@cli.command("check")
@click.argument("ids", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Check every registered claim.")
@click.option("--profile", type=click.Choice(["quick", "full"]), default="quick", show_default=True,
              help="quick: CPU-sized (seconds); full: paper scale, for accelerators.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Override a declared parameter (repeatable); lists are comma-separated, e.g. gamma=0.5,2.")
@click.option("--seeds", type=int, default=None, help="Trials per sweep point (default: the profile's).")
@click.option("--root-seed", type=int, default=0, show_default=True, help="Root of all PRNG keys.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the record as JSON (an object for one check, a list for several) instead of the table.")
@click.option("--no-cache", is_flag=True, help="Recompute even if a finished run with the same key is stored.")
@click.option("--no-figures", is_flag=True, help="Skip writing figures.")
@click.option("--precision", type=click.Choice(["float64", "float32"]), default=None,
              help="Simulation precision for this process (default float64, or $THEORY_LAB_PRECISION); theory is "
                   "always float64. A check states which precision its tolerance assumes.")
def check_cmd(ids: tuple[str, ...], run_all: bool, profile: str, sets: tuple[str, ...], seeds: int | None,
              root_seed: int, as_json: bool, no_cache: bool, no_figures: bool, precision: str | None) -> int:
    """Check claims IDS (or --all) and print their verdicts.

    Exit status 0 when every verdict is PASS or a documented refutation of a published claim (a FAIL the check
    declares as its finding), 1 otherwise, 2 on bad input.

    \b
    Examples:
      theory-lab check --all --profile quick
      theory-lab check rmt.hmrt-ridgeless --set gamma=2.5 --set r2=2 --set sigma2=0.5 --json
    """
    from theory_lab.claims import get_check, registry, resolve_params, run_check

    if run_all == bool(ids):
        raise BadInput("give check ids or --all (not both); see `theory-lab list`")
    if seeds is not None and not 2 <= seeds <= MAX_SEEDS:
        raise BadInput(f"--seeds must be in [2, {MAX_SEEDS}] (standard errors need two trials), got {seeds}")
    if root_seed < 0 or root_seed >= 2**32:
        raise BadInput(f"--root-seed must be in [0, 2^32), got {root_seed}")
    overrides = _parse_sets(sets)
    checks = list(registry().values()) if run_all else [get_check(i) for i in dict.fromkeys(ids)]
    # Validate every check's input before anything runs or touches the disk.
    for c in checks:
        resolve_params(c, profile, overrides)

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    err = _console(stderr=True)
    records: list[dict[str, Any]] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} trials"),
                  TimeElapsedColumn(), console=err, disable=not err.is_terminal, transient=True) as bar:
        for c in checks:
            task = bar.add_task(c.id, total=None)

            def progress(done: int, total: int, task=task) -> None:
                bar.update(task, completed=done, total=total)

            records.append(run_check(c, profile=profile, overrides=overrides, seeds=seeds, root_seed=root_seed,
                                     use_cache=not no_cache, progress=progress, make_figure=not no_figures))
    from theory_lab.distributed import is_main

    if not is_main():
        pass  # process 0 reports for the whole multi-process run
    elif as_json:
        click.echo(json.dumps(records[0] if len(records) == 1 else records, indent=2, default=str))
    else:
        _print_verdicts(records)
    return EXIT_OK if all(verdict_ok(r) for r in records) else EXIT_NOT_PASS


def verdict_ok(record: dict[str, Any]) -> bool:
    """PASS, or FAIL on a check that documents the published claim as refuted (``expected = "FAIL"``)."""
    return record["verdict"] == "PASS" or (record["verdict"] == "FAIL" and record.get("expected") == "FAIL")


def _print_verdicts(records: Sequence[dict[str, Any]]) -> None:
    """A compact verdict table, then per check the evidence (worst point of each rule) and where things went."""
    from rich.table import Table

    t = Table(title="verdicts")
    for col in ("check", "verdict", "negative control", "points x seeds", "time", "run"):
        t.add_column(col, no_wrap=col == "check")
    for r in records:
        v, cv = r["verdict"], r["control"]["verdict"]
        refuted = " (published claim refuted, documented)" if v == "FAIL" and r.get("expected") == "FAIL" else ""
        t.add_row(r["check"], f"[{_VERDICT_STYLE[v]}]{v}[/]{refuted}",
                  f"[{'green' if cv == 'FAIL' else 'red'}]{cv}[/] "
                  f"({'as required' if cv == 'FAIL' else 'NOT rejected'})",
                  f"{r['points']} x {r['seeds']}", f"{r.get('wall_seconds', 0):.1f}s", str(r["cache"]))
    from rich.markup import escape

    con = _console()
    con.print(t)
    for r in records:
        con.print(f"[bold]{r['check']}[/] — {escape(r['statement'])}")
        for g in r["rules"]:
            con.print(f"  {g['name']} ({g['rule']}) [{_VERDICT_STYLE[g['verdict']]}]{g['verdict']}[/]: "
                      f"{escape(g['summary'])}")
        for note in r.get("notes", []):
            con.print(f"  [yellow]note:[/] {escape(note)}")
        con.print(f"  record: {r['run_dir']}/record.json")
        if r.get("figures"):
            con.print(f"  figures: {', '.join(r['figures'])}")


@cli.command("figures")
@click.argument("ids", nargs=-1)
@click.option("--profile", type=click.Choice(["quick", "full"]), default="quick", show_default=True)
def figures_cmd(ids: tuple[str, ...], profile: str) -> int:
    """Regenerate the figures of IDS (default: all) from stored records; a missing record is computed first."""
    from theory_lab.claims import _save_figure, get_check, registry, run_check
    from theory_lab.store import latest_record

    checks = [get_check(i) for i in ids] if ids else list(registry().values())
    con = _console()
    for c in checks:
        rec = latest_record(c.id, profile)
        if rec is None:
            rec = run_check(c, profile=profile, make_figure=False)
        for path in _save_figure(c, rec, rec.get("label", profile)):
            con.print(path)
    return EXIT_OK


@cli.command("report")
@click.option("--out", "out", type=click.Path(dir_okay=False), default="report/index.html", show_default=True,
              help="Where to write the page.")
@click.option("--profile", type=click.Choice(["quick", "full"]), default=None,
              help="Report this profile's records (default: the newest record of each claim).")
@click.option("--open", "open_page", is_flag=True, help="Open the page in the default browser.")
def report_cmd(out: str, profile: str | None, open_page: bool) -> int:
    """Write a self-contained HTML page of every claim: verdict, evidence table, figure, control, environment."""
    from theory_lab.report import build_report

    path = build_report(out, profile)
    click.echo(str(path))
    if open_page:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    return EXIT_OK


@cli.command("calibrate")
@click.argument("ids", nargs=-1)
@click.option("--roots", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Independent simulations (root seeds) per check.")
@click.option("--effect", type=click.FloatRange(0, 10, min_open=True), default=None,
              help="Relative theory error to detect (default: each check's declared min_effect).")
@click.option("--write", "write_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the table as Markdown to this file (e.g. docs/calibration.md).")
@click.option("--first-root", type=click.IntRange(0, 2**31 - 1 - 10_000), default=10_000, show_default=True,
              help="Root seed of the first simulation (roots FIRST_ROOT .. FIRST_ROOT+ROOTS-1). Parts of one "
                   "calibration with disjoint ranges can run in separate processes and be pooled by "
                   "bench/calibration_doc.py.")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Append each root's verdicts to this file (JSON lines) as it finishes, and skip the roots "
                   "already recorded there: a killed run, started again with the same --log, resumes where it "
                   "stopped and counts exactly what an uninterrupted run would.")
@click.option("--json", "as_json", is_flag=True)
def calibrate_cmd(ids: tuple[str, ...], roots: int, effect: float | None, write_path: str | None,
                  first_root: int, log_path: str | None, as_json: bool) -> int:
    """False-FAIL rate and power of the agreement checks, from ROOTS independent quick-profile simulations.

    \b
    Examples:
      theory-lab calibrate rmt.bbp --roots 100 --json > bbp.json
      theory-lab calibrate icl.lsa-is-gd --roots 50 --first-root 10050 --json > part2.json
      theory-lab calibrate icl.lsa-multilayer --log lsa-multilayer.jsonl --json > lm.json   # rerun to resume
    """
    from rich.progress import Progress

    from theory_lab.calibrate import calibrate_check, markdown_table
    from theory_lab.claims import environment, get_check, registry

    checks = [get_check(i) for i in ids] if ids else list(registry().values())
    err = _console(stderr=True)
    results = []
    with Progress(console=err, disable=not err.is_terminal, transient=True) as bar:
        for c in checks:
            task = bar.add_task(c.id, total=roots)

            def progress(k: int, n: int, task=task, cid=c.id) -> None:
                if err.is_terminal:
                    bar.update(task, completed=k)
                elif k == n or k % max(1, n // 10) == 0:  # stderr is a log file: a line every tenth of the roots
                    click.echo(f"calibrate {cid}: {k}/{n} roots", err=True)

            results.append(calibrate_check(c, roots=roots, effect=effect, first_root=first_root,
                                           progress=progress, log=log_path))
    env = environment()
    device = f"{env['backend']} x{env['device_count']} ({env['python']}, jax {env['versions']['jax']})"
    import datetime as _dt

    for r in results:  # where and when, so that tables merged from several runs stay attributable
        r.update(device=device, measured=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d"))
    table = markdown_table(results, device)
    if write_path:
        from pathlib import Path

        from theory_lab.store import atomic_write_bytes

        atomic_write_bytes(Path(write_path), ("# Calibration of verdicts\n\n" + table).encode())
    click.echo(json.dumps(results, indent=2) if as_json else table)
    return EXIT_OK if all(r.get("meets_targets") in (True, None) for r in results) else EXIT_NOT_PASS


@cli.command("info")
@click.option("--json", "as_json", is_flag=True)
def info_cmd(as_json: bool) -> int:
    """Devices, precision, package versions and where results and figures go."""
    from theory_lab.claims import environment
    from theory_lab.plotting import figures_root
    from theory_lab.store import results_root

    env = environment()
    env["results_root"] = str(results_root().resolve())
    env["figures_root"] = str(figures_root().resolve())
    if as_json:
        click.echo(json.dumps(env, indent=2))
    else:
        for k, v in env.items():
            click.echo(f"{k}: {v}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; turns every input error into one line on stderr and exit code 2."""
    args = list(argv) if argv is not None else sys.argv[1:]
    _configure_jax(_precision(args))
    if "--distributed" in args[: args.index("--") if "--" in args else len(args)]:
        from theory_lab import distributed

        # The collectives library prints connection notes on the C-level stdout; send those to stderr so that
        # stdout carries only what theory-lab prints (e.g. --json for scripts).
        sys.stdout.flush()
        python_stdout = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = open(python_stdout, "w", buffering=1, closefd=True)
        try:
            distributed.initialize()
        except (KeyError, ValueError, RuntimeError) as e:
            click.echo(f"theory-lab: error: --distributed could not join the runtime: {e}", err=True)
            return EXIT_BAD_INPUT
    try:
        rv = cli.main(args=args, prog_name="theory-lab", standalone_mode=False)
    except BadInput as e:
        click.echo(f"theory-lab: error: {e}", err=True)
        return EXIT_BAD_INPUT
    except click.UsageError as e:
        no_args = getattr(click.exceptions, "NoArgsIsHelpError", None)
        if no_args is not None and isinstance(e, no_args) and e.ctx is not None:
            click.echo(e.ctx.get_help())  # `theory-lab` alone: the help, not an error
            return EXIT_OK
        click.echo(f"theory-lab: error: {e.format_message()}", err=True)
        return EXIT_BAD_INPUT
    except OSError as e:  # unwritable or full results/figures folder: say where and why, no traceback
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        click.echo(f"theory-lab: error: cannot write{where}: {e.strerror or e}", err=True)
        return EXIT_IO_ERROR
    except click.exceptions.Abort:
        click.echo("theory-lab: aborted", err=True)
        return 130
    if isinstance(rv, int):
        return rv
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
