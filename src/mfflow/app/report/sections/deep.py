"""Deep factorization ``W_L ... W_1`` (talk figure 2): gradient descent on Gaussian sensing learns
the singular values one by one, more sharply with depth; the exact balanced per-mode curves
beside them."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .... import (
    GaussianSensing,
    IdentityOperator,
    crossing_times,
    deep_descent,
    deep_mode_curve,
    deep_random_init,
    deep_transition_time,
    make_target,
)
from ...plotting import alpha_label, colormap, mode_color
from ..document import Table, fmt
from ..section import Section, SectionConfig
from ..setup import Setup


class Config(SectionConfig):
    n: int = 8
    spectrum: tuple[float, ...] = (5.0, 3.0, 2.0)
    depths: tuple[int, ...] = (2, 3, 4)
    alpha: float = 1e-4
    measurements: int = 5  # m = measurements * n * rank(Y)
    seed: int = 2
    step: float = 0.5  # eta = step / (L sigma_1^{2 - 2/L})
    horizon: float = 3.0  # run to horizon x the slowest exact transition
    records: int = 300


def compute(p: Setup, cfg: Config) -> xr.Dataset:
    n = cfg.n
    spec = np.asarray(cfg.spectrum, dtype=np.float64)
    K = spec.size
    Y = make_target(spec, n=n, seed=p.cfg.target_seed)
    sig = np.linalg.svd(Y, compute_uv=False)
    m = cfg.measurements * n * K
    op = GaussianSensing(n, m, seed=cfg.seed, cols=n)
    depths = np.asarray(cfg.depths, dtype=np.int64)
    alpha = cfg.alpha
    R = cfg.records
    u = np.linspace(0.0, 2.0, 401)
    out = {
        name: np.empty(shape)
        for name, shape in [
            ("gd_t", (depths.size, R)),
            ("gd_v", (depths.size, R, n)),
            ("ex_v", (depths.size, R, K)),
            ("eta", (depths.size,)),
            ("ex_half", (depths.size, K)),
            ("ex_width", (depths.size, K)),
            ("gd_half", (depths.size, K)),
            ("gd_width", (depths.size, K)),
            ("rec", (depths.size,)),
            ("norm", (depths.size, u.size)),
        ]
    }
    s1 = float(sig[0])
    ops = {
        "gaussian": op,
        "gaussian_10x": GaussianSensing(n, 10 * m, seed=cfg.seed, cols=n),
        "identity": IdentityOperator(n, cols=n),
    }
    overshoot = np.empty((depths.size, len(ops), K))
    for j, L in enumerate(depths):
        L = int(L)
        eta = cfg.step / (L * s1 ** (2.0 - 2.0 / L))
        half = np.asarray(deep_transition_time(spec, alpha, L))
        t10 = np.asarray(deep_transition_time(spec, alpha, L, 0.1))
        t90 = np.asarray(deep_transition_time(spec, alpha, L, 0.9))
        last = math.ceil(cfg.horizon * float(half.max()) / eta)
        steps = np.linspace(0, last, R).round().astype(np.int64)
        init = deep_random_init(n, L, seed=cfg.seed)
        runs = {
            name: deep_descent(Y, init, alpha, eta, steps, operator=o) for name, o in ops.items()
        }
        for o, run in enumerate(runs.values()):
            overshoot[j, o] = np.max(run.singular_values[:, :K], axis=0) / spec - 1.0
        res = runs["gaussian"]
        sv = res.singular_values
        out["gd_t"][j] = res.t
        out["gd_v"][j] = sv
        out["ex_v"][j] = deep_mode_curve(spec, alpha, L, res.t)
        out["eta"][j] = eta
        out["ex_half"][j] = half
        out["ex_width"][j] = t90 - t10
        g10 = crossing_times(res.t, sv[:, :K], 0.1 * spec)
        g50 = crossing_times(res.t, sv[:, :K], 0.5 * spec)
        g90 = crossing_times(res.t, sv[:, :K], 0.9 * spec)
        out["gd_half"][j] = g50
        out["gd_width"][j] = g90 - g10
        out["rec"][j] = float(res.recovery_error[-1])
        out["norm"][j] = deep_mode_curve(spec[0], alpha, L, u * float(half[0])) / spec[0]
    return xr.Dataset(
        {
            "sigma": (("sv",), sig, {"long_name": "singular values of Y"}),
            "alpha": ((), alpha),
            "m": ((), m),
            "eta": (("depth",), out["eta"]),
            "gd_time": (("depth", "record"), out["gd_t"]),
            "gd_values": (
                ("depth", "record", "sv"),
                out["gd_v"],
                {"long_name": "singular values of W_L ... W_1 (GD, Gaussian sensing)"},
            ),
            "exact_values": (
                ("depth", "record", "k"),
                out["ex_v"],
                {"long_name": "exact per-mode curves, balanced spectral init, s0 = alpha"},
            ),
            "exact_half": (("depth", "k"), out["ex_half"]),
            "exact_width": (("depth", "k"), out["ex_width"]),
            "gd_half": (("depth", "k"), out["gd_half"]),
            "gd_width": (("depth", "k"), out["gd_width"]),
            "gd_recovery": (("depth",), out["rec"], {"long_name": "||W - Y||_F / ||Y||_F"}),
            "overshoot": (
                ("depth", "operator", "k"),
                overshoot,
                {"long_name": "max_t s_i(t) / sigma_i - 1 (GD, same init and step)"},
            ),
            "normalized": (
                ("depth", "u"),
                out["norm"],
                {"long_name": "s_1(u t_1/2) / sigma_1, exact"},
            ),
        },
        coords={
            "depth": ("depth", depths),
            "sv": ("sv", np.arange(1, n + 1)),
            "k": ("k", np.arange(1, K + 1)),
            "u": ("u", u, {"long_name": "t / t_1/2 of mode 1"}),
            "operator": ("operator", list(ops)),
        },
    )


_OPERATOR_LABELS = {
    "gaussian": "Gaussian, m = {m}",
    "gaussian_10x": "Gaussian, m = {m10}",
    "identity": "identity (full observation)",
}


def figure(ds: xr.Dataset) -> Figure:
    depths = ds["depth"].values
    fig = Figure(figsize=SECTION.figsize, layout="constrained")
    gs = fig.add_gridspec(2, depths.size, height_ratios=[1.0, 0.9])
    sig = ds["sigma"].values
    K = ds.sizes["k"]
    top = [fig.add_subplot(gs[0, j]) for j in range(depths.size)]
    for ax, L in zip(top, depths, strict=True):
        t = ds["gd_time"].sel(depth=L).values
        gd = ds["gd_values"].sel(depth=L).values
        for i in range(gd.shape[1]):
            c = mode_color(i + 1) if i < K else "0.6"
            ax.plot(t, gd[:, i], color=c, lw=2.0 if i < K else 1.0)
        for i in range(K):
            ax.axhline(sig[i], color=mode_color(i + 1), lw=0.6, ls="--", alpha=0.7)
        eta = float(ds["eta"].sel(depth=L))
        ax.set_title(rf"depth $L = {int(L)}$ (GD, $\eta = {eta:.2g}$)")
        ax.set_xlabel(r"time $t = k\eta$")
        ax.set_xlim(0, t[-1])
        ax.set_ylim(-0.05 * sig[0], 1.15 * sig[0])
    top[0].set_ylabel(r"singular values of $W_L \cdots W_1$")
    handles = [Line2D([], [], color=mode_color(i + 1), lw=2.0) for i in range(K)] + [
        Line2D([], [], color="0.6", lw=1.0),
        Line2D([], [], color="0.3", lw=0.6, ls="--"),
    ]
    labels = [rf"$\sigma_{i + 1} = {sig[i]:g}$" for i in range(K)] + [
        "zero singular values of Y",
        r"target values $\sigma_i$",
    ]
    top[-1].legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    ax = fig.add_subplot(gs[1, : max(1, depths.size // 2)])
    u = ds["u"].values
    for j, L in enumerate(depths):
        ax.plot(
            u,
            ds["normalized"].sel(depth=L).values,
            color=colormap("viridis")(j / max(depths.size - 1, 1) * 0.85),
            label=rf"$L = {int(L)}$",
        )
    ax.set_xlabel(r"$t / t_{1/2}$ (mode 1)")
    ax.set_ylabel(r"$s_1(t) / \sigma_1$")
    ax.set_title("exact per-mode curves: sharper with depth")
    ax.legend(loc="upper left")
    ax = fig.add_subplot(gs[1, max(1, depths.size // 2) :])
    if "overshoot" in ds:
        over = ds["overshoot"].values  # (depth, operator, k)
        ops = [str(o) for o in ds["operator"].values]
        m = int(ds["m"])
        width = 0.8 / len(ops)
        x = np.arange(depths.size)
        shades = ["#1f77b4", "#9ecae1", "#7f7f7f"]
        for o, name in enumerate(ops):
            worst = 100 * np.max(over[:, o, :], axis=1)
            ax.bar(
                x + (o - (len(ops) - 1) / 2) * width,
                np.maximum(worst, 0.0),
                width,
                color=shades[o % len(shades)],
                label=_OPERATOR_LABELS.get(name, name).format(m=m, m10=10 * m),
            )
        ax.set_xticks(x, [f"L = {int(L)}" for L in depths])
        ax.set_ylabel(r"overshoot $\max_{t,i}\, s_i(t)/\sigma_i - 1$ (%)")
        ax.set_title("overshoot: shrinks with more measurements, none without sensing")
        ax.legend(loc="upper left", fontsize=9)
        ax.grid(axis="x", visible=False)
    fig.suptitle(
        rf"Deep factorization: GD on Gaussian matrix sensing (n = {ds.sizes['sv']}, "
        rf"m = {int(ds['m'])}, {alpha_label(float(ds['alpha']))}) learns the singular values "
        "one by one"
    )
    return fig


def tables(ds: xr.Dataset) -> list[Table]:
    rows = []
    sig = ds["sigma"].values
    for L in ds["depth"].values:
        for k in ds["k"].values:
            sel = {"depth": L, "k": k}
            half = float(ds["exact_half"].sel(sel))
            width = float(ds["exact_width"].sel(sel))
            rows.append(
                [
                    str(int(L)),
                    str(int(k)),
                    fmt(sig[k - 1]),
                    fmt(half),
                    fmt(width),
                    fmt(width / half),
                    fmt(ds["gd_half"].sel(sel)),
                    fmt(ds["gd_width"].sel(sel)),
                ]
            )
    transitions = Table(
        "Transition times t_1/2 and widths t_0.9 - t_0.1 of two different experiments: exact "
        "per-mode curves (balanced spectral init, s0 = alpha, identity operator) and gradient "
        "descent (Gaussian sensing, random init); not expected to agree one to one",
        [
            "L",
            "mode i",
            "sigma_i",
            "exact t_1/2",
            "exact width",
            "exact width / t_1/2",
            "GD t_1/2",
            "GD width",
        ],
        rows,
    )
    rows = [
        [
            str(int(L)),
            fmt(ds["eta"].sel(depth=L)),
            fmt(ds["gd_time"].sel(depth=L).values[-1]),
            fmt(ds["gd_recovery"].sel(depth=L)),
        ]
        for L in ds["depth"].values
    ]
    runs = Table(
        f"Gradient descent runs (m = {int(ds['m'])} Gaussian measurements)",
        ["L", "eta", "t at the last step", "final ||W - Y||_F / ||Y||_F"],
        rows,
    )
    return [transitions, runs]


def text(ds: xr.Dataset) -> list[str]:
    rel = ds["exact_width"].values[:, 0] / ds["exact_half"].values[:, 0]
    depths = ds["depth"].values
    rel_text = ", ".join(f"{fmt(r)} (L = {int(L)})" for r, L in zip(rel, depths, strict=True))
    paras = [
        "Gradient descent on deep matrix sensing, W = W_L ... W_1 (n x n factors), from a "
        "small random init: the singular values of the product are learned one by one, "
        "largest first (top row). The zero singular values of Y stay near zero (the "
        "low-rank implicit bias).",
        "Bottom left: the exact per-mode curves ds/dt = L s^(2-2/L) (sigma - s) of a "
        "balanced spectral init from s0 = alpha with the identity operator, in units of "
        "their own half-way time: the transition gets sharper with depth; relative width "
        f"(t_0.9 - t_0.1) / t_1/2 of mode 1: {rel_text}. These curves are a different "
        "experiment (spectral init, identity operator) and are not drawn over the GD runs: "
        "the first table lists both half-way times side by side, and they are not expected "
        "to agree one to one (the random init's components along the singular vectors set "
        "GD's delays).",
    ]
    if "overshoot" in ds:
        over = 100 * ds["overshoot"].values.max(axis=2)  # (depth, operator)
        ops = [str(o) for o in ds["operator"].values]
        m = int(ds["m"])
        parts = []
        for o, name in enumerate(ops):
            label = _OPERATOR_LABELS.get(name, name).format(m=m, m10=10 * m)
            vals = ", ".join(
                f"{fmt(v)}% (L = {int(L)})" for v, L in zip(over[:, o], depths, strict=True)
            )
            parts.append(f"{label}: {vals}")
        paras.append(
            "With few measurements the partial fits overshoot their singular values until the "
            "next one is learned (bottom right: the largest max_t s_i(t) / sigma_i - 1 over "
            "the modes, same init and step size for every operator): " + "; ".join(parts) + "."
        )
    return paras


SECTION = Section(
    name="deep",
    title="Deep factorization (talk figure 2)",
    config=Config,
    compute=compute,
    figure=figure,
    tables=tables,
    text=text,
    figsize=(12.0, 8.0),
    quick={"records": 150},
)
