"""A general (Gaussian) initialization: the closed form against an ODE solve of the flow and
gradient-descent iterates."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .... import closed_form, simulate_gd, simulate_gf
from ...plotting import TIME_LABEL, alpha_label, mode_color, new_figure
from ..document import Table, fmt
from ..section import Section, SectionConfig
from ..setup import Setup


class Config(SectionConfig):
    alpha: float = 1e-6
    t_max: float = 10.0
    num_curve: int = 1001
    num_sim: int = 81
    gd_etas: tuple[float, ...] = (1e-2, 1e-3)
    gd_markers: int = 41


def compute(p: Setup, cfg: Config) -> xr.Dataset:
    alpha = cfg.alpha
    n = p.lam.size
    traj = closed_form(p.Y, p.U0_general, alpha)
    t_curve = np.linspace(0.0, cfg.t_max, cfg.num_curve)
    t_sim = np.linspace(0.0, cfg.t_max, cfg.num_sim)
    sim = simulate_gf(p.Y, p.U0_general, alpha, t_sim)
    w_sim = np.asarray(sim.W)
    gf_err = np.linalg.norm(w_sim - traj.W(t_sim), ord=2, axis=(1, 2))

    etas = np.asarray(cfg.gd_etas, dtype=np.float64)
    gd_max = np.empty(etas.size)
    gd_diverged = np.zeros(etas.size, dtype=np.int8)
    marker_eta = float(etas.min())
    gd_t = gd_eig = gd_err = None
    for e, eta in enumerate(etas):
        last = math.ceil(cfg.t_max / eta)
        # every iterate is computed; the error is measured on (at most) 2001 of them
        record = np.unique(np.linspace(0, last, min(last + 1, 2001)).round().astype(np.int64))
        gd = simulate_gd(p.Y, p.U0_general, alpha, float(eta), steps=record)
        w_gd = np.asarray(gd.W)
        t_gd = np.asarray(gd.t, dtype=np.float64)
        gd_diverged[e] = bool(gd.diverged)
        finite = np.all(np.isfinite(w_gd), axis=(1, 2))
        err = np.full(t_gd.size, np.inf)
        err[finite] = np.linalg.norm(w_gd[finite] - traj.W(t_gd[finite]), ord=2, axis=(1, 2))
        gd_max[e] = float(np.max(err))
        if eta == marker_eta:
            pick = np.unique(np.linspace(0, t_gd.size - 1, cfg.gd_markers).round().astype(int))
            gd_t = t_gd[pick]
            gd_eig = np.full((pick.size, n), np.nan)
            ok = finite[pick]
            gd_eig[ok] = np.linalg.eigvalsh(w_gd[pick][ok])[:, ::-1]
            gd_err = err[pick]
    assert gd_t is not None and gd_eig is not None and gd_err is not None
    return xr.Dataset(
        {
            "alpha": ((), alpha),
            "r": ((), p.U0_general.shape[1]),
            "cf": (("time", "mode"), traj.eigvals(t_curve)),
            "gf": (("t_sim", "mode"), np.linalg.eigvalsh(w_sim)[:, ::-1]),
            "gf_error": (("t_sim",), gf_err, {"long_name": "||W_GF - W_closed||_2"}),
            "gd": (("gd_step", "mode"), gd_eig),
            "gd_error": (("gd_step",), gd_err, {"long_name": "||W_GD - W_closed||_2"}),
            "gd_max_error": (("eta",), gd_max),
            "gd_diverged": (("eta",), gd_diverged),
            "gf_max_error": ((), float(np.max(gf_err))),
            "gd_marker_eta": ((), marker_eta),
        },
        coords={
            "time": ("time", t_curve),
            "t_sim": ("t_sim", t_sim),
            "gd_time": ("gd_step", gd_t),
            "eta": ("eta", etas),
            "mode": ("mode", np.arange(1, n + 1)),
        },
    )


def figure(ds: xr.Dataset) -> Figure:
    t = ds["time"].values
    cf = ds["cf"].values
    eta = float(ds["gd_marker_eta"])
    fig, axes = new_figure(SECTION.figsize, ncols=2)
    ax = axes[0]
    for m in ds["mode"].values:
        c = mode_color(int(m))
        ax.plot(t, cf[:, m - 1], color=c, label=f"eigenvalue {m} of W(t)")
        ax.plot(
            ds["t_sim"].values,
            ds["gf"].values[:, m - 1],
            "o",
            ms=4.5,
            mfc="none",
            mec=c,
            mew=1.0,
        )
        ax.plot(ds["gd_time"].values, ds["gd"].values[:, m - 1], "x", ms=4.5, color=c, mew=1.0)
    ax.set_yscale("log")
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(r"eigenvalues of $W(t)$")
    ax.set_title(f"Gaussian init, r = {int(ds['r'])}, " + alpha_label(float(ds["alpha"])))
    handles, labels = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="k", lw=2),
        Line2D([], [], marker="o", ls="", mfc="none", mec="k"),
        Line2D([], [], marker="x", ls="", color="k"),
    ]
    labels += ["closed form", "gradient flow (ODE solve)", rf"gradient descent, $\eta = {eta:g}$"]
    fig.legend(handles, labels, loc="outside lower left", ncols=4)
    ax = axes[1]
    ax.semilogy(
        ds["t_sim"].values,
        np.maximum(ds["gf_error"].values, 1e-18),
        "o-",
        ms=3.5,
        lw=1.2,
        color="0.2",
        label="gradient flow (ODE, rtol 1e-10)",
    )
    ax.semilogy(
        ds["gd_time"].values,
        np.maximum(ds["gd_error"].values, 1e-18),
        "x-",
        ms=4,
        lw=1.2,
        color="#d62728",
        label=rf"gradient descent, $\eta = {eta:g}$",
    )
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(r"$\|W_{\mathrm{sim}}(t) - W_{\mathrm{closed}}(t)\|_2$")
    ax.set_title("distance to the closed form (0 at t = 0 drawn at 1e-18)")
    ax.legend(loc="lower right")
    return fig


def tables(ds: xr.Dataset) -> list[Table]:
    rows = [["gradient flow (DOP853)", "-", fmt(ds["gf_max_error"])]]
    for e, eta in enumerate(ds["eta"].values):
        diverged = " (diverged)" if int(ds["gd_diverged"].values[e]) else ""
        rows.append(
            [f"gradient descent, t = step x eta{diverged}", fmt(eta), fmt(ds["gd_max_error"][e])]
        )
    return [
        Table(
            f"Max over t of ||W_sim(t) - W_closed(t)||_2 (general init, alpha = "
            f"{fmt(ds['alpha'])})",
            ["method", "eta", "max error"],
            rows,
        )
    ]


def text(ds: xr.Dataset) -> list[str]:
    return [
        "A Gaussian (non-spectral, r >= n) initialization: the eigenvalues of W(t) from "
        "the closed form (lines), a scipy ODE solve of the flow on U (circles) and "
        "gradient descent iterates at t = step x eta (crosses). Flow and closed form "
        "agree to the solver tolerance; gradient descent differs by O(eta).",
    ]


SECTION = Section(
    name="general_init",
    title="General initialization",
    config=Config,
    compute=compute,
    figure=figure,
    tables=tables,
    text=text,
    figsize=(12.0, 5.2),
    quick={"num_curve": 401, "num_sim": 31, "gd_etas": (1e-3,)},
)
