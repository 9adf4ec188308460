r"""Factorization models: state layout, loss, negative gradient, product and scale convention.

A model is what the one ODE driver (:mod:`.ode`) and the one gradient-descent loop
(:mod:`.descent`) need to know about a loss ``L`` of factors ``(F_1, ..., F_k)``:

* its **state layout**: the factors, ``(U,)``, ``(U, V)`` or ``(W_1, ..., W_L)``, checked by
  :meth:`Model.as_init`;
* its **negative gradient** ``-dL/dF_j`` (:meth:`Model.neg_grad`): the flow is
  ``dF_j/dt = -dL/dF_j``, a descent step is ``F_j <- F_j - eta dL/dF_j``, all ``j`` at once;
* its **product** ``W`` (:meth:`Model.product`) and **loss** (:meth:`Model.loss`);
* its **scale convention**: every factor starts at ``alpha^{1/depth}`` times its shape, so the
  product starts at ``alpha`` times the product of the shapes (``U(0) = sqrt(alpha) U0``);
* optionally a quantity the flow conserves (:meth:`Model.invariant`), a Jacobian for implicit
  ODE methods and a faster in-place descent step.

The models, with ``R = Y - W``, or ``R = A*(y - A(W))`` through a measurement operator ``A``
(:mod:`mfflow.sensing`, ``y = A(Y)``):

.. math::

    \text{symmetric:}\quad & L = \tfrac14 \|Y - U U^T\|_F^2 \;(\tfrac14 \|A(U U^T) - y\|^2),
        & -\nabla_U L &= \mathrm{sym}(R) U, \\
    \text{asymmetric:}\quad & L = \tfrac12 \|Y - U V^T\|_F^2 \;(\tfrac12 \|A(U V^T) - y\|^2),
        & -\nabla_{(U, V)} L &= (R V, R^T U), \\
    \text{deep:}\quad & L = \tfrac12 \|Y - W_L \cdots W_1\|_F^2 \;(\tfrac12 \|A(W) - y\|^2),
        & -\nabla_{W_j} L &= (W_L \cdots W_{j+1})^T R (W_{j-1} \cdots W_1)^T.

The factor ``1/4`` of the symmetric loss is the paper's: it makes the flow ``U' = (Y - U U^T) U``.
A new model (weight decay, a two-layer linear network on data ``X``, ...) is one subclass of
:class:`Model`: ``as_init``, ``neg_grad``, ``product`` and, if its loss is not
``loss_factor * ||residual||^2``, ``loss``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from itertools import pairwise
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..validation import (
    as_depth,
    as_factor_stack,
    as_init,
    as_matrix,
    as_operator,
    as_pair,
    as_real,
    as_square,
    as_symmetric,
    check_magnitude,
)

if TYPE_CHECKING:
    from ..sensing import MeasurementOperator

__all__ = [
    "AsymmetricModel",
    "DeepModel",
    "Factors",
    "Model",
    "SymmetricModel",
    "flow_jacobian",
    "flow_rhs",
    "imbalance",
]

FloatArray = NDArray[np.float64]
#: The state of a model: its factors, in the model's order (e.g. ``(U, V)``).
Factors = tuple[FloatArray, ...]


def _swap(x: FloatArray) -> FloatArray:
    return np.swapaxes(x, -1, -2)


def _gram_first(r: int, n: int) -> bool:
    """Whether ``U (U^T U)`` (``r x r`` Gram matrix) is cheaper than ``(U U^T) U``."""
    return r <= n


def flow_rhs(Y: FloatArray, U: FloatArray) -> FloatArray:
    """The symmetric flow's velocity ``(Y - U U^T) U``, ``(n, r)``, in ``O(n^2 r + n r^2)``.

    Parameters
    ----------
    Y : (n, n) array
    U : (n, r) array

    Returns
    -------
    (n, r) array

    Examples
    --------
    >>> import numpy as np
    >>> flow_rhs(np.eye(2), np.eye(2) / 2)
    array([[0.375, 0.   ],
           [0.   , 0.375]])
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

    Examples
    --------
    >>> import numpy as np
    >>> flow_jacobian(np.eye(1), np.ones((1, 1)))  # d/du (1 - u^2) u = 1 - 3 u^2
    array([[-2.]])
    """
    n, r = U.shape
    jac = np.kron(Y - U @ U.T, np.eye(r)) - np.kron(np.eye(n), U.T @ U)
    jac -= np.einsum("ib,ja->iajb", U, U).reshape(n * r, n * r)
    return jac


def imbalance(U: ArrayLike, V: ArrayLike) -> FloatArray:
    """``U^T U - V^T V``: ``(r, r)``, or ``(T, r, r)`` for stacks ``(T, m, r)``, ``(T, n, r)``.

    Conserved by the flow of any loss of ``U V^T`` (both Gram matrices have the derivative
    ``U^T G V + V^T G^T U``); a gradient-descent step changes it by ``O(eta^2)``.

    Examples
    --------
    >>> import numpy as np
    >>> imbalance(np.eye(2), np.eye(2) / 2)
    array([[0.75, 0.  ],
           [0.  , 0.75]])
    """
    u = as_real(U, "U")
    v = as_real(V, "V")
    if u.ndim < 2 or not np.all(np.isfinite(u)):
        raise ValueError(f"U: expected finite entries, shape (m, r) or (T, m, r), got {u.shape}")
    check_magnitude(u, "U")
    if v.ndim != u.ndim or v.shape[:-2] != u.shape[:-2] or v.shape[-1] != u.shape[-1]:
        raise ValueError(
            f"V: expected shape (..., n, r) with the leading axes and r of U {u.shape}, "
            f"got {v.shape}"
        )
    if not np.all(np.isfinite(v)):
        raise ValueError("V: expected finite entries")
    check_magnitude(v, "V")
    return _gram_difference(u, v)


def _gram_difference(u: FloatArray, v: FloatArray) -> FloatArray:
    """``U^T U - V^T V`` symmetrized, unchecked (stacks of records may hold NaN)."""
    with np.errstate(over="ignore", invalid="ignore"):
        d = _swap(u) @ u - _swap(v) @ v
        return 0.5 * (d + _swap(d))


class Model(ABC):
    """A loss of factors: what the ODE driver and the descent loop need (module docstring).

    Parameters
    ----------
    Y : (n1, n2) array
        The target the product should recover (checked by :meth:`as_target`).
    operator : MeasurementOperator, optional
        Given, the loss is on the measurements ``A(W) - A(Y)`` instead of on ``W - Y``.

    Attributes
    ----------
    Y : (n1, n2) array
    operator : MeasurementOperator or None
    y : (m,) array or None
        The measurements ``A(Y)`` (``None`` without an operator).
    """

    #: ``"symmetric"``, ``"asymmetric"``, ``"deep"``, ...
    kind: ClassVar[str]
    #: The loss is ``loss_factor * ||W - Y||_F^2`` (or ``||A(W) - y||^2``).
    loss_factor: ClassVar[float] = 0.5
    #: Names of the factors, in the state's order (``("U", "V")``, ...).
    factor_names: tuple[str, ...] = ()
    #: Number of factors in the product (``U U^T`` has depth 2 with one factor).
    depth: int = 2

    def __init__(self, Y: ArrayLike, operator: MeasurementOperator | None = None) -> None:
        self.Y = np.array(self.as_target(Y))  # a copy: results read it later
        self.operator = None if operator is None else as_operator(operator, self.Y.shape)
        self.y = None if self.operator is None else self.operator.apply(self.Y)

    def __repr__(self) -> str:
        op = "" if self.operator is None else f", operator={self.operator!r}"
        return f"{type(self).__name__}(Y shape {self.Y.shape}, depth {self.depth}{op})"

    # ---- what a subclass defines -----------------------------------------------------------
    def as_target(self, Y: ArrayLike) -> FloatArray:
        """Check the target; any finite real matrix by default."""
        return as_matrix(Y, "Y")

    @abstractmethod
    def as_init(self, *shapes: ArrayLike) -> Factors:
        """Check the initialization shapes, e.g. ``U0`` or ``(U0, V0)``; return the factors."""

    @abstractmethod
    def neg_grad(self, factors: Factors) -> Factors:
        """``-dL/dF_j`` for every factor, the same shapes as ``factors`` (one time, no stack)."""

    @abstractmethod
    def product(self, factors: Factors) -> FloatArray:
        """The product ``W`` ``(..., n1, n2)`` of factors with any leading (time) axes."""

    # ---- shared conventions ----------------------------------------------------------------
    @property
    def m(self) -> int:
        """Number of measurements: ``operator.m``, or ``n1 n2`` without an operator."""
        return int(self.operator.m) if self.operator is not None else int(self.Y.size)

    def init_scale(self, alpha: float) -> float:
        """The factor multiplier ``alpha^{1/depth}`` (``sqrt(alpha)`` for depth 2)."""
        return math.sqrt(alpha) if self.depth == 2 else alpha ** (1.0 / self.depth)

    def start(self, init: Factors, alpha: float) -> Factors:
        """The initial factors ``alpha^{1/depth} F_j``: fresh arrays (``init`` is not touched)."""
        c = self.init_scale(alpha)
        return tuple(np.array(c * f, dtype=np.float64) for f in init)

    def residual(self, W: FloatArray) -> FloatArray:
        """``R = Y - W``, or ``A*(y - A(W))`` with an operator: ``(n1, n2)`` (or a stack)."""
        if self.operator is None:
            return self.Y - W
        return self.operator.adjoint(self.y - self.operator.apply(W))

    def loss(self, factors: Factors) -> FloatArray:
        """``loss_factor * ||W - Y||_F^2`` (``||A(W) - y||^2``), stacked factors: ``(...)``."""
        W = self.product(factors)
        if self.operator is None:
            return self.loss_factor * np.sum((W - self.Y) ** 2, axis=(-2, -1))
        return self.loss_factor * np.sum((self.operator.apply(W) - self.y) ** 2, axis=-1)

    def invariant(self, factors: Factors) -> FloatArray | None:
        """A quantity the flow conserves (stacked over leading axes), or ``None``."""
        return None

    def invariant_scale(self, factors: Factors) -> FloatArray | None:
        """The size the invariant's drift is measured against, ``(...)``, or ``None``."""
        return None

    @property
    def has_jacobian(self) -> bool:
        """Whether :meth:`jacobian` is available (implicit ODE methods use it)."""
        return False

    def jacobian(self, factors: Factors) -> FloatArray:
        """Jacobian of the velocity ``vec(neg_grad)`` w.r.t. ``vec(factors)``."""
        raise NotImplementedError(f"{type(self).__name__} has no analytic Jacobian")

    def stepper(self, state: Factors, eta: float) -> Callable[[], None]:
        """A function doing one descent step on ``state`` in place (all factors at once)."""

        def step() -> None:
            for x, d in zip(state, self.neg_grad(state), strict=True):
                d *= eta
                x += d

        return step


