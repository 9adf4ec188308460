"""Heatmaps of the lazy/rich phase diagram over ``(lambda, scale)``: one panel per quantity.

Shared by the report section ``lazy_rich`` and the sweep figure of ``mfflow plot STORE``
(a sweep over ``init.lam`` and ``init.scale``). The scale axis is logarithmic, the lambda axis
symmetric-logarithmic (linear within the smallest non-zero ``|lambda|`` of the grid); cells
are drawn between edges halfway between grid values in the axis's own scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.scale import SymmetricalLogTransform
from matplotlib.ticker import FuncFormatter, NullLocator
from numpy.typing import NDArray

from .plotting import colormap

__all__ = ["PANELS", "draw_phase_panels", "lam_linthresh"]

FloatArray = NDArray[np.float64]

#: ``(variable, title, colorbar label, log colour scale, colormap)`` of each panel.
PANELS: dict[str, tuple[str, str, bool, str]] = {
    "kernel_distance": (
        r"NTK kernel distance $1 - \cos(K(0), K(t_{end}))$",
        "kernel distance (dimensionless, log scale)",
        True,
        "viridis",
    ),
    "representation_distance": (
        r"hidden representation distance $1 - \cos(H(0), H(t_{end}))$",
        "representation distance (dimensionless)",
        False,
        "viridis",
    ),
    "alignment_final": (
        r"NTK-task alignment $y^T K y / (\|K\|_F \|y\|^2)$ at $t_{end}$",
        "alignment (dimensionless)",
        False,
        "magma",
    ),
    "time_to_learn": (
        "time to learn",
        "time to learn (gradient-flow time, log scale)",
        True,
        "cividis",
    ),
}


_PLAIN = FuncFormatter(lambda v, _: f"{v:g}")


def lam_linthresh(lams: FloatArray) -> float:
    """The linear range of the lambda axis: the smallest non-zero ``|lambda|`` (1 if none)."""
    nz = np.abs(lams[lams != 0])
    return float(nz.min()) if nz.size else 1.0


def _lam_ticks(lams: FloatArray, lin: float) -> list[float]:
    """0 and the powers of ten ``>= lin`` (each sign) within the grid's range."""
    top = float(np.max(np.abs(lams)))
    decades = [10.0**k for k in range(math.floor(math.log10(lin)), 1 + math.ceil(math.log10(top)))]
    pos = [d for d in decades if lin * (1 - 1e-9) <= d <= top * (1 + 1e-9)] or [top]
    ticks = [0.0]
    if np.any(lams > 0):
        ticks += pos
    if np.any(lams < 0):
        ticks = [-d for d in pos[::-1]] + ticks
    return ticks


def _edges(centers: FloatArray, fwd: Any, inv: Any) -> FloatArray:
    u = fwd(np.asarray(centers, dtype=np.float64))
    if u.size == 1:
        return inv(np.array([u[0] - 0.5, u[0] + 0.5]))
    mid = 0.5 * (u[1:] + u[:-1])
    return inv(np.concatenate([[2 * u[0] - mid[0]], mid, [2 * u[-1] - mid[-1]]]))


def draw_phase_panels(
    fig: Figure,
    axes: Sequence[Any] | NDArray[Any],
    lams: FloatArray,
    scales: FloatArray,
    fields: dict[str, FloatArray],
    *,
    tol: float,
    checks: Sequence[tuple[float, float]] = (),
) -> None:
    """Draw one heatmap per ``fields`` entry (rows: ``lams``, columns: ``scales``) on ``axes``.

    ``fields`` maps names of :data:`PANELS` to ``(L, S)`` arrays; non-finite cells (never
    learned, failed) are left white. ``checks`` are ``(lambda, scale)`` cells marked with a
    numbered white circle (1-based, the order of the checks table).
    """
    order = np.argsort(lams)
    lams = np.asarray(lams, dtype=np.float64)[order]
    scol = np.argsort(scales)
    scales = np.asarray(scales, dtype=np.float64)[scol]
    lin = lam_linthresh(lams)
    sym = SymmetricalLogTransform(10.0, lin, 1.0)
    ye = _edges(lams, sym.transform_non_affine, sym.inverted().transform_non_affine)
    xe = _edges(scales, np.log10, lambda u: 10.0**u)
    for ax, (name, data) in zip(axes, fields.items(), strict=True):
        title, label, log, cmap_name = PANELS[name]
        if name == "time_to_learn":
            title += f" (excess loss down to {tol:g} of its initial value)"
        z = np.asarray(data, dtype=np.float64)[order][:, scol]
        good = np.isfinite(z) & ((z > 0) if log else True)
        cmap = colormap(cmap_name).with_extremes(bad="white")
        if not np.any(good):
            norm: Normalize = Normalize(0.0, 1.0)
        elif log:
            lo, hi = float(z[good].min()), float(z[good].max())
            norm = LogNorm(lo, hi if hi > lo else lo * 10.0)
        else:
            lo = min(0.0, float(z[good].min()))
            hi = float(z[good].max())
            norm = Normalize(lo, hi if hi > lo else lo + 1.0)
        mesh = ax.pcolormesh(
            xe, ye, np.ma.masked_where(~good, z), norm=norm, cmap=cmap, shading="flat"
        )
        fig.colorbar(mesh, ax=ax, label=label)
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=lin)
        # plain tick labels (no mathtext: half the drawing time) and no symlog minor ticks
        ax.xaxis.set_major_formatter(_PLAIN)
        ax.yaxis.set_major_formatter(_PLAIN)
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_yticks(_lam_ticks(lams, lin))
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
        ax.grid(False)
        ax.set_title(title, fontsize=10)
        for k, (lam, s) in enumerate(checks, start=1):
            if not (math.isfinite(lam) and s > 0):
                continue
            ax.plot(s, lam, marker="o", ms=13, mfc="white", mec="black", mew=1.0, ls="")
            ax.annotate(str(k), (s, lam), ha="center", va="center", fontsize=8, fontweight="bold")
