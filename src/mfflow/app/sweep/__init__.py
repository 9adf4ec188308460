"""Declarative parameter sweeps on Dask: resumable, loss-free, with one labelled result store.

A spec (:mod:`.spec`) is a run configuration plus a grid over its field paths; the runner
(:mod:`.runner`) computes each cell (:mod:`.cells`) and writes it to the store (:mod:`.store`)
as it finishes; :func:`open_sweep` reads the store as one labelled dataset and
:func:`plot_sweep` draws its phase diagrams (:mod:`.figures`).
"""

from __future__ import annotations

from .cells import CellError, compute_cell
from .figures import plot_sweep, sweep_figures
from .runner import SweepSummary, run_sweep
from .spec import MEASUREMENTS, SpecError, SweepSpec, load_spec, spec_from_dict
from .store import computations, open_sweep, write_consolidated

__all__ = [
    "MEASUREMENTS",
    "CellError",
    "SpecError",
    "SweepSpec",
    "SweepSummary",
    "computations",
    "compute_cell",
    "load_spec",
    "open_sweep",
    "plot_sweep",
    "run_sweep",
    "spec_from_dict",
    "sweep_figures",
    "write_consolidated",
]
