r"""Deep matrix factorization ``W = W_L ... W_1``: the exact per-mode curves and the inits.

Square factors ``W_j`` ``(n, n)``, depth ``L >= 2``, loss ``1/2 ||Y - W||_F^2`` (or
``1/2 ||A(W) - y||^2`` with a measurement operator, see :mod:`mfflow.sensing`), gradient flow

.. math::

    \dot W_j = (W_L \cdots W_{j+1})^T \, R \, (W_{j-1} \cdots W_1)^T, \qquad
    R = Y - W \;\; (\text{or } \mathcal A^*(y - \mathcal A(W))),

from ``W_j(0) = alpha^{1/L} F_j`` (shapes ``F_j``), so ``W(0) = alpha F_L ... F_1``. The flow and
gradient descent of any init are simulated by the one stack of :mod:`mfflow.simulate`
(:func:`mfflow.deep_flow`, :func:`mfflow.deep_descent`); this module holds what is exact for
balanced spectral inits, and the inits.

**Balanced spectral init.** With ``Y = P diag(sigma) Q^T`` (SVD) and
``F_1 = R_1 C Q^T``, ``F_j = R_j C R_{j-1}^T``, ``F_L = P C R_{L-1}^T``, ``C = diag(c^{1/L})``
(``R_j`` orthogonal), every factor keeps the form and mode ``i`` of the product,
``s_i = a_i^L`` with ``a_i' = a_i^{L-1} (sigma_i - a_i^L)``, obeys

.. math::

    \dot s = L \, s^{2 - 2/L} (\sigma - s), \qquad s(0) = s_0 = \alpha c_i .

It is solved exactly: with ``p = 2 - 2/L``, ``v = s/sigma`` and ``w = v^{1/L}`` the integrand of
``t(s) = int_{s_0}^{s} du / (L u^p (sigma - u))`` becomes the rational function
``L / (w^{L-1} (1 - w^L))``, whose antiderivative over the ``L``-th roots of unity
``omega_k = e^{2 pi i k / L}`` is

.. math::

    G(w) = \frac{L\, w^{2-L}}{2-L} - \log(1-w)
        - \sum_{k=1}^{L-1} \mathrm{Re}\big(\omega_k^2 \log(w - \omega_k)\big)
    \quad (\text{first term } 2 \log w \text{ at } L = 2),

so ``t(s) = (G(w) - G(w_0)) / (L sigma^p)``; ``s(t)`` is its inverse, found by ``brentq`` in the
logit variable ``u = log(s / (sigma - s))`` (relative accuracy ~1e-15 in both ``s`` and
``sigma - s``, for ``s_0`` down to ``1e-300``). An init above its target (``s_0 > sigma``, e.g.
``sigma ~ 0``) decays; there ``t(s) = (1/L) int (sigma + e^y)^{-p} dy`` over
``y = log(s - sigma)`` is integrated by ``scipy.integrate.quad`` instead (the closed form would
cancel when ``sigma << s_0``).

*Limit no float64 code beats:* for ``L >= 3`` the transition happens at
``t ~ (s_0/sigma)^{-(1-2/L)}`` but lasts only ``O(1 / (L sigma^p))``; once ``t * 1e-16`` exceeds
that width (``s_0 / sigma <~ 1e-16^{L/(L-2)}``, e.g. ``1e-48`` at ``L = 3``) float64 times cannot
resolve the transition, and ``s(t)`` there jumps from ``~0`` to ``sigma`` between adjacent floats.

**L = 2 is the paper's logistic curve, with no time rescaling.** Then ``p = 1`` and
``t = (logit(s/sigma) - logit(s_0/sigma)) / (2 sigma)``, i.e. ``s' = 2 s (sigma - s)``, which is
eq. 7 of the paper, ``sigma' = 2 sigma (lam - sigma)``, for ``W = U U^T`` under
``1/4 ||Y - U U^T||_F^2``: the loss factor ``1/4`` (vs ``1/2`` here) exactly compensates for
``U`` appearing twice in ``U U^T``. So ``deep_mode_curve(lam_i, alpha s_i, 2, t)`` equals
``closed_form(Y, spectral_init(Y, s), alpha).mode_values(t)[:, i]`` at the same ``t``.

**Depth.** For ``L >= 3`` and small ``s_0`` the time to reach ``sigma/2`` is dominated by
``(s_0/sigma)^{-(1 - 2/L)} / ((L - 2) sigma^{2 - 2/L})``, a power of ``1/s_0`` instead of
``log(1/s_0) / (2 sigma)``: transitions come later and are sharper relative to their time (the
width ``t(0.9 sigma) - t(0.1 sigma)`` stays ``O(1 / (L sigma^p))``).

Reference: S. Arora, N. Cohen, W. Hu and Y. Luo, "Implicit regularization in deep matrix
factorization", NeurIPS 2019 (the depth-L singular value dynamics); H. Min and R. Vidal,
arXiv:2508.20344 (2025), eq. 7.
"""

