"""Gradient descent versus the flow: the gap against the step size, its order, the critical step
sizes, and GD's learning curves in three regimes (symmetric and asymmetric problems)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .... import critical_step_sizes, gd_flow_gap
from ...plotting import alpha_label
from ..document import Table, fmt
from ..section import Section, SectionConfig
from ..setup import Setup


class Config(SectionConfig):
    alpha: float = 1e-6
    eta_min: float = 1e-3
    eta_max: float = 0.5
    num: int = 13
    fit_eta_max: float = 1.2e-2
    t_max: float = 15.0
    num_times: int = 121
    scan: int = 12
    bisect: int = 5


def _number(x: float | None) -> float:
    """NaN (the file's missing value, shown ``-``) for a threshold or fit that does not exist."""
    return math.nan if x is None else float(x)


REGIMES = ("near the flow", "just inside incremental learning", "past convergence")
REGIME_RULES = (
    "0.1 x 2/lambda_max",
    "0.9 x the largest eta with incremental learning",
    "geometric mean of the largest converging and the smallest blow-up eta",
)


def compute(p: Setup, cfg: Config) -> xr.Dataset:
    alpha = cfg.alpha
    cases = [(p.Y, p.U0_general, None), (p.Y_rect, p.U0_rect, p.V0_rect)]
    etas = np.geomspace(cfg.eta_min, cfg.eta_max, cfg.num)
    fit = etas <= cfg.fit_eta_max
    t = np.linspace(0.0, cfg.t_max, cfg.num_times)
    k = min(p.sigma.size, p.Y_rect.shape[1])
    gap = np.empty((2, etas.size))
    diverged = np.empty((2, etas.size), dtype=np.int8)
    order = np.empty(2)
    const = np.empty(2)
    crit = np.empty((2, 6))
    horizon = np.empty(2)
    show = np.empty((2, 3))
    flow = np.empty((2, t.size, k))
    gd_t = np.empty((2, 3, t.size))
    gd_v = np.empty((2, 3, t.size, k))
    for i, (Y, U0, V0) in enumerate(cases):
        c = critical_step_sizes(Y, U0, alpha, V0=V0, n_scan=cfg.scan, n_bisect=cfg.bisect)
        crit[i] = [
            c.curvature,
            c.eta_stability,
            _number(c.eta_match),
            _number(c.eta_incremental),
            _number(c.eta_converge),
            c.eta_blowup,
        ]
        horizon[i] = c.horizon
        # the gap on the horizon the critical step sizes were found on, so "diverged" agrees
        t_gap = np.linspace(0.0, c.horizon, cfg.num_times)
        small = gd_flow_gap(Y, U0, alpha, etas[fit], V0=V0, t=t_gap)
        large = gd_flow_gap(Y, U0, alpha, etas[~fit], V0=V0, t=t_gap)
        gap[i] = np.concatenate([small.gap, large.gap])
        diverged[i] = np.concatenate([small.diverged, large.diverged])
        order[i], const[i] = _number(small.order), _number(small.constant)
        converge, incremental = _number(c.eta_converge), _number(c.eta_incremental)
        blow = c.eta_blowup if math.isfinite(c.eta_blowup) else 2 * converge
        show[i] = [0.1 * c.eta_stability, 0.9 * incremental, math.sqrt(converge * blow)]
        curves = gd_flow_gap(Y, U0, alpha, show[i], V0=V0, t=t)
        flow[i] = curves.flow_values[:, :k]
        gd_t[i] = curves.gd_t
        gd_v[i] = curves.gd_values[..., :k]
    return xr.Dataset(
        {
            "gap": (
                ("problem", "eta"),
                gap,
                {"long_name": "max_k ||W_k - W(k eta)||_F / ||Y||_F (inf: diverged)"},
            ),
            "diverged": (("problem", "eta"), diverged),
            "order": (("problem",), order, {"long_name": "fitted order of the gap in eta"}),
            "constant": (("problem",), const),
            "fit_eta_max": ((), cfg.fit_eta_max),
            "alpha": ((), alpha),
            "horizon": (("problem",), horizon),
            "curvature": (("problem",), crit[:, 0], {"long_name": "lambda_max(Hessian)"}),
            "eta_stability": (("problem",), crit[:, 1], {"long_name": "2 / curvature"}),
            "eta_match": (("problem",), crit[:, 2]),
            "eta_incremental": (("problem",), crit[:, 3]),
            "eta_converge": (("problem",), crit[:, 4]),
            "eta_blowup": (("problem",), crit[:, 5]),
            "show_eta": (("problem", "regime"), show),
            "flow_values": (("problem", "time", "k"), flow),
            "gd_time": (("problem", "regime", "time"), gd_t),
            "gd_values": (("problem", "regime", "time", "k"), gd_v),
            "sigma": (("problem", "k"), np.stack([p.sigma[:k], p.sigma[:k]])),
            "rect_shape": (("side",), np.array(p.Y_rect.shape)),
        },
        coords={
            "problem": ("problem", ["symmetric", "asymmetric"]),
            "eta": ("eta", etas),
            "time": ("time", t),
            "k": ("k", np.arange(1, k + 1)),
            "regime": ("regime", list(REGIMES)),
        },
    )


_PROBLEM_STYLE = {"symmetric": ("#1f77b4", "o"), "asymmetric": ("#d62728", "s")}
_THRESHOLDS = [
    ("eta_match", "^", "largest eta with transitions within 10% of the flow's"),
    ("eta_incremental", "D", "largest eta with incremental learning"),
    ("eta_stability", "|", r"$2/\lambda_{\max}$ (linear stability)"),
    ("eta_converge", "o", "largest eta that converges"),
    ("eta_blowup", "X", "smallest eta that blows up"),
]
_SHADES = ["#2ca02c", "#ff7f0e", "#7f7f7f"]


def figure(ds: xr.Dataset) -> Figure:
    etas = ds["eta"].values
    fig = Figure(figsize=SECTION.figsize, layout="constrained")
    gs = fig.add_gridspec(3, 2, height_ratios=[2.6, 0.9, 3.0])
    ax = fig.add_subplot(gs[0, :])
    strip = fig.add_subplot(gs[1, :], sharex=ax)
    finite = np.where(np.isfinite(ds["gap"].values), ds["gap"].values, np.nan)
    top = float(np.nanmax(finite))
    for prob in ds["problem"].values:
        color, marker = _PROBLEM_STYLE[str(prob)]
        gap = ds["gap"].sel(problem=prob).values
        ok = np.isfinite(gap)
        order = float(ds["order"].sel(problem=prob))
        const = float(ds["constant"].sel(problem=prob))
        ax.loglog(etas[ok], gap[ok], marker + "-", color=color, ms=5, lw=1.4, label=str(prob))
        if np.any(~ok):
            y_div = (1.6 if prob == "symmetric" else 2.4) * top
            ax.plot(etas[~ok], np.full((~ok).sum(), y_div), "x", color=color, ms=8, mew=2)
        fit = etas <= float(ds["fit_eta_max"])
        ax.loglog(
            etas[fit],
            const * etas[fit] ** order,
            color=color,
            lw=3.5,
            alpha=0.3,
            label=f"{prob}: fitted order {order:.2f}",
        )
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], marker="x", ls="", color="0.3", mew=2))
    labels.append("diverged (no finite gap)")
    gap_legend = ax.legend(handles, labels, loc="upper left", ncols=2)
    ax.set_ylim(top=4.0 * top)
    ax.set_ylabel(r"$\max_k \|W_k - W(k\eta)\|_F / \|Y\|_F$")
    hz = ", ".join(f"{float(h):.3g}" for h in ds["horizon"].values)
    ax.set_title(
        rf"distance of GD to the flow up to $t$ = {hz} (symmetric, asymmetric), "
        rf"{alpha_label(float(ds['alpha']))}"
    )
    ax.tick_params(labelbottom=False)
    probs = list(ds["problem"].values)
    for row, prob in enumerate(probs):
        color, _ = _PROBLEM_STYLE[str(prob)]
        y = len(probs) - 1 - row
        for var, marker, _ in _THRESHOLDS:
            v = float(ds[var].sel(problem=prob))
            if math.isfinite(v):
                strip.plot(
                    [v],
                    [y],
                    marker,
                    color=color,
                    ms=9 if marker != "|" else 16,
                    mew=2,
                    mfc=color if marker in "X|" else "white",
                )
        for j, eta in enumerate(ds["show_eta"].sel(problem=prob).values):
            strip.plot([eta], [y + 0.32], "v", color=_SHADES[j], ms=7)
    strip.set_yticks(range(len(probs)), list(reversed([str(p) for p in probs])))
    strip.set_ylim(-0.6, len(probs) - 0.2)
    strip.grid(axis="y", visible=False)
    strip.set_xlabel(r"step size $\eta$")
    handles = [
        Line2D(
            [],
            [],
            marker=m,
            ls="",
            color="0.3",
            mfc="0.3" if m in "X|" else "white",
            ms=8 if m != "|" else 12,
            mew=2,
        )
        for _, m, _ in _THRESHOLDS
    ] + [Line2D([], [], marker="v", ls="", color="0.3", ms=7)]
    labels = [text for _, _, text in _THRESHOLDS] + ["step sizes drawn below"]
    ax.legend(handles, labels, loc="lower right", title="thresholds (strip below)", fontsize=9)
    ax.add_artist(gap_legend)
    t = ds["time"].values
    for col, prob in enumerate(probs):
        ax = fig.add_subplot(gs[2, col])
        sig = ds["sigma"].sel(problem=prob).values
        flow = ds["flow_values"].sel(problem=prob).values
        for i in range(flow.shape[1]):
            ax.plot(t, flow[:, i], color="k", lw=2.2)
        for j in range(len(REGIME_RULES)):
            tg = ds["gd_time"].sel(problem=prob).values[j]
            vg = ds["gd_values"].sel(problem=prob).values[j]
            for i in range(vg.shape[1]):
                ax.plot(
                    tg,
                    vg[:, i],
                    color=_SHADES[j],
                    lw=1.3,
                    ls="--" if j < 2 else "-",
                    alpha=0.9 if j < 2 else 0.6,
                )
        ax.set_ylim(-0.05 * sig[0], 1.35 * sig[0])
        ax.set_xlim(0, t[-1])
        ax.set_xlabel(r"time $t = k\eta$")
        what = "eigenvalues of $UU^T$" if prob == "symmetric" else "singular values of $UV^T$"
        ax.set_ylabel(what)
        shown = ", ".join(f"{float(e):.3g}" for e in ds["show_eta"].sel(problem=prob).values)
        ax.set_title(rf"{prob}: GD at $\eta$ = {shown}")
    fig.legend(
        [Line2D([], [], color="k", lw=2.2)]
        + [Line2D([], [], color=_SHADES[j], ls="--" if j < 2 else "-") for j in range(3)],
        ["flow (exact)"] + [f"GD, {rule}" for rule in REGIME_RULES],
        loc="outside lower center",
        ncols=2,
    )
    return fig


