"""The benchmark grid: problems, time grids, the three outputs and their error metrics.

A case is ``structure[n=..,alpha=..]``; everything in it is rebuilt deterministically from the
case alone (seeded builders), so a worker process rebuilds the same problem bit for bit.

Structures
----------
dense
    ``Y = make_target(SPECTRUM, n)`` (rank ``K = 4``, random eigenbasis), Gaussian ``U0`` with
    ``r = n``: mfflow's general ``n x n`` Cholesky path.
spectral
    Same ``Y``, ``U0 = spectral_init(Y, scales)`` with per-mode scales in ``[0.5, 2]`` and a random
    right rotation (``r = n``): mfflow's ``O(n)``-per-time-point logistic path.
lowrank
    ``Y = B diag(LOWRANK_VALUES) B^T`` (``K = 10``) given as the factor ``(B, values)``, Gaussian
    ``U0`` with ``r = 10``: no ``n x n`` matrix exists anywhere (``n`` up to ``10^6``).

Outputs (the same on both sides of every comparison)
-----------------------------------------------------
eigvals
    The learning curves: the eigenvalues of ``W(t)`` at the ``T`` times, descending, ``(T, k)``
    (``k = n``; ``k = r``, the rank of ``W``, for a low-rank target).
W
    ``W(t)`` at the ``T`` times, produced chunk by chunk (``(n, n)`` per time). For a low-rank
    target an ``n x n`` matrix at ``n = 10^5`` does not fit anywhere: the output is then a factor
    ``F (n, r)`` with ``W = F F^T`` (the ODE's own state ``U``). Not timed when the ``T`` outputs
    hold more than ``W_MAX_ENTRIES`` numbers (spectral ``n = 2000``, low-rank ``n = 10^6``):
    producing them is ``T`` products of the same size on every side (``n^3``, ``n (K + r) r``
    flops), at least 16 GB written.
loss
    ``1/4 ||Y - W(t)||_F^2`` at the ``T`` times.

Error metrics (each must be ``<= TARGET_ERROR`` at every checked time)
--------------------------------------------------------------------
eigvals: ``max_i |lam_i - lam_i^ref| / lam_1^ref`` per time (relative to the largest);
W: ``||W - W^ref||_F / ||W^ref||_F`` per time; loss: ``|loss - loss^ref| / loss^ref(0)`` (the
loss decreases along the flow, and tends to 0 when ``r >= K``: a relative error at each time would
ask for more than float64 can give near convergence).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

import mfflow

#: Eigenvalues of the dense and spectral targets (descending): rank K = 4.
SPECTRUM = (4.0, 3.0, 2.0, 1.0)
#: Eigenvalues of the low-rank target (K = 10) and the rank of its init.
LOWRANK_VALUES = tuple(float(v) for v in np.linspace(4.0, 1.0, 10))
R_LOW = 10
#: Time points per case, spanning 0 .. T_FACTOR x the last transition time.
T_POINTS = 200
T_FACTOR = 1.5
#: Matched accuracy of every output (see the module docstring for the metrics).
TARGET_ERROR = 1e-10
STRUCTURES = ("dense", "spectral", "lowrank")
OUTPUTS = ("eigvals", "W", "loss")
#: Most numbers the W output may hold over the T times for it to be timed (1.6 GB).
W_MAX_ENTRIES = 2 * 10**8
#: Bytes of one chunk of W output (both sides produce W chunk by chunk and drop it).
W_CHUNK_BYTES = 32 * 2**20
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
    def values(self) -> tuple[float, ...]:
        return LOWRANK_VALUES if self.structure == "lowrank" else SPECTRUM[: min(4, self.n)]

    @property
    def K(self) -> int:
        return len(self.values)

    @property
    def k_eig(self) -> int:
        """Eigenvalues per time point in the learning curves (``rank W <= r``)."""
        return self.r if self.structure == "lowrank" else self.n

    @property
    def outputs(self) -> tuple[str, ...]:
        width = self.r if self.w_is_factor else self.n
        if T_POINTS * self.n * width > W_MAX_ENTRIES:
            return ("eigvals", "loss")
        return OUTPUTS

    @property
    def w_is_factor(self) -> bool:
        """Whether the W output is a factor ``F (n, r)`` (low-rank targets)."""
        return self.structure == "lowrank"

    def times(self) -> np.ndarray:
        """``(T_POINTS,)`` times from 0 to ``T_FACTOR`` x the last transition."""
        t_last = math.log(1.0 / self.alpha) / (2.0 * min(self.values))
        return np.linspace(0.0, T_FACTOR * t_last, T_POINTS)

    def check_indices(self, output: str) -> np.ndarray:
        """Time indices where ``output``'s error is measured: every ``t > 0`` for the curves and
        the loss; for W every point up to n = 200, then every 5th, 20th, 40th (n >= 10^6)."""
        stride = 1
        if output == "W":
            n = self.n
            stride = 1 if n <= 200 else 5 if n <= 500 else 20 if n < 10**6 else 40
        return np.union1d(np.arange(1, T_POINTS, stride), [T_POINTS - 1])

    def rhs_cost(self) -> float:
        """Flops of one right-hand side ``(Y - U U^T) U`` of the full ODE (run order)."""
        width = self.K if self.structure == "lowrank" else self.n
        return 2.0 * self.n * self.r * (width + 2 * self.r)


@dataclass(frozen=True)
class Problem:
    """The arrays of a case.

    Attributes
    ----------
    Y : (n, n) array, or None
        Dense target (``None`` for the low-rank structure).
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
        """``Y @ U`` for ``U (..., n, r)``, factored when ``Y`` is low rank."""
        if self.basis is not None:
            return self.basis @ (self.values[:, None] * (self.basis.T @ U))
        assert self.Y is not None
        return self.Y @ U

    @functools.cached_property
    def y_norm2(self) -> float:
        """``||Y||_F^2``."""
        if self.Y is None:
            return float(np.sum(self.values**2))
        return float(np.sum(self.Y**2))


