"""Matrix sensing approaches the closed form: Gaussian sensing against the identity-operator
closed form as the number of measurements grows."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

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
    seeds: int = 4
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
    slope, icpt = np.polyfit(np.log(ratios), np.log(dist.mean(axis=1)), 1)
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
            "k": ("k", np.arange(1, K + 1)),
            "time": ("time", t),
        },
    )


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
        f"Gaussian sensing, m/(n r) = {ratios[0]:g}",
        f"Gaussian sensing, m/(n r) = {ratios[-1]:g}",
    ]
    ax.legend(handles, labels, loc="lower right", fontsize=8)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel("top eigenvalue magnitudes of $W(t)$")
    ax.set_title(f"n = {int(ds['n'])}, rank r = {sig.size}, " + alpha_label(float(ds["alpha"])))
    ax = axes[1]
    dist = ds["distance"].values
    for s in range(dist.shape[1]):
        ax.loglog(ratios, dist[:, s], "o", color="#1f77b4", ms=4, alpha=0.45)
    ax.loglog(ratios, dist.mean(axis=1), "o-", color="#1f77b4", lw=1.6, label="mean over seeds")
    slope = float(ds["distance_slope"])
    ax.loglog(
        ratios,
        float(ds["distance_constant"]) * ratios**slope,
        "k--",
        lw=1.1,
        label=f"fit: slope {slope:.2f}",
    )
    ax.set_xlabel(r"measurements per degree of freedom $m / (n r)$")
    ax.set_ylabel(r"$\max_t \|s(t) - s_{\mathrm{closed}}(t)\|_2 / \|\sigma\|_2$")
    ax.set_title(f"distance to the closed form ({dist.shape[1]} seeds)")
    ax.legend(loc="lower left")
    ax = axes[2]
    trans = ds["transition"].values
    for k in ds["k"].values:
        c = mode_color(int(k))
        vals = trans[:, :, k - 1]
        mean = np.nanmean(vals, axis=1) if np.any(np.isfinite(vals)) else vals[:, 0]
        for s in range(vals.shape[1]):
            ax.semilogx(ratios, vals[:, s], "o", color=c, ms=4, alpha=0.4)
        ax.semilogx(ratios, mean, "-", color=c, lw=1.4)
        ax.axhline(float(ds["cf_transition"].sel(k=k)), color=c, ls="--", lw=1.2)
        ax.axhline(float(ds["t_predicted"].sel(k=k)), color=c, ls=":", lw=1.0)
    ax.plot([], [], "o-", color="0.3", label="Gaussian sensing (seeds, mean)")
    ax.plot([], [], "--", color="0.3", label="closed form, measured")
    ax.plot([], [], ":", color="0.3", label=r"prediction $\log(1/\alpha)/(2\sigma_i)$")
    ax.set_xlabel(r"$m / (n r)$")
    ax.set_ylabel(r"transition time (first crossing of $\sigma_i / 2$)")
    ax.set_title("transition times approach the closed form's")
    ax.legend(loc="upper right", fontsize=8)
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
    dist = ds["distance"].values.mean(axis=1)
    return [
        "Symmetric Gaussian sensing with m measurements (E[A* A] = I) against the "
        "identity-operator closed form, same target and init: the distance between the "
        f"learning curves falls from {fmt(dist[0])} at m / (n r) = {fmt(ratios[0])} to "
        f"{fmt(dist[-1])} at {fmt(ratios[-1])}, with fitted slope "
        f"{fmt(ds['distance_slope'])} (about m^{{-1/2}}, the RIP scaling).",
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
    figsize=(15.0, 4.6),
    quick={"ratios": (1.0, 4.0, 16.0, 64.0), "seeds": 2, "num_times": 101},
)
