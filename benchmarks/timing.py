"""Timing mfflow itself, the machine's dense-solve rate, and the isolated large case.

mfflow's timed task, for every case: ``closed_form(target, U0, alpha)`` (eigendecomposition or
subspace reduction, the factor of the init) plus ``Trajectory.mode_values(ts)`` at all ``T``
times: the learning curves ``u_i^T W(t) u_i``, which require the full eigenbasis factor of
``W(t)`` on the dense path (every Cholesky solve) but no ``n x n`` back-rotation. Times are
evaluated in chunks (bounded memory); when the case's cap runs out, the cost of the remaining
time points is projected linearly from the ones measured (status ``projected``).
"""

from __future__ import annotations

import math
import resource
import time
import tracemalloc
from typing import Any

import numpy as np
from cases import T_POINTS, Case, Problem, build, orthonormal_basis
from scipy.linalg import solve_triangular

import mfflow

#: Bytes of the (chunk, n, m) factor that one evaluation chunk may hold.
CHUNK_BYTES = 64 * 2**20


def _chunk(n: int, m: int) -> int:
    return max(1, min(T_POINTS, CHUNK_BYTES // (8 * n * max(m, 1))))


def _evaluate(
    p: Problem, cap: float, max_points: int | None = None
) -> tuple[mfflow.Trajectory, float, float, int]:
    """Build the trajectory and evaluate ``mode_values`` chunk by chunk.

    Returns ``(traj, build_s, eval_s, points_done)``.
    """
    t0 = time.perf_counter()
    traj = mfflow.closed_form(p.target, p.U0, p.case.alpha)
    t1 = time.perf_counter()
    step = _chunk(traj.dim, traj.rank)
    done = 0
    limit = p.ts.size if max_points is None else min(max_points, p.ts.size)
    while done < limit:
        sl = slice(done, min(done + step, limit))
        traj.mode_values(p.ts[sl])
        done = sl.stop
        if time.perf_counter() - t0 > cap:
            break
    return traj, t1 - t0, time.perf_counter() - t1, done


def warm_up() -> None:
    """One evaluation of every path on a tiny problem: first calls pay one-off costs (lazy
    imports, LAPACK/BLAS thread start-up) that are not mfflow's."""
    for structure in ("dense", "spectral", "lowrank"):
        p = build(Case(structure, 6, 1e-4))
        _evaluate(p, math.inf)
        machine_rate(6, 6, min_seconds=0.0)


def time_mfflow(p: Problem, cap: float) -> dict[str, Any]:
    """Time mfflow's task on ``p`` (best of up to 3 runs when fast) and its peak memory."""
    traj, build_s, eval_s, done = _evaluate(p, cap)
    if done < p.ts.size:
        status = "projected"
        eval_s *= p.ts.size / done
    else:
        status = "ok"
        for _ in range(2):
            if build_s + eval_s > 1.0:
                break
            _, b, e, _ = _evaluate(p, cap)
            if b + e < build_s + eval_s:
                build_s, eval_s = b, e
    # peak memory: build plus one evaluation chunk (chunks are evaluated one after the other)
    tracemalloc.start()
    _evaluate(p, math.inf, max_points=_chunk(traj.dim, traj.rank))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    out: dict[str, Any] = {
        "status": status,
        "time_s": build_s + eval_s,
        "build_s": build_s,
        "eval_s": eval_s,
        "points_measured": done,
        "peak_mb": peak / 2**20,
        "path": traj.path,
        "reduced": bool(traj.reduced),
        "dim": traj.dim,
        "rank": traj.rank,
        "describe": traj.describe(),
    }
    if traj.path == "dense":
        n, m, T = traj.dim, traj.rank, p.ts.size
        flops = T * (2.0 * n * m * m + m**3 / 3.0 + n * m * m)
        out["dense_flops"] = flops
        out["dense_gflops_per_s"] = flops / eval_s / 1e9
    return out


def machine_rate(n: int, m: int, min_seconds: float = 0.5) -> dict[str, Any]:
    """The machine's batched Cholesky + triangular-solve rate on a ``(Tc, m, m)`` stack.

    ``np.linalg.cholesky`` of SPD ``(Tc, m, m)`` and ``scipy.linalg.solve_triangular`` with
    ``(Tc, m, n)`` right-hand sides: ``Tc (m^3/3 + n m^2)`` flops, the same calls and shapes as
    one chunk of mfflow's dense path. Repeated until ``min_seconds``; best rate kept.
    """
    tc = _chunk(n, m)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((tc, m, m)) / math.sqrt(m)
    spd = a @ np.swapaxes(a, 1, 2) + np.eye(m)
    rhs = rng.standard_normal((tc, m, n))
    flops = tc * (m**3 / 3.0 + n * m * m)
    best = math.inf
    spent = 0.0
    while spent < min_seconds or best == math.inf:
        t0 = time.perf_counter()
        c = np.linalg.cholesky(spd)
        solve_triangular(c, rhs, lower=True, check_finite=False)
        dt = time.perf_counter() - t0
        best = min(best, dt)
        spent += dt
    return {
        "n": n,
        "m": m,
        "stack": tc,
        "kernel": "np.linalg.cholesky + scipy.linalg.solve_triangular",
        "flops": flops,
        "gflops_per_s": flops / best / 1e9,
    }


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def large_case(n: int, k: int, r: int, alpha: float, conn: Any) -> None:
    """The n = 10^6 low-rank case, run in a fresh process so its peak RSS is its own."""
    try:
        case = Case("lowrank", n, alpha)
        values = np.linspace(10.0, 1.0, k)
        basis = orthonormal_basis(n, k, 10)
        U0 = mfflow.gaussian_init(n, r, seed=1)
        t_last = math.log(1.0 / alpha) / (2.0 * float(values.min()))
        ts = np.linspace(0.0, 1.5 * t_last, T_POINTS)
        base_rss = _rss_mb()
        p = Problem(case, None, basis, values, U0, ts)
        t0 = time.perf_counter()
        traj, build_s, eval_s, _ = _evaluate(p, math.inf)
        ev = traj.eigvals(ts, k=k)
        total = time.perf_counter() - t0
        peak_rss = _rss_mb()
        tracemalloc.start()
        _evaluate(p, math.inf)
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        conn.send(
            {
                "status": "ok",
                "n": n,
                "K": k,
                "r": r,
                "alpha": alpha,
                "T": T_POINTS,
                "time_s": build_s + eval_s,
                "build_s": build_s,
                "eval_s": eval_s,
                "with_eigvals_s": total,
                "final_eigvals": [float(v) for v in ev[-1]],
                "inputs_mb": (basis.nbytes + U0.nbytes) / 2**20,
                "peak_rss_mb": peak_rss,
                "rss_before_mb": base_rss,
                "tracemalloc_peak_mb": traced / 2**20,
                "path": traj.path,
                "dim": traj.dim,
                "describe": traj.describe(),
            }
        )
    except Exception as exc:  # reported, not raised: the parent prints it in the table
        conn.send({"status": "error", "note": f"{type(exc).__name__}: {exc}"})
