"""Results on disk: content-addressed run folders, atomic chunk writes, resume, manifest, records.

Layout under the results root (``./results``, or ``$THEORY_LAB_RESULTS``)::

    <root>/<check id>/<run key>/manifest.json   what the run is (its key's inputs) and which chunks are finished
    <root>/<check id>/<run key>/<chunk>.npz     per-trial outputs of one chunk of the sweep
    <root>/<check id>/<run key>/record.json     the verdict record, written last
    <root>/<check id>/latest-<profile>.json     copy of the newest record of that profile (for `list`, `figures`)

The run key is a hash of (check id, parameters, profile, seeds, root seed, precision, code version), so a change to any
of them — including the code — gives a new folder instead of silently reusing stale numbers. Every file is written to
a temporary name in the same folder and renamed into place (atomic on POSIX), and the manifest lists a chunk only
after its file is in place; a run killed at any instant therefore leaves only complete chunks behind, and a rerun
recomputes exactly the chunks the manifest does not list. Nothing is created on disk until the first write, so
input that is rejected before a run starts leaves no trace.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from io import BytesIO as _BytesIO
from pathlib import Path
from typing import Any, Mapping

import numpy as np

__all__ = [
    "results_root",
    "code_version",
    "run_key",
    "RunStore",
    "atomic_write_bytes",
    "atomic_write_json",
    "latest_record",
]


_UMASK = os.umask(0)
os.umask(_UMASK)


def results_root() -> Path:
    """``$THEORY_LAB_RESULTS`` if set, else ``./results``."""
    return Path(os.environ.get("THEORY_LAB_RESULTS", "results"))


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus a hash of every source file of ``theory_lab`` and ``proofs_checks``.

    Any edit to the code changes the version and therefore every run key: results computed by other code are
    reported as stale (a new run), never served from cache.
    """
    import proofs_checks
    import theory_lab

    h = hashlib.sha256(theory_lab.__version__.encode())
    for pkg in (theory_lab, proofs_checks):
        base = Path(pkg.__file__).parent
        for path in sorted(base.rglob("*.py")):
            h.update(str(path.relative_to(base)).encode())
            h.update(path.read_bytes())
    return f"{theory_lab.__version__}+{h.hexdigest()[:12]}"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_key(check_id: str, params: Mapping[str, Any], profile: str, seeds: int, root_seed: int,
            version: str | None = None, precision: str = "float64") -> str:
    """16 hex digits of sha256 over the canonical JSON of what determines a run's numbers."""
    payload = {
        "precision": precision,
        "check": check_id,
        "params": dict(params),
        "profile": profile,
        "seeds": seeds,
        "root_seed": root_seed,
        "code": version if version is not None else code_version(),
    }
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()[:16]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=_json_default) + "\n").encode())


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


class RunStore:
    """One run's folder: chunks in, chunks out, a manifest that says which are finished, and the record."""

    def __init__(self, check_id: str, key: str, meta: Mapping[str, Any], root: Path | None = None):
        self.root = Path(root) if root is not None else results_root()
        self.check_id = check_id
        self.key = key
        self.meta = dict(meta)
        self.dir = self.root / check_id / key
        self._manifest: dict[str, Any] | None = None

    # -- manifest --------------------------------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        if self._manifest is None:
            if self.manifest_path.exists():
                self._manifest = json.loads(self.manifest_path.read_text())
            else:
                self._manifest = {"meta": self.meta, "chunks": {}}
        return self._manifest

    def _save_manifest(self) -> None:
        atomic_write_json(self.manifest_path, self.manifest())

    # -- chunks ----------------------------------------------------------------------------------------------------
    def load_chunk(self, name: str) -> dict[str, np.ndarray] | None:
        """The chunk's arrays if the manifest lists it as finished, else None (it will be recomputed)."""
        entry = self.manifest()["chunks"].get(name)
        path = self.dir / f"{name}.npz"
        if entry is None or not path.exists():
            return None
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            return None  # a corrupted chunk is recomputed, not trusted
        with np.load(_BytesIO(data)) as z:
            return {k: z[k] for k in z.files}

    def write_chunk(self, name: str, arrays: Mapping[str, np.ndarray]) -> None:
        buf = _BytesIO()
        np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
        data = buf.getvalue()
        atomic_write_bytes(self.dir / f"{name}.npz", data)
        self.manifest()["chunks"][name] = {"sha256": hashlib.sha256(data).hexdigest()}
        self._save_manifest()

    def chunk_size(self, group: int) -> int | None:
        """The chunk size a static group was first run with, so a resumed run finds its chunks without re-sizing."""
        return self.manifest().get("chunk_sizes", {}).get(str(group))

    def set_chunk_size(self, group: int, size: int) -> None:
        self.manifest().setdefault("chunk_sizes", {})[str(group)] = int(size)
        self._save_manifest()

    def chunk_names(self) -> list[str]:
        return sorted(self.manifest()["chunks"])

    # -- records ---------------------------------------------------------------------------------------------------
    @property
    def record_path(self) -> Path:
        return self.dir / "record.json"

    def write_record(self, record: Mapping[str, Any]) -> None:
        atomic_write_json(self.record_path, record)
        atomic_write_json(
            self.root / self.check_id / f"latest-{record.get('label', record.get('profile', 'custom'))}.json", record)

    def read_record(self) -> dict[str, Any] | None:
        return json.loads(self.record_path.read_text()) if self.record_path.exists() else None


def latest_record(check_id: str, profile: str | None = None, root: Path | None = None) -> dict[str, Any] | None:
    """The newest record of ``check_id`` (of ``profile`` if given), or None."""
    base = (Path(root) if root is not None else results_root()) / check_id
    if not base.is_dir():
        return None
    candidates = [base / f"latest-{profile}.json"] if profile else sorted(base.glob("latest-*.json"))
    found = [json.loads(p.read_text()) for p in candidates if p.exists()]
    return max(found, key=lambda r: r.get("finished_at", ""), default=None)
