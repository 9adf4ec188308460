"""The theorem's constants, its certified intervals and the leading-order transition times."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..backend import to_numpy
from ..linalg import eig_tol, eigh_descending
from ..riccati import Trajectory, closed_form
from ..validation import (
    MAGNITUDE_MAX,
    MAGNITUDE_MIN,
    as_alpha,
    as_positive_int,
    as_positive_scalar,
    as_symmetric,
    as_weight_decay,
)

__all__ = [
    "Endpoints",
    "Interval",
    "TheoremConstants",
    "as_endpoints",
    "as_eps",
    "best_rank_k",
    "certified_intervals",
    "constants_of",
    "init_M",
    "positive_part",
    "theorem_constants",
    "theorem_intervals",
    "trajectory_of",
    "transition_times",
]

FloatArray = NDArray[np.float64]
Endpoints = Literal["corrected", "slide"]
Interval = tuple[float, float]


def as_eps(eps: Any) -> float:
    """The tolerance ``eps > 0`` (required), within ``[MAGNITUDE_MIN, MAGNITUDE_MAX]``: a
    smaller one would put the scan horizon (``10 / eps``) beyond every float64 time."""
    if eps is None:
        raise TypeError("eps: required, a number > 0")
    return as_positive_scalar(eps, "eps", minimum=MAGNITUDE_MIN, maximum=MAGNITUDE_MAX)


def positive_part(lam: FloatArray) -> FloatArray:
    """The positive eigenvalues among the descending ``lam`` (above :func:`~mfflow.linalg.eig_tol`:
    anything smaller is the rounding of an exact zero)."""
    return lam[lam > eig_tol(lam)]


def trajectory_of(
    Y: ArrayLike | Trajectory,
    U0: ArrayLike | None,
    alpha: float | None,
    weight_decay: float | None = None,
) -> Trajectory:
    """A NumPy-backed :class:`Trajectory` from ``(Y, U0, alpha)`` or from a built one.

    The theory functions evaluate on the host in float64 whatever the trajectory's backend (the
    set-up is shared, nothing is recomputed). ``weight_decay`` (``None``: 0, or the built
    trajectory's) builds the flow with target ``Y - weight_decay I``; given with a trajectory, it
    must be the trajectory's.
    """
    if isinstance(Y, Trajectory):
        if U0 is not None or alpha is not None:
            raise TypeError("U0, alpha: pass either a built Trajectory or (Y, U0, alpha), not both")
        traj = Y
        _same_weight_decay(traj, weight_decay)
    else:
        if U0 is None or alpha is None:
            raise TypeError("U0, alpha: required when Y is a target (or pass a built Trajectory)")
        traj = closed_form(Y, U0, alpha, weight_decay=weight_decay)
    if traj.grad_inputs:
        raise ValueError(
            f"{', '.join(traj.grad_inputs)}: carry gradients, and the theorem's constants and "
            "intervals are not differentiable (root finding, projections); pass detached arrays"
        )
    return traj if traj.backend == "numpy" else Trajectory(traj.structure, traj.alpha)


def _same_weight_decay(traj: Trajectory, weight_decay: float | None) -> None:
    """Refuse a ``weight_decay`` that contradicts the built trajectory's."""
    if weight_decay is not None and as_weight_decay(weight_decay) != traj.weight_decay:
        raise ValueError(
            f"weight_decay: {weight_decay!r} differs from the trajectory's "
            f"{traj.weight_decay!r}; omit it (the trajectory's is used) or rebuild the trajectory"
        )


def _log(x: float) -> float:
    """``log`` extended to ``0 -> -inf`` and ``inf -> inf`` (no warnings)."""
    if x == 0.0:
        return -math.inf
    if math.isinf(x):
        return math.inf
    return math.log(x)


def transition_times(
    Y: ArrayLike | Trajectory, alpha: float | None = None, *, weight_decay: float | None = None
) -> FloatArray:
    r"""Leading-order transition times ``log(1/alpha) / (2 sigma_i)`` of the positive modes.

    With weight decay ``gamma`` (loss ``+ gamma/2 ||U||_F^2``) the flow is the plain one with
    target ``Y - gamma I`` (docs/math.md §10): the times are
    ``log(1/alpha) / (2 (sigma_i - gamma))`` for the modes with ``sigma_i > gamma``, and the
    others are never learned (they decay, like ``e^{-2 (gamma - sigma_i) t}``).

    Parameters
    ----------
    Y : (n, n) array, or a Trajectory
        Symmetric target (or a built trajectory: its eigenvalues, which include its weight
        decay, and its ``alpha`` unless given).
    alpha : float
        Initialization scale, ``alpha > 0``.
    weight_decay : float, optional
        ``gamma >= 0`` (default 0; with a trajectory, omit it or give the trajectory's).

    Returns
    -------
    (K,) array
        One time per positive eigenvalue ``sigma_1 - gamma >= ... >= sigma_K - gamma`` of
        ``Y - gamma I`` (repeated ones repeated), so ascending. The true time at which mode ``i``
        reaches a fraction ``f`` of ``sigma_i - gamma`` differs by an ``O(1)`` shift depending on
        ``U0`` and ``f`` (:func:`measured_transition_times`); shrinking ``alpha`` by ``e^{-m}``
        delays mode ``i`` by ``m / (2 (sigma_i - gamma))``.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> transition_times(np.diag([4.0, 1.0, 0.0]), alpha=np.exp(-8.0))
    array([1., 4.])
    >>> transition_times(np.diag([4.0, 1.0, 0.0]), alpha=np.exp(-8.0), weight_decay=2.0)
    array([2.])
    """
    if isinstance(Y, Trajectory):
        _same_weight_decay(Y, weight_decay)
        lam, a = Y.lam, as_alpha(Y.alpha if alpha is None else alpha)
    else:
        if alpha is None:
            raise TypeError("alpha: required when Y is a target (or pass a built Trajectory)")
        gamma = 0.0 if weight_decay is None else as_weight_decay(weight_decay)
        lam, a = eigh_descending(as_symmetric(to_numpy(Y, "Y"), "Y"))[0], as_alpha(alpha)
        lam = lam - gamma
    return -math.log(a) / (2.0 * positive_part(lam))


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
    y = as_symmetric(to_numpy(Y, "Y"), "Y")
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
    c_eps : float
        ``eps / (16 M^2)`` (``0`` when ``M = inf``).
    C_eps : float or None
        ``16 sigma_1^2 M^2 / eps`` (``inf`` when ``M = inf``); ``None`` when ``Y`` has no
        positive eigenvalue (there is no ``sigma_1``): never NaN. With weight decay ``gamma``,
        ``sigma_1`` is ``sigma_1(Y) - gamma``.
    eps : float
        The tolerance.
    sigma : (K,) array
        Positive eigenvalues of ``Y`` (of ``Y - gamma I`` with weight decay), descending (with
        multiplicity).
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
        One message per failed hypothesis, starting with the argument it concerns (``"Y: ..."``,
        ``"U0: ..."`` for a singular ``W0``, ``"eps: ..."``, ``"alpha: ..."``) or
        ``"intervals: ..."`` (an empty interval, which ``alpha`` decides).
    weight_decay : float
        ``gamma >= 0`` of the flow checked (docs/math.md §10: the theorem for the target
        ``Y - gamma I``, whose eigenvalues ``<= 0`` are never learned).
    """

    M: float
    c_eps: float
    C_eps: float | None
    eps: float
    sigma: FloatArray
    alpha: float
    alpha_max: float
    endpoints: Endpoints
    hypotheses_hold: bool
    failures: tuple[str, ...]
    weight_decay: float = 0.0

    @property
    def K(self) -> int:
        """Number of positive eigenvalues of ``Y``."""
        return int(self.sigma.size)

    @property
    def status(self) -> str:
        """``"hypotheses hold"`` or ``"hypotheses fail: <each failure>"`` (one line)."""
        if self.hypotheses_hold:
            return "hypotheses hold"
        return "hypotheses fail: " + "; ".join(self.failures)

    def arguments(self) -> list[str]:
        """The arguments the failed hypotheses concern (``"intervals"`` counts as ``alpha``)."""
        out: list[str] = []
        for msg in self.failures:
            head = msg.split(":", 1)[0]
            name = "alpha" if head == "intervals" else head
            if name not in out:
                out.append(name)
        return out


def as_endpoints(endpoints: Any) -> Endpoints:
    if endpoints not in ("corrected", "slide"):
        raise ValueError(f"endpoints: expected 'corrected' or 'slide', got {endpoints!r}")
    return endpoints


def init_M(traj: Trajectory) -> tuple[float, float, float]:
    """``(M, s_min, s_max)`` from the singular values of ``U0`` (``W~0`` has eigenvalues ``s^2``).

    ``W0`` counts as singular (``M = inf``) when ``r < n`` or ``s_min <= max(n, r) eps s_max``.
    """
    n, r = traj.n, traj.structure.r
    s = traj.init_singular_values
    s_max = float(s[0]) if s.size else 0.0
    s_min = float(s[-1]) if r >= n and traj.dim == n else 0.0
    if s_max == 0.0 or s_min <= max(n, r) * np.finfo(np.float64).eps * s_max:
        return math.inf, s_min, s_max
    return max(1.0 / s_min**2, s_max**2), s_min, s_max


def certified_intervals(
    sigma: FloatArray, c_eps: float, C_eps: float | None, alpha: float, endpoints: Endpoints
) -> list[Interval]:
    """The theorem's intervals from its constants; ``a > b`` means empty (never NaN)."""
    if sigma.size == 0 or C_eps is None:
        return []
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
    if not math.isfinite(M) or sigma.size == 0 or c_eps <= 0.0 or not math.isfinite(C_eps):
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


def constants_of(traj: Trajectory, eps: float, endpoints: Endpoints) -> TheoremConstants:
    """The theorem's constants for a built trajectory (see :func:`theorem_constants`)."""
    lam, alpha, gamma = traj.lam, traj.alpha, traj.weight_decay
    sigma = positive_part(lam)
    failures: list[str] = []
    tol = eig_tol(lam)
    if sigma.size == 0 and gamma:
        failures.append(
            f"Y: no eigenvalue above the weight decay {gamma:.6g} (largest {lam[0] + gamma:.6g}); "
            "every mode decays, there is nothing to learn"
        )
    elif sigma.size == 0:
        failures.append(
            f"Y: no positive eigenvalue (largest {lam[0]:.6g}); there is nothing to learn"
        )
    if lam[-1] + gamma < -tol:  # Y itself must be PSD; Y - gamma I need not be
        failures.append(
            f"Y: not positive semidefinite (smallest eigenvalue {lam[-1] + gamma:.6g}); the flow "
            "only learns its positive part"
        )
    gaps = np.flatnonzero(sigma[:-1] - sigma[1:] <= tol)
    for k in gaps:
        failures.append(
            f"Y: repeated positive eigenvalue sigma_{k + 1} = sigma_{k + 2} = {sigma[k]:.6g}; "
            "the theorem needs K distinct positive eigenvalues"
        )
    M, s_min, _ = init_M(traj)
    n, r = traj.n, traj.structure.r
    if not math.isfinite(M):
        why = f"r = {r} < n = {n}" if r < n else f"smallest singular value of U0 is {s_min:.3g}"
        failures.append(
            f"U0: W0 = U0 U0^T is singular (W~0 = Phi^T U0 U0^T Phi not invertible: {why}), so "
            "M = inf; the theorem needs an invertible W0 (measured intervals are still computed)"
        )
    if sigma.size:
        eps_max = min(float(sigma[-1]), 1.0)
        if eps > eps_max + tol:  # sigma_K is only known to ~tol
            failures.append(
                f"eps: eps = {eps:.6g} exceeds min(sigma_K, 1) = {eps_max:.6g}; the theorem "
                "needs 0 < eps <= min(sigma_K, 1)"
            )
    c_eps = eps / (16.0 * M**2) if math.isfinite(M) else 0.0
    C_eps: float | None
    if sigma.size == 0:
        C_eps = None
    elif math.isfinite(M):
        C_eps = 16.0 * float(sigma[0]) ** 2 * M**2 / eps
    else:
        C_eps = math.inf
    alpha_max = _alpha_max(sigma, M, c_eps, math.inf if C_eps is None else C_eps, endpoints)
    if math.isfinite(M) and alpha > c_eps / M:
        failures.append(
            f"alpha: alpha = {alpha:.6g} exceeds c_eps / M = {c_eps / M:.6g}; the theorem "
            "needs alpha <= c_eps / M"
        )
    if sigma.size and math.isfinite(M) and C_eps is not None:
        for k, (a, b) in enumerate(
            certified_intervals(sigma, c_eps, C_eps, alpha, endpoints), start=1
        ):
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
        weight_decay=gamma,
    )


