r"""Asymmetric matrix factorization ``Y ~ U V^T``: exact flow, inits, imbalance, studies.

The loss and its gradient flow, for a target ``Y`` ``(m, n)`` of any shape and factors
``U`` ``(m, r)``, ``V`` ``(n, r)``:

.. math::

    L(U, V) = \tfrac12 \|Y - U V^T\|_F^2, \qquad
    \dot U = (Y - U V^T) V, \quad \dot V = (Y - U V^T)^T U,

from ``U(0) = sqrt(alpha) U0``, ``V(0) = sqrt(alpha) V0``. The *imbalance*
``D = U^T U - V^T V`` ``(r, r)`` is conserved by the flow (both Gram matrices have the same
derivative ``U^T R V + V^T R^T U``, ``R = Y - U V^T``); gradient descent changes it by
``eta^2 (V^T R^T R V - U^T R R^T U)`` per step.

**Symmetrization** (docs/math.md §5). With ``Z = [U; V]`` ``(m + n, r)``,
``Ybar = [[0, Y], [Y^T, 0]]`` and ``J = diag(I_m, -I_n)``, one has
``[U V^T V; V U^T U] = 1/2 Z Z^T Z - 1/2 J Z D'`` where for a *lambda-balanced* init
(``D = lam I_r``) the last term is ``lam/2 J Z``. Hence ``Z' = Z / sqrt(2)`` solves

.. math::

    \dot Z' = \big(\bar Y + \tfrac{\lambda}{2} J\big) Z' - Z' Z'^T Z',

the *symmetric* flow of :func:`mfflow.closed_form` with the indefinite target
``Ybar + lam/2 J`` and init ``Z'(0) = sqrt(alpha) [U0; V0] / sqrt(2)``, where
``lam = alpha * lam0`` is the imbalance of the actual init (``lam0`` that of the shapes). So
``U V^T = 2 W'_{12}``, ``U U^T = 2 W'_{11}``, ``V V^T = 2 W'_{22}`` exactly. The eigenvalues of
``Ybar + lam/2 J`` are ``+-sqrt(s_i^2 + lam^2/4)`` for the singular values ``s_i`` of ``Y``, plus
``+lam/2`` (``m > n``) or ``-lam/2`` (``n > m``) on the extra dimensions; at the limit the
product ``U V^T`` still converges to (the best rank-r approximation of) ``Y``.

Existence of lambda-balanced shapes: ``U0^T U0 = V0^T V0 + lam0 I_r`` is positive definite for
``lam0 > 0``, so ``U0`` must have rank ``r``: ``r <= m``; symmetrically ``lam0 < 0`` needs
``r <= n``; balanced shapes (``lam0 = 0``) exist for every ``r``. See
:func:`lambda_balanced_init` for the construction.

For an arbitrary init there is no closed form: :func:`mfflow.simulate_asymmetric_gf` and
:func:`mfflow.simulate_asymmetric_gd` (the simulation stack, :mod:`mfflow.simulate`) integrate /
iterate and report the imbalance along the way, and :func:`imbalance_study` measures how far
such trajectories are from the balanced prediction.

Modules: :mod:`.exact` (the lambda-balanced closed form, :func:`lambda_of`), :mod:`.inits`
(balanced, lambda-balanced and Gaussian shapes), :mod:`.studies` (imbalance study, learning
curves).

Reference: H. Min and R. Vidal, arXiv:2508.20344 (2025), section on future work (the
symmetrization trick); docs/math.md §5.
"""

from __future__ import annotations

from .. import simulate as _stack
from ..compat import moved_names
from ..simulate import imbalance as imbalance
from .exact import LAMBDA_RTOL as LAMBDA_RTOL
from .exact import AsymmetricTrajectory as AsymmetricTrajectory
from .exact import closed_form_asymmetric as closed_form_asymmetric
from .exact import is_lambda_balanced as is_lambda_balanced
from .exact import lambda_of as lambda_of
from .exact import symmetrized_target as symmetrized_target
from .inits import balanced_init as balanced_init
from .inits import gaussian_pair_init as gaussian_pair_init
from .inits import lambda_balanced_init as lambda_balanced_init
from .studies import AsymmetricLearningCurves as AsymmetricLearningCurves
from .studies import ImbalanceStudy as ImbalanceStudy
from .studies import asymmetric_learning_curves as asymmetric_learning_curves
from .studies import imbalance_study as imbalance_study

__all__ = [
    "LAMBDA_RTOL",
    "AsymmetricLearningCurves",
    "AsymmetricTrajectory",
    "ImbalanceStudy",
    "asymmetric_learning_curves",
    "balanced_init",
    "closed_form_asymmetric",
    "gaussian_pair_init",
    "imbalance",
    "imbalance_study",
    "is_lambda_balanced",
    "lambda_balanced_init",
    "lambda_of",
    "symmetrized_target",
]

#: Names that moved to the simulation stack (:mod:`mfflow.simulate`); still readable here.
_MOVED = (
    "AsymmetricFlowResult",
    "AsymmetricGDResult",
    "simulate_asymmetric_gd",
    "simulate_asymmetric_gf",
)


__getattr__ = moved_names(__name__, globals(), _MOVED, _stack)
