"""Reading numbers off sampled learning curves."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .validation import as_nonempty_times, as_real

__all__ = ["crossing_times"]

FloatArray = NDArray[np.float64]


def crossing_times(t: ArrayLike, values: ArrayLike, levels: ArrayLike) -> FloatArray:
    """First times each curve reaches its level, by linear interpolation between samples.

    Parameters
    ----------
    t : (T,) array, increasing
    values : (T, k) array
        ``k`` curves (e.g. singular values of ``W(t)``).
    levels : float or (k,) array
        Level per curve (e.g. half of each target singular value).

    Returns
    -------
    (k,) array
        First crossing time per curve; ``t[0]`` if it starts at/above its level; NaN if it never
        does within the samples (a NaN sample, e.g. a diverged record, never counts as a
        crossing). The times must be finite and sorted.

    Examples
    --------
    >>> crossing_times([0.0, 1.0, 2.0], [[0.0], [0.2], [1.0]], 0.6)
    array([1.5])
    """
    tt = as_nonempty_times(t, "t")
    if np.ndim(as_real(t, "t")) != 1:
        raise ValueError(f"t: expected a 1-D array of times, got shape {np.shape(t)}")
    if np.any(np.diff(tt) < 0):
        raise ValueError("t: expected non-decreasing times (sort the samples first)")
    v = as_real(values, "values")
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[0] != tt.size:
        raise ValueError(f"values: expected shape (T, k) with T = len(t), got {v.shape}")
    raw = as_real(levels, "levels")
    if raw.ndim > 1 or raw.size not in (1, v.shape[1]) or not np.all(np.isfinite(raw)):
        raise ValueError(
            f"levels: expected a finite number or {v.shape[1]} of them, got {raw.shape}"
        )
    lev = np.broadcast_to(raw.ravel(), (v.shape[1],))
    out = np.full(v.shape[1], np.nan)
    for i in range(v.shape[1]):
        above = np.flatnonzero(v[:, i] >= lev[i])
        if above.size == 0:
            continue
        k = int(above[0])
        if k == 0:
            out[i] = tt[0]
            continue
        v0, v1 = v[k - 1, i], v[k, i]
        out[i] = tt[k - 1] + (tt[k] - tt[k - 1]) * (lev[i] - v0) / (v1 - v0)
    return out
