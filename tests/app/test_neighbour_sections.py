"""The issue-14 sections of ``mfflow reproduce --quick`` (weight_decay, mixed, noisy): their
tables are the results file's numbers, the closed forms agree with independent computations
at stated tolerances, and the story each text tells holds on the values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy.integrate import solve_ivp

import mfflow
from mfflow.app.io import load_results
from mfflow.app.report.document import fmt
from mfflow.app.report.sections import by_name

# one worker runs every test that reads the session's quick reproduce (a single run)
pytestmark = pytest.mark.xdist_group("reproduce")

NAMES = ("weight_decay", "mixed", "noisy")


@pytest.fixture(scope="module")
def tree(reproduced: Path) -> xr.DataTree:
    return load_results(reproduced / "results.nc")


def group(tree: xr.DataTree, name: str) -> xr.Dataset:
    return tree[name].to_dataset()


def rows_of(tree: xr.DataTree, name: str, index: int) -> tuple[list[str], list[list[str]]]:
    table = by_name()[name].tables(group(tree, name))[index]
    return table.header, table.rows


@pytest.mark.parametrize("name", NAMES)
def test_tables_are_in_the_report(reproduced: Path, tree: xr.DataTree, name: str) -> None:
    md = (reproduced / "report.md").read_text()
    for table in by_name()[name].tables(group(tree, name)):
        assert f"*{table.caption}*" in md
        for row in table.rows:
            assert "| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" in md


# ---- weight decay -------------------------------------------------------------------------------


def test_weight_decay_tables_are_the_results_numbers(tree: xr.DataTree) -> None:
    ds = group(tree, "weight_decay")
    _, rows = rows_of(tree, "weight_decay", 0)
    assert len(rows) == ds.sizes["gamma"] * ds.sizes["mode"]
    for g, i, s, soft, lim, pred, meas in rows:
        sel = {"gamma": float(g), "mode": int(i)}
        assert s == fmt(ds["spectrum"].sel(mode=int(i)))
        assert soft == fmt(max(float(s) - float(g), 0.0))
        assert lim == fmt(ds["limit_at_gamma"].sel(sel))
        assert pred == fmt(ds["t_predicted"].sel(sel))
        assert meas == fmt(ds["t_measured"].sel(sel))
    _, checks = rows_of(tree, "weight_decay", 1)
    assert checks[0][1] == fmt(ds["sim_error_sym"])
    assert checks[1][1] == fmt(ds["sim_error_asym"])


def test_weight_decay_closed_form_matches_the_ode_and_soft_threshold(tree: xr.DataTree) -> None:
    ds = group(tree, "weight_decay")
    # independent: solve_ivp of the WeightDecay model at rtol 1e-11 (U U^T and balanced U V^T)
    assert float(ds["sim_error_sym"]) < 1e-9
    assert float(ds["sim_error_asym"]) < 1e-9
    # the limit is the soft threshold (sigma_i - gamma)_+, to rounding
    assert float(np.max(np.abs(ds["limit"] - ds["soft_threshold"]))) < 1e-10
    g = float(ds["sim_gamma"])
    soft = np.maximum(ds["spectrum"].values - g, 0.0)
    np.testing.assert_allclose(ds["asym_limit"].values, soft, rtol=0, atol=1e-10)


def test_weight_decay_story(tree: xr.DataTree) -> None:
    ds = group(tree, "weight_decay")
    sigma = ds["spectrum"].values
    for g in ds["gamma"].values:
        never = sigma <= g
        pred = ds["t_predicted"].sel(gamma=g).values
        # modes with sigma_i <= gamma are never learned: no predicted or measured time, W -> 0
        assert np.all(np.isnan(pred[never]))
        assert np.all(np.isnan(ds["t_measured"].sel(gamma=g).values[never]))
        assert np.all(np.abs(ds["limit_at_gamma"].sel(gamma=g).values[never]) < 1e-10)
        # the others at log(1/alpha) / (2 (sigma_i - gamma)), to leading order
        expect = math.log(1 / float(ds["alpha"])) / (2 * (sigma[~never] - g))
        np.testing.assert_allclose(pred[~never], expect, rtol=1e-12)
        meas = ds["t_measured"].sel(gamma=g).values[~never]
        assert np.all(np.abs(meas / pred[~never] - 1) < 0.1)
    # weight decay delays every learned mode
    t0 = ds["t_measured"].sel(gamma=0.0).values
    for g in ds["gamma"].values[1:]:
        tg = ds["t_measured"].sel(gamma=g).values
        ok = ~np.isnan(tg)
        assert np.all(tg[ok] > t0[ok])
    # the phase picture follows log(1/alpha) <= 2 T mu - log mu on nearly every cell
    assert float(np.mean(ds["learned"].values == ds["learned_predicted"].values)) > 0.95


# ---- mixed dynamics -----------------------------------------------------------------------------


def _gaps(ds: xr.Dataset) -> dict[str, float]:
    return {
        name: float(np.max(np.abs(ds[f"euler_{name}"] / ds[name] - 1)))
        for name in ("test_error", "stable_rank", "iterations")
    }


def test_mixed_tables_are_the_results_numbers(tree: xr.DataTree) -> None:
    ds = group(tree, "mixed")
    gaps = _gaps(ds)
    _, rows = rows_of(tree, "mixed", 0)
    for row, name in zip(rows, ("test_error", "stable_rank", "iterations"), strict=True):
        assert row[1:] == [
            fmt(float(ds[name].min())),
            fmt(float(ds[name].max())),
            fmt(gaps[name]),
        ]
    _, rows = rows_of(tree, "mixed", 1)
    for (j, step, gap), jj, gg in zip(
        rows, ds["refinement"].values, ds["cell_euler_gap"].values, strict=True
    ):
        assert (j, step, gap) == (str(int(jj)), fmt(float(ds["cell_eta"]) / jj), fmt(gg))


def test_mixed_closed_form_matches_dop853_and_euler(tree: xr.DataTree) -> None:
    ds = group(tree, "mixed")
    d, k = int(ds["d"]), int(ds["k"])
    cfg = by_name()["mixed"].default_config(quick=True)
    task = mfflow.mixed_task(d, k, seed=cfg.seed)
    G0 = np.random.default_rng(cfg.init_seed).standard_normal((d, d))
    c, scale = float(ds["cell_c"]), float(ds["cell_scale"])
    traj = mfflow.mixed_dynamics(task.Y, scale * G0, c)
    t_h = float(ds["cell_t_h"])
    sol = solve_ivp(
        lambda _t, b: mfflow.mixed_rhs(task.Y, b.reshape(d, d), c).ravel(),
        (0.0, t_h),
        (scale * G0).ravel(),
        method="DOP853",
        rtol=1e-12,
        atol=1e-12,
    )
    ref = sol.y[:, -1].reshape(d, d)
    # independent: DOP853 on their equation, stated tolerance 1e-8 relative
    assert np.linalg.norm(traj.W(t_h) - ref) / np.linalg.norm(ref) < 1e-8
    # the curve in the file is the closed form's test error
    curve = mfflow.signal_error(traj, task, ds["time"].values) ** 2 / (d * d)
    np.testing.assert_allclose(ds["cell_curve"].values, curve, rtol=1e-10)
    # their Euler scheme converges to it at first order in the step
    gap = ds["cell_euler_gap"].values
    ref_j = ds["refinement"].values
    order = np.polyfit(np.log(1.0 / ref_j), np.log(gap), 1)[0]
    assert 0.9 < order < 1.1
    assert gap[-1] < 1.2 * gap[0] / ref_j[-1]


def test_mixed_story(tree: xr.DataTree) -> None:
    ds = group(tree, "mixed")
    gaps = _gaps(ds)
    # their Euler scheme at their step reproduces the exact phase picture
    assert gaps["test_error"] < 0.01
    assert gaps["stable_rank"] < 0.02
    assert gaps["iterations"] < 0.1
    # no cell's optimum is cut by the scan's horizon
    assert not np.any(ds["at_horizon"].values)
    # active (small c) beats lazy (c > d): lower test error, lower stable rank
    lazy = ds["c"] > int(ds["d"])
    assert 0 < int(lazy.sum()) < lazy.size
    te, sr = ds["test_error"], ds["stable_rank"]
    assert float(te.where(lazy).mean()) > float(te.where(~lazy).mean())
    assert float(sr.where(lazy).mean()) > float(sr.where(~lazy).mean())
    # the best cell is the most active corner of the grid
    best = te.where(te == te.min(), drop=True)
    assert float(best["gamma_sigma2"][0]) == float(ds["gamma_sigma2"].min())


# ---- noisy target -------------------------------------------------------------------------------


def test_noisy_tables_are_the_results_numbers(tree: xr.DataTree) -> None:
    ds = group(tree, "noisy")
    _, rows = rows_of(tree, "noisy", 0)
    for (a, ts, tp, e), alpha in zip(rows, ds["alpha"].values, strict=True):
        sel = {"alpha": alpha}
        assert (a, ts, tp, e) == (
            fmt(alpha),
            fmt(ds["t_star"].sel(sel)),
            fmt(ds["t_star_predicted"].sel(sel)),
            fmt(ds["error_star"].sel(sel)),
        )
    _, rows = rows_of(tree, "noisy", 1)
    for row, s in zip(rows, ds["level"].values, strict=True):
        assert row == [
            fmt(s),
            fmt(float(ds["stop_error"].sel(level=s).mean())),
            fmt(float(ds["stop_predicted"].sel(level=s))),
            fmt(float(ds["trunc_error"].sel(level=s).mean())),
            fmt(float(ds["trunc_predicted"].sel(level=s))),
        ]
    _, rows = rows_of(tree, "noisy", 2)
    for row, i in zip(rows, ds["spike"].values, strict=True):
        assert row[2] == fmt(ds["outliers"].sel(spike=i))
        assert row[3] == fmt(ds["outliers_predicted"].sel(spike=i))


def test_noisy_exact_error_matches_the_ode_and_a_fine_grid(tree: xr.DataTree) -> None:
    ds = group(tree, "noisy")
    # independent: solve_ivp of the flow (n = ode_n, rtol 1e-11), on ||W(t) - Y*||_F
    assert float(ds["ode_gap"]) < 1e-9
    # the refined optimum is below every sampled point of its curve (a fine grid)
    for curve, e in ((ds["curve"], ds["error_star"]), (ds["noise_curve"], ds["noise_error_star"])):
        assert np.all(e.values <= curve.min("time").values + 1e-12)
        assert np.all(e.values > curve.min("time").values - 0.02)


def test_noisy_story(tree: xr.DataTree) -> None:
    ds = group(tree, "noisy")
    n = int(ds["n"])
    stated = 2.0 / math.sqrt(n)  # the prediction's stated finite-n error (noisy/spiked.py)
    # early stopping beats the best truncated SVD at every noise level
    assert np.all(ds["stop_error"].mean("seed") < ds["trunc_error"].mean("seed"))
    # the spiked-model predictions hold within their finite-n error
    assert float(np.max(np.abs(ds["stop_error"].mean("seed") / ds["stop_predicted"] - 1))) < stated
    assert float(np.max(np.abs(ds["trunc_error"].mean("seed") / ds["trunc_predicted"] - 1))) < (
        stated
    )
    det = ds["theta"] > ds["threshold"]
    dev = np.abs(ds["outliers"] / ds["outliers_predicted"] - 1)
    assert float(dev.where(det).max()) < stated
    small = ds["time_alpha"].values <= float(ds["curve_alpha"])
    assert np.all(np.abs(ds["time_alpha_t"] / ds["time_alpha_pred"] - 1).values[small] < stated)
    # smaller alpha: later optimum; the optimum error tends to the alpha -> 0 prediction
    assert np.all(np.diff(ds["t_star"].values) > 0)
    assert abs(float(ds["error_star"][-1]) / float(ds["stop_predicted_s1"]) - 1) < stated
    # more noise: a worse optimum, found earlier
    assert np.all(np.diff(ds["noise_error_star"].values) > 0)
    assert np.all(np.diff(ds["noise_t_star"].values) < 0)
