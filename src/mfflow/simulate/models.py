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
        & -\nabla_{W_j} L &= (W_L \cdots W_{j+1})^T R (W_{j-1} \cdots W_1)^T, \\
    \text{network:}\quad & L = \tfrac1{2P} \|Y - W_2 W_1 X\|_F^2,
        & -\nabla_{(W_1, W_2)} L &= (W_2^T G, G W_1^T),
        \; G = \Sigma_{yx} - W_2 W_1 \Sigma_{xx}.

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
    as_dataset,
    as_depth,
    as_factor_stack,
    as_init,
    as_matrix,
    as_operator,
    as_pair,
    as_real,
    as_square,
    as_symmetric,
    as_weight_decay,
    check_magnitude,
)

if TYPE_CHECKING:
    from ..sensing import MeasurementOperator

__all__ = [
    "AsymmetricModel",
    "DeepModel",
    "Factors",
    "LinearNetworkModel",
    "Model",
    "SymmetricModel",
    "WeightDecay",
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


class LinearNetworkModel(Model):
    r"""A two-layer linear network on data: ``1/(2P) ||Y - W2 W1 X||_F^2``, any inputs.

    .. math::

        \dot W_1 = W_2^T G, \qquad \dot W_2 = G W_1^T, \qquad
        G = \Sigma_{yx} - W_2 W_1 \Sigma_{xx}, \quad
        \Sigma_{xx} = X X^T / P, \;\; \Sigma_{yx} = Y X^T / P.

    With whitened inputs (``Sigma_xx = I``) this is the asymmetric flow of
    ``1/2 ||Sigma_yx - U V^T||_F^2`` with ``U = W2``, ``V = W1^T`` (plus the constant
    ``1/(2P) ||Y||^2 - 1/2 ||Sigma_yx||^2``), the exact flow of :func:`mfflow.linear_network`
    for lambda-balanced inits; here any ``X`` and any init are simulated.

    Parameters
    ----------
    X : (d_in, P) array
        Inputs, one column per example.
    Y : (d_out, P) array
        Targets, one column per example.

    Attributes
    ----------
    X, data : (d_in, P), (d_out, P) arrays
        The data (``data`` is the caller's ``Y``).
    Sxx, Syx : (d_in, d_in), (d_out, d_in) arrays
        ``X X^T / P`` and ``Y X^T / P``.
    Y : (d_out, d_in) array
        The map the product should recover: the minimum-norm least-squares solution
        ``Sigma_yx Sigma_xx^+`` (``Sigma_yx`` for whitened inputs), used by
        ``recovery_error``.

    Notes
    -----
    The state is ``(W1, W2)`` (``W1`` ``(h, d_in)`` applied first, ``W2`` ``(d_out, h)``), started
    at ``alpha^{1/2}`` times the given weights (``alpha = 1``: the weights as given). The flow
    conserves the imbalance ``W2^T W2 - W1 W1^T`` ``(h, h)`` (:meth:`invariant`) for any ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X, Y = np.array([[1.0, -1.0]]), np.array([[3.0, -1.0]])  # P = 2, X X^T / P = 1
    >>> model = LinearNetworkModel(X, Y)
    >>> W1, W2 = model.as_init([[1.0]], [[1.0]])
    >>> model.Syx, [g.tolist() for g in model.neg_grad((W1, W2))]  # G = 2 - 1
    (array([[2.]]), [[[1.0]], [[1.0]]])
    >>> float(model.loss((W1, W2)))  # 1/(2P) ||Y - W2 W1 X||^2 = ((3 - 1)^2 + 0) / 4
    1.0
    """

    kind = "linear_network"
    factor_names = ("W1", "W2")

    def __init__(self, X: ArrayLike, Y: ArrayLike) -> None:
        x, y = as_dataset(X, Y)
        self.X = np.array(x)
        self.data = np.array(y)
        P = x.shape[1]
        self.Sxx = x @ x.T / P
        self.Syx = y @ x.T / P
        self.Y = self.Syx @ np.linalg.pinv(self.Sxx, hermitian=True)
        self.operator = None
        self.y = None

    def __repr__(self) -> str:
        return f"LinearNetworkModel(X shape {self.X.shape}, Y shape {self.data.shape})"

    def as_init(self, *shapes: ArrayLike) -> Factors:
        W1, W2 = shapes
        d_in, d_out = self.X.shape[0], self.data.shape[0]
        w1 = as_matrix(W1, "W1")
        if w1.shape[1] != d_in:
            raise ValueError(
                f"W1: expected shape (h, d_in) with d_in = {d_in} columns to match X, "
                f"got {w1.shape}"
            )
        w2 = as_matrix(W2, "W2")
        if w2.shape != (d_out, w1.shape[0]):
            raise ValueError(
                f"W2: expected shape (d_out, h) = ({d_out}, {w1.shape[0]}) to match Y and W1, "
                f"got {w2.shape}"
            )
        return w1, w2

    def neg_grad(self, factors: Factors) -> Factors:
        W1, W2 = factors
        G = self.Syx - (W2 @ W1) @ self.Sxx
        return W2.T @ G, G @ W1.T

    def product(self, factors: Factors) -> FloatArray:
        W1, W2 = factors
        return W2 @ W1

    def loss(self, factors: Factors) -> FloatArray:
        """``1/(2P) ||Y - W2 W1 X||_F^2`` from the residuals, stacked factors: ``(...)``."""
        res = self.data - self.product(factors) @ self.X
        return 0.5 * np.sum(res**2, axis=(-2, -1)) / self.X.shape[1]

    def invariant(self, factors: Factors) -> FloatArray:
        """The imbalance ``W2^T W2 - W1 W1^T`` ``(..., h, h)``."""
        W1, W2 = factors
        return imbalance(W2, _swap(W1))

    def invariant_scale(self, factors: Factors) -> FloatArray:
        """``max|W2^T W2| + max|W1 W1^T|`` ``(...)``."""
        W1, W2 = factors
        g2 = np.max(np.abs(_swap(W2) @ W2), axis=(-2, -1))
        g1 = np.max(np.abs(W1 @ _swap(W1)), axis=(-2, -1))
        return g1 + g2


class WeightDecay(Model):
    r"""Any model's loss plus weight decay on every factor: ``L + gamma/2 sum_j ||F_j||_F^2``.

    .. math::

        -\nabla_{F_j}\Big(L + \frac{\gamma}{2}\sum_k \|F_k\|_F^2\Big)
            = -\nabla_{F_j} L - \gamma F_j .

    For the symmetric model the flow is ``U' = ((Y - gamma I) - U U^T) U``, the plain flow with
    target ``Y - gamma I`` (exact: :func:`mfflow.closed_form` with ``weight_decay=``). For
    ``U V^T`` (and the deep model) the imbalance ``D = U^T U - V^T V`` is no longer conserved:
    both Gram matrices get ``-2 gamma`` times themselves, so ``D(t) = e^{-2 gamma t} D(0)``
    exactly; a balanced init stays balanced (then the flow is the symmetrized one with target
    ``Ybar - gamma I``), any other is simulated (docs/math.md §10). :meth:`invariant` is therefore
    ``None``; :func:`imbalance` of the recorded factors shows the decay.

    Parameters
    ----------
    base : Model
        The loss without weight decay (any model: symmetric, asymmetric, deep, with or without
        an operator, or a new subclass).
    weight_decay : float
        ``gamma >= 0``.

    Examples
    --------
    >>> import numpy as np
    >>> model = WeightDecay(SymmetricModel(np.diag([2.0, 1.0])), 0.5)
    >>> (U,) = model.as_init(np.eye(2))
    >>> model.neg_grad((U,))[0]  # ((Y - 0.5 I) - U U^T) U
    array([[ 0.5,  0. ],
           [ 0. , -0.5]])
    >>> float(model.loss((U,)))  # 1/4 ||Y - U U^T||^2 + 0.25 ||U||^2
    0.75
    """

    def __init__(self, base: Model, weight_decay: float) -> None:
        if not isinstance(base, Model):
            raise TypeError(f"base: expected a Model, got {type(base).__name__}")
        self.base = base
        self.weight_decay = as_weight_decay(weight_decay)
        self.Y = base.Y
        self.operator = base.operator
        self.y = base.y
        self.factor_names = base.factor_names
        self.depth = base.depth

    @property  # type: ignore[misc]
    def kind(self) -> str:  # type: ignore[override]
        """The base model's kind (``"symmetric"``, ``"asymmetric"``, ``"deep"``, ...)."""
        return self.base.kind

    def __repr__(self) -> str:
        return f"WeightDecay({self.base!r}, weight_decay={self.weight_decay:g})"

    def as_target(self, Y: ArrayLike) -> FloatArray:
        return self.base.as_target(Y)

    def as_init(self, *shapes: ArrayLike) -> Factors:
        return self.base.as_init(*shapes)

    def neg_grad(self, factors: Factors) -> Factors:
        g = self.weight_decay
        return tuple(d - g * f for d, f in zip(self.base.neg_grad(factors), factors, strict=True))

    def product(self, factors: Factors) -> FloatArray:
        return self.base.product(factors)

    def init_scale(self, alpha: float) -> float:
        return self.base.init_scale(alpha)

    def start(self, init: Factors, alpha: float) -> Factors:
        return self.base.start(init, alpha)

    def residual(self, W: FloatArray) -> FloatArray:
        return self.base.residual(W)

    def loss(self, factors: Factors) -> FloatArray:
        """The base loss plus ``gamma/2 sum_j ||F_j||_F^2``, stacked factors: ``(...)``."""
        decay = sum(np.sum(f * f, axis=(-2, -1)) for f in factors)
        return self.base.loss(factors) + 0.5 * self.weight_decay * decay

    @property
    def has_jacobian(self) -> bool:
        return self.base.has_jacobian

    def jacobian(self, factors: Factors) -> FloatArray:
        jac = self.base.jacobian(factors)
        return jac - self.weight_decay * np.eye(jac.shape[0])

    def stepper(self, state: Factors, eta: float) -> Callable[[], None]:
        """The base's (in-place) step, then ``- eta gamma F_j`` at the pre-step iterate."""
        base_step = self.base.stepper(state, eta)
        old = tuple(np.empty_like(f) for f in state)
        c = eta * self.weight_decay

        def step() -> None:
            for o, f in zip(old, state, strict=True):
                np.multiply(f, c, out=o)
            base_step()
            for o, f in zip(old, state, strict=True):
                np.subtract(f, o, out=f)

        return step
