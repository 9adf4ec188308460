"""The lazy evaluator of an exact gradient-flow trajectory (built by :func:`mfflow.closed_form`).

A :class:`Trajectory` holds what does not depend on ``t`` (:class:`~mfflow.riccati.structure.
Structure`: the basis, the path, the init's factor), the scale ``alpha`` and a
:class:`~mfflow.backend.Backend`; every evaluation calls the one kernel
(:mod:`mfflow.riccati.kernel`) in that backend, chunk by chunk of time points, so memory is
bounded by a chunk plus the output.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..backend import ABSTRACT, NUMPY, Backend, needs_grad, to_host, to_numpy
from ..linalg import eig_clusters, eig_tol
from ..parallel import map_chunks, num_threads, single_threaded_blas
from ..validation import (
    MAGNITUDE_MAX,
    as_alpha,
    as_positive_int,
    as_symmetric,
    as_times,
    check_bytes,
)
from .kernel import chunks, dense_factor, spectral_residuals, spectral_values
from .spectrum import factor_eigvals
from .structure import Path, Structure

__all__ = ["LT_MAX", "Trajectory", "TrajectoryBatch", "as_alphas"]

FloatArray = NDArray[np.float64]

#: Largest ``max|lam| t`` evaluated: far beyond it every mode has converged (or decayed) to
#: float64 precision, and ``e^{lam t}``'s exponent itself would overflow.
LT_MAX = 1e300


@dataclass(frozen=True, eq=False)
class Trajectory:
    r"""The exact gradient-flow trajectory ``W(t) = U(t) U(t)^T``, evaluated lazily.

    Built by :func:`mfflow.closed_form` (do not construct it directly). Every method accepts a
    scalar ``t`` (the time axis is then dropped) or a 1-D array of ``T`` times ``>= 0``.

    Attributes
    ----------
    structure : Structure
        The set-up: ``lam`` ``(d,)`` descending eigenvalues of ``Y`` on the basis ``Phi``
        ``(n, d)``, the path and the init's factor (``d = n`` unless the target was given as a
        low-rank factor, see :func:`mfflow.closed_form`).
    alpha : float
        Initialization scale (``nan`` when it is an abstract JAX value under ``jax.jit``).
    backend_info : Backend
        Namespace, dtype and device of the results: NumPy float64 by default; torch/JAX when
        the inputs were such arrays (float32 inputs stay float32). The attributes ``lam``,
        ``Phi``, ``L`` stay float64 NumPy arrays (the set-up runs on the host).
    grad_inputs : tuple of str
        The inputs (``"Y"``, ``"U0"``, ``"alpha"``) gradients flow from (torch
        ``requires_grad``, JAX tracers); see :mod:`mfflow.riccati.differentiable`.
    """

    structure: Structure = field(repr=False)
    alpha: float
    backend_info: Backend = field(repr=False, default=NUMPY)
    grad_inputs: tuple[str, ...] = ()
    _arrays: dict[str, Any] | None = field(repr=False, default=None)
    _log_alpha: Any = field(repr=False, default=None)
    _dev: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.structure, Structure) or not isinstance(self.backend_info, Backend):
            raise TypeError(
                "Trajectory: build it with mfflow.closed_form(Y, U0, alpha), not directly"
            )
        if self._log_alpha is None:
            object.__setattr__(self, "alpha", as_alpha(self.alpha))
            check_initial_scale(self.structure, self.alpha)
        b, st = self.backend_info, self.structure
        dev: dict[str, Any] = {"lam": b.asarray(st.lam), "Phi": b.asarray(st.Phi)}
        if st.path == "spectral":
            scales = st.spectral_scales
            keep = np.flatnonzero(scales > 0)
            select = np.zeros((st.lam.size, keep.size))
            select[keep, np.arange(keep.size)] = 1.0
            with np.errstate(divide="ignore"):
                dev["log_s"] = b.asarray(np.log(scales))
            dev["select"] = b.asarray(select)
            dev["keep"] = keep
        else:
            dev["L"] = b.asarray(st.factor)
        dev.update(self._arrays or {})
        object.__setattr__(self, "_dev", dev)

    # ---- what the set-up found ----------------------------------------------------------------
    @property
    def lam(self) -> FloatArray:
        """Eigenvalues of the flow's target on the basis ``Phi``, descending: ``(d,)``.

        Those of ``Y``, or of ``Y - weight_decay I`` with weight decay (the rates of the flow).
        """
        return self.structure.lam

    @property
    def weight_decay(self) -> float:
        """``gamma >= 0`` of the loss term ``gamma/2 ||U||_F^2`` (0: the paper's loss)."""
        return self.structure.weight_decay

    @property
    def Phi(self) -> FloatArray:
        """Orthonormal basis ``(n, d)``: eigenvectors of ``Y``, matching ``lam``."""
        return self.structure.Phi

    @property
    def path(self) -> Path:
        """``"spectral"`` (per-mode logistic curves) or ``"dense"`` (``m x m`` solves)."""
        return self.structure.path

    @property
    def L(self) -> FloatArray | None:
        """Dense path: lower echelon ``(d, m)`` with ``Phi^T U0 U0^T Phi = L L^T``."""
        return self.structure.L

    @property
    def scales(self) -> FloatArray | None:
        """Spectral path: ``s`` ``(d,)`` with ``Phi^T U0 U0^T Phi = diag(s)``."""
        return self.structure.scales

    @property
    def backend(self) -> str:
        """The array library evaluations return: ``"numpy"``, ``"torch"`` or ``"jax"``."""
        return self.backend_info.name

    @property
    def n(self) -> int:
        """Size of the target."""
        return int(self.Phi.shape[0])

    @property
    def dim(self) -> int:
        """``d``: dimension of the subspace the dynamics live in (``n`` unless reduced)."""
        return int(self.lam.size)

    @property
    def reduced(self) -> bool:
        """Whether the dynamics were reduced to a ``d < n`` dimensional subspace."""
        return self.dim < self.n

    @property
    def rank(self) -> int:
        """``m``: columns of the factor, ``rank W(t) = rank W0 = m`` for every ``t``."""
        if self.path == "spectral":
            return int(np.count_nonzero(self.structure.spectral_scales > 0))
        return int(self.structure.factor.shape[1])

    @cached_property
    def init_singular_values(self) -> FloatArray:
        """Singular values of ``U0`` (in the basis ``Phi``), descending: ``(min(d, r),)``.

        ``W~0 = Phi^T U0 U0^T Phi`` has eigenvalues their squares; rank deficiency gives zeros.
        """
        out = np.zeros(min(self.dim, self.structure.r))
        if self.path == "spectral":
            s = np.sort(np.sqrt(self.structure.spectral_scales))[::-1][: out.size]
        else:
            L = self.structure.factor
            s = np.linalg.svd(L, compute_uv=False) if L.shape[1] else np.zeros(0)
        out[: s.size] = s
        return out

    @property
    def Y(self) -> Any:
        """The target ``Phi diag(lam + weight_decay) Phi^T``, ``(n, n)`` (formed on request only;
        from the differentiable set-up when ``Y`` carries a gradient)."""
        phi, lam = self._dev["Phi"], self._dev["lam"] + self.weight_decay
        return (phi * lam[None, :]) @ self.backend_info.xp.matrix_transpose(phi)

    def with_alpha(self, alpha: float) -> Trajectory:
        """The same problem at another initialization scale, without redoing the set-up.

        The eigendecomposition of ``Y`` and the factor of ``U0`` do not depend on ``alpha``::

            base = closed_form(Y, U0, 1.0)
            curves = {a: base.with_alpha(a).eigvals(t) for a in (1e-2, 1e-6, 1e-12)}
        """
        grads = tuple(g for g in self.grad_inputs if g != "alpha")
        return Trajectory(self.structure, as_alpha(alpha), self.backend_info, grads, self._arrays)

    def describe(self) -> str:
        """One line saying which exact evaluation this trajectory uses and why it is cheap."""
        what = {
            "spectral": "per-mode logistic curves (spectral init), O(d) per time point",
            "dense": f"{self.rank}x{self.rank} Cholesky solve per time point",
        }[self.path]
        where = (
            f"in the {self.dim}-dimensional subspace span(Y's range, U0) of R^{self.n}"
            if self.reduced
            else f"in the eigenbasis of Y (n = {self.n})"
        )
        b = self.backend_info
        if b.name != "numpy":
            where += f", evaluated by {b.name} ({b.dtype_name}, {b.device})"
        if self.weight_decay:
            where += f", weight decay {self.weight_decay:g} (target Y - {self.weight_decay:g} I)"
        return f"{what}, {where}"

    # ---- evaluation machinery ---------------------------------------------------------------
    def _times(self, t: Any) -> tuple[Any, FloatArray | None, bool]:
        """``(times, host_times, scalar)``: ``times`` 1-D in the backend (keeping a torch graph or
        a JAX trace), ``host_times`` its checked float64 copy (``None`` when abstract)."""
        b = self.backend_info
        try:
            host = to_host(t)
        except TypeError as exc:
            raise TypeError(f"t: {exc}") from None
        if host is ABSTRACT:  # under jax.jit: only its shape can be checked
            if getattr(t, "ndim", 0) > 1:
                raise ValueError(f"t: expected a scalar or a 1-D array, got shape {t.shape}")
            native = b.xp.reshape(b.asarray(t), (-1,))
            return native, None, t.ndim == 0
        tt, scalar = as_times(host)
        top = max(float(np.max(np.abs(self.lam))) if self.dim else 0.0, 1.0)
        if tt.size and float(tt.max()) * top > LT_MAX:
            raise ValueError(
                f"t: expected max|lam| * t <= {LT_MAX:g} (every mode has converged to float64 "
                f"precision far earlier; Trajectory.limit() is W(inf)), got t = {tt.max():g} "
                f"with max|lam| = {top:g}"
            )
        if needs_grad(t):
            native = b.xp.reshape(b.asarray(t), (-1,))
        else:
            native = tt if b.name == "numpy" else b.asarray(tt)
        return native, tt, scalar

    def _log_scale(self, la: Any) -> Any:
        """``log(alpha s)``: ``(d,)`` for one scale, ``(k, d)`` for one per point."""
        log_s = self._dev["log_s"]
        return log_s + la if isinstance(la, float) else log_s[None, :] + la[:, None]

    def _factor_eig(self, tx: Any, la: Any) -> Any:
        """``F~(t)`` ``(k, d, m)`` with ``W~ = F~ F~^T`` (backend arrays)."""
        b, dev = self.backend_info, self._dev
        if self.path == "spectral":
            return self._spectral_root(tx, la)[:, None, :] * dev["select"][None, :, :]
        return dense_factor(b, dev["lam"], dev["L"], la, tx)

    def _spectral_root(self, tx: Any, la: Any) -> Any:
        """Spectral path: ``sqrt(sigma_i(t))`` of the touched modes, ``(k, m)``."""
        b, dev = self.backend_info, self._dev
        xp = b.xp
        vals = spectral_values(b, dev["lam"], self._log_scale(la), tx)
        keep = xp.take(vals, b.index(dev["keep"]), axis=1)  # > 0 or flushed to 0
        pos = keep > 0.0
        return xp.where(pos, xp.sqrt(xp.where(pos, keep, xp.ones_like(keep))), 0.0 * keep)

    def _evaluate(
        self,
        t: ArrayLike,
        fn: Callable[[Any, Any], Any],
        bytes_per_time: int,
        alphas: FloatArray | None = None,
    ) -> Any:
        """``fn(times, log_alphas)`` on chunks of the evaluation points, concatenated.

        Without ``alphas`` the points are the times (one scale: ``log_alphas`` a float, or a
        per-point backend array when ``alpha`` carries a gradient) and the time axis is dropped
        for a scalar ``t``; with ``alphas`` ``(A,)`` every (alpha, t) pair is a point and the
        result gets a leading ``alpha`` axis. NumPy chunks run on
        :func:`mfflow.parallel.num_threads` threads with single-threaded BLAS.
        """
        b = self.backend_info
        xp = b.xp
        native, _, scalar = self._times(t)
        T = native.shape[0]
        points = T * (1 if alphas is None else alphas.size)
        check_bytes(points * bytes_per_time // 4, "t", f"the result at {points} points")
        if alphas is None:
            pts, la_all = native, None
        else:
            pts = xp.reshape(xp.concat([native] * alphas.size), (-1,))
            la_all = b.asarray(np.repeat(np.log(alphas), T))
        slices = list(chunks(pts.shape[0], bytes_per_time))
        err = np.geterr()

        def run(sl: slice) -> Any:
            if la_all is not None:
                la = la_all[sl]
            elif self._log_alpha is not None:  # a 0-d backend value with a gradient
                la = self._log_alpha + xp.zeros(pts[sl].shape, dtype=b.dtype, device=b.device)
            else:
                la = math.log(self.alpha)
            with np.errstate(**err), b.errstate():
                return fn(pts[sl], la)

        if b.name == "numpy":
            with single_threaded_blas():
                parts = map_chunks(run, slices, num_threads())
        else:
            parts = [run(sl) for sl in slices]
        out = parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)
        if alphas is not None:
            out = xp.reshape(out, (alphas.size, T, *out.shape[1:]))
            return out[:, 0, ...] if scalar else out
        return out[0, ...] if scalar else out

    def _bytes(self, *shape: int) -> int:
        return 8 * math.prod(shape) * 4

    def _curve_bytes(self, width: int) -> int:
        """Bytes per time point of a per-mode output (``mode_values``, ``eigvals``, ``loss``):
        ``O(d)`` on the spectral path, which forms no matrix, ``O(d width)`` on the dense path."""
        return self._bytes(self.dim) if self.path == "spectral" else self._bytes(self.dim, width)

    # ---- evaluations, one per output (each is ``fn(times, log_alphas)``) ------------------------
    def _W_eig(self, tx: Any, la: Any) -> Any:
        f = self._factor_eig(tx, la)
        return f @ self.backend_info.xp.matrix_transpose(f)

    def _W(self, tx: Any, la: Any) -> Any:
        f = self._factor(tx, la)
        return f @ self.backend_info.xp.matrix_transpose(f)

    def _factor(self, tx: Any, la: Any) -> Any:
        if self.path == "spectral":  # Phi's touched columns scaled: O(n m), not O(n d m)
            b, dev = self.backend_info, self._dev
            phi = b.xp.take(dev["Phi"], b.index(dev["keep"]), axis=1)
            return phi[None, :, :] * self._spectral_root(tx, la)[:, None, :]
        return self._dev["Phi"] @ self._factor_eig(tx, la)

    def _mode_values(self, tx: Any, la: Any) -> Any:
        b = self.backend_info
        if self.path == "spectral":
            return spectral_values(b, self._dev["lam"], self._log_scale(la), tx)
        f = self._factor_eig(tx, la)
        return b.xp.sum(f * f, axis=-1)

    def _eigvals(self, tx: Any, la: Any, k: int, algorithm: str) -> Any:
        b = self.backend_info
        xp = b.xp
        if self.path == "spectral":
            vals = spectral_values(b, self._dev["lam"], self._log_scale(la), tx)
            vals = -xp.sort(-vals, axis=1)[:, : min(k, self.dim)]
            if vals.shape[1] < k:
                pad = xp.zeros((vals.shape[0], k - vals.shape[1]), dtype=b.dtype, device=b.device)
                vals = xp.concat([vals, pad], axis=1)
            return vals
        return factor_eigvals(b, self._factor_eig(tx, la), k, algorithm)

    def _loss(self, tx: Any, la: Any) -> Any:
        b, dev = self.backend_info, self._dev
        xp = b.xp
        g = self.weight_decay
        if self.path == "spectral":
            res = spectral_residuals(b, dev["lam"], self._log_scale(la), tx)
            # per mode 1/4 (lam + g - s)^2 + g s / 2 = 1/4 (lam - s)^2 + g^2 / 4 + g lam / 2
            shift = xp.sum(0.25 * g * g + 0.5 * g * dev["lam"]) if g else 0.0
            return 0.25 * xp.sum(res**2, axis=1) + shift
        f = self._factor_eig(tx, la)
        eye = xp.eye(self.dim, dtype=b.dtype, device=b.device)
        w = f @ xp.matrix_transpose(f) - eye * (dev["lam"] + g)[None, :]
        out = 0.25 * xp.sum(w**2, axis=(1, 2))
        return out + 0.5 * g * xp.sum(f * f, axis=(1, 2)) if g else out

    def _distance(self, tx: Any, la: Any, zb: Any, ord: Literal[2, "fro"]) -> Any:
        xp = self.backend_info.xp
        diff = (self._W(tx, la) if self.reduced else self._W_eig(tx, la)) - zb
        if ord == 2:
            return xp.max(xp.abs(xp.linalg.eigvalsh(diff)), axis=1)
        return xp.sqrt(xp.sum(diff**2, axis=(1, 2)))

    def _distance_target(self, Z: ArrayLike, ord: Any) -> Any:
        z = as_symmetric(to_numpy(Z, "Z"), "Z")
        if z.shape != (self.n, self.n):
            raise ValueError(f"Z: expected shape ({self.n}, {self.n}), got {z.shape}")
        if ord not in (2, "fro"):
            raise ValueError(f"ord: expected 2 or 'fro', got {ord!r}")
        # Z may have parts outside a reduced subspace: then compare in R^n
        return self.backend_info.asarray(z if self.reduced else self.Phi.T @ z @ self.Phi)

    def _k(self, k: int | None) -> int:
        k = self.n if k is None else as_positive_int(k, "k")
        if k > self.n:
            raise ValueError(f"k: expected 1 <= k <= n = {self.n}, got {k}")
        return k

    # ---- public evaluations -------------------------------------------------------------------
    def W_eig(self, t: ArrayLike) -> Any:
        """``W~(t) = Phi^T W(t) Phi``: ``(d, d)`` for scalar t, else ``(T, d, d)``."""
        return self._evaluate(t, self._W_eig, self._bytes(self.dim, max(self.dim, self.rank)))

    def W(self, t: ArrayLike) -> Any:
        """The product ``W(t) = U(t) U(t)^T``: ``(n, n)`` for scalar t, else ``(T, n, n)``."""
        return self._evaluate(t, self._W, self._bytes(self.n, max(self.n, self.rank)))

    def factor(self, t: ArrayLike) -> Any:
        """A factor ``F(t)`` ``(n, m)`` (or ``(T, n, m)``) with ``W(t) = F F^T``.

        ``F`` equals the flow's ``U(t)`` up to a right orthogonal factor (and zero columns when
        ``r > n``): the product, not the parametrization, is what the closed form determines.
        """
        return self._evaluate(t, self._factor, self._bytes(self.n, max(self.rank, 1)))

    def factor_eig(self, t: ArrayLike) -> Any:
        """``F~(t)`` ``(d, m)`` (or ``(T, d, m)``) with ``W~(t) = F~ F~^T``: :meth:`factor` in the
        basis ``Phi`` (``factor = Phi @ factor_eig``), without the ``O(n d m)`` map back to
        ``R^n``: what quantities of ``W`` that are cheap in the eigenbasis are computed from."""
        return self._evaluate(t, self._factor_eig, self._bytes(self.dim, max(self.rank, 1)))

    def mode_values(self, t: ArrayLike) -> Any:
        """Components ``u_i^T W(t) u_i`` along the columns of ``Phi``: ``(d,)`` or ``(T, d)``.

        Ordered like ``lam`` (descending). Under a spectral init these are the decoupled learning
        curves ``sigma_{i,W}(t)`` of eq. 7; in general, the diagonal of ``W~(t)``.
        """
        return self._evaluate(t, self._mode_values, self._curve_bytes(max(self.rank, 1)))

    def eigvals(self, t: ArrayLike, k: int | None = None, *, algorithm: str = "svd") -> Any:
        """Eigenvalues of ``W(t)`` (= its singular values, ``W`` is PSD), descending.

        Returns ``(n,)`` for scalar t, else ``(T, n)``; with ``k``, only the top ``k`` (``(T, k)``,
        useful when ``n`` is large and ``W`` has rank ``<= d``).

        On the dense path they are the squared singular values of the graded factor ``F~``
        (:mod:`mfflow.riccati.spectrum`): ``algorithm="svd"`` (default) sorts its rows by norm
        and runs one batched LAPACK SVD over the time points; ``"jacobi"`` runs LAPACK's
        preconditioned Jacobi SVD (``dgejsv``) per time point, which *guarantees* high relative
        accuracy for the small eigenvalues of a graded factor. Both agree to ~1e-14 relative
        down to eigenvalues of 1e-300 in the tests (tests/test_eigvals.py). With torch/JAX
        arrays the backend's ``svdvals`` is used (``algorithm`` must be ``"svd"``).
        """
        kk = self._k(k)
        algo = as_eig_algorithm(algorithm, self.backend_info)
        return self._evaluate(
            t,
            lambda tx, la: self._eigvals(tx, la, kk, algo),
            self._curve_bytes(max(self.rank, 1)),
        )

    def loss(self, t: ArrayLike) -> Any:
        r"""The paper's loss ``1/4 ||Y - W(t)||_F^2``: float for scalar t, else ``(T,)``.

        With weight decay ``gamma``, the loss the flow descends,
        ``1/4 ||Y - W||_F^2 + gamma/2 ||U||_F^2 = 1/4 ||Y - W||_F^2 + gamma/2 tr W``.
        Computed in the eigenbasis, ``1/4 ||diag(lam) - W~(t)||_F^2``. On the spectral path each
        mode's residual ``lam_i - sigma_i(t)`` comes from the cancellation-free closed form; on
        the dense path the difference is formed, so the loss of a converged run is accurate
        absolutely (to ``~1e-16 ||Y||^2``), not relatively.
        """
        val = self._evaluate(t, self._loss, self._curve_bytes(max(self.dim, self.rank)))
        return _scalar_or_array(val, self.backend_info)

    def distance(self, Z: ArrayLike, t: ArrayLike, ord: Literal[2, "fro"] = 2) -> Any:
        """``||W(t) - Z||`` in the spectral (``ord=2``) or Frobenius norm; float or ``(T,)``.

        Parameters
        ----------
        Z : (n, n) symmetric array
        t : float or (T,) array
        ord : {2, "fro"}
        """
        zb = self._distance_target(Z, ord)
        size = self.n if self.reduced else self.dim
        val = self._evaluate(
            t, lambda tx, la: self._distance(tx, la, zb, ord), self._bytes(size, size)
        )
        return _scalar_or_array(val, self.backend_info)

    def with_alphas(self, alphas: ArrayLike) -> TrajectoryBatch:
        """The same problem at several initialization scales, evaluated in one batch.

        Every (alpha, t) pair is one evaluation point of the same kernel call, so sweeps over
        ``alpha`` (phase diagrams) cost one batched evaluation, not one per ``alpha``; results
        equal those of :meth:`with_alpha` for each ``alpha``.

        Parameters
        ----------
        alphas : (A,) array
            Scales ``> 0``.

        Returns
        -------
        TrajectoryBatch
            Same methods as a trajectory, with a leading ``alpha`` axis.

        Examples
        --------
        >>> import mfflow
        >>> Y = mfflow.make_target([2.0, 1.0], seed=0)
        >>> traj = mfflow.closed_form(Y, mfflow.gaussian_init(2, 2, seed=1), 1.0)
        >>> traj.with_alphas([1e-2, 1e-6]).eigvals([0.0, 5.0]).shape
        (2, 2, 2)
        """
        return TrajectoryBatch(self, as_alphas(alphas))

    def limit(self) -> Any:
        r"""``W(inf) = lim_{t -> inf} W(t)``, ``(n, n)``, computed exactly (no large-t evaluation).

        Modes with ``lam <= 0`` die out (zero modes like ``1/(2t)``). The positive eigenvalues are
        visited in descending order, clusters of equal ones together: a cluster learns the part of
        its rows of ``L`` (``W~0 = L L^T``) that is not already in the row space of the rows of
        larger eigenvalues, so the limit on that block is ``lam`` times the projector onto that
        part. For a generic init this is the best rank-``min(r, K+)`` approximation of ``Y``'s
        positive part; for an init missing some eigen-directions those are skipped. Eigenvalues
        within ``8 d eps max|lam|`` of each other (or of zero) are treated as equal (as zero):
        their distinction would only show after ``t ~ 1e15`` time units.
        """
        shaped = [g for g in self.grad_inputs if g in ("Y", "U0")]
        if shaped:
            raise ValueError(
                f"{', '.join(shaped)}: limit() is not differentiable (it is a projector, "
                "piecewise constant in Y and U0); evaluate W(t) at a large t instead"
            )
        d = self.dim
        eps = np.finfo(np.float64).eps
        tol_lam = eig_tol(self.lam)
        w = np.zeros((d, d))
        if self.path == "spectral":
            keep = (self.lam > tol_lam) & (self.structure.spectral_scales > 0)
            w[np.diag_indices(d)] = np.where(keep, self.lam, 0.0)
        else:
            L = self.structure.factor
            m = L.shape[1]
            tol = 8 * max(d, m) * eps * max(float(np.max(np.abs(L))) if L.size else 0.0, 1e-300)
            used = np.zeros((m, 0))
            positive = int(np.count_nonzero(self.lam > tol_lam))  # a prefix: lam descends
            for start, stop in eig_clusters(self.lam[:positive], tol_lam):
                block = L[start:stop]
                resid = block - (block @ used) @ used.T
                u_s, sv, vt = np.linalg.svd(resid, full_matrices=False)
                rank = int(np.count_nonzero(sv > tol))
                if rank:
                    q = u_s[:, :rank]
                    root = np.sqrt(self.lam[start:stop])
                    w[start:stop, start:stop] = (root[:, None] * (q @ q.T)) * root[None, :]
                    used = np.linalg.qr(np.concatenate([used, vt[:rank].T], axis=1))[0]
        return self.backend_info.asarray(self.Phi @ w @ self.Phi.T)


def check_initial_scale(structure: Structure, alpha: float, name: str = "alpha") -> None:
    """Refuse (naming ``alpha``) an initial product ``alpha U0 U0^T`` beyond
    :data:`~mfflow.validation.MAGNITUDE_MAX`: the loss squares it."""
    if structure.path == "spectral":
        top = float(np.max(structure.spectral_scales)) if structure.lam.size else 0.0
    else:
        L = structure.factor
        top = float(np.max(np.einsum("ij,ij->i", L, L))) if L.size else 0.0
    if alpha * top > MAGNITUDE_MAX:
        raise ValueError(
            f"{name}: the initial product alpha U0 U0^T reaches {alpha * top:.3g} "
            f"(alpha = {alpha:.3g}), beyond {MAGNITUDE_MAX:g}: the loss squares it; use a "
            "smaller alpha or a smaller init"
        )


def as_alphas(alphas: Any) -> FloatArray:
    """A non-empty 1-D array of scales ``alpha > 0`` (each checked like ``alpha``)."""
    arr = np.atleast_1d(np.asarray(to_numpy(alphas, "alphas"), dtype=object))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"alphas: expected a non-empty 1-D array of scales, got shape {arr.shape}")
    return np.array([as_alpha(a, f"alphas[{i}]") for i, a in enumerate(arr)])


