r"""Matrix sensing and completion: the measurement operators, their RIP constant, curve distances.

A measurement operator ``A`` maps an ``(n1, n2)`` matrix to ``m`` numbers. Every operator here is
*normalized*: its rows are the raw sensing matrices divided by ``sqrt(m)``,

.. math::

    \mathcal A(X)_i = \langle A_i, X \rangle / \sqrt m, \qquad
    \mathcal A^*(y) = \textstyle\sum_i y_i A_i / \sqrt m, \qquad
    \mathbb E[\mathcal A^* \mathcal A] = I,

so that ``||A(X)||^2 ~ ||X||_F^2`` (exactly, for the identity). With ``y = A(Y)`` the sensing
losses are

.. math::

    L_{\rm sym}(U) = \tfrac14 \|\mathcal A(U U^T) - y\|^2
        = \frac{1}{4m} \sum_i (\langle A_i, Y\rangle - \langle A_i, U U^T\rangle)^2, \qquad
    L_{\rm asym}(U, V) = \tfrac12 \|\mathcal A(U V^T) - y\|^2,

and for the identity operator (``A(X) = vec X``, ``m = n1 n2``) they *are* the paper's
``1/4 ||Y - U U^T||_F^2`` and ``1/2 ||Y - U V^T||_F^2``: the sensing flow then equals
:func:`mfflow.closed_form`'s flow (measured agreement below 1e-12 relative at ``rtol=1e-12``,
tests/test_sensing.py). Gradient flow:

.. math::

    \dot U = \mathrm{sym}\big(\mathcal A^*(y - \mathcal A(U U^T))\big) U, \qquad
    \dot U = \mathcal A^*(r) V, \;\; \dot V = \mathcal A^*(r)^T U, \;\; r = y - \mathcal A(U V^T).

The flows and descents of these losses are simulated by the one stack of
:mod:`mfflow.simulate` (``simulate_gf(..., operator=A)``, :func:`mfflow.sensing_flow`,
:func:`mfflow.sensing_descent`, :func:`mfflow.deep_flow`); this module holds the operators.

Symmetric Gaussian sensing with ``m >~ n r`` satisfies the restricted isometry property (RIP) on
rank-``r`` matrices w.h.p.; there is no closed form, so we simulate and compare with the
identity-operator closed form as ``m`` grows (docs/math.md §7).

Reference: H. Min and R. Vidal, arXiv:2508.20344 (2025), "future work"; B. Recht, M. Fazel and
P. Parrilo, "Guaranteed minimum-rank solutions of linear matrix equations via nuclear norm
minimization", SIAM Review 52 (2010) (RIP of Gaussian operators).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import simulate as _stack
from .compat import moved_names
from .validation import (
    Seed,
    as_fraction,
    as_operator,
    as_positive_int,
    as_real,
    as_rng,
    check_fits,
)

__all__ = [
    "EntrySampling",
    "GaussianSensing",
    "IdentityOperator",
    "MeasurementOperator",
    "curve_distance",
    "rip_constant",
]

FloatArray = NDArray[np.float64]

#: Names that moved to the simulation stack (:mod:`mfflow.simulate`); still readable here.
_MOVED = ("SensingResult", "sensing_descent", "sensing_flow")


__getattr__ = moved_names(__name__, globals(), _MOVED, _stack)


# ---- operators ---------------------------------------------------------------------------------
@runtime_checkable
class MeasurementOperator(Protocol):
    """What the simulators need from an operator (any object with these members works).

    Attributes
    ----------
    m : int
        Number of measurements.
    n : int
        Number of rows of the measured matrices.
    shape : (int, int)
        ``(n1, n2)``, the shape of the measured matrices (``n1 = n``).
    symmetric : bool
        Whether every ``A_i`` is symmetric (then ``A(X) = A((X + X^T)/2)`` and ``A*(y)`` is
        symmetric).
    """

    m: int
    n: int
    shape: tuple[int, int]
    symmetric: bool

    def apply(self, X: ArrayLike) -> FloatArray:
        """``A(X)``: ``(..., n1, n2) -> (..., m)``."""
        ...

    def adjoint(self, y: ArrayLike) -> FloatArray:
        """``A*(y)``: ``(..., m) -> (..., n1, n2)``."""
        ...


class _Operator:
    """Checks ``apply``/``adjoint`` inputs; subclasses define ``_apply`` and ``_adjoint``."""

    m: int
    n: int
    shape: tuple[int, int]
    symmetric: bool

    def _apply(self, x: FloatArray) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _adjoint(self, y: FloatArray) -> FloatArray:  # pragma: no cover - abstract
        raise NotImplementedError

    def apply(self, X: ArrayLike) -> FloatArray:
        """``A(X)``: ``(..., n1, n2)`` array to ``(..., m)`` (batched over leading axes).

        Entries are not checked for finiteness: NaN records (a diverged descent) measure NaN.
        """
        x = as_real(X, "X")
        if x.ndim < 2 or x.shape[-2:] != self.shape:
            raise ValueError(
                f"X: expected an array of shape (..., {self.shape[0]}, {self.shape[1]}), "
                f"got shape {x.shape}"
            )
        return self._apply(x)

    def adjoint(self, y: ArrayLike) -> FloatArray:
        """``A*(y)``: ``(..., m)`` array to ``(..., n1, n2)`` (batched over leading axes)."""
        v = as_real(y, "y")
        if v.ndim < 1 or v.shape[-1] != self.m:
            raise ValueError(f"y: expected an array of shape (..., {self.m}), got shape {v.shape}")
        return self._adjoint(v)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, m={self.m}, symmetric={self.symmetric})"


def _shape(n: Any, cols: Any) -> tuple[int, int, bool]:
    n = as_positive_int(n, "n")
    if cols is None:
        return n, n, True
    return n, as_positive_int(cols, "cols"), False


class GaussianSensing(_Operator):
    r"""Gaussian sensing ``A(X)_i = <A_i, X> / sqrt(m)``, ``E[A* A] = I``.

    Symmetric (``cols=None``): ``A_i = (G_i + G_i^T) / 2`` with ``G_i`` i.i.d. standard Gaussian
    ``(n, n)``, so ``<A_i, X> ~ N(0, ||X||_F^2)`` for symmetric ``X`` and
    ``E[A* A (X)] = (X + X^T)/2``. Only the upper triangle of each ``A_i`` is stored: memory
    ``8 m n (n + 1) / 2`` bytes (n = 50, m = 10^4: 100 MB); ``apply``/``adjoint`` cost
    ``m n (n + 1) / 2`` flops each.

    General (``cols`` given): ``A_i`` i.i.d. standard Gaussian ``(n, cols)`` for asymmetric
    problems, memory ``8 m n cols`` bytes; ``E[A* A (X)] = X``.

    Parameters
    ----------
    n : int
        Rows of the measured matrices.
    m : int
        Number of measurements.
    seed : int or Generator
    cols : int, optional
        Columns of the measured matrices; ``None`` for the symmetric operator on ``(n, n)``.

    Examples
    --------
    >>> import numpy as np
    >>> op = GaussianSensing(4, 50, seed=0)
    >>> op.apply(np.eye(4)).shape, op.adjoint(np.ones(50)).shape
    ((50,), (4, 4))

    Reference: Recht, Fazel and Parrilo, SIAM Review 52 (2010), section 4.
    """

    def __init__(self, n: int, m: int, seed: Seed = 0, *, cols: int | None = None) -> None:
        n1, n2, sym = _shape(n, cols)
        self.m = as_positive_int(m, "m")
        self.n, self.shape, self.symmetric = n1, (n1, n2), sym
        width = n1 * (n1 + 1) // 2 if sym else n1 * n2
        check_fits((self.m, width), "m", what="sensing matrix", copies=2)
        rng = as_rng(seed)
        if sym:
            self._iu = np.triu_indices(n1)
            off = self._iu[0] != self._iu[1]
            rows = rng.standard_normal((self.m, self._iu[0].size))
            rows[:, off] *= np.sqrt(0.5)  # (G_jk + G_kj)/2 ~ N(0, 1/2) off the diagonal
            self._weight = np.where(off, 1.0, 0.5)  # <A, X> = sum_{j<=k} A_jk (X + X^T)_jk w_jk
        else:
            rows = rng.standard_normal((self.m, n1 * n2))
        self._rows = rows / np.sqrt(self.m)

    def _apply(self, x: FloatArray) -> FloatArray:
        if self.symmetric:
            i, j = self._iu
            packed = (x[..., i, j] + x[..., j, i]) * self._weight
            return packed @ self._rows.T
        return x.reshape(*x.shape[:-2], -1) @ self._rows.T

    def _adjoint(self, y: FloatArray) -> FloatArray:
        packed = y @ self._rows
        if self.symmetric:
            i, j = self._iu
            out = np.zeros((*y.shape[:-1], *self.shape))
            out[..., i, j] = packed
            out[..., j, i] = packed
            return out
        return packed.reshape(*y.shape[:-1], *self.shape)


class EntrySampling(_Operator):
    r"""Matrix completion: observe each entry with probability ``fraction``, ``E[A* A] = I``.

    General (``cols`` given): ``A(X) = X[Omega] / sqrt(p)`` over the observed entries ``Omega``
    (row-major order), so ``A* A (X) = P_Omega(X) / p``. Symmetric (``cols=None``): the mask is
    drawn on the upper triangle (diagonal included) and mirrored; each observed ``i <= j`` is one
    measurement with the symmetric ``A_k = (e_i e_j^T + e_j e_i^T) / sqrt(2)`` (``e_i e_i^T`` on
    the diagonal), so ``m`` counts the observed upper triangle and again
    ``A* A (X) = P_Omega(X) / p`` for symmetric ``X``. Either way
    ``1/4 ||A(W) - A(Y)||^2 = 1/(4p) ||P_Omega(W - Y)||_F^2``. Memory: ``O(m)`` indices. An empty
    mask (``m = 0``, possible for tiny ``p n^2``) is kept, not refused: it is part of the average
    ``E[A* A] = I``.

    Parameters
    ----------
    n : int
    fraction : float
        ``p`` in ``(0, 1]``, the probability of observing an entry; the scaling uses it (not the
        realized fraction).
    seed : int or Generator
    cols : int, optional
        Columns; ``None`` for a symmetric mask on ``(n, n)``.

    Attributes
    ----------
    mask : (n1, n2) bool array
    fraction : float
        Requested ``p``; ``observed_fraction = m / (n1 n2)``.

    Examples
    --------
    >>> op = EntrySampling(10, 0.3, seed=0)
    >>> bool((op.mask == op.mask.T).all())
    True
    """

    def __init__(self, n: int, fraction: float, seed: Seed = 0, *, cols: int | None = None):
        n1, n2, sym = _shape(n, cols)
        self.fraction = as_fraction(fraction, "fraction")
        self.n, self.shape, self.symmetric = n1, (n1, n2), sym
        check_fits((n1, n2), "n", what="mask and its indices", copies=3)
        rng = as_rng(seed)
        scale = 1.0 / np.sqrt(self.fraction)
        if sym:
            iu = np.triu_indices(n1)
            keep = rng.random(iu[0].size) < self.fraction
            self._idx = (iu[0][keep], iu[1][keep])
            mask = np.zeros((n1, n1), dtype=bool)
            mask[self._idx] = True
            mask |= mask.T
            diag = self._idx[0] == self._idx[1]
            # adjoint weight e (M_ij = M_ji = y e); apply is (X_ij + X_ji) e / (2 on the diagonal)
            self._coef = np.where(diag, scale, scale / np.sqrt(2.0))
            self._coef_apply = np.where(diag, 0.5 * scale, scale / np.sqrt(2.0))
        else:
            mask = rng.random((n1, n2)) < self.fraction
            self._idx = np.nonzero(mask)
            self._coef = self._coef_apply = np.full(self._idx[0].size, scale)
        self.mask = mask
        self.m = int(self._idx[0].size)

    @property
    def observed_fraction(self) -> float:
        """The realized fraction of observed entries, ``mask.sum() / (n1 n2)``."""
        return float(self.mask.sum()) / (self.shape[0] * self.shape[1])

    def _apply(self, x: FloatArray) -> FloatArray:
        i, j = self._idx
        if self.symmetric:
            return (x[..., i, j] + x[..., j, i]) * self._coef_apply
        return x[..., i, j] * self._coef

    def _adjoint(self, y: FloatArray) -> FloatArray:
        i, j = self._idx
        out = np.zeros((*y.shape[:-1], *self.shape))
        out[..., i, j] = y * self._coef
        if self.symmetric:
            out[..., j, i] = y * self._coef
        return out


class IdentityOperator(_Operator):
    """The identity ``A(X) = vec X`` (row-major), ``m = n1 n2``: the paper's setting.

    With it the sensing losses are exactly ``1/4 ||Y - U U^T||_F^2`` and
    ``1/2 ||Y - U V^T||_F^2``. ``symmetric`` is ``False`` (``vec`` does not symmetrize).

    Examples
    --------
    >>> import numpy as np
    >>> IdentityOperator(2).apply(np.arange(4.0).reshape(2, 2))
    array([0., 1., 2., 3.])
    """

    def __init__(self, n: int, *, cols: int | None = None) -> None:
        n1, n2, _ = _shape(n, cols)
        self.n, self.shape, self.symmetric, self.m = n1, (n1, n2), False, n1 * n2

    def _apply(self, x: FloatArray) -> FloatArray:
        return x.reshape(*x.shape[:-2], -1).copy()

    def _adjoint(self, y: FloatArray) -> FloatArray:
        return y.reshape(*y.shape[:-1], *self.shape).copy()


def _fast(op: Any) -> tuple[Any, Any]:
    """Unchecked ``(apply, adjoint)`` for the inner loops (checked once by the caller)."""
    if isinstance(op, _Operator):
        return op._apply, op._adjoint
    return op.apply, op.adjoint


def rip_constant(op: MeasurementOperator, rank: int, trials: int = 200, seed: Seed = 0) -> float:
    r"""Sampled restricted isometry constant on random rank-``rank`` matrices.

    .. math::

        \hat\delta_r = \max_k \big| \|\mathcal A(X_k)\|^2 / \|X_k\|_F^2 - 1 \big|,

    with ``X_k = B_k diag(d_k) B_k^T`` (symmetric operators; ``B_k`` ``(n, rank)`` and ``d_k``
    standard Gaussian, so ``X_k`` is indefinite) or ``X_k = B_k C_k^T`` (general operators). It is
    a *lower* bound on the true ``delta_r`` (a supremum over all rank-r matrices), and for entry
    sampling it only probes incoherent matrices (spiky ones violate any RIP).

    Parameters
    ----------
    op : MeasurementOperator
    rank : int
        ``1 <= rank <= min(n1, n2)``.
    trials : int
    seed : int or Generator

    Returns
    -------
    float
        ``delta_hat >= 0``.

    Examples
    --------
    >>> rip_constant(GaussianSensing(10, 2000, seed=0), rank=2) < 0.3
    True
    """
    op = as_operator(op, name="op")
    rank = as_positive_int(rank, "rank")
    trials = as_positive_int(trials, "trials")
    n1, n2 = op.shape
    if rank > min(n1, n2):
        raise ValueError(f"rank: expected 1 <= rank <= min(n1, n2) = {min(n1, n2)}, got {rank}")
    check_fits((trials, n1, n2), "trials", what="batch of test matrices", copies=3)
    rng = as_rng(seed)
    b = rng.standard_normal((trials, n1, rank))
    if op.symmetric:
        d = rng.standard_normal((trials, 1, rank))
        x = (b * d) @ np.swapaxes(b, 1, 2)
    else:
        x = b @ np.swapaxes(rng.standard_normal((trials, n2, rank)), 1, 2)
    ratio = np.sum(_fast(op)[0](x) ** 2, axis=-1) / np.sum(x**2, axis=(1, 2))
    return float(np.max(np.abs(ratio - 1.0)))


def curve_distance(result: Any, reference: Any) -> FloatArray:
    """Distance of simulated singular-value curves to a reference: ``(T,)``.

    ``result`` is a :class:`mfflow.simulate.FlowResult` or ``DescentResult`` (anything with
    ``t`` ``(T,)`` and ``singular_values`` ``(T, k)``).

    ``||s(t) - s_ref(t)||_2 / ||s_ref(inf)||_2`` at the result's times, where ``s_ref`` are the
    eigenvalue magnitudes of ``reference.W(t)`` (e.g. a :class:`mfflow.Trajectory` from
    :func:`mfflow.closed_form` with the same ``Y``, ``U0``, ``alpha``) and ``s_ref(inf)`` those of
    its target. The maximum over ``t`` summarizes how far sensing is from the identity operator.
    """
    for name, obj, members in (
        ("result", result, ("t", "singular_values")),
        ("reference", reference, ("W", "Y")),
    ):
        if not all(hasattr(obj, m) for m in members):
            raise TypeError(
                f"{name}: expected an object with {' and '.join(members)} (a simulation result "
                "and a trajectory), got " + type(obj).__name__
            )
    ref_w = reference.W(result.t)
    ref_sv = np.linalg.svd(ref_w, compute_uv=False)
    scale = float(np.linalg.norm(np.linalg.svd(reference.Y, compute_uv=False)))
    k = min(ref_sv.shape[1], result.singular_values.shape[1])
    diff = result.singular_values[:, :k] - ref_sv[:, :k]
    return np.linalg.norm(diff, axis=1) / (scale if scale > 0 else 1.0)
