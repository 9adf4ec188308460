"""An independent high-precision reference for the closed form (mpmath).

Nothing here imports :mod:`mfflow`: the eigendecomposition of ``Y`` is recomputed in multiple
precision (``mp.eigsy``) and the *published* formula (Min & Vidal, eq. 6) is evaluated verbatim,

    W~(t) = S alpha W~0 (I + alpha G W~0)^{-1} S,   S = diag(e^{lam t}),
    G = diag((e^{2 lam t} - 1) / lam)  (2t at lam = 0),

with enough guard digits to survive its cancellation (docs/math.md §9). For a singular ``W0``
(``r < n`` or a rank-deficient ``U0``) the ``r x r`` push-through form
``S U~0 (alpha^{-1} I_r + U~0^T G U~0)^{-1} U~0^T S`` is used instead. The per-mode logistic
curve of a spectral init (eq. 7) has its own reference, :func:`logistic`.

Inputs are float64 arrays; they are converted to ``mpf`` exactly, so the reference is the exact
flow of the float64 problem, and results are rounded to float64 only at the end.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np

__all__ = [
    "Reference",
    "factor_reference",
    "guard_dps",
    "logistic",
    "mp_eigh",
    "rel_fro",
    "to_float",
]

#: Digits kept beyond the cancellation estimate.
EXTRA_DPS = 30


def rel_fro(a: np.ndarray, ref: np.ndarray) -> float:
    """``||a - ref||_F / ||ref||_F`` without underflow: both scaled by ``max|ref|`` first.

    If ``ref`` is exactly zero, returns ``max|a|`` (absolute error).
    """
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    scale = float(np.max(np.abs(ref)))
    if scale == 0.0:
        return float(np.max(np.abs(a)))
    return float(np.linalg.norm((a - ref) / scale) / np.linalg.norm(ref / scale))


def to_float(a: mp.matrix) -> np.ndarray:
    """An ``mp.matrix`` as a float64 array (entries below the float64 range become 0)."""
    return np.array([[float(a[i, j]) for j in range(a.cols)] for i in range(a.rows)])


def _mp_matrix(x: np.ndarray) -> mp.matrix:
    """Exact conversion of a float64 2-D array."""
    x = np.asarray(x, dtype=np.float64)
    return mp.matrix([[mp.mpf(float(v)) for v in row] for row in x])


_EIG_CACHE: dict[bytes, tuple[int, list, mp.matrix]] = {}


def mp_eigh(Y: np.ndarray, dps: int) -> tuple[list, mp.matrix]:
    """Eigenvalues (descending, ``mpf``) and eigenvectors (columns) of ``Y`` to ``dps`` digits.

    Cached per matrix; a decomposition computed at a higher precision is reused (callers round
    it to their working precision).
    """
    y = np.ascontiguousarray(Y, dtype=np.float64)
    n = y.shape[0]
    key = y.tobytes()
    hit = _EIG_CACHE.get(key)
    if hit is not None and hit[0] >= dps:
        return hit[1], hit[2]
    with mp.workdps(dps):
        e, q = mp.eigsy(_mp_matrix(y))
        order = sorted(range(n), key=lambda i: -e[i])
        lam = [e[i] for i in order]
        phi = mp.matrix(n, n)
        for k, i in enumerate(order):
            for row in range(n):
                phi[row, k] = q[row, i]
    _EIG_CACHE[key] = (dps, lam, phi)
    return lam, phi


def guard_dps(log_alpha10: float, log_cond10: float, lam_max: float, t: float) -> int:
    """Working digits for eq. 6 at time ``t``: docs/math.md §9 estimate plus margin.

    ``log10(1/alpha) + log10 cond(W0) + 2 lam_max t / ln 10`` (the growth of ``alpha G W~0``
    that eq. 6 cancels against; ``lam_max = max |lam_i|``), and ``EXTRA_DPS`` more. That this is
    enough is itself tested: a run with more digits agrees to far below float64 precision.
    """
    growth = 2.0 * lam_max * t / math.log(10.0) + math.log10(t + 1.0)
    return int(EXTRA_DPS + log_alpha10 + log_cond10 + growth)


def _g(lam: mp.mpf, t: mp.mpf) -> mp.mpf:
    """``g(t) = (e^{2 lam t} - 1) / lam``, ``2t`` at ``lam = 0``."""
    if lam == 0:
        return 2 * t
    return mp.expm1(2 * lam * t) / lam


class Reference:
    """The closed form of eq. 6 in ``dps``-digit arithmetic for one problem ``(Y, U0, alpha)``.

    Parameters
    ----------
    Y : (n, n) float64 array, symmetric
    U0 : (n, r) float64 array
    alpha : float
    t_max : float
        Largest time that will be asked for (sets the precision).
    form : {"auto", "full", "push"}
        ``"full"``: the ``n x n`` form of eq. 6; ``"push"``: the ``r x r`` push-through form;
        ``"auto"``: full when ``W0`` is numerically invertible, push-through otherwise.
    dps : int, optional
        Override the working precision.
    """

    def __init__(
        self,
        Y: np.ndarray,
        U0: np.ndarray,
        alpha: float,
        t_max: float,
        form: str = "auto",
        extra_dps: int = 0,
    ) -> None:
        Y = np.asarray(Y, dtype=np.float64)
        U0 = np.asarray(U0, dtype=np.float64)
        self.n, self.r = U0.shape
        sv = np.linalg.svd(U0, compute_uv=False)
        if form == "auto":
            full_rank = self.r >= self.n and sv[self.n - 1] > 1e-8 * sv[0]
            form = "full" if full_rank else "push"
        self.form = form
        # cond over the non-zero singular values: the push-through form never sees the null space
        nz = sv[sv > sv[0] * 1e-12]
        self._log_cond = 2.0 * math.log10(nz[0] / nz[-1])
        self._log_alpha = math.log10(1.0 / alpha)
        self._lam_max = float(np.max(np.abs(np.linalg.eigvalsh(Y))))
        self.extra_dps = extra_dps
        self.dps = self.dps_at(t_max)
        lam, phi = mp_eigh(Y, self.dps)
        with mp.workdps(self.dps):
            self.alpha = mp.mpf(float(alpha))
            self.lam = [+v for v in lam]  # round to the working precision
            self.phi = +phi
            self.ut0 = self.phi.T * _mp_matrix(U0)  # U~0 = Phi^T U0, (n, r)
            self.wt0 = self.ut0 * self.ut0.T  # W~0, (n, n)

    def dps_at(self, t: float) -> int:
        """The working precision used at time ``t``."""
        base = guard_dps(self._log_alpha, self._log_cond, self._lam_max, float(t))
        return base + self.extra_dps

    def W_eig_mp(self, t: float | mp.mpf, dps: int | None = None) -> mp.matrix:
        """``W~(t)`` in the eigenbasis of ``Y``, as an ``mp.matrix``."""
        n = self.n
        with mp.workdps(self.dps_at(float(t)) if dps is None else dps):
            tt = t if isinstance(t, mp.mpf) else +mp.mpf(float(t))
            alpha = +self.alpha
            lams = [+v for v in self.lam]  # round the stored data to this precision
            s = [mp.exp(lam * tt) for lam in lams]
            # g = (e^{2 lam t} - 1) / lam: from s unless that cancels (|2 lam t| < 1)
            g = [
                _g(lam, tt) if abs(2 * lam * tt) < 1 else (si * si - 1) / lam
                for lam, si in zip(lams, s, strict=True)
            ]
            if self.form == "full":
                wt0 = +self.wt0
                a = mp.eye(n) + alpha * mp.diag(g) * wt0
                core = alpha * wt0 * mp.inverse(a)
            else:
                ut0 = +self.ut0
                b = mp.eye(self.r) / alpha + ut0.T * mp.diag(g) * ut0
                core = ut0 * mp.inverse(b) * ut0.T
            out = mp.matrix(n, n)
            for i in range(n):
                for j in range(i, n):
                    # symmetric in exact arithmetic; average away the last-digit asymmetry
                    v = s[i] * s[j] * (core[i, j] + core[j, i]) / 2
                    out[i, j] = v
                    out[j, i] = v
        return out

    def W_from_eig(self, w_eig: mp.matrix, t: float) -> np.ndarray:
        """``Phi W~ Phi^T`` rounded to float64, for a ``W~`` from :meth:`W_eig_mp` at ``t``."""
        with mp.workdps(self.dps_at(float(t))):
            phi = +self.phi
            return to_float(phi * w_eig * phi.T)

    def W_mp(self, t: float | mp.mpf, dps: int | None = None) -> mp.matrix:
        """``W(t) = Phi W~(t) Phi^T`` as an ``mp.matrix``."""
        dps = self.dps_at(float(t)) if dps is None else dps
        with mp.workdps(dps):
            phi = +self.phi
            return phi * self.W_eig_mp(t, dps) * phi.T

    def W(self, t: float) -> np.ndarray:
        """``W(t)`` rounded to float64, ``(n, n)``."""
        return to_float(self.W_mp(t))

    def W_eig(self, t: float) -> np.ndarray:
        """``W~(t)`` rounded to float64, ``(n, n)``."""
        return to_float(self.W_eig_mp(t))

    def eigvals(self, t: float) -> np.ndarray:
        """Eigenvalues of ``W(t)``, descending, each to full relative precision, ``(n,)``."""
        w = self.W_eig_mp(t)
        with mp.workdps(self.dps_at(t)):
            e = mp.eigsy(w, eigvals_only=True)
            vals = sorted((e[i] for i in range(self.n)), reverse=True)
        return np.array([float(v) for v in vals])

    def loss(self, t: float, w_eig: mp.matrix | None = None) -> float:
        """``1/4 ||Y - W(t)||_F^2``, from the mp ``W~(t)`` (pass it if already computed)."""
        w = self.W_eig_mp(t) if w_eig is None else w_eig
        with mp.workdps(self.dps_at(t)):
            total = mp.mpf(0)
            for i in range(self.n):
                for j in range(self.n):
                    d = w[i, j] - (self.lam[i] if i == j else 0)
                    total += d * d
            return float(total / 4)

    def riccati_residual(self, Y: np.ndarray, t: float) -> float:
        """``||dW/dt - ((Y - W) W + W (Y - W))||_F / ||W||_F`` at ``t > 0``, in the original
        basis (so the eigendecomposition is checked too), by a central difference in three
        times the working digits ``d`` (step ``10^{-d}``, truncation error ``~10^{-2d}``)."""
        dps = 3 * self.dps_at(t)
        with mp.workdps(dps):
            h = mp.mpf(10) ** (-(dps // 3))
            tt = mp.mpf(float(t))
            w_plus = self.W_mp(tt + h, dps)
            w_minus = self.W_mp(tt - h, dps)
            w = self.W_mp(tt, dps)
            y = _mp_matrix(Y)
            rhs = (y - w) * w + w * (y - w)
            num = mp.mpf(0)
            den = mp.mpf(0)
            for i in range(self.n):
                for j in range(self.n):
                    d = (w_plus[i, j] - w_minus[i, j]) / (2 * h) - rhs[i, j]
                    num += d * d
                    den += w[i, j] ** 2
            return float(mp.sqrt(num / den))


def logistic(lam: float, s: float, alpha: float, t: float, dps: int = 60) -> float:
    """Eq. 7: ``alpha lam s e^{2 lam t} / (lam + alpha s (e^{2 lam t} - 1))`` in ``dps`` digits
    (``alpha s / (1 + 2 alpha s t)`` at ``lam = 0``); exact conversion of the float inputs."""
    with mp.workdps(dps + int(2 * abs(lam) * t / math.log(10)) + int(-math.log10(alpha))):
        lam_, s_, a_, t_ = (mp.mpf(float(v)) for v in (lam, s, alpha, t))
        if lam_ == 0:
            return float(a_ * s_ / (1 + 2 * a_ * s_ * t_))
        e = mp.exp(2 * lam_ * t_)
        return float(a_ * lam_ * s_ * e / (lam_ + a_ * s_ * mp.expm1(2 * lam_ * t_)))


def factor_reference(lam: np.ndarray, L: np.ndarray, alpha: float, t: float) -> np.ndarray:
    """The factor ``S L C^{-T}``, ``C C^T = alpha^{-1} I + L^T G L`` (Cholesky), ``(n, m)``.

    ``S L C^{-T} (S L C^{-T})^T`` is the push-through form of eq. 6 in the eigenbasis, and with
    a lower-triangular ``C`` with positive diagonal this factor is unique given ``L``: it is what
    a Cholesky-based evaluation must produce, whatever its internal scaling. Evaluated in
    ``mpmath`` with guard digits; entries below the float64 range come back as 0 or subnormal.
    """
    n, m = L.shape
    lam_max = float(np.max(np.abs(lam))) if n else 0.0
    sv = np.linalg.svd(L, compute_uv=False)
    nz = sv[sv > sv[0] * 1e-12]
    dps = guard_dps(math.log10(1.0 / alpha), 2 * math.log10(nz[0] / nz[-1]), lam_max, t)
    with mp.workdps(dps):
        tt = mp.mpf(float(t))
        lam_mp = [mp.mpf(float(v)) for v in lam]
        s = [mp.exp(v * tt) for v in lam_mp]
        g = [_g(v, tt) for v in lam_mp]
        l_mp = _mp_matrix(L)
        b = mp.eye(m) / mp.mpf(float(alpha)) + l_mp.T * mp.diag(g) * l_mp
        c = mp.cholesky(b)
        sl = mp.diag(s) * l_mp
        f = sl * mp.inverse(c.T)
        return to_float(f)
