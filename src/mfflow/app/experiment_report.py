"""The figures, tables and text of one ``mfflow run`` experiment, from its results file only.

Figures: ``learning_curves`` (eigen- or singular values by every method that ran), ``loss``,
and ``rank_k`` (the theorem's check, when the file has the ``theorem`` group).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .plotting import (
    GD_TIME_LABEL,
    TIME_LABEL,
    alpha_label,
    mode_colors,
    new_figure,
    save_figures,
)
from .report.document import Block, Table, fmt, write_report
from .report.sections import rank_k

__all__ = ["figure_names", "plot_run", "run_blocks", "write_run_report"]

FIGSIZES = {"learning_curves": (13.0, 4.5), "loss": (7.0, 4.5), "rank_k": rank_k.FIGSIZE}


def _curves(ds: xr.Dataset, prefix: str) -> np.ndarray | None:
    """A method's learning curves: eigenvalues (paper setting) or singular values."""
    for name in (f"{prefix}_eigvals", f"{prefix}_values"):
        if name in ds:
            return ds[name].values
    return None


def _mode_labels(ds: xr.Dataset, n: int) -> list[str]:
    """``sigma_i = value`` of the target, per curve (eigen- or singular values)."""
    sig = ds["sigma_Y"].values if "sigma_Y" in ds else np.full(n, np.nan)
    top = float(np.nanmax(np.abs(sig))) if np.any(np.isfinite(sig)) else 0.0
    sig = np.where(np.abs(sig) <= 1e-12 * top, 0.0, sig)  # round-off of an exact zero
    return [
        rf"$\sigma_{{{m}}} = {sig[m - 1]:.3g}$"
        if m <= sig.size and np.isfinite(sig[m - 1])
        else rf"curve {m}"
        for m in range(1, n + 1)
    ]


def _time_label(ds: xr.Dataset) -> str:
    only_gd = not any(f"{p}_{s}" in ds for p in ("cf", "gf", "ref") for s in ("eigvals", "values"))
    return GD_TIME_LABEL if only_gd else TIME_LABEL


def _roundoff_floor(*curves: np.ndarray | None) -> float:
    """Values below this are round-off of a float64 solve (or exact zeros): not drawn on a
    log axis. ``1e-12`` of the largest value."""
    top = max((float(np.nanmax(np.abs(c))) for c in curves if c is not None), default=1.0)
    return 1e-12 * max(top, 1e-300)


