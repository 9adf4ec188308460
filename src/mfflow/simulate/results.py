"""The two result types of every simulation: :class:`FlowResult` and :class:`DescentResult`.

Both hold the recorded factors (``factors``; ``U``, ``V``) and the :class:`~.models.Model` they
came from, and derive the same read-only quantities from them on first access: the product
``W``, the ``loss``, the ``singular_values`` of ``W``, the ``recovery_error`` and, for models
with a conserved quantity, the ``imbalance`` and its drift. Every array is read-only (the
derived ones are computed once, so writing into a record would make them stale).

A record that gradient descent never reached (after divergence) is NaN, and so is everything
derived from it; nothing raises or warns on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..curves import crossing_times
from .models import Factors, Model

__all__ = ["DescentResult", "FlowResult", "SimulationResult"]

FloatArray = NDArray[np.float64]
_ArrayT = TypeVar("_ArrayT", bound=NDArray[Any])


def _frozen(x: _ArrayT) -> _ArrayT:
    x.flags.writeable = False
    return x


@dataclass(frozen=True, eq=False, repr=False)
class SimulationResult:
    """What every simulated trajectory provides: the base of both result types.

    Attributes
    ----------
    t : (T,) array
        The times of the records, in the order requested (for descent ``t = steps * eta``).
    factors : tuple of (T, ...) arrays
        The factors at each record, in the model's order: ``(U,)``, ``(U, V)`` or
        ``(W_1, ..., W_L)``.
    model : Model
        The loss simulated (target, operator, conventions).
    """

    t: FloatArray
    factors: Factors
    model: Model

    #: ``"flow"`` or ``"descent"``.
    dynamics: ClassVar[str]

    def __post_init__(self) -> None:
        _frozen(self.t)
        for f in self.factors:
            _frozen(f)

    def __repr__(self) -> str:
        shapes = ", ".join(
            f"{name} {f.shape}"
            for name, f in zip(self.model.factor_names, self.factors, strict=True)
        )
        return (
            f"{type(self).__name__}(kind={self.kind!r}, T={self.t.size}, {shapes}"
            f"{self._repr_extra()})"
        )

    def _repr_extra(self) -> str:
        return ""

    # ---- factors -------------------------------------------------------------------------
    @property
    def U(self) -> FloatArray:
        """The first factor at each record, ``(T, ...)``: ``U`` (``W_1`` for the deep model)."""
        return self.factors[0]

    @property
    def V(self) -> FloatArray | None:
        """The right factor ``V`` ``(T, n, r)`` of ``U V^T``; ``None`` for other models."""
        names = self.model.factor_names
        return self.factors[names.index("V")] if "V" in names else None

    @property
    def kind(self) -> str:
        """The model: ``"symmetric"``, ``"asymmetric"`` or ``"deep"``."""
        return self.model.kind

    @property
    def depth(self) -> int:
        """Number of factors in the product (2 for ``U U^T`` and ``U V^T``)."""
        return self.model.depth

    @property
    def m(self) -> int:
        """Number of measurements (``n1 n2`` without an operator)."""
        return self.model.m

    # ---- derived quantities ----------------------------------------------------------------
    @cached_property
    def W(self) -> FloatArray:
        """The product ``W(t)`` ``(T, n1, n2)`` (``U U^T`` exactly symmetric, ``U V^T``, ...)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return _frozen(np.asarray(self.model.product(self.factors)))

    @cached_property
    def loss(self) -> FloatArray:
        """The training loss ``(T,)`` (``1/4 ||Y - U U^T||^2``, ``1/2 ||A(W) - y||^2``, ...)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return _frozen(np.asarray(self.model.loss(self.factors), dtype=np.float64))

    @cached_property
    def singular_values(self) -> FloatArray:
        """Singular values of ``W(t)``, descending: ``(T, min(n1, n2))``; NaN where not finite."""
        W = self.W
        out = np.full((W.shape[0], min(W.shape[1:])), np.nan)
        ok = np.all(np.isfinite(W), axis=(1, 2))
        if np.any(ok):
            out[ok] = np.linalg.svd(W[ok], compute_uv=False)
        return _frozen(out)

    @cached_property
    def recovery_error(self) -> FloatArray:
        """``||W(t) - Y||_F / ||Y||_F`` ``(T,)`` (``||W(t)||_F`` if ``Y = 0``)."""
        Y = self.model.Y
        ny = float(np.linalg.norm(Y))
        with np.errstate(over="ignore", invalid="ignore"):
            err = np.linalg.norm(self.W - Y, axis=(-2, -1)) / (ny if ny > 0 else 1.0)
        return _frozen(err)

    @cached_property
    def imbalance(self) -> FloatArray | None:
        """The model's conserved quantity at each record, or ``None`` (symmetric model).

        Asymmetric: ``U^T U - V^T V`` ``(T, r, r)``. Deep: ``W_{j+1}^T W_{j+1} - W_j W_j^T``
        ``(T, L - 1, n, n)``.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            d = self.model.invariant(self.factors)
        return None if d is None else _frozen(np.asarray(d))

    @property
    def relative_imbalance_drift(self) -> float | None:
        """:attr:`imbalance_drift` over the largest Gram scale of the records, or ``None``.

        The scale is ``max_t (max|U^T U| + max|V^T V|)`` (asymmetric), over finite records.
        """
        drift = self.imbalance_drift  # type: ignore[attr-defined]  # each subclass has one
        if drift is None:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            scale = np.asarray(self.model.invariant_scale(self.factors), dtype=np.float64)
        scale = scale[np.isfinite(scale)]
        top = float(np.max(scale)) if scale.size else 0.0
        return drift / top if top > 0 else 0.0

    def transition_times(self, levels: ArrayLike) -> FloatArray:
        """First times the ``i``-th singular value reaches ``levels[i]``: ``(k,)``, NaN if never.

        ``levels`` : ``(k,)`` array, ``k <= min(n1, n2)`` (the top ``k`` singular values are
        used; e.g. half the target's top ``k``). The records are sorted by time first; times in
        between are interpolated linearly (:func:`mfflow.crossing_times`).
        """
        lev = np.atleast_1d(np.asarray(levels, dtype=np.float64))
        sv = self.singular_values
        k = lev.size
        if lev.ndim != 1 or k > sv.shape[1]:
            raise ValueError(f"levels: expected at most {sv.shape[1]} levels, got {lev.shape}")
        order = np.argsort(self.t, kind="stable")
        return crossing_times(self.t[order], sv[order, :k], lev)


