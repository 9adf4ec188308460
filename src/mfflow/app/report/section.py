"""What a report section is: its configuration, computation, figure, tables and text.

Each module under :mod:`mfflow.app.report.sections` defines one :class:`Section`; the list
:data:`mfflow.app.report.sections.SECTIONS` orders them. A section's computation gets the shared
:class:`~mfflow.app.report.setup.Setup` and its own configuration and returns a self-contained
:class:`xarray.Dataset` (stored as the netCDF group named after the section); its figure, tables
and text read that dataset only, so ``mfflow plot results.nc`` redraws without recomputing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import xarray as xr
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict

from .document import Table

__all__ = ["Section", "SectionConfig"]


class SectionConfig(BaseModel):
    """Base of the section configurations: frozen, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Section:
    """One report section.

    Attributes
    ----------
    name : str
        Identifier: the netCDF group, the figure file (``NAME.png``) and the cache entry.
    title : str
        The section's heading in the report.
    config : type of SectionConfig
        Its configuration, every field with its default.
    quick : dict
        The fields ``--quick`` changes (smaller grids, same story).
    compute : callable(setup, config) -> xarray.Dataset
    figure : callable(dataset) -> matplotlib Figure
    tables : callable(dataset) -> list of Table
    text : callable(dataset) -> list of str (paragraphs)
    figsize : (float, float)
        Size of the figure in inches.
    """

    name: str
    title: str
    config: type[SectionConfig]
    compute: Callable[[Any, Any], xr.Dataset]  # (Setup, the section's config)
    figure: Callable[[xr.Dataset], Figure]
    tables: Callable[[xr.Dataset], list[Table]]
    text: Callable[[xr.Dataset], list[str]]
    figsize: tuple[float, float]
    quick: dict[str, Any] = field(default_factory=dict)

    def default_config(self, quick: bool = False) -> SectionConfig:
        """The configuration ``mfflow reproduce`` uses (``quick``: with the quick values)."""
        return self.config(**(self.quick if quick else {}))
