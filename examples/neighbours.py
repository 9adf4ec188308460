"""Three neighbours of the paper's setting, solved exactly (issue 14), one figure each.

1. Weight decay: learning curves, the final spectrum and which modes are learned (and when)
   over (gamma, alpha).
2. Mixed lazy/active dynamics (Tu, Aranguri & Jacot, NeurIPS 2024): their phase picture from
   the exact dynamics, next to their Euler scheme.
3. A noisy target: the exact test error over time, the optimal stopping error against the
   truncated SVD and the random-matrix (BBP) prediction, up to 10^4 rows.

Usage::

    python examples/neighbours.py OUT_DIR [--quick]

Writes ``weight_decay.png``, ``mixed_dynamics.png``, ``noisy_target.png`` and ``summary.json``
(every prediction next to its measurement) into ``OUT_DIR``. About 10 minutes on one core, most
of it the 10^4 x 10^3 noisy target (``--quick``: about 1 minute).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

import mfflow

# ---- 1. weight decay ----------------------------------------------------------------------------


def weight_decay_study(quick: bool) -> tuple[Figure, dict]:
    spectrum = np.array([4.0, 2.5, 1.5, 0.7])
    n = 6
    Y = mfflow.make_target(spectrum, n=n, seed=0)
    U0 = mfflow.gaussian_init(n, n, seed=1)
    alpha = 1e-12
    gammas = [0.0, 0.5, 1.0, 2.0]
    t = np.linspace(0.0, 80.0, 800)
    summary: dict = {"spectrum": spectrum.tolist(), "alpha": alpha, "curves": []}

    fig = Figure(figsize=(16, 5.2), layout="constrained")
    axes = fig.subplots(1, 3)
    ax = axes[0]
    colors = ["C0", "C1", "C2", "C3"]
    for g, col in zip(gammas, colors, strict=True):
        traj = mfflow.closed_form(Y, U0, alpha, weight_decay=g)
        ev = traj.eigvals(t, k=4)
        for i in range(4):
            ax.plot(t, ev[:, i], color=col, lw=1.4, label=f"γ = {g:g}" if i == 0 else None)
        pred = mfflow.transition_times(traj)
        meas = mfflow.measured_transition_times(traj)
        ax.plot(pred, 0.5 * traj.lam[: pred.size], "x", color="k", ms=6, mew=1.2)
        summary["curves"].append(
            {
                "gamma": g,
                "predicted_times": pred.tolist(),
                "measured_half_times": meas.tolist(),
                "limit_eigenvalues": np.linalg.eigvalsh(traj.limit())[::-1][:4].tolist(),
            }
        )
    ax.plot([], [], "x", color="k", label="log(1/α) / (2(σ_i − γ)) at (σ_i − γ)/2")
    ax.set_ylim(-0.1, 5.3)
    ax.set_xlabel("time t")
    ax.set_ylabel("eigenvalues of W(t)")
    ax.set_title(f"(a) learning curves, α = {alpha:g}, Y: 4, 2.5, 1.5, 0.7, 0, 0")
    ax.legend(loc="upper center", fontsize=8, ncol=3, columnspacing=1.0)

    ax = axes[1]
    gs = np.linspace(0.0, 4.5, 91)
    final = np.array(
        [
            np.linalg.eigvalsh(mfflow.closed_form(Y, U0, alpha, weight_decay=g).limit())[::-1][:4]
            for g in gs
        ]
    )
    for i in range(4):
        ax.plot(gs, final[:, i], color=f"C{i}", lw=2.0, label=f"mode {i + 1} (σ = {spectrum[i]:g})")
        ax.plot(gs, np.maximum(spectrum[i] - gs, 0.0), "k:", lw=1.0)
    ax.plot([], [], "k:", lw=1.0, label="(σ_i − γ)₊")
    ax.set_xlabel("weight decay γ")
    ax.set_ylabel("eigenvalues of W(∞)")
    ax.set_title("(b) final spectrum: exact limit vs (σ_i − γ)₊")
    ax.legend(fontsize=8)
    summary["limit_max_deviation_from_soft_threshold"] = float(
        np.max(np.abs(final - np.maximum(spectrum[None, :] - gs[:, None], 0.0)))
    )

    ax = axes[2]
    T = 30.0
    g_grid = np.linspace(0.0, 4.2, 29 if quick else 57)
    la_grid = np.linspace(2.0, 60.0, 24 if quick else 48)  # log(1/alpha)
    spectral = mfflow.spectral_init(Y, 1.0)
    learned = np.zeros((la_grid.size, g_grid.size))
    for j, g in enumerate(g_grid):
        base = mfflow.closed_form(Y, spectral, 1.0, weight_decay=g)
        vals = base.with_alphas(np.exp(-la_grid)).mode_values(T)  # (A, n)
        mu = base.lam  # sigma_i - gamma
        learned[:, j] = np.sum((vals >= 0.5 * mu[None, :]) & (mu[None, :] > 0), axis=1)
    cmap = ListedColormap(["#f7f7f7", "#c6dbef", "#6baed6", "#2171b5", "#08306b"])
    norm = BoundaryNorm(np.arange(-0.5, 5.5, 1.0), cmap.N)
    mesh = ax.pcolormesh(g_grid, la_grid, learned, cmap=cmap, norm=norm, shading="nearest")
    cb = fig.colorbar(mesh, ax=ax, ticks=range(5))
    cb.set_label(f"modes with σ_i(t) ≥ (σ_i − γ)/2 at t = {T:g}")
    gl = np.linspace(0.0, 4.2, 400)
    for s in spectrum:
        mu = s - gl
        ok = mu > 0
        # predicted (eq. 3.2, W~0 = I): mode i is half learned at T iff log(1/a) <= 2 T mu - log mu
        ax.plot(gl[ok], 2.0 * T * mu[ok] - np.log(mu[ok]), color="C1", lw=1.2, ls="--")
        ax.axvline(s, color="k", lw=0.8, ls=":")
    ax.plot([], [], color="C1", ls="--", label="predicted: log(1/α) = 2Tμ − log μ, μ = σ_i − γ")
    ax.plot([], [], color="k", ls=":", label="γ = σ_i: never learned beyond")
    ax.set_ylim(la_grid[0], la_grid[-1])
    ax.set_xlabel("weight decay γ")
    ax.set_ylabel("log(1/α)")
    ax.set_title(f"(c) which modes are learned by t = {T:g} (W~0 = I)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1)
    # agreement of the phase boundaries with the prediction (spectral init, exact time)
    summary["phase_T"] = T
    return fig, summary


# ---- 2. mixed dynamics -----------------------------------------------------------------------


def mixed_study(quick: bool) -> tuple[Figure, dict]:
    d, k = (16, 3) if quick else (30, 5)
    task = mfflow.mixed_task(d, k, seed=0)
    gss = np.linspace(-2.2, -0.8, 7 if quick else 12)
    gws = np.linspace(1.75, 2.8, 7 if quick else 12)
    GS, GW = np.meshgrid(gss, gws, indexing="ij")
    c, scale = mfflow.tu_parameters(d, GS, GW)
    start = time.perf_counter()
    pd = mfflow.mixed_phase_diagram(task, c, scale, seed=1, euler=True)
    took = time.perf_counter() - start
    gap = pd.euler_discrepancy()
    fig = Figure(figsize=(12, 9.5), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    panels = [
        (pd.test_error, "viridis", "min_t ‖B(t) − A*‖²_F / d²", "(a) smallest test error"),
        (pd.stable_rank, "magma", "‖B‖²_F / ‖B‖²_2 at the minimum", "(b) stable rank at t*"),
        (pd.iterations, "cividis", "t* / η (their step η)", "(c) iterations to the minimum"),
    ]
    extent = [gss[0], gss[-1], gws[0], gws[-1]]
    for ax, (z, cmap, label, title) in zip(axes[:3], panels, strict=True):
        mesh = ax.pcolormesh(gss, gws, z.T, cmap=cmap, shading="nearest")
        fig.colorbar(mesh, ax=ax).set_label(label)
        xs = np.linspace(extent[0], extent[1], 50)
        ax.plot(xs, 1.0 - xs, "w--", lw=1.3)
        ax.set_xlim(extent[0], extent[1])
        ax.set_ylim(extent[2], extent[3])
        ax.set_xlabel("γ_σ² (σ² = d^γ_σ²)")
        ax.set_ylabel("γ_w (w = d^γ_w)")
        ax.set_title(title)
    ax = axes[3]
    assert pd.euler_test_error is not None and pd.euler_iterations is not None
    ax.loglog(pd.test_error.ravel(), pd.euler_test_error.ravel(), "o", ms=4, label="test error")
    ax.loglog(pd.iterations.ravel(), pd.euler_iterations.ravel(), "s", ms=4, mfc="none",
              label="iterations to the minimum")  # fmt: skip
    lo = min(pd.test_error.min(), pd.iterations.min()) * 0.7
    hi = max(pd.test_error.max(), pd.iterations.max()) * 1.4
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8, label="equal")
    ax.set_xlabel("exact dynamics")
    ax.set_ylabel("their Euler scheme (η as theirs)")
    ax.set_title(
        f"(d) their Euler scheme vs exact, every cell: test error within "
        f"{100 * gap['test_error']:.2g}%,\nstable rank within {100 * gap['stable_rank']:.2g}%, "
        f"iterations within {100 * gap['iterations']:.2g}%"
    )
    ax.legend(fontsize=9, loc="upper left")
    fig.suptitle(
        f"Mixed lazy/active dynamics (Tu, Aranguri & Jacot), exact: d = {d}, rank-{k} A*, "
        f"Y = A* + E, B0 = σ²√w G0, c = σ²w\n(a)-(c) at each cell's exact optimal time t*; "
        f"white dashed line: c = d (their lazy/active step-size switch)",
        fontsize=11,
    )
    summary = {
        "d": d,
        "k": k,
        "cells": int(c.size),
        "seconds": took,
        "euler_vs_exact_max_relative": gap,
        "test_error_range": [float(pd.test_error.min()), float(pd.test_error.max())],
        "stable_rank_range": [float(pd.stable_rank.min()), float(pd.stable_rank.max())],
        "any_at_horizon": bool(pd.at_horizon.any()),
    }
    return fig, summary


# ---- 3. noisy target -------------------------------------------------------------------------


def noisy_study(quick: bool) -> tuple[Figure, dict]:
    n = 400 if quick else 1000
    x = np.array([3.0, 2.0, 1.5, 0.7])  # theta / (s sqrt(n)): three above the BBP threshold
    summary: dict = {"n": n, "x": x.tolist(), "curves": [], "sweep": [], "scaling": []}
    fig = Figure(figsize=(12, 9.5), layout="constrained")
    axes = fig.subplots(2, 2).ravel()

    # (a) curves over t for several alpha; (b) for several noise levels
    target = mfflow.noisy_target(x * math.sqrt(n), n=n, noise=1.0, seed=0)
    pred = mfflow.spiked_prediction(x * math.sqrt(n), 1.0, n)
    spectral = np.eye(n)  # W0 = alpha I: the spectral path, O(n) per time
    ax = axes[0]
    runs = []
    for alpha in [1e-4, 1e-10, 1e-30]:
        traj = target.trajectory(spectral, alpha)
        runs.append((alpha, traj, mfflow.early_stopping(traj, target)))
    tt = np.linspace(0.0, 1.4 * max(stop.t_star for *_, stop in runs), 800)
    for (alpha, traj, stop), col in zip(runs, ["C0", "C1", "C2"], strict=True):
        curve = mfflow.signal_error(traj, target, tt) / target.signal_norm
        ax.plot(tt, curve, color=col, label=f"α = {alpha:g}")
        ax.plot(stop.t_star, stop.relative_error_star, "o", color=col, ms=6)
        summary["curves"].append(
            {
                "alpha": alpha,
                "t_star": stop.t_star,
                "predicted_t_star": pred.stopping_time(alpha),
                "error_star": stop.error_star,
            }
        )
    ax.axhline(pred.early_stopping_error / target.signal_norm, color="k", ls="--", lw=1,
               label="BBP prediction, α → 0")  # fmt: skip
    ax.axhline(mfflow.truncation_errors(target).min() / target.signal_norm, color="C3", ls=":",
               lw=1.2, label="best truncated SVD")  # fmt: skip
    ax.set_ylim(0.0, 1.6)
    ax.set_xlim(tt[0], tt[-1])
    ax.set_xlabel("time t")
    ax.set_ylabel("‖W(t) − Y*‖_F / ‖Y*‖_F")
    ax.set_title(f"(a) exact test error, n = {n}, s = 1, W(0) = αI (dots: optimum)")
    ax.legend(fontsize=8, loc="lower left")

    ax = axes[1]
    for s, col in zip([0.5, 1.0, 1.5], ["C4", "C1", "C5"], strict=True):
        tg = mfflow.noisy_target(x * math.sqrt(n), n=n, noise=s, seed=1)
        traj = tg.trajectory(spectral, 1e-10)
        stop = mfflow.early_stopping(traj, tg)
        curve = mfflow.signal_error(traj, tg, tt) / tg.signal_norm
        ax.plot(tt, curve, color=col, label=f"noise s = {s:g}")
        ax.plot(stop.t_star, stop.relative_error_star, "o", color=col, ms=6)
    ax.set_ylim(0.0, 1.6)
    ax.set_xlim(tt[0], tt[-1])
    ax.set_xlabel("time t")
    ax.set_ylabel("‖W(t) − Y*‖_F / ‖Y*‖_F")
    ax.set_title("(b) α = 1e-10, the same θ, three noise levels (dots: optimum)")
    ax.legend(fontsize=8, loc="lower left")

    # (c) optimal error vs noise level: exact, truncated SVD, prediction
    ax = axes[2]
    levels = np.linspace(0.3, 2.2, 8 if quick else 14)
    theta = x * math.sqrt(n)
    seeds = 2 if quick else 3
    meas_stop, meas_trunc, pr_stop, pr_trunc = [], [], [], []
    for s in levels:
        p = mfflow.spiked_prediction(theta, s, n)
        es, et = [], []
        for seed in range(seeds):
            tg = mfflow.noisy_target(theta, n=n, noise=s, seed=100 + seed)
            es.append(mfflow.early_stopping(tg.trajectory(spectral, 1e-40), tg).error_star)
            et.append(mfflow.truncation_errors(tg).min())
        norm = float(np.linalg.norm(theta))
        meas_stop.append(np.mean(es) / norm)
        meas_trunc.append(np.mean(et) / norm)
        pr_stop.append(p.early_stopping_error / norm)
        pr_trunc.append(p.truncation_error / norm)
        summary["sweep"].append(
            {
                "noise": float(s),
                "early_stopping": {
                    "measured": float(np.mean(es)),
                    "predicted": p.early_stopping_error,
                },
                "truncation": {"measured": float(np.mean(et)), "predicted": p.truncation_error},
            }
        )
    ax.plot(levels, pr_stop, "C0-", label="early stopping, BBP prediction (α → 0)")
    ax.plot(
        levels, meas_stop, "C0o", ms=5, label=f"early stopping, exact (α = 1e-40, {seeds} seeds)"
    )
    ax.plot(levels, pr_trunc, "C3--", label="truncated SVD, BBP prediction")
    ax.plot(levels, meas_trunc, "C3s", ms=5, mfc="none", label="truncated SVD, best rank (exact)")
    ax.set_xlabel("noise level s")
    ax.set_ylabel("optimal ‖W − Y*‖_F / ‖Y*‖_F")
    ax.set_title(f"(c) θ = ({', '.join(f'{v:.0f}' for v in theta)}), n = {n}")
    ax.legend(fontsize=7.5, loc="upper left")

    # (d) finite-n accuracy of the prediction, rectangular m x n up to m = 10^4 (thin SVD path)
    ax = axes[3]
    sizes = (
        [(1000, 100), (2000, 200), (4000, 400)]
        if quick
        else [(1250, 125), (2500, 250), (5000, 500), (10000, 1000)]
    )
    xr = np.array([3.0, 2.0, 1.4, 0.5]) * 0.1**0.25  # above/below beta^(1/4), beta = 0.1
    dev_stop, dev_trunc, ms = [], [], []
    for m_rows, n_cols in sizes:
        th = xr * math.sqrt(m_rows)
        p = mfflow.spiked_prediction(th, 1.0, n_cols, m=m_rows)
        tg = mfflow.noisy_target(th, n=n_cols, m=m_rows, noise=1.0, seed=7)
        U0, V0 = mfflow.balanced_init(m_rows, n_cols, 5, seed=8)
        t0 = time.perf_counter()
        stop = mfflow.early_stopping(tg.trajectory(U0, 1e-40, V0=V0), tg)
        took = time.perf_counter() - t0
        trunc = mfflow.truncation_errors(tg, k_max=8).min()
        dev_stop.append(abs(stop.error_star / p.early_stopping_error - 1))
        dev_trunc.append(abs(trunc / p.truncation_error - 1))
        ms.append(m_rows)
        summary["scaling"].append(
            {
                "m": m_rows,
                "n": n_cols,
                "early_stopping": {
                    "measured": stop.error_star,
                    "predicted": p.early_stopping_error,
                },
                "truncation": {"measured": float(trunc), "predicted": p.truncation_error},
                "seconds": took,
            }
        )
    ms_arr = np.array(ms, dtype=float)
    ax.loglog(ms_arr, dev_stop, "C0o-", label="early stopping (exact, α = 1e-40)")
    ax.loglog(ms_arr, dev_trunc, "C3s--", mfc="none", label="truncated SVD")
    ax.loglog(ms_arr, 2.0 / np.sqrt(ms_arr / 10), "k:", label="2/√n (stated finite-n error)")
    ax.set_xlabel("rows m (columns n = m/10)")
    ax.set_ylabel("|measured / predicted − 1|")
    ax.set_title("(d) prediction vs exact, rectangular m × n, one sample each")
    ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(
        "Noisy target Y = Y* + N (symmetric: N = s(G + Gᵀ)/√2): exact early stopping vs "
        "truncated SVD vs the spiked-model (BBP) prediction",
        fontsize=11,
    )
    return fig, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs and summary.json")
    parser.add_argument("--quick", action="store_true", help="smaller grids and sizes")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, study in [
        ("weight_decay", weight_decay_study),
        ("mixed_dynamics", mixed_study),
        ("noisy_target", noisy_study),
    ]:
        start = time.perf_counter()
        fig, summary[name] = study(args.quick)
        path = args.out / f"{name}.png"
        fig.savefig(path, dpi=130)
        print(f"{path} ({time.perf_counter() - start:.1f} s)")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    print(args.out / "summary.json")


if __name__ == "__main__":
    main()
