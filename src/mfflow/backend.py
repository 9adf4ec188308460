"""Array namespaces: NumPy (default), PyTorch and JAX, through array-api-compat.

The closed form's formulas are written once against the array API standard
(:mod:`mfflow.riccati.kernel`); a :class:`Backend` says in which namespace, dtype and device
they run. NumPy is a backend like the others (float64 on the host). What the standard lacks is
wrapped here: a batched triangular solve, the singular values of a batch, a floating-point
error state.

The one-off set-up of a trajectory (eigendecomposition of ``Y``, structure detection, the factor
of the init: ``O(n^3)`` once) runs in float64 NumPy on the host; the per-time evaluation
(``O(T n m^2)``) runs in the input's namespace, dtype and device. JAX computes in float32 unless
``jax.config.update("jax_enable_x64", True)`` was called; float64 inputs then stay float64.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import array_api_compat
import numpy as np

__all__ = ["ABSTRACT", "NUMPY", "Backend", "backend_of", "needs_grad", "to_host", "to_numpy"]


def _is_foreign(x: Any) -> bool:
    """Whether ``x`` is an array of a namespace other than NumPy's."""
    if x is None or isinstance(x, np.ndarray | np.generic):
        return False
    return bool(array_api_compat.is_array_api_obj(x)) and not array_api_compat.is_numpy_array(x)


def _jax_tracer(x: Any) -> bool:
    if not array_api_compat.is_jax_array(x):
        return False
    import jax

    return isinstance(x, jax.core.Tracer)


#: What :func:`to_host` returns for an abstract JAX value (under ``jax.jit``): it has no value
#: yet, only a shape (distinct from a ``None`` input, which is returned as is).
ABSTRACT: Any = type("Abstract", (), {"__repr__": lambda self: "ABSTRACT"})()


def to_host(x: Any) -> Any:
    """A detached host NumPy copy of a torch/JAX array (the concrete value of a JAX tracer under
    ``jax.grad``); :data:`ABSTRACT` for an abstract JAX tracer (under ``jax.jit``); anything
    else is returned unchanged. Half-precision values are widened (exactly) to float32.

    Raises
    ------
    TypeError
        For a tensor without data (on the ``meta`` device) or a sparse one.
    """
    if not _is_foreign(x):
        return x
    if array_api_compat.is_torch_array(x):
        import torch

        if x.device.type == "meta":
            raise TypeError("expected a tensor with data, got one on the 'meta' device")
        if x.is_sparse or x.layout != torch.strided:
            raise TypeError(
                f"expected a dense (strided) tensor, got layout {x.layout}; call .to_dense()"
            )
        x = x.detach()
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.float()
        return x.cpu().numpy()
    if array_api_compat.is_jax_array(x):
        if not _jax_tracer(x):
            return np.asarray(x)
        from jax.extend.core import concrete_or_error

        try:
            return np.asarray(concrete_or_error(None, x))
        except Exception:  # jax's ConcretizationTypeError: an abstract value under jit
            return ABSTRACT
    return np.asarray(array_api_compat.to_device(x, "cpu"))  # pragma: no cover - other libraries


def to_numpy(x: Any, name: str | None = None) -> Any:
    """A host NumPy copy of a torch/JAX array; anything else is returned unchanged.

    Raises
    ------
    TypeError
        For an abstract JAX value (under ``jax.jit``), which has no value yet, or a tensor
        without data (meta device) or a sparse one; the message starts with ``name`` if given.
    """
    prefix = f"{name}: " if name else ""
    try:
        out = to_host(x)
    except TypeError as exc:
        raise TypeError(f"{prefix}{exc}") from None
    if out is ABSTRACT:
        raise TypeError(
            f"{prefix}expected a concrete array, got an abstract JAX tracer (under jax.jit): "
            "this computation needs the values"
        )
    return out


def needs_grad(x: Any) -> bool:
    """Whether a gradient may flow through ``x``: a torch tensor with ``requires_grad`` or a JAX
    tracer (under ``jax.grad``/``jax.jit``/``jax.vmap``). Plain arrays and numbers: ``False``."""
    if array_api_compat.is_torch_array(x):
        return bool(x.requires_grad)
    return _jax_tracer(x)


