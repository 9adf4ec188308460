"""Lazy versus rich learning and continual learning in a two-layer linear network, exactly.

    python examples/linear_network_lazy_rich.py OUT [--quick] [--gd-grid]

Writes into the folder OUT:

* ``phase_diagram.png``: the (lambda, scale) phase diagram of a 6 -> 4 -> 4 network trained on a
  rank-2 teacher (singular values 3, 1) from lambda-balanced weights: kernel distance, hidden
  representation distance, final NTK-task alignment and time to learn, each computed exactly at
  every grid cell (``mfflow.lazy_rich_phase_diagram``); the cells confirmed by gradient descent
  are marked.
* ``continual_learning.png``: tasks A -> B -> A on the same inputs, switched at t = 20 and 40,
  from four inits (rich, lambda > 0, lambda < 0, large balanced), exactly
  (``mfflow.continual_learning``).
* ``numbers.json``: every number quoted below.

``--quick``: a coarser grid. ``--gd-grid``: also run the whole grid by gradient descent (each
cell at step ``min(1e-3, 0.05 / (sigma_1 + |lambda| + scale))``, the checks' step where it is
stable, up to twice its exact time to learn, which favours descent: without the closed form the
horizon is unknown), compare it with the exact cells at the same horizons and report the time
ratio (CPU time: the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure

import mfflow

D_IN, H, D_OUT, P = 6, 4, 4, 24
SPECTRUM = [3.0, 1.0]
SWITCHES = (20.0, 40.0)
INITS = [  # label, lambda, scale, colour
    ("rich: $\\lambda = 0$, scale $10^{-3}$", 0.0, 1e-3, "tab:red"),
    ("$\\lambda = +10$, scale $10^{-3}$", 10.0, 1e-3, "tab:blue"),
    ("$\\lambda = -10$, scale $10^{-3}$", -10.0, 1e-3, "tab:green"),
    ("large: $\\lambda = 0$, scale 3", 0.0, 3.0, "tab:purple"),
]
LINTHRESH = 0.1  # the lambda axis is linear in [-0.1, 0.1], logarithmic outside


def grid(quick: bool) -> tuple[np.ndarray, np.ndarray]:
    n_lam, n_s = (6, 9) if quick else (12, 25)
    side = np.geomspace(0.03, 30.0, n_lam)
    return np.concatenate([-side[::-1], [0.0], side]), np.geomspace(1e-4, 30.0, n_s)


def edges(centers: np.ndarray, fwd, inv) -> np.ndarray:
    """Cell edges halfway between centers in the axis's own scale."""
    u = fwd(centers)
    mid = 0.5 * (u[1:] + u[:-1])
    return inv(np.concatenate([[2 * u[0] - mid[0]], mid, [2 * u[-1] - mid[-1]]]))


