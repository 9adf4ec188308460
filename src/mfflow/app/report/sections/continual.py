"""Continual learning in a two-layer linear network, exactly: tasks A -> B -> A from several
initial shapes; forgetting measured against its converged prediction (Braun et al., NeurIPS
2022)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .... import continual_learning, lambda_balanced_weights
from ...plotting import mode_color, new_figure
from ..document import Table, fmt
from ..network_data import NETWORK_TIME as T
from ..network_data import NetworkDataConfig, inputs, sigma_yx, teacher
from ..section import Section

ONE = "1"
#: Loss values below this are drawn at it (log axes).
LOSS_FLOOR = 1e-8


class Config(NetworkDataConfig):
    task_seeds: tuple[int, ...] = (1, 2, 1)  # teacher seed of each phase: tasks A, B, A
    switches: tuple[float, ...] = (20.0, 40.0)
    t_max: float = 60.0
    num_times: int = 1201
    init_seed: int = 3
    inits: tuple[tuple[float, float], ...] = (
        (0.0, 1e-3),
        (10.0, 1e-3),
        (-10.0, 1e-3),
        (0.0, 3.0),
    )  # (lambda, scale) of each initial shape
    tol: float = 1e-2  # a task is learned when its loss is tol times its value at the switch
    fine: int = 4001  # points per phase on which the time to learn is located
    num_since: int = 200  # times since each switch (log-spaced) of the forgetting curves


def _var(dims: object, values: object, long_name: str, units: str = ONE) -> tuple:
    return (dims, values, {"long_name": long_name, "units": units})


def _names(seeds: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """Distinct teacher seeds in order of appearance, and each phase's index among them."""
    distinct = list(dict.fromkeys(seeds))
    return distinct, [distinct.index(s) for s in seeds]


def predicted_end_losses(sigmas: list[np.ndarray], irreducible: list[float], h: int) -> np.ndarray:
    """``(K, J)`` loss of each task ``j`` once phase ``k`` has converged.

    The flow from a generic init converges to the best rank-``h`` approximation ``[S_k]_h`` of
    the phase's ``Sigma_yx`` whatever the init, so the loss of task ``j`` is
    ``1/2 ||S_j - [S_k]_h||_F^2 + c_j``: fixed by the tasks alone.
    """
    out = np.empty((len(sigmas), len(sigmas)))
    for k, s in enumerate(sigmas):
        u, v, wt = np.linalg.svd(s, full_matrices=False)
        best = (u[:, :h] * v[:h]) @ wt[:h]
        out[k] = [
            0.5 * float(np.sum((sj - best) ** 2)) + c
            for sj, c in zip(sigmas, irreducible, strict=True)
        ]
    return out


def _similarity_distance(g0: np.ndarray, g1: np.ndarray, M: np.ndarray) -> float:
    """``1 - cos(X^T G0 X, X^T G1 X)`` from ``M = X X^T`` (``<H0, H1> = tr(G0 M G1 M)``)."""
    ab = float(np.sum((g0 @ M) * (M @ g1).T))
    aa = float(np.sum((g0 @ M) * (M @ g0).T))
    bb = float(np.sum((g1 @ M) * (M @ g1).T))
    return min(max(1.0 - ab / math.sqrt(aa * bb), 0.0), 1.0) if aa > 0 and bb > 0 else math.nan


