"""Mixed lazy/active dynamics (Tu, Aranguri & Jacot, NeurIPS 2024), exactly: their phase
picture over (c, init scale) from the closed form, next to their Euler scheme, and one cell's
test-error curve with the Euler error's first order in the step (docs/math.md §11)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .... import (
    early_stopping,
    mixed_dynamics,
    mixed_euler,
    mixed_phase_diagram,
    mixed_task,
    signal_error,
    tu_parameters,
    tu_step_size,
)
from ...plotting import TIME_LABEL
from ..document import Table, fmt
from ..section import Section, SectionConfig
from ..setup import Setup

T = "gradient-flow time"
ONE = "1"


class Config(SectionConfig):
    d: int = 24
    k: int = 5
    seed: int = 0
    init_seed: int = 1
    gamma_sigma2_min: float = -2.2
    gamma_sigma2_max: float = -0.8
    gamma_w_min: float = 1.75
    gamma_w_max: float = 2.8
    num_sigma2: int = 9
    num_w: int = 9
    step_factor: float = 50.0
    #: the cell of the detailed curve and the step-size study (their coordinates)
    cell_gamma_sigma2: float = -1.5
    cell_gamma_w: float = 2.0
    refinements: tuple[int, ...] = (1, 2, 4, 8, 16)
    num_times: int = 400


def compute(p: Setup, cfg: Config) -> xr.Dataset:
    task = mixed_task(cfg.d, cfg.k, seed=cfg.seed)
    m, n = task.shape
    gss = np.linspace(cfg.gamma_sigma2_min, cfg.gamma_sigma2_max, cfg.num_sigma2)
    gws = np.linspace(cfg.gamma_w_min, cfg.gamma_w_max, cfg.num_w)
    GS, GW = np.meshgrid(gss, gws, indexing="ij")
    c, scale = tu_parameters(cfg.d, GS, GW)
    G0 = np.random.default_rng(cfg.init_seed).standard_normal((m, n))
    pd = mixed_phase_diagram(task, c, scale, G0=G0, euler=True, step_factor=cfg.step_factor)
    # one cell in detail: the exact curve, their Euler iterates, Euler at finer steps
    cc, sc = tu_parameters(cfg.d, cfg.cell_gamma_sigma2, cfg.cell_gamma_w)
    cc, sc = float(cc), float(sc)
    traj = mixed_dynamics(task.Y, sc * G0, cc)
    eta = tu_step_size(cc, task.Ystar, cfg.step_factor)
    stop = early_stopping(traj, task)
    horizon = 2.0 * stop.t_star
    t = np.linspace(0.0, horizon, cfg.num_times)
    curve = signal_error(traj, task, t) ** 2 / (m * n)
    steps = math.ceil(horizon / eta)
    euler = mixed_euler(task.Y, sc * G0, cc, eta, steps, Ystar=task.Ystar)
    assert euler.error is not None
    # first order: Euler at eta / j to the fixed time t_h = K eta, against the exact B(t_h)
    K_h = max(1, round(stop.t_star / eta))
    t_h = K_h * eta
    B_h = traj.W(t_h)
    ref = np.asarray(cfg.refinements, dtype=np.int64)
    gap = np.array(
        [
            np.linalg.norm(mixed_euler(task.Y, sc * G0, cc, eta / j, int(K_h * j)).B_last - B_h)
            / np.linalg.norm(B_h)
            for j in ref
        ]
    )
    grid = ("gamma_sigma2", "gamma_w")

    def v(arr: np.ndarray, name: str, units: str = ONE) -> tuple:
        return (grid, np.asarray(arr, dtype=np.float64), {"long_name": name, "units": units})

    assert pd.euler_test_error is not None and pd.euler_stable_rank is not None
    assert pd.euler_iterations is not None
    return xr.Dataset(
        {
            "c": v(pd.c, "c = sigma^2 w (lambda = 2c)"),
            "scale": v(pd.scale, "init scale sigma^2 sqrt(w) (B0 = scale G0)"),
            "test_error": v(pd.test_error, "exact min_t ||B(t) - A*||_F^2 / (m n)"),
            "stable_rank": v(pd.stable_rank, "exact ||B||_F^2 / ||B||_2^2 at t*"),
            "t_star": v(pd.time, "exact optimal time t*", T),
            "eta": v(pd.eta, "their Euler step eta", "gradient-flow time per step"),
            "iterations": v(pd.iterations, "t* / eta (exact)"),
            "at_horizon": v(pd.at_horizon.astype(np.float64), "1: still decreasing at scan end"),
            "euler_test_error": v(pd.euler_test_error, "their Euler: min_k ||B_k - A*||^2 / (m n)"),
            "euler_stable_rank": v(pd.euler_stable_rank, "their Euler: stable rank at the best k"),
            "euler_iterations": v(pd.euler_iterations, "their Euler: best iteration k"),
            "cell_curve": (
                ("time",),
                curve,
                {"long_name": "exact ||B(t) - A*||_F^2 / (m n), detailed cell", "units": ONE},
            ),
            "cell_euler_error": (
                ("step",),
                euler.error,
                {"long_name": "their Euler ||B_k - A*||_F^2 / (m n), detailed cell", "units": ONE},
            ),
            "cell_euler_gap": (
                ("refinement",),
                gap,
                {
                    "long_name": "||B_Euler - B||_F / ||B||_F at t_h, step eta/j",
                    "units": ONE,
                },
            ),
            "cell_c": ((), cc, {"long_name": "c of the detailed cell", "units": ONE}),
            "cell_scale": ((), sc, {"long_name": "init scale of the detailed cell", "units": ONE}),
            "cell_eta": (
                (),
                eta,
                {"long_name": "their step", "units": "gradient-flow time per step"},
            ),
            "cell_t_star": ((), stop.t_star, {"long_name": "exact t*, detailed cell", "units": T}),
            "cell_t_h": ((), t_h, {"long_name": "time of the step-size study", "units": T}),
            "cell_error_star": (
                (),
                stop.error_star**2 / (m * n),
                {"long_name": "exact min test error, detailed cell", "units": ONE},
            ),
            "cell_gamma_sigma2": (
                (),
                cfg.cell_gamma_sigma2,
                {"long_name": "its gamma_sigma2", "units": ONE},
            ),
            "cell_gamma_w": (
                (),
                cfg.cell_gamma_w,
                {"long_name": "its gamma_w", "units": ONE},
            ),
            "d": ((), cfg.d, {"long_name": "size d of the task (d x d)", "units": ONE}),
            "k": ((), cfg.k, {"long_name": "rank k of the signal A*", "units": ONE}),
            "step_factor": (
                (),
                cfg.step_factor,
                {"long_name": "their eta factor", "units": ONE},
            ),
        },
        coords={
            "gamma_sigma2": (
                "gamma_sigma2",
                gss,
                {"long_name": "gamma_sigma2 (sigma^2 = d^gamma_sigma2)", "units": ONE},
            ),
            "gamma_w": ("gamma_w", gws, {"long_name": "gamma_w (w = d^gamma_w)", "units": ONE}),
            "time": ("time", t, {"long_name": "time t", "units": T}),
            "step": ("step", np.arange(steps + 1), {"long_name": "Euler step k", "units": ONE}),
            "refinement": (
                "refinement",
                ref,
                {"long_name": "refinement j (Euler step eta / j)", "units": ONE},
            ),
        },
    )


def figure(ds: xr.Dataset) -> Figure:
    fig = Figure(figsize=SECTION.figsize, layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    gss = ds["gamma_sigma2"].values
    gws = ds["gamma_w"].values
    d = int(ds["d"])
    panels = [
        (ds["test_error"].values, "viridis", r"$\min_t \|B(t) - A^*\|_F^2 / d^2$",
         "(a) best test error (exact)"),
        (ds["stable_rank"].values, "magma", r"$\|B\|_F^2 / \|B\|_2^2$ at $t^*$",
         "(b) stable rank at the best time (exact)"),
    ]  # fmt: skip
    for ax, (z, cmap, label, title) in zip(axes[:2], panels, strict=True):
        mesh = ax.pcolormesh(gss, gws, z.T, cmap=cmap, shading="nearest")
        fig.colorbar(mesh, ax=ax).set_label(label)
        xs = np.linspace(gss[0], gss[-1], 50)
        ax.plot(xs, 1.0 - xs, "w--", lw=1.4)
        ax.plot(float(ds["cell_gamma_sigma2"]), float(ds["cell_gamma_w"]), "w*", ms=12, mec="k")
        ax.set_xlim(gss[0], gss[-1])
        ax.set_ylim(gws[0], gws[-1])
        ax.set_xlabel(r"$\gamma_{\sigma^2}$  ($\sigma^2 = d^{\gamma_{\sigma^2}}$)")
        ax.set_ylabel(r"$\gamma_w$  ($w = d^{\gamma_w}$)")
        ax.set_title(title)
    ax = axes[2]
    te, tee = ds["test_error"].values.ravel(), ds["euler_test_error"].values.ravel()
    it, eit = ds["iterations"].values.ravel(), ds["euler_iterations"].values.ravel()
    ax.loglog(te, tee, "o", ms=4, color="C0", label="best test error")
    ax.loglog(it, eit, "s", ms=4, mfc="none", color="C3", label="iterations to the best")
    lo = min(te.min(), it.min()) * 0.7
    hi = max(te.max(), it.max()) * 1.4
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="equal")
    ax.set_xlabel("exact dynamics (closed form)")
    ax.set_ylabel(r"their Euler scheme, their step $\eta$")
    ax.set_title("(c) every cell: Euler vs exact")
    ax.legend(loc="upper left", fontsize=9)
    ax = axes[3]
    t = ds["time"].values
    eta = float(ds["cell_eta"])
    k = ds["step"].values
    ax.plot(t, ds["cell_curve"].values, color="C0", lw=2.0, label="exact $B(t)$")
    every = max(1, k.size // 40)
    ax.plot(k[::every] * eta, ds["cell_euler_error"].values[::every], "o", ms=4, mfc="none",
            color="C3", label=rf"their Euler, $\eta = {eta:.3g}$")  # fmt: skip
    ax.axvline(float(ds["cell_t_star"]), color="k", ls=":", lw=1.0, label=r"exact $t^*$")
    ax.set_xlim(t[0], t[-1])
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(r"test error $\|B(t) - A^*\|_F^2 / d^2$")
    ax.set_title(
        rf"(d) the starred cell: $c = {float(ds['cell_c']):.3g}$, "
        rf"scale $= {float(ds['cell_scale']):.3g}$"
    )
    ax.legend(loc="upper right", fontsize=9)
    fig.suptitle(
        rf"$d = {d}$, rank-{int(ds['k'])} $A^*$, $Y = A^* + E$, $B_0 = \sigma^2\sqrt{{w}}\,G_0$, "
        r"$c = \sigma^2 w$; white dashed: $c = d$ (their lazy/active step switch)",
        fontsize=11,
    )
    return fig


def _gaps(ds: xr.Dataset) -> dict[str, float]:
    out = {}
    for name in ("test_error", "stable_rank", "iterations"):
        rel = np.abs(ds[f"euler_{name}"].values / ds[name].values - 1.0)
        out[name] = float(np.max(rel))
    return out


def tables(ds: xr.Dataset) -> list[Table]:
    gaps = _gaps(ds)
    rows = [
        ["best test error", fmt(float(ds["test_error"].min())), fmt(float(ds["test_error"].max())),
         fmt(gaps["test_error"])],
        ["stable rank at t*", fmt(float(ds["stable_rank"].min())),
         fmt(float(ds["stable_rank"].max())), fmt(gaps["stable_rank"])],
        ["iterations t*/eta", fmt(float(ds["iterations"].min())),
         fmt(float(ds["iterations"].max())), fmt(gaps["iterations"])],
    ]  # fmt: skip
    conv = [
        [str(int(j)), fmt(float(ds["cell_eta"]) / j), fmt(g)]
        for j, g in zip(ds["refinement"].values, ds["cell_euler_gap"].values, strict=True)
    ]
    return [
        Table(
            "Phase picture over the grid: exact range and largest Euler-vs-exact difference",
            ["quantity", "exact min", "exact max", "max |Euler / exact - 1|"],
            rows,
        ),
        Table(
            "The starred cell: Euler at step eta/j against the exact B(t_h), t_h near the optimum",
            ["j", "step", "||B_Euler(t_h) - B(t_h)||_F / ||B(t_h)||_F"],
            conv,
        ),
    ]


def text(ds: xr.Dataset) -> list[str]:
    gaps = _gaps(ds)
    te = ds["test_error"]
    best = te.where(te == te.min(), drop=True)
    gap = ds["cell_euler_gap"].values
    ref = ds["refinement"].values
    order = float(np.polyfit(np.log(1.0 / ref), np.log(gap), 1)[0])
    lazy = ds["c"] > int(ds["d"])
    return [
        "Their self-consistent dynamics dB/dt = -(sqrt(B B^T + c^2) G + G sqrt(B^T B + c^2)) "
        "is the end-to-end flow of a lambda-balanced network with lambda = 2c, solved here in "
        f"closed form on each of the {te.size} cells of their grid (d = {int(ds['d'])}). The "
        f"best test error ranges from {fmt(float(te.min()))} (at gamma_sigma2 = "
        f"{fmt(float(best['gamma_sigma2'][0]))}, gamma_w = {fmt(float(best['gamma_w'][0]))}) to "
        f"{fmt(float(te.max()))}; the lazy cells (c > d, {int(lazy.sum())} of them) average "
        f"{fmt(float(te.where(lazy).mean()))} against {fmt(float(te.where(~lazy).mean()))} "
        "for the active ones.",
        "Their Euler scheme at their step reproduces the exact picture: test error within "
        f"{fmt(100 * gaps['test_error'])}%, stable rank within {fmt(100 * gaps['stable_rank'])}% "
        f"and iterations to the best within {fmt(100 * gaps['iterations'])}% on every cell. At "
        f"the starred cell, Euler at steps eta/j converges to the closed form with order "
        f"{fmt(order)} in the step (from {fmt(float(gap[0]))} at j = {int(ref[0])} to "
        f"{fmt(float(gap[-1]))} at j = {int(ref[-1])}).",
    ]


SECTION = Section(
    name="mixed",
    title="Mixed lazy/active dynamics, exactly",
    config=Config,
    compute=compute,
    figure=figure,
    tables=tables,
    text=text,
    figsize=(12.0, 10.0),
    quick={
        "d": 16,
        "k": 3,
        "num_sigma2": 6,
        "num_w": 6,
        "num_times": 200,
        "refinements": (1, 2, 4, 8),
    },
)
