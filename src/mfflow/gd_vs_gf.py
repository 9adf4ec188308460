r"""Gradient descent versus gradient flow: the gap, its order, and the critical step sizes.

For both problems,

* symmetric ``L(U) = 1/4 ||Y - U U^T||_F^2``: ``U_{k+1} = U_k + eta (Y - U_k U_k^T) U_k``,
* asymmetric ``L(U, V) = 1/2 ||Y - U V^T||_F^2``: simultaneous steps on ``U`` and ``V``,

the GD iterate ``k`` is compared with the exact flow at ``t = k eta`` (:func:`gd_flow_gap`), and
the step sizes at which GD stops behaving like the flow are located (:func:`critical_step_sizes`).

**Curvature at the solution.** At a global minimizer the residual vanishes (PSD or rectangular
``Y``, ``r >= rank``) and the Hessian is the Gauss-Newton term:

* symmetric: ``H[D, D] = 1/2 ||U D^T + D U^T||_F^2 <= 2 ||U||_2^2 ||D||_F^2 = 2 sigma_1 ||D||^2``,
  attained at ``D = phi_1 e^T`` (``U^T phi_1 = sqrt(sigma_1) e``): ``lambda_max = 2 sigma_1``;
* asymmetric: ``H[(D_U, D_V)] = ||D_U V^T + U D_V^T||_F^2 <= (||U||_2^2 + ||V||_2^2) (...)``;
  along the top singular pair with ``U^T u_1 = a e``, ``V^T v_1 = b e``, ``a b = sigma_1``,
  ``a^2 - b^2 = lam``: ``lambda_max = a^2 + b^2 = sqrt(lam^2 + 4 sigma_1^2)`` (``2 sigma_1``
  when balanced).

So the minimum is linearly stable for GD iff ``eta < 2 / lambda_max`` (``= 1 / sigma_1`` in the
balanced case); in 1-D, ``u <- u + eta (sigma - u^2) u`` has multiplier ``1 - 2 eta sigma`` at
``u = sqrt(sigma)``. Past it GD oscillates (period doubling, chaos) but stays bounded until the
cubic map ``x -> (1 + c) x - x^3`` (``c = eta sigma``) loses its invariant interval at ``c = 2``:
*blow-up* is a second, larger threshold (``2 / sigma_1`` in 1-D; measured ``~2.07 / sigma_1``
for a 3x3 symmetric target and ``~1.45-1.52 / sigma_1`` for 4x3 asymmetric ones,
tests/test_gd_vs_gf.py). :func:`curvature` computes
``lambda_max`` numerically (Hessian assembled from exact Hessian-vector products) at the flow's
limit, which also covers indefinite symmetric targets (where the residual term adds
``|negative eigenvalues|``).

Reference: docs/math.md §6 ("gradient descent versus the flow").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .asymmetric import closed_form_asymmetric, is_lambda_balanced
from .curves import crossing_times
from .riccati import closed_form
from .simulate import simulate_gd, simulate_gf
from .simulate.descent import MAX_GD_STEPS
from .validation import (
    MAGNITUDE_MAX,
    MAGNITUDE_MIN,
    as_alpha,
    as_init,
    as_nonempty_times,
    as_pair,
    as_positive_int,
    as_positive_scalar,
    as_real,
    as_symmetric,
)

__all__ = [
    "CriticalStepSizes",
    "GDFlowGap",
    "critical_step_sizes",
    "curvature",
    "gd_flow_gap",
]

FloatArray = NDArray[np.float64]


# ---- problems: one interface for both -----------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Problem:
    """A symmetric (``V0 is None``) or asymmetric problem with its exact/reference flow."""

    Y: FloatArray
    U0: FloatArray
    V0: FloatArray | None
    alpha: float

    @property
    def symmetric(self) -> bool:
        return self.V0 is None

    @property
    def sigma(self) -> FloatArray:
        """Target values the curves learn: eigenvalues (symmetric) or singular values, desc."""
        if self.symmetric:
            return np.sort(np.linalg.eigvalsh(self.Y))[::-1]
        return np.linalg.svd(self.Y, compute_uv=False)

    @property
    def width(self) -> int:
        """Number of curves followed: ``min(size, r)``."""
        return min(self.sigma.size, self.U0.shape[1])

    def values(self, W: FloatArray) -> FloatArray:
        """Learning curves of products ``(T, ...)``: eigenvalues or singular values, desc."""
        with np.errstate(invalid="ignore"):
            if self.symmetric:
                v = np.linalg.eigvalsh(W)[..., ::-1]
            else:
                v = np.linalg.svd(W, compute_uv=False)
        return v[..., : self.width]

    def flow(self, t: FloatArray) -> FloatArray:
        """The flow's product at times ``t`` ``(T,)``: exact when a closed form exists."""
        if self.symmetric:
            return closed_form(self.Y, self.U0, self.alpha).W(t)
        assert self.V0 is not None
        if is_lambda_balanced(self.U0, self.V0):
            return closed_form_asymmetric(self.Y, self.U0, self.V0, self.alpha).W(t)
        return simulate_gf(self.Y, self.U0, self.alpha, t, V0=self.V0, rtol=1e-12).W

    def gd(self, eta: float, t: FloatArray) -> tuple[FloatArray, FloatArray, bool]:
        """GD products at ``k = round(t / eta)``: ``(t_k, W_k, diverged)``."""
        res = simulate_gd(self.Y, self.U0, self.alpha, eta, t=t, V0=self.V0)
        return res.t, res.W, res.diverged

    def limit_factors(self) -> tuple[FloatArray, FloatArray | None]:
        """Factors (up to a common right rotation) at the flow's limit, padded to ``r`` columns."""
        lam = self.sigma
        pos = lam[lam > 1e-12 * max(abs(lam[0]), 1e-300)]
        low = float(pos.min()) if pos.size else 1.0
        t_big = 4.0 * (-math.log(self.alpha) + 80.0) / (2.0 * low) + 50.0
        r = self.U0.shape[1]

        def pad(f: FloatArray) -> FloatArray:
            out = np.zeros((f.shape[0], r))
            out[:, : min(r, f.shape[1])] = f[:, :r]
            return out

        if self.symmetric:
            return pad(closed_form(self.Y, self.U0, self.alpha).factor(t_big)), None
        assert self.V0 is not None
        if is_lambda_balanced(self.U0, self.V0):
            fu, fv = closed_form_asymmetric(self.Y, self.U0, self.V0, self.alpha).factors(t_big)
            return pad(fu), pad(fv)
        res = simulate_gf(self.Y, self.U0, self.alpha, t_big, V0=self.V0)
        assert res.V is not None
        return res.U[0], res.V[0]

    def best_rank(self, k: int) -> FloatArray:
        """``Yhat_k``: best rank-k approximation (eigen / singular)."""
        if self.symmetric:
            lam, phi = np.linalg.eigh(self.Y)
            idx = np.argsort(lam)[::-1][:k]
            return (phi[:, idx] * lam[idx]) @ phi[:, idx].T
        pu, s, pvt = np.linalg.svd(self.Y)
        return (pu[:, :k] * s[:k]) @ pvt[:k]