from __future__ import annotations

import cmath
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import quad
from scipy.optimize import brentq

from . import simulate as _stack
from .backend import needs_grad, to_numpy
from .compat import moved_names
from .problems import random_orthogonal
from .validation import (
    SCALE_MIN,
    Seed,
    as_depth,
    as_fraction,
    as_positive_int,
    as_real,
    as_rng,
    as_scales,
    as_square,
    as_times,
    check_fits,
    check_magnitude,
)

__all__ = [
    "deep_mode_curve",
    "deep_mode_time",
    "deep_random_init",
    "deep_spectral_init",
    "deep_transition_time",
]

FloatArray = NDArray[np.float64]

#: Names that moved to the simulation stack (:mod:`mfflow.simulate`); still readable here.
_MOVED = ("deep_descent", "deep_flow")


__getattr__ = moved_names(__name__, globals(), _MOVED, _stack)


#: Largest |u| (logit) used: beyond it ``s`` equals ``sigma`` to far below float64 resolution.
_U_MAX = 700.0


# ---- exact per-mode dynamics -------------------------------------------------------------------
def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


class _Mode:
    """Exact clock of one mode: ``t(u)`` in the variable ``u = log(s/(sigma - s))`` (or
    ``log(s/sigma - 1)`` when ``s_0 > sigma``)."""

    def __init__(self, sigma: float, s0: float, L: int) -> None:
        self.sigma, self.s0, self.L = sigma, s0, L
        self.above = s0 > sigma
        self.rate = L * sigma ** (2.0 - 2.0 / L)
        self.roots = [cmath.exp(2j * math.pi * k / L) for k in range(1, L)]
        if self.above:
            self.u0 = math.log(s0 - sigma) - math.log(sigma)
            self.g0 = 0.0
        else:
            self.u0 = math.log(s0) - math.log(sigma - s0)
            self.g0 = self._G(self.u0)

    def _G(self, u: float) -> float:
        L = self.L
        if self.above:
            logv = _softplus(u)
            log_gap = math.log(math.expm1(logv / L))  # log(w - 1)
        else:
            logv = -_softplus(-u)
            log_gap = math.log(-math.expm1(logv / L))  # log(1 - w)
        logw = logv / L
        w = math.exp(logw)
        first = logv if L == 2 else L / (2.0 - L) * math.exp((2.0 - L) * logw)
        tail = sum((om * om * cmath.log(w - om)).real for om in self.roots)
        return first - log_gap - tail

    def time(self, u: float) -> float:
        if self.above:
            # s0 > sigma: t = (1/L) int_{log(s - sigma)}^{log(s0 - sigma)} (sigma + e^y)^{-p} dy, a
            # smooth positive integrand; the closed form would cancel badly when sigma << s0.
            p, ls = 2.0 - 2.0 / self.L, math.log(self.sigma)
            val, _ = quad(
                lambda y: (self.sigma + math.exp(y)) ** -p,
                u + ls,
                self.u0 + ls,
                epsabs=0.0,
                epsrel=1e-13,
                limit=200,
            )
            return val / self.L
        return (self._G(u) - self.g0) / self.rate

    def value(self, u: float) -> float:
        if self.above:
            return self.sigma * (1.0 + math.exp(u))
        return self.sigma / (1.0 + math.exp(-u))

    def u_of(self, s: float) -> float:
        if self.above:
            return math.log(s - self.sigma) - math.log(self.sigma)
        return math.log(s) - math.log(self.sigma - s)

    def solve(self, tau: float) -> float:
        """``s(tau)``."""
        if tau == 0.0:
            return self.s0
        d = -1.0 if self.above else 1.0
        step = 1.0
        while True:
            hi = self.u0 + d * step
            if abs(hi) >= _U_MAX:
                hi = d * _U_MAX
                if self.time(hi) <= tau:
                    return self.sigma
                break
            if self.time(hi) >= tau:
                break
            step *= 2.0
        lo, hi = sorted((self.u0, hi))
        u = brentq(lambda x: self.time(x) - tau, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)
        return self.value(u)


