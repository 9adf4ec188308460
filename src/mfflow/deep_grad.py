r"""Gradients of the exact deep per-mode curves (torch autograd, JAX custom JVP).

:func:`mfflow.deep_mode_curve` inverts ``t = T(s; sigma, s0)``,
``T = int_{s0}^{s} du / (L u^p (sigma - u))``, ``p = 2 - 2/L``, by root finding on the host; its
derivatives follow from the implicit function theorem (docs/math.md §8), with
``T_s = 1 / (L s^p (sigma - s))``:

.. math::

    \frac{\partial s}{\partial t} = L s^p (\sigma - s), \qquad
    \frac{\partial s}{\partial s_0} = \frac{s^p (\sigma - s)}{s_0^p (\sigma - s_0)}, \qquad
    \frac{\partial s}{\partial \sigma} = -\frac{T_\sigma}{T_s},

and, for ``s0 < sigma``, differentiating the closed form ``T = (G(w) - G(w_0)) / (L sigma^p)``
(``w = (s/sigma)^{1/L}``, ``v = s / sigma``),

.. math::

    T_\sigma = -\frac{p\,T}{\sigma}
        - \frac{1}{L \sigma^{p+1}}\Big(\frac{v^{1-p}}{1 - v} - \frac{v_0^{1-p}}{1 - v_0}\Big).

For ``s0 > sigma`` (a decaying mode) ``T_sigma = -(1/L) int u^{-p} (sigma - u)^{-2} du`` is
integrated by ``scipy.integrate.quad`` in ``y = log(u - sigma)``; ``sigma = 0``, ``s0 = 0`` and
``s0 = sigma`` (fixed points) have their own limits. The forward values are those of
:func:`mfflow.deep_mode_curve` (so gradients add no error to them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import quad

from .backend import backend_of

__all__ = ["mode_curve_differentiable", "mode_curve_partials"]

FloatArray = NDArray[np.float64]


def _t_sigma_above(sigma: float, s0: float, s: float, L: int) -> float:
    """``T_sigma`` for ``s0 > sigma`` (``sigma < s <= s0``), by quadrature in ``log(u - sigma)``."""
    p = 2.0 - 2.0 / L
    val, _ = quad(
        lambda y: (sigma + math.exp(y)) ** -p * math.exp(-y),
        math.log(s - sigma),
        math.log(s0 - sigma),
        epsabs=0.0,
        epsrel=1e-12,
        limit=200,
    )
    # int_{s0}^{s} u^{-p} (sigma - u)^{-2} du = -int_{log(s-sigma)}^{log(s0-sigma)} ... dy
    return val / L


def mode_curve_partials(
    sigma: FloatArray,
    s0: FloatArray,
    L: int,
    t: FloatArray,
    s: FloatArray,
    mode_time: Callable[..., Any],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(ds/dsigma, ds/ds0, ds/dt)``, each ``(T, k)``, at the curves ``s`` ``(T, k)``.

    Parameters
    ----------
    sigma, s0 : (k,) arrays
    L : int
    t : (T,) array
    s : (T, k) array
        ``deep_mode_curve(sigma, s0, L, t)``.
    mode_time : callable
        :func:`mfflow.deep_mode_time` (passed in: this module sits below :mod:`mfflow.deep`).
    """
    p = 2.0 - 2.0 / L
    T = t.size
    d_sig = np.zeros((T, sigma.size))
    d_s0 = np.zeros((T, sigma.size))
    d_t = np.zeros((T, sigma.size))
    for i, (sg, z) in enumerate(zip(sigma, s0, strict=True)):
        si = s[:, i]
        if z == 0.0:  # s = 0 for all t
            d_s0[:, i] = np.exp(2.0 * sg * t) if L == 2 else 1.0
        elif z == sg:  # s = sigma for all t: linearize around the fixed point
            rate = L * sg**p
            d_s0[:, i] = np.exp(-rate * t)
            d_sig[:, i] = -np.expm1(-rate * t)
        elif sg == 0.0:  # s = s0 (1 + p L t s0^p)^{-1/p}
            ratio = si / z
            d_t[:, i] = -L * si ** (p + 1)
            d_s0[:, i] = ratio ** (p + 1)
            d_sig[:, i] = -np.expm1((p + 1) * np.log(ratio)) / (p + 1)
        else:
            d_t[:, i] = L * si**p * (sg - si)
            d_s0[:, i] = si**p * (sg - si) / (z**p * (sg - z))
            for j, sj in enumerate(si):
                if sj == z:
                    continue
                if sj == sg:  # converged to float64 resolution
                    d_sig[j, i] = 1.0
                    continue
                if z < sg:
                    v, v0 = sj / sg, z / sg
                    tt = float(mode_time(sg, z, L, sj))
                    t_sig = -p * tt / sg - (v ** (1 - p) / (1 - v) - v0 ** (1 - p) / (1 - v0)) / (
                        L * sg ** (p + 1)
                    )
                else:
                    t_sig = _t_sigma_above(sg, z, sj, L)
                d_sig[j, i] = -t_sig * L * sj**p * (sg - sj)
    return d_sig, d_s0, d_t


