r"""Incremental learning: the theorem's constants and intervals, certified versus measured.

Min & Vidal's theorem (MATH.md section 3; seed talk, "Main result under general small
initialization"): let ``Y`` be PSD with ``K`` distinct positive eigenvalues
``sigma_1 > ... > sigma_K``, ``W~0 = Phi^T U0 U0^T Phi`` invertible with inverse ``V`` and

.. math::

    M = \max(\|V\|_2, \|V^{-1}\|_2), \qquad
    c_\varepsilon = \frac{\varepsilon}{16 M^2}, \qquad
    C_\varepsilon = \frac{16 \sigma_1^2 M^2}{\varepsilon}, \qquad
    0 < \varepsilon \le \min(\sigma_K, 1).

If ``alpha <= c_eps / M`` and the intervals are non-empty, then
``||W(t) - Yhat_k||_2 <= eps`` on ``I_k`` (``Yhat_k`` the best rank-k approximation of ``Y``).

**Which endpoints are true.** The transcribed slide writes

.. math::

    I_k^{\text{slide}} = \Big[\frac{\log(c_\varepsilon/\alpha)}{2\sigma_k},
    \frac{\log(c_\varepsilon/\alpha)}{2\sigma_{k+1}}\Big], \qquad \sigma_{K+1} = 0,

but at its left end mode ``k`` has *not* been learned: the per-mode bound only says
``sigma_{k,W} <= eps`` there, so ``||W - Yhat_k||_2 ~ sigma_k``. The per-mode lower bound
``sigma_{k,W} >= sigma_k - eps`` starts at ``log(C_eps/alpha)/(2 sigma_k)``, which gives the
*corrected* intervals implemented by default,

.. math::

    I_k = \Big[\frac{\log(C_\varepsilon/\alpha)}{2\sigma_k},
    \frac{\log(c_\varepsilon/\alpha)}{2\sigma_{k+1}}\Big].

Numerical evidence (exact closed form; reproduced in tests/test_theory.py): at the slide's left
ends the error is ``sigma_k - O(c_eps)`` (``3.9973, 1.9993, 0.9990`` for spectrum ``[4, 2, 1]``,
a Gaussian init, ``eps = 0.1``, ``alpha = 1e-30``: 40, 20 and 10 times ``eps``). On the corrected
intervals, over 165 random instances (``n = 2..5``, Gaussian, scaled orthogonal and
ill-conditioned inits, ``eps`` from ``0.01 min(sigma_K, 1)`` to ``min(sigma_K, 1)``, ``alpha``
from the largest admissible value down to ``1e-300``), the largest error was ``0.035 eps``: the
corrected bound holds with a wide margin (the measured intervals are wider still), and the
slide's right ends are fine.

**Transition times and delays.** Mode ``i`` makes its transition near
``log(1/alpha) / (2 sigma_i)``; shrinking ``alpha`` to ``e^{-m} alpha`` delays it by
``m / (2 sigma_i)`` (MATH.md), not ``m / sigma_i`` as the talk writes informally. Under a
spectral init this is exact algebra on eq. 7: mode ``i`` reaches ``f sigma_i`` at
``(log(1/alpha) + log(f (sigma_i - alpha s_i) / ((1 - f) s_i))) / (2 sigma_i)``. For general
inits a least-squares fit of measured transition times over ``alpha`` in ``1e-4 .. 1e-40``
gives slopes ``1/(2 sigma_i)`` to a few parts in ``1e-4`` (tests/test_theory.py).

Reference: H. Min and R. Vidal, "Understanding Incremental Learning with Closed-form Solution to
Gradient Flow on Overparameterized Matrix Factorization", arXiv:2508.20344 (2025).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq, minimize_scalar

from .closed_form import Trajectory, closed_form
from .linalg import eigh_descending
from .validation import as_alpha, as_init, as_positive_int, as_positive_scalar, as_symmetric

__all__ = [
    "TheoremCheck",
    "TheoremConstants",
    "TheoremRow",
    "best_rank_k",
    "check_theorem",
    "measured_intervals",
    "measured_transition_times",
    "theorem_constants",
    "theorem_intervals",
    "transition_times",
]

FloatArray = NDArray[np.float64]
Endpoints = Literal["corrected", "slide"]
Interval = tuple[float, float]

#: Points per decade of the log-spaced scan that brackets roots (spacing ``10**(1/200) - 1``, about
#: 1.2% relative). Only a run of ``error <= eps`` narrower than that can be missed, and points
#: inside the certified intervals are always added to the scan.
SCAN_POINTS_PER_DECADE = 200
#: Relative tolerance of the root finder (``brentq``'s ``xtol`` is this times the bracket end).
ROOT_RTOL = 1e-12
#: Samples of the error on each certified interval before the local refinement of the maximum.
ERROR_SAMPLES = 256


# ---- spectra and constants -----------------------------------------------------------------
def _positive_tol(lam: FloatArray) -> float:
    """Eigenvalues at or below this are treated as zero (rounding of an exactly singular Y)."""
    return 8 * lam.size * np.finfo(np.float64).eps * max(float(np.max(np.abs(lam))), 1e-300)


def _positive_part(y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(lam, Phi, sigma)``: descending spectrum of ``Y`` and its positive eigenvalues."""
    lam, phi = eigh_descending(y)
    sigma = lam[lam > _positive_tol(lam)]
    return lam, phi, sigma


