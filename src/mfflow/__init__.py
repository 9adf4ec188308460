"""mfflow: exact training dynamics of overparameterized matrix factorization.

The public API is re-exported here; import ``mfflow`` and nothing deeper.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

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
from .sweep import SpecError as SpecError
from .sweep import load_spec as load_spec
from .sweep import open_sweep as open_sweep
from .sweep import run_sweep as run_sweep
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

try:
    __version__ = version("mfflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "AsymmetricFlowResult",
    "AsymmetricGDResult",
    "AsymmetricLearningCurves",
    "AsymmetricTrajectory",
    "CriticalStepSizes",
    "EarlyStopping",
    "EntrySampling",
    "FlowResult",
    "GDFlowGap",
    "GDResult",
    "GaussianSensing",
    "IdentityOperator",
    "ImbalanceStudy",
    "MeasurementOperator",
    "MixedEuler",
    "MixedPhaseDiagram",
    "NoisyTarget",
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
    "spectral_init",
    "spiked_prediction",
    "symmetrized_target",
    "theorem_constants",
    "theorem_intervals",
    "transition_times",
    "truncation_errors",
    "tu_parameters",
    "tu_step_size",
]
