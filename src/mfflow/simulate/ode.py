r"""The one ODE driver of every model's gradient flow, and its one tolerance policy.

**Landing on every requested time.** The solver integrates once through the sorted, distinct
requested times, one ``scipy.integrate`` solver per segment ``[t_{i-1}, t_i]`` started with the
step size the previous one ended with, so every returned value is a step endpoint, with the
accuracy the tolerances control. ``dense=True`` instead runs one ``solve_ivp`` with ``t_eval``
and reads values off the solver's interpolant (cheaper for many close times; its error is not
controlled: measured up to 50x the step error with DOP853 at ``rtol=1e-11``).

**The tolerance policy (every model).** Every factor entry starts at size ``~ alpha^{1/depth}``
(``sqrt(alpha)`` for ``U U^T`` and ``U V^T``), and the components a mode has not learned yet stay
small, growing like ``e^{lam t}`` from there. An absolute tolerance fixed at, say, ``1e-12``
would accept any answer for them, and they are exactly what decides *when* each mode is learned.
So the default absolute tolerance scales with the initial size,

.. math::

    \mathrm{atol} = \mathrm{ATOL\_FACTOR} \cdot \mathrm{rtol} \cdot \max_j \max |F_j(0)|,

and every component is controlled relative to the init. What no float64 solver can fix: once a
mode is learned, an error of relative size ``delta`` (rounding, ``~1e-16``) leaks into the
still-small directions, grows with them like ``e^{lam t}`` and shifts their transitions. When mode
1 is learned, mode ``k`` is still at ``~alpha^{(1 - lam_k/lam_1)/2}``, so the relative error of
``W(t)`` during the later transitions can reach ``delta * alpha^{-(1 - lam_k/lam_1)/2}``: ``O(1)``
at ``alpha ~ 1e-60`` for ``lam_k/lam_1 = 1/3`` (measured ``0.2``; docs/math.md §2), whatever
``rtol``. The reference at tiny ``alpha`` is high-precision arithmetic, not an ODE solve.

**Validation (every model).** ``method`` one of :data:`ODE_METHODS`; ``rtol >= RTOL_MIN``
(scipy would silently raise a smaller one to its floor); ``atol > 0``; ``max_step > 0``, and a
``max_step`` so small that reaching the last time needs more than :data:`MAX_ODE_STEPS` steps is
refused up front with the count (it would run for hours, not fail).

**Long runs (every model).** Once a mode is learned an explicit method's step is limited by
stability (``h ~ 1 / |lam|``), so a far horizon (``t = 1e9``) costs ``~t |lam|`` steps whatever
the tolerances. Every :data:`CHECK_STEPS` steps the driver projects the total from the current
step size: a run projected beyond :data:`MAX_ODE_STEPS` steps stops at once with a
:class:`ValueError` naming ``t`` (instead of running for days); one projected to take more than
:data:`LONG_RUN_SECONDS` reports its progress to ``progress(fraction)`` if given, or else warns
once (:class:`LongRunWarning`) with the projected count and duration.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import BDF, DOP853, LSODA, RK23, RK45, OdeSolver, Radau

from ..validation import MAGNITUDE_MAX, SCALE_MIN, as_positive_scalar

__all__ = [
    "ATOL_FACTOR",
    "CHECK_STEPS",
    "IMPLICIT_METHODS",
    "LONG_RUN_SECONDS",
    "MAX_ODE_STEPS",
    "ODE_METHODS",
    "RTOL_MAX",
    "RTOL_MIN",
    "LongRunWarning",
    "OdeOptions",
    "Progress",
    "StepWatch",
    "as_progress",
    "integrate",
    "ode_options",
]

FloatArray = NDArray[np.float64]

#: Methods of :func:`scipy.integrate.solve_ivp` accepted by every flow.
ODE_METHODS = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")
#: The solvers used (all take ``first_step``, unlike their base ``OdeSolver``), on real states.
_Solver: TypeAlias = (
    "RK45[np.float64] | RK23[np.float64] | DOP853[np.float64] | Radau | BDF | LSODA"
)
_SOLVERS: dict[str, type[_Solver]] = {
    "RK45": RK45,
    "RK23": RK23,
    "DOP853": DOP853,
    "Radau": Radau,
    "BDF": BDF,
    "LSODA": LSODA,
}
#: Implicit methods: they get the model's analytic Jacobian where it has one.
IMPLICIT_METHODS = frozenset({"Radau", "BDF", "LSODA"})
#: Default ``atol = ATOL_FACTOR * rtol * max|F(0)|`` (module docstring).
ATOL_FACTOR = 1e-3
#: Smallest ``atol``, relative to the initial scale ``max|F(0)|``: ``ATOL_RESOLUTION *
#: eps_64 * max|F(0)|``, a hundredth of the float64 resolution of the initial state. Below it
#: the solver's error estimates (rounding noise of that size) cannot meet the tolerance and the
#: step size collapses: the run never ends. The default ``atol`` is at least ``1e3`` times
#: above it (``1e5`` at the default ``rtol``).
ATOL_RESOLUTION = 1e-2
#: scipy raises any ``rtol`` below this to it (with a warning); we refuse it instead.
RTOL_MIN = 100 * float(np.finfo(np.float64).eps)
#: Largest ``rtol``: a relative error above 10% controls nothing (the solution may blow up).
RTOL_MAX = 0.1
#: A ``max_step`` needing more steps than this to reach the last time is refused up front, and
#: a run projected (from its current step size) to need more is stopped.
MAX_ODE_STEPS = 10**8
#: The driver projects the remaining work every this many steps.
CHECK_STEPS = 200
#: A run projected to take longer than this reports progress (or warns once without a callback).
LONG_RUN_SECONDS = 10.0

#: A progress callback: called with the fraction of the work done, in ``[0, 1]``.
Progress = Callable[[float], None]


class LongRunWarning(UserWarning):
    """A simulation will take long (the message says how many steps and about how long)."""


def as_progress(progress: Any) -> Progress | None:
    """``None`` or a callable ``progress(fraction)``."""
    if progress is not None and not callable(progress):
        raise TypeError(
            f"progress: expected None or a callable progress(fraction), got {progress!r}"
        )
    return progress


class StepWatch:
    """Counts the steps of a run toward ``total`` (time or iterations): refuses a run projected
    beyond ``limit`` steps, reports progress, and warns once about a long one.

    Parameters
    ----------
    total : float
        Where the run ends (the last time, or the last iteration).
    limit : int
        Largest projected step count allowed.
    what : str
        Names the run in messages (``"simulate_gf (DOP853)"``).
    refuse : callable ``(projected steps, position, step) -> Exception``
        Builds the error for a run projected beyond ``limit``.
    progress : callable, optional
    """

    def __init__(
        self,
        total: float,
        limit: int,
        what: str,
        refuse: Callable[[float, float, float], Exception],
        progress: Progress | None,
    ) -> None:
        self.total, self.limit, self.what = float(total), limit, what
        self.refuse, self.progress = refuse, progress
        self.steps, self.warned = 0, False
        self.start = time.perf_counter()

    def check(self, position: float, step: float) -> None:
        """After ``self.steps`` steps the run is at ``position`` and moves by ``step`` per step."""
        remaining = max(self.total - position, 0.0) / max(step, 1e-300)
        projected = self.steps + remaining
        if projected > self.limit:
            raise self.refuse(projected, position, step)
        if self.progress is not None:
            self.progress(min(max(position / self.total, 0.0), 1.0) if self.total > 0 else 1.0)
            return
        elapsed = time.perf_counter() - self.start
        left = elapsed / max(self.steps, 1) * remaining
        if not self.warned and left > LONG_RUN_SECONDS:
            self.warned = True
            warnings.warn(
                f"{self.what}: about {projected:.3g} steps in all, ~{left:.0f} s more at the "
                "current rate; pass progress=callable(fraction) to follow it",
                LongRunWarning,
                stacklevel=5,
            )


@dataclass(frozen=True)
class OdeOptions:
    """Checked solver settings (from :func:`ode_options`)."""

    method: str
    rtol: float
    atol: float
    max_step: float
    dense: bool


def _as_method(method: Any) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method: expected one of {', '.join(ODE_METHODS)}, got {method!r}")
    if method not in ODE_METHODS:
        raise ValueError(f"method: expected one of {', '.join(ODE_METHODS)}, got {method!r}")
    return method


def ode_options(
    method: Any,
    rtol: Any,
    atol: Any,
    max_step: Any,
    dense: Any,
    *,
    scale: float,
    t_end: float,
) -> OdeOptions:
    """Check the solver settings of a flow and resolve the default ``atol``.

    Parameters
    ----------
    method, rtol, atol, max_step, dense
        As given by the caller (``atol=None`` for the default).
    scale : float
        ``max_j max|F_j(0)|``, the size of the initial factors.
    t_end : float
        The last requested time (for the ``max_step`` step count).

    Returns
    -------
    OdeOptions

    Raises
    ------
    ValueError, TypeError
        Naming the argument: an unknown ``method``, ``rtol < RTOL_MIN``, ``atol <= 0`` or
        below ``ATOL_RESOLUTION * eps * scale`` (it cannot be met), ``max_step <= 0`` or one
        needing more than :data:`MAX_ODE_STEPS` steps.

    Examples
    --------
    >>> opts = ode_options("DOP853", 1e-10, None, float("inf"), False, scale=1e-2, t_end=5.0)
    >>> opts.atol  # ATOL_FACTOR * rtol * scale
    1e-15
    """
    meth = _as_method(method)
    rt = as_positive_scalar(rtol, "rtol")
    if rt < RTOL_MIN:
        raise ValueError(f"rtol: expected a number >= {RTOL_MIN:.3g} (scipy's floor), got {rt!r}")
    if rt > RTOL_MAX:
        raise ValueError(f"rtol: expected a number <= {RTOL_MAX:g} (a relative error), got {rt!r}")
    if atol is None:
        # a zero init gets an absolute floor (it is a fixed point of every model here)
        at = ATOL_FACTOR * rt * (scale if scale > 0 else 1.0)
    else:
        at = as_positive_scalar(atol, "atol", maximum=MAGNITUDE_MAX)
        floor = ATOL_RESOLUTION * float(np.finfo(np.float64).eps) * scale
        if at < floor:
            raise ValueError(
                f"atol: expected a number >= {floor:.3g} ({ATOL_RESOLUTION:g} * eps * max|F(0)|, "
                f"max|F(0)| = {scale:.3g}: a hundredth of what float64 resolves at the "
                f"problem's scale; a smaller absolute tolerance cannot be met and the solver's "
                f"step collapses), got {at!r}; or leave atol=None (the default)"
            )
        if at < SCALE_MIN:
            raise ValueError(
                f"atol: expected a number >= {SCALE_MIN:.3g} (a subnormal tolerance has no "
                f"precision), got {at!r}"
            )
    ms = as_positive_scalar(max_step, "max_step", allow_inf=True)
    if t_end / ms > MAX_ODE_STEPS:
        raise ValueError(
            f"max_step: reaching t = {t_end:g} with max_step = {ms:g} takes at least "
            f"{t_end / ms:.3g} steps, more than {MAX_ODE_STEPS:.0e}; use a larger max_step"
        )
    if not isinstance(dense, bool | np.bool_):
        raise TypeError(f"dense: expected True or False, got {dense!r}")
    return OdeOptions(method=meth, rtol=rt, atol=at, max_step=ms, dense=bool(dense))


def integrate(
    rhs: Callable[[float, FloatArray], FloatArray],
    z0: FloatArray,
    t: FloatArray,
    options: OdeOptions,
    *,
    jac: Callable[[float, FloatArray], FloatArray] | None = None,
    caller: str = "simulate_gf",
    progress: Progress | None = None,
) -> tuple[FloatArray, int]:
    """Solve ``z' = rhs(t, z)``, ``z(0) = z0``, at the times ``t`` (any order, repeats allowed).

    Parameters
    ----------
    rhs : callable ``(t, z (d,)) -> (d,)``
    z0 : (d,) array
    t : (T,) array
        Checked times ``>= 0``, ``T >= 1``.
    options : OdeOptions
    jac : callable, optional
        ``(t, z) -> (d, d)``, passed to the implicit methods.
    caller : str
        Named in the error message if the solver fails.
    progress : callable, optional
        ``progress(fraction)`` every :data:`CHECK_STEPS` steps (module docstring).

    Returns
    -------
    states : (T, d) array
        ``z`` at each requested time, in the order given.
    nfev : int
        Right-hand-side evaluations by the solver; 0 when nothing was integrated (only ``t = 0``
        requested, or ``z0`` a fixed point: ``rhs(0, z0) = 0`` exactly).

    Raises
    ------
    RuntimeError
        If the solver fails on the way (message with the method and the time reached).
    ValueError
        Naming ``t``, if the run is projected to need more than :data:`MAX_ODE_STEPS` steps.

    Examples
    --------
    >>> import numpy as np
    >>> opts = ode_options("DOP853", 1e-12, None, np.inf, False, scale=1.0, t_end=1.0)
    >>> z, _ = integrate(lambda t, z: -z, np.ones(1), np.array([1.0, 0.0]), opts)
    >>> bool(abs(z[0, 0] - np.exp(-1.0)) < 1e-11), float(z[1, 0])
    (True, 1.0)
    """
    times, inverse = np.unique(t, return_inverse=True)
    inverse = inverse.ravel()
    if times[-1] == 0.0 or not np.any(rhs(0.0, z0)):
        return np.broadcast_to(z0, (t.size, z0.size)).copy(), 0
    kwargs: dict[str, Any] = {
        "rtol": options.rtol,
        "atol": options.atol,
        "max_step": options.max_step,
    }
    if jac is not None and options.method in IMPLICIT_METHODS:
        kwargs["jac"] = jac
    t_end = float(times[-1])

    def refuse(projected: float, t_now: float, h: float) -> Exception:
        return ValueError(
            f"t: reaching t = {t_end:g} would take about {projected:.3g} {options.method} steps "
            f"(step size {h:.3g} at t = {t_now:.4g}: once the flow has converged an explicit "
            f"method's step is limited by stability), more than {MAX_ODE_STEPS:.0e}; ask for "
            "an earlier time, or an implicit method (method='LSODA' or 'BDF')"
        )

    watch = StepWatch(t_end, MAX_ODE_STEPS, f"{caller} ({options.method})", refuse, progress)
    solver_cls = _SOLVERS[options.method]
    if options.dense:
        out, nfev = _dense(rhs, z0, times, solver_cls, kwargs, caller, watch)
    else:
        out, nfev = _through(rhs, z0, times, solver_cls, kwargs, caller, watch)
    if progress is not None:
        progress(1.0)
    return out[inverse], nfev


def _advance(solver: OdeSolver, watch: StepWatch) -> str | None:
    """One solver step, counted by ``watch``; the solver's message."""
    message = solver.step()
    watch.steps += 1
    if watch.steps % CHECK_STEPS == 0 and solver.status == "running":
        h = getattr(solver, "h_abs", None) or solver.step_size or 0.0
        watch.check(float(solver.t), float(h))
    return message