def _log(x: float) -> float:
    """``log`` extended to ``0 -> -inf`` and ``inf -> inf`` (no warnings)."""
    if x == 0.0:
        return -math.inf
    if math.isinf(x):
        return math.inf
    return math.log(x)


def transition_times(Y: ArrayLike, alpha: float) -> FloatArray:
    r"""Leading-order transition times ``log(1/alpha) / (2 sigma_i)`` of the positive modes.

    Parameters
    ----------
    Y : (n, n) array
        Symmetric target.
    alpha : float
        Initialization scale, ``alpha > 0``.

    Returns
    -------
    (K,) array
        One time per positive eigenvalue ``sigma_1 >= ... >= sigma_K`` of ``Y`` (repeated ones
        repeated), so ascending. The true time at which mode ``i`` reaches a fraction ``f`` of
        ``sigma_i`` differs by an ``O(1)`` shift depending on ``U0`` and ``f``
        (:func:`measured_transition_times`); shrinking ``alpha`` by ``e^{-m}`` delays mode ``i``
        by ``m / (2 sigma_i)``.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> transition_times(np.diag([4.0, 1.0, 0.0]), alpha=np.exp(-8.0))
    array([1., 4.])
    """
    y = as_symmetric(Y, "Y")
    a = as_alpha(alpha)
    _, _, sigma = _positive_part(y)
    return -math.log(a) / (2.0 * sigma)


def best_rank_k(Y: ArrayLike, k: int) -> FloatArray:
    r"""Best rank-``k`` approximation of a symmetric ``Y`` (Eckart-Young-Mirsky).

    The singular values of a symmetric matrix are the absolute values of its eigenvalues, so
    the minimizer of ``||Y - Z||`` over rank-``k`` ``Z`` (Frobenius and spectral norm) keeps the
    ``k`` eigenpairs of largest ``|lam_i|``:

    .. math::

        \hat Y_k = \sum_{i \in \text{top-}k\,|\lambda|} \lambda_i \phi_i \phi_i^\top.

    For PSD ``Y`` these are the ``k`` largest eigenvalues (the theorem's ``Yhat_k``). For an
    indefinite ``Y`` it may keep a negative eigenvalue, which the PSD ``W(t)`` can never match;
    :func:`measured_intervals` therefore compares with the rank-``k`` truncation of the positive
    part instead (equal to this for PSD ``Y``). Ties in ``|lam|`` are broken by the descending
    order of ``lam``; then the minimizer is not unique.

    Parameters
    ----------
    Y : (n, n) array
        Symmetric.
    k : int
        ``0 <= k <= n``.

    Returns
    -------
    (n, n) array
        Symmetric, rank ``<= k``.

    Examples
    --------
    >>> best_rank_k(np.diag([1.0, -3.0, 2.0]), 2)
    array([[ 0.,  0.,  0.],
           [ 0., -3.,  0.],
           [ 0.,  0.,  2.]])
    """
    y = as_symmetric(Y, "Y")
    n = y.shape[0]
    kk = as_positive_int(k, "k", minimum=0)
    if kk > n:
        raise ValueError(f"k: expected 0 <= k <= n = {n}, got {kk}")
    lam, phi = eigh_descending(y)
    keep = np.argsort(-np.abs(lam), kind="stable")[:kk]
    out = (phi[:, keep] * lam[keep]) @ phi[:, keep].T
    return 0.5 * (out + out.T)


@dataclass(frozen=True, eq=False)
class TheoremConstants:
    """The theorem's quantities for one problem, and which hypotheses fail.

    Attributes
    ----------
    M : float
        ``max(||V||_2, ||V^{-1}||_2)`` with ``V = W~0^{-1}``; ``inf`` when ``W0`` is singular.
    c_eps, C_eps : float
        ``eps / (16 M^2)`` and ``16 sigma_1^2 M^2 / eps`` (``0`` and ``inf`` when ``M = inf``;
        ``C_eps`` is ``nan`` when ``Y`` has no positive eigenvalue).
    eps : float
        The tolerance.
    sigma : (K,) array
        Positive eigenvalues of ``Y``, descending (with multiplicity).
    alpha : float
        The initialization scale checked.
    alpha_max : float
        The largest ``alpha`` satisfying the hypotheses on ``alpha``: ``alpha <= c_eps / M`` and
        every interval (of the ``endpoints`` used) non-empty; ``0`` when none does.
    endpoints : {"corrected", "slide"}
        Which intervals the non-emptiness hypothesis was checked on.
    hypotheses_hold : bool
        Whether every hypothesis of the theorem holds.
    failures : tuple of str
        One message per failed hypothesis, starting with what fails (``"Y: ..."``,
        ``"W0 singular: ..."``, ``"eps: ..."``, ``"alpha: ..."``, ``"intervals: ..."``).
    """

    M: float
    c_eps: float
    C_eps: float
    eps: float
    sigma: FloatArray
    alpha: float
    alpha_max: float
    endpoints: Endpoints
    hypotheses_hold: bool
    failures: tuple[str, ...]

    @property
    def K(self) -> int:
        """Number of positive eigenvalues of ``Y``."""
        return int(self.sigma.size)


