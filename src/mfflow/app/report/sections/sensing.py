"""Matrix sensing approaches the closed form: Gaussian sensing against the identity-operator
closed form as the number of measurements grows."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.legend_handler import HandlerTuple
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .... import (
    GaussianSensing,
    closed_form,
    crossing_times,
    curve_distance,
    gaussian_init,
    make_target,
    sensing_flow,
)
from ...plotting import TIME_LABEL, alpha_label, mode_color, new_figure
from ..document import Table, fmt, nanmean
from ..section import Section, SectionConfig
from ..setup import Setup


class Config(SectionConfig):
    n: int = 10
    spectrum: tuple[float, ...] = (3.0, 2.0, 1.0)
    alpha: float = 1e-3
    target_seed: int = 3
    init_seed: int = 4
    ratios: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
    seeds: int = 10
    t_max: float = 10.0
    num_times: int = 201


def compute(p: Setup, cfg: Config) -> xr.Dataset:
    n = cfg.n
    spec = np.asarray(cfg.spectrum, dtype=np.float64)
    K = spec.size
    alpha = cfg.alpha
    Y = make_target(spec, n=n, seed=cfg.target_seed)
    U0 = gaussian_init(n, n, seed=cfg.init_seed)
    t = np.linspace(0.0, cfg.t_max, cfg.num_times)
    traj = closed_form(Y, U0, alpha)
    cf_values = traj.eigvals(t)[:, :K]
    levels = 0.5 * spec
    ratios = np.asarray(cfg.ratios, dtype=np.float64)
    ms = np.array([max(1, round(c * n * K)) for c in ratios], dtype=np.int64)
    seeds = np.arange(cfg.seeds)
    dist = np.empty((ratios.size, seeds.size))
    dist_mean = np.empty((ratios.size, seeds.size))
    trans = np.empty((ratios.size, seeds.size, K))
    recovery = np.empty((ratios.size, seeds.size))
    curves = np.empty((ratios.size, t.size, K))
    for a, m in enumerate(ms):
        for s in seeds:
            res = sensing_flow(GaussianSensing(n, int(m), seed=int(s)), Y, U0, alpha, t, rtol=1e-8)
            d = curve_distance(res, traj)
            dist[a, s], dist_mean[a, s] = float(d.max()), float(d.mean())
            trans[a, s] = res.transition_times(levels)
            recovery[a, s] = float(res.recovery_error[-1])
            if s == 0:
                curves[a] = res.singular_values[:, :K]
    # pooled over seeds, with the standard error of the slope
    x = np.repeat(np.log(ratios), seeds.size)
    (slope, icpt), cov = np.polyfit(x, np.log(dist).ravel(), 1, cov=True)
    slope_se = float(np.sqrt(cov[0, 0]))
    mean_log = np.log(dist).mean(axis=1)
    local = np.diff(mean_log) / np.diff(np.log(ratios))
    return xr.Dataset(
        {
            "sigma": (("k",), spec),
            "alpha": ((), alpha),
            "n": ((), n),
            "m": (("ratio",), ms),
            "distance": (
                ("ratio", "seed"),
                dist,
                {"long_name": "max_t ||s(t) - s_closed(t)||_2 / ||sigma||_2"},
            ),
            "distance_mean_t": (("ratio", "seed"), dist_mean),
            "distance_slope": ((), float(slope)),
            "distance_slope_se": ((), slope_se),
            "local_slope": (("ratio_step",), local),
            "distance_constant": ((), float(np.exp(icpt))),
            "transition": (("ratio", "seed", "k"), trans),
            "recovery": (("ratio", "seed"), recovery, {"long_name": "||W(T) - Y||_F/||Y||_F"}),
            "cf_transition": (("k",), crossing_times(t, cf_values, levels)),
            "t_predicted": (("k",), np.log(1.0 / alpha) / (2 * spec)),
            "values": (("ratio", "time", "k"), curves),
            "cf_values": (("time", "k"), cf_values),
        },
        coords={
            "ratio": ("ratio", ratios, {"long_name": "m / (n rank(Y))"}),
            "seed": ("seed", seeds),
            "ratio_step": ("ratio_step", np.arange(1, ratios.size)),
            "k": ("k", np.arange(1, K + 1)),
            "time": ("time", t),
        },
    )


def _geo_stats(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Geometric mean over seeds and its standard-error band (log scale), per ratio."""
    logs = np.log(dist)
    mean = logs.mean(axis=1)
    se = logs.std(axis=1, ddof=1) / np.sqrt(logs.shape[1]) if logs.shape[1] > 1 else 0 * mean
    return np.exp(mean), np.exp(mean - se), np.exp(mean + se)


