"""The sweep store: one file per finished cell, the recorded spec, a consolidated xarray view.

The store is a folder::

    STORE/sweep.json      the spec as given, its hash, package version, environment
    STORE/cells/*.npz     one file per finished cell (written atomically by the client)
    STORE/computed.log    one JSON line per computation (to count recomputations)
    STORE/results.zarr    the consolidated xarray view (rewritten after each complete pass)

A spec whose result-defining parts changed is refused (:class:`~.spec.SpecError`); extending
the grid's values is allowed, since a cell's result does not depend on the others.

Every cell file records its cell's name and the spec's result hash. A cell file that cannot be
read (truncated, bad CRC, no metadata), that belongs to another cell (copied over its name) or
to another spec (``sweep.json`` deleted and the spec changed), or whose arrays have the wrong
shape is named in a :class:`DamagedCellWarning` and treated as not computed: the next run
recomputes it. Temporary files left by a killed run are removed when a run next opens the
store and no other live run holds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ... import __version__
from ..errors import InputFileError
from ..io import atomic_write
from .spec import SpecError, SweepSpec, spec_from_dict

__all__ = [
    "DamagedCellWarning",
    "cell_file",
    "cell_sizes",
    "computations",
    "init_store",
    "open_sweep",
    "read_cell",
    "stored_spec",
    "write_cell",
    "write_consolidated",
]


def _environment() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    env = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("mfflow", "numpy", "scipy", "xarray", "dask", "distributed", "zarr"):
        try:
            env[pkg] = version(pkg)
        except PackageNotFoundError:
            env[pkg] = "missing"
    return env


def cell_file(store: Path, name: str) -> Path:
    """The file of the cell named ``name`` (long names are shortened with a hash)."""
    safe = name.replace("/", "_").replace(os.sep, "_")
    if len(safe) > 200:
        safe = safe[:150] + "-" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return store / "cells" / f"{safe}.npz"


class DamagedCellWarning(UserWarning):
    """A cell file that cannot be used (named, with the reason): it is recomputed."""


def write_cell(store: Path, name: str, result: dict[str, Any], result_hash: str = "") -> None:
    """Write one cell's arrays (and its error, if it failed) atomically, with the cell's name
    and the spec's ``result_hash``; log the computation."""
    arrays: dict[str, Any] = {
        k: np.asarray(v) for k, v in result.items() if k not in ("error", "traceback")
    }
    meta = {
        "name": name,
        "result_hash": result_hash,
        "error": result.get("error", ""),
        "tb": result.get("traceback", ""),
    }
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_write(cell_file(store, name), ".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
    with open(store / "computed.log", "a", encoding="utf-8") as fh:
        status = "failed" if meta["error"] else "ok"
        fh.write(json.dumps({"cell": name, "status": status, "at": time.time()}) + "\n")


def _damaged(path: Path, why: str) -> None:
    warnings.warn(
        f"sweep store: cell file '{path}' {why}; treated as not computed (recomputed)",
        DamagedCellWarning,
        stacklevel=3,
    )


def cell_sizes(spec: SweepSpec) -> dict[str, int]:
    """The largest size of each cell-array dimension under ``spec`` (``k``: any)."""
    return {"method": len(spec.methods), "t": spec.times().size, "k": 2**62}


def read_cell(
    path: Path,
    name: str | None = None,
    result_hash: str | None = None,
    sizes: dict[str, int] | None = None,
) -> dict[str, Any] | None:
    """A cell file's arrays and metadata; ``None`` if absent, or if damaged, foreign (another
    cell's ``name``), stale (another spec's ``result_hash``) or with arrays that do not fit
    ``sizes`` (:func:`cell_sizes`), with a :class:`DamagedCellWarning` naming the file."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(str(data.pop("meta")))
        if not isinstance(meta, dict):
            raise ValueError("metadata is not a JSON object")
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        _damaged(path, f"cannot be read ({type(exc).__name__}: {str(exc)[:120]})")
        return None
    if name is not None and meta.get("name") != name:
        _damaged(path, f"holds cell {meta.get('name')!r}, not {name!r}")
        return None
    if result_hash is not None and meta.get("result_hash") != result_hash:
        _damaged(
            path,
            f"was computed for another spec (result hash {meta.get('result_hash') or 'none'!r}, "
            f"the spec's is {result_hash!r})",
        )
        return None
    bad = "" if sizes is None else _bad_shape(data, sizes)
    if bad:
        _damaged(path, bad)
        return None
    data.update(meta)
    return data


def init_store(store: Path, spec: SweepSpec) -> None:
    """Create the store, or check that its recorded spec is compatible with ``spec``."""
    meta_path = store / "sweep.json"
    h = spec.result_hash()
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise SpecError(f"store '{store}': unreadable sweep.json ({exc})") from None
        if old.get("result_hash") not in (h, spec.legacy_result_hash()):
            raise SpecError(
                f"store '{store}': the spec changed incompatibly (methods, measurements, fixed "
                f"fields, grid dimensions or times differ from the stored spec "
                f"{old.get('spec', {}).get('name', '?')!r}); use another --out or the old spec"
            )
    (store / "cells").mkdir(parents=True, exist_ok=True)
    _clean_temporaries(store)
    meta = {
        "kind": "sweep",
        "result_hash": h,
        "spec": spec.raw,
        "folder": spec.folder,
        "mfflow_version": __version__,
        "environment": _environment(),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with atomic_write(meta_path, ".json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2, default=repr), "utf-8")


def _clean_temporaries(store: Path) -> None:
    """Remove the temporary files of killed runs (``cells/.*``, ``.results.zarr.tmp``) unless
    another live run holds the store (its pid in ``STORE/.sweep.pid``); then hold it."""
    pid_file = store / ".sweep.pid"
    try:
        other = int(pid_file.read_text("ascii").strip())
    except (OSError, ValueError):
        other = 0
    if other and other != os.getpid() and _alive(other):
        return  # its temporaries may be in use
    for tmp in (store / "cells").glob(".*"):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
    for stale in (store / ".results.zarr.tmp", store / ".results.zarr.old"):
        if stale.exists():
            shutil.rmtree(stale, ignore_errors=True)
    pid_file.write_text(str(os.getpid()), "ascii")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stored_spec(store: str | Path) -> tuple[SweepSpec, dict[str, Any]]:
    """The spec and metadata recorded in ``store``."""
    store = Path(store)
    try:
        meta = json.loads((store / "sweep.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(
            f"store '{store}': not a sweep store (no readable sweep.json: {exc})"
        ) from None
    return spec_from_dict(meta["spec"], meta.get("folder")), meta


def _iter_cells(
    store: Path, spec: SweepSpec, result_hash: str
) -> Iterator[tuple[tuple[int, ...], dict | None]]:
    sizes = cell_sizes(spec)
    for idx, params in spec.cells():
        name = spec.cell_name(params)
        yield idx, read_cell(cell_file(store, name), name, result_hash, sizes)


#: Cell entries that are not result arrays (metadata, the computing worker's pid).
_NOT_RESULTS = ("name", "result_hash", "error", "tb", "pid")
_EXTRA_DIMS: dict[str, tuple[str, ...]] = {
    "sigma": ("k",),
    "t_predicted": ("k",),
    "t_measured": ("method", "k"),
    "curves": ("method", "t", "k"),
    "loss": ("method", "t"),
    "final_error": ("method",),
    "cf_distance": ("method",),
    "hypotheses_hold": (),
    "t_end": (),
    "tol": (),
    "kernel_distance": (),
    "representation_distance": (),
    "alignment_init": (),
    "alignment_final": (),
    "time_to_learn": (),
    "excess_final": (),
    "seconds": (),
    "computed_at": (),
}


def _bad_shape(values: dict[str, Any], sizes: dict[str, int]) -> str:
    """Why a cell's arrays do not fit the store's dimensions (``""`` if they do); the arrays
    are converted to float64 in place."""
    for key, val in values.items():
        if key in _NOT_RESULTS:
            continue
        vd = _EXTRA_DIMS.get(key, ("k",))
        try:
            arr = np.asarray(val, dtype=np.float64)
        except (TypeError, ValueError):
            return f"holds {key!r} that is not numeric"
        if arr.ndim != len(vd) or any(s > sizes[d] for s, d in zip(arr.shape, vd, strict=True)):
            want = tuple(f"{d}<={sizes[d]}" for d in vd)
            return f"holds {key!r} of shape {arr.shape}, expected ({', '.join(want)})"
        values[key] = arr
    return ""


def open_sweep(store: str | Path) -> xr.Dataset:
    """The store as one :class:`xarray.Dataset`, read from the cell files alone.

    One dimension per grid dimension (named after its field; a zip group is one dimension
    named after its first field, the others are coordinates along it), plus ``method``, ``k``
    (modes, padded with NaN to the largest K) and ``t``. ``status`` is ``"ok"``, ``"failed"``
    or ``"missing"``.
    """
    store = Path(store)
    spec, meta = stored_spec(store)
    labels = spec.labels()
    dims = spec.dims()
    dnames = [labels[d[0]] for d in dims]
    shape = tuple(len(spec.grid[d[0]]) for d in dims)
    cells = list(_iter_cells(store, spec, meta["result_hash"]))
    K = max(
        (c["sigma"].size for _, c in cells if c is not None and np.ndim(c.get("sigma", 0)) == 1),
        default=1,
    )
    t = spec.times()
    sizes = {"k": K, "method": len(spec.methods), "t": t.size}
    arrays: dict[str, np.ndarray] = {}
    status = np.full(shape, "missing", dtype=object)
    error = np.full(shape, "", dtype=object)
    for idx, c in cells:
        if c is None:
            continue
        values = {k: v for k, v in c.items() if k not in _NOT_RESULTS}
        status[idx] = "failed" if c.get("error") else "ok"
        error[idx] = c.get("error", "")
        for key, val in values.items():
            vd = _EXTRA_DIMS.get(key, ("k",))
            if key not in arrays:
                arrays[key] = np.full(shape + tuple(sizes[d] for d in vd), np.nan)
            sl = tuple(slice(0, s) for s in val.shape)
            arrays[key][idx + sl] = val
    data_vars: dict[str, Any] = {
        "status": (dnames, status.astype(str)),
        "error": (dnames, error.astype(str)),
    }
    for key, arr in arrays.items():
        data_vars[key] = (dnames + list(_EXTRA_DIMS.get(key, ("k",))), arr)
    coords: dict[str, Any] = {}
    for d, dname in zip(dims, dnames, strict=True):
        for p in d:
            vals = spec.grid[p]
            shown = [json.dumps(v) for v in vals] if isinstance(vals[0], list) else vals
            coords[labels[p]] = (dname, np.asarray(shown))
    coords["method"] = ("method", np.asarray(spec.methods))
    coords["k"] = ("k", np.arange(1, K + 1))
    coords["t"] = ("t", t)
    ds = xr.Dataset(data_vars, coords=coords)
    ds.attrs.update(
        kind="sweep",
        name=spec.name,
        result_hash=meta["result_hash"],
        mfflow_version=meta.get("mfflow_version", ""),
        spec=json.dumps(meta["spec"], default=repr),
        environment=json.dumps(meta.get("environment", {})),
        fixed=json.dumps(spec.base, default=repr),
        fields=json.dumps({labels[p]: p for p in spec.grid}),
    )
    return ds


def write_consolidated(store: str | Path) -> Path:
    """Write ``STORE/results.zarr`` from the cell files (atomically replaced)."""
    store = Path(store)
    ds = open_sweep(store)
    for v in ("status", "error"):
        ds[v] = ds[v].astype("U")
    target = store / "results.zarr"
    tmp = store / ".results.zarr.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    # Zarr format 2 (readable by every zarr and xarray version); with zarr 3 writing it emits
    # no warning (tests/app/test_sweep.py checks), so none is filtered.
    ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)
    old = store / ".results.zarr.old"
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    if old.exists():
        shutil.rmtree(old)
    return target


def computations(store: str | Path) -> dict[str, int]:
    """How many times each cell was computed and written (from ``computed.log``)."""
    counts: dict[str, int] = {}
    path = Path(store) / "computed.log"
    if path.exists():
        for line in path.read_text("utf-8").splitlines():
            try:
                name = json.loads(line)["cell"]
            except (ValueError, KeyError):
                continue  # a torn last line after a kill
            counts[name] = counts.get(name, 0) + 1
    return counts