def _check_endpoints(endpoints: Any) -> Endpoints:
    if endpoints not in ("corrected", "slide"):
        raise ValueError(f"endpoints: expected 'corrected' or 'slide', got {endpoints!r}")
    return endpoints


def _init_M(u0: FloatArray) -> tuple[float, float, float]:
    """``(M, s_min, s_max)`` from the singular values of ``U0`` (``W~0`` has eigenvalues ``s^2``).

    ``W0`` counts as singular (``M = inf``) when ``r < n`` or ``s_min <= max(n, r) eps s_max``.
    """
    n, r = u0.shape
    s = np.linalg.svd(u0, compute_uv=False)
    s_max = float(s[0]) if s.size else 0.0
    s_min = float(s[-1]) if r >= n else 0.0
    if s_max == 0.0 or s_min <= max(n, r) * np.finfo(np.float64).eps * s_max:
        return math.inf, s_min, s_max
    return max(1.0 / s_min**2, s_max**2), s_min, s_max


def _intervals(
    sigma: FloatArray, c_eps: float, C_eps: float, alpha: float, endpoints: Endpoints
) -> list[Interval]:
    """The theorem's intervals from its constants; ``a > b`` means empty."""
    log_a = math.log(alpha)
    log_c = _log(c_eps) - log_a
    log_left = log_c if endpoints == "slide" else _log(C_eps) - log_a
    out: list[Interval] = []
    for k in range(sigma.size):
        left = log_left / (2.0 * float(sigma[k]))
        if k + 1 < sigma.size:
            right = log_c / (2.0 * float(sigma[k + 1]))
        else:  # sigma_{K+1} = 0: the limit of log(c/alpha) / (2 sigma) as sigma -> 0+
            right = math.inf if log_c > 0 else -math.inf
        out.append((left, right))
    return out


def _alpha_max(sigma: FloatArray, M: float, c_eps: float, C_eps: float, ends: Endpoints) -> float:
    """Largest ``alpha`` with ``alpha <= c_eps / M`` and every interval non-empty."""
    if not math.isfinite(M) or sigma.size == 0:
        return 0.0
    log_c, log_cap = math.log(c_eps), math.log(C_eps)
    bound = log_c - math.log(M)  # alpha <= c_eps / M (also gives alpha < c_eps: I_K non-empty)
    for k in range(sigma.size - 1):
        sk, sk1 = float(sigma[k]), float(sigma[k + 1])
        if sk - sk1 <= 0.0:
            return 0.0
        lead = log_c if ends == "slide" else log_cap
        # sk1 (lead - log alpha) <= sk (log_c - log alpha)
        bound = min(bound, (sk * log_c - sk1 * lead) / (sk - sk1))
    return math.exp(bound) * (1.0 - 1e-12)  # below the rounding of exp(log(...))


