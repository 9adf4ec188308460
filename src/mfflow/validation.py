"""Input validation shared by every public entry point.

Each checker takes the user's value and the argument's name, and either returns a clean
``float64`` NumPy value or raises a :class:`ValueError` / :class:`TypeError` whose message names
the argument, what it got and what was expected. Nothing is silently repaired: a non-symmetric
target is refused, not symmetrized; a negative time is refused, not clipped.
"""

from __future__ import annotations

import math
import os
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .backend import to_numpy

__all__ = [
    "MAGNITUDE_MAX",
    "MAGNITUDE_MIN",
    "SCALE_MIN",
    "SYMMETRY_RTOL",
    "Seed",
    "array_bytes",
    "as_alpha",
    "as_dataset",
    "as_eps",
    "as_fraction",
    "as_init",
    "as_matrix",
    "as_positive_int",
    "as_positive_scalar",
    "as_real",
    "as_relative_tolerance",
    "as_rng",
    "as_scales",
    "as_steps",
    "as_symmetric",
    "as_times",
    "as_values",
    "as_vector",
    "check_bytes",
    "check_fits",
    "check_magnitude",
    "memory_limit",
]

#: Relative tolerance for symmetry of a target: ``max|Y - Y^T| <= SYMMETRY_RTOL * max|Y|``.
#: It admits the rounding left by ``Q @ diag(s) @ Q.T`` and nothing larger.
SYMMETRY_RTOL = 1e-10

#: Largest entry (in absolute value) of an array argument, and of the initial product: the
#: losses square sums of products of entries (``1/4 ||Y - U U^T||_F^2``), which must stay in the
#: float64 range (``1e308``) with room for the sizes and the transient of the flow.
MAGNITUDE_MAX = 1e100
#: Smallest non-zero scale ``max|x|`` of an array argument: time scales go like ``1 / |lam|``,
#: and below this they (and ``1 / (2 sigma)``-type transition times) leave the float64 range or
#: lose every digit to subnormal arithmetic. An all-zero array is allowed.
MAGNITUDE_MIN = 1e-100
#: Smallest non-zero scale of a *scale-like* argument whose formulas work on its logarithm (the
#: deep modes' initial value ``s0``, like ``alpha``): the smallest normal double. Below it a
#: number is subnormal, keeps fewer than 53 significant bits, and its logarithm is no longer
#: known to full precision.
SCALE_MIN = float(np.finfo(np.float64).tiny)

FloatArray = NDArray[np.float64]

#: A seed: a non-negative integer, a sequence of them, a ``SeedSequence`` or a ``Generator``
#: (used as is); ``None`` draws fresh entropy.
Seed = int | np.random.Generator | None


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _host(value: Any, name: str) -> Any:
    """A torch/JAX array as host NumPy (refusals named); anything else unchanged."""
    return to_numpy(value, name)


def _to_float_array(value: Any, name: str) -> FloatArray:
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{name}: expected a real array, got {_describe(value)}")
    if isinstance(value, np.ma.MaskedArray) and np.ma.is_masked(value):
        raise TypeError(
            f"{name}: expected a plain array, got a masked array with "
            f"{int(np.ma.count_masked(value))} masked entries (fill them or drop the mask)"
        )
    value = _host(value, name)
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise TypeError(
            f"{name}: expected a real array (a rectangular nest of numbers), got "
            f"{_describe(value)} ({exc})"
        ) from None
    if arr.dtype == object or np.iscomplexobj(arr) or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    with np.errstate(over="ignore"):
        return np.asarray(arr, dtype=np.float64)


def as_real(value: Any, name: str) -> FloatArray:
    """Any real numeric array (any shape, not yet checked for finiteness) as float64."""
    return _to_float_array(value, name)


def as_scales(value: Any, n: int, name: str = "scales") -> FloatArray:
    """Per-mode scales ``>= 0``: a number (every mode) or ``n`` of them, as ``(n,)`` float64."""
    raw = _to_float_array(value, name)
    if raw.ndim > 1 or raw.size not in (1, n):
        raise ValueError(f"{name}: expected a number or {n} numbers, got shape {raw.shape}")
    s = np.broadcast_to(raw.ravel(), (n,)).copy()
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"{name}: expected finite values >= 0, got {s}")
    return check_magnitude(s, name)


