"""Low-rank approximation by early stopping: stopping between transitions k and k+1 against the
Eckart-Young optimum (general init)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .... import best_rank_k, closed_form, transition_times
from ...plotting import alpha_label, colormap, new_figure
from ..document import Table, fmt
from ..section import Section, SectionConfig
from ..setup import Setup


class Config(SectionConfig):
    alphas: tuple[float, ...] = (1e-2, 1e-4, 1e-8, 1e-16, 1e-30)


def compute(p: Setup, cfg: Config) -> xr.Dataset:
    alphas = np.asarray(cfg.alphas, dtype=np.float64)
    K = p.sigma.size
    tails = np.abs(p.lam)
    ey2 = np.array([tails[k] if k < tails.size else 0.0 for k in range(1, K + 1)])
    eyf = np.array([math.sqrt(float(np.sum(tails[k:] ** 2))) for k in range(1, K + 1)])
    stop = np.empty((alphas.size, K))
    err2 = np.empty((alphas.size, K))
    errf = np.empty((alphas.size, K))
    errhat = np.empty((alphas.size, K))
    hats = [best_rank_k(p.Y, k) for k in range(1, K + 1)]
    for a, alpha in enumerate(alphas):
        tau = np.maximum(np.asarray(transition_times(p.Y, float(alpha)), dtype=np.float64), 0.0)
        # halfway, in log time, between transitions k and k+1 (twice tau_K after the last one)
        ts = np.array([math.sqrt(tau[k] * tau[k + 1]) for k in range(K - 1)] + [2 * tau[-1]])
        traj = closed_form(p.Y, p.U0_general, float(alpha))
        stop[a] = ts
        for k in range(K):
            w = traj.W(float(ts[k]))
            err2[a, k] = np.linalg.norm(w - p.Y, ord=2)
            errf[a, k] = np.linalg.norm(w - p.Y)
            errhat[a, k] = np.linalg.norm(w - hats[k], ord=2)
    return xr.Dataset(
        {
            "t_stop": (("alpha", "k"), stop),
            "error": (("alpha", "k"), err2, {"long_name": "||W(t_k) - Y||_2"}),
            "error_fro": (("alpha", "k"), errf, {"long_name": "||W(t_k) - Y||_F"}),
            "error_hat": (("alpha", "k"), errhat, {"long_name": "||W(t_k) - Yhat_k||_2"}),
            "eckart_young": (("k",), ey2, {"long_name": "min_rank k ||Z - Y||_2 = sigma_{k+1}"}),
            "eckart_young_fro": (("k",), eyf),
            "eps": ((), p.cfg.eps),
        },
        coords={"alpha": ("alpha", alphas), "k": ("k", np.arange(1, K + 1))},
    )


def figure(ds: xr.Dataset) -> Figure:
    ks = ds["k"].values
    alphas = ds["alpha"].values
    eps = float(ds["eps"])
    fig, axes = new_figure(SECTION.figsize, ncols=2)
    cmap = colormap("viridis")
    for j, a in enumerate(alphas):
        c = cmap(j / max(alphas.size - 1, 1) * 0.9)
        err = ds["error"].sel(alpha=a).values
        hat = ds["error_hat"].sel(alpha=a).values
        axes[0].plot(ks, err, "o-", color=c, ms=5, lw=1.4, label=alpha_label(float(a)))
        axes[1].semilogy(
            ks, np.maximum(hat, 1e-17), "o-", color=c, ms=5, lw=1.4, label=alpha_label(float(a))
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
    handles, labels = axes[0].get_legend_handles_labels()
    h1, l1 = axes[1].get_legend_handles_labels()
    handles.append(h1[-1])
    labels.append(l1[-1])
    fig.legend(handles, labels, loc="outside lower center", ncols=4)
    return fig


def tables(ds: xr.Dataset) -> list[Table]:
    rows = []
    for a in ds["alpha"].values:
        for k in ds["k"].values:
            sel = {"alpha": a, "k": k}
            rows.append(
                [
                    fmt(a),
                    str(int(k)),
                    fmt(ds["t_stop"].sel(sel)),
                    fmt(ds["error"].sel(sel)),
                    fmt(ds["eckart_young"].sel(k=k)),
                    fmt(ds["error_hat"].sel(sel)),
                ]
            )
    return [
        Table(
            "Early stopping at t_k (halfway in log time between transitions k and k+1)",
            [
                "alpha",
                "k",
                "t_k",
                "||W(t_k) - Y||_2",
                "Eckart-Young sigma_{k+1}",
                "||W(t_k) - Yhat_k||_2",
            ],
            rows,
        )
    ]


def text(ds: xr.Dataset) -> list[str]:
    a_small = ds["alpha"].values[-1]
    a_large = ds["alpha"].values[0]
    excess = ds["error"] - ds["eckart_young"]
    hat = ds["error_hat"]
    return [
        "Stopping the flow between transitions k and k+1 returns a rank-k approximation "
        "of Y. Its error approaches the Eckart-Young optimum sigma_{k+1} as alpha shrinks "
        f"(largest excess over sigma_(k+1): {fmt(float(excess.sel(alpha=a_large).max()))} at "
        f"alpha = {fmt(a_large)}, {fmt(float(excess.sel(alpha=a_small).max()))} at alpha = "
        f"{fmt(a_small)}), and its distance to Yhat_k itself goes to zero (largest over k: "
        f"{fmt(float(hat.sel(alpha=a_large).max()))} and "
        f"{fmt(float(hat.sel(alpha=a_small).max()))}).",
    ]


SECTION = Section(
    name="early_stopping",
    title="Low-rank approximation by early stopping",
    config=Config,
    compute=compute,
    figure=figure,
    tables=tables,
    text=text,
    figsize=(12.0, 5.2),
)
