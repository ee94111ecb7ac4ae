"""Training throughput of the in-context transformer (`theory_lab.icl.transformer`), prompts per second.

Times `simulate_transformer_icl` (one jitted `lax.scan` over Adam steps, vmapped over independently trained models)
at the `icl.transformer-vs-baselines` quick configuration, and optionally at Garg et al.'s size. Each configuration
is compiled and run once at `--steps` (warm-up), then timed at 2 x `--steps`; the difference of the two times is the
cost of `--steps` training steps without compilation or evaluation. Prints a Markdown table for bench/RESULTS.md.

    .venv/bin/python bench/transformer_throughput.py            # quick configuration (2 CPU cores: ~1 min)
    .venv/bin/python bench/transformer_throughput.py --garg     # also 12 layers x 8 heads x 256, d = 20 (GPU)
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp

from theory_lab.icl.transformer import Curriculum, simulate_transformer_icl

jax.config.update("jax_enable_x64", True)  # evaluation in float64, as the check does

QUICK = dict(d=3, n_points=7, n_layer=2, n_head=2, n_embd=32, batch=64, lr=1e-3, sigma2=0.25, n_eval=64,
             curriculum=Curriculum(1, 7, 300), cosine=True, antithetic=True, train_dtype=jnp.float32)
GARG = dict(d=20, n_points=41, n_layer=12, n_head=8, n_embd=256, batch=64, lr=1e-4, sigma2=0.25, n_eval=64,
            train_dtype=jnp.float32)


def timed(cfg: dict, models: int, steps: int) -> float:
    fn = jax.jit(jax.vmap(lambda k: simulate_transformer_icl(k, steps=steps, **cfg)))
    keys = jax.random.split(jax.random.key(0), models)
    jax.block_until_ready(fn(keys))  # compile
    t0 = time.perf_counter()
    jax.block_until_ready(fn(keys))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=16, help="trained models, vmapped (the check's block is 16)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--garg", action="store_true", help="also time Garg et al.'s model size")
    args = ap.parse_args()
    configs = [("quick: d=3, 2 layers x 2 heads x 32", QUICK)]
    if args.garg:
        configs.append(("Garg: d=20, 12 layers x 8 heads x 256", GARG))
    print(f"device: {jax.devices()[0].device_kind} x{jax.device_count()}, jax {jax.__version__}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| configuration | models x batch | prompts/s | ms per step (all models) |")
    print("|---|---|---|---|")
    for name, cfg in configs:
        t1 = timed(cfg, args.models, args.steps)
        t2 = timed(cfg, args.models, 2 * args.steps)
        per_step = max(t2 - t1, 1e-9) / args.steps
        print(f"| {name}, float32 training | {args.models} x {cfg['batch']} | "
              f"{args.models * cfg['batch'] / per_step:,.0f} | {1e3 * per_step:.1f} |")


if __name__ == "__main__":
    main()
