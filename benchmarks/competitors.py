"""What users would run instead of mfflow, each driven to matched accuracy.

Every competitor integrates the factor ``U`` of ``dU/dt = (Y - U U^T) U`` from
``sqrt(alpha) U0`` and returns ``U`` at the case's ``T`` times (``t_eval`` / ``SaveAt(ts=...)``
/ ``odeint(t)``: the solver's own interpolant between steps, as a user would call it). A *ladder*
tightens its tolerance (ODE solvers) or step (gradient descent) until the relative Frobenius
error of ``W(t)`` against the closed form is at most ``TARGET_ERROR`` at every checked time.

Outcomes: ``ok`` (time of the loosest setting that met the target), ``unable`` (the error stopped
improving, or the tightest tolerance was reached: the best error is reported), ``timeout`` (the
case's time cap ran out; gradient descent reports the time projected from its measured step cost
and error order), ``not installed``, ``error``.

ODE tolerances: ``atol = 1e-3 * rtol * sqrt(alpha) * max|U0|`` (mfflow.simulate's rule: an
absolute tolerance independent of alpha would accept any answer for the unlearned components).

This module also holds the worker loop: the runner process that :mod:`run` talks to over a pipe
(so a solver that cannot be interrupted, such as a jitted diffrax loop, can be killed at its cap).
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
from cases import TARGET_ERROR, Case, Problem, build, rel_errors

import mfflow

ODE_COMPETITORS = ("scipy-DOP853", "scipy-RK45", "diffrax-Dopri8", "torchdiffeq-dopri5")
COMPETITORS = (*ODE_COMPETITORS, "gd")
#: Relative tolerances tried, loosest first.
RTOL_LADDER = (1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13)
#: An error that shrinks by less than this factor when the tolerance tightens 10x is stuck.
STALL_FACTOR = 0.5
#: Gradient-descent steps: the largest is about this, then 10x smaller each rung.
GD_ETA0 = 1e-2
#: Gradient descent whose error shrinks slower than eta^GD_MIN_ORDER has hit a floor.
GD_MIN_ORDER = 0.5

_REQUIRES = {
    "diffrax-Dopri8": ("jax", "diffrax"),
    "torchdiffeq-dopri5": ("torch", "torchdiffeq"),
}


class Deadline(Exception):
    """The case's time cap ran out inside a solve."""


def installed(name: str) -> bool:
    """Whether the packages competitor ``name`` needs can be imported."""
    return all(importlib.util.find_spec(p) is not None for p in _REQUIRES.get(name, ()))


def atol_for(problem: Problem, rtol: float) -> float:
    return 1e-3 * rtol * math.sqrt(problem.case.alpha) * float(np.max(np.abs(problem.U0)))


# ---- solvers: (problem, rtol, deadline) -> (U (T, n, r), seconds, info) -------------------------
def _scipy(method: str) -> Callable[..., tuple[np.ndarray, float, dict[str, Any]]]:
    from scipy.integrate import solve_ivp

    def solve(p: Problem, rtol: float, deadline: float) -> tuple[np.ndarray, float, dict]:
        n, r = p.U0.shape

        def rhs(_t: float, y: np.ndarray) -> np.ndarray:
            if time.perf_counter() > deadline:
                raise Deadline
            u = y.reshape(n, r)
            return (p.apply_Y(u) - u @ (u.T @ u)).ravel()

        y0 = (math.sqrt(p.case.alpha) * p.U0).ravel()
        t0 = time.perf_counter()
        sol = solve_ivp(
            rhs,
            (0.0, float(p.ts[-1])),
            y0,
            method=method,
            t_eval=p.ts,
            rtol=rtol,
            atol=atol_for(p, rtol),
        )
        secs = time.perf_counter() - t0
        if sol.status != 0:
            raise RuntimeError(f"solve_ivp({method}): {sol.message}")
        U = np.ascontiguousarray(sol.y.T).reshape(p.ts.size, n, r)
        return U, secs, {"nfev": int(sol.nfev)}

    return solve


_JAX_CACHE: dict[tuple, Any] = {}


