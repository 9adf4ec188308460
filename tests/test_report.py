"""``mfflow reproduce --quick``: every file, the results file against the library, the report.

One quick reproduce runs per module (``reproduced``); the tests read what it wrote.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from matplotlib import image as mpimg
from typer.testing import CliRunner

import mfflow
from mfflow.cli import app
from mfflow.plot import DPI, FIGSIZES, REPRODUCE_FIGURES
from mfflow.problems import rectangular_target
from mfflow.report import (
    ReproduceConfig,
    _asym_problem,
    fmt,
    load_results,
    report_tables,
)
from mfflow.theory import best_rank_k

FIGURES = list(REPRODUCE_FIGURES)


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reproduce") / "report"
    result = CliRunner().invoke(app, ["reproduce", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def ds(reproduced: Path) -> xr.Dataset:
    return load_results(reproduced / "results.nc")


def test_every_file_is_written(reproduced: Path) -> None:
    assert FIGURES == [
        "one_mode",
        "incremental",
        "general_init",
        "rank_k",
        "time_scales",
        "early_stopping",
        "gd_vs_gf",
        "asymmetric",
        "deep",
        "sensing",
    ]
    for name in FIGURES:
        for ext in ("png", "pdf"):
            assert (reproduced / "figures" / f"{name}.{ext}").stat().st_size > 1000
        assert (reproduced / "figures" / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    for name in ("report.md", "index.html", "results.nc"):
        assert (reproduced / name).stat().st_size > 1000
    # atomic writes leave no temporary files behind; each step is cached for resuming
    leftovers = [p.name for p in reproduced.rglob(".*") if p.is_file()]
    assert leftovers == []
    assert sorted(p.stem for p in (reproduced / ".cache").glob("*.nc")) == sorted(FIGURES)


@pytest.mark.parametrize("name", FIGURES)
def test_png_is_non_blank_and_of_the_expected_size(reproduced: Path, name: str) -> None:
    img = mpimg.imread(reproduced / "figures" / f"{name}.png")
    w, h = FIGSIZES[name]
    assert img.shape[:2] == (round(h * DPI), round(w * DPI))
    assert float(np.var(img[..., :3])) > 1e-3


def test_results_file_is_labelled_and_self_describing(ds: xr.Dataset) -> None:
    for dim in ("alpha", "mode", "time", "k", "alpha_sweep", "alpha_stop", "t_sim", "eta"):
        assert dim in ds.dims
    assert ds["incr_value"].dims == ("alpha", "time", "mode")
    assert ds["rank_distance"].dims == ("k", "time")
    assert ds.attrs["mfflow_version"] == mfflow.__version__
    assert ds.attrs["kind"] == "reproduce"
    cfg = ReproduceConfig.from_json(ds.attrs["config"])
    assert cfg == ReproduceConfig.quick_config()
    assert json.loads(ds.attrs["config"])["spectrum"] == [5.0, 3.0, 2.0, 1.0]


def test_results_match_the_closed_form(ds: xr.Dataset) -> None:
    """Every stored curve is recomputed here from the configuration alone."""
    cfg = ReproduceConfig.from_json(ds.attrs["config"])
    Y = mfflow.make_target(list(cfg.spectrum), n=cfg.n, seed=cfg.target_seed)
    np.testing.assert_array_equal(ds["Y"].values, Y)
    U0s = mfflow.spectral_init(Y, 1.0)
    U0g = mfflow.gaussian_init(cfg.n, cfg.init_r, seed=cfg.init_seed)
    np.testing.assert_array_equal(ds["U0_general"].values, U0g)
    t = ds["time"].values
    np.testing.assert_allclose(t, np.linspace(0.0, cfg.t_max, cfg.num_times))

    for a in ds["alpha"].values:
        ref = mfflow.closed_form(Y, U0s, float(a)).mode_values(t)
        np.testing.assert_allclose(ds["incr_value"].sel(alpha=a).values, ref, rtol=1e-12, atol=0)

    one = mfflow.closed_form(Y, U0s, cfg.one_mode_alpha).mode_values(t)[:, cfg.one_mode - 1]
    np.testing.assert_allclose(ds["one_mode_value"].values, one, rtol=1e-12, atol=0)

    tg = ds["time_general"].values
    gen = mfflow.closed_form(Y, U0g, cfg.general_alpha).eigvals(tg)
    np.testing.assert_allclose(ds["general_cf"].values, gen, rtol=1e-12, atol=1e-300)
    # the simulations agree with the closed form: flow to solver tolerance, descent to O(eta)
    assert float(ds["gf_max_error"]) < 1e-8
    assert float(ds["gd_max_error"].max()) < 0.1

    traj = mfflow.closed_form(Y, U0g, cfg.theorem_alpha)
    for k in ds["k"].values:
        ref = traj.distance(best_rank_k(Y, int(k)), t[::50])
        got = ds["rank_distance"].sel(k=k).values[::50]
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-15)

    for a in ds["alpha_stop"].values:
        tr = mfflow.closed_form(Y, U0g, float(a))
        for k in ds["k"].values:
            tk = float(ds["stop_time"].sel(alpha_stop=a, k=k))
            err = np.linalg.norm(tr.W(tk) - Y, ord=2)
            assert float(ds["stop_error"].sel(alpha_stop=a, k=k)) == pytest.approx(err, rel=1e-9)


def test_results_tell_the_story(ds: xr.Dataset) -> None:
    """The numbers show what the figures claim."""
    sig = ds["sigma_Y"].values
    # time-scale separation: slope 1/(2 sigma_i)
    np.testing.assert_allclose(ds["sweep_slope_fit"].values, 1 / (2 * sig), rtol=1e-2)
    # the theorem holds on its certified intervals at the default alpha, inside the measured ones
    assert int(ds["theorem_hypotheses_hold"]) == 1
    assert np.all(ds["rank_holds"].values == 1)
    assert np.all(ds["rank_contained"].values == 1)
    # early stopping at the smallest alpha reaches the Eckart-Young optimum
    smallest = ds["alpha_stop"].values.min()
    np.testing.assert_allclose(
        ds["stop_error"].sel(alpha_stop=smallest).values, ds["eckart_young"].values, atol=1e-3
    )
    # transitions separate as alpha shrinks: at the smallest alpha they come in order
    tm = ds["incr_t_measured"].sel(alpha=ds["alpha"].values.min()).values
    assert np.all(np.diff(tm) > 0)


def _md_tables(text: str) -> dict[str, list[list[str]]]:
    """Markdown tables keyed by their caption (the italic line above them)."""
    tables: dict[str, list[list[str]]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("*") and line.endswith("*") and i + 2 < len(lines):
            if lines[i + 2].startswith("|"):
                rows = []
                j = i + 2
                while j < len(lines) and lines[j].startswith("|"):
                    cells = re.split(r"(?<!\\)\|", lines[j].strip()[1:-1])
                    rows.append([c.strip().replace("\\|", "|") for c in cells])
                    j += 1
                tables[line.strip("*")] = [rows[0], *rows[2:]]  # header, then body
    return tables


def _num(cell: str) -> float:
    return math.nan if cell == "-" else float(cell)


def _close(cell: str, value: float) -> bool:
    return cell == fmt(value) and (
        math.isnan(value) or math.isinf(value) or _num(cell) == pytest.approx(value, rel=5e-4)
    )


def test_report_tables_are_the_results_numbers(reproduced: Path, ds: xr.Dataset) -> None:
    md = (reproduced / "report.md").read_text()
    tables = _md_tables(md)
    built = report_tables(ds)  # from the file on disk
    for table in built.values():
        assert table.caption in tables
        assert tables[table.caption] == [table.header, *table.rows]

    by_key = {key: tables[t.caption] for key, t in built.items()}
    rows = by_key["incremental"][1:]
    assert len(rows) == ds.sizes["alpha"] * ds.sizes["mode"]
    for alpha, mode, _sigma, pred, meas, _diff in rows:
        sel = {"alpha": float(alpha), "mode": int(mode)}
        assert _close(pred, float(ds["incr_t_predicted"].sel(sel, method="nearest")))
        assert _close(meas, float(ds["incr_t_measured"].sel(sel, method="nearest")))

    errors = by_key["general_init"][1:]
    assert _close(errors[0][2], float(ds["gf_max_error"]))
    for row, value in zip(errors[1:], ds["gd_max_error"].values, strict=True):
        assert _close(row[2], float(value))

    interval = re.compile(r"\[(\S+), (\S+)\]")
    header, *rows = by_key["rank_k"]
    cert_col = header.index("certified I_k")
    meas_col = header.index("measured {t: error <= eps}")
    for row, k in zip(rows, ds["k"].values, strict=True):
        lo, hi = interval.fullmatch(row[cert_col]).groups()
        assert _close(lo, float(ds["rank_cert_lo"].sel(k=k)))
        assert _close(hi, float(ds["rank_cert_hi"].sel(k=k)))
        lo, hi = interval.fullmatch(row[meas_col]).groups()
        assert _close(lo, float(ds["rank_meas_lo"].sel(k=k)))
        assert _close(hi, float(ds["rank_meas_hi"].sel(k=k)))

    for row, k in zip(by_key["time_scales"][1:], ds["k"].values, strict=True):
        assert _close(row[2], float(ds["sweep_slope_theory"].sel(k=k)))
        assert _close(row[3], float(ds["sweep_slope_fit"].sel(k=k)))

    for alpha, k, tk, err, ey, hat in by_key["early_stopping"][1:]:
        sel = {"alpha_stop": float(alpha), "k": int(k)}
        assert _close(tk, float(ds["stop_time"].sel(sel, method="nearest")))
        assert _close(err, float(ds["stop_error"].sel(sel, method="nearest")))
        assert _close(ey, float(ds["eckart_young"].sel(k=int(k))))
        assert _close(hat, float(ds["stop_error_hat"].sel(sel, method="nearest")))


def test_html_is_self_contained_and_in_story_order(reproduced: Path) -> None:
    page = (reproduced / "index.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(FIGURES)
    assert "http://" not in page and "https://" not in page
    titles = [
        "Setup",
        "One mode",
        "Incremental learning emerges",
        "General initialization",
        "Rank-k approximation",
        "Time-scale separation",
        "Low-rank approximation by early stopping",
        "Gradient descent versus the flow",
        "Asymmetric incremental learning",
        "Deep factorization (talk figure 2)",
        "Matrix sensing approaches the closed form",
        "Configuration",
    ]
    positions = [page.index(f"{t}</h2>") for t in titles]
    assert positions == sorted(positions)
    md = (reproduced / "report.md").read_text()
    for name in FIGURES:
        assert f"(figures/{name}.png)" in md
    assert '"spectrum": [' in md  # the exact configuration


def test_plot_redraws_from_the_results_file(reproduced: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["plot", str(reproduced / "results.nc"), "--out", str(tmp_path / "again")]
    )
    assert result.exit_code == 0, result.output
    for name in FIGURES:
        img = mpimg.imread(tmp_path / "again" / f"{name}.png")
        ref = mpimg.imread(reproduced / "figures" / f"{name}.png")
        assert img.shape == ref.shape
        assert (tmp_path / "again" / f"{name}.pdf").exists()


# ---- the sections beyond the paper --------------------------------------------------------------
def test_beyond_the_paper_is_labelled(ds: xr.Dataset) -> None:
    assert ds["gap"].dims == ("problem", "eta_gap")
    assert list(ds["problem"].values) == ["symmetric", "asymmetric"]
    assert ds["asym_values"].dims == ("init", "asym_time", "asym_k")
    assert ds.sizes["init"] == 3
    assert ds["deep_gd_values"].dims == ("depth", "deep_rec", "deep_sv")
    assert list(ds["depth"].values) == [2, 3, 4]
    assert ds["sense_distance"].dims == ("ratio", "seed")
    assert ds["sense_transition"].dims == ("ratio", "seed", "sense_k")


def test_gd_vs_gf_matches_the_library(ds: xr.Dataset) -> None:
    cfg = ReproduceConfig.from_json(ds.attrs["config"])
    Y = mfflow.make_target(list(cfg.spectrum), n=cfg.n, seed=cfg.target_seed)
    U0g = mfflow.gaussian_init(cfg.n, cfg.init_r, seed=cfg.init_seed)
    Ya, Ua, Va = _asym_problem(cfg)
    np.testing.assert_allclose(np.linalg.svd(Ya, compute_uv=False), cfg.spectrum, rtol=1e-12)
    etas = ds["eta_gap"].values
    fit = etas <= cfg.gap_fit_eta_max
    t = ds["gap_time"].values
    sym = mfflow.gd_flow_gap(Y, U0g, cfg.gap_alpha, etas[fit], t=t)
    np.testing.assert_allclose(ds["gap"].sel(problem="symmetric").values[fit], sym.gap, rtol=1e-12)
    assert float(ds["gap_order"].sel(problem="symmetric")) == pytest.approx(sym.order, rel=1e-12)
    asym = mfflow.gd_flow_gap(Ya, Ua, cfg.gap_alpha, etas[~fit], V0=Va, t=t)
    np.testing.assert_array_equal(ds["gap"].sel(problem="asymmetric").values[~fit], asym.gap)
    crit = mfflow.critical_step_sizes(
        Y, U0g, cfg.gap_alpha, n_scan=cfg.gap_scan, n_bisect=cfg.gap_bisect
    )
    for name in ("eta_incremental", "eta_converge", "eta_blowup", "eta_stability"):
        assert float(ds[name].sel(problem="symmetric")) == pytest.approx(getattr(crit, name))
    # the story: first order, incremental learning up to the stability limit, blow-up past it
    np.testing.assert_allclose(ds["gap_order"].values, 1.0, atol=0.1)
    np.testing.assert_allclose(ds["eta_stability"].values, 1 / cfg.spectrum[0], rtol=1e-6)
    assert np.all(ds["eta_incremental"].values <= ds["eta_converge"].values)
    assert np.all(ds["eta_converge"].values <= 1.02 * ds["eta_stability"].values)
    assert np.all(ds["eta_blowup"].values > ds["eta_stability"].values)
    assert int(ds["gap_diverged"].values[:, -1].min()) == 1  # the largest eta diverges: reported
    assert np.all(np.isinf(ds["gap"].values[ds["gap_diverged"].values == 1]))


def test_asymmetric_matches_the_library(ds: xr.Dataset) -> None:
    cfg = ReproduceConfig.from_json(ds.attrs["config"])
    Y = rectangular_target(cfg.spectrum, cfg.asym_rows, cfg.asym_cols, seed=cfg.target_seed)
    np.testing.assert_array_equal(ds["asym_Y"].values, Y)
    t = ds["asym_time"].values
    ref = mfflow.asymmetric_learning_curves(
        Y, cfg.asym_alpha, lam=cfg.asym_lam, rho=cfg.asym_rho, seed=cfg.asym_seed, t=t
    )
    assert list(ds["init"].values) == list(ref.curves)
    for label, curves in ref.curves.items():
        got = ds["asym_values"].sel(init=label).values
        np.testing.assert_allclose(got, curves, rtol=1e-9, atol=1e-12)
    # every init learns the values in order; unbalanced shifts match the linear-phase prediction
    assert np.all(np.diff(ds["asym_transition"].values, axis=1) > 0)
    np.testing.assert_allclose(
        ds["asym_study_shift"].values, ds["asym_study_predicted_shift"].values, atol=2e-2
    )


def test_deep_matches_the_library(ds: xr.Dataset) -> None:
    cfg = ReproduceConfig.from_json(ds.attrs["config"])
    spec = np.asarray(cfg.deep_spectrum)
    for L in ds["depth"].values:
        t = ds["deep_gd_time"].sel(depth=L).values
        exact = mfflow.deep_mode_curve(spec, cfg.deep_alpha, int(L), t[::25])
        np.testing.assert_allclose(
            ds["deep_exact_values"].sel(depth=L).values[::25], exact, rtol=1e-12, atol=1e-300
        )
        half = mfflow.deep_transition_time(spec, cfg.deep_alpha, int(L))
        np.testing.assert_allclose(ds["deep_exact_half"].sel(depth=L).values, half, rtol=1e-12)
    # talk figure 2: learned one by one (GD, sensing), later and sharper with depth (exact)
    assert np.all(np.diff(ds["deep_gd_half"].values, axis=1) > 0)
    assert np.all(np.diff(ds["deep_exact_half"].values[:, 0]) > 0)
    rel = ds["deep_exact_width"].values[:, 0] / ds["deep_exact_half"].values[:, 0]
    assert np.all(np.diff(rel) < 0)
    assert float(ds["deep_gd_recovery"].max()) < 0.05
    # the zero singular values of Y stay small
    assert float(ds["deep_gd_values"].values[:, -1, len(spec) :].max()) < 1e-2


def test_sensing_matches_the_library(ds: xr.Dataset) -> None:
    cfg = ReproduceConfig.from_json(ds.attrs["config"])
    n = cfg.sense_n
    Y = mfflow.make_target(list(cfg.sense_spectrum), n=n, seed=cfg.sense_target_seed)
    U0 = mfflow.gaussian_init(n, n, seed=cfg.sense_init_seed)
    t = ds["sense_time"].values
    traj = mfflow.closed_form(Y, U0, cfg.sense_alpha)
    K = len(cfg.sense_spectrum)
    np.testing.assert_allclose(
        ds["sense_cf_values"].values, traj.eigvals(t)[:, :K], rtol=1e-12, atol=1e-300
    )
    ratio = ds["ratio"].values[-1]
    m = int(ds["sense_m"].sel(ratio=ratio))
    assert m == round(ratio * n * K)
    res = mfflow.sensing_flow(
        mfflow.GaussianSensing(n, m, seed=1), Y, U0, cfg.sense_alpha, t, rtol=1e-8
    )
    d = mfflow.curve_distance(res, traj)
    assert float(ds["sense_distance"].sel(ratio=ratio, seed=1)) == pytest.approx(d.max(), rel=1e-9)
    # the distance shrinks as m grows, like m^(-1/2)
    mean = ds["sense_distance"].mean("seed").values
    assert mean[-1] < 0.5 * mean[0]
    assert -1.0 < float(ds["sense_distance_slope"]) < -0.2


def test_new_tables_are_the_results_numbers(reproduced: Path, ds: xr.Dataset) -> None:
    tables = _md_tables((reproduced / "report.md").read_text())
    built = report_tables(ds)
    header, *rows = tables[built["gd_vs_gf_critical"].caption]
    for row, prob in zip(rows, ds["problem"].values, strict=True):
        assert row[0] == prob
        assert _close(row[header.index("order")], float(ds["gap_order"].sel(problem=prob)))
        for col, name in (
            ("2 / lambda_max", "eta_stability"),
            ("incremental learning", "eta_incremental"),
            ("blows up", "eta_blowup"),
        ):
            assert _close(row[header.index(col)], float(ds[name].sel(problem=prob)))
    header, *rows = tables[built["deep"].caption]
    for row in rows:
        sel = {"depth": int(row[0]), "deep_k": int(row[1])}
        assert _close(row[3], float(ds["deep_exact_half"].sel(sel)))
        assert _close(row[6], float(ds["deep_gd_half"].sel(sel)))
    header, *rows = tables[built["sensing"].caption]
    for row, ratio in zip(rows, ds["ratio"].values, strict=False):
        assert _close(row[0], float(ratio))
        assert _close(row[2], float(ds["sense_distance"].sel(ratio=ratio).mean()))
    header, *rows = tables[built["asymmetric"].caption]
    for row, init in zip(rows, ds["init"].values, strict=False):
        assert row[0] == init
        for k in ds["asym_k"].values:
            assert _close(row[2 + k], float(ds["asym_transition"].sel(init=init, asym_k=k)))