def _problem(Y: ArrayLike, U0: ArrayLike, V0: ArrayLike | None, alpha: float) -> _Problem:
    a = as_alpha(alpha)
    if V0 is None:
        y = as_symmetric(Y, "Y")
        return _Problem(y, as_init(U0, y.shape[0], "U0"), None, a)
    y, u0, v0 = as_pair(Y, U0, V0)
    return _Problem(y, u0, v0, a)


def _horizon(p: _Problem) -> float:
    """A time past the flow's last transition (``~log(sigma/alpha) / (2 sigma)`` per mode)."""
    s = p.sigma[: p.width]
    pos = s[s > 1e-12 * max(abs(s[0]), 1e-300)]
    if pos.size == 0:
        return 10.0
    # log(pos) - log(alpha): pos / alpha overflows for alpha near the float64 minimum
    return 1.5 * float(np.max((np.log(pos) - math.log(p.alpha)) / (2.0 * pos))) + 4.0 / float(
        pos.min()
    )


def _as_etas(etas: ArrayLike) -> FloatArray:
    arr = np.atleast_1d(as_real(etas, "etas"))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"etas: expected a non-empty 1-D array of step sizes, got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"etas: expected finite step sizes > 0, got {arr}")
    if np.any(arr > MAGNITUDE_MAX) or np.any(arr < MAGNITUDE_MIN):
        raise ValueError(
            f"etas: expected step sizes in [{MAGNITUDE_MIN:g}, {MAGNITUDE_MAX:g}], got {arr}"
        )
    return arr


