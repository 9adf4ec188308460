"""``mfflow run``: one configured experiment, computed, saved, drawn and reported.

:func:`load_experiment` reads and validates a configuration and builds its problem (every
problem with the file is reported then, naming the field); :func:`compute` runs the methods
on the built problem, without any ``except``; :func:`run_experiment` saves the results file,
draws the figures from it and writes the report (:mod:`mfflow.app.experiment_report`).

The results file's root holds the curves; in the paper's setting (symmetric factorization,
identity operator, a target with a positive eigenvalue) the group ``theorem`` holds the
theorem's check (:func:`mfflow.app.report.sections.rank_k.theorem_dataset`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from .. import (
    __version__,
    closed_form,
    closed_form_asymmetric,
    crossing_times,
    deep_descent,
    deep_flow,
    deep_mode_curve,
    deep_transition_time,
    eigh_descending,
    linear_network,
    measured_transition_times,
    sensing_descent,
    sensing_flow,
    simulate_gd,
    simulate_gf,
    simulate_linear_network,
    transition_times,
)
from .config import load_config
from .experiment_report import plot_run, write_run_report
from .io import load_results, save_results
from .problem import Problem, build_problem, learned_values
from .report.sections.rank_k import theorem_dataset

__all__ = ["compute", "load_experiment", "run_experiment"]

FloatArray = NDArray[np.float64]


def load_experiment(path: str | Path) -> Problem:
    """Read, validate and build a configuration file (relative paths: from its folder).

    Raises :class:`~mfflow.app.errors.UserError` (one line per problem) on any problem.
    """
    cfg = load_config(path)
    return build_problem(cfg, Path(path).resolve().parent)


def _gd_steps(t_end: float, eta: float) -> NDArray[np.int64]:
    """Every iterate up to ``t_end`` is computed; (at most) 2001 of them are recorded."""
    last = math.ceil(t_end / eta)
    return np.unique(np.linspace(0, last, min(last + 1, 2001)).round().astype(np.int64))


def _paper(p: Problem) -> xr.DataTree:
    """Symmetric factorization, identity operator: the closed form and the theorem."""
    cfg = p.config
    Y, U0, t = p.Y, p.U0, p.t
    alpha = cfg.init.alpha
    lam = eigh_descending(Y)[0]
    n = lam.size
    K = learned_values(Y, "symmetric").size
    data: dict[str, Any] = {
        "Y": (("row", "col"), Y),
        "U0": (("row", "col_r"), U0),
        "sigma_Y": (("mode",), lam),
        "alpha": ((), alpha),
        "eps": ((), cfg.eps),
    }
    coords: dict[str, Any] = {"time": ("time", t), "mode": ("mode", np.arange(1, n + 1))}
    attrs: dict[str, Any] = {}
    traj = closed_form(Y, U0, alpha)
    w_cf = traj.W(t) if {"gradient_flow", "gradient_descent"} & set(cfg.methods) else None
    if "closed_form" in cfg.methods:
        data["cf_eigvals"] = (("time", "mode"), traj.eigvals(t))
        data["cf_mode_values"] = (("time", "mode"), traj.mode_values(t))
        data["cf_loss"] = (("time",), np.asarray(traj.loss(t)))
    if "gradient_flow" in cfg.methods:
        assert w_cf is not None
        w = np.asarray(simulate_gf(Y, U0, alpha, t).W)
        err = np.linalg.norm(w - w_cf, ord=2, axis=(1, 2))
        data["gf_eigvals"] = (("time", "mode"), np.linalg.eigvalsh(w)[:, ::-1])
        data["gf_loss"] = (("time",), 0.25 * np.sum((w - Y) ** 2, axis=(1, 2)))
        data["gf_error"] = (("time",), err)
        data["gf_max_error"] = ((), float(np.max(err)))
    if "gradient_descent" in cfg.methods:
        gd = simulate_gd(Y, U0, alpha, cfg.eta, steps=_gd_steps(float(t[-1]), cfg.eta))
        w = np.asarray(gd.W)
        t_gd = np.asarray(gd.t, dtype=np.float64)
        finite = np.all(np.isfinite(w), axis=(1, 2))
        eig = np.full((t_gd.size, n), np.nan)
        eig[finite] = np.linalg.eigvalsh(w[finite])[:, ::-1]
        err = np.full(t_gd.size, np.nan)
        err[finite] = np.linalg.norm(w[finite] - traj.W(t_gd[finite]), ord=2, axis=(1, 2))
        data["gd_eigvals"] = (("gd_step", "mode"), eig)
        data["gd_loss"] = (("gd_step",), 0.25 * np.sum((w - Y) ** 2, axis=(1, 2)))
        data["gd_error"] = (("gd_step",), err)
        data["gd_max_error"] = ((), float(np.nanmax(err)) if np.any(finite) else math.nan)
        data["eta"] = ((), cfg.eta)
        coords["gd_time"] = ("gd_step", t_gd)
        attrs["gd_diverged"] = int(gd.diverged)
        attrs["gd_diverged_at"] = -1 if gd.diverged_at is None else int(gd.diverged_at)
    groups: dict[str, xr.Dataset] = {}
    if K >= 1:
        f = cfg.transition_fraction
        coords["k"] = ("k", np.arange(1, K + 1))
        data["transition_t_predicted"] = (("k",), np.asarray(transition_times(Y, alpha))[:K])
        meas = np.asarray(measured_transition_times(Y, U0, alpha, f), dtype=np.float64)
        data["transition_t_measured"] = (("k",), meas[:K])
        groups["theorem"] = theorem_dataset(Y, U0, alpha, cfg.eps, t, crop=False)
    else:
        attrs["theorem_note"] = (
            "The theorem check does not apply: Y has no positive eigenvalue (nothing is learned)."
        )
    root = xr.Dataset(data, coords=coords, attrs=attrs)
    return xr.DataTree.from_dict({"/": root, **groups})


def _exact_values(p: Problem, sig: FloatArray, t: FloatArray) -> tuple[Any, Any]:
    """The identity operator's exact product ``W(t)`` and its singular values, where they
    exist: symmetric, lambda-balanced asymmetric, or deep from a balanced spectral init."""
    cfg = p.config
    f = cfg.factorization
    alpha = cfg.init.alpha
    if f == "symmetric":
        w = closed_form(p.Y, p.U0, alpha).W(t)
    elif f == "asymmetric" and cfg.init.kind != "gaussian":
        assert p.V0 is not None  # asymmetric problems carry V0
        w = closed_form_asymmetric(p.Y, p.U0, p.V0, alpha).W(t)
    elif f == "deep" and cfg.init.kind == "spectral":
        assert cfg.depth is not None
        scales = np.broadcast_to(np.asarray(cfg.init.scales, dtype=np.float64), (sig.size,))
        return None, np.asarray(deep_mode_curve(sig, alpha * scales, cfg.depth, t))
    else:
        return None, None
    return w, np.linalg.svd(w, compute_uv=False)


def _general(p: Problem) -> xr.DataTree:
    """Asymmetric or deep factorizations, or a measurement operator (sensing, completion).
    Curves are singular values of the product."""
    cfg = p.config
    f = cfg.factorization
    Y, A, B, t = p.Y, p.U0, p.V0, p.t
    alpha = cfg.init.alpha
    sig = cast(FloatArray, np.linalg.svd(Y, compute_uv=False))
    q = sig.size
    sensing = cfg.operator.kind != "identity"
    K = int(np.count_nonzero(sig > 1e-12 * max(float(sig[0]), 1e-300)))
    L = int(cfg.depth) if f == "deep" and cfg.depth is not None else 2
    data: dict[str, Any] = {
        "Y": (("row", "col"), Y),
        "sigma_Y": (("mode",), sig, {"long_name": "singular values of Y"}),
        "alpha": ((), alpha),
    }
    if f == "deep":
        data["factors0"] = (("layer", "row", "col"), A)
    else:
        data["U0"] = (("row", "col_r"), A)
        if B is not None:
            data["V0"] = (("row_v", "col_r"), B)
    coords: dict[str, Any] = {"time": ("time", t), "mode": ("mode", np.arange(1, q + 1))}
    product = {"symmetric": "U U^T", "asymmetric": "U V^T", "deep": f"W_{L} ... W_1"}[f]
    tex = {"symmetric": "U U^T", "asymmetric": "U V^T", "deep": rf"W_{L} \cdots W_1"}[f]
    attrs: dict[str, Any] = {
        "curve_label": f"singular values of {product}",
        "curve_label_tex": f"singular values of ${tex}$",
        "loss_label": "training loss" + (" (measurements)" if sensing else ""),
    }
    exact_w, exact_values = _exact_values(p, sig, t)
    if exact_values is not None:
        name = "cf" if "closed_form" in cfg.methods else "ref"
        data[f"{name}_values"] = (("time", "mode"), exact_values)
        if name == "cf" and exact_w is not None:
            loss_factor = 0.25 if f == "symmetric" else 0.5
            data["cf_loss"] = (("time",), loss_factor * np.sum((exact_w - Y) ** 2, axis=(1, 2)))
        if name == "ref":
            attrs["ref_label"] = "closed form, identity operator"
    attrs["error_label"] = (
        "||W_sim(t) - W_closed(t)||_2"
        if exact_w is not None
        else "||s_sim(t) - s_closed(t)||_2 (singular values)"
    )
    level = cfg.transition_fraction * sig[:K]

    def record(prefix: str, res: Any, tt: FloatArray, dim: str) -> None:
        data[f"{prefix}_values"] = ((dim, "mode"), res.singular_values)
        data[f"{prefix}_loss"] = ((dim,), res.loss)
        data[f"{prefix}_recovery"] = ((dim,), res.recovery_error)
        data[f"{prefix}_transition"] = (
            ("k",),
            crossing_times(tt, res.singular_values[:, :K], level),
        )
        if exact_values is not None and not sensing:
            if exact_w is not None:
                ref = exact_w if dim == "time" else _exact_values(p, sig, tt)[0]
                err = np.linalg.norm(res.W - ref, ord=2, axis=(1, 2))
            else:
                ref_v = exact_values if dim == "time" else _exact_values(p, sig, tt)[1]
                err = np.linalg.norm(res.singular_values - ref_v, axis=1)
            data[f"{prefix}_error"] = ((dim,), err)
            data[f"{prefix}_max_error"] = ((), float(np.max(err)))

    op = p.operator if sensing else None
    if "gradient_flow" in cfg.methods:
        if f == "deep":
            res = deep_flow(Y, A, alpha, t, operator=op)
        else:
            res = sensing_flow(p.operator, Y, A, alpha, t, V0=B)
        record("gf", res, t, "time")
    if "gradient_descent" in cfg.methods:
        steps = _gd_steps(float(t[-1]), cfg.eta)
        if f == "deep":
            res_gd = deep_descent(Y, A, alpha, cfg.eta, steps, operator=op)
        else:
            res_gd = sensing_descent(p.operator, Y, A, alpha, cfg.eta, steps, V0=B)
        t_gd = np.asarray(res_gd.t, dtype=np.float64)
        coords["gd_time"] = ("gd_step", t_gd)
        data["eta"] = ((), cfg.eta)
        record("gd", res_gd, t_gd, "gd_step")
    if exact_values is not None and "closed_form" in cfg.methods:
        data["cf_transition"] = (("k",), crossing_times(t, exact_values[:, :K], level))
    if K >= 1:
        coords["k"] = ("k", np.arange(1, K + 1))
        if f == "deep":
            pred = np.asarray(deep_transition_time(sig[:K], alpha, L), dtype=np.float64)
            attrs["prediction_label"] = "exact, balanced spectral init, s0 = alpha"
        else:
            pred = -math.log(alpha) / (2.0 * sig[:K])
            attrs["prediction_label"] = "log(1/alpha) / (2 sigma_i)"
        data["transition_t_predicted"] = (("k",), pred)
    if sensing:
        data["m"] = ((), int(p.operator.m))
    attrs["factorization"] = f
    return xr.DataTree(xr.Dataset(data, coords=coords, attrs=attrs))


def _network(p: Problem) -> xr.DataTree:
    """A two-layer linear network ``x -> W2 W1 x`` on ``(X, Y)``: the closed form
    (:func:`mfflow.linear_network`, whitened ``X``) and the simulations
    (:func:`mfflow.simulate_linear_network`). Curves are singular values of ``W2 W1``, with the
    NTK's kernel distance and task alignment."""
    cfg = p.config
    X, Y, t = p.X, p.Y, p.t
    assert X is not None and p.V0 is not None
    W1, W2 = p.V0.T, p.U0
    P = X.shape[1]
    syx = Y @ X.T / P
    sig = np.linalg.svd(syx, compute_uv=False)
    q = sig.size
    one = {"units": "1"}
    data: dict[str, Any] = {
        "X": (("input", "example"), X, {"long_name": "inputs X", **one}),
        "Y": (("output", "example"), Y, {"long_name": "targets Y", **one}),
        "W1_0": (("hidden", "input"), W1, {"long_name": "first layer W1 at t = 0", **one}),
        "W2_0": (("output", "hidden"), W2, {"long_name": "second layer W2 at t = 0", **one}),
        "sigma_Y": (("mode",), sig, {"long_name": "singular values of Y X^T / P", **one}),
        "alpha": ((), cfg.init.alpha, {"long_name": "singular values of W2 W1 at t = 0", **one}),
        "lam": ((), cfg.init.lam, {"long_name": "lambda: W2^T W2 - W1 W1^T = lambda I", **one}),
    }
    coords: dict[str, Any] = {"time": ("time", t), "mode": ("mode", np.arange(1, q + 1))}
    d_in, h, d_out = X.shape[0], W1.shape[0], Y.shape[0]
    attrs: dict[str, Any] = {
        "curve_label": "singular values of W2 W1",
        "curve_label_tex": "singular values of $W_2 W_1$",
        "loss_label": r"training loss $\frac{1}{2P}\|Y - W_2 W_1 X\|_F^2$",
        "error_label": "||W_sim(t) - W_closed(t)||_2",
        "factorization": "linear_network",
        "network": f"{d_in} -> {h} -> {d_out}, P = {P}",
    }
    net = linear_network(X, Y, W1, W2) if "closed_form" in cfg.methods else None
    if net is not None:
        data["cf_values"] = (("time", "mode"), np.asarray(net.singular_values(t)))
        data["cf_loss"] = (("time",), np.asarray(net.loss(t)))
        data["cf_kernel_distance"] = (("time",), np.asarray(net.kernel_distance(t)))
        data["cf_task_alignment"] = (("time",), np.asarray(net.task_alignment(t)))
        attrs["lambda_found"] = float(net.lam)

    def record(prefix: str, sim: Any, tt: FloatArray, dim: str) -> None:
        data[f"{prefix}_values"] = ((dim, "mode"), sim.singular_values)
        data[f"{prefix}_loss"] = ((dim,), sim.loss)
        data[f"{prefix}_kernel_distance"] = ((dim,), sim.kernel_distance())
        data[f"{prefix}_task_alignment"] = ((dim,), sim.task_alignment())
        if net is not None:
            err = np.linalg.norm(sim.W - np.asarray(net.W(tt)), ord=2, axis=(1, 2))
            data[f"{prefix}_error"] = ((dim,), err)
            data[f"{prefix}_max_error"] = ((), float(np.max(err)))

    if "gradient_flow" in cfg.methods:
        record("gf", simulate_linear_network(X, Y, W1, W2, t), t, "time")
    if "gradient_descent" in cfg.methods:
        steps = _gd_steps(float(t[-1]), cfg.eta)
        gd = simulate_linear_network(X, Y, W1, W2, eta=cfg.eta, steps=steps)
        t_gd = np.asarray(gd.t, dtype=np.float64)
        coords["gd_time"] = ("gd_step", t_gd)
        data["eta"] = ((), cfg.eta)
        record("gd", gd, t_gd, "gd_step")
    return xr.DataTree(xr.Dataset(data, coords=coords, attrs=attrs))