def mode_curve_differentiable(
    sigma: Any, s0: Any, L: int, t: Any, curve: Callable[..., Any], mode_time: Callable[..., Any]
) -> Any:
    """:func:`mfflow.deep_mode_curve` on torch tensors / JAX arrays, differentiable in
    ``sigma``, ``s0`` and ``t``; returns ``(T, k)`` (the caller squeezes scalar axes).

    ``curve(sigma (k,), s0 (k,), L, t (T,)) -> (T, k)`` evaluates the curves on host float64
    arrays and ``mode_time`` is :func:`mfflow.deep_mode_time` (both passed in by
    :mod:`mfflow.deep`, which this module sits below)."""
    b = backend_of(sigma=sigma, s0=s0, t=t)
    xp = b.xp
    sig = xp.reshape(b.asarray(sigma), (-1,))
    z = xp.reshape(b.asarray(s0), (-1,))
    tt = xp.reshape(b.asarray(t), (-1,))
    k = max(sig.shape[0], z.shape[0])
    sig = sig + xp.zeros(k, dtype=b.dtype, device=b.device)
    z = z + xp.zeros(k, dtype=b.dtype, device=b.device)
    if b.name == "torch":
        return _TorchCurve.apply(sig, z, tt, L, curve, mode_time)
    if b.name == "jax":
        return _jax_curve(L, curve, mode_time)(sig, z, tt)
    raise TypeError(f"sigma, s0, t: gradients need torch or JAX arrays, got {b.name}")


def _host(x: Any) -> FloatArray:
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)


try:  # torch is optional
    import torch

    class _TorchCurve(torch.autograd.Function):
        @staticmethod
        def forward(
            ctx: Any, sigma: Any, s0: Any, t: Any, L: int, curve: Any, mode_time: Any
        ) -> Any:
            sg, z, tt = _host(sigma), _host(s0), _host(t)
            s = curve(sg, z, L, tt)
            ctx.partials = mode_curve_partials(sg, z, L, tt, s, mode_time)
            return torch.as_tensor(s, dtype=sigma.dtype, device=sigma.device)

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            d_sig, d_s0, d_t = (
                torch.as_tensor(a, dtype=g.dtype, device=g.device) for a in ctx.partials
            )
            return (g * d_sig).sum(0), (g * d_s0).sum(0), (g * d_t).sum(1), None, None, None

except ImportError:  # pragma: no cover - without torch, torch tensors cannot reach here
    _TorchCurve = None  # type: ignore[assignment,misc]


_JAX_CURVES: dict[int, Any] = {}


def _jax_curve(L: int, curve_fn: Callable[..., Any], mode_time: Callable[..., Any]) -> Any:
    """The JAX version for depth ``L`` (a custom JVP around a host callback), cached."""
    if L in _JAX_CURVES:
        return _JAX_CURVES[L]
    import jax
    import jax.numpy as jnp

    def host_values(sig: Any, z: Any, tt: Any) -> FloatArray:
        return curve_fn(np.asarray(sig), np.asarray(z), L, np.asarray(tt))

    def host_partials(sig: Any, z: Any, tt: Any) -> tuple[FloatArray, ...]:
        sg, zz, ts = np.asarray(sig), np.asarray(z), np.asarray(tt)
        return mode_curve_partials(sg, zz, L, ts, curve_fn(sg, zz, L, ts), mode_time)

    @jax.custom_jvp
    def curve(sig: Any, z: Any, tt: Any) -> Any:
        shape = jax.ShapeDtypeStruct((tt.shape[0], sig.shape[0]), sig.dtype)
        return jax.pure_callback(host_values, shape, sig, z, tt, vmap_method="sequential")

    @curve.defjvp
    def curve_jvp(primals: Any, tangents: Any) -> Any:
        sig, z, tt = primals
        d_sig_t, d_z_t, d_tt_t = tangents
        shape = jax.ShapeDtypeStruct((tt.shape[0], sig.shape[0]), sig.dtype)
        value = curve(sig, z, tt)
        d_sig, d_z, d_t = jax.pure_callback(
            host_partials, (shape, shape, shape), sig, z, tt, vmap_method="sequential"
        )
        tangent = d_sig * d_sig_t[None, :] + d_z * d_z_t[None, :] + d_t * d_tt_t[:, None]
        return value, jnp.asarray(tangent)

    _JAX_CURVES[L] = curve
    return curve
