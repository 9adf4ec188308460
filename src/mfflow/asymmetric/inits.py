"""Initialization shapes ``(U0, V0)`` of ``U V^T``: balanced, lambda-balanced, Gaussian.

``U(0) = sqrt(alpha) U0``, ``V(0) = sqrt(alpha) V0``: these return shapes, never an ``alpha``.
The imbalance of the shapes ``U0^T U0 - V0^T V0`` (:func:`mfflow.imbalance`) decides whether
the flow has a closed form (:func:`mfflow.closed_form_asymmetric`: a multiple of ``I_r``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..validation import (
    MAGNITUDE_MAX,
    MAGNITUDE_MIN,
    Seed,
    as_finite_scalar,
    as_matrix,
    as_positive_int,
    as_positive_scalar,
    as_rng,
    check_fits,
)

__all__ = ["balanced_init", "gaussian_pair_init", "lambda_balanced_init"]

FloatArray = NDArray[np.float64]


def _orthonormal(rows: int, cols: int, rng: np.random.Generator) -> FloatArray:
    """Haar-random ``(rows, cols)`` with orthonormal columns, ``cols <= rows``."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _psd_sqrt(G: FloatArray) -> FloatArray:
    w, q = np.linalg.eigh(0.5 * (G + G.T))
    return (q * np.sqrt(np.maximum(w, 0.0))) @ q.T


def balanced_init(
    m: int, n: int, r: int, seed: Seed = 0, *, Y: ArrayLike | None = None
) -> tuple[FloatArray, FloatArray]:
    """Balanced shapes ``U0`` ``(m, r)``, ``V0`` ``(n, r)`` with ``U0^T U0 = V0^T V0``.

    ``U0 = P C``, ``V0 = Q C`` with ``C`` ``(k, r)`` Gaussian ``N(0, 1/r)``,
    ``k = min(m, n, r)``, and ``P`` ``(m, k)``, ``Q`` ``(n, k)`` Haar-random orthonormal columns,
    so both Gram matrices equal ``C^T C`` (to rounding). Exists for every ``r``.

    A trap of square problems: for ``m = n <= r`` every balanced init is ``V0 = O U0`` with ``O``
    orthogonal, and when ``-1`` is an eigenvalue of ``P^T P_Y Q_Y^T Q`` (``Y = P_Y S Q_Y^T``;
    always so in odd ``n`` when its determinant is ``-1``, i.e. for half of all draws) the init
    has *exactly zero* weight on the growing direction ``[u_i; v_i]`` of some mode: the flow then
    converges to a saddle with that mode unlearned (in 1-D: ``u0 = -v0`` sends ``u v -> 0``). In
    floating point the mode is seeded by rounding (``~1e-16``) and learned very late, where no
    float64 method is accurate. Pass ``Y`` to rule this out: if the weights
    ``[u_i; v_i]^T [U0; V0]`` ``(k, r)`` are rank deficient (relative ``1e-6``), one column of
    ``Q`` is flipped (which keeps the balance and flips the determinant).

    Parameters
    ----------
    m, n, r : int
    seed : int or Generator
    Y : (m, n) array, optional
        Target the init will be used with (only read to avoid the degenerate case above).

    Examples
    --------
    >>> U0, V0 = balanced_init(4, 3, 2, seed=0)
    >>> bool(np.allclose(U0.T @ U0, V0.T @ V0))
    True
    """
    m = as_positive_int(m, "m")
    n = as_positive_int(n, "n")
    r = as_positive_int(r, "r")
    check_fits((m + n, r), "m, n, r", copies=3)
    rng = as_rng(seed)
    k = min(m, n, r)
    c = rng.standard_normal((k, r)) / math.sqrt(r)
    p, q = _orthonormal(m, k, rng), _orthonormal(n, k, rng)
    if Y is not None:
        y = as_matrix(Y, "Y")
        if y.shape != (m, n):
            raise ValueError(f"Y: expected shape ({m}, {n}) to match m, n, got {y.shape}")
        if _weights_degenerate(y, p @ c, q @ c):
            q = q.copy()
            q[:, -1] *= -1.0
    return p @ c, q @ c


def _weights_degenerate(y: FloatArray, u0: FloatArray, v0: FloatArray) -> bool:
    """Whether the init's weights on the growing directions ``[u_i; v_i]`` are rank deficient."""
    pu, s, pvt = np.linalg.svd(y)
    k = int(np.count_nonzero(s > 1e-12 * s[0])) if s[0] > 0 else 0
    k = min(k, u0.shape[1])
    if k == 0:
        return False
    w = np.linalg.svd(pu[:, :k].T @ u0 + pvt[:k] @ v0, compute_uv=False)
    return bool(w[-1] <= 1e-6 * w[0]) if w.size >= k else True


