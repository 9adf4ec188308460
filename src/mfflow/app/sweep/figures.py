"""Sweep figures (``mfflow plot STORE``) from :func:`~.store.open_sweep`: transitions, theorem.

Every figure needs ``alpha`` as a grid dimension; every other dimension is averaged over, with
its standard deviation drawn as a band or error bar (NaN-aware: failed and missing cells are
skipped). A phase diagram (a colour map over ``log(1/alpha)`` and a second parameter) is drawn
only when one of ``gap``, ``K``, ``n``, ``r``, ``sigma1``, ``eta`` is swept. A linear-network
sweep (measurement ``lazy_rich``) over ``init.lam`` and ``init.alpha`` draws the lazy/rich phase
diagram (:mod:`mfflow.app.phase_figures`), averaged over any other dimension.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import cast

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from ..phase_figures import draw_phase_panels
from ..plotting import mode_color, new_figure, save_figures

__all__ = ["SWEEP_FIGURES", "plot_sweep", "sweep_figures"]

FIGSIZE = (13.0, 4.8)


def _mean_over(da: xr.DataArray, keep: tuple[str, ...]) -> xr.DataArray:
    """Mean over every dimension not in ``keep`` (NaN-aware: failed cells are skipped)."""
    return da.mean([d for d in da.dims if d not in keep], skipna=True)


def _spread(da: xr.DataArray, keep: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and standard deviation over every dimension not in ``keep`` (NaN-aware), and how
    many cells each point averages."""
    other = [d for d in da.dims if d not in keep]
    if not other:
        return da.values, np.zeros_like(da.values, dtype=float), 1
    mean = da.mean(other, skipna=True).values
    count = int(np.prod([da.sizes[d] for d in other]))
    std = da.std(other, skipna=True).values if count > 1 else np.zeros_like(mean)
    return mean, std, count


def _over(da: xr.DataArray, keep: tuple[str, ...]) -> str:
    other = [f"{d} ({da.sizes[d]})" for d in da.dims if d not in keep and da.sizes[d] > 1]
    return "mean ± std over " + ", ".join(other) if other else "one cell per point"


def _second_axis(ds: xr.Dataset) -> str | None:
    for name in ("gap", "K", "n", "r", "sigma1", "eta"):
        if name in ds.dims and ds.sizes[name] > 1:
            return name
    return None


def _band(ax, x, mean, std, color, label, marker="o") -> None:
    ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, lw=0)
    ax.plot(x, mean, marker + "-", color=color, ms=4, lw=1.3, label=label)


def fig_sweep_transitions(ds: xr.Dataset) -> Figure:
    """Measured vs predicted transition times over ``log(1/alpha)``, with the spread over the
    other grid dimensions; measured / predicted as a phase diagram when a second parameter is
    swept."""
    fig, axes = new_figure(FIGSIZE, ncols=2)
    method = str(ds["method"].values[0])
    meas = ds["t_measured"].sel(method=method)
    pred = ds["t_predicted"]
    x = np.log(1.0 / ds["alpha"].values)
    ax = axes[0]
    for k in ds["k"].values:
        c = mode_color(int(k))
        m, sd, _ = _spread(meas.sel(k=k), ("alpha",))
        p = _mean_over(pred.sel(k=k), ("alpha",)).values
        ax.plot(x, p, color=c, ls="--", lw=1.3)
        ax.errorbar(x, m, yerr=sd, fmt="o", color=c, ms=4, capsize=2, label=f"k = {int(k)}")
    ax.plot([], [], color="k", ls="--", lw=1.3, label=r"predicted $\log(1/\alpha)/(2\sigma_k)$")
    ax.set_xlabel(r"$\log(1/\alpha)$")
    ax.set_ylabel(f"transition time ({method})")
    ax.set_title(f"measured vs predicted ({_over(meas, ('alpha', 'k', 'method'))})", fontsize=10)
    ax.legend(loc="upper left")
    ax = axes[1]
    second = _second_axis(ds)
    ratio = (meas / pred).where(np.isfinite(pred) & (pred > 0))
    if second is None:
        for k in ds["k"].values:
            m, sd, _ = _spread(ratio.sel(k=k), ("alpha",))
            _band(ax, x, m, sd, mode_color(int(k)), f"k = {int(k)}")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xlabel(r"$\log(1/\alpha)$")
        ax.set_ylabel("measured / predicted")
        ax.set_title(
            f"measured / predicted ({_over(ratio, ('alpha', 'k', 'method'))})", fontsize=10
        )
    else:
        k_last = ds["k"].values[-1]
        r = _mean_over(ratio.sel(k=k_last), ("alpha", second)).transpose(second, "alpha")
        mesh = ax.pcolormesh(x, np.arange(ds.sizes[second]), r.values, shading="nearest")
        ax.set_yticks(np.arange(ds.sizes[second]), [f"{v:g}" for v in ds[second].values])
        ax.set_xlabel(r"$\log(1/\alpha)$")
        ax.set_ylabel(second)
        fig.colorbar(mesh, ax=ax, label=f"measured / predicted, k = {int(k_last)}")
        ax.set_title(f"phase diagram over log(1/alpha) and {second}")
    return fig