def _diffrax(p: Problem, rtol: float, deadline: float) -> tuple[np.ndarray, float, dict]:
    import diffrax
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    low = p.basis is not None
    key = (p.case, low)
    if key not in _JAX_CACHE:
        ts = jnp.asarray(p.ts)

        def f(_t, u, args):
            if low:
                b, v = args
                yu = b @ (v[:, None] * (b.T @ u))
            else:
                (y,) = args
                yu = y @ u
            return yu - u @ (u.T @ u)

        def run(u0, args, rtol, atol):
            sol = diffrax.diffeqsolve(
                diffrax.ODETerm(f),
                diffrax.Dopri8(),
                0.0,
                ts[-1],
                None,
                u0,
                args=args,
                saveat=diffrax.SaveAt(ts=ts),
                stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
                max_steps=2_000_000,
                adjoint=diffrax.ForwardMode(),
                throw=False,
            )
            ok = sol.result == diffrax.RESULTS.successful
            return sol.ys, sol.stats["num_steps"], ok

        args = (jnp.asarray(p.basis), jnp.asarray(p.values)) if low else (jnp.asarray(p.Y),)
        u0 = jnp.asarray(math.sqrt(p.case.alpha) * p.U0)
        t0 = time.perf_counter()
        compiled = jax.jit(run).lower(u0, args, rtol, atol_for(p, rtol)).compile()
        _JAX_CACHE.clear()
        _JAX_CACHE[key] = (compiled, u0, args, time.perf_counter() - t0)
        fresh = _JAX_CACHE[key][3]  # compile seconds, not charged to the case's cap
    else:
        fresh = 0.0
    compiled, u0, args, compile_s = _JAX_CACHE[key]
    t0 = time.perf_counter()
    ys, steps, ok = compiled(u0, args, rtol, atol_for(p, rtol))
    ys = np.asarray(ys.block_until_ready())
    secs = time.perf_counter() - t0
    if not bool(ok):
        raise RuntimeError("diffrax: solve did not succeed (max_steps or step size too small)")
    return ys, secs, {"num_steps": int(steps), "compile_s": compile_s, "uncharged_s": fresh}


def _torchdiffeq(p: Problem, rtol: float, deadline: float) -> tuple[np.ndarray, float, dict]:
    import torch
    from torchdiffeq import odeint

    torch.set_num_threads(int(os.environ.get("MFFLOW_BENCH_THREADS", os.cpu_count() or 1)))
    if p.basis is not None:
        b = torch.from_numpy(p.basis)
        v = torch.from_numpy(p.values)[:, None]

        def apply_y(u):
            return b @ (v * (b.T @ u))
    else:
        y = torch.from_numpy(p.Y)

        def apply_y(u):
            return y @ u

    calls = [0]

    def f(_t, u):
        if time.perf_counter() > deadline:
            raise Deadline
        calls[0] += 1
        return apply_y(u) - u @ (u.T @ u)

    u0 = torch.from_numpy(math.sqrt(p.case.alpha) * p.U0)
    ts = torch.from_numpy(p.ts)
    t0 = time.perf_counter()
    with torch.no_grad():
        out = odeint(f, u0, ts, rtol=rtol, atol=atol_for(p, rtol), method="dopri5")
    secs = time.perf_counter() - t0
    return out.numpy(), secs, {"nfev": calls[0]}


ODE_SOLVERS: dict[str, Callable[..., tuple[np.ndarray, float, dict]]] = {
    "scipy-DOP853": _scipy("DOP853"),
    "scipy-RK45": _scipy("RK45"),
    "diffrax-Dopri8": _diffrax,
    "torchdiffeq-dopri5": _torchdiffeq,
}


# ---- ladders -------------------------------------------------------------------------------
def _max_error(U: np.ndarray, F: np.ndarray, idx: np.ndarray) -> float:
    err = float(np.max(rel_errors(U[idx], F)))
    return err if math.isfinite(err) else math.inf


def ode_ladder(
    name: str, p: Problem, F: np.ndarray, cap: float, report: Callable[[dict], None]
) -> dict[str, Any]:
    """Tighten ``rtol`` along :data:`RTOL_LADDER` until the error target is met."""
    solve = ODE_SOLVERS[name]
    idx = p.case.check_indices()
    start = time.perf_counter()
    deadline = start + cap
    rungs: list[dict[str, Any]] = []
    best = math.inf
    stalls = 0
    for rtol in RTOL_LADDER:
        try:
            U, secs, info = solve(p, rtol, deadline)
        except Deadline:
            return _result("timeout", rungs, best, note=f"cap {cap:g} s reached at rtol={rtol:g}")
        except Exception as exc:  # a solver failure at this tolerance is a result
            rungs.append({"rtol": rtol, "failed": f"{type(exc).__name__}: {exc}"[:200]})
            report({"rungs": rungs})
            break
        deadline += info.pop("uncharged_s", 0.0)
        err = _max_error(U, F, idx)
        rungs.append({"rtol": rtol, "time_s": secs, "rel_error": err, **info})
        report({"rungs": rungs})
        if err <= TARGET_ERROR:
            return _result("ok", rungs, err, time_s=secs, tol=rtol)
        stalls = stalls + 1 if err > STALL_FACTOR * best else 0
        best = min(best, err)
        if stalls >= 2:
            return _result(
                "unable",
                rungs,
                best,
                note=f"error stuck at ~{best:.1e} as rtol tightens: float64 rounding in the "
                "unlearned components grows like e^{lam t} (docs/math.md §2)",
            )
        if time.perf_counter() > deadline:
            return _result("timeout", rungs, best, note=f"cap {cap:g} s reached")
    return _result(
        "unable", rungs, best, note=f"tightest rtol ({rungs[-1]['rtol']:g}) missed the target"
    )


