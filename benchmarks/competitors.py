"""What users would run instead of mfflow, each driven to matched accuracy, output by output.

Generic ODE solvers (scipy ``DOP853`` and ``RK45``, diffrax ``Dopri8``, torchdiffeq ``dopri5``)
integrate the factor ``U`` of ``dU/dt = (Y - U U^T) U`` from ``sqrt(alpha) U0`` and return ``U``
at the case's ``T`` times (``t_eval`` / ``SaveAt(ts=...)`` / ``odeint(t)``: the solver's own
interpolant between steps, as a user would call it). The structure-aware alternatives a careful
user would write:

``spectral-ODE`` (spectral inits)
    one ``eigh`` of ``Y``, the init's scales ``s_i = ||(Phi^T U0)_i||^2``, then the ``n`` decoupled
    logistic ODEs ``d sigma_i / dt = 2 sigma_i (lam_i - sigma_i)``, vectorised in one scipy
    ``DOP853`` solve (in ``log sigma`` the solve took as many steps at alpha = 1e-4 and could
    not reach 1e-10 at alpha = 1e-40: measured, n = 200).
``reduced-ODE`` (low-rank targets given as ``(basis, values)``)
    one QR of ``[basis, U0]`` (as mfflow does), then the ODE for ``U`` restricted to that
    ``K + r`` dimensional subspace (``Q^T Y Q`` and ``Q^T U0``), scipy ``DOP853``.

Each competitor's outputs are computed from its state the cheapest exact way (the same three
outputs mfflow is timed on, see :mod:`cases`): eigenvalues from the ``r x r`` Gram ``U^T U`` (or
sorted ``sigma``), the loss from ``||Y||^2 - 2 tr(U^T Y U) + ||U^T U||^2`` (or the subspace /
per-mode form), ``W`` as ``U U^T`` (or ``Phi diag(sigma) Phi^T``; for low-rank targets the factor
``U``, ``Q U_red``).

A *ladder* tightens ``rtol`` along :data:`RTOL_LADDER`; at each rung every output not yet
settled is compared with the reference (mfflow's closed form) at its checked times. An output's
time is that of the loosest rung meeting :data:`cases.TARGET_ERROR` (the solve, including the
structure-aware set-up) plus its own post-processing at all ``T`` times. Outcomes per output:
``ok``; ``unable`` (the error stopped improving as the tolerance tightened, or the tightest
tolerance missed: the best error is reported); ``timeout`` (the case's cap, on the solves of
the ladder, ran out; the time of the slowest rung run, or of the rung cut off, is a lower bound,
a tighter tolerance never costing less); ``n/a``, ``not installed``, ``error``, ``skipped``.

ODE tolerances: ``atol = 1e-3 * rtol * sqrt(alpha) * max|U0|`` (mfflow.simulate's rule: an
absolute tolerance independent of alpha would accept any answer for the unlearned components);
``atol = 1e-3 * rtol * alpha * min(s)`` for ``sigma``.

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
from cases import (
    T_POINTS,
    TARGET_ERROR,
    Case,
    Problem,
    build,
    eig_errors,
    loss_errors,
    w_chunks,
    w_errors,
)

GENERIC = ("scipy-DOP853", "scipy-RK45", "diffrax-Dopri8", "torchdiffeq-dopri5")
STRUCTURED = {"spectral": "spectral-ODE", "lowrank": "reduced-ODE"}
COMPETITORS = (*GENERIC, "spectral-ODE", "reduced-ODE")
#: Relative tolerances tried, loosest first.
RTOL_LADDER = (1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13)
#: An error that shrinks by less than this factor when the tolerance tightens 10x is stuck.
STALL_FACTOR = 0.5
#: A generic solver whose output U at T times would exceed this is not run.
MAX_STATE_BYTES = 2 * 2**30

_REQUIRES = {
    "diffrax-Dopri8": ("jax", "diffrax"),
    "torchdiffeq-dopri5": ("torch", "torchdiffeq"),
}


class Deadline(Exception):
    """The case's time cap ran out inside a solve."""