class SymmetricModel(Model):
    """``1/4 ||Y - U U^T||_F^2`` (``1/4 ||A(U U^T) - y||^2``): the paper's problem.

    ``Y`` ``(n, n)`` symmetric (checked, not symmetrized), ``U`` ``(n, r)``, any ``r >= 1``.

    Examples
    --------
    >>> import numpy as np
    >>> model = SymmetricModel(np.diag([2.0, 1.0]))
    >>> (U,) = model.as_init(np.eye(2))
    >>> model.neg_grad((U,))[0]  # (Y - U U^T) U
    array([[1., 0.],
           [0., 0.]])
    >>> float(model.loss((U,)))  # 1/4 ||Y - U U^T||^2
    0.25
    """

    kind = "symmetric"
    loss_factor = 0.25
    factor_names = ("U",)

    def as_target(self, Y: ArrayLike) -> FloatArray:
        return as_symmetric(Y, "Y")

    def as_init(self, *shapes: ArrayLike) -> Factors:
        (U0,) = shapes
        return (as_init(U0, self.Y.shape[0], "U0"),)

    def neg_grad(self, factors: Factors) -> Factors:
        (U,) = factors
        if self.operator is None:
            return (flow_rhs(self.Y, U),)
        g = self.residual(U @ U.T)
        return (0.5 * (g + g.T) @ U,)

    def product(self, factors: Factors) -> FloatArray:
        U = factors[0]
        w = U @ _swap(U)
        return 0.5 * (w + _swap(w))  # exactly symmetric

    @property
    def _plain(self) -> bool:
        """The plain problem, which the analytic Jacobian and the buffered step implement: no
        operator, and the gradient not overridden by a subclass (weight decay, ...)."""
        return self.operator is None and type(self).neg_grad is SymmetricModel.neg_grad

    @property
    def has_jacobian(self) -> bool:
        return self._plain

    def jacobian(self, factors: Factors) -> FloatArray:
        if not self._plain:
            return super().jacobian(factors)
        return flow_jacobian(self.Y, factors[0])

    def stepper(self, state: Factors, eta: float) -> Callable[[], None]:
        if not self._plain:
            return super().stepper(state, eta)
        (U,) = state
        n, r = U.shape
        ye = eta * self.Y
        inc = np.empty((n, r))
        if _gram_first(r, n):
            gram = np.empty((r, r))
            tmp = np.empty((n, r))

            def step() -> None:
                np.matmul(U.T, U, out=gram)
                np.multiply(gram, -eta, out=gram)
                np.matmul(ye, U, out=inc)
                np.matmul(U, gram, out=tmp)
                np.add(inc, tmp, out=inc)
                np.add(U, inc, out=U)

            return step
        m = np.empty((n, n))

        def step_outer() -> None:
            np.matmul(U, U.T, out=m)
            np.multiply(m, -eta, out=m)
            np.add(m, ye, out=m)
            np.matmul(m, U, out=inc)
            np.add(U, inc, out=U)

        return step_outer