def _zero_target(s0: float, L: int, t: FloatArray) -> FloatArray:
    """``sigma = 0``: ``s' = -L s^{p+1}``, ``s = s0 (1 + p L t s0^p)^{-1/p}``, ``p = 2 - 2/L``."""
    p = 2.0 - 2.0 / L
    return s0 * np.exp(-np.log1p(p * L * t * s0**p) / p)


def _mode_args(sigma: ArrayLike, s0: ArrayLike, L: Any) -> tuple[FloatArray, FloatArray, int, bool]:
    L = as_depth(L, "L")
    sig = as_real(sigma, "sigma")
    s0a = as_real(s0, "s0")
    if sig.ndim > 1 or s0a.ndim > 1:
        raise ValueError(
            f"sigma, s0: expected scalars or 1-D arrays, got shapes {sig.shape}, {s0a.shape}"
        )
    if not (np.all(np.isfinite(sig)) and np.all(sig >= 0)):
        raise ValueError(f"sigma: expected finite values >= 0 (singular values), got {sig}")
    if not (np.all(np.isfinite(s0a)) and np.all(s0a >= 0)):
        raise ValueError(f"s0: expected finite values >= 0 (initial mode values), got {s0a}")
    check_magnitude(sig, "sigma")
    check_magnitude(s0a, "s0", minimum=SCALE_MIN)
    scalar = sig.ndim == 0 and s0a.ndim == 0
    try:
        sig, s0a = np.broadcast_arrays(np.atleast_1d(sig), np.atleast_1d(s0a))
    except ValueError:
        raise ValueError(
            f"sigma, s0: shapes {sig.shape} and {s0a.shape} do not broadcast"
        ) from None
    return sig.astype(np.float64), s0a.astype(np.float64), L, scalar


