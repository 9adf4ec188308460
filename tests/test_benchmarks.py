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
COMPETITORS = ["scipy-DOP853", "scipy-RK45", "diffrax-Dopri8", "torchdiffeq-dopri5", "gd"]
STATUSES = {"ok", "unable", "timeout", "not installed", "skipped", "error"}
OPTIONAL = {"diffrax-Dopri8": ("jax", "diffrax"), "torchdiffeq-dopri5": ("torch", "torchdiffeq")}


def _positive(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--threads", "1", "--json", str(out)],
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
    for key in ("schema", "mode", "target_rel_error", "settings", "machine", "cases", "large"):
        assert key in report, key
    assert report["mode"] == "quick"
    assert report["competitors"] == COMPETITORS
    machine = report["machine"]
    assert isinstance(machine["cpu_count"], int) and machine["cpu_count"] >= 1
    for pkg in ("numpy", "scipy", "mfflow"):
        assert isinstance(machine["versions"][pkg], str)
    assert "blas" in machine
    assert _positive(report["elapsed_s"])


@pytest.mark.slow
def test_quick_cases(quick_run: tuple[dict, str]) -> None:
    report, _ = quick_run
    rows = report["cases"]
    assert {r["n"] for r in rows} == {10, 50}
    assert {r["structure"] for r in rows} == {"dense", "spectral", "lowrank"}
    for row in rows:
        assert isinstance(row["name"], str) and row["T"] == 200
        mf = row["mfflow"]
        assert mf["status"] in {"ok", "projected"}
        assert _positive(mf["time_s"]) and mf["peak_mb"] >= 0
        assert mf["path"] in {"spectral", "dense"}
        if row["structure"] == "spectral":
            assert mf["path"] == "spectral"
        if row["structure"] == "lowrank":
            assert mf["reduced"] is True
        if row["structure"] == "dense":
            assert _positive(mf["fraction_of_machine"])
            assert _positive(mf["machine"]["gflops_per_s"])
        if row["n"] <= 10:
            assert isinstance(mf["mpmath_rel_error"], float)
        assert set(row["competitors"]) == set(COMPETITORS)
        for name, res in row["competitors"].items():
            assert res["status"] in STATUSES, (name, res)
            if res["status"] == "ok":
                assert _positive(res["time_s"]) and _positive(res["ratio"])
                assert res["rel_error"] <= report["target_rel_error"]
            else:
                assert res["ratio"] is None  # marked by its status instead
            if res["status"] == "timeout" and not res.get("inferred"):
                assert _positive(res["ratio_at_least"])


@pytest.mark.slow
def test_quick_missing_competitors_are_marked(quick_run: tuple[dict, str]) -> None:
    report, _ = quick_run
    for name, pkgs in OPTIONAL.items():
        missing = any(importlib.util.find_spec(p) is None for p in pkgs)
        statuses = {row["competitors"][name]["status"] for row in report["cases"]}
        if missing:
            assert statuses == {"not installed"}
        else:
            assert "not installed" not in statuses


@pytest.mark.slow
def test_quick_large_case_and_table(quick_run: tuple[dict, str]) -> None:
    report, stdout = quick_run
    large = report["large"]
    assert large["status"] == "ok", large
    assert _positive(large["time_s"]) and _positive(large["peak_rss_mb"])
    assert large["path"] == "dense" and large["dim"] <= large["K"] + large["r"]
    assert "ratio = competitor time / mfflow time" in stdout
    for name in ("DOP853", "RK45", "diffrax", "torchdiffeq", "GD"):
        assert name in stdout.splitlines()[0]


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
