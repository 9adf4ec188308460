"""The report sections on two-layer linear networks (``lazy_rich``, ``continual``): registered,
computed in quick mode, every stored number recomputed here from the core library, every
variable named, the figure drawn from the saved file."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
import xarray as xr
from matplotlib import image as mpimg
from matplotlib.figure import Figure

import mfflow
from mfflow.app.io import load_results, save_results
from mfflow.app.plotting import DPI, STYLE
from mfflow.app.report.document import fmt
from mfflow.app.report.sections import SECTIONS, by_name
from mfflow.app.report.sections import continual as continual_section
from mfflow.app.report.sections import lazy_rich as lazy_rich_section


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, xr.Dataset]:
    """Each section computed in quick mode, written to netCDF and read back."""
    folder = tmp_path_factory.mktemp("network-sections")
    out = {}
    for name in ("lazy_rich", "continual"):
        section = by_name()[name]
        ds = section.compute(None, section.default_config(quick=True))
        save_results(ds, folder / f"{name}.nc")
        out[name] = load_results(folder / f"{name}.nc").to_dataset()
    return out


def test_sections_are_registered_after_the_paper() -> None:
    names = [s.name for s in SECTIONS]
    # after the paper's story (which ends with sensing), the network sections in reading order
    assert names.index("sensing") < names.index("lazy_rich") < names.index("continual")
    assert names[-1] == "continual"
    for name in ("lazy_rich", "continual"):
        quick = by_name()[name].default_config(quick=True)
        assert quick != by_name()[name].default_config()


def test_every_variable_is_named_with_units(saved: dict[str, xr.Dataset]) -> None:
    for name, ds in saved.items():
        for var in [*ds.data_vars, *ds.coords]:
            attrs = ds[var].attrs
            assert "long_name" in attrs, (name, var)
            if np.issubdtype(ds[var].dtype, np.number):
                assert attrs.get("units"), (name, var)


def test_lazy_rich_matches_the_core(saved: dict[str, xr.Dataset]) -> None:
    ds = saved["lazy_rich"]
    cfg = lazy_rich_section.Config(**lazy_rich_section.SECTION.quick)
    X = mfflow.whitened_inputs(cfg.d_in, cfg.P, seed=cfg.data_seed)
    Y = mfflow.teacher_task(X, cfg.d_out, list(cfg.spectrum), seed=cfg.task_seed)
    lams, scales = lazy_rich_section.grid(cfg)
    np.testing.assert_array_equal(ds["lam"].values, lams)
    np.testing.assert_array_equal(ds["scale"].values, scales)
    checks = lazy_rich_section.on_grid(cfg.checks, lams, scales)
    np.testing.assert_array_equal(ds["check_lam"].values, [c[0] for c in checks])
    np.testing.assert_array_equal(ds["check_scale"].values, [c[1] for c in checks])
    assert all(c[0] in lams and c[1] in scales for c in checks)  # the circles sit on cells
    for lam, s in [(0.0, scales[0]), (lams[-1], scales[0]), (lams[0], scales[-1])]:
        cell = mfflow.lazy_rich_cell(X, Y, lam, s, h=cfg.h, seed=cfg.init_seed, tol=cfg.tol)
        got = ds.sel(lam=lam, scale=s)
        for name in lazy_rich_section.FIELDS:
            assert float(got[name]) == pytest.approx(getattr(cell, name), rel=1e-12, abs=1e-15)
    # the story the text tells: rich moves the NTK, lambda >> 0 keeps it (lazy) and learns fast
    rich = ds.sel(lam=0.0, scale=scales[0])
    lazy = ds.sel(lam=lams[-1], scale=scales[0])
    neg = ds.sel(lam=lams[0], scale=scales[0])
    big = ds.sel(lam=0.0, scale=scales[-1])
    assert float(rich["kernel_distance"]) > 100 * float(lazy["kernel_distance"])
    assert float(rich["time_to_learn"]) > 10 * float(lazy["time_to_learn"])
    assert float(rich["alignment_final"]) > 2 * float(rich["alignment_init"])
    assert float(rich["alignment_final"]) > float(lazy["alignment_final"])
    assert float(rich["representation_distance"]) > 0.3  # small balanced init: features learned
    # a large first layer (lambda << 0) moves its representation less, but the NTK still moves
    assert float(neg["representation_distance"]) < 0.5 * float(rich["representation_distance"])
    assert float(neg["kernel_distance"]) > 10 * float(lazy["kernel_distance"])
    # lambda = 0: a large scale learns faster but is not lazy with these inits (the text says so)
    assert float(big["time_to_learn"]) < 0.1 * float(rich["time_to_learn"])
    assert float(big["kernel_distance"]) > 0.5 * float(rich["kernel_distance"])
    # the kernel moves less the larger lambda > 0 at small scale (monotone along the column)
    kd_pos = ds["kernel_distance"].sel(lam=lams[lams >= 0], scale=scales[0]).values
    assert np.all(np.diff(kd_pos) < 0)
    # descent confirms the exact cells at the same horizon, to first order in eta
    kd = ds["check_kernel_distance"].values
    tt = ds["check_time_to_learn"].values
    assert np.all(np.abs(kd[:, 1] - kd[:, 0]) < 1e-3)
    assert np.all(np.abs(tt[:, 1] - tt[:, 0]) / tt[:, 0] < 50 * float(ds["check_eta"]))


def test_continual_matches_the_core(saved: dict[str, xr.Dataset]) -> None:
    ds = saved["continual"]
    cfg = continual_section.Config(**continual_section.SECTION.quick)
    X = mfflow.whitened_inputs(cfg.d_in, cfg.P, seed=cfg.data_seed)
    A, B = (mfflow.teacher_task(X, cfg.d_out, list(cfg.spectrum), seed=s) for s in (1, 2))
    t = ds["time"].values
    for i, (lam, s) in enumerate(cfg.inits):
        W1, W2 = mfflow.lambda_balanced_weights(cfg.d_in, cfg.h, cfg.d_out, lam, s, cfg.init_seed)
        run = mfflow.continual_learning(X, [A, B, A], W1, W2, cfg.switches, t)
        np.testing.assert_allclose(ds["task_loss"].values[i], run.task_losses[:, :2], rtol=1e-12)
        np.testing.assert_allclose(ds["forgetting"].values[i], run.forgetting, rtol=1e-12)
        np.testing.assert_allclose(ds["drift"].values[i], run.drift, rtol=1e-12, atol=1e-15)
    # converged forgetting is fixed by the tasks: 1/2 ||S_A - S_B||^2 (noise-free, h >= rank)
    SA, SB = A @ X.T / cfg.P, B @ X.T / cfg.P
    pred = 0.5 * np.sum((SA - SB) ** 2)
    np.testing.assert_allclose(ds["predicted_forgetting"].values, pred, rtol=1e-12)
    # the last phase ends at t = inf, exactly: there every init forgets as predicted
    np.testing.assert_allclose(ds["forgetting"].values[:, -1], pred, rtol=1e-4)
    assert np.all(ds["peak_loss"].values >= ds["forgetting"].values - 1e-12)


@pytest.mark.parametrize("name", ["lazy_rich", "continual"])
def test_figure_is_drawn_from_the_file(
    saved: dict[str, xr.Dataset], name: str, tmp_path: Path
) -> None:
    section = by_name()[name]
    with mpl.rc_context(STYLE):
        fig = section.figure(saved[name])
        assert isinstance(fig, Figure)
        fig.savefig(tmp_path / f"{name}.png", dpi=DPI)
    img = mpimg.imread(tmp_path / f"{name}.png")
    w, h = section.figsize
    assert img.shape[:2] == (round(h * DPI), round(w * DPI))
    assert float(np.var(img[..., :3])) > 1e-3
    tables = section.tables(saved[name])
    assert tables and all(len(r) == len(t.header) for t in tables for r in t.rows)
    text = " ".join(section.text(saved[name]))
    assert "nan" not in text.lower()


def _ntk_quantities(X: np.ndarray, Y: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> tuple:
    """The NTK from its definition (index p * d_out + o) and the hidden similarity."""
    d_out = Y.shape[0]
    K = np.kron(X.T @ W1.T @ W1 @ X, np.eye(d_out)) + np.kron(X.T @ X, W2 @ W2.T)
    H = X.T @ W1.T @ W1 @ X
    return K, H


def _cos_distance(a: np.ndarray, b: np.ndarray) -> float:
    return 1.0 - float(np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_lazy_rich_checks_against_an_ode_on_the_weights(saved: dict[str, xr.Dataset]) -> None:
    """The exact cells of the GD checks, recomputed by an ODE solve on (W1, W2) at the same
    horizon with the NTK, the hidden similarity and the alignment from their definitions."""
    ds = saved["lazy_rich"]
    cfg = lazy_rich_section.Config(**lazy_rich_section.SECTION.quick)
    X = mfflow.whitened_inputs(cfg.d_in, cfg.P, seed=cfg.data_seed)
    Y = mfflow.teacher_task(X, cfg.d_out, list(cfg.spectrum), seed=cfg.task_seed)
    y = Y.T.reshape(-1)
    for c in range(ds.sizes["check"]):
        lam, s = float(ds["check_lam"][c]), float(ds["check_scale"][c])
        hz = float(ds["check_horizon"][c])
        W1, W2 = mfflow.lambda_balanced_weights(cfg.d_in, cfg.h, cfg.d_out, lam, s, cfg.init_seed)
        sim = mfflow.simulate_linear_network(X, Y, W1, W2, [0.0, hz], rtol=1e-12, atol=1e-14)
        K0, H0 = _ntk_quantities(X, Y, sim.W1[0], sim.W2[0])
        K1, H1 = _ntk_quantities(X, Y, sim.W1[-1], sim.W2[-1])
        exact = ds["check_kernel_distance"].values[c, 0]
        assert _cos_distance(K0, K1) == pytest.approx(exact, rel=1e-7, abs=1e-12)
        exact = ds["check_representation_distance"].values[c, 0]
        assert _cos_distance(H0, H1) == pytest.approx(exact, rel=1e-7, abs=1e-12)
        align = float(y @ K1 @ y / (np.linalg.norm(K1) * (y @ y)))
        assert align == pytest.approx(ds["check_alignment_final"].values[c, 0], rel=1e-8)


def test_continual_against_an_ode_through_the_switches(saved: dict[str, xr.Dataset]) -> None:
    """Task losses and forgetting against an ODE on (W1, W2), restarted at each switch from
    the previous phase's end weights."""
    ds = saved["continual"]
    cfg = continual_section.Config(**continual_section.SECTION.quick)
    X = mfflow.whitened_inputs(cfg.d_in, cfg.P, seed=cfg.data_seed)
    A, B = (mfflow.teacher_task(X, cfg.d_out, list(cfg.spectrum), seed=s) for s in (1, 2))
    ys = [A, B, A]
    t = ds["time"].values
    edges = [0.0, *cfg.switches, float(t[-1])]
    for i in (0, 2):  # lambda = 0 and lambda < 0 (the slowest to converge)
        lam, s = cfg.inits[i]
        W1, W2 = mfflow.lambda_balanced_weights(cfg.d_in, cfg.h, cfg.d_out, lam, s, cfg.init_seed)
        ends = []
        for k, y in enumerate(ys):
            sel = (t >= edges[k]) & (t <= edges[k + 1])
            tk = np.unique(np.concatenate([t[sel] - edges[k], [edges[k + 1] - edges[k]]]))
            sim = mfflow.simulate_linear_network(X, y, W1, W2, tk, rtol=1e-11)
            losses = [0.5 * np.sum((z - sim.W @ X) ** 2, axis=(1, 2)) / cfg.P for z in (A, B)]
            got = ds["task_loss"].values[i][sel]
            on = np.isin(tk, t[sel] - edges[k])
            for j in range(2):
                np.testing.assert_allclose(got[:, j], losses[j][on], rtol=1e-7, atol=1e-12)
            ends.append([float(v[-1]) for v in losses])
            W1, W2 = sim.W1[-1], sim.W2[-1]
        # forgetting of A during B: both ends are finite times
        ode = ends[1][0] - ends[0][0]
        assert float(ds["forgetting"].values[i, 0]) == pytest.approx(ode, rel=1e-8)


