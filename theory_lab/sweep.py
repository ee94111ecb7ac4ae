"""Sweeps: a grid of parameter points x seeds, run as batched, jitted, vmapped, sharded JAX programs.

A :class:`Grid` has *static* axes (they change array shapes: p, n, width, depth — one compile per distinct value
combination) and *dynamic* axes (floats such as noise or ridge, passed as arrays and vmapped). Within one static
group, every (point, seed) pair is one element of a flat batch; the batch is cut into equal chunks sized to a memory
budget, each chunk padded to a multiple of the device count and sharded over ``jax.devices()`` along its batch axis
with ``NamedSharding``.

Reproducibility: the PRNG key of a pair is ``fold_in(fold_in(key(root_seed), point_index), seed_index)`` computed
inside the program from the two indices alone. A pair's numbers therefore do not depend on the chunk size, the
device count, the order of groups or an interrupted-and-resumed history. On CPU the results are bit-identical
across those choices (tested); GPU reductions are not bitwise deterministic, so there agreement is within tolerance.

Simulators have the signature ``sim(key, static: dict, dynamic: dict) -> dict[str, Array]`` for one trial; shapes of
the outputs may depend on ``static`` only.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from typing import Any, Callable, Iterable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

from theory_lab import distributed as dist

__all__ = ["Grid", "SweepResult", "run_sweep", "Simulator", "DEFAULT_MEMORY_BUDGET"]

Simulator = Callable[[jax.Array, Mapping[str, Any], Mapping[str, jax.Array]], Mapping[str, jax.Array]]

#: Bytes one chunk may use (arguments + temporaries + outputs, per XLA's memory analysis); override with
#: THEORY_LAB_MEMORY_BUDGET (bytes) or the ``memory_budget`` argument.
DEFAULT_MEMORY_BUDGET = 1 << 30
#: Default largest chunk (trials): small enough for frequent progress reports and fine-grained resume, large enough
#: that per-chunk dispatch and the atomic write are negligible.
MAX_CHUNK = 4096


@dataclasses.dataclass(frozen=True)
class Grid:
    """An ordered list of parameter points, each a dict of axis values, with axes split into static and dynamic.

    Build with :meth:`product` (Cartesian product, last axis fastest) or :meth:`from_points` (any list, e.g. a
    sweep over gamma where p = gamma * n changes with gamma). A point's index in ``points`` is its identity for
    random keys.
    """

    static: tuple[str, ...]
    dynamic: tuple[str, ...]
    points: tuple[Mapping[str, Any], ...]

    def __post_init__(self) -> None:
        names = set(self.static) | set(self.dynamic)
        if set(self.static) & set(self.dynamic):
            raise ValueError(f"axes both static and dynamic: {sorted(set(self.static) & set(self.dynamic))}")
        for i, p in enumerate(self.points):
            if set(p) != names:
                raise ValueError(f"point {i} has axes {sorted(p)}, expected {sorted(names)}")

    @classmethod
    def product(cls, static: Mapping[str, Sequence[Any]], dynamic: Mapping[str, Sequence[Any]]) -> "Grid":
        names = list(static) + list(dynamic)
        values = [list(static[k]) for k in static] + [list(dynamic[k]) for k in dynamic]
        pts = tuple(dict(zip(names, combo)) for combo in itertools.product(*values))
        return cls(tuple(static), tuple(dynamic), pts)

    @classmethod
    def from_points(cls, points: Iterable[Mapping[str, Any]], static: Sequence[str]) -> "Grid":
        pts = tuple(dict(p) for p in points)
        if not pts:
            raise ValueError("a grid needs at least one point")
        dynamic = tuple(k for k in pts[0] if k not in static)
        return cls(tuple(static), dynamic, pts)

    def __len__(self) -> int:
        return len(self.points)

    def groups(self) -> list[tuple[dict[str, Any], np.ndarray]]:
        """Static value combinations, in first-appearance order, with the indices of their points."""
        order: dict[tuple, list[int]] = {}
        for i, p in enumerate(self.points):
            order.setdefault(tuple(p[k] for k in self.static), []).append(i)
        return [(dict(zip(self.static, key)), np.asarray(idx)) for key, idx in order.items()]

    def coords(self) -> dict[str, np.ndarray]:
        return {k: np.asarray([p[k] for p in self.points]) for k in (*self.static, *self.dynamic)}


@dataclasses.dataclass
class SweepResult:
    """Per-trial outputs of a sweep as labelled arrays.

    ``data[name]`` has shape (n_points, n_seeds, *stat_shape) with dims ("point", "seed", ...); ``coords[axis]``
    gives each point's value of every grid axis. ``status`` says how it was obtained: "computed", "resumed"
    (some chunks came from disk) or "cached" (all did); ``chunks_computed`` counts chunks simulated in this call.
    """

    coords: dict[str, np.ndarray]
    data: dict[str, np.ndarray]
    seeds: int
    status: str = "computed"
    chunks_computed: int = 0
    chunks_total: int = 0
    dims: tuple[str, ...] = ("point", "seed")
    chunk_sizes: tuple[int, ...] = ()  # trials per chunk, per static group (after rounding to devices x BLOCK)

    def index(self, **where: Any) -> int:
        """The index of the unique point whose axes equal ``where`` (floats compared with isclose)."""
        mask = np.ones(len(next(iter(self.coords.values()))), dtype=bool)
        for k, v in where.items():
            c = self.coords[k]
            mask &= np.isclose(c, v) if np.issubdtype(c.dtype, np.floating) else (c == v)
        hits = np.nonzero(mask)[0]
        if hits.size != 1:
            raise KeyError(f"{where} matches {hits.size} points")
        return int(hits[0])

    def sel(self, name: str, **where: Any) -> np.ndarray:
        """Per-seed samples of statistic ``name`` at the point given by ``where``."""
        return self.data[name][self.index(**where)]


def _device_mesh() -> jax.sharding.Mesh:
    # Auto axes: the batch axis is a plain data-parallel split; simulators need not know about sharding.
    return jax.make_mesh((len(jax.devices()),), ("batch",), axis_types=(jax.sharding.AxisType.Auto,))


_PROGRAMS: dict[tuple, Any] = {}

#: Trials computed side by side by one vmapped block. Every trial is always computed inside a block of exactly this
#: width, whatever the chunk size or device count: XLA picks its vectorisation (and hence the summation order of
#: reductions) from the batch width, so a fixed width is what makes results bit-identical across chunkings.
BLOCK = 16


def _batched_program(sim: Simulator, static: Mapping[str, Any], dynamic_names: Sequence[str],
                     mesh: jax.sharding.Mesh):
    """The compiled program of one static group: shard the batch over devices, then on each device scan over
    blocks of ``BLOCK`` trials, each block a ``vmap`` of one trial. Keys are derived from indices inside.

    Programs are memoised per (simulator, static values, dynamic axis names, devices), so a later sweep over the
    same static group reuses the compiled program; dynamic values are traced arrays and never trigger a recompile.
    """
    cache_key = (sim, tuple(sorted(static.items())), tuple(dynamic_names), mesh.devices.tobytes())
    if cache_key in _PROGRAMS:
        return _PROGRAMS[cache_key]

    def one(root_seed, point_idx, seed_idx, dyn_values):
        key = jax.random.fold_in(jax.random.fold_in(jax.random.key(root_seed), point_idx), seed_idx)
        return dict(sim(key, static, dict(zip(dynamic_names, dyn_values))))

    block = jax.vmap(one, in_axes=(None, 0, 0, 0))

    def local(root_seed, point_idx, seed_idx, dyn_values):
        # This device's shard, a whole number of blocks: scan over them (lax.map), vmap within each.
        def split(a):
            return a.reshape((-1, BLOCK) + a.shape[1:])

        out = jax.lax.map(lambda args: block(root_seed, *args), (split(point_idx), split(seed_idx), split(dyn_values)))
        return jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), out)

    spec = PartitionSpec("batch")
    # check_vma=False: simulators are written for one trial and need not annotate device-varying values.
    program = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=(PartitionSpec(), spec, spec, spec), out_specs=spec,
                                    check_vma=False))
    _PROGRAMS[cache_key] = program
    return program


def _memory_budget(memory_budget: int | None) -> int:
    if memory_budget is not None:
        return int(memory_budget)
    env = os.environ.get("THEORY_LAB_MEMORY_BUDGET")
    return int(env) if env else DEFAULT_MEMORY_BUDGET


_EXECUTABLES: dict[tuple[int, int], Any] = {}
_SIZES: dict[tuple[int, int, int, int], int] = {}


def _executable(program, args_for, size: int):
    """The program compiled for chunks of ``size`` trials, compiled once per process and reused by every sweep
    (calling the jitted function after ``lower().compile()`` would compile a second time)."""
    key = (id(program), size)
    if key not in _EXECUTABLES:
        _EXECUTABLES[key] = program.lower(*args_for(size)).compile()
    return _EXECUTABLES[key]


def _chunk_for_budget(program, args_for, unit: int, budget: int, total: int) -> int:
    """The largest chunk (a multiple of ``unit`` = devices x BLOCK, at most MAX_CHUNK trials unless one unit is
    larger) whose compiled program fits ``budget`` bytes.

    XLA's memory analysis at that size is tried first: when it fits (the common case) that compiled program is the
    one that runs, so sizing costs no extra compile. Otherwise the per-element bytes scale the chunk down.
    """
    memo = (id(program), total, unit, budget)
    if memo in _SIZES:
        return _SIZES[memo]
    whole = math.ceil(min(total, max(MAX_CHUNK, unit)) / unit) * unit
    try:
        mem = _executable(program, args_for, whole).memory_analysis()
        used = mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes
        size = whole if used <= budget else max(unit, int(budget // max(used / whole, 1.0)) // unit * unit)
    except Exception:  # memory analysis is best-effort on some backends; fall back to one chunk
        size = whole
    _SIZES[memo] = size
    return size


def run_sweep(
    sim: Simulator,
    grid: Grid,
    *,
    seeds: int,
    root_seed: int = 0,
    chunk_size: int | None = None,
    memory_budget: int | None = None,
    store: Any = None,
    progress: Callable[[int, int], None] | None = None,
    dtype: Any = None,
) -> SweepResult:
    """Run ``sim`` at every grid point for ``seeds`` seeds.

    Args:
      sim: one-trial simulator ``sim(key, static, dynamic) -> dict of arrays``.
      grid: the points.
      seeds: trials per point (seed indices 0 .. seeds-1).
      root_seed: root of all keys.
      chunk_size: elements (point x seed pairs) per compiled call and per stored chunk; rounded up to a multiple of
        devices x BLOCK. Default: up to MAX_CHUNK, fewer if the program would exceed ``memory_budget``.
      memory_budget: bytes per chunk (default ``THEORY_LAB_MEMORY_BUDGET`` or 1 GiB).
      store: optional :class:`theory_lab.store.RunStore`; finished chunks are written atomically and, on a rerun,
        read back instead of recomputed.
      progress: called as ``progress(done_elements, total_elements)`` after every chunk.
      dtype: dtype of the dynamic values (default: float64 if x64 is enabled, else float32).

    Returns:
      A :class:`SweepResult` with arrays of shape (n_points, seeds, ...).
    """
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    dtype = dtype or (jnp.float64 if jax.config.jax_enable_x64 else jnp.float32)
    mesh = _device_mesh()
    n_dev = mesh.size
    unit = n_dev * BLOCK  # every chunk is a whole number of blocks on every device
    sharding = NamedSharding(mesh, PartitionSpec("batch"))
    replicated = NamedSharding(mesh, PartitionSpec())
    budget = _memory_budget(memory_budget)

    total_elems = len(grid) * seeds
    done = 0
    outputs: dict[str, np.ndarray] = {}
    chunks_computed = chunks_total = 0
    sizes_used: list[int] = []
    root = np.asarray(root_seed, dtype=np.uint32)
    multi = jax.process_count() > 1
    writer = dist.is_main()  # only process 0 writes; every process computes its shards and reads the gathered result
    if store is not None and multi:
        store.manifest()  # every process reads the same snapshot before process 0 writes anything
        dist.barrier("theory_lab.sweep.manifest")

    for g, (static, point_idx) in enumerate(grid.groups()):
        program = _batched_program(sim, static, grid.dynamic, mesh)
        # Flat batch of (point, seed) pairs in this group: point-major.
        pi = np.repeat(point_idx, seeds).astype(np.int32)
        si = np.tile(np.arange(seeds), len(point_idx)).astype(np.int32)
        dyn = np.stack([np.asarray([grid.points[i][k] for i in pi], dtype=np.float64) for k in grid.dynamic],
                       axis=1) if grid.dynamic else np.zeros((len(pi), 1))  # a placeholder column: no dynamic axes
        n = len(pi)

        def args_for(size: int, start: int = 0):
            sl = np.arange(start, start + size)
            sl = np.minimum(sl, n - 1)  # pad by repeating the last element; padded outputs are dropped
            return (
                dist.put(root, replicated),
                dist.put(pi[sl], sharding),
                dist.put(si[sl], sharding),
                dist.put(dyn[sl].astype(dtype), sharding),
            )

        remembered = store.chunk_size(g) if store is not None and chunk_size is None else None
        if remembered is not None:
            size = remembered  # resume with the chunking the stored chunks were written with (no sizing compile)
        elif chunk_size is None:
            size = _chunk_for_budget(program, args_for, unit, budget, n)
        else:
            size = min(chunk_size, n)
        size = dist.broadcast(math.ceil(size / unit) * unit)  # every process must cut the batch identically
        if store is not None and remembered is None and writer:
            store.set_chunk_size(g, size)
        sizes_used.append(size)
        starts = list(range(0, n, size))
        chunks_total += len(starts)
        group_out: dict[str, list[np.ndarray]] = {}
        for start in starts:
            stop = min(start + size, n)
            name = f"g{g:03d}_{start:09d}_{stop:09d}"
            arrays = store.load_chunk(name) if store is not None else None
            if multi and dist.broadcast(arrays is not None) != (arrays is not None):
                raise RuntimeError(f"process {jax.process_index()} and process 0 disagree on stored chunk {name}: "
                                   "multi-process runs need a results folder all processes share")
            if arrays is None:
                args = args_for(size, start)
                res = _executable(program, args_for, size)(*args)
                arrays = {k: dist.gather(v)[: stop - start] for k, v in res.items()}
                chunks_computed += 1
                if store is not None and writer:
                    store.write_chunk(name, arrays)
            for k, v in arrays.items():
                group_out.setdefault(k, []).append(v)
            done += stop - start
            if progress is not None:
                progress(done, total_elems)
        for k, parts in group_out.items():
            flat = np.concatenate(parts, axis=0)
            per_point = flat.reshape((len(point_idx), seeds) + flat.shape[1:])
            if k not in outputs:
                fill = np.nan if np.issubdtype(flat.dtype, np.floating) else 0
                outputs[k] = np.full((len(grid), seeds) + flat.shape[1:], fill, dtype=flat.dtype)
            if outputs[k].shape[2:] != per_point.shape[2:]:
                raise ValueError(f"statistic {k!r} has shape {per_point.shape[2:]} in static group {static}, "
                                 f"{outputs[k].shape[2:]} elsewhere; per-trial shapes must not depend on static axes")
            outputs[k][point_idx] = per_point

    if chunks_computed == 0:
        status = "cached"
    elif chunks_computed < chunks_total:
        status = "resumed"
    else:
        status = "computed"
    return SweepResult(grid.coords(), outputs, seeds, status, chunks_computed, chunks_total,
                       chunk_sizes=tuple(sizes_used))
