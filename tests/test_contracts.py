"""Shared contracts of every public entry point, driven by the registry (tests/registry.py).

* every name in ``mfflow.__all__`` is registered, and every parameter of a registered callable
  has a kind;
* a valid call gives finite numbers (or non-finite ones a flag or a documented convention
  accounts for);
* a bad value for any argument is refused with a ``ValueError``/``TypeError`` raised by mfflow
  whose message starts by naming an argument;
* the caller's arrays are never modified;
* a keyword means the same thing everywhere (same kind, same refusal);
* torch/JAX inputs: the closed forms answer in the input's namespace and dtype, everything else
  accepts float64 tensors and answers in NumPy with the numbers of the NumPy call.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np
import pytest

import mfflow
from badvalues import variants
from registry import (
    KEYWORD_EXCEPTIONS,
    KEYWORD_KINDS,
    REGISTRY,
    Entry,
    callable_entries,
    run_case,
)

ENTRIES = callable_entries()
IDS = [e.name for e in ENTRIES]

#: For each kind, values that are invalid wherever that kind appears (labels of badvalues).
INVALID = {
    "sym": ["nan entry", "str", "complex", "extra axis", "1.5e308 entry", "torch meta", "ragged"],
    "mat": ["nan entry", "str", "complex", "extra axis", "1.5e308 entry", "torch sparse"],
    "init": ["nan entry", "none", "complex", "1.5e308 entry", "torch meta", "masked"],
    "factors": ["nan entry", "str", "complex", "flattened", "1.5e308 entry"],
    "vector": ["nan entry", "str", "complex", "1.5e308 entry", "torch meta"],
    "scales": ["nan entry", "str", "complex", "1.5e308 entry"],
    "alpha": ["zero", "negative", "nan", "inf", "int-beyond-float", "str-number", "bool"],
    "pos": ["zero", "negative", "nan", "int-beyond-float", "str-number", "bool"],
    "rtol": ["zero", "negative", "nan", "huge", "str-number"],
    "nonneg": ["negative", "nan", "inf", "int-beyond-float", "str-number", "bool"],
    "target": ["None", "array", "str"],
    "tasks": ["none", "str", "empty", "nan entry", "one column less", "complex", "str entry"],
    "pairs": ["nan entry", "str", "complex", "one column less"],
    "frac": ["zero", "negative", "nan", "huge", "str-number"],
    "frac0": ["negative", "nan", "huge", "str-number"],
    "count": ["negative", "float", "bool", "str"],
    "samples": ["str", "complex", "extra axis", "torch meta"],
    "levels": ["nan entry", "str", "complex", "torch meta"],
    "anyop": ["str", "object"],
    "real": ["nan", "inf", "max", "int-beyond-float", "str-number"],
    "int": ["zero", "negative", "float", "bool", "str"],
    "seed": ["negative", "float", "str", "negative in list", "complex", "bool", "RandomState"],
    "times": ["negative", "nan", "inf", "2-D", "str", "complex", "torch meta"],
    "steps": ["negative", "float", "bool", "2**70", "empty", "str"],
    "choice": ["unknown", "int"],
    "bool": ["str", "int", "None"],
    "operator": ["str", "object", "wrong size"],
    "callable": ["str", "int"],
    "result": ["None", "array"],
    "reference": ["None", "str"],
}
#: Arguments where ``None`` is a documented choice, not a bad value (the default).
OPTIONAL = {
    "V0",
    "operator",
    "V",
    "Y",
    "r",
    "n",
    "seed",
    "t",
    "steps",
    "atol",
    "max_eta",
    "cols",
    "spectral",
    "progress",
    "weight_decay",
    "align",
    "Ystar",
    "G0",
    "m",
    "horizon",
    "eta",
    "t_max",
    "k_max",
}


def test_every_public_name_is_registered() -> None:
    missing = sorted(set(mfflow.__all__) - set(REGISTRY))
    assert not missing, f"public names without a registry entry: {missing}"
    for e in REGISTRY.values():
        if e.kind == "type":
            assert e.produced_by in REGISTRY, e.name


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_every_parameter_has_a_kind(entry: Entry) -> None:
    params = inspect.signature(entry.func).parameters
    named = [p for p, v in params.items() if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]
    deprecated = {"rtol"} if entry.name == "closed_form_asymmetric" else set()
    assert set(named) - deprecated - {"structure"} <= set(entry.kinds), set(named) - set(
        entry.kinds
    )


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_valid_call_is_finite(entry: Entry, fuzz_ledger: Any) -> None:
    outcome = run_case(entry, {})
    fuzz_ledger.record(outcome)
    assert outcome.status in ("finite", "flagged"), outcome.detail


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_bad_input_names_the_argument(entry: Entry, fuzz_ledger: Any) -> None:
    failures = []
    for arg, kind in entry.kinds.items():
        valid = entry.args.get(arg, np.eye(3))
        pool = dict(variants(kind, valid))
        for label in INVALID[kind]:
            if label.lower() == "none" and arg in OPTIONAL:
                continue
            outcome = run_case(entry, {arg: pool[label]})
            fuzz_ledger.record(outcome)
            if outcome.status != "rejected":
                failures.append(f"{arg}={label}: {outcome.status}: {outcome.detail[:300]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.arrays], ids=lambda e: e.name)
def test_inputs_are_not_mutated(entry: Entry) -> None:
    before = {a: np.array(entry.args[a], dtype=object, copy=True) for a in entry.arrays}
    arrays = {a: np.array(entry.args[a], copy=True) for a in entry.arrays}
    kept = {a: v.copy() for a, v in arrays.items()}
    result = entry.call(**arrays)
    if entry.evaluate is not None:
        entry.evaluate(result)
    for a in entry.arrays:
        np.testing.assert_array_equal(arrays[a], kept[a], err_msg=f"{entry.name} modified {a}")
        assert before[a].shape == kept[a].shape


def test_the_same_keyword_has_the_same_kind_everywhere() -> None:
    for e in ENTRIES:
        for arg, kind in e.kinds.items():
            if arg in KEYWORD_KINDS and (e.name, arg) not in KEYWORD_EXCEPTIONS:
                assert kind == KEYWORD_KINDS[arg], (e.name, arg, kind)
    # every ODE tolerance is called rtol, and nothing else is
    assert "rtol" not in inspect.signature(mfflow.closed_form_asymmetric).parameters or (
        inspect.signature(mfflow.closed_form_asymmetric).parameters["rtol"].default is None
    )


#: One bad value per shared keyword, and the refusal every entry taking it must give.
SAME_REFUSAL = {
    "alpha": (-1.0, r"^alpha: expected a number > 0"),
    "t": ([0.0, -1.0], r"^t: expected times >= 0"),
    "steps": ([0, -2], r"^steps: expected integers >= 0"),
    "eta": (0.0, r"^eta: expected a number > 0"),
    "seed": (-1, r"^seed: expected a non-negative integer"),
    "rtol": (1e-30, r"^rtol: expected a number >= "),
    "operator": ("identity", r"^operator: expected a measurement operator"),
    "V0": (np.ones((7, 2)), r"^V0: expected shape"),
    "method": ("Euler", r"^method: expected one of RK45, RK23, DOP853, Radau, BDF, LSODA"),
    "progress": ("bar", r"^progress: expected None or a callable"),
    "throw": ("yes", r"^throw: expected True or False"),
    "blowup": (-1.0, r"^blowup: expected a number > 0"),
}


@pytest.mark.parametrize("keyword", sorted(SAME_REFUSAL))
def test_the_same_keyword_is_refused_the_same_way(keyword: str) -> None:
    value, pattern = SAME_REFUSAL[keyword]
    takers = [
        e for e in ENTRIES if keyword in e.kinds and (e.name, keyword) not in KEYWORD_EXCEPTIONS
    ]
    assert takers, keyword
    for e in takers:
        changes: dict[str, Any] = {keyword: value}
        if keyword == "t" and "steps" in e.args:
            changes["steps"] = None
        with pytest.raises((ValueError, TypeError), match=pattern):
            e.call(**changes)


# ---- array libraries -----------------------------------------------------------------------------
torch = pytest.importorskip("torch")


def _numbers(x: Any) -> list[float]:
    """The numbers of a result, flattened (what the NumPy and torch calls must share)."""
    if x is None:
        return []
    if hasattr(x, "W") and callable(x.W):
        return _numbers(np.asarray(x.W(np.array([0.0, 1.0, 4.0]))))
    for name in ("W", "constants"):
        if hasattr(x, name) and not callable(getattr(x, name)):
            return _numbers(getattr(x, name))
    if hasattr(x, "M"):
        return [x.M, x.c_eps, x.alpha_max, *np.ravel(x.sigma)]
    if hasattr(x, "rows"):
        return [v for r in x.rows for v in _numbers([r.certified, r.measured])]
    if isinstance(x, tuple | list):
        return [v for item in x for v in _numbers(item)]
    return np.ravel(np.asarray(x, dtype=np.float64)).tolist()


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.host], ids=lambda e: e.name)
def test_torch_float64_inputs_give_numpy_results_equal_to_numpy(entry: Entry) -> None:
    """Everything but the closed forms computes on the host in float64: torch inputs are
    accepted (converted exactly) and the results are NumPy, equal to the NumPy call's."""
    want = _numbers(entry.call())
    tensors = {a: torch.tensor(np.asarray(entry.args[a])) for a in entry.arrays}  # dtype kept
    got = _numbers(entry.call(**tensors))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.namespace], ids=lambda e: e.name)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_closed_forms_answer_in_the_input_namespace_and_dtype(entry: Entry, dtype: str) -> None:
    want = np.asarray(entry.call().W(np.array([0.0, 1.0, 4.0])))
    tensors = {
        a: torch.tensor(np.asarray(entry.args[a]), dtype=getattr(torch, dtype))
        for a in entry.arrays
    }
    res = entry.call(**tensors)
    w = res.W(np.array([0.0, 1.0, 4.0]))
    assert isinstance(w, torch.Tensor) and w.dtype == getattr(torch, dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(w.numpy(), want, rtol=tol, atol=tol * np.abs(want).max())
    jnp = pytest.importorskip("jax.numpy")
    arrays = {a: jnp.asarray(np.asarray(entry.args[a]), dtype=jnp.float32) for a in entry.arrays}
    wj = entry.call(**arrays).W(np.array([0.0, 1.0, 4.0]))
    assert type(wj).__module__.startswith("jax") and str(wj.dtype) == "float32"


def test_unsupported_tensors_are_refused_by_name() -> None:
    Y = torch.tensor(REGISTRY["closed_form"].args["Y"])
    U0 = torch.tensor(REGISTRY["closed_form"].args["U0"])
    for bad, pattern in [
        (Y.to(torch.bfloat16), r"^Y: expected float32 or float64 arrays, got dtype torch.bfloat16"),
        (Y.to_sparse(), r"^Y: expected a dense \(strided\) tensor"),
        (Y.to("meta"), r"^Y: expected a tensor with data, got one on the 'meta' device"),
        (Y.to(torch.complex128), r"^Y: expected a real floating-point tensor"),
    ]:
        with pytest.raises(TypeError, match=pattern):
            mfflow.closed_form(bad, U0, 1e-3)
    # the host-side entries widen half precision exactly and refuse what has no data
    res = mfflow.simulate_gf(Y.to(torch.bfloat16), U0, 1e-3, [0.0, 1.0])
    assert np.all(np.isfinite(res.W))
    with pytest.raises(TypeError, match=r"^Y: expected a tensor with data"):
        mfflow.simulate_gf(Y.to("meta"), U0, 1e-3, [1.0])
    with pytest.raises(TypeError, match=r"^t: expected a tensor with data"):
        mfflow.closed_form(Y, U0, 1e-3).W(torch.tensor([1.0], device="meta"))
    assert re.match(r"^Y: ", "Y: x")


@pytest.mark.parametrize("entry", [e for e in ENTRIES if "atol" in e.kinds], ids=lambda e: e.name)
def test_an_absolute_tolerance_float64_cannot_meet_is_refused_by_name(entry: Entry) -> None:
    """One check for every ODE entry point: ``atol`` far below the float64 resolution of the
    initial state (``1e-2 * eps * max|F(0)|``) is refused with the reason, not run for ever;
    just above the floor the call completes."""
    for tiny in (1e-100, 1e-40, 5e-324):
        with pytest.raises(ValueError, match=r"^atol: expected a number >= .* cannot be met"):
            entry.call(atol=tiny)
    assert run_case(entry, {"atol": 1e-12}, budget=30.0).status == "finite"