def test_the_tables_show_the_results_file(saved: dict[str, xr.Dataset]) -> None:
    ds = saved["lazy_rich"]
    regimes, checks = lazy_rich_section.tables(ds)
    for row, (_, lam, s) in zip(regimes.rows, lazy_rich_section.corners(ds), strict=True):
        sel = ds.sel(lam=lam, scale=s)
        names = ["kernel_distance", "representation_distance", "alignment_init"]
        names += ["alignment_final", "time_to_learn"]
        assert row[1:] == [fmt(lam), fmt(s)] + [fmt(sel[n]) for n in names]
    for row, c in zip(checks.rows, range(ds.sizes["check"]), strict=True):
        sel = ds.isel(check=c)
        want = [fmt(sel["check_lam"]), fmt(sel["check_scale"]), fmt(sel["check_horizon"])]
        for n in ("kernel_distance", "alignment_final", "time_to_learn"):
            want += [fmt(v) for v in sel[f"check_{n}"].values]
        assert row[1:10] == want
    ds = saved["continual"]
    forgetting, speed = continual_section.tables(ds)
    rows = iter(forgetting.rows)
    for i in range(ds.sizes["init"]):
        for k in range(ds.sizes["switch"]):
            row = next(rows)
            assert row[2:4] == [
                fmt(ds["predicted_forgetting"].values[k]),
                fmt(ds["forgetting"].values[i, k]),
            ]
            assert row[5:] == [
                fmt(ds["peak_loss"].values[i, k]),
                fmt(ds["time_to_learn"].values[i, k + 1]),
                fmt(ds["drift_end"].values[i, k + 1]),
            ]
        assert speed.rows[i][1:] == [fmt(v) for v in ds["time_to_learn"].values[i]] + [
            fmt(ds["kernel_distance"].values[i, -1])
        ]


def test_continual_story(saved: dict[str, xr.Dataset]) -> None:
    """What the text claims: forgetting as predicted once converged, whatever the init; the
    lazy init (lambda >> 0) learns each new task fastest and never overshoots; the rich one
    overshoots."""
    ds = saved["continual"]
    pred = ds["predicted_forgetting"].values
    gap = np.abs(ds["forgetting"].values - pred[None, :])
    assert np.all(gap < 0.01 * pred[None, :])
    lams = ds["init_lam"].values
    lazy = int(np.argmax(lams))
    learn = ds["time_to_learn"].values[:, 1]
    assert int(np.argmin(learn)) == lazy
    conv = ds["predicted_end_loss"].values
    ptask = ds["phase_task"].values
    over = ds["peak_loss"].values - np.array(
        [conv[k + 1, ptask[k]] for k in range(ds.sizes["switch"])]
    )
    assert np.all(over[lazy] < 1e-10)
    assert over[0, 0] > 1e-3  # lambda = 0, small scale
    kd_end = ds["kernel_distance"].values[:, -1]
    assert kd_end[lazy] < 0.01 * kd_end[0]
