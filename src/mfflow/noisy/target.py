"""The noisy target ``Y = Y* + N`` and its exact flow (docs/math.md §12): :class:`NoisyTarget`,
:func:`noisy_target` and :func:`balanced_flow` (the rectangular flow from a thin SVD)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from ..asymmetric.exact import AsymmetricTrajectory, lambda_of
from ..riccati import Trajectory, closed_form
from ..simulate.models import imbalance
from ..validation import (
    MAGNITUDE_MAX,
    as_alpha,
    as_nonnegative_scalar,
    as_pair,
    as_positive_int,
    as_rng,
    as_values,
    check_fits,
)

__all__ = ["AnyTrajectory", "FloatArray", "NoisyTarget", "balanced_flow", "noisy_target"]

FloatArray = NDArray[np.float64]
#: A trajectory the noisy-target tools accept.
AnyTrajectory = Trajectory | AsymmetricTrajectory


# ---- the problem -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NoisyTarget:
    r"""A noisy target ``Y = Y* + N`` with its low-rank signal ``Y* = P diag(theta) Q^T``.

    Built by :func:`noisy_target` (or directly from any ``Y`` and signal factors).

    Attributes
    ----------
    Y : (m, n) array
        The noisy target the flow is trained on (symmetric when ``symmetric``).
    left : (m, k) array
        ``P``, orthonormal columns.
    values : (k,) array
        ``theta``, descending.
    right : (n, k) array
        ``Q`` (``= P`` when symmetric).
    noise : float
        The level ``s`` (``nan`` if unknown).
    symmetric : bool
        ``Y`` symmetric and ``Q = P``: trained by the symmetric flow ``W = U U^T``;
        otherwise by the balanced ``W = U V^T``.
    """

    Y: FloatArray = field(repr=False)
    left: FloatArray = field(repr=False)
    values: FloatArray
    right: FloatArray = field(repr=False)
    noise: float
    symmetric: bool

    @property
    def shape(self) -> tuple[int, int]:
        """``(m, n)``."""
        return (int(self.Y.shape[0]), int(self.Y.shape[1]))

    @property
    def Ystar(self) -> FloatArray:
        """The signal ``P diag(theta) Q^T`` ``(m, n)`` (formed on request)."""
        return (self.left * self.values) @ self.right.T

    @property
    def signal_norm(self) -> float:
        """``||Y*||_F = ||theta||``."""
        return float(np.linalg.norm(self.values))

    def trajectory(
        self, U0: ArrayLike, alpha: float, *, V0: ArrayLike | None = None
    ) -> AnyTrajectory:
        """The exact flow on ``Y``: :func:`mfflow.closed_form` (symmetric; ``U0`` ``(n, r)``) or
        :func:`balanced_flow` (rectangular; balanced ``U0`` ``(m, r)``, ``V0`` ``(n, r)``)."""
        if self.symmetric:
            if V0 is not None:
                raise TypeError("V0: the target is symmetric, trained by W = U U^T; omit V0")
            return closed_form(self.Y, U0, alpha)
        if V0 is None:
            raise TypeError("V0: required for a rectangular target (W = U V^T)")
        return balanced_flow(self.Y, U0, V0, alpha)


def _haar_frame(n: int, k: int, rng: np.random.Generator) -> FloatArray:
    """``k`` Haar-distributed orthonormal columns in ``R^n`` (QR of a Gaussian, signs fixed):
    ``O(n k^2)``, not the ``O(n^3)`` of a full random orthogonal matrix."""
    q, r = np.linalg.qr(rng.standard_normal((n, k)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def noisy_target(
    signal: ArrayLike,
    n: int,
    noise: float,
    *,
    m: int | None = None,
    seed: Any = 0,
) -> NoisyTarget:
    r"""A low-rank signal in a Haar-random basis plus Gaussian noise of level ``noise``.

    Parameters
    ----------
    signal : (k,) array
        The signal's singular values ``theta`` (symmetric: eigenvalues; any order, any sign for
        the symmetric case).
    n : int
        Columns (and rows, when symmetric).
    noise : float
        ``s >= 0``. Symmetric: ``N = s (G + G^T)/sqrt(2)``; rectangular: ``N = s G``.
    m : int, optional
        Rows: given, the target is rectangular ``(m, n)``, trained by ``U V^T``.
    seed : int or Generator
        Seed of the basis and the noise.

    Returns
    -------
    NoisyTarget

    Examples
    --------
    >>> import mfflow
    >>> target = mfflow.noisy_target([30.0, 20.0], n=100, noise=1.0, seed=0)
    >>> target.Y.shape, target.values.tolist(), round(target.signal_norm, 6)
    ((100, 100), [30.0, 20.0], 36.055513)
    """
    theta = as_values(signal, "signal")
    nn = as_positive_int(n, "n")
    s = as_nonnegative_scalar(noise, "noise")
    if s > MAGNITUDE_MAX:
        raise ValueError(f"noise: expected a level of at most {MAGNITUDE_MAX:g}, got {s!r}")
    k = theta.size
    order = np.argsort(-theta, kind="stable")
    theta = theta[order]
    check_fits((nn, nn if m is None else as_positive_int(m, "m")), "n, m", "target", copies=3)
    rng = as_rng(seed)
    if m is None:
        if k > nn:
            raise ValueError(f"signal: expected at most n = {nn} values, got {k}")
        P = _haar_frame(nn, k, rng)
        G = rng.standard_normal((nn, nn))
        Y = (P * theta) @ P.T + s * (G + G.T) / math.sqrt(2.0)
        return NoisyTarget(0.5 * (Y + Y.T), P, theta, P, s, True)
    mm = as_positive_int(m, "m")
    if k > min(mm, nn):
        raise ValueError(f"signal: expected at most min(m, n) = {min(mm, nn)} values, got {k}")
    if np.any(theta < 0):
        raise ValueError("signal: singular values of a rectangular signal must be >= 0")
    P = _haar_frame(mm, k, rng)
    Q = _haar_frame(nn, k, rng)
    Y = (P * theta) @ Q.T + s * rng.standard_normal((mm, nn))
    return NoisyTarget(Y, P, theta, Q, s, False)


def balanced_flow(Y: ArrayLike, U0: ArrayLike, V0: ArrayLike, alpha: float) -> AsymmetricTrajectory:
    r"""The exact flow of ``1/2 ||Y - U V^T||_F^2`` from a *balanced* init, set up by a thin SVD.

    Equal to :func:`mfflow.closed_form_asymmetric` (balanced case), without the
    ``(m + n) x (m + n)`` eigendecomposition: with ``Y = P diag(s) Q^T`` (thin SVD,
    ``k = min(m, n)``) the symmetrized target ``Ybar = [[0, Y], [Y^T, 0]]`` is given as the factor
    ``(basis, values)``, ``basis = [[P, P], [Q, -Q]] / sqrt(2)``, ``values = (s, -s)``, which is
    ``Ybar`` exactly: its remaining eigenvalues are 0, on ``range(Y)^perp x 0`` (or
    ``0 x ker(Y)``). :func:`mfflow.closed_form` then solves it in ``span(basis, [U0; V0])``, of
    dimension ``<= 2k + r`` (docs/math.md §2 Step 6, §12).

    Parameters
    ----------
    Y : (m, n) array
    U0 : (m, r) array
    V0 : (n, r) array
        Balanced: ``U0^T U0 = V0^T V0`` (e.g. :func:`mfflow.balanced_init`).
    alpha : float
        ``alpha > 0``.

    Returns
    -------
    AsymmetricTrajectory

    Raises
    ------
    ValueError
        If the init is not balanced (a lambda-balanced one needs
        :func:`mfflow.closed_form_asymmetric`; no closed form exists for other inits).

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> Y = mfflow.rectangular_target([3.0, 1.0], 5, 4, seed=0)
    >>> U0, V0 = mfflow.balanced_init(5, 4, 2, seed=1)
    >>> fast = balanced_flow(Y, U0, V0, 1e-6)
    >>> ref = mfflow.closed_form_asymmetric(Y, U0, V0, 1e-6)
    >>> bool(np.allclose(fast.W(20.0), ref.W(20.0), atol=1e-12, rtol=0))
    True
    """
    y, u0, v0 = as_pair(Y, U0, V0)
    a = as_alpha(alpha)
    lam0 = lambda_of(u0, v0)
    if lam0 != 0.0:
        raise ValueError(
            f"U0, V0: the init is lambda-balanced with lam0 = {lam0:.6g} != 0; balanced_flow "
            "needs a balanced init (lam0 = 0); use closed_form_asymmetric for lambda-balanced ones"
        )
    m, n = y.shape
    p, s, qt = scipy.linalg.svd(y, full_matrices=False, lapack_driver="gesdd")
    q = qt.T
    basis = np.concatenate(
        [np.concatenate([p, p], axis=1), np.concatenate([q, -q], axis=1)], axis=0
    ) / math.sqrt(2.0)
    values = np.concatenate([s, -s])
    z0 = np.concatenate([u0, v0], axis=0) / math.sqrt(2.0)
    sym = closed_form((basis, values), z0, a)
    return AsymmetricTrajectory(
        symmetric=sym, m=m, n=n, alpha=a, lam=0.0, imbalance=a * imbalance(u0, v0), Y=y
    )
