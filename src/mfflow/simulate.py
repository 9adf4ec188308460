r"""Numerical references: gradient flow by an ODE solver, and gradient descent.

Both act on the factor ``U`` ``(n, r)`` of ``L(U) = 1/4 ||Y - U U^T||_F^2``:

.. math::

    \text{flow:}\quad \frac{dU}{dt} = (Y - U U^T) U, \qquad
    \text{descent:}\quad U_{k+1} = U_k + \eta (Y - U_k U_k^T) U_k,

from ``U(0) = U_0 = sqrt(alpha) U0``. They are what the closed form (:func:`mfflow.closed_form`)
is checked against, and what one falls back to where no closed form exists.

Numerics of the flow at small ``alpha``. Every entry of ``U`` starts at size ``~sqrt(alpha)``,
and the components a mode has not learned yet stay at ``~sqrt(alpha) e^{lam t}``. An error
control with an absolute tolerance fixed at, say, ``1e-12`` would accept any answer for them, and
they are exactly what decides *when* each mode is learned. So the default absolute tolerance
scales with the initial size, ``atol = ATOL_FACTOR * rtol * sqrt(alpha) * max|U0|``, and the
solver controls every component relative to the init. What no float64 solver can fix: once a mode
is learned (``|U| ~ 1``), an error of relative size ``delta`` in ``U`` (rounding, ``~1e-16``)
leaks into the still-small directions, grows with them like ``e^{lam t}`` and shifts their
transitions. When mode 1 is learned, mode ``k`` is still at ``~alpha^{(1 - lam_k/lam_1)/2}``, so
the relative error of ``W(t)`` during the later transitions can reach about
``delta * alpha^{-(1 - lam_k/lam_1)/2}``: ``O(1)`` at ``alpha ~ 1e-60`` for ``lam_k/lam_1 = 1/3``
(measured ``0.2``; MATH.md section 2), whatever ``rtol``. The estimate is pessimistic for
truncation errors at ``rtol`` (measured far below it). The reference at tiny ``alpha`` is
high-precision arithmetic, not this module.

Gradient descent is ``eta``-consistent of order 1 with the flow: ``U_k`` tracks ``U(k eta)`` with
an error ``O(eta)`` at a fixed horizon (the constant grows like ``log(1/alpha)``, the delay of the
last transition). A step too large makes the iterates blow up; :func:`simulate_gd` detects that
and reports it, without raising and without floating-point warnings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import BDF, DOP853, LSODA, RK23, RK45, OdeSolver, Radau, solve_ivp

from .validation import (
    as_alpha,
    as_init,
    as_positive_scalar,
    as_steps,
    as_symmetric,
    as_times,
)

if TYPE_CHECKING:  # the asymmetric module imports this one
    from .asymmetric import AsymmetricFlowResult, AsymmetricGDResult

__all__ = [
    "ATOL_FACTOR",
    "ODE_METHODS",
    "FlowResult",
    "GDResult",
    "flow_jacobian",
    "flow_rhs",
    "simulate_gd",
    "simulate_gf",
]

FloatArray = NDArray[np.float64]

#: Methods of :func:`scipy.integrate.solve_ivp` accepted by :func:`simulate_gf`.
ODE_METHODS = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")
_SOLVERS: dict[str, type[OdeSolver]] = {
    "RK45": RK45,
    "RK23": RK23,
    "DOP853": DOP853,
    "Radau": Radau,
    "BDF": BDF,
    "LSODA": LSODA,
}
#: Implicit methods, which get the analytic Jacobian :func:`flow_jacobian`.
_IMPLICIT = frozenset({"Radau", "BDF", "LSODA"})
#: Default ``atol = ATOL_FACTOR * rtol * sqrt(alpha) * max|U0|``: every component is controlled
#: relative to the size of the init, not to an absolute scale that is meaningless at small alpha.
ATOL_FACTOR = 1e-3
#: scipy raises any ``rtol`` below this to it (with a warning); we refuse it instead.
_RTOL_MIN = 100 * float(np.finfo(np.float64).eps)
#: Gradient descent checks for blow-up every this many steps, then locates the step exactly.
_CHECK_EVERY = 64


def _gram_first(r: int, n: int) -> bool:
    """Whether ``U (U^T U)`` (``r x r`` Gram matrix) is cheaper than ``(U U^T) U``."""
    return r <= n


def flow_rhs(Y: FloatArray, U: FloatArray) -> FloatArray:
    """The flow's velocity ``(Y - U U^T) U``, ``(n, r)``, ordered to cost ``O(n^2 r + n r^2)``.

    Parameters
    ----------
    Y : (n, n) array
    U : (n, r) array

    Returns
    -------
    (n, r) array
    """
    n, r = U.shape
    if _gram_first(r, n):
        return Y @ U - U @ (U.T @ U)
    return (Y - U @ U.T) @ U


def flow_jacobian(Y: FloatArray, U: FloatArray) -> FloatArray:
    r"""Jacobian of ``vec(U) -> vec((Y - U U^T) U)`` for row-major ``vec``: ``(n r, n r)``.

    From ``d[(Y - U U^T) U] = (Y - U U^T) dU - dU (U^T U) - U dU^T U``:

    .. math::

        J_{(i a),(j b)} = (Y - U U^T)_{ij} \delta_{ab} - \delta_{ij} (U^T U)_{ab}
            - U_{ib} U_{ja}.

    Parameters
    ----------
    Y : (n, n) array
    U : (n, r) array

    Returns
    -------
    (n r, n r) array
    """
    n, r = U.shape
    jac = np.kron(Y - U @ U.T, np.eye(r)) - np.kron(np.eye(n), U.T @ U)
    jac -= np.einsum("ib,ja->iajb", U, U).reshape(n * r, n * r)
    return jac


def _products(U: FloatArray) -> FloatArray:
    """``U U^T`` for a stack ``(..., n, r)``, exactly symmetric: ``(..., n, n)``."""
    w = U @ np.swapaxes(U, -1, -2)
    return 0.5 * (w + np.swapaxes(w, -1, -2))


@dataclass(frozen=True, eq=False)
class FlowResult:
    """Gradient flow ``U(t)`` at the requested times, from :func:`simulate_gf`.

    Attributes
    ----------
    t : (T,) array
        The requested times, in the order given (``T = 1`` for a scalar time).
    U : (T, n, r) array
        The factor ``U(t)``; ``U[0]`` is ``sqrt(alpha) U0`` when ``t[0] = 0``.
    method : str
        The ``solve_ivp`` method used.
    rtol, atol : float
        The tolerances used (``atol`` after its default was resolved).
    nfev : int
        Number of evaluations of the right-hand side.
    """

    t: FloatArray
    U: FloatArray
    method: str
    rtol: float
    atol: float
    nfev: int

    @property
    def W(self) -> FloatArray:
        """``W(t) = U(t) U(t)^T``, ``(T, n, n)``, exactly symmetric (computed on access)."""
        return _products(self.U)


@dataclass(frozen=True, eq=False)
class GDResult:
    """Gradient-descent iterates at the requested iteration indices, from :func:`simulate_gd`.

    Attributes
    ----------
    steps : (T,) int array
        Iteration indices ``k`` recorded, in the order requested (``U_0 = sqrt(alpha) U0``).
    t : (T,) array
        ``steps * eta``: the flow time each iterate is compared with. When :func:`simulate_gd`
        was called with ``t=``, this is the requested time rounded to the step grid.
    U : (T, n, r) array
        The iterates ``U_k``. Records at ``k >= diverged_at`` were never reached and are NaN.
    eta : float
        Step size.
    diverged : bool
        Whether the iterates blew up by the last requested step (then they were not
        followed further).
    diverged_at : int or None
        The first ``k`` whose iterate had a non-finite entry or one larger than ``blowup`` in
        absolute value; ``None`` if none did.
    """

    steps: NDArray[np.int64]
    t: FloatArray
    U: FloatArray
    eta: float
    diverged: bool
    diverged_at: int | None

    @property
    def W(self) -> FloatArray:
        """``W_k = U_k U_k^T``, ``(T, n, n)``, exactly symmetric (NaN where ``U`` is NaN)."""
        return _products(self.U)


def _as_method(method: Any) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method: expected one of {', '.join(ODE_METHODS)}, got {method!r}")
    if method not in ODE_METHODS:
        raise ValueError(f"method: expected one of {', '.join(ODE_METHODS)}, got {method!r}")
    return method


def simulate_gf(
    Y: ArrayLike,
    U0: ArrayLike,
    alpha: float,
    t: ArrayLike,
    *,
    method: str = "DOP853",
    rtol: float = 1e-10,
    atol: float | None = None,
    max_step: float = np.inf,
    dense: bool = False,
    V0: ArrayLike | None = None,
) -> FlowResult | AsymmetricFlowResult:
    r"""Gradient flow ``dU/dt = (Y - U U^T) U``, ``U(0) = sqrt(alpha) U0``, by ``solve_ivp``.

    Parameters
    ----------
    Y : (n, n) array
        Symmetric target (any signs). Checked, never symmetrized.
    U0 : (n, r) array
        Initialization shape, any ``r >= 1``.
    alpha : float
        Initialization scale, ``alpha > 0``.
    t : float or (T,) array
        Times ``>= 0``, in any order, repeats allowed: the solver integrates once up to
        ``max(t)`` and the results are returned in the order given.
    method : str
        A :func:`scipy.integrate.solve_ivp` method, one of :data:`ODE_METHODS`. The implicit ones
        (``"Radau"``, ``"BDF"``, ``"LSODA"``) get the analytic Jacobian :func:`flow_jacobian`.
    rtol : float
        Relative tolerance, ``>= 100 * machine epsilon`` (``~2.2e-14``, scipy's floor).
    atol : float, optional
        Absolute tolerance. Default ``ATOL_FACTOR * rtol * sqrt(alpha) * max|U0|`` (see the module
        docstring: an absolute scale independent of ``alpha`` is wrong at small ``alpha``).
    max_step : float
        Largest step the solver may take, ``> 0`` (``inf`` by default).
    V0 : (n', r) array, optional
        Given, the *asymmetric* problem ``1/2 ||Y - U V^T||_F^2`` (``Y`` ``(n, n')``, ``U0``
        ``(n, r)``) is simulated instead, by :func:`mfflow.simulate_asymmetric_gf` (any init,
        balanced or not); ``max_step`` and ``dense`` must then keep their defaults.
    dense : bool
        ``False`` (default): the solver lands a step on every requested time, so each value has
        the accuracy the tolerances control. ``True``: one ``solve_ivp`` run with ``t_eval``,
        values read off the solver's interpolant between steps; cheaper for many closely spaced
        times, but the interpolant's error is not controlled (measured up to 50x the step error
        with DOP853 at ``rtol=1e-11``).

    Returns
    -------
    FlowResult
        ``t`` ``(T,)``, ``U`` ``(T, n, r)``, ``W`` ``(T, n, n)`` and the solver's settings.

    Raises
    ------
    RuntimeError
        If the solver fails (for example a ``max_step`` too small for the horizon).

    Notes
    -----
    Accuracy of ``W(t)`` against the closed form, relative Frobenius error, DOP853,
    ``rtol=1e-11``, default ``atol`` (tests/test_simulate.py): at most ``2.3e-11`` over
    ``n in {2, 5, 8}``, ``r`` below, equal to and above ``n``, full-rank, rank-deficient and
    indefinite targets, ``alpha in {1e-1, 1e-4, 1e-8}`` and times through the last transition;
    ``1.5e-11`` at ``alpha = 1e-16``. With ``atol=1e-11`` instead of the default the same runs
    are off by ``9e-8`` (``alpha = 1e-8``) and ``8e-4`` (``alpha = 1e-16``). Below that the
    rounding floor of the module docstring takes over, whatever the tolerances: for a 5 x 5
    problem with spectrum 3..1 the worst error was ``3e-8`` at ``alpha = 1e-30`` and ``0.2`` at
    ``alpha = 1e-60`` (mid-training; it recovers once every mode is learned). Below
    ``alpha ~ 1e-16``, check against high-precision arithmetic before calling this a reference.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> from mfflow.simulate import simulate_gf
    >>> Y = mfflow.make_target([3.0, 1.0], seed=0)
    >>> U0 = mfflow.gaussian_init(2, 3, seed=1)
    >>> res = simulate_gf(Y, U0, alpha=1e-4, t=[0.0, 5.0, 20.0], rtol=1e-11)
    >>> res.U.shape, res.W.shape
    ((3, 2, 3), (3, 2, 2))
    >>> ref = mfflow.closed_form(Y, U0, 1e-4).W(20.0)
    >>> bool(np.linalg.norm(res.W[2] - ref) < 1e-8)
    True
    """
    if V0 is not None:
        if max_step != np.inf or dense is not False:
            raise ValueError(
                "V0: the asymmetric simulation takes no max_step or dense; leave them at default"
            )
        from .asymmetric import simulate_asymmetric_gf

        return simulate_asymmetric_gf(Y, U0, V0, alpha, t, method=method, rtol=rtol, atol=atol)
    y = as_symmetric(Y, "Y")
    n = y.shape[0]
    u0 = as_init(U0, n, "U0")
    r = u0.shape[1]
    a = as_alpha(alpha)
    tt, _ = as_times(t, "t")
    meth = _as_method(method)
    rt = as_positive_scalar(rtol, "rtol")
    if rt < _RTOL_MIN:
        raise ValueError(f"rtol: expected a number >= {_RTOL_MIN:.3g} (scipy's floor), got {rt!r}")
    scale = math.sqrt(a) * float(np.max(np.abs(u0)))
    at = ATOL_FACTOR * rt * scale if atol is None else as_positive_scalar(atol, "atol")
    ms = as_positive_scalar(max_step, "max_step", allow_inf=True)
    if not isinstance(dense, bool | np.bool_):
        raise TypeError(f"dense: expected True or False, got {dense!r}")

    start = math.sqrt(a) * u0
    times, inverse = np.unique(tt, return_inverse=True)
    if times.size == 0 or times[-1] == 0.0 or scale == 0.0:
        # Nothing to integrate: only t = 0 requested, or U0 = 0, a fixed point of the flow.
        U = np.broadcast_to(start, (tt.size, n, r)).copy()
        return FlowResult(t=tt, U=U, method=meth, rtol=rt, atol=at, nfev=0)

    def rhs(_t: float, u: FloatArray) -> FloatArray:
        return flow_rhs(y, u.reshape(n, r)).ravel()

    options: dict[str, Any] = {"rtol": rt, "atol": at, "max_step": ms}
    if meth in _IMPLICIT:
        options["jac"] = lambda _t, u: flow_jacobian(y, u.reshape(n, r))
    if dense:
        sol = solve_ivp(rhs, (0.0, float(times[-1])), start.ravel(), meth, t_eval=times, **options)
        if sol.status != 0:
            raise RuntimeError(
                f"simulate_gf: solve_ivp ({meth}) failed before t = {times[-1]:.6g}: {sol.message}"
            )
        flat, nfev = sol.y.T, int(sol.nfev)
    else:
        flat, nfev = _integrate_through(rhs, start.ravel(), times, _SOLVERS[meth], options)
    U = np.ascontiguousarray(flat).reshape(times.size, n, r)[inverse]
    return FlowResult(t=tt, U=U, method=meth, rtol=rt, atol=at, nfev=nfev)


def _integrate_through(
    rhs: Callable[[float, FloatArray], FloatArray],
    u: FloatArray,
    times: FloatArray,
    solver_cls: type[OdeSolver],
    options: dict[str, Any],
    caller: str = "simulate_gf",
) -> tuple[FloatArray, int]:
    """Integrate from ``t = 0`` through the sorted ``times`` ``(T,)``, landing a step on each.

    One solver per segment ``[times[i-1], times[i]]``, started with the step size the previous
    one ended with (no new initial-step search). Returns the states ``(T, len(u))`` and the
    number of right-hand-side evaluations.
    """
    out = np.empty((times.size, u.size))
    t_now, h, nfev = 0.0, None, 0
    for i, t_next in enumerate(times):
        if t_next > t_now:
            first = None if h is None else min(h, t_next - t_now)
            solver = solver_cls(rhs, t_now, u, t_next, first_step=first, **options)
            while solver.status == "running":
                message = solver.step()
            nfev += solver.nfev
            if solver.status != "finished":
                raise RuntimeError(
                    f"{caller}: {solver_cls.__name__} failed at t = {solver.t:.6g} on the way "
                    f"to t = {t_next:.6g}: {message}"
                )
            u, t_now = solver.y, float(t_next)
            h = getattr(solver, "h_abs", None) or solver.step_size
        out[i] = u
    return out, nfev


def _gd_stepper(y: FloatArray, eta: float, n: int, r: int) -> Callable[[FloatArray], None]:
    """A function doing one in-place step ``U += eta (Y - U U^T) U`` with preallocated buffers."""
    ye = eta * y
    inc = np.empty((n, r))
    if _gram_first(r, n):
        gram = np.empty((r, r))
        tmp = np.empty((n, r))

        def step(U: FloatArray) -> None:
            np.matmul(U.T, U, out=gram)
            np.multiply(gram, -eta, out=gram)
            np.matmul(ye, U, out=inc)
            np.matmul(U, gram, out=tmp)
            np.add(inc, tmp, out=inc)
            np.add(U, inc, out=U)

    else:
        m = np.empty((n, n))

        def step(U: FloatArray) -> None:
            np.matmul(U, U.T, out=m)
            np.multiply(m, -eta, out=m)
            np.add(m, ye, out=m)
            np.matmul(m, U, out=inc)
            np.add(U, inc, out=U)

    return step


def _record_steps(steps: ArrayLike | None, t: ArrayLike | None, eta: float) -> NDArray[np.int64]:
    """The iterates to record: ``steps`` as given, or ``round(t / eta)``; exactly one of them."""
    if (steps is None) == (t is None):
        got = "both" if steps is not None else "neither"
        raise ValueError(
            f"steps, t: expected exactly one of steps= (iteration indices) or t= (times), got {got}"
        )
    if steps is not None:
        ks, _ = as_steps(steps, "steps")
        return ks
    tt, _ = as_times(t, "t")
    with np.errstate(over="ignore"):
        kf = np.rint(tt / eta)
    if kf.size and kf.max() > 2.0**62:
        raise ValueError(
            f"t: t / eta = {kf.max():.3g} steps is more than any loop can run; "
            "increase eta or reduce t"
        )
    return kf.astype(np.int64)


def _descend(
    state: tuple[FloatArray, ...],
    step: Callable[[], None],
    targets: NDArray[np.int64],
    limit: float,
    record: Callable[[int], None],
    after_chunk: Callable[[], None] | None = None,
) -> int | None:
    """Run gradient descent through the sorted step indices ``targets``; the first bad step.

    ``step()`` advances the arrays of ``state`` in place by one iterate; ``record(j)`` is called
    at iterate ``targets[j]``. Health (every entry finite and ``<= limit``) is checked every
    :data:`_CHECK_EVERY` steps (``after_chunk()`` runs after each healthy chunk); on a failure
    the chunk is replayed from a saved copy to find the exact step, which is returned (``None``
    if the iterates stayed healthy). Records never reached are left to the caller (NaN).
    """

    def healthy() -> bool:
        return all(bool(np.max(np.abs(x)) <= limit) for x in state)  # False for NaN

    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if targets.size and not healthy():
            return 0
        k, j = 0, 0
        while j < targets.size:
            while j < targets.size and targets[j] == k:
                record(j)
                j += 1
            if j == targets.size:
                break
            chunk = int(min(targets[j] - k, _CHECK_EVERY))
            saved = [x.copy() for x in state]
            for _ in range(chunk):
                step()
            if not healthy():
                for x, copy in zip(state, saved, strict=True):
                    x[...] = copy
                for i in range(1, chunk + 1):
                    step()
                    if not healthy():
                        return k + i
                return k + chunk
            if after_chunk is not None:
                after_chunk()
            k += chunk
    return None


def simulate_gd(
    Y: ArrayLike,
    U0: ArrayLike,
    alpha: float,
    eta: float,
    *,
    steps: ArrayLike | None = None,
    t: ArrayLike | None = None,
    blowup: float = 1e100,
    V0: ArrayLike | None = None,
) -> GDResult | AsymmetricGDResult:
    r"""Gradient descent ``U_{k+1} = U_k + eta (Y - U_k U_k^T) U_k`` from ``sqrt(alpha) U0``.

    Parameters
    ----------
    Y : (n, n) array
        Symmetric target (any signs).
    U0 : (n, r) array
        Initialization shape, any ``r >= 1``.
    alpha : float
        Initialization scale, ``alpha > 0``.
    eta : float
        Step size, ``> 0``.
    steps : int or (T,) int array, optional
        Iteration indices ``k >= 0`` to record, in any order, repeats allowed.
    t : float or (T,) array, optional
        Flow times to record instead: iterate ``k = round(t / eta)``. Give exactly one of
        ``steps`` and ``t``.
    blowup : float
        The iterates have diverged once an entry exceeds this in absolute value (or is not
        finite).
    V0 : (n', r) array, optional
        Given, gradient descent on the *asymmetric* problem ``1/2 ||Y - U V^T||_F^2`` is run
        instead, by :func:`mfflow.simulate_asymmetric_gd` (same divergence report).

    Returns
    -------
    GDResult
        ``steps`` ``(T,)``, ``t = steps * eta`` ``(T,)``, ``U`` ``(T, n, r)``, ``W`` ``(T, n, n)``
        and the divergence report.

    Notes
    -----
    Divergence is reported, not raised: the loop stops at the first iterate that is non-finite
    or exceeds ``blowup``, sets ``diverged=True`` and ``diverged_at`` to its index, and leaves
    the records it never reached (``k >= diverged_at``) as NaN; every record before it is a
    finite iterate. No floating-point warning is emitted. The check runs every few dozen steps
    and the first bad step is then found by replaying them from a saved iterate; an excursion
    above ``blowup`` that comes back below it within those steps would be missed, which cannot
    happen unless ``eta * blowup^2 < 1`` (beyond ``blowup`` the cubic term dominates).

    Cost per step: ``O(n^2 r + n r^2)`` in three matrix products on preallocated buffers.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> from mfflow.simulate import simulate_gd
    >>> Y = mfflow.make_target([3.0, 1.0], seed=0)
    >>> U0 = mfflow.gaussian_init(2, 3, seed=1)
    >>> res = simulate_gd(Y, U0, alpha=1e-4, eta=1e-3, t=[0.0, 5.0, 20.0])
    >>> res.steps, res.diverged
    (array([    0,  5000, 20000]), False)
    >>> simulate_gd(Y, U0, alpha=1e-4, eta=2.0, steps=100).diverged
    True
    """
    if V0 is not None:
        from .asymmetric import simulate_asymmetric_gd

        return simulate_asymmetric_gd(Y, U0, V0, alpha, eta, steps=steps, t=t, blowup=blowup)
    y = as_symmetric(Y, "Y")
    n = y.shape[0]
    u0 = as_init(U0, n, "U0")
    r = u0.shape[1]
    a = as_alpha(alpha)
    h = as_positive_scalar(eta, "eta")
    limit = as_positive_scalar(blowup, "blowup")
    ks = _record_steps(steps, t, h)
    targets, inverse = np.unique(ks, return_inverse=True)
    records = np.full((targets.size, n, r), np.nan)
    U = math.sqrt(a) * u0  # a fresh array, updated in place
    step = _gd_stepper(y, h, n, r)

    def record(j: int) -> None:
        records[j] = U

    diverged_at = _descend((U,), lambda: step(U), targets, limit, record)

    U_out = records[inverse]
    steps_out = targets[inverse]
    return GDResult(
        steps=steps_out,
        t=steps_out * h,
        U=U_out,
        eta=h,
        diverged=diverged_at is not None,
        diverged_at=diverged_at,
    )
