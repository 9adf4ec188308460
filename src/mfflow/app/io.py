"""Files: atomic writes, netCDF results (one group per section), a checksummed resumable cache.

Every file mfflow writes goes through :func:`atomic_write` (a temporary file in the same folder,
renamed onto the target only once complete), so an interrupted command never leaves a torn
file under a final name.

A results file is netCDF-4: a flat dataset (``mfflow run``) or a tree of groups, one per report
section (``mfflow reproduce``), read back with :func:`load_results` as an
:class:`xarray.DataTree` whose root holds the attributes (``kind``, ``config``, version).

:class:`Cache` keeps one netCDF file per key under a folder, with a manifest recording the key
and the sha256 of the file; a file whose checksum or key does not match (tampered, truncated,
from another configuration or version) is recomputed, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import xarray as xr

from .errors import InputFileError, OutputError

__all__ = [
    "Cache",
    "atomic_write",
    "ensure_writable",
    "load_results",
    "save_results",
    "sha256_file",
]

_NETCDF_MAGIC = (b"\x89HDF\r\n\x1a\n", b"CDF\x01", b"CDF\x02", b"CDF\x05")


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot write to '{path}': {exc.strerror or exc}")


def ensure_writable(folder: str | Path) -> Path:
    """Create ``folder`` (and parents) and check a file can be written there.

    Raises :class:`~mfflow.app.errors.OutputError` naming the folder otherwise.
    """
    p = Path(folder)
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=p):
            pass
    except OSError as exc:
        raise _cannot_write(p, exc) from None
    return p


@contextlib.contextmanager
def atomic_write(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    The temporary file gets the permissions a new file would get (the umask applies). Failing
    to create the folder, the temporary file or to rename raises
    :class:`~mfflow.app.errors.OutputError`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=str(path.parent)
        )
    except OSError as exc:
        raise _cannot_write(path.parent, exc) from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        try:
            os.replace(tmp_path, path)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def save_results(data: xr.Dataset | xr.DataTree, path: str | Path) -> Path:
    """Write a dataset or a tree of groups as netCDF-4 (engine netcdf4), atomically."""
    p = Path(path)
    with atomic_write(p, ".nc") as tmp:
        data.to_netcdf(tmp, engine="netcdf4")
    return p


def load_results(path: str | Path) -> xr.DataTree:
    """Load a results file fully into memory (the file is closed on return).

    A missing file or one that is not netCDF raises
    :class:`~mfflow.app.errors.InputFileError` naming the file.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputFileError(
            f"results file '{p}': expected an existing netCDF file ({exc.strerror or exc})"
        ) from None
    if not head.startswith(_NETCDF_MAGIC):
        raise InputFileError(f"results file '{p}': not a readable netCDF file (no netCDF header)")
    try:
        with xr.open_datatree(p, engine="netcdf4") as tree:
            return tree.load()
    except OSError as exc:
        raise InputFileError(
            f"results file '{p}': not a readable netCDF file ({exc.strerror or exc})"
        ) from None


def sha256_file(path: str | Path) -> str:
    """The sha256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Cache:
    """A folder of netCDF results, each verified by key and sha256 before reuse.

    ``FOLDER/NAME.nc`` holds the data, ``FOLDER/NAME.json`` the manifest
    ``{"key": ..., "sha256": ...}`` written after it. :meth:`get` returns ``None`` (recompute)
    unless the manifest exists, its key is the one asked for and the file's sha256 matches.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _paths(self, name: str) -> tuple[Path, Path]:
        return self.folder / f"{name}.nc", self.folder / f"{name}.json"

    def get(self, name: str, key: str) -> xr.Dataset | None:
        """The cached dataset for ``(name, key)``, or ``None`` if absent or not trustworthy."""
        data, manifest = self._paths(name)
        if not (data.is_file() and manifest.is_file()):
            return None
        try:
            meta = json.loads(manifest.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("key") != key:
            return None
        if meta.get("sha256") != sha256_file(data):
            return None
        with xr.open_dataset(data, engine="netcdf4") as ds:
            return ds.load()

    def put(self, name: str, key: str, ds: xr.Dataset) -> None:
        """Store ``ds`` under ``name`` with its key and checksum (both files atomically)."""
        data, manifest = self._paths(name)
        save_results(ds, data)
        meta = {"key": key, "sha256": sha256_file(data)}
        with atomic_write(manifest, ".json") as tmp:
            tmp.write_text(json.dumps(meta), "utf-8")
