r"""The one-off set-up of a closed-form trajectory: basis, init factor, and which path applies.

Everything here runs once per problem in float64 NumPy on the host (docs/math.md §2):

1. the eigenbasis of ``Y`` (descending eigenvalues), or, for a target given as a factor
   ``(basis (n, K), values (K,))``, an orthonormal basis of the ``d <= K + r`` dimensional
   subspace ``span(basis, U0)`` outside which ``W(t)`` is zero (no ``n x n`` matrix formed);
2. ``U~0 = Phi^T U0`` ``(d, r)``; inside each cluster of equal eigenvalues the basis is rotated
   so that the cluster's rows of ``U~0`` are orthogonal (eigenvectors of a repeated eigenvalue
   are only defined up to a rotation);
3. the **exact rank structure** of the init: walking the modes in descending order, the part of
   row ``i`` of ``U~0`` not explained by the rows before it is a new pivot, unless it is below
   ``RANK_RTOL`` times the init's scale, in which case it is rounding and set to exactly zero
   (as the spectral path does for its scales). The result is a factor ``W~0 = L L^T`` with ``L``
   ``(d, m)`` *lower echelon*: column ``j`` is zero above its pivot row, and pivots sit only at
   modes the init actually touches. A plain QR would put a rounding-level pivot at a mode the
   init misses, and that mode's growth ``e^{2 lam t}`` would then dominate a column it has no
   business in;
4. the path: **spectral** when ``W~0`` is diagonal (each mode decouples into a logistic curve),
   **dense** otherwise. A randomized probe of the couplings between clusters (``O(d r)``)
   rejects most dense inits before anything ``d x d`` is formed; a spectral candidate is
   verified exactly (one ``d x d`` Gram matrix) and needs no QR.

**Weight decay** ``+ gamma/2 ||U||_F^2`` (docs/math.md §10) makes the flow
``U' = ((Y - gamma I) - U U^T) U``: the same problem with every eigenvalue shifted by
``-gamma``. The eigenbasis, the cluster rotation, the init's factor and the path are those of
``Y`` (decided before the shift, so they do not depend on ``gamma``); only ``lam`` becomes
``lam - gamma``. For a factored target the reduction stays exact: ``span(basis, U0)`` is
invariant under ``Y - gamma I`` as under ``Y``, so ``U(t)`` never leaves it; the directions of
that subspace outside ``basis`` get the eigenvalue ``-gamma`` (not ``0``), and on its orthogonal
complement ``W(t) = 0`` as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..linalg import eig_clusters, eig_tol, eigh_descending
from ..validation import as_init, as_matrix, as_real, as_symmetric, as_vector, as_weight_decay

__all__ = ["RANK_RTOL", "SPECTRAL_RTOL", "Structure", "analyze", "echelon_factor", "is_factored"]

FloatArray = NDArray[np.float64]
Path = Literal["spectral", "dense"]

_EPS = float(np.finfo(np.float64).eps)
#: Relative size of the off-diagonal of ``W~0`` below which an init is spectral.
SPECTRAL_RTOL = 1e-12
#: A component of the init below ``RANK_RTOL * max(d, r)`` times its scale (the largest row norm
#: of ``U~0``), once the larger modes' rows are projected out, is rounding: an exact zero.
RANK_RTOL = 8 * _EPS


@dataclass(frozen=True, eq=False)
class Structure:
    """What the set-up found: basis, eigenvalues, path and the init's factor.

    Attributes
    ----------
    lam : (d,) array, descending
    Phi : (n, d) array, orthonormal columns
    path : {"spectral", "dense"}
    L : (d, m) array or None
        Dense path: lower echelon factor, ``Phi^T U0 U0^T Phi = L L^T``.
    scales : (d,) array or None
        Spectral path: ``s_i >= 0``, ``Phi^T U0 U0^T Phi = diag(s)`` (exact zeros for modes the
        init does not touch).
    r : int
        Number of columns of ``U0``.
    weight_decay : float
        ``gamma >= 0``: ``lam`` holds the eigenvalues of ``Y - gamma I`` (those of ``Y`` when 0).
    """

    lam: FloatArray
    Phi: FloatArray
    path: Path
    L: FloatArray | None
    scales: FloatArray | None
    r: int
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        # a Structure comes from analyze(); one built by hand is checked (no assert: -O safe)
        if self.path not in ("spectral", "dense"):
            raise ValueError(f"path: expected 'spectral' or 'dense', got {self.path!r}")
        need = "scales" if self.path == "spectral" else "L"
        if not isinstance(getattr(self, need), np.ndarray):
            raise TypeError(f"{need}: the {self.path} path needs an array, got None")
        d = np.shape(self.lam)[0] if np.ndim(self.lam) == 1 else -1
        if d < 0 or np.shape(self.Phi)[1:] != (d,) or np.shape(getattr(self, need))[0] != d:
            raise ValueError(
                "Structure: inconsistent shapes (build it with mfflow.riccati.analyze(Y, U0))"
            )

    @property
    def factor(self) -> FloatArray:
        """The dense path's ``L`` ``(d, m)`` (a ``ValueError`` on the spectral path)."""
        if self.L is None:
            raise ValueError("L: the spectral path has scales, not a factor L")
        return self.L

    @property
    def spectral_scales(self) -> FloatArray:
        """The spectral path's scales ``(d,)`` (a ``ValueError`` on the dense path)."""
        if self.scales is None:
            raise ValueError("scales: the dense path has a factor L, not scales")
        return self.scales


