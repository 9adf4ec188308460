r"""Lazy versus rich learning in closed form: the ``(lambda, scale)`` phase diagram.

Each cell trains the network from :func:`~mfflow.linear_networks.inits.lambda_balanced_weights`
with relative scale ``lambda`` and absolute scale ``s`` (the initial product's singular values;
one seed, so every cell is the same init up to its balance and size) and measures, exactly:

* the **kernel distance** ``1 - <K(0), K(t_end)> / (||K(0)|| ||K(t_end)||)`` of the NTK on the
  training inputs (Fort et al. 2020): ~0 when the kernel does not move (lazy), large when it
  learns (rich);
* the **representation distance**, the same for the hidden layer's similarity
  ``X^T W1^T W1 X`` (it can move while the NTK does not: for ``lambda >> s`` the NTK is
  dominated by the large ``W2`` and static, while the small ``W1`` is rewritten);
* the **task alignment** ``y^T K y / (||K|| ||y||^2)`` of the NTK at ``t = 0`` and ``t_end``;
* the **time to learn**: the first time the excess loss over the global minimum ``L*`` (the
  best rank-``k`` fit, ``k = min(d_in, h, d_out)``) falls to ``tol`` times its initial value.

``t_end = inf`` by default: the limit, exactly (:meth:`mfflow.Trajectory.limit`).

Per mode (an init aligned with the task) the product's singular value obeys
``ds/dt = sqrt(lambda^2 + 4 s^2) (sigma - s)`` (from ``a^2 - b^2 = lambda``, ``ab = s``): for
``|lambda| >> sigma`` a linear, kernel-like relaxation at rate ``|lambda|`` (lazy), for
``lambda = 0`` the sigmoid ``ds/dt = 2 s (sigma - s)`` whose duration grows like
``log(sigma / s) / (2 sigma)`` (rich); a large ``s`` is lazy for any ``lambda``. The regimes
are set by ``lambda / sigma`` and ``s / sigma``.

:func:`lazy_rich_cell` computes one cell (what a sweep runs per cell, on Dask or anywhere),
exactly or, with ``eta``, by gradient descent on the weights (the simulation stack);
:func:`lazy_rich_phase_diagram` runs a grid and confirms chosen cells by gradient descent.

References: S. Fort et al., NeurIPS 2020 (kernel distance); N. Cristianini et al., NeurIPS 2001
(alignment); C. C. J. Dominé et al., ICLR 2025 (the lambda-balanced lazy/rich diagram);
D. Kunin et al., NeurIPS 2024 (relative scale).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..validation import (
    MAGNITUDE_MAX,
    SCALE_MIN,
    Seed,
    as_positive_int,
    as_positive_scalar,
    as_real,
    as_values,
)
from .data import as_dataset, as_whitened
from .inits import lambda_balanced_weights
from .kernels import kernel_cosine_distance, task_alignment
from .simulation import simulate_linear_network
from .trajectory import linear_network

__all__ = [
    "LazyRichCell",
    "LazyRichCheck",
    "PhaseDiagram",
    "lazy_rich_cell",
    "lazy_rich_phase_diagram",
]

FloatArray = NDArray[np.float64]

#: Points of the geometric time grid a cell's time to learn is first bracketed on, and of the
#: linear grids it is then refined on twice (log-linear interpolation in between: exact for an
#: exponential decay; measured within 1e-7 relative of a 60-step bisection).
COARSE, FINE = 64, 16
#: Most records a descent cell keeps (evenly spaced in steps) to find its time to learn.
MAX_RECORDS = 4000


@dataclass(frozen=True)
class LazyRichCell:
    """One cell of the phase diagram (all floats: a sweep stores them as they are).

    Attributes
    ----------
    lam, scale : float
        Relative and absolute scale of the init.
    t_end : float
        Where the final quantities are measured (``inf``: the limit).
    kernel_distance : float
        ``1 - cos(K(0), K(t_end))`` of the NTK on the training inputs.
    representation_distance : float
        ``1 - cos(H(0), H(t_end))``, ``H = X^T W1^T W1 X``.
    alignment_init, alignment_final : float
        NTK-task alignment at ``0`` and ``t_end``.
    time_to_learn : float
        First time the excess loss is ``tol`` times its initial value (``inf`` if never by
        the horizon).
    excess_final : float
        Relative excess loss at ``t_end``.
    """

    lam: float
    scale: float
    t_end: float
    kernel_distance: float
    representation_distance: float
    alignment_init: float
    alignment_final: float
    time_to_learn: float
    excess_final: float

    def as_dict(self) -> dict[str, float]:
        """The fields as a ``{name: float}`` dict."""
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class LazyRichCheck:
    """One cell computed exactly and by gradient descent at the same finite horizon.

    Attributes
    ----------
    exact, descent : LazyRichCell
    eta : float
    seconds_exact, seconds_descent : float
        Wall-clock time of each.
    """

    exact: LazyRichCell
    descent: LazyRichCell
    eta: float
    seconds_exact: float
    seconds_descent: float

    def differences(self) -> dict[str, float]:
        """``|descent - exact|`` of every measured quantity (relative for the time)."""
        out = {}
        for name in (
            "kernel_distance",
            "representation_distance",
            "alignment_final",
            "excess_final",
        ):
            out[name] = abs(getattr(self.descent, name) - getattr(self.exact, name))
        te, td = self.exact.time_to_learn, self.descent.time_to_learn
        out["time_to_learn_rel"] = abs(td - te) / te if te > 0 else abs(td - te)
        return out


@dataclass(frozen=True, eq=False)
class PhaseDiagram:
    """The ``(lambda, scale)`` grid of :func:`lazy_rich_phase_diagram`.

    Attributes
    ----------
    lams : (L,) array
        Relative scales (rows).
    scales : (S,) array
        Absolute scales (columns).
    kernel_distance, representation_distance, alignment_init, alignment_final, time_to_learn,
    excess_final : (L, S) arrays
        The :class:`LazyRichCell` fields on the grid.
    t_end : float
    tol : float
    method : str
        ``"exact"`` or ``"descent"``.
    eta : float or None
        Step size (descent).
    seconds : float
        Wall-clock time of the grid.
    cpu_seconds : float
        Processor time of the grid (this process; the wall time on a shared machine includes
        waiting).
    checks : tuple of LazyRichCheck
        Cells recomputed exactly and by gradient descent at a finite horizon.
    """

    lams: FloatArray
    scales: FloatArray
    kernel_distance: FloatArray
    representation_distance: FloatArray
    alignment_init: FloatArray
    alignment_final: FloatArray
    time_to_learn: FloatArray
    excess_final: FloatArray
    t_end: float
    tol: float
    method: str
    eta: float | None
    seconds: float
    cpu_seconds: float = math.nan
    checks: tuple[LazyRichCheck, ...] = field(default=())

    @classmethod
    def from_cells(
        cls,
        lams: ArrayLike,
        scales: ArrayLike,
        cells: list[LazyRichCell],
        *,
        tol: float,
        method: str = "exact",
        eta: float | None = None,
        seconds: float = math.nan,
        cpu_seconds: float = math.nan,
        checks: tuple[LazyRichCheck, ...] = (),
    ) -> PhaseDiagram:
        """Assemble a grid from its cells, row-major (``lam`` outer, ``scale`` inner).

        What a sweep does after running :func:`lazy_rich_cell` on every cell.
        """
        la = np.asarray(lams, dtype=np.float64)
        sc = np.asarray(scales, dtype=np.float64)
        if len(cells) != la.size * sc.size:
            raise ValueError(f"cells: expected {la.size * sc.size} cells, got {len(cells)}")
        grid = {
            name: np.array([getattr(c, name) for c in cells]).reshape(la.size, sc.size)
            for name in (
                "kernel_distance",
                "representation_distance",
                "alignment_init",
                "alignment_final",
                "time_to_learn",
                "excess_final",
            )
        }
        t_end = cells[0].t_end if cells else math.inf
        return cls(
            lams=la,
            scales=sc,
            t_end=t_end,
            tol=tol,
            method=method,
            eta=eta,
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            checks=tuple(checks),
            **grid,
        )

    def to_table(self) -> str:
        """The gradient-descent checks as a text table (exact vs descent, differences)."""
        head = (
            f"{'lambda':>8} {'scale':>8} {'eta':>7} {'kd exact':>9} {'kd GD':>9} "
            f"{'align ex':>9} {'align GD':>9} {'t exact':>8} {'t GD':>8} {'speed-up':>8}"
        )
        rows = [head]
        for c in self.checks:
            e, d = c.exact, c.descent
            rows.append(
                f"{e.lam:8.3g} {e.scale:8.3g} {c.eta:7.1e} {e.kernel_distance:9.5f} "
                f"{d.kernel_distance:9.5f} {e.alignment_final:9.5f} {d.alignment_final:9.5f} "
                f"{e.time_to_learn:8.4f} {d.time_to_learn:8.4f} "
                f"{c.seconds_descent / max(c.seconds_exact, 1e-12):8.0f}x"
            )
        return "\n".join(rows)


def _rank_tail(syx: FloatArray, k: int) -> float:
    s = np.linalg.svd(syx, compute_uv=False)
    return 0.5 * float(np.sum(s[k:] ** 2))


def _first_crossing(t: FloatArray, e: FloatArray, tol: float) -> tuple[int, float]:
    """Index ``i`` of the first ``e <= tol`` and the log-linear interpolated time (or -1)."""
    hit = np.flatnonzero(e <= tol)
    if hit.size == 0:
        return -1, math.inf
    i = int(hit[0])
    if i == 0:
        return 0, float(t[0])
    e0, e1 = max(e[i - 1], 1e-300), max(e[i], 1e-300)
    if e0 <= e1:
        return i, float(t[i])
    frac = (math.log(e0) - math.log(tol)) / (math.log(e0) - math.log(e1))
    return i, float(t[i - 1] + frac * (t[i] - t[i - 1]))


def lazy_rich_cell(
    X: ArrayLike,
    Y: ArrayLike,
    lam: float,
    scale: float,
    *,
    h: int,
    seed: Seed = 0,
    tol: float = 1e-2,
    horizon: float | None = None,
    eta: float | None = None,
) -> LazyRichCell:
    r"""One cell of the lazy/rich phase diagram, exactly (or by gradient descent with ``eta``).

    Parameters
    ----------
    X : (d_in, P) array
        Whitened inputs.
    Y : (d_out, P) array
        Targets.
    lam : float
        Relative scale (``W2^T W2 - W1 W1^T = lam I_h``).
    scale : float
        Absolute scale ``> 0``: the initial product's singular values.
    h : int
        Hidden width (``lam > 0`` needs ``h <= d_out``, ``lam < 0`` needs ``h <= d_in``).
    seed : int or Generator
        The init's random frames (:func:`mfflow.lambda_balanced_weights`).
    tol : float
        Relative excess loss that counts as learned, in ``(0, 1)``.
    horizon : float, optional
        Measure the final quantities at this time; ``None``: at ``t = inf`` (exact only).
    eta : float, optional
        Given, gradient descent on the weights with this step (needs a finite ``horizon``).

    Returns
    -------
    LazyRichCell

    Examples
    --------
    >>> import mfflow
    >>> X = mfflow.whitened_inputs(3, 12, seed=0)
    >>> Y = mfflow.teacher_task(X, 3, [2.0, 1.0], seed=1)
    >>> rich = lazy_rich_cell(X, Y, lam=0.0, scale=1e-4, h=3)
    >>> lazy = lazy_rich_cell(X, Y, lam=50.0, scale=1e-4, h=3)
    >>> bool(rich.kernel_distance > 10 * lazy.kernel_distance), bool(
    ...     lazy.time_to_learn < rich.time_to_learn)
    (True, True)
    """
    x, y = as_dataset(X, Y)
    as_whitened(x, "X")
    h = as_positive_int(h, "h")
    s = as_positive_scalar(scale, "scale", minimum=SCALE_MIN, maximum=MAGNITUDE_MAX)
    tol = as_positive_scalar(tol, "tol")
    if tol >= 1:
        raise ValueError(f"tol: expected a relative excess loss in (0, 1), got {tol!r}")
    d_in, P = x.shape
    d_out = y.shape[0]
    W1, W2 = lambda_balanced_weights(d_in, h, d_out, lam, s, seed)
    syx = y @ x.T / P
    k = min(d_in, h, d_out)
    tail = _rank_tail(syx, k)
    t_end = math.inf if horizon is None else as_positive_scalar(horizon, "horizon", allow_inf=True)
    if eta is not None:
        step = as_positive_scalar(eta, "eta", maximum=MAGNITUDE_MAX)
        if not math.isfinite(t_end):
            raise ValueError("horizon: gradient descent needs a finite horizon (eta given)")
        return _descent_cell(x, y, W1, W2, lam, s, syx, tail, tol, t_end, step)
    net = linear_network(x, y, W1, W2)

    def excess(w: FloatArray) -> FloatArray:
        return 0.5 * np.sum((syx - w) ** 2, axis=(-2, -1)) - tail

    sv = np.linalg.svd(syx, compute_uv=False)[:k]
    slow = float(sv[sv > 1e-12 * sv[0]].min()) if sv.size and sv[0] > 0 else 1.0
    t_hi = 4.0 * (math.log1p(float(sv[0]) / s) + 10.0) / slow if sv.size else 1.0
    # one evaluation at t = 0, t_end and a geometric grid; refined once around the crossing
    grid = np.concatenate([[0.0, t_end], np.geomspace(t_hi * 1e-6, t_hi, COARSE)])
    W, gi, go = net.state(grid)
    ex = excess(W)
    e0 = float(ex[0])
    t_learn = math.inf
    tt, rel = grid[2:], ex[2:] / e0
    for _ in range(12):
        i, _ = _first_crossing(tt, rel, tol)
        if i >= 0:
            for _level in range(2):  # bracket width / FINE^2: ~1e-4 of the coarse step
                lo = tt[i - 1] if i > 0 else 0.0
                tt = np.linspace(lo, tt[i], FINE)
                i, t_learn = _first_crossing(tt, excess(net.W(tt)) / e0, tol)
            break
        tt = np.geomspace(tt[-1], 8.0 * tt[-1], COARSE)
        rel = excess(net.W(tt)) / e0
    M = x @ x.T
    kd = float(kernel_cosine_distance(np, (gi[0], go[0]), (gi[1], go[1]), M))
    rd = _similarity_distance(gi[0], gi[1], M)
    al = task_alignment(np, (gi[:2], go[:2]), y @ x.T, M, float(np.sum(y**2)))
    return LazyRichCell(
        lam=float(lam),
        scale=s,
        t_end=t_end,
        kernel_distance=kd,
        representation_distance=rd,
        alignment_init=float(al[0]),
        alignment_final=float(al[1]),
        time_to_learn=t_learn,
        excess_final=float(ex[1] / e0),
    )


def _similarity_distance(g0: FloatArray, g1: FloatArray, M: FloatArray) -> float:
    """``1 - cos(X^T G0 X, X^T G1 X)`` from ``M = X X^T``: ``<H0, H1> = tr(G0 M G1 M)``."""
    ab = float(np.sum((g0 @ M) * (M @ g1).T))
    aa = float(np.sum((g0 @ M) * (M @ g0).T))
    bb = float(np.sum((g1 @ M) * (M @ g1).T))
    return min(max(1.0 - ab / math.sqrt(aa * bb), 0.0), 1.0) if aa > 0 and bb > 0 else math.nan


def _descent_cell(
    x: FloatArray,
    y: FloatArray,
    W1: FloatArray,
    W2: FloatArray,
    lam: float,
    s: float,
    syx: FloatArray,
    tail: float,
    tol: float,
    horizon: float,
    eta: Any,
) -> LazyRichCell:
    h = as_positive_scalar(eta, "eta")
    n = max(1, round(horizon / h))
    every = max(1, math.ceil(n / MAX_RECORDS))
    steps = np.unique(np.concatenate([np.arange(0, n + 1, every), [n]]))
    sim = simulate_linear_network(x, y, W1, W2, eta=h, steps=steps, throw=True)
    W = sim.W
    e = 0.5 * np.sum((syx - W) ** 2, axis=(-2, -1)) - tail
    rel = e / e[0]
    _, t_learn = _first_crossing(sim.t, rel, tol)
    gi, go = sim.gram_in, sim.gram_out
    M = x @ x.T
    ends = (gi[[0, -1]], go[[0, -1]])
    kd = float(kernel_cosine_distance(np, (ends[0][0], ends[1][0]), (ends[0][1], ends[1][1]), M))
    al = task_alignment(np, ends, y @ x.T, M, float(np.sum(y**2)))
    return LazyRichCell(
        lam=float(lam),
        scale=s,
        t_end=float(sim.t[-1]),
        kernel_distance=kd,
        representation_distance=_similarity_distance(gi[0], gi[-1], M),
        alignment_init=float(al[0]),
        alignment_final=float(al[1]),
        time_to_learn=t_learn,
        excess_final=float(rel[-1]),
    )


def lazy_rich_phase_diagram(
    X: ArrayLike,
    Y: ArrayLike,
    lams: ArrayLike,
    scales: ArrayLike,
    *,
    h: int,
    seed: Seed = 0,
    tol: float = 1e-2,
    horizon: float | None = None,
    eta: float | None = None,
    checks: ArrayLike = (),
    check_eta: float = 1e-3,
    check_horizon: float = 8.0,
) -> PhaseDiagram:
    r"""The lazy/rich phase diagram on a ``(lambda, scale)`` grid, exactly, with GD checks.

    Every cell is :func:`lazy_rich_cell` (the same random frames everywhere, ``seed``); with
    ``eta`` the whole grid is computed by gradient descent instead (same outputs, for timing
    and confirmation; needs ``horizon``).

    Parameters
    ----------
    X : (d_in, P) array
        Whitened inputs.
    Y : (d_out, P) array
    lams : (L,) array
        Relative scales (rows); both signs need ``h <= min(d_in, d_out)``.
    scales : (S,) array
        Absolute scales ``> 0`` (columns).
    h : int
        Hidden width.
    seed, tol, horizon, eta
        As in :func:`lazy_rich_cell`.
    checks : (C, 2) array
        ``(lambda, scale)`` cells recomputed exactly and by gradient descent (step
        ``check_eta``) at the finite horizon ``check_horizon`` times the cell's exact time to
        learn (or ``horizon`` if given).
    check_eta : float
    check_horizon : float

    Returns
    -------
    PhaseDiagram

    Examples
    --------
    >>> import mfflow
    >>> X = mfflow.whitened_inputs(3, 12, seed=0)
    >>> Y = mfflow.teacher_task(X, 3, [2.0, 1.0], seed=1)
    >>> pd = lazy_rich_phase_diagram(X, Y, [-10.0, 0.0, 10.0], [1e-3, 10.0], h=3)
    >>> pd.kernel_distance.shape  # rows: lambda, columns: scale
    (3, 2)
    >>> bool(pd.kernel_distance[1, 0] > 10 * pd.kernel_distance[2, 0])  # rich at 0, lazy at 10
    True
    """
    la = as_values(lams, "lams")
    sc = as_values(scales, "scales", nonnegative=True, minimum=SCALE_MIN)
    if np.any(sc <= 0):
        raise ValueError(f"scales: expected values > 0, got {sc.tolist()}")
    ch = as_real(checks, "checks")
    if ch.size and (ch.ndim > 2 or ch.shape[-1] != 2):
        raise ValueError(f"checks: expected (lambda, scale) pairs, shape (C, 2), got {ch.shape}")
    ch = ch.reshape(-1, 2)
    if not np.all(np.isfinite(ch)):
        raise ValueError(f"checks: expected finite (lambda, scale) pairs, got {ch.tolist()}")
    if np.any(ch[:, 1] <= 0):
        raise ValueError(f"checks: expected scales > 0 (second column), got {ch[:, 1].tolist()}")
    check_eta = as_positive_scalar(check_eta, "check_eta", maximum=MAGNITUDE_MAX)
    check_horizon = as_positive_scalar(check_horizon, "check_horizon", maximum=MAGNITUDE_MAX)
    x, y = as_dataset(X, Y)
    kw: dict[str, Any] = {"h": h, "seed": seed, "tol": tol}
    start, cpu = time.perf_counter(), time.process_time()
    cells = [
        lazy_rich_cell(x, y, float(lam), float(s), horizon=horizon, eta=eta, **kw)
        for lam in la
        for s in sc
    ]
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    found = []
    for lam, s in ch:
        t0 = time.perf_counter()
        if horizon is None:
            t_cell = lazy_rich_cell(x, y, lam, s, **kw).time_to_learn
            hz = float(check_horizon * t_cell)
        else:
            hz = float(horizon)
        hz = max(1, round(hz / check_eta)) * check_eta  # the time descent's last iterate is at
        exact = lazy_rich_cell(x, y, lam, s, horizon=hz, **kw)
        t1 = time.perf_counter()
        gd = lazy_rich_cell(x, y, lam, s, horizon=hz, eta=check_eta, **kw)
        t2 = time.perf_counter()
        found.append(LazyRichCheck(exact, gd, check_eta, t1 - t0, t2 - t1))
    return PhaseDiagram.from_cells(
        la,
        sc,
        cells,
        tol=tol,
        method="exact" if eta is None else "descent",
        eta=eta,
        seconds=seconds,
        cpu_seconds=cpu,
        checks=tuple(found),
    )