def symlog(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log10(1 + np.abs(x) / LINTHRESH)


def symlog_inv(u: np.ndarray) -> np.ndarray:
    return np.sign(u) * LINTHRESH * (10 ** np.abs(u) - 1)


def phase_figure(pd: mfflow.PhaseDiagram) -> Figure:
    fig = Figure(figsize=(11.0, 8.6), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True, sharey=True)
    xe = edges(pd.scales, np.log10, lambda u: 10**u)
    ye = edges(pd.lams, symlog, symlog_inv)
    kd_min = max(float(np.nanmin(pd.kernel_distance)), 1e-12)
    panels = [
        (
            "kernel distance $1 - \\cos(K(0), K(\\infty))$ of the NTK",
            np.maximum(pd.kernel_distance, kd_min),
            LogNorm(kd_min, 1.0),
            "viridis",
            "kernel distance (log scale)",
        ),
        (
            "hidden representation distance $1 - \\cos(H(0), H(\\infty))$, $H = X^T W_1^T W_1 X$",
            pd.representation_distance,
            Normalize(0.0, 1.0),
            "viridis",
            "representation distance",
        ),
        (
            "NTK-task alignment at $t = \\infty$",
            pd.alignment_final,
            Normalize(0.0, float(np.nanmax(pd.alignment_final))),
            "magma",
            "$y^T K y \\,/\\, (\\|K\\|_F \\|y\\|^2)$",
        ),
        (
            f"time to learn (excess loss $\\leq$ {pd.tol:g} of its initial value)",
            pd.time_to_learn,
            LogNorm(float(np.nanmin(pd.time_to_learn)), float(np.nanmax(pd.time_to_learn))),
            "cividis",
            "time (gradient-flow units, log scale)",
        ),
    ]
    for ax, (title, data, norm, cmap, label) in zip(axes.ravel(), panels, strict=True):
        mesh = ax.pcolormesh(xe, ye, data, norm=norm, cmap=cmap, shading="flat")
        fig.colorbar(mesh, ax=ax, label=label)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=LINTHRESH)
        ax.set_title(title, fontsize=10)
        for k, check in enumerate(pd.checks, start=1):
            ax.plot(
                check.exact.scale, check.exact.lam, marker="o", ms=11, mfc="white",
                mec="black", mew=1.0,
            )  # fmt: skip
            ax.annotate(
                str(k), (check.exact.scale, check.exact.lam), color="black", fontsize=7,
                ha="center", va="center", fontweight="bold",
            )  # fmt: skip
    for ax in axes[1]:
        ax.set_xlabel("absolute scale $s$ (singular values of $W_2 W_1(0)$)")
    for ax in axes[:, 0]:
        ax.set_ylabel("relative scale $\\lambda$ ($W_2^T W_2 - W_1 W_1^T = \\lambda I$)")
    fig.suptitle(
        f"Two-layer linear network {D_IN} $\\to$ {H} $\\to$ {D_OUT}, rank-2 teacher "
        f"(singular values {SPECTRUM[0]:g}, {SPECTRUM[1]:g}), exact at "
        f"{pd.lams.size} $\\times$ {pd.scales.size} cells; numbered circles: cells "
        "checked by gradient descent",
        fontsize=10,
    )
    return fig