_CRITICAL = (
    "order",
    "curvature",
    "eta_stability",
    "eta_match",
    "eta_incremental",
    "eta_converge",
    "eta_blowup",
)


def tables(ds: xr.Dataset) -> list[Table]:
    rows = [
        [str(prob)] + [fmt(ds[v].sel(problem=prob)) for v in _CRITICAL]
        for prob in ds["problem"].values
    ]
    critical = Table(
        f"Fitted order of the gap (eta <= {fmt(ds['fit_eta_max'])}) and critical step sizes",
        [
            "problem",
            "order",
            "curvature lambda_max",
            "2 / lambda_max",
            "transitions within 10%",
            "incremental learning",
            "converges",
            "blows up",
        ],
        rows,
    )
    rows = [
        [fmt(eta)]
        + [
            "diverged" if int(ds["diverged"].values[j, e]) else fmt(ds["gap"].values[j, e])
            for j in range(ds.sizes["problem"])
        ]
        for e, eta in enumerate(ds["eta"].values)
    ]
    gap = Table(
        "max_k ||W_k - W(k eta)||_F / ||Y||_F by step size",
        ["eta", *[f"{p}" for p in ds["problem"].values]],
        rows,
    )
    return [critical, gap]


def text(ds: xr.Dataset) -> list[str]:
    def per_problem(var: str) -> str:
        return ", ".join(f"{fmt(ds[var].sel(problem=p))} ({p})" for p in ds["problem"].values)

    s1 = float(ds["sigma"].values[0, 0])
    m, n = (int(x) for x in ds["rect_shape"].values)
    diverged = ds["diverged"].values.astype(bool)
    blow = ds["eta_blowup"].values
    etas = ds["eta"].values
    # every step size at or past the blow-up threshold diverged on the same horizon
    consistent = all(
        bool(np.all(diverged[j, etas >= blow[j]])) and not bool(np.any(diverged[j, etas < blow[j]]))
        for j in range(ds.sizes["problem"])
        if math.isfinite(blow[j])
    )
    return [
        "Gradient descent is the explicit Euler method of the flow: iterate k is compared "
        "with the exact flow at t = k eta, for the symmetric problem (general init) and "
        f"the asymmetric one (balanced init, {m} x {n} target with the same singular "
        f"values). The gap is first order in eta, fitted order {per_problem('order')}.",
        "Incremental learning (ordered transitions, a plateau at each partial solution) "
        f"survives up to eta = {per_problem('eta_incremental')}, just below the "
        f"linear-stability limit 2 / lambda_max = {per_problem('eta_stability')} "
        f"(1 / sigma_1 = {fmt(1 / s1)}); past it GD oscillates around the solution "
        f"without converging, and it blows up from eta = {per_problem('eta_blowup')}. "
        "The strip under the gap panel places these thresholds on the eta axis. The gap and "
        f"the thresholds are measured on the same horizon (t = {per_problem('horizon')}), "
        + (
            "so every step size at or past the blow-up threshold is marked diverged and none "
            "below it is."
            if consistent
            else "yet the scan and the gap disagree on divergence for some step size (the "
            "thresholds are bisected on a coarser scan)."
        ),
        "The lower panels show GD in three regimes, at step sizes chosen from the thresholds: "
        + "; ".join(
            f"{rule} (eta = {per_problem_regime(ds, j)})" for j, rule in enumerate(REGIME_RULES)
        )
        + ".",
    ]


def per_problem_regime(ds: xr.Dataset, j: int) -> str:
    return ", ".join(
        f"{fmt(ds['show_eta'].sel(problem=p).values[j])} ({p})" for p in ds["problem"].values
    )


SECTION = Section(
    name="gd_vs_gf",
    title="Gradient descent versus the flow",
    config=Config,
    compute=compute,
    figure=figure,
    tables=tables,
    text=text,
    figsize=(12.0, 10.5),
    quick={"num": 7, "num_times": 61, "scan": 8, "bisect": 3},
)