def as_eig_algorithm(algorithm: Any, b: Backend) -> str:
    """``"svd"`` or ``"jacobi"`` (NumPy only)."""
    if algorithm not in ("svd", "jacobi"):
        raise ValueError(f"algorithm: expected 'svd' or 'jacobi', got {algorithm!r}")
    if algorithm == "jacobi" and b.name != "numpy":
        raise ValueError(
            f"algorithm: 'jacobi' (LAPACK dgejsv) needs NumPy arrays, the trajectory evaluates "
            f"in {b.name}; use algorithm='svd'"
        )
    return str(algorithm)


@dataclass(frozen=True, eq=False)
class TrajectoryBatch:
    """One trajectory at several scales ``alpha``: every method gets a leading ``alpha`` axis.

    Built by :meth:`Trajectory.with_alphas`. ``batch.eigvals(t)`` is ``(A, T, n)`` and equals
    ``np.stack([traj.with_alpha(a).eigvals(t) for a in alphas])``, computed in one batch.

    Attributes
    ----------
    trajectory : Trajectory
    alphas : (A,) array
    """

    trajectory: Trajectory
    alphas: FloatArray

    def __post_init__(self) -> None:
        for i, a in enumerate(self.alphas):
            check_initial_scale(self.trajectory.structure, float(a), f"alphas[{i}]")

    def W(self, t: ArrayLike) -> Any:
        """``(A, n, n)`` or ``(A, T, n, n)``."""
        tr = self.trajectory
        return tr._evaluate(t, tr._W, tr._bytes(tr.n, max(tr.n, tr.rank)), self.alphas)

    def W_eig(self, t: ArrayLike) -> Any:
        """``(A, d, d)`` or ``(A, T, d, d)``."""
        tr = self.trajectory
        return tr._evaluate(t, tr._W_eig, tr._bytes(tr.dim, max(tr.dim, tr.rank)), self.alphas)

    def mode_values(self, t: ArrayLike) -> Any:
        """``(A, d)`` or ``(A, T, d)``."""
        tr = self.trajectory
        return tr._evaluate(t, tr._mode_values, tr._curve_bytes(max(tr.rank, 1)), self.alphas)

    def eigvals(self, t: ArrayLike, k: int | None = None, *, algorithm: str = "svd") -> Any:
        """``(A, k)`` or ``(A, T, k)`` (``k = n`` by default)."""
        tr = self.trajectory
        kk = tr._k(k)
        algo = as_eig_algorithm(algorithm, tr.backend_info)
        return tr._evaluate(
            t,
            lambda tx, la: tr._eigvals(tx, la, kk, algo),
            tr._curve_bytes(max(tr.rank, 1)),
            self.alphas,
        )

    def loss(self, t: ArrayLike) -> Any:
        """``(A,)`` or ``(A, T)``."""
        tr = self.trajectory
        return tr._evaluate(t, tr._loss, tr._curve_bytes(max(tr.dim, tr.rank)), self.alphas)

    def distance(self, Z: ArrayLike, t: ArrayLike, ord: Literal[2, "fro"] = 2) -> Any:
        """``(A,)`` or ``(A, T)``."""
        tr = self.trajectory
        zb = tr._distance_target(Z, ord)
        size = tr.n if tr.reduced else tr.dim
        return tr._evaluate(
            t, lambda tx, la: tr._distance(tx, la, zb, ord), tr._bytes(size, size), self.alphas
        )


def _scalar_or_array(val: Any, b: Backend) -> Any:
    """A Python float for a 0-d NumPy result; backend arrays (which may carry a gradient or a
    trace) are returned as they are."""
    if b.name == "numpy" and getattr(val, "ndim", 1) == 0:
        return float(val)
    return val
