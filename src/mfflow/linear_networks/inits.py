r"""Lambda-balanced weights of a two-layer linear network, and the balance check.

A network ``x -> W2 W1 x`` (``W1`` ``(h, d_in)``, ``W2`` ``(d_out, h)``) is *lambda-balanced*
when

.. math::

    W_2^T W_2 - W_1 W_1^T = \lambda I_h,

the imbalance gradient flow conserves (Saxe et al. 2014; Braun et al. 2022 for ``lambda = 0``;
Dominé et al. 2025 for any ``lambda``). In mfflow's asymmetric notation ``U = W2``,
``V = W1^T`` it is ``U^T U - V^T V = lambda I``: the same ``lambda``, the same sign.

**Parameterization** (Dominé et al.'s "relative scale" ``lambda`` and "absolute scale"). Each
of the ``k = min(d_in, h, d_out)`` modes of the product ``W2 W1 = P diag(s) Q^T`` gets layer
norms ``a`` (in ``W2``) and ``b`` (in ``W1``) with

.. math::

    a^2 - b^2 = \lambda, \quad a b = s
    \quad\Longrightarrow\quad
    a^2 = \tfrac12\big(\sqrt{\lambda^2 + 4 s^2} + \lambda\big), \quad
    b^2 = \tfrac12\big(\sqrt{\lambda^2 + 4 s^2} - \lambda\big),

``W2 = P diag(a) R^T``, ``W1 = R diag(b) Q^T`` with a random orthogonal ``R`` ``(h, h)``. The
remaining ``h - k`` hidden units carry no product and ``a^2 = lambda`` (``lambda > 0``) or
``b^2 = -lambda`` (``lambda < 0``). So ``lambda`` sets how the product's scale ``s`` is split
between the layers: ``lambda = 0`` splits it evenly (balanced), ``lambda >> s`` puts it in
``W2`` (``a ~ sqrt(lambda)``, ``b ~ s / sqrt(lambda)``), ``lambda << -s`` in ``W1``.

**Existence.** ``lambda > 0`` makes ``W2^T W2 = W1 W1^T + lambda I`` positive definite, so
``W2`` has rank ``h``: ``h <= d_out``. Likewise ``lambda < 0`` needs ``h <= d_in``; ``lambda = 0``
exists for every ``h`` (docs/math.md §5).

References: A. M. Saxe, J. L. McClelland, S. Ganguli, ICLR 2014; L. Braun, C. C. J. Dominé,
J. E. Fitzgerald, A. M. Saxe, NeurIPS 2022; C. C. J. Dominé et al., "From lazy to rich: exact
learning dynamics in deep linear networks", ICLR 2025.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..asymmetric import LAMBDA_RTOL
from ..simulate.models import imbalance
from ..validation import (
    SCALE_MIN,
    Seed,
    as_finite_scalar,
    as_matrix,
    as_positive_int,
    as_relative_tolerance,
    as_rng,
    as_values,
    check_fits,
)

__all__ = ["as_weights", "lambda_balanced_weights", "layer_norms", "network_lambda"]

FloatArray = NDArray[np.float64]


def as_weights(W1: Any, W2: Any) -> tuple[FloatArray, FloatArray]:
    """Checked ``W1`` ``(h, d_in)`` and ``W2`` ``(d_out, h)`` with matching ``h``."""
    w1 = as_matrix(W1, "W1")
    w2 = as_matrix(W2, "W2")
    if w2.shape[1] != w1.shape[0]:
        raise ValueError(
            f"W2: expected shape (d_out, h) with h = {w1.shape[0]} columns to match W1 "
            f"{w1.shape} (h, d_in), got {w2.shape}"
        )
    return w1, w2


def _as_lambda(lam: Any) -> float:
    """``lambda``: finite, of magnitude at most ``MAGNITUDE_MAX`` (the layer norms square it)."""
    return as_finite_scalar(lam, "lam")


def layer_norms(lam: float, scale: ArrayLike) -> tuple[FloatArray, FloatArray]:
    r"""Per-mode layer norms ``(a, b)`` with ``a^2 - b^2 = lam`` and ``a b = scale``.

    ``a`` is carried by ``W2``, ``b`` by ``W1`` (module docstring). Computed without
    cancellation: the larger of the two from ``sqrt(lam^2 + 4 s^2) + |lam|``, the other as
    ``s`` divided by it.

    Parameters
    ----------
    lam : float
        Relative scale (the imbalance), any sign.
    scale : float or (k,) array
        Absolute scale: the product's singular values ``s >= 0``.

    Returns
    -------
    a, b : (k,) arrays

    Examples
    --------
    >>> a, b = layer_norms(3.0, 2.0)  # a^2 = (5 + 3)/2, b^2 = (5 - 3)/2
    >>> (a**2).tolist(), (b**2).round(12).tolist(), (a * b).tolist()
    ([4.0], [1.0], [2.0])
    """
    lam = _as_lambda(lam)
    s = as_values(scale, "scale", nonnegative=True, minimum=SCALE_MIN)
    big = np.sqrt(0.5 * (np.hypot(lam, 2.0 * s) + abs(lam)))
    small = np.divide(s, big, out=np.zeros_like(s), where=big > 0)
    return (big, small) if lam >= 0 else (small, big)


def lambda_balanced_weights(
    d_in: int,
    h: int,
    d_out: int,
    lam: float,
    scale: ArrayLike = 1.0,
    seed: Seed = 0,
    *,
    align: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    r"""Lambda-balanced weights ``W1`` ``(h, d_in)``, ``W2`` ``(d_out, h)`` of a given scale.

    ``W2^T W2 - W1 W1^T = lam I_h`` and ``W2 W1 = P diag(scale) Q^T`` (Dominé et al.'s
    construction, module docstring): ``W2 = P diag(a) R^T``, ``W1 = R diag(b) Q^T`` with
    :func:`layer_norms` ``(a, b)`` and Haar-random ``P``, ``Q``, ``R``. The random frames
    depend only on ``seed`` and the shapes, not on ``lam`` or ``scale``: a grid over
    ``(lam, scale)`` with one seed varies the balance and the size of one and the same init.

    Parameters
    ----------
    d_in, h, d_out : int
        Input, hidden and output widths. ``lam > 0`` needs ``h <= d_out``, ``lam < 0`` needs
        ``h <= d_in`` (else no lambda-balanced weights exist); ``lam = 0`` allows any ``h``.
    lam : float
        The relative scale (imbalance) ``lambda``.
    scale : float or (k,) array
        The absolute scale: singular values of the initial product ``W2 W1``, ``>= 0``, one
        for all or one per mode, ``k = min(d_in, h, d_out)``.
    seed : int or Generator
    align : (d_out, d_in) array, optional
        Use this matrix's singular vectors as ``P``, ``Q`` (an init aligned with a task's
        ``Sigma_yx``: the decoupled case of Saxe et al.); random otherwise.

    Returns
    -------
    W1 : (h, d_in) array
    W2 : (d_out, h) array

    Examples
    --------
    >>> W1, W2 = lambda_balanced_weights(5, 3, 4, lam=0.5, scale=0.1, seed=0)
    >>> bool(np.allclose(W2.T @ W2 - W1 @ W1.T, 0.5 * np.eye(3)))
    True
    >>> np.linalg.svd(W2 @ W1, compute_uv=False).round(12)
    array([0.1, 0.1, 0.1, 0. ])
    """
    d_in = as_positive_int(d_in, "d_in")
    h = as_positive_int(h, "h")
    d_out = as_positive_int(d_out, "d_out")
    check_fits((max(d_in, d_out), h), "d_in, h, d_out", "weight matrix", copies=3)
    check_fits((h, h), "h", "hidden rotation")
    lam = _as_lambda(lam)
    if (lam > 0 and h > d_out) or (lam < 0 and h > d_in):
        side, width = ("W2", f"d_out = {d_out}") if lam > 0 else ("W1", f"d_in = {d_in}")
        raise ValueError(
            f"lam, h: a lambda-balanced network with lam = {lam:g} needs h <= {width} ({side} must "
            f"have rank h), got h = {h}; use lam = 0 (balanced, any h), the other sign, or a "
            "narrower hidden layer"
        )
    k = min(d_in, h, d_out)
    s = as_values(scale, "scale", nonnegative=True, minimum=SCALE_MIN)
    if s.size not in (1, k):
        raise ValueError(f"scale: expected a number or {k} values (one per mode), got {s.shape}")
    a_k, b_k = layer_norms(lam, np.broadcast_to(s, (k,)))
    a = np.concatenate([a_k, np.full(h - k, math.sqrt(max(lam, 0.0)))])
    b = np.concatenate([b_k, np.full(h - k, math.sqrt(max(-lam, 0.0)))])
    rng = as_rng(seed)
    R = _haar(h, h, rng)
    m2, m1 = min(h, d_out), min(h, d_in)
    if align is None:
        P, Q = _haar(d_out, m2, rng), _haar(d_in, m1, rng)
    else:
        target = as_matrix(align, "align")
        if target.shape != (d_out, d_in):
            raise ValueError(f"align: expected shape ({d_out}, {d_in}), got {target.shape}")
        u, _, vt = np.linalg.svd(target)
        P, Q = u[:, :m2], vt[:m1].T
    W2 = (P * a[:m2]) @ R[:, :m2].T
    W1 = (R[:, :m1] * b[:m1]) @ Q.T
    return W1, W2


def _haar(rows: int, cols: int, rng: np.random.Generator) -> FloatArray:
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def network_lambda(W1: ArrayLike, W2: ArrayLike, rtol: float = LAMBDA_RTOL) -> float:
    r"""The ``lambda`` of lambda-balanced weights: ``W2^T W2 - W1 W1^T = lambda I_h``.

    ``lambda = tr(W2^T W2 - W1 W1^T) / h``; the weights are accepted when
    ``max|W2^T W2 - W1 W1^T - lambda I| <= rtol * (max|W2^T W2| + max|W1 W1^T|)`` (the rounding
    of a constructed init), and ``lambda`` below that tolerance is returned as ``0``.

    Parameters
    ----------
    W1 : (h, d_in) array
    W2 : (d_out, h) array
    rtol : float
        Relative tolerance (:data:`mfflow.asymmetric.LAMBDA_RTOL`).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Naming ``W1, W2``, with the ``lambda`` nearest to them and the deviation, when they are
        not lambda-balanced: the exact flow does not exist for them, simulate them instead.

    Examples
    --------
    >>> network_lambda(0.5 * np.eye(2), np.eye(2))
    0.75
    """
    w1, w2 = as_weights(W1, W2)
    tol = as_relative_tolerance(rtol, "rtol")
    d = imbalance(w2, w1.T)
    h = d.shape[0]
    size = float(np.max(np.abs(w2.T @ w2)) + np.max(np.abs(w1 @ w1.T)))
    lam = float(np.trace(d)) / h
    dev = float(np.max(np.abs(d - lam * np.eye(h))))
    if dev > tol * size:
        raise ValueError(
            "W1, W2: the init is not lambda-balanced: W2^T W2 - W1 W1^T is not a multiple of "
            f"I_h (nearest: lambda = {lam:.6g}, max deviation {dev:.3g}, relative "
            f"{dev / size:.3g} > rtol = {tol:g}); the exact flow exists only for "
            "lambda-balanced weights: simulate these with simulate_linear_network(X, Y, W1, "
            "W2, t), or build balanced ones with lambda_balanced_weights"
        )
    return 0.0 if abs(lam) <= tol * size else lam
