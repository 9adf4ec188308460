"""One sweep cell: build its problem, run its methods, return plain arrays.

A cell whose problem cannot be built (the library refuses the combination of its parameters,
e.g. ``target.n`` smaller than the spectrum) raises :class:`CellError`; the runner records it
as a failed cell (retried on the next run). Any other exception is a bug and propagates.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ... import (
    check_theorem,
    closed_form,
    crossing_times,
    eigh_descending,
    lazy_rich_cell,
    measured_transition_times,
    simulate_gd,
    simulate_gf,
    transition_times,
)
from ..config import RunConfig
from ..errors import ConfigError, UserError
from ..problem import build_problem, learned_values

__all__ = ["CellError", "compute_cell"]

_SIM_METHODS = ("gradient_flow", "gradient_descent")
#: Relative excess loss that counts as learned in a linear network's cell (its time to learn).
LAZY_RICH_TOL = 1e-2


class CellError(UserError):
    """A cell whose parameters the library refuses (recorded as a failed cell)."""


def compute_cell(config: dict[str, Any], measurements: list[str] | tuple[str, ...]) -> dict:
    """Compute one cell from its run configuration (a dict, validated by the spec).

    Returns plain arrays: ``sigma`` ``(K,)``, and per measurement ``t_predicted`` ``(K,)``,
    ``t_measured`` ``(M, K)``, ``curves`` ``(M, T, K)``, ``loss`` ``(M, T)``,
    ``final_error`` ``(M,)``, ``cf_distance`` ``(M,)``, theorem rows ``(K,)``, with ``M`` the
    number of methods in the configuration's order; plus ``computed_at``, ``pid`` and
    ``seconds``.

    Raises
    ------
    CellError
        When the cell's target or initialization cannot be built.
    """
    t0 = time.time()
    cfg = RunConfig.model_validate(config)
    try:
        p = build_problem(cfg)
    except ConfigError as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        raise CellError(f"{type(cause).__name__}: {exc}") from exc
    out: dict[str, Any] = {"computed_at": t0, "pid": os.getpid()}
    if p.X is not None:
        out.update(_lazy_rich(cfg, p.X, p.Y, int(p.U0.shape[1])))
    else:
        out.update(_measure(cfg, p.Y, p.U0, p.t, set(measurements)))
    out["seconds"] = time.time() - t0
    return out


def _lazy_rich(cfg: RunConfig, X: np.ndarray, Y: np.ndarray, h: int) -> dict[str, np.ndarray]:
    """A linear network's cell: :func:`mfflow.lazy_rich_cell` at ``(init.lam, init.alpha)``
    (the same weights as ``mfflow run``), exact at ``t = inf``; ``sigma``: the singular values
    of ``Y X^T / P``."""
    assert cfg.init.lam is not None  # the configuration's rules
    cell = lazy_rich_cell(
        X, Y, cfg.init.lam, cfg.init.alpha, h=h, seed=cfg.init.seed, tol=LAZY_RICH_TOL
    )
    res = {k: np.asarray(v) for k, v in cell.as_dict().items() if k not in ("lam", "scale")}
    res["tol"] = np.asarray(LAZY_RICH_TOL)
    res["sigma"] = np.linalg.svd(Y @ X.T / X.shape[1], compute_uv=False)
    return res


def _measure(
    cfg: RunConfig, Y: np.ndarray, U0: np.ndarray, t: np.ndarray, meas: set[str]
) -> dict[str, np.ndarray]:
    alpha = cfg.init.alpha
    fraction = cfg.transition_fraction
    methods = cfg.methods
    given = cfg.target.values()
    if given is not None:
        sigma = np.sort(np.asarray(given, dtype=np.float64))[::-1]
        sigma = sigma[sigma > 0]
    else:
        sigma = learned_values(Y, "symmetric")
    K = sigma.size
    res: dict[str, np.ndarray] = {"sigma": sigma}
    Phi = eigh_descending(Y)[1][:, :K]
    traj = closed_form(Y, U0, alpha)
    M = len(methods)
    curves = np.full((M, t.size, K), np.nan)
    loss = np.full((M, t.size), np.nan)
    t_meas = np.full((M, K), np.nan)
    final = np.full(M, np.nan)
    dist = np.full(M, np.nan)
    sims = any(m in _SIM_METHODS for m in methods)
    W_cf = traj.W(t) if sims else None
    for j, method in enumerate(methods):
        if method == "closed_form":
            if "curves" in meas or "transition_times" in meas:
                curves[j] = traj.mode_values(t)[:, :K]
                loss[j] = traj.loss(t)
            if "transition_times" in meas:
                t_meas[j] = measured_transition_times(Y, U0, alpha, fraction)[:K]
            final[j] = float(traj.distance(Y, t[-1], "fro"))
            dist[j] = 0.0
            continue
        if method == "gradient_flow":
            W = simulate_gf(Y, U0, alpha, t).W
        else:
            gd = simulate_gd(Y, U0, alpha, cfg.eta, t=t)
            W = gd.U @ np.swapaxes(gd.U, -1, -2)
        curves[j] = np.einsum("ik,tij,jk->tk", Phi, W, Phi)
        loss[j] = 0.25 * np.sum((Y - W) ** 2, axis=(1, 2))
        final[j] = float(np.linalg.norm(Y - W[-1]))
        if W_cf is not None:
            dist[j] = float(np.max(np.linalg.norm(W - W_cf, axis=(1, 2))))
        if "transition_times" in meas:
            t_meas[j] = crossing_times(t, curves[j], fraction * sigma)
    if "curves" in meas:
        res["curves"], res["loss"] = curves, loss
    if "transition_times" in meas:
        res["t_predicted"] = transition_times(Y, alpha)[:K]
        res["t_measured"] = t_meas
    if "final_error" in meas:
        res["final_error"] = final
        if sims:
            res["cf_distance"] = dist
    if "theorem" in meas:
        chk = check_theorem(Y, U0, alpha, cfg.eps)
        rows = chk.rows

        def col(f: Callable[[Any], Any]) -> np.ndarray:
            return np.array([np.nan if f(r_) is None else float(f(r_)) for r_ in rows])

        res["theorem_holds"] = col(lambda r_: r_.holds)
        res["theorem_contained"] = col(lambda r_: r_.contained)
        res["certified_lo"] = col(lambda r_: r_.certified[0])
        res["certified_hi"] = col(lambda r_: r_.certified[1])
        res["measured_lo"] = col(lambda r_: None if r_.measured is None else r_.measured[0])
        res["measured_hi"] = col(lambda r_: None if r_.measured is None else r_.measured[1])
        res["max_error_on_certified"] = col(lambda r_: r_.max_error_on_certified)
        res["hypotheses_hold"] = np.array(float(chk.constants.hypotheses_hold))
    return res