def check_magnitude(arr: FloatArray, name: str, *, minimum: float = MAGNITUDE_MIN) -> FloatArray:
    """``arr`` (finite, float64) if its scale ``max|arr|`` is 0 or within
    ``[minimum, MAGNITUDE_MAX]``; a :class:`ValueError` naming ``name`` otherwise.

    ``minimum`` is :data:`MAGNITUDE_MIN` for data (time scales go like its inverse) and
    :data:`SCALE_MIN` for scale-like arguments handled through their logarithm."""
    if arr.size == 0:
        return arr
    top = float(np.max(np.abs(arr)))
    if top > MAGNITUDE_MAX:
        raise ValueError(
            f"{name}: expected entries of magnitude at most {MAGNITUDE_MAX:g} (the loss squares "
            f"sums of their products, which must stay in the float64 range), got "
            f"max|{name}| = {top:.3g}; rescale the problem (time scales with 1 / |{name}|)"
        )
    if 0.0 < top < minimum:
        why = (
            "below it a number is subnormal and its logarithm loses digits"
            if minimum <= SCALE_MIN
            else "time scales go like its inverse"
        )
        raise ValueError(
            f"{name}: expected a scale max|{name}| of 0 or at least {minimum:g} ({why}), "
            f"got {top:.3g}; rescale the problem"
        )
    return arr


