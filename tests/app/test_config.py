"""The one configuration schema: validation lists every problem; builders name the field."""

from __future__ import annotations

import numpy as np
import pytest

from mfflow.app.config import RunConfig, field_paths, format_problems, validate
from mfflow.app.errors import ConfigError
from mfflow.app.problem import build_problem, default_t_max


def test_a_minimal_config_is_complete() -> None:
    cfg, problems = validate({"init": {"alpha": 1e-6}})
    assert problems == [] and cfg is not None
    assert cfg.target.values() == [1.0, 0.5, 0.25]  # the geometric default
    p = build_problem(cfg)
    assert p.Y.shape == (3, 3) and p.U0.shape == (3, 3)
    horizon = default_t_max(np.array([1.0, 0.5, 0.25]), 1e-6, "symmetric", None)
    assert horizon == pytest.approx(1.5 * np.log(1e6) / 0.5 + 20.0)
    assert p.config.times.t_max == pytest.approx(horizon, rel=1e-5)
    assert p.t[-1] == p.config.times.t_max and p.t.size == 400


def test_problems_are_listed_in_one_pass() -> None:
    cfg, problems = validate(
        {
            "name": "ok",
            "methods": ["closed_form", "closed_form"],
            "eta": 0,
            "target": {"spectrum": [1.0], "file": "y.npy", "gap": 2.0},
            "init": {"alpha": "tiny", "kind": "low_rank"},
            "times": {"t_max": 5.0, "values": [0.0, 1.0]},
            "operator": {"kind": "gaussian"},
        }
    )
    assert cfg is None
    fields = [loc for loc, _ in problems]
    for field in [
        "methods",
        "eta",
        "init.alpha",
        "target",
        "target.gap",
        "init.rank",
        "operator.m",
        "times",
    ]:
        assert field in fields, (field, problems)
    lines = format_problems(problems)
    assert all(line.startswith("config field '") for line in lines)
    assert len(lines) == len(set(lines))


def test_a_build_error_names_the_field() -> None:
    cfg = RunConfig.model_validate(
        {"target": {"spectrum": [3.0, 2.0, 1.0], "n": 2}, "init": {"alpha": 1e-3}}
    )
    with pytest.raises(ConfigError, match=r"^config field 'target': ") as exc:
        build_problem(cfg)
    assert isinstance(exc.value.__cause__, ValueError)  # the library's own message, kept
    cfg = RunConfig.model_validate(
        {
            "target": {"spectrum": [3.0, 1.0]},
            "init": {"alpha": 1e-3, "kind": "low_rank", "rank": 5, "r": 2},
        }
    )
    with pytest.raises(ConfigError, match=r"^config field 'init': "):
        build_problem(cfg)


def test_field_paths_cover_every_table() -> None:
    paths = field_paths()
    for path in (
        "name",
        "eps",
        "init.alpha",
        "init.seed",
        "target.gap",
        "times.t_max",
        "operator.m",
    ):
        assert path in paths