def compute(_: object, cfg: Config) -> xr.Dataset:
    X = inputs(cfg)
    distinct, phase_task = _names(cfg.task_seeds)
    tasks = [teacher(cfg, X, s) for s in distinct]
    ys = [tasks[j] for j in phase_task]
    sw = np.asarray(cfg.switches, dtype=np.float64)
    starts = np.concatenate([[0.0], sw])
    t = np.linspace(0.0, cfg.t_max, cfg.num_times)
    K, J, I = len(ys), len(tasks), len(cfg.inits)
    first = [phase_task.index(j) for j in range(J)]  # a column of the run for each task
    sig = [sigma_yx(X, y) for y in tasks]
    irr = [0.5 * float(np.sum((y - s @ X) ** 2)) / cfg.P for y, s in zip(tasks, sig, strict=True)]
    pred_phase = predicted_end_losses(
        [sig[j] for j in phase_task], [irr[j] for j in phase_task], cfg.h
    )
    pred = pred_phase[:, first]  # (K, J)
    loss = np.empty((I, t.size, J))
    kd = np.empty((I, t.size))
    drift = np.empty((I, t.size))
    align = np.empty((I, t.size))
    ends = np.empty((I, K, J))
    learn = np.empty((I, K))
    drift_end = np.empty((I, K))
    peak = np.full((I, K - 1), np.nan)
    peak_t = np.full((I, K - 1), np.nan)
    lengths = np.diff(np.concatenate([starts, [cfg.t_max]]))
    since = (
        np.geomspace(1e-3 * lengths[1:].min(), lengths[1:].min(), cfg.num_since)
        if K > 1
        else np.zeros(0)
    )
    forget_curve = np.empty((I, K - 1, since.size))
    lam_found = np.empty(I)
    M = X @ X.T
    for i, (lam, s) in enumerate(cfg.inits):
        W1, W2 = lambda_balanced_weights(cfg.d_in, cfg.h, cfg.d_out, lam, s, cfg.init_seed)
        run = continual_learning(X, ys, W1, W2, sw, t)
        lam_found[i] = run.lam
        loss[i] = run.task_losses[:, first]
        kd[i] = run.kernel_distance
        drift[i] = run.drift
        ends[i] = run.end_losses[:, first]
        for k, net in enumerate(run.phases):
            sel = run.active == k
            align[i, sel] = net.task_alignment(t[sel] - starts[k])
            last = k == K - 1
            tt = np.linspace(0.0, lengths[k], cfg.fine)
            lk = np.asarray(net.loss(tt)) - irr[phase_task[k]]
            hit = np.flatnonzero(lk <= cfg.tol * lk[0])
            learn[i, k] = tt[hit[0]] if hit.size else math.inf
            g_end = net.gram_in(math.inf if last else lengths[k])
            drift_end[i, k] = _similarity_distance(net.gram_in(0.0), g_end, M)
            if k > 0:  # the task of the previous phase while this one trains, to its end
                prev = phase_task[k - 1]
                ts = np.concatenate([tt, since, [math.inf if last else lengths[k]]])
                lp = 0.5 * np.sum((sig[prev] - net.W(ts)) ** 2, axis=(-2, -1)) + irr[prev]
                forget_curve[i, k - 1] = lp[tt.size : tt.size + since.size]
                m = int(np.argmax(lp))
                peak[i, k - 1], peak_t[i, k - 1] = lp[m], starts[k] + ts[m]
    forget = np.array(
        [
            [ends[i, k + 1, phase_task[k]] - ends[i, k, phase_task[k]] for k in range(K - 1)]
            for i in range(I)
        ]
    ).reshape(I, K - 1)
    forget_pred = np.array(
        [pred[k + 1, phase_task[k]] - pred[k, phase_task[k]] for k in range(K - 1)]
    )
    letters = [chr(ord("A") + j) for j in range(J)]
    lams = np.array([a for a, _ in cfg.inits])
    scales = np.array([b for _, b in cfg.inits])
    return xr.Dataset(
        {
            "task_loss": _var(
                ("init", "time", "task"),
                loss,
                "training loss 1/(2P) ||Y_j - W2 W1 X||_F^2 of task j",
            ),
            "kernel_distance": _var(
                ("init", "time"), kd, "NTK kernel distance 1 - cos(K(0), K(t)) to the initial NTK"
            ),
            "drift": _var(
                ("init", "time"),
                drift,
                "representation drift 1 - cos(H(t), H(start of the phase)), H = X^T W1^T W1 X",
            ),
            "end_loss": _var(
                ("init", "phase", "task"),
                ends,
                "loss of task j at the end of phase k (the last phase: t = inf, exactly)",
            ),
            "predicted_end_loss": _var(
                ("phase", "task"),
                pred,
                "loss of task j once phase k has converged, 1/2 ||S_j - [S_k]_h||_F^2 + c_j",
            ),
            "forgetting": _var(
                ("init", "switch"),
                forget,
                "rise of the previous task's loss over the next phase (end of k+1 minus end of k)",
            ),
            "predicted_forgetting": _var(
                ("switch",), forget_pred, "converged forgetting from the tasks alone"
            ),
            "peak_loss": _var(
                ("init", "switch"),
                peak,
                "largest loss of the previous task over the next phase (its end included)",
            ),
            "peak_time": _var(("init", "switch"), peak_t, "time of that largest loss", T),
            "time_to_learn": _var(
                ("init", "phase"),
                learn,
                "time from the start of phase k until its excess loss is tol x its value then",
                T,
            ),
            "alignment": _var(
                ("init", "time"),
                align,
                "NTK alignment y^T K y / (||K||_F ||y||^2) with the task being trained",
            ),
            "forget_curve": _var(
                ("init", "switch", "since"),
                forget_curve,
                "loss of the previous task against the time since the switch",
            ),
            "drift_end": _var(
                ("init", "phase"),
                drift_end,
                "representation drift over phase k, at its end (the last phase: t = inf)",
            ),
            "phase_task": _var(
                ("phase",), np.array(phase_task), "task trained in phase k (index into task)"
            ),
            "phase_start": _var(("phase",), starts, "start of phase k", T),
            "irreducible": _var(
                ("task",),
                np.array(irr),
                "irreducible loss c_j of task j (no linear map goes below)",
            ),
            "init_lam": _var(
                ("init",), lams, "relative scale lambda of the init (W2^T W2 - W1 W1^T = lambda I)"
            ),
            "init_scale": _var(
                ("init",), scales, "absolute scale s of the init (singular values of W2 W1)"
            ),
            "lam_found": _var(
                ("init",), lam_found, "lambda found in the initial weights (conserved)"
            ),
            "tol": _var((), cfg.tol, "relative excess loss that counts as learned"),
            "spectrum": _var(
                ("mode",),
                np.asarray(cfg.spectrum, dtype=np.float64),
                "singular values of every teacher",
            ),
            "widths": _var(
                ("layer",), np.array([cfg.d_in, cfg.h, cfg.d_out]), "widths d_in, h, d_out"
            ),
            "P": _var((), cfg.P, "number of training examples P"),
            "task_seed": _var(("task",), np.array(distinct), "teacher seed of task j"),
        },
        coords={
            "time": _var("time", t, "time t", T),
            "init": _var("init", np.arange(I), "initial shape index"),
            "task": ("task", letters, {"long_name": "task"}),
            "phase": _var("phase", np.arange(K), "phase index k (task phase_task[k] is trained)"),
            "since": _var("since", since, "time since the switch", T),
            "switch": _var("switch", np.arange(1, K), "switch index (phase k-1 -> phase k)"),
            "mode": _var("mode", np.arange(1, len(cfg.spectrum) + 1), "teacher mode index"),
            "layer": ("layer", ["d_in", "h", "d_out"], {"long_name": "layer"}),
        },
    )


