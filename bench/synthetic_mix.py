"""Benchmark: the `rmt.synthetic-mix` JAX simulator against a plain NumPy reference of the same trial loop.

One trial at p = 200, n = 400, m = 800 (the notes' section 1.5 setting, general theorem: ||mu|| = 1.5,
mu_b = 0.7 mu + mu_perp with ||mu_perp|| = 1, C eigenvalues 0.49(1 ± 0.5), eps = 0.3, rho = 0.1, phi = 0.8,
gam = 1): draw the real and synthetic data, flip and prune the synthetic labels, fit the ridge classifier with both
sums divided by n + m, and return its signed test accuracy Phi(w.mu/||w||).

Timed, in one process and interleaved (so that CPU contention from other users hits all alike; the best of
``--repeats`` rounds is reported, and the median too):
  * numpy      -- the reference: a Python loop over trials, NumPy data generation (PCG64) and LAPACK solve, with
                  NumPy's default BLAS threads;
  * numpy-1t   -- the same with one BLAS thread (threadpoolctl); the ratios use whichever NumPy row is faster;
  * jax-data   -- theory_lab's data-level JAX simulator, jit + vmap over a batch of trials;
  * jax-stat   -- the statistic-level general-theorem sampler the check compiles for these rows
                  (``simulate_accuracy``: both Wishart blocks by Bartlett from one block of normals, binomial
                  pruning counts), jit + vmap over a batch;
  * jax-sweep  -- the same sampler through the check engine's sweep (blocks of 16, lax.map, chunked), i.e. what a
                  check run gets.
The JAX rows run as `theory-lab` runs a check: one BLAS thread for the LAPACK calls (Cholesky, triangular solves)
that jaxlib makes into SciPy's OpenBLAS (theory_lab/cli.py, ``_limit_blas_threads``); XLA's own thread pool is
untouched. The headline is jax-sweep / the faster NumPy row (target >= 3x on 2 CPU cores). Mean accuracies ± SE are
printed as a sanity check that all methods simulate the same quantity.

Run: ``.venv/bin/python bench/synthetic_mix.py [--trials 512] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import time
from contextlib import nullcontext

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402,F401  (loads SciPy's OpenBLAS, which jaxlib's LAPACK kernels call)
from scipy.stats import norm  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

jax.config.update("jax_enable_x64", True)

from theory_lab.rmt import synthetic_mix as sm  # noqa: E402
from theory_lab.sweep import Grid, run_sweep  # noqa: E402

P, N, M = 200, 400, 800
MODEL = dict(mu=1.5, beta=0.7, mu_perp=1.0, sigma2=0.49, kappa=0.5, eps=0.3, rho=0.1, phi=0.8, gam=1.0)


def numpy_trials(rng: np.random.Generator, trials: int) -> np.ndarray:
    """The reference: one Python-loop iteration per trial, data-level, as the authors' utils.py does it."""
    mu_vec, mu_b = sm.mean_vectors(P, MODEL["mu"], MODEL["beta"], MODEL["mu_perp"])
    root_c = np.sqrt(sm.two_level_spectrum(P, MODEL["sigma2"], MODEL["kappa"]))
    y = np.where(np.arange(N) < N // 2, -1.0, 1.0)
    y_s = np.where(np.arange(M) < M // 2, -1.0, 1.0)
    out = np.empty(trials)
    for t in range(trials):
        x = y[:, None] * mu_vec[None, :] + rng.standard_normal((N, P))
        x_s = y_s[:, None] * mu_b[None, :] + rng.standard_normal((M, P)) * root_c[None, :]
        flip = rng.random(M) < MODEL["eps"]
        y_tilde = np.where(flip, -y_s, y_s)
        u = rng.random(M)
        keep = np.where(flip, u < MODEL["rho"], u < MODEL["phi"])
        xk = x_s[keep]
        a = (x.T @ x + xk.T @ xk) / (N + M) + MODEL["gam"] * np.eye(P)
        b = (x.T @ y + xk.T @ y_tilde[keep]) / (N + M)
        w = np.linalg.solve(a, b)
        out[t] = norm.cdf(w @ mu_vec / np.linalg.norm(w))
    return out


def jax_batch(fn, trials: int):
    run = jax.jit(jax.vmap(fn))

    def call(seed: int) -> np.ndarray:
        return np.asarray(jax.block_until_ready(run(jax.random.split(jax.random.key(seed), trials))["acc"]))

    return call


def data_level(key):
    return sm.simulate_accuracy_data(key, p=P, n=N, m=M, **MODEL)


def stat_level(key):
    return sm.simulate_accuracy(key, p=P, n=N, m=M, **MODEL)


def sweep_call(trials: int):
    from proofs_checks.synthetic_mix import SyntheticMix

    check = SyntheticMix()
    point = {"p": P, "p_active": float(P), "toy": 0.0, "n": float(N), "m": float(M), "nhat": 1.0, **MODEL}
    grid = Grid.from_points([point], static=("p", "toy"))

    def call(seed: int) -> np.ndarray:
        # chunk_size given: the engine's memoised program is reused (without it, run_sweep sizes its chunk with an
        # ahead-of-time compile on every call, which a check run pays once but a timing loop would pay each round).
        res = run_sweep(check.simulate, grid, seeds=trials, root_seed=seed, chunk_size=trials)
        return res.data["acc"][0]

    return call


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=512, help="trials per timed batch (JAX); NumPy runs trials/4")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved timing rounds")
    ap.add_argument("--json", action="store_true", help="print a JSON summary")
    args = ap.parse_args()

    trials_np = max(16, args.trials // 4)
    numpy_ref = lambda seed: numpy_trials(np.random.default_rng(seed), trials_np)  # noqa: E731
    # name -> (call, trials per call, BLAS thread limit: None = the library's default)
    methods = {
        "numpy": (numpy_ref, trials_np, None),
        "numpy-1t": (numpy_ref, trials_np, 1),
        "jax-data": (jax_batch(data_level, args.trials), args.trials, 1),
        "jax-stat": (jax_batch(stat_level, args.trials), args.trials, 1),
        "jax-sweep": (sweep_call(args.trials), args.trials, 1),
    }

    def timed(name: str, seed: int) -> tuple[np.ndarray, float]:
        fn, _, limit = methods[name]
        with threadpool_limits(limit, user_api="blas") if limit else nullcontext():
            t0 = time.perf_counter()
            out = fn(seed)
            return out, time.perf_counter() - t0

    # Warm-up (compilation, thread pools), then interleaved timed rounds.
    t_compile = {name: timed(name, 1000)[1] for name in methods}
    rates: dict[str, list[float]] = {k: [] for k in methods}
    samples: dict[str, list[np.ndarray]] = {k: [] for k in methods}
    for r in range(args.repeats):
        for name in methods:
            acc, dt = timed(name, r)
            rates[name].append(methods[name][1] / dt)
            samples[name].append(acc)
    load = os.getloadavg()
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    summary = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "loadavg_1_5_15": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "jax": jax.__version__,
        "numpy": np.__version__,
        "setting": {"p": P, "n": N, "m": M, **MODEL},
        "trials_per_round": {k: v[1] for k, v in methods.items()},
        "blas_threads": {k: v[2] or "default" for k, v in methods.items()},
        "repeats": args.repeats,
        "first_call_seconds": {k: round(v, 2) for k, v in t_compile.items()},
        "trials_per_second_best": {k: round(max(v), 1) for k, v in rates.items()},
        "trials_per_second_median": {k: round(statistics.median(v), 1) for k, v in rates.items()},
    }
    best = summary["trials_per_second_best"]
    med = summary["trials_per_second_median"]
    ref = max(("numpy", "numpy-1t"), key=lambda k: med[k])  # the reference at its faster threading
    summary["numpy_reference"] = ref
    summary["speedup_vs_numpy_best"] = {k: round(best[k] / best[ref], 2) for k in methods}
    summary["speedup_vs_numpy_median"] = {k: round(med[k] / med[ref], 2) for k in methods}
    accs = {}
    for k, parts in samples.items():
        a = np.concatenate(parts)
        accs[k] = (float(a.mean()), float(a.std(ddof=1) / np.sqrt(a.size)))
    summary["mean_accuracy"] = {k: [round(m_, 5), round(s_, 5)] for k, (m_, s_) in accs.items()}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"rmt.synthetic-mix simulator benchmark  {summary['date']}")
    print(f"CPU: {cpu} ({summary['cores']} cores), load average {summary['loadavg_1_5_15']}, jax {jax.__version__}")
    print(f"p={P}, n={N}, m={M}; {args.repeats} interleaved rounds; ratios against {ref} (the faster NumPy row)\n")
    print(f"{'method':11s} {'best trials/s':>14s} {'median':>10s} {'x numpy (best)':>15s} {'x numpy (median)':>17s}"
          f" {'first call s':>13s}  mean acc ± SE")
    for k in methods:
        print(f"{k:11s} {best[k]:14.1f} {med[k]:10.1f} {summary['speedup_vs_numpy_best'][k]:15.2f} "
              f"{summary['speedup_vs_numpy_median'][k]:17.2f} {t_compile[k]:13.2f}  "
              f"{accs[k][0]:.5f} ± {accs[k][1]:.5f}")
    theory = sm.model_moments(N, M, P, **MODEL)["acc"]
    print(f"\ntheory (corrected, p -> inf): {theory:.5f}; headline jax-sweep / {ref} = "
          f"{summary['speedup_vs_numpy_median']['jax-sweep']:.2f}x (median), "
          f"{summary['speedup_vs_numpy_best']['jax-sweep']:.2f}x (best)")


if __name__ == "__main__":
    main()
