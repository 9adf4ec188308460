"""The dataset the two-layer linear network sections share: whitened inputs and teacher tasks.

The sections ``lazy_rich`` and ``continual`` train ``x -> W2 W1 x`` (``d_in -> h -> d_out``) on
``P`` whitened inputs (:func:`mfflow.whitened_inputs`) and rank-``len(spectrum)`` teachers
(:func:`mfflow.teacher_task`, no label noise); their configurations extend
:class:`NetworkDataConfig`, so both describe the same network unless told otherwise.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ... import teacher_task, whitened_inputs
from .section import SectionConfig

__all__ = ["NetworkDataConfig", "inputs", "sigma_yx", "teacher"]

FloatArray = NDArray[np.float64]

#: Units of the time of the network's gradient flow on ``L = 1/(2P) ||Y - W2 W1 X||_F^2``.
NETWORK_TIME = "gradient-flow time"


class NetworkDataConfig(SectionConfig):
    """Widths, number of examples and the teacher's singular values."""

    d_in: int = 6
    h: int = 4
    d_out: int = 4
    P: int = 24
    spectrum: tuple[float, ...] = (3.0, 1.0)
    data_seed: int = 0


def inputs(cfg: NetworkDataConfig) -> FloatArray:
    """Whitened inputs ``X`` ``(d_in, P)``."""
    return whitened_inputs(cfg.d_in, cfg.P, seed=cfg.data_seed)


def teacher(cfg: NetworkDataConfig, X: FloatArray, seed: int) -> FloatArray:
    """Targets ``Y`` ``(d_out, P)`` of a random teacher with singular values ``spectrum``."""
    return teacher_task(X, cfg.d_out, list(cfg.spectrum), seed=seed)


def sigma_yx(X: FloatArray, Y: FloatArray) -> FloatArray:
    """``Y X^T / P`` ``(d_out, d_in)``: what the network learns from whitened inputs."""
    return Y @ X.T / X.shape[1]
