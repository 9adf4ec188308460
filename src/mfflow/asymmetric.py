r"""Asymmetric matrix factorization ``Y ~ U V^T``: exact flow, simulation, imbalance.

The loss and its gradient flow, for a target ``Y`` ``(m, n)`` of any shape and factors
``U`` ``(m, r)``, ``V`` ``(n, r)``:

.. math::

    L(U, V) = \tfrac12 \|Y - U V^T\|_F^2, \qquad
    \dot U = (Y - U V^T) V, \quad \dot V = (Y - U V^T)^T U,

from ``U(0) = sqrt(alpha) U0``, ``V(0) = sqrt(alpha) V0``. The *imbalance*
``D = U^T U - V^T V`` ``(r, r)`` is conserved by the flow (both Gram matrices have the same
derivative ``U^T R V + V^T R^T U``, ``R = Y - U V^T``); gradient descent changes it by
``eta^2 (V^T R^T R V - U^T R R^T U)`` per step.

**Symmetrization** (MATH.md section 4). With ``Z = [U; V]`` ``(m + n, r)``,
``Ybar = [[0, Y], [Y^T, 0]]`` and ``J = diag(I_m, -I_n)``, one has
``[U V^T V; V U^T U] = 1/2 Z Z^T Z - 1/2 J Z D'`` where for a *lambda-balanced* init
(``D = lam I_r``) the last term is ``lam/2 J Z``. Hence ``Z' = Z / sqrt(2)`` solves

.. math::

    \dot Z' = \big(\bar Y + \tfrac{\lambda}{2} J\big) Z' - Z' Z'^T Z',

the *symmetric* flow of :func:`mfflow.closed_form` with the indefinite target
``Ybar + lam/2 J`` and init ``Z'(0) = sqrt(alpha) [U0; V0] / sqrt(2)``, where
``lam = alpha * lam0`` is the imbalance of the actual init (``lam0`` that of the shapes). So
``U V^T = 2 W'_{12}``, ``U U^T = 2 W'_{11}``, ``V V^T = 2 W'_{22}`` exactly. The eigenvalues of
``Ybar + lam/2 J`` are ``+-sqrt(s_i^2 + lam^2/4)`` for the singular values ``s_i`` of ``Y``, plus
``+lam/2`` (``m > n``) or ``-lam/2`` (``n > m``) on the extra dimensions; at the limit the
product ``U V^T`` still converges to (the best rank-r approximation of) ``Y``.

Existence of lambda-balanced shapes: ``U0^T U0 = V0^T V0 + lam0 I_r`` is positive definite for
``lam0 > 0``, so ``U0`` must have rank ``r``: ``r <= m``; symmetrically ``lam0 < 0`` needs
``r <= n``; balanced shapes (``lam0 = 0``) exist for every ``r``. See
:func:`lambda_balanced_init` for the construction.

For an arbitrary init there is no closed form: :func:`simulate_asymmetric_gf` and
:func:`simulate_asymmetric_gd` integrate / iterate, report the imbalance along the way, and
:func:`imbalance_study` measures how far such trajectories are from the balanced prediction.

Reference: H. Min and R. Vidal, arXiv:2508.20344 (2025), section on future work (the
symmetrization trick); MATH.md section 4.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .curves import crossing_times
from .riccati import Trajectory, closed_form
from .simulate import (
    _RTOL_MIN,
    _SOLVERS,
    ATOL_FACTOR,
    _as_method,
    _descend,
    _integrate_through,
    _record_steps,
)
from .validation import (
    Seed,
    as_alpha,
    as_matrix,
    as_positive_int,
    as_positive_scalar,
    as_rng,
    as_times,
)

__all__ = [
    "LAMBDA_RTOL",
    "AsymmetricFlowResult",
    "AsymmetricGDResult",
    "AsymmetricLearningCurves",
    "AsymmetricTrajectory",
    "ImbalanceStudy",
    "asymmetric_learning_curves",
    "balanced_init",
    "closed_form_asymmetric",
    "gaussian_pair_init",
    "imbalance",
    "imbalance_study",
    "lambda_balanced_init",
    "simulate_asymmetric_gd",
    "simulate_asymmetric_gf",
    "symmetrized_target",
]

FloatArray = NDArray[np.float64]

#: An init is lambda-balanced when ``max|U0^T U0 - V0^T V0 - lam0 I| <= LAMBDA_RTOL * scale``,
#: ``scale = max|U0^T U0| + max|V0^T V0|``: rounding of a constructed init, nothing larger.
LAMBDA_RTOL = 1e-10


# ---- validation ---------------------------------------------------------------------------------
def _as_factor(value: Any, rows: int, name: str, shape_text: str) -> FloatArray:
    arr = as_matrix(value, name)
    if arr.shape[0] != rows:
        raise ValueError(
            f"{name}: expected shape {shape_text} with {rows} rows to match Y, got {arr.shape}"
        )
    return arr


def _as_problem(
    Y: ArrayLike, U0: ArrayLike, V0: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Check ``Y`` ``(m, n)``, ``U0`` ``(m, r)``, ``V0`` ``(n, r)``."""
    y = as_matrix(Y, "Y")
    m, n = y.shape
    u0 = _as_factor(U0, m, "U0", "(m, r)")
    v0 = _as_factor(V0, n, "V0", "(n, r)")
    if u0.shape[1] != v0.shape[1]:
        raise ValueError(
            f"V0: expected r = {u0.shape[1]} columns to match U0 {u0.shape}, got {v0.shape}"
        )
    return y, u0, v0