def is_factored(Y: Any) -> bool:
    """Whether ``Y`` is a target given as a factor ``(basis (n, K), values (K,))``: a tuple whose
    first item is 2-D. A tuple of rows (first item 1-D) is a matrix."""
    return isinstance(Y, tuple) and len(Y) > 0 and np.ndim(_shape_only(Y[0])) == 2


def _shape_only(x: Any) -> Any:
    """Something with ``x``'s number of dimensions (torch/JAX arrays without converting)."""
    ndim = getattr(x, "ndim", None)
    return np.empty((0,) * ndim) if isinstance(ndim, int) else x


def echelon_factor(ut: FloatArray) -> FloatArray:
    """Lower echelon ``L`` ``(d, m)`` with ``ut ut^T = L L^T`` (rows in the given order).

    Row ``i`` of ``L`` holds the coordinates of row ``i`` of ``ut`` in the orthonormal basis
    built from the rows before it; a new basis vector (pivot) is added only when the remaining
    part exceeds ``tol = RANK_RTOL * max(d, r)`` times the largest row norm, and a row whose
    norm is below ``tol`` is set to zero: rounding-level components are exact zeros and ``m`` is
    the numerical rank.

    Generic inits take one Householder QR of ``ut^T``; the greedy walk runs only when that QR
    shows a rank-deficient leading block.

    Parameters
    ----------
    ut : (d, r) array

    Returns
    -------
    (d, m) array, ``m <= min(d, r)``

    Examples
    --------
    >>> ut = np.array([[1e-20, 0.0], [3.0, 4.0], [1.0, 0.0]])   # mode 0 untouched (rounding)
    >>> echelon_factor(ut).round(12)
    array([[0. , 0. ],
           [5. , 0. ],
           [0.6, 0.8]])
    """
    d, r = ut.shape
    norms = np.linalg.norm(ut, axis=1)
    top = float(norms.max()) if d else 0.0
    if top == 0.0:
        return np.zeros((d, 0))
    tol = RANK_RTOL * max(d, r) * top
    small = norms <= tol
    if np.any(small):
        ut = ut.copy()
        ut[small] = 0.0
    R = np.linalg.qr(ut.T, mode="r")  # (min(r, d), d)
    k = R.shape[0]
    diag = np.abs(np.diag(R[:, :k]))
    if np.all(diag > tol):
        return np.ascontiguousarray(R.T)
    return _greedy_echelon(ut, tol)


def _greedy_echelon(ut: FloatArray, tol: float) -> FloatArray:
    """Gram-Schmidt (twice) over the rows in order, a pivot only above ``tol``."""
    d, r = ut.shape
    Q = np.zeros((r, min(d, r)))
    L = np.zeros((d, min(d, r)))
    p = 0
    for i in range(d):
        a = ut[i]
        c = Q[:, :p].T @ a
        res = a - Q[:, :p] @ c
        c2 = Q[:, :p].T @ res
        res -= Q[:, :p] @ c2
        c += c2
        L[i, :p] = c
        nrm = float(np.linalg.norm(res))
        if p < Q.shape[1] and nrm > tol:
            Q[:, p] = res / nrm
            L[i, p] = nrm
            p += 1
    return np.ascontiguousarray(L[:, :p])


