r"""Simulated training of a two-layer linear network, any inputs, any init.

:func:`simulate_linear_network` runs :class:`mfflow.simulate.LinearNetworkModel` through the one
simulation stack (:func:`mfflow.simulate.run_flow`: an ODE solve of the weights;
:func:`mfflow.simulate.run_descent`: gradient descent) and returns a
:class:`NetworkSimulation`, which derives the same outputs as the exact
:class:`~mfflow.linear_networks.trajectory.NetworkTrajectory` at its recorded times: where
the trajectory has ``net.f(t)``, the simulation has ``sim.f`` (arrays over ``sim.t``) or
``sim.f(X)``. It is the reference the closed form is tested against and the fallback where
none exists (inputs not whitened, unbalanced inits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..simulate import LinearNetworkModel
from ..simulate.results import DescentResult, FlowResult
from ..simulate.run import run_descent, run_flow
from ..validation import as_matrix, as_positive_scalar, as_steps
from .kernels import (
    hidden_similarity,
    kernel_cosine_distance,
    ntk_from_grams,
    task_alignment,
)

__all__ = ["NetworkSimulation", "simulate_linear_network"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class NetworkSimulation:
    """A simulated run of ``x -> W2 W1 x``: weights at recorded times and what derives from them.

    Built by :func:`simulate_linear_network`. Arrays are over the records, ``(T, ...)``.

    Attributes
    ----------
    result : FlowResult or DescentResult
        The simulation stack's record (solver settings, ``nfev``; ``eta``, ``diverged``,
        ``imbalance_drift`` for descent).
    model : LinearNetworkModel
        Data, ``Sigma_xx``, ``Sigma_yx``.
    """

    result: FlowResult | DescentResult
    model: LinearNetworkModel = field(repr=False)
    _W1_0: FloatArray = field(repr=False)
    _W2_0: FloatArray = field(repr=False)

    @property
    def t(self) -> FloatArray:
        """Recorded times ``(T,)`` (``k eta`` for descent)."""
        return self.result.t

    @property
    def W1(self) -> FloatArray:
        """First layer ``(T, h, d_in)``."""
        return self.result.factors[0]

    @property
    def W2(self) -> FloatArray:
        """Second layer ``(T, d_out, h)``."""
        return self.result.factors[1]

    @property
    def W(self) -> FloatArray:
        """The network map ``W2 W1`` ``(T, d_out, d_in)``."""
        return self.result.W

    @property
    def loss(self) -> FloatArray:
        """``1/(2P) ||Y - W2 W1 X||_F^2`` ``(T,)`` (from the residuals)."""
        return self.result.loss

    @property
    def singular_values(self) -> FloatArray:
        """Singular values of ``W2 W1``, descending ``(T, min(d_in, d_out))``."""
        return self.result.singular_values

    @property
    def imbalance(self) -> FloatArray:
        """``W2^T W2 - W1 W1^T`` ``(T, h, h)`` (conserved by the flow)."""
        out = self.result.imbalance
        assert out is not None
        return out

    @cached_property
    def gram_in(self) -> FloatArray:
        """``W1^T W1`` ``(T, d_in, d_in)``."""
        return np.swapaxes(self.W1, -1, -2) @ self.W1

    @cached_property
    def gram_out(self) -> FloatArray:
        """``W2 W2^T`` ``(T, d_out, d_out)``."""
        return self.W2 @ np.swapaxes(self.W2, -1, -2)

    def _inputs(self, X: ArrayLike | None) -> FloatArray:
        if X is None:
            return self.model.X
        x = as_matrix(X, "X")
        d_in = self.model.X.shape[0]
        if x.shape[0] != d_in:
            raise ValueError(
                f"X: expected inputs of shape (d_in, P') = ({d_in}, P'), got {x.shape}"
            )
        return x

    def predict(self, X_new: ArrayLike) -> FloatArray:
        """``W2 W1 X_new`` ``(T, d_out, P')``."""
        return self.W @ self._inputs(X_new)

    def ntk(self, X: ArrayLike | None = None) -> FloatArray:
        """The NTK on inputs ``X`` (training by default): ``(T, P d_out, P d_out)``."""
        return ntk_from_grams(np, self.gram_in, self.gram_out, self._inputs(X))

    def kernel_distance(self, X: ArrayLike | None = None) -> FloatArray:
        """``1 - <K(0), K(t)> / (||K(0)|| ||K(t)||)`` ``(T,)``, ``K(0)`` the init's kernel."""
        x = self._inputs(X)
        init = (self._W1_0.T @ self._W1_0, self._W2_0 @ self._W2_0.T)
        return kernel_cosine_distance(np, init, (self.gram_in, self.gram_out), x @ x.T)

    def task_alignment(self) -> FloatArray:
        """``y^T K y / (||K||_F ||y||^2)`` on the training data ``(T,)``."""
        X, Y = self.model.X, self.model.data
        return task_alignment(
            np, (self.gram_in, self.gram_out), Y @ X.T, X @ X.T, float(np.sum(Y**2))
        )

    def hidden_similarity(self, X: ArrayLike | None = None) -> FloatArray:
        """``X^T W1^T W1 X`` ``(T, P, P)`` (training inputs by default)."""
        return hidden_similarity(np, self.gram_in, self._inputs(X))


def simulate_linear_network(
    X: ArrayLike,
    Y: ArrayLike,
    W1: ArrayLike,
    W2: ArrayLike,
    t: ArrayLike | None = None,
    *,
    eta: float | None = None,
    steps: ArrayLike | None = None,
    method: str = "DOP853",
    rtol: float = 1e-10,
    atol: float | None = None,
    max_step: float = np.inf,
    dense: bool = False,
    blowup: float = 1e100,
    throw: bool = False,
) -> NetworkSimulation:
    r"""Train ``x -> W2 W1 x`` on ``1/(2P) ||Y - W2 W1 X||_F^2`` by an ODE solver or descent.

    Flow (``eta=None``): ``dW1/dt = W2^T G``, ``dW2/dt = G W1^T``,
    ``G = Sigma_yx - W2 W1 Sigma_xx``, by :func:`mfflow.simulate.run_flow` (``method``,
    ``rtol``, ``atol``, ``max_step``, ``dense`` as in :func:`mfflow.simulate_gf`). Descent
    (``eta`` given): ``W_j <- W_j + eta * (the same)``, both layers at once, by
    :func:`mfflow.simulate.run_descent` (``steps`` or ``t``, ``blowup``, ``throw`` as in
    :func:`mfflow.simulate_gd`). Any inputs (whitened or not) and any init: the reference for
    :func:`mfflow.linear_network` and the way to train what it refuses.

    Parameters
    ----------
    X : (d_in, P) array
    Y : (d_out, P) array
    W1 : (h, d_in) array
    W2 : (d_out, h) array
    t : float or (T,) array
        Times to record (flow: required; descent: or ``steps``).
    eta : float, optional
        Step size: given, gradient descent instead of the flow.
    steps : int or (T,) int array, optional
        Descent iterations to record.
    method, rtol, atol, max_step, dense, blowup, throw
        The simulation stack's options (one policy for every model).

    Returns
    -------
    NetworkSimulation
        ``t``, ``W1``, ``W2``, ``W``, ``gram_in``, ``gram_out``, ``loss``, ``singular_values``,
        ``imbalance``, ``predict(X_new)``, ``ntk(X)``, ``kernel_distance(X)``,
        ``task_alignment()``, ``hidden_similarity(X)``; ``result`` holds the stack's record.

    Examples
    --------
    >>> import numpy as np, mfflow
    >>> X = np.random.default_rng(0).standard_normal((3, 10))  # not whitened: fine here
    >>> Y = np.ones((2, 10))
    >>> W1 = 0.1 * np.ones((4, 3)); W2 = 0.1 * np.ones((2, 4))  # not balanced: fine here
    >>> sim = mfflow.simulate_linear_network(X, Y, W1, W2, [0.0, 50.0])
    >>> sim.W.shape, bool(sim.loss[1] < sim.loss[0])
    ((2, 2, 3), True)
    >>> gd = mfflow.simulate_linear_network(X, Y, W1, W2, eta=0.01, steps=[0, 5000])
    >>> float(np.abs(gd.W[1] - sim.W[1]).max()) < 1e-2
    True
    """
    model = LinearNetworkModel(X, Y)
    init = model.as_init(W1, W2)
    if eta is None:  # the descent's keywords are checked all the same (one meaning everywhere)
        as_positive_scalar(blowup, "blowup")
        if not isinstance(throw, bool | np.bool_):
            raise TypeError(f"throw: expected True or False, got {throw!r}")
        if steps is not None:
            as_steps(steps)  # a bad value is named as such first
            raise ValueError("steps: iterations are for gradient descent; give eta as well")
        if t is None:
            raise ValueError("t: the flow needs the times to record")
        res: FlowResult | DescentResult = run_flow(
            model,
            init,
            1.0,
            t,
            method=method,
            rtol=rtol,
            atol=atol,
            max_step=max_step,
            dense=dense,
            caller="simulate_linear_network",
        )
    else:
        res = run_descent(model, init, 1.0, eta, steps=steps, t=t, blowup=blowup, throw=throw)
    return NetworkSimulation(res, model, init[0].copy(), init[1].copy())
