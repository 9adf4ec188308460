"""The baselines for a noisy target: Eckart-Young truncations of ``Y`` and the large-``n``
random-matrix (spiked model) prediction of them and of the flow's optimal stopping
(docs/math.md §12)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from ..validation import (
    MAGNITUDE_MAX,
    MAGNITUDE_MIN,
    as_alpha,
    as_positive_int,
    as_positive_scalar,
    as_values,
)
from .target import FloatArray, NoisyTarget

__all__ = ["SpikedPrediction", "spiked_prediction", "truncation_errors"]

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


@dataclass(frozen=True, eq=False)
class SpikedPrediction:
    r"""Large-``n`` predictions for a spiked noisy target (Benaych-Georges & Nadakuditi).

    Attributes
    ----------
    values : (k,) array
        ``theta``, descending.
    noise : float
        ``s``.
    shape : (int, int)
        ``(m, n)``.
    symmetric : bool
    threshold : float
        BBP threshold: ``s sqrt(n)`` (symmetric), ``s (m n)^{1/4}`` (rectangular).
    bulk_edge : float
        ``2 s sqrt(n)`` (symmetric), ``s (sqrt(m) + sqrt(n))`` (rectangular).
    outliers : (k,) array
        Predicted top eigen/singular values ``y_i`` of ``Y`` (the bulk edge for undetectable
        spikes).
    overlap_left, overlap_right : (k,) arrays
        Predicted ``cos^2`` between the sample and the signal vectors (0 below threshold;
        equal when symmetric).
    detectable : (k,) bool array
        ``theta_i > threshold``.
    truncation_errors : (k + 1,) array
        Predicted ``||Yhat_j - Y*||_F``, ``j = 0..k`` (beyond the detectable spikes a
        truncation adds bulk directions: ``+ bulk_edge^2`` each).
    early_stopping_error : float
        Predicted optimal early-stopping error as ``alpha -> 0``.
    stopping_mode : int
        Which mode (1-based) is in its transition at the optimum (0: stop at ``t = 0``).
    stopping_fraction : float
        ``f* = theta c_l c_r / y`` of that mode: its learned fraction at the optimum.
    """

    values: FloatArray
    noise: float
    shape: tuple[int, int]
    symmetric: bool
    threshold: float
    bulk_edge: float
    outliers: FloatArray
    overlap_left: FloatArray
    overlap_right: FloatArray
    detectable: NDArray[np.bool_]
    truncation_errors: FloatArray
    early_stopping_error: float
    stopping_mode: int
    stopping_fraction: float

    @property
    def best_rank(self) -> int:
        """The rank of the best predicted truncation."""
        return int(np.argmin(self.truncation_errors))

    @property
    def truncation_error(self) -> float:
        """The best predicted truncation error."""
        return float(np.min(self.truncation_errors))

    def stopping_time(self, alpha: float, scale: float = 1.0) -> float:
        r"""Predicted optimal stopping time for a spectral init ``W~0 = scale I``: the time at
        which the mode in transition reaches ``f* y_j`` (eq. 3.2 with the predicted outlier
        ``y_j`` of :attr:`stopping_mode`),
        ``(log(1/alpha) + log(f* (y_j - alpha scale) / ((1 - f*) scale))) / (2 y_j)``;
        ``0`` if the mode is 0."""
        if self.stopping_mode == 0:
            return 0.0
        a = as_alpha(alpha)
        sc = as_positive_scalar(scale, "scale")
        f = self.stopping_fraction
        y = float(self.outliers[self.stopping_mode - 1])
        return (math.log(1.0 / a) + math.log(f * (y - a * sc) / ((1.0 - f) * sc))) / (2.0 * y)


def spiked_prediction(
    values: ArrayLike, noise: float, n: int, *, m: int | None = None
) -> SpikedPrediction:
    r"""The random-matrix prediction of the outliers, overlaps and errors, for ``n -> infinity``.

    Symmetric (``N = s (G + G^T)/sqrt(2)``, ``a = s^2 n``, ``x = theta / sqrt(a)``): for
    ``x > 1``, ``y = sqrt(a) (x + 1/x)`` and ``cos^2 = 1 - 1/x^2``; else ``y = 2 sqrt(a)``
    (the bulk edge), ``cos^2 = 0`` (Benaych-Georges & Nadakuditi 2011). Rectangular
    (``N = s G`` ``(m, n)``, ``N_max = max(m, n)``, ``beta = min(m, n) / N_max``,
    ``x = theta / (s sqrt(N_max))``): for ``x > beta^{1/4}``,
    ``y = s sqrt(N_max) sqrt((x + 1/x)(x + beta/x))``, ``cos^2 = (x^4 - beta)/(x^4 + beta x^2)``
    on the shorter side and ``(x^4 - beta)/(x^4 + x^2)`` on the longer (Benaych-Georges &
    Nadakuditi 2012; Gavish & Donoho 2014).

    Each spike contributes to ``||W - Y*||_F^2`` (cross terms between spikes vanish as
    ``n -> infinity``), with ``kappa = c_l c_r``:

    * ``theta^2`` if not learned;
    * ``y^2 + theta^2 - 2 y theta kappa`` if learned fully (a truncation keeping it): for the
      symmetric model ``2 a + 3 a^2 / theta^2``, smaller than ``theta^2`` iff ``theta^2 > 3 a``;
    * ``theta^2 (1 - kappa^2)`` at the best partial fraction ``f* = theta kappa / y`` (the flow,
      inside the mode's transition; symmetric: ``2 a - a^2 / theta^2``, ``f* = (x^2-1)/(x^2+1)``).

    As ``alpha -> 0`` the flow's transitions separate, in the order of ``y``, and the bulk
    (``<= bulk_edge < y``) comes last, so its optimal error is
    ``min_j [sum_{i<j} full_i + partial_j + sum_{i>j} theta_i^2]`` over the detectable ``j``.

    **Finite n.** Outliers fluctuate by ``O(s)`` and overlaps by ``O(n^{-1/2})``, so every
    prediction has a relative error ``O(n^{-1/2})`` (``n`` the smaller dimension), slower
    (``O(n^{-1/3})``) within ``O(n^{-1/3})`` of the threshold. Stated: the errors and the
    stopping time within ``2 / sqrt(n)`` relative for spikes away from the threshold (measured
    at most ``0.97 / sqrt(n)``, ``n = 250 .. 10^4``; docs/math.md §12). Finite ``alpha`` lets
    neighbouring transitions overlap, which can also *lower* the optimum (``-2%`` from
    ``alpha = 1e-40`` to ``1e-4`` at ``n = 1000``).

    Parameters
    ----------
    values : (k,) array
        Signal singular values ``theta >= 0`` (any order).
    noise : float
        ``s > 0``.
    n : int
        Columns (and rows when symmetric).
    m : int, optional
        Rows: given, the rectangular model.

    Returns
    -------
    SpikedPrediction

    Examples
    --------
    >>> pred = spiked_prediction([30.0, 15.0, 5.0], noise=1.0, n=100)
    >>> pred.threshold, pred.detectable.tolist()
    (10.0, [True, True, False])
    >>> pred.outliers.round(4).tolist(), pred.best_rank, pred.stopping_mode
    ([33.3333, 21.6667, 20.0], 1, 2)
    """
    theta = np.sort(as_values(values, "values", nonnegative=True))[::-1]
    s = as_positive_scalar(noise, "noise", minimum=MAGNITUDE_MIN, maximum=MAGNITUDE_MAX)
    nn = as_positive_int(n, "n")
    if m is None:
        a = s * s * nn
        x = theta / math.sqrt(a)
        det = x > 1.0
        xs = np.where(det, x, 1.0)
        y = np.where(det, math.sqrt(a) * (xs + 1.0 / xs), 2.0 * math.sqrt(a))
        cl = np.where(det, 1.0 - 1.0 / xs**2, 0.0)
        cr = cl
        threshold, edge, shape, sym = math.sqrt(a), 2.0 * math.sqrt(a), (nn, nn), True
    else:
        mm = as_positive_int(m, "m")
        big, small = max(mm, nn), min(mm, nn)
        beta = small / big
        scale = s * math.sqrt(big)
        x = theta / scale
        det = x > beta**0.25
        xs = np.where(det, x, 1.0)
        y = np.where(det, scale * np.sqrt((xs + 1.0 / xs) * (xs + beta / xs)), 0.0)
        y = np.where(det, y, s * (math.sqrt(mm) + math.sqrt(nn)))
        c_short = np.where(det, (xs**4 - beta) / (xs**4 + beta * xs**2), 0.0)
        c_long = np.where(det, (xs**4 - beta) / (xs**4 + xs**2), 0.0)
        cl, cr = (c_short, c_long) if mm <= nn else (c_long, c_short)
        threshold, edge = s * (mm * nn) ** 0.25, s * (math.sqrt(mm) + math.sqrt(nn))
        shape, sym = (mm, nn), False
    kappa = np.sqrt(cl * cr)
    full = y * y + theta * theta - 2.0 * y * theta * kappa
    partial = theta * theta * (1.0 - kappa * kappa)
    excluded = theta * theta
    k = theta.size
    trunc = np.empty(k + 1)
    for j in range(k + 1):
        kept = np.arange(k) < j
        contrib = np.where(kept & det, full, 0.0) + np.where(kept & ~det, excluded + edge**2, 0.0)
        trunc[j] = math.sqrt(max(float(np.sum(np.where(kept, contrib, excluded))), 0.0))
    best, mode = float(np.sum(excluded)), 0
    for j in np.flatnonzero(det).tolist():
        val = float(np.sum(full[:j]) + partial[j] + np.sum(excluded[j + 1 :]))
        if val < best:
            best, mode = val, int(j) + 1
    frac = float(theta[mode - 1] * kappa[mode - 1] / y[mode - 1]) if mode else 0.0
    return SpikedPrediction(
        values=theta,
        noise=s,
        shape=shape,
        symmetric=sym,
        threshold=float(threshold),
        bulk_edge=float(edge),
        outliers=y,
        overlap_left=cl,
        overlap_right=cr,
        detectable=det,
        truncation_errors=trunc,
        early_stopping_error=math.sqrt(max(best, 0.0)),  # a rounding-level negative is 0
        stopping_mode=mode,
        stopping_fraction=frac,
    )
