"""Figures drawn from a results dataset only (``mfflow plot RESULTS.nc`` redraws them).

Every function here takes the :class:`xarray.Dataset` written by :mod:`mfflow.report` and
returns a matplotlib figure; nothing is recomputed. :func:`plot_all` draws every figure the
dataset has data for and saves each as PNG and PDF, atomically. One style for all figures
(:data:`STYLE`), one colour per mode or rank (:func:`mode_color`), fixed sizes
(:data:`FIGSIZES`, :data:`DPI`) so a PNG is ``figsize * DPI`` pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = [
    "DPI",
    "FIGSIZES",
    "REPRODUCE_FIGURES",
    "RUN_FIGURES",
    "STYLE",
    "figure_names",
    "mode_color",
    "plot_all",
]

#: Resolution of the PNGs (pixels per inch).
DPI = 150

#: One matplotlib style for every figure.
STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 2.0,
    "legend.frameon": False,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
}

_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]
TIME_LABEL = "time t (gradient-flow units)"

#: Size (inches) of each figure; its PNG is ``FIGSIZES[name] * DPI`` pixels.
FIGSIZES: dict[str, tuple[float, float]] = {
    "one_mode": (11.0, 4.2),
    "incremental": (13.0, 4.0),
    "general_init": (12.0, 4.5),
    "rank_k": (9.0, 6.0),
    "time_scales": (8.0, 5.0),
    "early_stopping": (12.0, 4.5),
    "learning_curves": (13.0, 4.5),
    "loss": (7.0, 4.5),
}


def mode_color(i: int) -> str:
    """Colour of mode (or rank) ``i`` (1-based), the same in every figure."""
    return _PALETTE[(i - 1) % len(_PALETTE)]


def _alpha_label(a: float) -> str:
    e = math.log10(a)
    if abs(e - round(e)) < 1e-9:
        return rf"$\alpha = 10^{{{round(e)}}}$"
    return rf"$\alpha = {a:.3g}$"


def _scalar(ds: xr.Dataset, name: str) -> float:
    return float(ds[name].values)


def _figure(name: str, **kwargs: object) -> tuple[Figure, np.ndarray]:
    fig, axes = plt.subplots(figsize=FIGSIZES[name], layout="constrained", squeeze=False, **kwargs)
    return fig, axes.ravel()


def _learned_until(values: np.ndarray, t: np.ndarray, sigma: np.ndarray) -> float:
    """First time every mode is within 2% of its target (for x limits)."""
    ok = np.all(values >= 0.98 * sigma[None, :], axis=1)
    idx = np.flatnonzero(ok)
    return float(t[idx[0]]) if idx.size else float(t[-1])


# ---- reproduce figures -----------------------------------------------------------------------
def fig_one_mode(ds: xr.Dataset) -> Figure:
    """Figure 3 of the talk: one mode's learning curve, its transition, the per-mode bounds."""
    t = ds["time"].values
    v = ds["one_mode_value"].values
    i = int(_scalar(ds, "one_mode_index"))
    sig = _scalar(ds, "one_mode_sigma")
    eps = _scalar(ds, "eps")
    alpha = _scalar(ds, "one_mode_alpha")
    t_lo, t_hi = _scalar(ds, "one_mode_t_lower"), _scalar(ds, "one_mode_t_upper")
    t_pred = _scalar(ds, "one_mode_t_predicted")
    t_end = min(float(t[-1]), 1.35 * t_hi)
    keep = t <= t_end
    fig, axes = _figure("one_mode", ncols=2)
    color = mode_color(i)
    for ax, log in zip(axes, (False, True), strict=True):
        ax.axvspan(0, t_lo, color="0.85", alpha=0.6, lw=0)
        ax.axvspan(t_hi, t_end, color=color, alpha=0.10, lw=0)
        ax.plot(t[keep], v[keep], color=color, label=rf"$\sigma_{{{i},W}}(t)$ (closed form)")
        ax.axhline(sig, color="k", ls=":", lw=1.2, label=rf"$\sigma_{{{i},Y}} = {sig:g}$")
        ax.axhline(eps, color="0.4", ls="--", lw=1.0, label=rf"$\varepsilon = {eps:g}$")
        ax.axhline(
            sig - eps, color=color, ls="--", lw=1.0, label=rf"$\sigma_{{{i},Y}} - \varepsilon$"
        )
        ax.axvline(
            t_pred,
            color="k",
            ls="-.",
            lw=1.2,
            label=rf"predicted transition $\log(1/\alpha)/(2\sigma_{{{i},Y}})$",
        )
        ax.set_xlim(0, t_end)
        ax.set_xlabel(TIME_LABEL)
        if log:
            ax.set_yscale("log")
            ax.set_ylim(alpha * 0.3, sig * 3)
            ax.set_title("log scale: plateau near alpha, exponential growth")
        else:
            ax.set_ylim(-0.05 * sig, 1.12 * sig)
            ax.set_title(f"one mode learns its eigenvalue ({_alpha_label(alpha)})")
    axes[0].set_ylabel(rf"$\sigma_{{{i},W}}(t)$ = mode {i} of $W(t)$")
    ymax = axes[0].get_ylim()[1]
    axes[0].text(t_lo / 2, 0.5 * ymax, r"certified $\leq \varepsilon$", ha="center", fontsize=9)
    axes[0].text(
        (t_hi + t_end) / 2,
        0.5 * ymax,
        r"certified $\geq \sigma - \varepsilon$",
        ha="center",
        fontsize=9,
    )
    axes[1].legend(loc="lower right")
    return fig


