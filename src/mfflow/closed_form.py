r"""The exact solution of gradient flow on symmetric matrix factorization.

Gradient flow ``dU/dt = (Y - U U^T) U`` from ``U(0) = sqrt(alpha) U0`` drives ``W = U U^T``
along the matrix Riccati equation ``dW/dt = (Y - W) W + W (Y - W)``, ``W(0) = alpha U0 U0^T``,
whose solution (Min & Vidal, eq. 6) is, in the eigenbasis ``Y = Phi diag(lam) Phi^T``,

.. math::

    \tilde W(t) = S \, \alpha \tilde W_0 (I + \alpha G \tilde W_0)^{-1} S, \qquad
    S = \mathrm{diag}(e^{\lambda_i t}), \quad
    G = \mathrm{diag}\Big(\frac{e^{2\lambda_i t} - 1}{\lambda_i}\Big).

It holds for any shape ``U0`` (``r < n``, ``r = n``, ``r > n``, singular ``W0``) and any
symmetric ``Y`` (indefinite, rank-deficient); ``W0`` is never inverted.

Evaluated verbatim it overflows (``e^{2 lam t}`` at the last transition is
``~alpha^{-lam_1/lam_K}``) and cancels. We evaluate it as follows (MATH.md section 2):

1. ``Phi^T U0 = (Q R)^T`` by a reduced QR, so ``W~0 = L L^T`` with ``L = R^T`` ``(n, m)``,
   ``m = min(n, r)``, *lower trapezoidal* in the basis of descending eigenvalues. This grading is
   what keeps the small system well conditioned at long times: column ``j`` of ``L`` only touches
   modes ``j, j+1, ...``, so it is dominated by the growth of mode ``j``.
2. Push-through: ``W~ = P M^{-1} P^T`` with ``P = S L D`` and
   ``M = D (alpha^{-1} I + L^T G L) D`` ``(m, m)``, where the column scaling ``D`` is chosen,
   in log space, from the largest of the log-terms of column ``j`` (``-log alpha`` and
   ``log g_k + 2 log|L_kj|``): every exponential evaluated is ``exp(x)`` with ``x <= 0``,
   exactly ``exp(0)`` at each column's dominant entry (so ``lam t ~ 1e4`` loses no digits), and
   ``M``'s diagonal lies in ``[1, n + 1]``. ``P`` is ``R`` scaled row by row with bounded
   factors (see :func:`_dense_factor`).
3. ``M = C C^T`` (Cholesky) and the factor ``F~ = P C^{-T}``, ``W~ = F~ F~^T``,
   ``W = Phi W~ Phi^T``.

Exponentials below the float64 range are flushed to zero before any matrix product (no
subnormal slowdown); their true values are below what float64 can represent in the result.

Under a *spectral* initialization (``W~0`` diagonal with entries ``s_i``) the modes decouple
into logistic curves (eq. 7), evaluated in ``O(n)`` per time point as

.. math::

    \sigma_i(t) = \Big( \frac{e^{-2\lambda_i t}}{\alpha s_i} + h_i(t) \Big)^{-1},
    \qquad h_i(t) = \frac{1 - e^{-2\lambda_i t}}{\lambda_i} \;(= 2t \text{ at } \lambda_i = 0),

in log space (``logaddexp``), which is exact algebra on eq. 7 and never overflows.

Reference: H. Min and R. Vidal, "Understanding Incremental Learning with Closed-form Solution to
Gradient Flow on Overparameterized Matrix Factorization", arXiv:2508.20344 (2025).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import blas, lapack

from ._backend import Backend, backend_of, to_numpy
from .linalg import eigh_descending
from .validation import (
    as_alpha,
    as_init,
    as_matrix,
    as_positive_int,
    as_symmetric,
    as_times,
)

__all__ = [
    "Trajectory",
    "closed_form",
    "log_frac",
    "log_growth",
    "spectral_residuals",
    "spectral_scales",
    "spectral_values",
]

FloatArray = NDArray[np.float64]
Path = Literal["spectral", "dense"]

#: exp(x) for x below this is flushed to 0 (it would be subnormal or zero anyway).
_TINY = float(np.finfo(np.float64).tiny)
_LOG_TINY = float(np.log(_TINY))
#: Relative size of the off-diagonal of W~0 below which an init is detected as spectral.
SPECTRAL_RTOL = 1e-12
#: Bytes of the (chunk, n, m) scratch array of the dense path: a chunk of time points stays in
#: cache through its elementwise passes.
_CHUNK_BYTES = 4 * 2**20
#: From this factor width on, the dense path calls LAPACK/BLAS per time point (triangular
#: Gram, Cholesky, triangular solve in place); below it, batched NumPy calls.
_BLAS_MIN_M = 24


def _flushed_exp(x: FloatArray) -> FloatArray:
    """``exp(x)`` for ``x <= ~0`` with results below the normal range set to exactly 0."""
    with np.errstate(under="ignore"):
        return np.where(x < _LOG_TINY, 0.0, np.exp(np.maximum(x, _LOG_TINY)))


def log_frac(lam: FloatArray, t: FloatArray) -> FloatArray:
    """``log((1 - e^{-2|lam| t}) / |lam|)`` (``log(2t)`` at ``lam = 0``): ``(T, n)``, moderate.

    The bounded part of ``log g``; computed directly (``expm1``) and never by subtracting
    ``2 lam t`` from a large number, which would cost ``eps * lam t`` absolute accuracy.
    """
    lt = np.abs(lam)[None, :] * t[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(
            lam[None, :] == 0.0,
            2.0 * t[:, None],
            -np.expm1(-2.0 * lt) / np.where(lam == 0.0, 1.0, np.abs(lam))[None, :],
        )
        return np.log(frac)


def log_growth(lam: FloatArray, t: FloatArray) -> FloatArray:
    r"""``log g_i(t)`` with ``g_i(t) = 2 \int_0^t e^{2 lam_i s} ds = (e^{2 lam_i t} - 1) / lam_i``.

    Parameters
    ----------
    lam : (n,) array
    t : (T,) array, ``t >= 0``

    Returns
    -------
    (T, n) array
        ``2 max(lam, 0) t + log((1 - e^{-2|lam| t}) / |lam|)``; ``log(2t)`` where ``lam = 0``;
        ``-inf`` at ``t = 0``. Accurate for all magnitudes (``expm1``), never overflows.
    """
    return 2.0 * np.maximum(lam, 0.0)[None, :] * t[:, None] + log_frac(lam, t)


def _log_h(lam: FloatArray, t: FloatArray) -> FloatArray:
    """``log h_i(t)``, ``h = (1 - e^{-2 lam t}) / lam = g e^{-2 lam t}``: ``(T, n)``."""
    return 2.0 * np.maximum(-lam, 0.0)[None, :] * t[:, None] + log_frac(lam, t)


def spectral_values(lam: FloatArray, log_scale: FloatArray, t: FloatArray) -> FloatArray:
    r"""Per-mode logistic curves ``sigma_i(t)`` (eq. 7), evaluated stably.

    Parameters
    ----------
    lam : (n,) array
        Eigenvalues of ``Y`` (any sign).
    log_scale : (n,) array
        ``log(alpha s_i)``; ``-inf`` for modes the init does not touch.
    t : (T,) array

    Returns
    -------
    (T, n) array
        ``sigma_i(t) = 1 / (e^{-2 lam_i t} / (alpha s_i) + h_i(t))``.
    """
    a = -2.0 * lam[None, :] * t[:, None] - log_scale[None, :]
    with np.errstate(invalid="ignore"):
        log_den = np.logaddexp(a, _log_h(lam, t))
    return _flushed_exp(-log_den)


def _eig_tol(lam: FloatArray) -> float:
    """Eigenvalues closer than this (``8 d eps max|lam|``) are equal to rounding."""
    return 8 * lam.size * float(np.finfo(np.float64).eps) * max(float(np.max(np.abs(lam))), 1e-300)


def _clusters(lam: FloatArray, tol: float) -> Iterator[tuple[int, int]]:
    """Runs ``[start, stop)`` of the descending ``lam`` with ``lam[start] - lam[i] <= tol``."""
    start, n = 0, lam.size
    while start < n:
        stop = start + 1
        while stop < n and lam[start] - lam[stop] <= tol:
            stop += 1
        yield start, stop
        start = stop


def spectral_scales(
    lam: FloatArray, Phi: FloatArray, U0: FloatArray, rtol: float = SPECTRAL_RTOL
) -> tuple[FloatArray, FloatArray] | None:
    """Detect a spectral initialization; return ``(s, Phi')`` or ``None``.

    ``W~0 = Phi^T U0 U0^T Phi`` is spectral when it is diagonal. Eigenvectors of a repeated
    eigenvalue are only defined up to a rotation, so within each cluster of equal eigenvalues the
    block of ``W~0`` is diagonalized and ``Phi`` rotated accordingly (``Phi'``); the init is
    spectral if what remains off the diagonal is below ``rtol`` times the largest ``s_i``.
    Diagonal entries at the rounding level (``<= 8 n eps max s_i``) are returned as exact zeros.

    Parameters
    ----------
    lam : (n,) array, descending
    Phi : (n, n) array
    U0 : (n, r) array
    rtol : float

    Returns
    -------
    None, or s : (n,) array ``>= 0`` and Phi' : (n, n) array
    """
    n = lam.size
    ut = Phi.T @ U0
    w0 = ut @ ut.T
    scale = float(np.max(np.abs(np.diag(w0)))) if n else 0.0
    if scale == 0.0:
        return np.zeros(n), Phi
    phi = Phi.copy()
    for start, stop in _clusters(lam, _eig_tol(lam)):
        if stop - start > 1:
            block = w0[start:stop, start:stop]
            _, v = np.linalg.eigh(block)
            v = v[:, ::-1]
            phi[:, start:stop] = phi[:, start:stop] @ v
    ut = phi.T @ U0
    w0 = ut @ ut.T
    off = w0 - np.diag(np.diag(w0))
    if float(np.max(np.abs(off))) > rtol * scale:
        return None
    s = np.diag(w0).copy()
    # a scale at the rounding level of W~0 (e.g. ~1e-33 from eigh for an untouched mode) is a
    # zero: eq. 7 with s_i = 0 keeps that mode at 0 forever, and so does the spectral path
    s[s <= 8 * n * np.finfo(np.float64).eps * scale] = 0.0
    return s, phi


@dataclass(frozen=True, eq=False)
class Trajectory:
    r"""The exact gradient-flow trajectory ``W(t) = U(t) U(t)^T``, evaluated lazily.

    Built by :func:`closed_form`; holds what does not depend on ``t`` (the eigendecomposition of
    ``Y`` and the factor of the init) and evaluates at any time(s). Every method accepts a scalar
    ``t`` (the time axis is then dropped) or a 1-D array of ``T`` times.

    Attributes
    ----------
    lam : (d,) array
        Eigenvalues of ``Y`` on the basis ``Phi``, descending (``d = n`` unless the target was
        given as a low-rank factor, see :func:`closed_form`).
    Phi : (n, d) array
        Orthonormal eigenvectors of ``Y`` (columns), matching ``lam``. ``W(t)`` lives in their
        span for all t (for ``d < n`` the complement holds no part of ``Y`` nor of ``U0``).
    alpha : float
        Initialization scale.
    path : {"spectral", "dense"}
        Which exact evaluation is used: per-mode logistic curves (``O(n)`` per time point) or
        the general ``m x m`` Cholesky form.
    rank : int
        ``m``, the number of columns of the factor (``min(n, r)`` for the dense path, the number
        of touched modes for the spectral one); ``rank W(t) = rank W0`` for all t.
    backend : str
        ``"numpy"``, or ``"torch"`` / ``"jax"`` when the inputs were such arrays: evaluations
        then return arrays of that library, dtype (float32 inputs stay float32, anything else
        is float64) and device. The attributes above stay float64 NumPy arrays (the set-up ran
        on the host, see :mod:`mfflow._backend`).
    """

    lam: FloatArray
    Phi: FloatArray
    alpha: float
    path: Path
    _L: FloatArray | None = field(repr=False, default=None)
    _log_scale: FloatArray | None = field(repr=False, default=None)
    _backend: Backend | None = field(repr=False, default=None)
    _dev: dict[str, Any] | None = field(repr=False, default=None)

    def with_alpha(self, alpha: float) -> Trajectory:
        """The same problem at another initialization scale, without redoing the set-up.

        The eigendecomposition of ``Y`` and the factor of ``U0`` do not depend on ``alpha``; only
        the per-time evaluation does. Use it for sweeps over ``alpha`` with a fixed shape::

            base = closed_form(Y, U0, 1.0)
            curves = {a: base.with_alpha(a).eigvals(t) for a in (1e-2, 1e-6, 1e-12)}
        """
        a = as_alpha(alpha)
        if self.path == "spectral":
            assert self._log_scale is not None
            shifted = self._log_scale + (np.log(a) - np.log(self.alpha))
            new = replace(self, alpha=a, _log_scale=shifted, _backend=None, _dev=None)
        else:
            new = replace(self, alpha=a)
        return _attach_backend(new, self._backend) if self.path == "spectral" else new

    @property
    def backend(self) -> str:
        """The array library evaluations return: ``"numpy"``, ``"torch"`` or ``"jax"``."""
        return "numpy" if self._backend is None else self._backend.name

    @property
    def n(self) -> int:
        """Size of the target."""
        return int(self.Phi.shape[0])

    @property
    def dim(self) -> int:
        """``d``: dimension of the subspace the dynamics live in (``n`` unless reduced)."""
        return int(self.lam.size)

    @property
    def reduced(self) -> bool:
        """Whether the dynamics were reduced to a ``d < n`` dimensional subspace."""
        return self.dim < self.n

    def describe(self) -> str:
        """One line saying which exact evaluation this trajectory uses and why it is cheap."""
        what = {
            "spectral": "per-mode logistic curves (spectral init), O(d) per time point",
            "dense": f"{self.rank}x{self.rank} Cholesky solve per time point",
        }[self.path]
        where = (
            f"in the {self.dim}-dimensional subspace span(Y's range, U0) of R^{self.n}"
            if self.reduced
            else f"in the eigenbasis of Y (n = {self.n})"
        )
        if self._backend is not None:
            dtype = "float32" if self._backend.dtype == self._backend.xp.float32 else "float64"
            where += f", evaluated by {self._backend.name} ({dtype}, {self._backend.device})"
        return f"{what}, {where}"

    @property
    def rank(self) -> int:
        """Number of factor columns ``m`` (an upper bound on ``rank W(t)``)."""
        if self.path == "spectral":
            assert self._log_scale is not None
            return int(np.count_nonzero(np.isfinite(self._log_scale)))
        assert self._L is not None
        return int(self._L.shape[1])

    @property
    def Y(self) -> FloatArray:
        """The target ``Phi diag(lam) Phi^T``, ``(n, n)`` (formed on request only)."""
        y = (self.Phi * self.lam) @ self.Phi.T
        return y if self._backend is None else self._backend.asarray(y)

    # ---- core evaluations in the eigenbasis -------------------------------------------------
    def _factor_eig(self, t: FloatArray) -> FloatArray:
        """``F~(t)`` ``(T, n, m)`` with ``W~ = F~ F~^T`` in the eigenbasis of ``Y``."""
        if self.path == "spectral":
            assert self._log_scale is not None
            keep = np.flatnonzero(np.isfinite(self._log_scale))
            vals = spectral_values(self.lam, self._log_scale, t)
            out = np.zeros((t.size, self.dim, keep.size))
            out[:, keep, np.arange(keep.size)] = np.sqrt(vals[:, keep])
            return out
        assert self._L is not None
        return _dense_factor(self.lam, self._L, np.log(self.alpha), t)

    def W_eig(self, t: ArrayLike) -> FloatArray:
        """``W~(t) = Phi^T W(t) Phi``: ``(d, d)`` for scalar t, else ``(T, d, d)``."""
        if self._backend is not None:
            return self._xp_W(t, rotate=False)
        tt, scalar = as_times(t)
        f = self._factor_eig(tt)
        w = f @ np.swapaxes(f, -1, -2)
        return w[0] if scalar else w

    # ---- public evaluations -------------------------------------------------------------------
    def W(self, t: ArrayLike) -> FloatArray:
        """The product ``W(t) = U(t) U(t)^T``: ``(n, n)`` for scalar t, else ``(T, n, n)``."""
        if self._backend is not None:
            return self._xp_W(t, rotate=True)
        tt, scalar = as_times(t)
        f = self.Phi @ self._factor_eig(tt)
        w = f @ np.swapaxes(f, -1, -2)
        return w[0] if scalar else w

    def factor(self, t: ArrayLike) -> FloatArray:
        """A factor ``F(t)`` ``(n, m)`` (or ``(T, n, m)``) with ``W(t) = F F^T``.

        ``F`` equals the flow's ``U(t)`` up to a right orthogonal factor (and zero columns when
        ``r > n``): the product, not the parametrization, is what the closed form determines.
        """
        if self._backend is not None:
            return self._xp_factor(t)
        tt, scalar = as_times(t)
        f = self.Phi @ self._factor_eig(tt)
        return f[0] if scalar else f

    def mode_values(self, t: ArrayLike) -> FloatArray:
        """Components ``u_i^T W(t) u_i`` along the columns of ``Phi``: ``(d,)`` or ``(T, d)``.

        Ordered like ``lam`` (descending). Under a spectral init these are the decoupled learning
        curves ``sigma_{i,W}(t)`` of eq. 7; in general, the diagonal of ``W~(t)``.
        """
        if self._backend is not None:
            return self._xp_mode_values(t)
        tt, scalar = as_times(t)
        if self.path == "spectral":
            assert self._log_scale is not None
            vals = spectral_values(self.lam, self._log_scale, tt)
        else:
            f = self._factor_eig(tt)
            vals = np.einsum("tij,tij->ti", f, f)
        return vals[0] if scalar else vals

    def eigvals(self, t: ArrayLike, k: int | None = None) -> FloatArray:
        """Eigenvalues of ``W(t)`` (= its singular values, ``W`` is PSD), descending.

        Returns ``(n,)`` for scalar t, else ``(T, n)``; with ``k``, only the top ``k`` (``(T, k)``,
        useful when ``n`` is large and ``W`` has rank ``<= d``). On the dense path they are the
        squared singular values of the graded factor from LAPACK's preconditioned Jacobi SVD
        (``dgejsv``, row pivoting), which keeps high *relative* accuracy for small eigenvalues.
        With torch/JAX arrays they come from the backend's ``svdvals`` of the factor (NumPy
        only has ``dgejsv``): accurate relative to the largest one, not to each.
        """
        tt, scalar = as_times(to_numpy(t))
        k = self.n if k is None else as_positive_int(k, "k")
        if k > self.n:
            raise ValueError(f"k: expected 1 <= k <= n = {self.n}, got {k}")
        if self._backend is not None:
            return self._xp_eigvals(tt, scalar, k)
        vals = np.zeros((tt.size, k))
        if self.path == "spectral":
            assert self._log_scale is not None
            sv = -np.sort(-spectral_values(self.lam, self._log_scale, tt), axis=1)
            vals[:, : min(k, sv.shape[1])] = sv[:, :k]
        else:
            f = self._factor_eig(tt)
            for i in range(tt.size):
                sv = _singular_values(f[i])[:k]
                vals[i, : sv.size] = sv**2
        return vals[0] if scalar else vals

    def loss(self, t: ArrayLike) -> FloatArray | float:
        r"""The paper's loss ``1/4 ||Y - W(t)||_F^2``: float for scalar t, else ``(T,)``.

        Computed in the eigenbasis, ``1/4 ||diag(lam) - W~(t)||_F^2``. On the spectral path each
        mode's residual ``lam_i - sigma_i(t)`` comes from the cancellation-free closed form.
        """
        if self._backend is not None:
            return self._xp_loss(t)
        tt, scalar = as_times(t)
        if self.path == "spectral":
            assert self._log_scale is not None
            res = spectral_residuals(self.lam, self._log_scale, tt)
            val = 0.25 * np.sum(res**2, axis=1)
        else:
            w = self.W_eig(tt)
            idx = np.arange(self.dim)
            w[:, idx, idx] -= self.lam
            val = 0.25 * np.sum(w**2, axis=(1, 2))
        return float(val[0]) if scalar else val

    def distance(
        self, Z: ArrayLike, t: ArrayLike, ord: Literal[2, "fro"] = 2
    ) -> FloatArray | float:
        """``||W(t) - Z||`` in the spectral (``ord=2``) or Frobenius norm; float or ``(T,)``."""
        z = as_symmetric(to_numpy(Z), "Z")
        if z.shape != (self.n, self.n):
            raise ValueError(f"Z: expected shape ({self.n}, {self.n}), got {z.shape}")
        if ord not in (2, "fro"):
            raise ValueError(f"ord: expected 2 or 'fro', got {ord!r}")
        if self._backend is not None:
            return self._xp_distance(z, t, ord)
        tt, scalar = as_times(t)
        if self.reduced:  # Z may have parts outside the subspace: compare in R^n
            diff = self.W(tt) - z
        else:
            diff = self.W_eig(tt) - self.Phi.T @ z @ self.Phi
        if ord == 2:
            val = np.max(np.abs(np.linalg.eigvalsh(diff)), axis=1)
        elif ord == "fro":
            val = np.sqrt(np.sum(diff**2, axis=(1, 2)))
        else:
            raise ValueError(f"ord: expected 2 or 'fro', got {ord!r}")
        return float(val[0]) if scalar else val

    def limit(self) -> FloatArray:
        r"""``W(inf) = lim_{t -> inf} W(t)``, ``(n, n)``, computed exactly (no large-t evaluation).

        Modes with ``lam <= 0`` die out (zero modes like ``1/(2t)``). The positive eigenvalues are
        visited in descending order, clusters of equal ones together: a cluster learns the part of
        its rows of ``L`` (``W~0 = L L^T``) that is not already in the row space of the rows of
        larger eigenvalues, so the limit on that block is ``lam`` times the projector onto that
        part. For a generic init this is the best rank-``min(r, K+)`` approximation of ``Y``'s
        positive part; for an init missing some eigen-directions those are skipped. Eigenvalues
        within ``8 d eps max|lam|`` of each other (or of zero) are treated as equal (as zero):
        their distinction would only show after ``t ~ 1e15`` time units.
        """
        d = self.dim
        eps = np.finfo(np.float64).eps
        tol_lam = _eig_tol(self.lam)
        w = np.zeros((d, d))
        if self.path == "spectral":
            assert self._log_scale is not None
            keep = (self.lam > tol_lam) & np.isfinite(self._log_scale)
            w[np.diag_indices(d)] = np.where(keep, self.lam, 0.0)
        else:
            assert self._L is not None
            L = self._L
            m = L.shape[1]
            tol = 8 * max(d, m) * eps * max(float(np.max(np.abs(L))), 1e-300)
            used = np.zeros((m, 0))
            positive = int(np.count_nonzero(self.lam > tol_lam))  # a prefix: lam descends
            for start, stop in _clusters(self.lam[:positive], tol_lam):
                block = L[start:stop]
                resid = block - (block @ used) @ used.T
                u_s, sv, vt = np.linalg.svd(resid, full_matrices=False)
                rank = int(np.count_nonzero(sv > tol))
                if rank:
                    q = u_s[:, :rank]
                    root = np.sqrt(self.lam[start:stop])
                    w[start:stop, start:stop] = (root[:, None] * (q @ q.T)) * root[None, :]
                    used = np.linalg.qr(np.concatenate([used, vt[:rank].T], axis=1))[0]
        return self.Phi @ w @ self.Phi.T

    # ---- other array namespaces (torch, JAX): the same formulas through the array API ------
    def _xp_factor_eig(self, t: ArrayLike) -> tuple[Any, bool]:
        b, d = self._backend, self._dev
        assert b is not None and d is not None
        tt, scalar = as_times(to_numpy(t))
        tx = b.asarray(tt)
        if self.path == "spectral":
            vals = _spectral_values_xp(b, d["lam"], d["log_scale"], tx)
            return b.xp.sqrt(vals)[:, :, None] * d["select"][None, :, :], scalar
        return _dense_factor_xp(b, d["lam"], d["L"], math.log(self.alpha), tx), scalar

    def _xp_W(self, t: ArrayLike, rotate: bool) -> Any:
        xp = self._backend.xp  # type: ignore[union-attr]
        f, scalar = self._xp_factor_eig(t)
        if rotate:
            f = self._dev["Phi"] @ f  # type: ignore[index]
        w = f @ xp.matrix_transpose(f)
        return w[0, ...] if scalar else w

    def _xp_factor(self, t: ArrayLike) -> Any:
        f, scalar = self._xp_factor_eig(t)
        f = self._dev["Phi"] @ f  # type: ignore[index]
        return f[0, ...] if scalar else f

    def _xp_mode_values(self, t: ArrayLike) -> Any:
        b, d = self._backend, self._dev
        assert b is not None and d is not None
        if self.path == "spectral":
            tt, scalar = as_times(to_numpy(t))
            vals = _spectral_values_xp(b, d["lam"], d["log_scale"], b.asarray(tt))
        else:
            f, scalar = self._xp_factor_eig(t)
            vals = b.xp.sum(f * f, axis=-1)
        return vals[0, ...] if scalar else vals

    def _xp_eigvals(self, tt: FloatArray, scalar: bool, k: int) -> Any:
        b, d = self._backend, self._dev
        assert b is not None and d is not None
        xp = b.xp
        if self.path == "spectral":
            vals = _spectral_values_xp(b, d["lam"], d["log_scale"], b.asarray(tt))
            vals = xp.sort(vals, axis=1, descending=True)
        else:
            f, _ = self._xp_factor_eig(tt)
            vals = xp.linalg.svdvals(f) ** 2  # descending
        vals = vals[:, :k]
        if vals.shape[1] < k:
            pad = xp.zeros((vals.shape[0], k - vals.shape[1]), dtype=b.dtype, device=b.device)
            vals = xp.concat([vals, pad], axis=1)
        return vals[0, ...] if scalar else vals

    def _xp_loss(self, t: ArrayLike) -> Any:
        b, d = self._backend, self._dev
        assert b is not None and d is not None
        xp = b.xp
        if self.path == "spectral":
            tt, scalar = as_times(to_numpy(t))
            res = _spectral_residuals_xp(b, d["lam"], d["log_scale"], b.asarray(tt))
            val = 0.25 * xp.sum(res**2, axis=1)
        else:
            tt, scalar = as_times(to_numpy(t))
            w = self._xp_W(tt, rotate=False) - d["diag_lam"]
            val = 0.25 * xp.sum(w**2, axis=(1, 2))
        return float(val[0]) if scalar else val

    def _xp_distance(self, z: FloatArray, t: ArrayLike, ord: Literal[2, "fro"]) -> Any:
        b = self._backend
        assert b is not None
        xp = b.xp
        tt, scalar = as_times(to_numpy(t))
        if self.reduced:
            diff = self._xp_W(tt, rotate=True) - b.asarray(z)
        else:
            diff = self._xp_W(tt, rotate=False) - b.asarray(self.Phi.T @ z @ self.Phi)
        if ord == 2:
            val = xp.max(xp.abs(xp.linalg.eigvalsh(diff)), axis=1)
        else:
            val = xp.sqrt(xp.sum(diff**2, axis=(1, 2)))
        return float(val[0]) if scalar else val


def spectral_residuals(lam: FloatArray, log_scale: FloatArray, t: FloatArray) -> FloatArray:
    r"""``lam_i - sigma_i(t)`` without cancellation: ``(T, n)``.

    From eq. 7, with ``a = alpha s_i`` and ``E = e^{-2 lam t}``,
    ``lam - sigma = lam E (lam - a) / (lam E + a (1 - E))``, i.e.
    ``(lam - a) / (1 + a h e^{2 lam t})`` with ``h = (1 - E)/lam``; for ``lam <= 0`` the plain
    difference does not cancel. Untouched modes (``a = 0``) keep ``lam``.
    """
    sig = spectral_values(lam, log_scale, t)
    a = _flushed_exp(np.minimum(log_scale, 700.0))[None, :] * np.ones_like(sig)
    log_q = np.where(
        np.isfinite(log_scale)[None, :],
        log_scale[None, :] + log_growth(lam, t),
        -np.inf,
    )
    with np.errstate(over="ignore"):
        stable = (lam[None, :] - a) / (1.0 + np.exp(np.minimum(log_q, 700.0)))
    return np.where(lam[None, :] > 0, stable, lam[None, :] - sig)


def _dense_factor(
    lam: FloatArray,
    L: FloatArray,
    log_alpha: float,
    t: FloatArray,
    out: FloatArray | None = None,
) -> FloatArray:
    """The stable factor ``F~ = S L C^{-T}`` for times ``t``: ``(T, n, m)`` (into ``out``).

    ``L`` ``(n, m)`` is lower trapezoidal in the descending eigenbasis (see the module docstring).
    Per column ``j`` the log-terms of ``diag(alpha^{-1} I + L^T G L)`` are
    ``z_0j = -log(alpha)`` and ``z_kj = log g_k + 2 log|L_kj|``; with ``ref_j = max_k z_kj``
    (``k = 0`` included) the scaled factor is ``R_kj = sign(L_kj) e^{(z_kj - ref_j) / 2}``,
    every exponent ``<= 0`` and exactly ``0`` at the dominant entry of each column, so long
    horizons (``lam t ~ 1e4``) lose no accuracy. Then

    ``M = R^T R + diag(e^{z_0 - ref})``, ``M = C C^T``, ``F~ = diag(r) R C^{-T}``,
    ``r_k = e^{min(lam_k, 0) t} / sqrt((1 - e^{-2|lam_k| t}) / |lam_k|)``.

    ``M``'s diagonal lies in ``[1, n + 1]`` (equilibrated up to ``n + 1``; a further diagonal
    scaling cancels exactly in ``F~``). Time points are processed in cache-sized chunks; for
    ``m >= 24`` each time point's ``R^T R`` (``dlauum`` on the triangular part, ``dsyrk`` on the
    rest), Cholesky and triangular solve run in place through LAPACK/BLAS.
    """
    T = t.size
    n, m = L.shape
    if out is None:
        out = np.empty((T, n, m))
    with np.errstate(divide="ignore"):
        log_abs_l = np.log(np.abs(L))  # -inf where L == 0
    z0h = -0.5 * log_alpha
    step = max(1, _CHUNK_BYTES // (8 * n * max(m, 1)))
    scratch = np.empty((min(step, T), n, m))
    for s in range(0, T, step):
        ts = t[s : s + step]
        _dense_chunk(lam, L, log_abs_l, z0h, ts, scratch[: ts.size], out[s : s + ts.size])
    return out


def _dense_chunk(
    lam: FloatArray,
    L: FloatArray,
    log_abs_l: FloatArray,
    z0h: float,
    t: FloatArray,
    R: FloatArray,
    F: FloatArray,
) -> None:
    """One chunk of :func:`_dense_factor`: ``R`` ``(k, n, m)`` is scratch, ``F`` the output."""
    m = L.shape[1]
    phi = log_frac(lam, t)  # log((1 - e^{-2|lam| t}) / |lam|): moderate; -inf at t = 0
    # halved log-terms: 0.5 z_kj = max(lam, 0) t + 0.5 phi + log|L_kj|  (-inf on L's zeros)
    np.add((np.maximum(lam, 0.0)[None, :] * t[:, None] + 0.5 * phi)[:, :, None], log_abs_l, out=R)
    refh = np.max(R, axis=1)
    np.maximum(refh, z0h, out=refh)  # (k, m), finite
    R -= refh[:, None, :]  # <= 0, exactly 0 at each column's dominant entry
    R[R < _LOG_TINY] = -np.inf  # flush: no subnormal reaches BLAS
    np.exp(R, out=R)
    np.copysign(R, L, out=R)
    with np.errstate(under="ignore"):
        e0 = np.exp(2.0 * (z0h - refh))  # the alpha^{-1} term of M's diagonal, <= 1
    e0[e0 < _TINY] = 0.0
    with np.errstate(divide="ignore", over="ignore"):
        row = np.exp(np.minimum(lam, 0.0)[None, :] * t[:, None] - 0.5 * phi)  # (k, n)
    at_zero = t == 0.0  # phi = -inf: F = L sqrt(alpha) there (S = I, G = 0)
    row[at_zero] = 0.0
    row[row < _TINY] = 0.0
    np.multiply(R, row[:, :, None], out=F)
    if np.any((row > 0.0) & (row < 1.0)):  # products may have left the normal range
        F[np.abs(F) < _TINY] = 0.0
    if m >= _BLAS_MIN_M:
        _solve_per_time(R, e0, F)
    else:
        _solve_batched(R, e0, F)
    F[np.abs(F) < _TINY] = 0.0  # the solve can leave subnormals where the exact value is < tiny
    if np.any(at_zero):
        F[at_zero] = L[None] * np.exp(-refh[at_zero])[:, None, :]


def _solve_per_time(R: FloatArray, e0: FloatArray, P: FloatArray) -> None:
    """``P <- P C^{-T}``, ``C C^T = R^T R + diag(e0)``, per time point through LAPACK/BLAS.

    A C-ordered ``(n, m)`` slice is the Fortran ``(m, n)`` array of its transpose: ``R[i].T`` is
    ``R^T`` whose first ``m`` columns are upper triangular (``L`` is lower trapezoidal).
    """
    n, m = R.shape[1:]
    idx = np.arange(m)
    for i in range(R.shape[0]):
        rt = R[i].T  # (m, n), Fortran-contiguous
        c = np.array(rt[:, :m], order="F")
        c, info = lapack.dlauum(c, lower=0, overwrite_c=1)  # R1^T R1 (upper triangle)
        if n > m:
            c = blas.dsyrk(1.0, rt[:, m:], beta=1.0, c=c, trans=0, lower=0, overwrite_c=1)
        c[idx, idx] += e0[i]
        c, info = lapack.dpotrf(c, lower=0, clean=0, overwrite_a=1)  # M = U^T U, U = C^T
        if info != 0:  # pragma: no cover - M has unit-order diagonal and is SPD
            raise np.linalg.LinAlgError(f"Cholesky of the {m}x{m} system failed (info={info})")
        blas.dtrsm(1.0, c, P[i].T, side=0, lower=0, trans_a=1, overwrite_b=1)  # U^T X = P^T


def _solve_batched(R: FloatArray, e0: FloatArray, P: FloatArray) -> None:
    """As :func:`_solve_per_time`, batched over time points (small ``m``)."""
    m = R.shape[2]
    M = np.swapaxes(R, 1, 2) @ R
    idx = np.arange(m)
    M[:, idx, idx] += e0
    C = np.linalg.cholesky(M)  # (k, m, m) lower
    for j in range(m):  # F C^T = P: forward substitution over columns, as dtrsm does
        if j:
            P[:, :, j] -= np.einsum("tni,ti->tn", P[:, :, :j], C[:, j, :j])
        P[:, :, j] /= C[:, j, j][:, None]


def _flushed_exp_xp(b: Backend, x: Any) -> Any:
    """``exp(x)``, results below the dtype's normal range set to exactly 0."""
    xp = b.xp
    return xp.where(x < math.log(b.tiny), xp.zeros_like(x), xp.exp(x))