#: Most comparison times of :func:`gd_flow_gap`, scan points and bisection steps of
#: :func:`critical_step_sizes` (each scan point and bisection step is a gradient-descent run).
MAX_TIMES = 10**5
MAX_SCAN = 1000
MAX_BISECT = 60


def _check_steps(steps: float, name: str) -> None:
    """Refuse, naming ``name``, a gradient-descent run of more than ``MAX_GD_STEPS`` steps."""
    if not steps <= MAX_GD_STEPS:
        raise ValueError(
            f"{name}: the smallest step size needs {steps:.3g} gradient-descent steps to reach "
            f"the horizon, more than {MAX_GD_STEPS:.0e}; use larger step sizes"
        )


# ---- curvature ----------------------------------------------------------------------------------
def curvature(Y: ArrayLike, U: ArrayLike, V: ArrayLike | None = None) -> float:
    r"""Largest eigenvalue of the loss Hessian at ``U`` (symmetric) or ``(U, V)`` (asymmetric).

    Assembled column by column from exact Hessian-vector products:

    * symmetric (``L = 1/4 ||Y - U U^T||^2``):
      ``H D = (U D^T + D U^T) U - (Y - U U^T) D``;
    * asymmetric (``L = 1/2 ||Y - U V^T||^2``):
      ``H (D_U, D_V) = (E V - R D_V, E^T U - R^T D_U)``, ``E = D_U V^T + U D_V^T``,
      ``R = Y - U V^T``.

    Parameters
    ----------
    Y : (n, n) or (m, n) array
    U : (n, r) or (m, r) array
    V : (n, r) array, optional
        Given for the asymmetric loss.

    Returns
    -------
    float
        ``lambda_max(H)``; ``2 / curvature`` is the linear-stability limit of GD there.
        ``2 sigma_1`` at a minimizer of either balanced problem (module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.diag([3.0, 1.0])
    >>> float(round(curvature(Y, np.diag(np.sqrt([3.0, 1.0]))), 12))
    6.0
    """
    if V is None:
        y = as_symmetric(Y, "Y")
        u = as_init(U, y.shape[0], "U")
        n, r = u.shape
        res = y - u @ u.T
        cols = []
        for j in range(n * r):
            d = np.zeros(n * r)
            d[j] = 1.0
            d = d.reshape(n, r)
            cols.append(((u @ d.T + d @ u.T) @ u - res @ d).ravel())
    else:
        y, u, v = as_pair(Y, U, V, ("U", "V"))
        m, r = u.shape
        n = v.shape[0]
        res = y - u @ v.T
        cols = []
        for j in range((m + n) * r):
            d = np.zeros((m + n) * r)
            d[j] = 1.0
            du, dv = d[: m * r].reshape(m, r), d[m * r :].reshape(n, r)
            e = du @ v.T + u @ dv.T
            cols.append(
                np.concatenate([(e @ v - res @ dv).ravel(), (e.T @ u - res.T @ du).ravel()])
            )
    h = np.array(cols)
    return float(np.linalg.eigvalsh(0.5 * (h + h.T))[-1])


