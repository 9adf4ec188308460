r"""Gradients through the closed form: the set-up redone in the input's namespace.

With NumPy inputs the set-up runs once on the host (:mod:`mfflow.riccati.structure`). When ``Y``
or ``U0`` carry gradients (a torch tensor with ``requires_grad``, a JAX value under
``jax.grad``/``jax.jit``/``jax.vmap``), the *structure* (which path, the shapes) is still decided
on the host, from detached float64 copies (or given, under ``jax.jit``), but every number the
evaluation uses is recomputed from the inputs with differentiable operations of their namespace:

* ``lam, Phi = eigh(Y)`` (descending, minus the weight decay ``gamma``), when ``Y`` carries a
  gradient (else the host's, constant);
* ``U~0 = Phi^T U0`` and ``L = R^T`` from the reduced QR ``U~0^T = Q R``;

so autograd / ``jax.grad`` see the closed form as a smooth function of ``(Y, U0, alpha, t)``
(docs/math.md §2). What is static: the shapes ``n, r``, the path (always ``"dense"`` when ``Y`` or
``U0`` carry gradients: the spectral formula has no derivative in the off-diagonal directions a
perturbation of ``U0`` or ``Y`` opens), the chunking.

Where no derivative can be given, :func:`check_differentiable` raises before anything is
computed, naming the input (never a silently detached result): a repeated eigenvalue of ``Y``
(the eigenvector derivative is singular; ``W(t)`` is smooth in ``Y`` but not through ``eigh``), an
init with a component treated as an exact zero (the exact structure has no derivative off it),
a target given as a low-rank factor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import Backend
from ..linalg import eig_clusters, eig_tol
from .structure import Structure

__all__ = ["check_differentiable", "differentiable_arrays"]


def check_differentiable(
    structure: Structure, grads: tuple[str, ...], reduced_target: bool
) -> None:
    """Raise ``ValueError`` naming the input if the gradients asked for cannot be provided."""
    if not grads:
        return
    shaped = [g for g in grads if g in ("Y", "U0")]
    if reduced_target and shaped:
        raise ValueError(
            f"{', '.join(shaped)}: gradients through a target given as a low-rank factor "
            "(basis, values) are not provided; pass the (n, n) target instead"
        )
    if not shaped:
        return
    if structure.path != "dense":  # only reachable with a structure= built for the spectral path
        raise ValueError(
            f"structure: {', '.join(shaped)} carry gradients, which need the dense path; pass "
            "structure=mfflow.riccati.analyze(Y, U0, spectral=False)"
        )
    if "Y" in grads:
        lam = structure.lam
        for start, stop in eig_clusters(lam, eig_tol(lam)):
            if stop - start > 1:
                raise ValueError(
                    f"Y: gradient with respect to a target with a repeated eigenvalue "
                    f"({lam[start]:.6g}, {stop - start} times) is not provided: the derivative "
                    "of its eigenvectors is singular there; perturb Y to split it, or take "
                    "gradients with respect to U0, alpha or t only"
                )
    L = structure.factor
    m = L.shape[1]
    plain = m == min(L.shape[0], structure.r) and np.all(np.abs(np.diag(L[:m])) > 0)
    if not plain:
        raise ValueError(
            f"{', '.join(shaped)}: the init has an exactly zero (or rounding-level) component "
            "along an eigenvector of Y that is not the last, which the closed form keeps exactly "
            "zero; the derivative off that structure is not provided (perturb U0)"
        )


def _eigh_descending(b: Backend, Y: Any) -> tuple[Any, Any]:
    xp = b.xp
    lam, phi = xp.linalg.eigh(Y)
    idx = b.index(np.arange(lam.shape[0] - 1, -1, -1))
    return xp.take(lam, idx, axis=0), xp.take(phi, idx, axis=1)


def differentiable_arrays(
    b: Backend, structure: Structure, Y: Any | None, U0: Any
) -> dict[str, Any]:
    """``lam``, ``Phi``, ``L`` in ``b``'s namespace, recomputed from ``Y`` (if given: it carries a
    gradient) and ``U0`` with differentiable operations."""
    xp = b.xp
    if Y is not None:
        y = b.asarray(Y)
        lam, phi = _eigh_descending(b, 0.5 * (y + xp.matrix_transpose(y)))
        if structure.weight_decay:
            lam = lam - structure.weight_decay  # the flow's target is Y - gamma I
    else:
        lam, phi = b.asarray(structure.lam), b.asarray(structure.Phi)
    ut = xp.matrix_transpose(phi) @ b.asarray(U0)
    _, R = xp.linalg.qr(xp.matrix_transpose(ut))
    return {"lam": lam, "Phi": phi, "L": xp.matrix_transpose(R)}