def installed(name: str) -> bool:
    """Whether the packages competitor ``name`` needs can be imported."""
    return all(importlib.util.find_spec(p) is not None for p in _REQUIRES.get(name, ()))


def applies(name: str, case: Case) -> bool:
    """Generic solvers apply to every case; a structure-aware one to its structure only."""
    return name in GENERIC or STRUCTURED.get(case.structure) == name


def atol_for(problem: Problem, rtol: float, u0: np.ndarray | None = None) -> float:
    u = problem.U0 if u0 is None else u0
    return 1e-3 * rtol * math.sqrt(problem.case.alpha) * float(np.max(np.abs(u)))


def _desc(vals: np.ndarray) -> np.ndarray:
    return vals[..., ::-1]


def _pad(vals: np.ndarray, k: int) -> np.ndarray:
    if vals.shape[1] >= k:
        return vals[:, :k]
    return np.concatenate([vals, np.zeros((vals.shape[0], k - vals.shape[1]))], axis=1)


# ---- solutions: a competitor's state at the T times, and its outputs ----------------------------
class Factors:
    """A generic solver's ``U`` ``(T, n, r)``."""

    def __init__(self, p: Problem, U: np.ndarray) -> None:
        self.p, self.U = p, U

    def eigvals(self, idx: Any) -> np.ndarray:
        u = self.U[idx]
        n, r = u.shape[1:]
        g = np.swapaxes(u, 1, 2) @ u if r <= n else u @ np.swapaxes(u, 1, 2)
        return _pad(_desc(np.linalg.eigvalsh(g)), self.p.case.k_eig)

    def loss(self, idx: Any) -> np.ndarray:
        u = self.U[idx]
        g = np.swapaxes(u, 1, 2) @ u
        cross = np.einsum("tij,tij->t", u, self.p.apply_Y(u))
        return 0.25 * (self.p.y_norm2 - 2.0 * cross + np.sum(g * g, axis=(1, 2)))

    def W(self, idx: Any) -> np.ndarray:
        u = self.U[idx]
        return u if self.p.case.w_is_factor else u @ np.swapaxes(u, 1, 2)

    def factor(self, idx: Any) -> np.ndarray:
        return self.U[idx]


class Logistic:
    """The spectral-ODE's ``sigma`` ``(T, n)`` in the eigenbasis ``Phi`` of ``Y``."""

    def __init__(self, lam: np.ndarray, phi: np.ndarray, sigma: np.ndarray, k: int) -> None:
        self.lam, self.phi, self.sigma, self.k = lam, phi, sigma, k

    def eigvals(self, idx: Any) -> np.ndarray:
        return _pad(-np.sort(-self.sigma[idx], axis=1), self.k)

    def loss(self, idx: Any) -> np.ndarray:
        return 0.25 * np.sum((self.lam - self.sigma[idx]) ** 2, axis=1)

    def W(self, idx: Any) -> np.ndarray:
        return (self.phi * self.sigma[idx][:, None, :]) @ self.phi.T

    def factor(self, idx: Any) -> np.ndarray:
        return self.phi * np.sqrt(self.sigma[idx])[:, None, :]


class Reduced:
    """The reduced-ODE's ``U_red`` ``(T, d, r)`` on the basis ``Q`` ``(n, d)``."""

    def __init__(self, q: np.ndarray, y_red: np.ndarray, u_red: np.ndarray, k: int) -> None:
        self.q, self.y_red, self.u_red, self.k = q, y_red, u_red, k

    def eigvals(self, idx: Any) -> np.ndarray:
        u = self.u_red[idx]
        return _pad(_desc(np.linalg.eigvalsh(np.swapaxes(u, 1, 2) @ u)), self.k)

    def loss(self, idx: Any) -> np.ndarray:
        u = self.u_red[idx]
        return 0.25 * np.sum((self.y_red - u @ np.swapaxes(u, 1, 2)) ** 2, axis=(1, 2))

    def W(self, idx: Any) -> np.ndarray:
        return self.q @ self.u_red[idx]

    factor = W