# ---- the gap ------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class GDFlowGap:
    r"""Distance between GD and the flow as a function of the step size, from :func:`gd_flow_gap`.

    Attributes
    ----------
    problem : {"symmetric", "asymmetric"}
    alpha : float
    etas : (E,) array
        Step sizes.
    gap : (E,) array
        ``max_k ||W_k - W(k eta)||_F / ||Y||_F`` over the recorded iterates; ``inf`` if GD
        diverged.
    diverged : (E,) bool array
    order : float or None
        Least-squares slope of ``log gap`` against ``log eta`` over the finite gaps (1 expected:
        GD is the explicit Euler method of the flow); ``None`` (never NaN) with fewer than two
        finite non-zero gaps to fit.
    constant : float or None
        ``C`` in the fit ``gap ~ C eta^order``; ``None`` when ``order`` is.
    t : (T,) array
        Time grid the iterates were recorded at (``k = round(t / eta)``).
    sigma : (k,) array
        Target eigen- or singular values.
    flow_values : (T, k) array
        The flow's learning curves on ``t``.
    gd_t : (E, T) array
        The times ``k eta`` actually recorded.
    gd_values : (E, T, k) array
        GD's learning curves (NaN after divergence).
    """

    problem: str
    alpha: float
    etas: FloatArray
    gap: FloatArray
    diverged: NDArray[np.bool_]
    order: float | None
    constant: float | None
    t: FloatArray
    sigma: FloatArray
    flow_values: FloatArray = field(repr=False)
    gd_t: FloatArray = field(repr=False)
    gd_values: FloatArray = field(repr=False)


def gd_flow_gap(
    Y: ArrayLike,
    U0: ArrayLike,
    alpha: float,
    etas: ArrayLike,
    *,
    V0: ArrayLike | None = None,
    t: ArrayLike | None = None,
    n_times: int = 60,
) -> GDFlowGap:
    r"""How far gradient descent is from the flow, ``max_k ||W_k - W(k eta)||_F / ||Y||_F``.

    Parameters
    ----------
    Y : (n, n) symmetric array, or (m, n) array with ``V0``
    U0 : (n, r) or (m, r) array
    alpha : float
    etas : (E,) array
        Step sizes ``> 0``.
    V0 : (n, r) array, optional
        Given: the asymmetric problem (flow exact for lambda-balanced inits, else an ODE solve
        at ``rtol = 1e-12``). Omitted: the symmetric one (flow by :func:`mfflow.closed_form`).
    t : (T,) array, optional
        Times at which to compare; default ``n_times`` points through the last transition.
    n_times : int
        ``2 <= n_times <= 10**5``.

    Returns
    -------
    GDFlowGap

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> Y = mfflow.make_target([3.0, 1.0], seed=0)
    >>> U0 = mfflow.gaussian_init(2, 2, seed=1)
    >>> res = gd_flow_gap(Y, U0, 1e-3, [1e-3, 2e-3, 4e-3])
    >>> bool(abs(res.order - 1.0) < 0.1)
    True
    """
    p = _problem(Y, U0, V0, alpha)
    eta = _as_etas(etas)
    if t is None:
        nt = as_positive_int(n_times, "n_times", minimum=2, maximum=MAX_TIMES)
        grid = np.linspace(0.0, _horizon(p), nt)
    else:
        grid = as_nonempty_times(t, "t")
    _check_steps(float(grid.max()) / float(eta.min()), "etas")
    ynorm = float(np.linalg.norm(p.Y))
    k = p.width
    gaps = np.full(eta.size, np.inf)
    div = np.zeros(eta.size, dtype=bool)
    gd_t = np.empty((eta.size, grid.size))
    gd_vals = np.full((eta.size, grid.size, k), np.nan)
    for i, h in enumerate(eta):
        tk, wk, diverged = p.gd(float(h), grid)
        gd_t[i] = tk
        div[i] = diverged
        ok = np.all(np.isfinite(wk), axis=(1, 2))
        if np.any(ok):
            gd_vals[i, ok] = p.values(wk[ok])
        if not diverged:
            wf = p.flow(tk)
            gaps[i] = float(np.max(np.linalg.norm(wk - wf, axis=(1, 2)))) / (ynorm or 1.0)
    fin = np.isfinite(gaps) & (gaps > 0)
    order: float | None = None
    const: float | None = None
    if np.count_nonzero(fin) >= 2 and np.unique(eta[fin]).size >= 2:
        slope, icpt = np.polyfit(np.log(eta[fin]), np.log(gaps[fin]), 1)
        order, const = float(slope), float(np.exp(icpt))
    return GDFlowGap(
        problem="symmetric" if p.symmetric else "asymmetric",
        alpha=p.alpha,
        etas=eta,
        gap=gaps,
        diverged=div,
        order=order,
        constant=const,
        t=grid,
        sigma=p.sigma[:k],
        flow_values=p.values(p.flow(grid)),
        gd_t=gd_t,
        gd_values=gd_vals,
    )


