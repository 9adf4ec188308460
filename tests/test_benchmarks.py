"""The benchmark script runs and writes well-formed figures (format only: no timing asserted).

``benchmarks/run.py --quick`` is run in a subprocess; optional competitors (diffrax,
torchdiffeq) may be missing, and are then reported as "not installed".
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "run.py"
COMPETITORS = [
    "scipy-DOP853",
    "scipy-RK45",
    "diffrax-Dopri8",
    "torchdiffeq-dopri5",
    "spectral-ODE",
    "reduced-ODE",
]
STATUSES = {"ok", "unable", "timeout", "not installed", "skipped", "error", "n/a"}
OPTIONAL = {"diffrax-Dopri8": ("jax", "diffrax"), "torchdiffeq-dopri5": ("torch", "torchdiffeq")}
OUTPUTS = {"eigvals", "W", "loss"}


def _positive(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out), "--markdown"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.slow
def test_quick_json_top_level(quick_run: tuple[dict, str]) -> None:
    report, _ = quick_run
    for key in ("schema", "mode", "target_rel_error", "settings", "machine", "cases", "mpmath"):
        assert key in report, key
    assert report["schema"] == "mfflow-benchmark/2" and report["mode"] == "quick"
    assert report["competitors"] == COMPETITORS
    assert report["settings"]["threads"] == 1
    machine = report["machine"]
    assert isinstance(machine["cpu_count"], int) and machine["cpu_count"] >= 1
    for pkg in ("numpy", "scipy", "mfflow"):
        assert isinstance(machine["versions"][pkg], str)
    assert "blas" in machine
    assert machine["threads_env"]["OPENBLAS_NUM_THREADS"] == "1"
    for key in ("load_average_start", "load_average_end"):
        assert len(machine[key]) == 3
    assert _positive(report["elapsed_s"])


@pytest.mark.slow
def test_quick_cases_mfflow_and_floor(quick_run: tuple[dict, str]) -> None:
    report, _ = quick_run
    rows = report["cases"]
    assert {r["structure"] for r in rows} == {"dense", "spectral", "lowrank"}
    assert any(r["alpha"] < 1e-20 for r in rows)  # the row no float64 ODE solver can do
    for row in rows:
        assert row["T"] == 200 and set(row["outputs"]) <= OUTPUTS
        mf = row["mfflow"]
        assert _positive(mf["build_s"]) and mf["peak_mb"] >= 0
        assert set(mf["outputs"]) == set(row["outputs"]) | {"diag"}
        for res in mf["outputs"].values():
            assert _positive(res["time_s"]) and res["time_s"] >= res["eval_s"] > 0
            assert _positive(res["floor_s"]) and _positive(res["x_floor"])
        assert mf["path"] == ("spectral" if row["structure"] == "spectral" else "dense")
        assert mf["reduced"] is (row["structure"] == "lowrank")
        assert row["w_is_factor"] is (row["structure"] == "lowrank")
        prims = row["floor"]["primitives_s"]
        if row["structure"] == "dense":
            for key in ("eigh", "update", "cholesky", "trsm", "eigvalsh", "svdvals", "backrot"):
                assert _positive(prims[key]), key
            assert _positive(mf["outputs"]["eigvals"]["x_own_primitives"])
        elif row["structure"] == "spectral":
            assert _positive(prims["eigh"])
        else:
            assert _positive(prims["qr"])


@pytest.mark.slow
def test_quick_competitors(quick_run: tuple[dict, str]) -> None:
    report, _ = quick_run
    for row in report["cases"]:
        assert set(row["competitors"]) == set(COMPETITORS)
        for name, res in row["competitors"].items():
            assert res["kind"] in {"generic", "structure-aware"}
            assert set(res["outputs"]) == set(row["outputs"])
            for output, out in res["outputs"].items():
                assert out["status"] in STATUSES, (name, output, out)
                if out["status"] == "ok":
                    assert _positive(out["time_s"]) and _positive(out["ratio"])
                    assert out["time_s"] >= out["solve_s"] > 0 and out["post_s"] >= 0
                    assert out["rel_error"] <= report["target_rel_error"]
                    assert out["tol"] in report["settings"]["rtol_ladder"]
                else:
                    assert out["ratio"] is None  # marked by its status instead
                if out["status"] == "timeout" and not out.get("inferred"):
                    assert _positive(out["ratio_at_least"])
            for rung in res["rungs"]:
                assert "rtol" in rung
        structured = {"spectral": "spectral-ODE", "lowrank": "reduced-ODE"}.get(row["structure"])
        for name in ("spectral-ODE", "reduced-ODE"):
            statuses = {o["status"] for o in row["competitors"][name]["outputs"].values()}
            assert (statuses == {"n/a"}) is (name != structured)


@pytest.mark.slow
def test_quick_missing_competitors_are_marked(quick_run: tuple[dict, str]) -> None:
    report, _ = quick_run
    for name, pkgs in OPTIONAL.items():
        missing = any(importlib.util.find_spec(p) is None for p in pkgs)
        statuses = {
            o["status"]
            for row in report["cases"]
            for o in row["competitors"][name]["outputs"].values()
        }
        if missing:
            assert statuses == {"not installed"}
        else:
            assert "not installed" not in statuses


@pytest.mark.slow
def test_quick_checks_scaling_targets_and_tables(quick_run: tuple[dict, str]) -> None:
    report, stdout = quick_run
    for chk in report["mpmath"]:
        assert set(chk["errors"]) == OUTPUTS
        assert all(e < 1e-12 for e in chk["errors"].values()), chk
    threads = report["threads"]
    assert threads["threads"] == [1, 2]
    for res in threads["outputs"].values():
        assert _positive(res["speedup"]["2"])
    rows = report["t_scaling"]["rows"]
    assert [r["T"] for r in rows] == report["t_scaling"]["T_values"]
    for r in rows:
        for output in ("eigvals", "diag"):
            assert _positive(r[output]["us_per_point"]) and r[output]["peak_mb"] > 0
    names = {t["target"] for t in report["targets"]}
    assert {"eigvals_vs_diag", "dense_vs_floor", "linear_in_T", "threads"} <= names
    for t in report["targets"]:
        assert t["met"] in (True, False, None)
    lines = stdout.splitlines()
    for name in ("mfflow", "floor", "DOP853", "RK45", "Dopri8", "dopri5", "struct-ODE"):
        assert name in lines[0]
    assert "ratio = competitor time / mfflow time" in stdout
    assert "| case | mfflow | x floor |" in stdout  # --markdown


def test_not_installed_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import competitors
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert not competitors.installed("diffrax-Dopri8")
    assert not competitors.installed("torchdiffeq-dopri5")
    assert competitors.installed("scipy-DOP853")  # needs nothing optional


def test_from_json_reprints_a_saved_run(tmp_path: Path) -> None:
    """``--from-json`` re-prints the table and the README markdown of a saved run."""
    saved = {
        "target_rel_error": 1e-10,
        "machine": {"load_average_start": [0.1, 0.1, 0.1], "load_average_end": [0.2, 0.2, 0.2]},
        "elapsed_s": 1.0,
        "cases": [],
        "targets": [],
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(saved))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--from-json", str(path), "--markdown"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| case | mfflow | x floor |" in proc.stdout
