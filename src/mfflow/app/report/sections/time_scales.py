"""Time-scale separation: measured transition times against ``log(1/alpha)``, with slopes
``1/(2 sigma_i)`` (general init)."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .... import measured_transition_times, transition_times
from ...plotting import mode_color, new_figure
from ..document import Table, fmt
from ..section import Section, SectionConfig
from ..setup import Setup


class Config(SectionConfig):
    alpha_max: float = 1e-1
    alpha_min: float = 1e-30
    num: int = 30
    fit_alpha_max: float = 1e-4


def compute(p: Setup, cfg: Config) -> xr.Dataset:
    alphas = np.geomspace(cfg.alpha_max, cfg.alpha_min, cfg.num)
    K = p.sigma.size
    meas = np.array([measured_transition_times(p.Y, p.U0_general, a) for a in alphas])
    pred = np.array([transition_times(p.Y, a) for a in alphas])
    x = np.log(1.0 / alphas)
    fit = alphas <= cfg.fit_alpha_max
    slope = np.full(K, np.nan)
    intercept = np.full(K, np.nan)
    for i in range(K):
        ok = fit & np.isfinite(meas[:, i])
        if np.count_nonzero(ok) >= 2:
            slope[i], intercept[i] = np.polyfit(x[ok], meas[ok, i], 1)
    return xr.Dataset(
        {
            "t_measured": (("alpha", "k"), meas),
            "t_predicted": (("alpha", "k"), pred),
            "slope_fit": (("k",), slope),
            "intercept_fit": (("k",), intercept),
            "slope_theory": (("k",), 1.0 / (2.0 * p.sigma)),
            "fit_alpha_max": ((), cfg.fit_alpha_max),
            "sigma": (("k",), p.sigma, {"long_name": "positive eigenvalues of Y"}),
        },
        coords={"alpha": ("alpha", alphas), "k": ("k", np.arange(1, K + 1))},
    )


def figure(ds: xr.Dataset) -> Figure:
    x = np.log(1.0 / ds["alpha"].values)
    sig = ds["sigma"].values
    fig, axes = new_figure(SECTION.figsize)
    ax = axes[0]
    for k in ds["k"].values:
        c = mode_color(int(k))
        meas = ds["t_measured"].sel(k=k).values
        pred = ds["t_predicted"].sel(k=k).values
        slope = float(ds["slope_fit"].sel(k=k))
        theory = float(ds["slope_theory"].sel(k=k))
        ax.plot(x, pred, color=c, lw=1.3, ls="--")
        ax.plot(
            x,
            meas,
            "o",
            color=c,
            ms=5,
            label=rf"$\sigma_{k} = {sig[k - 1]:g}$: slope {slope:.4f} (1/(2$\sigma$) = "
            rf"{theory:.4f})",
        )
    ax.plot([], [], color="k", ls="--", lw=1.3, label=r"predicted $\log(1/\alpha)/(2\sigma_i)$")
    ax.set_xlabel(r"$\log(1/\alpha)$")
    ax.set_ylabel("measured transition time (gradient-flow units)")
    ax.set_title(r"Shrinking $\alpha$ by $e^{-m}$ delays transition $i$ by $m/(2\sigma_i)$")
    ax.set_xlim(0, None)
    ax.set_ylim(0, None)
    ax.legend(loc="upper left")
    return fig


def tables(ds: xr.Dataset) -> list[Table]:
    sig = ds["sigma"].values
    rows = [
        [
            str(int(k)),
            fmt(sig[k - 1]),
            fmt(ds["slope_theory"].sel(k=k)),
            fmt(ds["slope_fit"].sel(k=k)),
        ]
        for k in ds["k"].values
    ]
    return [
        Table(
            f"Delay per unit of log(1/alpha): fitted slope (alpha <= "
            f"{fmt(ds['fit_alpha_max'])}) vs 1/(2 sigma_i)",
            ["mode i", "sigma_i", "1/(2 sigma_i)", "fitted slope"],
            rows,
        )
    ]


def text(ds: xr.Dataset) -> list[str]:
    slopes = ", ".join(
        f"{fmt(fit)} vs {fmt(theory)}"
        for fit, theory in zip(ds["slope_fit"].values, ds["slope_theory"].values, strict=True)
    )
    return [
        "Measured transition times (general init) against log(1/alpha): straight lines of "
        "slope 1/(2 sigma_i). Shrinking alpha by a factor e^{-m} delays transition i by "
        "m/(2 sigma_i) (the talk's informal 'M/sigma_i' is off by the factor 2).",
        f"Fitted slopes vs 1/(2 sigma_i): {slopes}.",
    ]


SECTION = Section(
    name="time_scales",
    title="Time-scale separation",
    config=Config,
    compute=compute,
    figure=figure,
    tables=tables,
    text=text,
    figsize=(8.0, 5.0),
    quick={"num": 8},
)
