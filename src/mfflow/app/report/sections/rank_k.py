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
from matplotlib.patches import Patch
from numpy.typing import NDArray

from .... import best_rank_k, check_theorem, closed_form, theorem_intervals
from ...plotting import TIME_LABEL, alpha_label, mode_color, new_figure
from ..document import Table, fmt, interval_cell, tri, yes_no
from ..section import Section, SectionConfig
from ..setup import Setup, positive_spectrum

FIGSIZE = (9.0, 6.0)


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
    return xr.Dataset(
        {
            "distance": (("k", "time"), dist, {"long_name": "||W(t) - Yhat_k||_2"}),
            "cert_lo": (("k",), cert[:, 0]),
            "cert_hi": (("k",), cert[:, 1]),
            "paper_lo": (("k",), paper[:, 0]),
            "paper_hi": (("k",), paper[:, 1]),
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
    finite = [x for x in (*lo_c, *lo_m, *hi_m) if math.isfinite(x)]
    t_end = float(t[-1])
    if finite and int(ds.attrs.get("crop", 0)):
        t_end = min(t_end, 1.25 * max(finite))
    keep = t <= t_end
    fig, axes = new_figure(FIGSIZE, nrows=2, sharex=True, height_ratios=[3.2, 1.0])
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
        header.append("I_k as transcribed")
    header += [
        "certified I_k",
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
    failures = ds.attrs.get("failures", "")
    return [
        "The theorem: for small alpha, W(t) is within eps (spectral norm) of the best "
        "rank-k approximation Yhat_k on an interval I_k, for every k. The curves are "
        "||W(t) - Yhat_k||_2; the lower panel shows, per k, the certified interval (dark) "
        "inside the measured one (light).",
        f"At alpha = {fmt(ds['alpha'])} the hypotheses {hyp}"
        + (f" ({failures})" if failures else "")
        + f"; the certified interval lies inside the measured one for {contained} of "
        f"{ds.sizes['k']} ranks. The bound is conservative: compare the interval lengths.",
    ]


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