def memory_limit() -> int:
    """Bytes of memory this process may use: physical memory, or a smaller cgroup or
    ``RLIMIT_AS`` limit (containers, ``ulimit -v``)."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            limits.append(int(text))
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY and soft > 0:
            limits.append(int(soft))
    except (ImportError, ValueError, OSError):  # pragma: no cover - non-POSIX
        pass
    return min(limits) if limits else 2**40


def _bytes_text(b: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{b:.0f} bytes"


def array_bytes(shape: tuple[int, ...], itemsize: int = 8) -> int:
    """Bytes of an array of ``shape`` (exact, Python integers: no overflow)."""
    return math.prod(int(s) for s in shape) * itemsize


def check_fits(
    shape: tuple[int, ...], name: str, what: str = "array", itemsize: int = 8, copies: int = 1
) -> None:
    """Refuse, naming ``name``, an array of ``shape`` (``copies`` of it) that cannot fit in
    memory (:func:`memory_limit`), before allocating it.

    Examples
    --------
    >>> check_fits((10**12, 1), "n")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: n: a (1000000000000, 1) float64 array needs 8 TB (8000000000000 bytes), more ...
    """
    dims = ", ".join(str(int(s)) for s in shape)
    dtype = {8: "float64", 4: "float32", 1: "bool"}.get(itemsize, f"{itemsize}-byte")
    comma = "," if len(shape) == 1 else ""
    one = f"({dims}{comma}) {dtype} {what}"
    text = f"{copies} copies of a {one}" if copies > 1 else f"a {one}"
    check_bytes(array_bytes(shape, itemsize) * copies, name, text)


def check_bytes(need: int, name: str, what: str) -> None:
    """Refuse, naming ``name``, ``what`` needing ``need`` bytes when they cannot fit in memory."""
    have = memory_limit()
    if need > have:
        raise ValueError(
            f"{name}: {what} needs {_bytes_text(need)} ({need} bytes), more than the "
            f"{_bytes_text(have)} of memory available; use smaller sizes"
        )


def as_matrix(value: Any, name: str) -> FloatArray:
    """A finite real 2-D array as float64.

    Raises
    ------
    TypeError
        If the value is not a real numeric array.
    ValueError
        If it is not 2-D, is empty or holds NaN or infinity.
    """
    arr = _to_float_array(value, name)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 2-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name}: expected finite entries, got {bad} NaN or infinite entries")
    return check_magnitude(arr, name)


def as_vector(value: Any, name: str) -> FloatArray:
    """A finite real non-empty 1-D array (a spectrum) as float64, magnitudes checked."""
    arr = _to_float_array(value, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, got NaN or infinity")
    return check_magnitude(arr, name)


def as_values(
    value: Any,
    name: str,
    *,
    nonnegative: bool = False,
    minimum: float = MAGNITUDE_MIN,
) -> FloatArray:
    """A number or a 1-D array of finite real values (``>= 0`` if ``nonnegative``) as a
    non-empty ``(k,)`` float64 array, magnitudes checked (floor ``minimum``)."""
    arr = _to_float_array(value, name)
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(
            f"{name}: expected a number or a non-empty 1-D array, got shape {arr.shape}"
        )
    arr = np.atleast_1d(arr)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite values, got {arr.tolist()}")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name}: expected values >= 0, got {arr.tolist()}")
    return check_magnitude(arr, name, minimum=minimum)


def as_symmetric(value: Any, name: str = "Y", rtol: float = SYMMETRY_RTOL) -> FloatArray:
    """A finite, square, symmetric real matrix ``(n, n)`` as float64.

    Symmetry is checked, not imposed: ``max|Y - Y^T| <= rtol * max|Y|`` or a ``ValueError``.
    Within that tolerance the matrix is returned unchanged (the eigensolver reads one triangle).
    """
    arr = as_matrix(value, name)
    n0, n1 = arr.shape
    if n0 != n1:
        raise ValueError(f"{name}: expected a square (n, n) matrix, got shape {arr.shape}")
    scale = float(np.max(np.abs(arr)))
    # measured on arr / scale: arr - arr.T itself may overflow for entries near 1e308
    asym = float(np.max(np.abs(arr / scale - arr.T / scale))) * scale if scale > 0 else 0.0
    if asym > rtol * scale:
        raise ValueError(
            f"{name}: expected a symmetric matrix (max|{name} - {name}^T| <= {rtol:g} * "
            f"max|{name}|), got max|{name} - {name}^T| = {asym:.3g} with max|{name}| = "
            f"{scale:.3g}; symmetrize it yourself if that is what you mean"
        )
    return arr


def as_init(value: Any, n: int, name: str = "U0") -> FloatArray:
    """An initialization shape ``U0`` of shape ``(n, r)``, ``r >= 1``, finite, as float64."""
    arr = _to_float_array(value, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array of shape (n, r) = ({n}, r), got shape {arr.shape}"
        )
    if arr.shape[0] != n:
        raise ValueError(
            f"{name}: expected {n} rows to match the target's size n = {n}, got shape {arr.shape}"
        )
    if arr.shape[1] < 1:
        raise ValueError(f"{name}: expected at least one column (r >= 1), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite entries, got NaN or infinite entries")
    return check_magnitude(arr, name)


def _real_scalar(value: Any, name: str) -> float:
    """A real number (Python, NumPy, or a 0-d array of any library) as a Python float."""
    if not isinstance(value, Real | np.ndarray | np.generic) and getattr(value, "ndim", None) == 0:
        value = _host(value, name)  # a 0-d torch/JAX value
    if isinstance(value, bool) or not isinstance(value, Real | np.floating | np.integer):
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
            if isinstance(value, bool) or not isinstance(value, Real):
                raise TypeError(f"{name}: expected a real number, got {_describe(value)}")
        else:
            raise TypeError(f"{name}: expected a real number, got {_describe(value)}")
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range (e.g. 10**400)
        digits = len(str(abs(int(value))))
        raise ValueError(
            f"{name}: expected a finite number, got an integer of {digits} digits, beyond the "
            "float64 range (1.8e308)"
        ) from None


def as_finite_scalar(value: Any, name: str, *, bound: float = MAGNITUDE_MAX) -> float:
    """A finite real number (any sign) with ``|x| <= bound`` as a Python float."""
    x = _real_scalar(value, name)
    if not math.isfinite(x):
        raise ValueError(f"{name}: expected a finite number, got {x!r}")
    if abs(x) > bound:
        raise ValueError(f"{name}: expected a number of magnitude at most {bound:g}, got {x!r}")
    return x


def as_positive_scalar(
    value: Any,
    name: str,
    *,
    allow_inf: bool = False,
    minimum: float = 0.0,
    maximum: float = math.inf,
) -> float:
    """A real scalar ``> 0`` (finite unless ``allow_inf``) as a Python float; optionally
    ``>= minimum`` and ``<= maximum`` (the float64 range a quantity can use safely)."""
    x = _real_scalar(value, name)
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise ValueError(f"{name}: expected a finite number > 0, got {x!r}")
    if x <= 0:
        raise ValueError(f"{name}: expected a number > 0, got {x!r}")
    if x < minimum:
        raise ValueError(f"{name}: expected a number >= {minimum:g}, got {x!r}")
    if x > maximum and not (allow_inf and math.isinf(x)):
        raise ValueError(f"{name}: expected a number <= {maximum:g}, got {x!r}")
    return x


def as_relative_tolerance(value: Any, name: str) -> float:
    """A relative tolerance ``eps_64 <= x < 1`` (``eps_64 = 2.2e-16``, the float64 resolution:
    a smaller one cannot be met by rounded arithmetic)."""
    x = as_positive_scalar(value, name)
    eps = float(np.finfo(np.float64).eps)
    if x < eps:
        raise ValueError(
            f"{name}: expected a number >= {eps:.3g} (the float64 resolution: a relative "
            f"tolerance below it cannot be met), got {x!r}"
        )
    if x >= 1.0:
        raise ValueError(f"{name}: expected a number < 1 (a relative tolerance), got {x!r}")
    return x


def as_alpha(value: Any, name: str = "alpha") -> float:
    """The initialization scale: a finite real ``alpha > 0`` (``U(0) = sqrt(alpha) U0``)."""
    return as_positive_scalar(value, name)


def as_eps(value: Any, upper: float, name: str = "eps") -> float:
    """A tolerance ``0 < eps <= upper``."""
    x = as_positive_scalar(value, name)
    if x > upper:
        raise ValueError(f"{name}: expected 0 < {name} <= {upper:.6g}, got {x!r}")
    return x


def as_positive_int(value: Any, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """An integer ``>= minimum`` (and ``<= maximum`` if given); bools are refused."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name}: expected an integer >= {minimum}, got {_describe(value)}")
    if int(value) < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {int(value)}")
    if maximum is not None and int(value) > maximum:
        raise ValueError(f"{name}: expected an integer <= {maximum}, got {int(value)}")
    return int(value)


