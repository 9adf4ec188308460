"""Files: atomic writes, results files, and the checksummed cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from mfflow.app.errors import InputFileError, OutputError
from mfflow.app.io import Cache, atomic_write, ensure_writable, load_results, save_results


def _ds(value: float = 1.0) -> xr.Dataset:
    return xr.Dataset({"v": (("t",), np.full(4, value))}, coords={"t": np.arange(4.0)})


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with atomic_write(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and list(tmp_path.iterdir()) == [target]


def test_unwritable_output_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write to"):
        ensure_writable(blocker / "sub")
    with pytest.raises(OutputError, match="cannot write to"):
        with atomic_write(blocker / "sub" / "a.txt") as tmp:
            tmp.write_text("x")


def test_results_round_trip_and_bad_files(tmp_path: Path) -> None:
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs={"kind": "x"}), "a": _ds(2.0)})
    save_results(tree, tmp_path / "r.nc")
    back = load_results(tmp_path / "r.nc")
    assert back.attrs["kind"] == "x"
    xr.testing.assert_identical(back["a"].to_dataset(), _ds(2.0))
    with pytest.raises(InputFileError, match="expected an existing netCDF file"):
        load_results(tmp_path / "missing.nc")
    (tmp_path / "junk.nc").write_text("not netcdf")
    with pytest.raises(InputFileError, match="not a readable netCDF file"):
        load_results(tmp_path / "junk.nc")


def test_cache_hit_and_key_mismatch(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    assert cache.get("a", "k1") is None
    cache.put("a", "k1", _ds(3.0))
    xr.testing.assert_identical(cache.get("a", "k1"), _ds(3.0))
    assert cache.get("a", "k2") is None  # another configuration or version
    meta = json.loads((tmp_path / "a.json").read_text())
    assert meta["key"] == "k1" and len(meta["sha256"]) == 64


@pytest.mark.parametrize("damage", ["flip", "truncate", "replace", "manifest", "no manifest"])
def test_tampered_cache_is_recomputed_not_trusted(tmp_path: Path, damage: str) -> None:
    cache = Cache(tmp_path)
    cache.put("a", "k", _ds(3.0))
    data = tmp_path / "a.nc"
    raw = data.read_bytes()
    if damage == "flip":
        data.write_bytes(raw[:-100] + bytes(b ^ 1 for b in raw[-100:]))
    elif damage == "truncate":
        data.write_bytes(raw[: len(raw) // 2])
    elif damage == "replace":  # a valid netCDF file with other numbers, same key
        save_results(_ds(4.0), data)
    elif damage == "manifest":
        (tmp_path / "a.json").write_text("{not json")
    else:
        (tmp_path / "a.json").unlink()
    assert cache.get("a", "k") is None
    cache.put("a", "k", _ds(3.0))  # recomputed and stored again
    xr.testing.assert_identical(cache.get("a", "k"), _ds(3.0))
