"""mfflow: exact training dynamics of overparameterized matrix factorization.

The public API is re-exported here; import ``mfflow`` and nothing deeper. The sweep names
(``load_spec``, ``open_sweep``, ``run_sweep``, ``SpecError``) belong to the application layer
(:mod:`mfflow.app`) and are loaded on first use, so ``import mfflow`` stays light.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from .asymmetric import AsymmetricLearningCurves as AsymmetricLearningCurves
from .asymmetric import AsymmetricTrajectory as AsymmetricTrajectory
from .asymmetric import ImbalanceStudy as ImbalanceStudy
from .asymmetric import asymmetric_learning_curves as asymmetric_learning_curves
from .asymmetric import balanced_init as balanced_init
from .asymmetric import closed_form_asymmetric as closed_form_asymmetric
from .asymmetric import gaussian_pair_init as gaussian_pair_init
from .asymmetric import imbalance as imbalance
from .asymmetric import imbalance_study as imbalance_study
from .asymmetric import lambda_balanced_init as lambda_balanced_init
from .asymmetric import symmetrized_target as symmetrized_target
from .curves import crossing_times as crossing_times
from .deep import deep_mode_curve as deep_mode_curve
from .deep import deep_mode_time as deep_mode_time
from .deep import deep_random_init as deep_random_init
from .deep import deep_spectral_init as deep_spectral_init
from .deep import deep_transition_time as deep_transition_time
from .gd_vs_gf import CriticalStepSizes as CriticalStepSizes
from .gd_vs_gf import GDFlowGap as GDFlowGap
from .gd_vs_gf import critical_step_sizes as critical_step_sizes
from .gd_vs_gf import curvature as curvature
from .gd_vs_gf import gd_flow_gap as gd_flow_gap
from .linalg import eigh_descending as eigh_descending
from .linear_networks import ContinualLearning as ContinualLearning
from .linear_networks import LazyRichCell as LazyRichCell
from .linear_networks import NetworkSimulation as NetworkSimulation
from .linear_networks import NetworkTrajectory as NetworkTrajectory
from .linear_networks import PhaseDiagram as PhaseDiagram
from .linear_networks import continual_learning as continual_learning
from .linear_networks import lambda_balanced_weights as lambda_balanced_weights
from .linear_networks import lazy_rich_cell as lazy_rich_cell
from .linear_networks import lazy_rich_phase_diagram as lazy_rich_phase_diagram
from .linear_networks import linear_network as linear_network
from .linear_networks import network_lambda as network_lambda
from .linear_networks import simulate_linear_network as simulate_linear_network
from .linear_networks import teacher_task as teacher_task
from .linear_networks import whiten as whiten
from .linear_networks import whitened_inputs as whitened_inputs
from .mixed import MixedEuler as MixedEuler
from .mixed import MixedPhaseDiagram as MixedPhaseDiagram
from .mixed import mixed_dynamics as mixed_dynamics
from .mixed import mixed_euler as mixed_euler
from .mixed import mixed_init as mixed_init
from .mixed import mixed_phase_diagram as mixed_phase_diagram
from .mixed import mixed_rhs as mixed_rhs
from .mixed import mixed_task as mixed_task
from .mixed import tu_parameters as tu_parameters
from .mixed import tu_step_size as tu_step_size
from .noisy import EarlyStopping as EarlyStopping
from .noisy import NoisyTarget as NoisyTarget
from .noisy import SpikedPrediction as SpikedPrediction
from .noisy import balanced_flow as balanced_flow
from .noisy import early_stopping as early_stopping
from .noisy import noisy_target as noisy_target
from .noisy import signal_error as signal_error
from .noisy import signal_error_rate as signal_error_rate
from .noisy import spiked_prediction as spiked_prediction
from .noisy import truncation_errors as truncation_errors
from .problems import gaussian_init as gaussian_init
from .problems import low_rank_init as low_rank_init
from .problems import make_target as make_target
from .problems import orthogonal_init as orthogonal_init
from .problems import random_orthogonal as random_orthogonal
from .problems import rectangular_target as rectangular_target
from .problems import spectral_init as spectral_init
from .riccati import Trajectory as Trajectory
from .riccati import closed_form as closed_form
from .sensing import EntrySampling as EntrySampling
from .sensing import GaussianSensing as GaussianSensing
from .sensing import IdentityOperator as IdentityOperator
from .sensing import MeasurementOperator as MeasurementOperator
from .sensing import curve_distance as curve_distance
from .sensing import rip_constant as rip_constant
from .simulate import AsymmetricFlowResult as AsymmetricFlowResult
from .simulate import AsymmetricGDResult as AsymmetricGDResult
from .simulate import FlowResult as FlowResult
from .simulate import GDResult as GDResult
from .simulate import SensingResult as SensingResult
from .simulate import deep_descent as deep_descent
from .simulate import deep_flow as deep_flow
from .simulate import sensing_descent as sensing_descent
from .simulate import sensing_flow as sensing_flow
from .simulate import simulate_asymmetric_gd as simulate_asymmetric_gd
from .simulate import simulate_asymmetric_gf as simulate_asymmetric_gf
from .simulate import simulate_gd as simulate_gd
from .simulate import simulate_gf as simulate_gf
from .theory import TheoremCheck as TheoremCheck
from .theory import TheoremConstants as TheoremConstants
from .theory import TheoremRow as TheoremRow
from .theory import best_rank_k as best_rank_k
from .theory import check_theorem as check_theorem
from .theory import measured_intervals as measured_intervals
from .theory import measured_transition_times as measured_transition_times
from .theory import theorem_constants as theorem_constants
from .theory import theorem_intervals as theorem_intervals
from .theory import transition_times as transition_times

if TYPE_CHECKING:
    from .app.sweep import SpecError as SpecError
    from .app.sweep import load_spec as load_spec
    from .app.sweep import open_sweep as open_sweep
    from .app.sweep import run_sweep as run_sweep

#: Public names of the application layer, imported on first access.
_LAZY = {
    "SpecError": "mfflow.app.sweep",
    "load_spec": "mfflow.app.sweep",
    "open_sweep": "mfflow.app.sweep",
    "run_sweep": "mfflow.app.sweep",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mfflow' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


try:
    __version__ = version("mfflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "AsymmetricFlowResult",
    "AsymmetricGDResult",
    "AsymmetricLearningCurves",
    "AsymmetricTrajectory",
    "ContinualLearning",
    "CriticalStepSizes",
    "EarlyStopping",
    "EntrySampling",
    "FlowResult",
    "GDFlowGap",
    "GDResult",
    "GaussianSensing",
    "IdentityOperator",
    "ImbalanceStudy",
    "LazyRichCell",
    "MeasurementOperator",
    "MixedEuler",
    "MixedPhaseDiagram",
    "NetworkSimulation",
    "NetworkTrajectory",
    "NoisyTarget",
    "PhaseDiagram",
    "SensingResult",
    "SpecError",
    "SpikedPrediction",
    "TheoremCheck",
    "TheoremConstants",
    "TheoremRow",
    "Trajectory",
    "__version__",
    "asymmetric_learning_curves",
    "balanced_flow",
    "balanced_init",
    "best_rank_k",
    "check_theorem",
    "closed_form",
    "closed_form_asymmetric",
    "continual_learning",
    "critical_step_sizes",
    "crossing_times",
    "curvature",
    "curve_distance",
    "deep_descent",
    "deep_flow",
    "deep_mode_curve",
    "deep_mode_time",
    "deep_random_init",
    "deep_spectral_init",
    "deep_transition_time",
    "early_stopping",
    "eigh_descending",
    "gaussian_init",
    "gaussian_pair_init",
    "gd_flow_gap",
    "imbalance",
    "imbalance_study",
    "lambda_balanced_init",
    "lambda_balanced_weights",
    "lazy_rich_cell",
    "lazy_rich_phase_diagram",
    "linear_network",
    "load_spec",
    "low_rank_init",
    "make_target",
    "measured_intervals",
    "measured_transition_times",
    "mixed_dynamics",
    "mixed_euler",
    "mixed_init",
    "mixed_phase_diagram",
    "mixed_rhs",
    "mixed_task",
    "network_lambda",
    "noisy_target",
    "open_sweep",
    "orthogonal_init",
    "random_orthogonal",
    "rectangular_target",
    "rip_constant",
    "run_sweep",
    "sensing_descent",
    "sensing_flow",
    "signal_error",
    "signal_error_rate",
    "simulate_asymmetric_gd",
    "simulate_asymmetric_gf",
    "simulate_gd",
    "simulate_gf",
    "simulate_linear_network",
    "spectral_init",
    "spiked_prediction",
    "symmetrized_target",
    "teacher_task",
    "theorem_constants",
    "theorem_intervals",
    "transition_times",
    "truncation_errors",
    "tu_parameters",
    "tu_step_size",
    "whiten",
    "whitened_inputs",
]
