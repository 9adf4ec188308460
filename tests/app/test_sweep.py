"""Sweeps: dask == sequential, kill and resume loses nothing, failures recorded, bad specs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import mfflow
from mfflow.app.sweep import (
    SpecError,
    computations,
    compute_cell,
    load_spec,
    open_sweep,
    run_sweep,
    spec_from_dict,
)

SMALL = {
    "name": "small",
    "methods": ["closed_form", "gradient_flow"],
    "measurements": ["curves", "transition_times", "theorem", "final_error"],
    "target": {"K": 3, "n": 4},
    "grid": {
        "init.alpha": {"geomspace": [1e-2, 1e-6, 2]},
        "init.seed": [0, 1],
        "target.gap": [1.5, 3.0],
    },
    "times": {"t_max": 20.0, "num": 41},
}

NUMERIC = [
    "sigma",
    "curves",
    "loss",
    "t_predicted",
    "t_measured",
    "final_error",
    "cf_distance",
    "theorem_holds",
    "certified_lo",
    "measured_lo",
]


def _numbers(ds: xr.Dataset) -> xr.Dataset:
    out = ds[[v for v in NUMERIC if v in ds] + ["status"]]
    out.attrs = {}
    return out


def test_local_cluster_matches_sequential(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    spec = spec_from_dict(SMALL)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
            scheduler_port=0,
        ) as cluster,
        Client(cluster, timeout="20s") as client,
    ):
        summary = run_sweep(spec, tmp_path / "dask", client=client)
    assert summary.done == 8 and summary.failed == 0
    seq = run_sweep(spec, tmp_path / "seq", sequential=True)
    assert seq.done == 8
    a, b = open_sweep(tmp_path / "dask"), open_sweep(tmp_path / "seq")
    xr.testing.assert_identical(_numbers(a), _numbers(b))
    assert set(a.dims) >= {"alpha", "seed", "gap", "method", "k", "t"}
    # and the same as calling the cell function directly, in-process
    for idx, params in spec.cells():
        direct = compute_cell(spec.cell_config(params), spec.measurements)
        cell = a.isel(alpha=idx[0], seed=idx[1], gap=idx[2])
        np.testing.assert_array_equal(cell["t_measured"].values, direct["t_measured"])
        np.testing.assert_array_equal(cell["cf_distance"].values, direct["cf_distance"])
    # the consolidated zarr view holds the same numbers, plus the recorded spec
    z = xr.open_zarr(tmp_path / "dask" / "results.zarr").load()
    np.testing.assert_array_equal(z["t_measured"].values, a["t_measured"].values)
    assert a.attrs["kind"] == "sweep" and "environment" in a.attrs


KILL_SPEC = """
name = "kill"
methods = ["gradient_descent"]
measurements = ["final_error"]
eta = 2e-4
[target]
K = 3
[init]
alpha = 1e-6
[grid]
init.seed = { range = [0, 12] }
[times]
t_max = 20.0
num = 11
"""


def _finished_files(store: Path) -> list[Path]:
    cells = store / "cells"
    return [p for p in cells.glob("*.npz") if not p.name.startswith(".")] if cells.exists() else []


def _snapshot(store: Path) -> dict[str, float]:
    ds = open_sweep(store)
    ok = ds["status"] == "ok"
    return {
        str(s): float(c)
        for s, c, o in zip(ds["seed"].values, ds["computed_at"].values, ok.values, strict=True)
        if o
    }


def test_kill_client_then_resume(tmp_path: Path) -> None:
    spec_path = tmp_path / "kill.toml"
    spec_path.write_text(KILL_SPEC)
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "mfflow", "sweep", str(spec_path), "--out", str(store)]
    proc = subprocess.Popen(
        [*cmd, "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # so the kill takes the client and its local workers
    )
    try:
        # kill once the store holds >= 2 finished cells: polled (not timed), and only finished
        # cell files count (pathlib's glob also matches the hidden temporaries being written)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if len(_finished_files(store)) >= 2:
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the sweep ended before it could be killed"
    before = _snapshot(store)
    assert 2 <= len(before) < 12, f"expected a partial sweep, got {len(before)} cells"

    # generous: the machine may be loaded; the test checks what is recomputed, not how fast
    rerun = subprocess.run([*cmd, "--workers", "2"], capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(before)} already stored" in " ".join(rerun.stderr.split())
    after = _snapshot(store)
    assert len(after) == 12
    for seed, stamp in before.items():  # finished cells were not recomputed
        assert after[seed] == stamp
    counts = computations(store)
    assert len(counts) == 12 and set(counts.values()) == {1}
    assert len(_finished_files(store)) == 12
    assert not [p for p in (store / "cells").iterdir() if p.name.startswith(".")]  # cleaned
    # numbers identical to an uninterrupted in-process sweep
    ref = run_sweep(load_spec(spec_path), tmp_path / "ref", sequential=True, consolidate=False)
    assert ref.done == 12
    xr.testing.assert_identical(_numbers(open_sweep(store)), _numbers(open_sweep(tmp_path / "ref")))


def test_failing_cell_is_recorded_and_retried(tmp_path: Path) -> None:
    spec = spec_from_dict(
        {
            "name": "fail",
            "target": {"K": 3},
            "init": {"alpha": 1e-6},
            "grid": {"target.n": [2, 4]},  # n = 2 < K = 3: make_target raises
            "measurements": ["transition_times"],
        }
    )
    summary = run_sweep(spec, tmp_path / "s", sequential=True)
    assert summary.done == 1 and summary.failed == 1
    ((name, err),) = summary.errors.items()
    assert name == "fail[n=2]" and "ValueError" in err
    ds = open_sweep(tmp_path / "s")
    assert list(ds["status"].values) == ["failed", "ok"]
    assert "ValueError" in str(ds["error"].sel(n=2).values)
    again = run_sweep(spec, tmp_path / "s", sequential=True)
    assert again.skipped == 1 and again.failed == 1  # only the failed cell is retried


def test_cli_reports_failed_cells(tmp_path: Path) -> None:
    spec = tmp_path / "f.toml"
    spec.write_text(
        'name = "f"\nmeasurements = ["final_error"]\n[target]\nK = 3\n[init]\nalpha = 1e-6\n'
        "[grid]\ntarget.n = [2, 3]\n"
    )
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "mfflow",
            "sweep",
            str(spec),
            "--out",
            str(tmp_path / "s"),
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert r.returncode == 2
    assert "failed f[n=2]" in " ".join(r.stderr.split())
    assert "Traceback" not in r.stderr


GRID = SMALL["grid"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"grid": {**GRID, "init.alpah": [1e-3]}}, "grid.init.alpah"),
        ({"grid": {**GRID, "alpah": [1e-3]}}, "grid.alpah"),
        ({"target": {"K": 3, "n": 4, "sigma": 1.0}}, "target.sigma"),
        ({"grid": {**GRID, "init.alpha": []}}, "grid.init.alpha"),
        ({"grid": {**GRID, "init.seed": {"range": [3, 3]}}}, "grid.init.seed"),
        ({"grid": {**GRID, "init.alpha": ["small"]}}, "grid.init.alpha[0]"),
        ({"grid": {**GRID, "init.alpha": [1e-3, -1.0]}}, "grid.init.alpha[1]"),
        ({"grid": {**GRID, "init.seed": [0.5]}}, "grid.init.seed[0]"),
        ({"target": {"K": -1, "n": 4}}, "target.K"),
        ({"init": {"alpha": 1e-3}}, "grid.init.alpha"),
        ({"methods": ["newton"]}, "methods[0]"),
        (
            {
                "zip": [["init.alpha", "init.seed"]],
                "grid": {"init.alpha": [1e-3], "init.seed": [0, 1]},
            },
            "zip[0]",
        ),
        ({"colour": "red"}, "colour"),
        ({"grid": {**GRID, "init": {"alpha": [1e-3], "sed": [0]}}}, "grid.init.sed"),
        (
            {"factorization": "deep", "depth": 3, "methods": ["gradient_flow"]},
            "factorization",
        ),
        ({"operator": {"kind": "completion", "fraction": 0.5}}, "methods"),
        ({"measurements": ["theorem"], "methods": ["gradient_flow"]}, "measurements"),
    ],
)
def test_bad_spec_names_the_field(change: dict, field: str) -> None:
    with pytest.raises(SpecError) as exc:
        spec_from_dict({**SMALL, **change})
    assert str(exc.value).startswith(f"sweep field '{field}'"), str(exc.value)


def test_every_spec_error_is_listed_at_once() -> None:
    bad = {
        **SMALL,
        "colour": "red",
        "target": {"K": -1, "n": 4},
        "grid": {**GRID, "init.alpha": [1e-3, -1.0], "init.sedd": [0]},
    }
    with pytest.raises(SpecError) as exc:
        spec_from_dict(bad)
    lines = str(exc.value).splitlines()
    assert lines == list(exc.value.problems)
    # the grid's own problems first, then the base's and the grid values' (one line each)
    fields = [line.split("':")[0].removeprefix("sweep field '") for line in lines]
    assert fields[0] == "grid.init.sedd"
    assert sorted(fields) == ["colour", "grid.init.alpha[1]", "grid.init.sedd", "target.K"]


def test_dotted_grid_keys_and_tables_are_the_same_spec() -> None:
    nested = {**SMALL, "grid": {"init": {"alpha": [1e-3, 1e-6], "seed": [0, 1]}}}
    dotted = {**SMALL, "grid": {"init.alpha": [1e-3, 1e-6], "init.seed": [0, 1]}}
    a, b = spec_from_dict(nested), spec_from_dict(dotted)
    assert a.grid == b.grid and a.result_hash() == b.result_hash()
    assert [a.cell_name(p) for _, p in a.cells()] == [
        "small[alpha=0.001,seed=0]",
        "small[alpha=0.001,seed=1]",
        "small[alpha=1e-06,seed=0]",
        "small[alpha=1e-06,seed=1]",
    ]
    # two fields with the same name keep their dotted paths as labels
    both = spec_from_dict(
        {**SMALL, "grid": {"init.seed": [0, 1], "target.seed": [0, 1]}, "init": {"alpha": 1e-3}}
    )
    assert both.labels() == {"init.seed": "init.seed", "target.seed": "target.seed"}


def test_default_times_cover_the_slowest_cell() -> None:
    spec = spec_from_dict({k: v for k, v in SMALL.items() if k != "times"})
    t = spec.times()
    # slowest cell: alpha = 1e-6 and gap 3 (smallest value 1/9)
    s = 1.0 / 9.0
    assert t[-1] == pytest.approx(1.5 * np.log(1e6) / (2 * s) + 5 / s, rel=1e-5)
    assert t.size == 400


def test_cli_bad_spec_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text('name = "b"\n[init]\nalpha = 1e-3\n[grid]\nalpah = [1e-3]\n')
    r = subprocess.run(
        [sys.executable, "-m", "mfflow", "sweep", str(spec), "--out", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "sweep field 'grid.alpah': unknown parameter" in " ".join(r.stderr.split())
    assert "Traceback" not in r.stderr and not (tmp_path / "s").exists()


def test_incompatible_spec_refused_and_grid_extension_allowed(tmp_path: Path) -> None:
    base = {**SMALL, "methods": ["closed_form"], "measurements": ["transition_times"]}
    run_sweep(spec_from_dict(base), tmp_path / "s", sequential=True)
    changed = spec_from_dict({**base, "methods": ["closed_form", "gradient_flow"]})
    with pytest.raises(SpecError, match="spec changed incompatibly"):
        run_sweep(changed, tmp_path / "s", sequential=True)
    grown = {**base, "grid": {**base["grid"], "init.seed": [0, 1, 2]}}
    s = run_sweep(spec_from_dict(grown), tmp_path / "s", sequential=True)
    assert s.skipped == 8 and s.done == 4


def test_plot_store(tmp_path: Path) -> None:
    from mfflow.app.cli import main

    store = tmp_path / "s"
    run_sweep(spec_from_dict(SMALL), store, sequential=True)
    with pytest.raises(SystemExit) as exc:
        main(["plot", str(store), "--out", str(tmp_path / "fig")])
    assert exc.value.code in (0, None)
    names = sorted(p.name for p in (tmp_path / "fig").glob("*.png"))
    assert names == ["sweep_distance.png", "sweep_theorem.png", "sweep_transitions.png"]


def test_unsafe_spec_name_is_refused() -> None:
    for name in ("../up", "/abs", "a/b"):
        with pytest.raises(SpecError) as exc:
            spec_from_dict({**SMALL, "name": name})
        assert str(exc.value).startswith("sweep field 'name': expected a plain name")


def test_sweep_names_are_lazy_public_names() -> None:
    import mfflow.app.sweep as sweep

    for name in ("SpecError", "load_spec", "open_sweep", "run_sweep"):
        assert name in mfflow.__all__
        assert getattr(mfflow, name) is getattr(sweep, name)
    assert issubclass(mfflow.SpecError, ValueError)


def test_consolidated_store_is_written_without_warnings(tmp_path: Path) -> None:
    import warnings

    from mfflow.app.sweep import write_consolidated

    spec = spec_from_dict(
        {**SMALL, "target": {"K": 3}, "grid": {"init.alpha": [1e-3], "target.n": [2, 4]}}
    )
    run_sweep(spec, tmp_path / "s", sequential=True, consolidate=False)  # one failed cell
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_consolidated(tmp_path / "s")
    z = xr.open_zarr(tmp_path / "s" / "results.zarr").load()
    assert list(z["status"].values.ravel()) == ["failed", "ok"]


def test_a_bug_in_a_cell_is_raised_not_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only cells the library refuses are recorded as failed; a bug stops the sweep (the cells
    finished before it are kept)."""
    import mfflow.app.sweep.cells as cells

    real = cells.closed_form
    calls = {"n": 0}

    def flaky(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ZeroDivisionError("a bug")
        return real(*args, **kwargs)

    monkeypatch.setattr(cells, "closed_form", flaky)
    spec = spec_from_dict(
        {
            **SMALL,
            "methods": ["closed_form"],
            "measurements": ["final_error"],
            "grid": {"init.alpha": [1e-3], "init.seed": [0, 1, 2]},
        }
    )
    with pytest.raises(ZeroDivisionError, match="a bug"):
        run_sweep(spec, tmp_path / "s", sequential=True)
    assert len(list((tmp_path / "s" / "cells").glob("*.npz"))) == 1
