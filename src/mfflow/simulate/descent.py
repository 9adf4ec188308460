r"""The one gradient-descent loop of every model: which iterates to record, and blow-up detection.

Gradient descent ``F_j <- F_j + eta (-dL/dF_j)`` (all factors at once) is ``eta``-consistent of
order 1 with the flow: iterate ``k`` tracks the flow at ``t = k eta`` with an error ``O(eta)``
at a fixed horizon. A step too large makes the iterates blow up. The loop detects that without
floating-point warnings and without slowing the healthy case down: it checks every
:data:`CHECK_EVERY` steps that every entry is finite and at most ``blowup`` in absolute value,
and on a failed check replays those steps from a saved copy to find the first bad step exactly.
An excursion above ``blowup`` that comes back below it within one chunk would be missed, which
cannot happen for these polynomial losses unless ``eta * blowup^2 < 1`` (beyond ``blowup`` the
highest-degree term dominates).

**Divergence policy (every model).** The result carries ``diverged`` and ``diverged_at`` (the
first bad step), and the records the loop never reached (``k >= diverged_at``) are NaN; every
record before is a finite iterate. ``throw=True`` raises a :class:`ValueError` naming ``eta``
instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..validation import as_nonempty_times, as_steps
from .ode import CHECK_STEPS, StepWatch

__all__ = ["CHECK_EVERY", "MAX_GD_STEPS", "descend", "record_steps"]

FloatArray = NDArray[np.float64]

#: The loop checks for blow-up every this many steps, then locates the bad step exactly.
CHECK_EVERY = 64
#: More iterations than this (hours of work even for tiny problems) are refused up front.
MAX_GD_STEPS = 10**8


def record_steps(steps: ArrayLike | None, t: ArrayLike | None, eta: float) -> NDArray[np.int64]:
    """The iterates to record: ``steps`` as given, or ``k = round(t / eta)``; exactly one of them.

    Parameters
    ----------
    steps : int or (T,) int array, optional
        Iteration indices ``k >= 0``, any order, repeats allowed.
    t : float or (T,) array, optional
        Flow times ``>= 0``: the nearest iterate ``k = round(t / eta)`` is recorded (ties to
        even, :func:`numpy.rint`).
    eta : float
        The step size (checked by the caller).

    Returns
    -------
    (T,) int64 array, ``T >= 1``

    Raises
    ------
    ValueError
        Naming ``steps, t`` if not exactly one is given, ``steps`` or ``t`` if empty or if the
        largest index exceeds :data:`MAX_GD_STEPS` (with the count).

    Examples
    --------
    >>> record_steps(None, [0.3, 0.26, 1.0], 0.1)
    array([ 3,  3, 10])
    """
    if (steps is None) == (t is None):
        got = "both" if steps is not None else "neither"
        raise ValueError(
            f"steps, t: expected exactly one of steps= (iteration indices) or t= (times), got {got}"
        )
    if steps is not None:
        ks, _ = as_steps(steps, "steps")
        if ks.size == 0:
            raise ValueError("steps: expected at least one iteration index, got an empty array")
        if int(ks.max()) > MAX_GD_STEPS:
            raise ValueError(
                f"steps: the largest requested iteration is k = {int(ks.max())}, more than "
                f"{MAX_GD_STEPS:.0e} steps; record fewer iterations or use a larger eta"
            )
        return ks
    tt = as_nonempty_times(t, "t")
    with np.errstate(over="ignore"):
        kf = np.rint(tt / eta)
    if kf.max() > MAX_GD_STEPS:
        raise ValueError(
            f"t: t / eta = {kf.max():.3g} steps is more than {MAX_GD_STEPS:.0e}; "
            "increase eta or reduce t"
        )
    return kf.astype(np.int64)


def descend(
    state: tuple[FloatArray, ...],
    step: Callable[[], None],
    targets: NDArray[np.int64],
    limit: float,
    record: Callable[[int], None],
    after_chunk: Callable[[], None] | None = None,
    watch: StepWatch | None = None,
) -> int | None:
    """Run gradient descent through the sorted step indices ``targets``; the first bad step.

    Parameters
    ----------
    state : tuple of arrays
        The factors, advanced in place by ``step()``.
    step : callable
        One descent step on ``state``, in place.
    targets : (T,) int array
        Sorted, distinct iteration indices to record.
    limit : float
        An iterate is bad once an entry is non-finite or above ``limit`` in absolute value.
    record : callable
        ``record(j)`` is called at iterate ``targets[j]`` (before it, all were healthy).
    after_chunk : callable, optional
        Called after each healthy chunk of at most :data:`CHECK_EVERY` steps (every record
        ends a chunk).
    watch : StepWatch, optional
        Told the iteration count every :data:`~.ode.CHECK_STEPS` steps (progress, long-run
        warning).

    Returns
    -------
    int or None
        The first bad iterate's index (0 if the init is bad), ``None`` if all stayed healthy.
        Records never reached are left to the caller.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones(1)
    >>> def double():
    ...     x[...] = 2 * x
    >>> descend((x,), double, np.array([0, 100]), 1e3, lambda j: None)  # 2^10 > 1e3
    10
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
            chunk = int(min(targets[j] - k, CHECK_EVERY))
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
                return k + chunk  # pragma: no cover - the replay repeats the chunk exactly
            if after_chunk is not None:
                after_chunk()
            k += chunk
            if watch is not None and k // CHECK_STEPS != (k - chunk) // CHECK_STEPS:
                watch.steps = k
                watch.check(float(k), 1.0)
    return None