def _log_frac_xp(b: Backend, lam: Any, t: Any) -> Any:
    """:func:`log_frac` in the backend's namespace: ``(T, n)``."""
    xp = b.xp
    alam = xp.abs(lam)
    lt = alam[None, :] * t[:, None]
    safe = xp.where(lam == 0.0, xp.ones_like(lam), alam)
    frac = xp.where(
        lam[None, :] == 0.0, 2.0 * t[:, None] + xp.zeros_like(lt), -xp.expm1(-2.0 * lt) / safe
    )
    return xp.log(frac)


def _spectral_values_xp(b: Backend, lam: Any, log_scale: Any, t: Any) -> Any:
    """:func:`spectral_values` in the backend's namespace: ``(T, n)``."""
    xp = b.xp
    a = -2.0 * lam[None, :] * t[:, None] - log_scale[None, :]
    neg = xp.where(lam < 0.0, -lam, xp.zeros_like(lam))
    log_h = 2.0 * neg[None, :] * t[:, None] + _log_frac_xp(b, lam, t)
    return _flushed_exp_xp(b, -xp.logaddexp(a, log_h))


def _spectral_residuals_xp(b: Backend, lam: Any, log_scale: Any, t: Any) -> Any:
    """:func:`spectral_residuals` in the backend's namespace: ``(T, n)``."""
    xp = b.xp
    sig = _spectral_values_xp(b, lam, log_scale, t)
    big = 0.5 * math.log(float(xp.finfo(b.dtype).max))
    finite = xp.isfinite(log_scale)
    a = xp.where(finite, _flushed_exp_xp(b, xp.clip(log_scale, max=big)), xp.zeros_like(lam))
    pos = xp.where(lam > 0.0, lam, xp.zeros_like(lam))
    log_q = log_scale[None, :] + 2.0 * pos[None, :] * t[:, None] + _log_frac_xp(b, lam, t)
    stable = (lam - a)[None, :] / (1.0 + xp.exp(xp.clip(log_q, max=big)))
    return xp.where(lam[None, :] > 0.0, stable, lam[None, :] - sig)