# ---- solvers: (problem, rtol, deadline, setup) -> (solution, seconds, info) ----------------------
def _scipy_solve(
    rhs: Callable, y0: np.ndarray, p: Problem, method: str, rtol: float, atol: float
) -> tuple[np.ndarray, dict]:
    from scipy.integrate import solve_ivp

    sol = solve_ivp(
        rhs, (0.0, float(p.ts[-1])), y0, method=method, t_eval=p.ts, rtol=rtol, atol=atol
    )
    if sol.status != 0:
        raise RuntimeError(f"solve_ivp({method}): {sol.message}")
    return np.ascontiguousarray(sol.y.T), {"nfev": int(sol.nfev)}


def _scipy(method: str) -> Callable[..., tuple[Factors, float, dict[str, Any]]]:
    def solve(p: Problem, rtol: float, deadline: float, setup: dict) -> tuple[Factors, float, dict]:
        n, r = p.U0.shape

        def rhs(_t: float, y: np.ndarray) -> np.ndarray:
            if time.perf_counter() > deadline:
                raise Deadline
            u = y.reshape(n, r)
            return (p.apply_Y(u) - u @ (u.T @ u)).ravel()

        t0 = time.perf_counter()
        y0 = (math.sqrt(p.case.alpha) * p.U0).ravel()
        ys, info = _scipy_solve(rhs, y0, p, method, rtol, atol_for(p, rtol))
        secs = time.perf_counter() - t0
        return Factors(p, ys.reshape(p.ts.size, n, r)), secs, info

    return solve


_JAX_CACHE: dict[tuple, Any] = {}


def _diffrax(p: Problem, rtol: float, deadline: float, setup: dict) -> tuple[Factors, float, dict]:
    """Compiled once per structure and shape (times, tolerances and data are arguments); the
    compile time is reported and not charged to the case's cap."""
    import diffrax
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    low = p.basis is not None
    key = (p.case.structure, p.U0.shape, p.ts.size)
    fresh = 0.0
    if key not in _JAX_CACHE:

        def f(_t, u, args):
            if low:
                b, v = args
                yu = b @ (v[:, None] * (b.T @ u))
            else:
                (y,) = args
                yu = y @ u
            return yu - u @ (u.T @ u)

        def run(u0, args, ts, rtol, atol):
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

        args = _jax_args(p)
        u0 = jnp.asarray(math.sqrt(p.case.alpha) * p.U0)
        setup["report"]({"pause": True})  # the runner stops the clock while this compiles
        t0 = time.perf_counter()
        compiled = jax.jit(run).lower(u0, args, jnp.asarray(p.ts), rtol, 1e-20).compile()
        _JAX_CACHE.clear()
        _JAX_CACHE[key] = (compiled, time.perf_counter() - t0)
        fresh = _JAX_CACHE[key][1]  # compile seconds, not charged to the case's cap
        setup["report"]({"resume": True, "uncharged_s": fresh})
    compiled, compile_s = _JAX_CACHE[key]
    args = _jax_args(p)
    u0 = jnp.asarray(math.sqrt(p.case.alpha) * p.U0)
    ts = jnp.asarray(p.ts)
    t0 = time.perf_counter()
    ys, steps, ok = compiled(u0, args, ts, rtol, atol_for(p, rtol))
    ys = np.asarray(ys.block_until_ready())
    secs = time.perf_counter() - t0
    if not bool(ok):
        raise RuntimeError("diffrax: solve did not succeed (max_steps or step size too small)")
    info = {"num_steps": int(steps), "compile_s": compile_s, "uncharged_s": fresh}
    return Factors(p, ys), secs, info