def deep_mode_curve(sigma: ArrayLike, s0: ArrayLike, L: int, t: ArrayLike) -> FloatArray:
    r"""Exact solution ``s(t)`` of ``ds/dt = L s^{2 - 2/L} (sigma - s)``, ``s(0) = s0``.

    The singular value of mode ``i`` of ``W_L ... W_1`` under gradient flow on
    ``1/2 ||Y - W||_F^2`` from a balanced spectral init (module docstring).

    Parameters
    ----------
    sigma : float or (k,) array
        Target singular values ``>= 0``.
    s0 : float or (k,) array
        Initial values ``>= 0`` (``alpha`` times the init's scales); broadcast with ``sigma``.
    L : int
        Depth ``>= 2``.
    t : float or (T,) array
        Times ``>= 0``.

    Returns
    -------
    float, (T,), (k,) or (T, k) array
        The time axis is dropped for scalar ``t``, the mode axis for scalar ``sigma`` and ``s0``.

    Notes
    -----
    Gradients: with torch tensors that require grad or JAX values under a transformation,
    the result is differentiable in ``sigma``, ``s0`` and ``t`` (implicit function theorem on
    ``t(s)``, :mod:`mfflow.deep_grad`); the values are the same.

    ``t(s)`` is the closed form of the module docstring and ``s(t)`` its ``brentq`` inverse in
    the logit variable; ``sigma = 0`` uses ``s = s0 (1 + p L t s0^p)^{-1/p}``. Agreement with an
    ODE solve of the deep network (:func:`mfflow.deep_flow`, ``rtol=1e-12``): 1e-12 to 1e-11
    relative, limited by the ODE (tests/test_deep.py).

    Examples
    --------
    >>> float(deep_mode_curve(1.0, 1e-6, 3, deep_transition_time(1.0, 1e-6, 3))).__round__(12)
    0.5
    """
    if any(needs_grad(x) for x in (sigma, s0, t)):  # torch/JAX with gradients: deep_grad.py
        from .deep_grad import mode_curve_differentiable

        _, _, L, scalar_mode = _mode_args(to_numpy(sigma), to_numpy(s0), L)
        as_times(to_numpy(t))
        curves = mode_curve_differentiable(sigma, s0, L, t, _host_curves, deep_mode_time)
        curves = curves[:, 0] if scalar_mode else curves
        return curves[0] if getattr(t, "ndim", 0) == 0 else curves
    sig, s0a, L, scalar_mode = _mode_args(sigma, s0, L)
    tt, scalar_t = as_times(t)
    out = np.empty((tt.size, sig.size))
    for i, (sg, z) in enumerate(zip(sig, s0a, strict=True)):
        if z == 0.0 or z == sg:
            out[:, i] = z
        elif sg == 0.0:
            out[:, i] = _zero_target(z, L, tt)
        else:
            mode = _Mode(float(sg), float(z), L)
            out[:, i] = [mode.solve(float(x)) for x in tt]
    if scalar_mode:
        out = out[:, 0]
    return out[0] if scalar_t else out


def _host_curves(sigma: FloatArray, s0: FloatArray, L: int, t: FloatArray) -> FloatArray:
    """``deep_mode_curve`` on host float64 arrays as a ``(T, k)`` array (for deep_grad)."""
    return np.asarray(deep_mode_curve(sigma, s0, L, t), dtype=np.float64).reshape(t.size, -1)


def deep_mode_time(sigma: ArrayLike, s0: ArrayLike, L: int, s: ArrayLike) -> FloatArray | float:
    r"""Exact time ``t(s) = int_{s0}^{s} du / (L u^{2-2/L} (sigma - u))`` to reach ``s``.

    Parameters
    ----------
    sigma, s0 : float or (k,) array
        As in :func:`deep_mode_curve`; ``sigma > 0``.
    L : int
    s : float or (k,) array
        Values between ``s0`` and ``sigma`` (``sigma`` itself is reached at ``t = inf``).

    Returns
    -------
    float or (k,) array

    Examples
    --------
    >>> import math
    >>> abs(deep_mode_time(2.0, 1e-4, 2, 1.0) - math.log(2.0 / 1e-4 - 1.0) / 4.0) < 1e-12
    True
    """
    sig, s0a, L, scalar = _mode_args(sigma, s0, L)
    raw = as_real(s, "s")
    if raw.ndim > 1 or raw.size not in (1, sig.size) or not np.all(np.isfinite(raw)):
        raise ValueError(
            f"s: expected a finite number or {sig.size} of them (one per mode), got "
            f"shape {raw.shape}"
        )
    sa = np.broadcast_to(raw.ravel(), sig.shape)
    if np.any(sig <= 0):
        raise ValueError(f"sigma: expected values > 0, got {sig}")
    out = np.empty(sig.size)
    for i, (sg, z, v) in enumerate(zip(sig, s0a, sa, strict=True)):
        lo, hi = min(z, sg), max(z, sg)
        if not lo <= v <= hi or z == 0.0:
            raise ValueError(
                f"s: expected a value between s0 = {z:g} (> 0) and sigma = {sg:g}, got {v:g}"
            )
        if v == z:
            out[i] = 0.0
        elif v == sg:
            out[i] = np.inf
        else:
            mode = _Mode(float(sg), float(z), L)
            out[i] = mode.time(mode.u_of(float(v)))
    return float(out[0]) if scalar else out


