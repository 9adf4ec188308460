r"""The exact flow of ``1/2 ||Y - U V^T||_F^2`` from a lambda-balanced init, through symmetrization.

With ``Z = [U; V]`` ``(m + n, r)``, ``Ybar = [[0, Y], [Y^T, 0]]`` and ``J = diag(I_m, -I_n)``, a
*lambda-balanced* init (``U0^T U0 - V0^T V0 = lam0 I_r``) makes ``Z' = Z / sqrt(2)`` solve the
*symmetric* flow of :func:`mfflow.closed_form` with the indefinite target ``Ybar + lam/2 J``
(``lam = alpha lam0``) and init ``Z'(0) = sqrt(alpha) [U0; V0] / sqrt(2)``; then
``U V^T = 2 W'_{12}``, ``U U^T = 2 W'_{11}``, ``V V^T = 2 W'_{22}`` exactly (the package
docstring, :mod:`mfflow.asymmetric`, has the derivation). Only the public symmetric API is used:
``closed_form(...)`` and ``Trajectory.factor(t)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..backend import Backend, backend_of, needs_grad, to_numpy
from ..riccati import Trajectory, closed_form
from ..simulate.models import imbalance
from ..validation import (
    as_alpha,
    as_finite_scalar,
    as_matrix,
    as_pair,
    as_positive_scalar,
    as_weight_decay,
    check_fits,
)

__all__ = [
    "LAMBDA_RTOL",
    "AsymmetricTrajectory",
    "closed_form_asymmetric",
    "is_lambda_balanced",
    "lambda_of",
    "symmetrized_target",
]

FloatArray = NDArray[np.float64]

#: An init is lambda-balanced when ``max|U0^T U0 - V0^T V0 - lam0 I| <= LAMBDA_RTOL * scale``,
#: ``scale = max|U0^T U0| + max|V0^T V0|``: rounding of a constructed init, nothing larger.
LAMBDA_RTOL = 1e-10
#: The balance tolerance for float32 torch/JAX inits (balanced only to float32 rounding).
FLOAT32_BALANCE_RTOL = 1e-5


def symmetrized_target(Y: ArrayLike, lam: float = 0.0) -> FloatArray:
    """``Ybar + lam/2 J`` ``(m + n, m + n)``: ``Ybar = [[0, Y], [Y^T, 0]]``, ``J = diag(I, -I)``."""
    y = as_matrix(Y, "Y")
    lam = as_finite_scalar(lam, "lam")
    m, n = y.shape
    check_fits((m + n, m + n), "Y", what="symmetrized target")
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


def is_lambda_balanced(U0: ArrayLike, V0: ArrayLike, rtol: float = LAMBDA_RTOL) -> bool:
    """Whether ``U0^T U0 - V0^T V0 = lam0 I_r`` for some ``lam0``, to ``rtol`` (relative).

    Parameters
    ----------
    U0 : (m, r) array
    V0 : (n, r) array
    rtol : float
        Relative tolerance (see :data:`LAMBDA_RTOL`).

    Examples
    --------
    >>> import numpy as np
    >>> is_lambda_balanced(np.eye(2), 0.5 * np.eye(2))
    True
    >>> is_lambda_balanced(np.eye(2), np.diag([1.0, 0.5]))
    False
    """
    u0 = as_matrix(U0, "U0")
    v0 = as_matrix(V0, "V0")
    if u0.shape[1] != v0.shape[1]:
        raise ValueError(f"V0: expected r = {u0.shape[1]} columns to match U0, got {v0.shape}")
    _, dev, scale = _balance_of(u0, v0, as_positive_scalar(rtol, "rtol"))
    return dev <= rtol * scale


def lambda_of(U0: ArrayLike, V0: ArrayLike, rtol: float = LAMBDA_RTOL, name: str = "rtol") -> float:
    r"""The scalar imbalance ``lam0`` of lambda-balanced shapes: ``U0^T U0 - V0^T V0 = lam0 I_r``.

    ``lam0 = tr(U0^T U0 - V0^T V0) / r``, set to 0 when below ``rtol`` times the scale
    ``max|U0^T U0| + max|V0^T V0|`` (a balanced init up to rounding).

    Parameters
    ----------
    U0 : (m, r) array
    V0 : (n, r) array
    rtol : float
        Relative tolerance of the check (see :data:`LAMBDA_RTOL`).
    name : str
        The caller's name for ``rtol`` in messages.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes are not lambda-balanced (the message gives the deviation): no closed form
        exists for them.

    Examples
    --------
    >>> import numpy as np
    >>> lambda_of(np.eye(2), 0.5 * np.eye(2))
    0.75
    """
    u0 = as_matrix(U0, "U0")
    v0 = as_matrix(V0, "V0")
    if u0.shape[1] != v0.shape[1]:
        raise ValueError(f"V0: expected r = {u0.shape[1]} columns to match U0, got {v0.shape}")
    tol = as_positive_scalar(rtol, name)
    lam0, dev, scale = _balance_of(u0, v0, tol)
    if dev > tol * scale:
        raise ValueError(
            "U0, V0: the init is not lambda-balanced: U0^T U0 - V0^T V0 is not a multiple of "
            f"I_r (max deviation from {lam0:.3g} I_r is {dev:.3g}, relative {dev / scale:.3g} "
            f"> rtol = {tol:g}); no closed form exists for it: use "
            "simulate_asymmetric_gf(Y, U0, V0, alpha, t) (or build the init with "
            "lambda_balanced_init / balanced_init)"
        )
    return lam0


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
    Y : (m, n) array
        The target, in the backend of the inputs (carrying its gradient, if any).
    weight_decay : float
        ``gamma >= 0`` of the loss term ``gamma/2 (||U||_F^2 + ||V||_F^2)`` (balanced inits only;
        the symmetrized target is then ``Ybar - gamma I``).
    """

    symmetric: Trajectory
    m: int
    n: int
    alpha: float
    lam: float
    imbalance: FloatArray = field(repr=False)
    Y: Any = field(repr=False, default=None)
    weight_decay: float = 0.0

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

    def limit(self) -> Any:
        """``lim_{t -> inf} U V^T`` ``(m, n)``, exactly (:meth:`Trajectory.limit` of the
        symmetrized problem): for a generic init, ``Y``'s best rank-``r`` approximation; with
        weight decay ``gamma``, its singular values soft-thresholded, ``(s_i - gamma)_+``."""
        w = self.symmetric.limit()
        return 2.0 * w[: self.m, self.m :]

    @property
    def _xp(self) -> Any:
        return self.symmetric.backend_info.xp

    def _blocks(self, t: ArrayLike) -> tuple[Any, Any]:
        f = self.symmetric.factor(t) * math.sqrt(2.0)  # Z up to a right orthogonal factor
        return f[..., : self.m, :], f[..., self.m :, :]

    def factors(self, t: ArrayLike) -> tuple[Any, Any]:
        """``(U(t) O, V(t) O)`` for an orthogonal ``O`` (the same for both): ``(m, k), (n, k)``.

        ``k = min(m + n, r)``; with the time axis first for several times. Products and Gram
        matrices (``U V^T``, ``U U^T``, ``V V^T``) are those of the flow exactly.
        """
        return self._blocks(t)

    def W(self, t: ArrayLike) -> Any:
        """The product ``U(t) V(t)^T``: ``(m, n)`` for scalar t, else ``(T, m, n)``."""
        fu, fv = self._blocks(t)
        return fu @ self._xp.matrix_transpose(fv)

    def gram_U(self, t: ArrayLike) -> Any:
        """``U(t) U(t)^T``: ``(m, m)`` or ``(T, m, m)``."""
        fu, _ = self._blocks(t)
        return fu @ self._xp.matrix_transpose(fu)

    def gram_V(self, t: ArrayLike) -> Any:
        """``V(t) V(t)^T``: ``(n, n)`` or ``(T, n, n)``."""
        _, fv = self._blocks(t)
        return fv @ self._xp.matrix_transpose(fv)

    def singular_values(self, t: ArrayLike) -> Any:
        """Singular values of ``U V^T``, descending: ``(min(m, n),)`` or ``(T, min(m, n))``.

        Computed from the product (absolute accuracy ``~1e-16 ||Y||``; values far below that,
        e.g. unlearned modes at tiny alpha, are not resolved relatively).
        """
        return self._xp.linalg.svdvals(self.W(t))

    def loss(self, t: ArrayLike) -> Any:
        """``1/2 ||Y - U V^T||_F^2`` (``+ gamma/2 (||U||_F^2 + ||V||_F^2)`` with weight decay):
        float (NumPy) or 0-d array for scalar t, else ``(T,)``."""
        xp = self._xp
        fu, fv = self._blocks(t)
        val = 0.5 * xp.sum((self.Y - fu @ xp.matrix_transpose(fv)) ** 2, axis=(-2, -1))
        if self.weight_decay:
            val = val + 0.5 * self.weight_decay * (
                xp.sum(fu**2, axis=(-2, -1)) + xp.sum(fv**2, axis=(-2, -1))
            )
        if self.symmetric.backend == "numpy" and getattr(val, "ndim", 1) == 0:
            return float(val)
        return val


