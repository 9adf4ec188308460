"""Eigenvalues of ``W(t) = F F^T`` from the factor, with relative accuracy where it is possible.

On NumPy each time point's factor goes through LAPACK's preconditioned Jacobi SVD (``dgejsv``
with row pivoting), which keeps high *relative* accuracy for the small singular values of a
graded factor (measured: 4e-14 relative against 130-digit arithmetic for eigenvalues down to
1e-126 of a norm-5 matrix). Other namespaces use their ``svdvals``: accurate relative to the
largest singular value, not to each.
"""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import lapack

from ..backend import Backend

__all__ = ["AccuracyWarning", "factor_eigvals", "singular_values_relative"]

FloatArray = NDArray[np.float64]


class AccuracyWarning(UserWarning):
    """A relatively accurate computation could not run and a less accurate one was used."""


def singular_values_relative(F: FloatArray) -> FloatArray:
    """Singular values of ``F`` ``(d, m)``, descending, with high relative accuracy (``dgejsv``).

    If LAPACK reports a failure (``info != 0``), ``numpy.linalg.svd`` is used instead with an
    :class:`AccuracyWarning` saying so: its small singular values are accurate only relative to
    the largest one.
    """
    d, m = F.shape
    if m == 0:
        return np.zeros(0)
    a = F if d >= m else F.T
    scale = float(np.max(np.abs(a)))
    if scale == 0.0:
        return np.zeros(min(d, m))
    res = lapack.dgejsv(a / scale, joba=2, jobu=3, jobv=3, jobr=1, jobt=0, jobp=1)
    sva, work, info = res[0], res[3], res[-1]
    if info == 0:
        sv = sva * (work[0] / work[1]) if work[1] != 0 else sva
        return np.sort(sv)[::-1] * scale
    warnings.warn(
        f"LAPACK dgejsv failed (info={info}) on a {d}x{m} factor; eigenvalues from "
        "numpy.linalg.svd, accurate relative to the largest only",
        AccuracyWarning,
        stacklevel=3,
    )
    return cast(FloatArray, np.linalg.svd(a, compute_uv=False))


def factor_eigvals(b: Backend, F: Any, k: int, algorithm: str = "svd") -> Any:
    """The top ``k`` eigenvalues of ``F F^T`` for a batch of factors ``F`` ``(T, d, m)``.

    ``algorithm="svd"``: rows sorted by decreasing norm (the factor is graded by rows: modes
    not yet learned, or decaying, have tiny rows), then one batched LAPACK SVD (``gesdd``:
    Householder bidiagonalization and a bidiagonal SVD, which is relatively accurate).
    ``"jacobi"``: :func:`singular_values_relative` per time point (``dgejsv``), whose relative
    accuracy for graded matrices is guaranteed. Returns ``(T, k)``, descending, zero-padded
    beyond ``min(d, m)``.
    """
    xp = b.xp
    T = F.shape[0]
    if b.name == "numpy":
        out = np.zeros((T, k))
        if algorithm == "jacobi":
            for i in range(T):
                sv = singular_values_relative(F[i])[:k]
                out[i, : sv.size] = sv**2
            return out
        if min(F.shape[1:]) == 0:
            return out
        order = np.argsort(-np.einsum("tij,tij->ti", F, F), axis=1, kind="stable")
        sv = np.linalg.svd(np.take_along_axis(F, order[:, :, None], axis=1), compute_uv=False)
        kk = min(k, sv.shape[1])
        out[:, :kk] = sv[:, :kk] ** 2
        return out
    vals = xp.linalg.svdvals(F) ** 2 if min(F.shape[1:]) else xp.zeros((T, 0), dtype=b.dtype)
    vals = vals[:, :k]
    if vals.shape[1] < k:
        pad = xp.zeros((T, k - vals.shape[1]), dtype=b.dtype, device=b.device)
        vals = xp.concat([vals, pad], axis=1)
    return vals
