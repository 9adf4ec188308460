"""Run any :class:`~.models.Model`: its flow by the one ODE driver, its descent by the one loop.

The public entry points (:mod:`.api`) only build a model and call these two; a new model needs
nothing else.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..validation import MAGNITUDE_MAX, as_alpha, as_nonempty_times, as_positive_scalar, check_fits
from .descent import MAX_GD_STEPS, descend, record_steps
from .models import Factors, Model
from .ode import Progress, StepWatch, as_progress, integrate, ode_options
from .results import DescentResult, FlowResult

__all__ = ["run_descent", "run_flow"]

FloatArray = NDArray[np.float64]


def _splitter(state: Factors) -> tuple[Any, Any]:
    """``split(z) -> factors`` (views) and ``join(factors) -> z`` for the state's layout.

    ``z`` is ``(d,)`` or a stack ``(T, d)``; the RHS calls these on every evaluation, so the
    one-factor layout (the paper's problem) gets the cheapest version.
    """
    shapes = [f.shape for f in state]
    if len(shapes) == 1:
        (shape,) = shapes

        def split_one(z: FloatArray) -> Factors:
            return (z.reshape(*z.shape[:-1], *shape),)

        def join_one(parts: Factors) -> FloatArray:
            return parts[0].ravel()

        return split_one, join_one
    bounds = np.cumsum([0, *(int(np.prod(s)) for s in shapes)]).tolist()
    spans = list(zip(bounds[:-1], bounds[1:], shapes, strict=True))

    def split(z: FloatArray) -> Factors:
        lead = z.shape[:-1]
        return tuple(z[..., a:b].reshape(*lead, *s) for a, b, s in spans)

    def join(parts: Factors) -> FloatArray:
        return np.concatenate([p.ravel() for p in parts])

    return split, join


def _initial_scale(model: Model, start: Factors, alpha: float) -> float:
    """``max_j max|F_j(0)|``, refused (naming ``alpha``) when the initial product would leave
    the range of :data:`~mfflow.validation.MAGNITUDE_MAX`."""
    scale = max((float(np.max(np.abs(f))) if f.size else 0.0) for f in start)
    if scale > MAGNITUDE_MAX ** (1.0 / model.depth):
        raise ValueError(
            f"alpha: the initial factors alpha^(1/{model.depth}) * (init) have entries up to "
            f"{scale:.3g}, so their product would exceed {MAGNITUDE_MAX:g} (alpha = {alpha:.3g}); "
            "use a smaller alpha or a smaller init"
        )
    return scale


def run_flow(
    model: Model,
    init: Factors,
    alpha: float,
    t: ArrayLike,
    *,
    method: str = "DOP853",
    rtol: float = 1e-10,
    atol: float | None = None,
    max_step: float = np.inf,
    dense: bool = False,
    caller: str = "run_flow",
    progress: Progress | None = None,
) -> FlowResult:
    """Gradient flow ``dF_j/dt = model.neg_grad(F)_j`` from ``F_j(0) = alpha^{1/depth} init_j``.

    Parameters
    ----------
    model : Model
    init : tuple of arrays
        The initialization shapes, as checked by ``model.as_init`` (not modified).
    alpha : float
        Initialization scale ``> 0``.
    t : float or (T,) array
        Times ``>= 0``, at least one, any order, repeats allowed; results keep the order.
    method, rtol, atol, max_step, dense
        See :mod:`.ode` (one policy for every model).
    caller : str
        Named in solver-failure messages.
    progress : callable, optional
        ``progress(fraction)`` during long runs (:mod:`.ode`).

    Returns
    -------
    FlowResult

    Examples
    --------
    >>> import numpy as np
    >>> from mfflow.simulate.models import SymmetricModel
    >>> model = SymmetricModel(np.diag([1.0]))
    >>> res = run_flow(model, model.as_init([[1.0]]), 1e-2, [0.0, 50.0])
    >>> res.W[:, 0, 0].round(10)  # from alpha to the target's eigenvalue 1
    array([0.01, 1.  ])
    """
    a = as_alpha(alpha)
    tt = np.array(as_nonempty_times(t, "t"))  # a copy: the result makes it read-only
    watcher = as_progress(progress)
    start = model.start(init, a)
    scale = _initial_scale(model, start, a)
    opts = ode_options(method, rtol, atol, max_step, dense, scale=scale, t_end=float(tt.max()))
    check_fits((tt.size, sum(f.size for f in start)), "t", what="record of the states", copies=2)
    split, join = _splitter(start)

    def rhs(t_now: float, z: FloatArray) -> FloatArray:
        with np.errstate(over="ignore", invalid="ignore"):
            dz = join(model.neg_grad(split(z)))
        if not np.all(np.isfinite(dz)):
            # a gradient flow of these losses stays bounded: only loose tolerances get here
            raise ValueError(
                f"rtol, atol: the {opts.method} solution left the float64 range near "
                f"t = {t_now:.4g} (rtol = {opts.rtol:g}, atol = {opts.atol:g}): the tolerances "
                "are too loose for this problem; tighten them"
            )
        return dz

    jac = None
    if model.has_jacobian:

        def jac(_t: float, z: FloatArray) -> FloatArray:
            return model.jacobian(split(z))

    states, nfev = integrate(rhs, join(start), tt, opts, jac=jac, caller=caller, progress=watcher)
    factors = tuple(np.ascontiguousarray(f) for f in split(states))
    return FlowResult(
        t=tt,
        factors=factors,
        model=model,
        method=opts.method,
        rtol=opts.rtol,
        atol=opts.atol,
        nfev=nfev,
    )


def _limit_text(blowup: float, limit: float, depth: int) -> str:
    """How the divergence bound was set: ``blowup``, or the cap where records would overflow."""
    if float(blowup) <= limit:
        return f"blowup = {float(blowup):g}"
    return (
        f"blowup = {float(blowup):g} capped at MAGNITUDE_MAX^(1/{depth}), where the product of "
        "the records would overflow"
    )


def run_descent(
    model: Model,
    init: Factors,
    alpha: float,
    eta: float,
    *,
    steps: ArrayLike | None = None,
    t: ArrayLike | None = None,
    blowup: float = 1e100,
    throw: bool = False,
    progress: Progress | None = None,
) -> DescentResult:
    """Gradient descent ``F_j <- F_j + eta model.neg_grad(F)_j`` from ``alpha^{1/depth} init_j``.

    Parameters
    ----------
    model : Model
    init : tuple of arrays
        The initialization shapes, as checked by ``model.as_init`` (not modified).
    alpha : float
        Initialization scale ``> 0``.
    eta : float
        Step size ``> 0``.
    steps : int or (T,) int array, optional
        Iteration indices ``k >= 0`` to record, any order, repeats allowed.
    t : float or (T,) array, optional
        Flow times to record instead: iterate ``k = round(t / eta)`` (the result's ``t`` is
        ``k eta``, the times actually recorded). Exactly one of ``steps`` and ``t``.
    blowup : float
        The iterates have diverged once an entry exceeds this in absolute value (or is not
        finite); at most ``MAGNITUDE_MAX^(1/depth)`` (``1e50`` for ``U U^T``) is used, beyond
        which the product and the loss of a record would overflow.
    throw : bool
        Raise a :class:`ValueError` naming ``eta`` on divergence instead of flagging it.
    progress : callable, optional
        ``progress(fraction)`` during long runs (:mod:`.ode`).

    Returns
    -------
    DescentResult
        Divergence flagged (``diverged``, ``diverged_at``), records never reached NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from mfflow.simulate.models import SymmetricModel
    >>> model = SymmetricModel(np.diag([1.0]))
    >>> res = run_descent(model, model.as_init([[1.0]]), 1e-2, 0.1, steps=[0, 1000])
    >>> res.W[:, 0, 0].round(10), res.diverged
    (array([0.01, 1.  ]), False)
    >>> run_descent(model, model.as_init([[1.0]]), 1e-2, 3.0, steps=100).diverged_at
    8
    """
    a = as_alpha(alpha)
    h = as_positive_scalar(eta, "eta", maximum=MAGNITUDE_MAX)
    # records beyond MAGNITUDE_MAX^(1/depth) would make W and the loss overflow: a run past
    # that bound has diverged whatever blowup says
    limit = min(as_positive_scalar(blowup, "blowup"), MAGNITUDE_MAX ** (1.0 / model.depth))
    if not isinstance(throw, bool | np.bool_):
        raise TypeError(f"throw: expected True or False, got {throw!r}")
    watcher = as_progress(progress)
    ks = record_steps(steps, t, h)
    targets, inverse = np.unique(ks, return_inverse=True)
    inverse = inverse.ravel()
    state = model.start(init, a)
    _initial_scale(model, state, a)
    check_fits(
        (targets.size, sum(f.size for f in state)),
        "steps" if steps is not None else "t",
        what="record of the iterates",
        copies=2,
    )
    records = [np.full((targets.size, *f.shape), np.nan) for f in state]
    step = model.stepper(state, h)
    d0 = model.invariant(state)
    drift = 0.0

    def record(j: int) -> None:
        for rec, f in zip(records, state, strict=True):
            rec[j] = f

    def track_drift() -> None:
        nonlocal drift
        inv = model.invariant(state)
        assert inv is not None and d0 is not None  # tracked only for models with an invariant
        drift = max(drift, float(np.max(np.abs(inv - d0))))

    last = int(targets[-1]) if targets.size else 0
    watch = StepWatch(
        last,
        MAX_GD_STEPS,
        f"gradient descent ({last} steps)",
        lambda *_: ValueError("steps: more steps than MAX_GD_STEPS"),  # refused up front
        watcher,
    )
    bad = descend(state, step, targets, limit, record, None if d0 is None else track_drift, watch)
    if watcher is not None:
        watcher(1.0)
    if bad is not None and throw:
        raise ValueError(
            f"eta: gradient descent diverged at step {bad} with eta = {h:g} (an entry above "
            f"{limit:g} or not finite; {_limit_text(blowup, limit, model.depth)}); use a smaller "
            "step size"
        )
    return DescentResult(
        t=cast(FloatArray, targets[inverse] * h),  # float64: stubs say floating[Any]
        factors=tuple(rec[inverse] for rec in records),
        model=model,
        steps=targets[inverse],
        eta=h,
        diverged=bad is not None,
        diverged_at=bad,
        imbalance_drift=None if d0 is None else drift,
    )
