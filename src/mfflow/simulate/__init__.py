r"""Numerical references: gradient flow by an ODE solver, and gradient descent, for every model.

One stack for the symmetric factorization ``1/4 ||Y - U U^T||_F^2`` (the paper's), the
asymmetric ``1/2 ||Y - U V^T||_F^2``, both through a measurement operator (sensing, completion),
the deep ``1/2 ||Y - W_L ... W_1||_F^2`` and the two-layer linear network on data
``1/(2P) ||Y - W2 W1 X||_F^2`` (:func:`mfflow.simulate_linear_network`):

* :mod:`.models`: each loss as a :class:`Model` (state layout, negative gradient, product, loss,
  scale convention ``F_j(0) = alpha^{1/depth} F_j``);
* :mod:`.ode`: the one ODE driver and its one tolerance policy (``atol`` scaled with the init);
* :mod:`.descent`: the one gradient-descent loop (chunked blow-up check with exact replay) and its
  one divergence policy (flagged, NaN records after it; ``throw=True`` raises naming ``eta``);
* :mod:`.results`: :class:`FlowResult` and :class:`DescentResult`, with the same derived
  quantities (``W``, ``loss``, ``singular_values``, ``recovery_error``, ``transition_times``);
* :mod:`.run`: :func:`run_flow` / :func:`run_descent` for any model;
* :mod:`.api`: the public entry points, the same keywords everywhere.

They are what the closed forms (:func:`mfflow.closed_form`, :func:`mfflow.closed_form_asymmetric`,
:func:`mfflow.deep_mode_curve`) are checked against, and what one falls back to where no closed
form exists. Gradient descent is ``eta``-consistent of order 1 with the flow: ``U_k`` tracks
``U(k eta)`` with an error ``O(eta)`` at a fixed horizon (the constant grows like
``log(1/alpha)``, the delay of the last transition).

``GDResult``, ``AsymmetricFlowResult``, ``AsymmetricGDResult`` and ``SensingResult`` are the
former names of these types, kept as aliases: ``GDResult`` and ``AsymmetricGDResult`` are
:class:`DescentResult`, ``AsymmetricFlowResult`` is :class:`FlowResult`, and ``SensingResult``
is their common base :class:`SimulationResult`.
"""

from __future__ import annotations

from .api import deep_descent as deep_descent
from .api import deep_flow as deep_flow
from .api import sensing_descent as sensing_descent
from .api import sensing_flow as sensing_flow
from .api import simulate_asymmetric_gd as simulate_asymmetric_gd
from .api import simulate_asymmetric_gf as simulate_asymmetric_gf
from .api import simulate_gd as simulate_gd
from .api import simulate_gf as simulate_gf
from .descent import CHECK_EVERY as CHECK_EVERY
from .descent import MAX_GD_STEPS as MAX_GD_STEPS
from .models import AsymmetricModel as AsymmetricModel
from .models import DeepModel as DeepModel
from .models import LinearNetworkModel as LinearNetworkModel
from .models import Model as Model
from .models import SymmetricModel as SymmetricModel
from .models import WeightDecay as WeightDecay
from .models import flow_jacobian as flow_jacobian
from .models import flow_rhs as flow_rhs
from .models import imbalance as imbalance
from .ode import ATOL_FACTOR as ATOL_FACTOR
from .ode import MAX_ODE_STEPS as MAX_ODE_STEPS
from .ode import ODE_METHODS as ODE_METHODS
from .ode import RTOL_MIN as RTOL_MIN
from .results import DescentResult as DescentResult
from .results import FlowResult as FlowResult
from .results import SimulationResult as SimulationResult
from .run import run_descent as run_descent
from .run import run_flow as run_flow

#: Former name of :class:`DescentResult` (symmetric gradient descent).
GDResult = DescentResult
#: Former name of :class:`FlowResult` (asymmetric flow).
AsymmetricFlowResult = FlowResult
#: Former name of :class:`DescentResult` (asymmetric descent).
AsymmetricGDResult = DescentResult
#: Former name of the sensing/deep result: the common base of both result types.
SensingResult = SimulationResult

__all__ = [
    "ATOL_FACTOR",
    "CHECK_EVERY",
    "MAX_GD_STEPS",
    "MAX_ODE_STEPS",
    "ODE_METHODS",
    "RTOL_MIN",
    "AsymmetricFlowResult",
    "AsymmetricGDResult",
    "AsymmetricModel",
    "DeepModel",
    "DescentResult",
    "FlowResult",
    "GDResult",
    "LinearNetworkModel",
    "Model",
    "SensingResult",
    "SimulationResult",
    "SymmetricModel",
    "WeightDecay",
    "deep_descent",
    "deep_flow",
    "flow_jacobian",
    "flow_rhs",
    "imbalance",
    "run_descent",
    "run_flow",
    "sensing_descent",
    "sensing_flow",
    "simulate_asymmetric_gd",
    "simulate_asymmetric_gf",
    "simulate_gd",
    "simulate_gf",
]
