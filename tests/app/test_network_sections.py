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
    assert names[-2:] == ["lazy_rich", "continual"]
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
    for lam, s in [(0.0, scales[0]), (lams[-1], scales[0]), (lams[0], scales[-1])]:
        cell = mfflow.lazy_rich_cell(X, Y, lam, s, h=cfg.h, seed=cfg.init_seed, tol=cfg.tol)
        got = ds.sel(lam=lam, scale=s)
        for name in lazy_rich_section.FIELDS:
            assert float(got[name]) == pytest.approx(getattr(cell, name), rel=1e-12, abs=1e-15)
    # the story the text tells: rich moves the NTK, lambda >> 0 keeps it (lazy) and learns fast
    rich = ds.sel(lam=0.0, scale=scales[0])
    lazy = ds.sel(lam=lams[-1], scale=scales[0])
    assert float(rich["kernel_distance"]) > 100 * float(lazy["kernel_distance"])
    assert float(rich["time_to_learn"]) > 10 * float(lazy["time_to_learn"])
    assert float(rich["alignment_final"]) > float(rich["alignment_init"])
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