def deep_transition_time(
    sigma: ArrayLike, s0: ArrayLike, L: int, fraction: float = 0.5
) -> FloatArray | float:
    r"""Exact time at which a mode reaches ``fraction * sigma`` (0 if it starts there or above).

    Parameters
    ----------
    sigma, s0 : float or (k,) array
        ``sigma > 0``, ``s0 > 0``.
    L : int
        Depth ``>= 2``.
    fraction : float
        In ``(0, 1)``.

    Returns
    -------
    float or (k,) array
        For ``L = 2``: ``(logit(fraction) - logit(s0/sigma)) / (2 sigma)``; for ``L >= 3`` and
        small ``s0`` about ``(s0/sigma)^{-(1-2/L)} / ((L-2) sigma^{2-2/L})``.

    Examples
    --------
    >>> round(deep_transition_time(1.0, 1e-6, 2), 6) == round(math.log(1e6 - 1) / 2, 6)
    True
    """
    fraction = as_fraction(fraction, "fraction")
    if fraction >= 1.0:
        raise ValueError(f"fraction: expected a number in (0, 1), got {fraction!r}")
    sig, s0a, L, scalar = _mode_args(sigma, s0, L)
    if np.any(sig <= 0) or np.any(s0a <= 0):
        raise ValueError(f"sigma, s0: expected values > 0, got {sig}, {s0a}")
    target = fraction * sig
    out = np.where(s0a >= target, 0.0, np.nan)
    for i in np.flatnonzero(np.isnan(out)):
        out[i] = deep_mode_time(sig[i], s0a[i], L, target[i])
    return float(out[0]) if scalar else out


# ---- initializations ---------------------------------------------------------------------------
def deep_spectral_init(
    Y: ArrayLike, L: int, scales: ArrayLike | float = 1.0, seed: Seed = None
) -> FloatArray:
    r"""Balanced spectral shapes ``F_j`` ``(L, n, n)`` with ``F_L ... F_1 = P diag(scales) Q^T``.

    ``Y = P diag(sigma) Q^T`` (SVD, descending); ``F_1 = R_1 C Q^T``, ``F_j = R_j C R_{j-1}^T``,
    ``F_L = P C R_{L-1}^T`` with ``C = diag(scales^{1/L})``. Balanced:
    ``F_{j+1}^T F_{j+1} = F_j F_j^T``. With ``W_j(0) = alpha^{1/L} F_j`` mode ``i`` starts at
    ``s_0 = alpha scales_i`` and follows :func:`deep_mode_curve`.

    Parameters
    ----------
    Y : (n, n) array
    L : int
        Depth ``>= 2``.
    scales : float or (n,) array
        Per-mode scales ``>= 0``, ordered like the singular values of ``Y`` (descending).
    seed : int or Generator, optional
        If given, the inner bases ``R_j`` are random orthogonal (``I`` otherwise).

    Returns
    -------
    (L, n, n) array
        ``F[0]`` is ``F_1`` (applied first).
    """
    y = as_square(Y, "Y")
    L = as_depth(L, "L")
    n = y.shape[0]
    check_fits((L, n, n), "L", what="stack of factors", copies=2)
    s = as_scales(scales, n)
    p, _, qt = np.linalg.svd(y)
    c = s ** (1.0 / L)
    rng = None if seed is None else as_rng(seed)
    inner = [np.eye(n) if rng is None else random_orthogonal(n, rng) for _ in range(L - 1)]
    left = [*inner, p]  # output basis of factor j
    right = [qt.T, *inner]  # input basis of factor j
    return np.stack([(left[j] * c) @ right[j].T for j in range(L)])


def deep_random_init(n: int, L: int, seed: Seed = 0) -> FloatArray:
    """Gaussian shapes ``F_j`` ``(L, n, n)``, i.i.d. ``N(0, 1/n)`` (``E[F_j^T F_j] = I``)."""
    n = as_positive_int(n, "n")
    L = as_depth(L, "L")
    check_fits((L, n, n), "n, L", what="stack of factors", copies=2)
    rng = as_rng(seed)
    return rng.standard_normal((L, n, n)) / np.sqrt(n)
