r"""The exact solution of gradient flow on symmetric matrix factorization.

Gradient flow ``dU/dt = (Y - U U^T) U`` from ``U(0) = sqrt(alpha) U0`` drives ``W = U U^T``
along the matrix Riccati equation ``dW/dt = (Y - W) W + W (Y - W)``, ``W(0) = alpha U0 U0^T``,
whose solution (Min & Vidal, eq. 6) is, in the eigenbasis ``Y = Phi diag(lam) Phi^T``,

.. math::

    \tilde W(t) = S \, \alpha \tilde W_0 (I + \alpha G \tilde W_0)^{-1} S, \qquad
    S = \mathrm{diag}(e^{\lambda_i t}), \quad
    G = \mathrm{diag}\Big(\frac{e^{2\lambda_i t} - 1}{\lambda_i}\Big).

It holds for any shape ``U0`` (``r < n``, ``r = n``, ``r > n``, singular ``W0``) and any
symmetric ``Y`` (indefinite, rank-deficient); ``W0`` is never inverted.

Evaluated verbatim it overflows (``e^{2 lam t}`` at the last transition is
``~alpha^{-lam_1/lam_K}``) and cancels. We evaluate it as follows (docs/math.md §2):

1. ``W~0 = Phi^T U0 U0^T Phi = L L^T`` with ``L`` ``(n, m)`` *lower echelon* in the basis of
   descending eigenvalues (a QR of ``(Phi^T U0)^T``; pivots only at modes the init touches,
   rounding-level components exact zeros: :mod:`mfflow.riccati.structure`). This grading is
   what keeps the small system well conditioned at long times: column ``j`` of ``L`` only touches
   modes from its pivot on, so it is dominated by the growth of its pivot mode.
2. Push-through: ``W~ = P M^{-1} P^T`` with ``P = S L D`` and
   ``M = D (alpha^{-1} I + L^T G L) D`` ``(m, m)``, where the column scaling ``D`` is chosen,
   in log space, from the largest of the log-terms of column ``j`` (``-log alpha`` and
   ``log g_k + 2 log|L_kj|``): every exponential evaluated is ``exp(x)`` with ``x <= 0``,
   exactly ``exp(0)`` at each column's dominant entry (so ``lam t ~ 1e4`` loses no digits), and
   ``M``'s diagonal lies in ``[1, n + 1]``. ``P`` is ``R`` scaled row by row with bounded
   factors (see :func:`_dense_factor`).
3. ``M = C C^T`` (Cholesky) and the factor ``F~ = P C^{-T}``, ``W~ = F~ F~^T``,
   ``W = Phi W~ Phi^T``.

Exponentials below the float64 range are flushed to zero before any matrix product (no
subnormal slowdown); their true values are below what float64 can represent in the result.

Under a *spectral* initialization (``W~0`` diagonal with entries ``s_i``) the modes decouple
into logistic curves (eq. 7), evaluated in ``O(n)`` per time point as

.. math::

    \sigma_i(t) = \Big( \frac{e^{-2\lambda_i t}}{\alpha s_i} + h_i(t) \Big)^{-1},
    \qquad h_i(t) = \frac{1 - e^{-2\lambda_i t}}{\lambda_i} \;(= 2t \text{ at } \lambda_i = 0),

in log space (``logaddexp``), which is exact algebra on eq. 7 and never overflows.

Layout: :mod:`~mfflow.riccati.structure` (the one-off set-up), :mod:`~mfflow.riccati.kernel`
(the formulas, written once against the array API), :mod:`~mfflow.riccati.lapack` (NumPy's
in-place solve), :mod:`~mfflow.riccati.spectrum` (relatively accurate eigenvalues),
:mod:`~mfflow.riccati.trajectory` (the lazy evaluator).

Reference: H. Min and R. Vidal, "Understanding Incremental Learning with Closed-form Solution to
Gradient Flow on Overparameterized Matrix Factorization", arXiv:2508.20344 (2025).
"""

from __future__ import annotations

import math
from typing import Any

from numpy.typing import ArrayLike

from ..backend import ABSTRACT, backend_of, needs_grad, to_host, to_numpy
from ..validation import as_alpha, as_weight_decay
from .differentiable import check_differentiable, differentiable_arrays
from .kernel import log_frac, log_growth, spectral_residuals, spectral_values
from .spectrum import AccuracyWarning
from .structure import RANK_RTOL, SPECTRAL_RTOL, Structure, analyze, echelon_factor, is_factored
from .trajectory import LT_MAX, Trajectory, TrajectoryBatch

