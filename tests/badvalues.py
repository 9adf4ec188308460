"""Bad, extreme and foreign values for each argument kind of :mod:`registry`.

:func:`variants` gives, for an argument kind and its valid value, a list of ``(label, value)``
pairs: wrong types, wrong shapes, NaN/inf, magnitudes at the edge of float64, seeds the
validator refuses, and the same arrays as torch tensors (float32, bfloat16, sparse, meta) and
JAX arrays. Every one must be refused with a ``ValueError``/``TypeError`` naming an argument or
give a finite (or flagged) result, quickly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # the test extra installs both; the pools shrink without them
    import torch
except ImportError:  # pragma: no cover
    torch = None
jnp: Any = None  # imported on demand: JAX's import costs seconds

Values = list[tuple[str, Any]]
#: Whether the pools include JAX arrays.
JAX = False


def _jax() -> Any:
    global jnp
    if jnp is None:
        try:
            import jax.numpy as jnp
        except ImportError:  # pragma: no cover
            return None
    return jnp


def _generic() -> Values:
    return [
        ("none", None),
        ("str", "abc"),
        ("bytes", b"1"),
        ("dict", {"a": 1}),
        ("object", object()),
        ("complex", 1 + 2j),
        ("set", {1.0}),
    ]


def _scalars(valid: Any = None) -> Values:
    x = float(valid) if isinstance(valid, int | float) and not isinstance(valid, bool) else 1e-3
    out = [
        ("zero", 0.0),
        ("negative", -1.0),
        ("nan", float("nan")),
        ("inf", float("inf")),
        ("-inf", float("-inf")),
        ("tiny", 1e-300),
        ("subnormal", 5e-324),
        ("huge", 1e300),
        ("max", 1.7976931348623157e308),
        ("int-beyond-float", 10**400),
        ("bool", True),
        ("list", [x]),
        ("array-2", np.array([x, x / 2])),
        ("0-d array", np.array(x)),
        ("float32", np.float32(x)),
        ("str-number", str(x)),
    ]
    if torch is not None:
        out += [("torch 0-d", torch.tensor(x)), ("torch meta", torch.tensor(x, device="meta"))]
    return out + _generic()


def _ints() -> Values:
    return [
        ("zero", 0),
        ("negative", -1),
        ("float", 1.5),
        ("integral float", 2.0),
        ("bool", True),
        ("str", "3"),
        ("2**63", 2**63),
        ("10**12", 10**12),
        ("nan", float("nan")),
        ("numpy int", np.int64(2)),
        ("uint64 huge", np.uint64(2**63 + 5)),
        ("list", [2]),
        *_generic(),
    ]


def _seeds() -> Values:
    return [
        ("negative", -1),
        ("float", 1.5),
        ("str", "abc"),
        ("negative in list", [1, -2]),
        ("complex", 1 + 2j),
        ("bool", True),
        ("RandomState", np.random.RandomState(0)),
        ("empty list", []),
        ("nested", [[1, 2]]),
        ("float list", [1.0, 2.0]),
        ("huge", 2**200),
        ("SeedSequence", np.random.SeedSequence(1)),
        ("Generator", np.random.default_rng(1)),
        ("numpy int", np.int64(3)),
        ("None", None),
        ("dict", {"a": 1}),
    ]


def _arrays(valid: np.ndarray) -> Values:
    v = np.asarray(valid, dtype=np.float64)
    with_nan = v.copy()
    with_nan.flat[0] = np.nan
    with_inf = v.copy()
    with_inf.flat[-1] = np.inf
    out: Values = [
        ("nan entry", with_nan),
        ("inf entry", with_inf),
        ("x1e200", v * 1e200),
        ("x1e-200", v * 1e-200),
        ("1.5e308 entry", np.where(v == v.flat[0], 1.5e308, v)),
        ("subnormal", v * 5e-324),
        ("zeros", np.zeros_like(v)),
        ("negated", -v),
        ("complex", v.astype(complex)),
        ("object", v.astype(object)),
        ("bool", v != 0),
        ("int", np.round(v).astype(np.int64)),
        ("float16", v.astype(np.float16)),
        ("longdouble", v.astype(np.longdouble)),
        ("list", v.tolist()),
        ("empty", np.zeros((0,) * max(v.ndim, 1))),
        ("extra axis", v[None]),
        ("flattened", v.ravel()),
        ("0-d", np.array(1.0)),
        ("datetime", np.zeros(v.shape, dtype="datetime64[s]")),
        ("strings", np.full(v.shape, "a")),
        ("masked", np.ma.masked_array(v, mask=np.ones(v.shape, dtype=bool))),
        *_generic(),
    ]
    if v.ndim >= 1 and v.shape[-1] > 1:
        out.append(("one column less", v[..., :-1]))
    if v.ndim >= 2:
        out.append(("one row more", np.concatenate([v, v[..., :1, :]], axis=-2)))
        out.append(("transposed", np.swapaxes(v, -1, -2)))
        ragged = [list(row) for row in v.reshape(-1, v.shape[-1])]
        ragged[0] = ragged[0][:-1] if len(ragged[0]) > 1 else [*ragged[0], 1.0]
        out.append(("ragged", ragged))
    if v.ndim == 2:
        out.append(("tuple of rows", tuple(tuple(r) for r in v)))
        asym = v.copy()
        asym[0, -1] += 1.0 + abs(asym[0, -1])
        out.append(("asymmetric", asym))
        out.append(("rank one", np.outer(v[:, 0], v[0])))
    if torch is not None:
        t64 = torch.tensor(v)
        out += [
            ("torch float64", t64),
            ("torch float32", t64.float()),
            ("torch bfloat16", t64.to(torch.bfloat16)),
            ("torch float16", t64.half()),
            ("torch int", t64.round().long()),
            ("torch complex", t64.to(torch.complex128)),
            ("torch meta", t64.to("meta")),
            ("torch requires_grad", t64.clone().requires_grad_(True)),
        ]
        if v.ndim >= 1:
            out.append(("torch sparse", t64.to_sparse()))
    if JAX and _jax() is not None:
        # JAX compiles each operation for each new shape and dtype on first use (seconds): the
        # namespace contract covers JAX; the pools leave it out unless asked
        out += [
            ("jax float32", jnp.asarray(v, dtype=jnp.float32)),
            ("jax bfloat16", jnp.asarray(v, dtype=jnp.bfloat16)),
        ]
    return out


def _times(valid: Any) -> Values:
    return [
        ("negative", -1.0),
        ("negative in list", [0.0, 1.0, -1e-9]),
        ("nan", float("nan")),
        ("inf", float("inf")),
        ("huge", 1e300),
        ("max", 1.7976931348623157e308),
        ("tiny", 1e-300),
        ("empty", []),
        ("2-D", [[1.0]]),
        ("unsorted", [4.0, 0.0, 1.0, 1.0]),
        ("zero", 0.0),
        ("bool", True),
        ("complex", 1 + 0j),
        ("str", "1.0"),
        ("None", None),
        ("int-beyond-float", 10**400),
        ("list of str", ["a"]),
        *(
            [
                ("torch", torch.tensor([0.0, 1.0])),
                ("torch bf16", torch.tensor([1.0], dtype=torch.bfloat16)),
                ("torch meta", torch.tensor([1.0], device="meta")),
            ]
            if torch is not None
            else []
        ),
        *([("jax", _jax().asarray([0.0, 1.0]))] if JAX and _jax() is not None else []),
    ]


def _steps() -> Values:
    return [
        ("negative", -1),
        ("negative in list", [0, 3, -2]),
        ("float", 1.5),
        ("integral float", [2.0]),
        ("bool", True),
        ("2**62", 2**62),
        ("2**70", 2**70),
        ("uint64 huge", np.array([2**63 + 5], dtype=np.uint64)),
        ("empty", []),
        ("2-D", [[1]]),
        ("str", "3"),
        ("None", None),
        ("complex", [1 + 0j]),
    ]


def _choice() -> Values:
    return [
        ("unknown", "paper"),
        ("int", 1),
        ("None", None),
        ("list", ["svd"]),
        ("upper", "DOP853 "),
    ]


def _bool() -> Values:
    return [("str", "yes"), ("int", 2), ("None", None), ("float", 1.0), ("numpy bool", np.True_)]


def _operator() -> Values:
    import mfflow

    return [
        ("str", "identity"),
        ("None", None),
        ("object", object()),
        ("wrong size", mfflow.IdentityOperator(5)),
        ("rectangular", mfflow.IdentityOperator(3, cols=2)),
        ("array", np.eye(3)),
    ]


def _callable() -> Values:
    return [("str", "bar"), ("int", 1), ("True", True)]


def _tasks(valid: Any) -> Values:
    first = np.asarray(valid[0], dtype=np.float64)
    with_nan = first.copy()
    with_nan.flat[0] = np.nan
    return [
        ("none", None),
        ("str", "abc"),
        ("empty", []),
        ("one array", first),
        ("nan entry", [with_nan, *valid[1:]]),
        ("one column less", [first[:, :-1], *valid[1:]]),
        ("complex", [first.astype(complex), *valid[1:]]),
        ("str entry", ["abc", *valid[1:]]),
        *(
            [("torch meta", [torch.tensor(first).to("meta"), *valid[1:]])]
            if torch is not None
            else []
        ),
    ]


def variants(kind: str, valid: Any) -> Values:
    """Bad and extreme values for an argument of ``kind`` whose valid value is ``valid``."""
    if kind in ("sym", "mat", "init", "factors", "samples"):
        return _arrays(np.asarray(valid, dtype=np.float64))
    if kind in ("vector", "scales", "levels"):
        base = np.atleast_1d(np.asarray(valid, dtype=np.float64))
        return [*_arrays(base), *_scalars(valid)]
    if kind in ("alpha", "pos", "frac", "frac0", "real", "rtol", "nonneg"):
        return _scalars(valid)
    if kind == "pairs":
        return _arrays(np.asarray(valid if valid is not None else [[0.0, 0.1]], dtype=np.float64))
    if kind == "tasks":
        return _tasks(valid)
    if kind in ("int", "count"):
        return _ints()
    if kind == "seed":
        return _seeds()
    if kind == "times":
        return _times(valid)
    if kind == "steps":
        return _steps()
    if kind == "choice":
        return _choice()
    if kind == "bool":
        return _bool()
    if kind in ("operator", "anyop"):
        return _operator()
    if kind == "callable":
        return _callable()
    if kind == "target":
        return [("None", None), ("array", np.eye(3)), ("str", "x"), ("object", object())]
    if kind in ("result", "reference"):
        return [("None", None), ("array", np.eye(3)), ("str", "x"), ("object", object())]
    raise KeyError(kind)
