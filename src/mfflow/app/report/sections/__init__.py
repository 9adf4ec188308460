"""The report's sections, in the story's order: adding one is a new module and a line here."""

from __future__ import annotations

from ..section import Section
from . import (
    asymmetric,
    continual,
    deep,
    early_stopping,
    gd_vs_gf,
    general_init,
    incremental,
    lazy_rich,
    mixed,
    noisy,
    one_mode,
    rank_k,
    sensing,
    time_scales,
    weight_decay,
)

__all__ = ["SECTIONS", "by_name"]

#: Every section of ``mfflow reproduce``, in the story's order.
SECTIONS: list[Section] = [
    one_mode.SECTION,
    incremental.SECTION,
    general_init.SECTION,
    rank_k.SECTION,
    time_scales.SECTION,
    early_stopping.SECTION,
    gd_vs_gf.SECTION,
    asymmetric.SECTION,
    deep.SECTION,
    sensing.SECTION,
    weight_decay.SECTION,
    noisy.SECTION,
    lazy_rich.SECTION,
    mixed.SECTION,
    continual.SECTION,
]


def by_name() -> dict[str, Section]:
    """The sections keyed by name."""
    return {s.name: s for s in SECTIONS}