def fig_incremental(ds: xr.Dataset) -> Figure:
    """Figure 4 of the talk: all modes, one panel per alpha; transitions separate."""
    alphas = ds["alpha"].values
    t = ds["time"].values
    sig = ds["sigma_Y"].values
    fig, axes = _figure("incremental", ncols=alphas.size, sharey=True)
    for ax, a in zip(axes, alphas, strict=True):
        vals = ds["incr_value"].sel(alpha=a).values
        pos = sig > 0
        t_end = 1.3 * _learned_until(vals[:, pos], t, sig[pos])
        keep = t <= t_end
        for m in ds["mode"].values:
            c = mode_color(int(m))
            ax.plot(t[keep], vals[keep, m - 1], color=c, label=rf"$\sigma_{m} = {sig[m - 1]:g}$")
            tp = float(ds["incr_t_predicted"].sel(alpha=a, mode=m))
            if math.isfinite(tp) and tp > 0:
                ax.axvline(tp, color=c, ls=":", lw=1.0)
            if sig[m - 1] > 0:
                ax.axhline(sig[m - 1], color=c, ls="-", lw=0.5, alpha=0.5)
        ax.set_xlim(0, t_end)
        ax.set_title(_alpha_label(float(a)))
        ax.set_xlabel(TIME_LABEL)
    axes[0].set_ylabel(r"$\sigma_{i,W}(t)$: component of $W(t)$ along mode $i$")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], color="k", ls=":", lw=1.0))
    labels.append(r"predicted $\log(1/\alpha)/(2\sigma_i)$")
    fig.legend(handles, labels, loc="outside right center")
    fig.suptitle("Incremental learning emerges as the initialization scale shrinks")
    return fig