# ---- initializations ----------------------------------------------------------------------------
def _orthonormal(rows: int, cols: int, rng: np.random.Generator) -> FloatArray:
    """Haar-random ``(rows, cols)`` with orthonormal columns, ``cols <= rows``."""
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def _psd_sqrt(G: FloatArray) -> FloatArray:
    w, q = np.linalg.eigh(0.5 * (G + G.T))
    return (q * np.sqrt(np.maximum(w, 0.0))) @ q.T


def balanced_init(
    m: int, n: int, r: int, seed: Seed = 0, *, Y: ArrayLike | None = None
) -> tuple[FloatArray, FloatArray]:
    """Balanced shapes ``U0`` ``(m, r)``, ``V0`` ``(n, r)`` with ``U0^T U0 = V0^T V0``.

    ``U0 = P C``, ``V0 = Q C`` with ``C`` ``(k, r)`` Gaussian ``N(0, 1/r)``,
    ``k = min(m, n, r)``, and ``P`` ``(m, k)``, ``Q`` ``(n, k)`` Haar-random orthonormal columns,
    so both Gram matrices equal ``C^T C`` (to rounding). Exists for every ``r``.

    A trap of square problems: for ``m = n <= r`` every balanced init is ``V0 = O U0`` with ``O``
    orthogonal, and when ``-1`` is an eigenvalue of ``P^T P_Y Q_Y^T Q`` (``Y = P_Y S Q_Y^T``;
    always so in odd ``n`` when its determinant is ``-1``, i.e. for half of all draws) the init
    has *exactly zero* weight on the growing direction ``[u_i; v_i]`` of some mode: the flow then
    converges to a saddle with that mode unlearned (in 1-D: ``u0 = -v0`` sends ``u v -> 0``). In
    floating point the mode is seeded by rounding (``~1e-16``) and learned very late, where no
    float64 method is accurate. Pass ``Y`` to rule this out: if the weights
    ``[u_i; v_i]^T [U0; V0]`` ``(k, r)`` are rank deficient (relative ``1e-6``), one column of
    ``Q`` is flipped (which keeps the balance and flips the determinant).

    Parameters
    ----------
    m, n, r : int
    seed : int or Generator
    Y : (m, n) array, optional
        Target the init will be used with (only read to avoid the degenerate case above).

    Examples
    --------
    >>> U0, V0 = balanced_init(4, 3, 2, seed=0)
    >>> bool(np.allclose(U0.T @ U0, V0.T @ V0))
    True
    """
    m = as_positive_int(m, "m")
    n = as_positive_int(n, "n")
    r = as_positive_int(r, "r")
    rng = as_rng(seed)
    k = min(m, n, r)
    c = rng.standard_normal((k, r)) / math.sqrt(r)
    p, q = _orthonormal(m, k, rng), _orthonormal(n, k, rng)
    if Y is not None:
        y = _as_factor(Y, m, "Y", "(m, n)")
        if y.shape[1] != n:
            raise ValueError(f"Y: expected shape ({m}, {n}) to match m, n, got {y.shape}")
        if _weights_degenerate(y, p @ c, q @ c):
            q = q.copy()
            q[:, -1] *= -1.0
    return p @ c, q @ c


def _weights_degenerate(y: FloatArray, u0: FloatArray, v0: FloatArray) -> bool:
    """Whether the init's weights on the growing directions ``[u_i; v_i]`` are rank deficient."""
    pu, s, pvt = np.linalg.svd(y)
    k = int(np.count_nonzero(s > 1e-12 * s[0])) if s[0] > 0 else 0
    k = min(k, u0.shape[1])
    if k == 0:
        return False
    w = np.linalg.svd(pu[:, :k].T @ u0 + pvt[:k] @ v0, compute_uv=False)
    return bool(w[-1] <= 1e-6 * w[0]) if w.size >= k else True


def lambda_balanced_init(
    m: int, n: int, r: int, lam: float, seed: Seed = 0
) -> tuple[FloatArray, FloatArray]:
    r"""Lambda-balanced shapes: ``U0^T U0 - V0^T V0 = lam I_r``.

    Construction, for ``lam > 0``: ``V0 = Q C`` as in :func:`balanced_init`
    (``C`` ``(min(n, r), r)`` Gaussian), then ``U0 = P (C^T C + lam I_r)^{1/2}`` with ``P``
    ``(m, r)`` Haar-random orthonormal columns, so ``U0^T U0 = C^T C + lam I_r``. This needs
    ``r <= m`` (``U0^T U0`` is positive definite, so ``rank U0 = r``). For ``lam < 0`` the roles
    swap and ``r <= n`` is needed; ``lam = 0`` is :func:`balanced_init`.

    Note that gradient flow started from ``sqrt(alpha) U0, sqrt(alpha) V0`` has imbalance
    ``alpha * lam``.

    Parameters
    ----------
    m, n, r : int
        Shapes: ``U0`` ``(m, r)``, ``V0`` ``(n, r)``.
    lam : float
        The imbalance of the shapes (any sign).
    seed : int or Generator

    Returns
    -------
    U0 : (m, r) array
    V0 : (n, r) array

    Examples
    --------
    >>> U0, V0 = lambda_balanced_init(4, 3, 2, lam=0.5, seed=0)
    >>> bool(np.allclose(U0.T @ U0 - V0.T @ V0, 0.5 * np.eye(2)))
    True
    """
    m = as_positive_int(m, "m")
    n = as_positive_int(n, "n")
    r = as_positive_int(r, "r")
    if isinstance(lam, bool) or not isinstance(lam, int | float | np.floating | np.integer):
        raise TypeError(f"lam: expected a real number, got {type(lam).__name__} {lam!r}")
    lam = float(lam)
    if not math.isfinite(lam):
        raise ValueError(f"lam: expected a finite number, got {lam!r}")
    if lam == 0.0:
        return balanced_init(m, n, r, seed)
    big, small = (m, n) if lam > 0 else (n, m)
    if r > big:
        side = "U0 (m rows)" if lam > 0 else "V0 (n rows)"
        raise ValueError(
            f"lam: an imbalance lam = {lam:g} {'> 0' if lam > 0 else '< 0'} needs "
            f"r <= {big} (the rank of {side} must be r), got r = {r}; use lam = 0 "
            "(balanced, any r) or fewer columns"
        )
    rng = as_rng(seed)
    k = min(small, r)
    c = rng.standard_normal((k, r)) / math.sqrt(r)
    a_small = _orthonormal(small, k, rng) @ c
    a_big = _orthonormal(big, r, rng) @ _psd_sqrt(c.T @ c + abs(lam) * np.eye(r))
    return (a_big, a_small) if lam > 0 else (a_small, a_big)