class Backend:
    """The namespace, dtype and device that a trajectory evaluates in.

    Parameters
    ----------
    xp : array namespace (array-api-compat wrapped)
    like : array, optional
        An input array: its device is used, and its dtype if it is float32 (else float64).
        ``None``: float64 on the default device.

    Attributes
    ----------
    name : str
        ``"numpy"``, ``"torch"`` or ``"jax"``.
    dtype, device
        Of every array this backend creates.
    tiny : float
        Smallest normal number of ``dtype``: exponentials below it are flushed to 0.
    log_tiny, log_huge : float
        ``log(tiny)`` and ``log(max) / 2``: the exponent range every ``exp`` is kept in.
    """

    def __init__(self, xp: Any, like: Any = None) -> None:
        self.xp = xp
        if array_api_compat.is_torch_namespace(xp):
            self.name = "torch"
        elif array_api_compat.is_jax_namespace(xp):
            self.name = "jax"
        elif array_api_compat.is_numpy_namespace(xp):
            self.name = "numpy"
        else:  # pragma: no cover - other array API libraries
            self.name = getattr(xp, "__name__", "array-api")
        if like is None:
            self.device = None
            self.dtype = xp.float64
        else:
            _check_supported(like)
            self.device = array_api_compat.device(like)
            self.dtype = xp.float32 if like.dtype == xp.float32 else xp.float64
        info = np.finfo(np.float32 if self.dtype == xp.float32 else np.float64)
        self.tiny = float(info.tiny)
        self.log_tiny = float(np.log(info.tiny))
        self.log_huge = 0.5 * float(np.log(info.max))

    @property
    def dtype_name(self) -> str:
        """``"float32"`` or ``"float64"``."""
        return "float32" if self.dtype == self.xp.float32 else "float64"

    def asarray(self, a: Any) -> Any:
        """``a`` (NumPy, scalar, or an array of this namespace) in this namespace, dtype and
        device; an array of this namespace keeps its autograd graph / trace."""
        if self.name == "numpy":
            return np.asarray(a, dtype=np.float64)
        if _is_foreign(a):
            return self.xp.astype(a, self.dtype) if a.dtype != self.dtype else a
        return self.xp.asarray(
            np.asarray(a, dtype=np.float64), dtype=self.dtype, device=self.device
        )

    def stop_gradient(self, x: Any) -> Any:
        """``x`` as a constant for autograd (torch ``detach``, ``jax.lax.stop_gradient``)."""
        if self.name == "torch":
            return x.detach()
        if self.name == "jax":
            import jax

            return jax.lax.stop_gradient(x)
        return x

    def index(self, idx: Any) -> Any:
        """An integer index array (NumPy ``int64``) in this namespace and device."""
        if self.name == "numpy":
            return np.asarray(idx, dtype=np.int64)
        return self.xp.asarray(np.asarray(idx, dtype=np.int64), device=self.device)

    @contextlib.contextmanager
    def errstate(self) -> Iterator[None]:
        """Underflow and ``log(0) = -inf`` are part of the formulas; other FP errors are not."""
        if self.name == "numpy":
            with np.errstate(divide="ignore", under="ignore"):
                yield
        else:
            yield

    def solve_lower(self, C: Any, B: Any) -> Any:
        """``C^{-1} B`` for lower triangular ``C`` ``(..., m, m)``, ``B`` ``(..., m, k)``."""
        if self.name == "torch":
            import torch

            return torch.linalg.solve_triangular(C, B, upper=False)
        if self.name == "jax":
            import jax.scipy.linalg

            return jax.scipy.linalg.solve_triangular(C, B, lower=True)
        return self._forward_substitution(C, B)  # NumPy (the kernel's fast path avoids it)

    def _forward_substitution(self, C: Any, B: Any) -> Any:
        xp = self.xp
        rows: list[Any] = []
        for j in range(C.shape[-1]):
            acc = B[..., j, :]
            for i, x in enumerate(rows):
                acc = acc - C[..., j, i : i + 1] * x
            rows.append(acc / C[..., j, j : j + 1])
        return xp.stack(rows, axis=-2)


def _check_supported(x: Any) -> None:
    """Refuse, naming what is wrong, arrays the closed form cannot use."""
    if array_api_compat.is_torch_array(x):
        import torch

        if x.is_sparse or x.layout != torch.strided:
            raise TypeError(f"expected a dense (strided) tensor, got layout {x.layout}")
        if x.device.type == "meta":
            raise TypeError("expected a tensor with data, got one on the 'meta' device")
        if x.is_complex():
            raise TypeError(f"expected a real floating-point tensor, got dtype {x.dtype}")
    dtype = str(getattr(x, "dtype", ""))
    if any(low in dtype for low in ("bfloat16", "float16", "float8")):
        raise TypeError(
            f"expected float32 or float64 arrays, got dtype {dtype}: too few digits for "
            "e^{lam t} exponents; convert to float32 or float64"
        )


#: The default backend: float64 NumPy on the host.
NUMPY = Backend(array_api_compat.array_namespace(np.zeros(1)))


def backend_of(**arrays: Any) -> Backend:
    """The backend of the torch/JAX arrays among the named ``arrays``; :data:`NUMPY` if none.

    NumPy arrays and numbers may be mixed with one other namespace (e.g. a torch ``Y`` and a
    NumPy ``U0`` from :func:`mfflow.gaussian_init`): results come back in the other namespace.

    Raises
    ------
    TypeError
        Naming the argument: arrays of different foreign namespaces mixed, or an array the
        closed form cannot use (sparse, on the meta device, complex, half precision).
    """
    foreign = {name: a for name, a in arrays.items() if _is_foreign(a)}
    if not foreign:
        return NUMPY
    names = ", ".join(foreign)
    try:
        xp = array_api_compat.array_namespace(*foreign.values())
    except TypeError as exc:
        raise TypeError(
            f"{names}: expected arrays of one library (NumPy, torch or JAX), got a mix: {exc}"
        ) from exc
    for name, a in foreign.items():
        try:
            _check_supported(a)
        except TypeError as exc:
            raise TypeError(f"{name}: {exc}") from None
    like = (
        next(a for a in foreign.values() if getattr(a, "ndim", 0) > 0)
        if any(getattr(a, "ndim", 0) > 0 for a in foreign.values())
        else next(iter(foreign.values()))
    )
    return Backend(xp, like)