def _constants(
    y: FloatArray, u0: FloatArray, alpha: float, eps: float, endpoints: Endpoints
) -> TheoremConstants:
    lam, _, sigma = _positive_part(y)
    failures: list[str] = []
    tol = _positive_tol(lam)
    if sigma.size == 0:
        failures.append(
            f"Y: no positive eigenvalue (largest {lam[0]:.6g}); there is nothing to learn"
        )
    if lam[-1] < -tol:
        failures.append(
            f"Y: not positive semidefinite (smallest eigenvalue {lam[-1]:.6g}); the flow only "
            "learns its positive part"
        )
    gaps = np.flatnonzero(sigma[:-1] - sigma[1:] <= tol)
    for k in gaps:
        failures.append(
            f"Y: repeated positive eigenvalue sigma_{k + 1} = sigma_{k + 2} = {sigma[k]:.6g}; "
            "the theorem needs K distinct positive eigenvalues"
        )
    M, s_min, _ = _init_M(u0)
    n, r = u0.shape
    if not math.isfinite(M):
        why = f"r = {r} < n = {n}" if r < n else f"smallest singular value of U0 is {s_min:.3g}"
        failures.append(
            f"W0 singular: W~0 = Phi^T U0 U0^T Phi is not invertible ({why}), so M = inf; "
            "the theorem needs an invertible W0 (measured intervals are still computed)"
        )
    if sigma.size:
        eps_max = min(float(sigma[-1]), 1.0)
        if eps > eps_max + tol:  # sigma_K is only known to ~tol
            failures.append(
                f"eps: eps = {eps:.6g} exceeds min(sigma_K, 1) = {eps_max:.6g}; the theorem "
                "needs 0 < eps <= min(sigma_K, 1)"
            )
    c_eps = eps / (16.0 * M**2) if math.isfinite(M) else 0.0
    if sigma.size == 0:
        C_eps = math.nan
    elif math.isfinite(M):
        C_eps = 16.0 * float(sigma[0]) ** 2 * M**2 / eps
    else:
        C_eps = math.inf
    alpha_max = _alpha_max(sigma, M, c_eps, C_eps, endpoints)
    if math.isfinite(M) and alpha > c_eps / M:
        failures.append(
            f"alpha: alpha = {alpha:.6g} exceeds c_eps / M = {c_eps / M:.6g}; the theorem "
            "needs alpha <= c_eps / M"
        )
    if sigma.size and math.isfinite(M):
        for k, (a, b) in enumerate(_intervals(sigma, c_eps, C_eps, alpha, endpoints), start=1):
            if not a <= b:
                fix = (
                    f"every interval is non-empty for alpha <= {alpha_max:.6g}"
                    if alpha_max > 0
                    else "no alpha makes every interval non-empty"
                )
                failures.append(
                    f"intervals: I_{k} = [{a:.6g}, {b:.6g}] ({endpoints} endpoints) is empty; "
                    + fix
                )
    return TheoremConstants(
        M=M,
        c_eps=c_eps,
        C_eps=C_eps,
        eps=eps,
        sigma=sigma.copy(),
        alpha=alpha,
        alpha_max=alpha_max,
        endpoints=endpoints,
        hypotheses_hold=not failures,
        failures=tuple(failures),
    )


def _inputs(
    Y: ArrayLike, U0: ArrayLike, alpha: float, eps: float
) -> tuple[FloatArray, FloatArray, float, float]:
    y = as_symmetric(Y, "Y")
    u0 = as_init(U0, y.shape[0], "U0")
    return y, u0, as_alpha(alpha), as_positive_scalar(eps, "eps")


def theorem_constants(
    Y: ArrayLike, U0: ArrayLike, alpha: float, eps: float, *, endpoints: Endpoints = "corrected"
) -> TheoremConstants:
    r"""The theorem's constants ``M``, ``c_eps``, ``C_eps`` and a check of its hypotheses.

    Failed hypotheses (``W0`` singular, ``eps > min(sigma_K, 1)``, ``alpha > c_eps / M``, an
    empty interval, ``Y`` not PSD or with a repeated positive eigenvalue, or none) do not raise:
    they are listed in ``failures``. Only invalid inputs raise.

    Parameters
    ----------
    Y : (n, n) array
        Symmetric target.
    U0 : (n, r) array
        Initialization shape; ``W~0 = Phi^T U0 U0^T Phi`` has eigenvalues ``s_j(U0)^2``, so
        ``M = max(1 / s_min(U0)^2, s_max(U0)^2)`` (``inf`` if ``r < n`` or ``U0`` is rank
        deficient to ``max(n, r)`` machine epsilons).
    alpha : float
        Initialization scale, ``alpha > 0``.
    eps : float
        Tolerance, ``eps > 0``.
    endpoints : {"corrected", "slide"}
        Intervals whose non-emptiness is checked (see :func:`theorem_intervals`).

    Returns
    -------
    TheoremConstants

    Raises
    ------
    ValueError, TypeError
        For invalid inputs, naming the argument (``eps <= 0``, ``alpha <= 0``, shapes).

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([4.0, 2.0, 1.0], seed=0)
    >>> U0 = mfflow.orthogonal_init(3, 5, seed=1)      # U0 U0^T = I: M = 1
    >>> const = theorem_constants(Y, U0, alpha=1e-20, eps=0.1)
    >>> round(const.M, 12), round(const.c_eps, 12), const.hypotheses_hold
    (1.0, 0.00625, True)
    """
    y, u0, a, e = _inputs(Y, U0, alpha, eps)
    return _constants(y, u0, a, e, _check_endpoints(endpoints))