@dataclass(frozen=True, eq=False, repr=False)
class FlowResult(SimulationResult):
    """Gradient flow at the requested times, from :func:`mfflow.simulate_gf` and the other flows.

    Attributes
    ----------
    t : (T,) array
        The requested times, in the order given (``T = 1`` for a scalar time).
    factors : tuple of (T, ...) arrays
        ``(U,)``, ``(U, V)`` or ``(W_1, ..., W_L)`` at each time; ``U[0]`` is
        ``sqrt(alpha) U0`` when ``t[0] = 0``.
    model : Model
    method : str
        The ``solve_ivp`` method used.
    rtol, atol : float
        The tolerances used (``atol`` after its default was resolved).
    nfev : int
        Right-hand-side evaluations by the solver.

    Derived, read-only: ``U``, ``V``, ``W``, ``loss``, ``singular_values``, ``recovery_error``,
    ``imbalance``, ``imbalance_drift``, ``relative_imbalance_drift``, ``transition_times(levels)``
    (see :class:`SimulationResult`); ``eta`` and ``steps`` are ``None``.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> res = mfflow.simulate_gf(np.diag([2.0, 1.0]), np.eye(2), 1e-4, np.linspace(0, 20, 201))
    >>> res.W.shape, res.singular_values[-1].round(6), res.method
    ((201, 2, 2), array([2., 1.]), 'DOP853')
    >>> res.transition_times([1.0, 0.5]).round(2)  # logistic: log(sigma/alpha - 1)/(2 sigma)
    array([2.48, 4.61])
    """

    method: str
    rtol: float
    atol: float
    nfev: int

    dynamics: ClassVar[str] = "flow"

    @property
    def imbalance_drift(self) -> float | None:
        """``max_t max|D(t) - D(t_0)|`` over the records (``t_0`` the earliest), or ``None``.

        The flow conserves ``D`` (:attr:`imbalance`): the drift measures the solver's error.
        """
        d = self.imbalance
        if d is None:
            return None
        d0 = d[int(np.argmin(self.t))]
        return float(np.max(np.abs(d - d0[None])))

    @property
    def eta(self) -> None:
        """``None``: a flow has no step size."""
        return None

    @property
    def steps(self) -> None:
        """``None``: a flow has no iteration indices."""
        return None

    def _repr_extra(self) -> str:
        return f", method={self.method!r}, rtol={self.rtol:g}, nfev={self.nfev}"


@dataclass(frozen=True, eq=False, repr=False)
class DescentResult(SimulationResult):
    """Gradient-descent iterates, from :func:`mfflow.simulate_gd` and the other descents.

    Attributes
    ----------
    steps : (T,) int array
        Iteration indices ``k`` recorded, in the order requested (iterate 0 is the init).
    t : (T,) array
        ``steps * eta``: the flow time each iterate is compared with. When called with ``t=``,
        this is the requested time rounded to the step grid: the times actually recorded.
    factors : tuple of (T, ...) arrays
        The iterates; records at ``k >= diverged_at`` were never reached and are NaN.
    model : Model
    eta : float
        Step size.
    diverged : bool
        Whether the iterates blew up by the last requested step (they were not followed
        further).
    diverged_at : int or None
        The first ``k`` whose iterate had a non-finite entry or one above ``blowup`` in absolute
        value; ``None`` if none did.
    imbalance_drift : float or None
        ``max_k max|D_k - D_0|`` of the model's conserved quantity ``D`` over the iterates
        checked (every 64 steps and every record, before divergence); ``None`` for models
        without one. A descent step changes ``D`` by ``O(eta^2)``.

    Derived, read-only, as for :class:`FlowResult`; ``method`` is ``"descent"``.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> res = mfflow.simulate_gd(np.diag([2.0, 1.0]), np.eye(2), 1e-4, 2.0, steps=[0, 2, 100])
    >>> res.diverged, res.diverged_at, res.loss.round(3)  # step 100 never reached: NaN
    (True, 9, array([1.25 , 1.185,   nan]))
    """

    steps: NDArray[np.int64]
    eta: float
    diverged: bool
    diverged_at: int | None
    imbalance_drift: float | None

    dynamics: ClassVar[str] = "descent"

    def __post_init__(self) -> None:
        super().__post_init__()
        _frozen(self.steps)

    @property
    def method(self) -> str:
        """``"descent"``."""
        return "descent"

    def _repr_extra(self) -> str:
        div = f", diverged_at={self.diverged_at}" if self.diverged else ""
        return f", eta={self.eta:g}{div}"