class AsymmetricModel(Model):
    """``1/2 ||Y - U V^T||_F^2`` (``1/2 ||A(U V^T) - y||^2``), any ``Y`` ``(m, n)``.

    ``U`` ``(m, r)``, ``V`` ``(n, r)``. The flow conserves the imbalance ``U^T U - V^T V``
    (:meth:`invariant`, :func:`imbalance`).

    Examples
    --------
    >>> import numpy as np
    >>> model = AsymmetricModel(np.ones((2, 3)))
    >>> U, V = model.as_init(np.ones((2, 1)), np.zeros((3, 1)))
    >>> [g.ravel().tolist() for g in model.neg_grad((U, V))]  # (R V, R^T U), R = Y - U V^T
    [[0.0, 0.0], [2.0, 2.0, 2.0]]
    """

    kind = "asymmetric"
    factor_names = ("U", "V")

    def as_init(self, *shapes: ArrayLike) -> Factors:
        U0, V0 = shapes
        _, u0, v0 = as_pair(self.Y, U0, V0)
        return u0, v0

    def neg_grad(self, factors: Factors) -> Factors:
        U, V = factors
        res = self.residual(U @ V.T)
        return res @ V, res.T @ U

    def product(self, factors: Factors) -> FloatArray:
        U, V = factors
        return U @ _swap(V)

    def invariant(self, factors: Factors) -> FloatArray:
        """The imbalance ``U^T U - V^T V`` ``(..., r, r)``."""
        return _gram_difference(*factors)

    def invariant_scale(self, factors: Factors) -> FloatArray:
        """``max|U^T U| + max|V^T V|`` ``(...)``."""
        U, V = factors
        gu = np.max(np.abs(_swap(U) @ U), axis=(-2, -1))
        gv = np.max(np.abs(_swap(V) @ V), axis=(-2, -1))
        return gu + gv


