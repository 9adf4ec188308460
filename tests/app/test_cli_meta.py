"""The command's own surface: --version, help texts, a sweep re-run that starts no cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mfflow
from mfflow.app.cli import main


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mfflow", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
    )


def test_version() -> None:
    r = _run(["--version"])
    assert r.returncode == 0
    assert r.stdout.strip() == f"mfflow {mfflow.__version__}"


@pytest.mark.parametrize("command", [[], ["reproduce"], ["run"], ["plot"], ["sweep"]])
def test_help_has_no_type_placeholders(command: list[str]) -> None:
    r = _run([*command, "--help"])
    assert r.returncode == 0, r.stderr
    assert "<bool>" not in r.stdout
    body = r.stdout.split("\n", 1)[1]  # after the usage line ("[ARGS]..." is click's)
    assert "..." not in body  # no truncated command summaries


def test_plot_help_mentions_sweep_stores() -> None:
    assert "sweep store" in _run(["plot", "--help"]).stdout


def test_sweep_with_nothing_to_compute_starts_no_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mfflow.app.sweep import run_sweep, runner, spec_from_dict

    raw = {
        "name": "tiny",
        "measurements": ["final_error"],
        "target": {"K": 2, "n": 3},
        "init": {"alpha": 1e-4},
        "grid": {"init.seed": [0, 1]},
        "times": {"t_max": 5.0, "num": 11},
    }
    spec_path = tmp_path / "tiny.toml"
    spec_path.write_text(
        'name = "tiny"\nmeasurements = ["final_error"]\n[target]\nK = 2\nn = 3\n'
        "[init]\nalpha = 1e-4\n[times]\nt_max = 5.0\nnum = 11\n[grid]\n"
        '"init.seed" = [0, 1]\n'
    )
    store = tmp_path / "store"
    run_sweep(spec_from_dict(raw), store, sequential=True)

    def no_cluster(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Dask cluster was started with nothing to compute")

    monkeypatch.setattr(runner, "dask_client", no_cluster)
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(spec_path), "--out", str(store)])
    assert exc.value.code in (0, None)
