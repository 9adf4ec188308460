"""The registry of mfflow's public entry points, shared by the contract and fuzz tests.

Every name in ``mfflow.__all__`` has one :class:`Entry`: a valid call (tiny sizes, so that each
takes milliseconds), the kind of each argument (what values are valid), and which non-finite
values its result may carry and why (the flag or documented convention that says so).
``tests/test_contracts.py`` runs every entry through the shared contracts; ``tests/test_fuzz.py``
feeds them generated bad and extreme inputs; a public name missing from here fails
``test_every_public_name_is_registered``.

Argument kinds (the same keyword has the same kind everywhere; :data:`KEYWORD_KINDS`):

``sym``      symmetric target ``(n, n)``        ``mat``     any real matrix ``(m, n)``
``init``     init shape ``(n, r)``              ``factors`` square factors ``(L, n, n)``
``alpha``    initialization scale ``> 0``       ``pos``     a real number ``> 0``
``times``    times ``>= 0``                     ``steps``   iteration indices ``>= 0``
``seed``     a seed (:func:`mfflow.validation.as_rng`)
``int``      a positive integer                 ``frac``    a number in ``(0, 1]`` or ``(0, 1)``
``count``    an integer ``>= 0``                ``frac0``   a number in ``[0, 1)``
``samples``  sampled values (NaN allowed)       ``anyop``   a measurement operator, any shape
``levels``   finite levels, any magnitude
``vector``   a 1-D array of values              ``scales``  per-mode scales ``>= 0``
``real``     a finite real number               ``bool``    ``True`` / ``False``
``choice``   one of a few strings               ``operator`` a measurement operator
``rtol``     an ODE relative tolerance          ``result``  a simulation result
``reference`` a trajectory                      ``callable`` a callback
``nonneg``   a finite real number ``>= 0``      ``target``  a :class:`mfflow.NoisyTarget`
``tasks``    a sequence of target matrices     ``pairs``   ``(k, 2)`` pairs of numbers
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import mfflow
from registry_entry import Entry
from registry_models import MODEL_TYPES, model_entries

# ---- the small valid problem every entry uses ---------------------------------------------------
N = 3
Y = mfflow.make_target([3.0, 2.0, 1.0], seed=0)  # (3, 3), PSD, distinct eigenvalues
U0 = mfflow.gaussian_init(N, 4, seed=1)  # (3, 4)
YR = mfflow.rectangular_target([3.0, 1.0], 3, 2, seed=0)  # (3, 2)
UB, VB = mfflow.balanced_init(3, 2, 2, seed=0, Y=YR)  # (3, 2), (2, 2)
F0 = mfflow.deep_spectral_init(Y, 3, scales=1.0)  # (3, 3, 3)
T = np.array([0.0, 1.0, 4.0])
OP = mfflow.IdentityOperator(N)


def _traj() -> mfflow.Trajectory:
    return mfflow.closed_form(Y, U0, 1e-3)


def _flow() -> mfflow.FlowResult:
    return mfflow.simulate_gf(Y, U0, 1e-3, T)


# ---- what non-finite values are legitimate, and why ---------------------------------------------
def _descent_flag(res: Any, _: dict[str, Any]) -> str | None:
    return "diverged=True flags the NaN records after divergence" if res.diverged else None


def _theorem_flag(res: Any, _: dict[str, Any]) -> str | None:
    c = res.constants if hasattr(res, "constants") else res
    if not c.hypotheses_hold:
        return "hypotheses_hold=False (M = inf, empty intervals (inf, -inf))"
    return "b_K = inf: the last interval is unbounded"


def _intervals_inf(res: Any, _: dict[str, Any]) -> str | None:
    return "b_K = inf: the last interval is unbounded (documented)"


def _never(res: Any, _: dict[str, Any]) -> str | None:
    return "inf: a mode that never reaches the level (documented)"


def _mode_time(res: Any, _: dict[str, Any]) -> str | None:
    return "inf: the target value sigma itself is reached at t = inf (documented)"


def _crossing_never(res: Any, _: dict[str, Any]) -> str | None:
    return "NaN: the curve never reaches its level within the samples (documented)"


def _critical(res: Any, _: dict[str, Any]) -> str | None:
    return "eta_blowup = inf: no scanned step size blew up (documented)"


def _gap(res: Any, _: dict[str, Any]) -> str | None:
    if bool(np.any(res.diverged)):
        return "gap = inf and NaN curves where diverged[i] flags it"
    return None


def _study(res: Any, _: dict[str, Any]) -> str | None:
    return "NaN transition / inf predicted shift: a mode never learned (documented)"


def _curves(res: Any, _: dict[str, Any]) -> str | None:
    return None


# ---- evaluating lazy results --------------------------------------------------------------------
def _eval_traj(tr: Any) -> Any:
    return [tr.W(T), tr.eigvals(T), tr.loss(T), tr.mode_values(T), tr.limit()]


def _eval_asym(tr: Any) -> Any:
    return [tr.W(T), tr.singular_values(T), tr.loss(T)]


def _eval_sim(res: Any) -> Any:
    out = [res.W, res.loss, res.singular_values, res.recovery_error]
    if res.imbalance is not None:
        out.append(res.imbalance)
    return out


def _registry() -> dict[str, Entry]:
    m = mfflow
    sim_flow = {
        "method": "choice",
        "rtol": "rtol",
        "atol": "pos",
        "max_step": "pos",
        "dense": "bool",
        "progress": "callable",
    }
    sim_descent = {"blowup": "pos", "throw": "bool", "progress": "callable"}
    entries = [
        # ---- problems
        Entry(
            "make_target",
            m.make_target,
            {"spectrum": [3.0, 1.0], "n": 3, "seed": 0},
            ("spectrum",),
            {"spectrum": "vector", "n": "int", "seed": "seed"},
            ("spectrum",),
        ),
        Entry(
            "gaussian_init",
            m.gaussian_init,
            {"n": 3, "r": 2, "seed": 0},
            ("n", "r"),
            {"n": "int", "r": "int", "seed": "seed"},
        ),
        Entry(
            "orthogonal_init",
            m.orthogonal_init,
            {"n": 3, "r": 2, "seed": 0},
            ("n", "r"),
            {"n": "int", "r": "int", "seed": "seed"},
        ),
        Entry(
            "low_rank_init",
            m.low_rank_init,
            {"n": 3, "r": 3, "rank": 2, "seed": 0},
            ("n", "r", "rank"),
            {"n": "int", "r": "int", "rank": "int", "seed": "seed"},
        ),
        Entry(
            "random_orthogonal",
            m.random_orthogonal,
            {"n": 3, "seed": 0},
            ("n",),
            {"n": "int", "seed": "seed"},
        ),
        Entry(
            "rectangular_target",
            m.rectangular_target,
            {"spectrum": [2.0, 1.0], "rows": 3, "cols": 2, "seed": 0},
            ("spectrum", "rows", "cols"),
            {"spectrum": "vector", "rows": "int", "cols": "int", "seed": "seed"},
            ("spectrum",),
        ),
        Entry(
            "spectral_init",
            m.spectral_init,
            {"Y": Y, "scales": 1.0, "r": 3, "seed": None},
            ("Y",),
            {"Y": "sym", "scales": "scales", "r": "int", "seed": "seed"},
            ("Y",),
            host=True,
        ),
        Entry(
            "eigh_descending", m.eigh_descending, {"Y": Y}, ("Y",), {"Y": "sym"}, ("Y",), host=True
        ),
        # ---- the closed form and the theory
        Entry(
            "closed_form",
            m.closed_form,
            {"Y": Y, "U0": U0, "alpha": 1e-3},
            ("Y", "U0", "alpha"),
            {"Y": "sym", "U0": "init", "alpha": "alpha", "spectral": "bool"},
            ("Y", "U0"),
            namespace=True,
            evaluate=_eval_traj,
        ),
        Entry(
            "transition_times",
            m.transition_times,
            {"Y": Y, "alpha": 1e-3},
            ("Y", "alpha"),
            {"Y": "sym", "alpha": "alpha"},
            ("Y",),
            host=True,
        ),
        Entry(
            "best_rank_k",
            m.best_rank_k,
            {"Y": Y, "k": 2},
            ("Y", "k"),
            {"Y": "sym", "k": "count"},
            ("Y",),
            host=True,
        ),
        Entry(
            "theorem_constants",
            m.theorem_constants,
            {"Y": Y, "U0": U0, "alpha": 1e-40, "eps": 0.1},
            ("Y", "U0", "alpha", "eps"),
            {"Y": "sym", "U0": "init", "alpha": "alpha", "eps": "pos", "endpoints": "choice"},
            ("Y", "U0"),
            host=True,
            allowed=_theorem_flag,
            examples=8,
        ),
        Entry(
            "theorem_intervals",
            m.theorem_intervals,
            {"Y": Y, "U0": U0, "alpha": 1e-40, "eps": 0.1},
            ("Y", "U0", "alpha", "eps"),
            {
                "Y": "sym",
                "U0": "init",
                "alpha": "alpha",
                "eps": "pos",
                "endpoints": "choice",
                "check": "bool",
            },
            ("Y", "U0"),
            host=True,
            allowed=_intervals_inf,
            examples=8,
        ),
        Entry(
            "measured_intervals",
            m.measured_intervals,
            {"Y": Y, "U0": U0, "alpha": 1e-6, "eps": 0.1},
            ("Y", "U0", "alpha", "eps"),
            {"Y": "sym", "U0": "init", "alpha": "alpha", "eps": "pos"},
            ("Y", "U0"),
            host=True,
            allowed=_intervals_inf,
            examples=6,
        ),
        Entry(
            "measured_transition_times",
            m.measured_transition_times,
            {"Y": Y, "U0": U0, "alpha": 1e-6},
            ("Y", "U0", "alpha"),
            {"Y": "sym", "U0": "init", "alpha": "alpha", "fraction": "frac"},
            ("Y", "U0"),
            host=True,
            allowed=_never,
            examples=6,
        ),
        Entry(
            "check_theorem",
            m.check_theorem,
            {"Y": Y, "U0": U0, "alpha": 1e-6, "eps": 0.1},
            ("Y", "U0", "alpha", "eps"),
            {"Y": "sym", "U0": "init", "alpha": "alpha", "eps": "pos", "endpoints": "choice"},
            ("Y", "U0"),
            host=True,
            allowed=_theorem_flag,
            examples=6,
        ),
        # ---- simulations
        Entry(
            "simulate_gf",
            m.simulate_gf,
            {"Y": Y, "U0": U0, "alpha": 1e-3, "t": T},
            ("Y", "U0", "alpha", "t"),
            {
                "Y": "sym",
                "U0": "init",
                "alpha": "alpha",
                "t": "times",
                "V0": "init",
                "operator": "operator",
                **sim_flow,
            },
            ("Y", "U0", "t"),
            host=True,
            evaluate=_eval_sim,
        ),
        Entry(
            "simulate_gd",
            m.simulate_gd,
            {"Y": Y, "U0": U0, "alpha": 1e-3, "eta": 0.05, "steps": [0, 10, 40]},
            ("Y", "U0", "alpha", "eta"),
            {
                "Y": "sym",
                "U0": "init",
                "alpha": "alpha",
                "eta": "pos",
                "steps": "steps",
                "t": "times",
                "V0": "init",
                "operator": "operator",
                **sim_descent,
            },
            ("Y", "U0", "steps"),
            host=True,
            allowed=_descent_flag,
            evaluate=_eval_sim,
        ),
        Entry(
            "simulate_asymmetric_gf",
            m.simulate_asymmetric_gf,
            {"Y": YR, "U0": UB, "V0": VB, "alpha": 1e-3, "t": T},
            ("Y", "U0", "V0", "alpha", "t"),
            {
                "Y": "mat",
                "U0": "init",
                "V0": "init",
                "alpha": "alpha",
                "t": "times",
                "operator": "operator",
                **sim_flow,
            },
            ("Y", "U0", "V0", "t"),
            host=True,
            evaluate=_eval_sim,
        ),
        Entry(
            "simulate_asymmetric_gd",
            m.simulate_asymmetric_gd,
            {"Y": YR, "U0": UB, "V0": VB, "alpha": 1e-3, "eta": 0.05, "steps": [0, 20]},
            ("Y", "U0", "V0", "alpha", "eta"),
            {
                "Y": "mat",
                "U0": "init",
                "V0": "init",
                "alpha": "alpha",
                "eta": "pos",
                "steps": "steps",
                "t": "times",
                "operator": "operator",
                **sim_descent,
            },
            ("Y", "U0", "V0"),
            host=True,
            allowed=_descent_flag,
            evaluate=_eval_sim,
        ),
        Entry(
            "sensing_flow",
            m.sensing_flow,
            {"operator": OP, "Y": Y, "U0": U0, "alpha": 1e-3, "t": T},
            ("operator", "Y", "U0", "alpha", "t"),
            {
                "operator": "operator",
                "Y": "sym",
                "U0": "init",
                "alpha": "alpha",
                "t": "times",
                "V0": "init",
                **sim_flow,
            },
            ("Y", "U0", "t"),
            host=True,
            evaluate=_eval_sim,
        ),
        Entry(
            "sensing_descent",
            m.sensing_descent,
            {"operator": OP, "Y": Y, "U0": U0, "alpha": 1e-3, "eta": 0.05, "steps": [0, 20]},
            ("operator", "Y", "U0", "alpha", "eta", "steps"),
            {
                "operator": "operator",
                "Y": "sym",
                "U0": "init",
                "alpha": "alpha",
                "eta": "pos",
                "steps": "steps",
                "t": "times",
                "V0": "init",
                **sim_descent,
            },
            ("Y", "U0"),
            host=True,
            allowed=_descent_flag,
            evaluate=_eval_sim,
        ),
        Entry(
            "deep_flow",
            m.deep_flow,
            {"Y": Y, "factors0": F0, "alpha": 1e-3, "t": T},
            ("Y", "factors0", "alpha", "t"),
            {
                "Y": "mat",
                "factors0": "factors",
                "alpha": "alpha",
                "t": "times",
                "operator": "operator",
                **sim_flow,
            },
            ("Y", "factors0", "t"),
            host=True,
            evaluate=_eval_sim,
        ),
        Entry(
            "deep_descent",
            m.deep_descent,
            {"Y": Y, "factors0": F0, "alpha": 1e-3, "eta": 0.05, "steps": [0, 20]},
            ("Y", "factors0", "alpha", "eta", "steps"),
            {
                "Y": "mat",
                "factors0": "factors",
                "alpha": "alpha",
                "eta": "pos",
                "steps": "steps",
                "t": "times",
                "operator": "operator",
                **sim_descent,
            },
            ("Y", "factors0"),
            host=True,
            allowed=_descent_flag,
            evaluate=_eval_sim,
        ),
        # ---- asymmetric
        Entry(
            "closed_form_asymmetric",
            m.closed_form_asymmetric,
            {"Y": YR, "U0": UB, "V0": VB, "alpha": 1e-3},
            ("Y", "U0", "V0", "alpha"),
            {"Y": "mat", "U0": "init", "V0": "init", "alpha": "alpha", "balance_rtol": "pos"},
            ("Y", "U0", "V0"),
            namespace=True,
            evaluate=_eval_asym,
        ),
        Entry(
            "balanced_init",
            m.balanced_init,
            {"m": 3, "n": 2, "r": 2, "seed": 0},
            ("m", "n", "r"),
            {"m": "int", "n": "int", "r": "int", "seed": "seed", "Y": "mat"},
        ),
        Entry(
            "lambda_balanced_init",
            m.lambda_balanced_init,
            {"m": 3, "n": 2, "r": 2, "lam": 0.5, "seed": 0},
            ("m", "n", "r", "lam"),
            {"m": "int", "n": "int", "r": "int", "lam": "real", "seed": "seed"},
        ),
        Entry(
            "gaussian_pair_init",
            m.gaussian_pair_init,
            {"m": 3, "n": 2, "r": 2, "seed": 0},
            ("m", "n", "r"),
            {
                "m": "int",
                "n": "int",
                "r": "int",
                "scale_u": "pos",
                "scale_v": "pos",
                "seed": "seed",
            },
        ),
        Entry(
            "imbalance",
            m.imbalance,
            {"U": UB, "V": VB},
            ("U", "V"),
            {"U": "init", "V": "init"},
            ("U", "V"),
            host=True,
        ),
        Entry(
            "symmetrized_target",
            m.symmetrized_target,
            {"Y": YR, "lam": 0.5},
            ("Y", "lam"),
            {"Y": "mat", "lam": "real"},
            ("Y",),
            host=True,
        ),
        Entry(
            "imbalance_study",
            m.imbalance_study,
            {
                "Y": np.diag([3.0, 1.0]),
                "alpha": 1e-3,
                "imbalances": [0.0, 0.5],
                "t": np.linspace(0.0, 10.0, 11),
            },
            ("Y", "alpha", "imbalances"),
            {
                "Y": "mat",
                "alpha": "alpha",
                "imbalances": "vector",
                "r": "int",
                "seed": "seed",
                "t": "times",
                "rtol": "rtol",
            },
            ("Y",),
            allowed=_study,
            examples=5,
        ),
        Entry(
            "asymmetric_learning_curves",
            m.asymmetric_learning_curves,
            {"Y": np.diag([3.0, 1.0]), "alpha": 1e-3, "t": np.linspace(0.0, 10.0, 11)},
            ("Y", "alpha"),
            {
                "Y": "mat",
                "alpha": "alpha",
                "lam": "real",
                "rho": "frac0",
                "r": "int",
                "seed": "seed",
                "t": "times",
            },
            ("Y",),
            allowed=_curves,
            examples=5,
        ),
        # ---- gradient descent versus the flow
        Entry(
            "curvature",
            m.curvature,
            {"Y": Y, "U": U0},
            ("Y", "U"),
            {"Y": "sym", "U": "init", "V": "init"},
            ("Y", "U"),
            host=True,
        ),
        Entry(
            "gd_flow_gap",
            m.gd_flow_gap,
            {"Y": Y, "U0": U0, "alpha": 1e-2, "etas": [0.02, 0.04], "n_times": 5},
            ("Y", "U0", "alpha", "etas"),
            {
                "Y": "sym",
                "U0": "init",
                "alpha": "alpha",
                "etas": "vector",
                "V0": "init",
                "t": "times",
                "n_times": "int",
            },
            ("Y", "U0"),
            allowed=_gap,
            examples=5,
        ),
        Entry(
            "critical_step_sizes",
            m.critical_step_sizes,
            {
                "Y": np.diag([3.0, 1.0]),
                "U0": 0.5 * np.eye(2) + 0.1,
                "alpha": 1e-2,
                "n_scan": 3,
                "n_bisect": 1,
                "max_eta": 1.3,
            },
            ("Y", "U0", "alpha"),
            {
                "Y": "sym",
                "U0": "init",
                "alpha": "alpha",
                "V0": "init",
                "time_rtol": "pos",
                "plateau_tol": "pos",
                "converge_tol": "pos",
                "max_eta": "pos",
                "n_scan": "int",
                "n_bisect": "count",
            },
            ("Y", "U0"),
            allowed=_critical,
            examples=4,
        ),
        # ---- sensing
        Entry(
            "GaussianSensing",
            m.GaussianSensing,
            {"n": 3, "m": 10, "seed": 0},
            ("n", "m"),
            {"n": "int", "m": "int", "seed": "seed", "cols": "int"},
        ),
        Entry(
            "EntrySampling",
            m.EntrySampling,
            {"n": 3, "fraction": 0.5, "seed": 0},
            ("n", "fraction"),
            {"n": "int", "fraction": "frac", "seed": "seed", "cols": "int"},
        ),
        Entry(
            "IdentityOperator", m.IdentityOperator, {"n": 3}, ("n",), {"n": "int", "cols": "int"}
        ),
        Entry(
            "rip_constant",
            m.rip_constant,
            {"op": mfflow.GaussianSensing(3, 20, seed=0), "rank": 1, "trials": 10},
            ("op", "rank"),
            {"op": "anyop", "rank": "int", "trials": "int", "seed": "seed"},
        ),
        Entry(
            "curve_distance",
            m.curve_distance,
            {"result": None, "reference": None},
            ("result", "reference"),
            {"result": "result", "reference": "reference"},
        ),
        # ---- deep
        Entry(
            "deep_mode_curve",
            m.deep_mode_curve,
            {"sigma": 1.0, "s0": 1e-3, "L": 3, "t": T},
            ("sigma", "s0", "L", "t"),
            {"sigma": "vector", "s0": "vector", "L": "int", "t": "times"},
        ),
        Entry(
            "deep_mode_time",
            m.deep_mode_time,
            {"sigma": 1.0, "s0": 1e-3, "L": 3, "s": 0.5},
            ("sigma", "s0", "L", "s"),
            {"sigma": "vector", "s0": "vector", "L": "int", "s": "vector"},
            allowed=_mode_time,
        ),
        Entry(
            "deep_transition_time",
            m.deep_transition_time,
            {"sigma": 1.0, "s0": 1e-3, "L": 3},
            ("sigma", "s0", "L"),
            {"sigma": "vector", "s0": "vector", "L": "int", "fraction": "frac"},
        ),
        Entry(
            "deep_spectral_init",
            m.deep_spectral_init,
            {"Y": Y, "L": 3, "scales": 1.0},
            ("Y", "L"),
            {"Y": "mat", "L": "int", "scales": "scales", "seed": "seed"},
            ("Y",),
            host=True,
        ),
        Entry(
            "deep_random_init",
            m.deep_random_init,
            {"n": 3, "L": 3, "seed": 0},
            ("n", "L"),
            {"n": "int", "L": "int", "seed": "seed"},
        ),
        # ---- curves
        Entry(
            "crossing_times",
            m.crossing_times,
            {"t": [0.0, 1.0, 2.0], "values": [[0.0], [0.2], [1.0]], "levels": 0.6},
            ("t", "values", "levels"),
            {"t": "times", "values": "samples", "levels": "levels"},
            ("t", "values"),
            allowed=_crossing_never,
        ),
    ]
    out = {e.name: e for e in entries + model_entries()}
    # weight decay (issue 14): the same keyword, a number >= 0, wherever it is taken
    for e in out.values():
        if e.func is not None and "weight_decay" in inspect.signature(e.func).parameters:
            e.kinds["weight_decay"] = "nonneg"
    # curve_distance needs a result and a reference: built lazily (a flow costs milliseconds)
    out["curve_distance"].args = {"result": _flow(), "reference": _traj()}
    # result types: built by the entry named, their direct construction is not a public route
    for name, by in [
        ("Trajectory", "closed_form"),
        ("AsymmetricTrajectory", "closed_form_asymmetric"),
        ("FlowResult", "simulate_gf"),
        ("AsymmetricFlowResult", "simulate_asymmetric_gf"),
        ("SensingResult", "sensing_flow"),
        ("GDResult", "simulate_gd"),
        ("AsymmetricGDResult", "simulate_asymmetric_gd"),
        ("TheoremConstants", "theorem_constants"),
        ("TheoremCheck", "check_theorem"),
        ("TheoremRow", "check_theorem"),
        ("GDFlowGap", "gd_flow_gap"),
        ("CriticalStepSizes", "critical_step_sizes"),
        ("ImbalanceStudy", "imbalance_study"),
        ("AsymmetricLearningCurves", "asymmetric_learning_curves"),
        ("MeasurementOperator", "GaussianSensing"),
        *MODEL_TYPES,
    ]:
        out[name] = Entry(name, None, kind="type", produced_by=by)
    for name in ("load_spec", "open_sweep", "run_sweep", "SpecError"):
        out[name] = Entry(name, None, kind="app")  # tests/app: paths, stores, specs
    out["__version__"] = Entry("__version__", None, kind="data")
    # methods of the lazy trajectory (not in __all__, fuzzed like functions)
    tr = _traj()
    for meth in ("W", "W_eig", "eigvals", "loss", "mode_values", "factor"):
        kinds = {"t": "times", **({"k": "int", "algorithm": "choice"} if meth == "eigvals" else {})}
        out[f"Trajectory.{meth}"] = Entry(
            f"Trajectory.{meth}", getattr(tr, meth), {"t": T}, ("t",), kinds, ("t",)
        )
    out["Trajectory.distance"] = Entry(
        "Trajectory.distance",
        tr.distance,
        {"Z": Y, "t": T},
        ("Z", "t"),
        {"Z": "sym", "t": "times", "ord": "choice"},
        ("Z", "t"),
    )
    out["Trajectory.with_alpha"] = Entry(
        "Trajectory.with_alpha",
        tr.with_alpha,
        {"alpha": 1e-6},
        ("alpha",),
        {"alpha": "alpha"},
        evaluate=_eval_traj,
    )
    out["Trajectory.with_alphas"] = Entry(
        "Trajectory.with_alphas",
        tr.with_alphas,
        {"alphas": [1e-2, 1e-6]},
        ("alphas",),
        {"alphas": "vector"},
        evaluate=lambda b: [b.W(T), b.eigvals(T), b.loss(T)],
    )
    return out


REGISTRY: dict[str, Entry] = _registry()

#: The keywords that must mean the same thing in every entry taking them.
KEYWORD_KINDS = {
    "alpha": "alpha",
    "t": "times",
    "steps": "steps",
    "eta": "pos",
    "V0": "init",
    "operator": "operator",
    "seed": "seed",
    "rtol": "rtol",
    "U0": "init",
    "progress": "callable",
    "method": "choice",
    "blowup": "pos",
    "throw": "bool",
    "weight_decay": "nonneg",
}
#: Where a keyword means something else, documented: (entry, keyword) -> the meaning there.
KEYWORD_EXCEPTIONS = {
    ("mixed_euler", "steps"): "the number of Euler steps K (an int), not recorded step indices",
}


def callable_entries() -> list[Entry]:
    """The entries that are called (fuzzed, checked by the contracts)."""
    return [e for e in REGISTRY.values() if e.kind == "call"]


def names_argument(message: str, entry: Entry) -> bool:
    """Whether an error message starts by naming one of the entry's arguments.

    ``"U0: expected ..."``, ``"n, r: ..."``, ``"Y[1] (values): ..."`` and
    ``"alphas[0]: ..."`` all name an argument.
    """
    head = message.split(":", 1)[0]
    names = {part.strip().split("[")[0].split(" ")[0] for part in head.split(",")}
    return bool(names & set(entry.kinds)) or bool(names & set(entry.args))


def is_finite_tree(value: Any) -> bool:
    """Whether every number in ``value`` (arrays of any library, dataclasses, containers) is
    finite."""
    from dataclasses import fields, is_dataclass

    if value is None or isinstance(value, str | bool | np.bool_):
        return True
    if isinstance(value, int | np.integer):
        return True
    if isinstance(value, float | np.floating):
        return math.isfinite(float(value))
    if isinstance(value, np.ndarray):
        return value.dtype.kind not in "fc" or bool(np.all(np.isfinite(value)))
    if isinstance(value, dict):
        return all(is_finite_tree(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(is_finite_tree(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return all(
            is_finite_tree(getattr(value, f.name))
            for f in fields(value)
            if f.name not in ("structure", "backend_info", "model", "symmetric")
            and not f.name.startswith("_")
        )
    if hasattr(value, "__array_namespace__") or type(value).__module__.startswith(("torch", "jax")):
        from mfflow.backend import to_host

        host = to_host(value)
        return host is None or is_finite_tree(np.asarray(host))
    return True  # operators and other objects hold no result numbers


# ---- one call, classified -------------------------------------------------------------------
class Hang(Exception):
    """A call ran past its time budget."""


@dataclass
class Outcome:
    """How a call ended: ``rejected`` (a ValueError/TypeError naming an argument, raised in
    mfflow), ``finite``, ``flagged`` (non-finite values a flag or documented convention
    accounts for), or a failure: ``unnamed``, ``foreign`` (raised inside a dependency),
    ``crash`` (another exception), ``hang``, ``silent`` (non-finite values nothing accounts
    for)."""

    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("rejected", "finite", "flagged")


def _raised_in_mfflow(exc: BaseException) -> bool:
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and "mfflow" in frames[-1].filename.replace("\\", "/").split("/")


def run_case(entry: Entry, changes: dict[str, Any], budget: float = 30.0) -> Outcome:
    """Call ``entry`` with ``changes`` under a wall-clock ``budget`` and classify the outcome."""
    import signal
    import warnings

    def alarm(*_: Any) -> None:
        raise Hang()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, budget)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # LongRunWarning, DeprecationWarning: not outcomes
            result = entry.call(**changes)
            evaluated = entry.evaluate(result) if entry.evaluate is not None else None
    except Hang:
        return Outcome("hang", f"{entry.name}({_show(changes)}) ran past {budget} s")
    except (ValueError, TypeError) as exc:
        text = str(exc)
        where = f"{entry.name}({_show(changes)}): {type(exc).__name__}: {text[:300]}"
        if not _raised_in_mfflow(exc):
            return Outcome("foreign", where)
        if not names_argument(text, entry):
            return Outcome("unnamed", where)
        return Outcome("rejected", where)
    except Exception as exc:  # everything else is a crash
        import traceback

        tb = traceback.format_exception(exc)[-3:]
        return Outcome("crash", f"{entry.name}({_show(changes)}): {''.join(tb)[-600:]}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if is_finite_tree(result) and is_finite_tree(evaluated):
        return Outcome("finite")
    reason = entry.allowed(result, {**entry.args, **changes}) if entry.allowed else None
    if reason:
        return Outcome("flagged", reason)
    return Outcome("silent", f"{entry.name}({_show(changes)}) returned non-finite values")


def _show(changes: dict[str, Any]) -> str:
    parts = []
    for k, v in changes.items():
        text = repr(v) if not hasattr(v, "shape") else f"<{type(v).__name__} {v.shape}>"
        parts.append(f"{k}={text[:60]}")
    return ", ".join(parts)
