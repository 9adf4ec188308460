"""Small linear-algebra helpers shared across modules."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from .validation import as_symmetric

__all__ = ["eig_clusters", "eig_tol", "eigh_descending", "logsumexp"]

_EPS = float(np.finfo(np.float64).eps)


def eig_tol(lam: NDArray[np.float64]) -> float:
    """``8 d eps max|lam|``: eigenvalues closer than this are equal to rounding.

    The one tolerance mfflow uses to decide that two eigenvalues of ``Y`` coincide (clusters) and
    that an eigenvalue is zero (the positive part of ``Y``): ``eigh`` computes each eigenvalue to
    a few ``eps max|lam|``. Distinctions below it would only show after ``t ~ 1e15 / max|lam|``.
    """
    return 8 * lam.size * _EPS * max(float(np.max(np.abs(lam))) if lam.size else 0.0, 1e-300)


def eig_clusters(lam: NDArray[np.float64], tol: float) -> Iterator[tuple[int, int]]:
    """Runs ``[start, stop)`` of the descending ``lam`` with ``lam[start] - lam[i] <= tol``."""
    start, n = 0, lam.size
    while start < n:
        stop = start + 1
        while stop < n and lam[start] - lam[stop] <= tol:
            stop += 1
        yield start, stop
        start = stop


def eigh_descending(Y: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Eigendecomposition ``Y = Phi diag(lam) Phi^T`` with eigenvalues in descending order.

    Parameters
    ----------
    Y : (n, n) symmetric array
        Checked (:func:`mfflow.validation.as_symmetric`), never symmetrized.

    Returns
    -------
    lam : (n,) array, descending
    Phi : (n, n) orthogonal array, column ``i`` the eigenvector of ``lam[i]``
    """
    lam, phi = np.linalg.eigh(as_symmetric(Y, "Y"))
    return lam[::-1].copy(), phi[:, ::-1].copy()


def logsumexp(a: NDArray[np.float64], axis: int) -> NDArray[np.float64]:
    """``log(sum(exp(a), axis))`` without overflow; ``-inf`` entries contribute nothing."""
    m = np.max(a, axis=axis, keepdims=True)
    m_safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(under="ignore"):
        s = np.sum(np.exp(a - m_safe), axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):
        out = np.log(s) + m_safe
    return np.squeeze(out, axis=axis)