def lambda_balanced_init(
    m: int, n: int, r: int, lam: float, seed: Seed = 0
) -> tuple[FloatArray, FloatArray]:
    r"""Lambda-balanced shapes: ``U0^T U0 - V0^T V0 = lam I_r``.

    Construction, for ``lam > 0``: ``V0 = Q C`` as in :func:`balanced_init`
    (``C`` ``(min(n, r), r)`` Gaussian), then ``U0 = P (C^T C + lam I_r)^{1/2}`` with ``P``
    ``(m, r)`` Haar-random orthonormal columns, so ``U0^T U0 = C^T C + lam I_r``. This needs
    ``r <= m`` (``U0^T U0`` is positive definite, so ``rank U0 = r``). For ``lam < 0`` the roles
    swap and ``r <= n`` is needed; ``lam = 0`` is :func:`balanced_init`.

    Note that gradient flow started from ``sqrt(alpha) U0, sqrt(alpha) V0`` has imbalance
    ``alpha * lam``.

    Parameters
    ----------
    m, n, r : int
        Shapes: ``U0`` ``(m, r)``, ``V0`` ``(n, r)``.
    lam : float
        The imbalance of the shapes (any sign).
    seed : int or Generator

    Returns
    -------
    U0 : (m, r) array
    V0 : (n, r) array

    Examples
    --------
    >>> U0, V0 = lambda_balanced_init(4, 3, 2, lam=0.5, seed=0)
    >>> bool(np.allclose(U0.T @ U0 - V0.T @ V0, 0.5 * np.eye(2)))
    True
    """
    m = as_positive_int(m, "m")
    n = as_positive_int(n, "n")
    r = as_positive_int(r, "r")
    lam = as_finite_scalar(lam, "lam")
    check_fits((m + n, r), "m, n, r", copies=3)
    if lam == 0.0:
        return balanced_init(m, n, r, seed)
    big, small = (m, n) if lam > 0 else (n, m)
    if r > big:
        side = "U0 (m rows)" if lam > 0 else "V0 (n rows)"
        raise ValueError(
            f"lam: an imbalance lam = {lam:g} {'> 0' if lam > 0 else '< 0'} needs "
            f"r <= {big} (the rank of {side} must be r), got r = {r}; use lam = 0 "
            "(balanced, any r) or fewer columns"
        )
    rng = as_rng(seed)
    k = min(small, r)
    c = rng.standard_normal((k, r)) / math.sqrt(r)
    a_small = _orthonormal(small, k, rng) @ c
    a_big = _orthonormal(big, r, rng) @ _psd_sqrt(c.T @ c + abs(lam) * np.eye(r))
    return (a_big, a_small) if lam > 0 else (a_small, a_big)


def gaussian_pair_init(
    m: int,
    n: int,
    r: int,
    scale_u: float = 1.0,
    scale_v: float = 1.0,
    seed: Seed = 0,
) -> tuple[FloatArray, FloatArray]:
    """Independent Gaussian shapes ``U0 = scale_u G1``, ``V0 = scale_v G2``, entries ``N(0, 1/r)``.

    Generically not lambda-balanced: simulate them (:func:`mfflow.simulate_asymmetric_gf`).

    Returns
    -------
    U0 : (m, r) array
    V0 : (n, r) array

    Examples
    --------
    >>> U0, V0 = gaussian_pair_init(4, 3, 2, scale_u=2.0, seed=0)
    >>> U0.shape, V0.shape
    ((4, 2), (3, 2))
    """
    m = as_positive_int(m, "m")
    n = as_positive_int(n, "n")
    r = as_positive_int(r, "r")
    su = as_positive_scalar(scale_u, "scale_u", minimum=MAGNITUDE_MIN, maximum=MAGNITUDE_MAX)
    sv = as_positive_scalar(scale_v, "scale_v", minimum=MAGNITUDE_MIN, maximum=MAGNITUDE_MAX)
    check_fits((m + n, r), "m, n, r", copies=2)
    rng = as_rng(seed)
    u0 = su * rng.standard_normal((m, r)) / math.sqrt(r)
    v0 = sv * rng.standard_normal((n, r)) / math.sqrt(r)
    return u0, v0