def theorem_constants(
    Y: ArrayLike | Trajectory,
    U0: ArrayLike | None = None,
    alpha: float | None = None,
    eps: float | None = None,
    *,
    endpoints: Endpoints = "corrected",
    weight_decay: float | None = None,
) -> TheoremConstants:
    r"""The theorem's constants ``M``, ``c_eps``, ``C_eps`` and a check of its hypotheses.

    Failed hypotheses (``W0`` singular, ``eps > min(sigma_K, 1)``, ``alpha > c_eps / M``, an
    empty interval, ``Y`` not PSD or with a repeated positive eigenvalue, or none) do not raise:
    they are listed in ``failures``. Only invalid inputs raise.

    Parameters
    ----------
    Y : (n, n) array, or a Trajectory
        Symmetric target, or a trajectory built by :func:`mfflow.closed_form` (then ``U0`` and
        ``alpha`` are omitted and its set-up is reused).
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
    weight_decay : float, optional
        ``gamma >= 0``: the constants of the flow with loss ``+ gamma/2 ||U||_F^2``, i.e. of the
        target ``Y - gamma I`` (``sigma_i - gamma`` in place of ``sigma_i``; docs/math.md §10).

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
    traj = trajectory_of(Y, U0, alpha, weight_decay)
    return constants_of(traj, as_eps(eps), as_endpoints(endpoints))


def theorem_intervals(
    Y: ArrayLike | Trajectory,
    U0: ArrayLike | None = None,
    alpha: float | None = None,
    eps: float | None = None,
    *,
    endpoints: Endpoints = "corrected",
    weight_decay: float | None = None,
    check: bool = True,
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
    weight_decay : float, optional
        ``gamma >= 0``: the intervals of the flow with weight decay (docs/math.md §10), with
        ``sigma_k - gamma`` for ``sigma_k``, ``C_eps = 16 (sigma_1 - gamma)^2 M^2 / eps``,
        ``K`` the number of ``sigma_k > gamma`` and ``Yhat_k`` the rank-``k`` truncation of
        ``(Y - gamma I)_+``.
    check : bool
        ``True`` (default): the intervals are certified, so a failed hypothesis raises (see
        Raises). ``False``: evaluate the formulas anyway (uncertified numbers, e.g. to draw the
        slide's intervals); ``a_k > b_k`` then means the formula gives an empty interval and
        ``M = inf`` (singular ``W0``) empties every one (``a_k = inf``).

    Returns
    -------
    list of (float, float)
        ``(a_k, b_k)`` for ``k = 1..K``; ``b_K = inf``; never NaN. With ``check=False`` and no
        positive eigenvalue, an empty list.

    Raises
    ------
    ValueError
        With ``check=True``, when a hypothesis of the theorem fails: the message starts with the
        arguments concerned and lists every failure (:attr:`TheoremConstants.failures`); there
        are no certified intervals then. Also, as always, for invalid inputs.

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([4.0, 2.0, 1.0], seed=0)
    >>> U0 = mfflow.orthogonal_init(3, 5, seed=1)
    >>> [(round(a, 3), round(b, 3)) for a, b in theorem_intervals(Y, U0, 1e-20, eps=0.1)]
    [(6.737, 10.244), (13.475, 20.488), (26.95, inf)]
    """
    if not isinstance(check, bool | np.bool_):
        raise TypeError(f"check: expected True or False, got {check!r}")
    const = theorem_constants(Y, U0, alpha, eps, endpoints=endpoints, weight_decay=weight_decay)
    if check and not const.hypotheses_hold:
        raise ValueError(
            f"{', '.join(const.arguments())}: the theorem's {const.status} (no certified "
            "intervals; theorem_intervals(..., check=False) evaluates the formulas anyway, "
            "check_theorem reports everything)"
        )
    if const.C_eps is None:
        return []
    return certified_intervals(const.sigma, const.c_eps, const.C_eps, const.alpha, const.endpoints)