def as_times(value: Any, name: str = "t") -> tuple[FloatArray, bool]:
    """Times ``t >= 0``: a scalar or a 1-D array.

    Returns
    -------
    times : (T,) float64 array
        The times, ``T = 1`` for a scalar.
    scalar : bool
        Whether the input was a scalar (callers then drop the time axis).
    """
    arr = _to_float_array(value, name)
    if arr.ndim > 1:
        raise ValueError(
            f"{name}: expected a scalar or a 1-D array of times, got shape {arr.shape}"
        )
    scalar = arr.ndim == 0
    arr = np.atleast_1d(arr)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite times, got {arr[~np.isfinite(arr)][:3]}")
    if np.any(arr < 0):
        raise ValueError(f"{name}: expected times >= 0, got {float(arr.min())!r}")
    return arr, scalar


def as_steps(value: Any, name: str = "steps") -> tuple[NDArray[np.int64], bool]:
    """Iteration indices ``k >= 0``: an integer or a 1-D array of integers.

    Floats are refused, even integral ones (a time belongs in ``t=``, not ``steps=``); so are
    bools.

    Returns
    -------
    steps : (T,) int64 array
        The indices, ``T = 1`` for a scalar (``T = 0`` for an empty array).
    scalar : bool
        Whether the input was a scalar.
    """
    if isinstance(value, str | bytes) or value is None:
        raise TypeError(f"{name}: expected non-negative integers, got {_describe(value)}")
    value = _host(value, name)
    try:
        arr = np.asarray(value)
    except OverflowError:
        raise ValueError(f"{name}: expected integers < 2**63, got {_describe(value)}") from None
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name}: expected non-negative integers, got {_describe(value)}") from exc
    if arr.dtype == object and all(isinstance(x, Integral) for x in arr.ravel()):
        raise ValueError(f"{name}: expected integers < 2**63, got {_describe(value)}")
    if arr.size == 0 and arr.dtype == np.float64:  # ``[]`` has no integer dtype of its own
        arr = arr.astype(np.int64)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected non-negative integers, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise ValueError(
            f"{name}: expected an integer or a 1-D array of integers, got shape {arr.shape}"
        )
    scalar = arr.ndim == 0
    arr = np.atleast_1d(arr)
    if arr.size and np.any(arr < 0):
        raise ValueError(f"{name}: expected integers >= 0, got {int(arr.min())}")
    if arr.size and arr.dtype.kind == "u" and np.any(arr > np.iinfo(np.int64).max):
        raise ValueError(f"{name}: expected integers < 2**63, got {int(arr.max())}")
    return arr.astype(np.int64), scalar


