"""Registry entries for the models added with issue 14: linear networks from data, mixed
lazy/active dynamics and noisy targets (see :mod:`registry` for the kinds and the contracts).

Every valid call is tiny (milliseconds): whitened inputs ``(3, 6)``, a hidden width of 2, a
``(3, 2)`` mixed problem and a ``4 x 4`` noisy target.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import mfflow
from registry_entry import Entry

T = np.array([0.0, 1.0, 4.0])
X = mfflow.whitened_inputs(3, 6, seed=0)  # (3, 6)
YN = mfflow.teacher_task(X, 2, [2.0, 1.0], seed=1)  # (2, 6)
W1, W2 = mfflow.lambda_balanced_weights(3, 2, 2, 0.5, 0.1, seed=2)  # (2, 3), (2, 2)
YR = mfflow.rectangular_target([3.0, 1.0], 3, 2, seed=0)  # (3, 2)
UB, VB = mfflow.balanced_init(3, 2, 2, seed=0, Y=YR)
B0 = 0.1 * np.array([[1.0, 0.2], [0.3, 1.0], [0.1, -0.4]])  # (3, 2)
TARGET = mfflow.noisy_target([4.0, 2.0], 4, 0.3, seed=0)  # 4 x 4, rank-2 signal
TASK = mfflow.mixed_task(4, 2, seed=0)


def _noisy_traj() -> mfflow.Trajectory:
    return mfflow.closed_form(TARGET.Y, mfflow.gaussian_init(4, 4, seed=1), 1e-3)


# ---- what non-finite values are legitimate, and why ----------------------------------------
def _never_learned(res: Any, _: dict[str, Any]) -> str | None:
    return "time_to_learn = inf: the excess never fell below tol within the horizon (documented)"


def _descent(res: Any, _: dict[str, Any]) -> str | None:
    diverged = getattr(getattr(res, "result", None), "diverged", False)
    return "diverged=True flags the NaN records after divergence" if diverged else None


def _euler(res: Any, _: dict[str, Any]) -> str | None:
    return None


# ---- evaluating lazy results ----------------------------------------------------------------
def _eval_network(net: Any) -> Any:
    return [net.W(T), net.loss(T), net.singular_values(T), net.kernel_distance(T)]


def _eval_simulation(sim: Any) -> Any:
    return [sim.W, sim.loss, sim.singular_values]


def _eval_asym(tr: Any) -> Any:
    return [tr.W(T), tr.singular_values(T), tr.loss(T)]


def model_entries() -> list[Entry]:
    """The entries of the linear-network, mixed-dynamics and noisy-target names."""
    m = mfflow
    ode = {
        "method": "choice",
        "rtol": "rtol",
        "atol": "pos",
        "max_step": "pos",
        "dense": "bool",
    }
    net = {"X": "mat", "Y": "mat", "W1": "mat", "W2": "mat"}
    net_args = {"X": X, "Y": YN, "W1": W1, "W2": W2}
    cell = {"h": "int", "seed": "seed", "tol": "frac", "horizon": "pos", "eta": "pos"}
    return [
        # ---- linear networks from data
        Entry(
            "whitened_inputs",
            m.whitened_inputs,
            {"d_in": 3, "P": 6, "seed": 0},
            ("d_in", "P"),
            {"d_in": "int", "P": "int", "seed": "seed"},
        ),
        Entry(
            "whiten",
            m.whiten,
            {"X": np.random.default_rng(0).standard_normal((3, 6))},
            ("X",),
            {"X": "mat"},
            ("X",),
            host=True,
        ),
        Entry(
            "teacher_task",
            m.teacher_task,
            {"X": X, "d_out": 2, "singular_values": [2.0, 1.0], "noise": 0.1, "seed": 1},
            ("X", "d_out", "singular_values"),
            {
                "X": "mat",
                "d_out": "int",
                "singular_values": "vector",
                "noise": "nonneg",
                "seed": "seed",
            },
            ("X",),
        ),
        Entry(
            "lambda_balanced_weights",
            m.lambda_balanced_weights,
            {"d_in": 3, "h": 2, "d_out": 2, "lam": 0.5, "scale": 0.1, "seed": 2},
            ("d_in", "h", "d_out", "lam"),
            {
                "d_in": "int",
                "h": "int",
                "d_out": "int",
                "lam": "real",
                "scale": "scales",
                "seed": "seed",
                "align": "mat",
            },
        ),
        Entry(
            "network_lambda",
            m.network_lambda,
            {"W1": W1, "W2": W2},
            ("W1", "W2"),
            {"W1": "mat", "W2": "mat", "rtol": "rtol"},
            ("W1", "W2"),
            host=True,
        ),
        Entry(
            "linear_network",
            m.linear_network,
            dict(net_args),
            ("X", "Y", "W1", "W2"),
            {**net, "rtol": "rtol", "whitening_tol": "frac"},
            ("X", "Y", "W1", "W2"),
            evaluate=_eval_network,
            examples=6,
        ),
        Entry(
            "simulate_linear_network",
            m.simulate_linear_network,
            {**net_args, "t": T},
            ("X", "Y", "W1", "W2", "t"),
            {
                **net,
                "t": "times",
                "eta": "pos",
                "steps": "steps",
                "blowup": "pos",
                "throw": "bool",
                **ode,
            },
            ("X", "Y", "W1", "W2", "t"),
            host=True,
            allowed=_descent,
            evaluate=_eval_simulation,
            examples=6,
        ),
        Entry(
            "lazy_rich_cell",
            m.lazy_rich_cell,
            {"X": X, "Y": YN, "lam": 0.5, "scale": 0.1, "h": 2},
            ("X", "Y", "lam", "scale"),
            {"X": "mat", "Y": "mat", "lam": "real", "scale": "pos", **cell},
            ("X", "Y"),
            allowed=_never_learned,
            examples=6,
        ),
        Entry(
            "lazy_rich_phase_diagram",
            m.lazy_rich_phase_diagram,
            {"X": X, "Y": YN, "lams": [0.0, 0.5], "scales": [0.1], "h": 2},
            ("X", "Y", "lams", "scales"),
            {
                "X": "mat",
                "Y": "mat",
                "lams": "vector",
                "scales": "vector",
                **cell,
                "checks": "pairs",
                "check_eta": "pos",
                "check_horizon": "pos",
            },
            ("X", "Y"),
            allowed=_never_learned,
            examples=4,
        ),
        Entry(
            "continual_learning",
            m.continual_learning,
            {
                "X": X,
                "tasks": [YN, -YN],
                "W1": W1,
                "W2": W2,
                "switch_times": [1.0],
                "t": [0.0, 0.5, 2.0],
            },
            ("X", "tasks", "W1", "W2", "switch_times", "t"),
            {
                "X": "mat",
                "tasks": "tasks",
                "W1": "mat",
                "W2": "mat",
                "switch_times": "times",
                "t": "times",
            },
            ("X", "W1", "W2"),
            examples=6,
        ),
        # ---- mixed lazy/active dynamics
        Entry(
            "mixed_dynamics",
            m.mixed_dynamics,
            {"Y": YR, "B0": B0, "c": 0.5},
            ("Y", "B0", "c"),
            {"Y": "mat", "B0": "mat", "c": "nonneg"},
            ("Y", "B0"),
            evaluate=_eval_asym,
        ),
        Entry(
            "mixed_euler",
            m.mixed_euler,
            {"Y": YR, "B0": B0, "c": 0.5, "eta": 0.05, "steps": 20, "Ystar": YR},
            ("Y", "B0", "c", "eta", "steps"),
            {
                "Y": "mat",
                "B0": "mat",
                "c": "nonneg",
                "eta": "pos",
                "steps": "count",
                "Ystar": "mat",
            },
            ("Y", "B0", "Ystar"),
            allowed=_euler,
        ),
        Entry(
            "mixed_init",
            m.mixed_init,
            {"B0": B0, "c": 0.5},
            ("B0", "c"),
            {"B0": "mat", "c": "nonneg"},
            ("B0",),
            host=True,
        ),
        Entry(
            "mixed_rhs",
            m.mixed_rhs,
            {"Y": YR, "B": B0, "c": 0.5},
            ("Y", "B", "c"),
            {"Y": "mat", "B": "mat", "c": "nonneg"},
            ("Y", "B"),
            host=True,
        ),
        Entry(
            "mixed_task",
            m.mixed_task,
            {"d": 4, "k": 2, "seed": 0},
            ("d", "k"),
            {"d": "int", "k": "int", "m": "int", "seed": "seed"},
        ),
        Entry(
            "mixed_phase_diagram",
            m.mixed_phase_diagram,
            {"task": TASK, "c": [1.0, 2.0], "scale": [0.1, 0.2]},
            ("task", "c", "scale"),
            {
                "task": "target",
                "c": "vector",
                "scale": "vector",
                "G0": "mat",
                "seed": "seed",
                "euler": "bool",
                "step_factor": "pos",
                "max_steps": "int",
            },
            examples=4,
        ),
        Entry(
            "tu_parameters",
            m.tu_parameters,
            {"d": 4, "gamma_sigma2": -1.0, "gamma_w": 2.0},
            ("d", "gamma_sigma2", "gamma_w"),
            {"d": "int", "gamma_sigma2": "vector", "gamma_w": "vector"},
        ),
        Entry(
            "tu_step_size",
            m.tu_step_size,
            {"c": 1.0, "Ystar": YR},
            ("c", "Ystar"),
            {"c": "nonneg", "Ystar": "mat", "factor": "pos"},
            ("Ystar",),
            host=True,
        ),
        # ---- noisy targets
        Entry(
            "noisy_target",
            m.noisy_target,
            {"signal": [4.0, 2.0], "n": 4, "noise": 0.3, "seed": 0},
            ("signal", "n", "noise"),
            {"signal": "vector", "n": "int", "noise": "nonneg", "m": "int", "seed": "seed"},
            ("signal",),
        ),
        Entry(
            "balanced_flow",
            m.balanced_flow,
            {"Y": YR, "U0": UB, "V0": VB, "alpha": 1e-3},
            ("Y", "U0", "V0", "alpha"),
            {"Y": "mat", "U0": "init", "V0": "init", "alpha": "alpha"},
            ("Y", "U0", "V0"),
            evaluate=_eval_asym,
        ),
        Entry(
            "signal_error",
            m.signal_error,
            {"traj": _noisy_traj(), "target": TARGET, "t": T},
            ("traj", "target", "t"),
            {"traj": "reference", "target": "target", "t": "times"},
            ("t",),
        ),
        Entry(
            "signal_error_rate",
            m.signal_error_rate,
            {"traj": _noisy_traj(), "target": TARGET, "t": T},
            ("traj", "target", "t"),
            {"traj": "reference", "target": "target", "t": "times"},
            ("t",),
        ),
        Entry(
            "early_stopping",
            m.early_stopping,
            {"traj": _noisy_traj(), "target": TARGET, "points_per_decade": 5},
            ("traj", "target"),
            {
                "traj": "reference",
                "target": "target",
                "t_max": "pos",
                "points_per_decade": "int",
                "max_points": "int",
            },
            examples=6,
        ),
        Entry(
            "truncation_errors",
            m.truncation_errors,
            {"target": TARGET},
            ("target",),
            {"target": "target", "k_max": "count"},
        ),
        Entry(
            "spiked_prediction",
            m.spiked_prediction,
            {"values": [4.0, 2.0], "noise": 0.3, "n": 4},
            ("values", "noise", "n"),
            {"values": "vector", "noise": "pos", "n": "int", "m": "int"},
            ("values",),
        ),
    ]


#: The result types of these entries, and the entry that builds each.
MODEL_TYPES = [
    ("ContinualLearning", "continual_learning"),
    ("EarlyStopping", "early_stopping"),
    ("LazyRichCell", "lazy_rich_cell"),
    ("MixedEuler", "mixed_euler"),
    ("MixedPhaseDiagram", "mixed_phase_diagram"),
    ("NetworkSimulation", "simulate_linear_network"),
    ("NetworkTrajectory", "linear_network"),
    ("NoisyTarget", "noisy_target"),
    ("PhaseDiagram", "lazy_rich_phase_diagram"),
    ("SpikedPrediction", "spiked_prediction"),
]