def _jax_args(p: Problem) -> tuple:
    import jax.numpy as jnp

    if p.basis is not None:
        return (jnp.asarray(p.basis), jnp.asarray(p.values))
    return (jnp.asarray(p.Y),)


def _torchdiffeq(
    p: Problem, rtol: float, deadline: float, setup: dict
) -> tuple[Factors, float, dict]:
    import torch
    from torchdiffeq import odeint

    torch.set_num_threads(int(os.environ.get("MFFLOW_BENCH_THREADS", "1")))
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
    return Factors(p, out.numpy()), secs, {"nfev": calls[0]}


def _spectral_ode(
    p: Problem, rtol: float, deadline: float, setup: dict
) -> tuple[Logistic, float, dict]:
    """One ``eigh`` and the init's scales (once per case, charged to every rung), then the ``n``
    logistic ODEs ``d sigma / dt = 2 sigma (lam - sigma)`` in one vectorised solve."""
    if "spectral" not in setup:
        t0 = time.perf_counter()
        lam, phi = np.linalg.eigh(p.Y)
        lam, phi = lam[::-1].copy(), phi[:, ::-1].copy()
        ut = phi.T @ p.U0
        scales = np.einsum("ij,ij->i", ut, ut)
        setup["spectral"] = (lam, phi, scales, time.perf_counter() - t0)
    lam, phi, scales, setup_s = setup["spectral"]
    touched = scales > 0
    lt = lam[touched]

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        if time.perf_counter() > deadline:
            raise Deadline
        return 2.0 * y * (lt - y)

    t0 = time.perf_counter()
    y0 = p.case.alpha * scales[touched]
    atol = 1e-3 * rtol * float(y0.min())  # relative to the init, like U's ODE
    ys, info = _scipy_solve(rhs, y0, p, "DOP853", rtol, atol)
    sigma = np.zeros((p.ts.size, lam.size))
    sigma[:, touched] = ys
    secs = time.perf_counter() - t0 + setup_s
    return Logistic(lam, phi, sigma, p.case.k_eig), secs, {**info, "setup_s": setup_s}


def _reduced_ode(
    p: Problem, rtol: float, deadline: float, setup: dict
) -> tuple[Reduced, float, dict]:
    """One QR of ``[basis, U0]`` (once per case, charged to every rung), then the ODE for ``U``
    on that subspace."""
    if "reduced" not in setup:
        t0 = time.perf_counter()
        q, _ = np.linalg.qr(np.concatenate([p.basis, p.U0], axis=1))
        qb = q.T @ p.basis
        y_red = (qb * p.values) @ qb.T
        u_red0 = q.T @ p.U0
        setup["reduced"] = (q, y_red, u_red0, time.perf_counter() - t0)
    q, y_red, u_red0, setup_s = setup["reduced"]
    d, r = u_red0.shape

    def rhs(_t: float, y: np.ndarray) -> np.ndarray:
        if time.perf_counter() > deadline:
            raise Deadline
        u = y.reshape(d, r)
        return (y_red @ u - u @ (u.T @ u)).ravel()

    t0 = time.perf_counter()
    y0 = (math.sqrt(p.case.alpha) * u_red0).ravel()
    ys, info = _scipy_solve(rhs, y0, p, "DOP853", rtol, atol_for(p, rtol, u_red0))
    secs = time.perf_counter() - t0 + setup_s
    sol = Reduced(q, y_red, ys.reshape(p.ts.size, d, r), p.case.k_eig)
    return sol, secs, {**info, "setup_s": setup_s}


SOLVERS: dict[str, Callable[..., tuple[Any, float, dict]]] = {
    "scipy-DOP853": _scipy("DOP853"),
    "scipy-RK45": _scipy("RK45"),
    "diffrax-Dopri8": _diffrax,
    "torchdiffeq-dopri5": _torchdiffeq,
    "spectral-ODE": _spectral_ode,
    "reduced-ODE": _reduced_ode,
}


