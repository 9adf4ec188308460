"""Seeded, reproducible targets ``Y`` and initialization shapes ``U0``.

The initialization scale is kept apart from the shape, as in the paper: gradient flow starts
from ``U(0) = sqrt(alpha) U0``, so every helper here returns a *shape* ``U0`` and never an alpha.
Every helper takes ``seed`` (an int or a :class:`numpy.random.Generator`) and is deterministic
given it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .linalg import eigh_descending
from .validation import (
    Seed,
    as_positive_int,
    as_rng,
    as_scales,
    as_symmetric,
    as_vector,
    check_fits,
)

__all__ = [
    "gaussian_init",
    "low_rank_init",
    "make_target",
    "orthogonal_init",
    "random_orthogonal",
    "rectangular_target",
    "spectral_init",
]


def random_orthogonal(n: int, seed: Seed = 0) -> NDArray[np.float64]:
    """A Haar-distributed random orthogonal matrix ``(n, n)``.

    QR of a Gaussian matrix with the signs of ``diag(R)`` folded into ``Q`` (Mezzadri 2007).
    """
    n = as_positive_int(n, "n")
    check_fits((n, n), "n", copies=3)  # the Gaussian draw, Q and R
    z = as_rng(seed).standard_normal((n, n))
    q, r = np.linalg.qr(z)
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def make_target(spectrum: ArrayLike, n: int | None = None, seed: Seed = 0) -> NDArray[np.float64]:
    """A symmetric target ``Y = Q diag(spectrum, 0, ..., 0) Q^T`` in a random orthogonal basis.

    Parameters
    ----------
    spectrum : (K,) array
        Eigenvalues of ``Y``; any signs (negative values give an indefinite target).
    n : int, optional
        Size of ``Y``; ``n >= K``, padded with zero eigenvalues (rank-deficient ``Y``).
        Defaults to ``K``.
    seed : int or Generator
        Seed of the random basis ``Q``.

    Returns
    -------
    Y : (n, n) array
        Exactly symmetric.

    Examples
    --------
    >>> Y = make_target([5.0, 3.0, 1.0], n=6, seed=1)   # rank 3, n = 6
    >>> Y.shape
    (6, 6)
    """
    spec = as_vector(spectrum, "spectrum")
    k = spec.size
    n = k if n is None else as_positive_int(n, "n")
    if n < k:
        raise ValueError(f"n: expected n >= len(spectrum) = {k}, got {n}")
    check_fits((n, n), "n", copies=4)  # Q, its draw, Q diag(s), Y
    full = np.zeros(n)
    full[:k] = spec
    q = random_orthogonal(n, seed)
    y = (q * full) @ q.T
    return 0.5 * (y + y.T)


def gaussian_init(n: int, r: int, seed: Seed = 0) -> NDArray[np.float64]:
    """Gaussian shape ``U0`` ``(n, r)``, i.i.d. ``N(0, 1/r)`` entries: ``E[U0 U0^T] = I_n``."""
    n = as_positive_int(n, "n")
    r = as_positive_int(r, "r")
    check_fits((n, r), "n, r", copies=2)
    return as_rng(seed).standard_normal((n, r)) / np.sqrt(r)


def orthogonal_init(n: int, r: int, seed: Seed = 0) -> NDArray[np.float64]:
    """Shape ``U0`` ``(n, r)`` with orthonormal columns (``r <= n``) or rows (``r >= n``).

    For ``r >= n``, ``U0 U0^T = I_n``; for ``r < n``, ``U0 U0^T`` is a random rank-r projector.
    """
    n = as_positive_int(n, "n")
    r = as_positive_int(r, "r")
    m = max(n, r)
    check_fits((m, m), "n, r", what="orthogonal matrix (and its QR)", copies=3)
    q = random_orthogonal(m, seed)
    return q[:n, :r]


def low_rank_init(n: int, r: int, rank: int, seed: Seed = 0) -> NDArray[np.float64]:
    """Gaussian shape ``U0`` ``(n, r)`` of exact rank ``rank <= min(n, r)`` (singular ``W0``).

    ``U0 = [A, 0]`` with ``A`` ``(n, rank)`` i.i.d. ``N(0, 1/rank)`` and ``r - rank`` zero columns.
    The rank is exact *in floating point*: a product ``A B`` or a right rotation would leave
    ``~1e-16`` components in the other directions, which the flow amplifies like ``e^{2 lam t}``
    until they are learned. ``W0 = U0 U0^T`` (all the dynamics depend on) is the same as for any
    rotation ``U0 Q``.
    """
    n = as_positive_int(n, "n")
    r = as_positive_int(r, "r")
    rank = as_positive_int(rank, "rank")
    if rank > min(n, r):
        raise ValueError(f"rank: expected rank <= min(n, r) = {min(n, r)}, got {rank}")
    check_fits((n, r), "n, r", copies=2)
    u0 = np.zeros((n, r))
    u0[:, :rank] = as_rng(seed).standard_normal((n, rank)) / np.sqrt(rank)
    return u0


def spectral_init(
    Y: ArrayLike, scales: ArrayLike | float = 1.0, r: int | None = None, seed: Seed = None
) -> NDArray[np.float64]:
    """Spectral shape: ``U0 = Phi diag(sqrt(s)) E V^T`` so that ``Phi^T U0 U0^T Phi = diag(s)``.

    Parameters
    ----------
    Y : (n, n) array
        Symmetric target with eigenvectors ``Phi`` (eigenvalues descending).
    scales : float or (n,) array
        Per-mode scales ``s_i >= 0`` (the diagonal of ``W~0``), ordered like the eigenvalues of
        ``Y`` (descending). A scalar applies to every mode.
    r : int, optional
        Number of columns; defaults to ``n``. If ``r < n`` at most ``r`` scales may be non-zero.
    seed : int or Generator, optional
        If given, ``V`` is a random ``(r, r)`` orthogonal matrix (the right factor does not change
        ``W0``); otherwise ``V = I``.

    Returns
    -------
    U0 : (n, r) array
    """
    y = as_symmetric(Y, "Y")
    n = y.shape[0]
    r = n if r is None else as_positive_int(r, "r")
    check_fits((n, r), "r")
    s = as_scales(scales, n)
    support = np.flatnonzero(s > 0)
    if support.size > r:
        raise ValueError(
            f"scales: at most r = {r} modes can be non-zero for an (n, r) = ({n}, {r}) shape, "
            f"got {support.size}"
        )
    _, phi = eigh_descending(y)
    u0 = np.zeros((n, r))
    u0[:, : support.size] = phi[:, support] * np.sqrt(s[support])
    if seed is not None:
        u0 = u0 @ random_orthogonal(r, seed).T
    return u0


def rectangular_target(
    spectrum: ArrayLike, rows: int, cols: int, seed: Seed = 0
) -> NDArray[np.float64]:
    """A target ``Y = P diag(spectrum) Q^T`` ``(rows, cols)`` with Haar-random orthonormal
    ``P`` ``(rows, K)``, ``Q`` ``(cols, K)``: singular values ``spectrum`` (``>= 0``, ``K`` of
    them, ``K <= min(rows, cols)``).
    """
    spec = as_vector(spectrum, "spectrum")
    k = spec.size
    if np.any(spec < 0):
        raise ValueError(f"spectrum: expected singular values >= 0, got {spec}")
    rows = as_positive_int(rows, "rows")
    cols = as_positive_int(cols, "cols")
    check_fits((rows, cols), "rows, cols", copies=2)
    if k > min(rows, cols):
        raise ValueError(
            f"spectrum: expected at most min(rows, cols) = {min(rows, cols)} singular values for "
            f"a {rows} x {cols} target, got {k}"
        )
    rng = as_rng(seed)
    p, _ = np.linalg.qr(rng.standard_normal((rows, k)))
    q, _ = np.linalg.qr(rng.standard_normal((cols, k)))
    return (p * spec) @ q.T
