"""The theorem: ``||W(t) - Yhat_k||_2`` for every k with its certified and measured intervals.

:func:`theorem_dataset`, :func:`theorem_tables` and :func:`figure` are shared with
``mfflow run`` (its ``theorem`` group). Failed hypotheses are data (``hypotheses_hold`` and the
``failures`` attribute), never an exception.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from numpy.typing import NDArray

from .... import best_rank_k, check_theorem, closed_form, theorem_intervals
from ...plotting import TIME_LABEL, alpha_label, mode_color, new_figure
from ..document import Table, fmt, interval_cell, tri, yes_no
from ..section import Section, SectionConfig
from ..setup import Setup, positive_spectrum

FIGSIZE = (12.0, 6.4)


class Config(SectionConfig):
    alpha: float = 1e-30


def _interval(iv: tuple[float, float] | None) -> tuple[float, float]:
    """``(a, b)`` as floats; ``(nan, nan)`` for a missing (``None``) interval."""
    if iv is None:
        return math.nan, math.nan
    a, b = iv
    return float(a), float(b)


def _number(x: float | None) -> float:
    """A float, NaN (the file's missing value, shown ``-``) for a quantity that does not exist."""
    return math.nan if x is None else float(x)


def theorem_dataset(
    Y: NDArray[np.float64],
    U0: NDArray[np.float64],
    alpha: float,
    eps: float,
    time: NDArray[np.float64],
    *,
    crop: bool,
) -> xr.Dataset:
    """Distances ``||W(t) - Yhat_k||_2`` ``(k, time)`` and the theorem's intervals, per k.

    ``Y`` must have a positive eigenvalue. Certified intervals with the corrected endpoints
    (``cert_lo/hi``) and as transcribed from the paper (``paper_lo/hi``); measured intervals
    (``meas_lo/hi``, NaN where the error never drops below eps); the constants; whether the
    hypotheses hold and, in ``attrs["failures"]``, which fail. ``crop`` (stored) makes the
    figure stop a little after the last interval starts.
    """
    traj = closed_form(Y, U0, alpha)
    K = positive_spectrum(Y).size
    dist = np.stack([traj.distance(best_rank_k(Y, k), time) for k in range(1, K + 1)])
    check = check_theorem(Y, U0, alpha, eps)
    tc = check.constants
    rows = list(check.rows)
    cert = np.array([_interval(r.certified) for r in rows])
    paper = np.array(
        [
            _interval(iv)
            for iv in theorem_intervals(Y, U0, alpha, eps, endpoints="slide", check=False)
        ]
    )
    meas = np.array([_interval(r.measured) for r in rows])
    # the error where the transcribed interval starts (its left end is false: ~sigma_k there);
    # NaN where that end is not a time (infinite, or negative for a large alpha)
    paper_err = np.array(
        [
            float(traj.distance(best_rank_k(Y, k), np.array([lo]))[0])
            if math.isfinite(lo) and lo >= 0.0
            else math.nan
            for k, lo in zip(range(1, K + 1), paper[:, 0], strict=True)
        ]
    )
    return xr.Dataset(
        {
            "distance": (("k", "time"), dist, {"long_name": "||W(t) - Yhat_k||_2"}),
            "cert_lo": (("k",), cert[:, 0]),
            "cert_hi": (("k",), cert[:, 1]),
            "paper_lo": (("k",), paper[:, 0]),
            "paper_hi": (("k",), paper[:, 1]),
            "paper_lo_error": (("k",), paper_err),
            "sigma": (("k",), positive_spectrum(Y)),
            "meas_lo": (("k",), meas[:, 0]),
            "meas_hi": (("k",), meas[:, 1]),
            "max_error_on_certified": (
                ("k",),
                np.array([_number(r.max_error_on_certified) for r in rows]),
            ),
            "holds": (("k",), np.array([tri(r.holds) for r in rows], dtype=np.int8)),
            "contained": (("k",), np.array([tri(r.contained) for r in rows], dtype=np.int8)),
            "alpha": ((), float(alpha)),
            "eps": ((), float(eps)),
            "M": ((), float(tc.M)),
            "c_eps": ((), float(tc.c_eps)),
            "C_eps": ((), float(tc.C_eps)),
            "hypotheses_hold": ((), np.int8(bool(tc.hypotheses_hold))),
        },
        coords={"k": ("k", np.arange(1, K + 1)), "time": ("time", time)},
        attrs={
            "failures": "; ".join(str(f) for f in tc.failures),
            "status": tc.status,
            "crop": int(crop),
        },
    )


def compute(p: Setup, cfg: Config) -> xr.Dataset:
    return theorem_dataset(p.Y, p.U0_general, cfg.alpha, p.cfg.eps, p.time, crop=True)


def figure(ds: xr.Dataset) -> Figure:
    t = ds["time"].values
    ks = ds["k"].values
    eps = float(ds["eps"])
    lo_c, hi_c = ds["cert_lo"].values, ds["cert_hi"].values
    lo_m, hi_m = ds["meas_lo"].values, ds["meas_hi"].values
    has_paper = "paper_lo" in ds and not bool(np.all(np.isnan(ds["paper_lo"].values)))
    lo_p = ds["paper_lo"].values if has_paper else np.full(ks.size, np.nan)
    hi_p = ds["paper_hi"].values if has_paper else np.full(ks.size, np.nan)
    err_p = ds["paper_lo_error"].values if "paper_lo_error" in ds else np.full(ks.size, np.nan)
    ends = [x for x in (*lo_c, *hi_c, *lo_m, *hi_m, *lo_p) if math.isfinite(x)]
    t_end = float(t[-1])
    if ends and int(ds.attrs.get("crop", 0)):
        t_end = min(t_end, 1.12 * max(ends))
    keep = t <= t_end
    fig, axes = new_figure(FIGSIZE, nrows=2, sharex=True, height_ratios=[3.0, 1.4])
    ax, bars = axes
    dist = ds["distance"].values
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
        if has_paper and math.isfinite(lo_p[j]) and math.isfinite(err_p[j]):
            ax.plot([lo_p[j]], [err_p[j]], "X", color=c, ms=9, mec="k", mew=0.8)
    ax.axhline(eps, color="k", ls="--", lw=1.2, label=rf"$\varepsilon = {eps:g}$")
    ax.set_ylabel(r"$\|W(t) - \hat Y_k\|_2$")
    ax.set_ylim(bottom=max(1e-16, float(np.nanmin(dist[:, keep])) / 3))
    hyp = "hypotheses hold" if int(ds["hypotheses_hold"]) else "hypotheses fail"
    ax.set_title(
        rf"distance to the best rank-k approximations "
        rf"({alpha_label(float(ds['alpha']))}, M = {float(ds['M']):.3g}, "
        f"{hyp})"
    )
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Patch(color="0.3", alpha=0.25))
    labels.append(r"measured $\{t: \mathrm{error} \leq \varepsilon\}$ (shaded; light bars)")
    handles.append(Patch(color="0.3"))
    labels.append(r"certified $I_k$, corrected left end $\log(C_\varepsilon/\alpha)/(2\sigma_k)$")
    if has_paper:
        handles.append(Patch(facecolor="none", edgecolor="k", hatch="////", lw=0.8))
        labels.append(r"$I_k$ as transcribed, left end $\log(c_\varepsilon/\alpha)/(2\sigma_k)$")
        handles.append(Line2D([], [], marker="X", ls="", color="0.5", mec="k", ms=8))
        labels.append(r"error at the transcribed left end ($\approx \sigma_k \gg \varepsilon$)")
    fig.legend(handles, labels, loc="outside right upper", fontsize=9)
    h = 0.26
    for j, k in enumerate(ks):
        c = mode_color(int(k))
        y = len(ks) - j
        if math.isfinite(lo_m[j]):
            bars.barh(
                y, min(hi_m[j], t_end) - lo_m[j], left=lo_m[j], height=3 * h, color=c, alpha=0.25
            )
        if math.isfinite(lo_c[j]) and lo_c[j] <= hi_c[j]:
            bars.barh(y + h / 2, min(hi_c[j], t_end) - lo_c[j], left=lo_c[j], height=h, color=c)
        if has_paper and math.isfinite(lo_p[j]) and lo_p[j] <= hi_p[j]:
            bars.barh(
                y - h / 2,
                min(hi_p[j], t_end) - lo_p[j],
                left=lo_p[j],
                height=h,
                facecolor="none",
                edgecolor=c,
                hatch="////",
                lw=0.8,
            )
        if not math.isfinite(hi_c[j]) or not math.isfinite(hi_m[j]):
            bars.annotate(
                r"$\to\infty$",
                (t_end, y),
                xytext=(3, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=10,
                annotation_clip=False,
            )
    bars.set_yticks(np.arange(len(ks), 0, -1), [f"k = {k}" for k in ks])
    bars.set_ylim(0.4, len(ks) + 0.6)
    bars.grid(axis="y", visible=False)
    bars.set_xlim(0, t_end)
    bars.set_xlabel(TIME_LABEL)
    return fig


def theorem_tables(ds: xr.Dataset, constants_title: str) -> list[Table]:
    """The theorem's constants and the per-k intervals, from a :func:`theorem_dataset`."""
    row = [fmt(ds[key]) for key in ("alpha", "eps", "M", "c_eps", "C_eps")]
    row.append("yes" if int(ds["hypotheses_hold"]) else "no")
    constants = Table(
        constants_title, ["alpha", "eps", "M", "c_eps", "C_eps", "hypotheses hold"], [row]
    )
    rows = []
    has_paper = not bool(np.all(np.isnan(ds["paper_lo"].values)))
    for k in ds["k"].values:
        sel = {"k": k}
        cells = [str(int(k))]
        if has_paper:
            cells.append(
                interval_cell(float(ds["paper_lo"].sel(sel)), float(ds["paper_hi"].sel(sel)))
            )
            if "paper_lo_error" in ds:
                cells.append(fmt(ds["paper_lo_error"].sel(sel)))
        cells += [
            interval_cell(float(ds["cert_lo"].sel(sel)), float(ds["cert_hi"].sel(sel))),
            interval_cell(float(ds["meas_lo"].sel(sel)), float(ds["meas_hi"].sel(sel))),
            fmt(ds["max_error_on_certified"].sel(sel)),
            yes_no(ds["holds"].sel(sel)),
            yes_no(ds["contained"].sel(sel)),
        ]
        rows.append(cells)
    header = ["k"]
    if has_paper:
        header.append("I_k as transcribed (left end log(c_eps/alpha)/(2 sigma_k))")
        if "paper_lo_error" in ds:
            header.append("error at its left end")
    header += [
        "certified I_k (left end log(C_eps/alpha)/(2 sigma_k))",
        "measured {t: error <= eps}",
        "max error on certified",
        "bound holds",
        "certified inside measured",
    ]
    intervals = Table(
        "Certified vs measured intervals for ||W(t) - Yhat_k||_2 <= eps", header, rows
    )
    return [constants, intervals]


def tables(ds: xr.Dataset) -> list[Table]:
    return theorem_tables(ds, "Theorem constants (general init)")


def text(ds: xr.Dataset) -> list[str]:
    hyp = "hold" if int(ds["hypotheses_hold"]) else "do not hold"
    contained = int(np.sum(ds["contained"].values == 1))
    holds = int(np.sum(ds["holds"].values == 1))
    failures = ds.attrs.get("failures", "")
    eps = float(ds["eps"])
    K = ds.sizes["k"]
    paras = [
        "The theorem: for small alpha, W(t) is within eps (spectral norm) of the best "
        "rank-k approximation Yhat_k on an interval I_k, for every k. The curves are "
        "||W(t) - Yhat_k||_2; the lower panel shows, per k, the measured interval (light), "
        "the certified one (solid) and, hatched, the interval as transcribed from the talk.",
        f"At alpha = {fmt(ds['alpha'])} the hypotheses {hyp}"
        + (f" ({failures})" if failures else "")
        + f". The certified interval [log(C_eps/alpha)/(2 sigma_k), "
        f"log(c_eps/alpha)/(2 sigma_(k+1))] (C_eps = {fmt(ds['C_eps'])}, c_eps = "
        f"{fmt(ds['c_eps'])}) keeps the error below eps for {holds} of {K} ranks and lies "
        f"inside the measured one for {contained} of {K}. The bound is conservative: compare "
        "the interval lengths in the table.",
    ]
    if "paper_lo_error" in ds and not bool(np.all(np.isnan(ds["paper_lo"].values))):
        err = ds["paper_lo_error"].values
        sig = ds["sigma"].values
        ok = np.isfinite(err)
        ratio = ", ".join(
            f"{fmt(e)} = {fmt(e / eps)} eps (sigma_{k} = {fmt(s_)})"
            for k, e, s_ in zip(ds["k"].values[ok], err[ok], sig[ok], strict=True)
        )
        paras.append(
            "The left end as transcribed, log(c_eps/alpha)/(2 sigma_k), is false: there mode "
            "k is not learned yet and the error is about sigma_k (crosses in the figure, the "
            f'"error at its left end" column of the table): {ratio}. The per-mode bound '
            "certifies a learned mode only from log(C_eps/alpha)/(2 sigma_k), the corrected "
            "left end mfflow uses (docs/math.md §4); the right ends are as transcribed."
        )
    return paras


SECTION = Section(
    name="rank_k",
    title="Rank-k approximation",
    config=Config,
    compute=compute,
    figure=figure,
    tables=tables,
    text=text,
    figsize=FIGSIZE,
)
