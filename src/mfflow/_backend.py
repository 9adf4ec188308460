"""Array-namespace shims: NumPy (default), PyTorch and JAX through array-api-compat.

:func:`mfflow.closed_form` accepts NumPy arrays (or anything ``numpy.asarray`` takes), PyTorch
tensors and JAX arrays. The set-up (validation, eigendecomposition of ``Y``, detection of a
spectral init, the QR factor of the init: ``O(n^3)`` once) runs in float64 NumPy on the host;
the per-time evaluation (``O(T n m^2)``) runs in the input's namespace, dtype and device. What
the array API standard lacks is wrapped here: a batched triangular solve (torch, jax.scipy).

JAX computes in float32 unless ``jax.config.update("jax_enable_x64", True)`` was called; float64
inputs then stay float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Backend", "backend_of", "to_numpy"]


def _compat() -> Any:
    try:
        import array_api_compat
    except ImportError:  # pragma: no cover - array-api-compat is a core dependency
        return None
    return array_api_compat


def _is_foreign(x: Any) -> bool:
    """Whether ``x`` is an array of a namespace other than NumPy's."""
    compat = _compat()
    if compat is None or x is None or isinstance(x, np.ndarray | np.generic):
        return False
    return bool(compat.is_array_api_obj(x)) and not compat.is_numpy_array(x)


def to_numpy(x: Any) -> Any:
    """A host NumPy copy of a torch/JAX array; anything else is returned unchanged."""
    if not _is_foreign(x):
        return x
    compat = _compat()
    if compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    return np.asarray(compat.to_device(x, "cpu") if not compat.is_jax_array(x) else x)


class Backend:
    """The namespace, dtype and device that a trajectory's results come back in.

    Parameters
    ----------
    xp : array namespace (array-api-compat wrapped)
    like : array
        An input array: its device is used; its dtype too if it is float32 (else float64).
    """

    def __init__(self, xp: Any, like: Any) -> None:
        compat = _compat()
        self.xp = xp
        self.device = compat.device(like)
        self.dtype = xp.float32 if like.dtype == xp.float32 else xp.float64
        self.name = (
            "torch"
            if compat.is_torch_namespace(xp)
            else "jax"
            if compat.is_jax_namespace(xp)
            else getattr(xp, "__name__", "array-api")
        )
        self.tiny = float(xp.finfo(self.dtype).tiny)

    def asarray(self, a: Any) -> Any:
        """``a`` (NumPy or scalar) in this namespace, dtype and device."""
        return self.xp.asarray(
            np.asarray(a, dtype=np.float64), dtype=self.dtype, device=self.device
        )

    def solve_lower(self, C: Any, B: Any) -> Any:
        """``C^{-1} B`` for lower triangular ``C`` ``(..., m, m)``, ``B`` ``(..., m, k)``."""
        if self.name == "torch":
            import torch

            return torch.linalg.solve_triangular(C, B, upper=False)
        if self.name == "jax":
            import jax.scipy.linalg

            return jax.scipy.linalg.solve_triangular(C, B, lower=True)
        return self._forward_substitution(C, B)  # pragma: no cover - other namespaces

    def _forward_substitution(self, C: Any, B: Any) -> Any:  # pragma: no cover
        xp = self.xp
        rows = []
        for j in range(C.shape[-1]):
            acc = B[..., j, :]
            for i, x in enumerate(rows):
                acc = acc - C[..., j, i : i + 1] * x
            rows.append(acc / C[..., j, j : j + 1])
        return xp.stack(rows, axis=-2)


def backend_of(*arrays: Any) -> Backend | None:
    """The backend of the torch/JAX arrays among ``arrays``; ``None`` means NumPy.

    NumPy arrays may be mixed with one other namespace (e.g. a torch ``Y`` and a NumPy ``U0``
    from :func:`mfflow.gaussian_init`): results come back in the other namespace.

    Raises
    ------
    TypeError
        If arrays of different namespaces are mixed.
    """
    foreign = [a for a in arrays if _is_foreign(a)]
    if not foreign:
        return None
    compat = _compat()
    try:
        xp = compat.array_namespace(*foreign)
    except TypeError as exc:
        raise TypeError(
            f"Y, U0: expected arrays of one library (NumPy, torch or JAX), got a mix: {exc}"
        ) from exc
    return Backend(xp, foreign[0])
