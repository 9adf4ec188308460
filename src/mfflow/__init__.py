"""mfflow: exact training dynamics of overparameterized matrix factorization.

The public API is re-exported here; import ``mfflow`` and nothing deeper.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .closed_form import Trajectory as Trajectory
from .closed_form import closed_form as closed_form
from .linalg import eigh_descending as eigh_descending
from .problems import gaussian_init as gaussian_init
from .problems import low_rank_init as low_rank_init
from .problems import make_target as make_target
from .problems import orthogonal_init as orthogonal_init
from .problems import random_orthogonal as random_orthogonal
from .problems import spectral_init as spectral_init
from .simulate import FlowResult as FlowResult
from .simulate import GDResult as GDResult
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

try:
    __version__ = version("mfflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = [
    "FlowResult",
    "GDResult",
    "TheoremCheck",
    "TheoremConstants",
    "TheoremRow",
    "Trajectory",
    "__version__",
    "best_rank_k",
    "check_theorem",
    "closed_form",
    "eigh_descending",
    "gaussian_init",
    "low_rank_init",
    "make_target",
    "measured_intervals",
    "measured_transition_times",
    "orthogonal_init",
    "random_orthogonal",
    "simulate_gd",
    "simulate_gf",
    "spectral_init",
    "theorem_constants",
    "theorem_intervals",
    "transition_times",
]