def _dense_factor_xp(b: Backend, lam: Any, L: Any, log_alpha: float, t: Any) -> Any:
    """:func:`_dense_factor` in the backend's namespace (the same formulas): ``(T, n, m)``."""
    xp = b.xp
    n, m = L.shape
    step = max(1, 2**23 // (n * max(m, 1)))
    parts = [
        _dense_chunk_xp(b, lam, L, log_alpha, t[s : s + step]) for s in range(0, t.shape[0], step)
    ]
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def _dense_chunk_xp(b: Backend, lam: Any, L: Any, log_alpha: float, t: Any) -> Any:
    xp = b.xp
    m = L.shape[1]
    zero = xp.zeros_like(lam)
    phi = _log_frac_xp(b, lam, t)  # -inf at t = 0
    pos = xp.where(lam > 0.0, lam, zero)
    neg = xp.where(lam < 0.0, lam, zero)
    zh = (pos[None, :] * t[:, None] + 0.5 * phi)[:, :, None] + xp.log(xp.abs(L))[None, :, :]
    z0h = -0.5 * log_alpha
    refh = xp.max(zh, axis=1)
    refh = xp.where(refh > z0h, refh, xp.full_like(refh, z0h))
    R = _flushed_exp_xp(b, zh - refh[:, None, :]) * xp.sign(L)[None, :, :]
    e0 = _flushed_exp_xp(b, 2.0 * (z0h - refh))
    at_zero = t == 0.0
    row = xp.exp(
        xp.where(at_zero[:, None], xp.zeros_like(phi), neg[None, :] * t[:, None] - 0.5 * phi)
    )
    row = xp.where(at_zero[:, None] | (row < b.tiny), xp.zeros_like(row), row)
    P = R * row[:, :, None]
    P = xp.where(xp.abs(P) < b.tiny, xp.zeros_like(P), P)
    eye = xp.eye(m, dtype=b.dtype, device=b.device)
    M = xp.matrix_transpose(R) @ R + e0[:, None, :] * eye
    C = xp.linalg.cholesky(M)
    F = xp.matrix_transpose(b.solve_lower(C, xp.matrix_transpose(P)))
    F0 = L[None, :, :] * xp.exp(-refh)[:, None, :]
    return xp.where(at_zero[:, None, None], F0, F)


def _attach_backend(traj: Trajectory, b: Backend | None) -> Trajectory:
    """``traj`` evaluating in ``b``'s namespace (copies of its arrays there)."""
    if b is None:
        return traj
    dev: dict[str, Any] = {"lam": b.asarray(traj.lam), "Phi": b.asarray(traj.Phi)}
    if traj.path == "spectral":
        assert traj._log_scale is not None
        keep = np.flatnonzero(np.isfinite(traj._log_scale))
        select = np.zeros((traj.dim, keep.size))
        select[keep, np.arange(keep.size)] = 1.0
        dev["log_scale"] = b.asarray(traj._log_scale)
        dev["select"] = b.asarray(select)
    else:
        assert traj._L is not None
        dev["L"] = b.asarray(traj._L)
        dev["diag_lam"] = b.asarray(np.diag(traj.lam))
    return replace(traj, _backend=b, _dev=dev)


def _singular_values(F: FloatArray) -> FloatArray:
    """Singular values of ``F`` ``(n, m)``, descending, with high relative accuracy (``dgejsv``).

    Falls back to ``numpy.linalg.svd`` if LAPACK reports a failure.
    """
    n, m = F.shape
    if m == 0:
        return np.zeros(0)
    a = F if n >= m else F.T
    scale = float(np.max(np.abs(a)))
    if scale == 0.0:
        return np.zeros(min(n, m))
    try:
        res = lapack.dgejsv(a / scale, joba=2, jobu=3, jobv=3, jobr=1, jobt=0, jobp=1)
        sva, work, info = res[0], res[3], res[-1]
        if info == 0:
            sv = sva * (work[0] / work[1]) if work[1] != 0 else sva
            return np.sort(sv)[::-1] * scale
    except Exception:  # pragma: no cover - LAPACK variants without gejsv
        pass
    return np.linalg.svd(a, compute_uv=False)


def _low_rank_target(
    Y: tuple[ArrayLike, ArrayLike], basis_tol: float = 1e-10
) -> tuple[FloatArray, FloatArray]:
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
    values = np.asarray(Y[1], dtype=np.float64)
    if values.shape != (k,):
        raise ValueError(
            f"Y[1] (values): expected shape ({k},) to match the basis, got {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("Y[1] (values): expected finite values, got NaN or infinity")
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

    ``Q = [basis, Q2]`` with ``Q2`` spanning the part of ``U0`` orthogonal to ``basis`` (rank
    detected by an SVD, re-orthogonalized twice); ``Y`` is zero on ``Q2``. Columns are sorted by
    descending eigenvalue. ``d = K + rank((I - B B^T) U0) <= K + r``.
    """
    perp = u0 - basis @ (basis.T @ u0)
    if perp.size:
        a, sv, _ = np.linalg.svd(perp, full_matrices=False)
        tol = max(perp.shape) * np.finfo(np.float64).eps * max(float(np.abs(u0).max()), 1e-300)
        q2 = a[:, sv > tol]
        for _ in range(2):
            q2 = q2 - basis @ (basis.T @ q2)
            q2, _ = np.linalg.qr(q2)
    else:  # pragma: no cover - r >= 1 always
        q2 = np.zeros((basis.shape[0], 0))
    q = np.concatenate([basis, q2], axis=1)
    lam = np.concatenate([values, np.zeros(q2.shape[1])])
    order = np.argsort(-lam, kind="stable")
    return lam[order], q[:, order]


def closed_form(
    Y: ArrayLike | tuple[ArrayLike, ArrayLike],
    U0: ArrayLike,
    alpha: float,
    *,
    spectral: bool | None = None,
) -> Trajectory:
    r"""Exact gradient-flow trajectory of ``L(U) = 1/4 ||Y - U U^T||_F^2``.

    Parameters
    ----------
    Y : (n, n) array, or a pair (basis (n, K), values (K,))
        Symmetric target (any signs; rank-deficient allowed). Checked, never symmetrized. Given
        as a factor ``Y = basis diag(values) basis^T`` (orthonormal ``basis``), no ``n x n`` matrix
        is ever formed: the dynamics are solved exactly in the ``d <= K + r`` dimensional subspace
        ``span(basis, U0)``, outside of which ``W(t)`` is zero (``n = 10^6`` is fine).
    U0 : (n, r) array
        Initialization shape, any ``r >= 1``; ``U(0) = sqrt(alpha) U0``.
    alpha : float
        Initialization scale, ``alpha > 0`` (down to ``1e-300``).
    spectral : bool, optional
        ``None`` (default) detects a spectral init (``Phi^T U0 U0^T Phi`` diagonal to
        ``SPECTRAL_RTOL``) and then uses the ``O(n)`` per-mode formula; ``True`` requires it
        (``ValueError`` otherwise); ``False`` forces the general path.

    Returns
    -------
    Trajectory
        Lazy evaluator: ``W(t)``, ``eigvals(t)``, ``loss(t)``, ``factor(t)``, ``mode_values(t)``;
        ``describe()`` says which exact path was taken.

    Notes
    -----
    Accuracy: relative Frobenius error ``<= 3e-13`` (typically ``1e-14``) against mpmath for
    well-conditioned inits, for ``alpha`` from 1 to 1e-300 and times past the last transition
    (tests/test_closed_form.py). The error grows with the conditioning of the init in the graded
    sense of MATH.md section 2: an init (nearly) orthogonal to an eigenvector of ``Y`` has that
    component represented only to ``~1e-16`` relative, and it grows like ``e^{2 lam t}``.

    Backends: ``Y`` and ``U0`` may be PyTorch tensors or JAX arrays (extras ``mfflow[torch]``,
    ``mfflow[jax]``; NumPy inputs may be mixed in): evaluations then return arrays of that
    library on the input's device, in float32 if the input is float32 and float64 otherwise (JAX
    needs ``jax_enable_x64`` for float64). The set-up (``eigh``, spectral detection, QR) runs
    once in float64 NumPy on the host. Measured against the NumPy path: float64 agrees to ~1e-15
    relative; float32 to ~2e-6 relative to the largest entry (exponents ``lam t`` carry float32
    rounding), for ``alpha`` down to ~1e-30 (``alpha W0`` must be a normal float32). ``eigvals``
    uses the backend's ``svdvals`` (LAPACK ``dgejsv``, with relative accuracy for tiny
    eigenvalues, is NumPy-only).

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> Y = mfflow.make_target([3.0, 2.0, 1.0], seed=0)
    >>> U0 = mfflow.gaussian_init(3, 5, seed=1)
    >>> traj = mfflow.closed_form(Y, U0, alpha=1e-8)
    >>> traj.eigvals(50.0).round(6)
    array([3., 2., 1.])
    """
    backend = backend_of(*(Y if isinstance(Y, tuple) else (Y,)), U0)
    if backend is not None:
        Y = tuple(to_numpy(y) for y in Y) if isinstance(Y, tuple) else to_numpy(Y)
        U0 = to_numpy(U0)
    basis_tol = 1e-5 if backend is not None and backend.dtype == backend.xp.float32 else 1e-10
    return _attach_backend(_closed_form_numpy(Y, U0, alpha, spectral, basis_tol), backend)


def _closed_form_numpy(
    Y: ArrayLike | tuple[ArrayLike, ArrayLike],
    U0: ArrayLike,
    alpha: float,
    spectral: bool | None,
    basis_tol: float = 1e-10,
) -> Trajectory:
    """:func:`closed_form` on host float64 NumPy arrays."""
    if isinstance(Y, tuple):
        basis, values = _low_rank_target(Y, basis_tol)
        n = basis.shape[0]
        u0 = as_init(U0, n, "U0")
        lam, phi = _reduced_basis(basis, values, u0)
    else:
        y = as_symmetric(Y, "Y")
        n = y.shape[0]
        u0 = as_init(U0, n, "U0")
        lam, phi = eigh_descending(y)
    a = as_alpha(alpha)
    if spectral is not None and not isinstance(spectral, bool | np.bool_):
        raise TypeError(f"spectral: expected None, True or False, got {spectral!r}")
    if spectral is not False:
        found = spectral_scales(lam, phi, u0)
        if found is not None:
            s, phi_s = found
            with np.errstate(divide="ignore"):
                log_scale = np.where(s > 0, np.log(a) + np.log(np.where(s > 0, s, 1.0)), -np.inf)
            return Trajectory(lam=lam, Phi=phi_s, alpha=a, path="spectral", _log_scale=log_scale)
        if spectral is True:
            raise ValueError(
                "U0: spectral=True but Phi^T U0 U0^T Phi is not diagonal (relative off-diagonal "
                f"> {SPECTRAL_RTOL:g}); pass spectral=None or False for a general init"
            )
    ut = phi.T @ u0  # (d, r)
    r_factor = np.linalg.qr(ut.T, mode="r")  # (min(r, d), d)
    L = np.ascontiguousarray(r_factor.T)  # (d, m) lower trapezoidal, W~0 = L L^T
    return Trajectory(lam=lam, Phi=phi, alpha=a, path="dense", _L=L)
