"""``mfflow reproduce --quick``: every file, the results file against the library, the report.

One quick reproduce runs per session (``reproduced``, tests/app/conftest.py); the tests read
what it wrote.
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
from mfflow.app.cli import app
from mfflow.app.io import load_results
from mfflow.app.plotting import DPI
from mfflow.app.report import ReportConfig, report_blocks
from mfflow.app.report.document import fmt
from mfflow.app.report.sections import SECTIONS
from mfflow.problems import rectangular_target
from mfflow.theory import best_rank_k

# one worker runs every test that reads the session's quick reproduce (a single run)
pytestmark = pytest.mark.xdist_group("reproduce")

FIGURES = [s.name for s in SECTIONS]
FIGSIZES = {s.name: s.figsize for s in SECTIONS}


@pytest.fixture(scope="module")
def tree(reproduced: Path) -> xr.DataTree:
    return load_results(reproduced / "results.nc")


@pytest.fixture(scope="module")
def cfg(tree: xr.DataTree) -> ReportConfig:
    return ReportConfig.from_json(tree.attrs["config"])


def group(tree: xr.DataTree, name: str) -> xr.Dataset:
    return tree[name].to_dataset()


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
        "weight_decay",
        "noisy",
        "lazy_rich",
        "mixed",
        "continual",
    ]
    for name in FIGURES:
        assert (reproduced / "figures" / f"{name}.png").stat().st_size > 1000
        # --quick draws PNGs only; the full run and `mfflow plot` add the PDFs
        assert not (reproduced / "figures" / f"{name}.pdf").exists()
    for name in ("report.md", "index.html", "results.nc"):
        assert (reproduced / name).stat().st_size > 1000
    # atomic writes leave no temporary files behind; each section is cached for resuming,
    # with a manifest holding its key and checksum
    leftovers = [p.name for p in reproduced.rglob(".*") if p.is_file()]
    assert leftovers == []
    assert sorted(p.stem for p in (reproduced / ".cache").glob("*.nc")) == sorted(FIGURES)
    assert sorted(p.stem for p in (reproduced / ".cache").glob("*.json")) == sorted(FIGURES)


@pytest.mark.parametrize("name", FIGURES)
def test_png_is_non_blank_and_of_the_expected_size(reproduced: Path, name: str) -> None:
    img = mpimg.imread(reproduced / "figures" / f"{name}.png")
    w, h = FIGSIZES[name]
    assert img.shape[:2] == (round(h * DPI), round(w * DPI))
    assert float(np.var(img[..., :3])) > 1e-3


def test_results_file_is_labelled_and_self_describing(tree: xr.DataTree, cfg: ReportConfig) -> None:
    assert list(tree.children) == ["setup", *FIGURES]
    for name, dims in [
        ("incremental", ("alpha", "mode", "time")),
        ("rank_k", ("k", "time")),
        ("time_scales", ("alpha", "k")),
        ("early_stopping", ("alpha", "k")),
        ("general_init", ("t_sim", "eta", "mode", "time")),
    ]:
        for dim in dims:
            assert dim in group(tree, name).dims, (name, dim)
    assert group(tree, "incremental")["value"].dims == ("alpha", "time", "mode")
    assert group(tree, "rank_k")["distance"].dims == ("k", "time")
    assert tree.attrs["mfflow_version"] == mfflow.__version__
    assert tree.attrs["kind"] == "reproduce"
    assert cfg == ReportConfig.default(quick=True)
    assert cfg != ReportConfig.default()
    assert json.loads(tree.attrs["config"])["setup"]["spectrum"] == [5.0, 3.0, 2.0, 1.0]
    assert set(json.loads(tree.attrs["config"])) == {"setup", *FIGURES}


def test_results_match_the_closed_form(tree: xr.DataTree, cfg: ReportConfig) -> None:
    """Every stored curve is recomputed here from the configuration alone."""
    s = cfg.setup
    Y = mfflow.make_target(list(s.spectrum), n=s.n, seed=s.target_seed)
    setup = group(tree, "setup")
    np.testing.assert_array_equal(setup["Y"].values, Y)
    U0s = mfflow.spectral_init(Y, 1.0)
    U0g = mfflow.gaussian_init(s.n, s.init_r, seed=s.init_seed)
    np.testing.assert_array_equal(setup["U0_general"].values, U0g)
    incr = group(tree, "incremental")
    t = incr["time"].values
    np.testing.assert_allclose(t, np.linspace(0.0, s.t_max, s.num_times))

    for a in incr["alpha"].values:
        ref = mfflow.closed_form(Y, U0s, float(a)).mode_values(t)
        np.testing.assert_allclose(incr["value"].sel(alpha=a).values, ref, rtol=1e-12, atol=0)

    one_cfg = cfg["one_mode"]
    one = mfflow.closed_form(Y, U0s, one_cfg.alpha).mode_values(t)[:, one_cfg.mode - 1]
    np.testing.assert_allclose(group(tree, "one_mode")["value"].values, one, rtol=1e-12, atol=0)

    gen = group(tree, "general_init")
    tg = gen["time"].values
    ref = mfflow.closed_form(Y, U0g, cfg["general_init"].alpha).eigvals(tg)
    np.testing.assert_allclose(gen["cf"].values, ref, rtol=1e-12, atol=1e-300)
    # the simulations agree with the closed form: flow to solver tolerance, descent to O(eta)
    assert float(gen["gf_max_error"]) < 1e-8
    assert float(gen["gd_max_error"].max()) < 0.1

    rank = group(tree, "rank_k")
    traj = mfflow.closed_form(Y, U0g, cfg["rank_k"].alpha)
    for k in rank["k"].values:
        ref = traj.distance(best_rank_k(Y, int(k)), t[::50])
        got = rank["distance"].sel(k=k).values[::50]
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-15)

    stop = group(tree, "early_stopping")
    for a in stop["alpha"].values:
        tr = mfflow.closed_form(Y, U0g, float(a))
        for k in stop["k"].values:
            tk = float(stop["t_stop"].sel(alpha=a, k=k))
            err = np.linalg.norm(tr.W(tk) - Y, ord=2)
            assert float(stop["error"].sel(alpha=a, k=k)) == pytest.approx(err, rel=1e-9)


def test_results_tell_the_story(tree: xr.DataTree) -> None:
    """The numbers show what the figures claim."""
    sig = group(tree, "setup")["sigma"].values
    # time-scale separation: slope 1/(2 sigma_i)
    ts = group(tree, "time_scales")
    np.testing.assert_allclose(ts["slope_fit"].values, 1 / (2 * sig), rtol=1e-2)
    # the theorem holds on its certified intervals at the default alpha, inside the measured ones
    rank = group(tree, "rank_k")
    assert int(rank["hypotheses_hold"]) == 1
    assert np.all(rank["holds"].values == 1)
    assert np.all(rank["contained"].values == 1)
    # early stopping at the smallest alpha reaches the Eckart-Young optimum
    stop = group(tree, "early_stopping")
    smallest = stop["alpha"].values.min()
    np.testing.assert_allclose(
        stop["error"].sel(alpha=smallest).values, stop["eckart_young"].values, atol=1e-3
    )
    # transitions separate as alpha shrinks: at the smallest alpha they come in order
    incr = group(tree, "incremental")
    tm = incr["t_measured"].sel(alpha=incr["alpha"].values.min()).values
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


def _section_tables(tree: xr.DataTree, md: str, name: str) -> list[list[list[str]]]:
    """The markdown tables of a section, in order (checked to be the section's own)."""
    tables = _md_tables(md)
    section = next(s for s in SECTIONS if s.name == name)
    built = section.tables(group(tree, name))
    return [tables[t.caption] for t in built]


def test_report_tables_are_the_results_numbers(reproduced: Path, tree: xr.DataTree) -> None:
    md = (reproduced / "report.md").read_text()
    tables = _md_tables(md)
    for block in report_blocks(tree):  # from the file on disk
        for table in block.tables:
            assert table.caption in tables
            assert tables[table.caption] == [table.header, *table.rows]

    incr = group(tree, "incremental")
    (rows,) = _section_tables(tree, md, "incremental")
    rows = rows[1:]
    assert len(rows) == incr.sizes["alpha"] * incr.sizes["mode"]
    for alpha, mode, sigma, pred, meas, _diff, _offset, exact in rows:
        sel = {"alpha": float(alpha), "mode": int(mode)}
        assert _close(pred, float(incr["t_predicted"].sel(sel, method="nearest")))
        assert _close(meas, float(incr["t_measured"].sel(sel, method="nearest")))
        # the exact crossing of sigma_i / 2 (spectral init): the logistic curve's own time
        a, s = float(alpha), float(sigma)
        assert _close(exact, math.log((s - a) / a) / (2 * s))

    gen = group(tree, "general_init")
    (errors,) = _section_tables(tree, md, "general_init")
    errors = errors[1:]
    assert _close(errors[0][2], float(gen["gf_max_error"]))
    for row, value in zip(errors[1:], gen["gd_max_error"].values, strict=True):
        assert _close(row[2], float(value))

    rank = group(tree, "rank_k")
    interval = re.compile(r"\[(\S+), (\S+)\]")
    header, *rows = _section_tables(tree, md, "rank_k")[1]
    cert_col = header.index("certified I_k (left end log(C_eps/alpha)/(2 sigma_k))")
    meas_col = header.index("measured {t: error <= eps}")
    for row, k in zip(rows, rank["k"].values, strict=True):
        lo, hi = interval.fullmatch(row[cert_col]).groups()
        assert _close(lo, float(rank["cert_lo"].sel(k=k)))
        assert _close(hi, float(rank["cert_hi"].sel(k=k)))
        lo, hi = interval.fullmatch(row[meas_col]).groups()
        assert _close(lo, float(rank["meas_lo"].sel(k=k)))
        assert _close(hi, float(rank["meas_hi"].sel(k=k)))

    ts = group(tree, "time_scales")
    (rows,) = _section_tables(tree, md, "time_scales")
    for row, k in zip(rows[1:], ts["k"].values, strict=True):
        assert _close(row[2], float(ts["slope_theory"].sel(k=k)))
        assert _close(row[3], float(ts["slope_fit"].sel(k=k)))

    stop = group(tree, "early_stopping")
    (rows,) = _section_tables(tree, md, "early_stopping")
    for alpha, k, tk, err, ey, hat in rows[1:]:
        sel = {"alpha": float(alpha), "k": int(k)}
        assert _close(tk, float(stop["t_stop"].sel(sel, method="nearest")))
        assert _close(err, float(stop["error"].sel(sel, method="nearest")))
        assert _close(ey, float(stop["eckart_young"].sel(k=int(k))))
        assert _close(hat, float(stop["error_hat"].sel(sel, method="nearest")))


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
    """Agg output is deterministic: the redraw from results.nc is the first drawing, pixel for
    pixel (and byte for byte: the PNGs carry no date)."""
    result = CliRunner().invoke(
        app, ["plot", str(reproduced / "results.nc"), "--out", str(tmp_path / "again")]
    )
    assert result.exit_code == 0, result.output
    for name in FIGURES:
        img = mpimg.imread(tmp_path / "again" / f"{name}.png")
        ref = mpimg.imread(reproduced / "figures" / f"{name}.png")
        assert img.shape == ref.shape
        np.testing.assert_array_equal(img, ref, err_msg=name)
        again = (tmp_path / "again" / f"{name}.png").read_bytes()
        assert again == (reproduced / "figures" / f"{name}.png").read_bytes(), name
        assert (tmp_path / "again" / f"{name}.pdf").exists()


def test_rerun_reuses_the_verified_cache(reproduced: Path, tmp_path: Path) -> None:
    """A second run computes nothing; a tampered cache entry is recomputed, not trusted."""
    import shutil

    from mfflow.app.report import reproduce

    out = tmp_path / "copy"
    shutil.copytree(reproduced / ".cache", out / ".cache")
    first = (out / ".cache" / "one_mode.nc").read_bytes()
    with open(out / ".cache" / "one_mode.nc", "r+b") as fh:  # flip bytes in the data
        fh.seek(len(first) // 2)
        fh.write(bytes(b ^ 0xFF for b in first[len(first) // 2 : len(first) // 2 + 64]))
    (out / ".cache" / "sensing.nc").write_bytes(b"")  # truncated
    states: dict[str, str] = {}
    reproduce(out, quick=True, on_step=lambda name, state: states.setdefault(name, state))
    assert states["one_mode"] == "start" and states["sensing"] == "start"
    assert all(states[s] == "cached" for s in FIGURES if s not in ("one_mode", "sensing"))
    assert (out / ".cache" / "one_mode.nc").read_bytes() == first  # recomputed, identical
    a, b = load_results(out / "results.nc"), load_results(reproduced / "results.nc")
    for name in FIGURES:
        xr.testing.assert_identical(group(a, name), group(b, name))


# ---- the sections beyond the paper --------------------------------------------------------------
def test_beyond_the_paper_is_labelled(tree: xr.DataTree) -> None:
    gap = group(tree, "gd_vs_gf")
    assert gap["gap"].dims == ("problem", "eta")
    assert list(gap["problem"].values) == ["symmetric", "asymmetric"]
    asym = group(tree, "asymmetric")
    assert asym["values"].dims == ("init", "time", "k")
    assert asym.sizes["init"] == 3
    deep = group(tree, "deep")
    assert deep["gd_values"].dims == ("depth", "record", "sv")
    assert list(deep["depth"].values) == [2, 3, 4]
    sense = group(tree, "sensing")
    assert sense["distance"].dims == ("ratio", "seed")
    assert sense["transition"].dims == ("ratio", "seed", "k")


def test_gd_vs_gf_matches_the_library(tree: xr.DataTree, cfg: ReportConfig) -> None:
    s, c = cfg.setup, cfg["gd_vs_gf"]
    ds = group(tree, "gd_vs_gf")
    Y = mfflow.make_target(list(s.spectrum), n=s.n, seed=s.target_seed)
    U0g = mfflow.gaussian_init(s.n, s.init_r, seed=s.init_seed)
    Ya = rectangular_target(s.spectrum, s.rect_rows, s.rect_cols, seed=s.target_seed)
    Ua, Va = mfflow.balanced_init(s.rect_rows, s.rect_cols, s.rect_cols, s.rect_seed, Y=Ya)
    np.testing.assert_array_equal(group(tree, "setup")["Y_rect"].values, Ya)
    np.testing.assert_allclose(np.linalg.svd(Ya, compute_uv=False), s.spectrum, rtol=1e-12)
    etas = ds["eta"].values
    fit = etas <= c.fit_eta_max

    # the gap is measured on the horizon the critical step sizes were found on
    def gap_times(problem: str) -> np.ndarray:
        return np.linspace(0.0, float(ds["horizon"].sel(problem=problem)), ds.sizes["time"])

    sym = mfflow.gd_flow_gap(Y, U0g, c.alpha, etas[fit], t=gap_times("symmetric"))
    np.testing.assert_allclose(ds["gap"].sel(problem="symmetric").values[fit], sym.gap, rtol=1e-12)
    assert float(ds["order"].sel(problem="symmetric")) == pytest.approx(sym.order, rel=1e-12)
    asym = mfflow.gd_flow_gap(Ya, Ua, c.alpha, etas[~fit], V0=Va, t=gap_times("asymmetric"))
    np.testing.assert_array_equal(ds["gap"].sel(problem="asymmetric").values[~fit], asym.gap)
    crit = mfflow.critical_step_sizes(Y, U0g, c.alpha, n_scan=c.scan, n_bisect=c.bisect)
    for name in ("eta_incremental", "eta_converge", "eta_blowup", "eta_stability"):
        assert float(ds[name].sel(problem="symmetric")) == pytest.approx(getattr(crit, name))
    # the story: first order, incremental learning up to the stability limit, blow-up past it
    np.testing.assert_allclose(ds["order"].values, 1.0, atol=0.1)
    np.testing.assert_allclose(ds["eta_stability"].values, 1 / s.spectrum[0], rtol=1e-6)
    assert np.all(ds["eta_incremental"].values <= ds["eta_converge"].values)
    assert np.all(ds["eta_converge"].values <= 1.02 * ds["eta_stability"].values)
    assert np.all(ds["eta_blowup"].values > ds["eta_stability"].values)
    assert int(ds["diverged"].values[:, -1].min()) == 1  # the largest eta diverges: reported
    assert np.all(np.isinf(ds["gap"].values[ds["diverged"].values == 1]))


def test_asymmetric_matches_the_library(tree: xr.DataTree, cfg: ReportConfig) -> None:
    s, c = cfg.setup, cfg["asymmetric"]
    ds = group(tree, "asymmetric")
    Y = rectangular_target(s.spectrum, s.rect_rows, s.rect_cols, seed=s.target_seed)
    np.testing.assert_array_equal(ds["Y"].values, Y)
    t = ds["time"].values
    ref = mfflow.asymmetric_learning_curves(Y, c.alpha, lam=c.lam, rho=c.rho, seed=s.rect_seed, t=t)
    assert list(ds["init"].values) == list(ref.curves)
    for label, curves in ref.curves.items():
        got = ds["values"].sel(init=label).values
        np.testing.assert_allclose(got, curves, rtol=1e-9, atol=1e-12)
    # every init learns the values in order; unbalanced shifts match the linear-phase prediction
    assert np.all(np.diff(ds["transition"].values, axis=1) > 0)
    np.testing.assert_allclose(
        ds["study_shift"].values, ds["study_predicted_shift"].values, atol=2e-2
    )


def test_deep_matches_the_library(tree: xr.DataTree, cfg: ReportConfig) -> None:
    c = cfg["deep"]
    ds = group(tree, "deep")
    spec = np.asarray(c.spectrum)
    for L in ds["depth"].values:
        t = ds["gd_time"].sel(depth=L).values
        exact = mfflow.deep_mode_curve(spec, c.alpha, int(L), t[::25])
        np.testing.assert_allclose(
            ds["exact_values"].sel(depth=L).values[::25], exact, rtol=1e-12, atol=1e-300
        )
        half = mfflow.deep_transition_time(spec, c.alpha, int(L))
        np.testing.assert_allclose(ds["exact_half"].sel(depth=L).values, half, rtol=1e-12)
    # talk figure 2: learned one by one (GD, sensing), later and sharper with depth (exact)
    assert np.all(np.diff(ds["gd_half"].values, axis=1) > 0)
    assert np.all(np.diff(ds["exact_half"].values[:, 0]) > 0)
    rel = ds["exact_width"].values[:, 0] / ds["exact_half"].values[:, 0]
    assert np.all(np.diff(rel) < 0)
    assert float(ds["gd_recovery"].max()) < 0.05
    # the zero singular values of Y stay small
    assert float(ds["gd_values"].values[:, -1, len(spec) :].max()) < 1e-2


def test_sensing_matches_the_library(tree: xr.DataTree, cfg: ReportConfig) -> None:
    c = cfg["sensing"]
    ds = group(tree, "sensing")
    n = c.n
    Y = mfflow.make_target(list(c.spectrum), n=n, seed=c.target_seed)
    U0 = mfflow.gaussian_init(n, n, seed=c.init_seed)
    t = ds["time"].values
    traj = mfflow.closed_form(Y, U0, c.alpha)
    K = len(c.spectrum)
    np.testing.assert_allclose(
        ds["cf_values"].values, traj.eigvals(t)[:, :K], rtol=1e-12, atol=1e-300
    )
    ratio = ds["ratio"].values[-1]
    m = int(ds["m"].sel(ratio=ratio))
    assert m == round(ratio * n * K)
    res = mfflow.sensing_flow(mfflow.GaussianSensing(n, m, seed=1), Y, U0, c.alpha, t, rtol=1e-8)
    d = mfflow.curve_distance(res, traj)
    assert float(ds["distance"].sel(ratio=ratio, seed=1)) == pytest.approx(d.max(), rel=1e-9)
    # the distance shrinks as m grows, like m^(-1/2)
    mean = ds["distance"].mean("seed").values
    assert mean[-1] < 0.5 * mean[0]
    assert -1.0 < float(ds["distance_slope"]) < -0.2


def test_new_tables_are_the_results_numbers(reproduced: Path, tree: xr.DataTree) -> None:
    md = (reproduced / "report.md").read_text()
    ds = group(tree, "gd_vs_gf")
    header, *rows = _section_tables(tree, md, "gd_vs_gf")[0]
    for row, prob in zip(rows, ds["problem"].values, strict=True):
        assert row[0] == prob
        assert _close(row[header.index("order")], float(ds["order"].sel(problem=prob)))
        for col, name in (
            ("2 / lambda_max", "eta_stability"),
            ("incremental learning", "eta_incremental"),
            ("blows up", "eta_blowup"),
        ):
            assert _close(row[header.index(col)], float(ds[name].sel(problem=prob)))
    ds = group(tree, "deep")
    header, *rows = _section_tables(tree, md, "deep")[0]
    for row in rows:
        sel = {"depth": int(row[0]), "k": int(row[1])}
        assert _close(row[3], float(ds["exact_half"].sel(sel)))
        assert _close(row[6], float(ds["gd_half"].sel(sel)))
    ds = group(tree, "sensing")
    header, *rows = _section_tables(tree, md, "sensing")[0]
    for row, ratio in zip(rows, ds["ratio"].values, strict=False):
        assert _close(row[0], float(ratio))
        assert _close(row[2], float(ds["distance"].sel(ratio=ratio).mean()))
    ds = group(tree, "asymmetric")
    header, *rows = _section_tables(tree, md, "asymmetric")[0]
    for row, init in zip(rows, ds["init"].values, strict=False):
        assert row[0] == init
        for k in ds["k"].values:
            assert _close(row[2 + k], float(ds["transition"].sel(init=init, k=k)))