def fig_general_init(ds: xr.Dataset) -> Figure:
    """General (Gaussian) init: closed form vs flow simulation vs gradient-descent iterates."""
    t = ds["time_general"].values
    cf = ds["general_cf"].values
    eta = _scalar(ds, "gd_marker_eta")
    fig, axes = _figure("general_init", ncols=2)
    ax = axes[0]
    for m in ds["mode"].values:
        c = mode_color(int(m))
        ax.plot(t, cf[:, m - 1], color=c, label=f"eigenvalue {m} of W(t)")
        ax.plot(
            ds["t_sim"].values,
            ds["general_gf"].values[:, m - 1],
            "o",
            ms=4.5,
            mfc="none",
            mec=c,
            mew=1.0,
        )
        ax.plot(
            ds["gd_time"].values, ds["general_gd"].values[:, m - 1], "x", ms=4.5, color=c, mew=1.0
        )
    ax.set_yscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(r"eigenvalues of $W(t)$")
    ax.set_title(
        f"Gaussian init, r = {ds.sizes['col_r']}, " + _alpha_label(_scalar(ds, "general_alpha"))
    )
    handles, labels = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="k", lw=2),
        Line2D([], [], marker="o", ls="", mfc="none", mec="k"),
        Line2D([], [], marker="x", ls="", color="k"),
    ]
    labels += ["closed form", "gradient flow (ODE solve)", rf"gradient descent, $\eta = {eta:g}$"]
    ax.legend(handles, labels, loc="lower right", ncols=2)
    ax = axes[1]
    ax.semilogy(
        ds["t_sim"].values,
        np.maximum(ds["general_gf_error"].values, 1e-18),
        "o-",
        ms=3.5,
        lw=1.2,
        color="0.2",
        label="gradient flow (ODE, rtol 1e-10)",
    )
    ax.semilogy(
        ds["gd_time"].values,
        np.maximum(ds["general_gd_error"].values, 1e-18),
        "x-",
        ms=4,
        lw=1.2,
        color="#d62728",
        label=rf"gradient descent, $\eta = {eta:g}$",
    )
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(r"$\|W_{\mathrm{sim}}(t) - W_{\mathrm{closed}}(t)\|_2$")
    ax.set_title("distance to the closed form")
    ax.legend(loc="lower right")
    return fig


def fig_rank_k(ds: xr.Dataset) -> Figure:
    """The theorem: ``||W(t) - Yhat_k||_2`` for every k, certified and measured intervals."""
    t = ds["time"].values
    ks = ds["k"].values
    eps = _scalar(ds, "theorem_eps")
    lo_c, hi_c = ds["rank_cert_lo"].values, ds["rank_cert_hi"].values
    lo_m, hi_m = ds["rank_meas_lo"].values, ds["rank_meas_hi"].values
    finite = [x for x in (*lo_c, *lo_m, *hi_m) if math.isfinite(x)]
    t_end = float(t[-1])
    if finite and ds.attrs.get("kind") != "run":  # reproduce: crop the long grid
        t_end = min(t_end, 1.25 * max(finite))
    keep = t <= t_end
    fig, axes = _figure("rank_k", nrows=2, sharex=True, height_ratios=[3.2, 1.0])
    ax, bars = axes
    dist = ds["rank_distance"].values
    for j, k in enumerate(ks):
        c = mode_color(int(k))
        if math.isfinite(lo_m[j]):
            ax.axvspan(lo_m[j], min(hi_m[j], t_end), color=c, alpha=0.08, lw=0)
        ax.semilogy(
            t[keep],
            np.maximum(dist[j, keep], 1e-17),
            color=c,
            label=rf"$k = {k}$: $\|W(t) - \hat Y_{k}\|_2$",
        )
    ax.axhline(eps, color="k", ls="--", lw=1.2, label=rf"$\varepsilon = {eps:g}$")
    ax.set_ylabel(r"$\|W(t) - \hat Y_k\|_2$")
    ax.set_ylim(bottom=max(1e-16, float(np.nanmin(dist[:, keep])) / 3))
    hyp = "hypotheses hold" if int(ds["theorem_hypotheses_hold"]) else "hypotheses fail"
    ax.set_title(
        rf"distance to the best rank-k approximations "
        rf"({_alpha_label(_scalar(ds, 'theorem_alpha'))}, M = {_scalar(ds, 'theorem_M'):.3g}, "
        f"{hyp})"
    )
    handles, labels = ax.get_legend_handles_labels()
    handles += [Patch(color="0.3"), Patch(color="0.3", alpha=0.3)]
    labels += [r"certified $I_k$ (lower panel)", r"measured: error $\leq \varepsilon$ (shaded)"]
    ax.legend(handles, labels, loc="lower left", ncols=2)
    for j, k in enumerate(ks):
        c = mode_color(int(k))
        y = len(ks) - j
        if math.isfinite(lo_m[j]):
            bars.barh(
                y, min(hi_m[j], t_end) - lo_m[j], left=lo_m[j], height=0.7, color=c, alpha=0.3, lw=0
            )
        if math.isfinite(lo_c[j]) and lo_c[j] <= hi_c[j]:
            bars.barh(y, min(hi_c[j], t_end) - lo_c[j], left=lo_c[j], height=0.35, color=c)
    bars.set_yticks(np.arange(len(ks), 0, -1), [f"k = {k}" for k in ks])
    bars.set_ylim(0.4, len(ks) + 0.6)
    bars.grid(axis="y", visible=False)
    bars.set_xlim(0, t_end)
    bars.set_xlabel(TIME_LABEL)
    return fig


