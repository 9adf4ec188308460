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
    "plot_sweep",
    "sweep_figures",
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
    "gd_vs_gf": (15.0, 4.8),
    "asymmetric": (15.0, 4.6),
    "deep": (15.0, 4.4),
    "sensing": (15.0, 4.6),
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


# ---- beyond the paper --------------------------------------------------------------------------
_PROBLEM_STYLE = {"symmetric": ("#1f77b4", "o"), "asymmetric": ("#d62728", "s")}
_THRESHOLDS = [
    ("eta_incremental", ":", "largest eta with incremental learning"),
    ("eta_stability", "--", r"$2/\lambda_{\max}$ (linear stability)"),
    ("eta_blowup", "-.", "smallest eta that blows up"),
]


def fig_gd_vs_gf(ds: xr.Dataset) -> Figure:
    """GD vs the flow: the gap against eta with its order and the critical step sizes, and GD's
    learning curves in three regimes, for the symmetric and the asymmetric problem."""
    etas = ds["eta_gap"].values
    fig, axes = _figure("gd_vs_gf", ncols=3, width_ratios=[1.25, 1.0, 1.0])
    ax = axes[0]
    top = float(np.nanmax(np.where(np.isfinite(ds["gap"].values), ds["gap"].values, np.nan)))
    for prob in ds["problem"].values:
        color, marker = _PROBLEM_STYLE[str(prob)]
        gap = ds["gap"].sel(problem=prob).values
        ok = np.isfinite(gap)
        order = float(ds["gap_order"].sel(problem=prob))
        const = float(ds["gap_constant"].sel(problem=prob))
        ax.loglog(etas[ok], gap[ok], marker + "-", color=color, ms=5, lw=1.4, label=str(prob))
        if np.any(~ok):
            y_div = (1.6 if prob == "symmetric" else 2.4) * top
            ax.plot(etas[~ok], np.full((~ok).sum(), y_div), "x", color=color, ms=8, mew=2)
        fit = etas <= _scalar(ds, "gap_fit_eta_max")
        ax.loglog(
            etas[fit],
            const * etas[fit] ** order,
            color=color,
            lw=3.5,
            alpha=0.3,
            label=f"fit: order {order:.2f}",
        )
        for var, ls, _ in _THRESHOLDS:
            v = float(ds[var].sel(problem=prob))
            if math.isfinite(v):
                ax.axvline(v, color=color, ls=ls, lw=1.1)
    handles, labels = ax.get_legend_handles_labels()
    for _, ls, text in _THRESHOLDS:
        handles.append(Line2D([], [], color="0.3", ls=ls, lw=1.1))
        labels.append(text)
    handles.append(Line2D([], [], marker="x", ls="", color="0.3", mew=2))
    labels.append("diverged")
    ax.legend(handles, labels, loc="upper left", fontsize=8)
    ax.set_ylim(top=4.0 * top)
    ax.set_xlabel(r"step size $\eta$")
    ax.set_ylabel(r"$\max_k \|W_k - W(k\eta)\|_F / \|Y\|_F$")
    ax.set_title(rf"distance of GD to the flow ({_alpha_label(_scalar(ds, 'gap_alpha'))})")
    t = ds["gap_time"].values
    regimes = ds["regime"].values
    shades = ["#2ca02c", "#ff7f0e", "#7f7f7f"]
    for ax, prob in zip(axes[1:], ds["problem"].values, strict=True):
        sig = ds["gap_sigma"].sel(problem=prob).values
        flow = ds["gap_flow_values"].sel(problem=prob).values
        for i in range(flow.shape[1]):
            ax.plot(t, flow[:, i], color="k", lw=2.2, label="flow (exact)" if i == 0 else None)
        for j, reg in enumerate(regimes):
            eta = float(ds["gap_show_eta"].sel(problem=prob).values[j])
            tg = ds["gap_gd_time"].sel(problem=prob).values[j]
            vg = ds["gap_gd_values"].sel(problem=prob).values[j]
            for i in range(vg.shape[1]):
                ax.plot(
                    tg,
                    vg[:, i],
                    color=shades[j],
                    lw=1.3,
                    ls="--" if j < 2 else "-",
                    alpha=0.9 if j < 2 else 0.6,
                    label=rf"GD $\eta = {eta:.3g}$ ({reg})" if i == 0 else None,
                )
        ax.set_ylim(-0.05 * sig[0], 1.35 * sig[0])
        ax.set_xlim(0, t[-1])
        ax.set_xlabel(r"time $t = k\eta$")
        what = "eigenvalues of $UU^T$" if prob == "symmetric" else "singular values of $UV^T$"
        ax.set_ylabel(what)
        ax.set_title(f"{prob} problem")
        ax.legend(loc="upper left", fontsize=7.5)
    return fig


