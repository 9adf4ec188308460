"""One ``mfflow reproduce --quick`` per test session (per xdist worker), shared by the report,
figure-lint, docs-build and browser tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mfflow.app.cli import app


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reproduce") / "report"
    result = CliRunner().invoke(app, ["reproduce", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out
