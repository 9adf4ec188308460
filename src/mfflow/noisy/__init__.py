r"""Learning from a noisy target: exact test-error curves, when to stop, and what to expect.

The target is a low-rank signal plus Gaussian noise of level ``s`` (docs/math.md §12),

.. math::

    Y = Y^\star + N, \qquad Y^\star = P\,\mathrm{diag}(\theta)\,Q^\top, \qquad
    N = \begin{cases} s\,(G + G^\top)/\sqrt2 & \text{symmetric, } Q = P,\ n\times n,\\
    s\,G & \text{rectangular, } m\times n, \end{cases}

with ``G`` i.i.d. standard Gaussian (symmetric: off-diagonal variance ``s^2``, the spectrum of
``N`` fills ``[-2 s sqrt(n), 2 s sqrt(n)]``; rectangular: singular values up to
``s (sqrt(m) + sqrt(n))``). Gradient flow from a small init learns ``Y``'s top directions
first, the outliers the signal creates, and the noise bulk later: the **test error**
``e(t) = ||W(t) - Y*||_F`` has a minimum. Everything here is exact for the flow:

* :func:`signal_error` evaluates ``e(t)`` from the closed form (a symmetric
  :class:`~mfflow.Trajectory`, or a balanced :class:`~mfflow.AsymmetricTrajectory`), and
  :func:`signal_error_rate` its exact
  derivative ``d e^2/dt = 2 <W - Y*, W'>`` with ``W' = (Y - W) W + W (Y - W)`` (symmetric) or
  ``B' = R V V^T + U U^T R`` (``B = U V^T``, ``R = Y - B``), from the factor only;
* :func:`early_stopping` finds the optimal stopping time by a log-spaced scan refined by root
  finding on that derivative (:func:`minimize_in_time`);
* :func:`truncation_errors` is the classical baseline: Eckart-Young truncations of the noisy
  ``Y``;
* :func:`spiked_prediction` is the large-``n`` random-matrix prediction (BBP transition,
  inflated outliers and overlaps; Baik, Ben Arous & Péché 2005, Benaych-Georges & Nadakuditi
  2011/2012) of both, with the flow's ``alpha -> 0`` optimum: the modes above threshold are
  learned one at a time, and the best time is inside one transition, where the mode is learned
  by the fraction ``f* = theta c_l c_r / y`` (a shrinkage no truncation can do).

A rectangular target is solved exactly through the thin SVD of ``Y`` (:func:`balanced_flow`):
the symmetrized problem given as a factor, ``O(m n min(m, n))`` set-up, so ``m = 10^4`` rows
cost one thin SVD. The symmetric target ``Y* + N`` is full rank: its closed form needs one
``eigh`` of ``Y`` (``n`` up to a few thousand; the spectral path is then ``O(n)`` per time point).

References: J. Baik, G. Ben Arous, S. Péché, Ann. Probab. 33 (2005); F. Benaych-Georges and
R. R. Nadakuditi, Adv. Math. 227 (2011) and J. Multivariate Anal. 111 (2012); M. Gavish and
D. L. Donoho, IEEE Trans. Inf. Theory 60 (2014).
"""

from __future__ import annotations

from .spiked import SpikedPrediction, spiked_prediction, truncation_errors
from .stopping import (
    STOP_RTOL,
    EarlyStopping,
    early_stopping,
    minimize_in_time,
    signal_error,
    signal_error_rate,
)
from .target import NoisyTarget, balanced_flow, noisy_target

__all__ = [
    "STOP_RTOL",
    "EarlyStopping",
    "NoisyTarget",
    "SpikedPrediction",
    "balanced_flow",
    "early_stopping",
    "minimize_in_time",
    "noisy_target",
    "signal_error",
    "signal_error_rate",
    "spiked_prediction",
    "truncation_errors",
]