def fig_asymmetric(ds: xr.Dataset) -> Figure:
    """Singular values of ``U V^T`` for balanced, lambda-balanced and unbalanced inits, and the
    transition shifts of unbalanced inits against their linear-phase prediction."""
    t = ds["asym_time"].values
    sig = ds["asym_sigma"].values
    inits = ds["init"].values
    fig, axes = _figure("asymmetric", ncols=inits.size + 1, width_ratios=[1.0] * inits.size + [0.9])
    m, n = ds.sizes["asym_row"], ds.sizes["asym_col"]
    for ax, init in zip(axes, inits, strict=False):
        vals = ds["asym_values"].sel(init=init).values
        trans = ds["asym_transition"].sel(init=init).values
        for k in ds["asym_k"].values:
            c = mode_color(int(k))
            ax.plot(t, vals[:, k - 1], color=c, label=rf"$\sigma_{k} = {sig[k - 1]:g}$")
            ax.axhline(sig[k - 1], color=c, lw=0.5, alpha=0.5)
            if math.isfinite(trans[k - 1]):
                ax.axvline(trans[k - 1], color=c, ls=":", lw=1.0)
        how = "closed form" if int(ds["asym_exact"].sel(init=init)) else "ODE solve"
        imb = float(ds["asym_imbalance"].sel(init=init))
        imb_text = "0" if imb <= 1e-12 * _scalar(ds, "asym_alpha") else f"{imb:.2g}"
        ax.set_title(f"{init}\n({how}; imbalance {imb_text})", fontsize=10)
        ax.set_xlabel(TIME_LABEL)
        ax.set_xlim(0, t[-1])
        ax.set_ylim(-0.05 * sig[0], 1.1 * sig[0])
    axes[0].set_ylabel(rf"singular values of $U V^T$ ($Y$: {m} x {n})")
    axes[0].legend(loc="center right", fontsize=8)
    ax = axes[-1]
    shift = ds["asym_study_shift"].values
    pred = ds["asym_study_predicted_shift"].values
    rhos = ds["rho"].values
    lo = float(min(np.nanmin(shift), np.nanmin(pred), 0.0))
    ax.plot([lo * 1.1, 0.05], [lo * 1.1, 0.05], color="0.5", lw=1.0, ls="--", label="y = x")
    markers = "osD^v<>"
    for j, r in enumerate(rhos):
        if r == 0:
            continue
        for k in ds["asym_k"].values:
            ax.plot(
                pred[j, k - 1],
                shift[j, k - 1],
                markers[j % len(markers)],
                color=mode_color(int(k)),
                ms=6,
                mfc="none" if j % 2 else mode_color(int(k)),
            )
        ax.plot(
            [],
            [],
            markers[j % len(markers)],
            color="0.3",
            mfc="none" if j % 2 else "0.3",
            label=rf"$\rho = {r:g}$",
        )
    ax.set_xlabel("predicted shift (linear phase)")
    ax.set_ylabel("measured shift of the transition vs balanced")
    ax.set_title("transition shifts of unbalanced inits\n(same initial product)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(
        rf"Asymmetric factorization $Y \approx U V^T$: incremental learning for every init "
        rf"({_alpha_label(_scalar(ds, 'asym_alpha'))})"
    )
    return fig


