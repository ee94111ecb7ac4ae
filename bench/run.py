"""Performance harness: trials per second of every check's simulator, achieved FLOP/s against this device's
measured matmul peak (for simulators that declare their flop count), how time grows with the number of seeds
(exponent between 16 and 32 seeds; ~1 means time follows work), and the chunk used.

    python bench/run.py [--max-points 2] [--out bench/RESULTS.md] [CHECK ...]

Writes its table between the `harness` markers of bench/RESULTS.md (other sections are kept). Each configuration
is run once to compile and once to time; timings exclude compilation.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import math
import time
from pathlib import Path

from theory_lab.cli import _configure_jax  # noqa: E402

# As `theory-lab check` runs: float64, the CLI's platform default, one BLAS thread (cli._limit_blas_threads).
_configure_jax("float64")

import jax  # noqa: E402

import jax.numpy as jnp  # noqa: E402

from theory_lab.claims import registry, resolve_params  # noqa: E402
from theory_lab.sweep import Grid, run_sweep  # noqa: E402

START, END = "<!-- harness:start -->", "<!-- harness:end -->"


def device_name() -> str:
    d = jax.devices()[0]
    if d.platform == "cpu":
        model = "unknown CPU"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        return f"{model}, {os.cpu_count()} cores ({len(jax.devices())} JAX device(s))"
    return f"{getattr(d, 'device_kind', d.platform)} x{len(jax.devices())}"


def matmul_peak(n: int = 1024, repeats: int = 5) -> float:
    """Best FLOP/s of an n x n float64 matmul on the default device, measured now."""
    a = jax.random.normal(jax.random.key(0), (n, n), dtype=jnp.float64)
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    best = min(_timed(lambda: f(a).block_until_ready()) for _ in range(repeats))
    return 2 * n**3 / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_check(check, max_points: int = 8) -> dict:
    """Throughput of ``check``'s simulator on its quick profile's largest static group (at most ``max_points``
    dynamic points), at 16 and 32 seeds per point with one fixed chunk of 16 seeds x points: the two runs share one
    compiled program (compiled in a warm-up run, not timed), so the time ratio is pure work scaling."""
    p = resolve_params(check, "quick", {})
    grid = check.grid(p)
    statics, idx = grid.groups()[-1]  # last group: the largest shapes of the sweep, by convention of the checks
    pts = [grid.points[i] for i in idx[:max_points]]
    sub = Grid.from_points(pts, static=grid.static)
    chunk = len(pts) * 16 * len(jax.devices())
    run_sweep(check.simulate, sub, seeds=16, root_seed=1, chunk_size=chunk)  # compile
    times, res = [], None
    seeds = [16, 32]
    for s in seeds:
        t0 = time.perf_counter()
        res = run_sweep(check.simulate, sub, seeds=s, root_seed=2, chunk_size=chunk)
        times.append(time.perf_counter() - t0)
    trials = len(sub) * seeds[-1]
    slope = math.log(times[1] / times[0]) / math.log(seeds[1] / seeds[0])
    flops = None
    if hasattr(check, "flops_per_trial"):
        flops = sum(check.flops_per_trial({k: pt[k] for k in sub.static}) for pt in sub.points) * seeds[-1]
    return {"check": check.id, "group": ", ".join(f"{k}={v}" for k, v in statics.items()) or "-",
            "points": len(sub), "seeds": seeds[-1], "trials": trials, "seconds": times[-1],
            "trials_per_s": trials / times[-1], "growth_exponent": slope, "flops": flops,
            "chunks": f"{min(res.chunk_sizes)}" if res.chunk_sizes else "-"}


def table(rows: list[dict], peak: float, device: str, wall: float, load: tuple[float, float]) -> str:
    lines = [
        f"Harness run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {device}; "
        f"python {platform.python_version()}, "
        f"jax {jax.__version__}; float64. Matmul peak measured in the same run: {peak / 1e9:.1f} GFLOP/s "
        f"(1024 x 1024 float64). Whole harness ({len(rows)} checks, compilation included): {wall:.0f} s wall; "
        f"1-minute load average {load[0]:.1f} before, {load[1]:.1f} after (the harness itself adds up to ~2).",
        "",
        "Per check: the quick profile's largest static group (at most --max-points dynamic points, default 2), "
        "16 and 32 seeds per point in "
        "chunks of 16 seeds x points (one compiled program, compiled in an untimed warm-up); k is the time ratio's "
        "exponent between 16 and 32 seeds (1 = time proportional to work; < 1 = fixed overhead per call).",
        "",
        "| check | static group | points x seeds | time (s) | trials/s | time ~ seeds^k, k "
        "| GFLOP/s (% of peak) | chunk (trials) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fl = "-" if r["flops"] is None else (f"{r['flops'] / r['seconds'] / 1e9:.2f} "
                                             f"({100 * r['flops'] / r['seconds'] / peak:.0f}%)")
        lines.append(f"| `{r['check']}` | {r['group']} | {r['points']} x {r['seeds']} | {r['seconds']:.2f} | "
                     f"{r['trials_per_s']:,.0f} | "
                     f"{r['growth_exponent']:.2f} | {fl} | {r['chunks']} |")
    return "\n".join(lines) + "\n"


def write_section(path: Path, body: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{START}\n## Simulator harness (`python bench/run.py`)\n\n{body}{END}"
    if START in text and END in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checks", nargs="*", help="check ids (default: all)")
    ap.add_argument("--max-points", type=int, default=2, help="dynamic points of the largest static group (default 2)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")))
    args = ap.parse_args(argv)
    checks = registry()
    ids = args.checks or list(checks)
    unknown = [i for i in ids if i not in checks]
    if unknown:
        print(f"bench: error: unknown check {unknown[0]!r}", file=sys.stderr)
        return 2
    t_start, load0 = time.perf_counter(), os.getloadavg()[0]
    peak = matmul_peak()
    rows = []
    for i in ids:
        rows.append(bench_check(checks[i], args.max_points))
        print(f"{i}: {rows[-1]['trials_per_s']:,.0f} trials/s", file=sys.stderr, flush=True)
    body = table(rows, peak, device_name(), time.perf_counter() - t_start, (load0, os.getloadavg()[0]))
    print(body)
    write_section(Path(args.out), body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