def fig_sweep_theorem(ds: xr.Dataset) -> Figure:
    """Where the certified intervals are non-vacuous (and whether they held there); how far
    their start lags the measured start."""
    fig, axes = new_figure(FIGSIZE, ncols=2)
    x = np.log(1.0 / ds["alpha"].values)
    holds = ds["theorem_holds"]
    nonvacuous = cast(xr.DataArray, np.isfinite(holds)).astype(float)  # ufunc of a DataArray
    # only where the certified interval is non-empty (theorem_holds is NaN where it is empty)
    loose = (ds["certified_lo"] - ds["measured_lo"]).where(np.isfinite(holds))
    for k in ds["k"].values:
        c = mode_color(int(k))
        frac = _mean_over(nonvacuous.sel(k=k), ("alpha",)).values
        axes[0].plot(x, frac, "o-", color=c, ms=4, label=f"k = {int(k)}")
        m, sd, _ = _spread(loose.sel(k=k), ("alpha",))
        _band(axes[1], x, m, sd, c, f"k = {int(k)}")
    checked = int(np.isfinite(holds.values).sum())
    held = int(np.nansum(holds.values == 1))
    axes[0].set_ylim(-0.05, 1.05)
    axes[0].set_xlabel(r"$\log(1/\alpha)$")
    axes[0].set_ylabel("fraction of cells with a non-empty certified interval")
    axes[0].set_title(
        f"certified intervals: non-empty where alpha is small enough\n"
        f"(bound held in {held} of {checked} non-empty cells)",
        fontsize=10,
    )
    axes[1].set_xlabel(r"$\log(1/\alpha)$")
    axes[1].set_ylabel("certified start - measured start (time)")
    axes[1].set_title(
        f"looseness of the left end ({_over(loose, ('alpha', 'k', 'method'))})", fontsize=10
    )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    return fig


def fig_sweep_distance(ds: xr.Dataset) -> Figure:
    """For simulations: max over t of ``||W_method(t) - W_closed(t)||_F`` over the grid."""
    second = _second_axis(ds)
    sims = [m for m in ds["method"].values if m != "closed_form"]
    fig, axes = new_figure(FIGSIZE if second is not None else (7.0, 4.8), ncols=2 if second else 1)
    dist = ds["cf_distance"]
    x = np.log(1.0 / ds["alpha"].values)
    for i, m in enumerate(sims):
        logd = cast(xr.DataArray, np.log10(np.maximum(dist.sel(method=m), 1e-300)))
        mean, sd, _ = _spread(logd, ("alpha",))
        _band(axes[0], x, mean, sd, mode_color(i + 1), str(m))
    axes[0].set_xlabel(r"$\log(1/\alpha)$")
    axes[0].set_ylabel(r"$\log_{10}\, \max_t \|W(t) - W_{closed}(t)\|_F$")
    axes[0].set_title(
        f"distance to the closed form ({_over(dist, ('alpha', 'method'))})", fontsize=10
    )
    axes[0].legend(loc="upper left")
    if second is not None and sims:
        ax = axes[1]
        d = _mean_over(dist.sel(method=sims[-1]), ("alpha", second)).transpose(second, "alpha")
        vals = np.log10(np.maximum(d.values, 1e-300))
        mesh = ax.pcolormesh(x, np.arange(ds.sizes[second]), vals, shading="nearest")
        ax.set_yticks(np.arange(ds.sizes[second]), [f"{v:g}" for v in ds[second].values])
        ax.set_ylabel(second)
        fig.colorbar(mesh, ax=ax, label=f"log10 distance ({sims[-1]})")
        ax.set_xlabel(r"$\log(1/\alpha)$")
        ax.set_title(f"phase diagram over log(1/alpha) and {second}")
    return fig


def fig_sweep_lazy_rich(ds: xr.Dataset) -> Figure:
    """The lazy/rich phase diagram over ``(lam, alpha)`` (rows, columns), exact at ``t = inf``,
    averaged over the other grid dimensions (failed cells: NaN, left white)."""
    names = ["kernel_distance", "representation_distance", "alignment_final", "time_to_learn"]
    keep = ("lam", "alpha")
    fields = {n: _mean_over(ds[n], keep).transpose(*keep).values for n in names}
    fig, axes = new_figure((12.0, 9.0), nrows=2, ncols=2, sharex=True, sharey=True)
    axes = axes.ravel()
    draw_phase_panels(
        fig,
        axes,
        ds["lam"].values.astype(np.float64),
        ds["alpha"].values.astype(np.float64),
        fields,
        tol=float(ds["tol"].max()),
    )
    for ax in axes[2:]:
        ax.set_xlabel(r"absolute scale $\alpha$ (singular values of $W_2 W_1(0)$)")
    for ax in axes[::2]:
        ax.set_ylabel(r"relative scale $\lambda$ ($W_2^T W_2 - W_1 W_1^T = \lambda I$)")
    others = [str(d) for d in ds["status"].dims if d not in keep]
    fig.suptitle(
        f"Lazy vs rich sweep '{ds.attrs.get('name', '')}': {ds.sizes['lam']} x "
        f"{ds.sizes['alpha']} cells, each exact at t = inf"
        + (f"; mean over {', '.join(others)}" if others else ""),
        fontsize=11,
    )
    return fig


SWEEP_FIGURES: dict[str, Callable[[xr.Dataset], Figure]] = {
    "sweep_lazy_rich": fig_sweep_lazy_rich,
    "sweep_transitions": fig_sweep_transitions,
    "sweep_theorem": fig_sweep_theorem,
    "sweep_distance": fig_sweep_distance,
}


def sweep_figures(ds: xr.Dataset) -> list[str]:
    """Names of the sweep figures ``ds`` (an :func:`~.store.open_sweep` view) has data for."""
    if "alpha" not in ds.dims:
        return []
    names = []
    if "kernel_distance" in ds and "lam" in ds.dims:
        names.append("sweep_lazy_rich")
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
        ((name, partial(SWEEP_FIGURES[name], ds)) for name in sweep_figures(ds)), out
    )
