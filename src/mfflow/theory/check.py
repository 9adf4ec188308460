"""The theorem's claim checked interval by interval against the exact trajectory."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize_scalar

from ..riccati import Trajectory
from .constants import (
    Endpoints,
    Interval,
    TheoremConstants,
    as_endpoints,
    as_eps,
    certified_intervals,
    constants_of,
    trajectory_of,
)
from .measured import ROOT_RTOL, measured_of, rank_k_targets, scan_horizon, spectral_errors

__all__ = ["ERROR_SAMPLES", "TheoremCheck", "TheoremRow", "check_theorem"]

FloatArray = NDArray[np.float64]

#: Samples of the error on each certified interval before the local refinement of the maximum.
ERROR_SAMPLES = 256


# ---- the check -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TheoremRow:
    """The theorem's claim for one ``k`` against the exact trajectory.

    Attributes
    ----------
    k : int
        Rank of the approximation ``Yhat_k``, ``1..K``.
    sigma_k : float
        ``k``-th largest positive eigenvalue of ``Y``.
    certified : (float, float)
        The theorem's interval ``I_k`` from its formula (``a > b``: empty; ``(inf, -inf)`` when
        ``M = inf``). It is *certified* only when ``constants.hypotheses_hold``.
    measured : (float, float) or None
        The measured interval of :func:`measured_intervals`; ``None`` if the error never drops
        below ``eps``.
    max_error_on_certified : float or None
        ``max ||W(t) - Yhat_k||_2`` over ``I_k``; for ``b = inf`` over ``[a, t_hi]`` with the
        scan horizon ``t_hi``, beyond which the error only decays. ``None`` when ``I_k`` is empty
        (there is nothing to measure), never NaN.
    holds : bool or None
        ``max_error_on_certified <= eps``; ``None`` when ``I_k`` is empty.
    contained : bool or None
        ``I_k`` inside the measured interval; ``None`` when ``I_k`` is empty.
    """

    k: int
    sigma_k: float
    certified: Interval
    measured: Interval | None
    max_error_on_certified: float | None
    holds: bool | None
    contained: bool | None


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return "inf" if math.isinf(x) and x > 0 else f"{x:.6g}"


@dataclass(frozen=True, eq=False)
class TheoremCheck:
    """Result of :func:`check_theorem`: the constants and one :class:`TheoremRow` per ``k``.

    ``status`` says in one line whether the theorem's hypotheses hold and, if not, which fail;
    a quantity that does not exist (an empty interval's error, a measured interval the error
    never enters) is ``None``, never NaN.
    """

    constants: TheoremConstants
    rows: list[TheoremRow]

    @property
    def status(self) -> str:
        """``"hypotheses hold"`` or ``"hypotheses fail: <each failure>"``."""
        return self.constants.status

    @property
    def all_hold(self) -> bool:
        """Every non-empty certified interval has error ``<= eps`` (vacuous rows skipped)."""
        return all(row.holds is not False for row in self.rows)

    def as_dict(self) -> dict[str, Any]:
        """Plain Python values (floats, lists, ``None``), ready for JSON (``inf`` as float)."""
        c = self.constants
        return {
            "constants": {
                "M": c.M,
                "c_eps": c.c_eps,
                "C_eps": c.C_eps,
                "eps": c.eps,
                "sigma": [float(s) for s in c.sigma],
                "alpha": c.alpha,
                "alpha_max": c.alpha_max,
                "endpoints": c.endpoints,
                "hypotheses_hold": c.hypotheses_hold,
                "failures": list(c.failures),
                "status": c.status,
            },
            "rows": [
                {
                    "k": r.k,
                    "sigma_k": r.sigma_k,
                    "certified": list(r.certified),
                    "measured": None if r.measured is None else list(r.measured),
                    "max_error_on_certified": r.max_error_on_certified,
                    "holds": r.holds,
                    "contained": r.contained,
                }
                for r in self.rows
            ],
        }

    def to_table(self) -> str:
        """A plain-text table, one line per ``k``, headed by the constants and any failures."""
        c = self.constants
        lines = [
            f"M = {_fmt(c.M)}, c_eps = {_fmt(c.c_eps)}, C_eps = {_fmt(c.C_eps)}, "
            f"eps = {_fmt(c.eps)}, alpha = {_fmt(c.alpha)} (max {_fmt(c.alpha_max)}), "
            f"{c.endpoints} endpoints, hypotheses hold: {c.hypotheses_hold}"
        ]
        lines += [f"  failed: {msg}" for msg in c.failures]
        head = ("k", "sigma_k", "certified", "measured", "max err", "holds", "contained")
        body = [
            (
                str(r.k),
                _fmt(r.sigma_k),
                f"[{_fmt(r.certified[0])}, {_fmt(r.certified[1])}]",
                "-" if r.measured is None else f"[{_fmt(r.measured[0])}, {_fmt(r.measured[1])}]",
                _fmt(r.max_error_on_certified),
                str(r.holds),
                str(r.contained),
            )
            for r in self.rows
        ]
        widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
        for row in (head, *body):
            lines.append("  ".join(x.rjust(w) for x, w in zip(row, widths, strict=True)))
        return "\n".join(lines)


def _max_error(traj: Trajectory, d: FloatArray, a: float, b: float) -> float:
    """``max ||W(t) - Phi diag(d) Phi^T||_2`` on ``[a, b]`` (``b`` finite).

    Sampled at :data:`ERROR_SAMPLES` linearly and as many log-spaced points (both ends
    included), then refined by a bounded scalar search between the neighbours of the largest
    sample.
    """
    a = max(a, 0.0)
    lin = np.linspace(a, b, ERROR_SAMPLES)
    log = np.geomspace(max(a, b * 1e-12, 1e-300), b, ERROR_SAMPLES)
    ts = np.unique(np.concatenate([lin, log]))
    errs = spectral_errors(traj, d, ts)
    j = int(np.argmax(errs))
    best = float(errs[j])
    lo, hi = float(ts[max(j - 1, 0)]), float(ts[min(j + 1, ts.size - 1)])
    if hi > lo:
        res = minimize_scalar(
            lambda t: -float(spectral_errors(traj, d, np.array([t]))[0]),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": ROOT_RTOL * hi},
        )
        best = max(best, -float(res.fun))
    return best


def check_theorem(
    Y: ArrayLike | Trajectory,
    U0: ArrayLike | None = None,
    alpha: float | None = None,
    eps: float | None = None,
    *,
    endpoints: Endpoints = "corrected",
    weight_decay: float | None = None,
) -> TheoremCheck:
    r"""Check the theorem's claim against the exact trajectory, interval by interval.

    Never raises on failed hypotheses (they are reported in ``constants.failures``, with
    ``hypotheses_hold=False`` and ``status = "hypotheses fail: ..."``; the policy is in
    :mod:`mfflow.theory`); the certified intervals, their errors and the measured intervals are
    computed wherever meaningful (with a singular ``W0``, ``M = inf`` empties every certified
    interval but the measured ones are still found). What does not exist is ``None``, never
    NaN.

    Parameters
    ----------
    Y : (n, n) array, or a Trajectory
        Symmetric target (PSD with distinct positive eigenvalues for the theorem to apply), or a
        trajectory built by :func:`mfflow.closed_form` (``U0`` and ``alpha`` then omitted; its
        set-up is reused: ``check_theorem(traj, eps=0.1)``).
    U0 : (n, r) array
        Initialization shape.
    alpha : float
        ``alpha > 0``.
    eps : float
        ``eps > 0`` (the theorem needs ``eps <= min(sigma_K, 1)``).
    endpoints : {"corrected", "slide"}
        Which certified intervals to check (:func:`theorem_intervals`); ``"slide"`` shows the
        transcribed version failing at its left ends.
    weight_decay : float, optional
        ``gamma >= 0``: check the theorem for the flow with loss ``+ gamma/2 ||U||_F^2``, i.e.
        for the target ``Y - gamma I`` (docs/math.md §10: ``sigma_k - gamma`` in the constants and
        intervals, ``Yhat_k`` the truncations of ``(Y - gamma I)_+``).

    Returns
    -------
    TheoremCheck
        ``rows[k-1]`` compares ``I_k`` with the measured interval; ``to_table()`` prints it.

    Raises
    ------
    ValueError, TypeError
        Only for invalid inputs (``eps <= 0``, ``alpha <= 0``, shapes, non-symmetric ``Y``).

    Examples
    --------
    >>> import mfflow
    >>> Y = mfflow.make_target([4.0, 2.0, 1.0], seed=0)
    >>> U0 = mfflow.gaussian_init(3, 6, seed=1)
    >>> check = check_theorem(Y, U0, alpha=1e-30, eps=0.1)
    >>> check.constants.hypotheses_hold, check.all_hold, [r.contained for r in check.rows]
    (True, True, [True, True, True])
    """
    traj = trajectory_of(Y, U0, alpha, weight_decay)
    e = as_eps(eps)
    ends = as_endpoints(endpoints)
    const = constants_of(traj, e, ends)
    a = traj.alpha
    cert = certified_intervals(const.sigma, const.c_eps, const.C_eps, a, ends)
    corrected = certified_intervals(const.sigma, const.c_eps, const.C_eps, a, "corrected")
    measured = measured_of(traj, e, corrected)
    targets = rank_k_targets(traj)
    _, t_hi = scan_horizon(traj, e)
    rows: list[TheoremRow] = []
    for k, ((lo, hi), meas) in enumerate(zip(cert, measured, strict=True), start=1):
        empty = not (lo <= hi) or not math.isfinite(lo) or hi < 0.0
        max_err: float | None
        if empty:
            max_err, holds, contained = None, None, None
        else:
            top = hi if math.isfinite(hi) else max(t_hi, 4.0 * lo)
            max_err = _max_error(traj, targets[k - 1], lo, top)
            holds = bool(max_err <= e)
            contained = meas is not None and meas[0] <= max(lo, 0.0) and hi <= meas[1]
        rows.append(
            TheoremRow(
                k=k,
                sigma_k=float(const.sigma[k - 1]),
                certified=(lo, hi),
                measured=meas,
                max_error_on_certified=max_err,
                holds=holds,
                contained=contained,
            )
        )
    return TheoremCheck(constants=const, rows=rows)