def fig_deep(ds: xr.Dataset) -> Figure:
    """Talk figure 2: GD on deep matrix sensing learns the singular values one by one, more
    sharply with depth; the exact balanced per-mode curves beside them."""
    depths = ds["depth"].values
    fig, axes = _figure("deep", ncols=depths.size + 1)
    sig = ds["deep_Y_sigma"].values
    K = ds.sizes["deep_k"]
    for ax, L in zip(axes, depths, strict=False):
        t = ds["deep_gd_time"].sel(depth=L).values
        gd = ds["deep_gd_values"].sel(depth=L).values
        ex = ds["deep_exact_values"].sel(depth=L).values
        for i in range(gd.shape[1]):
            c = mode_color(i + 1) if i < K else "0.6"
            ax.plot(t, gd[:, i], color=c, lw=2.0 if i < K else 1.0)
        for i in range(K):
            ax.plot(t, ex[:, i], color=mode_color(i + 1), ls="--", lw=1.1)
            ax.axhline(sig[i], color=mode_color(i + 1), lw=0.5, alpha=0.5)
        eta = float(ds["deep_eta"].sel(depth=L))
        ax.set_title(rf"depth $L = {int(L)}$ (GD, $\eta = {eta:.2g}$)")
        ax.set_xlabel(r"time $t = k\eta$")
        ax.set_xlim(0, t[-1])
        ax.set_ylim(-0.05 * sig[0], 1.12 * sig[0])
    axes[0].set_ylabel(r"singular values of $W_L \cdots W_1$")
    handles = [Line2D([], [], color=mode_color(i + 1), lw=2.0) for i in range(K)] + [
        Line2D([], [], color="0.6", lw=1.0),
        Line2D([], [], color="k", ls="--", lw=1.1),
    ]
    labels = [rf"$\sigma_{i + 1} = {sig[i]:g}$" for i in range(K)] + [
        "zero singular values of Y",
        r"exact, balanced spectral init ($s_0 = \alpha$)",
    ]
    axes[0].legend(handles, labels, loc="lower right", fontsize=7.5)
    ax = axes[-1]
    u = ds["deep_u"].values
    for j, L in enumerate(depths):
        ax.plot(
            u,
            ds["deep_normalized"].sel(depth=L).values,
            color=plt.get_cmap("viridis")(j / max(depths.size - 1, 1) * 0.85),
            label=rf"$L = {int(L)}$",
        )
    ax.set_xlabel(r"$t / t_{1/2}$ (mode 1)")
    ax.set_ylabel(r"$s_1(t) / \sigma_1$ (exact)")
    ax.set_title("sharper with depth")
    ax.legend(loc="lower right")
    fig.suptitle(
        rf"Deep factorization on Gaussian matrix sensing (n = {ds.sizes['deep_sv']}, "
        rf"m = {int(_scalar(ds, 'deep_m'))}, small random init, "
        rf"{_alpha_label(_scalar(ds, 'deep_alpha'))}): singular values are learned one by one"
    )
    return fig


