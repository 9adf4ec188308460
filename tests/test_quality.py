"""Static checks of the repository: ruff (lint and format) and mypy (``[tool.mypy]`` in
pyproject.toml), each run as a subprocess from the repository root.

A tool that is not installed skips its test; an installed tool that reports anything fails it,
with the tool's output in the failure message. mypy keeps its cache in ``.mypy_cache`` at the
root: a cold run takes about a minute and a half, a warm one well under half a minute.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _assert_clean(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, (
        f"{' '.join(proc.args[2:])} exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    )


def test_py_typed_marker() -> None:
    assert (ROOT / "src" / "mfflow" / "py.typed").is_file()


def test_ruff_check() -> None:
    pytest.importorskip("ruff")
    _assert_clean(_run("ruff", "check", "."))


def test_ruff_format() -> None:
    pytest.importorskip("ruff")
    _assert_clean(_run("ruff", "format", "--check", "."))


def test_mypy() -> None:
    pytest.importorskip("mypy")
    _assert_clean(_run("mypy"))
