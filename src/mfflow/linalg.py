"""Small linear-algebra helpers shared across modules."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["eigh_descending", "logsumexp"]


def eigh_descending(Y: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Eigendecomposition ``Y = Phi diag(lam) Phi^T`` with eigenvalues in descending order.

    Parameters
    ----------
    Y : (n, n) symmetric array

    Returns
    -------
    lam : (n,) array, descending
    Phi : (n, n) orthogonal array, column ``i`` the eigenvector of ``lam[i]``
    """
    lam, phi = np.linalg.eigh(Y)
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
