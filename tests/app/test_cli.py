"""The ``mfflow`` command: help, ``run`` on every example config, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mfflow
from mfflow.app.cli import app
from mfflow.app.io import load_results

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.toml"))

GOOD = """
name = "t"
methods = {methods}
{head}
[target]
{target}
[init]
{init}
[times]
t_max = 8.0
num = 50
{tail}
"""


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def write_config(
    path: Path,
    target: str = "spectrum = [3.0, 1.0]",
    init: str = "",
    head: str = "",
    tail: str = "",
    methods: str = '["closed_form"]',
) -> Path:
    init = init or 'kind = "gaussian"\nr = 3\nalpha = 1e-4'
    path.write_text(GOOD.format(target=target, init=init, head=head, tail=tail, methods=methods))
    return path


def test_help_lists_the_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command, words in [
        ("reproduce", "The paper's results as figures, a report and results.nc."),
        ("run", "One experiment from a TOML configuration."),
        ("plot", "Redraw the figures of a results file or a sweep store."),
        ("sweep", "A resumable parameter sweep on Dask."),
    ]:
        assert command in result.output and words in result.output


def test_python_dash_m() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mfflow", "--help"], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0
    assert "reproduce" in out.stdout


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda p: p.stem)
def test_run_each_example(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("run", str(config), "--out", str(out))
    assert result.exit_code == 0, result.output
    tree = load_results(out / "results.nc")
    ds = tree.to_dataset()
    assert ds.attrs["kind"] == "run" and ds.attrs["mfflow_version"] == mfflow.__version__
    for name in ("report.md", "index.html", "figures/learning_curves.png"):
        assert (out / name).exists()
    # the stored closed form (or the identity operator's, for sensing) is the library's
    Y, t, alpha = ds["Y"].values, ds["time"].values, float(ds["alpha"])
    factorization = ds.attrs.get("factorization", "symmetric")
    if "cf_eigvals" in ds:
        ref = mfflow.closed_form(Y, ds["U0"].values, alpha).eigvals(t)
        np.testing.assert_allclose(ds["cf_eigvals"].values, ref, rtol=1e-12, atol=1e-300)
    elif factorization == "asymmetric" and "cf_values" in ds:
        traj = mfflow.closed_form_asymmetric(Y, ds["U0"].values, ds["V0"].values, alpha)
        ref = traj.singular_values(t)
        np.testing.assert_allclose(ds["cf_values"].values, ref, rtol=1e-9, atol=1e-12)
    elif factorization == "linear_network":
        net = mfflow.linear_network(ds["X"].values, Y, ds["W1_0"].values, ds["W2_0"].values)
        ref = net.singular_values(t)
        np.testing.assert_allclose(ds["cf_values"].values, ref, rtol=1e-12, atol=1e-300)
    elif factorization == "symmetric":
        ref = mfflow.closed_form(Y, ds["U0"].values, alpha).eigvals(t)
        np.testing.assert_allclose(ds["ref_values"].values, np.abs(ref), rtol=1e-9, atol=1e-12)
    for prefix in ("gf", "gd"):
        if f"{prefix}_recovery" in ds:  # every method learns the target
            assert float(ds[f"{prefix}_recovery"].values[-1]) < 0.1
    if "gf_max_error" in ds:
        assert float(ds["gf_max_error"]) < 1e-7
    if "theorem" in tree.children:  # the paper's setting: the theorem's check, its figure
        assert tree["theorem"].to_dataset()["distance"].dims == ("k", "time")
        assert (out / "figures" / "rank_k.png").exists()
    report = (out / "report.md").read_text()
    if "gd_max_error" in ds:
        assert f"| gradient descent | {float(ds['eta']):.4g} | " in report


def test_run_reads_a_target_file(tmp_path: Path) -> None:
    from mfflow.app.experiments import load_experiment

    np.save(tmp_path / "spec.npy", np.array([4.0, 1.0]))
    problem = load_experiment(
        write_config(tmp_path / "npy.toml", target='file = "spec.npy"\nseed = 2')
    )
    np.testing.assert_array_equal(problem.Y, mfflow.make_target([4.0, 1.0], seed=2))

    Y = mfflow.make_target([2.0, 1.0, 0.5], seed=3)
    np.savetxt(tmp_path / "Y.txt", Y)
    config = write_config(tmp_path / "txt.toml", target='file = "Y.txt"')
    result = invoke("run", str(config), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    ds = load_results(tmp_path / "o" / "results.nc").to_dataset()
    np.testing.assert_allclose(ds["Y"].values, Y, rtol=0, atol=1e-15)


DEEP_INIT = 'kind = "spectral"\nalpha = 1e-4'
FLOW = '["gradient_flow"]'

BAD = [
    (
        "unknown field",
        {"init": 'kind = "gaussian"\nalpha = 1e-4\ncolour = "red"'},
        "config field 'init.colour': unknown field",
    ),
    (
        "wrong type",
        {"init": 'kind = "gaussian"\nalpha = "small"'},
        "config field 'init.alpha': expected a number, got 'small'",
    ),
    (
        "negative alpha",
        {"init": 'kind = "gaussian"\nalpha = -1'},
        "config field 'init.alpha': expected a number > 0, got -1",
    ),
    (
        "unknown init kind",
        {"init": 'kind = "uniform"\nalpha = 1e-3'},
        "config field 'init.kind': expected 'gaussian', 'orthogonal', 'spectral', 'low_rank', "
        "'balanced' or 'lambda_balanced', got 'uniform'",
    ),
    (
        "missing target file",
        {"target": 'file = "nowhere.npy"'},
        "config field 'target.file': expected a readable .npy or .txt file, ",
    ),
    (
        "garbage target file",
        {"target": 'file = "garbage.txt"'},
        "config field 'target.file': expected a readable .npy or .txt file of numbers",
    ),
    (
        "non-symmetric target file",
        {"target": 'file = "nonsym.txt"'},
        "config field 'target.file': Y: expected a symmetric matrix",
    ),
    (
        "unknown factorization",
        {"head": 'factorization = "tensor"'},
        "config field 'factorization': expected 'symmetric', 'asymmetric', 'deep' or "
        "'linear_network'",
    ),
    (
        "depth of the wrong type",
        {"head": 'factorization = "deep"\ndepth = "three"', "init": DEEP_INIT},
        "config field 'depth': expected an integer, got 'three'",
    ),
    (
        "depth too small",
        {"head": 'factorization = "deep"\ndepth = 1', "init": DEEP_INIT},
        "config field 'depth': expected an integer >= 2, got 1",
    ),
    (
        "deep without depth",
        {"head": 'factorization = "deep"', "init": DEEP_INIT},
        "config field 'depth': factorization 'deep' needs 'depth'",
    ),
    (
        "depth without deep",
        {"head": "depth = 3"},
        "config field 'depth': only used with factorization 'deep'",
    ),
    (
        "unknown operator field",
        {"tail": '[operator]\nkind = "gaussian"\nm = 20\nnoise = 0.1', "methods": FLOW},
        "config field 'operator.noise': unknown field",
    ),
    (
        "unknown operator kind",
        {"tail": '[operator]\nkind = "fourier"'},
        "config field 'operator.kind': expected 'identity', 'gaussian' or 'completion'",
    ),
    (
        "gaussian operator without m",
        {"tail": '[operator]\nkind = "gaussian"', "methods": FLOW},
        "config field 'operator.m': kind 'gaussian' needs 'm'",
    ),
    (
        "completion fraction out of range",
        {"tail": '[operator]\nkind = "completion"\nfraction = 1.5', "methods": FLOW},
        "config field 'operator.fraction': expected a number <= 1, got 1.5",
    ),
    (
        "closed form with a gaussian operator",
        {"tail": '[operator]\nkind = "gaussian"\nm = 20'},
        "config field 'methods': 'closed_form' does not exist with a gaussian operator",
    ),
    (
        "closed form of an unbalanced asymmetric init",
        {"head": 'factorization = "asymmetric"', "init": 'kind = "gaussian"\nalpha = 1e-4'},
        "config field 'methods': 'closed_form' needs a lambda-balanced init",
    ),
    (
        "init kind of another factorization",
        {"init": 'kind = "balanced"\nalpha = 1e-4'},
        "config field 'init.kind': 'balanced' does not apply to factorization 'symmetric'",
    ),
    (
        "lambda-balanced without lam",
        {"head": 'factorization = "asymmetric"', "init": 'kind = "lambda_balanced"\nalpha = 1e-4'},
        "config field 'init.lam': kind 'lambda_balanced' needs 'lam'",
    ),
    (
        "cols for a square factorization",
        {"target": "spectrum = [3.0, 1.0]\ncols = 4"},
        "config field 'target.cols': only used with factorization 'asymmetric'",
    ),
]


@pytest.mark.parametrize(("case", "parts", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_config_is_one_red_line(
    case: str, parts: dict[str, str], message: str, tmp_path: Path
) -> None:
    (tmp_path / "garbage.txt").write_text("this is not\na matrix of numbers\n")
    (tmp_path / "nonsym.txt").write_text("1 2\n0 1\n")
    cfg = write_config(tmp_path / "bad.toml", **parts)
    result = invoke("run", str(cfg), "--out", str(tmp_path / "out"))
    assert result.exit_code != 0
    text = result.output
    assert message in text, text
    assert "Traceback" not in text
    assert len([line for line in text.splitlines() if line.strip()]) == 1, text
    assert text.startswith("error: ")
    assert not (tmp_path / "out" / "results.nc").exists()


def test_unreadable_or_invalid_config_file(tmp_path: Path) -> None:
    result = invoke("run", str(tmp_path / "missing.toml"))
    assert result.exit_code != 0
    assert "config file" in result.output and "expected a readable TOML file" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text("[init\nalpha = ")
    result = invoke("run", str(bad))
    assert result.exit_code != 0 and "not valid TOML" in result.output
    assert "Traceback" not in result.output


def test_plot_errors(tmp_path: Path) -> None:
    result = invoke("plot", str(tmp_path / "none.nc"), "--out", str(tmp_path))
    assert result.exit_code != 0 and "expected an existing netCDF file" in result.output
    junk = tmp_path / "junk.nc"
    junk.write_text("not netcdf")
    result = invoke("plot", str(junk), "--out", str(tmp_path))
    assert result.exit_code != 0 and "not a readable netCDF file" in result.output
    assert "Traceback" not in result.output


def test_subprocess_error_has_no_traceback(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", init='kind = "gaussian"\nalpha = -1')
    out = subprocess.run(
        [sys.executable, "-m", "mfflow", "run", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == ("error: config field 'init.alpha': expected a number > 0, got -1")
    assert "Traceback" not in out.stderr + out.stdout


def test_rectangular_lambda_balanced_run(tmp_path: Path) -> None:
    """A lambda-balanced 5 x 3 run: the closed form against the ODE solve, the imbalance kept."""
    cfg = write_config(
        tmp_path / "asym.toml",
        head='factorization = "asymmetric"',
        target="spectrum = [3.0, 1.0]\nn = 5\ncols = 3",
        init='kind = "lambda_balanced"\nlam = 0.5\nalpha = 1e-4',
    )
    text = cfg.read_text().replace(
        'methods = ["closed_form"]', 'methods = ["closed_form", "gradient_flow"]'
    )
    cfg.write_text(text)
    result = invoke("run", str(cfg), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    ds = load_results(tmp_path / "o" / "results.nc").to_dataset()
    assert ds["Y"].shape == (5, 3)
    U0, V0 = ds["U0"].values, ds["V0"].values
    np.testing.assert_allclose(U0.T @ U0 - V0.T @ V0, 0.5 * np.eye(3), atol=1e-12)
    assert float(ds["gf_max_error"]) < 1e-7
    np.testing.assert_allclose(
        np.linalg.svd(ds["Y"].values, compute_uv=False)[:2], [3.0, 1.0], rtol=1e-12
    )


def test_every_config_error_is_listed_at_once(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "bad.toml",
        head="depth = 3",
        init='kind = "low_rank"\nalpha = -1\ncolour = "red"',
        tail='[operator]\nkind = "fourier"',
    )
    cfg.write_text(cfg.read_text().replace('name = "t"', 'name = "a/b"'))
    result = invoke("run", str(cfg), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    expected = [
        "error: config field 'name': expected a plain name",
        "error: config field 'init.alpha': expected a number > 0, got -1",
        "error: config field 'init.colour': unknown field",
        "error: config field 'operator.kind': expected 'identity', 'gaussian' or 'completion'",
        "error: config field 'init.rank': kind 'low_rank' needs 'rank'",
        "error: config field 'depth': only used with factorization 'deep'",
    ]
    assert len(lines) == len(expected), result.output
    for want in expected:
        assert any(line.startswith(want) for line in lines), (want, result.output)
    assert "more problem" not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs", "a/b", "..", "a\\\\b", ""])
def test_unsafe_name_is_refused(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The name picks the default output folder: it must not point outside the working folder."""
    monkeypatch.chdir(tmp_path)
    cfg = write_config(tmp_path / "c.toml")
    cfg.write_text(cfg.read_text().replace('name = "t"', f'name = "{name}"'))
    result = invoke("run", str(cfg))
    assert result.exit_code == 1
    assert result.output.startswith("error: config field 'name': expected a plain name"), (
        result.output
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_default_times_reach_past_the_last_transition(tmp_path: Path) -> None:
    """Without [times], t_max is a horizon past the slowest transition; it is recorded."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("[target]\nspectrum = [3.0, 1.0]\n[init]\nalpha = 1e-6\nr = 2\n")
    result = invoke("run", str(cfg), "--out", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    tree = load_results(tmp_path / "o" / "results.nc")
    t = tree["time"].values
    tau = np.log(1e6) / (2 * 1.0)
    assert t[-1] == pytest.approx(1.5 * tau + 5.0, rel=1e-5)
    assert t.size == 400
    recorded = json.loads(tree.attrs["config"])["times"]
    assert recorded["t_max"] == pytest.approx(t[-1])
    # every mode is learned by the end
    np.testing.assert_allclose(tree["cf_eigvals"].values[-1, :2], [3.0, 1.0], rtol=1e-3)


def test_output_folder_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cfg = write_config(tmp_path / "c.toml")
    result = invoke("run", str(cfg), "--out", str(blocker / "out"))
    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot write to '{blocker / 'out'}'"), result.output
    assert len(result.output.strip().splitlines()) == 1


def test_debug_shows_the_traceback_of_a_user_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", init='kind = "gaussian"\nalpha = -1')
    out = subprocess.run(
        [sys.executable, "-m", "mfflow", "run", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "MFFLOW_DEBUG": "1"},
    )
    assert out.returncode == 1
    assert "Traceback" in out.stderr
    assert "ConfigError: config field 'init.alpha': expected a number > 0, got -1" in out.stderr


def test_a_bug_surfaces_with_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception is not turned into a one-line 'config' error."""
    import mfflow.app.experiments as experiments

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("an internal bug")

    monkeypatch.setattr(experiments, "run_experiment", broken)
    cfg = write_config(tmp_path / "c.toml")
    result = invoke("run", str(cfg), "--out", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert isinstance(result.exception, ValueError)
    assert "error:" not in result.output
