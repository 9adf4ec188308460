r"""Datasets ``(X, Y)`` for linear networks: whitened inputs, whitening, teacher tasks.

The exact flow (:func:`mfflow.linear_network`) needs *whitened* inputs, ``X X^T / P = I``; then
the loss ``1/(2P) ||Y - W X||_F^2`` only sees the data through ``Sigma_yx = Y X^T / P``:

.. math::

    \frac1{2P}\|Y - WX\|_F^2 = \tfrac12 \|\Sigma_{yx} - W\|_F^2 + c, \qquad
    c = \frac1{2P}\|Y\|_F^2 - \tfrac12\|\Sigma_{yx}\|_F^2 = \frac1{2P}\|Y(I - X^T X / P)\|_F^2
    \ge 0,

``c`` being the part of ``Y`` that no linear map of the inputs explains (``X^T X / P`` is the
projector onto the row space of ``X``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..validation import (
    MAGNITUDE_MAX,
    Seed,
    as_dataset,
    as_matrix,
    as_nonnegative_scalar,
    as_positive_int,
    as_rng,
    as_values,
    check_fits,
)

__all__ = [
    "WHITENING_TOL",
    "as_dataset",
    "as_whitened",
    "teacher_task",
    "whiten",
    "whitened_inputs",
]

FloatArray = NDArray[np.float64]

#: Inputs count as whitened when ``max|X X^T / P - I| <= WHITENING_TOL``: the rounding of a
#: whitening transform (``~1e-15``), with room for data stored in float32-derived form.
WHITENING_TOL = 1e-8


def as_whitened(X: Any, name: str = "X", tol: float = WHITENING_TOL) -> FloatArray:
    """``X`` ``(d_in, P)`` checked to satisfy ``X X^T / P = I_{d_in}`` to ``tol`` (max entry).

    Raises
    ------
    ValueError
        Naming ``name``, with the deviation found, the fix (:func:`whiten`) and the
        alternative (:func:`mfflow.simulate_linear_network`, any inputs).
    """
    x = as_matrix(X, name)
    d_in, P = x.shape
    if P < d_in:
        raise ValueError(
            f"{name}: the inputs cannot be whitened: P = {P} examples for d_in = {d_in} "
            "dimensions (X X^T / P has rank <= P < d_in); the closed form needs "
            "X X^T / P = I; simulate instead: simulate_linear_network(X, Y, W1, W2, t)"
        )
    dev = float(np.max(np.abs(x @ x.T / P - np.eye(d_in))))
    if not dev <= tol:
        raise ValueError(
            f"{name}: the inputs are not whitened: max|X X^T / P - I| = {dev:.3g} > {tol:g}; "
            "the closed form needs X X^T / P = I_{d_in} (whiten them with mfflow.whiten(X)), "
            "or simulate any inputs: simulate_linear_network(X, Y, W1, W2, t)"
        )
    return x


def whitened_inputs(d_in: int, P: int, seed: Seed = 0) -> FloatArray:
    """Random whitened inputs ``X`` ``(d_in, P)``: ``X X^T / P = I_{d_in}`` to rounding.

    ``X = sqrt(P) Q^T`` with ``Q`` ``(P, d_in)`` Haar-random orthonormal columns (so the ``P``
    examples are rotation invariant in distribution). Needs ``P >= d_in``.

    Parameters
    ----------
    d_in : int
        Input dimension.
    P : int
        Number of examples, ``P >= d_in``.
    seed : int or Generator

    Returns
    -------
    X : (d_in, P) array

    Examples
    --------
    >>> X = whitened_inputs(3, 10, seed=0)
    >>> X.shape, bool(np.allclose(X @ X.T / 10, np.eye(3)))
    ((3, 10), True)
    """
    d_in = as_positive_int(d_in, "d_in")
    P = as_positive_int(P, "P")
    check_fits((P, d_in), "d_in, P", "input matrix", copies=3)
    if P < d_in:
        raise ValueError(f"P: whitened inputs need P >= d_in = {d_in} examples, got P = {P}")
    rng = as_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((P, d_in)))
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    return math.sqrt(P) * q.T


def whiten(X: ArrayLike) -> FloatArray:
    """ZCA-whitened inputs ``Sigma_xx^{-1/2} X`` ``(d_in, P)``, ``Sigma_xx = X X^T / P``.

    No centering (the network has no bias); the result satisfies ``X X^T / P = I``.

    Parameters
    ----------
    X : (d_in, P) array
        Inputs with ``X X^T`` of full rank ``d_in`` (so ``P >= d_in``).

    Returns
    -------
    (d_in, P) array

    Examples
    --------
    >>> Xw = whiten(np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]]))
    >>> bool(np.allclose(Xw @ Xw.T / 3, np.eye(2)))
    True
    """
    x = as_matrix(X, "X")
    d_in, P = x.shape
    w, q = np.linalg.eigh(x @ x.T / P)
    if w[0] <= 1e-12 * max(w[-1], 1e-300):
        raise ValueError(
            f"X: cannot whiten: X X^T / P is singular (smallest eigenvalue {w[0]:.3g}, largest "
            f"{w[-1]:.3g}; P = {P}, d_in = {d_in}); drop redundant input dimensions first"
        )
    return (q / np.sqrt(w)) @ q.T @ x


def teacher_task(
    X: ArrayLike,
    d_out: int,
    singular_values: ArrayLike,
    *,
    noise: float = 0.0,
    seed: Seed = 0,
) -> FloatArray:
    """Targets ``Y = W* X + noise * N(0, 1)`` ``(d_out, P)`` of a random linear teacher.

    ``W* = P_* diag(s) Q_*^T`` ``(d_out, d_in)`` with Haar-random orthonormal ``P_*``
    ``(d_out, k)``, ``Q_*`` ``(d_in, k)``, ``k = len(singular_values)``. For whitened ``X`` and
    ``noise = 0`` the task's ``Sigma_yx = Y X^T / P`` is ``W*`` exactly, so ``s`` are the
    singular values the network learns.

    Parameters
    ----------
    X : (d_in, P) array
        Inputs.
    d_out : int
        Output dimension.
    singular_values : (k,) array
        The teacher's singular values, ``k <= min(d_out, d_in)``, ``>= 0``.
    noise : float
        Standard deviation of the label noise added entrywise (``>= 0``).
    seed : int or Generator

    Returns
    -------
    Y : (d_out, P) array

    Examples
    --------
    >>> X = whitened_inputs(4, 20, seed=0)
    >>> Y = teacher_task(X, 3, [3.0, 1.0], seed=1)
    >>> np.linalg.svd(Y @ X.T / 20, compute_uv=False).round(12)
    array([3., 1., 0.])
    """
    x = as_matrix(X, "X")
    d_out = as_positive_int(d_out, "d_out")
    check_fits((d_out, x.shape[1]), "d_out", "target matrix", copies=2)
    s = as_values(singular_values, "singular_values", nonnegative=True)
    d_in = x.shape[0]
    if s.size > min(d_out, d_in):
        raise ValueError(
            f"singular_values: expected 1 to min(d_out, d_in) = {min(d_out, d_in)} values, got "
            f"shape {s.shape}"
        )
    noise = as_nonnegative_scalar(noise, "noise")
    if noise > MAGNITUDE_MAX:
        raise ValueError(f"noise: expected a level of at most {MAGNITUDE_MAX:g}, got {noise!r}")
    rng = as_rng(seed)
    k = s.size
    p = np.linalg.qr(rng.standard_normal((d_out, k)))[0]
    q = np.linalg.qr(rng.standard_normal((d_in, k)))[0]
    y = (p * s) @ (q.T @ x)
    if noise > 0:
        y = y + float(noise) * rng.standard_normal(y.shape)
    return y
