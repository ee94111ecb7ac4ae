"""Performance harness: trials per second of every check's simulator, achieved FLOP/s against this device's
measured matmul peak (for simulators that declare their flop count), how time grows with the number of seeds
(fitted exponent; ~1 means the batch is used efficiently), and the chunk size the sweep chose.

    python bench/run.py [--scale 0.25] [--out bench/RESULTS.md] [CHECK ...]

Writes its table between the `harness` markers of bench/RESULTS.md (other sections are kept). Each configuration
is run once to compile and once to time; timings exclude compilation.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", os.environ.get("THEORY_LAB_PLATFORM", "cpu"))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from theory_lab.claims import registry, resolve_params  # noqa: E402
from theory_lab.rules import fit_power_law  # noqa: E402
from theory_lab.sweep import run_sweep  # noqa: E402

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


def bench_check(check, scale: float) -> dict:
    p = resolve_params(check, "quick", {})
    grid = check.grid(p)
    top = max(16, int(check.profiles["quick"].seeds * scale))
    seeds = sorted({max(8, top // 4), max(8, top // 2), top})
    times = []
    for k, s in enumerate(seeds):
        run_sweep(check.simulate, grid, seeds=s, root_seed=1)  # compile this shape
        t = _timed(lambda: run_sweep(check.simulate, grid, seeds=s, root_seed=2))
        times.append(t)
    res = run_sweep(check.simulate, grid, seeds=seeds[-1], root_seed=3)
    trials = len(grid) * seeds[-1]
    slope = fit_power_law(np.asarray(seeds, float), np.asarray(times), 0.01 * np.asarray(times))[0] \
        if len(seeds) > 1 else float("nan")
    flops = None
    if hasattr(check, "flops_per_trial"):
        flops = sum(check.flops_per_trial({k: pt[k] for k in grid.static}) for pt in grid.points) * seeds[-1]
    return {"check": check.id, "points": len(grid), "seeds": seeds[-1], "trials": trials, "seconds": times[-1],
            "trials_per_s": trials / times[-1], "growth_exponent": slope, "flops": flops,
            "chunks": f"{min(res.chunk_sizes)}-{max(res.chunk_sizes)}" if res.chunk_sizes else "-"}


def table(rows: list[dict], peak: float, device: str) -> str:
    lines = [
        f"Harness run {time.strftime('%Y-%m-%d')} on {device}; python {platform.python_version()}, jax {jax.__version__}; "
        f"float64. Matmul peak measured in the same run: {peak / 1e9:.1f} GFLOP/s (1024 x 1024 float64).",
        "",
        "| check | points x seeds | time (s) | trials/s | time ~ seeds^k, k | GFLOP/s (% of peak) | chunk (trials) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fl = "-" if r["flops"] is None else f"{r['flops'] / r['seconds'] / 1e9:.2f} ({100 * r['flops'] / r['seconds'] / peak:.0f}%)"
        lines.append(f"| `{r['check']}` | {r['points']} x {r['seeds']} | {r['seconds']:.2f} | {r['trials_per_s']:,.0f} | "
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
    ap.add_argument("--scale", type=float, default=0.25, help="fraction of the quick profile's seeds (default 0.25)")
    ap.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")))
    args = ap.parse_args(argv)
    checks = registry()
    ids = args.checks or list(checks)
    unknown = [i for i in ids if i not in checks]
    if unknown:
        print(f"bench: error: unknown check {unknown[0]!r}", file=sys.stderr)
        return 2
    peak = matmul_peak()
    rows = []
    for i in ids:
        rows.append(bench_check(checks[i], args.scale))
        print(f"{i}: {rows[-1]['trials_per_s']:,.0f} trials/s", file=sys.stderr, flush=True)
    body = table(rows, peak, device_name())
    print(body)
    write_section(Path(args.out), body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
