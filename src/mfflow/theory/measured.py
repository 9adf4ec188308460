"""Measured quantities of the exact trajectory: where the error is below eps, and when each
mode is learned (log-spaced scans refined by root finding)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

from ..riccati import Trajectory
from ..validation import as_positive_scalar
from .constants import (
    Interval,
    as_eps,
    certified_intervals,
    constants_of,
    positive_part,
    trajectory_of,
)

__all__ = [
    "ROOT_RTOL",
    "SCAN_POINTS_PER_DECADE",
    "measured_intervals",
    "measured_of",
    "measured_transition_times",
    "rank_k_targets",
    "root",
    "scan_grid",
    "scan_horizon",
    "spectral_errors",
]

FloatArray = NDArray[np.float64]

#: Points per decade of the log-spaced scan that brackets roots (spacing ``10**(1/200) - 1``, about
#: 1.2% relative). Only a run of ``error <= eps`` narrower than that can be missed, and points
#: inside the certified intervals are always added to the scan.
SCAN_POINTS_PER_DECADE = 200
#: Relative tolerance of the root finder (``brentq``'s ``xtol`` is this times the bracket end).
ROOT_RTOL = 1e-12


def rank_k_targets(traj: Trajectory) -> FloatArray:
    """``(K, n)`` diagonals of ``Phi^T Yhat_k^+ Phi``: the top-k positive eigenvalues kept."""
    lam = traj.lam
    K = positive_part(lam).size
    d = np.zeros((K, lam.size))
    for k in range(K):
        d[k, : k + 1] = lam[: k + 1]
    return d


def spectral_errors(traj: Trajectory, diag: FloatArray, t: FloatArray) -> FloatArray:
    """``||W(t) - Yhat||_2`` for ``Yhat = Phi diag(diag) Phi^T``: ``(T,)``.

    ``diag`` is ``(n,)`` or ``(J, n)`` (then ``(J, T)``); one evaluation of ``W~`` for all.
    """
    d2 = np.atleast_2d(diag)
    out = np.empty((d2.shape[0], t.size))
    batch = max(1, 2**22 // max(traj.n**2, 1))
    idx = np.arange(traj.n)
    for s in range(0, t.size, batch):
        w = traj.W_eig(t[s : s + batch])
        for j, d in enumerate(d2):
            diff = w.copy()
            diff[:, idx, idx] -= d
            out[j, s : s + batch] = np.max(np.abs(np.linalg.eigvalsh(diff)), axis=1)
    return out if np.ndim(diag) == 2 else out[0]


def scan_horizon(traj: Trajectory, eps: float | None = None) -> tuple[float, float]:
    """``(t_lo, t_hi)`` of the scan: from well before any transition to long after the last.

    ``t_hi`` covers the slowest positive mode's transition with a factor 8 and a margin of
    ``e^{100}`` on the scale, and (given ``eps``) the ``1/(2t)`` decay of zero modes below eps.
    """
    lam = traj.lam
    pos = positive_part(lam)
    top = float(np.max(np.abs(lam))) if lam.size else 1.0
    top = top if top > 0 else 1.0
    slow = float(pos.min()) if pos.size else top
    t_lo = 1e-3 / (2.0 * top)
    t_hi = 8.0 * (abs(math.log(traj.alpha)) + 100.0) / (2.0 * slow)
    if eps is not None:
        t_hi = max(t_hi, 10.0 / eps)
    return t_lo, t_hi


def scan_grid(t_lo: float, t_hi: float, extra: list[float] | None = None) -> FloatArray:
    num = max(2, math.ceil(SCAN_POINTS_PER_DECADE * math.log10(t_hi / t_lo)) + 1)
    pts = [np.zeros(1), np.geomspace(t_lo, t_hi, num)]
    if extra:
        pts.append(np.array([x for x in extra if math.isfinite(x) and x >= 0.0]))
    return np.unique(np.concatenate(pts))


def root(fun: Any, lo: float, hi: float) -> float:
    """A root of ``fun`` in ``[lo, hi]`` (a sign change), to ``ROOT_RTOL`` relative."""
    return float(brentq(fun, lo, hi, xtol=ROOT_RTOL * max(hi, 1e-300), rtol=ROOT_RTOL))


def _components(below: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Index ranges ``[i, j]`` (inclusive) of maximal runs of ``True``."""
    padded = np.concatenate([[False], below, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _overlap(x: Interval, y: Interval) -> float:
    return min(x[1], y[1]) - max(x[0], y[0])


def measured_of(
    traj: Trajectory, eps: float, certified: list[Interval] | None
) -> list[Interval | None]:
    targets = rank_k_targets(traj)
    K = targets.shape[0]
    if K == 0:
        return []
    extra: list[float] = []
    for a, b in certified or []:
        if a <= b and math.isfinite(a):
            hi = b if math.isfinite(b) else 4.0 * a + 1.0
            extra.extend(np.linspace(max(a, 0.0), hi, 9).tolist())
    t_lo, t_hi = scan_horizon(traj, eps)
    grid = scan_grid(t_lo, t_hi, extra)
    err = spectral_errors(traj, targets, grid) - eps  # (K, T)
    out: list[Interval | None] = []
    for k in range(K):
        f_k = err[k]
        comps = _components(f_k <= 0.0)
        if not comps:
            out.append(None)
            continue
        spans = [(float(grid[i]), float(grid[j])) for i, j in comps]
        chosen = None
        cert = certified[k] if certified is not None else None
        if cert is not None and cert[0] <= cert[1]:
            best = max(range(len(comps)), key=lambda c: _overlap(spans[c], cert))
            if _overlap(spans[best], cert) >= 0.0:
                chosen = best
        if chosen is None:
            chosen = max(range(len(comps)), key=lambda c: spans[c][1] - spans[c][0])
        i, j = comps[chosen]
        d = targets[k]

        def fun(t: float, d: FloatArray = d) -> float:
            return float(spectral_errors(traj, d, np.array([t]))[0] - eps)

        left = 0.0 if i == 0 else root(fun, float(grid[i - 1]), float(grid[i]))
        right = math.inf if j == grid.size - 1 else root(fun, float(grid[j]), float(grid[j + 1]))
        out.append((left, right))
    return out


def measured_intervals(
    Y: ArrayLike | Trajectory,
    U0: ArrayLike | None = None,
    alpha: float | None = None,
    eps: float | None = None,
    *,
    weight_decay: float | None = None,
) -> list[Interval | None]:
    r"""Where the error is actually below ``eps``: per ``k``, the maximal interval with
    ``||W(t) - Yhat_k||_2 <= eps`` around the certified one.

    The error ``f_k(t) = ||W(t) - Yhat_k||_2 - eps`` is evaluated from the exact closed form in
    ``Y``'s eigenbasis, where ``Yhat_k`` is diagonal, on a log-spaced grid from
    ``1e-3 / (2 |lam|_max)`` to ``8 (|log alpha| + 100) / (2 sigma_K)`` (and at least
    ``10 / eps``) with :data:`SCAN_POINTS_PER_DECADE` points per decade, plus ``t = 0`` and points
    inside the certified intervals. Each maximal run of grid points with ``f_k <= 0`` is a
    candidate; the one overlapping the corrected certified interval most is chosen (else the
    longest), and its ends are refined by ``scipy.optimize.brentq`` to :data:`ROOT_RTOL`
    relative. A run reaching the end of the scan has right end ``inf`` (every positive mode has
    long since converged); one starting at ``t = 0`` has left end ``0``.

    ``Yhat_k`` is the rank-``k`` truncation of the positive part of ``Y`` (its top ``k``
    positive eigenpairs), which is :func:`best_rank_k` for PSD ``Y`` and, for indefinite ``Y``,
    what the PSD ``W(t)`` can approach (the flow's limit is the positive part).

    Parameters
    ----------
    Y : (n, n) array, or a Trajectory
        Symmetric target, or a built trajectory (``U0`` and ``alpha`` then omitted).
    U0 : (n, r) array
        Any shape (singular ``W0`` allowed).
    alpha : float
        ``alpha > 0``.
    eps : float
        ``eps > 0``.
    weight_decay : float, optional
        ``gamma >= 0``: the flow with loss ``+ gamma/2 ||U||_F^2``, compared with the
        truncations of ``(Y - gamma I)_+`` (docs/math.md §10).

    Returns
    -------
    list of ((float, float) or None)
        Length ``K`` (number of positive eigenvalues of ``Y``); ``None`` where the error never
        drops below ``eps`` on the scan. A run narrower than the grid spacing (relative
        ``10**(1/200) - 1 ~ 1.2%``) away from the certified points can be missed.

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([4.0, 2.0, 1.0], seed=0)
    >>> U0 = mfflow.orthogonal_init(3, 5, seed=1)
    >>> [(round(a, 2), round(b, 2)) for a, b in measured_intervals(Y, U0, 1e-20, eps=0.1)]
    [(6.39, 10.95), (12.42, 21.93), (24.12, inf)]
    """
    traj = trajectory_of(Y, U0, alpha, weight_decay)
    e = as_eps(eps)
    const = constants_of(traj, e, "corrected")
    cert = certified_intervals(const.sigma, const.c_eps, const.C_eps, traj.alpha, "corrected")
    return measured_of(traj, e, cert if const.sigma.size else None)


def measured_transition_times(
    Y: ArrayLike | Trajectory,
    U0: ArrayLike | None = None,
    alpha: float | None = None,
    fraction: float = 0.5,
    *,
    weight_decay: float | None = None,
) -> FloatArray:
    r"""Time at which each positive mode's component first reaches ``fraction * sigma_i``.

    The component is ``u_i^T W(t) u_i`` (:meth:`Trajectory.mode_values`, ``u_i`` the ``i``-th
    eigenvector of ``Y``); the first crossing is bracketed on the log-spaced scan of
    :func:`measured_intervals` and refined by ``brentq``. Compare with
    :func:`transition_times`: the difference stays ``O(1)`` as ``alpha -> 0`` and each factor
    ``e^{-m}`` on ``alpha`` delays mode ``i`` by ``m / (2 sigma_i)``.

    Parameters
    ----------
    Y : (n, n) array, or a Trajectory
        Symmetric target, or a built trajectory (``U0`` and ``alpha`` then omitted).
    U0 : (n, r) array
    alpha : float
        ``alpha > 0``.
    fraction : float
        ``0 < fraction < 1``.
    weight_decay : float, optional
        ``gamma >= 0``: the times at which each mode with ``sigma_i > gamma`` reaches
        ``fraction * (sigma_i - gamma)`` under the flow with weight decay.

    Returns
    -------
    (K,) array
        One time per positive eigenvalue, descending ``sigma``; ``0`` if it starts above the
        level; ``inf`` for a mode that never reaches it (the first time of an event that never
        happens: an init with no component along that mode beyond the larger modes' rows, e.g.
        outside the range of a rank-deficient ``W0``, or orthogonal to its eigenvector). Never
        NaN.

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([4.0, 1.0], seed=0)
    >>> U0 = mfflow.spectral_init(Y, 1.0)      # spectral: exact logistic curves
    >>> measured_transition_times(Y, U0, alpha=1e-10).round(4)  # (log(1e10 (sigma - a))) / 2 sigma
    array([ 3.0515, 11.5129])
    """
    traj = trajectory_of(Y, U0, alpha, weight_decay)
    f = as_positive_scalar(fraction, "fraction")
    if f >= 1.0:
        raise ValueError(f"fraction: expected 0 < fraction < 1, got {f!r}")
    sigma = positive_part(traj.lam)
    if sigma.size == 0:
        return np.zeros(0)
    grid = scan_grid(*scan_horizon(traj))
    vals = traj.mode_values(grid)[:, : sigma.size] - f * sigma  # (T, K)
    out = np.full(sigma.size, np.inf)
    for i in range(sigma.size):
        hit = np.flatnonzero(vals[:, i] >= 0.0)
        if hit.size == 0:
            continue
        j = int(hit[0])
        if j == 0:
            out[i] = 0.0
            continue

        def fun(t: float, i: int = i) -> float:
            return float(traj.mode_values(t)[i] - f * sigma[i])

        out[i] = root(fun, float(grid[j - 1]), float(grid[j]))
    return out