# ---- critical step sizes ------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CriticalStepSizes:
    r"""Step sizes at which GD stops following the flow, from :func:`critical_step_sizes`.

    Each threshold is located by a scan over a log-spaced grid of ``eta`` and refined by
    bisection between the last step size with the property and the first without it.

    Attributes
    ----------
    problem : {"symmetric", "asymmetric"}
    curvature : float
        ``lambda_max`` of the Hessian at the flow's limit (:func:`curvature`).
    eta_stability : float
        ``2 / curvature``: the linear-stability limit of the minimum.
    Thresholds no scanned step size reaches are ``None`` (never NaN).

    eta_match : float or None
        Largest ``eta`` whose GD transition times (first time the ``i``-th curve reaches
        ``sigma_i / 2``) are within ``time_rtol`` (relative) of the flow's, with incremental
        learning as below.
    eta_incremental : float or None
        Largest ``eta`` for which incremental learning still appears: GD converges (below),
        its transitions are strictly ordered ``tau_1 < tau_2 < ...``, and for every
        ``k < K`` it comes as close to the best rank-k approximation ``Yhat_k`` as the flow does,
        up to ``plateau_tol * sigma_1``: ``min_k ||W_k - Yhat_k||_2 <=
        min_t ||W(t) - Yhat_k||_2 + plateau_tol sigma_1`` (a plateau at each partial solution).
    eta_converge : float or None
        Largest ``eta`` for which GD converges to the flow's limit: at the horizon
        ``||W_k - W(inf)||_F <= converge_tol ||Y||_F``.
    eta_blowup : float
        Smallest ``eta`` for which the iterates blow up (an entry above ``1e100`` or
        non-finite), within ``max_eta``; ``inf`` if none did.
    tau_flow : (k,) array
        The flow's transition times.
    horizon : float
        Time GD was run to (``k eta <= horizon``).
    """

    problem: str
    curvature: float
    eta_stability: float
    eta_match: float | None
    eta_incremental: float | None
    eta_converge: float | None
    eta_blowup: float
    tau_flow: FloatArray
    horizon: float
    definitions: dict[str, Any] = field(repr=False, default_factory=dict)


