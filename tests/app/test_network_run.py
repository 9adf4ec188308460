"""``mfflow run`` of a two-layer linear network (``factorization = "linear_network"``): through
the CLI, every stored curve against :func:`mfflow.linear_network` and
:func:`mfflow.simulate_linear_network` called directly; data from a ``.npz`` file; refusals
naming the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mfflow
from mfflow.app.cli import app
from mfflow.app.config import validate
from mfflow.app.experiments import load_experiment
from mfflow.app.io import load_results

CONFIG = """
name = "net"
factorization = "linear_network"
methods = {methods}
eta = 2e-3
[target]
{target}
[init]
kind = "lambda_balanced"
lam = {lam}
alpha = {alpha}
r = 3
seed = 4
[times]
t_max = 6.0
num = 40
"""


def run(tmp_path: Path, methods: str, target: str, lam: float = 0.5, alpha: float = 1e-2):
    cfg = tmp_path / "net.toml"
    cfg.write_text(CONFIG.format(methods=methods, target=target, lam=lam, alpha=alpha))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out)])
    return result, out


@pytest.mark.parametrize("lam", [0.5, -0.5, 0.0])
def test_run_matches_the_library(tmp_path: Path, lam: float) -> None:
    target = "spectrum = [2.0, 1.0]\nn = 3\ncols = 5\nP = 15\nseed = 2"
    methods = '["closed_form", "gradient_flow", "gradient_descent"]'
    result, out = run(tmp_path, methods, target, lam=lam)
    assert result.exit_code == 0, result.output
    ds = load_results(out / "results.nc").to_dataset()
    # the data and the init are the library's, as the configuration says
    X = mfflow.whitened_inputs(5, 15, seed=2)
    Y = mfflow.teacher_task(X, 3, [2.0, 1.0], seed=2)
    W1, W2 = mfflow.lambda_balanced_weights(5, 3, 3, lam, 1e-2, 4)
    np.testing.assert_array_equal(ds["X"].values, X)
    np.testing.assert_array_equal(ds["Y"].values, Y)
    np.testing.assert_array_equal(ds["W1_0"].values, W1)
    np.testing.assert_array_equal(ds["W2_0"].values, W2)
    t = ds["time"].values
    np.testing.assert_allclose(t, np.linspace(0.0, 6.0, 40))
    net = mfflow.linear_network(X, Y, W1, W2)
    assert net.lam == pytest.approx(lam, abs=1e-12)
    for name, ref in [
        ("cf_values", net.singular_values(t)),
        ("cf_loss", net.loss(t)),
        ("cf_kernel_distance", net.kernel_distance(t)),
        ("cf_task_alignment", net.task_alignment(t)),
    ]:
        np.testing.assert_allclose(ds[name].values, ref, rtol=1e-12, atol=1e-15)
    # the ODE on (W1, W2) agrees with the closed form, and the file says so
    sim = mfflow.simulate_linear_network(X, Y, W1, W2, t)
    np.testing.assert_allclose(ds["gf_loss"].values, sim.loss, rtol=1e-12)
    assert float(ds["gf_max_error"]) < 1e-8
    np.testing.assert_allclose(ds["gf_values"].values, ds["cf_values"].values, atol=1e-8)
    # descent: its own record, close to the flow to first order in eta
    gd = ds["gd_values"].values
    ref = net.singular_values(ds["gd_time"].values)
    assert np.max(np.abs(gd - ref)) < 50 * 2e-3
    report = (out / "report.md").read_text()
    assert "two-layer linear network 5 -> 3 -> 3, P = 15" in report
    assert "1/(2P) ||Y - W2 W1 X||_F^2" in report


def test_run_reads_data_from_an_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 12))  # not whitened
    Y = rng.standard_normal((3, 12))
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    # the closed form needs whitened inputs: refused, naming the field and the way out
    result, _ = run(tmp_path, '["closed_form"]', 'file = "data.npz"')
    assert result.exit_code != 0
    assert "target.file" in result.output and "gradient_flow" in result.output
    # the simulation trains on any X
    result, out = run(tmp_path, '["gradient_flow"]', 'file = "data.npz"')
    assert result.exit_code == 0, result.output
    ds = load_results(out / "results.nc").to_dataset()
    W1, W2 = mfflow.lambda_balanced_weights(4, 3, 3, 0.5, 1e-2, 4)
    sim = mfflow.simulate_linear_network(X, Y, W1, W2, ds["time"].values)
    np.testing.assert_allclose(ds["gf_loss"].values, sim.loss, rtol=1e-12)
    # whitened data from a file: the closed form runs
    Xw = mfflow.whiten(X)
    np.savez(tmp_path / "white.npz", X=Xw, Y=Y)
    problem = load_experiment(_write(tmp_path / "w.toml", '["closed_form"]', 'file = "white.npz"'))
    assert problem.X is not None
    np.testing.assert_array_equal(problem.X, Xw)


def _write(path: Path, methods: str, target: str) -> Path:
    path.write_text(CONFIG.format(methods=methods, target=target, lam=0.5, alpha=1e-2))
    return path


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"factorization": "symmetric", "target": {"P": 10}}, "target.P"),
        ({"operator": {"kind": "gaussian", "m": 5}}, "operator.kind"),
        ({"init": {"kind": "gaussian", "alpha": 1e-2}}, "init.kind"),
        ({"init": {"kind": "lambda_balanced", "alpha": 1e-2}}, "init.lam"),
    ],
)
def test_refusals_name_the_field(change: dict, field: str) -> None:
    data = {
        "factorization": "linear_network",
        "target": {"spectrum": [1.0]},
        "init": {"kind": "lambda_balanced", "lam": 0.0, "alpha": 1e-2},
    }
    data.update(change)
    cfg, problems = validate(data)
    assert cfg is None
    assert field in [loc for loc, _ in problems], problems


def test_sizes_come_from_the_file(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", X=mfflow.whitened_inputs(3, 9), Y=np.ones((3, 9)))
    with pytest.raises(mfflow.app.errors.ConfigError, match=r"target\.P"):
        load_experiment(_write(tmp_path / "c.toml", '["closed_form"]', 'file = "d.npz"\nP = 9'))
