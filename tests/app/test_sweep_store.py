"""Sweep store integrity: damaged, foreign and stale cells are named and recomputed; harmless
spec changes are accepted; temporaries of killed runs are removed."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

from mfflow.app.sweep import SpecError, computations, open_sweep, run_sweep, spec_from_dict
from mfflow.app.sweep.store import DamagedCellWarning, cell_file

TINY: dict[str, Any] = {
    "name": "tiny",
    "methods": ["closed_form"],
    "measurements": ["curves", "transition_times"],
    "target": {"K": 2, "n": 3},
    "init": {"alpha": 1e-3},
    "grid": {"init.seed": [0, 1, 2, 3], "target.gap": [2.0]},
    "times": {"t_max": 10.0, "num": 11},
}


def _run(store: Path, raw: dict[str, Any] = TINY) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DamagedCellWarning)
        summary = run_sweep(spec_from_dict(raw), store, sequential=True, consolidate=False)
    return summary, [str(w.message) for w in caught if w.category is DamagedCellWarning]


def _names(raw: dict[str, Any] = TINY) -> list[str]:
    spec = spec_from_dict(raw)
    return [spec.cell_name(params) for _, params in spec.cells()]


def _numbers(store: Path) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DamagedCellWarning)  # the final store is clean
        ds = open_sweep(store)
    return ds[["curves", "t_predicted", "status"]]


def test_damaged_cells_are_named_and_recomputed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first, _ = _run(store)
    assert first.done == 4
    ref = _numbers(store)
    names = _names()
    files = [cell_file(store, n) for n in names]
    # 0: truncated; 1: bytes flipped (bad CRC or unreadable); 2: cell 3's file copied over it;
    # 3: stale (written for another spec) with a wrong-shape curve
    raw0 = files[0].read_bytes()
    files[0].write_bytes(raw0[: len(raw0) // 2])
    raw1 = bytearray(files[1].read_bytes())
    for i in range(len(raw1) // 3, len(raw1) // 3 + 40):
        raw1[i] ^= 0xFF
    files[1].write_bytes(bytes(raw1))
    files[2].write_bytes(files[3].read_bytes())
    with np.load(files[3]) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["result_hash"] = "0000000000000000"
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["curves"] = arrays["curves"][..., None]
    np.savez(files[3], **arrays)

    with pytest.warns(DamagedCellWarning) as seen:
        ds = open_sweep(store)  # reading names them, shows them as not computed
    assert [str(s) for s in ds["status"].values.ravel()] == ["missing"] * 4
    text = " ".join(str(w.message) for w in seen)
    for f in files:
        assert f"'{f}'" in text
    assert "cannot be read" in text and f"holds cell {names[3]!r}" in text

    second, named = _run(store)
    assert second.skipped == 0 and second.done == 4  # every damaged cell recomputed
    assert all(any(f"'{f}'" in m for m in named) for f in files)
    assert "another spec" in " ".join(named) or "cannot be read" in " ".join(named)
    assert set(computations(store).values()) == {2}
    xr.testing.assert_identical(_numbers(store), ref)


def test_a_spec_changed_behind_a_deleted_sweep_json_recomputes_every_cell(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _run(store)
    old = _numbers(store)
    (store / "sweep.json").unlink()
    changed = {**TINY, "target": {"K": 2, "n": 3, "sigma1": 5.0}}
    summary, named = _run(store, changed)
    assert summary.skipped == 0 and summary.done == 4
    assert len(named) == 4 and all("computed for another spec" in m for m in named)
    new = _numbers(store)
    assert not np.allclose(new["t_predicted"].values, old["t_predicted"].values)


def test_unchanged_and_harmless_spec_changes_reuse_every_cell(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _run(store)
    again, named = _run(store)
    assert again.skipped == 4 and again.done == 0 and not named
    # the same spec written with dotted keys as nested tables: the same cells
    nested = {**TINY, "grid": {"init": {"seed": [0, 1, 2, 3]}, "target": {"gap": [2.0]}}}
    third, named = _run(store, nested)
    assert third.skipped == 4 and not named
    # defaults written out explicitly: the same cells
    explicit = {**TINY, "init": {"alpha": 1e-3, "kind": "gaussian", "scales": 1.0}, "eps": 0.1}
    fourth, named = _run(store, explicit)
    assert fourth.skipped == 4 and not named
    assert set(computations(store).values()) == {1}
    # a change that matters is still refused
    with pytest.raises(SpecError, match="changed incompatibly"):
        _run(store, {**TINY, "init": {"alpha": 1e-4}})


def test_temporaries_of_a_killed_run_are_removed_unless_a_live_run_holds_the_store(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    _run(store)
    torn = store / "cells" / ".cell.npz.abc123.npz"
    torn.write_bytes(b"half a cell")
    (store / ".results.zarr.tmp").mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (store / ".sweep.pid").write_text(str(live.pid))
        _run(store)
        assert torn.exists()  # the other run may still be writing it
    finally:
        live.kill()
        live.wait()
    _run(store)  # its holder is gone: a killed run's leftovers
    assert not torn.exists() and not (store / ".results.zarr.tmp").exists()
    assert not [p for p in (store / "cells").iterdir() if p.name.startswith(".")]