__all__ = [
    "LT_MAX",
    "RANK_RTOL",
    "SPECTRAL_RTOL",
    "AccuracyWarning",
    "Structure",
    "Trajectory",
    "TrajectoryBatch",
    "analyze",
    "closed_form",
    "echelon_factor",
    "log_frac",
    "log_growth",
    "spectral_residuals",
    "spectral_values",
]


def closed_form(
    Y: ArrayLike | tuple[Any, ...],
    U0: ArrayLike,
    alpha: float,
    *,
    spectral: bool | None = None,
    structure: Structure | None = None,
    weight_decay: float | None = None,
) -> Trajectory:
    r"""Exact gradient-flow trajectory of ``L(U) = 1/4 ||Y - U U^T||_F^2 (+ gamma/2 ||U||_F^2)``.

    Parameters
    ----------
    Y : (n, n) array, or a pair (basis (n, K), values (K,))
        Symmetric target (any signs; rank-deficient allowed). Checked, never symmetrized. Given
        as a factor ``Y = basis diag(values) basis^T`` (orthonormal ``basis``), no ``n x n`` matrix
        is ever formed: the dynamics are solved exactly in the ``d <= K + r`` dimensional subspace
        ``span(basis, U0)``, outside of which ``W(t)`` is zero (``n = 10^6`` is fine).
    U0 : (n, r) array
        Initialization shape, any ``r >= 1``; ``U(0) = sqrt(alpha) U0``.
    alpha : float
        Initialization scale, ``alpha > 0`` (down to ``1e-300``).
    spectral : bool, optional
        ``None`` (default) detects a spectral init (``Phi^T U0 U0^T Phi`` diagonal to
        ``SPECTRAL_RTOL``) and then uses the ``O(n)`` per-mode formula; ``True`` requires it
        (``ValueError`` otherwise); ``False`` forces the general path.
    structure : Structure, optional
        The set-up's decisions computed beforehand by :func:`analyze` on concrete arrays
        (``analyze(Y, U0, spectral=False)`` when ``Y`` or ``U0`` carry gradients). Needed to
        build the trajectory *inside* ``jax.jit``, where ``Y`` and ``U0`` have no values yet:
        the structure (shapes, path) is then static and only the numbers are traced.
    weight_decay : float, optional
        ``gamma >= 0`` (default 0): the loss gets ``+ gamma/2 ||U||_F^2`` and the flow becomes
        ``dU/dt = (Y - U U^T) U - gamma U = ((Y - gamma I) - U U^T) U``, the plain flow with
        target ``Y - gamma I``: eigenvalues shift by ``-gamma`` (``traj.lam``), modes with
        ``lam_i <= gamma`` are never learned, the others at ``log(1/alpha) / (2 (lam_i - gamma))``,
        and ``W(inf)`` is the positive part of ``Y - gamma I`` (docs/math.md §10). Exact for
        every path, including a factored target (whose complement directions then carry
        ``-gamma``). With ``structure``, it must match ``structure.weight_decay`` (``None``
        takes the structure's).

    Returns
    -------
    Trajectory
        Lazy evaluator: ``W(t)``, ``eigvals(t)``, ``loss(t)``, ``factor(t)``, ``mode_values(t)``;
        ``describe()`` says which exact path was taken.

    Notes
    -----
    Accuracy: relative Frobenius error ``<= 1e-12`` (typically ``1e-14``) against mpmath for
    well-conditioned inits, for ``alpha`` from 1 to 1e-300 and times past the last transition
    (tests/test_closed_form.py). The error grows with the conditioning of the init in the graded
    sense of docs/math.md §2: an init (nearly) orthogonal to an eigenvector of ``Y`` has that
    component represented only to ``~1e-16`` relative, and it grows like ``e^{2 lam t}``. A
    component below ``RANK_RTOL * max(n, r)`` times the init's scale (after projecting out the
    larger modes) is rounding and treated as an exact zero, so an init that misses an
    eigenvector exactly (a zero row of ``Phi^T U0``) never learns that mode.

    Backends: ``Y`` and ``U0`` may be PyTorch tensors or JAX arrays (extras ``mfflow[torch]``,
    ``mfflow[jax]``; NumPy inputs may be mixed in): evaluations then return arrays of that
    library on the input's device, in float32 if the input is float32 and float64 otherwise (JAX
    needs ``jax_enable_x64`` for float64). The set-up (``eigh``, spectral detection, QR) runs
    once in float64 NumPy on the host. Measured against the NumPy path: float64 agrees to ~1e-15
    relative; float32 to ~2e-6 relative to the largest entry (exponents ``lam t`` carry float32
    rounding), for ``alpha`` down to ~1e-30 (``alpha W0`` must be a normal float32). ``eigvals``
    uses the backend's ``svdvals`` (LAPACK ``dgejsv``, with relative accuracy for tiny
    eigenvalues, is NumPy-only).

    Gradients (:mod:`mfflow.riccati.differentiable`): with torch tensors that require grad, or
    under ``jax.grad``/``jax.jit``/``jax.vmap``, every evaluation is differentiable with
    respect to ``Y``, ``U0``, ``alpha`` (a 0-d tensor / JAX scalar) and ``t`` (a tensor / JAX
    array). When ``Y`` or ``U0`` carry gradients the set-up's numbers are recomputed in their
    namespace (``eigh``, QR) and the dense path is used; ``alpha`` enters through ``log alpha``
    (gradients stay finite down to ``alpha = 1e-300``). Where no derivative exists in this form
    (a repeated eigenvalue of ``Y`` with a gradient on ``Y``, an init missing an eigenvector
    exactly, a factored target) a ``ValueError`` names the input before anything is computed.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> Y = mfflow.make_target([3.0, 2.0, 1.0], seed=0)
    >>> U0 = mfflow.gaussian_init(3, 5, seed=1)
    >>> traj = mfflow.closed_form(Y, U0, alpha=1e-8)
    >>> traj.eigvals(50.0).round(6)
    array([3., 2., 1.])
    >>> mfflow.closed_form(Y, U0, 1e-8, weight_decay=1.5).eigvals(80.0).round(6)
    array([1.5, 0.5, 0. ])
    """
    if needs_grad(weight_decay):
        raise ValueError(
            "weight_decay: gradients with respect to the weight decay are not provided; pass a "
            "plain number (the flow with target Y - gamma I: differentiate in Y instead)"
        )
    factored = is_factored(Y)
    if isinstance(Y, tuple) and not factored:
        Y = list(Y)  # a tuple of rows is a matrix; a pair (basis (n, K), values) a factor
    factor = Y if isinstance(Y, tuple) else ()  # Y itself when factored
    grads = tuple(name for name, x in (("Y", Y), ("U0", U0), ("alpha", alpha)) if needs_grad(x))
    if factored and any(needs_grad(y) for y in factor):
        grads = ("Y", *grads)
    parts = {f"Y[{i}]": y for i, y in enumerate(factor)} if factored else {"Y": Y}
    backend = backend_of(**parts, U0=U0, alpha=alpha)
    shaped = "Y" in grads or "U0" in grads
    if shaped and spectral is True:
        raise ValueError(
            f"spectral: True refused, {' and '.join(g for g in grads if g != 'alpha')} carry "
            "gradients and the spectral formula has no derivative off the diagonal"
        )
    if structure is None:
        host_y = tuple(to_host(y) for y in factor) if factored else to_host(Y)
        host_u = to_host(U0)
        hosts = [*host_y] if factored else [host_y]
        if any(h is ABSTRACT for h in [*hosts, host_u]):
            raise ValueError(
                "structure: Y and U0 are abstract (under jax.jit) and the set-up needs their "
                "values; pass structure=mfflow.riccati.analyze(Y, U0, spectral=False) computed "
                "outside jit (static), or build the trajectory outside jit and jit its methods"
            )
        basis_tol = 1e-5 if backend.dtype_name == "float32" else 1e-10
        gamma = (
            0.0 if weight_decay is None else as_weight_decay(to_numpy(weight_decay, "weight_decay"))
        )
        structure = analyze(host_y, host_u, False if shaped else spectral, basis_tol, gamma)
    elif not isinstance(structure, Structure):
        raise TypeError(f"structure: expected a Structure from analyze(), got {structure!r}")
    elif weight_decay is not None and (
        as_weight_decay(to_numpy(weight_decay, "weight_decay")) != structure.weight_decay
    ):
        raise ValueError(
            f"weight_decay: {weight_decay!r} differs from the structure's "
            f"{structure.weight_decay!r}; build it with analyze(..., weight_decay=) or omit one"
        )
    check_differentiable(structure, grads, factored)
    arrays = None
    if shaped:
        arrays = differentiable_arrays(backend, structure, Y if "Y" in grads else None, U0)
    if "alpha" in grads:
        host_alpha = to_host(alpha)
        a = math.nan if host_alpha is ABSTRACT else as_alpha(host_alpha)
        log_alpha = backend.xp.log(backend.asarray(alpha))
        return Trajectory(structure, a, backend, grads, arrays, log_alpha)
    return Trajectory(structure, as_alpha(to_numpy(alpha, "alpha")), backend, grads, arrays)
