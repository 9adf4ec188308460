r"""Learning from a noisy target: exact test-error curves, when to stop, and what to expect.

The target is a low-rank signal plus Gaussian noise of level ``s`` (docs/math.md §12),

.. math::

    Y = Y^\star + N, \qquad Y^\star = P\,\mathrm{diag}(\theta)\,Q^\top, \qquad
    N = \begin{cases} s\,(G + G^\top)/\sqrt2 & \text{symmetric, } Q = P,\ n\times n,\\
    s\,G & \text{rectangular, } m\times n, \end{cases}

with ``G`` i.i.d. standard Gaussian (symmetric: off-diagonal variance ``s^2``, the spectrum of
``N`` fills ``[-2 s sqrt(n), 2 s sqrt(n)]``; rectangular: singular values up to
``s (sqrt(m) + sqrt(n))``). Gradient flow from a small init learns ``Y``'s top directions
first, the outliers the signal creates, and the noise bulk later: the **test error**
``e(t) = ||W(t) - Y*||_F`` has a minimum. Everything here is exact for the flow:

* :func:`signal_error` evaluates ``e(t)`` from the closed form (a symmetric
  :class:`~mfflow.Trajectory`, or a balanced :class:`~mfflow.AsymmetricTrajectory`), and
  :func:`signal_error_rate` its exact
  derivative ``d e^2/dt = 2 <W - Y*, W'>`` with ``W' = (Y - W) W + W (Y - W)`` (symmetric) or
  ``B' = R V V^T + U U^T R`` (``B = U V^T``, ``R = Y - B``), from the factor only;
* :func:`early_stopping` finds the optimal stopping time by a log-spaced scan refined by root
  finding on that derivative (:func:`minimize_in_time`);
* :func:`truncation_errors` is the classical baseline: Eckart-Young truncations of the noisy
  ``Y``;
* :func:`~mfflow.spiked.spiked_prediction` (:mod:`mfflow.spiked`) is the large-``n``
  random-matrix prediction of both, with the flow's ``alpha -> 0`` optimum.

A rectangular target is solved exactly through the thin SVD of ``Y`` (:func:`balanced_flow`):
the symmetrized problem given as a factor, ``O(m n min(m, n))`` set-up, so ``m = 10^4`` rows
cost one thin SVD. The symmetric target ``Y* + N`` is full rank: its closed form needs one
``eigh`` of ``Y`` (``n`` up to a few thousand; the spectral path is then ``O(n)`` per time point).

References: J. Baik, G. Ben Arous, S. Péché, Ann. Probab. 33 (2005); F. Benaych-Georges and
R. R. Nadakuditi, Adv. Math. 227 (2011) and J. Multivariate Anal. 111 (2012); M. Gavish and
D. L. Donoho, IEEE Trans. Inf. Theory 60 (2014).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

from .asymmetric.exact import AsymmetricTrajectory, lambda_of
from .riccati import Trajectory, closed_form
from .simulate.models import imbalance
from .validation import (
    MAGNITUDE_MAX,
    as_alpha,
    as_nonnegative_scalar,
    as_pair,
    as_positive_int,
    as_positive_scalar,
    as_rng,
    as_times,
    as_values,
    check_fits,
)

__all__ = [
    "EarlyStopping",
    "NoisyTarget",
    "balanced_flow",
    "early_stopping",
    "minimize_in_time",
    "noisy_target",
    "signal_error",
    "signal_error_rate",
    "truncation_errors",
]

FloatArray = NDArray[np.float64]
AnyTrajectory = Trajectory | AsymmetricTrajectory

#: Relative tolerance of the root finder refining the optimal stopping time.
STOP_RTOL = 1e-12
#: Bytes of the per-chunk factor arrays when evaluating many times.
_CHUNK_BYTES = 32 * 2**20


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


# ---- the exact test error and its rate ---------------------------------------------------------


def _check_pair(traj: Any, target: NoisyTarget) -> None:
    if not isinstance(target, NoisyTarget):
        raise TypeError(f"target: expected a NoisyTarget, got {type(target).__name__}")
    if isinstance(traj, Trajectory):
        if not target.symmetric:
            raise ValueError("target: rectangular, but traj is a symmetric Trajectory")
        if traj.n != target.shape[0]:
            raise ValueError(f"target: expected shape ({traj.n}, {traj.n}), got {target.shape}")
        if traj.backend != "numpy" or traj.grad_inputs:
            raise ValueError("traj: expected a NumPy trajectory without gradients")
    elif isinstance(traj, AsymmetricTrajectory):
        if (traj.m, traj.n) != target.shape:
            raise ValueError(f"target: expected shape ({traj.m}, {traj.n}), got {target.shape}")
    else:
        raise TypeError(
            f"traj: expected a Trajectory or an AsymmetricTrajectory, got {type(traj).__name__}"
        )


def _chunks(T: int, per_time: int) -> list[slice]:
    step = max(1, _CHUNK_BYTES // max(8 * per_time, 1))
    return [slice(a, min(a + step, T)) for a in range(0, T, step)]


def _symmetric(
    traj: Trajectory, target: NoisyTarget, tt: FloatArray, rate: bool
) -> tuple[FloatArray, FloatArray | None]:
    """``e^2`` and (if asked) ``d e^2/dt`` on the times ``tt`` (symmetric flow)."""
    v = target.values
    C = traj.Phi.T @ target.left  # (d, k): the signal's directions in the basis
    ystar2 = float(np.sum(v * v))
    lam = traj.lam
    err2 = np.empty(tt.size)
    drv = np.empty(tt.size) if rate else None
    if traj.path == "spectral":
        cdiag = (C * C) @ v  # phi_i^T Y* phi_i
        for sl in _chunks(tt.size, traj.dim):
            s = np.atleast_2d(traj.mode_values(tt[sl]))  # (T, d)
            err2[sl] = np.sum(s * s, axis=1) - 2.0 * (s @ cdiag) + ystar2
            if drv is not None:  # W~' = diag(2 s (lam - s))
                drv[sl] = np.sum(2.0 * (s - cdiag) * 2.0 * s * (lam - s), axis=1)
        return err2, drv
    for sl in _chunks(tt.size, traj.dim * max(traj.rank, 1) * 3):
        F = traj.factor_eig(tt[sl])  # (T, d, m)
        F = F[None] if F.ndim == 2 else F
        G = np.swapaxes(F, 1, 2) @ F  # (T, m, m)
        FC = np.swapaxes(F, 1, 2) @ C  # (T, m, k)
        err2[sl] = np.sum(G * G, axis=(1, 2)) - 2.0 * np.sum(FC * FC * v, axis=(1, 2)) + ystar2
        if drv is not None:  # 4 <(W - Y*) F, (Y - W) F>, in the basis Phi
            FG = F @ G
            x1 = FG - C @ np.swapaxes(FC * v, 1, 2)
            x2 = lam[None, :, None] * F - FG
            drv[sl] = 4.0 * np.sum(x1 * x2, axis=(1, 2))
    return err2, drv


def _asymmetric(
    traj: AsymmetricTrajectory, target: NoisyTarget, tt: FloatArray, rate: bool
) -> tuple[FloatArray, FloatArray | None]:
    """``e^2`` and (if asked) ``d e^2/dt`` on ``tt`` (balanced ``B = U V^T``)."""
    P, v, Q = target.left, target.values, target.right
    Y = target.Y
    g = traj.weight_decay
    ystar2 = float(np.sum(v * v))
    err2 = np.empty(tt.size)
    drv = np.empty(tt.size) if rate else None
    r = traj.symmetric.rank
    for sl in _chunks(tt.size, (traj.m + traj.n) * max(r, 1) * 4):
        U, V = traj.factors(tt[sl])
        U, V = (U[None], V[None]) if U.ndim == 2 else (U, V)
        GU = np.swapaxes(U, 1, 2) @ U  # (T, r, r)
        GV = np.swapaxes(V, 1, 2) @ V
        PU = np.swapaxes(U, 1, 2) @ P  # (T, r, k)
        QV = np.swapaxes(V, 1, 2) @ Q
        b2 = np.sum(GU * GV, axis=(1, 2))  # ||U V^T||^2
        cross = np.sum(PU * QV * v, axis=(1, 2))  # <U V^T, Y*>
        err2[sl] = b2 - 2.0 * cross + ystar2
        if drv is not None:
            UGV = U @ GV  # B V
            x1 = UGV - P @ np.swapaxes(QV * v, 1, 2)  # (B - Y*) V
            rv = np.einsum("mn,tnr->tmr", Y, V) - UGV  # R V
            GUVt = GU @ np.swapaxes(V, 1, 2)  # U^T B
            x3 = GUVt - (PU * v) @ Q.T  # U^T (B - Y*)
            ur = np.einsum("tmr,mn->trn", U, Y) - GUVt  # U^T R
            d = 2.0 * (np.sum(x1 * rv, axis=(1, 2)) + np.sum(x3 * ur, axis=(1, 2)))
            drv[sl] = d - 4.0 * g * (b2 - cross) if g else d
    return err2, drv


def _evaluate(
    traj: AnyTrajectory, target: NoisyTarget, t: ArrayLike, rate: bool
) -> tuple[FloatArray, FloatArray | None, bool]:
    _check_pair(traj, target)
    tt, scalar = as_times(t)
    if isinstance(traj, Trajectory):
        err2, drv = _symmetric(traj, target, tt, rate)
    else:
        err2, drv = _asymmetric(traj, target, tt, rate)
    return err2, drv, scalar


def signal_error(traj: AnyTrajectory, target: NoisyTarget, t: ArrayLike) -> Any:
    r"""The exact test error ``||W(t) - Y*||_F`` (distance to the signal): float or ``(T,)``.

    From the factor of the closed form, never an ``n x n`` matrix: with ``W~ = F~ F~^T`` in the
    basis ``Phi`` and ``C = Phi^T P``,
    ``e^2 = ||F~^T F~||_F^2 - 2 sum_j theta_j ||F~^T c_j||^2 + ||theta||^2`` (``O(d m (m + k))``
    per time; ``O(d)`` on the spectral path); for ``B = U V^T``,
    ``e^2 = tr(U^T U V^T V) - 2 sum_j theta_j <U^T p_j, V^T q_j> + ||theta||^2``. Absolute
    accuracy ``~1e-16 ||Y*||_F^2`` on ``e^2``.

    Parameters
    ----------
    traj : Trajectory or AsymmetricTrajectory
        The exact flow on ``target.Y`` (:meth:`NoisyTarget.trajectory`, or any
        lambda-balanced :class:`~mfflow.AsymmetricTrajectory`, e.g. :func:`mfflow.mixed_dynamics`).
    target : NoisyTarget
    t : float or (T,) array
        Times ``>= 0``.

    Examples
    --------
    >>> import mfflow
    >>> target = mfflow.noisy_target([30.0], n=50, noise=1.0, seed=0)
    >>> traj = target.trajectory(mfflow.gaussian_init(50, 3, seed=1), 1e-8)
    >>> round(float(signal_error(traj, target, 0.0)), 6)   # W(0) ~ 1e-8: the signal's norm
    30.0
    """
    err2, _, scalar = _evaluate(traj, target, t, rate=False)
    e = np.sqrt(np.maximum(err2, 0.0))
    return float(e[0]) if scalar else e


def signal_error_rate(traj: AnyTrajectory, target: NoisyTarget, t: ArrayLike) -> Any:
    r"""The exact derivative ``d/dt ||W(t) - Y*||_F^2``: float for scalar ``t``, else ``(T,)``.

    Symmetric: ``2 <W - Y*, W'>`` with the Riccati velocity ``W' = (Y - W) W + W (Y - W)``, i.e.
    ``4 <(W - Y*) F, (Y - W) F>``, in the basis ``Phi`` where ``Y F~ = diag(lam) F~``; on the
    spectral path ``sum_i 2 (s_i - c_i) 2 s_i (lam_i - s_i)``. Asymmetric (any lambda):
    ``B' = R V V^T + U U^T R - 2 gamma B``, so the rate is
    ``2 <(B - Y*) V, R V> + 2 <U^T (B - Y*), U^T R> - 4 gamma <B - Y*, B>`` (``O(m n r)``).
    With weight decay the symmetric ``lam`` already holds ``lam - gamma``.

    Parameters
    ----------
    traj : Trajectory or AsymmetricTrajectory
    target : NoisyTarget
    t : float or (T,) array

    Examples
    --------
    >>> import mfflow
    >>> target = mfflow.noisy_target([30.0], n=50, noise=1.0, seed=0)
    >>> traj = target.trajectory(mfflow.gaussian_init(50, 3, seed=1), 1e-8)
    >>> signal_error_rate(traj, target, 0.3) < 0    # learning the signal
    True
    """
    _, drv, scalar = _evaluate(traj, target, t, rate=True)
    assert drv is not None
    return float(drv[0]) if scalar else drv


# ---- the optimal stopping time -----------------------------------------------------------------


def minimize_in_time(
    value: Callable[[FloatArray], FloatArray],
    rate: Callable[[FloatArray], FloatArray],
    t: ArrayLike,
    *,
    candidates: int = 5,
) -> tuple[float, float, bool]:
    r"""Global minimum of a smooth curve over a time grid, refined on its exact derivative.

    The sampled curve's local minima are candidates; the ``candidates`` lowest are refined by
    ``brentq`` on ``rate`` between their neighbours (relative tolerance :data:`STOP_RTOL`) and
    the lowest result is returned. A dip narrower than the grid spacing can be missed: the grid
    must resolve the curve's features (:func:`early_stopping` samples every ``1/(4 max|lam|)``,
    a quarter of the fastest transition's time scale).

    Parameters
    ----------
    value : callable
        ``(T,) times -> (T,) values``.
    rate : callable
        ``(T,) times -> (T,) derivatives`` of the same curve (or of any increasing function of
        it, e.g. of its square).
    t : (T,) array
        Increasing times, ``T >= 2``.
    candidates : int
        How many of the lowest sampled local minima are refined.

    Returns
    -------
    t_star : float
    value_star : float
    at_end : bool
        The minimum is at the grid's last point with a negative rate there: the curve may keep
        decreasing beyond it.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda t: (t - 1.234) ** 2 * (t - 2.5) ** 2 + 0.1 * t   # two dips, the first lower
    >>> df = lambda t: 2 * (t - 1.234) * (t - 2.5) * (2 * t - 3.734) + 0.1
    >>> t_star, v, at_end = minimize_in_time(f, df, np.linspace(0, 3, 31))
    >>> round(t_star, 6), at_end
    (1.204848, False)
    """
    tt = np.asarray(t, dtype=np.float64)
    if tt.ndim != 1 or tt.size < 2 or np.any(np.diff(tt) <= 0):
        raise ValueError("t: expected an increasing 1-D grid with at least 2 times")
    k = as_positive_int(candidates, "candidates")
    v = np.asarray(value(tt), dtype=np.float64)
    last = tt.size - 1
    left = np.concatenate([[True], v[1:] <= v[:-1]])
    right = np.concatenate([v[:-1] <= v[1:], [True]])
    local = np.flatnonzero(left & right)
    local = local[np.argsort(v[local], kind="stable")][:k]

    def r(x: float) -> float:
        return float(np.asarray(rate(np.array([x])))[0])

    def refine(j: int) -> tuple[float, float, bool]:
        if j == last:
            return float(tt[j]), float(v[j]), r(float(tt[j])) < 0.0
        rj = r(float(tt[j]))
        if rj == 0.0 or (rj > 0.0 and j == 0):
            return float(tt[j]), float(v[j]), False
        lo, hi = (tt[j - 1], tt[j]) if rj > 0.0 else (tt[j], tt[j + 1])
        if r(float(lo)) >= 0.0 or r(float(hi)) <= 0.0:  # no sign change: keep the sample
            return float(tt[j]), float(v[j]), False
        ts = float(brentq(r, float(lo), float(hi), xtol=STOP_RTOL * float(hi), rtol=STOP_RTOL))
        vs = float(np.asarray(value(np.array([ts])))[0])
        if vs > v[j]:  # rounding: keep the sample
            return float(tt[j]), float(v[j]), False
        return ts, vs, False

    return min((refine(int(j)) for j in local), key=lambda res: res[1])


@dataclass(frozen=True, eq=False)
class EarlyStopping:
    """The exact test-error curve of one run and its optimal stopping point.

    Attributes
    ----------
    t : (T,) array
        The scan: ``0`` and log-spaced times up to the horizon, denser over the transitions.
    error : (T,) array
        The test error ``||W(t) - Y*||_F`` on the scan.
    t_star : float
        The optimal stopping time (root of the exact rate).
    error_star : float
        ``||W(t_star) - Y*||_F``.
    at_horizon : bool
        The minimum is at the horizon and still decreasing (stopping later may be better).
    alpha : float
        The trajectory's scale.
    signal_norm : float
        ``||Y*||_F`` (the error of ``W = 0``).
    """

    t: FloatArray = field(repr=False)
    error: FloatArray = field(repr=False)
    t_star: float
    error_star: float
    at_horizon: bool
    alpha: float
    signal_norm: float

    @property
    def relative_error_star(self) -> float:
        """``error_star / ||Y*||_F``."""
        return self.error_star / self.signal_norm if self.signal_norm > 0 else math.nan


def _scan(traj: AnyTrajectory, t_max: float | None, ppd: int, cap: int) -> FloatArray:
    """The scan of :func:`early_stopping` (see there): ``0``, a log grid over the whole
    horizon, and a finer log grid over the transitions."""
    sym = traj if isinstance(traj, Trajectory) else traj.symmetric
    lam = sym.lam
    top = float(np.max(np.abs(lam))) if lam.size else 1.0
    top = top if top > 0 else 1.0
    pos = lam[lam > 0.05 * top]
    q = float(pos.min()) if pos.size else top
    sv = sym.init_singular_values
    sv = sv[sv > 0]
    w_hi = sym.alpha * float(sv.max()) ** 2 if sv.size else sym.alpha
    w_lo = sym.alpha * float(sv.min()) ** 2 if sv.size else sym.alpha
    t_lo = 1e-3 / (2.0 * top)
    t_hi = (4.0 * max(math.log(q / w_hi), 1.0) + 10.0) / (2.0 * q)
    if t_max is not None:
        t_hi = as_positive_scalar(t_max, "t_max")
        t_lo = min(t_lo, t_hi / 10.0)
    num = max(2, math.ceil(ppd * math.log10(t_hi / t_lo)) + 1)
    parts = [np.zeros(1), np.geomspace(t_lo, t_hi, num)]
    # a transition of rate lam centred at t_i >= log(lam / w) / (2 lam) lasts ~1/lam, i.e. a
    # relative width >= 2 / log(lam / w): four points per width from the first transition on
    growth = max(math.log(top / w_lo), 1.0)
    t_first = max(math.log(top / w_hi), 0.0) / (4.0 * top)
    if t_first < t_hi:
        start = max(t_first, t_lo)
        fine = min(cap, math.ceil(math.log(t_hi / start) / math.log1p(0.5 / growth)) + 1)
        parts.append(np.geomspace(start, t_hi, max(fine, 2)))
    return np.unique(np.concatenate(parts))


def early_stopping(
    traj: AnyTrajectory,
    target: NoisyTarget,
    *,
    t_max: float | None = None,
    points_per_decade: int = 60,
    max_points: int = 20_000,
) -> EarlyStopping:
    r"""The exact test-error curve and the optimal stopping time of one trajectory.

    The scan runs from ``1e-3 / (2 max|lam|)`` to ``t_max`` (default: four leading-order
    transition times ``log(lam / (alpha s_1^2)) / (2 lam)`` of the slowest mode with
    ``lam >= 0.05 max|lam|``, plus ``10 / (2 lam)``), log-spaced (``points_per_decade``), and
    from the first transition on with a relative spacing ``1 / (2 G)``,
    ``G = log(max|lam| / (alpha s_min^2))`` (``s`` the init's singular values): a transition of
    rate ``lam`` lasts ``~1/lam`` and is centred after ``log(lam / w0) / (2 lam)``, so its
    relative width is at least ``2 / G`` and every dip of the curve gets four samples (at most
    ``max_points``). The lowest sampled local minima are refined by ``brentq`` on the exact
    :func:`signal_error_rate` (:func:`minimize_in_time`). Cost: one factor evaluation per scan
    point, ``~ 4.6 G`` per decade (``O(n)`` each on the spectral path).

    Parameters
    ----------
    traj : Trajectory or AsymmetricTrajectory
        The exact flow on ``target.Y`` (:meth:`NoisyTarget.trajectory`).
    target : NoisyTarget
    t_max : float, optional
        Horizon of the scan, ``> 0``.
    points_per_decade : int
        Density of the log-spaced part of the scan (``>= 4``).
    max_points : int
        Cap on the fine part of the scan (``>= 100``).

    Returns
    -------
    EarlyStopping

    Examples
    --------
    >>> import mfflow
    >>> target = mfflow.noisy_target([40.0, 25.0], n=60, noise=1.0, seed=0)
    >>> traj = target.trajectory(mfflow.gaussian_init(60, 4, seed=1), 1e-10)
    >>> stop = early_stopping(traj, target)
    >>> bool(stop.error_star < min(truncation_errors(target)))   # partial learning shrinks
    True
    """
    _check_pair(traj, target)
    ppd = as_positive_int(points_per_decade, "points_per_decade", minimum=4)
    cap = as_positive_int(max_points, "max_points", minimum=100)
    grid = _scan(traj, t_max, ppd, cap)
    cache: dict[bytes, FloatArray] = {}

    def value(x: FloatArray) -> FloatArray:
        key = x.tobytes()
        if key not in cache:
            cache[key] = np.sqrt(np.maximum(_evaluate(traj, target, x, rate=False)[0], 0.0))
        return cache[key]

    def rate(x: FloatArray) -> FloatArray:
        out = _evaluate(traj, target, x, rate=True)[1]
        assert out is not None
        return out

    t_star, e_star, at_end = minimize_in_time(value, rate, grid)
    return EarlyStopping(
        t=grid,
        error=value(grid),
        t_star=t_star,
        error_star=e_star,
        at_horizon=at_end,
        alpha=traj.alpha,
        signal_norm=target.signal_norm,
    )


# ---- the baselines -----------------------------------------------------------------------------


def truncation_errors(target: NoisyTarget, k_max: int | None = None) -> FloatArray:
    r"""Errors ``||Yhat_k - Y*||_F`` of the Eckart-Young truncations of the noisy ``Y``.

    ``Yhat_k`` keeps the ``k`` largest singular triples of ``Y`` (symmetric: the ``k``
    eigenpairs of largest ``|lam|``), the best rank-``k`` approximation of ``Y`` in every
    unitarily invariant norm: the "truncated SVD" denoiser. From the top triples only:
    ``||Yhat_k - Y*||^2 = sum_{i<=k} y_i^2 - 2 sum_{i<=k} y_i u_i^T Y* v_i + ||Y*||^2``.

    Parameters
    ----------
    target : NoisyTarget
    k_max : int, optional
        Largest rank (default ``min(2 k + 5, min(m, n))``, ``k`` the signal's rank).

    Returns
    -------
    (k_max + 1,) array
        Entry ``k`` is the error of the rank-``k`` truncation (``k = 0``: ``||Y*||_F``).

    Examples
    --------
    >>> import mfflow
    >>> target = mfflow.noisy_target([40.0, 25.0], n=60, noise=1.0, seed=0)
    >>> errs = truncation_errors(target, k_max=4)
    >>> int(errs.argmin()), bool(errs[2] < errs[0])
    (2, True)
    """
    if not isinstance(target, NoisyTarget):
        raise TypeError(f"target: expected a NoisyTarget, got {type(target).__name__}")
    m, n = target.shape
    kk = min(2 * target.values.size + 5, min(m, n)) if k_max is None else k_max
    kk = as_positive_int(kk, "k_max", minimum=0)
    if kk > min(m, n):
        raise ValueError(f"k_max: expected at most min(m, n) = {min(m, n)}, got {kk}")
    P, v, Q = target.left, target.values, target.right
    if target.symmetric:
        if kk == 0 or 2 * kk >= n:
            lam, vec = np.linalg.eigh(target.Y)
        else:  # both ends of the spectrum: the largest |lam| are among them
            top = scipy.linalg.eigh(target.Y, subset_by_index=[n - kk, n - 1])
            bot = scipy.linalg.eigh(target.Y, subset_by_index=[0, kk - 1])
            lam = np.concatenate([top[0], bot[0]])
            vec = np.concatenate([top[1], bot[1]], axis=1)
        order = np.argsort(-np.abs(lam), kind="stable")[:kk]
        y, u = lam[order], vec[:, order]
        w = u
    else:
        u_, s_, vt_ = scipy.linalg.svd(target.Y, full_matrices=False, lapack_driver="gesdd")
        y, u, w = s_[:kk], u_[:, :kk], vt_[:kk].T
    proj = np.sum((u.T @ P) * v * (w.T @ Q), axis=1)  # u_i^T Y* w_i
    steps = y * y - 2.0 * y * proj
    err2 = float(np.sum(v * v)) + np.concatenate([[0.0], np.cumsum(steps)])
    return np.sqrt(np.maximum(err2, 0.0))