def gaussian_pair_init(
    m: int,
    n: int,
    r: int,
    scale_u: float = 1.0,
    scale_v: float = 1.0,
    seed: Seed = 0,
) -> tuple[FloatArray, FloatArray]:
    """Independent Gaussian shapes ``U0 = scale_u G1``, ``V0 = scale_v G2``, entries ``N(0, 1/r)``.

    Generically not lambda-balanced: use :func:`simulate_asymmetric_gf` for them.
    """
    m = as_positive_int(m, "m")
    n = as_positive_int(n, "n")
    r = as_positive_int(r, "r")
    su = as_positive_scalar(scale_u, "scale_u")
    sv = as_positive_scalar(scale_v, "scale_v")
    rng = as_rng(seed)
    u0 = su * rng.standard_normal((m, r)) / math.sqrt(r)
    v0 = sv * rng.standard_normal((n, r)) / math.sqrt(r)
    return u0, v0


def imbalance(U: ArrayLike, V: ArrayLike) -> FloatArray:
    """``U^T U - V^T V``: ``(r, r)``, or ``(T, r, r)`` for stacks ``(T, m, r)``, ``(T, n, r)``."""
    u = np.asarray(U, dtype=np.float64)
    v = np.asarray(V, dtype=np.float64)
    d = np.swapaxes(u, -1, -2) @ u - np.swapaxes(v, -1, -2) @ v
    return 0.5 * (d + np.swapaxes(d, -1, -2))


def symmetrized_target(Y: ArrayLike, lam: float = 0.0) -> FloatArray:
    """``Ybar + lam/2 J`` ``(m + n, m + n)``: ``Ybar = [[0, Y], [Y^T, 0]]``, ``J = diag(I, -I)``."""
    y = as_matrix(Y, "Y")
    m, n = y.shape
    out = np.zeros((m + n, m + n))
    out[:m, m:] = y
    out[m:, :m] = y.T
    idx = np.arange(m + n)
    out[idx, idx] = np.where(idx < m, 0.5 * lam, -0.5 * lam)
    return out


def _balance_of(u0: FloatArray, v0: FloatArray, rtol: float) -> tuple[float, float, float]:
    """``(lam0, deviation, scale)`` of the shapes' imbalance ``U0^T U0 - V0^T V0``."""
    d = imbalance(u0, v0)
    r = d.shape[0]
    scale = float(np.max(np.abs(u0.T @ u0)) + np.max(np.abs(v0.T @ v0)))
    lam0 = float(np.trace(d)) / r
    dev = float(np.max(np.abs(d - lam0 * np.eye(r))))
    if abs(lam0) <= rtol * scale:
        lam0 = 0.0
    return lam0, dev, scale