def fig_time_scales(ds: xr.Dataset) -> Figure:
    """Measured transition times against ``log(1/alpha)``, slopes ``1/(2 sigma_i)``."""
    alphas = ds["alpha_sweep"].values
    x = np.log(1.0 / alphas)
    sig = ds["sigma_Y"].values
    fig, axes = _figure("time_scales")
    ax = axes[0]
    for k in ds["k"].values:
        c = mode_color(int(k))
        meas = ds["sweep_t_measured"].sel(k=k).values
        pred = ds["sweep_t_predicted"].sel(k=k).values
        slope = float(ds["sweep_slope_fit"].sel(k=k))
        theory = float(ds["sweep_slope_theory"].sel(k=k))
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


def fig_early_stopping(ds: xr.Dataset) -> Figure:
    """Stopping between transitions k and k+1: error vs k against the Eckart-Young optimum."""
    ks = ds["k"].values
    alphas = ds["alpha_stop"].values
    eps = _scalar(ds, "eps")
    fig, axes = _figure("early_stopping", ncols=2)
    cmap = plt.get_cmap("viridis")
    for j, a in enumerate(alphas):
        c = cmap(j / max(alphas.size - 1, 1) * 0.9)
        err = ds["stop_error"].sel(alpha_stop=a).values
        hat = ds["stop_error_hat"].sel(alpha_stop=a).values
        axes[0].plot(ks, err, "o-", color=c, ms=5, lw=1.4, label=_alpha_label(float(a)))
        axes[1].semilogy(
            ks, np.maximum(hat, 1e-17), "o-", color=c, ms=5, lw=1.4, label=_alpha_label(float(a))
        )
    axes[0].plot(
        ks,
        ds["eckart_young"].values,
        "s--",
        color="k",
        ms=7,
        mfc="none",
        lw=1.4,
        label=r"Eckart-Young optimum $\sigma_{k+1}$",
    )
    axes[0].set_ylabel(r"$\|W(t_k) - Y\|_2$")
    axes[0].set_title("error of the early-stopped W against the best rank-k error")
    axes[1].axhline(eps, color="k", ls="--", lw=1.2, label=rf"$\varepsilon = {eps:g}$")
    axes[1].set_ylabel(r"$\|W(t_k) - \hat Y_k\|_2$")
    axes[1].set_title(r"distance to the best rank-k approximation $\hat Y_k$")
    for ax in axes:
        ax.set_xlabel(r"rank $k$ (stopped at $t_k$, between transitions $k$ and $k+1$)")
        ax.set_xticks(ks)
        ax.legend(loc="lower left", fontsize=8)
    return fig