def _low_rank_target(Y: tuple[Any, ...], basis_tol: float) -> tuple[FloatArray, FloatArray]:
    """Check a target given as a factor ``(basis (n, K), values (K,))``.

    ``basis_tol`` is the tolerance on ``max|B^T B - I|``: ``1e-10``, or ``1e-5`` for a float32
    torch/JAX basis (orthonormal only to float32 rounding), which is then re-orthonormalized in
    float64 (QR, column signs kept).
    """
    if len(Y) != 2:
        raise ValueError(
            f"Y: a low-rank target is a pair (basis (n, K), values (K,)), got {len(Y)} items"
        )
    basis = as_matrix(Y[0], "Y[0] (basis)")
    n, k = basis.shape
    raw = as_real(Y[1], "Y[1] (values)")
    if raw.ndim > 1 or raw.size != k:
        raise ValueError(
            f"Y[1] (values): expected shape ({k},) to match the basis, got {np.shape(raw)}"
        )
    values = as_vector(np.atleast_1d(raw), "Y[1] (values)")
    if values.shape != (k,):
        raise ValueError(
            f"Y[1] (values): expected shape ({k},) to match the basis, got {np.shape(Y[1])}"
        )
    if k > n:
        raise ValueError(f"Y[0] (basis): expected shape (n, K) with K <= n, got {basis.shape}")
    gram_err = float(np.max(np.abs(basis.T @ basis - np.eye(k))))
    if gram_err > basis_tol:
        raise ValueError(
            f"Y[0] (basis): expected orthonormal columns (max|B^T B - I| <= {basis_tol:g}), "
            f"got {gram_err:.3g}"
        )
    if gram_err > 1e-10:
        q, r = np.linalg.qr(basis)
        basis = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    return basis, values


