"""One look for every figure: style, palette, sizes, and saving as PNG + PDF.

Figures are built with :class:`matplotlib.figure.Figure` directly, never through pyplot, so no
backend is selected or switched in the caller's session; PNG and PDF are rendered by the Agg and
PDF canvases that :meth:`~matplotlib.figure.Figure.savefig` picks from the format. A PNG is
``figsize * DPI`` pixels, and the same figure drawn twice from the same data is the same image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from .io import atomic_write

__all__ = [
    "DPI",
    "GD_TIME_LABEL",
    "STYLE",
    "TIME_LABEL",
    "alpha_label",
    "colormap",
    "mode_color",
    "mode_colors",
    "new_figure",
    "save_figures",
]

#: Resolution of the PNGs (pixels per inch).
DPI = 150

#: One matplotlib style for every figure (applied while a figure is built and saved).
STYLE = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 2.0,
    "legend.frameon": False,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
}

_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]
TIME_LABEL = "time t (gradient-flow units)"
#: The x label of figures whose only curves are gradient-descent iterates.
GD_TIME_LABEL = r"time $t = k\eta$ (iterate $k$, step $\eta$)"


def mode_color(i: int) -> str:
    """Colour of mode (or rank) ``i`` (1-based), the same in every figure."""
    return _PALETTE[(i - 1) % len(_PALETTE)]


def mode_colors(n: int) -> list[Any]:
    """``n`` distinct colours: the mode palette up to its length, else ``n`` samples of a
    perceptually ordered colormap (so no two curves of one figure share a colour)."""
    if n <= len(_PALETTE):
        return _PALETTE[:n]
    cmap = mpl.colormaps["turbo"]
    return [cmap(0.05 + 0.9 * i / max(n - 1, 1)) for i in range(n)]


def colormap(name: str) -> Any:
    """A registered matplotlib colormap (``viridis``, ...)."""
    return mpl.colormaps[name]


def alpha_label(a: float) -> str:
    r"""``$\alpha = 10^{-6}$`` for powers of ten, ``$\alpha = 0.003$`` otherwise."""
    e = math.log10(a)
    if abs(e - round(e)) < 1e-9:
        return rf"$\alpha = 10^{{{round(e)}}}$"
    return rf"$\alpha = {a:.3g}$"


def new_figure(figsize: tuple[float, float], **kwargs: Any) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure of ``figsize`` inches and its axes as a flat array.

    ``kwargs`` go to :meth:`~matplotlib.figure.Figure.subplots` (``nrows``, ``ncols``,
    ``sharex``, ``width_ratios``, ...). Call it inside :func:`save_figures`'s builders so the
    style applies.
    """
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(squeeze=False, **kwargs)
    return fig, axes.ravel()


def save_figures(
    builders: Iterable[tuple[str, Callable[[], Figure]]],
    out: str | Path,
    formats: tuple[str, ...] = ("png", "pdf"),
) -> list[Path]:
    """Build each ``(name, build)`` figure under :data:`STYLE` and save ``NAME.png`` and
    ``NAME.pdf`` (or the given ``formats``) into ``out`` (atomic writes). Returns the paths,
    in ``formats`` order per figure."""
    out = Path(out)
    written: list[Path] = []
    for name, build in builders:
        with mpl.rc_context(STYLE):
            fig = build()
            for ext in formats:
                path = out / f"{name}.{ext}"
                with atomic_write(path) as tmp:
                    fig.savefig(tmp, format=ext, dpi=DPI)
                written.append(path)
    return written