def gd_ladder(
    p: Problem, F: np.ndarray, cap: float, report: Callable[[dict], None]
) -> dict[str, Any]:
    """Gradient descent with ``eta = dt / k`` (every output time on the step grid), ``k`` 10x
    larger per rung, until the error target is met; projected when the next rung exceeds the cap.

    GD is first order in ``eta``: the projection fits ``err ~ eta^p`` on the last two rungs
    (``p = 1`` with one rung) and multiplies the measured cost per step.
    """
    if p.Y is None:
        return _result("skipped", [], math.inf, note="needs the dense target")
    idx = p.case.check_indices()
    start = time.perf_counter()
    dt = float(p.ts[1] - p.ts[0])
    k = max(1, math.ceil(dt / GD_ETA0))
    n, r = p.U0.shape
    probe = int(min(64, max(2, 2e9 / (4.0 * n * n * r))))  # ~4 n^2 r flops per step
    t0 = time.perf_counter()
    mfflow.simulate_gd(p.Y, p.U0, p.case.alpha, dt / k, steps=probe)
    per_step = (time.perf_counter() - t0) / probe
    rungs: list[dict[str, Any]] = []
    best = math.inf
    while True:
        eta = dt / k
        steps = k * (p.ts.size - 1)
        predicted = per_step * steps
        if time.perf_counter() - start + predicted > cap:
            return _result(
                "timeout",
                rungs,
                best,
                note=f"next rung (eta={eta:.1e}, {steps:.1e} steps) predicted {predicted:.3g} s "
                f"> cap {cap:g} s",
                projected_s=_gd_projection(rungs, per_step),
            )
        t0 = time.perf_counter()
        res = mfflow.simulate_gd(p.Y, p.U0, p.case.alpha, eta, t=p.ts)
        secs = time.perf_counter() - t0
        per_step = secs / steps
        err = math.inf if res.diverged else _max_error(res.U, F, idx)
        rungs.append({"eta": eta, "steps": steps, "time_s": secs, "rel_error": err})
        report({"rungs": rungs})
        if err <= TARGET_ERROR:
            return _result("ok", rungs, err, time_s=secs, tol=eta)
        if math.isfinite(best) and err > 10.0**-GD_MIN_ORDER * best:
            return _result(
                "unable",
                rungs,
                min(best, err),
                note=f"error fell by less than 10^{GD_MIN_ORDER:g} when eta shrank 10x: float64 "
                "rounding floor (docs/math.md §2), not the O(eta) discretization error",
            )
        best = min(best, err)
        k *= 10


def _gd_projection(rungs: list[dict[str, Any]], per_step: float) -> float | None:
    """Seconds GD would need for the target error, from ``err ~ eta^p`` fitted on the rungs."""
    done = [g for g in rungs if math.isfinite(g["rel_error"]) and g["rel_error"] > 0]
    if not done:
        return None
    last = done[-1]
    order = 1.0
    if len(done) >= 2:
        prev = done[-2]
        fit = math.log(prev["rel_error"] / last["rel_error"]) / math.log(prev["eta"] / last["eta"])
        order = min(max(fit, GD_MIN_ORDER), 2.0)
    eta_needed = last["eta"] * (TARGET_ERROR / last["rel_error"]) ** (1.0 / order)
    return per_step * last["steps"] * last["eta"] / eta_needed


def _result(
    status: str,
    rungs: list[dict[str, Any]],
    best: float,
    *,
    time_s: float | None = None,
    tol: float | None = None,
    note: str = "",
    projected_s: float | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": status,
        "time_s": time_s,
        "tol": tol,
        "rel_error": best if math.isfinite(best) else None,
        "rungs": rungs,
        "note": note,
    }
    if projected_s is not None:
        out["projected_s"] = projected_s
    return out


# ---- worker process --------------------------------------------------------------------------
def run_competitor(
    name: str, case: Case, ref_path: str, cap: float, report: Callable[[dict], None]
) -> dict[str, Any]:
    """One competitor on one case, against the reference factors saved at ``ref_path``."""
    p = _problem(case)
    F = np.load(ref_path, mmap_mode="r")
    if name == "gd":
        return gd_ladder(p, F, cap, report)
    return ode_ladder(name, p, F, cap, report)


_PROBLEM: list[Problem] = []


def _problem(case: Case) -> Problem:
    if not _PROBLEM or _PROBLEM[0].case != case:
        _PROBLEM.clear()
        _PROBLEM.append(build(case))
    return _PROBLEM[0]


def worker_main(conn: Any) -> None:
    """Serve ``(name, case, ref_path, cap)`` requests until ``None``; reply with progress
    messages ``{"progress": ...}`` and one ``{"result": ...}`` per request."""
    np.seterr(all="ignore")
    while True:
        task = conn.recv()
        if task is None:
            return
        name, case, ref_path, cap = task
        try:
            res = run_competitor(
                name, case, ref_path, cap, lambda msg: conn.send({"progress": msg})
            )
        except Exception as exc:
            res = _result("error", [], math.inf, note=traceback.format_exception_only(exc)[-1])
        conn.send({"result": res})