def _init_label(ds: xr.Dataset, i: int, tex: bool = True) -> str:
    lam, s = float(ds["init_lam"][i]), float(ds["init_scale"][i])
    if tex:
        return rf"$\lambda = {lam:g}$, $s = {s:g}$"
    return f"lambda = {fmt(lam)}, s = {fmt(s)}"


def _sequence(ds: xr.Dataset) -> list[str]:
    letters = ds["task"].values
    return [str(letters[j]) for j in ds["phase_task"].values]


def figure(ds: xr.Dataset) -> Figure:
    t = ds["time"].values
    starts = ds["phase_start"].values
    seq = _sequence(ds)
    J, K = ds.sizes["task"], ds.sizes["phase"]
    fig, axes = new_figure(SECTION.figsize, nrows=2, ncols=3)
    axes = axes.reshape(2, 3)
    loss_axes = [axes[0, 0], axes[0, 1]][:J]
    if J == 1:
        axes[0, 1].set_visible(False)
    ends = np.concatenate([starts[1:], [t[-1]]])
    since = ds["since"].values
    styles = ["-", "--", "-.", ":"]
    for i in range(ds.sizes["init"]):
        c, label = mode_color(i + 1), _init_label(ds, i)
        lw = max(2.8 - 0.5 * i, 1.0)  # coinciding curves (lambda = 0 after converging) stay visible
        for j, ax in enumerate(loss_axes):
            y = np.maximum(ds["task_loss"].values[i, :, j], LOSS_FLOOR)
            ax.plot(t, y, color=c, lw=lw, label=label)
        for k in range(K):  # drift and alignment restart at each switch: no line across
            sel = (t >= starts[k]) & ((t < ends[k]) if k < K - 1 else (t <= ends[k]))
            axes[1, 0].plot(t[sel], ds["drift"].values[i, sel], color=c, lw=lw)
            axes[1, 2].plot(t[sel], ds["alignment"].values[i, sel], color=c, lw=lw)
        axes[1, 1].plot(t, ds["kernel_distance"].values[i], color=c, lw=lw)
        for k in range(ds.sizes["switch"]):
            axes[0, 2].plot(
                since, ds["forget_curve"].values[i, k], color=c, lw=lw, ls=styles[k % 4]
            )
    for j, ax in enumerate(loss_axes):
        name = str(ds["task"].values[j])
        ax.set_yscale("log")
        ax.set_ylim(LOSS_FLOOR / 3, None)
        ax.set_title(f"loss on task {name}")
        ax.set_ylabel(r"$\frac{1}{2P}\|Y_" + name + r" - W_2 W_1 X\|_F^2$ (log scale)")
    ax = axes[0, 2]
    pred = ds["predicted_end_loss"].values
    ptask = ds["phase_task"].values
    for k in range(ds.sizes["switch"]):
        ax.axhline(pred[k + 1, ptask[k]], color="k", lw=1.0, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("time since the switch (log scale)")
    ax.set_ylabel("loss of the previous task")
    ax.set_title("forgetting after each switch")
    axes[1, 0].set_title("representation drift in the phase")
    axes[1, 0].set_ylabel(r"$1 - \cos(H(t), H(t_k))$, $H = X^T W_1^T W_1 X$")
    axes[1, 1].set_title("NTK movement")
    axes[1, 1].set_ylabel(r"kernel distance $1 - \cos(K(0), K(t))$")
    axes[1, 2].set_title("NTK alignment with the task trained")
    axes[1, 2].set_ylabel(r"$y^T K y \,/\, (\|K\|_F \|y\|^2)$")
    mids = 0.5 * (starts + ends)
    for ax in [*loss_axes, *axes[1]]:
        for s in starts[1:]:
            ax.axvline(s, color="0.5", lw=0.8, ls="--")
        ax.set_xlim(t[0], t[-1])
        top = ax.secondary_xaxis("top")
        top.set_ticks(mids, labels=seq)
        top.tick_params(length=0)
    for ax in [*loss_axes, *axes[1]]:
        ax.set_xlabel(r"time $t$ (gradient-flow units)")
    for ax in axes[1, :2]:
        ax.set_ylim(-0.02, 1.02)
    handles, labels = loss_axes[0].get_legend_handles_labels()
    for k in range(ds.sizes["switch"]):
        handles.append(Line2D([], [], color="0.3", lw=1.6, ls=styles[k % 4]))
        labels.append(f"{seq[k]} after the switch to {seq[k + 1]}")
    handles.append(Line2D([], [], color="k", ls=":", lw=1.0))
    labels.append("converged loss of the previous task (tasks alone)")
    fig.legend(handles, labels, loc="outside lower center", ncol=4)
    d_in, h, d_out = (int(v) for v in ds["widths"].values)
    fig.suptitle(
        f"Continual learning {' → '.join(seq)}, exact: network {d_in} → {h} → {d_out}, "
        f"P = {int(ds['P'])} whitened examples, rank-{ds.sizes['mode']} teachers; one colour "
        "per initial shape.\nLetters above the panels: the task being trained; dashed lines: "
        "the switches at t = "
        + ", ".join(f"{s:g}" for s in starts[1:])
        + (
            f"; losses below {LOSS_FLOOR:g} drawn at {LOSS_FLOOR:g}."
            if np.nanmin(ds["task_loss"].values) < LOSS_FLOOR
            else "."
        ),
        fontsize=11,
    )
    return fig


def tables(ds: xr.Dataset) -> list[Table]:
    seq = _sequence(ds)
    rows = []
    for i in range(ds.sizes["init"]):
        for k in range(ds.sizes["switch"]):
            sw = k + 1
            rows.append(
                [
                    _init_label(ds, i, tex=False),
                    f"{seq[k]} during {seq[k + 1]}",
                    fmt(ds["predicted_forgetting"].values[k]),
                    fmt(ds["forgetting"].values[i, k]),
                    fmt(ds["forgetting"].values[i, k] - ds["predicted_forgetting"].values[k]),
                    fmt(ds["peak_loss"].values[i, k]),
                    fmt(ds["time_to_learn"].values[i, sw]),
                    fmt(ds["drift_end"].values[i, sw]),
                ]
            )
    forgetting = Table(
        "Forgetting of the previous task: predicted once converged (tasks alone) vs measured "
        "at the end of the next phase, by initial shape",
        [
            "init",
            "task forgotten",
            "predicted converged forgetting",
            "measured forgetting",
            "measured - predicted",
            "peak loss",
            "time to learn the new task",
            "drift at the end of the phase",
        ],
        rows,
    )
    rows = [
        [_init_label(ds, i, tex=False)]
        + [fmt(v) for v in ds["time_to_learn"].values[i]]
        + [fmt(ds["kernel_distance"].values[i, -1])]
        for i in range(ds.sizes["init"])
    ]
    speed = Table(
        f"Time to learn each phase's task (excess loss down to {fmt(ds['tol'])} of its value at "
        "the phase's start) and the final kernel distance",
        [
            "init",
            *[f"phase {k + 1} ({x})" for k, x in enumerate(seq)],
            "kernel distance at the end",
        ],
        rows,
    )
    return [forgetting, speed]


def text(ds: xr.Dataset) -> list[str]:
    seq = _sequence(ds)
    f = ds["forgetting"].values
    pred = ds["predicted_forgetting"].values
    gap = np.abs(f - pred[None, :])
    wi, wk = (int(v) for v in np.unravel_index(int(np.nanargmax(gap)), gap.shape))
    # excess of the trained task at the end of each finite phase over its converged loss
    ends, conv = ds["end_loss"].values, ds["predicted_end_loss"].values
    ptask = ds["phase_task"].values
    K = ds.sizes["phase"]
    excess = np.array(
        [[ends[i, k, ptask[k]] - conv[k, ptask[k]] for k in range(K - 1)] for i in range(len(f))]
    )
    why = ""
    if wk + 1 < K - 1:
        why = (
            f", whose loss on {seq[wk + 1]} at the next switch is still "
            f"{fmt(float(excess[wi, wk + 1]))} above its converged value (largest over all "
            f"inits and finite phases: {fmt(float(np.max(excess)))})"
        )
    over = ds["peak_loss"].values - np.array([conv[k + 1, ptask[k]] for k in range(K - 1)])
    oi = int(np.unravel_index(int(np.nanargmax(over)), over.shape)[0])
    ui = int(np.nanargmin(np.nanmax(over, axis=1)))
    learn = ds["time_to_learn"].values[:, 1]
    fast, slow = int(np.nanargmin(learn)), int(np.nanargmax(learn))
    starts = ds["phase_start"].values
    return [
        f"The network trains on tasks {', '.join(seq)} in turn (same whitened inputs, teachers "
        f"with the same singular values in different random frames), switching at t = "
        + ", ".join(fmt(s) for s in starts[1:])
        + ", from lambda-balanced weights of several shapes. The imbalance lambda is conserved "
        "across the switches, so every phase is again the exact closed form (no ODE solve).",
        f"Once a phase has converged, forgetting is set by the tasks alone (Braun et al. 2022): "
        f"the network then computes the best rank-h approximation of the new task, so the old "
        f"task's loss rises by {fmt(pred[0])} whatever the initial shape. Measured at the end of "
        f"the next phase the rise differs from that by {fmt(float(np.nanmin(gap)))} to "
        f"{fmt(float(np.nanmax(gap)))}, the largest gap for "
        f"{_init_label(ds, wi, tex=False)} ({seq[wk]} during {seq[wk + 1]}){why}. On the way the "
        f"previous task's loss overshoots its converged value by up to "
        f"{fmt(float(np.nanmax(over)))} ({_init_label(ds, oi, tex=False)}), and by at most "
        f"{fmt(float(np.nanmin(np.nanmax(over, axis=1))))} for "
        f"{_init_label(ds, ui, tex=False)}.",
        f"The initial shape sets how fast the new task is learned and how the representation "
        f"moves: after the first switch, {_init_label(ds, fast, tex=False)} learns "
        f"{seq[1]} in {fmt(learn[fast])} time units, {_init_label(ds, slow, tex=False)} in "
        f"{fmt(learn[slow])}; the kernel distance to the initial NTK at the end ranges from "
        f"{fmt(float(ds['kernel_distance'].values[:, -1].min()))} to "
        f"{fmt(float(ds['kernel_distance'].values[:, -1].max()))}.",
    ]


SECTION = Section(
    name="continual",
    title="Continual learning in a linear network",
    config=Config,
    compute=compute,
    figure=figure,
    tables=tables,
    text=text,
    figsize=(12.0, 8.0),
    quick={"num_times": 301, "fine": 801, "num_since": 60},
)