# ---- exact trajectory ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class AsymmetricTrajectory:
    r"""The exact flow of ``1/2 ||Y - U V^T||_F^2`` from a lambda-balanced init, lazily.

    Built by :func:`closed_form_asymmetric`. Every method accepts a scalar ``t`` (time axis
    dropped) or ``T`` times.

    Attributes
    ----------
    symmetric : Trajectory
        The symmetric trajectory ``W'(t) = Z'(t) Z'(t)^T`` ``(m + n, m + n)`` of the symmetrized
        problem (target ``Ybar + lam/2 J``).
    m, n : int
        Shape of ``Y``.
    alpha : float
    lam : float
        Scalar imbalance of the actual init, ``alpha * lam0``.
    imbalance : (r, r) array
        ``U(0)^T U(0) - V(0)^T V(0) = alpha (U0^T U0 - V0^T V0)`` (``~ lam I_r``), conserved.
    """

    symmetric: Trajectory
    m: int
    n: int
    alpha: float
    lam: float
    imbalance: FloatArray = field(repr=False)

    @property
    def path(self) -> str:
        """The symmetric trajectory's exact evaluation (``"spectral"`` or ``"dense"``)."""
        return self.symmetric.path

    def describe(self) -> str:
        """One line: what is evaluated and how."""
        return (
            f"asymmetric {self.m}x{self.n} flow, lambda-balanced (lam = {self.lam:.3g}), through "
            f"the symmetrized problem: {self.symmetric.describe()}"
        )

    def _blocks(self, t: ArrayLike) -> tuple[FloatArray, FloatArray, bool]:
        tt, scalar = as_times(t)
        f = self.symmetric.factor(tt) * math.sqrt(2.0)  # Z up to a right orthogonal factor
        return f[:, : self.m], f[:, self.m :], scalar

    def factors(self, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """``(U(t) O, V(t) O)`` for an orthogonal ``O`` (the same for both): ``(m, k), (n, k)``.

        ``k = min(m + n, r)``; with the time axis first for several times. Products and Gram
        matrices (``U V^T``, ``U U^T``, ``V V^T``) are those of the flow exactly.
        """
        fu, fv, scalar = self._blocks(t)
        return (fu[0], fv[0]) if scalar else (fu, fv)

    def W(self, t: ArrayLike) -> FloatArray:
        """The product ``U(t) V(t)^T``: ``(m, n)`` for scalar t, else ``(T, m, n)``."""
        fu, fv, scalar = self._blocks(t)
        w = fu @ np.swapaxes(fv, -1, -2)
        return w[0] if scalar else w

    def gram_U(self, t: ArrayLike) -> FloatArray:
        """``U(t) U(t)^T``: ``(m, m)`` or ``(T, m, m)``."""
        fu, _, scalar = self._blocks(t)
        g = fu @ np.swapaxes(fu, -1, -2)
        return g[0] if scalar else g

    def gram_V(self, t: ArrayLike) -> FloatArray:
        """``V(t) V(t)^T``: ``(n, n)`` or ``(T, n, n)``."""
        _, fv, scalar = self._blocks(t)
        g = fv @ np.swapaxes(fv, -1, -2)
        return g[0] if scalar else g

    def singular_values(self, t: ArrayLike) -> FloatArray:
        """Singular values of ``U V^T``, descending: ``(min(m, n),)`` or ``(T, min(m, n))``.

        Computed from the product (absolute accuracy ``~1e-16 ||Y||``; values far below that,
        e.g. unlearned modes at tiny alpha, are not resolved relatively).
        """
        tt, scalar = as_times(t)
        sv = np.linalg.svd(self.W(tt), compute_uv=False)
        return sv[0] if scalar else sv

    def loss(self, t: ArrayLike) -> FloatArray | float:
        """``1/2 ||Y - U V^T||_F^2``: float for scalar t, else ``(T,)``."""
        tt, scalar = as_times(t)
        y = self.Y
        val = 0.5 * np.sum((y[None] - self.W(tt)) ** 2, axis=(1, 2))
        return float(val[0]) if scalar else val

    @property
    def Y(self) -> FloatArray:
        """The target ``(m, n)`` (read off the symmetrized one)."""
        ybar = self.symmetric.Y
        return ybar[: self.m, self.m :]


def closed_form_asymmetric(
    Y: ArrayLike,
    U0: ArrayLike,
    V0: ArrayLike,
    alpha: float,
    *,
    rtol: float = LAMBDA_RTOL,
) -> AsymmetricTrajectory:
    r"""Exact gradient flow of ``1/2 ||Y - U V^T||_F^2`` from a lambda-balanced init.

    Parameters
    ----------
    Y : (m, n) array
        Target, any shape and signs.
    U0 : (m, r) array
    V0 : (n, r) array
        Shapes with ``U0^T U0 - V0^T V0 = lam0 I_r`` (any ``lam0``, e.g. from
        :func:`lambda_balanced_init`); ``U(0) = sqrt(alpha) U0``, ``V(0) = sqrt(alpha) V0``.
    alpha : float
        Initialization scale, ``alpha > 0`` (tested down to ``1e-100`` against mpmath).
    rtol : float
        Relative tolerance of the lambda-balance check (see :data:`LAMBDA_RTOL`).

    Returns
    -------
    AsymmetricTrajectory
        ``W(t) = U V^T``, ``singular_values(t)``, ``loss(t)``, ``gram_U(t)``, ``gram_V(t)``,
        ``imbalance``.

    Raises
    ------
    ValueError
        If the init is not lambda-balanced: there is no closed form then, use
        :func:`simulate_asymmetric_gf`.

    Notes
    -----
    Evaluates :func:`mfflow.closed_form` on the symmetrized problem (module docstring): target
    ``Ybar + lam/2 J`` (indefinite), init ``[U0; V0] / sqrt(2)``, the same ``alpha``, with
    ``lam = alpha * lam0``. Measured against an ODE solve of the asymmetric flow: ``~1e-12``
    relative; against 60+ digit mpmath down to ``alpha = 1e-100``: see tests/test_asymmetric.py.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> from mfflow.asymmetric import closed_form_asymmetric, lambda_balanced_init
    >>> Y = np.diag([3.0, 1.0])[:, :2] @ np.eye(2)
    >>> U0, V0 = lambda_balanced_init(2, 2, 2, lam=0.5, seed=0)
    >>> traj = closed_form_asymmetric(Y, U0, V0, alpha=1e-6)
    >>> traj.singular_values(40.0).round(8)
    array([3., 1.])
    """
    y, u0, v0 = _as_problem(Y, U0, V0)
    a = as_alpha(alpha)
    tol = as_positive_scalar(rtol, "rtol")
    lam0, dev, scale = _balance_of(u0, v0, tol)
    if dev > tol * scale:
        raise ValueError(
            "U0, V0: the init is not lambda-balanced: U0^T U0 - V0^T V0 is not a multiple of "
            f"I_r (max deviation from {lam0:.3g} I_r is {dev:.3g}, relative {dev / scale:.3g} "
            f"> rtol = {tol:g}); no closed form exists for it: use "
            "simulate_asymmetric_gf(Y, U0, V0, alpha, t) (or build the init with "
            "lambda_balanced_init / balanced_init)"
        )
    lam = a * lam0
    m, _ = y.shape
    z0 = np.concatenate([u0, v0], axis=0) / math.sqrt(2.0)
    sym = closed_form(symmetrized_target(y, lam), z0, a)
    return AsymmetricTrajectory(
        symmetric=sym, m=m, n=y.shape[1], alpha=a, lam=lam, imbalance=a * imbalance(u0, v0)
    )


# ---- simulation ---------------------------------------------------------------------------------
def _residual_step(y: FloatArray, u: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The flow's velocity ``((Y - U V^T) V, (Y - U V^T)^T U)``."""
    res = y - u @ v.T
    return res @ v, res.T @ u


@dataclass(frozen=True, eq=False)
class AsymmetricFlowResult:
    """Gradient flow ``U(t), V(t)`` at the requested times, from :func:`simulate_asymmetric_gf`.

    Attributes
    ----------
    t : (T,) array
        The requested times, in the order given.
    U : (T, m, r) array
    V : (T, n, r) array
    method : str
    rtol, atol : float
        Tolerances used (``atol`` after its default was resolved).
    nfev : int
    """

    t: FloatArray
    U: FloatArray
    V: FloatArray
    method: str
    rtol: float
    atol: float
    nfev: int

    @property
    def W(self) -> FloatArray:
        """``U V^T``, ``(T, m, n)``."""
        return self.U @ np.swapaxes(self.V, -1, -2)

    @property
    def imbalance(self) -> FloatArray:
        """``U^T U - V^T V`` at each recorded time, ``(T, r, r)``."""
        return imbalance(self.U, self.V)

    @property
    def imbalance_drift(self) -> float:
        """``max_t max|D(t) - D(t_0)|`` over the records (``t_0`` the earliest recorded time)."""
        d = self.imbalance
        d0 = d[int(np.argmin(self.t))]
        return float(np.max(np.abs(d - d0[None])))

    @property
    def relative_imbalance_drift(self) -> float:
        """:attr:`imbalance_drift` over ``max_t (max|U^T U| + max|V^T V|)``."""
        gu = np.max(np.abs(np.swapaxes(self.U, -1, -2) @ self.U), axis=(1, 2))
        gv = np.max(np.abs(np.swapaxes(self.V, -1, -2) @ self.V), axis=(1, 2))
        scale = float(np.max(gu + gv))
        return self.imbalance_drift / scale if scale > 0 else 0.0


def simulate_asymmetric_gf(
    Y: ArrayLike,
    U0: ArrayLike,
    V0: ArrayLike,
    alpha: float,
    t: ArrayLike,
    *,
    method: str = "DOP853",
    rtol: float = 1e-10,
    atol: float | None = None,
) -> AsymmetricFlowResult:
    r"""Gradient flow ``U' = (Y - U V^T) V``, ``V' = (Y - U V^T)^T U`` by an ODE solver.

    Any init (balanced or not). Parameters as :func:`closed_form_asymmetric`, plus:

    Parameters
    ----------
    t : float or (T,) array
        Times ``>= 0`` in any order; the solver lands a step on each (no interpolation).
    method : str
        A :func:`scipy.integrate.solve_ivp` method name (``"DOP853"`` default).
    rtol : float
        Relative tolerance, ``>= 100 * machine epsilon``.
    atol : float, optional
        Default ``ATOL_FACTOR * rtol * sqrt(alpha) * max(|U0|, |V0|)``: at small ``alpha`` the
        factors are tiny and an absolute tolerance independent of ``alpha`` would accept any
        answer for the still-unlearned components (which decide the transition times).

    Returns
    -------
    AsymmetricFlowResult
        ``U`` ``(T, m, r)``, ``V`` ``(T, n, r)``, ``W`` ``(T, m, n)``, ``imbalance``
        ``(T, r, r)`` and its drift (the flow conserves it: the drift measures the solver error).

    Examples
    --------
    >>> import numpy as np
    >>> from mfflow.asymmetric import gaussian_pair_init, simulate_asymmetric_gf
    >>> Y = np.array([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> U0, V0 = gaussian_pair_init(2, 3, 2, scale_u=2.0, seed=0)
    >>> res = simulate_asymmetric_gf(Y, U0, V0, 1e-4, [0.0, 30.0])
    >>> bool(np.allclose(res.W[-1], Y, atol=1e-6)), res.relative_imbalance_drift < 1e-8
    (True, True)
    """
    y, u0, v0 = _as_problem(Y, U0, V0)
    m, n = y.shape
    r = u0.shape[1]
    a = as_alpha(alpha)
    tt, _ = as_times(t, "t")
    meth = _as_method(method)
    rt = as_positive_scalar(rtol, "rtol")
    if rt < _RTOL_MIN:
        raise ValueError(f"rtol: expected a number >= {_RTOL_MIN:.3g} (scipy's floor), got {rt!r}")
    scale = math.sqrt(a) * max(float(np.max(np.abs(u0))), float(np.max(np.abs(v0))))
    at = ATOL_FACTOR * rt * scale if atol is None else as_positive_scalar(atol, "atol")
    start = math.sqrt(a) * np.concatenate([u0.ravel(), v0.ravel()])
    times, inverse = np.unique(tt, return_inverse=True)

    def rhs(_t: float, z: FloatArray) -> FloatArray:
        du, dv = _residual_step(y, z[: m * r].reshape(m, r), z[m * r :].reshape(n, r))
        return np.concatenate([du.ravel(), dv.ravel()])

    if times.size == 0 or times[-1] == 0.0 or scale == 0.0:
        out, nfev = np.broadcast_to(start, (times.size, start.size)).copy(), 0  # fixed point
    else:
        out, nfev = _integrate_through(
            rhs, start, times, _SOLVERS[meth], {"rtol": rt, "atol": at}, "simulate_asymmetric_gf"
        )
    out = out[inverse]
    return AsymmetricFlowResult(
        t=tt,
        U=out[:, : m * r].reshape(-1, m, r).copy(),
        V=out[:, m * r :].reshape(-1, n, r).copy(),
        method=meth,
        rtol=rt,
        atol=at,
        nfev=nfev,
    )


@dataclass(frozen=True, eq=False)
class AsymmetricGDResult:
    """Gradient-descent iterates, from :func:`simulate_asymmetric_gd`.

    Attributes
    ----------
    steps : (T,) int array
        Iteration indices recorded, in the order requested.
    t : (T,) array
        ``steps * eta``.
    U : (T, m, r) array
    V : (T, n, r) array
        Iterates; NaN for records at ``k >= diverged_at`` (never reached).
    eta : float
    diverged : bool
    diverged_at : int or None
        First ``k`` whose iterate had an entry above ``blowup`` or non-finite.
    imbalance_drift : float
        ``max_k max|D_k - D_0|`` over the iterates sampled (every 64 steps and every record,
        before divergence): GD changes ``D`` by ``O(eta^2)`` per step.
    """

    steps: NDArray[np.int64]
    t: FloatArray
    U: FloatArray
    V: FloatArray
    eta: float
    diverged: bool
    diverged_at: int | None
    imbalance_drift: float

    @property
    def W(self) -> FloatArray:
        """``U_k V_k^T``, ``(T, m, n)`` (NaN where not reached)."""
        return self.U @ np.swapaxes(self.V, -1, -2)

    @property
    def imbalance(self) -> FloatArray:
        """``U_k^T U_k - V_k^T V_k``, ``(T, r, r)``."""
        return imbalance(self.U, self.V)


def _asym_stepper(y: FloatArray, eta: float) -> Callable[[FloatArray, FloatArray], None]:
    """In-place simultaneous step ``U += eta R V``, ``V += eta R^T U`` (``R = Y - U V^T``)."""

    def step(u: FloatArray, v: FloatArray) -> None:
        res = y - u @ v.T
        du = res @ v
        dv = res.T @ u
        du *= eta
        dv *= eta
        u += du
        v += dv

    return step


def simulate_asymmetric_gd(
    Y: ArrayLike,
    U0: ArrayLike,
    V0: ArrayLike,
    alpha: float,
    eta: float,
    *,
    steps: ArrayLike | None = None,
    t: ArrayLike | None = None,
    blowup: float = 1e100,
) -> AsymmetricGDResult:
    r"""Gradient descent on ``1/2 ||Y - U V^T||_F^2``, simultaneous updates:

    .. math::

        U_{k+1} = U_k + \eta (Y - U_k V_k^T) V_k, \qquad
        V_{k+1} = V_k + \eta (Y - U_k V_k^T)^T U_k.

    Parameters
    ----------
    Y : (m, n) array
    U0 : (m, r) array
    V0 : (n, r) array
        Any init; ``U_0 = sqrt(alpha) U0``, ``V_0 = sqrt(alpha) V0``.
    alpha, eta : float
        Scale and step size, both ``> 0``.
    steps : int or (T,) int array, optional
        Iteration indices to record.
    t : float or (T,) array, optional
        Flow times to record instead (``k = round(t / eta)``). Exactly one of ``steps``, ``t``.
    blowup : float
        Divergence threshold on ``max(|U|, |V|)``.

    Returns
    -------
    AsymmetricGDResult
        Iterates, ``W``, divergence flag and step, imbalance drift.

    Notes
    -----
    Divergence is reported, not raised, and no floating-point warning escapes: the loop checks
    every 64 steps, and on a bad check replays the chunk from a saved iterate to find the first
    bad step exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from mfflow.asymmetric import balanced_init, simulate_asymmetric_gd
    >>> Y = np.array([[3.0, 0.0], [0.0, 1.0]])
    >>> U0, V0 = balanced_init(2, 2, 2, seed=0)
    >>> simulate_asymmetric_gd(Y, U0, V0, 1e-4, eta=1.5, steps=200).diverged
    True
    """
    y, u0, v0 = _as_problem(Y, U0, V0)
    a = as_alpha(alpha)
    h = as_positive_scalar(eta, "eta")
    limit = as_positive_scalar(blowup, "blowup")
    ks = _record_steps(steps, t, h)
    targets, inverse = np.unique(ks, return_inverse=True)
    m, r = u0.shape
    n = v0.shape[0]
    rec_u = np.full((targets.size, m, r), np.nan)
    rec_v = np.full((targets.size, n, r), np.nan)
    u = math.sqrt(a) * u0
    v = math.sqrt(a) * v0
    d0 = imbalance(u, v)
    step = _asym_stepper(y, h)
    drift = 0.0

    def record(j: int) -> None:
        rec_u[j], rec_v[j] = u, v

    def track_drift() -> None:
        nonlocal drift
        drift = max(drift, float(np.max(np.abs(imbalance(u, v) - d0))))

    diverged_at = _descend((u, v), lambda: step(u, v), targets, limit, record, track_drift)
    return AsymmetricGDResult(
        steps=targets[inverse],
        t=targets[inverse] * h,
        U=rec_u[inverse],
        V=rec_v[inverse],
        eta=h,
        diverged=diverged_at is not None,
        diverged_at=diverged_at,
        imbalance_drift=drift,
    )


# ---- transitions and imbalance ------------------------------------------------------------------
def _default_times(sigma: FloatArray, alpha: float, count: int = 400) -> FloatArray:
    """A grid through every transition (``~log(sigma/alpha) / (2 sigma)``) and past it."""
    pos = sigma[sigma > 1e-12 * sigma[0]] if sigma[0] > 0 else sigma[:1] + 1.0
    t_end = 1.6 * max(float(np.log(pos / alpha).max() / (2 * pos.min())), 1.0) + 4.0 / pos.min()
    return np.linspace(0.0, t_end, count)


@dataclass(frozen=True, eq=False)
class ImbalanceStudy:
    """How an unbalanced init's trajectory departs from the balanced prediction.

    Family of inits (same initial product, growing imbalance): from balanced shapes
    ``(U_b, V_b)``, ``U0 = e^s U_b``, ``V0 = e^{-s} V_b`` with ``tanh(2 s) = rho``, so that
    ``U0 V0^T = U_b V_b^T`` and ``||U0^T U0 - V0^T V0||_2 / ||U0^T U0 + V0^T V0||_2 = rho``.
    Generically ``U_b^T U_b`` is not a multiple of ``I_r``, so ``rho > 0`` is *not*
    lambda-balanced and is simulated.

    Attributes
    ----------
    rho : (E,) array
        Relative imbalances studied.
    imbalance_norm : (E,) array
        ``alpha ||U0^T U0 - V0^T V0||_2`` (the actual init's imbalance).
    t : (T,) array
        Time grid.
    sigma : (k,) array
        Singular values of ``Y`` (``k = min(m, n, r)``).
    distance : (E,) array
        ``max_t ||W_rho(t) - W_bal(t)||_F / ||Y||_F`` (``W_bal``: exact balanced flow).
    transition : (E, k) array
        Time each singular value of ``U V^T`` first reaches ``sigma_i / 2``.
    transition_balanced : (k,) array
        The same for the balanced prediction.
    predicted_shift : (E, k) array
        Linear-phase prediction of ``transition - transition_balanced``:
        ``-log(g_i(rho) / g_i(0)) / (2 sigma_i)``, where ``g_i = R_ii^2`` for the QR
        factorization ``B^T = Q R`` of the init's weights ``B = [u_j^T U0 + v_j^T V0]_j``
        ``(k, r)`` on the growing directions ``[u_j; v_j]`` of ``Ybar``: the part of mode
        ``i``'s weight not in the span of the modes learned before it (in the linear phase
        ``U V^T`` grows like ``alpha g_i e^{2 sigma_i t} / 4`` along ``u_i v_i^T``).
    singular_values : (E, T, k) array
        The learning curves.
    max_imbalance_drift : float
        Largest relative imbalance drift of the simulations (a solver-accuracy check).
    """

    rho: FloatArray
    imbalance_norm: FloatArray
    t: FloatArray
    sigma: FloatArray
    distance: FloatArray
    transition: FloatArray
    transition_balanced: FloatArray
    predicted_shift: FloatArray
    singular_values: FloatArray = field(repr=False)
    singular_values_balanced: FloatArray = field(repr=False)
    max_imbalance_drift: float

    @property
    def shift(self) -> FloatArray:
        """Measured ``transition - transition_balanced``, ``(E, k)``."""
        return self.transition - self.transition_balanced[None, :]


def imbalance_study(
    Y: ArrayLike,
    alpha: float,
    imbalances: ArrayLike,
    *,
    r: int | None = None,
    seed: Seed = 0,
    t: ArrayLike | None = None,
    rtol: float = 1e-10,
) -> ImbalanceStudy:
    """Distance to the balanced prediction and transition times as the imbalance grows.

    Parameters
    ----------
    Y : (m, n) array
    alpha : float
    imbalances : (E,) array
        Relative imbalances ``rho`` in ``[0, 1)`` (see :class:`ImbalanceStudy`).
    r : int, optional
        Width; default ``min(m, n)``.
    seed : int or Generator
        Seed of the balanced shapes.
    t : (T,) array, optional
        Increasing time grid; default runs past the last transition.
    rtol : float
        ODE tolerance of the simulations.

    Returns
    -------
    ImbalanceStudy

    Examples
    --------
    >>> import numpy as np
    >>> from mfflow.asymmetric import imbalance_study
    >>> Y = np.diag([3.0, 2.0, 1.0])
    >>> st = imbalance_study(Y, 1e-6, [0.0, 0.9], seed=0)
    >>> bool(st.distance[0] < 1e-6), bool(np.all(st.shift[1] < 0))
    (True, True)
    """
    y = as_matrix(Y, "Y")
    mm, nn = y.shape
    a = as_alpha(alpha)
    rho = np.atleast_1d(np.asarray(imbalances, dtype=np.float64))
    if rho.ndim != 1 or rho.size == 0 or not np.all(np.isfinite(rho)):
        raise ValueError(f"imbalances: expected a non-empty 1-D array of finite values, got {rho}")
    if np.any(rho < 0) or np.any(rho >= 1):
        raise ValueError(f"imbalances: expected relative imbalances in [0, 1), got {rho}")
    width = min(mm, nn) if r is None else as_positive_int(r, "r")
    pu, sig, pvt = np.linalg.svd(y)
    k = min(mm, nn, width)
    sigma = sig[:k]
    if t is None:
        tt = _default_times(sig[: min(mm, nn)], a)
    else:
        tt, _ = as_times(t)
        if np.any(np.diff(tt) <= 0):
            raise ValueError("t: expected an increasing time grid")
    ub, vb = balanced_init(mm, nn, width, seed, Y=y)
    bal = closed_form_asymmetric(y, ub, vb, a)
    w_bal = bal.W(tt)
    sv_bal = np.linalg.svd(w_bal, compute_uv=False)[:, :k]
    levels = 0.5 * sigma
    tr_bal = crossing_times(tt, sv_bal, levels)
    ynorm = float(np.linalg.norm(y))

    def weight(u0: FloatArray, v0: FloatArray) -> FloatArray:
        c = pu[:, :k].T @ u0 + pvt[:k] @ v0  # (k, r)
        # graded weights: the part of row i not in the span of rows < i (learned earlier)
        return np.diag(np.linalg.qr(c.T, mode="r")) ** 2

    g0 = weight(ub, vb)
    e = rho.size
    dist = np.empty(e)
    norms = np.empty(e)
    trans = np.empty((e, k))
    pred = np.empty((e, k))
    curves = np.empty((e, tt.size, k))
    drift = 0.0
    for i, p in enumerate(rho):
        s = 0.5 * math.atanh(float(p))
        u0, v0 = math.exp(s) * ub, math.exp(-s) * vb
        norms[i] = a * float(np.linalg.norm(imbalance(u0, v0), 2))
        res = simulate_asymmetric_gf(y, u0, v0, a, tt, rtol=rtol)
        w = res.W
        dist[i] = float(np.max(np.linalg.norm(w - w_bal, axis=(1, 2)))) / ynorm
        curves[i] = np.linalg.svd(w, compute_uv=False)[:, :k]
        trans[i] = crossing_times(tt, curves[i], levels)
        with np.errstate(divide="ignore"):
            pred[i] = -np.log(weight(u0, v0) / g0) / (2.0 * np.where(sigma > 0, sigma, np.inf))
        drift = max(drift, res.relative_imbalance_drift)
    return ImbalanceStudy(
        rho=rho,
        imbalance_norm=norms,
        t=tt,
        sigma=sigma,
        distance=dist,
        transition=trans,
        transition_balanced=tr_bal,
        predicted_shift=pred,
        singular_values=curves,
        singular_values_balanced=sv_bal,
        max_imbalance_drift=drift,
    )


@dataclass(frozen=True, eq=False)
class AsymmetricLearningCurves:
    """Singular values of ``U V^T`` over time for several inits (for the figure).

    Attributes
    ----------
    t : (T,) array
    sigma : (k,) array
        Singular values of ``Y``.
    curves : dict[str, (T, k) array]
        Label (e.g. ``"balanced"``, ``"lambda-balanced (lam0=...)"``, ``"unbalanced
        (rho=...)"``) to learning curves.
    exact : dict[str, bool]
        Whether each curve came from the closed form (``True``) or the ODE solver.
    alpha : float
    """

    t: FloatArray
    sigma: FloatArray
    curves: dict[str, FloatArray]
    exact: dict[str, bool]
    alpha: float


def asymmetric_learning_curves(
    Y: ArrayLike,
    alpha: float,
    *,
    lam: float = 1.0,
    rho: float = 0.9,
    r: int | None = None,
    seed: Seed = 0,
    t: ArrayLike | None = None,
) -> AsymmetricLearningCurves:
    """Learning curves for a balanced, a lambda-balanced and an unbalanced init.

    Parameters
    ----------
    Y : (m, n) array
    alpha : float
    lam : float
        Shape imbalance of the lambda-balanced init (:func:`lambda_balanced_init`).
    rho : float
        Relative imbalance of the unbalanced init (the family of :class:`ImbalanceStudy`).
    r : int, optional
        Width, default ``min(m, n)``.
    seed : int or Generator
    t : (T,) array, optional

    Returns
    -------
    AsymmetricLearningCurves
    """
    y = as_matrix(Y, "Y")
    mm, nn = y.shape
    a = as_alpha(alpha)
    width = min(mm, nn) if r is None else as_positive_int(r, "r")
    sig = np.linalg.svd(y, compute_uv=False)
    k = min(mm, nn, width)
    tt = _default_times(sig, a) if t is None else as_times(t)[0]
    curves: dict[str, FloatArray] = {}
    exact: dict[str, bool] = {}
    ub, vb = balanced_init(mm, nn, width, seed, Y=y)
    curves["balanced"] = closed_form_asymmetric(y, ub, vb, a).singular_values(tt)[:, :k]
    exact["balanced"] = True
    ul, vl = lambda_balanced_init(mm, nn, width, lam, seed)
    label = f"lambda-balanced (lam0 = {lam:g})"
    curves[label] = closed_form_asymmetric(y, ul, vl, a).singular_values(tt)[:, :k]
    exact[label] = True
    st = imbalance_study(y, a, [rho], r=width, seed=seed, t=tt)
    label = f"unbalanced (rho = {rho:g})"
    curves[label] = st.singular_values[0]
    exact[label] = False
    return AsymmetricLearningCurves(t=tt, sigma=sig[:k], curves=curves, exact=exact, alpha=a)
