"""A high-precision check of the closed form on small cases (mpmath; docs/math.md §9).

The published formula (Min & Vidal, eq. 6) is evaluated verbatim, in the eigenbasis of ``Y``
recomputed in multiple precision:

    W~(t) = S alpha W~0 (I + alpha G W~0)^{-1} S,   S = diag(e^{lam t}),
    G = diag((e^{2 lam t} - 1) / lam)   (2t at lam = 0),

or, for a singular ``W0`` (``r < n``), its ``r x r`` push-through form
``S U~0 (alpha^{-1} I + U~0^T G U~0)^{-1} U~0^T S``. Naive evaluation cancels catastrophically;
enough digits make it exact: ``log10(1/alpha) + log10 cond(W0) + 2 max|lam| t / ln 10`` plus
guard digits. Small ``n`` only (``O(n^3)`` multiple-precision operations per time point).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

#: Digits kept beyond the cancellation estimate.
GUARD_DPS = 30


def _mp(x: np.ndarray) -> mp.matrix:
    """Exact conversion of a float64 2-D array."""
    return mp.matrix([[mp.mpf(float(v)) for v in row] for row in np.asarray(x, dtype=np.float64)])


def closed_form_mp(
    Y: np.ndarray, U0: np.ndarray, alpha: float, ts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``W(t)`` of the flow from ``sqrt(alpha) U0`` to target ``Y`` and the loss
    ``1/4 ||Y - W(t)||_F^2`` (computed before rounding), rounded to float64.

    Parameters
    ----------
    Y : (n, n) array, symmetric
    U0 : (n, r) array
    alpha : float
    ts : (T,) array, ``t >= 0``

    Returns
    -------
    W : (T, n, n) array
    loss : (T,) array
    """
    n, r = U0.shape
    sv = np.linalg.svd(U0, compute_uv=False)
    push = r < n or sv[-1] < 1e-8 * sv[0]
    nz = sv[sv > 1e-12 * sv[0]]
    log_cond = 2.0 * math.log10(nz[0] / nz[-1])
    lam_max = float(np.max(np.abs(np.linalg.eigvalsh(Y))))
    t_max = float(np.max(ts))
    dps = int(
        GUARD_DPS
        + math.log10(1.0 / alpha)
        + log_cond
        + 2.0 * lam_max * t_max / math.log(10.0)
        + math.log10(t_max + 1.0)
    )
    out = np.empty((len(ts), n, n))
    loss = np.empty(len(ts))
    with mp.workdps(dps):
        y_mp = _mp(Y)
        e, q = mp.eigsy(y_mp)
        a = mp.mpf(float(alpha))
        ut = q.T * _mp(U0)  # U~0 = Phi^T U0 (n, r); the ordering of the modes is irrelevant
        wt0 = ut * ut.T
        for k, t in enumerate(ts):
            tt = mp.mpf(float(t))
            lams = [e[i] for i in range(n)]
            s = [mp.exp(lam * tt) for lam in lams]
            g = [2 * tt if lam == 0 else mp.expm1(2 * lam * tt) / lam for lam in lams]
            if push:
                core = ut * mp.inverse(mp.eye(r) / a + ut.T * mp.diag(g) * ut) * ut.T
            else:
                core = a * wt0 * mp.inverse(mp.eye(n) + a * mp.diag(g) * wt0)
            w = mp.diag(s) * core * mp.diag(s)
            w = q * ((w + w.T) / 2) * q.T
            out[k] = np.array([[float(w[i, j]) for j in range(n)] for i in range(n)])
            diff = y_mp - w
            loss[k] = float(sum(diff[i, j] ** 2 for i in range(n) for j in range(n)) / 4)
    return out, loss