# ---- the ladder --------------------------------------------------------------------------------
class Reference:
    """mfflow's outputs at the checked times, saved by the runner (``ref_*.npy``)."""

    def __init__(self, prefix: str) -> None:
        self.eigvals = np.load(prefix + "_eigvals.npy")  # (T, k)
        self.loss = np.load(prefix + "_loss.npy")  # (T,)
        self.w_factor = np.load(prefix + "_wf.npy", mmap_mode="r")  # (Tc, n, m)


def output_errors(case: Case, sol: Any, ref: Reference, output: str) -> float:
    """The largest error of ``output`` over its checked times."""
    idx = case.check_indices(output)
    if output == "eigvals":
        errs = eig_errors(sol.eigvals(idx), ref.eigvals[idx])
    elif output == "loss":
        errs = loss_errors(sol.loss(idx), ref.loss[idx], float(ref.loss[0]))
    else:
        errs = w_errors(sol.factor(idx), ref.w_factor)
    err = float(np.max(errs))
    return err if math.isfinite(err) else math.inf


def post_seconds(case: Case, sol: Any, output: str) -> float:
    """Seconds to produce ``output`` at all ``T`` times from the solution (W chunk by chunk)."""
    t0 = time.perf_counter()
    if output == "eigvals":
        sol.eigvals(slice(None))
    elif output == "loss":
        sol.loss(slice(None))
    else:
        for sl in w_chunks(case):
            sol.W(sl)
    return time.perf_counter() - t0


def ladder(
    name: str, p: Problem, ref: Reference, cap: float, report: Callable[[dict], None]
) -> dict[str, Any]:
    """Tighten ``rtol`` along :data:`RTOL_LADDER` until every output meets the target."""
    case = p.case
    solve = SOLVERS[name]
    start = time.perf_counter()
    deadline = start + cap
    setup: dict[str, Any] = {"report": report}
    rungs: list[dict[str, Any]] = []
    done: dict[str, dict[str, Any]] = {}
    best = dict.fromkeys(case.outputs, math.inf)
    stalls = dict.fromkeys(case.outputs, 0)
    slowest = 0.0
    for rtol in RTOL_LADDER:
        pending = [o for o in case.outputs if o not in done]
        if not pending:
            break
        rung_start = time.perf_counter()
        try:
            sol, secs, info = solve(p, rtol, deadline, setup)
        except Deadline:
            partial = time.perf_counter() - rung_start
            note = f"cap {cap:g} s reached at rtol={rtol:g}"
            return _finish(done, pending, "timeout", rungs, best, note, max(slowest, partial))
        except Exception as exc:  # a solver failure at this tolerance is a result
            rungs.append({"rtol": rtol, "failed": f"{type(exc).__name__}: {exc}"[:200]})
            report({"rungs": rungs})
            note = f"solver failed at rtol={rtol:g}"
            return _finish(done, pending, "unable", rungs, best, note, slowest)
        deadline += info.get("uncharged_s", 0.0)
        slowest = max(slowest, secs)
        t_checks = time.perf_counter()
        errors = {o: output_errors(case, sol, ref, o) for o in pending}
        rungs.append({"rtol": rtol, "solve_s": secs, "errors": errors, **info})
        for o in pending:
            err = errors[o]
            if err <= TARGET_ERROR:
                post = post_seconds(case, sol, o)
                done[o] = {
                    "status": "ok",
                    "time_s": secs + post,
                    "solve_s": secs,
                    "post_s": post,
                    "tol": rtol,
                    "rel_error": err,
                }
                continue
            stalls[o] = stalls[o] + 1 if err > STALL_FACTOR * best[o] else 0
            best[o] = min(best[o], err)
            if stalls[o] >= 2:
                done[o] = _unsettled(
                    "unable",
                    best[o],
                    f"error stuck at ~{best[o]:.1e} as rtol tightens: float64 rounding in the "
                    "unlearned components grows like e^{lam t} (docs/math.md §2)",
                )
        del sol
        # the checks and the outputs' post-processing are not charged to the cap (it bounds the
        # solves); the runner extends its kill deadline by as much
        extra = time.perf_counter() - t_checks
        deadline += extra
        report({"rungs": rungs, "extend_s": extra})
        pending = [o for o in case.outputs if o not in done]
        if pending and time.perf_counter() > deadline:
            return _finish(done, pending, "timeout", rungs, best, f"cap {cap:g} s reached", slowest)
    pending = [o for o in case.outputs if o not in done]
    note = f"tightest rtol ({RTOL_LADDER[-1]:g}) missed the target"
    return _finish(done, pending, "unable", rungs, best, note, slowest)