def figure(ds: xr.Dataset) -> Figure:
    ratios = ds["ratio"].values
    t = ds["time"].values
    sig = ds["sigma"].values
    fig, axes = new_figure(SECTION.figsize, ncols=3)
    ax = axes[0]
    cf = ds["cf_values"].values
    for k in ds["k"].values:
        c = mode_color(int(k))
        ax.plot(t, cf[:, k - 1], color=c, lw=2.4, label=rf"$\sigma_{k} = {sig[k - 1]:g}$")
        for ratio, ls in ((ratios[0], ":"), (ratios[-1], "--")):
            ax.plot(t, ds["values"].sel(ratio=ratio).values[:, k - 1], color=c, ls=ls, lw=1.2)
    handles, labels = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="k", lw=2.4),
        Line2D([], [], color="k", ls=":", lw=1.2),
        Line2D([], [], color="k", ls="--", lw=1.2),
    ]
    labels += [
        "closed form (identity operator)",
        f"Gaussian sensing, m/(n r) = {ratios[0]:g} (seed 0)",
        f"Gaussian sensing, m/(n r) = {ratios[-1]:g} (seed 0)",
    ]
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("top eigenvalue magnitudes of $W(t)$")
    ax.set_title(f"n = {int(ds['n'])}, rank r = {sig.size}, " + alpha_label(float(ds["alpha"])))
    ax = axes[1]
    dist = ds["distance"].values
    nseeds = dist.shape[1]
    for s_ in range(nseeds):
        ax.loglog(ratios, dist[:, s_], "o", color="#1f77b4", ms=3.5, alpha=0.35)
    geo, lo, hi = _geo_stats(dist)
    ax.fill_between(ratios, lo, hi, color="#1f77b4", alpha=0.25, lw=0)
    ax.loglog(ratios, geo, "o-", color="#1f77b4", lw=1.6)
    slope = float(ds["distance_slope"])
    se = float(ds["distance_slope_se"]) if "distance_slope_se" in ds else float("nan")
    ax.loglog(ratios, float(ds["distance_constant"]) * ratios**slope, "k--", lw=1.1)
    ax.loglog(ratios, geo[0] * (ratios / ratios[0]) ** -0.5, color="0.5", ls=":", lw=1.2)
    ax.set_xlabel(r"measurements per degree of freedom $m / (n r)$")
    ax.set_ylabel(r"$\max_t \|s(t) - s_{\mathrm{closed}}(t)\|_2 / \|\sigma\|_2$")
    ax.set_title(f"distance to the closed form ({nseeds} seeds)")
    dist_handles = [
        Line2D([], [], marker="o", ls="", color="#1f77b4", ms=3.5, alpha=0.35),
        (Patch(color="#1f77b4", alpha=0.25), Line2D([], [], marker="o", color="#1f77b4")),
        Line2D([], [], color="k", ls="--", lw=1.1),
        Line2D([], [], color="0.5", ls=":", lw=1.2),
    ]
    dist_labels = [
        "one seed",
        "geometric mean, ± 1 standard error",
        f"fit over all seeds: slope {slope:.2f} ± {se:.2f}",
        r"slope $-1/2$ (RIP scaling), for reference",
    ]
    ax = axes[2]
    trans = ds["transition"].values
    for k in ds["k"].values:
        c = mode_color(int(k))
        vals = trans[:, :, k - 1]
        mean = nanmean(vals, axis=1)
        for s_ in range(vals.shape[1]):
            ax.semilogx(ratios, vals[:, s_], "o", color=c, ms=3.5, alpha=0.35)
        ax.semilogx(ratios, mean, "-", color=c, lw=1.4)
        ax.axhline(float(ds["cf_transition"].sel(k=k)), color=c, ls="--", lw=1.2)
        ax.axhline(float(ds["t_predicted"].sel(k=k)), color=c, ls=":", lw=1.0)
    trans_handles = [
        Line2D([], [], marker="o", color="0.3", ms=3.5),
        Line2D([], [], ls="--", color="0.3"),
        Line2D([], [], ls=":", color="0.3"),
    ]
    trans_labels = [
        "Gaussian sensing (seeds; line: mean)",
        "closed form, measured",
        r"prediction $\log(1/\alpha)/(2\sigma_i)$",
    ]
    ax.set_xlabel(r"$m / (n r)$")
    ax.set_ylabel(r"transition time (first crossing of $\sigma_i / 2$)")
    ax.set_title("transition times approach the closed form's")
    fig.legend(
        handles + dist_handles + trans_handles,
        labels + dist_labels + trans_labels,
        loc="outside lower center",
        ncols=4,
        handler_map={tuple: HandlerTuple(ndivide=None, pad=0)},
    )
    return fig


