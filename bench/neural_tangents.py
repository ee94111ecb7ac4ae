"""Cross-check and time theory_lab's analytic NNGP/NTK against neural-tangents 0.6.5.

neural-tangents no longer imports with current JAX, so it runs in its own virtual environment, bench/.nt-venv,
pinned to ``jax==0.4.30 jaxlib==0.4.30 "numpy<2"`` plus ``scipy<1.14 frozendict absl-py`` and
``neural-tangents==0.6.5`` installed with ``--no-deps`` (its declared dependencies pull in tensorflow and tf2jax,
2.6-2.9 GB, which only ``neural_tangents.experimental.empirical_tf`` needs; the worker registers an empty stand-in
for that module before importing). This script builds the environment when it is absent (needs the package index),
then, in one run:

  (a) cross-check: random fully-connected architectures (depth, ReLU / leaky / AB-ReLU / erf, weight and bias
      variances, NTK or standard parametrization, with or without bias), float64, our kernels against
      ``stax.serial(...).kernel_fn``; pass when the largest relative difference is <= 1e-5;
  (b) timing: depth-10 ReLU MLP with biases (W_std^2 = 2, b_std^2 = 0.01), NNGP + NTK, 2,000 x 2,000 kernel of
      inputs of dimension 50, float32 CPU; median of 5 after a warm-up, neural-tangents ``jit(kernel_fn)`` against
      ours, one after the other on the same inputs; float32 accuracy of both against our float64 kernels.

Results go to bench/RESULTS.md between ``<!-- nt:start -->`` and ``<!-- nt:end -->`` (created at the end of the file
when absent; nothing else is touched). ``--crosscheck-only`` skips the timing and the file (used by the tests) and
prints a JSON line. The package itself never imports neural-tangents.

    .venv/bin/python bench/neural_tangents.py [--crosscheck-only] [--n 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VENV = HERE / ".nt-venv"
NT_PY = VENV / "bin" / "python"
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- nt:start -->", "<!-- nt:end -->"
PINS = ["jax==0.4.30", "jaxlib==0.4.30", "numpy<2", "scipy<1.14", "frozendict", "absl-py"]
RTOL = 1e-5

WORKER = r'''
import json, sys, time, types
for name in ("neural_tangents.experimental.empirical_tf", "neural_tangents.experimental.empirical_tf.empirical"):
    m = types.ModuleType(name); m.empirical_ntk_fn_tf = None; m.get_apply_fn_and_params = None; m.__path__ = []
    sys.modules[name] = m
import numpy as np
job = json.load(open(sys.argv[1]))
import jax
if job["x64"]:
    jax.config.update("jax_enable_x64", True)
import neural_tangents as nt
from neural_tangents import stax

def act_layer(a):
    if a["name"] == "relu": return stax.Relu()
    if a["name"] == "erf": return stax.Erf()
    if a["name"] == "leaky_relu": return stax.LeakyRelu(a["alpha"])
    if a["name"] == "abrelu": return stax.ABRelu(a["a"], a["b"])
    raise ValueError(a)

def kernel_fn(c):
    b_std = None if c["sigma_b2"] is None else c["sigma_b2"] ** 0.5
    layers = []
    for _ in range(c["depth"]):
        layers += [stax.Dense(c["width"], W_std=c["sigma_w2"] ** 0.5, b_std=b_std, parameterization=c["par"]),
                   act_layer(c["act"])]
    layers.append(stax.Dense(1, W_std=c["sigma_w2"] ** 0.5, b_std=b_std, parameterization=c["par"]))
    return jax.jit(stax.serial(*layers)[2], static_argnames="get")

data = np.load(job["inputs"])
out = {}
for i, c in enumerate(job["configs"]):
    dt = np.float64 if job["x64"] else np.float32
    x1 = data[f"x1_{i}"].astype(dt); x2 = data[f"x2_{i}"].astype(dt) if f"x2_{i}" in data else None
    f = kernel_fn(c)
    k = f(x1, x2, get=("nngp", "ntk")); jax.block_until_ready(k)
    out[f"nngp_{i}"] = np.asarray(k[0]); out[f"ntk_{i}"] = np.asarray(k[1])
    times = []
    for _ in range(c.get("repeats", 0)):
        t0 = time.perf_counter(); jax.block_until_ready(f(x1, x2, get=("nngp", "ntk")))
        times.append(time.perf_counter() - t0)
    out[f"times_{i}"] = np.asarray(times)
out["versions"] = np.asarray(json.dumps({"jax": jax.__version__, "neural_tangents": nt.__version__}))
np.savez(job["output"], **out)
'''


def ensure_venv() -> None:
    """Create bench/.nt-venv with the pinned packages unless it already imports neural-tangents."""
    if NT_PY.exists():
        return
    print(f"building {VENV} (jax 0.4.30, neural-tangents 0.6.5 without its tensorflow dependencies) ...",
          file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(NT_PY), "-m", "pip", "install", "-q"]
    subprocess.run(pip + PINS, check=True)
    subprocess.run(pip + ["--no-deps", "neural-tangents==0.6.5"], check=True)


def run_worker(configs, arrays, x64: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        inp, job, outp = Path(tmp, "in.npz"), Path(tmp, "job.json"), Path(tmp, "out.npz")
        np.savez(inp, **arrays)
        job.write_text(json.dumps({"configs": configs, "inputs": str(inp), "output": str(outp), "x64": x64}))
        script = Path(tmp, "worker.py")
        script.write_text(WORKER)
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        subprocess.run([str(NT_PY), str(script), str(job)], check=True, env=env)
        with np.load(outp) as z:
            return {k: z[k] for k in z.files}


def random_configs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    configs, arrays = [], {}
    acts = [{"name": "relu"}, {"name": "erf"}, {"name": "leaky_relu", "alpha": 0.2}, {"name": "abrelu", "a": -0.3,
                                                                                      "b": 1.4}]
    for i in range(n):
        act = dict(acts[i % len(acts)])
        if act["name"] == "leaky_relu":
            act["alpha"] = float(np.round(rng.uniform(0.01, 0.4), 3))
        c = {"depth": int(rng.integers(1, 7)), "act": act, "sigma_w2": float(np.round(rng.uniform(0.5, 2.5), 3)),
             "sigma_b2": None if rng.random() < 0.3 else float(np.round(rng.uniform(0.0, 0.5), 3)),
             "par": "ntk" if rng.random() < 0.6 else "standard", "width": int(rng.choice([64, 128, 512]))}
        d = int(rng.integers(2, 20))
        arrays[f"x1_{i}"] = rng.standard_normal((7, d))
        if i % 2:
            arrays[f"x2_{i}"] = rng.standard_normal((5, d)) * rng.uniform(0.5, 2.0)
        configs.append(c)
    return configs, arrays


def ours(c, x1, x2, dtype, block=None):
    import jax.numpy as jnp

    from theory_lab.kernels import analytic as A

    a = c["act"]
    act = {"relu": lambda: A.activation("relu"), "erf": lambda: A.activation("erf"),
           "leaky_relu": lambda: A.activation("leaky_relu", alpha=a.get("alpha", 0.01)),
           "abrelu": lambda: A.activation("abrelu", a=a.get("a", 0.0), b=a.get("b", 1.0))}[a["name"]]()
    kw = dict(depth=c["depth"], activation=act, sigma_w2=c["sigma_w2"], sigma_b2=c["sigma_b2"] or 0.0,
              parametrization=c["par"], width=c["width"], bias=c["sigma_b2"] is not None,
              dtype=jnp.float64 if dtype == "float64" else jnp.float32)
    if block is None:
        return tuple(np.asarray(v) for v in A.nngp_ntk(x1, x2, **kw))
    return A.nngp_ntk_blocked(x1, x2, block=block, **kw)


def crosscheck(n_configs: int = 12) -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)
    configs, arrays = random_configs(n_configs)
    nt = run_worker(configs, arrays, x64=True)
    rows, worst = [], 0.0
    for i, c in enumerate(configs):
        k, t = ours(c, arrays[f"x1_{i}"], arrays.get(f"x2_{i}"), "float64")
        rel = [float(np.max(np.abs(a - nt[f"{name}_{i}"]) / np.maximum(np.abs(nt[f"{name}_{i}"]), 1e-300)))
               for a, name in ((k, "nngp"), (t, "ntk"))]
        worst = max(worst, *rel)
        rows.append({**c, "rel_nngp": rel[0], "rel_ntk": rel[1]})
    return {"ok": worst <= RTOL, "worst_rel": worst, "rows": rows, "versions": json.loads(str(nt["versions"]))}


def timing(n: int, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp

    from theory_lab.kernels import analytic as A

    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, 50)).astype(np.float32)
    c = {"depth": 10, "act": {"name": "relu"}, "sigma_w2": 2.0, "sigma_b2": 0.01, "par": "ntk", "width": 512,
         "repeats": repeats}
    load0 = os.getloadavg()[0]
    nt = run_worker([c], {"x1_0": x}, x64=False)
    res = {"n": n, "repeats": repeats, "neural_tangents_s": float(np.median(nt["times_0"]))}
    variants = {"ours (one jitted call)": None, "ours (blocks of 500, one triangle)": 500,
                "ours (blocks of 250, one triangle)": 250}
    outs = {}
    for name, block in variants.items():
        f = (lambda: jax.block_until_ready(A.nngp_ntk(x, depth=10, sigma_w2=2.0, sigma_b2=0.01,
                                                        dtype=jnp.float32))) if block is None else \
            (lambda b=block: A.nngp_ntk_blocked(x, depth=10, sigma_w2=2.0, sigma_b2=0.01, dtype=jnp.float32,
                                                block=b))
        outs[name] = f()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        res[name] = float(np.median(times))
    res["load_before_after"] = [load0, os.getloadavg()[0]]
    # accuracy in float32 against our float64 kernels (the cross-checked reference), on a 300 x 300 corner
    with jax.enable_x64(True):
        k64, t64 = (np.asarray(a) for a in A.nngp_ntk(x[:300].astype(np.float64), depth=10, sigma_w2=2.0,
                                                     sigma_b2=0.01, dtype=jnp.float64))

    def err(a, ref):
        return float(np.max(np.abs(np.asarray(a)[:300, :300] - ref) / np.abs(ref)))

    res["float32_rel_err"] = {"neural_tangents": [err(nt["nngp_0"], k64), err(nt["ntk_0"], t64)]}
    for name, (k, t) in outs.items():
        res["float32_rel_err"][name] = [err(k, k64), err(t, t64)]
    res["same_numbers_vs_nt_float32"] = max(
        float(np.max(np.abs(np.asarray(outs["ours (blocks of 250, one triangle)"][i]) - nt[f"{nm}_0"])
                     / np.abs(nt[f"{nm}_0"]))) for i, nm in ((0, "nngp"), (1, "ntk")))
    return res


def write_results(cc: dict, tm: dict) -> None:
    import platform

    import jax

    best = min(v for k, v in tm.items() if k.startswith("ours"))
    lines = [START, "## neural-tangents: analytic NNGP/NTK cross-check and timing (`bench/neural_tangents.py`)", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()} CPU, "
             f"{os.cpu_count()} cores, load average {tm['load_before_after'][0]:.1f} before / "
             f"{tm['load_before_after'][1]:.1f} after (other developers' jobs share the cores: absolute times are "
             f"inflated, the ratio is taken in one run on the same inputs). Ours: jax {jax.__version__}; "
             f"reference: neural-tangents {cc['versions']['neural_tangents']} on jax {cc['versions']['jax']} "
             f"(bench/.nt-venv).", "",
             f"**Cross-check (float64, {len(cc['rows'])} random architectures):** largest relative difference "
             f"{cc['worst_rel']:.2e} (target <= {RTOL:g}): **{'PASS' if cc['ok'] else 'FAIL'}**.", "",
             "| depth | activation | sigma_w^2 | sigma_b^2 | param | rel. diff NNGP | rel. diff NTK |",
             "|---|---|---|---|---|---|---|"]
    for r in cc["rows"]:
        a = r["act"]
        an = a["name"] + (f"({a['alpha']})" if "alpha" in a else f"({a['a']},{a['b']})" if "a" in a else "")
        lines.append(f"| {r['depth']} | {an} | {r['sigma_w2']} | {r['sigma_b2']} | {r['par']}"
                     f"{' w=' + str(r['width']) if r['par'] == 'standard' else ''} | {r['rel_nngp']:.1e} | "
                     f"{r['rel_ntk']:.1e} |")
    lines += ["", f"**Timing:** depth-10 ReLU MLP with biases, NNGP + NTK, {tm['n']} x {tm['n']} inputs of "
                  f"dimension 50, float32 CPU, median of {tm['repeats']}:", "",
              "| implementation | time (s) | speed-up over neural-tangents | float32 rel. error NNGP / NTK |",
              "|---|---|---|---|",
              f"| neural-tangents `jit(kernel_fn)` | {tm['neural_tangents_s']:.3f} | 1.0 | "
              f"{tm['float32_rel_err']['neural_tangents'][0]:.1e} / "
              f"{tm['float32_rel_err']['neural_tangents'][1]:.1e} |"]
    for k, v in tm.items():
        if k.startswith("ours"):
            e = tm["float32_rel_err"][k]
            lines.append(f"| {k} | {v:.3f} | {tm['neural_tangents_s'] / v:.2f} | {e[0]:.1e} / {e[1]:.1e} |")
    ratio = tm["neural_tangents_s"] / best
    lines += ["", f"Best ratio {ratio:.2f}x (target >= 5x: **{'met' if ratio >= 5 else 'not met'}**). Largest "
                  f"relative difference between our float32 kernels and neural-tangents' float32 kernels: "
                  f"{tm['same_numbers_vs_nt_float32']:.1e} (both are limited by float32 arccos near c = 1 in the "
                  f"deep NTK; errors against our float64 kernels are in the last column).", END]
    block = "\n".join(lines)
    text = RESULTS.read_text() if RESULTS.exists() else ""
    if START in text and END in text:
        pre, rest = text.split(START, 1)
        post = rest.split(END, 1)[1]
        text = pre + block + post
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = RESULTS.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(RESULTS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crosscheck-only", action="store_true")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--configs", type=int, default=12)
    args = ap.parse_args(argv)
    ensure_venv()
    cc = crosscheck(args.configs)
    if args.crosscheck_only:
        print(json.dumps({"ok": cc["ok"], "worst_rel": cc["worst_rel"], "versions": cc["versions"]}))
        return 0 if cc["ok"] else 1
    print(f"cross-check: worst relative difference {cc['worst_rel']:.2e} ({'PASS' if cc['ok'] else 'FAIL'})")
    tm = timing(args.n, args.repeats)
    print(json.dumps(tm, indent=1))
    write_results(cc, tm)
    return 0 if cc["ok"] else 1


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main())