def continual_figure(runs: list[tuple[str, str, mfflow.ContinualLearning]]) -> Figure:
    fig = Figure(figsize=(11.0, 7.6), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    for label, colour, run in runs:
        t = run.t
        axes[0, 0].plot(t, run.task_losses[:, 0], color=colour, label=label)
        axes[0, 1].plot(t, run.task_losses[:, 1], color=colour, label=label)
        for k in range(3):  # drift restarts at every switch: no line across it
            sel = run.active == k
            axes[1, 0].plot(t[sel], run.drift[sel], color=colour, label=label if k == 0 else None)
        axes[1, 1].plot(t, run.kernel_distance, color=colour, label=label)
    titles = [
        "loss on task A, $\\frac{1}{2P}\\|Y_A - W_2 W_1 X\\|_F^2$",
        "loss on task B, $\\frac{1}{2P}\\|Y_B - W_2 W_1 X\\|_F^2$",
        "representation drift since the current task began, $1 - \\cos(H(t), H(t_k))$",
        "kernel distance to the initial NTK, $1 - \\cos(K(0), K(t))$",
    ]
    for ax, title in zip(axes.ravel(), titles, strict=True):
        ax.set_title(title, fontsize=10)
        for s in SWITCHES:
            ax.axvline(s, color="0.6", lw=0.8, ls="--")
    mids = [0.5 * SWITCHES[0], 0.5 * (SWITCHES[0] + SWITCHES[1]), 0.5 * (SWITCHES[1] + 60.0)]
    for ax in axes[0]:
        ax.set_yscale("log")
        ax.set_ylim(1e-8, 50.0)
        top = ax.secondary_xaxis("top")
        top.set_ticks(mids, labels=["training A", "training B", "training A"], fontsize=8)
        top.tick_params(length=0)
    for ax in axes[1]:
        ax.set_xlabel("time (gradient-flow units); dashed: task switches")
        ax.set_ylim(-0.02, 1.0)
    axes[0, 0].set_ylabel("loss (log scale, clipped at $10^{-8}$)")
    axes[1, 0].set_ylabel("distance")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=9)
    fig.suptitle(
        "Continual learning A $\\to$ B $\\to$ A (switches at t = 20, 40), "
        f"{D_IN} $\\to$ {H} $\\to$ {D_OUT} network, rank-2 teachers, exact",
        fontsize=10,
    )
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs and numbers.json")
    parser.add_argument("--quick", action="store_true", help="a coarser grid")
    parser.add_argument("--gd-grid", action="store_true", help="time the grid by descent too")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    numbers: dict[str, object] = {}

    X = mfflow.whitened_inputs(D_IN, P, seed=0)
    Y = mfflow.teacher_task(X, D_OUT, SPECTRUM, seed=1)
    lams, scales = grid(args.quick)
    checks = [(0.0, 1e-3), (10.0, 1e-3), (-10.0, 1e-3), (0.0, 3.0), (1.0, 0.1)]
    pd = mfflow.lazy_rich_phase_diagram(
        X, Y, lams, scales, h=H, checks=checks, check_eta=1e-3, check_horizon=3.0
    )
    print(
        f"phase diagram: {lams.size} x {scales.size} cells exactly in {pd.seconds:.2f} s wall, "
        f"{pd.cpu_seconds:.2f} s CPU"
    )
    print(pd.to_table())
    numbers["phase_grid"] = [int(lams.size), int(scales.size)]
    numbers["phase_seconds_exact"] = {"wall": pd.seconds, "cpu": pd.cpu_seconds}
    numbers["checks"] = [
        {"exact": c.exact.as_dict(), "descent": c.descent.as_dict(), "differences":
         c.differences(), "eta": c.eta, "seconds_exact": c.seconds_exact,
         "seconds_descent": c.seconds_descent}
        for c in pd.checks
    ]  # fmt: skip
    i0 = int(np.flatnonzero(lams == 0.0)[0])
    numbers["regimes"] = {
        "kernel_distance_lam0": pd.kernel_distance[i0].tolist(),
        "kernel_distance_lam_max": pd.kernel_distance[-1].tolist(),
        "kernel_distance_lam_min": pd.kernel_distance[0].tolist(),
        "representation_distance_lam_max": pd.representation_distance[-1].tolist(),
        "time_to_learn_lam0": pd.time_to_learn[i0].tolist(),
        "time_to_learn_lam_max": pd.time_to_learn[-1].tolist(),
        "time_to_learn_lam_min": pd.time_to_learn[0].tolist(),
        "alignment_init": [
            float(np.nanmin(pd.alignment_init)),
            float(np.nanmax(pd.alignment_init)),
        ],
        "alignment_final_lam0": pd.alignment_final[i0].tolist(),
        "alignment_final_lam_max": pd.alignment_final[-1].tolist(),
        "lams": lams.tolist(),
        "scales": scales.tolist(),
    }
    if args.gd_grid:
        start, cpu = time.perf_counter(), time.process_time()
        gaps = {"time_to_learn_rel": 0.0, "kernel_distance": 0.0, "alignment_final": 0.0}
        for i, lam in enumerate(lams):
            for j, s in enumerate(scales):
                eta = min(1e-3, 0.05 / (SPECTRUM[0] + abs(lam) + s))  # the checks' step, stable
                hz = 2.0 * float(pd.time_to_learn[i, j])
                gd = mfflow.lazy_rich_cell(X, Y, lam, s, h=H, horizon=hz, eta=eta)
                ex = mfflow.lazy_rich_cell(X, Y, lam, s, h=H, horizon=gd.t_end)
                gaps["time_to_learn_rel"] = max(
                    gaps["time_to_learn_rel"],
                    abs(gd.time_to_learn - ex.time_to_learn) / ex.time_to_learn,
                )
                for key in ("kernel_distance", "alignment_final"):
                    gaps[key] = max(gaps[key], abs(getattr(gd, key) - getattr(ex, key)))
        # the exact cells at the same horizons were recomputed inside the loop: time them apart
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        start, cpu0 = time.perf_counter(), time.process_time()
        for i, lam in enumerate(lams):
            for j, s in enumerate(scales):
                hz = 2.0 * float(pd.time_to_learn[i, j])
                eta = min(1e-3, 0.05 / (SPECTRUM[0] + abs(lam) + s))
                mfflow.lazy_rich_cell(X, Y, lam, s, h=H, horizon=round(hz / eta) * eta)
        ex_wall, ex_cpu = time.perf_counter() - start, time.process_time() - cpu0
        gd_wall, gd_cpu = wall - ex_wall, cpu - ex_cpu
        print(
            f"the same grid by gradient descent (eta = min(1e-3, 0.05 / (sigma_1 + |lambda| + "
            f"s)), horizon 2x the exact time to learn): {gd_wall:.1f} s wall, {gd_cpu:.1f} s CPU "
            f"= {gd_cpu / pd.cpu_seconds:.1f}x the closed form's CPU time ({pd.cpu_seconds:.1f} "
            f"s, t = inf); worst gaps to the exact cells at the same horizon: {gaps}"
        )
        numbers["phase_descent"] = {
            "wall": gd_wall, "cpu": gd_cpu, "gaps": gaps, "exact_cpu": pd.cpu_seconds,
            "exact_wall": pd.seconds, "ratio_cpu": gd_cpu / pd.cpu_seconds,
        }  # fmt: skip
    fig = phase_figure(pd)
    fig.savefig(args.out / "phase_diagram.png", dpi=130)

    A = mfflow.teacher_task(X, D_OUT, SPECTRUM, seed=1)
    B = mfflow.teacher_task(X, D_OUT, SPECTRUM, seed=2)
    t = np.linspace(0.0, 60.0, 1201)
    runs = []
    SA, SB = A @ X.T / P, B @ X.T / P
    numbers["continual_forgetting_predicted"] = 0.5 * float(np.sum((SA - SB) ** 2))
    cont = {}
    for label, lam, s, colour in INITS:
        W1, W2 = mfflow.lambda_balanced_weights(D_IN, H, D_OUT, lam, s, seed=3)
        start = time.perf_counter()
        run = mfflow.continual_learning(X, [A, B, A], W1, W2, SWITCHES, t)
        seconds = time.perf_counter() - start
        runs.append((label, colour, run))
        in_b = run.active == 1
        peak = int(np.argmax(np.where(in_b, run.task_losses[:, 0], -np.inf)))
        cont[f"lam={lam:g}, scale={s:g}"] = {
            "end_losses": run.end_losses.tolist(),
            "forgetting": run.forgetting.tolist(),
            "peak_loss_A_during_B": float(run.task_losses[peak, 0]),
            "peak_time": float(run.t[peak]),
            "drift_end_of_B": float(run.drift[in_b][-1]),
            "drift_end_of_A2": float(run.drift[-1]),
            "kernel_distance_end": float(run.kernel_distance[-1]),
            "time_to_learn": [_time_to(run, k, k % 2, 1e-2) for k in range(3)],
            "seconds": seconds,
        }
        print(f"{label}: forgetting {run.forgetting.round(4)}, "
              f"peak A-loss during B {run.task_losses[peak, 0]:.4f}")  # fmt: skip
        print(run.to_table())
    numbers["continual"] = cont
    fig = continual_figure(runs)
    fig.savefig(args.out / "continual_learning.png", dpi=130)
    (args.out / "numbers.json").write_text(json.dumps(numbers, indent=1, default=float))
    print(f"wrote {args.out / 'phase_diagram.png'}, {args.out / 'continual_learning.png'}")


def _time_to(run: mfflow.ContinualLearning, phase: int, task: int, frac: float) -> float:
    """Time from the start of ``phase`` until ``task``'s loss is ``frac`` of its value then."""
    sel = run.active == phase
    t, loss = run.t[sel], run.task_losses[sel, task]
    hit = np.flatnonzero(loss <= frac * loss[0])
    return float(t[hit[0]] - t[0]) if hit.size else math.inf


if __name__ == "__main__":
    main()