def _unsettled(
    status: str, best: float, note: str, lower_bound: float | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": status,
        "time_s": None,
        "tol": None,
        "rel_error": best if math.isfinite(best) else None,
        "note": note,
    }
    if lower_bound:
        out["lower_bound_s"] = lower_bound
    return out


def _finish(
    done: dict[str, dict],
    pending: list[str],
    status: str,
    rungs: list[dict],
    best: dict[str, float],
    note: str,
    lower_bound: float,
) -> dict[str, Any]:
    outputs = dict(done)
    for o in pending:
        outputs[o] = _unsettled(status, best[o], note, lower_bound if status == "timeout" else None)
    return {"rungs": rungs, "outputs": outputs}


def not_run(case: Case, status: str, note: str = "", **extra: Any) -> dict[str, Any]:
    """A competitor result without a run (``n/a``, ``not installed``, ``skipped``, inferred)."""
    outs = {o: {"status": status, "time_s": None, "note": note, **extra} for o in case.outputs}
    return {"rungs": [], "outputs": outs}


def state_bytes(case: Case) -> int:
    """Bytes of a generic solver's ``U`` at the ``T`` times."""
    return 8 * T_POINTS * case.n * case.r


# ---- worker process --------------------------------------------------------------------------
def run_competitor(
    name: str, case: Case, ref_prefix: str, cap: float, report: Callable[[dict], None]
) -> dict[str, Any]:
    """One competitor on one case, against the reference outputs saved at ``ref_prefix``."""
    return ladder(name, _problem(case), Reference(ref_prefix), cap, report)


_PROBLEM: list[Problem] = []


def _problem(case: Case) -> Problem:
    if not _PROBLEM or _PROBLEM[0].case != case:
        _PROBLEM.clear()
        _PROBLEM.append(build(case))
    return _PROBLEM[0]


def _import_optional() -> None:
    """Import the optional solvers' packages up front: their import time is no solver's."""
    for name, pkgs in _REQUIRES.items():
        if installed(name):
            for pkg in pkgs:
                importlib.import_module(pkg)
    if installed("diffrax-Dopri8"):
        import jax

        jax.config.update("jax_enable_x64", True)


def worker_main(conn: Any) -> None:
    """Serve ``(name, case, ref_prefix, cap)`` requests until ``None``; reply with progress
    messages ``{"progress": ...}`` and one ``{"result": ...}`` per request."""
    np.seterr(all="ignore")
    while True:
        task = conn.recv()
        if task is None:
            return
        if task == "ping":  # started before the timings, ready once imported
            _import_optional()
            conn.send({"result": "pong"})
            continue
        name, case, ref_prefix, cap = task
        try:
            res = run_competitor(
                name, case, ref_prefix, cap, lambda msg: conn.send({"progress": msg})
            )
        except Exception as exc:
            note = traceback.format_exception_only(exc)[-1].strip()
            res = not_run(case, "error", note)
        conn.send({"result": res})
