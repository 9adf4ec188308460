r"""The neural tangent kernel of ``x -> W2 W1 x`` and the quantities built on it, from Grams.

For the parameters ``theta = (W1, W2)`` (all of them, no biases) and inputs ``X`` ``(d_in, P)``,
the Jacobian of the outputs ``f_o(x_p) = (W2 W1 x_p)_o`` gives

.. math::

    K_{(p, o), (p', o')} = \sum_\theta \partial_\theta f_o(x_p)\, \partial_\theta f_{o'}(x_{p'})
    = (x_p^T W_1^T W_1 x_{p'})\,\delta_{oo'} + (x_p^T x_{p'})\,(W_2 W_2^T)_{oo'},

i.e. ``K = (X^T G_in X) kron I_{d_out} + (X^T X) kron G_out`` with ``G_in = W1^T W1``,
``G_out = W2 W2^T`` and the row index ``p * d_out + o`` (example-major). The ``1/P`` of the loss
``1/(2P) ||Y - W2 W1 X||^2`` is not in ``K``: under gradient flow the outputs on the training
inputs move as ``d vec(F)/dt = K vec(Y - F) / P``.

Everything here needs only the Grams and ``M = X X^T`` ``(d_in, d_in)``, never the
``(P d_out)^2`` kernel itself (unless :func:`ntk_from_grams` is asked for it):

.. math::

    \langle K_a, K_b\rangle_F = d_{out} \operatorname{tr}(G^a_{in} M G^b_{in} M)
    + \operatorname{tr}(G^a_{in} M^2) \operatorname{tr} G^b_{out}
    + \operatorname{tr}(G^b_{in} M^2) \operatorname{tr} G^a_{out}
    + \operatorname{tr}(M^2) \operatorname{tr}(G^a_{out} G^b_{out}),

the *kernel distance* ``1 - <K_a, K_b> / (||K_a|| ||K_b||)`` (Fort et al., NeurIPS 2020) and the
*kernel-task alignment* ``y^T K y / (||K||_F ||y||^2)``, ``y = vec(Y)`` (Cristianini et al.,
NeurIPS 2001), with ``y^T K y = tr(N G_in N^T) + tr(G_out N N^T)``, ``N = Y X^T``.

Every function takes an array namespace ``xp`` (NumPy, or torch/JAX through array-api-compat)
and arrays with any leading (time) axes.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "hidden_similarity",
    "kernel_cosine_distance",
    "ntk_from_grams",
    "ntk_inner",
    "task_alignment",
]


def _tr_prod(xp: Any, A: Any, B: Any) -> Any:
    """``tr(A B)`` for symmetric ``A`` (or ``B``), over the last two axes."""
    return xp.sum(A * xp.matrix_transpose(B), axis=(-2, -1))


def _trace(xp: Any, A: Any) -> Any:
    return xp.sum(xp.linalg.diagonal(A), axis=-1)


def ntk_from_grams(xp: Any, G_in: Any, G_out: Any, X: Any) -> Any:
    """The kernel ``(..., P d_out, P d_out)`` (row index ``p * d_out + o``).

    Parameters
    ----------
    G_in : (..., d_in, d_in) array
        ``W1^T W1``.
    G_out : (..., d_out, d_out) array
        ``W2 W2^T``.
    X : (d_in, P) array
    """
    d_out = G_out.shape[-1]
    P = X.shape[-1]
    Xt = xp.matrix_transpose(X)
    A = Xt @ G_in @ X  # (..., P, P)
    B = Xt @ X  # (P, P)
    eye = xp.eye(d_out, dtype=A.dtype, device=getattr(A, "device", None))
    lead = A.shape[:-2]
    K = (
        A[..., :, None, :, None] * eye[:, None, :]
        + B[:, None, :, None] * G_out[..., None, :, None, :]
    )
    return xp.reshape(K, (*lead, P * d_out, P * d_out))


def ntk_inner(xp: Any, grams_a: tuple[Any, Any], grams_b: tuple[Any, Any], M: Any) -> Any:
    """``<K_a, K_b>_F`` of the kernels of two weight states on inputs with ``M = X X^T``.

    ``grams_* = (G_in (..., d_in, d_in), G_out (..., d_out, d_out))``; broadcasts over leading
    axes.
    """
    gia, goa = grams_a
    gib, gob = grams_b
    d_out = goa.shape[-1]
    MM = M @ M
    return (
        d_out * _tr_prod(xp, gia @ M, gib @ M)
        + _tr_prod(xp, gia, MM) * _trace(xp, gob)
        + _tr_prod(xp, gib, MM) * _trace(xp, goa)
        + _tr_prod(xp, M, M) * _tr_prod(xp, goa, gob)
    )


def kernel_cosine_distance(
    xp: Any, grams_a: tuple[Any, Any], grams_b: tuple[Any, Any], M: Any
) -> Any:
    """``1 - <K_a, K_b> / (||K_a|| ||K_b||)`` in ``[0, 1]`` (``nan`` if a kernel is zero)."""
    ab = ntk_inner(xp, grams_a, grams_b, M)
    den = xp.sqrt(ntk_inner(xp, grams_a, grams_a, M) * ntk_inner(xp, grams_b, grams_b, M))
    ok = den > 0
    safe = xp.where(ok, den, xp.ones_like(den))
    dist = xp.clip(1.0 - ab / safe, 0.0, 1.0)  # rounding can leave -1e-16 at t = 0
    return xp.where(ok, dist, xp.full_like(den, float("nan")))


def task_alignment(xp: Any, grams: tuple[Any, Any], N: Any, M: Any, y_norm2: float) -> Any:
    """``y^T K y / (||K||_F ||y||^2)`` with ``N = Y X^T``, ``M = X X^T``, ``||y||^2 = ||Y||_F^2``.

    In ``[0, 1]`` for PSD ``K``; 1 only for a rank-one kernel ``K ~ y y^T``. ``nan`` for a zero
    kernel or target.
    """
    gi, go = grams
    yky = _tr_prod(xp, N @ gi, xp.matrix_transpose(N)) + _tr_prod(
        xp, go, N @ xp.matrix_transpose(N)
    )
    den = xp.sqrt(ntk_inner(xp, grams, grams, M)) * y_norm2
    ok = den > 0
    safe = xp.where(ok, den, xp.ones_like(den))
    return xp.where(ok, yky / safe, xp.full_like(den, float("nan")))


def hidden_similarity(xp: Any, G_in: Any, X: Any) -> Any:
    """The hidden layer's representational similarity ``X^T W1^T W1 X`` ``(..., P, P)``."""
    return xp.matrix_transpose(X) @ G_in @ X