def closed_form_asymmetric(
    Y: ArrayLike,
    U0: ArrayLike,
    V0: ArrayLike,
    alpha: float,
    *,
    balance_rtol: float = LAMBDA_RTOL,
    rtol: float | None = None,
    weight_decay: float = 0.0,
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
    balance_rtol : float
        Relative tolerance of the lambda-balance check (see :data:`LAMBDA_RTOL`; at least
        :data:`FLOAT32_BALANCE_RTOL` for float32 torch/JAX inits).
    rtol : float, optional
        Deprecated name of ``balance_rtol`` (everywhere else ``rtol`` is an ODE solver's
        relative tolerance).
    weight_decay : float
        ``gamma >= 0`` (default 0): the loss ``+ gamma/2 (||U||_F^2 + ||V||_F^2)``. Its flow
        ``U' = R V - gamma U``, ``V' = R^T U - gamma V`` makes the imbalance decay,
        ``D(t) = e^{-2 gamma t} D(0)``: a *balanced* init (``lam0 = 0``) stays balanced and the
        flow is the symmetrized one with target ``Ybar - gamma I`` (exact); singular values
        ``s_i <= gamma`` are never learned and the product converges to ``Y`` with its singular
        values soft-thresholded, ``(s_i - gamma)_+``. For ``lam0 != 0`` the symmetrized target
        would be ``Ybar + lam0 e^{-2 gamma t} / 2 J - gamma I``, time-dependent: no closed form,
        refused (docs/math.md §10).

    Returns
    -------
    AsymmetricTrajectory
        ``W(t) = U V^T``, ``singular_values(t)``, ``loss(t)``, ``gram_U(t)``, ``gram_V(t)``,
        ``imbalance``.

    Raises
    ------
    ValueError
        If the init is not lambda-balanced, or is lambda-balanced with ``lam0 != 0`` and
        ``weight_decay > 0``: there is no closed form then, use
        :func:`mfflow.simulate_asymmetric_gf` (with ``weight_decay=``).

    Notes
    -----
    Backends and gradients: ``Y``, ``U0``, ``V0``, ``alpha`` may be torch/JAX arrays (results
    come back in their library). Gradients flow from ``Y``, ``alpha`` (0-d tensor) and ``t``
    as far as :func:`mfflow.closed_form` can differentiate the symmetrized problem (its target
    has a repeated eigenvalue when ``|m - n| >= 2`` or ``Y`` is rank deficient: a gradient
    through it, i.e. in ``Y``, or in ``alpha`` when ``lam0 != 0``, is then refused). Gradients in
    ``U0``, ``V0`` are refused: the formula only holds on lambda-balanced inits.

    Evaluates :func:`mfflow.closed_form` on the symmetrized problem (:mod:`mfflow.asymmetric`):
    target
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
    >>> U0, V0 = mfflow.balanced_init(2, 2, 2, seed=0)
    >>> closed_form_asymmetric(Y, U0, V0, 1e-6, weight_decay=0.5).limit().round(8)
    array([[2.5, 0. ],
           [0. , 0.5]])
    """
    grads = tuple(name for name, x in (("Y", Y), ("U0", U0), ("V0", V0)) if needs_grad(x))
    if "U0" in grads or "V0" in grads:
        names = ", ".join(g for g in grads if g in ("U0", "V0"))
        raise ValueError(
            f"{names}: gradients with respect to the init are not provided: the closed form holds "
            "only on lambda-balanced inits, and a general perturbation of U0, V0 breaks the "
            "balance (where the flow has no closed form); gradients in Y, alpha and t are"
        )
    b = backend_of(Y=Y, U0=U0, V0=V0, alpha=alpha)
    y, u0, v0 = as_pair(to_numpy(Y, "Y"), to_numpy(U0, "U0"), to_numpy(V0, "V0"))
    host_alpha = to_numpy(alpha, "alpha")
    a = as_alpha(host_alpha)
    if rtol is not None:
        warnings.warn(
            "closed_form_asymmetric(rtol=) is deprecated: use balance_rtol= (rtol means an ODE "
            "tolerance everywhere else)",
            DeprecationWarning,
            stacklevel=2,
        )
        balance_rtol = rtol
    name = "rtol" if rtol is not None else "balance_rtol"
    tol = as_positive_scalar(balance_rtol, name)
    if b.dtype_name == "float32":  # a float32 init is balanced only to float32 rounding
        tol = max(tol, FLOAT32_BALANCE_RTOL)
    lam0 = lambda_of(u0, v0, tol, name)
    gamma = as_weight_decay(to_numpy(weight_decay, "weight_decay"))
    if gamma and lam0 != 0.0:
        raise ValueError(
            f"weight_decay: the init is lambda-balanced with lam0 = {lam0:.6g} != 0 (U0, V0), and "
            "weight decay makes the imbalance decay like e^{-2 weight_decay t}: the symmetrized "
            "target Ybar + lam(t)/2 J - weight_decay I depends on t and the flow has no closed "
            "form; simulate it: simulate_asymmetric_gf(Y, U0, V0, alpha, t, weight_decay=...), "
            "or start from a balanced init (balanced_init)"
        )
    m, n = y.shape
    z0 = b.asarray(np.concatenate([u0, v0], axis=0) / math.sqrt(2.0))
    if "Y" in grads or (needs_grad(alpha) and lam0 != 0.0):
        ybar = _symmetrized(b, b.asarray(Y), lam0 * b.asarray(alpha))
    else:
        ybar = b.asarray(symmetrized_target(y, a * lam0))
    sym = closed_form(ybar, z0, alpha if needs_grad(alpha) else a, weight_decay=gamma)
    return AsymmetricTrajectory(
        symmetric=sym,
        m=m,
        n=n,
        alpha=a,
        lam=a * lam0,
        imbalance=a * imbalance(u0, v0),
        Y=b.asarray(Y),
        weight_decay=gamma,
    )


def _symmetrized(b: Backend, y: Any, lam: Any) -> Any:
    """:func:`symmetrized_target` in ``b``'s namespace (keeping a gradient in ``y`` or ``lam``)."""
    xp = b.xp
    m, n = y.shape
    top = xp.concat([xp.zeros((m, m), dtype=b.dtype, device=b.device), y], axis=1)
    bottom = xp.concat(
        [xp.matrix_transpose(y), xp.zeros((n, n), dtype=b.dtype, device=b.device)], axis=1
    )
    sign = b.asarray(np.concatenate([np.ones(m), -np.ones(n)]))
    return (
        xp.concat([top, bottom], axis=0)
        + xp.eye(m + n, dtype=b.dtype, device=b.device) * (0.5 * lam * sign)[None, :]
    )