def fig_sensing(ds: xr.Dataset) -> Figure:
    """Gaussian sensing against the identity-operator closed form as ``m / (n r)`` grows."""
    ratios = ds["ratio"].values
    t = ds["sense_time"].values
    sig = ds["sense_sigma"].values
    fig, axes = _figure("sensing", ncols=3)
    ax = axes[0]
    cf = ds["sense_cf_values"].values
    for k in ds["sense_k"].values:
        c = mode_color(int(k))
        ax.plot(t, cf[:, k - 1], color=c, lw=2.4, label=rf"$\sigma_{k} = {sig[k - 1]:g}$")
        for ratio, ls in ((ratios[0], ":"), (ratios[-1], "--")):
            ax.plot(t, ds["sense_values"].sel(ratio=ratio).values[:, k - 1], color=c, ls=ls, lw=1.2)
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
    ax.set_title(
        f"n = {int(_scalar(ds, 'sense_n'))}, rank r = {sig.size}, "
        + _alpha_label(_scalar(ds, "sense_alpha"))
    )
    ax = axes[1]
    dist = ds["sense_distance"].values
    for s in range(dist.shape[1]):
        ax.loglog(ratios, dist[:, s], "o", color="#1f77b4", ms=4, alpha=0.45)
    ax.loglog(ratios, dist.mean(axis=1), "o-", color="#1f77b4", lw=1.6, label="mean over seeds")
    slope = _scalar(ds, "sense_distance_slope")
    ax.loglog(
        ratios,
        _scalar(ds, "sense_distance_constant") * ratios**slope,
        "k--",
        lw=1.1,
        label=f"fit: slope {slope:.2f}",
    )
    ax.set_xlabel(r"measurements per degree of freedom $m / (n r)$")
    ax.set_ylabel(r"$\max_t \|s(t) - s_{\mathrm{closed}}(t)\|_2 / \|\sigma\|_2$")
    ax.set_title(f"distance to the closed form ({dist.shape[1]} seeds)")
    ax.legend(loc="lower left")
    ax = axes[2]
    trans = ds["sense_transition"].values
    for k in ds["sense_k"].values:
        c = mode_color(int(k))
        vals = trans[:, :, k - 1]
        mean = np.nanmean(vals, axis=1) if np.any(np.isfinite(vals)) else vals[:, 0]
        for s in range(vals.shape[1]):
            ax.semilogx(ratios, vals[:, s], "o", color=c, ms=4, alpha=0.4)
        ax.semilogx(ratios, mean, "-", color=c, lw=1.4)
        ax.axhline(float(ds["sense_cf_transition"].sel(sense_k=k)), color=c, ls="--", lw=1.2)
        ax.axhline(float(ds["sense_t_predicted"].sel(sense_k=k)), color=c, ls=":", lw=1.0)
    ax.plot([], [], "o-", color="0.3", label="Gaussian sensing (seeds, mean)")
    ax.plot([], [], "--", color="0.3", label="closed form, measured")
    ax.plot([], [], ":", color="0.3", label=r"prediction $\log(1/\alpha)/(2\sigma_i)$")
    ax.set_xlabel(r"$m / (n r)$")
    ax.set_ylabel(r"transition time (first crossing of $\sigma_i / 2$)")
    ax.set_title("transition times approach the closed form's")
    ax.legend(loc="upper right", fontsize=8)
    return fig


# ---- run figures -----------------------------------------------------------------------------
def _curves(ds: xr.Dataset, prefix: str) -> np.ndarray | None:
    """A method's learning curves: eigenvalues (paper setting) or singular values."""
    for name in (f"{prefix}_eigvals", f"{prefix}_values"):
        if name in ds:
            return ds[name].values
    return None


