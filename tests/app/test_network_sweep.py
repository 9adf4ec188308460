"""Sweeps of a two-layer linear network (measurement ``lazy_rich``): each cell is
:func:`mfflow.lazy_rich_cell` on the data and weights ``mfflow run`` builds; the phase-diagram
figure; specs that mix it with other factorizations or methods are refused naming the field."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

import mfflow
from mfflow.app.sweep import SpecError, open_sweep, plot_sweep, run_sweep, spec_from_dict

SPEC = {
    "name": "net",
    "factorization": "linear_network",
    "methods": ["closed_form"],
    "measurements": ["lazy_rich"],
    "target": {"spectrum": [2.0, 1.0], "n": 3, "cols": 4, "P": 12, "seed": 1},
    "init": {"kind": "lambda_balanced", "r": 3, "seed": 2},
    "grid": {"init.lam": [-5.0, 0.0, 5.0], "init.alpha": [1e-3, 10.0]},
}
FIELDS = [
    "kernel_distance",
    "representation_distance",
    "alignment_init",
    "alignment_final",
    "time_to_learn",
    "excess_final",
]


def test_cells_are_the_library_and_the_figure_is_drawn(tmp_path: Path) -> None:
    store = tmp_path / "s"
    run_sweep(spec_from_dict(SPEC), store, sequential=True)
    ds = open_sweep(store)
    assert (ds["status"].values == "ok").all()
    X = mfflow.whitened_inputs(4, 12, seed=1)
    Y = mfflow.teacher_task(X, 3, [2.0, 1.0], seed=1)
    for lam in (-5.0, 0.0, 5.0):
        for alpha in (1e-3, 10.0):
            cell = mfflow.lazy_rich_cell(X, Y, lam, alpha, h=3, seed=2, tol=float(ds["tol"].max()))
            got = ds.sel(lam=lam, alpha=alpha)
            for name in FIELDS:
                assert float(got[name]) == getattr(cell, name), (lam, alpha, name)
    # the story: lambda >> 0 at a small scale is lazy, lambda = 0 rich
    kd = ds["kernel_distance"]
    assert float(kd.sel(lam=0.0, alpha=1e-3)) > 30 * float(kd.sel(lam=5.0, alpha=1e-3))
    paths = plot_sweep(ds, tmp_path / "fig")
    assert sorted(p.name for p in paths if p.suffix == ".png") == ["sweep_lazy_rich.png"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"measurements": ["final_error"]}, "measurements"),
        ({"methods": ["closed_form", "gradient_flow"]}, "methods"),
        ({"factorization": "asymmetric"}, "factorization"),
    ],
)
def test_refused_specs_name_the_field(change: dict, field: str) -> None:
    spec = copy.deepcopy(SPEC)
    spec.update(change)
    with pytest.raises(SpecError, match=f"sweep field '{field}'"):
        spec_from_dict(spec)


def test_lazy_rich_needs_a_linear_network() -> None:
    spec = {
        "name": "sym",
        "measurements": ["lazy_rich"],
        "init": {"kind": "gaussian"},
        "grid": {"init.alpha": [1e-3, 1e-2]},
        "times": {"t_max": 5.0, "num": 11},
    }
    with pytest.raises(SpecError, match="sweep field 'measurements'"):
        spec_from_dict(spec)


def test_the_example_spec_loads() -> None:
    from mfflow.app.sweep import load_spec

    spec = load_spec(Path(__file__).parents[2] / "examples" / "sweeps" / "lazy_rich.toml")
    assert len(list(spec.cells())) == 49
    assert np.isfinite(spec.times()).all()
