r"""The exact training trajectory of a two-layer linear network: :func:`linear_network`.

Gradient flow on ``L = 1/(2P) ||Y - W2 W1 X||_F^2`` with whitened inputs (``X X^T / P = I``)
is, with ``Sigma_yx = Y X^T / P``, ``U = W2`` and ``V = W1^T``,

.. math::

    \dot W_2 = (\Sigma_{yx} - W_2 W_1) W_1^T, \quad \dot W_1 = W_2^T (\Sigma_{yx} - W_2 W_1)
    \iff \dot U = (\Sigma_{yx} - UV^T) V, \quad \dot V = (\Sigma_{yx} - UV^T)^T U,

the asymmetric flow of :func:`mfflow.closed_form_asymmetric` with target ``Sigma_yx`` (any
shape and rank) in the same time units, and ``L = 1/2 ||Sigma_yx - W||^2 + c`` with the
irreducible ``c = 1/(2P) ||Y||^2 - 1/2 ||Sigma_yx||^2`` (:mod:`.data`). The imbalance
``W2^T W2 - W1 W1^T = U^T U - V^T V`` is conserved; when it is ``lambda I_h`` the symmetrized
problem is a Riccati equation and the whole trajectory is exact (docs/math.md §5): the product,
both Grams ``W1^T W1 = V V^T``, ``W2 W2^T = U U^T``, hence the NTK and the hidden
representation, at any time, including ``t = inf`` (:meth:`mfflow.Trajectory.limit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..asymmetric import LAMBDA_RTOL, AsymmetricTrajectory, closed_form_asymmetric
from ..backend import ABSTRACT, Backend, backend_of, needs_grad, to_host, to_numpy
from ..validation import as_relative_tolerance
from .data import WHITENING_TOL, as_dataset, as_whitened
from .inits import as_weights, network_lambda
from .kernels import (
    hidden_similarity,
    kernel_cosine_distance,
    ntk_from_grams,
    task_alignment,
)

__all__ = ["NetworkTrajectory", "linear_network"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class NetworkTrajectory:
    r"""The exact gradient-flow trajectory of ``x -> W2 W1 x`` on whitened data, lazily.

    Built by :func:`linear_network`. Every method takes ``t``: a scalar (the time axis is then
    dropped) or ``T`` times ``>= 0``; ``t = inf`` (alone or among others) is the limit, computed
    exactly. Arrays come back in the library of ``X``/``Y`` (NumPy, torch or JAX).

    Attributes
    ----------
    flow : AsymmetricTrajectory
        The asymmetric flow ``U = W2``, ``V = W1^T`` with target ``Sigma_yx`` it evaluates.
    X : (d_in, P) array
    Y : (d_out, P) array
    Sigma_yx : (d_out, d_in) array
        ``Y X^T / P``: what the product learns (its best rank-``h`` approximation if ``h`` is
        smaller than its rank).
    lam : float
        The ``lambda`` found in the init: ``W2^T W2 - W1 W1^T = lambda I_h``, conserved.
    irreducible : float
        ``c = 1/(2P) ||Y - Sigma_yx X||^2 = 1/(2P) ||Y||^2 - 1/2 ||Sigma_yx||^2``: the loss no
        linear map goes below (computed from the residual, without cancellation).
    W1_0, W2_0 : (h, d_in), (d_out, h) arrays
        The initial weights (kernel distances are measured against their NTK).
    """

    flow: AsymmetricTrajectory
    X: Any = field(repr=False)
    Y: Any = field(repr=False)
    Sigma_yx: Any = field(repr=False)
    lam: float
    irreducible: Any
    W1_0: FloatArray = field(repr=False)
    W2_0: FloatArray = field(repr=False)

    # ---- shapes ---------------------------------------------------------------------------
    @property
    def d_in(self) -> int:
        """Input width."""
        return int(self.W1_0.shape[1])

    @property
    def h(self) -> int:
        """Hidden width."""
        return int(self.W1_0.shape[0])

    @property
    def d_out(self) -> int:
        """Output width."""
        return int(self.W2_0.shape[0])

    @property
    def P(self) -> int:
        """Number of training examples."""
        return int(self.X.shape[1])

    @property
    def _b(self) -> Backend:
        return self.flow.symmetric.backend_info

    @property
    def _xp(self) -> Any:
        return self._b.xp

    def describe(self) -> str:
        """One line: the network, the lambda found and how the flow is evaluated."""
        return (
            f"two-layer linear network {self.d_in} -> {self.h} -> {self.d_out} on P = {self.P} "
            f"whitened examples, lambda-balanced (lambda = {self.lam:.6g}): "
            f"{self.flow.describe()}"
        )

    # ---- the state at given times -----------------------------------------------------------
    @cached_property
    def _limit(self) -> tuple[Any, Any, Any]:
        """``(W, G_in, G_out)`` at ``t = inf`` from the symmetric trajectory's exact limit."""
        w = self.flow.symmetric.limit()
        m = self.d_out
        return 2.0 * w[:m, m:], 2.0 * w[m:, m:], 2.0 * w[:m, :m]

    def _state(self, t: Any) -> tuple[Any, Any, Any, bool]:
        """``(W (T, d_out, d_in), G_in (T, d_in, d_in), G_out (T, d_out, d_out), scalar)``."""
        xp = self._xp
        host = ABSTRACT if needs_grad(t) else to_host(t)
        if host is ABSTRACT:  # a time carrying a gradient (or abstract): finite, straight through
            fu, fv = self.flow.factors(t)
            scalar = getattr(t, "ndim", 0) == 0
            if scalar:
                fu, fv = fu[None], fv[None]
            return (*_products(xp, fu, fv), scalar)
        arr = np.asarray(host, dtype=np.float64)
        if arr.ndim > 1:
            raise ValueError(f"t: expected a scalar or a 1-D array of times, got shape {arr.shape}")
        scalar = arr.ndim == 0
        arr = np.atleast_1d(arr)
        if np.any(np.isnan(arr)) or np.any(arr < 0):
            raise ValueError(f"t: expected times >= 0 (inf for the limit), got {arr[:5]}")
        inf = np.isinf(arr)
        parts = []
        if arr.size == 0 or not np.all(inf):
            fu, fv = self.flow.factors(arr[~inf])
            parts = list(_products(xp, fu, fv))
        if not np.any(inf):
            return (*parts, scalar)
        lim = [x[None] for x in self._limit]
        if not parts:
            return (*(xp.concat([x] * arr.size, axis=0) for x in lim), scalar)
        idx = np.cumsum(~inf) - 1
        idx[inf] = int(np.count_nonzero(~inf))
        take = self._b.index(idx)
        merged = [
            xp.take(xp.concat([p, q], axis=0), take, axis=0)
            for p, q in zip(parts, lim, strict=True)
        ]
        return (*merged, scalar)

    def _out(self, x: Any, scalar: bool) -> Any:
        if not scalar:
            return x
        x = x[0, ...]
        if self._b.name == "numpy" and getattr(x, "ndim", 1) == 0:
            return float(x)
        return x

    def _inputs(self, X: Any) -> Any:
        if X is None:
            return self.X
        b = self._b
        x = b.asarray(X) if needs_grad(X) else b.asarray(np.asarray(to_numpy(X), dtype=float))
        if x.ndim != 2 or x.shape[0] != self.d_in:
            raise ValueError(
                f"X: expected inputs of shape (d_in, P') = ({self.d_in}, P'), got {tuple(x.shape)}"
            )
        return x

    # ---- outputs ----------------------------------------------------------------------------
    def state(self, t: ArrayLike) -> tuple[Any, Any, Any]:
        """``(W(t), gram_in(t), gram_out(t))`` from one evaluation (shapes as below).

        Everything else (NTK, kernel distance, alignment, hidden similarity) is a function of
        these three.
        """
        w, gi, go, scalar = self._state(t)
        return self._out(w, scalar), self._out(gi, scalar), self._out(go, scalar)

    def W(self, t: ArrayLike) -> Any:
        """The network map ``W2 W1``: ``(d_out, d_in)`` or ``(T, d_out, d_in)``."""
        w, _, _, scalar = self._state(t)
        return self._out(w, scalar)

    def gram_in(self, t: ArrayLike) -> Any:
        """``W1^T W1``: ``(d_in, d_in)`` or ``(T, d_in, d_in)``."""
        _, gi, _, scalar = self._state(t)
        return self._out(gi, scalar)

    def gram_out(self, t: ArrayLike) -> Any:
        """``W2 W2^T``: ``(d_out, d_out)`` or ``(T, d_out, d_out)``."""
        _, _, go, scalar = self._state(t)
        return self._out(go, scalar)

    def weights(self, t: ArrayLike) -> tuple[Any, Any]:
        """``(W1(t), W2(t))`` up to one orthogonal change of basis of the hidden layer.

        ``(k, d_in)`` and ``(d_out, k)`` (``k = min(h, d_in + d_out)``, time axis first for
        several times): ``O^T W1``, ``W2 O`` for an orthogonal ``O``, so the product, both Grams,
        the NTK, the imbalance and the flow from there on are those of the network. Finite
        times only.
        """
        host = ABSTRACT if needs_grad(t) else to_host(t)
        if host is not ABSTRACT and np.any(np.isinf(np.asarray(host))):
            raise ValueError("t: weights(t) needs finite times (the limit has no factor here)")
        fu, fv = self.flow.factors(t)
        return self._xp.matrix_transpose(fv), fu

    def predict(self, t: ArrayLike, X_new: ArrayLike) -> Any:
        """Outputs ``W2 W1 X_new``: ``(d_out, P')`` or ``(T, d_out, P')``.

        ``X_new`` : ``(d_in, P')`` array, any inputs (not necessarily whitened).
        """
        x = self._inputs(X_new)
        w, _, _, scalar = self._state(t)
        return self._out(w @ x, scalar)

    def loss(self, t: ArrayLike) -> Any:
        """The training loss ``1/(2P) ||Y - W2 W1 X||_F^2``: float or ``(T,)``.

        Evaluated as ``1/2 ||Sigma_yx - W||_F^2 + irreducible`` (exact for whitened inputs).
        """
        xp = self._xp
        w, _, _, scalar = self._state(t)
        val = 0.5 * xp.sum((self.Sigma_yx - w) ** 2, axis=(-2, -1)) + self.irreducible
        return self._out(val, scalar)

    def singular_values(self, t: ArrayLike) -> Any:
        """Singular values of ``W2 W1``, descending: ``(min(d_in, d_out),)`` or ``(T, ...)``.

        Absolute accuracy ``~1e-16 ||Sigma_yx||`` (from the product).
        """
        w, _, _, scalar = self._state(t)
        return self._out(self._xp.linalg.svdvals(w), scalar)

    def ntk(self, t: ArrayLike, X: ArrayLike | None = None) -> Any:
        """The neural tangent kernel on inputs ``X`` (the training inputs by default).

        ``K = (X^T W1^T W1 X) kron I_{d_out} + (X^T X) kron (W2 W2^T)``, over all the weights,
        row index ``p * d_out + o`` (:mod:`mfflow.linear_networks.kernels`; the ``1/P`` of the
        loss is not in it): ``(P d_out, P d_out)`` or ``(T, P d_out, P d_out)``.
        """
        x = self._inputs(X)
        _, gi, go, scalar = self._state(t)
        return self._out(ntk_from_grams(self._xp, gi, go, x), scalar)

    def kernel_distance(self, t: ArrayLike, X: ArrayLike | None = None) -> Any:
        """``1 - <K(0), K(t)>_F / (||K(0)|| ||K(t)||)`` on inputs ``X`` (training by default).

        Fort et al. (2020)'s kernel distance to the initial NTK, in ``[0, 1]``: ~0 in the lazy
        regime, large when the kernel learns (rich). Float or ``(T,)``; computed from the
        Grams (no ``(P d_out)^2`` matrix is formed).
        """
        xp = self._xp
        x = self._inputs(X)
        _, gi, go, scalar = self._state(t)
        M = x @ xp.matrix_transpose(x)
        val = kernel_cosine_distance(xp, self._init_grams, (gi, go), M)
        return self._out(val, scalar)

    def task_alignment(self, t: ArrayLike) -> Any:
        """Alignment of the NTK with the task, ``y^T K y / (||K||_F ||y||^2)``, ``y = vec(Y)``.

        On the training data (Cristianini et al. 2001's kernel-target alignment): float or
        ``(T,)``.
        """
        xp = self._xp
        _, gi, go, scalar = self._state(t)
        M = self.X @ xp.matrix_transpose(self.X)
        N = self.Y @ xp.matrix_transpose(self.X)
        y2 = xp.sum(self.Y**2)
        return self._out(task_alignment(xp, (gi, go), N, M, y2), scalar)

    def hidden_similarity(self, t: ArrayLike, X: ArrayLike | None = None) -> Any:
        """Representational similarity of the hidden layer, ``X^T W1^T W1 X``.

        ``(P, P)`` or ``(T, P, P)`` on inputs ``X`` (training by default).
        """
        x = self._inputs(X)
        _, gi, _, scalar = self._state(t)
        return self._out(hidden_similarity(self._xp, gi, x), scalar)

    @cached_property
    def _init_grams(self) -> tuple[Any, Any]:
        b = self._b
        return b.asarray(self.W1_0.T @ self.W1_0), b.asarray(self.W2_0 @ self.W2_0.T)


