"""Shared helpers of the checks in docs/checks (independent of mfflow's implementation).

Everything here is written from the formulas of docs/math.md, not from mfflow's source:

* :func:`mp_push` evaluates eq. 6 in its push-through form in multiple precision (the reference);
* :func:`stable_factor` is the float64 evaluation of docs/math.md section 2 (log-space column
  scaling, flushing, one ``m x m`` Cholesky solve);
* :func:`echelon_factor` is the graded factor of ``W~0`` with pivots only at touched modes;
* :func:`ode_flow` integrates ``dU/dt = (Y - U U^T) U`` with scipy (atol scaled to the init);
* :class:`Checks` records measured discrepancies and exits non-zero if one exceeds its tolerance.
"""

from __future__ import annotations

import math
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import mpmath as mp
import numpy as np
from scipy.integrate import solve_ivp

TINY = float(np.finfo(np.float64).tiny)
LOG_TINY = math.log(TINY)
EPS = float(np.finfo(np.float64).eps)


class Checks:
    """Collects ``(name, measured, tolerance)``; :meth:`done` prints a summary and exits."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.rows: list[tuple[str, float, float, str, bool]] = []
        self.start = time.perf_counter()
        print(f"== {title}")

    def le(self, name: str, measured: float, tol: float) -> None:
        """Claim: ``measured <= tol``."""
        ok = bool(measured <= tol)  # NaN fails
        self.rows.append((name, float(measured), float(tol), "<=", ok))
        print(f"  [{'ok' if ok else 'FAIL'}] {name}: {measured:.3e} (tolerance <= {tol:.1e})")

    def ge(self, name: str, measured: float, bound: float) -> None:
        """Claim: ``measured >= bound`` (used where the claim is that something fails)."""
        ok = bool(measured >= bound)
        self.rows.append((name, float(measured), float(bound), ">=", ok))
        print(f"  [{'ok' if ok else 'FAIL'}] {name}: {measured:.3e} (claim >= {bound:.1e})")

    def done(self) -> None:
        bad = [r for r in self.rows if not r[4]]
        took = time.perf_counter() - self.start
        print(
            f"== {self.title}: {len(self.rows) - len(bad)}/{len(self.rows)} passed in {took:.1f} s"
        )
        sys.exit(1 if bad else 0)


# ---- problems -----------------------------------------------------------------------------------
def orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def rel(a: np.ndarray, ref: np.ndarray) -> float:
    """``||a - ref||_F / ||ref||_F`` computed after scaling both by ``max|ref|`` (no underflow)."""
    scale = float(np.max(np.abs(ref)))
    if scale == 0.0:
        return float(np.max(np.abs(a)))
    return float(np.linalg.norm((a - ref) / scale) / np.linalg.norm(ref / scale))


# ---- eq. 6 and its pieces -----------------------------------------------------------------------
def g_of(lam: np.ndarray, t: float) -> np.ndarray:
    """``g_i(t) = (e^{2 lam_i t} - 1) / lam_i`` (``2t`` at ``lam_i = 0``), may overflow."""
    lam = np.asarray(lam, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(lam == 0.0, 2.0 * t, np.expm1(2.0 * lam * t) / np.where(lam == 0, 1, lam))


def verbatim_full(lam: np.ndarray, Ut: np.ndarray, alpha: float, t: float) -> np.ndarray:
    """Eq. 6 as printed, float64: ``S alpha W~0 (I + alpha G W~0)^{-1} S``."""
    n = lam.size
    w0 = Ut @ Ut.T
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.exp(lam * t)
        try:
            core = alpha * w0 @ np.linalg.inv(np.eye(n) + alpha * g_of(lam, t)[:, None] * w0)
        except np.linalg.LinAlgError:
            return np.full((n, n), np.nan)
        return s[:, None] * core * s[None, :]


def verbatim_push(lam: np.ndarray, Ut: np.ndarray, alpha: float, t: float) -> np.ndarray:
    """The r x r push-through form, float64: ``S U~0 (alpha^{-1} I + U~0^T G U~0)^{-1} U~0^T S``."""
    r = Ut.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        s = np.exp(lam * t)
        b = np.eye(r) / alpha + Ut.T @ (g_of(lam, t)[:, None] * Ut)
        try:
            core = Ut @ np.linalg.solve(b, Ut.T)
        except np.linalg.LinAlgError:
            return np.full((lam.size, lam.size), np.nan)
        return s[:, None] * core * s[None, :]


def mp_dps(lam: np.ndarray, Ut: np.ndarray, alpha: float, t: float, extra: int = 30) -> int:
    """Working digits for :func:`mp_push` (docs/math.md section 9): a safe over-estimate.

    ``extra + log10(1/alpha) + log10 cond(W0) + 2 max|lam| t / ln 10 + log10(t + 1)``,
    with ``cond`` over the non-zero singular values of ``U~0``.
    """
    sv = np.linalg.svd(Ut, compute_uv=False)
    nz = sv[sv > 1e-14 * sv[0]] if sv.size and sv[0] > 0 else np.ones(1)
    lam_max = float(np.max(np.abs(lam))) if lam.size else 0.0
    return int(
        extra
        + max(0.0, math.log10(1.0 / alpha))
        + 2.0 * math.log10(nz[0] / nz[-1])
        + 2.0 * lam_max * t / math.log(10.0)
        + math.log10(t + 1.0)
    )


def mp_push(
    lam: np.ndarray, Ut: np.ndarray, alpha: float, t: float | mp.mpf, dps: int | None = None
) -> mp.matrix:
    """``W~(t)`` in the eigenbasis from the push-through form, in ``dps``-digit arithmetic.

    Inputs are float64 and converted exactly: this is the exact flow of the float64 problem
    ``(diag(lam), U~0, alpha)``.
    """
    n, r = Ut.shape
    dps = mp_dps(lam, Ut, alpha, float(t)) if dps is None else dps
    with mp.workdps(dps):
        tt = t if isinstance(t, mp.mpf) else mp.mpf(float(t))
        a = mp.mpf(float(alpha))
        lm = [mp.mpf(float(v)) for v in lam]
        u = mp.matrix([[mp.mpf(float(v)) for v in row] for row in Ut])
        s = [mp.exp(v * tt) for v in lm]
        g = [2 * tt if v == 0 else mp.expm1(2 * v * tt) / v for v in lm]
        b = mp.eye(r) / a
        for i in range(r):
            for j in range(i, r):
                acc = mp.fsum(g[k] * u[k, i] * u[k, j] for k in range(n))
                b[i, j] += acc
                if i != j:
                    b[j, i] += acc
        x = mp.inverse(b) * u.T  # (r, n)
        out = mp.matrix(n, n)
        for i in range(n):
            for j in range(i, n):
                v = s[i] * s[j] * mp.fsum(u[i, k] * x[k, j] for k in range(r))
                out[i, j] = v
                out[j, i] = v
        return out


def to_np(m: mp.matrix) -> np.ndarray:
    return np.array([[float(m[i, j]) for j in range(m.cols)] for i in range(m.rows)])


# ---- the stable float64 evaluation (docs/math.md section 2) -------------------------------------
def log_frac(lam: np.ndarray, t: float) -> np.ndarray:
    """``log((1 - e^{-2|lam| t}) / |lam|)`` (``log 2t`` at ``lam = 0``): moderate for ``t > 0``."""
    a = np.abs(lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.where(lam == 0, 2.0 * t, -np.expm1(-2.0 * a * t) / np.where(a == 0, 1, a)))


def flushed_exp(x: np.ndarray) -> np.ndarray:
    """``exp(x)``, with results below the normal range set to exactly 0."""
    with np.errstate(under="ignore"):
        return np.where(x < LOG_TINY, 0.0, np.exp(np.maximum(x, LOG_TINY)))


def stable_parts(
    lam: np.ndarray, L: np.ndarray, alpha: float, t: float, flush: bool = True
) -> dict[str, np.ndarray]:
    """The scaled quantities of section 2 at one time ``t > 0``.

    Returns ``R`` (n, m), ``e0`` (m,), ``M = R^T R + diag(e0)``, the row factor ``row`` (n,), and
    the exponents ``xR = (z - ref)/2`` and ``x0 = z0 - ref`` (all ``<= 0``).
    """
    phi = log_frac(lam, t)
    log_g = 2.0 * np.maximum(lam, 0.0) * t + phi
    with np.errstate(divide="ignore"):
        log_l = np.log(np.abs(L))
    z = log_g[:, None] + 2.0 * log_l  # (n, m), -inf on zeros of L
    z0 = -math.log(alpha)
    ref = np.maximum(np.max(z, axis=0), z0)  # (m,)
    xr = 0.5 * (z - ref[None, :])
    x0 = z0 - ref
    ex = flushed_exp if flush else np.exp
    with np.errstate(under="ignore"):
        R = np.sign(L) * ex(xr)
        e0 = ex(x0)
        row = np.exp(np.minimum(lam, 0.0) * t - 0.5 * phi)
        if flush:
            row = np.where(row < TINY, 0.0, row)
    M = R.T @ R + np.diag(e0)
    return {"R": R, "e0": e0, "M": M, "row": row, "xR": xr, "x0": x0}


def stable_factor(
    lam: np.ndarray, L: np.ndarray, alpha: float, t: float, flush: bool = True
) -> np.ndarray:
    """``F~(t)`` (n, m) with ``W~(t) = F~ F~^T``, evaluated stably in float64 (section 2)."""
    if t == 0.0:
        return math.sqrt(alpha) * L
    p = stable_parts(lam, L, alpha, t, flush)
    C = np.linalg.cholesky(p["M"])
    P = p["row"][:, None] * p["R"]
    with np.errstate(under="ignore"):
        F = np.linalg.solve(C, P.T).T  # P C^{-T}
    if flush:
        F[np.abs(F) < TINY] = 0.0
    return F


def qr_factor(Ut: np.ndarray) -> np.ndarray:
    """Plain graded factor: ``L = R^T`` from a Householder QR of ``U~0^T`` (lower trapezoidal)."""
    return np.ascontiguousarray(np.linalg.qr(Ut.T, mode="r").T)


def echelon_factor(Ut: np.ndarray, rtol: float | None = None) -> tuple[np.ndarray, list[int]]:
    """``W~0 = L L^T`` with ``L`` in column echelon form, pivots only at touched modes.

    Rows of ``U~0`` (modes, in descending eigenvalue order) are visited in order; a row whose
    part orthogonal to the earlier rows is non-zero (above ``rtol`` times the row's norm; exact
    zeros are always zero) opens a new column, whose first non-zero entry (pivot) is that row.
    Classical Gram-Schmidt with one re-orthogonalization. Returns ``(L, pivots)``.
    """
    n, r = Ut.shape
    rtol = 8 * r * EPS if rtol is None else rtol
    Q = np.zeros((r, 0))
    rows = []
    piv: list[int] = []
    for i in range(n):
        u = Ut[i]
        c = Q.T @ u
        res = u - Q @ c
        c2 = Q.T @ res
        res = res - Q @ c2
        c = c + c2
        nrm = float(np.linalg.norm(res))
        if nrm > rtol * float(np.linalg.norm(u)) and nrm > 0.0:
            Q = np.concatenate([Q, (res / nrm)[:, None]], axis=1)
            c = np.append(c, nrm)
            piv.append(i)
        rows.append(c)
    m = Q.shape[1]
    L = np.zeros((n, m))
    for i, c in enumerate(rows):
        L[i, : c.size] = c
    return L, piv


# ---- ODE reference ------------------------------------------------------------------------------
def ode_flow(
    Y: np.ndarray,
    U0: np.ndarray,
    alpha: float,
    ts: np.ndarray,
    rtol: float = 1e-12,
    atol: float | None = None,
) -> np.ndarray:
    """``U(t)`` of ``dU/dt = (Y - U U^T) U`` from ``sqrt(alpha) U0`` at ``ts``: ``(T, n, r)``.

    Default ``atol = 1e-3 rtol sqrt(alpha) max|U0|`` (section 9).
    """
    n, r = U0.shape
    u0 = math.sqrt(alpha) * U0
    if atol is None:
        atol = 1e-3 * rtol * float(np.max(np.abs(u0)))

    def rhs(_t: float, x: np.ndarray) -> np.ndarray:
        U = x.reshape(n, r)
        return (Y @ U - U @ (U.T @ U)).ravel()

    sol = solve_ivp(
        rhs, (0.0, float(ts[-1])), u0.ravel(), method="DOP853", t_eval=ts, rtol=rtol, atol=atol
    )
    assert sol.status == 0, sol.message
    return sol.y.T.reshape(-1, n, r)