# ---- run figures -----------------------------------------------------------------------------
def fig_learning_curves(ds: xr.Dataset) -> Figure:
    """``mfflow run``: eigenvalues of ``W(t)`` by every method that ran (linear and log)."""
    t = ds["time"].values
    fig, axes = _figure("learning_curves", ncols=2)
    n = ds.sizes["mode"]
    stride = max(1, t.size // 60)
    for ax, log in zip(axes, (False, True), strict=True):
        for m in range(1, n + 1):
            c = mode_color(m)
            if "cf_eigvals" in ds:
                ax.plot(t, ds["cf_eigvals"].values[:, m - 1], color=c, label=f"eigenvalue {m}")
            if "gf_eigvals" in ds:
                ax.plot(
                    t[::stride],
                    ds["gf_eigvals"].values[::stride, m - 1],
                    "o",
                    ms=4,
                    mfc="none",
                    mec=c,
                )
            if "gd_eigvals" in ds:
                g = ds["gd_time"].values
                gs = max(1, g.size // 60)
                ax.plot(g[::gs], ds["gd_eigvals"].values[::gs, m - 1], "x", ms=4, color=c)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel(TIME_LABEL)
        ax.set_ylabel(r"eigenvalues of $W(t)$")
    handles, labels = axes[0].get_legend_handles_labels()
    if "cf_eigvals" in ds:
        handles.append(Line2D([], [], color="k"))
        labels.append("closed form")
    if "gf_eigvals" in ds:
        handles.append(Line2D([], [], marker="o", ls="", mfc="none", mec="k"))
        labels.append("gradient flow (ODE solve)")
    if "gd_eigvals" in ds:
        handles.append(Line2D([], [], marker="x", ls="", color="k"))
        labels.append(rf"gradient descent, $\eta = {_scalar(ds, 'eta'):g}$")
    fig.legend(handles, labels, loc="outside right center")
    axes[0].set_title(f"learning curves ({_alpha_label(_scalar(ds, 'alpha'))})")
    axes[1].set_title("log scale")
    return fig


def fig_loss(ds: xr.Dataset) -> Figure:
    """``mfflow run``: the loss ``1/4 ||Y - W(t)||_F^2`` by every method that ran."""
    fig, axes = _figure("loss")
    ax = axes[0]
    t = ds["time"].values
    if "cf_loss" in ds:
        ax.semilogy(t, ds["cf_loss"].values, color="k", label="closed form")
    if "gf_loss" in ds:
        s = max(1, t.size // 60)
        ax.semilogy(
            t[::s],
            ds["gf_loss"].values[::s],
            "o",
            ms=4,
            mfc="none",
            mec="#1f77b4",
            label="gradient flow (ODE solve)",
        )
    if "gd_loss" in ds:
        g = ds["gd_time"].values
        s = max(1, g.size // 60)
        ax.semilogy(
            g[::s], ds["gd_loss"].values[::s], "x", ms=4, color="#d62728", label="gradient descent"
        )
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(r"loss $\frac{1}{4}\|Y - W(t)\|_F^2$")
    ax.set_title("loss: one plateau per eigenvalue not yet learned")
    ax.legend()
    return fig


Drawer = Callable[[xr.Dataset], Figure]

#: Figures of ``mfflow reproduce``, in the story's order.
REPRODUCE_FIGURES: dict[str, Drawer] = {
    "one_mode": fig_one_mode,
    "incremental": fig_incremental,
    "general_init": fig_general_init,
    "rank_k": fig_rank_k,
    "time_scales": fig_time_scales,
    "early_stopping": fig_early_stopping,
}

#: Figures of ``mfflow run`` (``rank_k`` only when the theorem's data is there).
RUN_FIGURES: dict[str, Drawer] = {
    "learning_curves": fig_learning_curves,
    "loss": fig_loss,
    "rank_k": fig_rank_k,
}


def figure_names(ds: xr.Dataset) -> list[str]:
    """Names of the figures ``ds`` has data for."""
    if ds.attrs.get("kind") == "run":
        names = ["learning_curves"]
        if any(v in ds for v in ("cf_loss", "gf_loss", "gd_loss")):
            names.append("loss")
        if "rank_distance" in ds:
            names.append("rank_k")
        return names
    return list(REPRODUCE_FIGURES)


def plot_all(ds: xr.Dataset, out: str | Path) -> list[Path]:
    """Draw every figure ``ds`` has data for into ``out`` as ``NAME.png`` and ``NAME.pdf``.

    Returns the paths written, PNG then PDF per figure. Files are written atomically.
    """
    from .report import atomic_write

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = RUN_FIGURES if ds.attrs.get("kind") == "run" else REPRODUCE_FIGURES
    written: list[Path] = []
    with plt.rc_context(STYLE):
        for name in figure_names(ds):
            fig = table[name](ds)
            try:
                for ext in ("png", "pdf"):
                    path = out / f"{name}.{ext}"
                    with atomic_write(path) as tmp:
                        fig.savefig(tmp, format=ext, dpi=DPI)
                    written.append(path)
            finally:
                plt.close(fig)
    return written
