"""Sweep figures (``mfflow plot STORE``): phase diagrams from :func:`~.store.open_sweep`.

Every figure needs ``alpha`` as a grid dimension; every other dimension is averaged over
(NaN-aware: failed and missing cells are skipped); the phase diagrams use the first of
``gap``, ``K``, ``n``, ``r``, ``sigma1``, ``eta`` that is swept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..plotting import mode_color, new_figure, save_figures

__all__ = ["SWEEP_FIGURES", "plot_sweep", "sweep_figures"]

FIGSIZE = (13.0, 4.8)


def _mean_over(da: xr.DataArray, keep: tuple[str, ...]) -> xr.DataArray:
    """Mean over every dimension not in ``keep`` (NaN-aware: failed cells are skipped)."""
    return da.mean([d for d in da.dims if d not in keep], skipna=True)


def _second_axis(ds: xr.Dataset) -> str | None:
    for name in ("gap", "K", "n", "r", "sigma1", "eta"):
        if name in ds.dims and ds.sizes[name] > 1:
            return name
    return None


def fig_sweep_transitions(ds: xr.Dataset) -> Figure:
    """Measured vs predicted transition times over ``log(1/alpha)``; ratio over (alpha, gap)."""
    fig, axes = new_figure(FIGSIZE, ncols=2)
    method = str(ds["method"].values[0])
    meas = ds["t_measured"].sel(method=method)
    pred = ds["t_predicted"]
    x = np.log(1.0 / ds["alpha"].values)
    ax = axes[0]
    for k in ds["k"].values:
        c = mode_color(int(k))
        m = _mean_over(meas.sel(k=k), ("alpha",)).values
        p = _mean_over(pred.sel(k=k), ("alpha",)).values
        ax.plot(x, p, color=c, ls="--", lw=1.3)
        ax.plot(x, m, "o", color=c, ms=5, label=f"k = {int(k)} ({method})")
    ax.plot([], [], color="k", ls="--", lw=1.3, label=r"predicted $\log(1/\alpha)/(2\sigma_k)$")
    ax.set_xlabel(r"$\log(1/\alpha)$")
    ax.set_ylabel("transition time (mean over the other dimensions)")
    ax.set_title("Measured vs predicted transition times")
    ax.legend(loc="upper left")
    ax = axes[1]
    second = _second_axis(ds)
    ratio = (meas / pred).where(np.isfinite(pred) & (pred > 0))
    if second is None:
        for k in ds["k"].values:
            r = _mean_over(ratio.sel(k=k), ("alpha",)).values
            ax.plot(x, r, "o-", color=mode_color(int(k)), ms=4, label=f"k = {int(k)}")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xlabel(r"$\log(1/\alpha)$")
        ax.set_ylabel("measured / predicted")
        ax.legend()
    else:
        k_last = ds["k"].values[-1]
        r = _mean_over(ratio.sel(k=k_last), ("alpha", second)).transpose(second, "alpha")
        mesh = ax.pcolormesh(x, np.arange(ds.sizes[second]), r.values, shading="nearest")
        ax.set_yticks(np.arange(ds.sizes[second]), [f"{v:g}" for v in ds[second].values])
        ax.set_xlabel(r"$\log(1/\alpha)$")
        ax.set_ylabel(second)
        fig.colorbar(mesh, ax=ax, label=f"measured / predicted, k = {int(k_last)}")
    ax.set_title("Phase diagram: measured / predicted")
    return fig


def fig_sweep_theorem(ds: xr.Dataset) -> Figure:
    """Fraction of seeds whose certified intervals hold; looseness of the left end point."""
    fig, axes = new_figure(FIGSIZE, ncols=2)
    x = np.log(1.0 / ds["alpha"].values)
    holds = ds["theorem_holds"]
    num = _mean_over(holds.where(np.isfinite(holds)), ("alpha", "k"))
    loose = ds["certified_lo"] - ds["measured_lo"]
    for k in ds["k"].values:
        c = mode_color(int(k))
        axes[0].plot(x, num.sel(k=k).values, "o-", color=c, ms=4, label=f"k = {int(k)}")
        lv = _mean_over(loose.where(np.isfinite(loose)).sel(k=k), ("alpha",)).values
        axes[1].plot(x, lv, "o-", color=c, ms=4, label=f"k = {int(k)}")
    axes[0].set_ylim(-0.05, 1.05)
    axes[0].set_xlabel(r"$\log(1/\alpha)$")
    axes[0].set_ylabel("fraction holding (non-vacuous cells)")
    axes[0].set_title("Certified intervals that hold, over seeds")
    axes[0].legend()
    axes[1].set_xlabel(r"$\log(1/\alpha)$")
    axes[1].set_ylabel("certified start - measured start")
    axes[1].set_title("Looseness of the bound (left end point)")
    axes[1].legend()
    return fig


def fig_sweep_distance(ds: xr.Dataset) -> Figure:
    """For simulations: max over t of ``||W_method(t) - W_closed(t)||_F`` over the grid."""
    fig, axes = new_figure(FIGSIZE, ncols=2)
    sims = [m for m in ds["method"].values if m != "closed_form"]
    dist = ds["cf_distance"]
    x = np.log(1.0 / ds["alpha"].values)
    for i, m in enumerate(sims):
        d = _mean_over(dist.sel(method=m), ("alpha",)).values
        axes[0].semilogy(x, d, "o-", color=mode_color(i + 1), ms=4, label=str(m))
    axes[0].set_xlabel(r"$\log(1/\alpha)$")
    axes[0].set_ylabel(r"max$_t$ $\|W(t) - W_{closed}(t)\|_F$")
    axes[0].set_title("Distance to the closed form")
    axes[0].legend()
    ax = axes[1]
    second = _second_axis(ds)
    if sims and second is not None:
        d = _mean_over(dist.sel(method=sims[-1]), ("alpha", second)).transpose(second, "alpha")
        vals = np.log10(np.maximum(d.values, 1e-300))
        mesh = ax.pcolormesh(x, np.arange(ds.sizes[second]), vals, shading="nearest")
        ax.set_yticks(np.arange(ds.sizes[second]), [f"{v:g}" for v in ds[second].values])
        ax.set_ylabel(second)
        fig.colorbar(mesh, ax=ax, label=f"log10 distance ({sims[-1]})")
    else:
        ax.axis("off")
    ax.set_xlabel(r"$\log(1/\alpha)$")
    ax.set_title("Phase diagram: distance to the closed form")
    return fig


SWEEP_FIGURES: dict[str, Callable[[xr.Dataset], Figure]] = {
    "sweep_transitions": fig_sweep_transitions,
    "sweep_theorem": fig_sweep_theorem,
    "sweep_distance": fig_sweep_distance,
}


def sweep_figures(ds: xr.Dataset) -> list[str]:
    """Names of the sweep figures ``ds`` (an :func:`~.store.open_sweep` view) has data for."""
    if "alpha" not in ds.dims:
        return []
    names = []
    if "t_measured" in ds and "t_predicted" in ds:
        names.append("sweep_transitions")
    if "theorem_holds" in ds:
        names.append("sweep_theorem")
    if "cf_distance" in ds and any(m != "closed_form" for m in ds["method"].values):
        names.append("sweep_distance")
    return names


def plot_sweep(ds: xr.Dataset, out: str | Path) -> list[Path]:
    """Draw the sweep figures into ``out`` (PNG and PDF, atomically); returns the paths."""
    return save_figures(
        ((name, lambda name=name: SWEEP_FIGURES[name](ds)) for name in sweep_figures(ds)), out
    )