def compute(p: Problem) -> xr.DataTree:
    """Run the configured methods on a built problem; the tree is what ``results.nc`` holds.

    Root attributes: ``kind`` ("run"), ``config`` (the configuration as JSON, with the time
    horizon it used), ``mfflow_version``.
    """
    if p.config.factorization == "linear_network":
        tree = _network(p)
    else:
        tree = _paper(p) if p.config.is_paper_setting else _general(p)
    tree.attrs.update(
        {
            "title": f"mfflow run: {p.config.name}",
            "kind": "run",
            "config": p.config.model_dump_json(),
            "mfflow_version": __version__,
        }
    )
    return tree


def run_experiment(p: Problem, out: str | Path) -> dict[str, Any]:
    """``mfflow run``: compute, save ``results.nc``, draw the figures from it, write the report.

    Returns ``results``, ``report``, ``html``, ``figures`` (paths) and ``seconds``.
    """
    start = time.perf_counter()
    out = Path(out)
    results = save_results(compute(p), out / "results.nc")
    saved = load_results(results)
    figures = plot_run(saved, out / "figures")
    seconds = time.perf_counter() - start
    md, page = write_run_report(saved, out, out / "figures", runtime_s=seconds)
    return {"results": results, "report": md, "html": page, "figures": figures, "seconds": seconds}
