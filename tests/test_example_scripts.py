"""The example scripts in examples/ run and do what their docstrings say."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_fit_learning_curve_recovers_alpha_and_eta(tmp_path):
    """Gradient descent through the exact trajectory recovers the scale and the step of a noisy
    gradient-descent run: alpha within 15% (measured 7%), eta within 5% (measured 2%), and the
    fit's error at the data's noise level (measured 1.14x the noise variance)."""
    pytest.importorskip("torch")
    ex = _load("fit_learning_curve")
    Y, U0, steps, observed, noise_var = ex.observations()
    result = ex.fit(Y, U0, steps, observed)
    assert result["alpha"] == pytest.approx(ex.TRUE_ALPHA, rel=0.15)
    assert result["eta"] == pytest.approx(ex.TRUE_ETA, rel=0.05)
    assert result["losses"][-1] <= 1.3 * noise_var
    assert result["losses"][0] > 100 * noise_var  # it started far away
    ex.main(str(tmp_path))
    assert (tmp_path / "fit_learning_curve.png").stat().st_size > 10_000