def as_fraction(value: Any, name: str = "fraction") -> float:
    """A real number in ``(0, 1]`` (a sampling probability) as a Python float."""
    x = as_positive_scalar(value, name)
    if x > 1.0:
        raise ValueError(f"{name}: expected a number in (0, 1], got {x!r}")
    return x


def as_rng(seed: Any, name: str = "seed") -> np.random.Generator:
    """A :class:`numpy.random.Generator` from a seed.

    Accepted: ``None`` (fresh entropy), a non-negative integer, a non-empty sequence of
    non-negative integers, a :class:`numpy.random.SeedSequence`, or a ``Generator`` (returned as
    is, so draws continue its stream). Refused with a message naming ``name``: bools, floats
    (even integral ones), negative integers, strings, complex numbers and the legacy
    ``RandomState`` (whose streams differ from ``Generator``'s).

    Examples
    --------
    >>> as_rng(0).integers(10, size=3)
    array([8, 6, 5])
    """
    if seed is None or isinstance(seed, np.random.Generator):
        return np.random.default_rng(seed) if seed is None else seed
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    expected = "a non-negative integer, a sequence of them, a SeedSequence or a Generator"
    if isinstance(seed, np.random.RandomState):
        raise TypeError(f"{name}: expected {expected}, got a legacy RandomState")
    if isinstance(seed, bool | np.bool_) or isinstance(seed, str | bytes):
        raise TypeError(f"{name}: expected {expected}, got {_describe(seed)}")
    if isinstance(seed, Integral):
        if int(seed) < 0:
            raise ValueError(f"{name}: expected a non-negative integer, got {int(seed)}")
        return np.random.default_rng(int(seed))
    if isinstance(seed, list | tuple | np.ndarray):
        arr = np.asarray(seed)
        if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
            raise TypeError(f"{name}: expected {expected}, got {_describe(seed)}")
        if np.any(arr < 0):
            raise ValueError(f"{name}: expected non-negative integers, got {arr.tolist()}")
        return np.random.default_rng([int(x) for x in arr])
    raise TypeError(f"{name}: expected {expected}, got {_describe(seed)}")


# ---- checkers shared by the simulation stack and the asymmetric/deep/sensing modules ----------
__all__ += [  # appended: the additions stay in one place
    "MAX_DEPTH",
    "as_depth",
    "as_factor_stack",
    "as_finite_scalar",
    "as_nonempty_times",
    "as_operator",
    "as_pair",
    "as_square",
]


def as_nonempty_times(value: Any, name: str = "t") -> FloatArray:
    """Times to record at: like :func:`as_times`, but at least one, ``(T,)`` with ``T >= 1``."""
    arr, _ = as_times(value, name)
    if arr.size == 0:
        raise ValueError(f"{name}: expected at least one time, got an empty array")
    return arr


def as_square(value: Any, name: str = "Y") -> FloatArray:
    """A finite real square matrix ``(n, n)`` (any symmetry) as float64."""
    arr = as_matrix(value, name)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name}: expected a square (n, n) matrix, got shape {arr.shape}")
    return arr


