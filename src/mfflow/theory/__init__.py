r"""Incremental learning: the theorem's constants and intervals, certified versus measured.

Min & Vidal's theorem (docs/math.md §4; seed talk, "Main result under general small
initialization"): let ``Y`` be PSD with ``K`` distinct positive eigenvalues
``sigma_1 > ... > sigma_K``, ``W~0 = Phi^T U0 U0^T Phi`` invertible with inverse ``V`` and

.. math::

    M = \max(\|V\|_2, \|V^{-1}\|_2), \qquad
    c_\varepsilon = \frac{\varepsilon}{16 M^2}, \qquad
    C_\varepsilon = \frac{16 \sigma_1^2 M^2}{\varepsilon}, \qquad
    0 < \varepsilon \le \min(\sigma_K, 1).

If ``alpha <= c_eps / M`` and the intervals are non-empty, then
``||W(t) - Yhat_k||_2 <= eps`` on ``I_k`` (``Yhat_k`` the best rank-k approximation of ``Y``).

**Which endpoints are true.** The transcribed slide writes

.. math::

    I_k^{\text{slide}} = \Big[\frac{\log(c_\varepsilon/\alpha)}{2\sigma_k},
    \frac{\log(c_\varepsilon/\alpha)}{2\sigma_{k+1}}\Big], \qquad \sigma_{K+1} = 0,

but at its left end mode ``k`` has *not* been learned: the per-mode bound only says
``sigma_{k,W} <= eps`` there, so ``||W - Yhat_k||_2 ~ sigma_k``. The per-mode lower bound
``sigma_{k,W} >= sigma_k - eps`` starts at ``log(C_eps/alpha)/(2 sigma_k)``, which gives the
*corrected* intervals implemented by default,

.. math::

    I_k = \Big[\frac{\log(C_\varepsilon/\alpha)}{2\sigma_k},
    \frac{\log(c_\varepsilon/\alpha)}{2\sigma_{k+1}}\Big].

Numerical evidence (exact closed form; reproduced in tests/test_theory.py): at the slide's left
ends the error is ``sigma_k - O(c_eps)`` (``3.9973, 1.9993, 0.9990`` for spectrum ``[4, 2, 1]``,
a Gaussian init, ``eps = 0.1``, ``alpha = 1e-30``: 40, 20 and 10 times ``eps``). On the corrected
intervals, over 20 random instance-alphas (``n = 2..5``, Gaussian, scaled orthogonal and
ill-conditioned inits, ``eps`` from ``0.01 min(sigma_K, 1)`` to ``min(sigma_K, 1)``, ``alpha``
from the largest admissible value down to ``1e-300``;
``tests/test_theory.py::test_corrected_intervals_hold_on_random_instances``), the largest error
was ``0.028 eps`` (``docs/checks/check_04_theorem.py``, independently of this code: ``0.028 eps``
on 56 instance-alphas): the corrected bound, whose proof gives ``eps / 4`` (docs/math.md §4),
holds with a wide margin (the measured intervals are wider still), and the slide's right ends
are fine.

**Transition times and delays.** Mode ``i`` makes its transition near
``log(1/alpha) / (2 sigma_i)``; shrinking ``alpha`` to ``e^{-m} alpha`` delays it by
``m / (2 sigma_i)`` (docs/math.md §4), not ``m / sigma_i`` as the talk writes informally. Under a
spectral init this is exact algebra on eq. 7: mode ``i`` reaches ``f sigma_i`` at
``(log(1/alpha) + log(f (sigma_i - alpha s_i) / ((1 - f) s_i))) / (2 sigma_i)``. For general
inits a least-squares fit of measured transition times over ``alpha`` in ``1e-4 .. 1e-40``
gives slopes ``1/(2 sigma_i)`` to a few parts in ``1e-4`` (tests/test_theory.py).

**Failed hypotheses: the policy.** A number is returned only where it exists; NaN is never
presented as a number.

* What *reports* says so: :func:`theorem_constants` and :func:`check_theorem` never raise on a
  failed hypothesis (eps above ``min(sigma_K, 1)``, a repeated or no positive eigenvalue, ``Y``
  not PSD, a singular ``W0`` (``r < n``, rank-deficient ``U0``, ``U0`` orthogonal to an
  eigenvector), ``alpha`` too large, an empty interval). ``hypotheses_hold`` is ``False``,
  ``failures`` has one line per failure starting with the argument it concerns, and ``status``
  reads ``"hypotheses fail: <which>"``; a quantity that does not exist then is ``None``
  (``TheoremRow.max_error_on_certified`` of an empty interval, a ``measured`` interval the error
  never enters, ``C_eps`` without a positive eigenvalue), and ``M = inf``, ``c_eps = 0`` are the
  exact limits for a singular ``W0``.
* What *certifies* refuses: :func:`theorem_intervals` raises a :class:`ValueError` that starts
  with the arguments concerned and lists every failure (``check=False`` evaluates the formulas
  anyway, as uncertified numbers).
* What *measures* uses the event's time: :func:`measured_transition_times` is ``inf`` for a mode
  that never reaches the level (the first time of an event that never happens), never NaN.

The application layer shows the same: ``mfflow run`` and the report print ``hypotheses fail:
...`` and ``-`` for a missing number, sweep cells record ``hypotheses_hold`` and the failures as
text next to the (missing-value) numbers.

Every function takes either ``(Y, U0, alpha)`` or a built :class:`mfflow.Trajectory` (then the
set-up, eigendecomposition and init factor, is not redone): ``check_theorem(traj, eps=0.1)``.

Layout: :mod:`~mfflow.theory.constants` (constants, certified intervals, transition times),
:mod:`~mfflow.theory.measured` (measured intervals and transition times by root finding),
:mod:`~mfflow.theory.check` (the interval-by-interval check).

Reference: H. Min and R. Vidal, "Understanding Incremental Learning with Closed-form Solution to
Gradient Flow on Overparameterized Matrix Factorization", arXiv:2508.20344 (2025).
"""

from .check import ERROR_SAMPLES, TheoremCheck, TheoremRow, check_theorem
from .constants import (
    TheoremConstants,
    best_rank_k,
    theorem_constants,
    theorem_intervals,
    transition_times,
)
from .measured import (
    ROOT_RTOL,
    SCAN_POINTS_PER_DECADE,
    measured_intervals,
    measured_transition_times,
)

__all__ = [
    "ERROR_SAMPLES",
    "ROOT_RTOL",
    "SCAN_POINTS_PER_DECADE",
    "TheoremCheck",
    "TheoremConstants",
    "TheoremRow",
    "best_rank_k",
    "check_theorem",
    "measured_intervals",
    "measured_transition_times",
    "theorem_constants",
    "theorem_intervals",
    "transition_times",
]
