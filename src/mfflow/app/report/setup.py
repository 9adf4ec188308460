"""The problem every section shares: the target, its initialization shapes and the time grid.

The target is ``Y = Q diag(spectrum) Q^T`` in a random basis; "spectral" results use the
spectral shape ``U0 = Phi`` (``W~0 = I``), "general" results a Gaussian ``(n, init_r)`` shape;
the asymmetric results a ``rect_rows x rect_cols`` target with the same singular values and a
balanced pair of shapes. The report's first section ("Setup") describes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from ... import (
    balanced_init,
    eigh_descending,
    gaussian_init,
    make_target,
    rectangular_target,
    spectral_init,
)
from .document import Table, fmt
from .section import SectionConfig

__all__ = ["QUICK", "TITLE", "Setup", "SetupConfig", "positive_spectrum"]

FloatArray = NDArray[np.float64]
TITLE = "Setup"


class SetupConfig(SectionConfig):
    """The shared target, shapes and time grid."""

    spectrum: tuple[float, ...] = (5.0, 3.0, 2.0, 1.0)
    n: int = 4
    target_seed: int = 0
    eps: float = 0.1
    init_r: int = 8
    init_seed: int = 1
    num_times: int = 5001
    t_max: float = 55.0
    rect_rows: int = 6
    rect_cols: int = 4
    rect_seed: int = 1


QUICK: dict[str, Any] = {"num_times": 1201}


def positive_spectrum(Y: FloatArray) -> FloatArray:
    """The positive eigenvalues of a symmetric ``Y``, descending (with multiplicity)."""
    lam = eigh_descending(Y)[0]
    return lam[lam > 1e-12 * max(float(np.max(np.abs(lam))), 1e-300)]


@dataclass(frozen=True)
class Setup:
    """The shared problem, built from a :class:`SetupConfig`."""

    cfg: SetupConfig
    Y: FloatArray  # (n, n)
    sigma: FloatArray  # (K,) positive eigenvalues, descending
    lam: FloatArray  # (n,) all eigenvalues, descending
    U0_spectral: FloatArray  # (n, n)
    U0_general: FloatArray  # (n, r)
    Y_rect: FloatArray  # (rect_rows, rect_cols)
    U0_rect: FloatArray  # (rect_rows, r), balanced with V0_rect
    V0_rect: FloatArray  # (rect_cols, r)
    time: FloatArray = field(repr=False)  # (num_times,)

    @classmethod
    def build(cls, cfg: SetupConfig) -> Setup:
        Y = make_target(list(cfg.spectrum), n=cfg.n, seed=cfg.target_seed)
        m, c = cfg.rect_rows, cfg.rect_cols
        Y_rect = rectangular_target(cfg.spectrum, m, c, seed=cfg.target_seed)
        U0_rect, V0_rect = balanced_init(m, c, min(m, c), cfg.rect_seed, Y=Y_rect)
        return cls(
            cfg=cfg,
            Y=Y,
            sigma=positive_spectrum(Y),
            lam=eigh_descending(Y)[0],
            U0_spectral=spectral_init(Y, 1.0),
            U0_general=gaussian_init(cfg.n, cfg.init_r, seed=cfg.init_seed),
            Y_rect=Y_rect,
            U0_rect=U0_rect,
            V0_rect=V0_rect,
            time=np.linspace(0.0, cfg.t_max, cfg.num_times),
        )

    def dataset(self) -> xr.Dataset:
        """The ``setup`` group of the results file."""
        n = self.lam.size
        return xr.Dataset(
            {
                "Y": (("row", "col"), self.Y, {"long_name": "target Y"}),
                "U0_spectral": (("row", "col"), self.U0_spectral, {"long_name": "spectral shape"}),
                "U0_general": (("row", "col_r"), self.U0_general, {"long_name": "Gaussian shape"}),
                "sigma": (("mode",), self.lam, {"long_name": "eigenvalues of Y, descending"}),
                "eps": ((), self.cfg.eps),
                "Y_rect": (("rect_row", "rect_col"), self.Y_rect),
                "U0_rect": (("rect_row", "rect_r"), self.U0_rect),
                "V0_rect": (("rect_col", "rect_r"), self.V0_rect),
            },
            coords={"mode": ("mode", np.arange(1, n + 1))},
        )


def tables(ds: xr.Dataset) -> list[Table]:
    sig = ds["sigma"].values
    return [
        Table(
            "Target and initializations",
            ["quantity", "value"],
            [
                ["n", str(ds.sizes["mode"])],
                ["eigenvalues of Y", ", ".join(fmt(s) for s in sig)],
                ["eps", fmt(float(ds["eps"]))],
                ["spectral shape", "U0 = Phi (W~0 = I)"],
                ["general shape", f"Gaussian, r = {ds.sizes['col_r']}"],
            ],
        )
    ]


def text(ds: xr.Dataset) -> list[str]:
    spec = ", ".join(fmt(s) for s in ds["sigma"].values)
    return [
        "Gradient flow dU/dt = (Y - U U^T) U from U(0) = sqrt(alpha) U0 on the loss "
        "1/4 ||Y - U U^T||_F^2; W = U U^T follows a matrix Riccati equation whose closed "
        "form (Min & Vidal, eq. 6) mfflow evaluates exactly. Every curve below is that "
        "closed form unless it says simulation.",
        f"The target Y has eigenvalues {spec} in a random orthonormal basis. Time is in "
        "gradient-flow units.",
    ]