class DeepModel(Model):
    """``1/2 ||Y - W_L ... W_1||_F^2`` (``1/2 ||A(W) - y||^2``), square factors ``(n, n)``.

    Parameters
    ----------
    Y : (n, n) array
        Square target (any symmetry).
    depth : int
        ``L >= 2`` factors; the state is ``(W_1, ..., W_L)`` (``W_1`` applied first).
    operator : MeasurementOperator, optional

    Notes
    -----
    The flow conserves the *balancedness* ``W_{j+1}^T W_{j+1} - W_j W_j^T``, ``j < L``
    (:meth:`invariant`, ``(..., L - 1, n, n)``; Arora et al., NeurIPS 2019).

    Examples
    --------
    >>> import numpy as np
    >>> model = DeepModel(np.eye(2), depth=3)
    >>> factors = model.as_init(np.stack([np.eye(2)] * 3))
    >>> model.product(factors).tolist(), float(model.loss(factors))
    ([[1.0, 0.0], [0.0, 1.0]], 0.0)
    """

    kind = "deep"

    def __init__(
        self, Y: ArrayLike, depth: int, operator: MeasurementOperator | None = None
    ) -> None:
        self.depth = as_depth(depth, "depth")
        self.factor_names = tuple(f"W_{j}" for j in range(1, self.depth + 1))
        super().__init__(Y, operator)

    def as_target(self, Y: ArrayLike) -> FloatArray:
        return as_square(Y, "Y")

    def as_init(self, *shapes: ArrayLike) -> Factors:
        (factors0,) = shapes
        f0 = as_factor_stack(factors0, self.Y.shape[0], "factors0")
        if f0.shape[0] != self.depth:
            raise ValueError(f"factors0: expected {self.depth} factors (depth), got {f0.shape[0]}")
        return tuple(f0[j] for j in range(self.depth))

    def product(self, factors: Factors) -> FloatArray:
        W = factors[0]
        for F in factors[1:]:
            W = F @ W
        return W

    def neg_grad(self, factors: Factors) -> Factors:
        n = self.Y.shape[0]
        pre = [np.eye(n)]  # pre[j] = W_j ... W_1
        for F in factors:
            pre.append(F @ pre[-1])
        R = self.residual(pre[-1])
        out: list[FloatArray] = [np.empty(0)] * len(factors)
        suf = np.eye(n)  # W_L ... W_{j+2}
        for j in range(len(factors) - 1, -1, -1):
            out[j] = suf.T @ R @ pre[j].T
            suf = suf @ factors[j]
        return tuple(out)

    def invariant(self, factors: Factors) -> FloatArray:
        """``W_{j+1}^T W_{j+1} - W_j W_j^T`` for ``j = 1..L-1``: ``(..., L - 1, n, n)``."""
        d = [_swap(b) @ b - a @ _swap(a) for a, b in pairwise(factors)]
        return np.stack(d, axis=-3)

    def invariant_scale(self, factors: Factors) -> FloatArray:
        """``max_j (max|W_{j+1}^T W_{j+1}| + max|W_j W_j^T|)`` ``(...)``."""
        s = [
            np.max(np.abs(_swap(b) @ b), axis=(-2, -1))
            + np.max(np.abs(a @ _swap(a)), axis=(-2, -1))
            for a, b in pairwise(factors)
        ]
        return np.max(np.stack(s), axis=0)