def tables(ds: xr.Dataset) -> list[Table]:
    sig = ds["sigma"].values
    dist = ds["distance"].values
    trans = nanmean(ds["transition"].values, axis=1)
    rec = ds["recovery"].values
    rows = [
        [
            fmt(ratio),
            str(int(ds["m"].values[a])),
            fmt(dist[a].mean()),
            f"[{fmt(dist[a].min())}, {fmt(dist[a].max())}]",
            *[fmt(x) for x in trans[a]],
            fmt(rec[a].mean()),
        ]
        for a, ratio in enumerate(ds["ratio"].values)
    ]
    n = int(ds["n"])
    rows.append(
        ["closed form", str(n * n), "0", "-", *[fmt(x) for x in ds["cf_transition"].values], "-"]
    )
    rows.append(
        [
            "log(1/alpha)/(2 sigma_i)",
            "-",
            "-",
            "-",
            *[fmt(x) for x in ds["t_predicted"].values],
            "-",
        ]
    )
    return [
        Table(
            "Gaussian sensing vs the identity-operator closed form (mean over seeds; fitted "
            f"slope of the distance against m/(n r): {fmt(ds['distance_slope'])})",
            [
                "m / (n r)",
                "m",
                "distance",
                "distance [min, max] over seeds",
                *[f"t_{k} (sigma = {fmt(sig[k - 1])})" for k in ds["k"].values],
                "final recovery error",
            ],
            rows,
        )
    ]


def text(ds: xr.Dataset) -> list[str]:
    ratios = ds["ratio"].values
    dist = ds["distance"].values
    geo = np.exp(np.log(dist).mean(axis=1))
    slope = float(ds["distance_slope"])
    se = float(ds["distance_slope_se"])
    nseeds = ds.sizes["seed"]
    spread = float(np.max(dist.max(axis=1) / dist.min(axis=1)))
    local = ds["local_slope"].values
    agrees = abs(slope + 0.5) <= 2 * se
    return [
        "Symmetric Gaussian sensing with m measurements (E[A* A] = I) against the "
        "identity-operator closed form, same target and init: over "
        f"{nseeds} operator seeds the distance between the learning curves falls from "
        f"{fmt(geo[0])} at m / (n r) = {fmt(ratios[0])} to {fmt(geo[-1])} at {fmt(ratios[-1])} "
        f"(geometric means; the seeds spread by up to {fmt(spread)}x at one ratio). A line "
        f"fitted to all seeds has slope {fmt(slope)} ± {fmt(se)} (standard error), "
        + (
            "consistent with the m^(-1/2) scaling of the restricted isometry constant"
            if agrees
            else "not consistent with the m^(-1/2) scaling of the restricted isometry "
            "constant at two standard errors"
        )
        + f". The local slope between the last two ratios is {fmt(local[-1])}"
        + (
            ": the decay flattens at large m, and this range of m does not pin the rate down."
            if local[-1] > slope + 2 * se
            else "."
        ),
        "The transition times converge to the closed form's: the identity operator's exact "
        "solution is the large-m limit of matrix sensing.",
    ]


SECTION = Section(
    name="sensing",
    title="Matrix sensing approaches the closed form",
    config=Config,
    compute=compute,
    figure=figure,
    tables=tables,
    text=text,
    figsize=(13.0, 5.4),
    quick={"ratios": (1.0, 4.0, 16.0, 64.0), "seeds": 3, "num_times": 101},
)
