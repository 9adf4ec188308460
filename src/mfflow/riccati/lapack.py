"""NumPy fast path of the dense solve: ``P <- P C^{-T}`` with ``C C^T = R^T R + diag(e0)``.

The generic path of :func:`mfflow.riccati.kernel.dense_factor` forms ``M`` for a batch of
time points and calls the namespace's batched Cholesky and triangular solve. On NumPy two
faster routes compute the same thing in place:

* ``m >= BLAS_MIN_M``: per time point, ``R^T R`` by ``dlauum`` on the triangular part and
  ``dsyrk`` on the rest, ``dpotrf`` and ``dtrsm``, all on the arrays in place (a C-ordered
  ``(d, m)`` slice is the Fortran ``(m, d)`` array of its transpose);
* ``m < BLAS_MIN_M``: one batched ``numpy.linalg.cholesky`` and a column-by-column forward
  substitution batched over time points (per-call overhead dominates for small ``m``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import blas, lapack

__all__ = ["BLAS_MIN_M", "solve_scaled"]

FloatArray = NDArray[np.float64]

#: From this factor width on, the solve calls LAPACK/BLAS per time point; below it, batched
#: NumPy calls.
BLAS_MIN_M = 24


def solve_scaled(R: FloatArray, e0: FloatArray, P: FloatArray) -> FloatArray:
    """``P C^{-T}`` (computed in place in ``P``, which is returned).

    Parameters
    ----------
    R : (k, d, m) array, C-contiguous
        Column-scaled factor; ``R[i, :m]`` is lower triangular (``L`` is lower echelon with
        pivot ``j`` at a row ``>= j``), so ``R^T R`` uses its triangular part.
    e0 : (k, m) array
    P : (k, d, m) array
    """
    m = R.shape[2]
    if m >= BLAS_MIN_M:
        _per_time(R, e0, P)
    else:
        _batched(R, e0, P)
    return P


def _per_time(R: FloatArray, e0: FloatArray, P: FloatArray) -> None:
    d, m = R.shape[1:]
    idx = np.arange(m)
    for i in range(R.shape[0]):
        rt = R[i].T  # (m, d), Fortran-contiguous
        c = np.array(rt[:, :m], order="F")  # R1^T: upper triangular (L is lower echelon)
        c, _ = lapack.dlauum(c, lower=0, overwrite_c=1)  # R1^T R1 (upper triangle)
        if d > m:
            c = blas.dsyrk(1.0, rt[:, m:], beta=1.0, c=c, trans=0, lower=0, overwrite_c=1)
        c[idx, idx] += e0[i]
        c, info = lapack.dpotrf(c, lower=0, clean=0, overwrite_a=1)  # M = U^T U, U = C^T
        if info != 0:
            raise np.linalg.LinAlgError(
                f"Cholesky of the {m}x{m} system failed (info={info}): a bug, the system has a "
                "unit-order diagonal and is positive definite by construction"
            )
        blas.dtrsm(1.0, c, P[i].T, side=0, lower=0, trans_a=1, overwrite_b=1)  # U^T X = P^T


def _batched(R: FloatArray, e0: FloatArray, P: FloatArray) -> None:
    m = R.shape[2]
    M = np.swapaxes(R, 1, 2) @ R
    idx = np.arange(m)
    M[:, idx, idx] += e0
    C = np.linalg.cholesky(M)  # (k, m, m) lower
    for j in range(m):  # F C^T = P: forward substitution over columns, as dtrsm does
        if j:
            P[:, :, j] -= np.einsum("tni,ti->tn", P[:, :, :j], C[:, j, :j])
        P[:, :, j] /= C[:, j, j][:, None]
