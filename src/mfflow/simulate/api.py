r"""The public simulators: one flow and one descent per problem, the same keywords everywhere.

=============================  ===================================  =====================
loss                           flow                                 descent
=============================  ===================================  =====================
``1/4 ||Y - U U^T||^2``        ``simulate_gf(Y, U0, alpha, t)``     ``simulate_gd``
``1/2 ||Y - U V^T||^2``        ``simulate_gf(..., V0=V0)``,         ``simulate_gd(V0=)``,
                               ``simulate_asymmetric_gf``           ``simulate_asymmetric_gd``
``1/4 ||A(U U^T) - y||^2``     ``simulate_gf(..., operator=A)``,    ``simulate_gd(operator=)``,
(and ``U V^T``)                ``sensing_flow(A, Y, U0, ...)``      ``sensing_descent``
``1/2 ||Y - W_L..W_1||^2``     ``deep_flow(Y, factors0, ...)``      ``deep_descent``
=============================  ===================================  =====================

Every flow takes ``t=`` (times, any order, repeats allowed; at least one), ``method=``,
``rtol=``, ``atol=``, ``max_step=`` and ``dense=`` (:mod:`.ode`: one driver and one tolerance
policy) and returns a :class:`~.results.FlowResult`. Every descent takes ``eta``, ``steps=`` or
``t=``, ``blowup=`` and ``throw=`` (:mod:`.descent`: one loop, one divergence policy) and returns
a :class:`~.results.DescentResult`. ``V0=`` and ``operator=`` are accepted wherever they make
sense, and ``weight_decay=`` (``+ gamma/2`` times the factors' squared norms) everywhere. All of
them are thin: they build a :mod:`.models` model and call :mod:`.run`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ..validation import as_factor_stack, as_square, as_weight_decay
from .models import AsymmetricModel, DeepModel, Model, SymmetricModel, WeightDecay
from .ode import Progress
from .results import DescentResult, FlowResult
from .run import run_descent, run_flow

if TYPE_CHECKING:
    from ..sensing import MeasurementOperator

__all__ = [
    "deep_descent",
    "deep_flow",
    "sensing_descent",
    "sensing_flow",
    "simulate_asymmetric_gd",
    "simulate_asymmetric_gf",
    "simulate_gd",
    "simulate_gf",
]


def _decayed(model: Model, weight_decay: float) -> Model:
    """``model`` with ``+ gamma/2 sum_j ||F_j||^2`` (the model itself when ``gamma = 0``)."""
    gamma = as_weight_decay(weight_decay)
    return WeightDecay(model, gamma) if gamma else model


def _model(
    Y: ArrayLike,
    U0: ArrayLike,
    V0: ArrayLike | None,
    operator: MeasurementOperator | None,
    weight_decay: float = 0.0,
) -> tuple[Model, tuple[np.ndarray, ...]]:
    model: Model
    if V0 is None:
        model = SymmetricModel(Y, operator)
        init = model.as_init(U0)
    else:
        model = AsymmetricModel(Y, operator)
        init = model.as_init(U0, V0)
    return _decayed(model, weight_decay), init


def simulate_gf(
    Y: ArrayLike,
    U0: ArrayLike,
    alpha: float,
    t: ArrayLike,
    *,
    V0: ArrayLike | None = None,
    operator: MeasurementOperator | None = None,
    method: str = "DOP853",
    rtol: float = 1e-10,
    atol: float | None = None,
    max_step: float = np.inf,
    dense: bool = False,
    weight_decay: float = 0.0,
    progress: Progress | None = None,
) -> FlowResult:
    r"""Gradient flow ``dU/dt = (Y - U U^T) U``, ``U(0) = sqrt(alpha) U0``, by ``solve_ivp``.

    The flow of ``L(U) = 1/4 ||Y - U U^T||_F^2``; with ``V0`` that of
    ``1/2 ||Y - U V^T||_F^2`` (``U' = R V``, ``V' = R^T U``, ``R = Y - U V^T``); with
    ``operator`` the same losses on the measurements ``A(W) - A(Y)``.

    Parameters
    ----------
    Y : (n, n) array, or (m, n) with ``V0``
        Target. Without ``V0`` it must be symmetric (any signs; checked, never symmetrized).
    U0 : (n, r) array, or (m, r) with ``V0``
        Initialization shape, any ``r >= 1``.
    alpha : float
        Initialization scale, ``alpha > 0``.
    t : float or (T,) array
        Times ``>= 0``, at least one, in any order, repeats allowed: the solver integrates once
        through the sorted times and the results are returned in the order given.
    V0 : (n, r) array, optional
        Given, the asymmetric problem (any init, balanced or not).
    operator : MeasurementOperator, optional
        Given, the sensing/completion loss (:mod:`mfflow.sensing`).
    method : str
        A :func:`scipy.integrate.solve_ivp` method, one of :data:`~.ode.ODE_METHODS`. The
        implicit ones (``"Radau"``, ``"BDF"``, ``"LSODA"``) get the analytic Jacobian
        :func:`~.models.flow_jacobian` for the plain symmetric problem.
    rtol : float
        Relative tolerance, ``>= 100 * machine epsilon`` (``~2.2e-14``, scipy's floor).
    atol : float, optional
        Absolute tolerance. Default ``ATOL_FACTOR * rtol * sqrt(alpha) * max(|U0|, |V0|)``
        (:mod:`.ode`: an absolute scale independent of ``alpha`` is wrong at small ``alpha``).
    max_step : float
        Largest step the solver may take, ``> 0`` (``inf`` by default); one that would need more
        than :data:`~.ode.MAX_ODE_STEPS` steps is refused.
    dense : bool
        ``False`` (default): the solver lands a step on every requested time, so each value has
        the accuracy the tolerances control. ``True``: one ``solve_ivp`` run with ``t_eval``,
        values read off the solver's interpolant (cheaper for many close times, error not
        controlled: measured up to 50x the step error with DOP853 at ``rtol=1e-11``).
    progress : callable, optional
        ``progress(fraction)`` is called as a long run advances (fraction of the last time
        reached, every 200 steps). Without it, a run projected to take more than 10 s warns
        once (:class:`~mfflow.simulate.ode.LongRunWarning`) with the step count and duration;
        one projected beyond :data:`~.ode.MAX_ODE_STEPS` steps (a far horizon ``t`` with an
        explicit method: once converged its step is limited by stability) is refused at once
        with a ``ValueError`` naming ``t``.

    weight_decay : float
        ``gamma >= 0`` (default 0): the loss gets ``+ gamma/2`` times the squared Frobenius norms
        of the factors (``||U||^2``, ``||U||^2 + ||V||^2``, ``sum_j ||W_j||^2``), so every
        factor's velocity gets ``- gamma F`` (:class:`~.models.WeightDecay`). Symmetric: the
        flow with target ``Y - gamma I`` (exact: ``closed_form(..., weight_decay=)``);
        asymmetric: the imbalance decays like ``e^{-2 gamma t}``, exact only from a balanced
        init (``closed_form_asymmetric(..., weight_decay=)``); docs/math.md §10.

    Returns
    -------
    FlowResult
        ``t`` ``(T,)``, ``U`` ``(T, n, r)`` (``V`` ``(T, n, r)``), ``W`` ``(T, n, n)``, ``loss``,
        ``singular_values``, ... and the solver's settings.

    Raises
    ------
    RuntimeError
        If the solver fails on the way.

    Notes
    -----
    Accuracy of ``W(t)`` against the closed form, relative Frobenius error, DOP853,
    ``rtol=1e-11``, default ``atol`` (tests/test_simulate.py): at most ``2.3e-11`` over
    ``n in {2, 5, 8}``, ``r`` below, equal to and above ``n``, full-rank, rank-deficient and
    indefinite targets, ``alpha in {1e-1, 1e-4, 1e-8}`` and times through the last transition;
    ``1.5e-11`` at ``alpha = 1e-16``. With ``atol=1e-11`` instead of the default the same runs
    are off by ``9e-8`` (``alpha = 1e-8``) and ``8e-4`` (``alpha = 1e-16``). Below that the
    rounding floor of :mod:`.ode` takes over, whatever the tolerances: for a 5 x 5 problem with
    spectrum 3..1 the worst error was ``3e-8`` at ``alpha = 1e-30`` and ``0.2`` at
    ``alpha = 1e-60`` (mid-training; it recovers once every mode is learned). Below
    ``alpha ~ 1e-16``, check against high-precision arithmetic before calling this a reference.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> Y = mfflow.make_target([3.0, 1.0], seed=0)
    >>> U0 = mfflow.gaussian_init(2, 3, seed=1)
    >>> res = mfflow.simulate_gf(Y, U0, alpha=1e-4, t=[0.0, 5.0, 20.0], rtol=1e-11)
    >>> res.U.shape, res.W.shape
    ((3, 2, 3), (3, 2, 2))
    >>> ref = mfflow.closed_form(Y, U0, 1e-4).W(20.0)
    >>> bool(np.linalg.norm(res.W[2] - ref) < 1e-8)
    True
    """
    model, init = _model(Y, U0, V0, operator, weight_decay)
    return run_flow(
        model,
        init,
        alpha,
        t,
        method=method,
        rtol=rtol,
        atol=atol,
        max_step=max_step,
        dense=dense,
        progress=progress,
        caller="simulate_gf",
    )


def simulate_gd(
    Y: ArrayLike,
    U0: ArrayLike,
    alpha: float,
    eta: float,
    *,
    steps: ArrayLike | None = None,
    t: ArrayLike | None = None,
    V0: ArrayLike | None = None,
    operator: MeasurementOperator | None = None,
    blowup: float = 1e100,
    throw: bool = False,
    weight_decay: float = 0.0,
    progress: Progress | None = None,
) -> DescentResult:
    r"""Gradient descent ``U_{k+1} = U_k + eta (Y - U_k U_k^T) U_k`` from ``sqrt(alpha) U0``.

    With ``V0``, simultaneous steps on ``1/2 ||Y - U V^T||_F^2``; with ``operator``, on the
    measurement loss (as :func:`simulate_gf`).

    Parameters
    ----------
    Y : (n, n) symmetric array, or (m, n) with ``V0``
    U0 : (n, r) array, or (m, r) with ``V0``
    alpha : float
        Initialization scale, ``alpha > 0``.
    eta : float
        Step size, ``> 0``.
    steps : int or (T,) int array, optional
        Iteration indices ``k >= 0`` to record, in any order, repeats allowed.
    t : float or (T,) array, optional
        Flow times to record instead. Times off the step grid are rounded: iterate
        ``k = round(t / eta)`` is recorded, and the result's ``t = k eta`` says which times
        were. Give exactly one of ``steps`` and ``t``.
    V0 : (n, r) array, optional
        Given, the asymmetric problem.
    operator : MeasurementOperator, optional
        Given, the sensing/completion loss.
    blowup : float
        The iterates have diverged once an entry exceeds this in absolute value (or is not
        finite); capped at ``1e100^(1/depth)`` (``1e50`` here), beyond which the product and
        the loss of a record would overflow.
    throw : bool
        ``True``: raise a :class:`ValueError` naming ``eta`` on divergence.
    weight_decay : float
        ``gamma >= 0``: the same loss plus ``gamma/2 ||factors||_F^2`` (as :func:`simulate_gf`):
        each step is ``F <- F + eta (-grad L(F) - gamma F)``.
    progress : callable, optional
        ``progress(fraction)`` as the iterations advance (every 200 steps); without it, a run
        projected to take more than 10 s warns once with the count and duration. More than
        :data:`~.descent.MAX_GD_STEPS` iterations are refused up front.

    Returns
    -------
    DescentResult
        ``steps`` ``(T,)``, ``t = steps * eta`` ``(T,)``, ``U`` ``(T, n, r)``, ``W``
        ``(T, n, n)``, ... and the divergence report.

    Notes
    -----
    Divergence is flagged, not raised (unless ``throw``): the loop stops at the first iterate
    that is non-finite or exceeds ``blowup``, sets ``diverged=True`` and ``diverged_at`` to its
    index, and leaves the records it never reached (``k >= diverged_at``) NaN; every record
    before it is a finite iterate. No floating-point warning is emitted (:mod:`.descent`).
    Cost per step for the plain symmetric problem: ``O(n^2 r + n r^2)`` in three matrix
    products on preallocated buffers.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> Y = mfflow.make_target([3.0, 1.0], seed=0)
    >>> U0 = mfflow.gaussian_init(2, 3, seed=1)
    >>> res = mfflow.simulate_gd(Y, U0, alpha=1e-4, eta=1e-3, t=[0.0, 5.0, 20.0])
    >>> res.steps, res.diverged
    (array([    0,  5000, 20000]), False)
    >>> mfflow.simulate_gd(Y, U0, alpha=1e-4, eta=2.0, steps=100).diverged
    True
    """
    model, init = _model(Y, U0, V0, operator, weight_decay)
    return run_descent(
        model, init, alpha, eta, steps=steps, t=t, blowup=blowup, throw=throw, progress=progress
    )


def simulate_asymmetric_gf(
    Y: ArrayLike,
    U0: ArrayLike,
    V0: ArrayLike,
    alpha: float,
    t: ArrayLike,
    *,
    operator: MeasurementOperator | None = None,
    method: str = "DOP853",
    rtol: float = 1e-10,
    atol: float | None = None,
    max_step: float = np.inf,
    dense: bool = False,
    weight_decay: float = 0.0,
    progress: Progress | None = None,
) -> FlowResult:
    r"""Gradient flow ``U' = (Y - U V^T) V``, ``V' = (Y - U V^T)^T U`` by an ODE solver.

    The flow of ``1/2 ||Y - U V^T||_F^2`` from ``(sqrt(alpha) U0, sqrt(alpha) V0)``, any init
    (balanced or not): ``simulate_gf(Y, U0, alpha, t, V0=V0, ...)``. For lambda-balanced inits
    the exact flow is :func:`mfflow.closed_form_asymmetric`.

    Parameters
    ----------
    Y : (m, n) array
    U0 : (m, r) array
    V0 : (n, r) array
    alpha : float
    t : float or (T,) array
        Times ``>= 0`` in any order; the solver lands a step on each (no interpolation).
    operator, method, rtol, atol, max_step, dense, weight_decay, progress
        As in :func:`simulate_gf`.

    Returns
    -------
    FlowResult
        ``U`` ``(T, m, r)``, ``V`` ``(T, n, r)``, ``W`` ``(T, m, n)``, ``imbalance``
        ``(T, r, r)`` and its drift (the flow conserves it: the drift measures the solver error).

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> Y = np.array([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> U0, V0 = mfflow.gaussian_pair_init(2, 3, 2, scale_u=2.0, seed=0)
    >>> res = mfflow.simulate_asymmetric_gf(Y, U0, V0, 1e-4, [0.0, 30.0])
    >>> bool(np.allclose(res.W[-1], Y, atol=1e-6)), res.relative_imbalance_drift < 1e-8
    (True, True)
    """
    base = AsymmetricModel(Y, operator)
    model = _decayed(base, weight_decay)
    return run_flow(
        model,
        base.as_init(U0, V0),
        alpha,
        t,
        method=method,
        rtol=rtol,
        atol=atol,
        max_step=max_step,
        dense=dense,
        progress=progress,
        caller="simulate_asymmetric_gf",
    )


def simulate_asymmetric_gd(
    Y: ArrayLike,
    U0: ArrayLike,
    V0: ArrayLike,
    alpha: float,
    eta: float,
    *,
    steps: ArrayLike | None = None,
    t: ArrayLike | None = None,
    operator: MeasurementOperator | None = None,
    blowup: float = 1e100,
    throw: bool = False,
    weight_decay: float = 0.0,
    progress: Progress | None = None,
) -> DescentResult:
    r"""Gradient descent on ``1/2 ||Y - U V^T||_F^2``, simultaneous updates:

    .. math::

        U_{k+1} = U_k + \eta (Y - U_k V_k^T) V_k, \qquad
        V_{k+1} = V_k + \eta (Y - U_k V_k^T)^T U_k,

    from ``(sqrt(alpha) U0, sqrt(alpha) V0)``: ``simulate_gd(Y, U0, alpha, eta, V0=V0, ...)``.

    Parameters
    ----------
    Y : (m, n) array
    U0 : (m, r) array
    V0 : (n, r) array
    alpha, eta : float
        Scale and step size, both ``> 0``.
    steps, t, operator, blowup, throw, weight_decay, progress
        As in :func:`simulate_gd`.

    Returns
    -------
    DescentResult
        Iterates, ``W``, divergence flag and step, and ``imbalance_drift``: the imbalance
        ``U^T U - V^T V`` changes by ``O(eta^2)`` per step.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> Y = np.array([[3.0, 0.0], [0.0, 1.0]])
    >>> U0, V0 = mfflow.balanced_init(2, 2, 2, seed=0)
    >>> mfflow.simulate_asymmetric_gd(Y, U0, V0, 1e-4, eta=1.5, steps=200).diverged
    True
    """
    base = AsymmetricModel(Y, operator)
    return run_descent(
        _decayed(base, weight_decay),
        base.as_init(U0, V0),
        alpha,
        eta,
        steps=steps,
        t=t,
        blowup=blowup,
        throw=throw,
        progress=progress,
    )


def sensing_flow(
    operator: MeasurementOperator,
    Y: ArrayLike,
    U0: ArrayLike,
    alpha: float,
    t: ArrayLike,
    *,
    V0: ArrayLike | None = None,
    rtol: float = 1e-10,
    atol: float | None = None,
    method: str = "DOP853",
    max_step: float = np.inf,
    dense: bool = False,
    weight_decay: float = 0.0,
    progress: Progress | None = None,
) -> FlowResult:
    r"""Gradient flow on the sensing loss: ``simulate_gf(Y, U0, alpha, t, operator=operator)``.

    Symmetric (``V0=None``): ``dU/dt = sym(A*(y - A(U U^T))) U``, the flow of
    ``1/4 ||A(U U^T) - y||^2``. Asymmetric: ``dU/dt = A*(r) V``, ``dV/dt = A*(r)^T U``,
    ``r = y - A(U V^T)``, the flow of ``1/2 ||A(U V^T) - y||^2``. Here ``y = A(Y)``; the factors
    start at ``sqrt(alpha) (U0, V0)``.

    Parameters
    ----------
    operator : MeasurementOperator
        Measuring ``Y``'s shape.
    Y : (n, n) symmetric array, or (n1, n2) array if ``V0`` is given
    U0 : (n, r) array
    alpha : float
        Initialization scale ``> 0``.
    t : float or (T,) array
        Times ``>= 0`` at which to record (any order; the result keeps it).
    V0 : (n2, r) array, optional
        Right factor's shape; given, the asymmetric factorization ``W = U V^T`` is simulated.
    rtol, atol, method, max_step, dense, weight_decay, progress
        As in :func:`simulate_gf` (the same tolerance policy for every model).

    Returns
    -------
    FlowResult
        ``kind`` ``"symmetric"`` or ``"asymmetric"``, ``dynamics="flow"``, ``m`` measurements.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> Y = mfflow.make_target([2.0, 1.0], n=4, seed=0)
    >>> U0 = mfflow.gaussian_init(4, 4, seed=1)
    >>> res = mfflow.sensing_flow(mfflow.IdentityOperator(4), Y, U0, 1e-4, [0.0, 20.0])
    >>> res.singular_values[-1, :2].round(6)
    array([2., 1.])
    """
    model, init = _model(Y, U0, V0, _required(operator), weight_decay)
    return run_flow(
        model,
        init,
        alpha,
        t,
        method=method,
        rtol=rtol,
        atol=atol,
        max_step=max_step,
        dense=dense,
        progress=progress,
        caller="sensing_flow",
    )


def sensing_descent(
    operator: MeasurementOperator,
    Y: ArrayLike,
    U0: ArrayLike,
    alpha: float,
    eta: float,
    steps: ArrayLike | None = None,
    *,
    t: ArrayLike | None = None,
    V0: ArrayLike | None = None,
    blowup: float = 1e100,
    throw: bool = False,
    weight_decay: float = 0.0,
    progress: Progress | None = None,
) -> DescentResult:
    r"""Gradient descent on the sensing loss: ``simulate_gd(..., operator=operator)``.

    ``U <- U + eta sym(A*(y - A(U U^T))) U`` (symmetric), or the simultaneous update
    ``(U, V) <- (U + eta A*(r) V, V + eta A*(r)^T U)`` (asymmetric, ``V0`` given), from
    ``sqrt(alpha) (U0, V0)``. Iterate ``k`` is compared with the flow at ``t = k eta``.

    Parameters
    ----------
    operator, Y, U0, alpha, V0
        As in :func:`sensing_flow`.
    eta : float
        Step size ``> 0``.
    steps : int or (T,) int array, optional
        Iterations ``k >= 0`` to record (any order); or give ``t=``.
    t, blowup, throw, weight_decay, progress
        As in :func:`simulate_gd`: divergence is flagged (``diverged``, ``diverged_at``, NaN
        records after it), or raised naming ``eta`` with ``throw=True``.

    Returns
    -------
    DescentResult
        ``dynamics="descent"``, ``t = steps * eta``.

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([2.0, 1.0], n=4, seed=0)
    >>> U0 = mfflow.gaussian_init(4, 4, seed=1)
    >>> res = mfflow.sensing_descent(mfflow.IdentityOperator(4), Y, U0, 1e-4, 0.05, [0, 400])
    >>> res.singular_values[-1, :2].round(6)   # the zero modes stay ~alpha
    array([2., 1.])
    """
    model, init = _model(Y, U0, V0, _required(operator), weight_decay)
    return run_descent(
        model, init, alpha, eta, steps=steps, t=t, blowup=blowup, throw=throw, progress=progress
    )


def _required(operator: MeasurementOperator | None) -> MeasurementOperator:
    if operator is None:
        raise TypeError(
            "operator: expected a measurement operator (e.g. mfflow.GaussianSensing), got None; "
            "for the plain loss call simulate_gf / simulate_gd"
        )
    return operator


def _deep(
    Y: ArrayLike,
    factors0: ArrayLike,
    operator: MeasurementOperator | None,
    weight_decay: float = 0.0,
) -> tuple[Model, tuple[np.ndarray, ...]]:
    y = as_square(Y, "Y")
    f0 = as_factor_stack(factors0, y.shape[0], "factors0")
    model = DeepModel(y, f0.shape[0], operator)
    return _decayed(model, weight_decay), model.as_init(f0)


def deep_flow(
    Y: ArrayLike,
    factors0: ArrayLike,
    alpha: float,
    t: ArrayLike,
    *,
    operator: MeasurementOperator | None = None,
    rtol: float = 1e-10,
    atol: float | None = None,
    method: str = "DOP853",
    max_step: float = np.inf,
    dense: bool = False,
    weight_decay: float = 0.0,
    progress: Progress | None = None,
) -> FlowResult:
    r"""Gradient flow of the deep factorization ``W = W_L ... W_1`` by ``solve_ivp``.

    .. math::

        \dot W_j = (W_L \cdots W_{j+1})^T R (W_{j-1} \cdots W_1)^T, \qquad R = Y - W
        \;\; (\text{or } A^*(y - A(W))),

    the flow of ``1/2 ||Y - W||_F^2`` (or ``1/2 ||A(W) - A(Y)||^2``) from
    ``W_j(0) = alpha^{1/L} F_j``, so ``W(0) = alpha F_L ... F_1``.

    Parameters
    ----------
    Y : (n, n) array
        Target (need not be symmetric).
    factors0 : (L, n, n) array
        Shapes ``F_j`` (``F[0]`` applied first), e.g. :func:`mfflow.deep_spectral_init` or
        :func:`mfflow.deep_random_init`; ``L >= 2``.
    alpha : float
        ``W(0) = alpha F_L ... F_1``.
    t : float or (T,) array
        Times ``>= 0`` to record.
    operator : MeasurementOperator, optional
        Sensing operator on ``(n, n)``; ``None`` is the plain loss.
    rtol, atol, method, max_step, dense, weight_decay, progress
        As in :func:`simulate_gf`: ``atol`` defaults to
        ``ATOL_FACTOR * rtol * alpha^{1/L} max|F|``; with weight decay each mode of a balanced
        spectral init follows ``s' = L s^{2 - 2/L} (sigma - s) - L gamma s``.

    Returns
    -------
    FlowResult
        ``kind="deep"``, ``depth=L``, ``factors = (W_1, ..., W_L)`` each ``(T, n, n)``; the loss
        is ``1/2 ||A(W) - y||^2``; ``imbalance`` is the balancedness
        ``W_{j+1}^T W_{j+1} - W_j W_j^T`` ``(T, L - 1, n, n)``, conserved by the flow.

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([2.0, 1.0], n=3, seed=0)
    >>> F = mfflow.deep_spectral_init(Y, 3, scales=[1.0, 1.0, 0.0])
    >>> res = mfflow.deep_flow(Y, F, 1e-3, [0.0, 60.0])
    >>> res.singular_values[-1].round(6)
    array([2., 1., 0.])
    """
    model, init = _deep(Y, factors0, operator, weight_decay)
    return run_flow(
        model,
        init,
        alpha,
        t,
        method=method,
        rtol=rtol,
        atol=atol,
        max_step=max_step,
        dense=dense,
        progress=progress,
        caller="deep_flow",
    )


def deep_descent(
    Y: ArrayLike,
    factors0: ArrayLike,
    alpha: float,
    eta: float,
    steps: ArrayLike | None = None,
    *,
    t: ArrayLike | None = None,
    operator: MeasurementOperator | None = None,
    blowup: float = 1e100,
    throw: bool = False,
    weight_decay: float = 0.0,
    progress: Progress | None = None,
) -> DescentResult:
    r"""Gradient descent ``W_j <- W_j + eta (W_L..W_{j+1})^T R (W_{j-1}..W_1)^T`` (all ``j``
    at once), from ``W_j(0) = alpha^{1/L} F_j``; records at the given iterations.

    Parameters
    ----------
    Y, factors0, alpha, operator
        As in :func:`deep_flow`.
    eta : float
        Step size ``> 0``.
    steps : int or (T,) int array, optional
        Iterations ``k >= 0`` to record (any order); ``t = k eta``. Or give ``t=``.
    t, blowup, throw, weight_decay, progress
        As in :func:`simulate_gd` (divergence flagged, or raised naming ``eta``). The product
        of records close to ``blowup`` may overflow for large ``L``.

    Returns
    -------
    DescentResult
        ``kind="deep"``, ``dynamics="descent"``.

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([2.0, 1.0], n=3, seed=0)
    >>> F0 = mfflow.deep_random_init(3, 3, seed=0)
    >>> res = mfflow.deep_descent(Y, F0, 1e-3, 0.05, [0, 3000])
    >>> res.singular_values[-1, :2].round(4)
    array([2., 1.])
    """
    model, init = _deep(Y, factors0, operator, weight_decay)
    return run_descent(
        model, init, alpha, eta, steps=steps, t=t, blowup=blowup, throw=throw, progress=progress
    )