def as_pair(
    Y: Any, U0: Any, V0: Any, names: tuple[str, str] = ("U0", "V0")
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The asymmetric problem ``Y`` ``(m, n)``, ``U0`` ``(m, r)``, ``V0`` ``(n, r)``, checked.

    Every array finite, real, 2-D and non-empty; the rows of ``U0`` and ``V0`` match ``Y``'s rows
    and columns, and their column counts ``r`` match each other. ``names`` are the caller's
    names of the two factors (``("U", "V")`` for :func:`mfflow.curvature`).
    """
    nu, nv = names
    y = as_matrix(Y, "Y")
    m, n = y.shape
    u0 = as_matrix(U0, nu)
    if u0.shape[0] != m:
        raise ValueError(f"{nu}: expected shape (m, r) with {m} rows to match Y, got {u0.shape}")
    v0 = as_matrix(V0, nv)
    if v0.shape[0] != n:
        raise ValueError(f"{nv}: expected shape (n, r) with {n} rows to match Y, got {v0.shape}")
    if u0.shape[1] != v0.shape[1]:
        raise ValueError(
            f"{nv}: expected r = {u0.shape[1]} columns to match {nu} {u0.shape}, got {v0.shape}"
        )
    return y, u0, v0


#: Largest depth ``L`` of a deep factorization: the exact per-mode clock costs ``O(L)`` per
#: evaluation, a gradient ``O(L)`` products, and float64 resolves no transition of a deeper
#: product started below ``sigma * 1e-16`` (:mod:`mfflow.deep`).
MAX_DEPTH = 100


def as_depth(value: Any, name: str = "L") -> int:
    """A depth ``2 <= L <= MAX_DEPTH``."""
    return as_positive_int(value, name, minimum=2, maximum=MAX_DEPTH)


def as_factor_stack(value: Any, n: int, name: str = "factors0") -> FloatArray:
    """Square factors ``(L, n, n)``, ``2 <= L <= MAX_DEPTH``, finite, as float64 (``[0]``
    applied first)."""
    arr = _to_float_array(value, name)
    if arr.ndim != 3 or arr.shape[1:] != (n, n) or arr.shape[0] < 2:
        raise ValueError(
            f"{name}: expected shape (L, {n}, {n}) with L >= 2 to match Y, got {arr.shape}"
        )
    if arr.shape[0] > MAX_DEPTH:
        raise ValueError(f"{name}: expected at most L = {MAX_DEPTH} factors, got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: expected finite entries, got NaN or infinite entries")
    return arr


_OPERATOR_MEMBERS = ("m", "n", "shape", "symmetric", "apply", "adjoint")


def as_operator(value: Any, shape: tuple[int, int] | None = None, name: str = "operator") -> Any:
    """A measurement operator (:class:`mfflow.MeasurementOperator`), measuring ``shape`` if given.

    Any object with the members ``m``, ``n``, ``shape``, ``symmetric``, ``apply`` and ``adjoint``
    is accepted (the protocol is structural); it is returned unchanged.
    """
    if not all(hasattr(value, member) for member in _OPERATOR_MEMBERS):
        raise TypeError(
            f"{name}: expected a measurement operator (apply, adjoint, m, n, shape, symmetric; "
            f"e.g. mfflow.GaussianSensing), got {type(value).__name__}"
        )
    if not (callable(value.apply) and callable(value.adjoint)):
        raise TypeError(f"{name}: expected callable apply and adjoint methods")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise ValueError(
            f"{name}: measures {value.shape[0]} x {value.shape[1]} matrices but the target has "
            f"shape {tuple(shape)}"
        )
    return value


def as_dataset(X: Any, Y: Any) -> tuple[FloatArray, FloatArray]:
    """Checked inputs ``X`` ``(d_in, P)`` and targets ``Y`` ``(d_out, P)``: finite, real, the
    same number ``P`` of examples (columns)."""
    x = as_matrix(X, "X")
    y = as_matrix(Y, "Y")
    if y.shape[1] != x.shape[1]:
        raise ValueError(
            f"Y: expected shape (d_out, P) with P = {x.shape[1]} examples (columns) to match X "
            f"{x.shape}, got {y.shape}"
        )
    return x, y


# ---- weight decay (issue 14) -------------------------------------------------------------------
__all__ += ["as_nonnegative_scalar", "as_weight_decay"]


def as_nonnegative_scalar(value: Any, name: str) -> float:
    """A finite real scalar ``>= 0`` as a Python float (bools refused)."""
    x = _real_scalar(value, name)
    if not math.isfinite(x) or x < 0.0:
        raise ValueError(f"{name}: expected a finite number >= 0, got {x!r}")
    return x


def as_weight_decay(value: Any, name: str = "weight_decay") -> float:
    """The weight-decay coefficient ``gamma >= 0`` of ``+ gamma/2 ||factors||_F^2``, at most
    ``MAGNITUDE_MAX`` like the target's entries (it shifts the target's eigenvalues)."""
    x = as_nonnegative_scalar(value, name)
    if x > MAGNITUDE_MAX:
        raise ValueError(
            f"{name}: expected a number <= {MAGNITUDE_MAX:g} (it shifts the target's "
            f"eigenvalues, bounded like the target's entries), got {x!r}"
        )
    return x
