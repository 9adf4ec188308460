"""Figures for the asymmetric problem and for gradient descent versus the flow (matplotlib, Agg).

Each function takes a result object and a path, writes one figure and returns the path. The
report (``mfflow reproduce``) calls them; nothing here computes dynamics. Figures are built
with :class:`matplotlib.figure.Figure` (Agg canvas), never through pyplot's global state.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from .asymmetric import AsymmetricLearningCurves
from .gd_vs_gf import GDFlowGap

__all__ = ["plot_asymmetric_learning", "plot_gd_vs_gf"]


def plot_gd_vs_gf(result: GDFlowGap, path: str | Path) -> Path:
    """Two panels: the gap ``max_k ||W_k - W(k eta)||_F / ||Y||_F`` against ``eta`` (log-log,
    with the fitted order), and the learning curves of GD for each ``eta`` over the flow's.

    Parameters
    ----------
    result : GDFlowGap
        From :func:`mfflow.gd_vs_gf.gd_flow_gap`.
    path : str or Path
        Output file (format from the suffix).
    """
    if not isinstance(result, GDFlowGap):
        raise TypeError(f"result: expected a GDFlowGap, got {type(result).__name__}")
    out = Path(path)
    fig = Figure(figsize=(10, 4))
    ax0, ax1 = fig.subplots(1, 2)
    ok = np.isfinite(result.gap)
    ax0.loglog(result.etas[ok], result.gap[ok], "o-", label="GD vs flow")
    if np.isfinite(result.order):
        e = result.etas[ok]
        ax0.loglog(
            e,
            result.constant * e**result.order,
            "k--",
            lw=1,
            label=f"fit: order {result.order:.2f}",
        )
    for eta in result.etas[~ok]:
        ax0.axvline(eta, color="r", lw=0.8, ls=":")
    ax0.set_xlabel("step size eta")
    ax0.set_ylabel("max_k ||W_k - W(k eta)||_F / ||Y||_F")
    ax0.set_title(f"{result.problem} problem, alpha = {result.alpha:.0e}")
    ax0.legend()
    ax1.plot(result.t, result.flow_values, "k-", lw=2)
    colors = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, result.etas.size))
    for i, eta in enumerate(result.etas):
        ax1.plot(result.gd_t[i], result.gd_values[i], "--", color=colors[i], lw=1)
        ax1.plot([], [], "--", color=colors[i], label=f"GD eta = {eta:.2g}")
    ax1.plot([], [], "k-", lw=2, label="flow (exact)")
    ax1.set_xlabel("t = k eta")
    ax1.set_ylabel("learned values of W")
    ax1.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return out


def plot_asymmetric_learning(result: AsymmetricLearningCurves, path: str | Path) -> Path:
    """Singular values of ``U V^T`` over time for each init in ``result`` (one panel each),
    with the target's singular values as dotted lines.

    Parameters
    ----------
    result : AsymmetricLearningCurves
        From :func:`mfflow.asymmetric.asymmetric_learning_curves`.
    path : str or Path
    """
    if not isinstance(result, AsymmetricLearningCurves):
        raise TypeError(f"result: expected AsymmetricLearningCurves, got {type(result).__name__}")
    out = Path(path)
    k = len(result.curves)
    fig = Figure(figsize=(4 * k, 3.5))
    axes = fig.subplots(1, k, sharey=True, squeeze=False)
    for ax, (label, curves) in zip(axes[0], result.curves.items(), strict=True):
        ax.plot(result.t, curves)
        for s in result.sigma:
            ax.axhline(s, color="gray", ls=":", lw=0.8)
        how = "exact" if result.exact[label] else "ODE solve"
        ax.set_title(f"{label}\n({how})", fontsize=9)
        ax.set_xlabel("t")
    axes[0, 0].set_ylabel(f"singular values of U V^T (alpha = {result.alpha:.0e})")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return out