def theorem_intervals(
    Y: ArrayLike, U0: ArrayLike, alpha: float, eps: float, *, endpoints: Endpoints = "corrected"
) -> list[Interval]:
    r"""The certified intervals ``I_k``, ``k = 1..K``, on which ``||W(t) - Yhat_k||_2 <= eps``.

    .. math::

        I_k = \Big[\frac{\log(C_\varepsilon/\alpha)}{2\sigma_k},
        \frac{\log(c_\varepsilon/\alpha)}{2\sigma_{k+1}}\Big]
        \quad (\text{corrected}), \qquad
        I_k^{\text{slide}} = \Big[\frac{\log(c_\varepsilon/\alpha)}{2\sigma_k},
        \frac{\log(c_\varepsilon/\alpha)}{2\sigma_{k+1}}\Big],

    with ``sigma_{K+1} = 0`` (``I_K`` unbounded). Only the corrected intervals are true: at the
    slide's left end mode ``k`` is still unlearned and the error is ``~sigma_k`` (module
    docstring; tests/test_theory.py).

    Parameters
    ----------
    Y : (n, n) array
    U0 : (n, r) array
    alpha : float
        ``alpha > 0``.
    eps : float
        ``eps > 0``.
    endpoints : {"corrected", "slide"}
        ``"corrected"`` (default, proven and checked) or ``"slide"`` (as transcribed; false).

    Returns
    -------
    list of (float, float)
        ``(a_k, b_k)`` for ``k = 1..K``; ``b_K = inf``. The formulas are evaluated whether or
        not the hypotheses hold (:func:`theorem_constants` says which fail); ``a_k > b_k`` means
        the interval is empty, and ``M = inf`` (singular ``W0``) makes every interval empty
        (``a_k = inf``). Empty list when ``Y`` has no positive eigenvalue.

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([4.0, 2.0, 1.0], seed=0)
    >>> U0 = mfflow.orthogonal_init(3, 5, seed=1)
    >>> [(round(a, 3), round(b, 3)) for a, b in theorem_intervals(Y, U0, 1e-20, eps=0.1)]
    [(6.737, 10.244), (13.475, 20.488), (26.95, inf)]
    """
    const = theorem_constants(Y, U0, alpha, eps, endpoints=endpoints)
    return _intervals(const.sigma, const.c_eps, const.C_eps, const.alpha, const.endpoints)


# ---- measured quantities -------------------------------------------------------------------
def _targets(traj: Trajectory) -> FloatArray:
    """``(K, n)`` diagonals of ``Phi^T Yhat_k^+ Phi``: the top-k positive eigenvalues kept."""
    lam = traj.lam
    pos = lam > _positive_tol(lam)
    K = int(np.count_nonzero(pos))
    d = np.zeros((K, lam.size))
    for k in range(K):
        d[k, : k + 1] = lam[: k + 1]
    return d


