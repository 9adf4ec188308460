"""The exact test error ``||W(t) - Y*||_F`` of a flow on a noisy target, its rate, and the
optimal stopping time (docs/math.md §12)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import brentq

from ..asymmetric.exact import AsymmetricTrajectory
from ..riccati import LT_MAX, Trajectory
from ..validation import MAGNITUDE_MIN, as_positive_int, as_positive_scalar, as_times
from .target import AnyTrajectory, FloatArray, NoisyTarget

__all__ = [
    "STOP_RTOL",
    "EarlyStopping",
    "early_stopping",
    "minimize_in_time",
    "signal_error",
    "signal_error_rate",
]

#: Relative tolerance of the root finder refining the optimal stopping time.
STOP_RTOL = 1e-12
#: Bytes of the per-chunk factor arrays when evaluating many times.
_CHUNK_BYTES = 32 * 2**20

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
        t_hi = as_positive_scalar(t_max, "t_max", minimum=MAGNITUDE_MIN)
        if t_hi * top > LT_MAX:
            raise ValueError(
                f"t_max: expected max|lam| * t_max <= {LT_MAX:g} (every mode has converged far "
                f"earlier), got t_max = {t_hi:g} with max|lam| = {top:g}"
            )
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
        Density of the log-spaced part of the scan (``4 .. 100000``).
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
    >>> bool(stop.error_star < min(mfflow.truncation_errors(target)))   # partial learning shrinks
    True
    """
    _check_pair(traj, target)
    ppd = as_positive_int(points_per_decade, "points_per_decade", minimum=4, maximum=100_000)
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