def critical_step_sizes(
    Y: ArrayLike,
    U0: ArrayLike,
    alpha: float,
    *,
    V0: ArrayLike | None = None,
    time_rtol: float = 0.1,
    plateau_tol: float = 0.05,
    converge_tol: float = 1e-3,
    max_eta: float | None = None,
    n_scan: int = 16,
    n_bisect: int = 8,
) -> CriticalStepSizes:
    r"""Locate the step sizes where GD loses the flow's incremental learning, then diverges.

    Parameters
    ----------
    Y : (n, n) symmetric array, or (m, n) array with ``V0``
    U0 : (n, r) or (m, r) array
    alpha : float
    V0 : (n, r) array, optional
        Given: the asymmetric problem.
    time_rtol, plateau_tol, converge_tol : float
        Tolerances of the definitions (see :class:`CriticalStepSizes`).
    max_eta : float, optional
        Largest step size scanned; default ``4 / sigma_1``.
    n_scan, n_bisect : int
        Scan points (log-spaced from ``max_eta / 400``; ``2 <= n_scan <= 1000``) and bisection
        steps per threshold (``0 <= n_bisect <= 60``).

    Returns
    -------
    CriticalStepSizes

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.diag([3.0, 1.0])
    >>> res = critical_step_sizes(Y, 0.5 * np.eye(2) + 0.1, 1e-3, n_scan=8, n_bisect=4)
    >>> bool(res.eta_converge < res.eta_blowup)
    True
    """
    p = _problem(Y, U0, V0, alpha)
    scans = as_positive_int(n_scan, "n_scan", minimum=2, maximum=MAX_SCAN)
    bisections = as_positive_int(n_bisect, "n_bisect", minimum=0, maximum=MAX_BISECT)
    rt = as_positive_scalar(time_rtol, "time_rtol", maximum=MAGNITUDE_MAX)
    pt = as_positive_scalar(plateau_tol, "plateau_tol", maximum=MAGNITUDE_MAX)
    ct = as_positive_scalar(converge_tol, "converge_tol", maximum=MAGNITUDE_MAX)
    sig = p.sigma[: p.width]
    s1 = float(max(abs(sig[0]), MAGNITUDE_MIN))
    top = (
        4.0 / s1
        if max_eta is None
        else as_positive_scalar(max_eta, "max_eta", minimum=MAGNITUDE_MIN, maximum=MAGNITUDE_MAX)
    )
    horizon = 3.0 * _horizon(p)
    _check_steps(horizon / (top / 400.0), "max_eta")
    fu, fv = p.limit_factors()
    curv = curvature(p.Y, fu, fv)
    grid = np.linspace(0.0, horizon, 600)
    flow_w = p.flow(grid)
    levels = 0.5 * sig
    learn = sig > 0
    tau_flow = crossing_times(grid, p.values(flow_w), levels)
    w_inf = flow_w[-1]
    ynorm = float(np.linalg.norm(p.Y))
    partial = [p.best_rank(k) for k in range(1, int(np.count_nonzero(learn)))]

    def plateau_depths(w: FloatArray) -> FloatArray:
        """``min_t ||W(t) - Yhat_k||_2`` for each ``k < K``."""
        return np.array(
            [float(np.min(np.linalg.norm(w - yk[None], ord=2, axis=(1, 2)))) for yk in partial]
        )

    flow_depth = plateau_depths(flow_w)

    def classify(eta: float) -> dict[str, bool]:
        with np.errstate(over="ignore", invalid="ignore"):  # huge, not yet diverged iterates
            return _classify(eta)

    def _classify(eta: float) -> dict[str, bool]:
        tk, wk, diverged = p.gd(eta, grid)
        out = {"blowup": diverged, "converge": False, "incremental": False, "match": False}
        if diverged:
            return out
        out["converge"] = bool(np.linalg.norm(wk[-1] - w_inf) <= ct * ynorm)
        if not out["converge"]:
            return out
        tau = crossing_times(tk, p.values(wk), levels)[learn]
        ordered = bool(np.all(np.isfinite(tau)) and np.all(np.diff(tau) > 0))
        plateaus = bool(np.all(plateau_depths(wk) <= flow_depth + pt * s1))
        out["incremental"] = ordered and plateaus
        out["match"] = out["incremental"] and bool(
            np.all(np.abs(tau - tau_flow[learn]) <= rt * tau_flow[learn])
        )
        return out

    etas = np.geomspace(top / 400.0, top, scans)
    marks = [classify(float(h)) for h in etas]

    def largest(key: str) -> float | None:
        good = [i for i, mk in enumerate(marks) if mk[key]]
        if not good:
            return None
        i = good[-1]
        if i == etas.size - 1:
            return float(etas[-1])
        lo, hi = float(etas[i]), float(etas[i + 1])
        for _ in range(bisections):
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if classify(mid)[key] else (lo, mid)
        return lo

    def smallest_blowup() -> float:
        bad = [i for i, mk in enumerate(marks) if mk["blowup"]]
        if not bad:
            return float("inf")
        i = bad[0]
        if i == 0:
            return float(etas[0])
        lo, hi = float(etas[i - 1]), float(etas[i])
        for _ in range(bisections):
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if classify(mid)["blowup"] else (mid, hi)
        return hi

    return CriticalStepSizes(
        problem="symmetric" if p.symmetric else "asymmetric",
        curvature=curv,
        eta_stability=2.0 / curv,
        eta_match=largest("match"),
        eta_incremental=largest("incremental"),
        eta_converge=largest("converge"),
        eta_blowup=smallest_blowup(),
        tau_flow=tau_flow,
        horizon=horizon,
        definitions={
            "time_rtol": rt,
            "plateau_tol": pt,
            "converge_tol": ct,
            "max_eta": top,
            "transition_level": "sigma_i / 2",
        },
    )
