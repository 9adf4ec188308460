"""Property-based fuzzing of every public entry point (tests/registry.py), with hypothesis.

For each entry, hypothesis replaces one or two arguments of a valid call by a bad, extreme or
foreign value: the fixed pools of :mod:`badvalues` (wrong types, shapes, NaN/inf, seeds, torch
tensors of every kind) or generated ones (arrays of the right shape with entries anywhere in
float64, symmetric ones for targets, floats and integers over the whole range). The single
property (:func:`registry.run_case`): the call ends, within its time budget, with a
``ValueError``/``TypeError`` raised by mfflow that names an argument, or with a result whose
numbers are finite or whose non-finite values a flag or a documented convention accounts for.

Generated values avoid one band on purpose: valid inputs that are simply large work (times of
``1e5..1e9`` for an ODE, sizes of ``1e4..1e8``), which run long *by design*, announced by a
``LongRunWarning`` with the step count and duration (tests/test_issue16.py checks that), not
refused. Everything else, including the far end (``t = 1e30``, ``n = 10**12``), is fuzzed.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from badvalues import variants
from registry import Entry, callable_entries, run_case

ENTRIES = callable_entries()
#: ``MFFLOW_FUZZ_SCALE=20`` multiplies the examples per entry (``Entry.examples``, 4 to 12) and
#: draws them at random: a long exploratory run. The default run (scale 1, derandomized) takes
#: about 40 s on two shared cores (``python -m pytest -n 0 tests/test_fuzz.py``).
SCALE = float(os.environ.get("MFFLOW_FUZZ_SCALE", "1"))

EXTREMES = [0.0, -0.0, 1e-300, 5e-324, 1e-100, 1e100, 1e300, 1.7976931348623157e308, -1e300]
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from(EXTREMES),
    st.floats(-10.0, 10.0),
)


def _array(valid: Any, symmetric: bool) -> st.SearchStrategy[Any]:
    v = np.asarray(valid, dtype=np.float64)
    shape = v.shape if v.ndim else (1,)
    arrays = hnp.arrays(np.float64, shape, elements=FLOATS)
    if symmetric and len(shape) == 2 and shape[0] == shape[1]:
        arrays = arrays.map(lambda a: np.triu(a) + np.triu(a, 1).T)
    scaled = st.tuples(st.sampled_from([1e-120, 1e-50, 1e-8, 1.0, 1e8, 1e50, 1e120]), st.just(v))
    other_shapes = hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), elements=FLOATS
    )
    return st.one_of(arrays, scaled.map(lambda p: p[0] * p[1]), other_shapes)


def _generated(kind: str, valid: Any) -> st.SearchStrategy[Any]:
    if kind in ("sym", "mat", "init", "factors", "samples", "vector", "scales", "levels", "pairs"):
        return _array(valid if valid is not None else np.eye(3), kind == "sym")
    if kind in ("alpha", "pos", "frac", "frac0", "real", "rtol", "nonneg"):
        return st.one_of(FLOATS, st.integers(-(2**70), 2**70))
    if kind in ("int", "count"):
        return st.one_of(st.integers(-3, 12), st.sampled_from([2**63, 2**70, 10**12, -(2**63)]))
    if kind == "times":
        safe = st.floats(0.0, 100.0) | st.sampled_from([1e30, 1e300, -1.0, float("nan")])
        return st.one_of(safe, st.lists(safe, min_size=0, max_size=4))
    if kind == "steps":
        return st.one_of(
            st.integers(-3, 2000),
            st.lists(st.integers(-3, 2000), max_size=4),
            st.sampled_from([2**62, 2**64, 10**9]),
        )
    if kind == "seed":
        return st.one_of(st.integers(-(2**64), 2**64), st.lists(st.integers(-5, 2**40), max_size=3))
    return st.nothing()


def _value(kind: str, valid: Any) -> st.SearchStrategy[Any]:
    pool = [v for _, v in variants(kind, valid if valid is not None else np.eye(3))]
    gen = _generated(kind, valid)
    return st.one_of(st.sampled_from(pool), gen) if not gen.is_empty else st.sampled_from(pool)


def _changes(entry: Entry) -> st.SearchStrategy[dict[str, Any]]:
    args = sorted(entry.kinds)
    per_arg = {a: _value(entry.kinds[a], entry.args.get(a)) for a in args}

    @st.composite
    def draw(data: st.DrawFn) -> dict[str, Any]:
        chosen = data(st.lists(st.sampled_from(args), min_size=1, max_size=2, unique=True))
        return {a: data(per_arg[a]) for a in chosen}

    return draw()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_fuzz_entry_point(entry: Entry, fuzz_ledger: Any) -> None:
    failures: list[str] = []

    @settings(
        max_examples=max(1, int(entry.examples * SCALE)),
        database=None,
        derandomize=SCALE == 1,
    )
    @given(_changes(entry))
    def check(changes: dict[str, Any]) -> None:
        outcome = run_case(entry, changes, budget=30.0)
        fuzz_ledger.record(outcome)
        if not outcome.ok:
            failures.append(f"{outcome.status}: {outcome.detail}")
        assert outcome.ok, f"{outcome.status}: {outcome.detail}"

    check()
    assert not failures
