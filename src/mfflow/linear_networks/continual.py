r"""Continual learning in closed form: a sequence of tasks on the same inputs, switched at times.

Task ``k`` (targets ``Y_k``, the same whitened inputs ``X``) is trained by gradient flow on
``[s_k, s_{k+1})`` (``s_0 = 0``, ``s_K = inf``). The imbalance ``W2^T W2 - W1 W1^T`` is
conserved by the flow of *any* task, so the state at a switch is still lambda-balanced with the
same ``lambda``, and every phase is again the exact flow (:func:`mfflow.linear_network`) started
from the previous phase's end; the weights are handed over up to a rotation of the hidden
layer, which changes nothing the flow depends on (:meth:`NetworkTrajectory.weights`).

Measured, exactly, on the evaluation times: the loss of every task (forgetting is the rise of
an earlier task's loss while a later one is trained), the kernel distance to the initial NTK,
and the *representation drift* ``1 - cos(H(t), H(s_k))`` of the hidden similarity
``H = X^T W1^T W1 X`` since the current task began.

When a phase runs to convergence (``h >= rank Sigma_k``, generic state), the network ends at
``W = Sigma_yx^{(k)}`` whatever the init, so the loss of an earlier task ``j`` is then
``1/2 ||Sigma_j - Sigma_k||_F^2 + c_j``: converged forgetting is fixed by the tasks alone;
the init (prior knowledge, ``lambda``, scale) shapes how fast it happens and how much the
hidden representation has to move.

References: L. Braun, C. C. J. Dominé, J. E. Fitzgerald, A. M. Saxe, NeurIPS 2022 (exact
dynamics with prior knowledge, continual learning); C. C. J. Dominé et al., ICLR 2025.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..validation import as_matrix, as_nonempty_times, as_real
from .data import as_dataset
from .kernels import kernel_cosine_distance
from .trajectory import NetworkTrajectory, linear_network

__all__ = ["ContinualLearning", "continual_learning"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ContinualLearning:
    """The exact run of :func:`continual_learning`.

    Attributes
    ----------
    t : (T,) array
        Evaluation times (as given).
    switch_times : (K - 1,) array
        Task ``k`` starts at ``switch_times[k - 1]`` (task 0 at 0).
    active : (T,) int array
        The task being trained at each time.
    task_losses : (T, K) array
        ``1/(2P) ||Y_j - W2 W1 X||_F^2`` of every task ``j`` at every time.
    kernel_distance : (T,) array
        To the NTK of the initial weights, on the inputs.
    drift : (T,) array
        ``1 - cos(H(t), H(start of the active task))``, ``H = X^T W1^T W1 X``.
    end_losses : (K, K) array
        ``end_losses[k, j]``: loss of task ``j`` at the end of phase ``k`` (the next switch;
        the last phase at ``t = inf``, exactly).
    phases : tuple of NetworkTrajectory
        Phase ``k``'s exact trajectory, in time since ``switch_times[k - 1]``.
    lam : float
        The conserved ``lambda``.
    """

    t: FloatArray
    switch_times: FloatArray
    active: NDArray[np.int64]
    task_losses: FloatArray
    kernel_distance: FloatArray
    drift: FloatArray
    end_losses: FloatArray
    phases: tuple[NetworkTrajectory, ...]
    lam: float

    @property
    def forgetting(self) -> FloatArray:
        """``(K - 1,)``: loss of task ``k`` at the end of phase ``k + 1`` minus at its own end."""
        K = self.end_losses.shape[0]
        return np.array([self.end_losses[k + 1, k] - self.end_losses[k, k] for k in range(K - 1)])

    def to_table(self) -> str:
        """``end_losses`` as a text table (rows: end of phase, columns: task)."""
        K = self.end_losses.shape[0]
        head = "end of phase | " + " ".join(f"{'task ' + str(j):>11}" for j in range(K))
        rows = [head]
        for k in range(K):
            rows.append(f"{k:12d} | " + " ".join(f"{v:11.4g}" for v in self.end_losses[k]))
        return "\n".join(rows)


def _cos_distance(g0: FloatArray, g: FloatArray, M: FloatArray) -> FloatArray:
    """``1 - cos(X^T G0 X, X^T G X)`` for a stack ``g`` ``(T, d, d)``, ``M = X X^T``."""
    a = g0 @ M
    ab = np.einsum("ij,tji->t", a, M @ g)
    aa = float(np.sum(a * a.T))
    bb = np.einsum("tij,tji->t", g @ M, g @ M)
    ok = (aa > 0) & (bb > 0)
    den = np.sqrt(np.where(ok, aa * bb, 1.0))
    return np.where(ok, np.clip(1.0 - ab / den, 0.0, 1.0), math.nan)


def continual_learning(
    X: ArrayLike,
    tasks: Sequence[ArrayLike],
    W1: ArrayLike,
    W2: ArrayLike,
    switch_times: ArrayLike,
    t: ArrayLike,
) -> ContinualLearning:
    r"""Train ``x -> W2 W1 x`` on tasks ``Y_0, Y_1, ...`` in turn, switched at given times, exactly.

    Parameters
    ----------
    X : (d_in, P) array
        Whitened inputs shared by every task.
    tasks : sequence of K (d_out, P) arrays
        The targets, in training order (a task may come back: ``[Y_a, Y_b, Y_a]``).
    W1 : (h, d_in) array
    W2 : (d_out, h) array
        Lambda-balanced initial weights (:func:`mfflow.lambda_balanced_weights`).
    switch_times : (K - 1,) array
        Strictly increasing times ``> 0`` at which the next task replaces the current one.
    t : (T,) array
        Times ``>= 0`` to evaluate at (any order).

    Returns
    -------
    ContinualLearning
        ``task_losses`` ``(T, K)``, ``kernel_distance`` ``(T,)``, ``drift`` ``(T,)``,
        ``end_losses`` ``(K, K)``, ``forgetting`` ``(K - 1,)``, the phases' trajectories.

    Raises
    ------
    ValueError
        As :func:`mfflow.linear_network` (``X`` not whitened, ``W1, W2`` not balanced), and for
        tasks or switch times of the wrong shape.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> X = mfflow.whitened_inputs(3, 12, seed=0)
    >>> A = mfflow.teacher_task(X, 2, [2.0, 1.0], seed=1)
    >>> B = mfflow.teacher_task(X, 2, [2.0, 1.0], seed=2)
    >>> W1, W2 = mfflow.lambda_balanced_weights(3, 2, 2, lam=0.0, scale=1e-3, seed=3)
    >>> run = mfflow.continual_learning(X, [A, B], W1, W2, [30.0], np.linspace(0, 60, 7))
    >>> run.task_losses.shape, run.active.tolist()
    ((7, 2), [0, 0, 0, 1, 1, 1, 1])
    >>> SA, SB = A @ X.T / 12, B @ X.T / 12  # converged forgetting: set by the tasks alone
    >>> bool(np.isclose(run.end_losses[1, 0], 0.5 * np.sum((SA - SB) ** 2)))
    True
    """
    if isinstance(tasks, np.ndarray) and tasks.ndim == 2:
        raise TypeError("tasks: expected a sequence of (d_out, P) targets, got one 2-D array")
    if isinstance(tasks, str | bytes | dict) or not hasattr(tasks, "__iter__"):
        raise TypeError(
            f"tasks: expected a sequence of (d_out, P) targets, got {type(tasks).__name__}"
        )
    ys = list(tasks)
    if not ys:
        raise ValueError("tasks: expected at least one task")
    checked: list[NDArray[np.float64]] = []
    for j, y in enumerate(ys):
        try:
            _, yy = as_dataset(X, y)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"tasks[{j}]: {exc}") from None
        if checked and yy.shape != checked[0].shape:
            raise ValueError(f"tasks[{j}]: expected shape {checked[0].shape}, got {yy.shape}")
        checked.append(yy)
    x = as_dataset(X, checked[0])[0]
    K = len(checked)
    sw = np.atleast_1d(as_real(switch_times, "switch_times"))
    if sw.ndim != 1 or sw.size != K - 1:
        raise ValueError(
            f"switch_times: expected {K - 1} times for {K} tasks, got shape {sw.shape}"
        )
    if sw.size and (not np.all(np.isfinite(sw)) or sw[0] <= 0 or np.any(np.diff(sw) <= 0)):
        raise ValueError(f"switch_times: expected strictly increasing finite times > 0, got {sw}")
    tt = as_nonempty_times(t, "t")
    starts = np.concatenate([[0.0], sw])
    phases: list[NetworkTrajectory] = []
    w1, w2 = as_matrix(W1, "W1"), as_matrix(W2, "W2")  # NumPy throughout (torch: host copy)
    for k in range(K):
        net = linear_network(x, checked[k], w1, w2)
        phases.append(net)
        if k < K - 1:
            w1, w2 = net.weights(float(starts[k + 1] - starts[k]))
    active = np.searchsorted(starts, tt, side="right") - 1
    P = x.shape[1]
    sig = [y @ x.T / P for y in checked]
    irr = [0.5 * float(np.sum((y - s @ x) ** 2)) / P for y, s in zip(checked, sig, strict=True)]
    T = tt.size
    d_out, d_in = sig[0].shape
    W = np.empty((T, d_out, d_in))
    gi = np.empty((T, d_in, d_in))
    go = np.empty((T, d_out, d_out))
    start_gi = []
    for k, net in enumerate(phases):
        start_gi.append(net.gram_in(0.0))
        sel = np.flatnonzero(active == k)
        if sel.size:
            W[sel], gi[sel], go[sel] = net.state(tt[sel] - starts[k])
    losses = np.stack(
        [0.5 * np.sum((s - W) ** 2, axis=(-2, -1)) + c for s, c in zip(sig, irr, strict=True)],
        axis=1,
    )
    M = x @ x.T
    init = (phases[0].gram_in(0.0), phases[0].gram_out(0.0))
    kd = kernel_cosine_distance(np, init, (gi, go), M)
    drift = np.empty(T)
    for k in range(K):
        sel = np.flatnonzero(active == k)
        if sel.size:
            drift[sel] = _cos_distance(start_gi[k], gi[sel], M)
    ends = np.empty((K, K))
    for k, net in enumerate(phases):
        w_end = net.W(float(starts[k + 1] - starts[k]) if k < K - 1 else math.inf)
        ends[k] = [0.5 * float(np.sum((s - w_end) ** 2)) + c for s, c in zip(sig, irr, strict=True)]
    return ContinualLearning(
        t=tt,
        switch_times=sw,
        active=active.astype(np.int64),
        task_losses=losses,
        kernel_distance=kd,
        drift=drift,
        end_losses=ends,
        phases=tuple(phases),
        lam=phases[0].lam,
    )