def fig_learning_curves(ds: xr.Dataset) -> Figure:
    """Eigen- or singular values of the product by every method that ran."""
    t = ds["time"].values
    fig, axes = new_figure(FIGSIZES["learning_curves"], ncols=2)
    n = ds.sizes["mode"]
    stride = max(1, t.size // 60)
    cf, gf, gd, ref = (_curves(ds, p) for p in ("cf", "gf", "gd", "ref"))
    label = ds.attrs.get("curve_label_tex", "eigenvalues of $W(t)$")
    colors = mode_colors(n)
    names = _mode_labels(ds, n)
    floor = _roundoff_floor(cf, gf, gd, ref)

    def shown(v: np.ndarray, log: bool) -> np.ndarray:
        return np.where(np.abs(v) >= floor, v, np.nan) if log else v

    for ax, log in zip(axes, (False, True), strict=True):
        for m in range(1, n + 1):
            c = colors[m - 1]
            if ref is not None:
                ax.plot(t, shown(ref[:, m - 1], log), color="0.55", lw=1.0, ls="--")
            if cf is not None:
                ax.plot(t, shown(cf[:, m - 1], log), color=c, label=names[m - 1])
            if gf is not None:
                ax.plot(
                    t[::stride],
                    shown(gf[::stride, m - 1], log),
                    "o" if cf is not None else "o-",
                    ms=4,
                    lw=1.2,
                    mfc="none",
                    mec=c,
                    color=c,
                    label=None if cf is not None else names[m - 1],
                )
            if gd is not None:
                g = ds["gd_time"].values
                gs = max(1, g.size // 60)
                ax.plot(
                    g[::gs],
                    shown(gd[::gs, m - 1], log),
                    "x" if cf is not None or gf is not None else "x-",
                    ms=4,
                    lw=1.2,
                    color=c,
                    label=None if cf is not None or gf is not None else names[m - 1],
                )
        if log:
            ax.set_yscale("log")
            ax.set_ylim(bottom=floor)
        ax.set_xlabel(_time_label(ds))
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
        labels.append(rf"gradient descent, $\eta = {float(ds['eta']):g}$")
    fig.legend(handles, labels, loc="outside right center", ncols=1 if n <= 12 else 2)
    axes[0].set_title(f"learning curves ({alpha_label(float(ds['alpha']))})")
    axes[1].set_title(f"log scale (values below {floor:.1g}: round-off or zero, not drawn)")
    return fig


def fig_loss(ds: xr.Dataset) -> Figure:
    """The training loss by every method that ran."""
    fig, axes = new_figure(FIGSIZES["loss"])
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
    ax.set_xlabel(_time_label(ds))
    ax.set_ylabel(ds.attrs.get("loss_label", r"loss $\frac{1}{4}\|Y - W(t)\|_F^2$"))
    ax.set_title(f"training loss ({alpha_label(float(ds['alpha']))})")
    ax.legend()
    return fig


def figure_names(tree: xr.DataTree) -> list[str]:
    """Names of the figures a run's results tree has data for."""
    ds = tree.to_dataset()
    names = ["learning_curves"]
    if any(v in ds for v in ("cf_loss", "gf_loss", "gd_loss")):
        names.append("loss")
    if "theorem" in tree.children:
        names.append("rank_k")
    return names


def plot_run(tree: xr.DataTree, out: str | Path) -> list[Path]:
    """Draw every figure of a run's results tree into ``out`` (PNG and PDF)."""
    builders = {
        "learning_curves": lambda: fig_learning_curves(tree.to_dataset()),
        "loss": lambda: fig_loss(tree.to_dataset()),
        "rank_k": lambda: rank_k.figure(tree["theorem"].to_dataset()),
    }
    return save_figures(((name, builders[name]) for name in figure_names(tree)), out)


def _run_tables(ds: xr.Dataset, fraction: float) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    if "transition_t_predicted" in ds:
        columns = [
            (label, name)
            for label, name in (
                ("measured", "transition_t_measured"),
                ("closed form", "cf_transition"),
                ("gradient flow", "gf_transition"),
                ("gradient descent", "gd_transition"),
            )
            if name in ds
        ]
        rows = [
            [
                str(int(k)),
                fmt(ds["sigma_Y"].values[k - 1]),
                fmt(ds["transition_t_predicted"].sel(k=k)),
                *[fmt(ds[name].sel(k=k)) for _, name in columns],
            ]
            for k in ds["k"].values
        ]
        predicted = ds.attrs.get("prediction_label", "")
        level = "sigma_i / 2" if fraction == 0.5 else f"{fraction:g} sigma_i"
        tables["transitions"] = Table(
            "Predicted vs measured transition times"
            + (
                f" (predicted: {predicted}; measured: first crossing of {level})"
                if predicted
                else ""
            ),
            ["mode i", "sigma_i", "predicted", *[label for label, _ in columns]],
            rows,
        )
    rows = []
    if "gf_max_error" in ds:
        rows.append(["gradient flow", "-", fmt(ds["gf_max_error"])])
    if "gd_max_error" in ds:
        rows.append(["gradient descent", fmt(ds["eta"]), fmt(ds["gd_max_error"])])
    if rows:
        label = ds.attrs.get("error_label", "||W_sim(t) - W_closed(t)||_2")
        tables["errors"] = Table(f"Max over t of {label}", ["method", "eta", "max error"], rows)
    rows = [
        [label, fmt(ds[f"{prefix}_loss"].values[-1]), fmt(ds[f"{prefix}_recovery"].values[-1])]
        for label, prefix in (("gradient flow", "gf"), ("gradient descent", "gd"))
        if f"{prefix}_recovery" in ds
    ]
    if rows:
        tables["recovery"] = Table(
            "At the last time: training loss and recovery error ||W - Y||_F / ||Y||_F",
            ["method", "loss", "recovery error"],
            rows,
        )
    return tables


def run_blocks(tree: xr.DataTree) -> list[Block]:
    """The sections of a run's report, from its results tree only."""
    ds = tree.to_dataset()
    cfg: dict[str, Any] = json.loads(tree.attrs["config"])
    tables = _run_tables(ds, float(cfg.get("transition_fraction", 0.5)))
    methods = ", ".join(cfg["methods"])
    f = cfg.get("factorization", "symmetric")
    op = cfg.get("operator", {"kind": "identity"})
    scale = f"alpha = {fmt(cfg['init']['alpha'])}"
    if f == "symmetric" and op["kind"] == "identity":
        what = "Eigenvalues of W(t)"
        loss = "The loss 1/4 ||Y - W(t)||_F^2."
    elif f == "linear_network":
        what = (
            f"Singular values of W2 W1 (two-layer linear network {ds.attrs['network']}; the "
            "legend gives the singular values of Y X^T / P, what it learns)"
        )
        loss = "The training loss 1/(2P) ||Y - W2 W1 X||_F^2."
        scale = (
            f"scale alpha = {fmt(cfg['init']['alpha'])} (the singular values of W2 W1 at t = 0) "
            f"and lambda = {fmt(cfg['init']['lam'])} (W2^T W2 - W1 W1^T = lambda I)"
        )
    else:
        shape = "x".join(str(d) for d in ds["Y"].shape)
        label = ds.attrs["curve_label"]
        what = f"{label[0].upper()}{label[1:]} ({f} factorization"
        what += f", depth L = {cfg['depth']}" if f == "deep" else ""
        what += f", {shape} target"
        if op["kind"] == "gaussian":
            what += f", Gaussian sensing with m = {op['m']} measurements"
        elif op["kind"] == "completion":
            what += f", matrix completion observing a fraction {fmt(op['fraction'])} of entries"
        what += ")"
        loss = "The training loss " + (
            "1/4 ||A(W) - A(Y)||^2" if f == "symmetric" else "1/2 ||A(W) - A(Y)||^2"
        )
        loss += " (A the identity)." if op["kind"] == "identity" else "."
        if "ref_values" in ds:
            what += "; thin grey: the identity operator's closed form, for comparison"
    blocks = [
        Block(
            "Learning curves",
            [
                f"{what}, for init '{cfg['init']['kind']}' at {scale}; methods: {methods}.",
            ],
            [tables[k] for k in ("transitions", "errors", "recovery") if k in tables],
            "learning_curves",
        ),
        Block("Loss", [loss], [], "loss"),
    ]
    if "theorem" in tree.children:
        th = tree["theorem"].to_dataset()
        blocks.append(
            Block(
                "Rank-k approximation",
                [
                    "||W(t) - Yhat_k||_2 with the certified and measured intervals.",
                    "Hypotheses of the theorem: " + (th.attrs.get("failures") or "all hold") + ".",
                ],
                rank_k.theorem_tables(th, "Theorem constants"),
                "rank_k",
            )
        )
    note = ds.attrs.get("theorem_note", "")
    if note:
        blocks.append(Block("Theorem", [note]))
    return blocks


def write_run_report(
    tree: xr.DataTree, out: str | Path, figures_dir: str | Path, *, runtime_s: float | None = None
) -> tuple[Path, Path]:
    """Write a run's ``report.md`` and ``index.html`` from its results tree."""
    cfg = json.loads(tree.attrs["config"])
    return write_report(
        out,
        figures_dir,
        title=f"mfflow run: {cfg.get('name', 'run')}",
        blocks=run_blocks(tree),
        config=tree.attrs["config"],
        version=tree.attrs.get("mfflow_version", "?"),
        runtime_s=runtime_s,
    )
