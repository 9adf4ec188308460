"""Timing mfflow itself: every output of a case, thread scaling, and cost and memory versus T.

mfflow's timed task for an output: ``closed_form(target, U0, alpha)`` (eigendecomposition or
subspace reduction, the factor of the init: ``build_s``) plus the output at all ``T`` times
(``eval_s``): ``eigvals(ts)`` (``k = r`` for a low-rank target), ``W`` chunk by chunk (``W(ts)``,
or ``factor(ts)`` for a low-rank target), ``loss(ts)``; and ``mode_values(ts)`` (the diagonal of
``W`` in ``Y``'s eigenbasis, ``diag``), the output the issue compares ``eigvals`` with. Best of 3
when under a second, after a warm-up.
"""

from __future__ import annotations

import math
import os
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from cases import T_POINTS, Case, Problem, build, w_chunks

import mfflow

#: mfflow's outputs timed per case: the three compared ones and the diagonal.
MF_OUTPUTS = ("eigvals", "W", "loss", "diag")


def best_of(fn: Callable[[], Any], repeats: int = 3, budget: float = 1.0) -> tuple[float, Any]:
    """``(seconds, result)`` of the fastest of up to ``repeats`` calls; one call if it took more
    than ``budget`` seconds."""
    best, out = math.inf, None
    for i in range(repeats):
        t0 = time.perf_counter()
        res = fn()
        dt = time.perf_counter() - t0
        if dt < best:
            best, out = dt, res
        if i == 0 and dt > budget:
            break
    return best, out


def evaluate(traj: mfflow.Trajectory, case: Case, ts: np.ndarray, output: str) -> Any:
    """mfflow's ``output`` at ``ts`` (W chunk by chunk, the chunks dropped)."""
    if output == "eigvals":
        return traj.eigvals(ts, k=case.k_eig)
    if output == "loss":
        return traj.loss(ts)
    if output == "diag":
        return traj.mode_values(ts)
    for sl in w_chunks(case):
        traj.factor(ts[sl]) if case.w_is_factor else traj.W(ts[sl])
    return None


def warm_up() -> None:
    """One evaluation of every path on a tiny problem: first calls pay one-off costs (lazy
    imports, thread pools) that are not mfflow's."""
    for structure, n in (("dense", 6), ("spectral", 6), ("lowrank", 30)):
        p = build(Case(structure, n, 1e-4))
        traj = mfflow.closed_form(p.target, p.U0, p.case.alpha)
        for output in MF_OUTPUTS:
            evaluate(traj, p.case, p.ts, output)


def time_mfflow(p: Problem) -> tuple[dict[str, Any], mfflow.Trajectory, dict[str, Any]]:
    """Time every output of ``p``; returns ``(figures, trajectory, outputs)`` where ``outputs``
    holds the curves and the loss at all ``T`` times (the competitors' reference)."""
    case = p.case
    build_s, traj = best_of(lambda: mfflow.closed_form(p.target, p.U0, case.alpha))
    figures: dict[str, Any] = {
        "build_s": build_s,
        "path": traj.path,
        "reduced": bool(traj.reduced),
        "dim": traj.dim,
        "rank": traj.rank,
        "describe": traj.describe(),
        "outputs": {},
    }
    values: dict[str, Any] = {}
    for output in MF_OUTPUTS:
        if output == "W" and "W" not in case.outputs:
            continue
        eval_s, val = best_of(lambda o=output: evaluate(traj, case, p.ts, o))
        figures["outputs"][output] = {"time_s": build_s + eval_s, "eval_s": eval_s}
        values[output] = val
    # peak memory: the build plus the learning curves at all T times
    tracemalloc.start()
    evaluate(mfflow.closed_form(p.target, p.U0, case.alpha), case, p.ts, "eigvals")
    figures["peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return figures, traj, values


def thread_scaling(n: int, alpha: float, threads: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    """mfflow alone on dense ``n``: ``MFFLOW_NUM_THREADS`` in ``threads`` (BLAS single-threaded
    inside mfflow whatever the count), best of 3, interleaved; ``speedup = t(1) / t(k)``."""
    p = build(Case("dense", n, alpha))
    traj = mfflow.closed_form(p.target, p.U0, alpha)
    old = os.environ.get("MFFLOW_NUM_THREADS")
    out: dict[str, Any] = {
        "case": p.case.name,
        "T": T_POINTS,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "threads": list(threads),
        "outputs": {},
    }
    try:
        for output in ("eigvals", "diag"):
            best = dict.fromkeys(threads, math.inf)
            for _ in range(3):
                for k in threads:
                    os.environ["MFFLOW_NUM_THREADS"] = str(k)
                    t0 = time.perf_counter()
                    evaluate(traj, p.case, p.ts, output)
                    best[k] = min(best[k], time.perf_counter() - t0)
            base = best[threads[0]]
            out["outputs"][output] = {
                "time_s": {str(k): best[k] for k in threads},
                "speedup": {str(k): base / best[k] for k in threads},
            }
    finally:
        if old is None:
            os.environ.pop("MFFLOW_NUM_THREADS", None)
        else:
            os.environ["MFFLOW_NUM_THREADS"] = old
    return out


def t_scaling(n: int, alpha: float, Ts: tuple[int, ...]) -> dict[str, Any]:
    """mfflow on dense ``n`` at ``T`` time points for each ``T`` in ``Ts`` (same time span):
    seconds, microseconds per point, and the ``tracemalloc`` peak of the evaluation beyond its
    output array (one run each, with tracemalloc on: its overhead is per allocation, and
    mfflow allocates per chunk, not per point)."""
    case = Case("dense", n, alpha)
    p = build(case)
    traj = mfflow.closed_form(p.target, p.U0, alpha)
    t_max = float(p.ts[-1])
    rows = []
    for T in Ts:
        ts = np.linspace(0.0, t_max, T)
        row: dict[str, Any] = {"T": T}
        for output in ("eigvals", "diag"):
            tracemalloc.start()
            t0 = time.perf_counter()
            val = evaluate(traj, case, ts, output)
            secs = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            row[output] = {
                "time_s": secs,
                "us_per_point": 1e6 * secs / T,
                "peak_mb": peak / 2**20,
                "output_mb": val.nbytes / 2**20,
                "peak_beyond_output_mb": (peak - val.nbytes) / 2**20,
            }
        rows.append(row)
    return {"case": case.name, "T_values": list(Ts), "rows": rows}
