"""The report's section registry: every section is complete, registered once, and reported."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from pydantic import BaseModel

from mfflow.app.report import ReportConfig
from mfflow.app.report.section import Section, SectionConfig
from mfflow.app.report.sections import SECTIONS


def test_each_section_module_is_registered_once() -> None:
    folder = Path(inspect.getfile(Section)).parent / "sections"
    modules = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    names = [s.name for s in SECTIONS]
    assert sorted(names) == modules  # one file per section, each in the registry
    assert len(set(names)) == len(names)
    assert len({s.title for s in SECTIONS}) == len(SECTIONS)


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.name)
def test_section_is_complete(section: Section) -> None:
    for part in (section.compute, section.figure, section.tables, section.text):
        assert callable(part)
    assert issubclass(section.config, SectionConfig) and issubclass(section.config, BaseModel)
    default = section.default_config()
    quick = section.default_config(quick=True)
    # every field has a default; --quick only changes existing fields
    assert set(section.quick) <= set(section.config.model_fields)
    assert all(getattr(quick, k) == v for k, v in section.quick.items())
    assert type(default).model_validate_json(default.model_dump_json()) == default
    w, h = section.figsize
    assert w > 0 and h > 0


def test_report_config_round_trips_through_json() -> None:
    for quick in (False, True):
        cfg = ReportConfig.default(quick)
        assert ReportConfig.from_json(cfg.to_json()) == cfg
    assert ReportConfig.default(True) != ReportConfig.default(False)