def _errors(traj: Trajectory, diag: FloatArray, t: FloatArray) -> FloatArray:
    """``||W(t) - Yhat||_2`` for ``Yhat = Phi diag(diag) Phi^T``: ``(T,)``.

    ``diag`` is ``(n,)`` or ``(J, n)`` (then ``(J, T)``); one evaluation of ``W~`` for all.
    """
    d2 = np.atleast_2d(diag)
    out = np.empty((d2.shape[0], t.size))
    batch = max(1, 2**22 // max(traj.n**2, 1))
    idx = np.arange(traj.n)
    for s in range(0, t.size, batch):
        w = traj.W_eig(t[s : s + batch])
        for j, d in enumerate(d2):
            diff = w.copy()
            diff[:, idx, idx] -= d
            out[j, s : s + batch] = np.max(np.abs(np.linalg.eigvalsh(diff)), axis=1)
    return out if np.ndim(diag) == 2 else out[0]


def _horizon(traj: Trajectory, eps: float | None = None) -> tuple[float, float]:
    """``(t_lo, t_hi)`` of the scan: from well before any transition to long after the last.

    ``t_hi`` covers the slowest positive mode's transition with a factor 8 and a margin of
    ``e^{100}`` on the scale, and (given ``eps``) the ``1/(2t)`` decay of zero modes below eps.
    """
    lam = traj.lam
    pos = lam[lam > _positive_tol(lam)]
    top = float(np.max(np.abs(lam))) if lam.size else 1.0
    top = top if top > 0 else 1.0
    slow = float(pos.min()) if pos.size else top
    t_lo = 1e-3 / (2.0 * top)
    t_hi = 8.0 * (abs(math.log(traj.alpha)) + 100.0) / (2.0 * slow)
    if eps is not None:
        t_hi = max(t_hi, 10.0 / eps)
    return t_lo, t_hi


def _scan_grid(t_lo: float, t_hi: float, extra: list[float] | None = None) -> FloatArray:
    num = max(2, math.ceil(SCAN_POINTS_PER_DECADE * math.log10(t_hi / t_lo)) + 1)
    pts = [np.zeros(1), np.geomspace(t_lo, t_hi, num)]
    if extra:
        pts.append(np.array([x for x in extra if math.isfinite(x) and x >= 0.0]))
    return np.unique(np.concatenate(pts))


def _root(fun: Any, lo: float, hi: float) -> float:
    """A root of ``fun`` in ``[lo, hi]`` (a sign change), to ``ROOT_RTOL`` relative."""
    return float(brentq(fun, lo, hi, xtol=ROOT_RTOL * max(hi, 1e-300), rtol=ROOT_RTOL))


def _components(below: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Index ranges ``[i, j]`` (inclusive) of maximal runs of ``True``."""
    padded = np.concatenate([[False], below, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _overlap(x: Interval, y: Interval) -> float:
    return min(x[1], y[1]) - max(x[0], y[0])


def _measured(
    traj: Trajectory, eps: float, certified: list[Interval] | None
) -> list[Interval | None]:
    targets = _targets(traj)
    K = targets.shape[0]
    if K == 0:
        return []
    extra: list[float] = []
    for a, b in certified or []:
        if a <= b and math.isfinite(a):
            hi = b if math.isfinite(b) else 4.0 * a + 1.0
            extra.extend(np.linspace(max(a, 0.0), hi, 9).tolist())
    t_lo, t_hi = _horizon(traj, eps)
    grid = _scan_grid(t_lo, t_hi, extra)
    err = _errors(traj, targets, grid) - eps  # (K, T)
    out: list[Interval | None] = []
    for k in range(K):
        f_k = err[k]
        comps = _components(f_k <= 0.0)
        if not comps:
            out.append(None)
            continue
        spans = [(float(grid[i]), float(grid[j])) for i, j in comps]
        chosen = None
        cert = certified[k] if certified is not None else None
        if cert is not None and cert[0] <= cert[1]:
            best = max(range(len(comps)), key=lambda c: _overlap(spans[c], cert))
            if _overlap(spans[best], cert) >= 0.0:
                chosen = best
        if chosen is None:
            chosen = max(range(len(comps)), key=lambda c: spans[c][1] - spans[c][0])
        i, j = comps[chosen]
        d = targets[k]

        def fun(t: float, d: FloatArray = d) -> float:
            return float(_errors(traj, d, np.array([t]))[0] - eps)

        left = 0.0 if i == 0 else _root(fun, float(grid[i - 1]), float(grid[i]))
        right = math.inf if j == grid.size - 1 else _root(fun, float(grid[j]), float(grid[j + 1]))
        out.append((left, right))
    return out


def measured_intervals(
    Y: ArrayLike, U0: ArrayLike, alpha: float, eps: float
) -> list[Interval | None]:
    r"""Where the error is actually below ``eps``: per ``k``, the maximal interval with
    ``||W(t) - Yhat_k||_2 <= eps`` around the certified one.

    The error ``f_k(t) = ||W(t) - Yhat_k||_2 - eps`` is evaluated from the exact closed form in
    ``Y``'s eigenbasis, where ``Yhat_k`` is diagonal, on a log-spaced grid from
    ``1e-3 / (2 |lam|_max)`` to ``8 (|log alpha| + 100) / (2 sigma_K)`` (and at least
    ``10 / eps``) with :data:`SCAN_POINTS_PER_DECADE` points per decade, plus ``t = 0`` and points
    inside the certified intervals. Each maximal run of grid points with ``f_k <= 0`` is a
    candidate; the one overlapping the corrected certified interval most is chosen (else the
    longest), and its ends are refined by ``scipy.optimize.brentq`` to :data:`ROOT_RTOL`
    relative. A run reaching the end of the scan has right end ``inf`` (every positive mode has
    long since converged); one starting at ``t = 0`` has left end ``0``.

    ``Yhat_k`` is the rank-``k`` truncation of the positive part of ``Y`` (its top ``k``
    positive eigenpairs), which is :func:`best_rank_k` for PSD ``Y`` and, for indefinite ``Y``,
    what the PSD ``W(t)`` can approach (the flow's limit is the positive part).

    Parameters
    ----------
    Y : (n, n) array
    U0 : (n, r) array
        Any shape (singular ``W0`` allowed).
    alpha : float
        ``alpha > 0``.
    eps : float
        ``eps > 0``.

    Returns
    -------
    list of ((float, float) or None)
        Length ``K`` (number of positive eigenvalues of ``Y``); ``None`` where the error never
        drops below ``eps`` on the scan. A run narrower than the grid spacing (relative
        ``10**(1/200) - 1 ~ 1.2%``) away from the certified points can be missed.

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([4.0, 2.0, 1.0], seed=0)
    >>> U0 = mfflow.orthogonal_init(3, 5, seed=1)
    >>> [(round(a, 2), round(b, 2)) for a, b in measured_intervals(Y, U0, 1e-20, eps=0.1)]
    [(6.39, 10.95), (12.42, 21.93), (24.12, inf)]
    """
    y, u0, a, e = _inputs(Y, U0, alpha, eps)
    const = _constants(y, u0, a, e, "corrected")
    traj = closed_form(y, u0, a)
    cert = _intervals(const.sigma, const.c_eps, const.C_eps, a, "corrected")
    return _measured(traj, e, cert if const.sigma.size else None)


def measured_transition_times(
    Y: ArrayLike, U0: ArrayLike, alpha: float, fraction: float = 0.5
) -> FloatArray:
    r"""Time at which each positive mode's component first reaches ``fraction * sigma_i``.

    The component is ``u_i^T W(t) u_i`` (:meth:`Trajectory.mode_values`, ``u_i`` the ``i``-th
    eigenvector of ``Y``); the first crossing is bracketed on the log-spaced scan of
    :func:`measured_intervals` and refined by ``brentq``. Compare with
    :func:`transition_times`: the difference stays ``O(1)`` as ``alpha -> 0`` and each factor
    ``e^{-m}`` on ``alpha`` delays mode ``i`` by ``m / (2 sigma_i)``.

    Parameters
    ----------
    Y : (n, n) array
    U0 : (n, r) array
    alpha : float
        ``alpha > 0``.
    fraction : float
        ``0 < fraction < 1``.

    Returns
    -------
    (K,) array
        One time per positive eigenvalue, descending ``sigma``; ``nan`` for a mode that never
        reaches the level (e.g. outside the range of a rank-deficient ``W0``); ``0`` if it starts
        above it.

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([4.0, 1.0], seed=0)
    >>> U0 = mfflow.spectral_init(Y, 1.0)      # spectral: exact logistic curves
    >>> measured_transition_times(Y, U0, alpha=1e-10).round(4)  # (log(1e10 (sigma - a))) / 2 sigma
    array([ 3.0515, 11.5129])
    """
    y = as_symmetric(Y, "Y")
    u0 = as_init(U0, y.shape[0], "U0")
    a = as_alpha(alpha)
    f = as_positive_scalar(fraction, "fraction")
    if f >= 1.0:
        raise ValueError(f"fraction: expected 0 < fraction < 1, got {f!r}")
    traj = closed_form(y, u0, a)
    sigma = traj.lam[traj.lam > _positive_tol(traj.lam)]
    if sigma.size == 0:
        return np.zeros(0)
    grid = _scan_grid(*_horizon(traj))
    vals = traj.mode_values(grid)[:, : sigma.size] - f * sigma  # (T, K)
    out = np.full(sigma.size, np.nan)
    for i in range(sigma.size):
        hit = np.flatnonzero(vals[:, i] >= 0.0)
        if hit.size == 0:
            continue
        j = int(hit[0])
        if j == 0:
            out[i] = 0.0
            continue

        def fun(t: float, i: int = i) -> float:
            return float(traj.mode_values(t)[i] - f * sigma[i])

        out[i] = _root(fun, float(grid[j - 1]), float(grid[j]))
    return out


# ---- the check -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TheoremRow:
    """The theorem's claim for one ``k`` against the exact trajectory.

    Attributes
    ----------
    k : int
        Rank of the approximation ``Yhat_k``, ``1..K``.
    sigma_k : float
        ``k``-th largest positive eigenvalue of ``Y``.
    certified : (float, float)
        The theorem's interval ``I_k`` (``a > b``: empty).
    measured : (float, float) or None
        The measured interval of :func:`measured_intervals`.
    max_error_on_certified : float
        ``max ||W(t) - Yhat_k||_2`` over ``I_k`` (``nan`` if empty); for ``b = inf`` over
        ``[a, t_hi]`` with the scan horizon ``t_hi``, beyond which the error only decays.
    holds : bool or None
        ``max_error_on_certified <= eps``; ``None`` when ``I_k`` is empty.
    contained : bool or None
        ``I_k`` inside the measured interval; ``None`` when ``I_k`` is empty.
    """

    k: int
    sigma_k: float
    certified: Interval
    measured: Interval | None
    max_error_on_certified: float
    holds: bool | None
    contained: bool | None


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) and x > 0 else f"{x:.6g}"


@dataclass(frozen=True, eq=False)
class TheoremCheck:
    """Result of :func:`check_theorem`: the constants and one :class:`TheoremRow` per ``k``."""

    constants: TheoremConstants
    rows: list[TheoremRow]

    @property
    def all_hold(self) -> bool:
        """Every non-empty certified interval has error ``<= eps`` (vacuous rows skipped)."""
        return all(row.holds is not False for row in self.rows)

    def as_dict(self) -> dict[str, Any]:
        """Plain Python values (floats, lists, ``None``), ready for JSON (``inf`` as float)."""
        c = self.constants
        return {
            "constants": {
                "M": c.M,
                "c_eps": c.c_eps,
                "C_eps": c.C_eps,
                "eps": c.eps,
                "sigma": [float(s) for s in c.sigma],
                "alpha": c.alpha,
                "alpha_max": c.alpha_max,
                "endpoints": c.endpoints,
                "hypotheses_hold": c.hypotheses_hold,
                "failures": list(c.failures),
            },
            "rows": [
                {
                    "k": r.k,
                    "sigma_k": r.sigma_k,
                    "certified": list(r.certified),
                    "measured": None if r.measured is None else list(r.measured),
                    "max_error_on_certified": r.max_error_on_certified,
                    "holds": r.holds,
                    "contained": r.contained,
                }
                for r in self.rows
            ],
        }

    def to_table(self) -> str:
        """A plain-text table, one line per ``k``, headed by the constants and any failures."""
        c = self.constants
        lines = [
            f"M = {_fmt(c.M)}, c_eps = {_fmt(c.c_eps)}, C_eps = {_fmt(c.C_eps)}, "
            f"eps = {_fmt(c.eps)}, alpha = {_fmt(c.alpha)} (max {_fmt(c.alpha_max)}), "
            f"{c.endpoints} endpoints, hypotheses hold: {c.hypotheses_hold}"
        ]
        lines += [f"  failed: {msg}" for msg in c.failures]
        head = ("k", "sigma_k", "certified", "measured", "max err", "holds", "contained")
        body = [
            (
                str(r.k),
                _fmt(r.sigma_k),
                f"[{_fmt(r.certified[0])}, {_fmt(r.certified[1])}]",
                "-" if r.measured is None else f"[{_fmt(r.measured[0])}, {_fmt(r.measured[1])}]",
                _fmt(r.max_error_on_certified),
                str(r.holds),
                str(r.contained),
            )
            for r in self.rows
        ]
        widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
        for row in (head, *body):
            lines.append("  ".join(x.rjust(w) for x, w in zip(row, widths, strict=True)))
        return "\n".join(lines)


def _max_error(traj: Trajectory, d: FloatArray, a: float, b: float) -> float:
    """``max ||W(t) - Phi diag(d) Phi^T||_2`` on ``[a, b]`` (``b`` finite).

    Sampled at :data:`ERROR_SAMPLES` linearly and as many log-spaced points (both ends
    included), then refined by a bounded scalar search between the neighbours of the largest
    sample.
    """
    a = max(a, 0.0)
    lin = np.linspace(a, b, ERROR_SAMPLES)
    log = np.geomspace(max(a, b * 1e-12, 1e-300), b, ERROR_SAMPLES)
    ts = np.unique(np.concatenate([lin, log]))
    errs = _errors(traj, d, ts)
    j = int(np.argmax(errs))
    best = float(errs[j])
    lo, hi = float(ts[max(j - 1, 0)]), float(ts[min(j + 1, ts.size - 1)])
    if hi > lo:
        res = minimize_scalar(
            lambda t: -float(_errors(traj, d, np.array([t]))[0]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": ROOT_RTOL * hi},
        )
        best = max(best, -float(res.fun))
    return best


def check_theorem(
    Y: ArrayLike, U0: ArrayLike, alpha: float, eps: float, *, endpoints: Endpoints = "corrected"
) -> TheoremCheck:
    r"""Check the theorem's claim against the exact trajectory, interval by interval.

    Never raises on failed hypotheses (they are reported in ``constants.failures``, with
    ``hypotheses_hold=False``); the certified intervals, their errors and the measured intervals
    are computed wherever meaningful (with a singular ``W0``, ``M = inf`` empties every certified
    interval but the measured ones are still found).

    Parameters
    ----------
    Y : (n, n) array
        Symmetric target (PSD with distinct positive eigenvalues for the theorem to apply).
    U0 : (n, r) array
        Initialization shape.
    alpha : float
        ``alpha > 0``.
    eps : float
        ``eps > 0`` (the theorem needs ``eps <= min(sigma_K, 1)``).
    endpoints : {"corrected", "slide"}
        Which certified intervals to check (:func:`theorem_intervals`); ``"slide"`` shows the
        transcribed version failing at its left ends.

    Returns
    -------
    TheoremCheck
        ``rows[k-1]`` compares ``I_k`` with the measured interval; ``to_table()`` prints it.

    Raises
    ------
    ValueError, TypeError
        Only for invalid inputs (``eps <= 0``, ``alpha <= 0``, shapes, non-symmetric ``Y``).

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([4.0, 2.0, 1.0], seed=0)
    >>> U0 = mfflow.gaussian_init(3, 6, seed=1)
    >>> check = check_theorem(Y, U0, alpha=1e-30, eps=0.1)
    >>> check.constants.hypotheses_hold, check.all_hold, [r.contained for r in check.rows]
    (True, True, [True, True, True])
    """
    y, u0, a, e = _inputs(Y, U0, alpha, eps)
    ends = _check_endpoints(endpoints)
    const = _constants(y, u0, a, e, ends)
    traj = closed_form(y, u0, a)
    cert = _intervals(const.sigma, const.c_eps, const.C_eps, a, ends)
    corrected = _intervals(const.sigma, const.c_eps, const.C_eps, a, "corrected")
    measured = _measured(traj, e, corrected)
    targets = _targets(traj)
    _, t_hi = _horizon(traj, e)
    rows: list[TheoremRow] = []
    for k, ((lo, hi), meas) in enumerate(zip(cert, measured, strict=True), start=1):
        empty = not (lo <= hi) or not math.isfinite(lo) or hi < 0.0
        if empty:
            max_err, holds, contained = math.nan, None, None
        else:
            top = hi if math.isfinite(hi) else max(t_hi, 4.0 * lo)
            max_err = _max_error(traj, targets[k - 1], lo, top)
            holds = bool(max_err <= e)
            contained = meas is not None and meas[0] <= max(lo, 0.0) and hi <= meas[1]
        rows.append(
            TheoremRow(
                k=k,
                sigma_k=float(const.sigma[k - 1]),
                certified=(lo, hi),
                measured=meas,
                max_error_on_certified=max_err,
                holds=holds,
                contained=contained,
            )
        )
    return TheoremCheck(constants=const, rows=rows)
