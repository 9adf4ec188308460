"""Shared test configuration: strict numerics, the hypothesis profile, an error ledger.

Strict numerics: every floating-point overflow, division by zero and invalid operation raises
(``FloatingPointError``) in every test. Underflow is allowed: an exponential or a product whose
true value is below ``2.2e-308`` rounding to a subnormal or to 0 is the correctly rounded
result, and the closed form relies on it for decaying modes (the tests check separately that
subnormal outputs occur only where the true value is that small).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))  # `import reference` from any test module

settings.register_profile(
    "mfflow",
    deadline=None,
    derandomize=True,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("mfflow")


@pytest.fixture(autouse=True)
def strict_numerics() -> Iterator[None]:
    """Raise on overflow, division by zero and invalid operations; allow underflow."""
    old = np.seterr(over="raise", divide="raise", invalid="raise", under="ignore")
    try:
        yield
    finally:
        np.seterr(**old)


class ErrorLedger:
    """Worst errors measured by the accuracy tests, printed in the terminal summary."""

    def __init__(self) -> None:
        self.worst: dict[str, tuple[float, str]] = {}

    def record(self, key: str, value: float, where: str) -> None:
        if key not in self.worst or value > self.worst[key][0]:
            self.worst[key] = (float(value), where)


LEDGER = ErrorLedger()


@pytest.fixture(scope="session")
def ledger() -> ErrorLedger:
    """The session's :class:`ErrorLedger`."""
    return LEDGER


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    _fuzz_summary(terminalreporter)
    if not LEDGER.worst:
        return
    terminalreporter.section("mfflow: worst measured errors")
    for key in sorted(LEDGER.worst):
        value, where = LEDGER.worst[key]
        terminalreporter.write_line(f"{key:<46s} {value:9.2e}  at {where}")


class FuzzLedger:
    """Outcomes of the contract and fuzz calls (:func:`registry.run_case`), printed at the end."""

    def __init__(self) -> None:
        from collections import Counter

        self.counts: Counter[str] = Counter()
        self.failures: list[str] = []

    def record(self, outcome: object) -> None:
        status = getattr(outcome, "status", "?")
        self.counts[status] += 1
        if not getattr(outcome, "ok", False):
            self.failures.append(getattr(outcome, "detail", ""))


FUZZ = FuzzLedger()


@pytest.fixture(scope="session")
def fuzz_ledger() -> FuzzLedger:
    """The session's :class:`FuzzLedger`."""
    return FUZZ


def _fuzz_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FUZZ.counts:
        return
    c = FUZZ.counts
    tried = sum(c.values())
    terminalreporter.section("mfflow: bad and extreme inputs (contracts and fuzz)")
    terminalreporter.write_line(
        f"tried {tried}: rejected cleanly {c['rejected']}, finite {c['finite']}, flagged "
        f"{c['flagged']}; unnamed {c['unnamed']}, from a dependency {c['foreign']}, crashed "
        f"{c['crash']}, hung {c['hang']}, silent non-finite {c['silent']}"
    )
    for detail in FUZZ.failures[:20]:
        terminalreporter.write_line("  " + detail.replace("\n", " ")[:400])
    import json
    import os

    path = os.environ.get("MFFLOW_FUZZ_COUNTS")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(dict(c), fh)
