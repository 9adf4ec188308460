r"""Two-layer linear networks ``x -> W2 W1 x`` trained on data: the network view, exactly.

The loss of a dataset ``X`` ``(d_in, P)``, ``Y`` ``(d_out, P)``,

.. math::

    L(W_1, W_2) = \frac1{2P}\|Y - W_2 W_1 X\|_F^2,

has, for **whitened** inputs (``X X^T / P = I``), the gradient flow

.. math::

    \dot W_1 = W_2^T(\Sigma_{yx} - W_2W_1), \qquad \dot W_2 = (\Sigma_{yx} - W_2W_1)W_1^T,
    \qquad \Sigma_{yx} = YX^T/P,

which is mfflow's asymmetric flow of ``1/2 ||Sigma_yx - U V^T||_F^2`` with ``U = W2``,
``V = W1^T``, in the same time units (docs/math.md §5). The network's imbalance
``W2^T W2 - W1 W1^T`` is ``U^T U - V^T V``: *lambda-balanced* weights
(``W2^T W2 - W1 W1^T = lambda I_h``, Saxe et al. 2014, Braun et al. 2022, Dominé et al. 2025)
are exactly mfflow's lambda-balanced inits with the same ``lambda``, and the flow is then the
closed form of the symmetrized problem (target ``[[0, Sigma], [Sigma^T, 0]] + lambda/2 J``).
mfflow keeps shape and scale apart (``U(0) = sqrt(alpha) U0``): here the weights are given as
they are, and :func:`linear_network` splits them into unit shapes and ``alpha`` itself.

``Sigma_yx`` may have any shape and rank: its singular values ``sigma_i`` become the
eigenvalues ``+-sqrt(sigma_i^2 + lambda^2/4)`` of the symmetrized target, its null directions
``+-lambda/2`` (or 0: such components of the weights then decay like ``1/t``); the product
converges to ``Sigma_yx`` (its best rank-``h`` approximation when ``h < rank``) for a generic
init.

**The neural tangent kernel** over all the weights, on inputs ``X``, row index
``p * d_out + o``:

.. math::

    K = (X^T W_1^T W_1 X) \otimes I_{d_{out}} + (X^T X) \otimes (W_2 W_2^T),
    \qquad \frac{d\,\mathrm{vec}(W X)}{dt} = \frac1P\, K\, \mathrm{vec}(Y - W X),

the ``1/P`` coming from the loss, not the kernel (:mod:`.kernels`). Everything the network view
asks about (NTK, kernel distance, task alignment, the hidden representation ``X^T W1^T W1 X``)
is a function of the product and the two Grams ``W1^T W1 = V V^T``, ``W2 W2^T = U U^T``, which
the closed form gives exactly at every time, including ``t = inf``.

Modules: :mod:`.data` (whitened inputs, whitening, teacher tasks), :mod:`.inits`
(lambda-balanced weights, the balance check), :mod:`.kernels` (NTK quantities from Grams),
:mod:`.trajectory` (:func:`linear_network`, exact), :mod:`.simulation`
(:func:`simulate_linear_network`: any data, any init, through the simulation stack),
:mod:`.phase` (lazy versus rich), :mod:`.continual` (a sequence of tasks).

References: A. M. Saxe, J. L. McClelland, S. Ganguli, "Exact solutions to the nonlinear dynamics
of learning in deep linear neural networks", ICLR 2014; L. Braun, C. C. J. Dominé,
J. E. Fitzgerald, A. M. Saxe, "Exact learning dynamics of deep linear networks with prior
knowledge", NeurIPS 2022; C. C. J. Dominé, N. Anguita, A. M. Proca, L. Braun, D. Kunin,
P. A. M. Mediano, A. M. Saxe, "From lazy to rich: exact learning dynamics in deep linear
networks", ICLR 2025; S. Fort et al., NeurIPS 2020 (kernel distance).
"""

from __future__ import annotations

from .continual import ContinualLearning as ContinualLearning
from .continual import continual_learning as continual_learning
from .data import WHITENING_TOL as WHITENING_TOL
from .data import teacher_task as teacher_task
from .data import whiten as whiten
from .data import whitened_inputs as whitened_inputs
from .inits import lambda_balanced_weights as lambda_balanced_weights
from .inits import layer_norms as layer_norms
from .inits import network_lambda as network_lambda
from .phase import LazyRichCell as LazyRichCell
from .phase import LazyRichCheck as LazyRichCheck
from .phase import PhaseDiagram as PhaseDiagram
from .phase import lazy_rich_cell as lazy_rich_cell
from .phase import lazy_rich_phase_diagram as lazy_rich_phase_diagram
from .simulation import NetworkSimulation as NetworkSimulation
from .simulation import simulate_linear_network as simulate_linear_network
from .trajectory import NetworkTrajectory as NetworkTrajectory
from .trajectory import linear_network as linear_network

__all__ = [
    "WHITENING_TOL",
    "ContinualLearning",
    "LazyRichCell",
    "LazyRichCheck",
    "NetworkSimulation",
    "NetworkTrajectory",
    "PhaseDiagram",
    "continual_learning",
    "lambda_balanced_weights",
    "layer_norms",
    "lazy_rich_cell",
    "lazy_rich_phase_diagram",
    "linear_network",
    "network_lambda",
    "simulate_linear_network",
    "teacher_task",
    "whiten",
    "whitened_inputs",
]