def _reduced_basis(
    basis: FloatArray, values: FloatArray, u0: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Orthonormal basis ``Q`` ``(n, d)`` of ``span(basis, U0)`` and ``Y``'s eigenvalues on it.

    ``Q = [basis, Q2]`` with ``Q2`` spanning the part of ``U0`` orthogonal to ``basis`` (one
    column-pivoted QR of that part, re-orthogonalized against ``basis``); ``Y`` is zero on
    ``Q2``. Columns sorted by descending eigenvalue; ``d = K + rank((I - B B^T) U0) <= K + r``.
    """
    import scipy.linalg

    perp = u0 - basis @ (basis.T @ u0)
    q2, rr, _ = scipy.linalg.qr(perp, mode="economic", pivoting=True)
    tol = max(perp.shape) * _EPS * max(float(np.abs(u0).max()), 1e-300)
    rank = int(np.count_nonzero(np.abs(np.diag(rr)) > tol))
    q2 = q2[:, :rank]
    q2 = q2 - basis @ (basis.T @ q2)
    q2, _ = np.linalg.qr(q2)
    q = np.concatenate([basis, q2], axis=1)
    lam = np.concatenate([values, np.zeros(rank)])
    order = np.argsort(-lam, kind="stable")
    return lam[order], q[:, order]


def _rotate_clusters(lam: FloatArray, Phi: FloatArray, ut: FloatArray) -> None:
    """In place: within each cluster of equal eigenvalues, rotate ``Phi`` (and ``ut``) so that
    the cluster's rows of ``ut`` are orthogonal, with descending norms.

    Rows that are orthogonal already (to rounding: a spectral init, an init built in this very
    eigenbasis, the null space of a low-rank ``Y``) are only sorted; otherwise the cluster's
    block of ``W~0`` (``c x c``) is diagonalized by an ``eigh``.
    """
    for start, stop in eig_clusters(lam, eig_tol(lam)):
        if stop - start > 1:
            block = ut[start:stop]
            gram = block @ block.T
            norms = np.diag(gram).copy()
            tol = RANK_RTOL * max(block.shape) * float(norms.max())
            if float(np.max(np.abs(gram - np.diag(norms)))) <= tol:
                order = np.argsort(-norms, kind="stable")
                Phi[:, start:stop] = Phi[:, start:stop][:, order]
                ut[start:stop] = block[order]
                continue
            _, v = np.linalg.eigh(0.5 * (gram + gram.T))
            v = v[:, ::-1]
            Phi[:, start:stop] = Phi[:, start:stop] @ v
            ut[start:stop] = v.T @ block


def _cross_cluster_coupling(lam: FloatArray, ut: FloatArray) -> float:
    """A randomized estimate of the off-diagonal of ``W~0 = ut ut^T`` *between* clusters of equal
    eigenvalues (which no rotation within a cluster removes), relative to ``max diag(W~0)``.

    Four fixed Gaussian probes, ``O(d r)``: ``||O z||`` estimates the Frobenius norm of the
    coupling ``O``. Used only to *reject* the spectral path cheaply (above ``1e-8``); a spectral
    candidate is then verified exactly by :func:`_exact_scales`.
    """
    d = ut.shape[0]
    z = np.random.default_rng(0).standard_normal((d, 4))
    y = ut @ (ut.T @ z)
    for start, stop in eig_clusters(lam, eig_tol(lam)):
        block = ut[start:stop]
        y[start:stop] -= block @ (block.T @ z[start:stop])
    scale = float(np.max(np.einsum("ij,ij->i", ut, ut))) if d else 0.0
    return float(np.linalg.norm(y)) / 2.0 / scale if scale > 0 else 0.0


def _exact_scales(ut: FloatArray, rtol: float) -> FloatArray | None:
    """``diag(W~0)`` if ``W~0 = ut ut^T`` is diagonal to ``rtol`` (relative), else ``None``.

    Rows below the rank tolerance of :func:`echelon_factor` are exact zeros first (modes the
    init does not touch get an exact zero scale, as on the dense path).
    """
    d, r = ut.shape
    norms = np.linalg.norm(ut, axis=1)
    top = float(norms.max()) if d else 0.0
    if top == 0.0:
        return np.zeros(d)
    small = norms <= RANK_RTOL * max(d, r) * top
    u = ut.copy()
    u[small] = 0.0
    w0 = u @ u.T
    s = np.diag(w0).copy()
    w0[np.diag_indices(d)] = 0.0
    if float(np.max(np.abs(w0))) > rtol * top**2:
        return None
    return s


def analyze(
    Y: ArrayLike | tuple[Any, ...],
    U0: ArrayLike,
    spectral: bool | None = None,
    basis_tol: float = 1e-10,
    weight_decay: float = 0.0,
) -> Structure:
    """The set-up of :func:`mfflow.closed_form` on host float64 arrays.

    Parameters
    ----------
    Y : (n, n) array or (basis (n, K), values (K,))
    U0 : (n, r) array
    spectral : bool or None
        ``None`` detects, ``True`` requires, ``False`` refuses the spectral path.
    basis_tol : float
        Orthonormality tolerance of a factored target's basis.
    weight_decay : float
        ``gamma >= 0``: the structure of the flow with target ``Y - gamma I`` (module docstring).

    Returns
    -------
    Structure
    """
    gamma = as_weight_decay(weight_decay)
    if spectral is not None and not isinstance(spectral, bool | np.bool_):
        raise TypeError(f"spectral: expected None, True or False, got {spectral!r}")
    if is_factored(Y):
        basis, values = _low_rank_target(Y, basis_tol)
        u0 = as_init(U0, basis.shape[0], "U0")
        lam, phi = _reduced_basis(basis, values, u0)
    else:
        y = as_symmetric(Y, "Y")
        u0 = as_init(U0, y.shape[0], "U0")
        lam, phi = eigh_descending(y)
    ut = phi.T @ u0  # (d, r)
    r = u0.shape[1]
    scales = None
    if spectral is not False and _cross_cluster_coupling(lam, ut) <= 1e-8:
        _rotate_clusters(lam, phi, ut)
        scales = _exact_scales(ut, SPECTRAL_RTOL)
    shifted = lam - gamma if gamma else lam  # after the decisions, none of which depends on gamma
    if scales is not None:
        return Structure(shifted, phi, "spectral", None, scales, r, gamma)
    if spectral is True:
        raise ValueError(
            "U0: spectral=True but Phi^T U0 U0^T Phi is not diagonal (relative off-diagonal "
            f"> {SPECTRAL_RTOL:g}); pass spectral=None or False for a general init"
        )
    return Structure(shifted, phi, "dense", echelon_factor(ut), None, r, gamma)
