r"""The closed form's formulas, written once against the array API (NumPy, PyTorch, JAX).

Every function takes a :class:`mfflow.backend.Backend` ``b`` and arrays of its namespace; only
decaying exponentials are evaluated (``exp(x)`` with ``x <= 0``, or bounded by ``b.log_huge``),
and exponentials below the dtype's normal range are flushed to exactly ``0`` (``b.log_tiny``),
so no subnormal number reaches a matrix product. The derivations are in docs/math.md §2-§3.

Spectral path (per-mode logistic curves, eq. 7), with ``h_i(t) = (1 - e^{-2 lam_i t}) / lam_i``
(``2t`` at ``lam_i = 0``):

.. math::

    \sigma_i(t) = \Big(\frac{e^{-2\lambda_i t}}{\alpha s_i} + h_i(t)\Big)^{-1}.

Dense path: with ``W~0 = L L^T`` (``L`` ``(d, m)``, lower echelon in the descending eigenbasis),
per column ``j`` the log-terms of ``diag(alpha^{-1} I + L^T G L)`` are ``z_0 = -log alpha`` and
``z_kj = log g_k + 2 log|L_kj|``; with ``ref_j = max_k z_kj`` (``k = 0`` included) the scaled
factor ``R_kj = sign(L_kj) e^{(z_kj - ref_j)/2}`` has every exponent ``<= 0``, exactly ``0`` at
each column's dominant entry, and

.. math::

    M = R^\top R + \mathrm{diag}(e^{z_0 - ref}) = C C^\top, \qquad
    \tilde F = \mathrm{diag}(r) R C^{-\top}, \qquad
    r_k = \frac{e^{\min(\lambda_k, 0) t}}{\sqrt{(1 - e^{-2|\lambda_k| t})/|\lambda_k|}},

``W~ = F~ F~^T``; ``M``'s diagonal lies in ``[1, d + 1]``. The ``m x m`` solve has a generic
implementation (batched Cholesky and triangular solve of the namespace) and a NumPy fast path
(:mod:`mfflow.riccati.lapack`: in-place LAPACK/BLAS per time point, or a batched
substitution for small ``m``) behind the same call, :func:`dense_factor`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..backend import Backend
from .lapack import solve_scaled

__all__ = [
    "CHUNK_BYTES",
    "chunks",
    "dense_factor",
    "flushed_exp",
    "log_frac",
    "log_growth",
    "spectral_residuals",
    "spectral_values",
]

#: Bytes of the ``(chunk, d, m)`` working arrays of one evaluation: every output is computed in
#: chunks of time points of this size, so memory is bounded by a chunk, not by ``T``.
CHUNK_BYTES = 8 * 2**20


def chunks(T: int, bytes_per_time: int) -> Iterator[slice]:
    """Slices of ``range(T)`` whose working arrays take about :data:`CHUNK_BYTES` each."""
    step = max(1, CHUNK_BYTES // max(bytes_per_time, 1))
    if T == 0:
        yield slice(0, 0)
    for s in range(0, T, step):
        yield slice(s, min(s + step, T))


def flushed_exp(b: Backend, x: Any) -> Any:
    """``exp(x)`` for ``x <= b.log_huge``, results below the normal range set to exactly 0."""
    xp = b.xp
    return xp.where(x < b.log_tiny, xp.zeros_like(x), xp.exp(x))


def _safe_times(b: Backend, t: Any) -> tuple[Any, Any]:
    """``(t_safe, at_zero)``: ``t`` with zeros replaced by ones, and where they were.

    Formulas with a removable singularity at ``t = 0`` (``log(1 - e^{-2 lam t})``) run on
    ``t_safe`` and their ``t = 0`` entries are replaced afterwards: so no ``0 * inf`` enters
    an autograd graph (a masked ``NaN`` gradient still poisons ``where``).
    """
    xp = b.xp
    at_zero = t == 0.0
    return xp.where(at_zero, xp.ones_like(t), t), at_zero


def log_frac(b: Backend, lam: Any, t: Any) -> Any:
    """``log((1 - e^{-2|lam| t}) / |lam|)`` (``log(2t)`` at ``lam = 0``): ``(T, d)``, moderate.

    The bounded part of ``log g``; computed directly (``expm1``), never by subtracting
    ``2 lam t`` from a large number (that would cost ``eps * lam t`` absolute accuracy).
    ``-inf`` at ``t = 0`` (a constant there: its derivative is not the limit's).
    """
    xp = b.xp
    ts, at_zero = _safe_times(b, t)
    alam = xp.abs(lam)
    zero = lam == 0.0
    safe = xp.where(zero, xp.ones_like(lam), alam)
    frac = -xp.expm1(-2.0 * alam[None, :] * ts[:, None]) / safe[None, :]
    frac = xp.where(zero[None, :], 2.0 * ts[:, None] + xp.zeros_like(frac), frac)
    out = xp.log(frac)
    return xp.where(at_zero[:, None], xp.full_like(out, -xp.inf), out)


def log_growth(b: Backend, lam: Any, t: Any) -> Any:
    r"""``log g_i(t)``, ``g_i(t) = 2 \int_0^t e^{2 lam_i s} ds = (e^{2 lam_i t} - 1) / lam_i``.

    Returns ``(T, d)``: ``2 max(lam, 0) t + log_frac``; ``-inf`` at ``t = 0``. Never overflows
    for ``|lam| t`` in range (``Trajectory`` refuses times beyond it).
    """
    xp = b.xp
    pos = xp.where(lam > 0.0, lam, xp.zeros_like(lam))
    return 2.0 * pos[None, :] * t[:, None] + log_frac(b, lam, t)


def _log_h(b: Backend, lam: Any, t: Any) -> Any:
    """``log h_i(t)``, ``h = (1 - e^{-2 lam t}) / lam = g e^{-2 lam t}``: ``(T, d)``."""
    xp = b.xp
    neg = xp.where(lam < 0.0, -lam, xp.zeros_like(lam))
    return 2.0 * neg[None, :] * t[:, None] + log_frac(b, lam, t)


def _rows(x: Any) -> Any:
    """``(d,)`` as ``(1, d)``; ``(T, d)`` unchanged (per-time-point rows)."""
    return x[None, :] if x.ndim == 1 else x


def spectral_values(b: Backend, lam: Any, log_scale: Any, t: Any) -> Any:
    r"""Per-mode logistic curves ``sigma_i(t)`` (eq. 7): ``(T, d)``.

    Parameters
    ----------
    lam : (d,) array
        Eigenvalues of ``Y`` (any sign).
    log_scale : (d,) or (T, d) array
        ``log(alpha s_i)`` (one row per time point when ``alpha`` varies along the batch);
        ``-inf`` for modes the init does not touch.
    t : (T,) array

    Returns
    -------
    (T, d) array
        ``1 / (e^{-2 lam_i t} / (alpha s_i) + h_i(t))``, in log space (``logaddexp``). At
        ``t = 0`` exactly it is the first-order expansion ``a + 2 a (lam - a) t``,
        ``a = alpha s_i`` (exact in value and first derivatives; the log-space form has a
        removable singularity there).
    """
    xp = b.xp
    ts, at_zero = _safe_times(b, t)
    ls = _rows(log_scale)
    a = -2.0 * lam[None, :] * ts[:, None] - ls
    general = flushed_exp(b, -xp.logaddexp(a, _log_h(b, lam, ts)))
    a0 = flushed_exp(b, xp.clip(ls, max=b.log_huge)) + xp.zeros_like(general)
    start = a0 + 2.0 * a0 * (lam[None, :] - a0) * t[:, None]
    return xp.where(at_zero[:, None], start, general)


def spectral_residuals(b: Backend, lam: Any, log_scale: Any, t: Any) -> Any:
    r"""``lam_i - sigma_i(t)`` without cancellation: ``(T, d)``.

    With ``a = alpha s_i`` and ``E = e^{-2 lam t}``,
    ``lam - sigma = (lam - a) / (1 + a g)``, ``g = h e^{2 lam t}``: no difference of nearly
    equal numbers for ``lam > 0``; for ``lam <= 0`` the plain difference does not cancel.
    Untouched modes (``a = 0``) keep ``lam``.
    """
    xp = b.xp
    sig = spectral_values(b, lam, log_scale, t)
    ts, at_zero = _safe_times(b, t)
    ls = _rows(log_scale)
    touched = ls > -xp.inf
    a = xp.where(touched, flushed_exp(b, xp.clip(ls, max=b.log_huge)), xp.zeros_like(ls))
    log_q = ls + log_growth(b, lam, ts)
    log_q = xp.where(touched, log_q, xp.full_like(log_q, -xp.inf))
    # 1 / (1 + e^{log_q}) = e^{-softplus(log_q)}: no overflow, no clipping of tiny values
    stable = (lam[None, :] - a) * flushed_exp(b, -xp.logaddexp(xp.zeros_like(log_q), log_q))
    stable = xp.where(at_zero[:, None], lam[None, :] - sig, stable)
    return xp.where(lam[None, :] > 0.0, stable, lam[None, :] - sig)


def _scaled(b: Backend, lam: Any, L: Any, log_abs_l: Any, log_alpha: Any, t: Any) -> Any:
    """``(R, e0, P)`` of the dense path for times ``t > 0`` ``(k,)``.

    ``log_alpha`` is a float or a ``(k, 1)`` array (one scale per time point).
    """
    xp = b.xp
    zero = xp.zeros_like(lam)
    phi = log_frac(b, lam, t)  # (k, d)
    pos = xp.where(lam > 0.0, lam, zero)
    neg = xp.where(lam < 0.0, lam, zero)
    # halved log-terms: 0.5 z_kj = max(lam, 0) t + 0.5 phi + log|L_kj|  (-inf on L's zeros)
    zh = (pos[None, :] * t[:, None] + 0.5 * phi)[:, :, None] + log_abs_l[None, :, :]
    z0h = -0.5 * log_alpha
    refh = xp.max(zh, axis=1)
    # (k, m), finite; a scaling that cancels exactly in W = F F^T, so a constant for autograd
    # (its derivative would only add terms that cancel, with rounding, at ties of the max)
    refh = b.stop_gradient(xp.maximum(refh, xp.zeros_like(refh) + z0h))
    R = flushed_exp(b, zh - refh[:, None, :]) * xp.sign(L)[None, :, :]
    e0 = flushed_exp(b, 2.0 * (z0h - refh))
    row = flushed_exp(b, neg[None, :] * t[:, None] - 0.5 * phi)
    P = R * row[:, :, None]
    P = xp.where(xp.abs(P) < b.tiny, xp.zeros_like(P), P)
    return R, e0, P


def _at_start(b: Backend, L: Any, A1: Any, A3: Any, log_alpha: Any, t: Any) -> Any:
    """The factor at ``t = 0`` to first order: ``F0 + t (diag(lam) F0 - F0 F0^T F0)``,
    ``F0 = sqrt(alpha) L``: ``(k, d, m)``, with ``A1 = diag(lam) L`` and ``A3 = L L^T L``
    precomputed. Exact in value and first derivatives at ``t = 0`` (the flow
    ``dU/dt = (Y - U U^T) U``), where the scaled form has a removable singularity."""
    xp = b.xp
    if isinstance(log_alpha, float):
        s = math.exp(0.5 * log_alpha) + xp.zeros((t.shape[0], 1, 1), dtype=b.dtype, device=b.device)
    else:
        s = xp.exp(0.5 * log_alpha)[:, :, None]  # (k, 1, 1)
    return s * L + t[:, None, None] * (s * A1 - s**3 * A3)


def dense_factor(b: Backend, lam: Any, L: Any, log_alpha: Any, t: Any) -> Any:
    """The stable factor ``F~ = S L C^{-T}``: ``(T, d, m)`` with ``W~(t) = F~ F~^T``.

    Parameters
    ----------
    b : Backend
    lam : (d,) array, descending
    L : (d, m) array
        Lower echelon factor of ``W~0 = L L^T`` (:mod:`mfflow.riccati.structure`).
    log_alpha : float or (T,) array
        ``log alpha``, one per time point to evaluate several scales in one batch.
    t : (T,) array, ``t >= 0``

    Returns
    -------
    (T, d, m) array
        Entries whose exact value is below the normal range are exactly 0.
    """
    if b.name == "numpy":
        return _dense_factor_numpy(b, lam, L, log_alpha, t)
    xp = b.xp
    d, m = L.shape
    with b.errstate():
        nonzero = L != 0.0
        log_abs_l = xp.where(
            nonzero, xp.log(xp.abs(xp.where(nonzero, L, xp.ones_like(L)))), -xp.inf
        )
        per_point = not isinstance(log_alpha, int | float)
        A1 = lam[:, None] * L
        A3 = L @ (xp.matrix_transpose(L) @ L)
        parts = []
        for sl in chunks(t.shape[0], 8 * 3 * d * max(m, 1)):
            la = log_alpha[sl][:, None] if per_point else float(log_alpha)
            ts, at_zero = _safe_times(b, t[sl])
            R, e0, P = _scaled(b, lam, L, log_abs_l, la, ts)
            if b.name == "numpy":
                F = solve_scaled(R, e0, P)  # in place on P (NumPy fast path)
            else:
                M = xp.matrix_transpose(R) @ R + e0[:, None, :] * xp.eye(
                    m, dtype=b.dtype, device=b.device
                )
                C = xp.linalg.cholesky(M)
                F = xp.matrix_transpose(b.solve_lower(C, xp.matrix_transpose(P)))
            F = xp.where(xp.abs(F) < b.tiny, xp.zeros_like(F), F)
            start = _at_start(b, L, A1, A3, la, t[sl])
            parts.append(xp.where(at_zero[:, None, None], start, F))
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def _dense_factor_numpy(b: Backend, lam: Any, L: Any, log_alpha: Any, t: Any) -> Any:
    """:func:`dense_factor` on NumPy, bitwise equal to the generic path, with less work.

    The generic path evaluates ``exp`` on every entry of the ``(k, d, m)`` exponent array,
    allocates a fresh array per elementwise step, and builds the first-order start
    (``L L^T L``, an ``O(d m^2)`` product, and a ``(k, d, m)`` array) for every chunk. Here
    ``exp`` runs only where its value is kept (``L != 0`` and above ``log_tiny``: about half
    the entries, ``L`` being lower echelon), the steps run in place, and the start is built
    only for the times ``t = 0`` of the chunk. On a CPU without vectorized float64 ``exp`` these
    elementwise passes cost as much as the ``m x m`` solves themselves.
    """
    d, m = L.shape
    with b.errstate():
        nonzero = L != 0.0
        log_abs_l = np.where(nonzero, np.log(np.abs(np.where(nonzero, L, 1.0))), -np.inf)
        sign = np.sign(L)
        per_point = not isinstance(log_alpha, int | float)
        parts = []
        for sl in chunks(t.shape[0], 8 * 3 * d * max(m, 1)):
            la = log_alpha[sl][:, None] if per_point else float(log_alpha)
            ts, at_zero = _safe_times(b, t[sl])
            phi = log_frac(b, lam, ts)  # (k, d)
            # halved log-terms, as in _scaled: 0.5 z_kj = max(lam, 0) t + 0.5 phi + log|L_kj|
            x = (np.maximum(lam, 0.0)[None, :] * ts[:, None] + 0.5 * phi)[:, :, None] + log_abs_l
            z0h = -0.5 * la
            refh = np.max(x, axis=1)
            refh = np.maximum(refh, np.zeros_like(refh) + z0h)
            x -= refh[:, None, :]
            keep = x >= b.log_tiny
            keep &= nonzero
            R = np.zeros_like(x)
            np.exp(x, out=R, where=keep)
            R *= sign
            e0 = flushed_exp(b, 2.0 * (z0h - refh))
            row = flushed_exp(b, np.minimum(lam, 0.0)[None, :] * ts[:, None] - 0.5 * phi)
            P = np.multiply(R, row[:, :, None], out=x)
            P[np.abs(P) < b.tiny] = 0.0
            F = solve_scaled(R, e0, P)  # in place on P
            F[np.abs(F) < b.tiny] = 0.0
            if np.any(at_zero):
                la0 = la[at_zero] if per_point else la
                A1 = lam[:, None] * L
                A3 = L @ (L.T @ L)
                F[at_zero] = _at_start(b, L, A1, A3, la0, t[sl][at_zero])
            parts.append(F)
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
