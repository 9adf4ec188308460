"""Studies of the asymmetric flow: how far unbalanced inits are from the balanced prediction.

:func:`imbalance_study` simulates a family of inits with the same initial product and a growing
imbalance (:mod:`mfflow.simulate`) and compares them with the exact balanced flow
(:func:`mfflow.closed_form_asymmetric`) and with a linear-phase prediction of the shift of each
transition; :func:`asymmetric_learning_curves` gathers the curves of the report's figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..curves import crossing_times
from ..simulate import imbalance, simulate_asymmetric_gf
from ..validation import (
    Seed,
    as_alpha,
    as_finite_scalar,
    as_matrix,
    as_nonempty_times,
    as_positive_int,
    as_real,
)
from .exact import closed_form_asymmetric
from .inits import balanced_init, lambda_balanced_init

__all__ = [
    "AsymmetricLearningCurves",
    "ImbalanceStudy",
    "asymmetric_learning_curves",
    "imbalance_study",
]

FloatArray = NDArray[np.float64]


def _default_times(sigma: FloatArray, alpha: float, count: int = 400) -> FloatArray:
    """A grid through every transition (``~log(sigma/alpha) / (2 sigma)``) and past it."""
    pos = sigma[sigma > 1e-12 * sigma[0]] if sigma[0] > 0 else sigma[:1] + 1.0
    logs = np.log(pos) - math.log(alpha)  # pos / alpha overflows near the float64 minimum
    t_end = 1.6 * max(float(logs.max() / (2 * pos.min())), 1.0) + 4.0 / pos.min()
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
    rho = np.atleast_1d(as_real(imbalances, "imbalances"))
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
        tt = as_nonempty_times(t, "t")
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
        dist[i] = float(np.max(np.linalg.norm(w - w_bal, axis=(1, 2)))) / (ynorm or 1.0)
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

    Examples
    --------
    >>> import numpy as np
    >>> curves = asymmetric_learning_curves(np.diag([3.0, 1.0]), 1e-4, t=np.linspace(0, 20, 41))
    >>> sorted(curves.exact.items())  # closed form for two, an ODE solve for the third
    [('balanced', True), ('lambda-balanced (lam0 = 1)', True), ('unbalanced (rho = 0.9)', False)]
    >>> curves.curves["balanced"][-1].round(6)
    array([3., 1.])
    """
    y = as_matrix(Y, "Y")
    mm, nn = y.shape
    a = as_alpha(alpha)
    lam = as_finite_scalar(lam, "lam")
    rho_ = as_finite_scalar(rho, "rho")
    if not 0.0 <= rho_ < 1.0:
        raise ValueError(f"rho: expected a relative imbalance in [0, 1), got {rho_!r}")
    width = min(mm, nn) if r is None else as_positive_int(r, "r")
    sig = np.linalg.svd(y, compute_uv=False)
    k = min(mm, nn, width)
    tt = _default_times(sig, a) if t is None else as_nonempty_times(t, "t")
    if np.any(np.diff(tt) <= 0):
        raise ValueError("t: expected an increasing time grid")
    curves: dict[str, FloatArray] = {}
    exact: dict[str, bool] = {}
    ub, vb = balanced_init(mm, nn, width, seed, Y=y)
    curves["balanced"] = closed_form_asymmetric(y, ub, vb, a).singular_values(tt)[:, :k]
    exact["balanced"] = True
    ul, vl = lambda_balanced_init(mm, nn, width, lam, seed)
    label = f"lambda-balanced (lam0 = {lam:g})"
    curves[label] = closed_form_asymmetric(y, ul, vl, a).singular_values(tt)[:, :k]
    exact[label] = True
    st = imbalance_study(y, a, [rho_], r=width, seed=seed, t=tt)
    label = f"unbalanced (rho = {rho_:g})"
    curves[label] = st.singular_values[0]
    exact[label] = False
    return AsymmetricLearningCurves(t=tt, sigma=sig[:k], curves=curves, exact=exact, alpha=a)