def orthonormal_basis(n: int, k: int, seed: int) -> np.ndarray:
    """``(n, k)`` orthonormal columns from a Gaussian QR; never forms ``n x n``."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, k)))
    return q


def build(case: Case) -> Problem:
    """The arrays of ``case`` (deterministic; shared by every alpha of a structure and n)."""
    Y, basis, values, U0 = _arrays(case.structure, case.n)
    return Problem(case, Y, basis, values, U0, case.times())


@functools.lru_cache(maxsize=2)
def _arrays(
    structure: str, n: int
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray, np.ndarray]:
    if structure == "lowrank":
        values = np.asarray(LOWRANK_VALUES)
        basis = orthonormal_basis(n, values.size, SEED + 10)
        U0 = mfflow.gaussian_init(n, R_LOW, seed=SEED + 1)
        for a in (basis, U0):
            a.setflags(write=False)
        return None, basis, values, U0
    values = np.asarray(SPECTRUM[: min(4, n)])
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


def w_chunks(case: Case) -> list[slice]:
    """Slices of the ``T`` times whose W output takes at most :data:`W_CHUNK_BYTES`."""
    per_time = 8 * case.n * (case.r if case.w_is_factor else case.n)
    step = max(1, W_CHUNK_BYTES // per_time)
    return [slice(s, min(s + step, T_POINTS)) for s in range(0, T_POINTS, step)]


# ---- error metrics ------------------------------------------------------------------------
def w_errors(U: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Per-time ``||U U^T - F F^T||_F / ||F F^T||_F`` for factor stacks ``U (T, n, r)``,
    ``F (T, n, m)``: ``(T,)``.

    When ``r + m < n`` the difference is evaluated on the ``(r + m)``-dimensional range of
    ``[U, F]`` (a QR), never as an ``n x n`` matrix; both ways keep an absolute accuracy of
    ``~1e-16 ||W||``. Non-finite input gives ``inf``.
    """
    T, n, r = U.shape
    out = np.empty(T)
    for i in range(T):
        u, f = U[i], np.asarray(F[i])
        if not np.all(np.isfinite(u)):
            out[i] = np.inf
            continue
        if r + f.shape[1] < n:
            _, R = np.linalg.qr(np.concatenate([u, f], axis=1))
            ru, rf = R[:, :r], R[:, r:]
            diff, ref = ru @ ru.T - rf @ rf.T, rf @ rf.T
        else:
            ref = f @ f.T
            diff = u @ u.T - ref
        den = np.linalg.norm(ref)
        out[i] = np.linalg.norm(diff) / den if den > 0 else np.linalg.norm(diff)
    return out


def eig_errors(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-time ``max_i |got_i - ref_i| / ref_1`` for descending ``(T, k)`` stacks: ``(T,)``."""
    k = min(got.shape[1], ref.shape[1])
    diff = np.abs(got[:, :k] - ref[:, :k]).max(axis=1)
    extra = [np.abs(a[:, k:]).max(axis=1) for a in (got, ref) if a.shape[1] > k]
    for e in extra:
        diff = np.maximum(diff, e)
    den = np.abs(ref[:, 0])
    out = np.where(den > 0, diff / np.where(den > 0, den, 1.0), diff)
    return np.where(np.all(np.isfinite(got), axis=1), out, np.inf)


def loss_errors(got: np.ndarray, ref: np.ndarray, scale: float) -> np.ndarray:
    """Per-time ``|got - ref| / scale`` (``scale = loss^ref(0)``): ``(T,)``."""
    out = np.abs(got - ref) / scale
    return np.where(np.isfinite(got), out, np.inf)


# ---- the grid -----------------------------------------------------------------------------
def grid(quick: bool) -> list[Case]:
    """The cases in run order (structure, then n ascending, then alpha descending)."""
    if quick:
        cases = [Case("dense", 50, a) for a in (1e-4, 1e-40)]
        cases += [Case("spectral", 200, 1e-4), Case("lowrank", 10_000, 1e-4)]
        return cases
    cases = [Case("dense", n, a) for n in (50, 200, 500) for a in (1e-4, 1e-8, 1e-12)]
    cases.insert(3, Case("dense", 50, 1e-40))
    cases += [Case("spectral", n, a) for n in (500, 2000) for a in (1e-4, 1e-12)]
    cases.insert(cases.index(Case("spectral", 500, 1e-12)) + 1, Case("spectral", 500, 1e-40))
    cases += [Case("lowrank", n, a) for n in (100_000, 1_000_000) for a in (1e-4, 1e-12)]
    cases.insert(cases.index(Case("lowrank", 100_000, 1e-12)) + 1, Case("lowrank", 100_000, 1e-40))
    return cases