def _dense(
    rhs: Callable[[float, FloatArray], FloatArray],
    z: FloatArray,
    times: FloatArray,
    solver_cls: type[_Solver],
    kwargs: dict[str, Any],
    caller: str,
    watch: StepWatch,
) -> tuple[FloatArray, int]:
    """One solver from ``t = 0`` to the last time, values read off its interpolant (what
    ``solve_ivp(..., t_eval=times)`` does, with the step count watched)."""
    out = np.empty((times.size, z.size))
    solver = solver_cls(rhs, 0.0, z, float(times[-1]), **kwargs)
    i, message = 0, None
    while solver.status == "running":
        message = _advance(solver, watch)
        if solver.status == "failed":
            break
        j = int(np.searchsorted(times, solver.t, side="right"))
        if j > i:
            out[i:j] = solver.dense_output()(times[i:j]).T
            i = j
    if solver.status != "finished" or i < times.size:
        raise RuntimeError(
            f"{caller}: {solver_cls.__name__} failed before t = {times[-1]:.6g} (at "
            f"t = {solver.t:.6g}): {message}"
        )
    return out, int(solver.nfev)


def _through(
    rhs: Callable[[float, FloatArray], FloatArray],
    z: FloatArray,
    times: FloatArray,
    solver_cls: type[_Solver],
    kwargs: dict[str, Any],
    caller: str,
    watch: StepWatch,
) -> tuple[FloatArray, int]:
    """Integrate from ``t = 0`` through the sorted ``times``, one solver per segment."""
    out = np.empty((times.size, z.size))
    t_now, h, nfev = 0.0, None, 0
    for i, t_next in enumerate(times):
        if t_next > t_now:
            first = None if h is None else min(h, t_next - t_now)
            solver = solver_cls(rhs, t_now, z, t_next, first_step=first, **kwargs)
            message = None
            while solver.status == "running":
                message = _advance(solver, watch)
            nfev += solver.nfev
            if solver.status != "finished":
                raise RuntimeError(
                    f"{caller}: {solver_cls.__name__} failed at t = {solver.t:.6g} on the way "
                    f"to t = {t_next:.6g}: {message}"
                )
            z, t_now = solver.y, float(t_next)
            h = getattr(solver, "h_abs", None) or solver.step_size
        out[i] = z
    return out, nfev
