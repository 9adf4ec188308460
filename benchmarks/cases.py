"""The benchmark grid: problems, time grids and the error metric shared by every runner.

A case is ``structure[n=..,alpha=..]``; everything in it is rebuilt deterministically from the
case alone (seeded builders), so a worker process can rebuild the same problem bit for bit.

Structures
----------
dense
    ``Y = make_target(SPECTRUM, n)`` (rank ``K = 4``, random eigenbasis), Gaussian ``U0`` with
    ``r = n``: mfflow's general ``n x n`` Cholesky path.
spectral
    Same ``Y``, ``U0 = spectral_init(Y, scales)`` with per-mode scales in ``[0.5, 2]`` and a random
    right rotation (``r = n``): mfflow's ``O(n)``-per-time-point logistic path.
lowrank
    ``Y = B diag(SPECTRUM) B^T`` given to mfflow as the factor ``(B, SPECTRUM)``, Gaussian ``U0``
    with ``r = R_LOW``: mfflow solves in the ``(K + r)``-dimensional subspace. The ODE
    competitors apply ``Y`` in factored form too (``O(n K r)`` per right-hand side).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

import mfflow

#: Eigenvalues of every target (descending); the last transition is at log(1/alpha) / 2.
SPECTRUM = (4.0, 3.0, 2.0, 1.0)
#: Init rank of the low-rank structure.
R_LOW = 4
#: Time points per case, spanning 0 .. T_FACTOR x the last transition time.
T_POINTS = 200
T_FACTOR = 1.5
#: Matched accuracy: relative Frobenius error of W(t) against the closed form.
TARGET_ERROR = 1e-10
STRUCTURES = ("dense", "spectral", "lowrank")
SEED = 0


@dataclass(frozen=True)
class Case:
    """One benchmark problem."""

    structure: str
    n: int
    alpha: float

    @property
    def name(self) -> str:
        return f"{self.structure}[n={self.n},alpha={self.alpha:.0e}]"

    @property
    def r(self) -> int:
        return R_LOW if self.structure == "lowrank" else self.n

    @property
    def K(self) -> int:
        return min(len(SPECTRUM), self.n)

    def times(self) -> np.ndarray:
        """``(T_POINTS,)`` times from 0 to ``T_FACTOR`` x the last transition."""
        t_last = math.log(1.0 / self.alpha) / (2.0 * min(SPECTRUM[: self.K]))
        return np.linspace(0.0, T_FACTOR * t_last, T_POINTS)

    def check_stride(self) -> int:
        """Errors are measured at every ``stride``-th time point (all of them for n <= 200)."""
        return 1 if self.n <= 200 else (5 if self.n <= 500 else 20)

    def check_indices(self) -> np.ndarray:
        """Time indices where errors are measured: ``t > 0``, every ``check_stride()``-th."""
        idx = np.arange(1, T_POINTS, self.check_stride())
        return np.union1d(idx, [T_POINTS - 1])


@dataclass(frozen=True)
class Problem:
    """The arrays of a case.

    Attributes
    ----------
    Y : (n, n) array, or None
        Dense target (``None`` only when ``n`` is too large to form it).
    basis : (n, K) array, or None
        Orthonormal factor of ``Y`` (low-rank structure only).
    values : (K,) array
    U0 : (n, r) array
    ts : (T,) array
    """

    case: Case
    Y: np.ndarray | None
    basis: np.ndarray | None
    values: np.ndarray
    U0: np.ndarray
    ts: np.ndarray

    @property
    def target(self) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """What mfflow is given: the factor for the low-rank structure, else ``Y``."""
        if self.basis is not None:
            return (self.basis, self.values)
        assert self.Y is not None
        return self.Y

    def apply_Y(self, U: np.ndarray) -> np.ndarray:
        """``Y @ U`` ``(n, r)``, factored when ``Y`` is low rank."""
        if self.basis is not None:
            return self.basis @ (self.values[:, None] * (self.basis.T @ U))
        assert self.Y is not None
        return self.Y @ U


def orthonormal_basis(n: int, k: int, seed: int) -> np.ndarray:
    """``(n, k)`` orthonormal columns from a Gaussian QR; never forms ``n x n``."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, k)))
    return q


def build(case: Case) -> Problem:
    """The arrays of ``case`` (deterministic; shared by every alpha of a structure and n)."""
    Y, basis, values, U0 = _arrays(case.structure, case.n)
    return Problem(case, Y, basis, values, U0, case.times())


@functools.lru_cache(maxsize=3)
def _arrays(structure: str, n: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    values = np.asarray(SPECTRUM[: min(len(SPECTRUM), n)], dtype=np.float64)
    if structure == "lowrank":
        basis = orthonormal_basis(n, values.size, SEED + 10)
        Y = (basis * values) @ basis.T
        return Y, basis, values, mfflow.gaussian_init(n, R_LOW, seed=SEED + 1)
    Y = mfflow.make_target(values, n, seed=SEED)
    if structure == "dense":
        U0 = mfflow.gaussian_init(n, n, seed=SEED + 1)
    elif structure == "spectral":
        scales = np.random.default_rng(SEED + 2).uniform(0.5, 2.0, n)
        U0 = mfflow.spectral_init(Y, scales, seed=SEED + 3)
    else:
        raise ValueError(f"structure: expected one of {STRUCTURES}, got {structure!r}")
    for a in (Y, U0):
        a.setflags(write=False)
    return Y, None, values, U0


def rel_errors(U: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Per-time ``||U U^T - F F^T||_F / ||F F^T||_F`` for stacks ``U (T, n, r)``, ``F (T, n, m)``.

    ``(T,)``. When ``r + m < n`` the difference is evaluated on the ``(r + m)``-dimensional
    range of ``[U, F]`` (a QR), never as an ``n x n`` matrix; both ways keep an absolute accuracy
    of ``~1e-16 ||W||``. Non-finite input gives ``inf``.
    """
    T, n, r = U.shape
    m = F.shape[2]
    out = np.empty(T)
    for i in range(T):
        u, f = U[i], np.asarray(F[i])
        if not np.all(np.isfinite(u)):
            out[i] = np.inf
            continue
        if r + m < n:
            _, R = np.linalg.qr(np.concatenate([u, f], axis=1))
            ru, rf = R[:, :r], R[:, r:]
            diff = ru @ ru.T - rf @ rf.T
            ref = rf @ rf.T
        else:
            ref = f @ f.T
            diff = u @ u.T - ref
        den = np.linalg.norm(ref)
        out[i] = np.linalg.norm(diff) / den if den > 0 else np.linalg.norm(diff)
    return out


def grid(quick: bool) -> list[Case]:
    """The cases in run order (small n first)."""
    ns = (10, 50) if quick else (10, 50, 200, 500, 2000)
    alphas = (1e-4,) if quick else (1e-4, 1e-12, 1e-40)
    return [Case(s, n, a) for n in ns for s in STRUCTURES for a in alphas]
