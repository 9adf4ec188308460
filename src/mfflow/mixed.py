r"""Mixed lazy/active dynamics of linear networks (Tu, Aranguri & Jacot, NeurIPS 2024), exactly.

Tu, Aranguri and Jacot describe a wide two-layer linear network ``A = W_2 W_1`` with Gaussian
init of variance ``sigma^2`` and width ``w`` by the *self-consistent* dynamics of the end-to-end
matrix (their eq. 1), with ``G = B - Y`` the gradient of ``1/2 ||B - Y||_F^2`` and
``c = sigma^2 w``:

.. math::

    \dot B = -\Big(\sqrt{B B^\top + c^2 I}\; G + G\, \sqrt{B^\top B + c^2 I}\Big),

lazy (``B' ~ -2 c G``) along singular values ``<< c`` and balanced/active along those ``>> c``.
Their notebooks integrate it by Euler steps with two SVDs per step.

**It is exactly a lambda-balanced factorization** (docs/math.md §11). If ``U^T U - V^T V =
2 c I_r`` then ``U`` and ``V`` share right singular vectors and, with ``B = U V^T = P S Q^T``,
``U U^T = sqrt(B B^T + c^2) + c`` and ``V V^T = sqrt(B^T B + c^2) - c`` (for ``r = m``); the
flow ``U' = R V``, ``V' = R^T U`` (``R = Y - B = -G``) gives
``B' = R V V^T + U U^T R``, and the ``+- c`` terms cancel: the self-consistent equation. Its
right-hand side is smooth in ``B`` for ``c > 0``, so this is *the* solution. The
lambda-balanced flow is solved exactly by the symmetrization of §5 (target ``Ybar + c J``, init
Gram ``[[sqrt(B0 B0^T + c^2) + c, B0], [B0^T, sqrt(B0^T B0 + c^2) - c]] / 2``), which is what
:func:`mixed_dynamics` evaluates. The factors are built from one SVD of ``B0``
(:func:`mixed_init`); the sign of ``lambda = +-2c`` is chosen so that ``r = min(m, n)``.

:func:`mixed_euler` is their scheme (the reference implementation to compare with);
:func:`mixed_phase_diagram` computes their phase picture (smallest test error, stable rank at
that time, time to reach it) over ``(c, init scale)`` from the exact dynamics, optionally next to
their Euler scheme.

Reference: Z. Tu, S. Aranguri, A. Jacot, "Mixed Dynamics In Linear Networks: Unifying the Lazy
and Active Regimes", NeurIPS 2024 (arXiv:2405.17580); code: github.com/aranguri/phase-diagram.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .asymmetric.exact import AsymmetricTrajectory, symmetrized_target
from .noisy import NoisyTarget, early_stopping
from .riccati import closed_form
from .simulate import MAX_GD_STEPS
from .simulate.models import imbalance
from .validation import (
    MAGNITUDE_MAX,
    MAGNITUDE_MIN,
    SCALE_MIN,
    as_matrix,
    as_nonnegative_scalar,
    as_positive_int,
    as_positive_scalar,
    as_real,
    as_rng,
    check_fits,
    check_magnitude,
)

__all__ = [
    "MixedEuler",
    "MixedPhaseDiagram",
    "mixed_dynamics",
    "mixed_euler",
    "mixed_init",
    "mixed_phase_diagram",
    "mixed_rhs",
    "mixed_task",
    "tu_parameters",
    "tu_step_size",
]

FloatArray = NDArray[np.float64]


def _psd_sqrt(S: FloatArray) -> FloatArray:
    """Square root of a symmetric PSD matrix by ``eigh`` (negative rounding clipped)."""
    w, v = np.linalg.eigh(S)
    return (v * np.sqrt(np.maximum(w, 0.0))) @ v.T


def _problem(
    Y: ArrayLike, B: ArrayLike, c: Any, name: str = "B0"
) -> tuple[FloatArray, FloatArray, float]:
    y = as_matrix(Y, "Y")
    b = as_matrix(B, name)
    if b.shape != y.shape:
        raise ValueError(f"{name}: expected shape {y.shape} to match Y, got {b.shape}")
    return y, b, _as_c(c)


def _as_c(c: Any, name: str = "c") -> float:
    """``c = sigma^2 w >= 0``, at most ``MAGNITUDE_MAX`` (the velocity squares it)."""
    cc = as_nonnegative_scalar(c, name)
    if cc > MAGNITUDE_MAX:
        raise ValueError(
            f"{name}: expected a number <= {MAGNITUDE_MAX:g} (it is squared), got {cc!r}"
        )
    return cc


def mixed_rhs(Y: ArrayLike, B: ArrayLike, c: float) -> FloatArray:
    r"""The self-consistent velocity ``-(sqrt(B B^T + c^2) G + G sqrt(B^T B + c^2))``, G = B - Y.

    Parameters
    ----------
    Y : (m, n) array
        Target.
    B : (m, n) array
        End-to-end matrix.
    c : float
        ``c = sigma^2 w >= 0``.

    Returns
    -------
    (m, n) array

    Examples
    --------
    >>> import numpy as np
    >>> mixed_rhs(np.eye(2), np.zeros((2, 2)), 1.0) + 0.0    # lazy at B = 0: -2 c G = 2 c Y
    array([[2., 0.],
           [0., 2.]])
    """
    y, b, cc = _problem(Y, B, c, "B")
    m, n = y.shape
    g = b - y
    left = _psd_sqrt(b @ b.T + cc * cc * np.eye(m))
    right = _psd_sqrt(b.T @ b + cc * cc * np.eye(n))
    return -(left @ g + g @ right)


def mixed_init(B0: ArrayLike, c: float) -> tuple[FloatArray, FloatArray]:
    r"""Factors ``U0`` ``(m, r)``, ``V0`` ``(n, r)``, ``r = min(m, n)``, with ``U0 V0^T = B0``
    and ``U0^T U0 - V0^T V0 = lambda I``, ``lambda = 2c`` (``m <= n``) or ``-2c`` (``m > n``).

    With ``B0 = P diag(s) Q^T`` (thin SVD): the larger side gets ``a_i = (sqrt(s_i^2 + c^2)
    + c)^{1/2}`` and the other ``b_i = s_i / a_i`` (``= (sqrt(s_i^2 + c^2) - c)^{1/2}`` without
    cancellation), so ``a_i b_i = s_i`` and ``a_i^2 - b_i^2 = 2c``; then
    ``U0 U0^T = sqrt(B0 B0^T + c^2) +- c`` and ``V0 V0^T = sqrt(B0^T B0 + c^2) -+ c`` exactly
    (docs/math.md §11).

    Parameters
    ----------
    B0 : (m, n) array
    c : float
        ``c >= 0`` (``0``: balanced factors ``a = b = sqrt(s)``).

    Returns
    -------
    U0 : (m, r) array
    V0 : (n, r) array

    Examples
    --------
    >>> import numpy as np
    >>> B0 = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    >>> U0, V0 = mixed_init(B0, 2.0)
    >>> np.allclose(U0 @ V0.T, B0), np.allclose(U0.T @ U0 - V0.T @ V0, 4.0 * np.eye(2))
    (True, True)
    """
    b = as_matrix(B0, "B0")
    cc = _as_c(c)
    m, n = b.shape
    p, s, qt = np.linalg.svd(b, full_matrices=False)
    big = np.sqrt(np.sqrt(s * s + cc * cc) + cc)
    small = np.divide(s, big, out=np.zeros_like(s), where=big > 0)
    if m <= n:  # lambda = +2c: U carries the + c
        return p * big, qt.T * small
    return p * small, qt.T * big


def mixed_dynamics(Y: ArrayLike, B0: ArrayLike, c: float) -> AsymmetricTrajectory:
    r"""The exact solution ``B(t)`` of the self-consistent mixed dynamics from ``B(0) = B0``.

    .. math::

        \dot B = -\Big(\sqrt{B B^\top + c^2 I}\, (B - Y) + (B - Y) \sqrt{B^\top B + c^2 I}\Big)

    is the end-to-end flow of the lambda-balanced factors of :func:`mixed_init`
    (``lambda = +-2c``), evaluated exactly by :func:`mfflow.closed_form` on the symmetrized
    target ``Ybar + (lambda/2) J`` with ``alpha = 1`` (module docstring, docs/math.md §11).

    Parameters
    ----------
    Y : (m, n) array
        Target (e.g. a noisy ``A* + E``).
    B0 : (m, n) array
        Initial end-to-end matrix (``W_2 W_1`` at init, ``~ sigma^2 sqrt(w)`` times a Gaussian).
    c : float
        ``c = sigma^2 w >= 0``.

    Returns
    -------
    AsymmetricTrajectory
        ``W(t)`` is ``B(t)`` ``(m, n)`` (or ``(T, m, n)``); ``singular_values(t)``, ``loss(t)``
        (``1/2 ||Y - B||_F^2``), ``gram_U(t) = sqrt(B B^T + c^2) +- c``, ``limit()``; ``lam`` is
        ``+-2c``.

    Notes
    -----
    Measured against a DOP853 solve of the self-consistent ODE itself: ``~1e-11`` relative for
    square and rectangular ``B`` (tests/test_mixed.py, docs/math.md §11).

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([[2.0, 0.0], [0.0, 1.0]])
    >>> traj = mixed_dynamics(Y, 1e-3 * np.eye(2), c=0.5)
    >>> traj.W(30.0).round(8)
    array([[2., 0.],
           [0., 1.]])
    """
    y, b0, cc = _problem(Y, B0, c)
    m, n = y.shape
    u0, v0 = mixed_init(b0, cc)
    lam = 2.0 * cc if m <= n else -2.0 * cc
    z0 = np.concatenate([u0, v0], axis=0) / math.sqrt(2.0)
    sym = closed_form(symmetrized_target(y, lam), z0, 1.0)
    return AsymmetricTrajectory(
        symmetric=sym, m=m, n=n, alpha=1.0, lam=lam, imbalance=imbalance(u0, v0), Y=y
    )


@dataclass(frozen=True, eq=False)
class MixedEuler:
    """Their Euler scheme on the self-consistent equation (:func:`mixed_euler`).

    Attributes
    ----------
    eta : float
        Step size.
    steps : (K + 1,) int array
        ``0..K``.
    error : (K + 1,) array or None
        ``||B_k - Y*||_F^2 / (m n)`` at every step (given ``Ystar``), their test error.
    best_step : int or None
        The step with the smallest ``error``.
    B_best : (m, n) array or None
        The iterate at ``best_step``.
    B_last : (m, n) array
        The last iterate.
    """

    eta: float
    steps: NDArray[np.int64] = field(repr=False)
    error: FloatArray | None = field(repr=False)
    best_step: int | None
    B_best: FloatArray | None = field(repr=False)
    B_last: FloatArray = field(repr=False)

    @property
    def best_error(self) -> float:
        """Smallest test error over the run (``nan`` without ``Ystar``)."""
        return float(self.error[self.best_step]) if self.error is not None else math.nan

    @property
    def best_time(self) -> float:
        """``best_step * eta``."""
        return float(self.best_step * self.eta) if self.best_step is not None else math.nan


def mixed_euler(
    Y: ArrayLike,
    B0: ArrayLike,
    c: float,
    eta: float,
    steps: int,
    *,
    Ystar: ArrayLike | None = None,
) -> MixedEuler:
    r"""Their scheme: ``B <- B - eta (sqrt(B B^T + c^2) G + G sqrt(B^T B + c^2))``, ``G = B - Y``.

    The reference implementation of the self-consistent dynamics in Tu, Aranguri & Jacot's
    ``dynamics.ipynb`` (their matrix square roots by SVD of the PSD matrices; here by ``eigh``,
    the same matrices), for comparison with :func:`mixed_dynamics`: explicit Euler, error
    ``O(eta)`` at a fixed horizon, ``O(m^3 + n^3)`` per step.

    Parameters
    ----------
    Y : (m, n) array
    B0 : (m, n) array
    c : float
        ``>= 0``.
    eta : float
        Step size ``> 0`` (theirs: :func:`tu_step_size`).
    steps : int
        Number of steps ``K >= 0``.
    Ystar : (m, n) array, optional
        The clean signal: given, the test error ``||B_k - Y*||_F^2 / (m n)`` of every iterate is
        recorded and the best iterate kept.

    Returns
    -------
    MixedEuler

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.array([[2.0, 0.0], [0.0, 1.0]])
    >>> run = mixed_euler(Y, 1e-3 * np.eye(2), 0.5, eta=0.01, steps=3000)
    >>> run.B_last.round(6)
    array([[2., 0.],
           [0., 1.]])
    """
    y, b, cc = _problem(Y, B0, c)
    h = as_positive_scalar(eta, "eta")
    K = as_positive_int(steps, "steps", minimum=0, maximum=MAX_GD_STEPS)
    ys = None if Ystar is None else as_matrix(Ystar, "Ystar")
    if ys is not None and ys.shape != y.shape:
        raise ValueError(f"Ystar: expected shape {y.shape} to match Y, got {ys.shape}")
    m, n = y.shape
    b = b.copy()
    errors = np.empty(K + 1) if ys is not None else None
    best, b_best = None, None

    def record(k: int) -> None:
        nonlocal best, b_best
        if errors is None or ys is None:
            return
        errors[k] = float(np.sum((b - ys) ** 2)) / (m * n)
        if best is None or errors[k] < errors[best]:
            best, b_best = k, b.copy()

    record(0)
    c2m, c2n = cc * cc * np.eye(m), cc * cc * np.eye(n)
    # an iterate beyond MAGNITUDE_MAX has diverged (its squares would overflow): refused
    limit = MAGNITUDE_MAX**0.5
    for k in range(1, K + 1):
        g = b - y
        with np.errstate(over="ignore", invalid="ignore"):
            b -= h * (_psd_sqrt(b @ b.T + c2m) @ g + g @ _psd_sqrt(b.T @ b + c2n))
        if not float(np.max(np.abs(b))) <= limit:
            raise ValueError(
                f"eta: the Euler scheme diverged at step {k} with eta = {h:g} (an entry above "
                f"{limit:g} or not finite); use a smaller step, e.g. tu_step_size(c, Ystar)"
            )
        record(k)
    return MixedEuler(
        eta=h,
        steps=np.arange(K + 1),
        error=errors,
        best_step=best,
        B_best=b_best,
        B_last=b,
    )


# ---- their task and their phase picture --------------------------------------------------------


def mixed_task(d: int, k: int = 5, *, m: int | None = None, seed: Any = 0) -> NoisyTarget:
    r"""Their task: ``Y = A* + E`` with ``A* = C D^T``, ``C, D`` entries ``k^{-1/4} N(0, 1)``
    (rank ``k``, entries of variance 1), and ``E`` i.i.d. ``N(0, 1)``.

    Parameters
    ----------
    d : int
        Columns (and rows unless ``m``); theirs: ``d = 200`` (phase diagram), ``500`` (dynamics).
    k : int
        Rank of the signal (theirs: 5).
    m : int, optional
        Rows (default ``d``).
    seed : int or Generator

    Returns
    -------
    NoisyTarget
        Rectangular (``symmetric=False``), the signal's thin SVD as its factors, ``noise = 1``.

    Examples
    --------
    >>> task = mixed_task(40, 3, seed=0)
    >>> task.Y.shape, task.values.size
    ((40, 40), 3)
    """
    nn = as_positive_int(d, "d")
    mm = nn if m is None else as_positive_int(m, "m")
    kk = as_positive_int(k, "k")
    check_fits((mm, nn), "d, m" if m is not None else "d", "target matrix", copies=3)
    if kk > min(mm, nn):
        raise ValueError(f"k: expected k <= min(m, d) = {min(mm, nn)}, got {kk}")
    rng = as_rng(seed)
    C = kk ** (-0.25) * rng.standard_normal((mm, kk))
    D = kk ** (-0.25) * rng.standard_normal((nn, kk))
    E = rng.standard_normal((mm, nn))
    p, s, qt = np.linalg.svd(C @ D.T, full_matrices=False)
    A = (p[:, :kk] * s[:kk]) @ qt[:kk]
    return NoisyTarget(A + E, p[:, :kk], s[:kk], qt[:kk].T, 1.0, False)


def tu_parameters(d: int, gamma_sigma2: ArrayLike, gamma_w: ArrayLike) -> tuple[Any, Any]:
    r"""Their coordinates to ours: ``sigma^2 = d^{gamma_sigma2}``, ``w = d^{gamma_w}`` give
    ``c = sigma^2 w`` and the init scale ``sigma^2 sqrt(w)`` (``W_2 W_1`` has entries of
    variance ``w sigma^4``, so ``B0 ~ sigma^2 sqrt(w) N(0, 1)`` for wide networks).

    Examples
    --------
    >>> c, scale = tu_parameters(100, -1.0, 2.0)
    >>> round(float(c), 10), round(float(scale), 10)
    (100.0, 1.0)
    """
    dd = as_positive_int(d, "d")
    gs = as_real(gamma_sigma2, "gamma_sigma2")
    gw = as_real(gamma_w, "gamma_w")
    for name, g in (("gamma_sigma2", gs), ("gamma_w", gw)):
        if not np.all(np.isfinite(g)):
            raise ValueError(f"{name}: expected finite exponents, got {g.tolist()}")
        check_magnitude(g, name, minimum=0.0)
    try:
        gs, gw = np.broadcast_arrays(gs, gw)
    except ValueError:
        raise ValueError(
            f"gamma_sigma2, gamma_w: shapes {gs.shape} and {gw.shape} do not broadcast"
        ) from None
    # c = d^(gs + gw) and scale = d^(gs + gw/2) must lie in [SCALE_MIN, MAGNITUDE_MAX]
    log_d = math.log(dd)
    lo, hi = math.log(SCALE_MIN), math.log(MAGNITUDE_MAX)
    for what, e in (("c = d^(gamma_sigma2 + gamma_w)", gs + gw), ("scale", gs + gw / 2.0)):
        if np.any(e * log_d > hi) or np.any(e * log_d < lo):
            raise ValueError(
                f"gamma_sigma2, gamma_w: {what} leaves [{SCALE_MIN:.3g}, {MAGNITUDE_MAX:g}] "
                f"for d = {dd} (exponents {np.ravel(e).tolist()[:4]})"
            )
    return float(dd) ** (gs + gw), float(dd) ** (gs + gw / 2.0)


def tu_step_size(c: float, Ystar: ArrayLike, factor: float = 50.0) -> float:
    r"""Their step: ``1 / (factor c)`` in the lazy regime ``c > d`` (``gamma_sigma2 + gamma_w
    > 1``), else ``1 / (factor ||A*||_2)`` (``factor = 50`` in ``main.ipynb``, 5 in
    ``dynamics.ipynb``; ``d`` is the number of columns).

    Examples
    --------
    >>> import numpy as np
    >>> tu_step_size(400.0, np.eye(3) * 2.0)     # c > d = 3: lazy
    5e-05
    """
    cc = _as_c(c)
    ys = as_matrix(Ystar, "Ystar")
    f = as_positive_scalar(factor, "factor", minimum=MAGNITUDE_MIN, maximum=MAGNITUDE_MAX)
    d = ys.shape[1]
    if cc > d:
        return 1.0 / (f * cc)
    top = float(np.linalg.norm(ys, 2))
    if top == 0.0:
        raise ValueError(
            "Ystar: expected a non-zero signal (the active step is 1 / (factor ||Y*||_2))"
        )
    return 1.0 / (f * top)


@dataclass(frozen=True, eq=False)
class MixedPhaseDiagram:
    r"""Their phase picture from the exact dynamics (and, optionally, their Euler scheme).

    Every array has the shape of the ``c`` and ``scale`` grids given.

    Attributes
    ----------
    c, scale : arrays
        The grid: ``c = sigma^2 w`` and the init scale (``B0 = scale * G0``).
    test_error : array
        ``min_t ||B(t) - A*||_F^2 / (m n)``, their test error, at its exact minimizer.
    stable_rank : array
        ``||B||_F^2 / ||B||_2^2`` at that time.
    time : array
        The minimizer ``t*`` (root of the exact derivative).
    eta : array
        Their step size (:func:`tu_step_size`).
    iterations : array
        ``t* / eta``: their "iterations until minimal test error".
    at_horizon : bool array
        The error was still decreasing at the scan's horizon.
    euler_test_error, euler_stable_rank, euler_iterations : arrays or None
        The same from their Euler scheme with step ``eta`` (run to twice the exact ``t*``).
    """

    c: FloatArray
    scale: FloatArray
    test_error: FloatArray = field(repr=False)
    stable_rank: FloatArray = field(repr=False)
    time: FloatArray = field(repr=False)
    eta: FloatArray = field(repr=False)
    iterations: FloatArray = field(repr=False)
    at_horizon: NDArray[np.bool_] = field(repr=False)
    euler_test_error: FloatArray | None = field(repr=False, default=None)
    euler_stable_rank: FloatArray | None = field(repr=False, default=None)
    euler_iterations: FloatArray | None = field(repr=False, default=None)

    def euler_discrepancy(self) -> dict[str, float]:
        """Largest relative differences Euler vs exact: test error, stable rank, iterations."""
        if self.euler_test_error is None:
            return {}
        if self.euler_stable_rank is None or self.euler_iterations is None:
            raise ValueError(
                "euler_stable_rank, euler_iterations: expected arrays alongside "
                "euler_test_error (as mixed_phase_diagram(..., euler=True) builds them)"
            )
        return {
            "test_error": float(np.max(np.abs(self.euler_test_error / self.test_error - 1))),
            "stable_rank": float(np.max(np.abs(self.euler_stable_rank / self.stable_rank - 1))),
            "iterations": float(np.max(np.abs(self.euler_iterations / self.iterations - 1))),
        }


def _stable_rank(B: FloatArray) -> float:
    s = np.linalg.svd(B, compute_uv=False)
    return float(np.sum(s * s) / (s[0] * s[0])) if s[0] > 0 else math.nan


def mixed_phase_diagram(
    task: NoisyTarget,
    c: ArrayLike,
    scale: ArrayLike,
    *,
    G0: ArrayLike | None = None,
    seed: Any = 0,
    euler: bool = False,
    step_factor: float = 50.0,
    max_steps: int = 200_000,
) -> MixedPhaseDiagram:
    r"""Their phase picture over ``(c, init scale)``, exactly.

    For each cell: ``B0 = scale * G0``, the exact :func:`mixed_dynamics` on ``task.Y``, its test
    error ``||B(t) - A*||_F^2 / (m n)`` minimized over ``t`` by root finding on the exact
    derivative (:func:`mfflow.early_stopping`), the stable rank ``||B||_F^2 / ||B||_2^2`` there,
    and the time, also in their iterations ``t* / eta`` (:func:`tu_step_size`). With
    ``euler=True`` their Euler scheme runs with the same ``eta`` to ``2 t*`` (capped at
    ``max_steps``) and the same three numbers are read off its iterates.

    Parameters
    ----------
    task : NoisyTarget
        Rectangular target with its signal ``A*`` (:func:`mixed_task`).
    c, scale : arrays of the same shape
        The cells (e.g. from :func:`tu_parameters` on their ``(gamma_sigma2, gamma_w)`` grid).
    G0 : (m, n) array, optional
        The init's shape (default: i.i.d. ``N(0, 1)`` from ``seed``, shared by all cells).
    seed : int or Generator
    euler : bool
        Also run their Euler scheme.
    step_factor : float
        Their ``50`` in ``eta = 1 / (50 c)`` or ``1 / (50 ||A*||)``.
    max_steps : int
        Cap on the Euler steps per cell.

    Returns
    -------
    MixedPhaseDiagram

    Examples
    --------
    >>> import numpy as np
    >>> task = mixed_task(12, 2, seed=0)
    >>> c, scale = tu_parameters(12, np.array([-2.0, -1.0]), np.array([2.0, 2.0]))
    >>> pd = mixed_phase_diagram(task, c, scale, seed=1)
    >>> pd.test_error.shape, bool(pd.test_error[0] < pd.test_error[1])   # active beats lazy
    ((2,), True)
    """
    if not isinstance(task, NoisyTarget) or task.symmetric:
        raise TypeError("task: expected a rectangular NoisyTarget (mixed_task)")
    cs = as_real(c, "c")
    ss = as_real(scale, "scale")
    if cs.shape != ss.shape:
        raise ValueError(f"scale: expected the shape of c {cs.shape}, got {ss.shape}")
    if cs.size == 0:
        raise ValueError("c, scale: expected non-empty grids, got shape (0,)")
    if not (np.all(np.isfinite(cs)) and np.all(cs >= 0)):
        raise ValueError(f"c: expected finite values >= 0, got {cs.tolist()}")
    check_magnitude(cs, "c")
    if not (np.all(np.isfinite(ss)) and np.all(ss > 0)):
        raise ValueError(f"scale: expected finite values > 0, got {ss.tolist()}")
    check_magnitude(ss, "scale", minimum=SCALE_MIN)
    if not isinstance(euler, bool | np.bool_):
        raise TypeError(f"euler: expected True or False, got {euler!r}")
    as_positive_scalar(step_factor, "step_factor", minimum=MAGNITUDE_MIN, maximum=MAGNITUDE_MAX)
    m, n = task.shape
    g0 = as_rng(seed).standard_normal((m, n)) if G0 is None else as_matrix(G0, "G0")
    if g0.shape != (m, n):
        raise ValueError(f"G0: expected shape {(m, n)}, got {g0.shape}")
    top = float(np.max(np.abs(g0))) if g0.size else 0.0
    if top > 0.0 and float(np.min(ss)) * top < MAGNITUDE_MIN:
        raise ValueError(
            f"scale: every B0 = scale G0 needs max|B0| >= {MAGNITUDE_MIN:g} (time scales go like "
            f"its inverse), got scale {float(np.min(ss)):.3g} with max|G0| = {top:.3g}"
        )
    ystar = task.Ystar
    cap = as_positive_int(max_steps, "max_steps")
    out = {
        k: np.empty(cs.shape) for k in ("test_error", "stable_rank", "time", "eta", "iterations")
    }
    horizon = np.zeros(cs.shape, dtype=bool)
    eul = {k: np.full(cs.shape, np.nan) for k in ("test", "rank", "iter")} if euler else None
    for idx in np.ndindex(cs.shape):
        cc, sc = float(cs[idx]), float(ss[idx])
        traj = mixed_dynamics(task.Y, sc * g0, cc)
        stop = early_stopping(traj, task)
        eta = tu_step_size(cc, ystar, step_factor)
        out["test_error"][idx] = stop.error_star**2 / (m * n)
        out["stable_rank"][idx] = _stable_rank(traj.W(stop.t_star))
        out["time"][idx] = stop.t_star
        out["eta"][idx] = eta
        out["iterations"][idx] = stop.t_star / eta
        horizon[idx] = stop.at_horizon
        if eul is not None:
            steps = min(cap, math.ceil(2.0 * stop.t_star / eta) + 10)
            run = mixed_euler(task.Y, sc * g0, cc, eta, steps, Ystar=ystar)
            assert run.B_best is not None
            eul["test"][idx] = run.best_error
            eul["rank"][idx] = _stable_rank(run.B_best)
            eul["iter"][idx] = float(run.best_step or 0)
    return MixedPhaseDiagram(
        c=cs,
        scale=ss,
        test_error=out["test_error"],
        stable_rank=out["stable_rank"],
        time=out["time"],
        eta=out["eta"],
        iterations=out["iterations"],
        at_horizon=horizon,
        euler_test_error=None if eul is None else eul["test"],
        euler_stable_rank=None if eul is None else eul["rank"],
        euler_iterations=None if eul is None else eul["iter"],
    )