def _products(xp: Any, fu: Any, fv: Any) -> tuple[Any, Any, Any]:
    """``(U V^T, V V^T, U U^T)`` of factor stacks ``(T, m, k)``, ``(T, n, k)``."""
    return (
        fu @ xp.matrix_transpose(fv),
        fv @ xp.matrix_transpose(fv),
        fu @ xp.matrix_transpose(fu),
    )


def linear_network(
    X: ArrayLike,
    Y: ArrayLike,
    W1: ArrayLike,
    W2: ArrayLike,
    *,
    rtol: float = LAMBDA_RTOL,
    whitening_tol: float = WHITENING_TOL,
) -> NetworkTrajectory:
    r"""Exact gradient-flow training of ``x -> W2 W1 x`` on ``L = 1/(2P) ||Y - W2 W1 X||_F^2``.

    .. math::

        \dot W_1 = W_2^T (\Sigma_{yx} - W_2 W_1), \qquad
        \dot W_2 = (\Sigma_{yx} - W_2 W_1) W_1^T, \qquad \Sigma_{yx} = Y X^T / P,

    from ``(W1, W2)`` as given (no extra scale), exact when the inputs are whitened
    (``X X^T / P = I``) and the init is lambda-balanced (``W2^T W2 - W1 W1^T = lambda I_h``):
    it is then :func:`mfflow.closed_form_asymmetric` with ``U = W2``, ``V = W1^T``
    (:mod:`mfflow.linear_networks`).

    Parameters
    ----------
    X : (d_in, P) array
        Whitened inputs, one example per column (:func:`mfflow.whitened_inputs`,
        :func:`mfflow.whiten`); checked to ``whitening_tol``.
    Y : (d_out, P) array
        Targets, any (``Sigma_yx`` of any rank; noise allowed).
    W1 : (h, d_in) array
        First layer; any ``h`` (smaller or larger than ``d_in``, ``d_out``) allowed by the
        balance (:func:`mfflow.lambda_balanced_weights`).
    W2 : (d_out, h) array
        Second layer.
    rtol : float
        Relative tolerance of the lambda-balance check (:func:`mfflow.network_lambda`).
    whitening_tol : float
        Largest ``|X X^T / P - I|`` entry accepted.

    Returns
    -------
    NetworkTrajectory
        ``W(t)``, ``gram_in(t)``, ``gram_out(t)``, ``weights(t)``, ``predict(t, X_new)``,
        ``loss(t)``, ``singular_values(t)``, ``ntk(t, X)``, ``kernel_distance(t)``,
        ``task_alignment(t)``, ``hidden_similarity(t)``; ``lam`` is the lambda found.

    Raises
    ------
    ValueError
        ``X`` not whitened, or ``W1, W2`` not lambda-balanced (the message gives the nearest
        lambda and points to :func:`mfflow.simulate_linear_network`, which takes any data and
        any init).

    Notes
    -----
    Backends: ``X``, ``Y`` may be torch/JAX arrays (results come back in that library;
    gradients flow from ``Y`` and ``t`` as far as :func:`mfflow.closed_form_asymmetric`
    allows); gradients in ``W1``, ``W2`` are refused (a general perturbation breaks the
    balance). Accuracy against an ODE solve of the weights: tests/test_linear_network.py.

    References: A. M. Saxe, J. L. McClelland, S. Ganguli, ICLR 2014; L. Braun, C. C. J. Dominé,
    J. E. Fitzgerald, A. M. Saxe, NeurIPS 2022; C. C. J. Dominé et al., ICLR 2025.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> X = mfflow.whitened_inputs(4, 20, seed=0)
    >>> Y = mfflow.teacher_task(X, 3, [3.0, 1.0], seed=1)
    >>> W1, W2 = mfflow.lambda_balanced_weights(4, 2, 3, lam=0.5, scale=1e-3, seed=2)
    >>> net = mfflow.linear_network(X, Y, W1, W2)
    >>> net.lam, net.singular_values(np.inf).round(10)
    (0.5, array([3., 1., 0.]))
    >>> float(net.loss(0.0)) > float(net.loss(20.0)) > 0.0
    True
    """
    names = [n for n, a in (("W1", W1), ("W2", W2)) if needs_grad(a)]
    if names:
        raise ValueError(
            f"{', '.join(names)}: gradients with respect to the init are not provided: the "
            "closed form holds only on lambda-balanced weights, which a general perturbation "
            "breaks; gradients in Y and t are"
        )
    b = backend_of(X=X, Y=Y, W1=W1, W2=W2)
    x, y = as_dataset(to_numpy(X), to_numpy(Y))
    w1, w2 = as_weights(to_numpy(W1), to_numpy(W2))
    if w1.shape[1] != x.shape[0]:
        raise ValueError(
            f"W1: expected shape (h, d_in) with d_in = {x.shape[0]} columns to match X, "
            f"got {w1.shape}"
        )
    if w2.shape[0] != y.shape[0]:
        raise ValueError(
            f"W2: expected shape (d_out, h) with d_out = {y.shape[0]} rows to match Y, "
            f"got {w2.shape}"
        )
    as_whitened(x, "X", as_relative_tolerance(whitening_tol, "whitening_tol"))
    lam = network_lambda(w1, w2, rtol)
    P = x.shape[1]
    # shapes of unit size, the scale in alpha (mfflow keeps them apart): U(0) = sqrt(a) U0
    a = max(float(np.linalg.norm(w1, 2)) ** 2, float(np.linalg.norm(w2, 2)) ** 2)
    a = a if a > 0 else 1.0
    u0, v0 = w2 / math.sqrt(a), w1.T / math.sqrt(a)
    if b.name == "numpy":
        xb, yb = x, y
        syx = y @ x.T / P
        c = 0.5 * float(np.sum((y - syx @ x) ** 2)) / P
    else:
        xb, yb = b.asarray(X), b.asarray(Y)
        syx = yb @ b.xp.matrix_transpose(xb) / P
        c = 0.5 * b.xp.sum((yb - syx @ xb) ** 2) / P
    flow = closed_form_asymmetric(syx, u0, v0, a, balance_rtol=rtol)
    return NetworkTrajectory(
        flow=flow,
        X=xb,
        Y=yb,
        Sigma_yx=syx,
        lam=lam,
        irreducible=c,
        W1_0=w1,
        W2_0=w2,
    )