def fig_learning_curves(ds: xr.Dataset) -> Figure:
    """``mfflow run``: eigen- or singular values of the product by every method that ran."""
    t = ds["time"].values
    fig, axes = _figure("learning_curves", ncols=2)
    n = ds.sizes["mode"]
    stride = max(1, t.size // 60)
    cf, gf, gd, ref = (_curves(ds, p) for p in ("cf", "gf", "gd", "ref"))
    label = ds.attrs.get("curve_label_tex", "eigenvalues of $W(t)$")
    for ax, log in zip(axes, (False, True), strict=True):
        for m in range(1, n + 1):
            c = mode_color(m)
            if ref is not None:
                ax.plot(t, ref[:, m - 1], color="0.55", lw=1.0, ls="--")
            if cf is not None:
                ax.plot(t, cf[:, m - 1], color=c, label=f"value {m}")
            if gf is not None:
                ax.plot(
                    t[::stride],
                    gf[::stride, m - 1],
                    "o" if cf is not None else "o-",
                    ms=4,
                    lw=1.2,
                    mfc="none",
                    mec=c,
                    color=c,
                    label=None if cf is not None else f"value {m}",
                )
            if gd is not None:
                g = ds["gd_time"].values
                gs = max(1, g.size // 60)
                ax.plot(
                    g[::gs],
                    gd[::gs, m - 1],
                    "x" if cf is not None or gf is not None else "x-",
                    ms=4,
                    lw=1.2,
                    color=c,
                    label=None if cf is not None or gf is not None else f"value {m}",
                )
        if log:
            ax.set_yscale("log")
        ax.set_xlabel(TIME_LABEL)
        ax.set_ylabel(label)
    handles, labels = axes[0].get_legend_handles_labels()
    if cf is not None:
        handles.append(Line2D([], [], color="k"))
        labels.append("closed form")
    if ref is not None:
        handles.append(Line2D([], [], color="0.55", ls="--"))
        labels.append(ds.attrs.get("ref_label", "reference"))
    if gf is not None:
        handles.append(Line2D([], [], marker="o", ls="", mfc="none", mec="k"))
        labels.append("gradient flow (ODE solve)")
    if gd is not None:
        handles.append(Line2D([], [], marker="x", ls="", color="k"))
        labels.append(rf"gradient descent, $\eta = {_scalar(ds, 'eta'):g}$")
    fig.legend(handles, labels, loc="outside right center")
    axes[0].set_title(f"learning curves ({_alpha_label(_scalar(ds, 'alpha'))})")
    axes[1].set_title("log scale")
    return fig


def fig_loss(ds: xr.Dataset) -> Figure:
    """``mfflow run``: the training loss by every method that ran."""
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
    ax.set_ylabel(ds.attrs.get("loss_label", r"loss $\frac{1}{4}\|Y - W(t)\|_F^2$"))
    ax.set_title("loss: one plateau per value not yet learned")
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
    "gd_vs_gf": fig_gd_vs_gf,
    "asymmetric": fig_asymmetric,
    "deep": fig_deep,
    "sensing": fig_sensing,
}

#: Figures of ``mfflow run`` (``rank_k`` only when the theorem's data is there).
RUN_FIGURES: dict[str, Drawer] = {
    "learning_curves": fig_learning_curves,
    "loss": fig_loss,
    "rank_k": fig_rank_k,
}


def _save_figures(
    ds: xr.Dataset,
    names: list[str],
    builders: dict[str, Callable[[xr.Dataset], Figure]],
    out: str | Path,
) -> list[Path]:
    """Draw ``builders[name](ds)`` for each name and save it as PNG and PDF (atomic writes)."""
    from .report import atomic_write

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with plt.rc_context(STYLE):
        for name in names:
            fig = builders[name](ds)
            try:
                for ext in ("png", "pdf"):
                    path = out / f"{name}.{ext}"
                    with atomic_write(path) as tmp:
                        fig.savefig(tmp, format=ext, dpi=DPI)
                    written.append(path)
            finally:
                plt.close(fig)
    return written


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
    table = RUN_FIGURES if ds.attrs.get("kind") == "run" else REPRODUCE_FIGURES
    return _save_figures(ds, figure_names(ds), table, out)


# ---- sweeps (``mfflow plot STORE``): phase diagrams from :func:`mfflow.sweep.open_sweep` ------
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
    fig, axes = plt.subplots(1, 2, figsize=(13.0, 4.8), constrained_layout=True)
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
    fig, axes = plt.subplots(1, 2, figsize=(13.0, 4.8), constrained_layout=True)
    x = np.log(1.0 / ds["alpha"].values)
    holds = ds["theorem_holds"]
    ok = np.isfinite(holds)
    keep = ("alpha", "k")
    num = _mean_over(holds.where(ok), keep)
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
    fig, axes = plt.subplots(1, 2, figsize=(13.0, 4.8), constrained_layout=True)
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


SWEEP_FIGURES: dict[str, Drawer] = {
    "sweep_transitions": fig_sweep_transitions,
    "sweep_theorem": fig_sweep_theorem,
    "sweep_distance": fig_sweep_distance,
}


def sweep_figures(ds: xr.Dataset) -> list[str]:
    """Names of the sweep figures ``ds`` (an :func:`mfflow.sweep.open_sweep` view) has data for."""
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
    """Draw the sweep figures into ``out`` (PNG and PDF, atomically); returns the paths.

    Needs ``alpha`` as a grid dimension; every other dimension is averaged over (NaN-aware).
    """
    return _save_figures(ds, sweep_figures(ds), SWEEP_FIGURES, out)
